"""Fast reads of trades from the market index: ``trade list``, trade-id prefixes, ``trade history`` and
``trade list --due`` without scanning the chain's logs.

The index (kept by :class:`~p2pescrow.market.sync.Indexer`) holds every trade's terms and every
event; what a trade is *now* (its escrow slot: state, held, deadline, marks) is still read from the
chain, one batch of ``escrowOf`` calls per 100 trades, exactly as the chain scan reads it. So the
:class:`~p2pescrow.models.Trade` a fast read gives is the one the scan gives: only the search for
which trades exist (``eth_getLogs`` from the deployment block to the head) is replaced by a query.

    reads = IndexedReader(EscrowReader.connect(url), engine)
    reads.sync()                                    # the new blocks first
    for trade in reads.trades(party=me):
        print(trade.id, trade.state)
    reads.history(trade.id)                         # [HistoryEntry(block, tx_hash, name, args)]

:func:`index_for` says whether an index exists for a deployment (the CLI reads it only then).
Importing this module imports SQLAlchemy, never web3 or eth-account.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, and_, select, text
from sqlalchemy.orm import Session

from ..bindings import escrow_abi, reputation_abi
from ..core.terms import checksum, normalise_id
from ..models import Terms, Trade, TradeState
from . import schema as s

if TYPE_CHECKING:
    from ..clients._base import DueAction, HistoryEntry
    from ..reader import EscrowReader
    from .sync import SyncReport

__all__ = ["IndexedReader", "find_terms", "history", "ids_starting", "index_for", "terms_of"]

#: States that never change again: nothing is due on them.
_ENDED = [int(state) for state in TradeState if state.is_terminal]


# -- queries ---------------------------------------------------------------------------------------
def terms_of(row: s.Trade) -> Terms:
    """The immutable terms of a trade row, as ``TradeCreated`` carried them."""
    return Terms(row.buyer, row.seller, row.token, row.arbiter, row.amount, row.buyer_deposit, row.seller_deposit,
                 row.arbiter_fee_bps, row.platform_fee_bps, row.funding_window, row.release_window,
                 row.arbitration_window, row.flags, bytes.fromhex(row.terms_hash.removeprefix("0x")), row.salt)


def find_terms(session: Session, chain_id: int, *, party: str | None = None, involving: str | None = None,
               token: str | None = None, state: TradeState | None = None,
               open_only: bool = False) -> list[tuple[str, Terms]]:
    """``(id, terms)`` of the indexed trades, oldest first (by their ``TradeCreated`` log), filtered by
    ``party`` (buyer or seller), ``involving`` (buyer, seller or arbiter), ``token``, ``state`` (as
    the index last saw it) and ``open_only`` (not ended)."""
    created = and_(s.Event.chain_id == s.Trade.chain_id, s.Event.trade_id == s.Trade.id,
                   s.Event.name == "TradeCreated")
    query = (select(s.Trade).join(s.Event, created).where(s.Trade.chain_id == chain_id)
             .order_by(s.Event.block_number, s.Event.log_index))
    if party is not None:
        who = checksum(party)
        query = query.where((s.Trade.buyer == who) | (s.Trade.seller == who))
    if involving is not None:
        who = checksum(involving)
        query = query.where((s.Trade.buyer == who) | (s.Trade.seller == who) | (s.Trade.arbiter == who))
    if token is not None:
        query = query.where(s.Trade.token == checksum(token))
    if state is not None:
        query = query.where(s.Trade.state == int(state))
    if open_only:
        query = query.where(s.Trade.state.not_in(_ENDED))
    return [(row.id, terms_of(row)) for row in session.scalars(query)]


def ids_starting(session: Session, chain_id: int, prefix: str, limit: int = 2) -> list[str]:
    """Up to ``limit`` indexed trade ids starting with ``prefix`` (hex digits, with or without ``0x``)."""
    body = prefix.lower().removeprefix("0x")
    if not body or any(c not in "0123456789abcdef" for c in body):
        return []
    query = (select(s.Trade.id).where(s.Trade.chain_id == chain_id, s.Trade.id.like(f"0x{body}%"))
             .order_by(s.Trade.id).limit(limit))
    return list(session.scalars(query))


def count_starting(session: Session, chain_id: int, prefix: str) -> int:
    """How many indexed trade ids start with ``prefix`` (for "ambiguous: N trades match")."""
    from sqlalchemy import func

    body = prefix.lower().removeprefix("0x")
    query = select(func.count()).select_from(s.Trade).where(s.Trade.chain_id == chain_id,
                                                             s.Trade.id.like(f"0x{body}%"))
    return int(session.scalar(query) or 0)


def history(session: Session, chain_id: int, trade_id: str, *, escrow: str, reputation: str) -> list[HistoryEntry]:
    """Every event of a trade, as ``EscrowClient.history`` gives them: the escrow's and the
    reputation's events whose first indexed argument is the trade id, oldest first (in one block, the
    escrow's before the reputation's), arguments typed as the SDK decodes them."""
    from ..clients._base import HistoryEntry

    key = normalise_id(trade_id)
    inputs = _history_events()
    query = (select(s.Event).where(s.Event.chain_id == chain_id, s.Event.trade_id == key,
                                   s.Event.address.in_([checksum(escrow), checksum(reputation)]),
                                   s.Event.name.in_(sorted(inputs)))
             .order_by(s.Event.block_number, s.Event.log_index))
    rows = list(session.scalars(query))
    rows.sort(key=lambda e: (e.block_number, e.address != checksum(escrow), e.log_index))
    return [HistoryEntry(row.block_number, row.tx_hash, row.name, _typed(inputs[row.name], json.loads(row.args)))
            for row in rows]


_HISTORY_EVENTS: dict[str, list[dict[str, Any]]] = {}


def _history_events() -> dict[str, list[dict[str, Any]]]:
    """Event name -> inputs, for the events whose first indexed argument is a trade id (those the
    chain's history query finds by ``topics: [None, id]``)."""
    if not _HISTORY_EVENTS:
        for abi in (escrow_abi(), reputation_abi()):
            for entry in abi:
                if entry.get("type") != "event":
                    continue
                indexed = [i for i in entry["inputs"] if i.get("indexed")]
                if indexed and indexed[0]["type"] == "bytes32" and indexed[0]["name"] in ("id", "tradeId"):
                    _HISTORY_EVENTS[entry["name"]] = entry["inputs"]
    return _HISTORY_EVENTS


def _typed(inputs: Sequence[dict[str, Any]], args: dict[str, Any]) -> dict[str, Any]:
    """Stored (JSON) arguments back to the SDK's types: integers from their decimal strings."""
    return {i["name"]: _value(i, args[i["name"]]) for i in inputs if i["name"] in args}


def _value(entry: dict[str, Any], value: Any) -> Any:
    kind = entry["type"]
    if kind.endswith("]"):
        inner = {**entry, "type": kind[: kind.rindex("[")]}
        return [_value(inner, v) for v in value]
    if kind == "tuple":
        return {c["name"]: _value(c, value[c["name"]]) for c in entry["components"]}
    if kind.startswith(("uint", "int")):
        return int(value)
    if kind == "bytes":
        return bytes.fromhex(str(value).removeprefix("0x"))
    return value


# -- whether there is an index -----------------------------------------------------------------------
_REVISION = re.compile(r'^(down_revision|revision)\s*(?::[^=]*)?=\s*["\']?([\w]+|None)["\']?', re.MULTILINE)


def _head_revision() -> str | None:
    """The newest migration's revision, read from the scripts' text (importing Alembic costs more than
    the whole read)."""
    from .db import MIGRATIONS

    revisions, parents = set(), set()
    for script in (MIGRATIONS / "versions").glob("*.py"):
        found = dict((name, value) for name, value in _REVISION.findall(script.read_text()))
        if "revision" in found:
            revisions.add(found["revision"])
            parents.add(found.get("down_revision"))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def index_for(url: str, chain_id: int, escrow: str, *, must_exist: bool = False) -> Engine | None:
    """An engine on the index at ``url`` if it holds the deployment (``chain_id``, ``escrow``): a
    SQLite file that exists, or any database ``must_exist`` (the user named it); else None. The
    schema is upgraded (Alembic) only when it is behind the newest migration."""
    from sqlalchemy.engine import make_url

    from .db import create_database_engine, open_database

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if not must_exist and (database in ("", ":memory:") or not Path(database).expanduser().is_file()):
            return None
    from sqlalchemy.exc import DBAPIError

    engine = create_database_engine(url)
    with engine.connect() as connection:  # a database that does not answer: its error, said by the caller
        try:
            version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except DBAPIError:  # no schema yet (no such table): no index for anyone
            version = None
    if version is None:
        engine.dispose()
        return None
    if version != _head_revision():
        engine.dispose()
        engine = open_database(url)
    with Session(engine) as session:
        known = session.get(s.SyncState, (chain_id, checksum(escrow)))
    if known is None:
        engine.dispose()
        return None
    return engine


# -- a reader over the index -------------------------------------------------------------------------
class IndexedReader:
    """An :class:`~p2pescrow.reader.EscrowReader` whose searches for trades read the index: the same
    answers (:class:`~p2pescrow.models.Trade` from the terms and the chain's current slot), without
    ``eth_getLogs`` over the chain's history. Everything else is the reader's own."""

    def __init__(self, reader: EscrowReader, engine: Engine) -> None:
        self.reader = reader
        self.engine = engine
        self.chain_id = reader.deployment.chain_id

    def __getattr__(self, name: str) -> Any:
        return getattr(self.reader, name)

    def sync(self) -> SyncReport:
        """Read the blocks since the last sync into the index."""
        from .sync import Indexer

        return Indexer(self.engine, self.reader.url, self.reader.deployment).sync()

    def _session(self) -> Session:
        return Session(self.engine)

    def _current(self, found: list[tuple[str, Terms]]) -> list[Trade]:
        return self.reader.current(found)

    def trade(self, trade_id_: str) -> Trade:
        key = normalise_id(trade_id_)
        with self._session() as session:
            row = session.get(s.Trade, (self.chain_id, key))
            terms = terms_of(row) if row is not None else None
        return self.reader.trade(key) if terms is None else self._current([(key, terms)])[0]

    def trades(self, *, party: str | None = None, state: TradeState | None = None,
               token: str | None = None) -> list[Trade]:
        """As ``EscrowReader.trades``, oldest first."""
        token_address = self.reader.token(token).address if token else None
        with self._session() as session:
            found = find_terms(session, self.chain_id, party=party, token=token_address, state=state)
        return [t for t in self._current(found) if state is None or t.state is state]

    def trade_ids(self, prefix: str) -> tuple[list[str], int]:
        """Up to two trade ids starting with ``prefix``, and how many there are."""
        with self._session() as session:
            found = ids_starting(session, self.chain_id, prefix)
            return found, (len(found) if len(found) < 2 else count_starting(session, self.chain_id, prefix))

    def history(self, trade_id_: str) -> list[HistoryEntry]:
        """As ``EscrowClient.history``."""
        with self._session() as session:
            return history(session, self.chain_id, trade_id_, escrow=self.reader.deployment.escrow,
                           reputation=self.reader.deployment.reputation)

    def due(self, account: str) -> list[DueAction]:
        """As ``EscrowClient.due``: the trades ``account`` is buyer, seller or arbiter of and that have
        not ended (an ended trade owes nothing), their slots read now."""
        from ..clients._base import due_actions

        with self._session() as session:
            found = find_terms(session, self.chain_id, involving=account, open_only=True)
        trades = self._current(found)
        now = int(self.reader.now().timestamp())
        items = [item for trade in trades for item in due_actions(trade, checksum(account), now)]
        return sorted(items, key=lambda item: item.deadline)
