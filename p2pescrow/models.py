"""Domain values shared by the SDK and the CLI: trade states and exact token amounts.

Amounts are ``Decimal`` (or strings such as ``"1.5"``) in the token's units, converted to integer
base units with the token's decimals *exactly*: more decimals than the token has is an error, never
a silent rounding, and floats are refused because ``0.1`` is not 0.1 in binary.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any, ClassVar

from .errors import InvalidAmount
from .states import TradeState

__all__ = [
    "ETH_TOKEN",
    "ReputationRecord",
    "Role",
    "Terms",
    "TokenInfo",
    "Trade",
    "TradeState",
    "from_base_units",
    "to_base_units",
]

#: The largest amount one trade can hold (the contract keeps amounts in uint128).
MAX_TRADE_AMOUNT = 2**128 - 1


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


# -- trades --------------------------------------------------------------------------------------
ZERO_ADDRESS = "0x" + "00" * 20

FLAG_TIMEOUT_RELEASES = 1
FLAG_RECORD_REPUTATION = 2
FLAG_CREATED_BY_SELLER = 4

_MARK_DELIVERED = 1
_MARK_SELLER_PAID = 2
_MARK_PROPOSED_BY_BUYER = 4
_MARK_PROPOSED_BY_SELLER = 8
_MARK_BUYER_RATED = 16
_MARK_SELLER_RATED = 32


@dataclass(frozen=True)
class Terms:
    """The immutable terms of a trade, exactly as the contract hashes them into the trade id.

    ``token`` is the zero address for ETH; ``arbiter`` is the zero address for no arbiter. Windows
    are in seconds. Amounts are base units (see :func:`to_base_units`).
    """

    buyer: str
    seller: str
    token: str
    arbiter: str
    amount: int
    arbiter_fee_bps: int
    platform_fee_bps: int
    funding_window: int
    release_window: int
    arbitration_window: int
    flags: int
    terms_hash: bytes
    salt: int

    ABI_TYPE: ClassVar[str] = (
        "(address,address,address,address,uint128,uint16,uint16,uint32,uint32,uint32,uint8,bytes32,uint256)"
    )

    def as_tuple(self) -> tuple[Any, ...]:
        """The terms as the contract's ``Terms`` struct (a tuple in field order)."""
        return (self.buyer, self.seller, self.token, self.arbiter, self.amount, self.arbiter_fee_bps,
                self.platform_fee_bps, self.funding_window, self.release_window,
                self.arbitration_window, self.flags, self.terms_hash, self.salt)

    @classmethod
    def from_tuple(cls, value: Sequence[Any]) -> Terms:
        b, s, tok, arb, amount, afee, pfee, fw, rw, aw, flags, th, salt = value
        return cls(b, s, tok, arb, int(amount), int(afee), int(pfee), int(fw), int(rw), int(aw),
                   int(flags), bytes(th), int(salt))

    @property
    def is_eth(self) -> bool:
        return int(self.token, 16) == 0

    @property
    def has_arbiter(self) -> bool:
        return int(self.arbiter, 16) != 0

    @property
    def timeout_releases(self) -> bool:
        return bool(self.flags & FLAG_TIMEOUT_RELEASES)

    @property
    def records_reputation(self) -> bool:
        return bool(self.flags & FLAG_RECORD_REPUTATION)

    @property
    def created_by_seller(self) -> bool:
        return bool(self.flags & FLAG_CREATED_BY_SELLER)


@dataclass(frozen=True)
class TokenInfo:
    """A token as the SDK shows it: address (zero for ETH), symbol and decimals."""

    address: str
    symbol: str
    decimals: int

    @property
    def is_eth(self) -> bool:
        return int(self.address, 16) == 0

    def human(self, units: int) -> Decimal:
        return from_base_units(units, self.decimals)


ETH_TOKEN = TokenInfo(ZERO_ADDRESS, "ETH", 18)


class Role(enum.Enum):
    BUYER = "buyer"
    SELLER = "seller"
    ARBITER = "arbiter"
    ANYONE = "anyone"


@dataclass(frozen=True)
class Trade:
    """A trade as read from chain: its terms, its current state and what each party may do next."""

    id: str
    terms: Terms
    token: TokenInfo
    state: TradeState
    held: int
    deadline: datetime | None
    delivery_marked: bool
    seller_paid: bool
    settlement_bps: int | None
    settlement_proposer: Role | None
    rated_by: frozenset[Role]
    next_actions: dict[Role, tuple[str, ...]] = field(default_factory=dict)

    @property
    def buyer(self) -> str:
        return self.terms.buyer

    @property
    def seller(self) -> str:
        return self.terms.seller

    @property
    def arbiter(self) -> str | None:
        return self.terms.arbiter if self.terms.has_arbiter else None

    @property
    def amount(self) -> int:
        return self.terms.amount

    @property
    def amount_human(self) -> Decimal:
        return self.token.human(self.terms.amount)

    @property
    def held_human(self) -> Decimal:
        return self.token.human(self.held)

    @property
    def platform_fee_bps(self) -> int:
        return self.terms.platform_fee_bps

    @property
    def arbiter_fee_bps(self) -> int:
        return self.terms.arbiter_fee_bps


@dataclass(frozen=True)
class ReputationRecord:
    """An address's public trade history, with a derived score."""

    address: str
    completed_as_buyer: int
    completed_as_seller: int
    settled: int
    refunded: int
    disputes_won: int
    disputes_lost: int
    disputes_split: int
    rating_count: int
    rating_sum: int

    @property
    def trades(self) -> int:
        return (self.completed_as_buyer + self.completed_as_seller + self.settled + self.refunded
                + self.disputes_won + self.disputes_lost + self.disputes_split)

    @property
    def average_rating(self) -> Decimal | None:
        if not self.rating_count:
            return None
        return (Decimal(self.rating_sum) / Decimal(self.rating_count)).quantize(Decimal("0.01"))

    @property
    def score(self) -> int:
        """0-100: share of trades that ended without a lost dispute, weighted by ratings.

        Half the score is the clean-trade ratio (disputes lost count against, splits half), half the
        average rating scaled to 0-50; with no ratings, the trade ratio counts fully. No history: 0.
        """
        if not self.trades:
            return 0
        clean = Decimal(self.trades - self.disputes_lost) - Decimal(self.disputes_split) / 2
        ratio = clean / Decimal(self.trades)
        if not self.rating_count:
            return int((ratio * 100).to_integral_value())
        rating = (Decimal(self.rating_sum) / self.rating_count - 1) / 4
        return int((ratio * 50 + rating * 50).to_integral_value())
