"""The local node remembers its port: after ``node stop`` the network still names the port it ran
on (so an error names it, and another node on the default port is never used in its place), and
``node start --port`` on a node running on another port says so instead of ignoring the port."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.clitools import as_json, free_port, invoke, one_error_line

from p2pescrow.networks import Networks
from p2pescrow.node import devchain


@pytest.fixture
def running_anvil_record(home: Path) -> Iterator[int]:
    """A record of an Anvil "running" on a free port: a sleeping process whose command line names
    the engine and the port, which is what the node manager checks before trusting a record."""
    port = free_port()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "anvil", str(port)])
    try:
        record = devchain.record_path("anvil")
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps({"engine": "anvil", "pid": sleeper.pid, "port": port, "chain_id": 31337,
                                      "started": "2026-01-01T00:00:00+00:00"}))
        yield port
    finally:
        sleeper.kill()
        sleeper.wait()


def test_after_a_stop_the_local_network_names_the_port_the_node_last_ran_on(home: Path) -> None:
    port = free_port()
    devchain.last_port_path("anvil").parent.mkdir(parents=True, exist_ok=True)
    devchain.last_port_path("anvil").write_text(f"{port}\n")  # what `node start --port` leaves behind

    network = devchain.resolve(Networks().get("local"))
    listed = as_json(invoke("--json", "networks", "list"))
    failed = invoke("trade", "show", "0x" + "11" * 32)

    assert network.rpc_url == f"http://127.0.0.1:{port}"
    assert f"127.0.0.1:{port}" in json.dumps(listed)
    assert failed.exit_code == 4
    assert f"127.0.0.1:{port}" in one_error_line(failed.stderr) and "8545" not in one_error_line(failed.stderr)


def test_start_on_another_port_while_running_says_so_and_exits_2(running_anvil_record: int) -> None:
    other = running_anvil_record + 1

    result = invoke("node", "start", "--port", str(other))

    assert result.exit_code == 2
    line = one_error_line(result.stderr)
    assert f"already runs on port {running_anvil_record}" in line and str(other) in line
    assert "node stop" in line


def test_start_without_a_port_while_running_reports_the_running_node(running_anvil_record: int) -> None:
    result = invoke("node", "start")

    assert result.exit_code == 0
    assert f"already running at http://127.0.0.1:{running_anvil_record}" in result.stdout
