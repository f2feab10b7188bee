"""What a served market is configured by: :class:`ServerSettings`, from the ``serve`` command's options
and the environment (:meth:`ServerSettings.from_env`), and the bounds every request is held to.

    settings = ServerSettings.from_env(port=0, rpc_url="http://127.0.0.1:8545")

An option given wins over its environment variable, which wins over the default:

============================  ==================================  ===========================================
option                        environment variable                default
============================  ==================================  ===========================================
``--host``                    ``P2PESCROW_SERVE_HOST``            ``127.0.0.1`` (this computer only)
``--port``                    ``P2PESCROW_SERVE_PORT``            ``8000`` (``0``: a free port, printed)
``--db``                      ``P2PESCROW_DB``                    ``market.sqlite`` in the config folder
``--sync-interval``           ``P2PESCROW_SYNC_INTERVAL``         ``5`` seconds between syncs of the index
``--cors-origin`` (repeated)  ``P2PESCROW_CORS_ORIGINS``          none: no CORS header (comma-separated)
``--page-size-max``           ``P2PESCROW_PAGE_SIZE_MAX``         ``100`` offers per page at most
``--relay-rate``              ``P2PESCROW_RELAY_RATE``            ``10`` relayed offers a minute per client
``--relay-keep``              ``P2PESCROW_RELAY_KEEP``            ``7d``: ended relayed offers kept this long
``--relay-max-per-seller``    ``P2PESCROW_RELAY_MAX_PER_SELLER``  ``100`` relayed offers open per seller
============================  ==================================  ===========================================

``--relay-keep`` (and its variable) takes seconds or a number with a unit: ``90s``, ``30m``, ``12h``,
``7d``, ``2w`` (:func:`parse_duration`).

Imports nothing beyond the standard library (the CLI reads it before the server's packages).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from ..errors import InputError

__all__ = [
    "BODY_MAX_BYTES",
    "ENVIRONMENT",
    "OFFSET_MAX",
    "STRING_MAX",
    "TEXT_MAX",
    "ServerSettings",
    "parse_duration",
]

#: The largest request body read (bytes): a larger one is answered 413 before it is parsed.
BODY_MAX_BYTES = 64 * 1024
#: The longest full-text query (characters).
TEXT_MAX = 200
#: The longest of the other short strings a query takes (a category, a sort order).
STRING_MAX = 100
#: The farthest a search pages (``offset``).
OFFSET_MAX = 10_000
#: The most offers a page may ask for (``--page-size-max``) cannot exceed this.
PAGE_SIZE_CEILING = 1000

#: Environment variable -> setting.
ENVIRONMENT = {
    "P2PESCROW_SERVE_HOST": "host",
    "P2PESCROW_SERVE_PORT": "port",
    "P2PESCROW_DB": "db",
    "P2PESCROW_SYNC_INTERVAL": "sync_interval",
    "P2PESCROW_CORS_ORIGINS": "cors_origins",
    "P2PESCROW_PAGE_SIZE_MAX": "page_size_max",
    "P2PESCROW_RELAY_RATE": "relay_rate",
    "P2PESCROW_RELAY_KEEP": "relay_keep",
    "P2PESCROW_RELAY_MAX_PER_SELLER": "relay_max_per_seller",
}

#: The shortest ``relay_keep``: an hour, so that a shallow reorg undoing a fill or a revocation finds the
#: offer still there (and its page says what became of it for a while).
RELAY_KEEP_MIN = 3_600
#: The longest ``relay_keep``: ten years (keep them "forever").
RELAY_KEEP_MAX = 10 * 365 * 86_400

_UNITS = {"": 1, "s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800}


@dataclass(frozen=True)
class ServerSettings:
    """How one ``p2pescrow serve`` runs (see the module's docstring for the options and variables)."""

    #: The address to bind: ``127.0.0.1`` serves this computer only; ``0.0.0.0`` every interface
    #: (put a TLS-terminating reverse proxy in front: the server speaks plain HTTP).
    host: str = "127.0.0.1"
    #: The TCP port; 0 takes a free one (the ``serve`` command prints which).
    port: int = 8000
    #: The index's database URL as given (None: ``$P2PESCROW_DB``, else the config folder's SQLite file).
    db: str | None = None
    #: The node's JSON-RPC URL the index syncs from (the selected network's; never shown: it may carry a
    #: provider's key).
    rpc_url: str | None = None
    #: Seconds between two syncs of the index by the background loop.
    sync_interval: float = 5.0
    #: Origins a browser may call the API from (CORS); empty: no CORS headers at all.
    cors_origins: tuple[str, ...] = ()
    #: The most offers one page of a search may hold.
    page_size_max: int = 100
    #: Relayed offers a minute a client (and a seller) may post.
    relay_rate: int = 10
    #: Seconds (of the chain's time) an ended relayed offer (expired, filled, revoked) is kept before the
    #: background loop deletes it (p2pescrow.market.relayed.prune).
    relay_keep: int = 7 * 86_400
    #: The most relayed offers one seller may have open at once (more: 429).
    relay_max_per_seller: int = 100
    #: The largest request body read (bytes).
    body_max_bytes: int = BODY_MAX_BYTES

    def __post_init__(self) -> None:
        if not self.host.strip():
            raise InputError("the bind address is empty", hint="e.g. --host 127.0.0.1 or --host 0.0.0.0")
        if not 0 <= self.port <= 65535:
            raise InputError(f"port {self.port} is not a TCP port", hint="use 1..65535, or 0 for a free one")
        if not 0.1 <= self.sync_interval <= 86_400:
            raise InputError(f"sync interval {self.sync_interval} s is out of range",
                             hint="use 0.1 to 86400 seconds")
        if not 1 <= self.page_size_max <= PAGE_SIZE_CEILING:
            raise InputError(f"page size maximum {self.page_size_max} is out of range",
                             hint=f"use 1 to {PAGE_SIZE_CEILING}")
        if not 1 <= self.relay_rate <= 100_000:
            raise InputError(f"relay rate {self.relay_rate} a minute is out of range", hint="use 1 to 100000")
        if not RELAY_KEEP_MIN <= self.relay_keep <= RELAY_KEEP_MAX:
            raise InputError(f"relay keep {self.relay_keep} s is out of range",
                             hint=f"use 1h to 3650d ({RELAY_KEEP_MIN} to {RELAY_KEEP_MAX} seconds)")
        if not 1 <= self.relay_max_per_seller <= 1_000_000:
            raise InputError(f"relay maximum per seller {self.relay_max_per_seller} is out of range",
                             hint="use 1 to 1000000")
        for origin in self.cors_origins:
            if origin != "*" and not origin.startswith(("http://", "https://")):
                raise InputError(f"CORS origin {origin!r} is not an origin",
                                 hint="give scheme and host, e.g. --cors-origin https://app.example.org")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **given: Any) -> ServerSettings:
        """Settings from ``given`` (the options set: a None value counts as not given), else the
        environment's variables (:data:`ENVIRONMENT`), else the defaults. A variable that does not
        read as its setting is an :class:`~p2pescrow.errors.InputError` naming it."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for variable, name in ENVIRONMENT.items():
            raw = env.get(variable, "").strip()
            if raw:
                values[name] = _parse(name, raw, variable)
        values.update({name: value for name, value in given.items() if value is not None})
        if "cors_origins" in values:
            values["cors_origins"] = tuple(values["cors_origins"])
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise TypeError(f"unknown server settings: {', '.join(unknown)}")
        return cls(**values)

    def with_port(self, port: int) -> ServerSettings:
        """The same settings on another port (the one a ``--port 0`` server got)."""
        return replace(self, port=port)


def parse_duration(text: str, what: str) -> int:
    """Seconds from ``"90s"``, ``"30m"``, ``"12h"``, ``"7d"``, ``"2w"`` or plain seconds (``"3600"``);
    anything else is an :class:`~p2pescrow.errors.InputError` naming ``what`` (an option or a variable)."""
    raw = text.strip().lower()
    number, unit = (raw[:-1], raw[-1]) if raw[-1:] in _UNITS and raw[-1:].isalpha() else (raw, "")
    number = number.strip()
    if not (number.isascii() and number.isdigit()):
        raise InputError(f"{what} is {text!r}, not a duration", hint="use seconds or e.g. 12h, 7d, 2w")
    return int(number) * _UNITS[unit]


def _parse(name: str, raw: str, variable: str) -> Any:
    if name == "relay_keep":
        return parse_duration(raw, f"${variable}")
    try:
        if name in ("port", "page_size_max", "relay_rate", "relay_max_per_seller"):
            return int(raw)
        if name == "sync_interval":
            return float(raw)
    except ValueError:
        raise InputError(f"${variable} is {raw!r}, not a number", hint=f"set {variable} to a number or unset it") \
            from None
    if name == "cors_origins":
        return tuple(origin.strip() for origin in raw.split(",") if origin.strip())
    return raw
