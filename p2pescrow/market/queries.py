"""What the market index answers: the offers that can be filled now (:func:`search`, :func:`offer`), an
account's screening (:func:`screening`) and the market's figures (:func:`stats`).

Pure functions over a SQLAlchemy :class:`~sqlalchemy.orm.Session` on the index
(:mod:`p2pescrow.market.schema`), the same SQL on SQLite and PostgreSQL; only the full-text match
differs (FTS5 ``MATCH`` on SQLite, ``@@ plainto_tsquery`` on PostgreSQL).

Amounts are stored as 78-digit text (:class:`~p2pescrow.market.schema.UInt`). Comparing them in SQL is
exact as stored, but a sum is not: SQLite's integers are 64-bit (9.2 ETH in wei overflows them). So
every sum of amounts (prices, deposits and fees are uint128 on chain: 39 digits) is taken over the last
48 digits in four 12-digit slices, each summed as a 64-bit integer (room for millions of rows), and
the slices are joined back exactly in Python (:func:`_uint_sum`).

Screening follows the Reputation contract: a trade counts for reputation when it asked to record, in
an asset listed at creation at or above its minimum (``trades.records``), and the seller entered it
knowingly (``seller_acted``), and it ended by a payout (completed, refunded, settled or resolved).
The score is :meth:`p2pescrow.models.ReputationRecord.score` over those numbers and the ratings.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
import unicodedata
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, fields
from decimal import ROUND_CEILING, Decimal
from typing import Any

from eth_utils import is_address, to_checksum_address
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    and_,
    case,
    cast,
    column,
    delete,
    exists,
    func,
    insert,
    literal_column,
    or_,
    select,
    table,
    text,
    update,
)
from sqlalchemy.orm import Session, aliased

from ..models import (
    FLAG_TIMEOUT_RELEASES,
    ZERO_ADDRESS,
    AssetRecord,
    ReputationRecord,
    ReputationRole,
)
from ..states import TradeState
from .schema import Bond, Listing, Offer, Rating, Score, SyncState, Trade, TradeRecord

__all__ = [
    "SORTS",
    "ArbiterStats",
    "MarketStats",
    "OfferFilter",
    "OfferHit",
    "Screening",
    "VolumePoint",
    "offer",
    "refresh_records",
    "refresh_scores",
    "screening",
    "search",
    "stats",
]

#: The sort orders of :func:`search`: newest first, amount up or down, best screening score first,
#: soonest expiry first.
SORTS = ("newest", "amount", "-amount", "score", "expiry")

#: Trades whose end the Reputation contract records (a payout; a cancelled trade records nothing).
_RECORDED_STATES = (TradeState.COMPLETED, TradeState.REFUNDED, TradeState.SETTLED, TradeState.RESOLVED)

#: Basis points: a ruling's whole (10000 all to the buyer, 5000 an even split).
_BPS = 10_000
_DAY = 86_400



# --------------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, ReputationRole):
        return value.name.lower()
    return value


@dataclass(frozen=True)
class OfferFilter:
    """What :func:`search` looks for. Every field is optional; amounts are base units of the offer's
    token. ``min_score`` and ``min_volume`` filter on the seller's screening (``min_volume``: the
    seller's recorded volume in the offer's asset, both roles)."""

    token: str | None = None
    min_amount: int | None = None
    max_amount: int | None = None
    arbiter: str | None = None
    max_arbiter_fee_bps: int | None = None
    timeout_releases: bool | None = None
    max_buyer_deposit: int | None = None
    max_seller_deposit: int | None = None
    min_seller_deposit: int | None = None
    category: str | None = None
    text: str | None = None
    seller: str | None = None
    min_score: Decimal | float | str | None = None
    min_volume: int | None = None
    sort: str = "newest"
    limit: int = 50
    offset: int = 0

    def __post_init__(self) -> None:
        if self.sort not in SORTS:
            raise ValueError(f"unknown sort {self.sort!r}: one of {', '.join(SORTS)}")
        if self.limit < 0 or self.offset < 0:
            raise ValueError("limit and offset must not be negative")


@dataclass(frozen=True)
class Screening:
    """An account's record as the index sees it: per (asset, role) the recorded trades' volume and
    outcomes and the ratings received (:class:`~p2pescrow.models.AssetRecord`), the totals, the first
    recorded trade's time, and the combined score (1 to 5, prior 3.00, see
    :meth:`~p2pescrow.models.ReputationRecord.score`) over the listed assets' minimums."""

    address: str
    records: tuple[AssetRecord, ...] = ()
    #: The listed reputation assets' minimums (asset -> base units): one unit of reputation each.
    minimums: dict[str, int] = field(default_factory=dict)
    completed: int = 0
    refunded: int = 0
    #: Recorded trades that went through a dispute (however they ended).
    disputed: int = 0
    #: When the first recorded trade was created (unix seconds), None if none.
    first_trade_at: int | None = None
    score: Decimal = Decimal("3.00")

    @property
    def trades(self) -> int:
        return sum(r.trades for r in self.records)

    def volume(self, asset: str) -> int:
        """Recorded volume in ``asset``, both roles."""
        return sum(r.volume for r in self.records if r.asset.lower() == asset.lower())

    def to_json(self) -> dict[str, Any]:
        out = _plain(self)
        out["trades"] = self.trades
        return out


