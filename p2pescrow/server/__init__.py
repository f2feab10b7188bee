"""The platform server (issue 14): ``p2pescrow serve`` puts a market index in front of people.

A FastAPI application over one :class:`~p2pescrow.market.client.MarketClient`: a JSON API under
``/api`` for dApps (search, an offer, a trade and its history, an address's screening, the market's
figures, the trade-state table; its OpenAPI document at ``/openapi.json``), a gas-free offer relay
(``POST /api/relay``) and server-rendered pages at ``/``. A background task keeps the index in sync
with the chain; requests read the index only.

    from p2pescrow.server import ServedMarket, ServerSettings, create_app

    settings = ServerSettings.from_env(port=8000)
    served = ServedMarket.open(settings, escrow_reader)      # the index opened (and migrated)
    app = create_app(served)                                 # any ASGI server runs it (uvicorn)

Needs the ``server`` extra with the ``market`` one (``pip install 'p2pescrow[market,server]'``):
:func:`check_server` raises :class:`~p2pescrow.errors.MissingExtra` naming that command. Importing
this package imports none of them: the names below are loaded on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

#: Modules of the ``server`` extra, by the distribution that brings them.
SERVER_MODULES = {"fastapi": "fastapi", "uvicorn": "uvicorn", "jinja2": "jinja2", "matplotlib": "matplotlib",
                  "httpx": "httpx"}

_EXPORTS = {
    "create_app": "app",
    "ServedMarket": "state",
    "ServerSettings": "settings",
    "SyncStatus": "syncing",
}

__all__ = ["SERVER_MODULES", "check_server", *sorted(_EXPORTS)]

if TYPE_CHECKING:
    from .app import create_app  # noqa: F401
    from .settings import ServerSettings  # noqa: F401
    from .state import ServedMarket  # noqa: F401
    from .syncing import SyncStatus  # noqa: F401


def check_server() -> None:
    """Raise :class:`~p2pescrow.errors.MissingExtra` unless the server can run: the ``server`` and
    ``market`` extras' packages (one line naming ``pip install 'p2pescrow[market,server]'``)."""
    from importlib.util import find_spec

    from ..errors import MissingExtra
    from ..market import MARKET_MODULES

    wanted = {**SERVER_MODULES, **MARKET_MODULES}
    missing = [dist for module, dist in wanted.items() if find_spec(module) is None]
    if missing:
        raise MissingExtra("`p2pescrow serve`", "market,server", ", ".join(missing))


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'p2pescrow.server' has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{module}"), name)
