"""End to end, as traders would: the installed `p2pescrow` command, one process per step, against a
node started with `p2pescrow node start`. Two accounts run a whole trade across invocations; the
node is stopped and started in the middle, and the trade is still there, where it was."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.clitools import free_port, ok, run

BUYER, SELLER = "dev1", "dev2"
SELLER_ADDRESS = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
NETWORK = {"anvil": "local", "ganache": "ganache"}




def p2pescrow(home: Path, engine: str, account: str | None, *args: str) -> dict:
    who = ["--account", account] if account else []
    return ok(run("--json", "--yes", "--network", NETWORK[engine], *who, *args, home=home))


@pytest.mark.parametrize("engine", [pytest.param("anvil", marks=pytest.mark.anvil),
                                    pytest.param("ganache", marks=pytest.mark.ganache)])
def test_two_traders_run_a_whole_trade_across_invocations_and_a_node_restart(home: Path, engine: str) -> None:
    port = str(free_port())
    ok(run("--json", "node", "start", "--engine", engine, "--port", port, home=home))

    p2pescrow(home, engine, BUYER, "trade", "create", "--seller", SELLER_ADDRESS, "--amount", "1.5 ETH")
    (trade,) = p2pescrow(home, engine, BUYER, "trade", "list", "--mine")["trades"]
    trade_id = trade["id"]
    assert trade["state"] == "FUNDED"
    p2pescrow(home, engine, SELLER, "trade", "deliver", trade_id)

    ok(run("--json", "node", "stop", "--engine", engine, home=home))
    ok(run("--json", "node", "start", "--engine", engine, "--port", port, home=home))

    shown = p2pescrow(home, engine, BUYER, "trade", "show", trade_id)["trade"]
    assert shown["state"] == "FUNDED" and shown["delivery_marked"] is True  # still there, as it was
    seller_before = p2pescrow(home, engine, None, "accounts", "show", SELLER)["balance_wei"]

    p2pescrow(home, engine, BUYER, "trade", "release", trade_id)

    assert p2pescrow(home, engine, SELLER, "trade", "show", trade_id)["trade"]["state"] == "COMPLETED"
    seller_after = p2pescrow(home, engine, None, "accounts", "show", SELLER)["balance_wei"]
    assert int(seller_after) - int(seller_before) == 15 * 10**17 - 15 * 10**17 * 25 // 10_000  # less 0.25%
    records = p2pescrow(home, engine, None, "rep", "show", SELLER_ADDRESS)["reputation"]["records"]
    (as_seller,) = [r for r in records if r["role"] == "seller"]  # the seller acted (delivered): it counts
    assert (as_seller["symbol"], as_seller["completed"], as_seller["volume"]) == ("ETH", 1, "1.5")
    ok(run("--json", "node", "stop", "--engine", engine, home=home))
