"""JSON-RPC requests per transaction: at most five once warm, and each thing asked once.

A funded ETH trade's transactions (createAndFund, then release) through both clients, on Anvil and
Ganache, counted by a recording provider: every request that leaves the process, except a receipt
poll the node answered with "not mined yet" (an automining Anvil sometimes answers a send a moment
before it mines it: how often the wait polls is the node's timing, not a request the SDK chose to
make; every other poll, and the one that returns the receipt, counts):

- createAndFund: ``eth_estimateGas`` (the gas, and the typed-revert check before signing: a revert
  in the estimate carries the same data as in eth_call), ``eth_getBlockByNumber`` (base fee, gas
  limit), ``eth_sendRawTransaction`` and ``eth_getTransactionReceipt``: 4. The platform fee is
  cached by the client (refreshed when the contract says it changed), the tip by the transaction
  path (:data:`~p2pescrow.transport._base.TIP_SECONDS`), the nonce by the nonce manager; the
  balance is only read when the node says the sender cannot pay, or before a front end's
  confirmation hook (one ``eth_getBalance`` more, then).
- release: the same, and the client's read of what the trade holds (``eth_call``): 5.

One confirmation is the receipt itself: no eth_blockNumber. (web3's validation middleware, dropped
by the clients, would add two eth_chainId around every eth_call and estimate.)
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from web3 import AsyncWeb3, Web3

from p2pescrow import EscrowClient
from p2pescrow.clients.aio import AsyncEscrowClient

BUDGET = 5
SENT = Counter({"eth_estimateGas": 1, "eth_getBlockByNumber": 1, "eth_sendRawTransaction": 1,
                "eth_getTransactionReceipt": 1})
CREATE = SENT
RELEASE = SENT + Counter({"eth_call": 1})  # escrowOf(): what the trade holds, released in full


class Recording(Web3.HTTPProvider):
    """An HTTP provider that notes the method of every request it sends."""

    def __init__(self, url: str) -> None:
        super().__init__(url, request_kwargs={"timeout": 30})
        self.methods: list[str] = []

    def make_request(self, method: Any, params: Any) -> Any:
        answer = super().make_request(method, params)
        self.methods.append(_noted(str(method), answer))
        return answer


class AsyncRecording(AsyncWeb3.AsyncHTTPProvider):
    def __init__(self, url: str) -> None:
        super().__init__(url, request_kwargs={"timeout": 30})
        self.methods: list[str] = []

    async def make_request(self, method: Any, params: Any) -> Any:
        answer = await super().make_request(method, params)
        self.methods.append(_noted(str(method), answer))
        return answer


WAITING = "eth_getTransactionReceipt (not mined yet)"


def _noted(method: str, answer: Any) -> str:
    """The method, or :data:`WAITING` for a receipt poll answered with no receipt yet."""
    if method == "eth_getTransactionReceipt" and isinstance(answer, dict) and answer.get("result", 0) is None:
        return WAITING
    return method


def asked(methods: list[str]) -> Counter[str]:
    """What was asked since the last call (polls that found no receipt yet aside), then forget it."""
    counts = Counter(m for m in methods if m != WAITING)
    methods.clear()
    return counts


def test_a_trade_stays_within_the_budget(real_node):
    provider = Recording(real_node.node.url)
    w3 = Web3(provider)
    w3.middleware_onion.remove("validation")
    acct = real_node.account(10)
    client = EscrowClient.from_web3(w3, acct, deployment=real_node.base.deployment, url=real_node.node.url,
                                    poll_interval=0.01)
    seller = real_node.account(0).address
    client.release(client.create(seller=seller, amount="1").trade_id)  # warm: chain, genesis, tip, fee, nonce
    provider.methods.clear()

    created = client.create(seller=seller, amount="1")
    first = asked(provider.methods)
    client.release(created.trade_id)
    second = asked(provider.methods)

    assert (first, second) == (CREATE, RELEASE)
    assert max(first.total(), second.total()) <= BUDGET
    assert client.trade(created.trade_id).state.name == "COMPLETED"


def test_an_async_trade_stays_within_the_budget(real_node):
    acct = real_node.account(10)
    seller = real_node.account(0).address

    async def run() -> tuple[Counter[str], Counter[str], str]:
        provider = AsyncRecording(real_node.node.url)
        w3 = AsyncWeb3(provider)
        w3.middleware_onion.remove("validation")
        client = await AsyncEscrowClient.from_web3(w3, acct, deployment=real_node.base.deployment,
                                                   url=real_node.node.url, poll_interval=0.01)
        try:
            await client.release((await client.create(seller=seller, amount="1")).trade_id)
            provider.methods.clear()
            created = await client.create(seller=seller, amount="1")
            first = asked(provider.methods)
            await client.release(created.trade_id)
            second = asked(provider.methods)
            return first, second, (await client.trade(created.trade_id)).state.name
        finally:
            await provider.disconnect()

    first, second, state = asyncio.run(run())
    assert (first, second) == (CREATE, RELEASE)
    assert max(first.total(), second.total()) <= BUDGET
    assert state == "COMPLETED"


def test_a_front_end_s_confirmation_hook_costs_one_balance_read(real_node):
    """With ``before_send`` set (the CLI asks before sending), the balance is read once before the
    hook runs, so that a sender who cannot pay the gas is told so instead of being asked: one more
    request, and only then."""
    provider = Recording(real_node.node.url)
    w3 = Web3(provider)
    w3.middleware_onion.remove("validation")
    client = EscrowClient.from_web3(w3, real_node.account(10), deployment=real_node.base.deployment,
                                    url=real_node.node.url, poll_interval=0.01)
    seller = real_node.account(0).address
    client.release(client.create(seller=seller, amount="1").trade_id)  # warm
    asked_before: list[Counter[str]] = []
    client.before_send = lambda call, preview: asked_before.append(Counter(provider.methods))
    provider.methods.clear()

    client.create(seller=seller, amount="1")

    assert asked(provider.methods) == CREATE + Counter({"eth_getBalance": 1})
    assert asked_before == [Counter({"eth_estimateGas": 1, "eth_getBlockByNumber": 1, "eth_getBalance": 1})]
