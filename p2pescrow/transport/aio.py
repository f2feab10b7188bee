"""The transaction path over ``AsyncWeb3``: the same steps as :mod:`.pipeline`, awaited.

Shares with the sync path every piece that does no I/O: :class:`~.pipeline.Call`,
:class:`~.pipeline.Preview`, :class:`~.pipeline.TxResult`, event decoding, revert translation and
the process-wide nonce manager (with an asyncio lock per account, so concurrent tasks sending from
one account get distinct nonces) and the journal, whose cross-process lock is awaited here without
blocking the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from web3 import AsyncWeb3, Web3
from web3.contract import Contract

from ..errors import (
    NodeUnreachable,
    NonceConflict,
    P2PEscrowError,
    PendingTransaction,
    TransactionDropped,
    TransactionError,
    TransactionReplaced,
    TransactionTimeout,
)
from .journal import JOURNAL, Entry, Journal, entry_for
from .nonces import NONCES, NonceManager
from .reverts import NONCE_TAKEN, is_connection_failure, refusal_error, send_refusal, translate
from .sync import (
    DEFAULT_TIMEOUT,
    DEFAULT_TIP,
    NONCE_CONFLICT_RETRIES,
    SEND_RETRIES,
    Call,
    Preview,
    Signer,
    TxResult,
    _conflict_notice,
    check_max_cost,
    check_value,
    decode_events,
    deep_enough,
    priced,
    signer_address,
)


class AsyncTransactor:
    """Sends calls for one signer on one node, from asyncio code."""

    def __init__(self, w3: AsyncWeb3, signer: Signer, *, chain_id: int, url: str = "",
                 timeout: float = DEFAULT_TIMEOUT, confirmations: int = 1, poll_interval: float = 0.05,
                 nonces: NonceManager = NONCES, journal: Journal | None = JOURNAL) -> None:
        self.w3 = w3
        self.signer = signer
        self.address = Web3.to_checksum_address(signer_address(signer))
        self.chain_id = chain_id
        self.url = url
        self.timeout = timeout
        self.confirmations = confirmations
        self.poll_interval = poll_interval
        self.nonces = nonces
        self._nonce_of: dict[str, int] = {}
        #: Signed transactions are journaled before broadcast, as on the sync path.
        self.journal = journal if url != "embedded" else None
        self.on_notice: Any = None

    async def _rpc(self, awaitable: Any) -> Any:
        try:
            return await awaitable
        except Exception as exc:  # noqa: BLE001 - every provider raises its own types
            raise translate(exc, self.url) from None

    def _base_tx(self, call: Call) -> dict[str, Any]:
        tx: dict[str, Any] = {"from": self.address, "data": call.data, "value": call.value}
        if call.to is not None:
            tx["to"] = call.to
        return tx

    async def simulate(self, call: Call) -> bytes:
        return bytes(await self._rpc(self.w3.eth.call(self._base_tx(call), "latest")))  # type: ignore[arg-type]

    async def preview(self, call: Call) -> Preview:
        """Simulate, estimate and price; the balance read once, first (see the sync twin)."""
        balance = int(await self._rpc(self.w3.eth.get_balance(self.address)))
        check_value(balance, call.value)
        await self.simulate(call)
        estimate = int(await self._rpc(self.w3.eth.estimate_gas(self._base_tx(call))))  # type: ignore[arg-type]
        block = await self._rpc(self.w3.eth.get_block("latest"))
        preview = priced(call, estimate, block, await self._fee(block))
        check_max_cost(balance, preview)
        return preview

    async def _fee(self, block: Any) -> int:
        """The tip if ``block`` has a base fee, else the legacy gas price (see the sync twin)."""
        if block.get("baseFeePerGas") is None:
            return int(await self._rpc(self.w3.eth.gas_price))
        try:
            return int(await self.w3.eth.max_priority_fee)
        except Exception:  # noqa: BLE001
            return DEFAULT_TIP

    async def send(self, call: Call, preview: Preview | None = None, *,
                   before_send: Callable[[Call, Preview], None] | None = None,
                   on_sent: Callable[[str], None] | None = None) -> TxResult:
        """The whole path, awaited; ``before_send`` and ``on_sent`` as on the sync path."""
        preview = preview or await self.preview(call)
        if before_send is not None:
            before_send(call, preview)
        tx = {**self._base_tx(call), "gas": preview.gas, "chainId": self.chain_id}
        if preview.max_priority_fee_per_gas is None:
            tx["gasPrice"] = preview.max_fee_per_gas
        else:
            tx["maxFeePerGas"] = preview.max_fee_per_gas
            tx["maxPriorityFeePerGas"] = preview.max_priority_fee_per_gas
        tx_hash = await self._broadcast_call(call, tx)
        if on_sent is not None:
            on_sent(tx_hash)
        return await self.wait(tx_hash, call.decoders)

    async def _broadcast_call(self, call: Call, tx: dict[str, Any]) -> str:
        """Broadcast ``tx``; a nonce another transaction took first is retried with the next one
        after simulating the call again (see the sync twin)."""
        retries = NONCE_CONFLICT_RETRIES
        while True:
            try:
                return await self._broadcast(tx)
            except NonceConflict as exc:
                if retries <= 0:
                    raise
                retries -= 1
                self._notice(_conflict_notice(exc))
            await self.simulate(call)

    async def _broadcast(self, tx: dict[str, Any]) -> str:
        if not getattr(self, "_chain_verified", False):  # eth_chainId, once, before the first broadcast
            from .guards import check_node_chain

            check_node_chain(self.chain_id, await self._rpc(self.w3.eth.chain_id))
            self._chain_verified = True
        if isinstance(self.signer, str):
            return "0x" + bytes(await self._rpc(self.w3.eth.send_transaction(tx))).hex()  # type: ignore[arg-type]
        key = (self.chain_id, self.address)
        async with self.nonces.async_lock(key), self._journal_lock():
            await self.resolve_journal()  # an earlier run's transaction still unresolved: never pay twice
            nonce = await self.nonces.anext(
                key, lambda: self._rpc(self.w3.eth.get_transaction_count(self.address, "pending")))
            signed = self.signer.sign_transaction({**tx, "nonce": int(nonce)})
            try:
                from .guards import check_signed

                check_signed(signed.raw_transaction, self.address)  # signed by the sender, or not sent
                sent = await self._send_signed(signed, {**tx, "nonce": int(nonce)})
            except Exception:
                self.nonces.release(key)
                raise
            self.nonces.commit(key, int(nonce))
        tx_hash = "0x" + bytes(sent).hex()
        self._nonce_of[tx_hash] = int(nonce)
        return tx_hash

    def _journal_lock(self) -> Any:
        """The journal's cross-process lock of this account, awaited without blocking the loop:
        another process sending from the account takes turns with this one (as on the sync path)."""
        if self.journal is None:
            return contextlib.nullcontext()
        return self.journal.async_lock(self.chain_id, self.address)

    async def _send_signed(self, signed: Any, tx: dict[str, Any]) -> bytes:
        """Journal, then broadcast; a failed send is resolved by the signed hash (see the sync twin)."""
        tx_hash = "0x" + bytes(signed.hash).hex()
        entry = self.journal.record(entry_for(self.chain_id, self.address, tx, signed)) if self.journal else None
        try:
            return await self._send_raw(signed.raw_transaction, tx_hash, int(tx["nonce"]))
        except NodeUnreachable:
            if entry is not None and self.journal is not None:
                self.journal.release(tx_hash)  # kept: it may have been sent
            raise
        except Exception:
            if entry is not None and self.journal is not None:
                self.journal.finish(entry)  # refused: nothing was broadcast
            raise

    async def _send_raw(self, raw: bytes, tx_hash: str, nonce: int | None = None) -> bytes:
        """eth_sendRawTransaction, settled as on the sync path (:meth:`~.pipeline.Transactor._send_raw`)."""
        failure: P2PEscrowError | None = None
        for attempt in range(SEND_RETRIES + 1):
            if attempt:
                known = await self._known(tx_hash)
                if known:
                    return bytes.fromhex(tx_hash[2:])
                if known is None or isinstance(failure, NodeUnreachable):
                    await asyncio.sleep(min(0.1 * 2 ** attempt, 1.0))
                elif failure is not None:
                    raise refusal_error(failure, self.address, nonce)
            try:
                return bytes(await self._rpc(self.w3.eth.send_raw_transaction(raw)))
            except NodeUnreachable as exc:
                failure = exc
            except P2PEscrowError as exc:
                refusal = send_refusal(exc)
                if refusal is None:
                    raise
                failure = exc
                known = await self._known(tx_hash)
                if known:
                    return bytes.fromhex(tx_hash[2:])
                if known is False and refusal == NONCE_TAKEN:
                    raise refusal_error(exc, self.address, nonce) from None
        if isinstance(failure, NodeUnreachable):
            raise NodeUnreachable(self.url, "no answer to eth_sendRawTransaction", tx_hash=tx_hash) from None
        assert failure is not None
        raise failure

    async def status(self, entry: Entry) -> str:
        """``mined``, ``pending``, ``replaced`` or ``dropped`` (see the sync twin)."""
        try:
            receipt = await self.w3.eth.get_transaction_receipt(entry.tx_hash)  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001
            if type(exc).__name__ != "TransactionNotFound":
                raise translate(exc, self.url) from None
            receipt = None
        if receipt is not None and receipt.get("blockNumber") is not None:
            return "mined"
        known = await self._known(entry.tx_hash)
        if known is None:
            raise NodeUnreachable(self.url, "while looking up a journaled transaction", tx_hash=entry.tx_hash)
        if known:
            return "pending"
        mined = int(await self._rpc(self.w3.eth.get_transaction_count(entry.account, "latest")))  # type: ignore[arg-type]
        return "replaced" if mined > entry.nonce else "dropped"

    def _notice(self, text: str) -> None:
        import logging

        logging.getLogger("p2pescrow").warning(text)
        if self.on_notice is not None:
            self.on_notice(text)

    async def resolve_journal(self) -> None:
        """What an earlier run left in the journal for this account, settled before a new send
        (same rules as :meth:`~.pipeline.Transactor.resolve_journal`)."""
        if self.journal is None:
            return
        for entry in self.journal.entries(self.chain_id, self.address, leftovers_only=True):
            state = await self.status(entry)
            if state in ("mined", "replaced"):
                self.journal.finish(entry)
                if state == "replaced":
                    self._notice(f"journaled transaction {entry.tx_hash} (nonce {entry.nonce}) was replaced")
                continue
            if state == "pending":
                raise PendingTransaction(entry.tx_hash, entry.nonce)
            pending = int(await self._rpc(self.w3.eth.get_transaction_count(self.address, "pending")))
            if entry.nonce > pending:
                self.journal.finish(entry)
                self._notice(f"journaled transaction {entry.tx_hash} (nonce {entry.nonce}) is unknown to the "
                             f"node, which is at nonce {pending}: abandoned")
                continue
            try:
                await self._send_raw(bytes.fromhex(entry.raw[2:]), entry.tx_hash)
            except NodeUnreachable:
                raise
            except P2PEscrowError as exc:
                self.journal.finish(entry)
                self._notice(f"journaled transaction {entry.tx_hash} could not be rebroadcast ({exc}): abandoned")
                continue
            self._notice(f"journaled transaction {entry.tx_hash} (nonce {entry.nonce}) was lost by the node: "
                         "rebroadcast (same hash and nonce)")
            raise PendingTransaction(entry.tx_hash, entry.nonce, rebroadcast=True)

    async def _known(self, tx_hash: str) -> bool | None:
        try:
            found = await self.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001
            if type(exc).__name__ == "TransactionNotFound":
                return False
            return None if is_connection_failure(exc) else False
        return found is not None

    async def _unmined(self, tx_hash: str, nonce: int | None) -> Exception:
        """Timeout (the node still has it), replaced (its nonce was used) or dropped."""
        nonce = self._nonce_of.get(tx_hash, nonce)
        if await self._known(tx_hash) is False:
            if nonce is None:
                return TransactionDropped(tx_hash)
            try:
                mined = int(await self.w3.eth.get_transaction_count(self.address, "latest"))
            except Exception:  # noqa: BLE001
                return TransactionTimeout(tx_hash, self.timeout, nonce=nonce)
            if mined > nonce:
                if self.journal is not None:
                    self.journal.finish(tx_hash, self.chain_id, self.address)
                return TransactionReplaced(tx_hash, nonce)
            return TransactionDropped(tx_hash, nonce)
        return TransactionTimeout(tx_hash, self.timeout, nonce=nonce)

    async def _confirmed(self, receipt: Any) -> bool:
        """Whether a mined ``receipt`` has the confirmations asked for; one is the receipt itself
        (no eth_blockNumber then)."""
        if self.confirmations <= 1:
            return True
        head = int(await self._rpc(self.w3.eth.block_number))
        return deep_enough(receipt, head, self.confirmations) and await self._canonical(receipt)

    async def _canonical(self, receipt: Any) -> bool:
        """The receipt's block is still the chain's block at that height (after a reorg, the wait
        goes round again), as on the sync path."""
        if receipt.get("blockHash") is None:
            return True
        try:
            block = await self.w3.eth.get_block(int(receipt["blockNumber"]))
        except Exception as exc:  # noqa: BLE001
            if type(exc).__name__ == "BlockNotFound":
                return False
            raise translate(exc, self.url) from None
        return bytes(block["hash"]) == bytes(receipt["blockHash"])

    async def wait(self, tx_hash: str, decoders: tuple[Contract, ...] = (), *,
                   nonce: int | None = None) -> TxResult:
        """Wait for the receipt; when the time is up, tell a slow transaction (TransactionTimeout)
        from a replaced or dropped one."""
        try:
            return await self._wait(tx_hash, decoders, nonce)
        finally:
            if self.journal is not None:
                self.journal.release(tx_hash)

    async def _wait(self, tx_hash: str, decoders: tuple[Contract, ...], nonce: int | None) -> TxResult:
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                receipt = await self.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
            except Exception as exc:  # noqa: BLE001
                if type(exc).__name__ != "TransactionNotFound":
                    raise translate(exc, self.url) from None
                receipt = None
            if receipt is not None and receipt.get("blockNumber") is not None and await self._confirmed(receipt):
                break
            if time.monotonic() >= deadline:
                raise await self._unmined(tx_hash, nonce)
            await asyncio.sleep(self.poll_interval)
        self._nonce_of.pop(tx_hash, None)
        if self.journal is not None and not isinstance(self.signer, str):
            self.journal.finish(tx_hash, self.chain_id, self.address)
        if receipt["status"] != 1:
            raise TransactionError(f"transaction {tx_hash} was mined but reverted")
        return TxResult(tx_hash, int(receipt["blockNumber"]), int(receipt["gasUsed"]),
                        int(receipt.get("effectiveGasPrice", 0)), decode_events(receipt, decoders),
                        receipt.get("contractAddress"))
