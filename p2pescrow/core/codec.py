"""Contract calls and their answers as bytes, from the shipped ABI: no I/O, no web3.

The one decoder of the package: the SDK's clients and the CLI's fast read path (which does not
import web3) both encode calls and decode results, events and reverts here. It works on plain
JSON-RPC values (``0x`` hex strings, or bytes), so any transport can feed it.

    from p2pescrow.core.codec import escrow_codec

    codec = escrow_codec()
    data = codec.encode_call("escrowOf", trade_id)        # "0x..." for eth_call
    slot = slot_from_output(codec.decode_output("escrowOf", answer))  # {"held": ..., ...} -> ints
    event = codec.decode_log(log)                          # DecodedLog("TradeCreated", {...}) or None

Values come out as :func:`p2pescrow.bindings.plain` gives them, for call results and events alike:
addresses checksummed, integers as ``int``, structs as dicts keyed by field name, and ``bytes32``
values (trade ids, hashes) as ``0x`` hex strings, as trade ids are everywhere else in the package.
Event logs are decoded by :func:`p2pescrow.bindings.decode_log`: one decoder, not two.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from eth_abi import decode, encode
from eth_utils import keccak, to_checksum_address

from .._artifacts import load_artifact
from ..bindings import ERC20_ABI, abi_type, decode_log, event_signature, plain, terms_from_event, topic
from ..errors import ContractError, decode_revert
from ..models import AssetRecord, ReputationRecord, ReputationRole

__all__ = [
    "Codec",
    "DecodedLog",
    "abi_type",
    "asset_record_from_output",
    "erc20_codec",
    "escrow_codec",
    "hex_bytes",
    "reputation_codec",
    "reputation_from_output",
    "slot_from_output",
    "terms_from_event",
]


def hex_bytes(value: str | bytes | bytearray) -> bytes:
    """``0x``-hex text (as JSON-RPC carries it) or bytes, as bytes."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    text = value[2:] if value[:2] in ("0x", "0X") else value
    return bytes.fromhex(text)


def _arg(value: Any, entry: Mapping[str, Any]) -> Any:
    """A Python argument as eth-abi encodes it: hex text for bytes, dicts/tuples for structs."""
    kind = str(entry["type"])
    if kind.endswith("]"):
        inner = {**entry, "type": kind[: kind.rindex("[")]}
        return [_arg(v, inner) for v in value]
    if kind == "tuple":
        parts = entry.get("components", [])
        items = [value[c["name"]] for c in parts] if isinstance(value, Mapping) else list(value)
        return tuple(_arg(v, c) for v, c in zip(items, parts, strict=True))
    if kind.startswith("bytes") and isinstance(value, str):
        return hex_bytes(value)
    return value


@dataclass(frozen=True)
class DecodedLog:
    """One decoded event log: its name, arguments, and where it was emitted."""

    name: str
    args: dict[str, Any]
    address: str
    block_number: int | None = None
    tx_hash: str | None = None
    log_index: int | None = None


def _number(value: Any) -> int | None:
    if value is None:
        return None
    return int(value, 16) if isinstance(value, str) else int(value)


