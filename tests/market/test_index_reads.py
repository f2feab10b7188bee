"""Fast reads from the market index (issue 13 item 5): the trades, a trade-id prefix, a trade's history and
the to-do list (``due``) read through :class:`~p2pescrow.market.trades.IndexedReader` are the chain scan's
answers (:class:`~p2pescrow.reader.EscrowReader`, ``EscrowClient.history`` and ``due``), without a log scan;
an index that is behind is synced first. SQLite and PostgreSQL (``db_url``)."""

from __future__ import annotations

import pytest
from support.escrow import ETH
from support.market import MarketChain, make_history, trade_key
from support.v2 import live

from p2pescrow import EscrowClient
from p2pescrow.cli import parse
from p2pescrow.errors import InputError
from p2pescrow.market.db import open_database
from p2pescrow.market.trades import IndexedReader
from p2pescrow.reader import EscrowReader
from p2pescrow.states import TradeState
from p2pescrow.transport.rpc import RpcClient

pytestmark = pytest.mark.anvil


@pytest.fixture(scope="module")
def history(market_chain: MarketChain):
    return make_history(market_chain)


class NoScan(EscrowReader):
    """A reader that fails the test if anything scans the chain's logs for trades."""

    def _created(self, query, head):  # type: ignore[no-untyped-def]
        raise AssertionError("scanned the chain's logs")


def readers(m: MarketChain, db_url: str) -> tuple[EscrowReader, IndexedReader]:
    chain = EscrowReader(RpcClient(m.url), m.deployment)  # type: ignore[arg-type]
    indexed = IndexedReader(NoScan(RpcClient(m.url), m.deployment), open_database(db_url))  # type: ignore[arg-type]
    indexed.sync()
    return chain, indexed


def sdk(m: MarketChain) -> EscrowClient:
    from p2pescrow.deployments import Deployment, hash_of_code

    w3 = m.chain.w3
    deployment = Deployment(chain_id=m.deployment.chain_id, escrow=m.deployment.escrow,
                            reputation=m.deployment.reputation, block=m.deployment.block, owner=m.d.owner,
                            fee_recipient=m.d.owner, platform_fee_bps=m.deployment.platform_fee_bps,
                            escrow_code_hash=hash_of_code(w3.eth.get_code(m.deployment.escrow)),
                            reputation_code_hash=hash_of_code(w3.eth.get_code(m.deployment.reputation)))
    return EscrowClient.connect(m.url, deployment=deployment)


def test_the_trades_are_the_chain_scans_by_party_state_and_token(market_chain, history, db_url):
    m = market_chain
    chain, indexed = readers(m, db_url)
    everything = chain.trades()
    assert len(everything) >= 6
    assert indexed.trades() == everything  # the same Trade objects, oldest first
    for who in (m.d.buyer, m.d.seller, m.d.arbiter):
        assert sorted(indexed.trades(party=who), key=lambda t: t.id) == \
            sorted(chain.trades(party=who), key=lambda t: t.id)
    for state in (TradeState.COMPLETED, TradeState.FUNDED, TradeState.CANCELLED, TradeState.DISPUTED):
        assert indexed.trades(state=state) == chain.trades(state=state)
    assert indexed.trades(token=ETH) == chain.trades(token=ETH) != []
    assert indexed.trade(trade_key(history.released)) == chain.trade(trade_key(history.released))


def test_an_index_behind_is_synced_first_and_then_has_the_new_trade(market_chain, history, db_url):
    m = market_chain
    chain, indexed = readers(m, db_url)
    before = {t.id for t in indexed.trades()}
    new = live(m.d)
    m.chain._pinned = None
    assert trade_key(new) not in {t.id for t in indexed.trades()}  # not synced: not there yet
    report = indexed.sync()
    assert report.trades >= 1
    after = indexed.trades()
    assert {t.id for t in after} == before | {trade_key(new)} and after == chain.trades()


