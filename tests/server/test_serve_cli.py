"""`p2pescrow serve` as a user runs it: where it serves (one line; --port 0 a free port), its options and
their environment variables, and every refusal as one line with its exit code (a missing extra, a bad
setting, a port in use, the embedded chain, a node without a deployment, a database it cannot open);
and operating it as README says: an older schema upgraded on open, a rebuilt index and a backup made
with `VACUUM INTO` while it serves answer as the original."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.clitools import free_port, one_error_line, run
from support.market import MarketChain
from support.server import SERVING, ServedMarket, Server, register_deployment, serve

from p2pescrow.errors import InputError
from p2pescrow.server.settings import ServerSettings

pytestmark = pytest.mark.anvil

SERVER_EXTRA = ("error: `p2pescrow serve` needs the 'market,server' extra (missing: fastapi, uvicorn): "
                "pip install 'p2pescrow[market,server]'")


def test_without_the_server_extra_it_is_one_line_naming_the_install(tmp_path: Path) -> None:
    code = ("import sys\n"
            "for name in ('fastapi', 'uvicorn'):\n"
            "    sys.modules[name] = None\n"
            "from p2pescrow.cli import main\n"
            "sys.argv = ['p2pescrow', 'serve']\n"
            "main()\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("P2PESCROW_")}
    env["P2PESCROW_HOME"] = str(tmp_path / "home")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert one_error_line(done.stderr) == SERVER_EXTRA
    assert done.stdout == ""


def test_it_says_where_it_serves_on_the_free_port_it_took(served_market: ServedMarket) -> None:
    first = served_market.output().splitlines()[0]
    match = SERVING.match(first)
    assert match, first
    assert match.group(1) == served_market.record.escrow and int(match.group(2)) == served_market.record.chain_id
    url = match.group(3)
    assert url == served_market.url and re.fullmatch(r"http://127\.0\.0\.1:\d+", url) and not url.endswith(":0")
    assert match.group(4) == served_market.db_url


def test_the_help_names_every_option_and_its_variable(tmp_path: Path) -> None:
    done = run("serve", "--help", home=tmp_path)
    assert done.exit_code == 0
    text = " ".join(done.stdout.split())
    for option, variable in (("--host", "P2PESCROW_SERVE_HOST"), ("--port", "P2PESCROW_SERVE_PORT"),
                             ("--db", "P2PESCROW_DB"), ("--sync-interval", "P2PESCROW_SYNC_INTERVAL"),
                             ("--cors-origin", "P2PESCROW_CORS_ORIGINS"),
                             ("--page-size-max", "P2PESCROW_PAGE_SIZE_MAX"), ("--relay-rate", "P2PESCROW_RELAY_RATE")):
        assert option in text and variable in text, option


@pytest.mark.parametrize(("args", "env", "message"), [
    ((), {"P2PESCROW_SERVE_PORT": "http"}, "error: $P2PESCROW_SERVE_PORT is 'http', not a number"),
    (("--sync-interval", "0"), {}, "error: sync interval 0.0 s is out of range (hint: use 0.1 to 86400 seconds)"),
    ((), {"P2PESCROW_SYNC_INTERVAL": "-1"}, "error: sync interval -1.0 s is out of range"),
    (("--page-size-max", "5000"), {}, "error: page size maximum 5000 is out of range (hint: use 1 to 1000)"),
    (("--cors-origin", "app.example"), {}, "error: CORS origin 'app.example' is not an origin"),
    ((), {"P2PESCROW_CORS_ORIGINS": "https://ok.example,ftp://no.example"},
     "error: CORS origin 'ftp://no.example' is not an origin"),
    (("--port", "70000"), {}, "error: Invalid value for '--port'"),
], ids=["port-env", "interval", "interval-env", "page-size", "cors", "cors-env", "port-range"])
def test_a_bad_setting_is_one_line_and_exit_2(tmp_path: Path, args: tuple[str, ...], env: dict[str, str],
                                              message: str) -> None:
    done = run("--rpc-url", "http://127.0.0.1:9", "serve", *args, home=tmp_path, env=env, timeout=60)
    assert done.exit_code == 2, done.stderr
    assert one_error_line(done.stderr).startswith(message), done.stderr


def test_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = run("--rpc-url", "http://127.0.0.1:9", "serve", "--port", str(port), home=tmp_path, timeout=60)
    assert done.exit_code == 4, done.stderr
    assert one_error_line(done.stderr).startswith(f"error: cannot listen on 127.0.0.1:{port}: ")


def test_the_embedded_chain_has_no_market_to_serve(tmp_path: Path) -> None:
    done = run("--network", "embedded", "serve", home=tmp_path, timeout=60)
    assert done.exit_code == 2
    assert one_error_line(done.stderr).startswith("error: the embedded chain lives only inside one command")


def test_a_node_without_a_deployment_is_one_line(market_chain: MarketChain, tmp_path: Path) -> None:
    done = run("--rpc-url", market_chain.url, "serve", "--port", "0", "--db", f"sqlite:///{tmp_path / 'm.sqlite'}",
               home=tmp_path / "empty-home", timeout=60)
    assert done.exit_code == 2, done.stderr
    chain_id = market_chain.deployment.chain_id
    assert one_error_line(done.stderr).startswith(f"error: no p2pescrow deployment is recorded for chain id {chain_id}")


def test_a_database_it_cannot_open_is_one_line_its_password_hidden(market_chain: MarketChain,
                                                                   tmp_path: Path) -> None:
    home = tmp_path / "home"
    register_deployment(market_chain, home)
    url = f"postgresql://market:s3cret-pw@127.0.0.1:{free_port()}/market"
    done = run("--rpc-url", market_chain.url, "serve", "--port", "0", "--db", url, home=home, timeout=60)
    assert done.exit_code == 4, done.stderr
    line = one_error_line(done.stderr)
    assert line.startswith("error: cannot open the market database postgresql+psycopg://market:***@127.0.0.1:")
    assert "s3cret-pw" not in done.stderr + done.stdout


def test_host_port_and_interval_from_the_environment(market_chain: MarketChain, tmp_path: Path) -> None:
    port = free_port()
    env = {"P2PESCROW_SERVE_HOST": "127.0.0.1", "P2PESCROW_SERVE_PORT": str(port), "P2PESCROW_SYNC_INTERVAL": "0.2"}
    with serve(market_chain, f"sqlite:///{tmp_path / 'market.sqlite'}", tmp_path / "home", env=env) as server:
        assert server.url == f"http://127.0.0.1:{port}"
        assert server.health()["chain_id"] == market_chain.deployment.chain_id


def test_the_page_size_maximum_bounds_the_search(market_chain: MarketChain, tmp_path: Path) -> None:
    with serve(market_chain, f"sqlite:///{tmp_path / 'market.sqlite'}", tmp_path / "home",
               "--page-size-max", "3") as server:
        assert server.get("/api/offers", limit=3).status_code == 200
        refused = server.get("/api/offers", limit=4)
        assert refused.status_code == 422 and "limit" in refused.json()["error"]
        assert server.get("/api/offers").json()["limit"] == 3  # the default page is the maximum when smaller


def test_the_access_log_is_off_unless_asked_for(market_chain: MarketChain, served_market: ServedMarket,
                                                 tmp_path: Path) -> None:
    served_market.get("/api/stats")
    assert "/api/stats" not in served_market.output()
    with serve(market_chain, f"sqlite:///{tmp_path / 'market.sqlite'}", tmp_path / "home", "--access-log") as server:
        server.get("/api/stats")
        server.stop()
        assert '"GET /api/stats HTTP/1.1" 200' in server.output(), server.output()


# -- the settings, in process ----------------------------------------------------------------------
def test_an_option_wins_over_its_variable_which_wins_over_the_default() -> None:
    env = {"P2PESCROW_SERVE_HOST": "0.0.0.0", "P2PESCROW_SERVE_PORT": "8080", "P2PESCROW_SYNC_INTERVAL": "2.5",
           "P2PESCROW_CORS_ORIGINS": " https://a.example , https://b.example ,", "P2PESCROW_DB": "sqlite:///x.db"}
    settings = ServerSettings.from_env(env, port=9000, host=None)
    assert (settings.host, settings.port, settings.sync_interval, settings.db) == ("0.0.0.0", 9000, 2.5,
                                                                                  "sqlite:///x.db")
    assert settings.cors_origins == ("https://a.example", "https://b.example")
    defaults = ServerSettings.from_env({})
    assert (defaults.host, defaults.port, defaults.sync_interval, defaults.cors_origins, defaults.page_size_max,
            defaults.body_max_bytes) == ("127.0.0.1", 8000, 5.0, (), 100, 64 * 1024)
    with pytest.raises(InputError, match="P2PESCROW_SERVE_PORT"):
        ServerSettings.from_env({"P2PESCROW_SERVE_PORT": "eighty"})


# -- operating it: schema upgrades, rebuilding the index, backups (README "Serving the market") -------
def _stats(server: Server) -> dict[str, Any]:
    answer = server.get("/api/stats")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _revision(db_url: str) -> str:
    import sqlite3

    with contextlib.closing(sqlite3.connect(db_url.removeprefix("sqlite:///"))) as db:
        return str(db.execute("SELECT version_num FROM alembic_version").fetchone()[0])


def test_an_older_schema_is_upgraded_when_the_server_opens_it(market_chain: MarketChain,
                                                              served_market: ServedMarket, tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    from p2pescrow.market.db import MIGRATIONS, create_database_engine

    db_url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = create_database_engine(db_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")  # an index made by the first release
    engine.dispose()
    assert _revision(db_url) == "0001"
    with serve(market_chain, db_url, tmp_path / "home") as server:
        server.wait_synced()
        assert _revision(db_url) == "0003"
        assert _stats(server) == _stats(served_market)


def test_a_rebuilt_index_and_a_backup_answer_as_the_original(market_chain: MarketChain,
                                                             served_market: ServedMarket, tmp_path: Path) -> None:
    import sqlite3

    served_market.wait_synced()
    original = {path: served_market.get(path).json() for path in ("/api/stats", "/api/offers")}
    backup = tmp_path / "backup.sqlite"
    with contextlib.closing(sqlite3.connect(served_market.db_url.removeprefix("sqlite:///"))) as db:
        db.execute("VACUUM INTO ?", (str(backup),))  # while the server runs
    for db_url in (f"sqlite:///{tmp_path / 'rebuilt.sqlite'}", f"sqlite:///{backup}"):
        with serve(market_chain, db_url, tmp_path / "home") as server:
            server.wait_synced()
            assert {path: server.get(path).json() for path in original} == original, db_url
