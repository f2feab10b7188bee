"""Parsing what traders type: addresses, trade ids (or their prefixes), amounts with symbols,
durations, shares, states. Every input is parsed here, once. No web3 here (``--help`` imports it).
"""

from __future__ import annotations

import re
import string
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from ..errors import InputError, InvalidAmount

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..models import TokenInfo, TradeState
    from ..reader import Reads

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$", re.I)
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800}


def amount(text: str, symbol: str) -> str:
    """``"1.5"``, ``"1.5 ETH"`` or ``"250 USDC"`` against a token whose symbol is ``symbol``.

    Returns the number as text (converted exactly by the SDK). A symbol other than the token's is an
    error: typing ``250 USDC`` for an ETH trade must never send 250 ETH.
    """
    number, given = split_symbol(text)
    if given is not None and given.upper() != symbol.upper():
        raise InvalidAmount(text, f"this trade is in {symbol}, not {given}")
    try:
        Decimal(number.replace("_", ""))
    except InvalidOperation:
        raise InvalidAmount(text, "not a number") from None
    return number


def split_symbol(text: str) -> tuple[str, str | None]:
    """``"250 USDC"`` -> ``("250", "USDC")``; ``"1.5"`` -> ``("1.5", None)``."""
    parts = text.split()
    if len(parts) == 2:
        return parts[0], parts[1]
    if len(parts) == 1:
        return parts[0], None
    raise InvalidAmount(text, "expected a number and optionally the token symbol, e.g. '1.5 ETH'")


def duration(text: str) -> int:
    """``"90s"``, ``"15m"``, ``"3h"``, ``"2d"``, ``"1w"`` or plain seconds -> seconds."""
    match = _DURATION.match(text)
    if not match or int(match.group(1)) == 0:
        raise InputError(f"invalid duration {text!r}: use e.g. 30m, 12h, 3d or 1w")
    return int(match.group(1)) * _UNITS[match.group(2).lower()]


def share_bps(text: str) -> int:
    """``"60%"`` or ``"60"`` -> 6000; ``"6000bps"`` -> 6000. Must be 0-100%."""
    raw = text.strip().lower()
    try:
        if raw.endswith("bps"):
            value = int(raw[:-3].strip())
        else:
            percent = Decimal(raw.rstrip("%").strip())
            scaled = percent * 100
            if scaled != scaled.to_integral_value():
                raise InputError(f"invalid share {text!r}: at most two decimals of a percent (1 bps)")
            value = int(scaled)
    except (InvalidOperation, ValueError):
        raise InputError(
            f"invalid share {text!r}: use a percentage such as 60% or basis points such as 6000bps"
        ) from None
    if not 0 <= value <= 10_000:
        raise InputError(f"invalid share {text!r}: must be between 0% and 100%")
    return value


def address(value: str, what: str = "address") -> str:
    """A checksummed address, or an InvalidAddress error (checked before connecting)."""
    from ..core.terms import checksum

    return checksum(value.strip(), what)


def token_address(value: str | None, dev_tokens: Mapping[str, str] | None = None) -> str | None:
    """``--token``: None for ETH (or ``ETH``), a checksummed token address, or the symbol of a dev
    token the chain's deployment records (``DUSD``, ``DEUR`` on a chain `p2pescrow node start`
    set up). ``dev_tokens`` None: the chain is not known yet, a symbol is returned as it is (checked
    again once it is: :func:`token_address` with the deployment's ``dev_tokens``)."""
    if value is None or value.upper() == "ETH":
        return None
    if not _SYMBOL.fullmatch(value):
        return address(value, "token address")
    if dev_tokens is None:
        return value.upper()
    found = {symbol.upper(): token for symbol, token in dev_tokens.items()}.get(value.upper())
    if found is None:
        known = ", ".join(dev_tokens)
        raise InputError(f"unknown token {value!r}: give its address (0x...), ETH"
                         + (f", or a dev token of this chain: {known}" if known else
                            " (this chain records no dev tokens: only `p2pescrow node start` chains have them)"))
    return address(found, "token address")


TOKEN_HELP = "ERC-20 token address, or DUSD/DEUR on a `node start` chain (default: ETH)."
_SYMBOL = re.compile(r"[A-Za-z][A-Za-z0-9]{0,10}")


def trade_id(reads: Reads, text: str) -> str:
    """A full trade id, from ``0x`` + 64 hex digits or a unique prefix of 8+ hex digits (looked up
    among the escrow's trades)."""
    raw = text.strip().lower()
    body = raw[2:] if raw.startswith("0x") else raw
    if not body or len(body) > 64 or any(c not in string.hexdigits for c in body):
        raise InputError(f"not a trade id: {text!r} (expected 0x and 64 hex digits)")
    if len(body) == 64:
        return "0x" + body
    if len(body) < 8:
        raise InputError(f"trade id prefix {text!r} is too short: give at least 8 hex digits")
    lookup = getattr(reads, "trade_ids", None)  # the market index's reader: a query, not a log scan
    if lookup is not None:
        matches, count = lookup(body)
    else:
        matches = [t.id for t in reads.trades() if t.id[2:].startswith(body)]
        count = len(matches)
    if not matches:
        raise InputError(f"no trade id starts with {text!r} on this escrow", hint="see `p2pescrow trade list`")
    if count > 1:
        raise InputError(f"trade id prefix {text!r} is ambiguous: {count} trades match",
                         hint="give more digits")
    return matches[0]


def base_units(text: str, token: TokenInfo) -> int:
    """``"1.5"`` / ``"1.5 ETH"`` / ``"250 USDC"`` -> base units of ``token`` (symbol checked, exact,
    positive)."""
    from ..models import to_base_units

    return to_base_units(amount(text, token.symbol), token.decimals)


def deposit(text: str, token: TokenInfo, what: str = "deposit") -> int:
    """A deposit (``--buyer-deposit 0.1``, ``"0.1 ETH"``) -> base units of ``token``: like
    :func:`base_units`, but zero is allowed (no deposit)."""
    from ..models import to_base_units

    number = amount(text, token.symbol)
    try:
        return to_base_units(number, token.decimals, allow_zero=True)
    except InvalidAmount as exc:
        raise InvalidAmount(text, f"{str(exc).split(': ', 1)[-1]} ({what})") from None


STATE_HELP = ("A state: awaiting-funding, awaiting-deposit, funded, disputed, completed, refunded, settled, "
              "resolved, cancelled.")


def state(text: str | None) -> TradeState | None:
    """``funded`` / ``awaiting-funding`` -> the TradeState (None: any)."""
    from ..models import TradeState

    if text is None:
        return None
    key = text.strip().upper().replace("-", "_")
    if key not in TradeState.__members__ or key == "NONE":
        names = ", ".join(n.lower().replace("_", "-") for n in TradeState.__members__ if n != "NONE")
        raise InputError(f"unknown state {text!r}: use one of {names}")
    return TradeState[key]
