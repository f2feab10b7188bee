"""Parsing what traders type: amounts with symbols, durations, shares. No web3 here."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from ..errors import InputError, InvalidAmount

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$", re.I)
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800}


def amount(text: str, symbol: str) -> str:
    """``"1.5"``, ``"1.5 ETH"`` or ``"250 USDC"`` against a token whose symbol is ``symbol``.

    Returns the number as text (converted exactly by the SDK). A symbol other than the token's is an
    error: typing ``250 USDC`` for an ETH trade must never send 250 ETH.
    """
    parts = text.split()
    if len(parts) == 2:
        number, given = parts
        if given.upper() != symbol.upper():
            raise InvalidAmount(text, f"this trade is in {symbol}, not {given}")
    elif len(parts) == 1:
        number = parts[0]
    else:
        raise InvalidAmount(text, "expected a number and optionally the token symbol, e.g. '1.5 ETH'")
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
