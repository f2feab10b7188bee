"""Whether there is a market index of a deployment to read trades from (:func:`index_for`), through
SQLAlchemy: any database, its schema upgraded when behind. The reads themselves are
:class:`~p2pescrow.market.reads.IndexedReader` (re-exported here); a SQLite index that is already
current is read without SQLAlchemy (:class:`~p2pescrow.market.reads.CurrentIndex`).

    engine = index_for(url, chain_id, escrow)       # None: no index of this escrow there
    reads = IndexedReader(EscrowReader.connect(url), engine)
    reads.sync()                                    # the new blocks first

Importing this module imports SQLAlchemy, never web3 or eth-account.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from ..core.terms import checksum
from . import schema as s
from .reads import IndexedReader, head_revision

__all__ = ["IndexedReader", "index_for"]


# -- whether there is an index -----------------------------------------------------------------------
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
    if version != head_revision():
        engine.dispose()
        engine = open_database(url)
    with Session(engine) as session:
        known = session.get(s.SyncState, (chain_id, checksum(escrow)))
    if known is None:
        engine.dispose()
        return None
    return engine
