"""The market index (issue 13): the chain's trades, offers, bonds and ratings in a database, for
search, screening and the market's figures.

    from p2pescrow.market import MarketClient, open_database, resolve_url

Needs the ``market`` extra (SQLAlchemy 2, Alembic: ``pip install 'p2pescrow[market]'``); a PostgreSQL
database also the ``postgres`` extra (psycopg 3). ``import p2pescrow.market`` imports neither: the
names below are loaded on first use, and one whose module needs a missing package raises
:class:`~p2pescrow.errors.MissingExtra` (one line naming the install command, exit code 2 in the
CLI) instead of a ``ModuleNotFoundError`` traceback. :func:`check_market` is that check, for callers
that want it before any work.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

#: Modules of the ``market`` extra, by the distribution that brings them.
MARKET_MODULES = {"sqlalchemy": "sqlalchemy", "alembic": "alembic"}
#: Modules of the ``postgres`` extra, by distribution.
POSTGRES_MODULES = {"psycopg": "psycopg"}

_EXPORTS = {
    "MarketClient": "client",
    "AsyncMarketClient": "client",
    "DB_ENV": "db",
    "open_database": "db",
    "resolve_url": "db",
    "Indexer": "sync",
    "SyncReport": "sync",
    "OfferFilter": "queries",
    "OfferHit": "queries",
    "Screening": "queries",
    "MarketStats": "queries",
    "search": "queries",
    "screening": "queries",
    "stats": "queries",
    "RemoteMarketClient": "remote",
    "AsyncRemoteMarketClient": "remote",
}

__all__ = ["MARKET_MODULES", "POSTGRES_MODULES", "check_market", *sorted(_EXPORTS)]

if TYPE_CHECKING:
    from .client import AsyncMarketClient, MarketClient  # noqa: F401
    from .db import DB_ENV, open_database, resolve_url  # noqa: F401
    from .queries import MarketStats, OfferFilter, OfferHit, Screening, screening, search, stats  # noqa: F401
    from .remote import AsyncRemoteMarketClient, RemoteMarketClient  # noqa: F401
    from .sync import Indexer, SyncReport  # noqa: F401


def check_market(url: str | None = None) -> None:
    """Raise :class:`~p2pescrow.errors.MissingExtra` unless the market index can run: the ``market``
    extra's packages, and for a ``postgresql`` ``url`` the ``postgres`` extra's too."""
    problem = _missing_extra(url)
    if problem is not None:
        raise problem


def _missing_extra(url: str | None) -> Exception | None:
    from importlib.util import find_spec

    from ..errors import MissingExtra

    missing = [dist for module, dist in MARKET_MODULES.items() if find_spec(module) is None]
    if missing:
        return MissingExtra("the market index", "market", ", ".join(missing))
    if url is not None and url.startswith(("postgresql", "postgres:")):
        missing = [dist for module, dist in POSTGRES_MODULES.items() if find_spec(module) is None]
        if missing:
            return MissingExtra("a PostgreSQL market index", "postgres", ", ".join(missing))
    return None


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'p2pescrow.market' has no attribute {name!r}")
    try:
        loaded = import_module(f"{__name__}.{module}")
    except ModuleNotFoundError as exc:
        problem = _missing_extra(None) if (exc.name or "").split(".")[0] in MARKET_MODULES else None
        if problem is None:
            raise
        raise problem from None  # one line naming every missing package of the extra
    return getattr(loaded, name)
