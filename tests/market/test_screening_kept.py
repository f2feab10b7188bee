"""The screening the sync keeps for search (``scores``, every offer's ``seller_score``, ``trade_records``)
equals the screening computed from the trades and ratings themselves: after every page of a sync read
one block at a time, after ratings both ways and a listing's minimum changed, after a reorg rewound
trades and ratings, and on an index synced before the migration that added them (the migration fills
them); on SQLite and PostgreSQL. (The kill-and-resume and reorg tests compare these tables too, as
domain tables.)
"""

from __future__ import annotations

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import select
from sqlalchemy.orm import Session
from support.escrow import ETH
from support.market import document, domain_rows, make_history, publish
from support.v2 import live

from p2pescrow.market import schema as s
from p2pescrow.market.db import MIGRATIONS, open_database, upgrade
from p2pescrow.market.queries import OfferFilter, _screenings, search
from p2pescrow.market.sync import Indexer

pytestmark = pytest.mark.anvil


@pytest.fixture(scope="module")
def history(market_chain):
    return make_history(market_chain)


@pytest.fixture(autouse=True)
def chain_as_before(market_chain, history):
    snapshot = market_chain.chain.snapshot()
    yield
    market_chain.chain.revert(snapshot)


def scores_in(session) -> dict[str, int]:
    return {account: score for account, score in session.execute(select(s.Score.account, s.Score.score))}


def assert_kept_equals_computed(engine, chain_id: int) -> int:
    """The kept screening of every account in the index equals the computed one; the number of
    accounts scored away from the prior (so a test can tell its ratings counted)."""
    with Session(engine) as session:
        accounts = (set(session.scalars(select(s.Trade.buyer))) | set(session.scalars(select(s.Trade.seller)))
                    | set(session.scalars(select(s.Rating.ratee))) | set(session.scalars(select(s.Offer.seller))))
        computed = _screenings(session, chain_id, accounts)
        assert _screenings(session, chain_id, accounts, kept=True) == computed
        kept_scores = scores_in(session)
        for account, screen in computed.items():
            assert kept_scores.get(account, 300) == int(screen.score * 100), account
        for seller, seller_score in session.execute(select(s.Offer.seller, s.Offer.seller_score)):
            assert seller_score == int(computed[seller].score * 100), seller
    return sum(1 for screen in computed.values() if screen.score != 3)


def rate_both_ways(m, d, terms: dict, buyer_score: int, seller_score: int) -> None:
    m.send(d.escrow.functions.rate(terms, buyer_score, b"\x02" * 32), d.buyer)
    m.send(d.escrow.functions.rate(terms, seller_score, b"\x03" * 32), d.seller)


def released(m, d, **terms) -> dict:
    trade = live(d, **terms)
    m.send(d.escrow.functions.release(trade, trade["amount"]), d.buyer)
    return trade


def test_after_every_page_ratings_and_a_listing_change(market_chain, history, db_url):
    m, d = market_chain, market_chain.d
    rate_both_ways(m, d, released(m, d), buyer_score=2, seller_score=4)
    publish(m, document("Lamp"))
    engine = open_database(db_url)
    indexer = Indexer(engine, m.url, m.deployment, page=1)
    for block in range(m.deployment.block, m.chain.w3.eth.block_number + 1):
        indexer.sync(to_block=block)
        assert_kept_equals_computed(engine, m.deployment.chain_id)
    assert assert_kept_equals_computed(engine, m.deployment.chain_id) >= 2  # the seller and the buyer rated

    # A listing's minimum changes every score in its asset: kept ones follow without a new rating.
    with Session(engine) as session:
        before = scores_in(session)
    m.send(d.escrow.functions.setReputationAsset(ETH, True, 10**17), d.owner)
    indexer.sync()
    assert assert_kept_equals_computed(engine, m.deployment.chain_id) >= 2
    with Session(engine) as session:
        assert scores_in(session) != before
        by_score = search(session, m.deployment.chain_id, OfferFilter(sort="score"), m.chain.w3.eth.get_block(
            "latest")["timestamp"])
    assert [h.screening.score for h in by_score] == sorted((h.screening.score for h in by_score), reverse=True)


def test_after_a_reorg_rewound_trades_and_ratings(market_chain, history, db_url):
    m, d = market_chain, market_chain.d
    engine = open_database(db_url)
    Indexer(engine, m.url, m.deployment).sync()
    snapshot = m.chain.snapshot()
    rate_both_ways(m, d, released(m, d), buyer_score=1, seller_score=1)  # orphaned below
    publish(m, document("Orphaned lamp"))
    Indexer(engine, m.url, m.deployment, page=3).sync()
    assert_kept_equals_computed(engine, m.deployment.chain_id)
    with Session(engine) as session:
        orphaned = scores_in(session)

    m.chain.revert(snapshot)
    rate_both_ways(m, d, released(m, d), buyer_score=5, seller_score=5)
    for _ in range(8):
        m.chain.mine()
    assert Indexer(engine, m.url, m.deployment, page=3).sync().rewound > 0
    assert assert_kept_equals_computed(engine, m.deployment.chain_id) >= 2
    with Session(engine) as session:
        assert scores_in(session) != orphaned


def test_the_migration_fills_them_on_an_index_synced_before_it(market_chain, history, db_url):
    m = market_chain
    engine = open_database(db_url)
    Indexer(engine, m.url, m.deployment).sync()
    synced = domain_rows(engine)
    assert synced["scores"] and synced["trade_records"]

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0001")  # the index as the release before kept it
    upgrade(engine)
    assert domain_rows(engine) == synced
    assert_kept_equals_computed(engine, m.deployment.chain_id)
    with Session(engine) as session:  # full-text search still follows the offers (triggers intact)
        assert [h.title for h in search(session, m.deployment.chain_id, OfferFilter(text="bicycle"), 0)] == [
            "Bicycle"]
