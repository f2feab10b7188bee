"""Nonces per (chain, account), so concurrent sends from threads or tasks never collide."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable


class NonceManager:
    """Hands out consecutive nonces per (chain id, address).

    The first nonce comes from the node's pending count; later ones from the local counter, which
    never goes below what the node reports. Reserve a nonce, broadcast, then :meth:`commit` (sent)
    or :meth:`release` (nothing was broadcast: the counter is re-read from the node next time).
    Thread-safe; :meth:`async_lock` gives the matching asyncio lock.
    """

    def __init__(self) -> None:
        self._next: dict[tuple[int, str], int] = {}
        self._locks: dict[tuple[int, str], threading.Lock] = {}
        self._async_locks: dict[tuple[int, str], asyncio.Lock] = {}
        self._guard = threading.Lock()

    def lock(self, key: tuple[int, str]) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def async_lock(self, key: tuple[int, str]) -> asyncio.Lock:
        with self._guard:
            return self._async_locks.setdefault(key, asyncio.Lock())

    def next(self, key: tuple[int, str], pending_count: Callable[[], int]) -> int:
        """The nonce to use now (call with the key's lock held)."""
        return max(self._next.get(key, 0), pending_count())

    async def anext(self, key: tuple[int, str], pending_count: Callable[[], Awaitable[int]]) -> int:
        return max(self._next.get(key, 0), await pending_count())

    def commit(self, key: tuple[int, str], nonce: int) -> None:
        self._next[key] = nonce + 1

    def release(self, key: tuple[int, str]) -> None:
        self._next.pop(key, None)


#: One manager per process: two clients for the same account must not hand out the same nonce.
NONCES = NonceManager()
