"""``p2pescrow node`` end to end, as a user runs it: the installed command, a real Anvil or Ganache
in the background on a free port, its state kept across stop and start.

Each test has its own config folder; every node it started is stopped at teardown, whatever
happened.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from support.clitools import as_json, free_port, needs_binary, ok, one_error_line, run

from p2pescrow.networks import Networks
from p2pescrow.node import process as _nodes

pytestmark = pytest.mark.slow

DEV1 = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
DEV9 = "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720"
NETWORK = {"anvil": "local", "ganache": "ganache"}
CHAIN_ID = {"anvil": 31337, "ganache": 1337}





def balance_of(home: Path, engine: str, name: str) -> str:
    return ok(run("--json", "--network", NETWORK[engine], "accounts", "show", name, home=home))["balance_eth"]


def send_eth(url: str, sender: str, to: str, wei: int) -> None:
    """A plain transfer, signed by the node (the dev accounts are unlocked on both engines)."""
    tx_hash = _nodes.rpc(url, "eth_sendTransaction", [{"from": sender, "to": to, "value": hex(wei)}], timeout=30)
    assert isinstance(tx_hash, str), "the node refused the transfer"
    deadline = time.monotonic() + 30
    while _nodes.rpc(url, "eth_getTransactionReceipt", [tx_hash]) is None:
        assert time.monotonic() < deadline, "no receipt"
        time.sleep(0.1)


def token_balance(url: str, token: str, holder: str) -> int:
    """``balanceOf(holder)`` by a raw eth_call: what the chain says, not what the CLI says."""
    data = "0x70a08231" + "00" * 12 + holder[2:].lower()
    return int(_nodes.rpc(url, "eth_call", [{"to": token, "data": data}, "latest"]), 16)


def start_stop_persist(engine: str, home: Path) -> tuple[int, dict]:
    """start -> again -> status -> deploy refused -> a transfer -> stop -> start -> all still there."""
    port = free_port()
    engine_args = ["--engine", engine]

    started = ok(run("--json", "node", "start", *engine_args, "--port", str(port), home=home))
    assert started["started"] is True and started["deployed_now"] is True
    assert started["url"] == f"http://127.0.0.1:{port}" and started["chain_id"] == CHAIN_ID[engine]
    escrow = started["deployment"]["escrow"]
    assert started["deployment"]["platform_fee_bps"] == 25

    again = run("node", "start", *engine_args, "--port", str(port), home=home)
    assert again.exit_code == 0 and f"{engine} is already running at http://127.0.0.1:{port}" in again.stdout

    status = ok(run("--json", "node", "status", *engine_args, home=home))
    (node,) = status["nodes"]
    assert node["running"] and node["answering"] and node["deployment_live"] is True
    assert node["pid"] == started["pid"] and node["port"] == port and node["block"] >= 3
    assert node["deployment"]["escrow"] == escrow
    text = run("node", "status", *engine_args, home=home).stdout
    assert f"url:        http://127.0.0.1:{port}" in text and escrow in text

    # The network follows the node to its port: no --rpc-url needed.
    again = run("--yes", "--network", NETWORK[engine], "deploy", home=home)  # nothing to do: exit 0, no account
    assert again.exit_code == 0, again.stderr
    assert f"already deployed on chain {CHAIN_ID[engine]} at {escrow}" in again.stdout
    assert "nothing to do; --force deploys a new pair" in again.stdout

    tokens = started["deployment"]["dev_tokens"]
    assert sorted(tokens) == ["DEUR", "DUSD"] and tokens == node["deployment"]["dev_tokens"]
    assert f"DUSD:       {tokens['DUSD']} (dev token)" in text
    assert token_balance(started["url"], tokens["DUSD"], DEV9) == 1_000_000 * 10**6  # minted at deployment
    newcomer = "0x" + "5e" * 20
    funded = ok(run("--json", "--network", NETWORK[engine], "node", "fund", newcomer, home=home))
    assert [(f["symbol"], f["amount"]) for f in funded["funded"]] == [
        ("ETH", "10"), ("DUSD", "10000"), ("DEUR", "10000")]
    ok(run("--json", "--network", NETWORK[engine], "node", "fund", newcomer, "0.5 eth", "2.25 DUSD", home=home))
    tiny = ok(run("--json", "--network", NETWORK[engine], "node", "fund", newcomer, "0.0000001 ETH", home=home))
    assert [(f["symbol"], f["amount"]) for f in tiny["funded"]] == [("ETH", "0.0000001")]  # never 1E-7
    assert int(_nodes.rpc(started["url"], "eth_getBalance", [newcomer, "latest"]), 16) == 105 * 10**17 + 10**11
    assert token_balance(started["url"], tokens["DUSD"], newcomer) == 10_002_250_000
    assert token_balance(started["url"], tokens["DEUR"], newcomer) == 10_000 * 10**18
    unknown = run("--network", NETWORK[engine], "node", "fund", newcomer, "5 USDC", home=home)
    assert unknown.exit_code == 2 and "USDC is not a dev token" in one_error_line(unknown.stderr)

    send_eth(started["url"], DEV1, DEV9, 3 * 10**18 // 2)
    assert balance_of(home, engine, "dev9") == "10001.5"
    block = ok(run("--json", "node", "status", *engine_args, home=home))["nodes"][0]["block"]

    stopped = ok(run("--json", "node", "stop", *engine_args, home=home))
    assert [s["pid"] for s in stopped["stopped"]] == [started["pid"]]
    assert not _nodes.process_alive(started["pid"])
    assert ok(run("--json", "node", "status", *engine_args, home=home))["running"] is False
    # The stopped node's network still names its port (nobody answers there): never the default
    # port, where another program's node may listen.
    down = as_json(run("--json", "--network", NETWORK[engine], "accounts", "show", "dev9", home=home))
    assert down["balance_wei"] is None
    assert Networks().get(NETWORK[engine]).rpc_url != f"http://127.0.0.1:{port}"  # the built-in default
    failed = run("--network", NETWORK[engine], "trade", "show", "0x" + "11" * 32, home=home)
    assert failed.exit_code == 4 and f"127.0.0.1:{port}" in one_error_line(failed.stderr)

    restarted = ok(run("--json", "node", "start", *engine_args, "--port", str(port), home=home))
    assert restarted["started"] is True and restarted["deployed_now"] is False
    assert restarted["deployment"]["escrow"] == escrow
    assert balance_of(home, engine, "dev9") == "10001.5"
    after = ok(run("--json", "node", "status", *engine_args, home=home))["nodes"][0]
    assert after["block"] >= block and after["deployment_live"] is True
    return port, restarted


@pytest.mark.anvil
def test_anvil_in_the_background_keeps_its_state_across_restarts(home: Path) -> None:
    needs_binary("anvil")
    port, restarted = start_stop_persist("anvil", home)
    assert (home / "node" / "anvil-state.json").is_file()

    reset = ok(run("--yes", "--json", "node", "reset", "--start", "--port", str(port), home=home))

    assert reset["stopped"] is True and reset["deployment_forgotten"] is True
    assert str(home / "node" / "anvil-state.json") in reset["removed"]
    assert reset["start"]["deployed_now"] is True and reset["start"]["pid"] != restarted["pid"]
    assert balance_of(home, "anvil", "dev9") == "10000"  # a fresh chain
    ok(run("node", "stop", home=home))


@pytest.mark.ganache
def test_ganache_in_the_background_keeps_its_state_across_restarts(home: Path) -> None:
    needs_binary("ganache")
    start_stop_persist("ganache", home)
    assert (home / "node" / "ganache-db").is_dir()

    reset = ok(run("--yes", "--json", "node", "reset", "--engine", "ganache", home=home))

    assert reset["stopped"] is True and reset["deployment_forgotten"] is True
    assert not (home / "node" / "ganache-db").exists()
    status = ok(run("--json", "node", "status", home=home))
    assert status["running"] is False
    assert json.loads((home / "deployments.json").read_text()).get("1337") is None


@pytest.mark.anvil
def test_anvil_killed_without_warning_keeps_what_it_saved(home: Path) -> None:
    """Anvil writes its state every few seconds too: a crash loses at most those seconds."""
    needs_binary("anvil")
    from p2pescrow.node.devchain import STATE_INTERVAL

    port = free_port()
    started = ok(run("--json", "node", "start", "--port", str(port), home=home))
    send_eth(started["url"], DEV1, DEV9, 10**18)
    time.sleep(STATE_INTERVAL + 1.5)

    os.kill(started["pid"], signal.SIGKILL)
    while _nodes.process_alive(started["pid"]):
        time.sleep(0.05)
    restarted = ok(run("--json", "node", "start", "--port", str(port), home=home))

    assert restarted["deployed_now"] is False
    assert balance_of(home, "anvil", "dev9") == "10001"
    ok(run("node", "stop", home=home))


@pytest.mark.anvil
def test_node_start_text_says_where_it_runs_and_how_to_stop(home: Path) -> None:
    needs_binary("anvil")
    port = free_port()

    result = run("node", "start", "--port", str(port), home=home)

    assert result.exit_code == 0, result.stderr
    assert f"anvil running at http://127.0.0.1:{port} (chain 31337" in result.stdout
    assert "deployed: escrow 0x" in result.stdout and "p2pescrow node stop" in result.stdout
    assert "starting anvil" in result.stderr  # progress goes to stderr
    stopped = run("node", "stop", home=home)
    assert "stopped anvil" in stopped.stdout


@pytest.mark.anvil
def test_funding_is_refused_on_a_chain_that_is_not_a_local_dev_chain(home: Path) -> None:
    """Chain id 11155111 (Sepolia's) on loopback, not started by `p2pescrow node`: not a dev chain,
    so nothing is sent, even though dev0's key could sign there."""
    needs_binary("anvil")
    with _nodes.start_node("anvil", chain_id=11155111) as node:
        before = _nodes.rpc(node.url, "eth_getTransactionCount", [DEV1, "latest"])
        refused = run("--rpc-url", node.url, "node", "fund", DEV9, "1 ETH", home=home)

        assert refused.exit_code == 2
        assert "only for local dev chains" in one_error_line(refused.stderr)
        assert _nodes.rpc(node.url, "eth_blockNumber") == "0x0"
        assert _nodes.rpc(node.url, "eth_getTransactionCount", [DEV1, "latest"]) == before
