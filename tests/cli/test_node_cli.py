"""``p2pescrow node`` without a node running: status, stop, reset, and start's failures."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.clitools import as_json, free_port, invoke, one_error_line

from p2pescrow.deployments import Deployment, Registry
from p2pescrow.networks import BUILTIN
from p2pescrow.node import devchain


def test_status_with_nothing_running() -> None:
    text = invoke("node", "status")
    document = as_json(invoke("--json", "node", "status"))

    assert text.exit_code == 0
    assert "anvil: not running" in text.stdout and "ganache: not running" in text.stdout
    assert "p2pescrow node start" in text.stdout
    assert document["running"] is False
    assert [(n["engine"], n["running"], n["pid"]) for n in document["nodes"]] == [
        ("anvil", False, None), ("ganache", False, None)]


def test_status_of_one_engine() -> None:
    document = as_json(invoke("--json", "node", "status", "--engine", "ganache"))

    assert [n["engine"] for n in document["nodes"]] == ["ganache"]


def test_stop_with_nothing_running_is_fine() -> None:
    result = invoke("node", "stop")

    assert result.exit_code == 0
    assert "no local node was running" in result.stdout
    assert as_json(invoke("--json", "node", "stop")) == {"ok": True, "stopped": []}


@pytest.mark.parametrize(
    "command", [["node", "start"], ["node", "status"], ["node", "reset", "--yes"], ["--yes", "node", "reset"]]
)
def test_an_unknown_engine_is_a_usage_error(command: list[str]) -> None:
    result = invoke(*command, "--engine", "hardhat")

    assert result.exit_code == 2
    assert "hardhat" in result.stderr


def test_a_port_out_of_range_is_a_usage_error() -> None:
    assert invoke("node", "start", "--port", "70000").exit_code == 2


def test_a_stale_record_reads_as_not_running_and_is_removed(home: Path) -> None:
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)
    record = devchain.record_path("anvil")
    record.parent.mkdir(parents=True)
    record.write_text(json.dumps({"engine": "anvil", "pid": int(finished.stdout), "port": 8545,
                                  "chain_id": 31337, "started": "2026-01-01T00:00:00+00:00"}))

    document = as_json(invoke("--json", "node", "status", "-e", "anvil"))

    assert document["running"] is False
    assert not record.exists()


def test_a_record_whose_pid_is_another_program_is_not_trusted(home: Path) -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        record = devchain.record_path("anvil")
        record.parent.mkdir(parents=True)
        record.write_text(json.dumps({"engine": "anvil", "pid": other.pid, "port": 8545,
                                      "chain_id": 31337, "started": "2026-01-01T00:00:00+00:00"}))

        assert devchain.running("anvil") is None
        assert invoke("node", "stop").stdout.strip() == "no local node was running"
        assert other.poll() is None  # not ours: left alone
    finally:
        other.kill()
        other.wait()


def test_reset_asks_first_and_without_a_terminal_needs_yes(home: Path) -> None:
    result = invoke("node", "reset")

    assert result.exit_code == 2
    assert "pass --yes" in one_error_line(result.stderr)


def test_reset_deletes_the_state_and_forgets_the_deployment(home: Path) -> None:
    state = devchain.state_path("anvil")
    state.parent.mkdir(parents=True)
    state.write_text("{}")
    Registry().put(Deployment(31337, "0x" + "11" * 20, "0x" + "22" * 20, 1, "0x" + "33" * 20, "0x" + "33" * 20,
                              25, "0x" + "00" * 32, "0x" + "00" * 32))
    Registry().put(Deployment(1337, "0x" + "44" * 20, "0x" + "22" * 20, 1, "0x" + "33" * 20, "0x" + "33" * 20,
                              25, "0x" + "00" * 32, "0x" + "00" * 32))

    document = as_json(invoke("--yes", "--json", "node", "reset"))

    assert document["stopped"] is False and document["deployment_forgotten"] is True
    assert document["removed"] == [str(state)]
    assert not state.exists()
    assert Registry().get(31337) is None
    assert Registry().get(1337) is not None  # ganache's chain is another chain


@pytest.fixture
def occupied_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield int(s.getsockname()[1])


def test_start_on_a_busy_port_exits_4_with_a_hint(occupied_port: int) -> None:
    result = invoke("node", "start", "--port", str(occupied_port))

    assert result.exit_code == 4
    line = one_error_line(result.stderr.replace("starting anvil ...\n", ""))
    assert f"port {occupied_port} is already in use" in line and "--port" in line
    assert devchain.running("anvil") is None


def test_start_without_the_binary_exits_2_and_says_npm_ci(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("P2PESCROW_NODE_MODULES", str(tmp_path / "no-node-modules"))
    monkeypatch.setenv("PATH", str(tmp_path))

    result = invoke("node", "start", "--port", str(free_port()))

    assert result.exit_code == 2
    assert "npm ci" in one_error_line(result.stderr.replace("starting anvil ...\n", ""))


def test_the_local_network_is_unchanged_when_no_managed_node_runs() -> None:
    assert devchain.resolve(BUILTIN["local"]) == BUILTIN["local"]
    assert devchain.resolve(BUILTIN["embedded"]) == BUILTIN["embedded"]


@pytest.mark.parametrize("where", ["before", "after"])
def test_yes_is_taken_before_or_after_the_command(where: str) -> None:
    args = ["--yes", "node", "reset"] if where == "before" else ["node", "reset", "--yes"]

    assert invoke(*args).exit_code == 0
