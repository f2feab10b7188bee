"""The market benchmark's chain generator and its section of `python -m tools.bench`, at a tiny size."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from p2pescrow.node.process import NodeBinaryNotFound, find_binary
from tools import bench, bench_market, market_fixture
from tools.market_fixture import FixtureConfig, fixture_chain

#: 40 trades and 40 offers (8 closed: 4 filled, 4 revoked), in rounds of 20 trades.
TINY = FixtureConfig(trades=40, offers=40, closed_offers=8, trades_per_round=20, block_txs=25)

pytestmark = pytest.mark.anvil


@pytest.fixture(autouse=True)
def _anvil() -> None:
    try:
        find_binary("anvil")
    except NodeBinaryNotFound as exc:
        pytest.skip(str(exc))


def test_the_fixture_is_the_same_chain_every_time_and_loads_from_its_cache(tmp_path: Path) -> None:
    with fixture_chain(TINY, cache_dir=tmp_path) as made:
        assert not made.loaded
        head, head_hash, counts = made.head, made.head_hash, made.counts
    key = TINY.key(market_fixture.code_hash())
    assert {p.name for p in tmp_path.iterdir()} == {f"{key}.json", f"{key}.state.json"}
    with fixture_chain(TINY, cache_dir=tmp_path) as loaded:
        assert loaded.loaded
        assert (loaded.head, loaded.head_hash) == (head, head_hash)
        assert loaded.deployment.escrow == made.deployment.escrow
    with fixture_chain(TINY, cache_dir=None) as again:  # generated anew, not cached
        assert not again.loaded
        assert (again.head, again.head_hash) == (head, head_hash)
    assert counts == {"offers_published": 40, "offers_filled": 4, "offers_revoked": 4, "trades": 40,
                      "trades_released": 24, "trades_refunded": 6, "trades_timed_out": 4, "trades_ruled": 4,
                      "trades_settled": 2}


def test_another_configuration_is_another_chain() -> None:
    code = market_fixture.code_hash()
    assert TINY.key(code) != FixtureConfig(trades=40, offers=40, closed_offers=8, seed=14).key(code)
    assert TINY.key(code) != TINY.key("another contract")


def test_offers_are_signed_as_the_sdk_signs_them() -> None:
    from eth_account import Account

    from p2pescrow.core.offers import Offer, sign_offer
    from p2pescrow.node.process import dev_accounts

    dev = dev_accounts(count=market_fixture.ACCOUNTS)
    addresses = [d.address for d in dev]
    escrow = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    offers, _ = market_fixture.plan(TINY, addresses, escrow)
    planned = offers[3]
    seller = Account.from_key(dev[planned.seller].private_key)
    ours = market_fixture.OfferSigner(31337, escrow).sign(planned.fields, seller)
    sdk = sign_offer(Offer(*planned.fields), 31337, escrow, seller)
    assert ours == sdk.signature


def test_the_market_section_syncs_searches_and_lists_on_both_engines(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    tiny = bench_market.MarketConfig(fixture=TINY, searches=2, cli_repeats=1, cache_dir=tmp_path)
    monkeypatch.setattr(bench_market, "MarketConfig", lambda: tiny)
    assert bench.main(["--only", "market", "--json", "-"]) == 0
    doc = json.loads(capsys.readouterr().out)["market"]

    assert doc["fixture"]["counts"]["trades"] == 40
    sqlite, postgres = doc["sync"]["sqlite"], doc["sync"]["postgresql"]
    assert sqlite["events"] == postgres["events"] > 40 + 40  # at least a publish and a creation each
    for synced in (sqlite, postgres):
        assert synced["rows"]["offers"] == 40 and synced["rows"]["trades"] == 40
        assert synced["rejected"] == 0 and synced["events_per_s"] > 0
    for engine in ("sqlite", "postgresql"):
        search = doc["search"][engine]
        assert search["calls"] == 2 * len(bench_market.QUERIES)
        assert 0 < search["p50_ms"] <= search["p99_ms"] <= search["max_ms"]
    # the same offers are found on both engines
    assert ({q: r["hits"] for q, r in doc["search"]["sqlite"]["queries"].items()}
            == {q: r["hits"] for q, r in doc["search"]["postgresql"]["queries"].items()})
    assert doc["search"]["sqlite"]["queries"]["everything, newest first"]["hits"] > 0

    listed = doc["trade_list_mine"]
    assert listed["expected"] == 2  # dev 1 buys trades 0 and 30
    assert listed["status"] == "ok" and listed["listed"] == 2 and listed["s"] > 0
    assert set(doc["targets"]) == {"search_p99_ms", "trade_list_mine_s"}

    text = bench_market.format_report(doc)
    assert "into sqlite" in text and "into postgresql" in text
    assert "search p99 in SQLite" in text and "trade list --mine" in text


def test_the_fixture_s_trades_end_as_planned(tmp_path: Path) -> None:
    """The index of the tiny chain holds every trade in the state its outcome says."""
    from sqlalchemy import select

    from p2pescrow.market import schema
    from p2pescrow.market.db import open_database
    from p2pescrow.market.sync import Indexer
    from p2pescrow.states import TradeState

    with fixture_chain(TINY, cache_dir=tmp_path) as fx:
        engine = open_database(f"sqlite:///{tmp_path}/index.sqlite")
        Indexer(engine, fx.url, fx.deployment).sync()
        with engine.connect() as c:
            states = Counter(TradeState(row[0]).name for row in c.execute(select(schema.Trade.__table__.c.state)))
            offers = Counter(str(row[0]) for row in c.execute(select(schema.Offer.__table__.c.status)))
        engine.dispose()
    # 24 released, 6 refunded, 4 timed out (to the seller when the terms say so, else to the buyer)
    assert sum(states.values()) == 40
    assert states["SETTLED"] == 2 and states["RESOLVED"] == 4
    assert states["COMPLETED"] >= 24 and states["REFUNDED"] >= 6
    assert states["COMPLETED"] + states["REFUNDED"] == 24 + 6 + 4
    assert offers["filled"] == 4 and offers["revoked"] == 4 and offers["open"] == 32
