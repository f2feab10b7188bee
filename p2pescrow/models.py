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
    "AssetRecord",
    "ReputationRecord",
    "ReputationRole",
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


def to_base_units(amount: Decimal | str | int, decimals: int, *, allow_zero: bool = False) -> int:
    """``"1.5"`` with 18 decimals -> ``1500000000000000000``. Exact, positive, and within uint128.

    Raises :class:`~p2pescrow.errors.InvalidAmount` for floats, malformed text, zero (unless
    ``allow_zero``: a deposit may be zero) or negative amounts, more fractional digits than
    ``decimals``, and amounts above what a trade can hold.
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
    if value < 0 or (value == 0 and not allow_zero):
        raise InvalidAmount(amount, "cannot be negative" if allow_zero else "must be greater than zero")
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
_MARK_SELLER_ACTED = 64  # the seller entered the trade knowingly (created, signed, accepted or acted on it)
_MARK_SELLER_DEPOSITED = 128  # the seller's deposit is locked in the trade
_MARK_RECORDS = 256  # flag on, asset listed and amount at least its minimum, at creation


@dataclass(frozen=True)
class Terms:
    """The immutable terms of a trade, exactly as the contract hashes them into the trade id.

    ``token`` is the zero address for ETH; ``arbiter`` is the zero address for no arbiter. Windows
    are in seconds. Amounts are base units (see :func:`to_base_units`): the price, and the deposits
    the buyer pays with it and the seller locks from its bond (either may be 0), in the same asset.
    """

    buyer: str
    seller: str
    token: str
    arbiter: str
    amount: int
    buyer_deposit: int
    seller_deposit: int
    arbiter_fee_bps: int
    platform_fee_bps: int
    funding_window: int
    release_window: int
    arbitration_window: int
    flags: int
    terms_hash: bytes
    salt: int

    ABI_TYPE: ClassVar[str] = (
        "(address,address,address,address,uint128,uint128,uint128,uint16,uint16,uint32,uint32,uint32,uint8,bytes32,"
        "uint256)"
    )

    def as_tuple(self) -> tuple[Any, ...]:
        """The terms as the contract's ``Terms`` struct (a tuple in field order)."""
        return (self.buyer, self.seller, self.token, self.arbiter, self.amount, self.buyer_deposit,
                self.seller_deposit, self.arbiter_fee_bps, self.platform_fee_bps, self.funding_window,
                self.release_window, self.arbitration_window, self.flags, self.terms_hash, self.salt)

    @classmethod
    def from_tuple(cls, value: Sequence[Any]) -> Terms:
        b, s, tok, arb, amount, bdep, sdep, afee, pfee, fw, rw, aw, flags, th, salt = value
        return cls(b, s, tok, arb, int(amount), int(bdep), int(sdep), int(afee), int(pfee), int(fw), int(rw),
                   int(aw), int(flags), bytes(th), int(salt))

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

    @property
    def has_deposits(self) -> bool:
        return bool(self.buyer_deposit or self.seller_deposit)


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
    #: The seller entered the trade knowingly (created it, signed its offer, accepted, or acted on it).
    seller_acted: bool = False
    #: The seller's deposit is locked in the trade (False too when the terms name none).
    seller_deposited: bool = False
    #: The trade records reputation (flag on, asset listed, price at least its minimum, at creation);
    #: its outcome is recorded, and it can be rated, only if the seller acted too.
    records: bool = False
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
    def buyer_deposit(self) -> int:
        return self.terms.buyer_deposit

    @property
    def seller_deposit(self) -> int:
        return self.terms.seller_deposit

    @property
    def counts_for_reputation(self) -> bool:
        """Whether the trade's outcome is (or will be) recorded and it can be rated once ended."""
        return self.records and self.seller_acted

    @property
    def platform_fee_bps(self) -> int:
        return self.terms.platform_fee_bps

    @property
    def arbiter_fee_bps(self) -> int:
        return self.terms.arbiter_fee_bps


class ReputationRole(enum.IntEnum):
    """The side of a trade a reputation record is about; mirrors ``IReputation.Role``."""

    BUYER = 0
    SELLER = 1


