"""A SQLite index the chain has not moved past is read with the standard library's ``sqlite3``
(:class:`~p2pescrow.market.reads.CurrentIndex`): the same answers as the synced SQLAlchemy path and
the chain scan. Whenever syncing might change an answer, :meth:`CurrentIndex.open` declines (None) and
the caller syncs: escrow or Reputation logs after the index's last block, a reorg under it, another
genesis, an older schema, a gap too long to check cheaply, another deployment."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from support.market import MarketChain, make_history, trade_key
from support.v2 import live

from p2pescrow.market import reads as reads_module
from p2pescrow.market.db import open_database
from p2pescrow.market.reads import CurrentIndex, IndexedReader
from p2pescrow.reader import EscrowReader
from p2pescrow.transport.rpc import RpcClient

pytestmark = pytest.mark.anvil


@pytest.fixture(scope="module")
def history(market_chain: MarketChain):
    return make_history(market_chain)


@pytest.fixture
def synced(market_chain: MarketChain, history, tmp_path: Path) -> Path:
    """A SQLite index of the market chain, synced to the head."""
    path = tmp_path / "market.sqlite"
    IndexedReader(chain_reader(market_chain), open_database(f"sqlite:///{path}")).sync()
    return path


def chain_reader(m: MarketChain) -> EscrowReader:
    return EscrowReader(RpcClient(m.url), m.deployment)  # type: ignore[arg-type]


def write(path: Path, sql: str, *params: object) -> None:
    with sqlite3.connect(path) as connection:
        connection.execute(sql, params)


def test_a_current_index_answers_as_the_chain_scan_does(market_chain, history, synced):
    m = market_chain
    current = CurrentIndex.open(synced, chain_reader(m))
    assert current is not None
    quick, scan = IndexedReader(chain_reader(m), current), chain_reader(m)
    assert quick.sync() is None  # nothing to read in
    assert quick.trades() == scan.trades() != []
    for who in (m.d.buyer, m.d.seller):
        assert quick.trades(party=who) == scan.trades(party=who)
    key = trade_key(history.ruled)
    assert quick.trade(key) == scan.trade(key)
    assert quick.trade_ids(key[:12]) == ([key], 1)
    synced_reader = IndexedReader(chain_reader(m), open_database(f"sqlite:///{synced}"))
    for terms in (history.released, history.ruled, history.cancelled):
        assert quick.history(trade_key(terms)) == synced_reader.history(trade_key(terms)) != []
    for who in (m.d.buyer, m.d.seller, m.d.arbiter):
        assert quick.due(who) == synced_reader.due(who)


def test_blocks_without_escrow_logs_leave_it_current(market_chain, history, synced):
    m = market_chain
    m.chain.mine()
    m.chain.mine()
    current = CurrentIndex.open(synced, chain_reader(m))
    assert current is not None and current.head >= current.last_block + 2


def test_a_trade_after_the_last_sync_sends_the_read_to_the_sync(market_chain, history, synced):
    m = market_chain
    new = live(m.d)
    m.chain._pinned = None
    assert CurrentIndex.open(synced, chain_reader(m)) is None
    indexed = IndexedReader(chain_reader(m), open_database(f"sqlite:///{synced}"))
    indexed.sync()
    assert trade_key(new) in {t.id for t in indexed.trades()}
    assert CurrentIndex.open(synced, chain_reader(m)) is not None  # synced: current again


def test_a_reorg_under_the_last_block_is_declined(market_chain, history, synced):
    m = market_chain
    last = sqlite3.connect(synced).execute("SELECT last_block FROM sync_state").fetchone()[0]
    write(synced, "UPDATE blocks SET hash = ? WHERE number = ?", "0x" + "ee" * 32, last)  # what a reorg looks like
    assert CurrentIndex.open(synced, chain_reader(m)) is None


def test_another_genesis_is_declined(market_chain, history, synced):
    write(synced, "UPDATE sync_state SET genesis = ?", "0x" + "11" * 32)
    assert CurrentIndex.open(synced, chain_reader(market_chain)) is None


def test_an_older_schema_is_declined(market_chain, history, synced):
    write(synced, "UPDATE alembic_version SET version_num = ?", "0000older")
    assert CurrentIndex.open(synced, chain_reader(market_chain)) is None


def test_a_long_gap_is_synced_not_checked(market_chain, history, synced, monkeypatch):
    monkeypatch.setattr(reads_module, "MAX_GAP", 1)
    market_chain.chain.mine()
    market_chain.chain.mine()
    assert CurrentIndex.open(synced, chain_reader(market_chain)) is None


def test_no_file_another_deployment_or_not_an_index_is_declined(market_chain, history, synced, tmp_path):
    m = market_chain
    assert CurrentIndex.open(tmp_path / "missing.sqlite", chain_reader(m)) is None
    (tmp_path / "garbage.sqlite").write_bytes(b"not a database at all" * 100)
    assert CurrentIndex.open(tmp_path / "garbage.sqlite", chain_reader(m)) is None
    write(synced, "UPDATE sync_state SET escrow = ?", "0x" + "22" * 20)
    assert CurrentIndex.open(synced, chain_reader(m)) is None
