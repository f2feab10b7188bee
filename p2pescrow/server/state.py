"""What every route needs: the served market (:class:`ServedMarket`, a route gets it with
``served: ServedMarket = Depends(get_served)``) and the API's errors (:class:`ApiError`, answered as
JSON ``{"error": ..., "hint": ...}``; :data:`ERROR_RESPONSES` documents them in the OpenAPI document).

Routes are plain ``def`` (FastAPI runs them in its thread pool) and read the index only: the background
loop (:mod:`p2pescrow.server.syncing`) syncs it, through :meth:`ServedMarket.sync_once`. The chain's
time a route uses (:meth:`ServedMarket.now`) is the newest block's the index holds, and the token
symbols a search shows (:attr:`ServedMarket.symbols`) are read from the node by the sync, not by a
request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import Request
from pydantic import BaseModel, Field

from ..core.terms import checksum
from .settings import ServerSettings
from .syncing import SyncStatus

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ..market.client import MarketClient
    from ..market.sync import SyncReport
    from ..market.trades import IndexedReader

__all__ = ["ERROR_RESPONSES", "ApiError", "ErrorBody", "ServedMarket", "get_served"]


# -- errors ------------------------------------------------------------------------------------------
class ErrorBody(BaseModel):
    """Every 4xx and 5xx answer of the API: what is wrong, and what to do about it."""

    error: str = Field(description="What is wrong, in one line.")
    hint: str | None = Field(default=None, description="What to do about it, when there is something.")


class ApiError(Exception):
    """An answer other than success: ``status`` with ``{"error": error, "hint": hint}`` (and ``headers``,
    e.g. ``Retry-After``). Raise it from a route; the app's handler renders it."""

    def __init__(self, status: int, error: str, hint: str | None = None, *,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(error)
        self.status, self.error, self.hint, self.headers = status, error, hint, headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "hint": self.hint}


def _documented(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


#: The error answers a route may give, for its ``responses=`` (the OpenAPI document says each is an
#: :class:`ErrorBody`; FastAPI's own 422 schema is replaced, since the app answers 422 in that form too).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: _documented("Not found."),
    413: _documented("The request body is larger than the server reads."),
    414: _documented("The query string is longer than the server reads."),
    431: _documented("The request's headers are larger than the server reads."),
    422: _documented("A parameter is missing, malformed or out of bounds."),
    503: _documented("The index cannot be read right now."),
}


# -- the served market -------------------------------------------------------------------------------
@dataclass
class ServedMarket:
    """The market a server serves: its settings, the market client over the index, the deployment,
    and the sync's status."""

    settings: ServerSettings
    market: MarketClient
    chain_id: int
    #: The escrow's address, checksummed.
    escrow: str
    sync_status: SyncStatus = field(default_factory=SyncStatus)
    #: Token address -> symbol, of the tokens a search may show (refreshed by each sync).
    symbols: dict[str, str] = field(default_factory=dict)
    _sync_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def open(cls, settings: ServerSettings, escrow_client: Any) -> ServedMarket:
        """The market of ``escrow_client``'s deployment (an :class:`~p2pescrow.reader.EscrowReader` or an
        :class:`~p2pescrow.clients.sync.EscrowClient` on an http(s) node) over ``settings.db``, the
        database opened now (created or upgraded by its migrations: Alembic runs on open)."""
        from ..market.client import MarketClient

        market = MarketClient(escrow_client, db=settings.db)
        market._db()  # opened (and migrated) now: a bad URL or an unreachable database fails here
        deployment = escrow_client.deployment
        served = cls(settings, market, int(deployment.chain_id), checksum(deployment.escrow))
        served.refresh_status()
        return served

    # -- the index -------------------------------------------------------------------------------
    @property
    def db_url(self) -> str:
        return self.market.db_url

    def session(self) -> Session:
        """A new SQLAlchemy session on the index (use it in a ``with`` block)."""
        from sqlalchemy.orm import Session

        return Session(self.market._db())

    def indexed(self) -> IndexedReader:
        """The trades' reader over the index (their current slots read from the node)."""
        return self.market._indexed()

    def now(self) -> int:
        """The chain's time as the index knows it: the newest indexed block's timestamp (the wall
        clock before the first sync)."""
        head_time = self.sync_status.head_time
        return int(head_time) if head_time is not None else int(time.time())

    def head(self) -> tuple[int | None, int | None]:
        """The last block the index holds and its timestamp, read from the index."""
        from sqlalchemy import select

        from ..market.schema import Block, SyncState

        with self.session() as session:
            last = session.scalar(select(SyncState.last_block).where(SyncState.chain_id == self.chain_id,
                                                                     SyncState.escrow == self.escrow))
            if last is None or last < 0:
                return None, None
            stamp = session.scalar(select(Block.timestamp).where(Block.chain_id == self.chain_id,
                                                                 Block.number <= last)
                                   .order_by(Block.number.desc()).limit(1))
            return int(last), None if stamp is None else int(stamp)

    def refresh_status(self) -> None:
        """Read the index's head into the status (after a sync, or on start)."""
        head, head_time = self.head()
        with self.sync_status._lock:
            self.sync_status.head_indexed, self.sync_status.head_time = head, head_time

    def sync_once(self, progress: Callable[[int, int], None] | None = None) -> SyncReport:
        """Sync the new blocks into the index, then the token symbols and the status; a failure is
        recorded in :attr:`sync_status` and raised. One sync at a time."""
        with self._sync_lock:
            try:
                report = self.market.sync(progress=progress)
                self.symbols = self.market._symbols()
                head, head_time = self.head()
            except Exception as exc:
                self.sync_status.failed(exc)
                raise
            self.sync_status.succeeded(head, head_time)
            self.prune_relayed()
        return report

    def prune_relayed(self) -> int:
        """Delete the relayed offers that ended more than ``settings.relay_keep`` seconds ago by the chain's
        time (:func:`p2pescrow.market.relayed.prune`); how many. Run after each successful sync; a failure
        is recorded as the sync's error (``/api/health``) and raised, so the loop retries."""
        from ..market import relayed

        try:
            with self.session() as session, session.begin():
                pruned = relayed.prune(session, self.chain_id, self.now(), self.settings.relay_keep)
        except Exception as exc:
            self.sync_status.failed(RuntimeError(f"pruning the relayed offers failed: {exc}"))
            raise
        with self.sync_status._lock:
            self.sync_status.relayed_pruned += pruned
        return pruned

    def close(self) -> None:
        self.market.close()

    def health(self) -> dict[str, Any]:
        return {"chain_id": self.chain_id, "escrow": self.escrow, **self.sync_status.to_json()}


def get_served(request: Request) -> ServedMarket:
    """The served market of the app handling ``request`` (a FastAPI dependency)."""
    served: ServedMarket = request.app.state.served
    return served

