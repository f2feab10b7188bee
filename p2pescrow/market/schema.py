"""The market index's tables: what `p2pescrow market sync` writes and every market read queries.

One schema for SQLite (the default, a file under the config folder) and PostgreSQL (`--db URL`),
through SQLAlchemy 2; Alembic migrations (``p2pescrow/market/migrations``) create and evolve it, so
a database made by an older release is upgraded in place, never rebuilt by hand.

Domain rows (offers, trades, events, ratings, listings, bonds, rejected posts) are exactly what
the chain says up to the last block synced; bookkeeping rows (``sync_state``, ``blocks``) say how
far that is and which block hashes it was built on, so a reorg can be detected and rewound.

Amounts are uint128/uint256 on chain: more than SQLite's 64-bit integers. :class:`UInt` stores them
as fixed-width decimal text (78 digits, zero-padded), so equality and ordering in SQL are numeric on
both engines and nothing is rounded through a float.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Dialect,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    desc,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: Digits of 2**256 - 1.
UINT_DIGITS = 78


class UInt(TypeDecorator[int]):
    """An unsigned integer of up to 256 bits as zero-padded decimal text: exact, and ordered
    numerically by SQL's string comparison on SQLite and PostgreSQL alike."""

    impl = String(UINT_DIGITS)
    cache_ok = True

    def process_bind_param(self, value: int | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        number = int(value)
        if number < 0 or number >= 1 << 256:
            raise ValueError(f"not a uint256: {number}")
        return f"{number:0{UINT_DIGITS}d}"

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        return None if value is None else int(value)


class Base(DeclarativeBase):
    """The market index's tables."""


# --------------------------------------------------------------------------------------------------
# Bookkeeping: how far the index is, on which blocks
# --------------------------------------------------------------------------------------------------


class SyncState(Base):
    """One row per (chain, escrow) indexed: the last block finished, so a sync restarts there."""

    __tablename__ = "sync_state"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    escrow: Mapped[str] = mapped_column(String(42), primary_key=True)
    reputation: Mapped[str] = mapped_column(String(42))
    #: The genesis hash: the same chain id on a fresh node is another chain (refused, see sync).
    genesis: Mapped[str] = mapped_column(String(66))
    #: The escrow's deployment block: the first block a fresh index reads.
    start_block: Mapped[int] = mapped_column(BigInteger)
    #: The last block whose logs are all in the domain tables (-1 before the first page).
    last_block: Mapped[int] = mapped_column(BigInteger, default=-1)
    #: The platform fee in force at last_block (PlatformFeeChanged), for "fee current" in search.
    platform_fee_bps: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[int] = mapped_column(BigInteger, default=0)


class Block(Base):
    """A block the index has read: its hash (reorg detection) and timestamp (for the figures).
    The recent ones are kept to find the fork point; older ones only where events are."""

    __tablename__ = "blocks"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hash: Mapped[str] = mapped_column(String(66))
    parent_hash: Mapped[str] = mapped_column(String(66))
    timestamp: Mapped[int] = mapped_column(BigInteger)


# --------------------------------------------------------------------------------------------------
# Domain: what the chain says
# --------------------------------------------------------------------------------------------------


class Event(Base):
    """Every log of the escrow and its Reputation, decoded: a trade's history, the figures' source."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_trade", "trade_id", "block_number", "log_index"),)

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    tx_hash: Mapped[str] = mapped_column(String(66))
    address: Mapped[str] = mapped_column(String(42))
    name: Mapped[str] = mapped_column(String(40), index=True)
    #: The trade the event is about (``0x`` id), if any.
    trade_id: Mapped[str | None] = mapped_column(String(66))
    #: The decoded arguments as JSON (integers as decimal strings).
    args: Mapped[str] = mapped_column(Text)
    timestamp: Mapped[int] = mapped_column(BigInteger)


class Trade(Base):
    """A trade: its terms (from TradeCreated) and where it is now (from every later event)."""

    __tablename__ = "trades"
    __table_args__ = (
        Index("ix_trades_buyer", "buyer"),
        Index("ix_trades_seller", "seller"),
        Index("ix_trades_arbiter", "arbiter"),
        Index("ix_trades_state", "state"),
    )

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[str] = mapped_column(String(66), primary_key=True)
    buyer: Mapped[str] = mapped_column(String(42))
    seller: Mapped[str] = mapped_column(String(42))
    token: Mapped[str] = mapped_column(String(42))
    arbiter: Mapped[str] = mapped_column(String(42))
    amount: Mapped[int] = mapped_column(UInt)
    buyer_deposit: Mapped[int] = mapped_column(UInt)
    seller_deposit: Mapped[int] = mapped_column(UInt)
    arbiter_fee_bps: Mapped[int] = mapped_column(Integer)
    platform_fee_bps: Mapped[int] = mapped_column(Integer)
    funding_window: Mapped[int] = mapped_column(BigInteger)
    release_window: Mapped[int] = mapped_column(BigInteger)
    arbitration_window: Mapped[int] = mapped_column(BigInteger)
    flags: Mapped[int] = mapped_column(Integer)
    terms_hash: Mapped[str] = mapped_column(String(66))
    salt: Mapped[int] = mapped_column(UInt)
    #: p2pescrow.states.TradeState value.
    state: Mapped[int] = mapped_column(Integer)
    #: The part of the price held now (0 once ended; the unswept fee is apart).
    held: Mapped[int] = mapped_column(UInt)
    deadline: Mapped[int] = mapped_column(BigInteger)
    seller_acted: Mapped[bool] = mapped_column(Boolean, default=False)
    seller_deposited: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Asked to record, in an asset listed at creation at or above its minimum (MARK_RECORDS).
    records: Mapped[bool] = mapped_column(Boolean, default=False)
    created_block: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[int] = mapped_column(BigInteger)
    #: When it went live (Funded), when a dispute opened, when it ended (unix seconds).
    live_at: Mapped[int | None] = mapped_column(BigInteger)
    disputed_at: Mapped[int | None] = mapped_column(BigInteger)
    ended_at: Mapped[int | None] = mapped_column(BigInteger)
    #: How it ended: released, refunded, timed_out, settled, ruled, conceded, expired, cancelled.
    outcome: Mapped[str | None] = mapped_column(String(16))
    #: A ruling's or settlement's share for the buyer, in basis points.
    buyer_bps: Mapped[int | None] = mapped_column(Integer)
    arbiter_fee: Mapped[int] = mapped_column(UInt, default=0)
    platform_fee: Mapped[int] = mapped_column(UInt, default=0)
    #: The offer it was filled from (offers.id), if any.
    offer_id: Mapped[str | None] = mapped_column(String(66))


class Offer(Base):
    """A signed offer published on the board, with its terms document and what became of it."""

    __tablename__ = "offers"
    __table_args__ = (
        Index("ux_offers_id", "chain_id", "id", unique=True),
        Index("ix_offers_seller_nonce", "seller", "nonce"),
        Index("ix_offers_status", "status"),
        # search's sort orders, after its ``status = 'open'``: the page is read in order and the read
        # stops after it, instead of sorting every open offer (see the migration 0002).
        Index("ix_offers_open_newest", "status", "published_block", "log_index", "pk"),
        Index("ix_offers_open_amount", "status", "amount", "published_block", "log_index", "pk"),
        Index("ix_offers_open_amount_newest", "status", "amount", desc("published_block"), desc("log_index"),
              desc("pk")),
        Index("ix_offers_open_expiry", "status", "expiry", desc("published_block"), desc("log_index"), desc("pk")),
        Index("ix_offers_open_score", "status", "seller_score", "published_block", "log_index", "pk"),
    )

    #: Integer key (SQLite FTS5 indexes rows by an integer rowid).
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    #: The offer's EIP-712 digest on this chain and escrow (``0x`` hex).
    id: Mapped[str] = mapped_column(String(66))
    seller: Mapped[str] = mapped_column(String(42))
    #: The only buyer who may fill it, or the zero address.
    buyer: Mapped[str] = mapped_column(String(42))
    token: Mapped[str] = mapped_column(String(42))
    arbiter: Mapped[str] = mapped_column(String(42))
    amount: Mapped[int] = mapped_column(UInt)
    buyer_deposit: Mapped[int] = mapped_column(UInt)
    seller_deposit: Mapped[int] = mapped_column(UInt)
    arbiter_fee_bps: Mapped[int] = mapped_column(Integer)
    platform_fee_bps: Mapped[int] = mapped_column(Integer)
    release_window: Mapped[int] = mapped_column(BigInteger)
    arbitration_window: Mapped[int] = mapped_column(BigInteger)
    flags: Mapped[int] = mapped_column(Integer)
    terms_hash: Mapped[str] = mapped_column(String(66))
    nonce: Mapped[int] = mapped_column(UInt)
    expiry: Mapped[int] = mapped_column(BigInteger)
    signature: Mapped[str] = mapped_column(Text)
    #: The terms document, canonical JSON (RFC 8785) as published.
    document: Mapped[str] = mapped_column(Text)
    # The listing's fields, read from the document (empty when absent).
    title: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(64), default="")
    #: Tags as a JSON array.
    tags: Mapped[str] = mapped_column(Text, default="[]")
    payment_method: Mapped[str] = mapped_column(String(64), default="")
    fiat_price: Mapped[str] = mapped_column(String(64), default="")
    #: open, filled or revoked.
    status: Mapped[str] = mapped_column(String(8), default="open")
    trade_id: Mapped[str | None] = mapped_column(String(66))
    #: board (published on chain) or relayed (through a server, issue 14).
    source: Mapped[str] = mapped_column(String(8), default="board")
    published_block: Mapped[int] = mapped_column(BigInteger)
    published_at: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(String(66))
    log_index: Mapped[int] = mapped_column(Integer)
    #: The seller's score in hundredths as ``scores`` has it (300, the prior, without a row): derived,
    #: kept by the sync with the scores (:func:`p2pescrow.market.queries.refresh_scores`, which whatever
    #: else writes offers must call for their sellers), so search filters and sorts by the seller's score
    #: reading an index (``ix_offers_open_score``).
    seller_score: Mapped[int] = mapped_column(Integer, default=300)


#: search's category filter (``lower(category) = ?``) after ``status = 'open'``, with its amount range.
Index("ix_offers_open_category", Offer.status, func.lower(Offer.category), Offer.amount, Offer.published_block,
      Offer.log_index, Offer.pk)


class RejectedPost(Base):
    """A board post that was not a valid offer for this chain and escrow, and why."""

    __tablename__ = "rejected_posts"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    tx_hash: Mapped[str] = mapped_column(String(66))
    reason: Mapped[str] = mapped_column(Text)


class Rating(Base):
    """A rating (Reputation's Rated event): one per party per trade."""

    __tablename__ = "ratings"
    __table_args__ = (Index("ix_ratings_ratee", "ratee", "asset", "role"),)

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    trade_id: Mapped[str] = mapped_column(String(66), primary_key=True)
    rater: Mapped[str] = mapped_column(String(42), primary_key=True)
    ratee: Mapped[str] = mapped_column(String(42))
    #: p2pescrow.models.ReputationRole value: the ratee's role in the trade.
    role: Mapped[int] = mapped_column(Integer)
    asset: Mapped[str] = mapped_column(String(42))
    amount: Mapped[int] = mapped_column(UInt)
    score: Mapped[int] = mapped_column(Integer)
    comment_hash: Mapped[str] = mapped_column(String(66))
    block_number: Mapped[int] = mapped_column(BigInteger)
    timestamp: Mapped[int] = mapped_column(BigInteger)


class Listing(Base):
    """A reputation asset as the escrow lists it now (ReputationAssetSet)."""

    __tablename__ = "listings"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    token: Mapped[str] = mapped_column(String(42), primary_key=True)
    listed: Mapped[bool] = mapped_column(Boolean)
    min_amount: Mapped[int] = mapped_column(UInt)
    block_number: Mapped[int] = mapped_column(BigInteger)


class Bond(Base):
    """A seller's free bond in one asset: set by BondDeposited / BondWithdrawn, less the deposits
    its trades lock (creation by the seller, a filled offer, accept), plus none back (deposits are
    paid to wallets)."""

    __tablename__ = "bonds"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    seller: Mapped[str] = mapped_column(String(42), primary_key=True)
    token: Mapped[str] = mapped_column(String(42), primary_key=True)
    free: Mapped[int] = mapped_column(UInt, default=0)


class RelayedOffer(Base):
    """A signed offer a seller handed to a market server's relay (issue 14) instead of publishing it:
    not from the chain, so no rewind deletes it. Its ``offers`` row (``source`` relayed) is what search
    lists; a publication of the same offer on the board makes that row an on-chain one, and a rewind
    of that publication makes it relayed again (:mod:`p2pescrow.market.relayed`)."""

    __tablename__ = "relayed_offers"
    __table_args__ = (Index("ix_relayed_offers_seller", "seller"),)

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    #: The offer's EIP-712 digest on this chain and escrow (``0x`` hex): offers.id.
    id: Mapped[str] = mapped_column(String(66), primary_key=True)
    escrow: Mapped[str] = mapped_column(String(42))
    seller: Mapped[str] = mapped_column(String(42))
    #: The signed offer document (``SignedOffer.to_json()``).
    offer: Mapped[str] = mapped_column(Text)
    #: The terms document, canonical JSON (RFC 8785).
    document: Mapped[str] = mapped_column(Text)
    #: The chain's time and the last block indexed when it was received.
    received_at: Mapped[int] = mapped_column(BigInteger)
    received_block: Mapped[int] = mapped_column(BigInteger)


class Score(Base):
    """An account's screening score (:meth:`p2pescrow.models.ReputationRecord.score`, 1.00 to 5.00) in
    hundredths, for every account rated in a listed reputation asset; an account without a row scores
    the prior, 3.00. Derived from ``ratings`` and ``listings`` by the sync
    (:func:`p2pescrow.market.queries.refresh_scores`, for the accounts a page rated, for all when a
    listing changed or a reorg was rewound), so search filters and sorts by score with one join."""

    __tablename__ = "scores"
    __table_args__ = (Index("ix_scores_score", "chain_id", "score"),)

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    account: Mapped[str] = mapped_column(String(42), primary_key=True)
    #: The score times 100 (it has two decimals).
    score: Mapped[int] = mapped_column(Integer)


class TradeRecord(Base):
    """An account's recorded trades in one asset and one role (the trades the Reputation contract
    records: see :mod:`p2pescrow.market.queries`): their outcomes and volume as
    :class:`~p2pescrow.models.AssetRecord` counts them, how many went through a dispute, and when the
    first was created. Derived from ``trades`` by the sync
    (:func:`p2pescrow.market.queries.refresh_records`, for the parties of the trades a page touched,
    for all after a rewind), so search screens a page's sellers without aggregating their trades."""

    __tablename__ = "trade_records"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    account: Mapped[str] = mapped_column(String(42), primary_key=True)
    token: Mapped[str] = mapped_column(String(42), primary_key=True)
    #: p2pescrow.models.ReputationRole value.
    role: Mapped[int] = mapped_column(Integer, primary_key=True)
    volume: Mapped[int] = mapped_column(UInt)
    completed: Mapped[int] = mapped_column(Integer)
    refunded: Mapped[int] = mapped_column(Integer)
    settled: Mapped[int] = mapped_column(Integer)
    disputes_won: Mapped[int] = mapped_column(Integer)
    disputes_lost: Mapped[int] = mapped_column(Integer)
    disputes_split: Mapped[int] = mapped_column(Integer)
    #: Recorded trades that went through a dispute (however they ended).
    disputed: Mapped[int] = mapped_column(Integer)
    first_trade_at: Mapped[int] = mapped_column(BigInteger)


#: Every domain table: what the kill-and-resume and reorg tests compare (relayed_offers is not from the
#: chain: no rewind deletes it).
DOMAIN_TABLES = (Event, Trade, Offer, RejectedPost, Rating, Listing, Bond, Score, TradeRecord)

__all__ = [
    "DOMAIN_TABLES",
    "Base",
    "Block",
    "Bond",
    "Event",
    "Listing",
    "Offer",
    "Rating",
    "RejectedPost",
    "RelayedOffer",
    "Score",
    "SyncState",
    "Trade",
    "TradeRecord",
    "UInt",
]