@dataclass(frozen=True)
class OfferHit:
    """An offer from the index (the ``offers`` row's fields, ``tags`` parsed), its seller's
    screening, and warnings for the reader (e.g. a token symbol imitating a listed asset's)."""

    chain_id: int
    id: str
    seller: str
    buyer: str
    token: str
    arbiter: str
    amount: int
    buyer_deposit: int
    seller_deposit: int
    arbiter_fee_bps: int
    platform_fee_bps: int
    release_window: int
    arbitration_window: int
    flags: int
    terms_hash: str
    nonce: int
    expiry: int
    signature: str
    document: str
    title: str
    description: str
    category: str
    tags: tuple[str, ...]
    payment_method: str
    fiat_price: str
    status: str
    trade_id: str | None
    source: str
    published_block: int
    published_at: int
    tx_hash: str
    log_index: int
    screening: Screening
    warnings: tuple[str, ...] = ()
    #: Whether it can be filled now (always True in :func:`search`'s results).
    fillable: bool = True

    @property
    def timeout_releases(self) -> bool:
        return bool(self.flags & FLAG_TIMEOUT_RELEASES)

    def signed_offer(self, escrow: str) -> Any:
        """The signed offer to fill (:class:`p2pescrow.core.offers.SignedOffer`), on ``escrow``."""
        from ..core.offers import Offer as OfferStruct
        from ..core.offers import SignedOffer

        struct = OfferStruct(
            seller=self.seller, buyer=self.buyer, token=self.token, arbiter=self.arbiter, amount=self.amount,
            buyerDeposit=self.buyer_deposit, sellerDeposit=self.seller_deposit, arbiterFeeBps=self.arbiter_fee_bps,
            platformFeeBps=self.platform_fee_bps, releaseWindow=self.release_window,
            arbitrationWindow=self.arbitration_window, flags=self.flags, termsHash=_hex_bytes(self.terms_hash),
            nonce=self.nonce, expiry=self.expiry,
        )
        return SignedOffer(struct, _hex_bytes(self.signature), self.chain_id, to_checksum_address(escrow))

    @property
    def relayed(self) -> bool:
        """Relayed through a market server (issue 14), not published on the board (yet)."""
        return self.source == "relayed"

    def to_json(self) -> dict[str, Any]:
        out = _plain(self)
        out["screening"] = self.screening.to_json()
        out["relayed"] = self.relayed
        return out


@dataclass(frozen=True)
class VolumePoint:
    """The volume of trades that went live in one asset and one period (``2026-12-06`` or ``2026-W49``)."""

    token: str
    period: str
    volume: int
    trades: int


@dataclass(frozen=True)
class ArbiterStats:
    """One arbiter's row: disputes brought to it, its rulings, the median seconds from dispute to ruling,
    the share of rulings that split evenly, and the fees it earned (asset -> base units)."""

    arbiter: str
    cases: int
    rulings: int
    median_seconds_to_rule: float | None
    even_split_share: float | None
    fees: dict[str, int]


@dataclass(frozen=True)
class MarketStats:
    """The market's figures as of ``as_of``."""

    chain_id: int
    as_of: int
    trades: int
    #: Trades that went live (funded).
    funded: int
    #: Trades that went live and were disputed.
    disputed: int
    #: disputed / funded (None before any trade went live).
    dispute_rate: float | None
    #: Trades by how they ended (``open`` for those not ended yet).
    outcomes: dict[str, int]
    volume_by_day: tuple[VolumePoint, ...]
    volume_by_week: tuple[VolumePoint, ...]
    #: Seconds from going live to the release, over released trades.
    release_seconds_median: float | None
    release_seconds_p90: float | None
    platform_fees: dict[str, int]
    arbiters: tuple[ArbiterStats, ...]

    def to_json(self) -> dict[str, Any]:
        return _plain(self)


# --------------------------------------------------------------------------------------------------
# Exact sums of uint256 text
# --------------------------------------------------------------------------------------------------

#: (start, length) of the slices of a 78-digit amount summed: its last 48 digits, more than a uint128's
#: 39 (every amount the escrow moves is a uint128).
_SLICES = ((31, 12), (43, 12), (55, 12), (67, 12))


def _slice_sums(amount: Any, name: str, factor: Any = None, where: Any = None) -> list[Any]:
    """Labelled SQL sums of each slice of ``amount`` (times ``factor``, over the rows where ``where``)."""
    out = []
    for i, (start, length) in enumerate(_SLICES):
        part: Any = cast(func.substr(amount, start, length), BigInteger)
        if factor is not None:
            part = part * factor
        if where is not None:
            part = case((where, part), else_=0)
        out.append(func.coalesce(func.sum(part), 0).label(f"{name}_{i}"))
    return out


def _uint_sum(row: Any, name: str) -> int:
    """The exact sum from :func:`_slice_sums`' columns of ``row``."""
    mapping = row._mapping
    total = 0
    for i, (start, length) in enumerate(_SLICES):
        total += int(mapping[f"{name}_{i}"] or 0) * 10 ** (78 - (start - 1 + length))
    return total


# --------------------------------------------------------------------------------------------------
# Screening
# --------------------------------------------------------------------------------------------------


