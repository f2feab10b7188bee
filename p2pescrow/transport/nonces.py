"""Nonces per (node, account), so concurrent sends from threads or tasks never collide.

A key is ``(chain id, genesis block hash, endpoint, address)``: two nodes that share a chain id (every
fresh Anvil is 31337) are two keys, so a nonce counted on one is never carried to the other, not
even when they were started in the same second (same genesis block) on two ports.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

Key = tuple[Any, ...]


class NonceManager:
    """Hands out consecutive nonces per key (see the module docstring).

    The first send of a key asks the node for the account's pending count. After a commit (the node
    accepted the transaction) the next nonce is the local counter, without asking again, for
    ``LOCAL_HINT_SECONDS``: a sequential sender asks the node once, not once per transaction. The
    counter is forgotten, so the next send asks the node again, when a send was refused
    (:meth:`release`: nothing was broadcast), when a sent transaction was not seen mined (timed
    out, replaced, dropped: the transaction path releases), and when another program used the
    account: its nonce is then refused as taken, the path raises :class:`~p2pescrow.errors.NonceConflict`
    internally, releases, and retries with the node's count. Callers hold the key's lock from
    choosing the nonce until the node has accepted the transaction, so concurrent sends in this
    process never get the same one. Thread-safe; :meth:`async_lock` gives the matching asyncio lock.
    """

    LOCAL_HINT_SECONDS = 15.0

    def __init__(self) -> None:
        self._next: dict[Key, tuple[int, float]] = {}
        self._locks: dict[Key, threading.Lock] = {}
        self._async_locks: dict[Key, asyncio.Lock] = {}
        self._guard = threading.Lock()

    def lock(self, key: Key) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def async_lock(self, key: Key) -> asyncio.Lock:
        with self._guard:
            return self._async_locks.setdefault(key, asyncio.Lock())

    def cached(self, key: Key) -> int | None:
        """The local next nonce, if it is fresh enough to use without asking the node; else None."""
        local, at = self._next.get(key, (0, 0.0))
        if key in self._next and time.monotonic() - at < self.LOCAL_HINT_SECONDS:
            return local
        return None

    def choose(self, key: Key, pending: int) -> int:
        """The nonce to use given the node's pending count: the count, unless the local counter is
        ahead of it and fresh (a node that has not counted our last transaction yet)."""
        local = self.cached(key)
        return local if local is not None and local > pending else pending

    def next(self, key: Key, pending_count: Callable[[], int]) -> int:
        """The nonce to use now (call with the key's lock held): asks ``pending_count`` only when
        the local counter is not fresh."""
        local = self.cached(key)
        return local if local is not None else self.choose(key, pending_count())

    def commit(self, key: Key, nonce: int) -> None:
        self._next[key] = (nonce + 1, time.monotonic())

    def release(self, key: Key) -> None:
        """Forget the local counter: the next send asks the node. A ``(chain id, address)`` pair
        forgets it on every node of that chain id."""
        with self._guard:
            self._next.pop(key, None)
            if len(key) == 2:
                chain_id, address = key
                for other in [k for k in self._next if k[0] == chain_id and str(k[-1]).lower() == str(address).lower()]:
                    self._next.pop(other, None)


#: One manager per process: two clients for the same account must not hand out the same nonce.
NONCES = NonceManager()
