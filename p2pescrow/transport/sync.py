"""The one transaction path: build -> simulate -> estimate -> price -> sign -> send -> wait -> decode.

Every operation of the client goes through :meth:`Transactor.send`. A revert is raised as its
typed error at the simulation step, before any gas is spent. Keys stay in the process: a local
account signs here and only the signed bytes leave.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract

from ..bindings import Event, decode_events
from ..errors import (
    InsufficientFunds,
    NodeUnreachable,
    NonceConflict,
    P2PEscrowError,
    PendingTransaction,
    TransactionDropped,
    TransactionError,
    TransactionReplaced,
    TransactionTimeout,
    WrongChain,
)
from ..models import ETH_TOKEN
from .journal import JOURNAL, Entry, Journal, entry_for
from .nonces import NONCES, NonceManager
from .reverts import NONCE_TAKEN, is_connection_failure, refusal_error, send_refusal, translate

#: How often a failed eth_sendRawTransaction is retried (a connection failure, not a refusal). Each
#: retry first looks the signed transaction's hash up: it is never sent twice if the node has it.
SEND_RETRIES = 3
#: How often a call whose nonce another transaction of the account took first (NonceConflict: nothing
#: was sent) is checked again and broadcast with the next nonce, before the conflict is raised.
NONCE_CONFLICT_RETRIES = 1

#: Multiplier on the node's gas estimate: estimates can fall short when state moves in between.
GAS_MARGIN = 1.2
#: The priority fee (tip) when the node has no eth_maxPriorityFeePerGas answer.
DEFAULT_TIP = 10**9
DEFAULT_TIMEOUT = 120.0

Signer = LocalAccount | str  # a local account, or the address of a node-managed (unlocked) account


def signer_address(signer: Signer) -> str:
    return signer if isinstance(signer, str) else signer.address


@dataclass(frozen=True)
class Call:
    """A contract call to send: target, calldata, value, and the contracts whose events to decode."""

    to: str | None  # None deploys a contract
    data: str
    value: int = 0
    description: str = ""
    decoders: tuple[Contract, ...] = ()


@dataclass(frozen=True)
class Preview:
    """What a call will cost, known before sending: estimated gas and fees."""

    gas: int
    max_fee_per_gas: int
    max_priority_fee_per_gas: int | None  # None on chains without EIP-1559 (legacy gas price)
    value: int

    @property
    def max_cost(self) -> int:
        """The most the sender can pay: value + gas limit x max fee."""
        return self.value + self.gas * self.max_fee_per_gas


@dataclass(frozen=True)
class TxResult:
    """A mined transaction: hash, gas, effective price and decoded events."""

    tx_hash: str
    block_number: int
    gas_used: int
    effective_gas_price: int
    events: tuple[Event, ...] = field(default_factory=tuple)
    contract_address: str | None = None

    @property
    def fee(self) -> int:
        return self.gas_used * self.effective_gas_price

    def event(self, name: str) -> Event:
        for event in self.events:
            if event.name == name:
                return event
        raise KeyError(f"no {name} event in {self.tx_hash}")


class Transactor:
    """Sends calls for one signer on one node. Thread-safe (nonces are reserved under a lock)."""

    def __init__(self, w3: Web3, signer: Signer, *, url: str = "", chain_id: int | None = None,
                 timeout: float = DEFAULT_TIMEOUT, confirmations: int = 1, poll_interval: float = 0.05,
                 nonces: NonceManager = NONCES, journal: Journal | None = JOURNAL) -> None:
        self.w3 = w3
        self.signer = signer
        self.address = Web3.to_checksum_address(signer_address(signer))
        self.url = url
        self.timeout = timeout
        self.confirmations = confirmations
        self.poll_interval = poll_interval
        self.nonces = nonces
        self._chain_id = chain_id
        #: Signed transactions are journaled before broadcast (not for the in-process chain).
        self.journal = journal if url != "embedded" else None
        #: Called with a line for the user when the journal resolves an earlier run's transaction.
        self.on_notice: Callable[[str], None] | None = None
        self._nonce_of: dict[str, int] = {}  # hash -> nonce, of what this transactor sent

    # -- node access, translated -----------------------------------------------------------------
    def _rpc(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - every provider raises its own types
            raise translate(exc, self.url) from None

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = int(self._rpc(lambda: self.w3.eth.chain_id))
        return self._chain_id

    def check_chain(self, expected: int) -> None:
        actual = int(self._rpc(lambda: self.w3.eth.chain_id))
        if actual != expected:
            raise WrongChain(expected, actual)

    # -- the pipeline --------------------------------------------------------------------------
    def _base_tx(self, call: Call) -> dict[str, Any]:
        tx: dict[str, Any] = {"from": self.address, "data": call.data, "value": call.value}
        if call.to is not None:
            tx["to"] = call.to
        return tx

    def simulate(self, call: Call) -> bytes:
        """eth_call the transaction: a revert raises its typed error, and nothing is spent."""
        return bytes(self._rpc(self.w3.eth.call, self._base_tx(call), "latest"))

    def preview(self, call: Call) -> Preview:
        """Simulate, estimate gas (with a margin) and price it. Raises if it would revert or if the
        sender cannot pay for it.

        The balance is read once, first: it is checked against the value before simulating (an
        unpayable value is told in ETH, not in the node's words for a failed eth_call) and against
        value + max gas cost once priced. Callers need not read it again (the clients do not)."""
        balance = int(self._rpc(self.w3.eth.get_balance, self.address))
        check_value(balance, call.value)
        self.simulate(call)
        estimate = int(self._rpc(self.w3.eth.estimate_gas, self._base_tx(call)))
        block = self._rpc(self.w3.eth.get_block, "latest")
        preview = priced(call, estimate, block, self._fee(block))
        check_max_cost(balance, preview)
        return preview

    def _fee(self, block: Any) -> int:
        """The tip if ``block`` has a base fee (EIP-1559), else the legacy gas price: one request.
        eth_feeHistory cannot stand in for the block and the tip: it has no gas limit, and its
        rewards are what recent transactions paid, not the node's suggestion."""
        if block.get("baseFeePerGas") is None:
            return int(self._rpc(lambda: self.w3.eth.gas_price))
        try:
            return int(self._rpc(lambda: self.w3.eth.max_priority_fee))
        except Exception:  # noqa: BLE001 - nodes without eth_maxPriorityFeePerGas (nor eth_feeHistory)
            return DEFAULT_TIP

    def send(self, call: Call, preview: Preview | None = None, *,
             before_send: Callable[[Call, Preview], None] | None = None,
             on_sent: Callable[[str], None] | None = None) -> TxResult:
        """Run the whole pipeline and return the mined result (or raise a typed error).

        ``before_send(call, preview)`` runs after the simulation and pricing, before anything is
        signed: a CLI shows what will happen there and may raise to stop. ``on_sent(tx_hash)`` runs
        as soon as the node accepted the transaction, before waiting for the receipt.
        """
        preview = preview or self.preview(call)
        if before_send is not None:
            before_send(call, preview)
        tx = {**self._base_tx(call), "gas": preview.gas, "chainId": self.chain_id}
        if preview.max_priority_fee_per_gas is None:
            tx["gasPrice"] = preview.max_fee_per_gas
        else:
            tx["maxFeePerGas"] = preview.max_fee_per_gas
            tx["maxPriorityFeePerGas"] = preview.max_priority_fee_per_gas
        tx_hash = self._broadcast_call(call, tx)
        if on_sent is not None:
            on_sent(tx_hash)
        return self.wait(tx_hash, call.decoders)

    def _broadcast_call(self, call: Call, tx: dict[str, Any]) -> str:
        """Broadcast ``tx``. When another transaction of the account took its nonce first (another
        program or wallet: nothing was sent, the journal entry is gone and the nonce released), the
        call is simulated again, so that one the other transaction made invalid raises its typed
        error instead of being sent, and broadcast with the next nonce (NONCE_CONFLICT_RETRIES times)."""
        retries = NONCE_CONFLICT_RETRIES
        while True:
            try:
                return self._broadcast(tx, description=call.description)
            except NonceConflict as exc:
                if retries <= 0:
                    raise
                retries -= 1
                self._notice(_conflict_notice(exc))
            self.simulate(call)

    def _broadcast(self, tx: dict[str, Any], *, description: str = "") -> str:
        if not getattr(self, "_chain_verified", False):  # eth_chainId, once, before the first broadcast
            from .guards import check_node_chain

            check_node_chain(self.chain_id, self._rpc(lambda: self.w3.eth.chain_id))
            self._chain_verified = True
        if isinstance(self.signer, str):  # node-managed: the node assigns the nonce
            return "0x" + bytes(self._rpc(self.w3.eth.send_transaction, tx)).hex()
        key = (self.chain_id, self.address)
        with self.nonces.lock(key), self._journal_lock():
            self.resolve_journal()  # an earlier run's transaction still unresolved: never pay twice
            nonce = self.nonces.next(
                key, lambda: int(self._rpc(self.w3.eth.get_transaction_count, self.address, "pending")))
            signed = self.signer.sign_transaction({**tx, "nonce": nonce})
            try:
                from .guards import check_signed

                check_signed(signed.raw_transaction, self.address)  # signed by the sender, or not sent
                sent = self._send_signed(signed, {**tx, "nonce": nonce}, description)
            except Exception:
                self.nonces.release(key)
                raise
            self.nonces.commit(key, nonce)
        return "0x" + bytes(sent).hex()

    # -- the journal, and sending that never sends twice ------------------------------------------
    def _send_signed(self, signed: Any, tx: dict[str, Any], description: str = "") -> bytes:
        """Journal ``signed``, then broadcast it. A failed send is resolved by looking the signed
        hash up (a retried send answered "already known" or "nonce too low" included): never by
        sending a second, different transaction. Returns the hash. A refusal (NonceConflict
        included) removes the entry: nothing was broadcast."""
        tx_hash = "0x" + bytes(signed.hash).hex()
        entry = None
        if self.journal is not None:
            entry = self.journal.record(entry_for(self.chain_id, self.address, tx, signed, description))
        self._nonce_of[tx_hash] = int(tx["nonce"])
        try:
            return self._send_raw(signed.raw_transaction, tx_hash, int(tx["nonce"]))
        except NodeUnreachable:
            if entry is not None:
                self.journal.release(tx_hash)  # type: ignore[union-attr] - kept: it may have been sent
            raise
        except Exception:
            if entry is not None:
                self.journal.finish(entry)  # type: ignore[union-attr] - refused: nothing was broadcast
            raise

    def _send_raw(self, raw: bytes, tx_hash: str, nonce: int | None = None) -> bytes:
        """eth_sendRawTransaction, retried while the node does not answer. A refusal that may be
        about this very transaction (already known, nonce taken: :func:`~.reverts.send_refusal`) is
        settled by looking ``tx_hash`` up. ``nonce`` is given when it was the account's next nonce:
        taken by another transaction, it raises :class:`NonceConflict` (nothing was sent)."""
        failure: P2PEscrowError | None = None
        for attempt in range(SEND_RETRIES + 1):
            if attempt:
                known = self._known(tx_hash)
                if known:
                    return bytes.fromhex(tx_hash[2:])
                if known is None or isinstance(failure, NodeUnreachable):
                    time.sleep(min(0.1 * 2 ** attempt, 1.0))  # the node did not answer: try again
                elif failure is not None:
                    raise refusal_error(failure, self.address, nonce)  # refused, and ours is not there
            try:
                return bytes(self._rpc(self.w3.eth.send_raw_transaction, raw))
            except NodeUnreachable as exc:
                failure = exc
            except P2PEscrowError as exc:
                refusal = send_refusal(exc)
                if refusal is None:
                    raise  # refused for itself (too cheap, no funds, invalid): nothing was sent
                failure = exc
                known = self._known(tx_hash)
                if known:
                    return bytes.fromhex(tx_hash[2:])
                if known is False and refusal == NONCE_TAKEN:
                    raise refusal_error(exc, self.address, nonce) from None
        if isinstance(failure, NodeUnreachable):
            raise NodeUnreachable(self.url, "no answer to eth_sendRawTransaction", tx_hash=tx_hash) from None
        assert failure is not None
        raise failure

    def _known(self, tx_hash: str) -> bool | None:
        """Whether the node has ``tx_hash`` (pending or mined); None if it does not answer."""
        try:
            found = self.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001
            if type(exc).__name__ == "TransactionNotFound":
                return False
            return None if is_connection_failure(exc) else False
        return found is not None

    def _journal_lock(self) -> Any:
        import contextlib

        if self.journal is None:
            return contextlib.nullcontext()
        return self.journal.lock(self.chain_id, self.address)

    def _notice(self, text: str) -> None:
        import logging

        logging.getLogger("p2pescrow").warning(text)
        if self.on_notice is not None:
            self.on_notice(text)

    def status(self, entry: Entry) -> str:
        """What became of a journaled transaction: ``mined``, ``pending``, ``replaced`` (its nonce
        was used by another one) or ``dropped`` (the node lost it; the nonce is free)."""
        try:
            receipt = self.w3.eth.get_transaction_receipt(entry.tx_hash)  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001
            if type(exc).__name__ != "TransactionNotFound":
                raise self._lost(exc, entry.tx_hash) from None
            receipt = None
        if receipt is not None and receipt.get("blockNumber") is not None:
            return "mined"
        known = self._known(entry.tx_hash)
        if known is None:
            raise NodeUnreachable(self.url, "while looking up a journaled transaction", tx_hash=entry.tx_hash)
        if known:
            return "pending"
        mined = int(self._rpc(self.w3.eth.get_transaction_count, entry.account, "latest"))
        return "replaced" if mined > entry.nonce else "dropped"

    def resend(self, entry: Entry) -> str:
        """Broadcast a journaled transaction's raw bytes again (same hash, same nonce)."""
        self._send_raw(bytes.fromhex(entry.raw[2:]), entry.tx_hash)
        return entry.tx_hash

    def resolve_journal(self) -> None:
        """Settle what an earlier run left in the journal for this (chain, account) before a new
        send: mined or replaced entries are closed (replaced ones reported); one still pending, or
        lost by the node and rebroadcast here, stops the new send with :class:`PendingTransaction`.
        A lost one the chain cannot take any more (an earlier nonce is missing: a reset dev chain)
        is reported and closed."""
        if self.journal is None:
            return
        for entry in self.journal.entries(self.chain_id, self.address, leftovers_only=True):
            state = self.status(entry)
            if state == "mined":
                self.journal.finish(entry)
            elif state == "replaced":
                self.journal.finish(entry)
                self._notice(f"journaled transaction {entry.tx_hash} (nonce {entry.nonce}) was replaced: "
                             "another transaction used its nonce")
            elif state == "pending":
                raise PendingTransaction(entry.tx_hash, entry.nonce)
            else:  # dropped
                pending = int(self._rpc(self.w3.eth.get_transaction_count, self.address, "pending"))
                if entry.nonce > pending:
                    self.journal.finish(entry)
                    self._notice(f"journaled transaction {entry.tx_hash} (nonce {entry.nonce}) is unknown to "
                                 f"the node, which is at nonce {pending}: abandoned")
                    continue
                try:
                    self.resend(entry)
                except NodeUnreachable:
                    raise
                except P2PEscrowError as exc:
                    self.journal.finish(entry)
                    self._notice(f"journaled transaction {entry.tx_hash} could not be rebroadcast ({exc}): "
                                 "abandoned")
                    continue
                self._notice(f"journaled transaction {entry.tx_hash} (nonce {entry.nonce}) was lost by the "
                             "node: rebroadcast (same hash and nonce)")
                raise PendingTransaction(entry.tx_hash, entry.nonce, rebroadcast=True)

    def _unmined(self, tx_hash: str, nonce: int | None) -> Exception:
        """The error when waiting ends without a receipt: still pending (timeout), replaced, or
        dropped, as far as the node can tell."""
        nonce = self._nonce_of.get(tx_hash, nonce)
        known = self._known(tx_hash)
        if known is False:
            if nonce is None:
                return TransactionDropped(tx_hash)
            try:
                mined = int(self.w3.eth.get_transaction_count(self.address, "latest"))
            except Exception:  # noqa: BLE001
                return TransactionTimeout(tx_hash, self.timeout)
            if mined > nonce:
                self._journal_finish(tx_hash)
                return TransactionReplaced(tx_hash, nonce)
            return TransactionDropped(tx_hash, nonce)
        return TransactionTimeout(tx_hash, self.timeout, nonce=nonce)

    def _confirmed(self, receipt: Any, tx_hash: str) -> bool:
        """Whether a mined ``receipt`` has the confirmations asked for, in a block still on the chain.
        One confirmation is the receipt itself: no eth_blockNumber then."""
        if self.confirmations <= 1:
            return True
        try:
            head = int(self.w3.eth.block_number)
        except Exception as exc:  # noqa: BLE001
            raise self._lost(exc, tx_hash) from None
        return deep_enough(receipt, head, self.confirmations) and self._canonical(receipt, tx_hash)

    def _canonical(self, receipt: Any, tx_hash: str) -> bool:
        """With confirmations asked for, the receipt's block is still the chain's block at that
        height (a reorg in between sends the wait round again)."""
        if self.confirmations <= 1 or receipt.get("blockHash") is None:
            return True
        try:
            block = self.w3.eth.get_block(int(receipt["blockNumber"]))
        except Exception as exc:  # noqa: BLE001
            if type(exc).__name__ == "BlockNotFound":
                return False
            raise self._lost(exc, tx_hash) from None
        return bytes(block["hash"]) == bytes(receipt["blockHash"])

    def _journal_finish(self, tx_hash: str) -> None:
        if self.journal is not None and not isinstance(self.signer, str):
            self.journal.finish(tx_hash, self.chain_id, self.address)

    def wait(self, tx_hash: str, decoders: tuple[Contract, ...] = (), *, nonce: int | None = None) -> TxResult:
        """Wait for the receipt (and confirmations) up to the timeout; decode the events.

        When the time is up: :class:`TransactionTimeout` if the node still has the transaction,
        :class:`TransactionReplaced` if another one used its nonce, else :class:`TransactionDropped`
        (all carry the hash). A receipt that disappears (a reorg) is waited for again."""
        try:
            return self._wait(tx_hash, decoders, nonce)
        finally:
            if self.journal is not None:
                self.journal.release(tx_hash)

    def _wait(self, tx_hash: str, decoders: tuple[Contract, ...], nonce: int | None) -> TxResult:
        deadline = time.monotonic() + self.timeout
        receipt = None
        while True:
            try:
                receipt = self.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
            except Exception as exc:  # noqa: BLE001
                if type(exc).__name__ != "TransactionNotFound":
                    raise self._lost(exc, tx_hash) from None
                receipt = None
            if receipt is not None and receipt.get("blockNumber") is not None and self._confirmed(receipt, tx_hash):
                break
            if time.monotonic() >= deadline:
                raise self._unmined(tx_hash, nonce)
            time.sleep(self.poll_interval)
        self._journal_finish(tx_hash)
        self._nonce_of.pop(tx_hash, None)
        if receipt["status"] != 1:
            raise TransactionError(f"transaction {tx_hash} was mined but reverted")
        return TxResult(tx_hash, int(receipt["blockNumber"]), int(receipt["gasUsed"]),
                        int(receipt.get("effectiveGasPrice", 0)), decode_events(receipt, decoders),
                        receipt.get("contractAddress"))

    def _lost(self, exc: BaseException, tx_hash: str) -> Exception:
        """The error for a node failure after ``tx_hash`` was broadcast: it keeps the hash, so the
        caller can look the transaction up instead of sending it again."""
        if is_connection_failure(exc):
            return NodeUnreachable(self.url, type(exc).__name__, tx_hash=tx_hash)
        return translate(exc, self.url)


# -- I/O-free steps, shared with the asyncio path (transport/aio.py) --------------------------------
def check_value(balance: int, value: int) -> None:
    """Raise :class:`InsufficientFunds` (in ETH) unless ``balance`` covers the ``value`` sent."""
    if balance < value:
        raise InsufficientFunds("ETH balance", f"{ETH_TOKEN.human(value)} ETH", f"{ETH_TOKEN.human(balance)} ETH")


def check_max_cost(balance: int, preview: Preview) -> None:
    """Raise :class:`InsufficientFunds` unless ``balance`` covers value + gas limit x max fee: what
    the node asks the sender to hold before it takes the transaction."""
    if balance < preview.max_cost:
        raise InsufficientFunds("ETH balance", f"{preview.max_cost} wei (value + max gas cost)",
                                f"{balance} wei")


def priced(call: Call, estimate: int, block: Any, fee: int) -> Preview:
    """The preview from the node's answers: the gas estimate with :data:`GAS_MARGIN`, at most the
    latest block's gas limit; ``fee`` is the tip when the block has a base fee (max fee = twice the
    base fee + tip: room for the base fee to rise while the transaction waits), else the gas price."""
    gas = min(int(estimate * GAS_MARGIN), int(block["gasLimit"]))
    base_fee = block.get("baseFeePerGas")
    if base_fee is None:
        return Preview(gas, fee, None, call.value)
    return Preview(gas, 2 * int(base_fee) + fee, fee, call.value)


def deep_enough(receipt: Any, head: int, confirmations: int) -> bool:
    """Whether the receipt's block is ``confirmations`` deep with ``head`` the latest block."""
    return head - int(receipt["blockNumber"]) + 1 >= confirmations


def _conflict_notice(exc: NonceConflict) -> str:
    """The line for the user when a nonce taken by another transaction is retried."""
    return (f"nonce {exc.nonce} of {exc.account} was taken by another transaction from this account "
            "(nothing was sent): checking the call again and sending it with the next nonce")