def _no_index(column: Any) -> Any:
    """``column`` as an expression SQLite's planner will not search an index by (``column + 0``).

    Without table statistics SQLite takes any indexed equality for selective: the chain id every key
    starts with, or a trade's state, which a few values cover. Reading a whole chain or state through
    such an index (a lookup per row) is slower than a scan, and keeps the planner off the index the
    query is about (the account, seller or nonce). PostgreSQL plans by its statistics either way."""
    return column + 0


def _on_chain(column: Any, chain_id: int) -> ColumnElement[bool]:
    return _no_index(column) == chain_id


def _checksum(address: str) -> str:
    if not is_address(address):
        raise ValueError(f"not an address: {address!r}")
    return to_checksum_address(address)


def _minimums(session: Session, chain_id: int) -> dict[str, int]:
    rows = session.execute(
        select(Listing.token, Listing.min_amount).where(Listing.chain_id == chain_id, Listing.listed.is_(True))
    )
    return {token: int(minimum) for token, minimum in rows}


def _recorded(chain_id: int) -> list[ColumnElement[bool]]:
    """The trades the Reputation contract recorded: asked to, in a listed asset at or above its minimum
    at creation (``records``), the seller having acted, ended by a payout."""
    return [
        _on_chain(Trade.chain_id, chain_id),
        Trade.records.is_(True),
        Trade.seller_acted.is_(True),
        _no_index(Trade.state).in_([int(s) for s in _RECORDED_STATES]),
    ]


#: The per (account, asset, role) figures of recorded trades: :class:`AssetRecord`'s outcome fields,
#: plus ``disputed`` (went through a dispute) and ``first`` (the first one's creation time).
_FIGURES = ("volume", "completed", "refunded", "settled", "disputes_won", "disputes_lost", "disputes_split")


def _trade_figures(session: Session, chain_id: int,
                   addresses: Collection[str] | None) -> dict[tuple[str, str, ReputationRole], dict[str, int]]:
    """The recorded trades' figures of ``addresses`` (None: of every account) per (account, asset,
    role), aggregated from the trades: two grouped queries (as buyer, as seller)."""
    out: dict[tuple[str, str, ReputationRole], dict[str, int]] = {}
    won = Trade.buyer_bps == _BPS
    lost = Trade.buyer_bps == 0
    resolved = Trade.state == int(TradeState.RESOLVED)
    for role, party in ((ReputationRole.BUYER, Trade.buyer), (ReputationRole.SELLER, Trade.seller)):
        buyer_won = func.sum(case((and_(resolved, won), 1), else_=0))
        seller_won = func.sum(case((and_(resolved, lost), 1), else_=0))
        query = (
            select(
                party.label("account"),
                Trade.token,
                func.count().label("n"),
                func.sum(case((Trade.state == int(TradeState.COMPLETED), 1), else_=0)).label("completed"),
                func.sum(case((Trade.state == int(TradeState.REFUNDED), 1), else_=0)).label("refunded"),
                func.sum(case((Trade.state == int(TradeState.SETTLED), 1), else_=0)).label("settled"),
                (buyer_won if role is ReputationRole.BUYER else seller_won).label("won"),
                (seller_won if role is ReputationRole.BUYER else buyer_won).label("lost"),
                func.sum(case((and_(resolved, ~won, ~lost), 1), else_=0)).label("split"),
                func.sum(case((Trade.disputed_at.is_not(None), 1), else_=0)).label("disputed"),
                func.min(Trade.created_at).label("first"),
                *_slice_sums(Trade.amount, "volume"),
            )
            .where(*_recorded(chain_id))
            .group_by(party, Trade.token)
        )
        if addresses is not None:
            query = query.where(party.in_(list(addresses)))
        for row in session.execute(query):
            out[(row.account, row.token, role)] = {
                "volume": _uint_sum(row, "volume"),
                "completed": int(row.completed), "refunded": int(row.refunded), "settled": int(row.settled),
                "disputes_won": int(row.won), "disputes_lost": int(row.lost), "disputes_split": int(row.split),
                "disputed": int(row.disputed), "first": int(row.first),
            }
    return out


def _kept_trade_figures(session: Session, chain_id: int,
                        addresses: Collection[str]) -> dict[tuple[str, str, ReputationRole], dict[str, int]]:
    """The same as :func:`_trade_figures`, read from ``trade_records`` (kept by the sync): one indexed
    read instead of aggregating every trade of the accounts."""
    rows = session.execute(select(*_RECORD_COLUMNS).where(
        TradeRecord.chain_id == chain_id, TradeRecord.account.in_(list(addresses))))
    return {
        (r.account, r.token, ReputationRole(r.role)): {
            "volume": r.volume, "completed": r.completed, "refunded": r.refunded, "settled": r.settled,
            "disputes_won": r.disputes_won, "disputes_lost": r.disputes_lost, "disputes_split": r.disputes_split,
            "disputed": r.disputed, "first": r.first_trade_at,
        }
        for r in rows
    }


_RECORD_COLUMNS = [c for c in TradeRecord.__table__.columns if c.key != "chain_id"]