def test_history_is_the_sdks(market_chain, history, db_url):
    m = market_chain
    _, indexed = readers(m, db_url)
    client = sdk(m)
    for terms in (history.released, history.refunded, history.ruled, history.cancelled, history.live):
        key = trade_key(terms)
        assert indexed.history(key) == client.history(key) != []
    rated = indexed.history(trade_key(history.released))
    assert [e.name for e in rated][-1] == "Rated" and isinstance(rated[0].args["held"], int)
    assert indexed.history("0x" + "ab" * 32) == client.history("0x" + "ab" * 32) == []


def test_due_is_the_sdks(market_chain, history, db_url):
    m = market_chain
    _, indexed = readers(m, db_url)
    client = sdk(m)
    for who in (m.d.buyer, m.d.seller, m.d.arbiter):
        assert indexed.due(who) == client.due(who)
    assert indexed.due(m.d.seller) != [] or indexed.due(m.d.buyer) != []


def test_prefixes_resolve_and_fail_as_the_chain_scan_does(market_chain, history, db_url):
    m = market_chain
    ids = [t.id for t in EscrowReader(RpcClient(m.url), m.deployment).trades()]  # type: ignore[arg-type]
    while len({i[2] for i in ids}) == len(ids):  # ids are hashes: add trades until two share a first digit
        ids.append(trade_key(live(m.d)))  # (at most 17 ids, by pigeonhole)
        m.chain._pinned = None
    chain, indexed = readers(m, db_url)
    key = trade_key(history.ruled)
    for text in (key[:10], key[2:14], key.upper()[:20]):
        assert parse.trade_id(indexed, text) == parse.trade_id(chain, text) == key
    ids = [t.id for t in chain.trades()]
    digit = max("0123456789abcdef", key=lambda d: sum(i[2:].startswith(d) for i in ids))
    found, count = indexed.trade_ids(digit)
    assert count == sum(i[2:].startswith(digit) for i in ids) >= 2 and len(found) == 2
    unknown = next("0x" + d * 8 for d in "0123456789abcdef" if not any(i.startswith("0x" + d * 8) for i in ids))
    errors = []
    for reads in (chain, indexed):
        with pytest.raises(InputError) as caught:
            parse.trade_id(reads, unknown)
        errors.append((str(caught.value), caught.value.hint))
    assert errors[0] == errors[1] and "no trade id starts with" in errors[0][0]


def test_the_market_clients_trades_history_and_due_are_the_escrow_clients(market_chain, history, db_url):
    from p2pescrow.market.client import MarketClient

    m = market_chain
    client = sdk(m)
    market = MarketClient(client, db=db_url)
    try:
        assert market.trades() == client.trades()
        assert sorted(market.trades(party=m.d.seller), key=lambda t: t.id) == \
            sorted(client.trades(party=m.d.seller), key=lambda t: t.id)
        assert market.trades(state=TradeState.COMPLETED, sync=False) == client.trades(state=TradeState.COMPLETED)
        key = trade_key(history.ruled)
        assert market.history(key) == client.history(key) != []
        assert market.due(m.d.arbiter) == client.due(m.d.arbiter)
        new = live(m.d)
        m.chain._pinned = None
        assert trade_key(new) in {t.id for t in market.trades(party=m.d.buyer)}  # synced first
    finally:
        market.close()


def test_the_async_market_clients_trades_history_and_due(market_chain, history, db_url):
    import asyncio

    from p2pescrow.clients.aio import AsyncEscrowClient
    from p2pescrow.market.client import AsyncMarketClient

    m = market_chain
    client = sdk(m)

    async def main():
        escrow = await AsyncEscrowClient.connect(m.url, deployment=client.deployment)
        market = AsyncMarketClient(escrow, db=db_url)
        try:
            key = trade_key(history.released)
            return await market.trades(), await market.history(key, sync=False), await market.due(m.d.seller)
        finally:
            market.close()

    trades, events, due = asyncio.run(main())
    assert trades == client.trades()
    assert events == client.history(trade_key(history.released))
    assert due == client.due(m.d.seller)
