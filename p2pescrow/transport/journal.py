"""The transaction journal: every signed transaction is written down before it is broadcast.

One JSON file per transaction under ``<config dir>/journal/<node>/<account>/<nonce>-<hash>.json``,
written atomically (temporary file, rename) *before* ``eth_sendRawTransaction``, flushed to the disk
(file and folder) by a background thread right after, and removed once its receipt is seen. A file
left behind means a run died (or the node went away) between sending and seeing the receipt: the
next send from that account resolves it first (mined, replaced, still pending, or lost by the node
and rebroadcast with the same raw bytes, which can never pay
twice). ``p2pescrow tx pending|resend|replace`` shows and handles them by hand.

Entries hold the raw signed bytes and the transaction's fields (to, data, value, gas, fees) so a
stuck one can be re-sent or replaced; never a key.

``<node>`` is the node's identity: its chain id and the first 16 hex digits of its genesis block
hash (``31337-1a2b...``), so two local nodes that share a chain id (every Anvil is 31337) never
take each other's transactions for abandoned or replaced ones. Entries written under the chain id
alone (``<config dir>/journal/31337/...``, before the genesis hash was part of the key) are still
read, by every node with that chain id, and resolved as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import threading
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ..config import config_dir

try:
    import fcntl
except ImportError:  # Windows: no cross-process lock
    fcntl = None  # type: ignore[assignment]

PENDING = "pending"


@dataclass(frozen=True)
class Entry:
    """One journaled transaction."""

    chain_id: int
    account: str
    nonce: int
    tx_hash: str
    raw: str  # 0x-hex of the signed transaction
    to: str | None
    data: str
    value: int
    gas: int
    max_fee_per_gas: int | None = None
    max_priority_fee_per_gas: int | None = None
    gas_price: int | None = None
    description: str = ""
    created: float = field(default_factory=time.time)
    status: str = PENDING
    note: str = ""
    genesis: str = ""  # the node's genesis block hash ("" in entries written before it was recorded)

    def fields(self) -> dict[str, Any]:
        """The unsigned transaction (for a replacement: same nonce, same call)."""
        tx: dict[str, Any] = {"from": self.account, "data": self.data, "value": self.value, "gas": self.gas,
                              "chainId": self.chain_id, "nonce": self.nonce}
        if self.to is not None:
            tx["to"] = self.to
        if self.gas_price is not None:
            tx["gasPrice"] = self.gas_price
        else:
            tx["maxFeePerGas"] = self.max_fee_per_gas
            tx["maxPriorityFeePerGas"] = self.max_priority_fee_per_gas
        return tx


def entry_for(chain_id: int, account: str, tx: dict[str, Any], signed: Any, description: str = "",
              genesis: str = "") -> Entry:
    """The journal entry of ``signed`` (an eth-account SignedTransaction of ``tx``) sent to the node
    whose genesis block hash is ``genesis``."""
    return Entry(chain_id=chain_id, account=account, nonce=int(tx["nonce"]), genesis=genesis,
                 tx_hash="0x" + bytes(signed.hash).hex(), raw="0x" + bytes(signed.raw_transaction).hex(),
                 to=tx.get("to"), data=str(tx.get("data", "0x")), value=int(tx.get("value", 0)),
                 gas=int(tx["gas"]), max_fee_per_gas=tx.get("maxFeePerGas"),
                 max_priority_fee_per_gas=tx.get("maxPriorityFeePerGas"), gas_price=tx.get("gasPrice"),
                 description=description)


#: Hashes this process is sending or waiting for right now: not "left over" by a dead run.
_IN_FLIGHT: set[str] = set()
_GUARD = threading.Lock()


def in_flight(tx_hash: str) -> bool:
    with _GUARD:
        return tx_hash.lower() in _IN_FLIGHT


def _track(tx_hash: str, on: bool) -> None:
    with _GUARD:
        (_IN_FLIGHT.add if on else _IN_FLIGHT.discard)(tx_hash.lower())


_FLUSHER: ThreadPoolExecutor | None = None


def _flusher() -> ThreadPoolExecutor:
    """One worker per process, first in first out; the interpreter waits for it at exit."""
    global _FLUSHER
    with _GUARD:
        if _FLUSHER is None:
            _FLUSHER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="p2pescrow-journal")
        return _FLUSHER


def _forget_flusher() -> None:  # a forked child has the executor but not its thread
    global _FLUSHER
    _FLUSHER = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_flusher)


def _flush_to_disk(path: Path) -> None:
    """fsync ``path`` and then its folder (the rename); nothing if it is already gone."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        folder = os.open(path.parent, os.O_RDONLY)
    except OSError:  # Windows: folders cannot be opened (nor fsynced)
        return
    try:
        os.fsync(folder)
    except OSError:
        pass
    finally:
        os.close(folder)


