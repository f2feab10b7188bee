"""``Indexer.sync`` on a real Anvil with the v2 escrow: after trades that end every main way and
offers filled, revoked and left open, one sync gives the rows the chain says (trades with state,
outcome and fees; offers with status; the rating; the listings; the seller's free bond); a second
sync reads only the new blocks; a sync is resumable from where it stopped and reports its progress.
Every test runs on SQLite and on PostgreSQL (``db_url``).
"""

from __future__ import annotations

import itertools
import json

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from support.escrow import ETH
from support.market import MarketChain, document, domain_rows, fee, make_history, publish, trade_key
from support.v2 import SELLER_DEPOSIT

from p2pescrow.market import schema as s
from p2pescrow.market.db import open_database
from p2pescrow.market.sync import ChainMismatch, Indexer
from p2pescrow.states import TradeState
from p2pescrow.transport.rpc import RpcClient, RpcError

pytestmark = pytest.mark.anvil


@pytest.fixture(scope="module")
def history(market_chain: MarketChain):
    return make_history(market_chain)


def indexer(m: MarketChain, engine, **options) -> Indexer:
    return Indexer(engine, m.url, m.deployment, **options)


def test_one_sync_gives_the_trades_offers_rating_listings_and_bond_the_chain_says(market_chain, history, db_url):
    m, h = market_chain, history
    engine = open_database(db_url)
    report = indexer(m, engine).sync()

    head = m.chain.w3.eth.block_number
    assert (report.from_block, report.to_block) == (m.deployment.block, head)
    assert report.trades >= 6 and report.offers >= 3 and report.rejected == 0 and report.rewound == 0
    with Session(engine) as session:
        def trade(terms):
            return session.get(s.Trade, (m.deployment.chain_id, trade_key(terms)))

        released = trade(h.released)
        assert (released.state, released.outcome) == (TradeState.COMPLETED, "released")
        assert released.held == 0 and released.platform_fee == fee(h.released["amount"])
        assert released.seller_acted and released.seller_deposited and released.records
        assert released.live_at is not None and released.ended_at >= released.live_at
        assert released.seller_deposit == SELLER_DEPOSIT and released.amount == h.released["amount"]

        refunded = trade(h.refunded)
        assert (refunded.state, refunded.outcome, refunded.platform_fee) == (TradeState.REFUNDED, "refunded", 0)

        ruled = trade(h.ruled)
        assert (ruled.state, ruled.outcome, ruled.buyer_bps) == (TradeState.RESOLVED, "ruled", 5000)
        assert ruled.disputed_at is not None and ruled.arbiter_fee > 0 and ruled.platform_fee > 0

        cancelled = trade(h.cancelled)
        assert (cancelled.state, cancelled.outcome, cancelled.live_at) == (TradeState.CANCELLED, "cancelled", None)
        assert not cancelled.seller_acted

        still_live = trade(h.live)
        assert (still_live.state, still_live.outcome, still_live.held) == (TradeState.FUNDED, None,
                                                                            h.live["amount"])

        offers = {o.title: o for o in session.scalars(select(s.Offer))}
        assert {t: offers[t].status for t in ("Camera", "Phone", "Bicycle")} == {
            "Camera": "filled", "Phone": "revoked", "Bicycle": "open"}
        camera = offers["Camera"]
        filled_trade = session.get(s.Trade, (m.deployment.chain_id, camera.trade_id))
        assert filled_trade.offer_id == camera.id and filled_trade.state == TradeState.FUNDED
        assert filled_trade.seller_deposited and filled_trade.seller_acted
        bicycle = offers["Bicycle"]
        assert json.loads(bicycle.tags) == ["outdoor"]
        assert (bicycle.category, bicycle.payment_method, bicycle.fiat_price) == ("electronics", "SEPA", "120 EUR")
        assert bicycle.description == "Bicycle: described" and bicycle.document == document("Bicycle",
                                                                                             tags=["outdoor"]).decode()

        [rating] = session.scalars(select(s.Rating)).all()
        assert (rating.trade_id, rating.rater, rating.ratee, rating.score, rating.role) == (
            trade_key(h.released), m.d.buyer, m.d.seller, 5, 1)
        assert rating.amount == h.released["amount"] and rating.asset == "0x" + "00" * 20

        listings = {row.token: (row.listed, row.min_amount) for row in session.scalars(select(s.Listing))}
        assert listings[ETH] == (True, 1) and len(listings) == 1 + len(m.d.tokens)

        # The bond: 1 ETH posted, each trade's 0.2 deposit posted before it and locked by it
        # (the released one's and the filled offer's, from the 1 ETH).
        [bond] = session.scalars(select(s.Bond)).all()
        assert (bond.seller, bond.token) == (m.d.seller, ETH)
        assert bond.free == m.d.bond(m.d.seller, ETH) == h.bond_deposit - SELLER_DEPOSIT

        state = session.get(s.SyncState, (m.deployment.chain_id, m.deployment.escrow))
        assert state.last_block == head and state.platform_fee_bps == 25
        events = session.scalar(select(func.count()).select_from(s.Event))
        assert events == report.events


