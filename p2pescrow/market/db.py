"""Where the market index lives and how it is opened.

    from p2pescrow.market.db import open_database, resolve_url

    engine = open_database(resolve_url(None))   # sqlite:///~/.config/p2pescrow/market.sqlite

The database is SQLite by default (a file under the config folder) or PostgreSQL (``--db
postgresql://...`` or ``$P2PESCROW_DB``), reached through psycopg 3. Opening it runs the Alembic
migrations up to the newest (``p2pescrow/market/migrations``), so a fresh file gets the schema and
an older one is upgraded in place; nothing is created any other way.

SQLite is opened in WAL mode (a reader never blocks the sync writing) with foreign keys on and a
busy timeout, so a CLI search can run while ``market sync`` writes.

This module imports SQLAlchemy only when a database is opened: without the ``market`` extra,
:func:`open_database` raises :class:`~p2pescrow.errors.MissingExtra` naming
``pip install 'p2pescrow[market]'``.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import config_dir
from . import check_market

if TYPE_CHECKING:
    from sqlalchemy import Engine

__all__ = ["DB_ENV", "MIGRATIONS", "create_database_engine", "open_database", "resolve_url", "upgrade"]

#: The environment variable naming the database when ``--db`` is not given.
DB_ENV = "P2PESCROW_DB"

#: The Alembic scripts folder (programmatic: no alembic.ini).
MIGRATIONS = Path(__file__).with_name("migrations")

#: How long a SQLite connection waits for another's write lock before failing (seconds).
SQLITE_BUSY_TIMEOUT = 30


def resolve_url(option: str | None) -> str:
    """The database URL: ``option`` (``--db``), else ``$P2PESCROW_DB``, else the default SQLite file
    ``<config dir>/market.sqlite``. A bare path is taken as a SQLite file; ``postgresql://`` and
    ``postgres://`` URLs are driven by psycopg 3 (``postgresql+psycopg://``)."""
    text = (option or "").strip() or os.environ.get(DB_ENV, "").strip()
    if not text:
        return f"sqlite:///{config_dir() / 'market.sqlite'}"
    if "://" not in text:
        return f"sqlite:///{Path(text).expanduser()}"
    for prefix in ("postgresql://", "postgres://"):
        if text.startswith(prefix):
            return "postgresql+psycopg://" + text[len(prefix) :]
    return text


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT * 1000}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def create_database_engine(url: str) -> Engine:
    """An engine on ``url`` (see :func:`resolve_url`) without running the migrations."""
    from sqlalchemy import create_engine, event
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(parsed, pool_pre_ping=True)


#: Alembic keeps the running migration in module-global state: one upgrade at a time per process.
_UPGRADING = threading.Lock()
#: Tries of an upgrade that failed because another process migrated the same database meanwhile.
UPGRADE_TRIES = 3


def upgrade(engine: Engine) -> None:
    """Run the migrations up to the newest revision (a no-op on an up-to-date database).

    Two processes may open a fresh database at once (a server starting while its operator runs
    ``market sync``). Each upgrade is one transaction, so the one that loses (``table alembic_version
    already exists``, a write lock lost on SQLite) changed nothing; it tries again, and then finds the
    schema the other made (or waits for its lock). Only a failure that repeats is raised."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy.exc import DBAPIError

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    for attempt in range(1, UPGRADE_TRIES + 1):
        try:
            with _UPGRADING, engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
            return
        except DBAPIError:
            if attempt == UPGRADE_TRIES:
                raise
            time.sleep(0.1 * attempt)


def open_database(url: str) -> Engine:
    """An engine on the market index at ``url``, its schema created or upgraded (Alembic)."""
    check_market(url)
    engine = create_database_engine(url)
    upgrade(engine)
    return engine
