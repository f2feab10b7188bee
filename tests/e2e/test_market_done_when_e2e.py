"""The market issue's "Done when", as the installed command runs it, on Anvil and on Ganache, from a fresh
config folder: `p2pescrow node start`, three `offer create ... --out`, three `offer publish`, then
`p2pescrow --json market search` lists the three with their sellers' screening; after one `offer fill`, it
lists two; `p2pescrow --json market stats` counts the trade.

And, at a real terminal, a long `market sync` shows its progress and ends saying what it did."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.clitools import free_port, needs_binary, ok, run, run_in_terminal

from p2pescrow.node import process as _nodes

pytestmark = pytest.mark.slow

NETWORK = {"anvil": "local", "ganache": "ganache"}
DEV = {"dev1": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "dev2": "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
       "dev3": "0x90F79bf6EB2c4f870365E785982E1f101E93b906", "dev4": "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65"}
#: (seller, title, category, price) of the three offers.
OFFERS = [("dev2", "Road bike, size 56", "bikes", "0.8"), ("dev2", "Desk lamp", "home", "0.2"),
          ("dev4", "Phone, unlocked", "electronics", "0.5")]


@pytest.mark.parametrize("engine", [pytest.param("anvil", marks=pytest.mark.anvil),
                                    pytest.param("ganache", marks=pytest.mark.ganache)])
def test_three_offers_published_are_found_filled_and_counted(home: Path, tmp_path: Path, engine: str) -> None:
    needs_binary(engine)
    assert not home.exists()  # a fresh config folder: no registry, no index
    ok(run("--json", "node", "start", "--engine", engine, "--port", str(free_port()), home=home))
    net = ["--network", NETWORK[engine]]

    for number, (seller, title, category, price) in enumerate(OFFERS):
        path = tmp_path / f"offer{number}.json"
        ok(run(*net, "--account", seller, "--json", "offer", "create", "--amount", price, "--title", title,
               "--description", f"{title}: as shown, collected in person", "--category", category,
               "--arbiter", DEV["dev3"], "--arbiter-fee", "1%", "--out", str(path), home=home))
    for number, (seller, *_) in enumerate(OFFERS):
        published = run(*net, "--account", seller, "--yes", "offer", "publish", str(tmp_path / f"offer{number}.json"),
                        home=home)
        assert published.exit_code == 0, published.stderr
        assert "public forever" in published.stderr  # said even with --yes

    before = ok(run(*net, "--json", "rep", "show", DEV["dev2"], home=home))["reputation"]
    assert "screening" not in before and not (home / "market.sqlite").exists()  # no index yet: none made

    found = ok(run(*net, "--json", "market", "search", home=home))
    offers = {o["title"]: o for o in found["offers"]}
    assert set(offers) == {title for _, title, _, _ in OFFERS} and found["count"] == 3
    for seller, title, category, price in OFFERS:
        offer = offers[title]
        assert offer["seller"] == DEV[seller] and offer["category"] == category
        assert offer["amount"]["value"] == price and offer["token"]["symbol"] == "ETH"
        screening = offer["screening"]
        assert screening["address"] == DEV[seller] and screening["score"] == "3.00"  # never rated yet
        assert screening["completed"] == 0 and screening["records"] == []

    lamp = offers["Desk lamp"]
    filled = ok(run(*net, "--account", "dev1", "--yes", "--json", "offer", "fill", lamp["id"], home=home))
    assert filled["trade"]["seller"] == DEV["dev2"] and filled["trade"]["buyer"] == DEV["dev1"]

    after = ok(run(*net, "--json", "market", "search", home=home))
    assert {o["title"] for o in after["offers"]} == {"Road bike, size 56", "Phone, unlocked"}
    assert after["count"] == 2

    shown = ok(run(*net, "--json", "rep", "show", DEV["dev2"], home=home))["reputation"]
    assert shown["screening"]["address"] == DEV["dev2"]  # the index exists now: rep show adds its screening

    stats = ok(run(*net, "--json", "market", "stats", home=home))["stats"]
    assert stats["trades"] == 1 and stats["funded"] == 1
    assert sum(stats["outcomes"].values()) == 1
    assert [(p["token"], int(p["volume"]), p["trades"]) for p in stats["volume_by_day"]] == \
        [("0x0000000000000000000000000000000000000000", 2 * 10**17, 1)]


@pytest.mark.anvil
def test_a_long_sync_shows_its_progress_at_a_terminal(home: Path) -> None:
    needs_binary("anvil")
    url = ok(run("--json", "node", "start", "--engine", "anvil", "--port", str(free_port()), home=home))["url"]
    _nodes.rpc(url, "anvil_mine", [hex(6_000)], timeout=60)  # three pages of blocks to read
    code, screen = run_in_terminal("--network", "local", "market", "sync", home=home, answers=[])
    assert code == 0, screen
    assert "syncing the market index: block" in screen and "(100%)" in screen
    assert "Synced blocks" in screen and "market.sqlite" in screen
    again = run("--network", "local", "market", "sync", home=home)  # not a terminal: no progress, the result
    assert again.exit_code == 0 and again.stderr == ""
    assert again.stdout.startswith(("Synced blocks", "The market index is up to date"))