def refresh_records(session: Session, chain_id: int, accounts: Collection[str] | None = None) -> None:
    """Recompute the ``trade_records`` rows of ``accounts`` (None: of every account) from the trades in
    the index. The sync calls it in the transaction that changed the trades (for the parties of the
    trades a page touched; for every account after a rewind)."""
    if accounts is not None and not accounts:
        return
    if accounts is None:
        session.execute(delete(TradeRecord).where(TradeRecord.chain_id == chain_id))
        chunks: list[list[str] | None] = [None]
    else:
        wanted = sorted(set(accounts))
        chunks = [wanted[i:i + 500] for i in range(0, len(wanted), 500)]  # bound parameters per statement
    for chunk in chunks:
        if chunk is not None:
            session.execute(delete(TradeRecord).where(TradeRecord.chain_id == chain_id,
                                                      TradeRecord.account.in_(chunk)))
        figures = _trade_figures(session, chain_id, chunk)
        if figures:
            session.execute(insert(TradeRecord), [
                {"chain_id": chain_id, "account": account, "token": token, "role": int(role),
                 **{k: v for k, v in values.items() if k not in ("first",)}, "first_trade_at": values["first"]}
                for (account, token, role), values in sorted(figures.items())
            ])


#: The ratings each account received, per asset and role (narrowed by chain and accounts per call).
_RATINGS = (
    select(
        Rating.ratee, Rating.asset, Rating.role, func.count().label("n"),
        *_slice_sums(Rating.amount, "rated"), *_slice_sums(Rating.amount, "weighted", factor=Rating.score),
    )
    .group_by(Rating.ratee, Rating.asset, Rating.role)
)


def _screenings(session: Session, chain_id: int, addresses: Collection[str] | None,
                minimums: dict[str, int] | None = None, *, kept: bool = False) -> dict[str, Screening]:
    """The screening of each of ``addresses`` (None: of every account in the index): the recorded
    trades' figures (aggregated from the trades, or with ``kept`` read from ``trade_records``, which
    the sync keeps equal to them) and the ratings (one grouped query)."""
    if minimums is None:
        minimums = _minimums(session, chain_id)
    counts: dict[tuple[str, str, ReputationRole], dict[str, int]] = {}
    totals: dict[str, dict[str, Any]] = {}
    if kept and addresses is not None:
        figures = _kept_trade_figures(session, chain_id, addresses)
    else:
        figures = _trade_figures(session, chain_id, addresses)
    for (account, token, role), values in figures.items():
        counts[(account, token, role)] = {k: values[k] for k in _FIGURES}
        total = totals.setdefault(account, {"disputed": 0, "first": None})
        total["disputed"] += values["disputed"]
        if total["first"] is None or values["first"] < total["first"]:
            total["first"] = values["first"]
    ratings = _RATINGS.where(_on_chain(Rating.chain_id, chain_id))
    if addresses is not None:
        ratings = ratings.where(Rating.ratee.in_(list(addresses)))
    for row in session.execute(ratings):
        entry = counts.setdefault((row.ratee, row.asset, ReputationRole(row.role)), {})
        entry.update(rated_volume=_uint_sum(row, "rated"), weighted_score=_uint_sum(row, "weighted"), count=int(row.n))
    by_account: dict[str, list[AssetRecord]] = {}
    for (account, asset, role), values in sorted(counts.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2])):
        by_account.setdefault(account, []).append(AssetRecord(asset, role, **values))
    wanted = addresses if addresses is not None else by_account.keys()
    out = {}
    for account in wanted:
        records = tuple(by_account.get(account, ()))
        total = totals.get(account, {"disputed": 0, "first": None})
        out[account] = Screening(
            address=account,
            records=records,
            minimums=dict(minimums),
            completed=sum(r.completed for r in records),
            refunded=sum(r.refunded for r in records),
            disputed=total["disputed"],
            first_trade_at=total["first"],
            score=ReputationRecord(account, records, minimums).score(),
        )
    return out


def screening(session: Session, chain_id: int, address: str) -> Screening:
    """``address``'s screening on ``chain_id``: its recorded trades per asset and role, the ratings it
    received, the totals, its first recorded trade and its score (see :class:`Screening`)."""
    account = _checksum(address)
    return _screenings(session, chain_id, [account])[account]


# --------------------------------------------------------------------------------------------------
# Search
# --------------------------------------------------------------------------------------------------

_OFFER_COLUMNS = [c for c in Offer.__table__.columns if c.key not in ("pk", "seller_score")]
_OFFER_KEYS = tuple(c.key for c in _OFFER_COLUMNS)


def _current_fee(session: Session, chain_id: int) -> int | None:
    return session.scalar(
        select(SyncState.platform_fee_bps).where(SyncState.chain_id == chain_id).order_by(SyncState.escrow).limit(1)
    )


#: No offer of the seller's with the same nonce was filled or revoked. Per offer, one lookup on (seller,
#: nonce) (ix_offers_seller_nonce): cheap when the page is read in order from an index and the read
#: stops after it, as the sorts' indexes let it. Built once: it holds no value.
_CLOSED = aliased(Offer, name="closed")
_SAME_NONCE_CLOSED = (_CLOSED.seller == Offer.seller, _CLOSED.nonce == Offer.nonce,
                      _CLOSED.status.in_(("filled", "revoked")))
_NONCE_UNUSED = {
    "sqlite": ~exists().where(*_SAME_NONCE_CLOSED, _no_index(_CLOSED.chain_id) == Offer.chain_id),
    "postgresql": ~exists().where(*_SAME_NONCE_CLOSED, _CLOSED.chain_id == Offer.chain_id),
}
_BOND_OF_OFFER = and_(Bond.chain_id == Offer.chain_id, Bond.seller == Offer.seller, Bond.token == Offer.token)
_BOND_COVERS = or_(Offer.seller_deposit == 0, Bond.free >= Offer.seller_deposit)


