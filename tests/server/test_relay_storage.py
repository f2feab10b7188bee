"""Relayed offers in the market index (p2pescrow.market.relayed), on a real Anvil, in SQLite and
PostgreSQL: a relayed offer is
listed by search with the relayed mark; its publication on the board turns it into an on-chain one
(once, however often the sync reads that block); a reorg that rewinds the publication makes it relayed
again; a relayed offer filled on chain leaves the search; the operator's list of offers to publish.
The checks a relay makes are driven over HTTP in test_relay_api.py.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from support.market import document, make_history
from support.relay import now, relay, signed_offer

from p2pescrow.market import queries, relayed
from p2pescrow.market import schema as s
from p2pescrow.market.db import open_database
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


@pytest.fixture
def engine(db_url, market_chain, history):
    """The chain's index, on SQLite and on PostgreSQL (``db_url``)."""
    engine = open_database(db_url)
    Indexer(engine, market_chain.url, market_chain.deployment).sync()
    return engine


def listed(engine, m) -> dict[str, queries.OfferHit]:
    with Session(engine) as session:
        hits = queries.search(session, m.deployment.chain_id, queries.OfferFilter(limit=100), now(m))
    return {hit.id: hit for hit in hits}


def test_a_relayed_offer_is_listed_with_the_relayed_mark_next_to_the_board_ones(engine, market_chain):
    m = market_chain
    terms = document("Relayed kettle")
    signed, _ = signed_offer(m, terms)
    offer_id = relay(engine, m, signed, terms)
    hits = listed(engine, m)
    assert hits[offer_id].relayed and hits[offer_id].to_json()["relayed"] is True
    assert hits[offer_id].title == "Relayed kettle"
    board = [hit for hit in hits.values() if hit.id != offer_id]
    assert board and all(hit.to_json()["relayed"] is False for hit in board)
    # Its signed offer is the one relayed: a buyer fills exactly what the seller signed.
    assert hits[offer_id].signed_offer(m.d.escrow.address) == signed


def test_publishing_a_relayed_offer_makes_it_on_chain_once_and_a_rewind_makes_it_relayed_again(engine, market_chain):
    m, d = market_chain, market_chain.d
    terms = document("Relayed lamp")
    signed, o = signed_offer(m, terms)
    offer_id = relay(engine, m, signed, terms)
    before_publication = m.chain.snapshot()
    fork_base = m.chain.w3.eth.block_number
    receipt = m.send(d.escrow.functions.publishOffer(o, signed.signature, terms), d.buyer)  # anyone may post it
    report = Indexer(engine, m.url, m.deployment, page=2).sync()
    assert report.offers == 1 and report.rejected == 0  # the post is the relayed offer, not a repost
    hit = listed(engine, m)[offer_id]
    assert not hit.relayed and hit.source == "board"
    assert hit.published_block == receipt["blockNumber"]
    # Read again (the sync state moved back): still one offer row, on chain, no rejected repost.
    with Session(engine) as session, session.begin():
        session.get(s.SyncState, (m.deployment.chain_id, m.d.escrow.address)).last_block = fork_base
    Indexer(engine, m.url, m.deployment).sync()
    with Session(engine) as session:
        rows = session.scalars(select(s.Offer).where(s.Offer.id == offer_id)).all()
        assert [(r.source, r.published_block) for r in rows] == [("board", receipt["blockNumber"])]
        assert session.scalars(select(s.RejectedPost)).all() == []

    # A reorg drops the block that published it: the offer is a relayed one again, still listed.
    m.chain.revert(before_publication)
    for _ in range(3):
        m.chain.mine()
    report = Indexer(engine, m.url, m.deployment).sync()
    assert report.rewound >= 1
    hit = listed(engine, m)[offer_id]
    assert hit.relayed and hit.tx_hash == ""