def _hex(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else "0x" + bytes(value).hex()


class Codec:
    """Encode calls to one contract and decode its results, events and errors."""

    def __init__(self, abi: Sequence[Mapping[str, Any]]) -> None:
        self.abi = list(abi)
        self._functions: dict[str, list[Mapping[str, Any]]] = {}
        self._events: dict[str, Mapping[str, Any]] = {}
        for entry in self.abi:
            if entry.get("type") == "function":
                self._functions.setdefault(str(entry["name"]), []).append(entry)
            elif entry.get("type") == "event":
                self._events[str(entry["name"])] = entry

    @classmethod
    def for_contract(cls, name: str) -> Codec:
        """The codec of a shipped contract (``P2PEscrow``, ``Reputation``)."""
        return cls(load_artifact(name)["abi"])

    # -- calls --------------------------------------------------------------------------------
    def function(self, name: str, arg_count: int | None = None) -> Mapping[str, Any]:
        """The ABI entry of function ``name`` (an overload chosen by its number of arguments)."""
        found = self._functions.get(name, [])
        if arg_count is not None and len(found) > 1:
            found = [f for f in found if len(f.get("inputs", [])) == arg_count]
        if not found:
            raise KeyError(f"no function {name!r} in this ABI")
        if len(found) > 1:
            raise KeyError(f"function {name!r} is overloaded: give its arguments")
        return found[0]

    def selector(self, name: str, arg_count: int | None = None) -> str:
        """The 4-byte selector, ``0x``-hex."""
        return "0x" + keccak(text=event_signature(self.function(name, arg_count))).hex()[:8]

    def encode_call(self, name: str, *args: Any) -> str:
        """Call data for ``name(*args)``, ``0x``-hex (addresses, ints, bytes or hex, tuples or dicts)."""
        entry = self.function(name, len(args))
        inputs = entry.get("inputs", [])
        if len(args) != len(inputs):
            raise TypeError(f"{name} takes {len(inputs)} arguments, {len(args)} given")
        types = [abi_type(dict(i)) for i in inputs]
        values = [_arg(a, i) for a, i in zip(args, inputs, strict=True)]
        return self.selector(name, len(args)) + encode(types, values).hex()

    def decode_output(self, name: str, data: str | bytes) -> Any:
        """What ``name`` returned: the value when it returns one, else a tuple of them."""
        entry = self.function(name) if len(self._functions.get(name, [])) == 1 else None
        if entry is None:
            raise KeyError(f"function {name!r} is missing or overloaded")
        outputs = entry.get("outputs", [])
        raw = decode([abi_type(dict(o)) for o in outputs], hex_bytes(data))
        values = tuple(plain(dict(o), v) for v, o in zip(raw, outputs, strict=True))
        return values[0] if len(values) == 1 else values

    # -- events -------------------------------------------------------------------------------
    def topic(self, event: str) -> str:
        """``topic0`` of event ``event``: the keccak of its signature, ``0x``-hex."""
        return topic(self._events[event])

    def decode_log(self, log: Mapping[str, Any]) -> DecodedLog | None:
        """A JSON-RPC log (``topics``, ``data``, ``address``, ...) decoded, or None when it is not
        one of this contract's events (the decoding is :func:`p2pescrow.bindings.decode_log`'s)."""
        event = decode_log(log, self.abi)
        if event is None:
            return None
        return DecodedLog(event.name, event.args, event.address, _number(log.get("blockNumber")),
                          _hex(log.get("transactionHash")), _number(log.get("logIndex")))

    # -- errors -------------------------------------------------------------------------------
    @staticmethod
    def decode_error(data: str | bytes) -> ContractError:
        """The typed exception for revert data (:func:`p2pescrow.errors.decode_revert`)."""
        return decode_revert(data)


@cache
def escrow_codec() -> Codec:
    """The codec of the shipped ``P2PEscrow`` contract (built once per process)."""
    return Codec.for_contract("P2PEscrow")


@cache
def reputation_codec() -> Codec:
    """The codec of the shipped ``Reputation`` contract (built once per process)."""
    return Codec.for_contract("Reputation")


@cache
def erc20_codec() -> Codec:
    """The codec of the ERC-20 (and EIP-2612 / ERC-5267) functions the clients and the reader use
    (built once per process)."""
    return Codec(ERC20_ABI)


# -- the values the reads need, as the package's models ------------------------------------------
def _fields(value: Mapping[str, Any] | Sequence[Any]) -> list[Any]:
    return list(value.values()) if isinstance(value, Mapping) else list(value)


def slot_from_output(value: Mapping[str, Any] | Sequence[Any]) -> tuple[int, int, int, int, int]:
    """``escrowOf``'s struct as the slot :func:`p2pescrow.core.trades.trade_from_slot` takes."""
    held, deadline, state, marks, settlement_bps = (int(x) for x in _fields(value))
    return held, deadline, state, marks, settlement_bps


def asset_record_from_output(asset: str, role: ReputationRole | int,
                             value: Sequence[Any] | Mapping[str, Any]) -> AssetRecord:
    """``recordOf(account, asset, role)``'s answer ``(record, ratings)`` as an :class:`AssetRecord`."""
    record, ratings = _fields(value)
    volume, completed, refunded, settled, won, lost, split = (int(x) for x in _fields(record))
    rated_volume, weighted_score, count = (int(x) for x in _fields(ratings))
    return AssetRecord(to_checksum_address(asset), ReputationRole(int(role)), volume, completed, refunded, settled,
                       won, lost, split, rated_volume, weighted_score, count)


def reputation_from_output(address: str, answers: Mapping[tuple[str, int], Any],
                           minimums: Mapping[str, int] | None = None) -> ReputationRecord:
    """The ``recordOf`` answers of one account, keyed by ``(asset, role)``, as its
    :class:`ReputationRecord`; ``minimums`` (asset -> listed minimum, base units) weigh the score.
    Empty records (nothing recorded, nothing rated) are left out."""
    records = [asset_record_from_output(asset, role, value) for (asset, role), value in answers.items()]
    kept = tuple(r for r in records if r.trades or r.count or r.volume)
    return ReputationRecord(to_checksum_address(address), kept,
                            {to_checksum_address(a): int(m) for a, m in (minimums or {}).items()})
