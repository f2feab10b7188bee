"""The contracts as Python sees them: ABIs, contract objects, event topics and event decoding.

One place for what the escrow, the reputation contract and an ERC-20 token look like on the wire,
shared by both clients and the transport (no I/O here: a contract object only encodes and
decodes until a client calls it)::

    escrow = escrow_contract(w3, deployment.escrow)       # Web3 or AsyncWeb3
    topics()["TradeCreated"]                              # '0x…' topic of the event
    decode_events(receipt, (escrow,))                     # (Event('TradeCreated', …), …)

Decoded values are plain Python: addresses checksummed, ``bytes32`` values as lower-case ``0x…``
hex strings (the same form as a trade id, so ``event.args["id"] == trade.trade_id``), structs as
dicts of field name to value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from eth_abi import decode
from eth_utils import keccak, to_checksum_address

from ._artifacts import load_artifact
from .models import Terms

#: The parts of ERC-20 (and EIP-2612 / ERC-5267) the clients use.
ERC20_ABI: list[dict[str, Any]] = [
    {"type": "function", "name": n, "stateMutability": "view", "inputs": i, "outputs": [{"type": o, "name": ""}]}
    for n, i, o in (
        ("symbol", [], "string"), ("decimals", [], "uint8"),
        ("balanceOf", [{"type": "address", "name": "a"}], "uint256"),
        ("allowance", [{"type": "address", "name": "o"}, {"type": "address", "name": "s"}], "uint256"),
        ("nonces", [{"type": "address", "name": "o"}], "uint256"),
        ("name", [], "string"),
    )
] + [
    {"type": "function", "name": "approve", "stateMutability": "nonpayable",
     "inputs": [{"type": "address", "name": "s"}, {"type": "uint256", "name": "v"}], "outputs": []},
    {"type": "function", "name": "eip712Domain", "stateMutability": "view", "inputs": [], "outputs": [
        {"type": "bytes1", "name": "fields"}, {"type": "string", "name": "name"},
        {"type": "string", "name": "version"}, {"type": "uint256", "name": "chainId"},
        {"type": "address", "name": "verifyingContract"}, {"type": "bytes32", "name": "salt"},
        {"type": "uint256[]", "name": "extensions"}]},
]


@cache
def escrow_abi() -> list[dict[str, Any]]:
    """The P2PEscrow ABI (from the shipped artifact)."""
    return list(load_artifact("P2PEscrow")["abi"])


@cache
def reputation_abi() -> list[dict[str, Any]]:
    """The Reputation ABI (from the shipped artifact)."""
    return list(load_artifact("Reputation")["abi"])


def escrow_contract(w3: Any, address: str) -> Any:
    """The escrow at ``address`` on ``w3`` (a ``Web3`` gives a ``Contract``, an ``AsyncWeb3`` an
    ``AsyncContract``)."""
    return w3.eth.contract(address=to_checksum_address(address), abi=escrow_abi())


def reputation_contract(w3: Any, address: str) -> Any:
    """The reputation contract at ``address`` on ``w3`` (sync or async, as :func:`escrow_contract`)."""
    return w3.eth.contract(address=to_checksum_address(address), abi=reputation_abi())


# -- events -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Event:
    """A decoded event of a transaction."""

    name: str
    address: str
    args: dict[str, Any]


def abi_type(entry: dict[str, Any]) -> str:
    """The canonical ABI type of an input (tuples spelled out: ``(address,uint256)[]``)."""
    if entry["type"].startswith("tuple"):
        return "(" + ",".join(abi_type(c) for c in entry["components"]) + ")" + entry["type"][5:]
    return str(entry["type"])


def event_signature(entry: Mapping[str, Any]) -> str:
    """``name(type,...)`` of an ABI entry, an event's or a function's (whose keccak gives its
    topic 0 or its selector)."""
    return f"{entry['name']}({','.join(abi_type(dict(i)) for i in entry.get('inputs', []))})"


def topic(entry: Mapping[str, Any]) -> str:
    """The ``0x…`` topic 0 of an event ABI entry."""
    return "0x" + keccak(text=event_signature(entry)).hex()


def event_topics(abi: list[dict[str, Any]]) -> dict[str, str]:
    """Event name -> topic 0, for the events of ``abi``."""
    return {e["name"]: topic(e) for e in abi if e.get("type") == "event"}


@cache
def topics() -> dict[str, str]:
    """Event name -> ``0x…`` topic 0, for every escrow and reputation event (``topics()["Released"]``)."""
    return {**event_topics(reputation_abi()), **event_topics(escrow_abi())}


#: The TradeCreated topic, spelled from the :class:`~p2pescrow.models.Terms` struct type.
TRADE_CREATED = "0x" + keccak(text=f"TradeCreated(bytes32,address,address,{Terms.ABI_TYPE},uint256)").hex()


def plain(entry: dict[str, Any], value: Any) -> Any:
    """A decoded ABI value as the SDK hands it out: addresses checksummed, ``bytes32`` as lower-case
    ``0x…`` hex, structs as dicts, arrays as lists."""
    kind = entry["type"]
    if kind.endswith("]"):
        inner = {**entry, "type": kind[: kind.rindex("[")]}
        return [plain(inner, v) for v in value]
    if kind == "tuple":
        return {c["name"]: plain(c, v) for c, v in zip(entry["components"], value, strict=True)}
    if kind == "address":
        return to_checksum_address(value)
    if kind == "bytes32":
        return "0x" + bytes(value).hex()
    return value


_INDEXES: dict[int, tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]] = {}


def _index(abi: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """topic 0 (lower-case hex) -> event entry, cached per ABI list (the list is kept alive with it)."""
    cached = _INDEXES.get(id(abi))
    if cached is not None and cached[0] is abi:
        return cached[1]
    index = {topic(e): e for e in abi if e.get("type") == "event" and not e.get("anonymous")}
    _INDEXES[id(abi)] = (abi, index)
    return index


def _hex(value: Any) -> str:
    if isinstance(value, str):
        return value.lower() if value.startswith("0x") else "0x" + value.lower()
    return "0x" + bytes(value).hex()


def _raw(value: Any) -> bytes:
    if isinstance(value, str):
        return bytes.fromhex(value[2:] if value.startswith("0x") else value)
    return bytes(value)


def decode_log(log: Any, abi: list[dict[str, Any]]) -> Event | None:
    """The event ``log`` is, per ``abi``; None when no event of ``abi`` matches it."""
    topics = [_hex(t) for t in log.get("topics") or ()]
    if not topics:
        return None
    entry = _index(abi).get(topics[0])
    if entry is None:
        return None
    inputs = entry["inputs"]
    indexed = [i for i in inputs if i.get("indexed")]
    body = [i for i in inputs if not i.get("indexed")]
    if len(topics) != len(indexed) + 1:
        return None
    try:
        data_values = decode([abi_type(i) for i in body], _raw(log.get("data") or b""))
        args: dict[str, Any] = {}
        topic_values = iter(topics[1:])
        data_iter = iter(data_values)
        for item in inputs:
            if item.get("indexed"):
                raw = _raw(next(topic_values))
                kind = item["type"]
                if kind in ("string", "bytes") or kind.startswith("tuple") or kind.endswith("]"):
                    args[item["name"]] = "0x" + raw.hex()  # a dynamic value is indexed as its hash
                else:
                    args[item["name"]] = plain(item, decode([abi_type(item)], raw)[0])
            else:
                args[item["name"]] = plain(item, next(data_iter))
    except Exception:  # noqa: BLE001 - malformed data for this topic: not this event
        return None
    return Event(entry["name"], to_checksum_address(str(log["address"]) if isinstance(log["address"], str)
                                                    else _hex(log["address"])), args)


def decode_events(receipt: Any, decoders: tuple[Any, ...]) -> tuple[Event, ...]:
    """Decode every log of ``receipt`` that one of ``decoders`` (contract objects: an address and
    an ABI) emitted; other logs are skipped."""
    by_address = {str(c.address).lower(): c for c in decoders}
    events: list[Event] = []
    for log in receipt["logs"]:
        contract = by_address.get(str(log["address"]).lower())
        if contract is None:
            continue
        event = decode_log(log, contract.abi)
        if event is not None:
            events.append(event)
    return tuple(events)


def terms_from_event(raw: Any) -> Terms:
    """The :class:`~p2pescrow.models.Terms` of a decoded TradeCreated ``terms`` argument (a dict
    of field name to value, or a tuple)."""
    values = list(raw.values()) if hasattr(raw, "values") else list(raw)
    if isinstance(values[13], str):  # termsHash, as 0x-hex
        values[13] = bytes.fromhex(values[13][2:])
    return Terms.from_tuple(tuple(values))


def trade_created(log: Any, abi: list[dict[str, Any]] | None = None) -> tuple[str, Terms] | None:
    """(trade id, terms) of a TradeCreated ``log``; None if it is another event."""
    event = decode_log(log, abi if abi is not None else escrow_abi())
    if event is None or event.name != "TradeCreated":
        return None
    return str(event.args["id"]), terms_from_event(event.args["terms"])


__all__ = [
    "ERC20_ABI", "TRADE_CREATED", "Event", "abi_type", "decode_events", "decode_log",
    "escrow_abi", "escrow_contract", "event_topics", "plain", "reputation_abi", "reputation_contract",
    "terms_from_event", "topic", "topics", "trade_created",
]
