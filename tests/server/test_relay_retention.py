"""Retention of relayed offers in the market index (p2pescrow.market.relayed.prune), on a real Anvil whose
clock the tests move (evm_increaseTime), in SQLite and PostgreSQL: an expired relayed offer is deleted
(both its rows) once it has been over for longer than the keep, not before; a filled or a revoked one
by the time of its fill or revocation, not its expiry; an offer published on the board is never
deleted, and one a reorg made relayed again is pruned as a relayed one; the per-seller count the
relay's cap reads, and on PostgreSQL its advisory lock against concurrent accepts. The server's loop
and the cap over HTTP are in test_relay_retention_api.py.
"""

from __future__ import annotations

import pytest
from eth_utils import keccak
from sqlalchemy import select
from sqlalchemy.orm import Session
from support.market import document, make_history
from support.relay import now, relay, signed_offer

from p2pescrow.market import relayed
from p2pescrow.market import schema as s
from p2pescrow.market.db import open_database
from p2pescrow.market.sync import Indexer

pytestmark = pytest.mark.anvil

#: The keep the tests prune with: an hour.
KEEP = 3600


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
    engine = open_database(db_url)
    Indexer(engine, market_chain.url, market_chain.deployment).sync()
    return engine


def later(m, seconds: int) -> int:
    """Move the chain's clock ``seconds`` on (a block mined at that time); the new time."""
    m.chain.rpc("evm_increaseTime", seconds)
    m.chain.mine()
    return now(m)


def synced(engine, m) -> None:
    Indexer(engine, m.url, m.deployment).sync()


def prune(engine, m, keep: int = KEEP) -> int:
    with Session(engine) as session, session.begin():
        return relayed.prune(session, m.deployment.chain_id, now(m), keep)


def rows(engine, offer_id: str) -> tuple[list[str], int]:
    """The offer's ``offers`` rows' sources and how many ``relayed_offers`` rows it has."""
    with Session(engine) as session:
        sources = list(session.scalars(select(s.Offer.source).where(s.Offer.id == offer_id)).all())
        kept = len(session.scalars(select(s.RelayedOffer.id).where(s.RelayedOffer.id == offer_id)).all())
    return sources, kept