def test_a_relayed_offer_filled_on_chain_leaves_the_search_as_filled(engine, market_chain):
    m, d = market_chain, market_chain.d
    terms = document("Relayed radio")
    signed, o = signed_offer(m, terms)
    offer_id = relay(engine, m, signed, terms)
    m.send(d.escrow.functions.fillOffer(o, signed.signature), d.buyer, o["amount"] + o["buyerDeposit"])
    Indexer(engine, m.url, m.deployment).sync()
    assert offer_id not in listed(engine, m)
    with Session(engine) as session:
        hit = queries.offer(session, m.deployment.chain_id, offer_id, now(m))
    assert hit.status == "filled" and hit.trade_id is not None and hit.relayed


def test_the_operator_lists_the_relayed_offers_off_the_board(engine, market_chain):
    m, d = market_chain, market_chain.d
    first_terms, second_terms = document("Relayed desk"), document("Relayed chair")
    first, o = signed_offer(m, first_terms)
    second, _ = signed_offer(m, second_terms)
    first_id, second_id = relay(engine, m, first, first_terms), relay(engine, m, second, second_terms)
    with Session(engine) as session:
        waiting = relayed.pending(session, m.deployment.chain_id, now(m))
        assert {p.id for p in waiting} == {first_id, second_id}
        assert all(p.fillable for p in waiting)
        assert [p.id for p in relayed.pending(session, m.deployment.chain_id, now(m), [second_id[:12]])] == [second_id]
        with pytest.raises(relayed.RelayRefused, match="not a relayed offer"):
            relayed.pending(session, m.deployment.chain_id, now(m), ["0xdeadbeef"])
    m.send(d.escrow.functions.publishOffer(o, first.signature, first_terms), d.seller)
    Indexer(engine, m.url, m.deployment).sync()
    with Session(engine) as session:
        assert [p.id for p in relayed.pending(session, m.deployment.chain_id, now(m))] == [second_id]


def test_the_same_offer_twice_is_already_known_and_nothing_changes(engine, market_chain):
    m = market_chain
    terms = document("Relayed clock")
    signed, _ = signed_offer(m, terms)
    offer_id = relay(engine, m, signed, terms)
    with pytest.raises(relayed.AlreadyKnown, match="relayed already"):
        relay(engine, m, signed, terms)
    with Session(engine) as session:
        assert len(session.scalars(select(s.RelayedOffer).where(s.RelayedOffer.id == offer_id)).all()) == 1


def test_an_index_made_before_the_relay_is_upgraded_in_place_and_keeps_its_offers(tmp_path, market_chain):
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import inspect

    from p2pescrow.market.db import MIGRATIONS, create_database_engine

    m = market_chain
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    old = create_database_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with old.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")  # the schema of the release before the relay
    assert "relayed_offers" not in inspect(old).get_table_names()
    Indexer(old, m.url, m.deployment).sync()
    before = listed(old, m)
    old.dispose()

    engine = open_database(url)  # upgraded on open
    assert "relayed_offers" in inspect(engine).get_table_names()
    assert listed(engine, m).keys() == before.keys() and before
    terms = document("Relayed after the upgrade")
    signed, _ = signed_offer(m, terms)
    offer_id = relay(engine, m, signed, terms)
    assert listed(engine, m)[offer_id].relayed


def test_a_relayed_offer_carries_its_sellers_kept_score_so_score_filters_and_sorts_see_it(engine, market_chain):
    m = market_chain
    terms = document("Relayed lamp")
    signed, o = signed_offer(m, terms)
    offer_id = relay(engine, m, signed, terms)
    with Session(engine) as session:
        rows = session.scalars(select(s.Offer).where(s.Offer.seller == o["seller"])).all()
        kept = session.scalar(select(s.Score.score).where(s.Score.account == o["seller"]))
        score = queries.screening(session, m.deployment.chain_id, o["seller"]).score
    assert kept is not None and kept != 300  # the history rated this seller: not the prior
    assert {row.seller_score for row in rows} == {kept}  # the relayed row as the seller's board ones
    with Session(engine) as session:
        at_least = queries.search(session, m.deployment.chain_id, queries.OfferFilter(min_score=score, limit=100),
                                  now(m))
        above = queries.search(session, m.deployment.chain_id,
                               queries.OfferFilter(min_score=score + Decimal("0.01"), limit=100), now(m))
    assert offer_id in {hit.id for hit in at_least} and offer_id not in {hit.id for hit in above}