def _fillable(query: Select[Any], chain_id: int, fee: int, now: int, dialect: str = "sqlite") -> Select[Any]:
    """``query`` over offers narrowed to those fillable now: open, not expired, at the fee in force,
    the nonce unused (no offer of the seller's with that nonce filled or revoked), and the seller's
    free bond in the token covering the seller deposit. (The chain is compared as it is on PostgreSQL,
    which estimates rows by its statistics: hidden from its planner as from SQLite's, it took the open
    offers, or the closed ones, for a few, and sorted them all or compared every pair.)"""
    postgresql = dialect == "postgresql"
    on_chain = Offer.chain_id == chain_id if postgresql else _on_chain(Offer.chain_id, chain_id)
    return query.outerjoin(Bond, _BOND_OF_OFFER).where(
        on_chain,
        Offer.status == "open",
        Offer.expiry >= now,
        Offer.platform_fee_bps == fee,
        _NONCE_UNUSED["postgresql" if postgresql else "sqlite"],
        _BOND_COVERS,
    )


def _words(query: str) -> list[str]:
    return re.findall(r"\w+", query.lower())


def _text_match(session: Session, query: str) -> ColumnElement[bool] | None:
    """Offers whose title or description has every word of ``query``."""
    words = _words(query)
    if not words:
        return None
    if session.get_bind().dialect.name == "postgresql":
        # Exactly the GIN index's expression, so that the index applies.
        return text(
            "to_tsvector('simple', offers.title || ' ' || offers.description) @@ plainto_tsquery('simple', :words)"
        ).bindparams(words=" ".join(words))
    fts = table("offers_fts", column("rowid"))
    match = literal_column("offers_fts").op("MATCH")(" ".join('"' + w.replace('"', '""') + '"' for w in words))
    return Offer.pk.in_(select(fts.c.rowid).where(match))


def _filters(session: Session, f: OfferFilter) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if f.token is not None:
        where.append(Offer.token == _checksum(f.token))
    if f.seller is not None:
        where.append(Offer.seller == _checksum(f.seller))
    if f.arbiter is not None:
        where.append(Offer.arbiter == _checksum(f.arbiter))
    if f.min_amount is not None:
        where.append(Offer.amount >= int(f.min_amount))
    if f.max_amount is not None:
        where.append(Offer.amount <= int(f.max_amount))
    if f.max_arbiter_fee_bps is not None:
        where.append(Offer.arbiter_fee_bps <= int(f.max_arbiter_fee_bps))
    if f.timeout_releases is not None:
        released = Offer.flags.op("&")(FLAG_TIMEOUT_RELEASES)
        where.append(released != 0 if f.timeout_releases else released == 0)
    if f.max_buyer_deposit is not None:
        where.append(Offer.buyer_deposit <= int(f.max_buyer_deposit))
    if f.max_seller_deposit is not None:
        where.append(Offer.seller_deposit <= int(f.max_seller_deposit))
    if f.min_seller_deposit is not None:
        where.append(Offer.seller_deposit >= int(f.min_seller_deposit))
    if f.category:
        where.append(func.lower(Offer.category) == f.category.strip().lower())
    if f.text:
        match = _text_match(session, f.text)
        if match is not None:
            where.append(match)
    return where


_NEWEST = (Offer.published_block.desc(), Offer.log_index.desc(), Offer.pk.desc())
_ORDER = {
    "newest": _NEWEST,
    "amount": (Offer.amount.asc(), *_NEWEST),
    "-amount": (Offer.amount.desc(), *_NEWEST),
    "expiry": (Offer.expiry.asc(), *_NEWEST),
    "score": _NEWEST,  # then re-sorted by score (stable)
}


def _skeleton(symbol: str) -> str:
    """A symbol as it looks: compatibility forms folded, look-alike letters and digits mapped to the
    Latin capital they imitate, everything but letters and digits dropped."""
    folded = unicodedata.normalize("NFKC", symbol).upper().translate(_LOOKALIKES)
    return "".join(ch for ch in folded if ch.isalnum())


#: Look-alikes of Latin capitals an impostor token may put in its symbol: Greek and Cyrillic capitals,
#: and the digits 0 and 1 (full-width and other compatibility forms are folded by NFKC first).
_LOOKALIKES = str.maketrans(
    "\u0391\u0392\u0395\u0396\u0397\u0399\u039a\u039c\u039d\u039f\u03a1\u03a4\u03a5\u03a7"
    "\u0410\u0412\u0415\u041a\u041c\u041d\u041e\u0420\u0421\u0422\u0425\u0423\u0405\u0406\u0408"
    "01",
    "ABEZHIKMNOPTYX" "ABEKMHOPCTXYSIJ" "OI",
)


def _imitates(symbol: str, listed: str) -> bool:
    """Whether ``symbol`` reads like ``listed`` (equal as seen, or one is the other wrapped: a
    leading W, as WETH for ETH)."""
    a, b = _skeleton(symbol), _skeleton(listed)
    if not a or not b:
        return False
    return a == b or a == "W" + b or b == "W" + a


