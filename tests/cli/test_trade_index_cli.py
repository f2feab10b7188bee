"""`trade list`, `trade list --due`, `trade history` and `trade show PREFIX` with a market index in the config
folder (made by `market sync`) read the index, synced first, instead of scanning the chain's logs: no
``eth_getLogs`` reaches back before the last sync, and the answers are those of the chain scan. An index
the escrow has not moved past is read with ``sqlite3`` alone (SQLAlchemy is not even loaded)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.escrow_cli import DEV, Cli, one_error_line

from p2pescrow.cli.commands import trade as trade_commands
from p2pescrow.transport.rpc import RpcClient

pytestmark = pytest.mark.anvil


def log_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The first block of every ``eth_getLogs`` the stdlib JSON-RPC client sends from now on."""
    starts: list[int] = []
    post = RpcClient._post

    def spy(self: RpcClient, body: Any) -> Any:
        for call in body if isinstance(body, list) else [body]:
            if call.get("method") == "eth_getLogs":
                starts.append(int(call["params"][0]["fromBlock"], 16))
        return post(self, body)

    monkeypatch.setattr(RpcClient, "_post", spy)
    return starts


def reads(cli: Cli, trade_id: str, disputed: str) -> dict[str, Any]:
    """What each read command says (JSON), keyed by its arguments."""
    commands: list[tuple[tuple[str, ...], str | None]] = [
        (("trade", "list", "--mine"), "dev1"),
        (("trade", "list"), None),
        (("trade", "list", "--state", "disputed"), None),
        (("trade", "list", "--party", DEV["dev4"]), None),
        (("trade", "list", "--due"), "dev3"),
        (("trade", "list", "--due"), "dev2"),
        (("trade", "history", disputed[:10]), None),
        (("trade", "history", trade_id), None),
        (("trade", "show", trade_id[:12]), "dev1")]
    return {" ".join(args) + f" as {who}": cli.json(*args, account=who) for args, who in commands}


def test_reads_come_from_the_index_synced_first_and_say_what_the_chain_scan_says(
        cli: Cli, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    released = cli.create("dev2", "0.1")
    cli.ok("trade", "release", released)
    disputed = cli.create("dev2", "0.2", "--arbiter", DEV["dev3"], "--arbiter-fee", "1%")
    cli.ok("trade", "dispute", disputed)
    cli.ok("market", "sync", account=None)
    assert (home / "market.sqlite").is_file()
    synced = cli.chain.sdk().w3.eth.block_number
    newer = cli.create("dev4", "0.3")  # after the sync: the index is behind

    starts = log_reads(monkeypatch)
    indexed = reads(cli, released, disputed)
    assert starts and min(starts) > synced  # only the blocks since the sync were read, by the sync itself
    mine = [t["id"] for t in indexed["trade list --mine as dev1"]["trades"]]
    assert mine[-3:] == [released, disputed, newer]  # the newest trade too, newest last
    assert [d["trade_id"] for d in indexed["trade list --due as dev3"]["due"]] == [disputed]
    assert indexed["trade history " + disputed[:10] + " as None"]["trade_id"] == disputed

    monkeypatch.setattr(trade_commands, "_indexed", lambda options, reads: None)  # today's path: the scan
    del starts[:]
    scanned = reads(cli, released, disputed)
    assert min(starts) <= synced  # this one did scan the chain's history
    assert indexed == scanned


def test_an_unknown_prefix_is_the_same_error_with_the_index(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    cli.ok("market", "sync", account=None)
    ids = [t["id"] for t in cli.json("trade", "list", account=None)["trades"]]
    unknown = next("0x" + d * 8 for d in "0123456789abcdef" if not any(i.startswith("0x" + d * 8) for i in ids))
    errors = [one_error_line(cli("trade", "show", unknown)), one_error_line(cli("trade", "history", unknown))]
    monkeypatch.setattr(trade_commands, "_indexed", lambda options, reads: None)
    assert errors == [one_error_line(cli("trade", "show", unknown)), one_error_line(cli("trade", "history", unknown))]
    assert "no trade id starts with" in errors[0]


_RUN = """
import json, sys
from p2pescrow.cli.app import main
sys.argv = ["p2pescrow", *sys.argv[2:]]
try:
    main()
except SystemExit as exc:
    assert not exc.code, exc.code
loaded = sorted({m.split(".")[0] for m in sys.modules if m.split(".")[0] in ("web3", "eth_account", "sqlalchemy")})
with open(__import__("os").environ["LOADED_FILE"], "w") as out:
    json.dump(loaded, out)
"""


def test_trade_list_over_the_index_loads_neither_web3_nor_eth_account(cli: Cli, tmp_path: Path) -> None:
    import json
    import os
    import subprocess
    import sys

    cli.create("dev2", "0.1")
    cli.ok("market", "sync", account=None)
    cli.create("dev2", "0.2")  # a block to sync first
    loaded = tmp_path / "loaded.json"
    done = subprocess.run([sys.executable, "-c", _RUN, "-", "--network", "local", "--rpc-url", cli.chain.url,
                           "--account", "dev1", "--json", "trade", "list", "--mine"],
                          env={**os.environ, "LOADED_FILE": str(loaded)}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["trades"]) >= 2
    assert json.loads(loaded.read_text()) == ["sqlalchemy"]  # the index read, without web3 or eth-account


def test_a_current_index_is_read_with_the_standard_library_alone(cli: Cli, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import json
    import os
    import subprocess
    import sys

    cli.create("dev2", "0.1")
    cli.ok("market", "sync", account=None)  # nothing happens to the escrow after: the index is current
    loaded = tmp_path / "loaded.json"
    done = subprocess.run([sys.executable, "-c", _RUN, "-", "--network", "local", "--rpc-url", cli.chain.url,
                           "--account", "dev1", "--json", "trade", "list", "--mine"],
                          env={**os.environ, "LOADED_FILE": str(loaded)}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(loaded.read_text()) == []  # read by sqlite3: not even SQLAlchemy loaded
    monkeypatch.setattr(trade_commands, "_indexed", lambda options, reads: None)  # the chain scan
    assert json.loads(done.stdout) == cli.json("trade", "list", "--mine")


def test_a_named_database_that_does_not_answer_is_one_line_and_one_without_this_escrow_is_not_read(
        cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = cli("trade", "list", extra=("--db", "postgresql://market:secret@127.0.0.1:9/market"))
    assert result.exit_code == 4, result.stderr
    assert one_error_line(result).startswith("error: cannot open the market database postgresql+psycopg://market:***@")
    assert "secret" not in result.stderr
    empty = tmp_path / "empty.sqlite"
    scanned = cli.json("trade", "list", "--mine")
    starts = log_reads(monkeypatch)
    assert cli.json("trade", "list", "--mine", extra=("--db", f"sqlite:///{empty}")) == scanned
    assert min(starts) <= cli.chain.sdk().deployment.block  # no index of this escrow there: the chain scanned
