"""Nonces per (chain, account), so concurrent sends from threads or tasks never collide."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable


class NonceManager:
    """Hands out consecutive nonces per (chain id, address).

    The node's pending count is the truth: callers hold the key's lock from reading it until the
    node has accepted the transaction, so concurrent sends in this process never see the same
    count. The local counter only bridges a node (or load balancer) that answers with a stale
    pending count right after a send: it is trusted for ``LOCAL_HINT_SECONDS`` after a commit and
    never beyond, so a dropped transaction or a restarted dev chain cannot leave later sends stuck
    behind a nonce the node will never reach. Reserve a nonce, broadcast, then :meth:`commit`
    (sent) or :meth:`release` (nothing was broadcast). Thread-safe; :meth:`async_lock` gives the
    matching asyncio lock.
    """

    LOCAL_HINT_SECONDS = 15.0

    def __init__(self) -> None:
        self._next: dict[tuple[int, str], tuple[int, float]] = {}
        self._locks: dict[tuple[int, str], threading.Lock] = {}
        self._async_locks: dict[tuple[int, str], asyncio.Lock] = {}
        self._guard = threading.Lock()

    def lock(self, key: tuple[int, str]) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def async_lock(self, key: tuple[int, str]) -> asyncio.Lock:
        with self._guard:
            return self._async_locks.setdefault(key, asyncio.Lock())

    def _choose(self, key: tuple[int, str], pending: int) -> int:
        local, at = self._next.get(key, (0, 0.0))
        if local > pending and time.monotonic() - at < self.LOCAL_HINT_SECONDS:
            return local
        return pending

    def next(self, key: tuple[int, str], pending_count: Callable[[], int]) -> int:
        """The nonce to use now (call with the key's lock held)."""
        return self._choose(key, pending_count())

    async def anext(self, key: tuple[int, str], pending_count: Callable[[], Awaitable[int]]) -> int:
        return self._choose(key, await pending_count())

    def commit(self, key: tuple[int, str], nonce: int) -> None:
        self._next[key] = (nonce + 1, time.monotonic())

    def release(self, key: tuple[int, str]) -> None:
        self._next.pop(key, None)


#: One manager per process: two clients for the same account must not hand out the same nonce.
NONCES = NonceManager()