def test_an_expired_relayed_offer_is_pruned_after_the_keep_and_not_before(engine, market_chain):
    m = market_chain
    terms = document("Relayed, expiring")
    signed, o = signed_offer(m, terms, expiry=now(m) + 600)
    offer_id = relay(engine, m, signed, terms)
    with Session(engine) as session:
        board = session.scalars(select(s.Offer.id).where(s.Offer.source == "board")).all()
    assert board
    assert prune(engine, m) == 0  # open
    later(m, 600 + KEEP // 2)  # expired half a keep ago
    synced(engine, m)
    assert now(m) > o["expiry"]
    assert prune(engine, m) == 0
    assert rows(engine, offer_id) == (["relayed"], 1)
    later(m, KEEP // 2 + 60)  # expired more than a keep ago
    synced(engine, m)
    assert now(m) - KEEP > o["expiry"]
    assert prune(engine, m) == 1
    assert rows(engine, offer_id) == ([], 0)
    with Session(engine) as session:
        assert relayed.pending(session, m.deployment.chain_id, now(m)) == []
        # The board's offers, expired long ago as well, are the chain's: all still there.
        assert set(session.scalars(select(s.Offer.id).where(s.Offer.source == "board")).all()) == set(board)
    assert prune(engine, m) == 0  # nothing left to prune


def test_a_filled_and_a_revoked_one_are_pruned_by_when_they_ended_not_by_their_expiry(engine, market_chain):
    m, d = market_chain, market_chain.d
    far = now(m) + 30 * 86_400
    filled_terms, revoked_terms, open_terms = document("Relayed, sold"), document("Relayed, revoked"), \
        document("Relayed, still open")
    filled, fo = signed_offer(m, filled_terms, expiry=far)
    revoked, ro = signed_offer(m, revoked_terms, expiry=far)
    still, _ = signed_offer(m, open_terms, expiry=far)
    filled_id, revoked_id, open_id = (relay(engine, m, filled, filled_terms), relay(engine, m, revoked, revoked_terms),
                                      relay(engine, m, still, open_terms))
    m.send(d.escrow.functions.fillOffer(fo, filled.signature), d.buyer, fo["amount"] + fo["buyerDeposit"])
    m.send(d.escrow.functions.revokeOffer(ro["nonce"]), d.seller)
    synced(engine, m)
    with Session(engine) as session:
        statuses = dict(session.execute(select(s.Offer.id, s.Offer.status)
                                        .where(s.Offer.id.in_((filled_id, revoked_id, open_id)))).all())
    assert statuses == {filled_id: "filled", revoked_id: "revoked", open_id: "open"}
    with Session(engine) as session:
        assert session.scalar(select(s.Trade.offer_id).where(s.Trade.offer_id == filled_id)) == filled_id
    later(m, KEEP // 2)
    synced(engine, m)
    assert prune(engine, m) == 0
    later(m, KEEP // 2 + 60)
    synced(engine, m)
    assert prune(engine, m) == 2  # ended more than a keep ago; the open one stays, its expiry far off
    assert rows(engine, filled_id) == ([], 0) and rows(engine, revoked_id) == ([], 0)
    assert rows(engine, open_id) == (["relayed"], 1)
    with Session(engine) as session:  # the trade stays, without its link to the offer the index lost
        trade = session.scalars(select(s.Trade).where(s.Trade.seller == fo["seller"], s.Trade.amount == fo["amount"],
                                                      s.Trade.terms_hash == "0x" + keccak(filled_terms).hex())).one()
        assert trade.offer_id is None


def test_a_published_offer_is_never_pruned_and_relayed_again_after_a_reorg_it_is(engine, market_chain):
    m, d = market_chain, market_chain.d
    terms = document("Relayed, then published")
    signed, o = signed_offer(m, terms, expiry=now(m) + 600)
    offer_id = relay(engine, m, signed, terms)
    before_publication = m.chain.snapshot()
    m.send(d.escrow.functions.publishOffer(o, signed.signature, terms), d.seller)
    synced(engine, m)
    assert rows(engine, offer_id) == (["board"], 1)
    later(m, 600 + 2 * KEEP)
    synced(engine, m)
    assert prune(engine, m, keep=KEEP) == 0  # on the board: the chain's
    assert rows(engine, offer_id) == (["board"], 1)  # and its relayed row kept, for a reorg to restore

    # A reorg drops the publication (the new branch longer, and as late): a relayed offer again, pruned as one.
    m.chain.revert(before_publication)
    for _ in range(6):
        m.chain.mine()
    later(m, 600 + 2 * KEEP)
    report = Indexer(engine, m.url, m.deployment).sync()
    assert report.rewound >= 1
    assert rows(engine, offer_id) == (["relayed"], 1)
    assert prune(engine, m) == 1
    assert rows(engine, offer_id) == ([], 0)


def test_a_reorg_restored_offer_still_open_is_kept(engine, market_chain):
    m, d = market_chain, market_chain.d
    terms = document("Relayed, restored, open")
    signed, o = signed_offer(m, terms, expiry=now(m) + 30 * 86_400)
    offer_id = relay(engine, m, signed, terms)
    before_publication = m.chain.snapshot()
    m.send(d.escrow.functions.publishOffer(o, signed.signature, terms), d.seller)
    synced(engine, m)
    m.chain.revert(before_publication)
    for _ in range(4):
        m.chain.mine()
    later(m, 2 * KEEP)
    assert Indexer(engine, m.url, m.deployment).sync().rewound >= 1
    assert prune(engine, m) == 0
    assert rows(engine, offer_id) == (["relayed"], 1)
    with Session(engine) as session:
        assert relayed.open_count(session, m.deployment.chain_id, o["seller"], now(m)) >= 1


def test_open_count_counts_the_sellers_open_relayed_offers_only(engine, market_chain):
    m, d = market_chain, market_chain.d
    seller = d.arbiter  # no offers of its own in the history
    first_terms, second_terms, third_terms = document("One"), document("Two"), document("Three")
    first, _ = signed_offer(m, first_terms, seller=d.arbiter, expiry=now(m) + 600)
    second, so = signed_offer(m, second_terms, seller=d.arbiter, expiry=now(m) + 7200)
    third, _ = signed_offer(m, third_terms, seller=d.arbiter, expiry=now(m) + 7200)
    for signed, terms in ((first, first_terms), (second, second_terms), (third, third_terms)):
        relay(engine, m, signed, terms)

    def count() -> int:
        with Session(engine) as session:
            return relayed.open_count(session, m.deployment.chain_id, seller, now(m))

    assert count() == 3
    m.send(d.escrow.functions.revokeOffer(so["nonce"]), d.arbiter)
    synced(engine, m)
    assert count() == 2  # revoked
    later(m, 700)
    assert count() == 1  # expired
    with Session(engine) as session, pytest.raises(relayed.TooManyOpen) as refused:
        more, _ = signed_offer(m, document("Four"), seller=d.arbiter)
        relayed.accept(session, m.deployment.chain_id, d.escrow.address, relayed.Submission(more, document("Four")),
                       now=now(m), max_open=1)
    assert refused.value.status == 429 and 1 <= refused.value.retry_after <= 7200


def test_on_postgresql_concurrent_offers_of_one_seller_cannot_pass_the_cap_together(postgres_url, market_chain,
                                                                                    history, monkeypatch):
    """Two servers on one PostgreSQL database: each counts under the seller's advisory lock, so the second
    counts the first's offer. The count is slowed so that, without the lock, both would count none."""
    import threading
    import time

    m, d = market_chain, market_chain.d
    engine = open_database(postgres_url)
    synced(engine, m)
    counted = relayed.open_count

    def slow_count(*args, **kwargs):
        found = counted(*args, **kwargs)
        time.sleep(0.5)
        return found

    monkeypatch.setattr(relayed, "open_count", slow_count)
    offers = [signed_offer(m, document(f"At once {n}"), seller=d.owner) for n in range(2)]
    start = threading.Barrier(2)
    results: list[str] = []

    def accept(n: int) -> None:
        signed, _ = offers[n]
        start.wait()
        try:
            with Session(engine) as session, session.begin():
                relayed.accept(session, m.deployment.chain_id, d.escrow.address,
                               relayed.Submission(signed, document(f"At once {n}")), now=now(m), max_open=1)
            results.append("accepted")
        except relayed.TooManyOpen:
            results.append("refused")

    threads = [threading.Thread(target=accept, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == ["accepted", "refused"]
    with Session(engine) as session:
        assert relayed.open_count(session, m.deployment.chain_id, d.owner, now(m)) == 1
    engine.dispose()
