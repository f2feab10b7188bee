"""JSON-RPC requests per transaction: every check is one request, and none is asked twice.

A funded ETH trade's transactions (createAndFund, then release), sync and asyncio clients, on Anvil
and Ganache: the client's own read (the platform fee, what is held), the balance (once: checked
against the value before simulating and against value + max gas cost once priced), the simulation,
the estimate, the latest block and the tip, the pending nonce, the send and the receipt. One
confirmation is the receipt itself: no eth_blockNumber. (web3's validation middleware, dropped by
``connect``, would add two eth_chainId around every eth_call and estimate.)
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any

from web3.middleware import Web3Middleware

from p2pescrow import EscrowClient
from p2pescrow.clients.aio import AsyncEscrowClient

#: What every transaction of the trade asks besides the client's own read and the receipt polls.
TRANSACTION = Counter({"eth_getBalance": 1, "eth_call": 1, "eth_estimateGas": 1, "eth_getBlockByNumber": 1,
                       "eth_maxPriorityFeePerGas": 1, "eth_getTransactionCount": 1,
                       "eth_sendRawTransaction": 1})
CLIENT_READ = Counter({"eth_call": 1})  # platformFeeBps() before create, escrowOf() before release


def counting(methods: list[str]) -> type[Web3Middleware]:
    """A middleware class that notes the method of every request that reaches the provider."""

    class Counting(Web3Middleware):
        def wrap_make_request(self, make_request: Callable[..., Any]) -> Callable[..., Any]:
            def middleware(method: str, params: Any) -> Any:
                methods.append(method)
                return make_request(method, params)

            return middleware

        async def async_wrap_make_request(self, make_request: Callable[..., Any]) -> Callable[..., Any]:
            async def middleware(method: str, params: Any) -> Any:
                methods.append(method)
                return await make_request(method, params)

            return middleware

    return Counting


def asked(methods: list[str]) -> Counter[str]:
    """The methods asked, the receipt polls apart (an automining node answers the first one)."""
    counts = Counter(methods)
    assert counts.pop("eth_getTransactionReceipt", 0) >= 1
    methods.clear()
    return counts


def test_a_trade_asks_each_thing_once(real_node):
    acct = real_node.account(10)
    client = EscrowClient.connect(real_node.node.url, acct, deployment=real_node.base.deployment, poll_interval=0.01)
    seller = real_node.account(0).address
    client.release(client.create(seller=seller, amount="1").trade_id)  # warm: chain checked once
    methods: list[str] = []
    client.w3.middleware_onion.inject(counting(methods), layer=0)
    created = client.create(seller=seller, amount="1")
    assert asked(methods) == TRANSACTION + CLIENT_READ
    client.release(created.trade_id)
    assert asked(methods) == TRANSACTION + CLIENT_READ


def test_an_async_trade_asks_each_thing_once(real_node):
    acct = real_node.account(10)
    seller = real_node.account(0).address
    methods: list[str] = []

    async def run() -> list[Counter[str]]:
        client = await AsyncEscrowClient.connect(real_node.node.url, acct, deployment=real_node.base.deployment,
                                                 poll_interval=0.01)
        try:
            await client.release((await client.create(seller=seller, amount="1")).trade_id)
            client.w3.middleware_onion.inject(counting(methods), layer=0)
            created = await client.create(seller=seller, amount="1")
            first = asked(methods)
            await client.release(created.trade_id)
            return [first, asked(methods)]
        finally:
            await client.w3.provider.disconnect()

    assert asyncio.run(run()) == [TRANSACTION + CLIENT_READ] * 2
