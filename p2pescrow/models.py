"""Domain values shared by the SDK and the CLI: trade states and exact token amounts.

Amounts are ``Decimal`` (or strings such as ``"1.5"``) in the token's units, converted to integer
base units with the token's decimals *exactly*: more decimals than the token has is an error, never
a silent rounding, and floats are refused because ``0.1`` is not 0.1 in binary.
"""

from __future__ import annotations

import enum
from decimal import Decimal, InvalidOperation, localcontext

from .errors import InvalidAmount

__all__ = ["TradeState", "from_base_units", "to_base_units"]

#: The largest amount one trade can hold (the contract keeps amounts in uint128).
MAX_TRADE_AMOUNT = 2**128 - 1


class TradeState(enum.IntEnum):
    """Where a trade is in its life; mirrors ``IP2PEscrow.State``. The last five are terminal."""

    NONE = 0
    AWAITING_FUNDING = 1
    FUNDED = 2
    DISPUTED = 3
    COMPLETED = 4
    REFUNDED = 5
    SETTLED = 6
    RESOLVED = 7
    CANCELLED = 8

    @property
    def is_terminal(self) -> bool:
        return self >= TradeState.COMPLETED


def to_base_units(amount: Decimal | str | int, decimals: int) -> int:
    """``"1.5"`` with 18 decimals -> ``1500000000000000000``. Exact, positive, and within uint128.

    Raises :class:`~p2pescrow.errors.InvalidAmount` for floats, malformed text, zero or negative
    amounts, more fractional digits than ``decimals``, and amounts above what a trade can hold.
    """
    if isinstance(amount, bool) or isinstance(amount, float):
        raise InvalidAmount(amount, "pass a Decimal or a string such as '1.5', not a float")
    if isinstance(amount, str):
        text = amount.strip().replace("_", "")
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise InvalidAmount(amount, "not a number") from None
    elif isinstance(amount, (int, Decimal)):
        value = Decimal(amount)
    else:
        raise InvalidAmount(amount, f"unsupported type {type(amount).__name__}")
    if not value.is_finite():
        raise InvalidAmount(amount, "not a finite number")
    if value <= 0:
        raise InvalidAmount(amount, "must be greater than zero")
    with localcontext() as ctx:
        ctx.prec = 200  # exact: the default 28 digits would round large amounts silently
        base = value.scaleb(decimals)
        if base != base.to_integral_value():
            places = -int(value.normalize().as_tuple().exponent)
            raise InvalidAmount(amount, f"has {places} decimals, the token has {decimals}")
    units = int(base)
    if units > MAX_TRADE_AMOUNT:
        raise InvalidAmount(amount, "larger than one trade can hold (2^128 - 1 base units)")
    return units


def from_base_units(units: int, decimals: int) -> Decimal:
    """``1500000000000000000`` with 18 decimals -> ``Decimal("1.5")`` (exact, normalised)."""
    with localcontext() as ctx:
        ctx.prec = 200
        value = Decimal(units).scaleb(-decimals)
    # normalize() would turn 100 into 1E+2; keep integers plain.
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()
