"""Find the revert data in whatever a provider raised, and turn provider failures into our errors.

Each backend reports a revert its own way (see TOOLCHAIN.md): eth-tester raises ``TransactionFailed``
with the raw bytes (or their ``repr`` inside a message), Anvil a ``ContractCustomError`` whose
``data`` is hex, Ganache a ``ContractLogicError`` or an RPC error dict with the data. This module
is the one place that knows; everything above it sees :class:`~p2pescrow.errors.ContractError`.
Likewise for a refused ``eth_sendRawTransaction`` (:func:`send_refusal`): the sync and the asyncio
transaction paths both settle it from here.
"""

from __future__ import annotations

import ast
import re
from typing import Any

from ..errors import (
    ContractError,
    InsufficientFunds,
    NodeUnreachable,
    NonceConflict,
    P2PEscrowError,
    decode_revert,
)

_HEX_DATA = re.compile(r"0x[0-9a-fA-F]{8,}")


def revert_data(exc: BaseException) -> bytes | None:
    """The raw revert data carried by ``exc`` (or its causes), or None if it is not a revert."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found = _from_one(current)
        if found is not None:
            return found
        current = current.__cause__ or current.__context__
    return None


def _from_one(exc: BaseException) -> bytes | None:
    for carried in (getattr(exc, "data", None), getattr(exc, "rpc_response", None)):  # web3 7: the node's answer
        found = _coerce(carried)
        if found is not None:
            return found
    name = type(exc).__name__
    if name in ("ContractLogicError", "ContractCustomError", "ContractPanicError", "TransactionFailed",
                "Web3RPCError", "ValueError"):
        for arg in exc.args:
            found = _coerce(arg)
            if found is not None:
                return found
        if name in ("ContractLogicError", "TransactionFailed") and "revert" in str(exc).lower():
            return b""  # a revert without data (e.g. a bare `revert()`)
    return None


def _coerce(value: Any) -> bytes | None:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, dict):
        for key in ("data", "error", "result"):  # Ganache 7's eth_estimateGas: {"result": "0x<data>", ...}
            found = _coerce(value.get(key))
            if found is not None:
                return found
        if "revert" in str(value.get("message", "")).lower():
            return b""  # a JSON-RPC error saying revert without data (Ganache: "data": "0x"), as the reader reads it
        return None
    if isinstance(value, str):
        if "reverted: b'" in value or 'reverted: b"' in value:
            literal = value[value.index("reverted: b") + len("reverted: "):]
            try:
                parsed = ast.literal_eval(literal)
            except (ValueError, SyntaxError):
                parsed = None
            if isinstance(parsed, bytes):
                return parsed
        match = _HEX_DATA.search(value)
        if match and (value.startswith("0x") or "revert" in value.lower() or "data" in value.lower()):
            text = match.group(0)[2:]
            if len(text) % 2 == 0:
                return bytes.fromhex(text)
    return None


def is_connection_failure(exc: BaseException) -> bool:
    """True when ``exc`` means the node did not answer (refused, reset, DNS, timeout)."""
    names = {type(e).__name__ for e in _chain(exc)}
    return bool(names & {"ConnectionError", "ConnectionRefusedError", "ConnectTimeout", "ReadTimeout",
                         "ClientConnectorError", "ClientConnectionError", "ServerDisconnectedError",
                         "NewConnectionError", "MaxRetryError", "TimeoutError", "OSError",
                         "ProviderConnectionError"})


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in out:
        out.append(current)
        current = current.__cause__ or current.__context__
    return out


def translate(exc: BaseException, url: str) -> P2PEscrowError:
    """The package error for a provider exception: a typed revert, a node failure, or as it was."""
    if isinstance(exc, P2PEscrowError):
        return exc
    data = revert_data(exc)
    if data is not None:
        return decode_revert(data)
    if is_connection_failure(exc):
        return NodeUnreachable(url, type(exc).__name__)
    funds = insufficient_funds(exc)
    if funds is not None:
        return funds
    return P2PEscrowError(f"the node refused the request: {_first_line(exc)}")


_FUNDS_WORDS = ("insufficient funds", "insufficient balance", "not have enough balance")
_HAS_NEEDS = re.compile(r"\b(?:has|have)\s+(\d+),?\s+(?:needs|want)\s+(\d+)")


def insufficient_funds(exc: BaseException) -> InsufficientFunds | None:
    """A node's refusal for lack of ETH (value + gas), in each backend's words: eth-tester (with the
    numbers), Anvil, Ganache, Geth (with the numbers)."""
    message = str(exc)
    if not any(word in message.lower() for word in _FUNDS_WORDS):
        return None
    numbers = _HAS_NEEDS.search(message)
    if numbers:
        return InsufficientFunds("ETH balance", f"{numbers.group(2)} wei (value + gas)",
                                 f"{numbers.group(1)} wei")
    return InsufficientFunds("ETH balance", "value + gas", f"less (the node says: {_first_line(exc)})")


# -- a refused eth_sendRawTransaction ------------------------------------------------------------
#: The node has a transaction with this very hash: ours, from an earlier or retried send of the same bytes.
ALREADY_KNOWN = "already known"
#: The nonce is taken, by a mined transaction ("nonce too low") or by a pending one this one does not
#: outbid: ours when a retried send's first answer was lost, else another transaction of the account.
NONCE_TAKEN = "nonce taken"

_KNOWN_WORDS = ("already known", "known transaction", "already imported", "already exists",
                "transaction already in pool")
_NONCE_WORDS = ("nonce too low", "replacement transaction underpriced", "replacement fee too low")
# Ganache 7 words a used nonce so (Ganache 6 said the same of a nonce too high: compared here). Its
# replacement refusal, a bare "transaction underpriced", is also geth's word for a fee under the
# pool's minimum: not a nonce, so not recognised.
_GANACHE_NONCE = re.compile(r"account has nonce of:\s*(\d+)\s+tx has nonce of:\s*(\d+)")


def send_refusal(exc: BaseException) -> str | None:
    """What a refused ``eth_sendRawTransaction`` may say about the signed transaction, in the words
    of Anvil, Ganache and geth (and its forks): :data:`ALREADY_KNOWN` or :data:`NONCE_TAKEN` (both
    settled by looking the signed hash up), or None (refused for itself: too cheap, no funds,
    invalid; nothing to look up)."""
    message = str(exc).lower()
    if any(word in message for word in _KNOWN_WORDS):
        return ALREADY_KNOWN
    ganache = _GANACHE_NONCE.search(message)
    if any(word in message for word in _NONCE_WORDS) or (ganache and int(ganache[2]) < int(ganache[1])):
        return NONCE_TAKEN
    return None


def refusal_error(exc: P2PEscrowError, account: str, nonce: int | None) -> P2PEscrowError:
    """The error to raise for a :func:`send_refusal` once the node was seen not to have the signed
    hash: a taken nonce means another transaction used it and nothing of ours was sent
    (:class:`NonceConflict`; only when ``nonce`` is given, i.e. it was the account's next nonce: a
    deliberate replacement keeps the node's words); anything else is raised as the node put it."""
    if nonce is not None and send_refusal(exc) == NONCE_TAKEN:
        return NonceConflict(account, nonce)
    return exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


__all__ = ["ALREADY_KNOWN", "NONCE_TAKEN", "ContractError", "is_connection_failure", "refusal_error",
           "revert_data", "send_refusal", "translate"]
