"""An address's trades over time, from the market index: what the address page lists as its recent
trades and what its chart draws (ratings and volume over time; :func:`p2pescrow.market.charts.address_figure`).

    with Session(engine) as session:
        line = timeline(session, chain_id, "0x3C44...")
    for entry in line.recent(10):                      # newest first
        print(entry.trade_id, entry.role, entry.amount, entry.outcome, entry.rating)
    line.score_history                                 # [(when, score after that rating)]

One entry per trade the address is the buyer, the seller or the arbiter of, oldest first (by creation),
with the rating it received for that trade, if any. The score over time follows
:meth:`p2pescrow.models.ReputationRecord.score`: after each rating received in a listed asset, the
value-weighted score of every rating received so far (the same formula and minimums as the screening,
so the last point is the screening's score).

Pure reads over a SQLAlchemy :class:`~sqlalchemy.orm.Session` (:mod:`p2pescrow.market.schema`); the
screening and the minimums come from :mod:`p2pescrow.market.queries`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from eth_utils import is_address, to_checksum_address
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from ..models import AssetRecord, ReputationRecord, ReputationRole
from ..states import TradeState
from . import queries
from .schema import Rating, Trade

__all__ = ["Timeline", "TimelineEntry", "timeline"]

#: The most trades one timeline reads (the newest), so an address with a long history stays one bounded read.
MAX_ENTRIES = 2_000


@dataclass(frozen=True)
class TimelineEntry:
    """One trade of the address: its role in it, the counterparty, the asset and price, where the trade
    is (state; outcome once ended), when it was created, went live and ended, whether it counts for
    reputation, and the rating the address received for it (1 to 5, None if none)."""

    trade_id: str
    role: str
    counterparty: str
    token: str
    amount: int
    state: TradeState
    outcome: str | None
    created_at: int
    live_at: int | None
    ended_at: int | None
    records: bool
    rating: int | None = None
    rated_at: int | None = None

    @property
    def at(self) -> int:
        """When the trade last moved: its end, else going live, else its creation."""
        return self.ended_at or self.live_at or self.created_at

    def to_json(self) -> dict[str, Any]:
        return {"trade_id": self.trade_id, "role": self.role, "counterparty": self.counterparty,
                "token": self.token, "amount": str(self.amount), "state": self.state.name.lower(),
                "outcome": self.outcome, "created_at": self.created_at, "live_at": self.live_at,
                "ended_at": self.ended_at, "records": self.records, "rating": self.rating,
                "rated_at": self.rated_at}


@dataclass(frozen=True)
class Timeline:
    """An address's trades (oldest first), its score after each rating received, and its screening."""

    address: str
    entries: tuple[TimelineEntry, ...]
    #: (unix seconds, score after that rating): every rating received in a listed asset, oldest first.
    score_history: tuple[tuple[int, Decimal], ...]
    screening: queries.Screening
    #: Whether older trades were left out (more than :data:`MAX_ENTRIES`).
    truncated: bool = False
    minimums: dict[str, int] = field(default_factory=dict)

    def recent(self, n: int) -> list[TimelineEntry]:
        """The ``n`` newest trades, newest first."""
        return list(reversed(self.entries[-n:])) if n > 0 else []

    def volume_history(self) -> dict[str, list[tuple[int, int]]]:
        """Per asset, (when it went live, cumulative volume) of the trades the address bought or sold
        that went live: the volume chart's points."""
        out: dict[str, list[tuple[int, int]]] = {}
        live = sorted((e for e in self.entries if e.live_at is not None and e.role != "arbiter"),
                      key=lambda e: (e.live_at, e.trade_id))
        for entry in live:
            points = out.setdefault(entry.token, [])
            points.append((int(entry.live_at or 0), (points[-1][1] if points else 0) + entry.amount))
        return out

    def to_json(self) -> dict[str, Any]:
        return {"address": self.address, "entries": [e.to_json() for e in self.entries],
                "score_history": [{"at": at, "score": str(score)} for at, score in self.score_history],
                "truncated": self.truncated}


def timeline(session: Session, chain_id: int, address: str, *, limit: int = MAX_ENTRIES) -> Timeline:
    """``address``'s timeline on ``chain_id`` (the newest ``limit`` trades; every rating for the score)."""
    if not is_address(address):
        raise ValueError(f"not an address: {address!r}")
    who = to_checksum_address(address)
    received = and_(Rating.chain_id == Trade.chain_id, Rating.trade_id == Trade.id, Rating.ratee == who)
    query = (
        select(Trade, Rating.score, Rating.timestamp)
        .outerjoin(Rating, received)
        .where(Trade.chain_id == chain_id, or_(Trade.buyer == who, Trade.seller == who, Trade.arbiter == who))
        .order_by(Trade.created_block.desc(), Trade.id.desc())
        .limit(limit + 1)
    )
    rows = session.execute(query).all()
    truncated = len(rows) > limit
    entries = [_entry(who, row.Trade, row.score, row.timestamp) for row in reversed(rows[:limit])]
    screen = queries.screening(session, chain_id, who)
    return Timeline(who, tuple(entries), _score_history(session, chain_id, who, screen.minimums), screen,
                    truncated, dict(screen.minimums))


def _entry(who: str, trade: Trade, score: int | None, rated_at: int | None) -> TimelineEntry:
    if trade.buyer == who:
        role, counterparty = "buyer", trade.seller
    elif trade.seller == who:
        role, counterparty = "seller", trade.buyer
    else:
        role, counterparty = "arbiter", trade.buyer
    return TimelineEntry(
        trade_id=trade.id, role=role, counterparty=counterparty, token=trade.token, amount=int(trade.amount),
        state=TradeState(trade.state), outcome=trade.outcome, created_at=int(trade.created_at),
        live_at=trade.live_at, ended_at=trade.ended_at, records=bool(trade.records and trade.seller_acted),
        rating=None if score is None else int(score), rated_at=None if rated_at is None else int(rated_at))


def _score_history(session: Session, chain_id: int, who: str,
                   minimums: dict[str, int]) -> tuple[tuple[int, Decimal], ...]:
    """After each rating ``who`` received in a listed asset, its score over every rating so far."""
    ratings = session.execute(
        select(Rating.asset, Rating.role, Rating.amount, Rating.score, Rating.timestamp)
        .where(Rating.chain_id == chain_id, Rating.ratee == who, Rating.asset.in_(list(minimums) or [""]))
        .order_by(Rating.timestamp, Rating.block_number, Rating.trade_id)
    ).all()
    sums: dict[tuple[str, int], list[int]] = {}
    out = []
    for row in ratings:
        total = sums.setdefault((row.asset, int(row.role)), [0, 0])
        total[0] += int(row.amount)
        total[1] += int(row.amount) * int(row.score)
        records = tuple(AssetRecord(asset, ReputationRole(role), rated_volume=rated, weighted_score=weighted)
                        for (asset, role), (rated, weighted) in sums.items())
        out.append((int(row.timestamp), ReputationRecord(who, records, minimums).score()))
    return tuple(out)
