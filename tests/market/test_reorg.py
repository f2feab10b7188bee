"""A reorg under the index: on Anvil, take a snapshot, make trades, sync, revert to the snapshot and
make other trades (the blocks of the same heights get other hashes), sync again. The orphaned rows
are gone (trades, offers, the bond and the state of an older trade they changed), the new ones are
in, and the index equals one built from scratch on the new chain (SQLite and PostgreSQL).
"""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from support.escrow import ETH
from support.market import document, domain_rows, make_history, publish, trade_key
from support.v2 import SELLER_DEPOSIT, live

from p2pescrow.market import schema as s
from p2pescrow.market.db import open_database
from p2pescrow.market.sync import Indexer
from p2pescrow.states import TradeState

pytestmark = pytest.mark.anvil


@pytest.fixture(scope="module")
def history(market_chain):
    return make_history(market_chain)


@pytest.fixture(autouse=True)
def chain_as_before(market_chain, history):
    """Each test starts from the history alone: the chain goes back to it afterwards."""
    snapshot = market_chain.chain.snapshot()
    yield
    market_chain.chain.revert(snapshot)


@pytest.mark.parametrize("longer", [True, False], ids=["longer-fork", "shorter-fork"])
def test_a_reorg_rewinds_the_orphaned_rows_and_reads_the_new_ones(market_chain, history, db_url, another_db,
                                                                  longer):
    m, d = market_chain, market_chain.d
    engine = open_database(db_url)
    Indexer(engine, m.url, m.deployment).sync()
    snapshot = m.chain.snapshot()
    fork_base = m.chain.w3.eth.block_number

    # The branch that will be orphaned: a trade released, the history's live trade released, an offer,
    # more bond.
    orphan = live(d, seller_deposit=SELLER_DEPOSIT)
    m.send(d.escrow.functions.release(orphan, orphan["amount"]), d.buyer)
    m.send(d.escrow.functions.release(history.live, history.live["amount"]), d.buyer)
    publish(m, document("Orphaned lamp"))
    m.send(d.escrow.functions.depositBond(ETH, 5 * 10**17), d.seller, 5 * 10**17)
    orphan_head = m.chain.w3.eth.block_number
    first = Indexer(engine, m.url, m.deployment, page=4).sync()
    assert first.to_block == orphan_head and first.rewound == 0
    with Session(engine) as session:
        assert session.get(s.Trade, (m.deployment.chain_id, trade_key(orphan))) is not None
        assert session.get(s.Trade, (m.deployment.chain_id, trade_key(history.live))).outcome == "released"
    bond_before_fork = history.bond_deposit - SELLER_DEPOSIT

    # The chain the node ends up on: back to the snapshot, other transactions.
    m.chain.revert(snapshot)
    assert m.chain.w3.eth.block_number == fork_base
    kept = live(d)
    m.send(d.escrow.functions.dispute(history.live), d.buyer)
    publish(m, document("Kept kettle"))
    if longer:
        for _ in range(orphan_head - m.chain.w3.eth.block_number + 2):
            m.chain.mine()
    assert (m.chain.w3.eth.block_number > orphan_head) == longer
    new_head = m.chain.w3.eth.block_number

    second = Indexer(engine, m.url, m.deployment, page=4).sync()
    assert second.rewound >= orphan_head - fork_base and second.to_block == new_head

    with Session(engine) as session:
        chain_id = m.deployment.chain_id
        assert session.get(s.Trade, (chain_id, trade_key(orphan))) is None
        assert session.get(s.Trade, (chain_id, trade_key(kept))).state == TradeState.FUNDED
        older = session.get(s.Trade, (chain_id, trade_key(history.live)))
        assert (older.state, older.outcome, older.ended_at) == (TradeState.DISPUTED, None, None)
        assert older.disputed_at is not None
        titles = set(session.scalars(select(s.Offer.title)))
        assert "Kept kettle" in titles and "Orphaned lamp" not in titles
        [bond] = session.scalars(select(s.Bond)).all()
        assert bond.free == bond_before_fork == d.bond(d.seller, ETH)
        assert max(session.scalars(select(s.Block.number))) == new_head
        assert max(session.scalars(select(s.Event.block_number))) <= new_head

    fresh = open_database(another_db("fresh"))
    Indexer(fresh, m.url, m.deployment).sync()
    assert domain_rows(engine) == domain_rows(fresh)


def test_a_reorg_during_a_sync_is_found_at_the_next_page_and_rewound(market_chain, history, db_url, another_db):
    m, d = market_chain, market_chain.d
    engine = open_database(db_url)
    snapshot = m.chain.snapshot()
    orphans = [live(d) for _ in range(2)]
    Indexer(engine, m.url, m.deployment).sync()  # the index holds the first orphaned blocks
    orphans += [live(d) for _ in range(2)]  # and the sync below reads more of them, then the chain reorgs
    kept: list[dict] = []

    def reorg_after_the_first_page(done: int, total: int) -> None:
        if not kept:
            m.chain.revert(snapshot)
            kept.append(live(d))
            for _ in range(12):
                m.chain.mine()

    report = Indexer(engine, m.url, m.deployment, page=2, progress=reorg_after_the_first_page).sync()
    assert report.rewound > 0 and report.to_block == m.chain.w3.eth.block_number
    with Session(engine) as session:
        chain_id = m.deployment.chain_id
        assert all(session.get(s.Trade, (chain_id, trade_key(t))) is None for t in orphans)
        assert session.get(s.Trade, (chain_id, trade_key(kept[0]))).state == TradeState.FUNDED
    fresh = open_database(another_db("fresh"))
    Indexer(fresh, m.url, m.deployment).sync()
    assert domain_rows(engine) == domain_rows(fresh)
