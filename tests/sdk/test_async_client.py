"""The async client on a real Anvil: a whole trade, and concurrent tasks sending from one account."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from eth_account import Account
from web3 import Web3

from p2pescrow import EscrowClient, TradeState, errors
from p2pescrow.clients.aio import AsyncEscrowClient
from p2pescrow.deployments import Registry
from p2pescrow.node.process import start_node

pytestmark = pytest.mark.anvil


@pytest.fixture(scope="module")
def anvil():
    with start_node("anvil") as node:
        yield node


@pytest.fixture
def setup(anvil, tmp_path):
    registry = Registry(tmp_path / "deployments.json")
    deployer = Account.from_key(anvil.accounts[0].private_key)
    w3 = Web3(Web3.HTTPProvider(anvil.url))
    EscrowClient.deploy(w3, deployer, platform_fee_bps=25, registry=registry, url=anvil.url)
    return registry, [Account.from_key(a.private_key) for a in anvil.accounts]


def test_a_whole_trade_through_the_async_client(anvil, setup):
    registry, accounts = setup
    buyer, seller = accounts[1], accounts[2]

    async def run():
        alice = await AsyncEscrowClient.connect(anvil.url, buyer, registry=registry, poll_interval=0.01)
        bob = await AsyncEscrowClient.connect(anvil.url, seller, registry=registry, poll_interval=0.01)
        before = await bob._balance(await bob.token(None))
        created = await alice.create(seller=seller.address, amount="2")
        assert (await alice.trade(created.trade_id)).state is TradeState.FUNDED
        with pytest.raises(errors.Unauthorized):  # the seller cannot release: typed, before sending
            await bob.release(created.trade_id)
        await alice.release(created.trade_id, "0.5")
        await alice.release(created.trade_id)
        trade = await bob.trade(created.trade_id)
        after = await bob._balance(await bob.token(None))
        return trade, after - before

    trade, gained = asyncio.run(run())
    assert trade.state is TradeState.COMPLETED
    assert gained == 2 * 10**18 - 2 * 10**18 * 25 // 10_000  # 0.25% platform fee, no gas spent by Bob


def test_concurrent_tasks_from_one_account_get_distinct_nonces(anvil, setup):
    registry, accounts = setup
    buyer, seller = accounts[3], accounts[4]
    w3 = Web3(Web3.HTTPProvider(anvil.url))
    start_nonce = w3.eth.get_transaction_count(buyer.address)

    async def run():
        client = await AsyncEscrowClient.connect(anvil.url, buyer, registry=registry, poll_interval=0.01)
        return await asyncio.gather(*(client.create(seller=seller.address, amount=Decimal("0.01"))
                                      for _ in range(8)))

    results = asyncio.run(run())
    assert len({r.trade_id for r in results}) == 8
    nonces = sorted(w3.eth.get_transaction(r.tx.tx_hash)["nonce"] for r in results)
    assert nonces == list(range(start_nonce, start_nonce + 8))
