"""The transaction path over ``AsyncWeb3``: the same steps as :mod:`.pipeline`, awaited.

Shares with the sync path every piece that does no I/O: :class:`~.pipeline.Call`,
:class:`~.pipeline.Preview`, :class:`~.pipeline.TxResult`, event decoding, revert translation and
the process-wide nonce manager (with an asyncio lock per account, so concurrent tasks sending from
one account get distinct nonces).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from web3 import AsyncWeb3, Web3
from web3.contract import Contract

from ..errors import InsufficientFunds, TransactionError, TransactionTimeout
from .nonces import NONCES, NonceManager
from .pipeline import DEFAULT_TIMEOUT, GAS_MARGIN, Call, Preview, Signer, TxResult, decode_events, signer_address
from .reverts import translate


class AsyncTransactor:
    """Sends calls for one signer on one node, from asyncio code."""

    def __init__(self, w3: AsyncWeb3, signer: Signer, *, chain_id: int, url: str = "",
                 timeout: float = DEFAULT_TIMEOUT, confirmations: int = 1, poll_interval: float = 0.05,
                 nonces: NonceManager = NONCES) -> None:
        self.w3 = w3
        self.signer = signer
        self.address = Web3.to_checksum_address(signer_address(signer))
        self.chain_id = chain_id
        self.url = url
        self.timeout = timeout
        self.confirmations = confirmations
        self.poll_interval = poll_interval
        self.nonces = nonces

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
        await self.simulate(call)
        gas = int(int(await self._rpc(self.w3.eth.estimate_gas(self._base_tx(call)))) * GAS_MARGIN)  # type: ignore[arg-type]
        block = await self._rpc(self.w3.eth.get_block("latest"))
        gas = min(gas, int(block["gasLimit"]))
        base_fee = block.get("baseFeePerGas")
        if base_fee is not None:
            try:
                tip = int(await self.w3.eth.max_priority_fee)
            except Exception:  # noqa: BLE001
                tip = 10**9
            preview = Preview(gas, 2 * int(base_fee) + tip, tip, call.value)
        else:
            preview = Preview(gas, int(await self._rpc(self.w3.eth.gas_price)), None, call.value)
        balance = int(await self._rpc(self.w3.eth.get_balance(self.address)))
        if balance < preview.max_cost:
            raise InsufficientFunds("ETH balance", f"{preview.max_cost} wei (value + max gas cost)",
                                    f"{balance} wei")
        return preview

    async def send(self, call: Call, preview: Preview | None = None) -> TxResult:
        preview = preview or await self.preview(call)
        tx = {**self._base_tx(call), "gas": preview.gas, "chainId": self.chain_id}
        if preview.max_priority_fee_per_gas is None:
            tx["gasPrice"] = preview.max_fee_per_gas
        else:
            tx["maxFeePerGas"] = preview.max_fee_per_gas
            tx["maxPriorityFeePerGas"] = preview.max_priority_fee_per_gas
        tx_hash = await self._broadcast(tx)
        return await self.wait(tx_hash, call.decoders)

    async def _broadcast(self, tx: dict[str, Any]) -> str:
        if isinstance(self.signer, str):
            return "0x" + bytes(await self._rpc(self.w3.eth.send_transaction(tx))).hex()  # type: ignore[arg-type]
        key = (self.chain_id, self.address)
        async with self.nonces.async_lock(key):
            nonce = await self.nonces.anext(
                key, lambda: self._rpc(self.w3.eth.get_transaction_count(self.address, "pending")))
            signed = self.signer.sign_transaction({**tx, "nonce": int(nonce)})
            try:
                sent = await self._rpc(self.w3.eth.send_raw_transaction(signed.raw_transaction))
            except Exception:
                self.nonces.release(key)
                raise
            self.nonces.commit(key, int(nonce))
        return "0x" + bytes(sent).hex()

    async def wait(self, tx_hash: str, decoders: tuple[Contract, ...] = ()) -> TxResult:
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                receipt = await self.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
            except Exception as exc:  # noqa: BLE001
                if type(exc).__name__ != "TransactionNotFound":
                    raise translate(exc, self.url) from None
                receipt = None
            if receipt is not None and receipt.get("blockNumber") is not None:
                head = int(await self._rpc(self.w3.eth.block_number))
                if head - int(receipt["blockNumber"]) + 1 >= self.confirmations:
                    break
            if time.monotonic() >= deadline:
                raise TransactionTimeout(tx_hash, self.timeout)
            await asyncio.sleep(self.poll_interval)
        if receipt["status"] != 1:
            raise TransactionError(f"transaction {tx_hash} was mined but reverted")
        return TxResult(tx_hash, int(receipt["blockNumber"]), int(receipt["gasUsed"]),
                        int(receipt.get("effectiveGasPrice", 0)), decode_events(receipt, decoders),
                        receipt.get("contractAddress"))
