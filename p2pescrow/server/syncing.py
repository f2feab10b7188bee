"""The background sync loop: while the server runs, the index follows the chain.

Every ``interval`` seconds the loop syncs the new blocks (:meth:`MarketClient.sync`, blocking: it runs
in a worker thread, never on the event loop), then prunes the relayed offers that ended longer ago than
the server keeps them (:meth:`~p2pescrow.server.state.ServedMarket.prune_relayed`), and records what
happened in a :class:`SyncStatus` (``GET /api/health`` shows it). A failure (the node gone, the
database locked) is recorded, not raised: the loop waits longer each time (doubling up to
:data:`BACKOFF_MAX`) and tries again, and the API keeps answering from what the index holds. Stopping it
(:meth:`SyncLoop.stop`) wakes it at once and waits for a sync under way to finish its page.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["BACKOFF_MAX", "SyncLoop", "SyncStatus"]

#: The longest wait after failures (seconds).
BACKOFF_MAX = 60.0


class Syncable(Protocol):
    def sync_once(self) -> Any: ...


@dataclass
class SyncStatus:
    """What the last syncs did; read by ``/api/health``, written by the loop (under its lock)."""

    #: The last block the index holds (None before anything was indexed).
    head_indexed: int | None = None
    #: That block's timestamp: the chain's time as the index knows it.
    head_time: int | None = None
    #: When the last sync finished without error (unix seconds, wall clock), None before.
    last_sync: float | None = None
    #: The last sync's error in one line, None when it succeeded.
    sync_error: str | None = None
    #: Syncs that ended without error since the server started.
    syncs: int = 0
    #: Failed syncs in a row.
    failures: int = 0
    #: Relayed offers deleted by the pruning after each sync (settings.relay_keep) since the server started.
    relayed_pruned: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def succeeded(self, head: int | None, head_time: int | None) -> None:
        with self._lock:
            self.head_indexed, self.head_time = head, head_time
            self.last_sync = time.time()
            self.sync_error = None
            self.syncs += 1
            self.failures = 0

    def failed(self, error: BaseException) -> None:
        with self._lock:
            self.sync_error = one_line(error)
            self.failures += 1

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            return {"head_indexed": self.head_indexed, "last_sync": self.last_sync, "sync_error": self.sync_error,
                    "relayed_pruned": self.relayed_pruned}


def one_line(error: BaseException) -> str:
    """An exception as one line: its message (SQLAlchemy's background links cut), else its type."""
    text = " ".join(str(error).split())
    text = text.split(" (Background on this error")[0].split("[SQL:")[0].strip()
    hint = getattr(error, "hint", None)
    if hint:
        text = f"{text} ({hint})"
    return text or type(error).__name__


class SyncLoop:
    """Syncs ``target`` every ``interval`` seconds until stopped (start it in the app's lifespan)."""

    def __init__(self, target: Syncable, interval: float) -> None:
        self.target = target
        self.interval = interval
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._stop.clear()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="p2pescrow-market-sync")

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def delay(self, failures: int) -> float:
        """The wait before the next sync: the interval, doubled per failure in a row up to BACKOFF_MAX."""
        if failures <= 0:
            return self.interval
        return min(self.interval * 2 ** min(failures, 20), max(self.interval, BACKOFF_MAX))

    async def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=self.delay(failures))
                return  # stopped while waiting
            except TimeoutError:
                pass
            try:
                # The status is recorded by sync_once (success or failure); here only the pace.
                await asyncio.to_thread(self.target.sync_once)
                failures = 0
            except Exception:  # noqa: BLE001 - recorded by sync_once; the loop goes on
                failures += 1

    async def stop(self, timeout: float = 30.0) -> None:
        """Stop the loop: at once while it waits; after the sync under way (its worker thread cannot be
        interrupted) otherwise, waiting at most ``timeout`` seconds."""
        self._stop.set()
        task, self._task = self._task, None
        if task is None:
            return
        try:
            await asyncio.wait_for(task, timeout=timeout)
        except TimeoutError:
            task.cancel()