def _warnings(token: str, symbols: Mapping[str, str], listed: Iterable[str]) -> tuple[str, ...]:
    listed_set = {t.lower() for t in listed}
    if token.lower() in listed_set:
        return ()
    lowered = {a.lower(): s for a, s in symbols.items()}
    symbol = lowered.get(token.lower())
    if not symbol:
        return ()
    out = []
    for asset in sorted(listed_set):
        listed_symbol = lowered.get(asset)
        if listed_symbol and _imitates(symbol, listed_symbol):
            out.append(
                f"token {symbol} at {token} imitates the listed reputation asset {listed_symbol} "
                f"at {to_checksum_address(asset)}"
            )
    return tuple(out)


def _hit(row: Any, screen: Screening, symbols: Mapping[str, str], listed: Iterable[str], fillable: bool) -> OfferHit:
    """The hit of ``row``, a ``select(Offer.pk, *_OFFER_COLUMNS)`` row."""
    values = dict(zip(_OFFER_KEYS, tuple(row)[1:], strict=True))
    try:
        tags = tuple(str(t) for t in json.loads(values["tags"] or "[]"))
    except (ValueError, TypeError):
        tags = ()
    values["tags"] = tags
    return OfferHit(**values, screening=screen, warnings=_warnings(row.token, symbols, listed), fillable=fillable)


def search(session: Session, chain_id: int, f: OfferFilter, now: int,
           symbols: Mapping[str, str] | None = None) -> list[OfferHit]:
    """The offers that can be filled at ``now`` (unix seconds, the chain's time) matching ``f``, in
    ``f.sort`` order, ``f.limit`` from ``f.offset``, each with its seller's screening.

    Fillable: open (not filled or revoked, and no other offer of the seller's with the same nonce
    was), not expired (``expiry >= now``), at the platform fee in force at the last block synced,
    and the seller's free bond in the token covering the seller deposit. ``symbols`` (token address
    -> symbol, read from the chain by the caller) lets a token imitating a listed reputation asset's
    symbol be flagged in ``warnings``. Nothing before the first sync: an empty list."""
    fee = _current_fee(session, chain_id)
    if fee is None:
        return []
    minimums = _minimums(session, chain_id)
    query = _fillable(select(Offer.pk), chain_id, fee, now, session.get_bind().dialect.name).where(
        *_filters(session, f))
    order: tuple[Any, ...] = _ORDER[f.sort]
    # The seller's score as the sync keeps it on the offer (offers.seller_score, from scores).
    if f.min_score is not None:
        query = query.where(Offer.seller_score >= _hundredths_at_least(f.min_score))
    if f.sort == "score":
        order = (Offer.seller_score.desc(), *_NEWEST)  # best first, newest first among equals
    if f.min_volume is None:
        page = list(session.scalars(query.order_by(*order).limit(f.limit).offset(f.offset)))
    else:
        # Every matching offer's seller and token (narrow rows), then the recorded volumes they are
        # filtered by, aggregated once; the page is cut from what is kept.
        candidates = session.execute(query.add_columns(Offer.seller, Offer.token).order_by(*order)).all()
        volumes = _volumes(session, chain_id, f.token)
        kept = [r.pk for r in candidates if volumes.get((r.seller, r.token), 0) >= int(f.min_volume)]
        page = kept[f.offset: f.offset + f.limit]
    if not page:
        return []
    found = {r.pk: r for r in session.execute(select(Offer.pk, *_OFFER_COLUMNS).where(Offer.pk.in_(page)))}
    rows = [found[pk] for pk in page]
    screens = _screenings(session, chain_id, {r.seller for r in rows}, minimums, kept=True)
    listed = list(minimums)
    return [_hit(r, screens[r.seller], symbols or {}, listed, True) for r in rows]


#: The score of an account no one has rated.
_PRIOR = ReputationRecord("").score()
#: The same in hundredths, as ``scores`` keeps scores.
_PRIOR_HUNDREDTHS = int(_PRIOR * 100)


def _hundredths_at_least(min_score: Decimal | float | str) -> int:
    """The least score in hundredths that is at least ``min_score`` (scores have two decimals, from
    1.00 to 5.00: beyond that range, one below or above every score)."""
    wanted = Decimal(str(min_score))
    if wanted.is_nan():
        raise ValueError(f"not a score: {min_score!r}")
    if wanted > 5:
        return 501
    if wanted < 1:
        return 100
    return int((wanted * 100).to_integral_value(rounding=ROUND_CEILING))


def refresh_scores(session: Session, chain_id: int, accounts: Collection[str] | None = None) -> None:
    """Recompute the ``scores`` rows of ``accounts`` (None: of every account) from the ratings and the
    listings in the index, and the ``seller_score`` of their offers, as :func:`search` reads them. The
    sync calls it in the transaction that wrote the ratings, listings or offers (for every account when
    a listing changed, or after a rewind)."""
    if accounts is not None and not accounts:
        return
    minimums = _minimums(session, chain_id)
    if accounts is None:
        session.execute(delete(Score).where(Score.chain_id == chain_id))
        chunks: list[list[str] | None] = [None]
    else:
        wanted = sorted(set(accounts))
        chunks = [wanted[i:i + 500] for i in range(0, len(wanted), 500)]  # bound parameters per statement
    for chunk in chunks:
        if chunk is not None:
            session.execute(delete(Score).where(Score.chain_id == chain_id, Score.account.in_(chunk)))
        scores = _scores(session, chain_id, minimums, chunk)
        if scores:
            session.execute(insert(Score), [{"chain_id": chain_id, "account": account, "score": int(score * 100)}
                                            for account, score in sorted(scores.items())])
        kept = select(Score.score).where(Score.chain_id == Offer.chain_id, Score.account == Offer.seller)
        offers = update(Offer).where(Offer.chain_id == chain_id)
        if chunk is not None:
            offers = offers.where(Offer.seller.in_(chunk))
        session.execute(offers.values(seller_score=func.coalesce(kept.scalar_subquery(), _PRIOR_HUNDREDTHS)),
                        execution_options={"synchronize_session": False})


