"""The one transaction path: build -> simulate -> estimate -> price -> sign -> send -> wait -> decode.

Every operation of the client goes through :meth:`Transactor.send`. A revert is raised as its
typed error at the simulation step, before any gas is spent. Keys stay in the process: a local
account signs here and only the signed bytes leave.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract

from ..errors import (
    InsufficientFunds,
    NodeUnreachable,
    TransactionError,
    TransactionTimeout,
    WrongChain,
)
from .nonces import NONCES, NonceManager
from .reverts import is_connection_failure, translate

#: Multiplier on the node's gas estimate: estimates can fall short when state moves in between.
GAS_MARGIN = 1.2
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
class Event:
    """A decoded event of a transaction."""

    name: str
    address: str
    args: dict[str, Any]


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
                 nonces: NonceManager = NONCES) -> None:
        self.w3 = w3
        self.signer = signer
        self.address = Web3.to_checksum_address(signer_address(signer))
        self.url = url
        self.timeout = timeout
        self.confirmations = confirmations
        self.poll_interval = poll_interval
        self.nonces = nonces
        self._chain_id = chain_id

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
        sender cannot pay for it."""
        self.simulate(call)
        gas = int(int(self._rpc(self.w3.eth.estimate_gas, self._base_tx(call))) * GAS_MARGIN)
        block = self._rpc(self.w3.eth.get_block, "latest")
        gas = min(gas, int(block["gasLimit"]))
        base_fee = block.get("baseFeePerGas")
        if base_fee is not None:
            try:
                tip = int(self._rpc(lambda: self.w3.eth.max_priority_fee))
            except Exception:  # noqa: BLE001 - nodes without eth_maxPriorityFeePerGas
                tip = 10**9
            preview = Preview(gas, 2 * int(base_fee) + tip, tip, call.value)
        else:
            preview = Preview(gas, int(self._rpc(lambda: self.w3.eth.gas_price)), None, call.value)
        balance = int(self._rpc(self.w3.eth.get_balance, self.address))
        if balance < preview.max_cost:
            raise InsufficientFunds("ETH balance", f"{preview.max_cost} wei (value + max gas cost)",
                                    f"{balance} wei")
        return preview

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
        tx_hash = self._broadcast(tx)
        if on_sent is not None:
            on_sent(tx_hash)
        return self.wait(tx_hash, call.decoders)

    def _broadcast(self, tx: dict[str, Any]) -> str:
        if isinstance(self.signer, str):  # node-managed: the node assigns the nonce
            return "0x" + bytes(self._rpc(self.w3.eth.send_transaction, tx)).hex()
        key = (self.chain_id, self.address)
        with self.nonces.lock(key):
            nonce = self.nonces.next(
                key, lambda: int(self._rpc(self.w3.eth.get_transaction_count, self.address, "pending")))
            signed = self.signer.sign_transaction({**tx, "nonce": nonce})
            try:
                sent = self._rpc(self.w3.eth.send_raw_transaction, signed.raw_transaction)
            except Exception:
                self.nonces.release(key)
                raise
            self.nonces.commit(key, nonce)
        return "0x" + bytes(sent).hex()

    def wait(self, tx_hash: str, decoders: tuple[Contract, ...] = ()) -> TxResult:
        """Wait for the receipt (and confirmations) up to the timeout; decode the events."""
        deadline = time.monotonic() + self.timeout
        receipt = None
        while True:
            try:
                receipt = self.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
            except Exception as exc:  # noqa: BLE001
                if type(exc).__name__ != "TransactionNotFound":
                    raise self._lost(exc, tx_hash) from None
                receipt = None
            if receipt is not None and receipt.get("blockNumber") is not None:
                try:
                    head = int(self.w3.eth.block_number)
                except Exception as exc:  # noqa: BLE001
                    raise self._lost(exc, tx_hash) from None
                if head - int(receipt["blockNumber"]) + 1 >= self.confirmations:
                    break
            if time.monotonic() >= deadline:
                raise TransactionTimeout(tx_hash, self.timeout)
            time.sleep(self.poll_interval)
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


def decode_events(receipt: Any, decoders: tuple[Contract, ...]) -> tuple[Event, ...]:
    """Decode every log of ``receipt`` that one of ``decoders`` (contracts) emitted."""
    by_address = {c.address.lower(): c for c in decoders}
    events: list[Event] = []
    for log in receipt["logs"]:
        contract = by_address.get(str(log["address"]).lower())
        if contract is None:
            continue
        for abi_event in contract.events:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    decoded = abi_event().process_log(log)
                except Exception:  # noqa: BLE001 - not this event
                    continue
            events.append(Event(decoded["event"], str(log["address"]), dict(decoded["args"])))
            break
    return tuple(events)