#: The Bayesian prior of :meth:`ReputationRecord.score`: a newcomer starts at 3.0 out of 5, weighing as
#: much as 5 units of reputation (a unit: one rated trade at the asset's listed minimum).
PRIOR_SCORE = Decimal(3)
PRIOR_UNITS = Decimal(5)


@dataclass(frozen=True)
class AssetRecord:
    """An account's record in one asset and one role (``IReputation.recordOf``): the outcomes of its
    recorded trades with their volume (sum of prices, base units), and the ratings it received
    (``weighted_score`` is the sum of score x price over ``rated_volume``)."""

    asset: str
    role: ReputationRole
    volume: int = 0
    completed: int = 0
    refunded: int = 0
    settled: int = 0
    disputes_won: int = 0
    disputes_lost: int = 0
    disputes_split: int = 0
    rated_volume: int = 0
    weighted_score: int = 0
    count: int = 0

    @property
    def trades(self) -> int:
        return (self.completed + self.refunded + self.settled + self.disputes_won + self.disputes_lost
                + self.disputes_split)

    @property
    def average_rating(self) -> Decimal | None:
        """The price-weighted mean rating (1 to 5, two decimals), None if never rated."""
        if not self.rated_volume:
            return None
        return (Decimal(self.weighted_score) / Decimal(self.rated_volume)).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class ReputationRecord:
    """An account's public trade history: one :class:`AssetRecord` per (asset, role) read, and the
    minimum trade of each reputation asset the reader trusts (``minimums``: asset -> base units),
    which is what one unit of reputation is worth in that asset."""

    address: str
    records: tuple[AssetRecord, ...] = ()
    minimums: dict[str, int] = field(default_factory=dict)

    def _trusted(self, assets: Sequence[str] | None, role: ReputationRole | None) -> list[tuple[AssetRecord, int]]:
        chosen = None if assets is None else {a.lower() for a in assets}
        out = []
        for rec in self.records:
            minimum = next((m for a, m in self.minimums.items() if a.lower() == rec.asset.lower()), 0)
            if minimum <= 0 or (chosen is not None and rec.asset.lower() not in chosen):
                continue  # an asset with no listed minimum cannot be weighed: not trusted
            if role is not None and rec.role is not role:
                continue
            out.append((rec, minimum))
        return out

    def units(self, assets: Sequence[str] | None = None, role: ReputationRole | None = None) -> Decimal:
        """Rated volume in units of reputation: each asset's rated volume over its minimum, summed."""
        return sum((Decimal(r.rated_volume) / m for r, m in self._trusted(assets, role)), Decimal(0))

    def score(self, assets: Sequence[str] | None = None, role: ReputationRole | None = None) -> Decimal:
        """The combined rating, 1 to 5 (two decimals), across the trusted assets (``assets``, default
        every asset in ``minimums``) and both roles unless ``role`` is given: each asset weighs its
        rated volume in units (volume / minimum), with a prior of 3.0 weighing 5 units::

            score = (sum_a weightedScore_a / min_a + 3 * 5) / (sum_a ratedVolume_a / min_a + 5)

        No rating at all gives 3.00: an unknown account is neither trusted nor distrusted.
        """
        weighted = sum((Decimal(r.weighted_score) / m for r, m in self._trusted(assets, role)), Decimal(0))
        value = (weighted + PRIOR_SCORE * PRIOR_UNITS) / (self.units(assets, role) + PRIOR_UNITS)
        return value.quantize(Decimal("0.01"))

    def record(self, asset: str, role: ReputationRole) -> AssetRecord:
        """The record in ``asset`` and ``role`` (an empty one if none was read)."""
        for rec in self.records:
            if rec.asset.lower() == asset.lower() and rec.role is role:
                return rec
        return AssetRecord(asset, role)

    @property
    def trades(self) -> int:
        return sum(r.trades for r in self.records)

    @property
    def volume(self) -> dict[str, int]:
        """Recorded volume per asset, both roles together."""
        out: dict[str, int] = {}
        for rec in self.records:
            out[rec.asset] = out.get(rec.asset, 0) + rec.volume
        return out
