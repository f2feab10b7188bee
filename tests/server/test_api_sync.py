"""The background sync: while `p2pescrow serve` runs, the index follows the chain. A trade made and an
offer published after the server started are served within a few sync intervals; a node that stops
answering shows in /api/health (the API keeps answering from the index; a trade, whose current slot is
the node's, is a 503 with Retry-After) and the sync resumes when the node is back."""

from __future__ import annotations

import time
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.market import MarketChain, document, publish, trade_key
from support.server import ServedMarket, serve
from support.stopping_proxy import StoppingProxy
from support.v2 import live

pytestmark = pytest.mark.anvil


def eventually(check: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    """``check()``'s first truthy answer, polled every 0.1 s."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.1)


def test_a_trade_made_after_start_is_served(served_market: ServedMarket) -> None:
    before = served_market.health()["head_indexed"]
    terms = live(served_market.chain.d)
    trade_id = trade_key(terms)

    def served() -> dict[str, Any] | None:
        answer = served_market.get(f"/api/trades/{trade_id}")
        return answer.json() if answer.status_code == 200 else None

    trade = eventually(served, what=f"trade {trade_id} served")
    assert trade["state"] == "funded" and trade["history"][0]["name"] == "TradeCreated"
    assert served_market.health()["head_indexed"] > before


def test_an_offer_published_after_start_is_found(served_market: ServedMarket) -> None:
    publish(served_market.chain, document("Telescope, barely used", category="optics"))
    found = eventually(lambda: served_market.get("/api/offers", category="optics").json()["offers"],
                       what="the telescope listed")
    assert [o["title"] for o in found] == ["Telescope, barely used"]


def test_a_node_that_stops_answering_shows_in_health_and_the_sync_resumes(
        market_chain: MarketChain, served_market: ServedMarket, tmp_path: Path) -> None:
    with StoppingProxy(market_chain.url) as proxy, \
            serve(market_chain, f"sqlite:///{tmp_path / 'market.sqlite'}", tmp_path / "home",
                  rpc_url=proxy.url) as server:
        server.wait_synced()
        offers = server.get("/api/offers").json()["offers"]
        proxy.stop()
        terms = live(market_chain.d)  # made while the server cannot see the node
        failing = eventually(lambda: (h := server.health())["sync_error"] and h, what="the sync error shown")
        assert failing["sync_error"]
        assert server.get("/api/offers").json()["offers"] == offers  # still answered, from the index
        assert server.get(f"/api/trades/{trade_key(terms)}").status_code == 404  # not indexed yet
        known = served_market.trades["released"]  # in the index, its current slot read from the node: 503
        unavailable = server.get(f"/api/trades/{known}")
        assert unavailable.status_code == 503 and unavailable.headers["retry-after"] == "5"
        assert unavailable.json()["error"].startswith("the node does not answer"), unavailable.json()
        proxy.stopped = False  # the node answers again
        health = eventually(lambda: (h := server.health())["sync_error"] is None and h, what="the sync resumed")
        assert health["head_indexed"] >= market_chain.chain.w3.eth.block_number
        assert server.get(f"/api/trades/{trade_key(terms)}").json()["state"] == "funded"


def test_stopping_the_server_ends_it_cleanly(market_chain: MarketChain, served_market: ServedMarket,
                                             tmp_path: Path) -> None:
    with serve(market_chain, f"sqlite:///{tmp_path / 'market.sqlite'}", tmp_path / "home") as server:
        server.wait_synced()
        started = time.monotonic()
        assert server.stop() == 0, server.output()
        assert time.monotonic() - started < 10
        try:
            httpx.get(f"{server.url}/api/health", timeout=2)
        except httpx.TransportError:
            pass
        else:
            raise AssertionError("the server still answers after SIGTERM")
        assert "Traceback" not in server.output(), server.output()
        assert server.output().splitlines()[-1] == "Stopped serving the market (SIGTERM).", server.output()


# -- the loop itself, in process ---------------------------------------------------------------------
def test_the_loop_waits_longer_after_each_failure_and_stops_at_once() -> None:
    import asyncio

    from p2pescrow.server.syncing import BACKOFF_MAX, SyncLoop

    calls: list[float] = []

    class NodeGone:
        def sync_once(self) -> None:
            calls.append(time.monotonic())
            raise ConnectionError("the node does not answer")

    loop = SyncLoop(NodeGone(), 0.05)
    assert [loop.delay(n) for n in range(4)] == [0.05, 0.1, 0.2, 0.4]
    assert loop.delay(40) == BACKOFF_MAX

    async def run() -> float:
        loop.start()
        await asyncio.sleep(1.0)
        assert loop.running
        asked = time.monotonic()
        await loop.stop()
        assert not loop.running
        return time.monotonic() - asked

    assert asyncio.run(run()) < 0.5  # stopped while waiting: at once
    gaps = [b - a for a, b in pairwise(calls)]  # about 0.1, 0.2, 0.4 s
    assert len(calls) >= 3 and all(later > 1.3 * earlier for earlier, later in pairwise(gaps)), gaps