def node_folder(chain_id: int, genesis: str = "") -> str:
    """The folder name of a node: ``<chain id>-<16 hex digits of its genesis hash>``, or the chain id
    alone for entries written before the genesis hash was part of the key."""
    if not genesis:
        return str(int(chain_id))
    return f"{int(chain_id)}-{genesis.lower().removeprefix('0x')[:16]}"


#: The file in an account's journal folder holding the last nonce sent (see :meth:`Journal.last_nonce`).
LAST_NONCE = ".last-nonce"


class Journal:
    """The journal folder (default: ``<config dir>/journal``, looked up at each use)."""

    def __init__(self, root: Path | None = None) -> None:
        self._root = root

    @property
    def root(self) -> Path:
        return self._root if self._root is not None else config_dir() / "journal"

    def _folder(self, chain_id: int, account: str, genesis: str = "") -> Path:
        return self.root / node_folder(chain_id, genesis) / account.lower()

    def _path(self, entry: Entry) -> Path:
        return (self._folder(entry.chain_id, entry.account, entry.genesis)
                / f"{entry.nonce:08d}-{entry.tx_hash.lower()}.json")

    def _nodes(self, chain_id: int | None, genesis: str) -> list[Path]:
        """The node folders to read: this node's and the legacy chain-id one (``genesis`` given),
        or every node of the chain id (only ``chain_id``), or all of them."""
        if chain_id is None:
            return [p for p in self.root.glob("*") if p.is_dir()]
        if genesis:
            return [self.root / node_folder(chain_id, genesis), self.root / str(chain_id)]
        return [self.root / str(chain_id), *sorted(self.root.glob(f"{chain_id}-*"))]

    @contextlib.contextmanager
    def lock(self, chain_id: int, account: str, genesis: str = "") -> Iterator[None]:
        """Held from the journal check to the broadcast: two processes sending from one account
        take turns (the second then sees the first's transaction, and the node's new nonce)."""
        with self._lock_file(chain_id, account, genesis) as fd:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield

    @contextlib.asynccontextmanager
    async def async_lock(self, chain_id: int, account: str, genesis: str = "") -> AsyncIterator[None]:
        """The same lock for asyncio code (a process on the sync path and one on the asyncio path
        take turns too). Polled rather than waited for: a blocking flock would stop the event loop,
        and every other task of the process with it, for as long as another process holds it."""
        with self._lock_file(chain_id, account, genesis) as fd:
            while fd is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    await asyncio.sleep(random.uniform(0.01, 0.05))  # uneven: waiters do not poll in step
            yield

    def last_nonce(self, chain_id: int, account: str, genesis: str = "") -> int | None:
        """The last nonce any process sent from ``account`` on this node through this journal (read
        with the account's lock held: :meth:`lock`); None if none is recorded."""
        try:
            return int((self._folder(chain_id, account, genesis) / LAST_NONCE).read_text().strip())
        except (OSError, ValueError):
            return None

    def note_nonce(self, chain_id: int, account: str, genesis: str, nonce: int) -> None:
        """Record that ``nonce`` was just sent from ``account`` (with the account's lock held), so another
        process's local nonce hint is known to be stale (see :meth:`last_nonce`)."""
        folder = self._folder(chain_id, account, genesis)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f"{LAST_NONCE}.{os.getpid()}.{threading.get_ident()}.tmp"
        tmp.write_text(str(int(nonce)))
        os.replace(tmp, folder / LAST_NONCE)

    @contextlib.contextmanager
    def _lock_file(self, chain_id: int, account: str, genesis: str = "") -> Iterator[int | None]:
        """The open lock file of (node, account), unlocked on the way out (however the body ends,
        and harmlessly if it never locked); None where there is no flock (Windows)."""
        folder = self._folder(chain_id, account, genesis)
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / ".lock", "a+") as f:
            if fcntl is None:
                yield None
                return
            try:
                yield f.fileno()
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)

    def record(self, entry: Entry, *, track: bool = True) -> Entry:
        """Write ``entry`` (before broadcasting it); this process now owns it.

        The file is written whole under a temporary name and renamed, so a run that dies at any
        point leaves no entry or a complete one, and the entry is in the file system when this
        returns: a run killed right after the broadcast finds it. Flushing it to the disk (the file,
        then its folder, so that the rename survives a power loss too) costs milliseconds and is done
        by a background thread within milliseconds of the broadcast rather than before it (see
        :meth:`flush`); an entry already finished when its turn comes (its receipt came first) is
        not flushed."""
        path = self._path(entry)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + f".{os.getpid()}.{threading.get_ident()}.tmp")
        with open(tmp, "w") as f:
            f.write(json.dumps(asdict(entry), sort_keys=True))
        os.replace(tmp, path)
        _flusher().submit(_flush_to_disk, path)
        if track:
            _track(entry.tx_hash, True)
        return entry

    @staticmethod
    def flush() -> None:
        """Wait until every entry recorded so far is on the disk (or finished)."""
        _flusher().submit(lambda: None).result()

    def release(self, tx_hash: str) -> None:
        """This process no longer waits for ``tx_hash`` (its entry, if left, is a leftover)."""
        _track(tx_hash, False)

    def update(self, entry: Entry, **changes: Any) -> Entry:
        new = replace(entry, **changes)
        self.record(new, track=False)
        return new

    def finish(self, entry_or_hash: Entry | str, chain_id: int | None = None, account: str | None = None,
               genesis: str = "") -> None:
        """Forget a transaction: mined (or never broadcast, or resolved)."""
        if isinstance(entry_or_hash, Entry):
            paths = [self._path(entry_or_hash)]
            tx_hash = entry_or_hash.tx_hash
        else:
            tx_hash = entry_or_hash
            paths = [e_path for e_path, _ in self._scan(chain_id, account, genesis)
                     if tx_hash.lower() in e_path.name]
        for path in paths:
            try:
                path.unlink()
            except FileNotFoundError:
                pass
        _track(tx_hash, False)

    def _scan(self, chain_id: int | None = None, account: str | None = None, genesis: str = "",
              leftovers_only: bool = False) -> list[tuple[Path, Entry]]:
        nodes = self._nodes(chain_id, genesis)
        if account is not None:
            folders = [node / account.lower() for node in nodes]
        else:
            folders = [p for node in nodes for p in node.glob("*") if p.is_dir()]
        found: list[tuple[Path, Entry]] = []
        for folder in folders:
            try:
                names = sorted(p for p in folder.iterdir() if p.suffix == ".json")
            except FileNotFoundError:
                continue
            for path in names:
                if leftovers_only and in_flight(path.stem.rpartition("-")[2]):
                    continue  # this process's own, in flight: not even read (pipelined sends keep many)
                try:
                    found.append((path, Entry(**json.loads(path.read_text()))))
                except (OSError, ValueError, TypeError):
                    continue  # half-written by a dying run: the rename never happened for real entries
        return found

    def entries(self, chain_id: int | None = None, account: str | None = None, *, genesis: str = "",
                leftovers_only: bool = False) -> list[Entry]:
        """Unfinished entries, oldest nonce first: of the node ``(chain_id, genesis)`` (and those
        written under the chain id alone), or of every node of ``chain_id`` when no ``genesis`` is
        given; ``leftovers_only`` skips those this process is still sending or waiting for."""
        out = [e for _, e in self._scan(chain_id, account, genesis, leftovers_only) if e.status == PENDING]
        return sorted(out, key=lambda e: (e.chain_id, e.account, e.nonce, e.created))

    def find(self, tx_hash: str, chain_id: int | None = None, genesis: str = "") -> Entry | None:
        for _, entry in self._scan(chain_id, None, genesis):
            if entry.tx_hash.lower() == tx_hash.lower():
                return entry
        return None


JOURNAL = Journal()
