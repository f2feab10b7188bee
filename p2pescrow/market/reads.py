"""The index's trade reads as plain SQL, and a SQLite index read with the standard library.

``trade list``, trade-id prefixes, ``trade history`` and ``trade list --due`` ask the index four
questions (which trades, which ids start so, how many do, what happened to one trade). They are
written here once, as SQL text with named parameters, and asked by :class:`IndexedReader` through
either of two executors:

- a SQLAlchemy session (any index, SQLite or PostgreSQL: an engine from
  :func:`~p2pescrow.market.trades.index_for`), after the :class:`~p2pescrow.market.sync.Indexer`
  synced the new blocks;
- :class:`CurrentIndex`: Python's own ``sqlite3`` on a SQLite index that is already current. Loading
  SQLAlchemy, the schema and the indexer costs 0.3-0.6 s, more than the whole read on a small chain.
  :meth:`CurrentIndex.open` proves in one JSON-RPC batch (plus one ``eth_getLogs`` when blocks were
  mined since) that syncing would change nothing the reads look at: the same genesis, the index's
  last block still on the chain (no reorg), and no log of the escrow or its Reputation after it. Only
  then does the read skip the sync; otherwise the caller syncs through SQLAlchemy as before.

The answers are the same either way: the rows are the same rows, and what a trade is *now* is read
from the chain by the caller in both cases. Importing this module imports neither SQLAlchemy nor web3.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..bindings import escrow_abi, reputation_abi
from ..core.terms import checksum, normalise_id
from ..models import Terms, Trade, TradeState

if TYPE_CHECKING:
    from ..clients._base import DueAction, HistoryEntry
    from ..reader import EscrowReader
    from .sync import SyncReport

__all__ = ["MAX_GAP", "CurrentIndex", "IndexedReader", "Rows", "count_starting", "find_terms", "head_revision",
           "history", "ids_starting", "session_rows", "terms_of"]

#: Runs one SQL text with named parameters (``:name``) and gives its rows as tuples.
Rows = Callable[[str, Mapping[str, Any]], Sequence[Sequence[Any]]]

#: Blocks after the index's last one that a read checks for logs itself (one ``eth_getLogs``) before
#: it reads the index as current; a longer gap is synced (which also moves the index on).
MAX_GAP = 2_000

#: States that never change again: nothing is due on them (SQL literals: integers only).
_ENDED = ", ".join(str(int(state)) for state in TradeState if state.is_terminal)

_TERMS_COLUMNS = ("t.id, t.buyer, t.seller, t.token, t.arbiter, t.amount, t.buyer_deposit, t.seller_deposit, "
                  "t.arbiter_fee_bps, t.platform_fee_bps, t.funding_window, t.release_window, "
                  "t.arbitration_window, t.flags, t.terms_hash, t.salt")


def session_rows(session: Any) -> Rows:
    """The :data:`Rows` of a SQLAlchemy session: for callers that hold one already (a server's page)."""
    from sqlalchemy import text

    def rows(sql: str, params: Mapping[str, Any]) -> list[Sequence[Any]]:
        return [tuple(row) for row in session.execute(text(sql), dict(params))]

    return rows


# -- the four questions ----------------------------------------------------------------------------
def terms_of(row: Sequence[Any]) -> Terms:
    """The immutable terms of a trade from its columns (:data:`_TERMS_COLUMNS` without the id), as
    ``TradeCreated`` carried them. Amounts are stored as zero-padded decimal text."""
    (buyer, seller, token, arbiter, amount, buyer_deposit, seller_deposit, arbiter_fee_bps, platform_fee_bps,
     funding_window, release_window, arbitration_window, flags, terms_hash, salt) = row
    return Terms(buyer, seller, token, arbiter, int(amount), int(buyer_deposit), int(seller_deposit),
                 int(arbiter_fee_bps), int(platform_fee_bps), int(funding_window), int(release_window),
                 int(arbitration_window), int(flags), bytes.fromhex(str(terms_hash).removeprefix("0x")), int(salt))


def find_terms(rows: Rows, chain_id: int, *, party: str | None = None, involving: str | None = None,
               token: str | None = None, state: TradeState | None = None,
               open_only: bool = False) -> list[tuple[str, Terms]]:
    """``(id, terms)`` of the indexed trades, oldest first (by their ``TradeCreated`` log), filtered by
    ``party`` (buyer or seller), ``involving`` (buyer, seller or arbiter), ``token``, ``state`` (as
    the index last saw it) and ``open_only`` (not ended)."""
    where = ["t.chain_id = :chain_id"]
    params: dict[str, Any] = {"chain_id": chain_id}
    if party is not None:
        where.append("(t.buyer = :party OR t.seller = :party)")
        params["party"] = checksum(party)
    if involving is not None:
        where.append("(t.buyer = :involving OR t.seller = :involving OR t.arbiter = :involving)")
        params["involving"] = checksum(involving)
    if token is not None:
        where.append("t.token = :token")
        params["token"] = checksum(token)
    if state is not None:
        where.append("t.state = :state")
        params["state"] = int(state)
    if open_only:
        where.append(f"t.state NOT IN ({_ENDED})")
    sql = (f"SELECT {_TERMS_COLUMNS} FROM trades t JOIN events e ON e.chain_id = t.chain_id "
           "AND e.trade_id = t.id AND e.name = 'TradeCreated' "
           f"WHERE {' AND '.join(where)} ORDER BY e.block_number, e.log_index")
    return [(row[0], terms_of(row[1:])) for row in rows(sql, params)]


def _like_prefix(prefix: str) -> str | None:
    """``0x<hex>%`` for a prefix of hex digits (with or without ``0x``); None if it is not one (a
    prefix of other characters matches no id, and must not reach LIKE as a pattern)."""
    body = prefix.lower().removeprefix("0x")
    if not body or any(c not in "0123456789abcdef" for c in body):
        return None
    return f"0x{body}%"


def ids_starting(rows: Rows, chain_id: int, prefix: str, limit: int = 2) -> list[str]:
    """Up to ``limit`` indexed trade ids starting with ``prefix`` (hex digits, with or without ``0x``)."""
    pattern = _like_prefix(prefix)
    if pattern is None:
        return []
    sql = "SELECT id FROM trades WHERE chain_id = :chain_id AND id LIKE :pattern ORDER BY id LIMIT :limit"
    return [row[0] for row in rows(sql, {"chain_id": chain_id, "pattern": pattern, "limit": int(limit)})]


def count_starting(rows: Rows, chain_id: int, prefix: str) -> int:
    """How many indexed trade ids start with ``prefix`` (for "ambiguous: N trades match")."""
    pattern = _like_prefix(prefix)
    if pattern is None:
        return 0
    found = rows("SELECT COUNT(*) FROM trades WHERE chain_id = :chain_id AND id LIKE :pattern",
                 {"chain_id": chain_id, "pattern": pattern})
    return int(found[0][0]) if found else 0


def history(rows: Rows, chain_id: int, trade_id: str, *, escrow: str, reputation: str) -> list[HistoryEntry]:
    """Every event of a trade, as ``EscrowClient.history`` gives them: the escrow's and the
    reputation's events whose first indexed argument is the trade id, oldest first (in one block, the
    escrow's before the reputation's), arguments typed as the SDK decodes them."""
    from ..clients._base import HistoryEntry

    inputs = _history_events()
    escrow, reputation = checksum(escrow), checksum(reputation)
    sql = ("SELECT block_number, log_index, address, tx_hash, name, args FROM events "
           "WHERE chain_id = :chain_id AND trade_id = :trade_id AND (address = :escrow OR address = :reputation) "
           "ORDER BY block_number, log_index")
    found = [row for row in rows(sql, {"chain_id": chain_id, "trade_id": normalise_id(trade_id), "escrow": escrow,
                                       "reputation": reputation}) if row[4] in inputs]
    found.sort(key=lambda row: (int(row[0]), row[2] != escrow, int(row[1])))
    return [HistoryEntry(int(block), tx_hash, name, _typed(inputs[name], json.loads(args)))
            for block, _, _, tx_hash, name, args in found]


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


# -- the schema's version, without Alembic ---------------------------------------------------------
_REVISION = re.compile(r'^(down_revision|revision)\s*(?::[^=]*)?=\s*["\']?([\w]+|None)["\']?', re.MULTILINE)


def head_revision() -> str | None:
    """The newest migration's revision, read from the scripts' text (importing Alembic costs more than
    the whole read); None if the scripts do not form one line."""
    from .db import MIGRATIONS

    revisions, parents = set(), set()
    for script in (MIGRATIONS / "versions").glob("*.py"):
        found = dict((name, value) for name, value in _REVISION.findall(script.read_text()))
        if "revision" in found:
            revisions.add(found["revision"])
            parents.add(found.get("down_revision"))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


# -- a current SQLite index, read with sqlite3 -----------------------------------------------------
class CurrentIndex:
    """A SQLite index of one deployment that the chain has not moved past: read with ``sqlite3``.

    Made only by :meth:`open`, which returns None whenever the index might not answer as a synced one
    would (no such file, an older schema, not this deployment, another genesis, a reorg under its
    last block, escrow or Reputation logs after it, or a gap over :data:`MAX_GAP` blocks). A None
    sends the caller to the sync, never to a wrong answer."""

    def __init__(self, connection: sqlite3.Connection, last_block: int, head: int) -> None:
        self.connection = connection
        #: The last block the index holds, and the chain's head when it was found current.
        self.last_block = last_block
        self.head = head

    def rows(self, sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """The rows of one query (the :data:`Rows` the four questions take)."""
        return self.connection.execute(sql, dict(params)).fetchall()

    def close(self) -> None:
        self.connection.close()

    @classmethod
    def open(cls, path: str | Path, reader: EscrowReader) -> CurrentIndex | None:
        """The index in the SQLite file ``path`` if it is current for ``reader``'s deployment, else None."""
        file = Path(path).expanduser()
        if not file.is_file():
            return None
        try:
            connection = sqlite3.connect(f"{file.resolve().as_uri()}?mode=ro", uri=True)
        except sqlite3.Error:
            return None
        try:
            found = cls._current(connection, reader)
        except sqlite3.Error:  # no such table, a locked or damaged file: the SQLAlchemy path says what it is
            found = None
        if found is None:
            connection.close()
        return found

    @classmethod
    def _current(cls, connection: sqlite3.Connection, reader: EscrowReader) -> CurrentIndex | None:
        deployment = reader.deployment
        version = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        if version is None or version[0] != head_revision():
            return None  # an older schema: opening it through Alembic upgrades it first
        state = connection.execute(
            "SELECT genesis, last_block, reputation FROM sync_state WHERE chain_id = ? AND escrow = ?",
            (int(deployment.chain_id), checksum(deployment.escrow))).fetchone()
        if state is None:
            return None
        genesis, last, reputation = state[0], int(state[1]), state[2]
        stored = connection.execute("SELECT hash FROM blocks WHERE chain_id = ? AND number = ?",
                                    (int(deployment.chain_id), last)).fetchone()
        if last < 0 or stored is None:
            return None
        first, at_last, latest = reader.rpc.batch([("eth_getBlockByNumber", ["0x0", False]),
                                                   ("eth_getBlockByNumber", [hex(last), False]),
                                                   ("eth_getBlockByNumber", ["latest", False])])
        if first is None or at_last is None or latest is None:
            return None
        if first["hash"] != genesis or at_last["hash"] != stored[0]:
            return None  # another chain under the same id, or a reorg: the sync says or rewinds it
        head = int(latest["number"], 16)
        if head - last > MAX_GAP:
            return None
        if head > last:
            query = {"address": [checksum(deployment.escrow), checksum(reputation)]}
            if next(iter(reader.rpc.get_logs(query, last + 1, head)), None) is not None:
                return None  # something happened since: the sync reads it in
        return cls(connection, last, head)


# -- a reader over the index -----------------------------------------------------------------------
class IndexedReader:
    """An :class:`~p2pescrow.reader.EscrowReader` whose searches for trades read the index: the same
    answers (:class:`~p2pescrow.models.Trade` from the terms and the chain's current slot), without
    ``eth_getLogs`` over the chain's history. Everything else is the reader's own.

    ``index`` is a SQLAlchemy engine (any index; :meth:`sync` reads the new blocks in) or a
    :class:`CurrentIndex` (a SQLite index found current: nothing to sync).

        reads = IndexedReader(EscrowReader.connect(url), engine)
        reads.sync()                                    # the new blocks first
        for trade in reads.trades(party=me):
            print(trade.id, trade.state)
        reads.history(trade.id)                         # [HistoryEntry(block, tx_hash, name, args)]
    """

    def __init__(self, reader: EscrowReader, index: Any) -> None:
        self.reader = reader
        self.index = index
        self.chain_id = reader.deployment.chain_id

    @property
    def engine(self) -> Any:
        """The SQLAlchemy engine, or None when reading a :class:`CurrentIndex`."""
        return None if isinstance(self.index, CurrentIndex) else self.index

    def __getattr__(self, name: str) -> Any:
        return getattr(self.reader, name)

    def sync(self) -> SyncReport | None:
        """Read the blocks since the last sync into the index (None: a :class:`CurrentIndex`, which
        :meth:`CurrentIndex.open` found to have nothing to read)."""
        if isinstance(self.index, CurrentIndex):
            return None
        from .sync import Indexer

        return Indexer(self.index, self.reader.url, self.reader.deployment).sync()

    def _rows(self, sql: str, params: Mapping[str, Any]) -> list[Sequence[Any]]:
        if isinstance(self.index, CurrentIndex):
            return self.index.rows(sql, params)
        from sqlalchemy.orm import Session

        with Session(self.index) as session:
            return session_rows(session)(sql, params)

    def _current(self, found: list[tuple[str, Terms]]) -> list[Trade]:
        return self.reader.current(found)

    def trade(self, trade_id_: str) -> Trade:
        key = normalise_id(trade_id_)
        rows = self._rows(f"SELECT {_TERMS_COLUMNS} FROM trades t WHERE t.chain_id = :chain_id AND t.id = :id",
                          {"chain_id": self.chain_id, "id": key})
        return self.reader.trade(key) if not rows else self._current([(key, terms_of(rows[0][1:]))])[0]

    def trades(self, *, party: str | None = None, state: TradeState | None = None,
               token: str | None = None) -> list[Trade]:
        """As ``EscrowReader.trades``, oldest first."""
        token_address = self.reader.token(token).address if token else None
        found = find_terms(self._rows, self.chain_id, party=party, token=token_address, state=state)
        return [t for t in self._current(found) if state is None or t.state is state]

    def trade_ids(self, prefix: str) -> tuple[list[str], int]:
        """Up to two trade ids starting with ``prefix``, and how many there are."""
        found = ids_starting(self._rows, self.chain_id, prefix)
        return found, (len(found) if len(found) < 2 else count_starting(self._rows, self.chain_id, prefix))

    def history(self, trade_id_: str) -> list[HistoryEntry]:
        """As ``EscrowClient.history``."""
        return history(self._rows, self.chain_id, trade_id_, escrow=self.reader.deployment.escrow,
                       reputation=self.reader.deployment.reputation)

    def due(self, account: str) -> list[DueAction]:
        """As ``EscrowClient.due``: the trades ``account`` is buyer, seller or arbiter of and that have
        not ended (an ended trade owes nothing), their slots read now."""
        from ..clients._base import due_actions

        found = find_terms(self._rows, self.chain_id, involving=account, open_only=True)
        trades = self._current(found)
        now = int(self.reader.now().timestamp())
        items = [item for trade in trades for item in due_actions(trade, checksum(account), now)]
        return sorted(items, key=lambda item: item.deadline)