def test_a_second_sync_reads_only_the_new_blocks(market_chain, history, db_url):
    m = market_chain
    engine = open_database(db_url)
    first = indexer(m, engine).sync()
    before = domain_rows(engine)

    again = indexer(m, engine).sync()
    assert (again.events, again.from_block) == (0, first.to_block + 1)
    assert domain_rows(engine) == before

    publish(m, document("Lamp"))
    rpc_calls = []
    third = indexer(m, engine)
    third.rpc.sent.clear()
    report = third.sync()
    rpc_calls = [m for batch in third.rpc.sent for m in batch]
    assert (report.from_block, report.to_block, report.events, report.offers) == (
        first.to_block + 1, m.chain.w3.eth.block_number, 1, 1)
    assert rpc_calls.count("eth_getLogs") == 1
    with Session(engine) as session:
        titles = sorted(session.scalars(select(s.Offer.title)))
    assert "Lamp" in titles and len(titles) == len(before["offers"]) + 1


def test_a_sync_stopped_at_a_block_goes_on_from_there_in_small_pages_with_progress(market_chain, history,
                                                                                    db_url, another_db):
    m = market_chain
    head = m.chain.w3.eth.block_number
    middle = (m.deployment.block + head) // 2
    engine = open_database(db_url)

    seen: list[tuple[int, int]] = []
    part = indexer(m, engine, page=3, progress=lambda done, total: seen.append((done, total))).sync(to_block=middle)
    assert (part.from_block, part.to_block) == (m.deployment.block, middle)
    total = middle - m.deployment.block + 1
    assert seen[-1] == (total, total) and len(seen) > 1
    assert all(a[0] < b[0] for a, b in itertools.pairwise(seen))
    rest = indexer(m, engine, page=3).sync()
    assert (rest.from_block, rest.to_block) == (middle + 1, head)

    whole = open_database(another_db("whole"))
    indexer(m, whole).sync(to_block=head)
    assert domain_rows(engine) == domain_rows(whole)


def test_an_offer_published_for_a_nonce_already_used_is_indexed_as_revoked(market_chain, history, db_url):
    m = market_chain
    engine = open_database(db_url)
    stale = publish(m, document("Stale"))
    nonce = stale["offer"]["nonce"]
    m.send(m.d.escrow.functions.revokeOffer(nonce), m.d.seller)
    late = publish(m, document("Late"), nonce=nonce)  # the same nonce, published after its revocation
    indexer(m, engine).sync()
    with Session(engine) as session:
        statuses = {o.tx_hash: o.status for o in session.scalars(select(s.Offer).where(s.Offer.nonce == nonce))}
    assert statuses == {stale["tx_hash"]: "revoked", late["tx_hash"]: "revoked"}


class RangeCappedRpc(RpcClient):
    """A provider that refuses eth_getLogs over more than ``cap`` blocks, as hosted providers do."""

    def __init__(self, url: str, cap: int) -> None:
        super().__init__(url)
        self.cap = cap
        self.refused = 0
        self.spans: list[int] = []

    def request(self, method, params=()):
        if method == "eth_getLogs":
            span = int(params[0]["toBlock"], 16) - int(params[0]["fromBlock"], 16) + 1
            if span > self.cap:
                self.refused += 1
                raise RpcError(method, {"code": -32005, "message": f"block range is too wide (max {self.cap})"})
            self.spans.append(span)
        return super().request(method, params)


def test_a_provider_capping_log_ranges_gets_smaller_pages_and_the_same_index(market_chain, history, db_url,
                                                                              another_db):
    m = market_chain
    capped = RangeCappedRpc(m.url, cap=5)
    engine = open_database(db_url)
    seen: list[tuple[int, int]] = []
    report = Indexer(engine, m.url, m.deployment, page=64, progress=lambda *a: seen.append(a), rpc=capped).sync()
    assert capped.refused >= 1 and max(capped.spans) <= 5
    assert capped.refused <= 6  # asked again only after halving, not once per page
    assert report.to_block == m.chain.w3.eth.block_number and seen[-1][0] == seen[-1][1]
    whole = open_database(another_db("whole"))
    Indexer(whole, m.url, m.deployment).sync()
    assert domain_rows(engine) == domain_rows(whole)


def test_an_index_built_on_another_chain_with_the_same_id_is_refused(market_chain, history, db_url):
    m = market_chain
    engine = open_database(db_url)
    indexer(m, engine).sync()
    with engine.begin() as connection:  # as if the index had been built on a chain since reset
        connection.execute(update(s.SyncState).values(genesis="0x" + "ab" * 32))
    before = domain_rows(engine)
    with pytest.raises(ChainMismatch, match="another chain with the same id"):
        indexer(m, engine).sync()
    assert domain_rows(engine) == before


def test_a_sync_that_wrote_rows_leaves_the_query_planner_its_statistics(market_chain, history, db_url):
    # Without statistics SQLite plans search's "nonce already used" check on the wrong index: one search
    # over 10,000 offers took minutes (the market bench). A sync that wrote rows analyzes the tables.
    engine = open_database(db_url)
    assert indexer(market_chain, engine).sync().events > 0
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            analyzed = {row[0] for row in connection.exec_driver_sql("SELECT tbl FROM sqlite_stat1")}
        else:
            analyzed = {row[0] for row in connection.exec_driver_sql(
                "SELECT relname FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL")}
    assert {"offers", "trades", "events"} <= analyzed