def _scores(session: Session, chain_id: int, minimums: dict[str, int],
            accounts: Collection[str] | None = None) -> dict[str, Decimal]:
    """Every rated account's score (:meth:`ReputationRecord.score`: ratings in listed assets only), of
    ``accounts`` only if given."""
    if not minimums:
        return {}
    query = (
        select(Rating.ratee, Rating.asset, *_slice_sums(Rating.amount, "rated"),
               *_slice_sums(Rating.amount, "weighted", factor=Rating.score))
        .where(_on_chain(Rating.chain_id, chain_id), Rating.asset.in_(list(minimums)))
        .group_by(Rating.ratee, Rating.asset)
    )
    if accounts is not None:
        query = query.where(Rating.ratee.in_(list(accounts)))
    rows = session.execute(query)
    records: dict[str, list[AssetRecord]] = {}
    for row in rows:
        records.setdefault(row.ratee, []).append(AssetRecord(
            row.asset, ReputationRole.SELLER, rated_volume=_uint_sum(row, "rated"),
            weighted_score=_uint_sum(row, "weighted"),
        ))
    return {account: ReputationRecord(account, tuple(recs), minimums).score() for account, recs in records.items()}


def _volumes(session: Session, chain_id: int, token: str | None) -> dict[tuple[str, str], int]:
    """Every account's recorded volume per asset (both roles), in ``token`` only if given."""
    out: dict[tuple[str, str], int] = {}
    for party in (Trade.buyer, Trade.seller):
        query = (
            select(party.label("account"), Trade.token, *_slice_sums(Trade.amount, "volume"))
            .where(*_recorded(chain_id))
            .group_by(party, Trade.token)
        )
        if token is not None:
            query = query.where(Trade.token == _checksum(token))
        for row in session.execute(query):
            key = (row.account, row.token)
            out[key] = out.get(key, 0) + _uint_sum(row, "volume")
    return out


def offer(session: Session, chain_id: int, offer_id: str, now: int,
          symbols: Mapping[str, str] | None = None) -> OfferHit | None:
    """The offer ``offer_id`` (full ``0x`` id or a unique prefix of it) whatever its status, with its
    seller's screening; ``fillable`` says whether :func:`search` would list it at ``now``. None if
    no offer has that id; ValueError if the prefix is ambiguous."""
    wanted = offer_id.strip().lower()
    if not wanted.startswith("0x"):
        wanted = "0x" + wanted
    if not re.fullmatch(r"0x[0-9a-f]{1,64}", wanted):
        raise ValueError(f"not an offer id: {offer_id!r}")
    condition = Offer.id == wanted if len(wanted) == 66 else Offer.id.startswith(wanted, autoescape=True)
    rows = session.execute(
        select(Offer.pk, *_OFFER_COLUMNS).where(Offer.chain_id == chain_id, condition).limit(2)
    ).all()
    if not rows:
        return None
    if len(rows) > 1:
        raise ValueError(f"offer id prefix {offer_id!r} is ambiguous")
    row = rows[0]
    fee = _current_fee(session, chain_id)
    fillable = fee is not None and bool(
        session.scalar(_fillable(select(func.count()).select_from(Offer), chain_id, fee, now,
                                 session.get_bind().dialect.name).where(Offer.pk == row.pk))
    )
    minimums = _minimums(session, chain_id)
    screen = _screenings(session, chain_id, [row.seller], minimums)[row.seller]
    return _hit(row, screen, symbols or {}, list(minimums), fillable)


def _hex_bytes(value: str) -> bytes:
    return bytes.fromhex(value[2:] if value.startswith("0x") else value)


# --------------------------------------------------------------------------------------------------
# The market's figures
# --------------------------------------------------------------------------------------------------


def _interpolated(values: list[int], p: float) -> float | None:
    """The ``p`` quantile of sorted ``values`` by linear interpolation (PostgreSQL's percentile_cont)."""
    if not values:
        return None
    position = p * (len(values) - 1)
    low = math.floor(position)
    high = min(low + 1, len(values) - 1)
    return float(values[low] + (values[high] - values[low]) * (position - low))


def _quantile(session: Session, expr: Any, where: list[Any], count: int, p: float) -> float | None:
    """The ``p`` quantile of ``expr`` over ``count`` rows, reading only the two rows around it."""
    if count == 0:
        return None
    position = p * (count - 1)
    low = math.floor(position)
    values = [int(v) for v in session.scalars(select(expr).where(*where).order_by(expr).limit(2).offset(low))]
    high = values[1] if len(values) > 1 else values[0]
    return float(values[0] + (high - values[0]) * (position - low))


def _day_date(day: int) -> _dt.date:
    """The UTC date of day number ``day`` since 1970-01-01."""
    return _dt.date(1970, 1, 1) + _dt.timedelta(days=day)


def _iso_week(day: int) -> str:
    year, week, _ = _day_date(day).isocalendar()
    return f"{year}-W{week:02d}"


def stats(session: Session, chain_id: int, now: int) -> MarketStats:
    """The market's figures on ``chain_id`` as of ``now``: volume (the price of trades that went live,
    by the UTC day and ISO week they went live) per asset, trades by outcome, the dispute rate
    (disputed / went live), median and p90 seconds from going live to release (released trades),
    platform fees per asset, and the arbiter table."""
    on_chain = Trade.chain_id == chain_id
    counts = session.execute(
        select(
            func.count().label("trades"),
            func.sum(case((Trade.live_at.is_not(None), 1), else_=0)).label("funded"),
            func.sum(case((and_(Trade.live_at.is_not(None), Trade.disputed_at.is_not(None)), 1), else_=0)).label(
                "disputed"
            ),
        ).where(on_chain)
    ).one()
    trades, funded, disputed = int(counts.trades), int(counts.funded or 0), int(counts.disputed or 0)
    outcome = func.coalesce(Trade.outcome, "open")
    outcomes = {
        name: int(n) for name, n in session.execute(
            select(outcome, func.count()).where(on_chain).group_by(outcome).order_by(outcome)
        )
    }

    day = Trade.live_at // _DAY
    daily = session.execute(
        select(Trade.token, day.label("day"), func.count().label("n"), *_slice_sums(Trade.amount, "volume"))
        .where(on_chain, Trade.live_at.is_not(None))
        .group_by(Trade.token, day)
        .order_by(Trade.token, day)
    ).all()
    by_day = []
    weeks: dict[tuple[str, str], list[int]] = {}
    for row in daily:
        volume, number = _uint_sum(row, "volume"), int(row.n)
        by_day.append(VolumePoint(row.token, _day_date(int(row.day)).isoformat(), volume, number))
        week = weeks.setdefault((row.token, _iso_week(int(row.day))), [0, 0])
        week[0] += volume
        week[1] += number
    by_week = tuple(VolumePoint(token, period, v, n) for (token, period), (v, n) in sorted(weeks.items()))

    released = [on_chain, Trade.outcome == "released", Trade.live_at.is_not(None), Trade.ended_at.is_not(None)]
    duration = Trade.ended_at - Trade.live_at
    n_released = session.scalar(select(func.count()).select_from(Trade).where(*released)) or 0

    fees = {
        row.token: _uint_sum(row, "fee")
        for row in session.execute(
            select(Trade.token, *_slice_sums(Trade.platform_fee, "fee")).where(on_chain).group_by(Trade.token)
        )
    }
    return MarketStats(
        chain_id=chain_id,
        as_of=now,
        trades=trades,
        funded=funded,
        disputed=disputed,
        dispute_rate=(disputed / funded) if funded else None,
        outcomes=outcomes,
        volume_by_day=tuple(by_day),
        volume_by_week=by_week,
        release_seconds_median=_quantile(session, duration, released, n_released, 0.5),
        release_seconds_p90=_quantile(session, duration, released, n_released, 0.9),
        platform_fees={t: v for t, v in sorted(fees.items()) if v},
        arbiters=_arbiters(session, chain_id),
    )


def _arbiters(session: Session, chain_id: int) -> tuple[ArbiterStats, ...]:
    base = [Trade.chain_id == chain_id, Trade.arbiter != ZERO_ADDRESS]
    ruled = Trade.outcome == "ruled"
    rows = session.execute(
        select(
            Trade.arbiter,
            Trade.token,
            func.sum(case((Trade.disputed_at.is_not(None), 1), else_=0)).label("cases"),
            func.sum(case((ruled, 1), else_=0)).label("rulings"),
            func.sum(case((and_(ruled, Trade.buyer_bps == _BPS // 2), 1), else_=0)).label("even"),
            *_slice_sums(Trade.arbiter_fee, "fee"),
        )
        .where(*base, or_(Trade.disputed_at.is_not(None), Trade.arbiter_fee != 0))
        .group_by(Trade.arbiter, Trade.token)
    ).all()
    durations: dict[str, list[int]] = {}
    for arbiter, seconds in session.execute(
        select(Trade.arbiter, Trade.ended_at - Trade.disputed_at)
        .where(*base, ruled, Trade.disputed_at.is_not(None), Trade.ended_at.is_not(None))
        .order_by(Trade.arbiter, Trade.ended_at - Trade.disputed_at)
    ):
        durations.setdefault(arbiter, []).append(int(seconds))
    table_: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = table_.setdefault(row.arbiter, {"cases": 0, "rulings": 0, "even": 0, "fees": {}})
        entry["cases"] += int(row.cases)
        entry["rulings"] += int(row.rulings)
        entry["even"] += int(row.even)
        fee = _uint_sum(row, "fee")
        if fee:
            entry["fees"][row.token] = entry["fees"].get(row.token, 0) + fee
    out = [
        ArbiterStats(
            arbiter=arbiter,
            cases=e["cases"],
            rulings=e["rulings"],
            median_seconds_to_rule=_interpolated(durations.get(arbiter, []), 0.5),
            even_split_share=(e["even"] / e["rulings"]) if e["rulings"] else None,
            fees=dict(sorted(e["fees"].items())),
        )
        for arbiter, e in table_.items()
    ]
    out.sort(key=lambda a: (-a.cases, a.arbiter))
    return tuple(out)

