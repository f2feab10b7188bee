"""Waiting that ends without a receipt, the transaction journal, and sends that never pay twice
(real Anvil: automine off, anvil_dropTransaction, same-nonce replacements, a killed node)."""

from __future__ import annotations

import pytest
from eth_account import Account
from support.harness import node_chain_id
from web3 import Web3

from p2pescrow import errors
from p2pescrow.node.process import start_node
from p2pescrow.transport.journal import JOURNAL
from p2pescrow.transport.sync import Call, Transactor

pytestmark = pytest.mark.anvil


@pytest.fixture(scope="module")
def node(error_log):
    with start_node("anvil", chain_id=node_chain_id()) as n:
        for account in n.accounts:
            error_log.add_key(account.private_key)
        yield n


@pytest.fixture
def w3(node):
    w3 = Web3(Web3.HTTPProvider(node.url))
    yield w3
    w3.provider.make_request("evm_setAutomine", [True])


def funded(w3, node, error_log, eth=10):
    acct = Account.create()
    error_log.add_key(acct.key)
    funder = Transactor(w3, Account.from_key(node.accounts[0].private_key), url=node.url, poll_interval=0.01)
    funder.send(Call(acct.address, "0x", eth * 10**18, "fund"))
    return acct


def transactor(w3, node, acct, timeout=0.5):
    return Transactor(w3, acct, url=node.url, timeout=timeout, poll_interval=0.01)


def test_slow_transaction_times_out_with_hash_and_nonce(w3, node, error_log):
    acct = funded(w3, node, error_log)
    w3.provider.make_request("evm_setAutomine", [False])
    t = transactor(w3, node, acct, timeout=0.3)
    with pytest.raises(errors.TransactionTimeout) as info:
        t.send(Call(node.accounts[5].address, "0x", 1, "pay"))
    assert info.value.tx_hash in str(info.value) and info.value.nonce == 0
    assert not isinstance(info.value, (errors.TransactionDropped, errors.TransactionReplaced))
    # the journal keeps it: a second payment is refused while it is pending
    assert [e.tx_hash for e in JOURNAL.entries(t.chain_id, acct.address)] == [info.value.tx_hash]
    with pytest.raises(errors.PendingTransaction) as refused:
        t.send(Call(node.accounts[5].address, "0x", 1, "pay again"))
    assert refused.value.tx_hash == info.value.tx_hash
    w3.provider.make_request("evm_mine", [])
    t.wait(info.value.tx_hash)  # resumable by its hash
    assert JOURNAL.entries(t.chain_id, acct.address) == []
    w3.provider.make_request("evm_setAutomine", [True])
    t.send(Call(node.accounts[5].address, "0x", 1, "next"))
    assert w3.eth.get_transaction_count(acct.address) == 2


def test_dropped_transaction_is_told_apart_and_rebroadcast_by_the_next_send(w3, node, error_log):
    acct = funded(w3, node, error_log)
    payee = Account.create().address
    w3.provider.make_request("evm_setAutomine", [False])
    t = transactor(w3, node, acct)
    drop = lambda h: w3.provider.make_request("anvil_dropTransaction", [h])  # noqa: E731
    with pytest.raises(errors.TransactionDropped) as info:
        t.send(Call(payee, "0x", 10**15, "pay"), on_sent=drop)
    assert info.value.nonce == 0 and info.value.tx_hash in str(info.value)
    assert exit_code(info.value) == 5
    # the next send finds the journal entry, rebroadcasts the same bytes and refuses a second payment
    notices: list[str] = []
    t.on_notice = notices.append
    with pytest.raises(errors.PendingTransaction) as refused:
        t.send(Call(payee, "0x", 10**15, "pay again"))
    assert refused.value.rebroadcast and refused.value.tx_hash == info.value.tx_hash
    assert any("rebroadcast" in n for n in notices)
    w3.provider.make_request("evm_mine", [])
    assert w3.eth.get_transaction_receipt(info.value.tx_hash)["status"] == 1
    assert w3.eth.get_balance(payee) == 10**15  # paid once
    w3.provider.make_request("evm_setAutomine", [True])
    t.send(Call(payee, "0x", 1, "next"))  # the journal is resolved (mined): sends again
    assert JOURNAL.entries(t.chain_id, acct.address) == []


def test_replaced_transaction_is_told_apart(w3, node, error_log):
    acct = funded(w3, node, error_log)
    w3.provider.make_request("evm_setAutomine", [False])
    t = transactor(w3, node, acct)

    def replace(tx_hash: str) -> None:
        original = w3.eth.get_transaction(tx_hash)
        signed = acct.sign_transaction({
            "to": acct.address, "value": 0, "gas": 21_000, "nonce": original["nonce"],
            "chainId": t.chain_id, "maxFeePerGas": original["maxFeePerGas"] * 2,
            "maxPriorityFeePerGas": original["maxPriorityFeePerGas"] * 2})
        w3.eth.send_raw_transaction(signed.raw_transaction)
        w3.provider.make_request("evm_mine", [])

    with pytest.raises(errors.TransactionReplaced) as info:
        t.send(Call(node.accounts[6].address, "0x", 1, "pay"), on_sent=replace)
    assert info.value.nonce == 0 and exit_code(info.value) == 5
    assert JOURNAL.entries(t.chain_id, acct.address) == []  # resolved: replaced


def exit_code(exc: BaseException) -> int:
    from p2pescrow.errors import exit_code_for

    return exit_code_for(exc)


def test_async_twin_tells_dropped_from_slow_and_resolves_the_journal(w3, node, error_log):
    import asyncio

    from web3 import AsyncWeb3

    from p2pescrow.transport.aio import AsyncTransactor

    acct = funded(w3, node, error_log)
    payee = Account.create().address
    w3.provider.make_request("evm_setAutomine", [False])

    async def run() -> None:
        aw3 = AsyncWeb3(AsyncWeb3.AsyncHTTPProvider(node.url))
        t = AsyncTransactor(aw3, acct, chain_id=int(w3.eth.chain_id), url=node.url, timeout=0.3,
                            poll_interval=0.01)
        with pytest.raises(errors.TransactionTimeout) as slow:
            await t.send(Call(payee, "0x", 10**15, "pay"))
        assert slow.value.nonce == 0
        w3.provider.make_request("anvil_dropTransaction", [slow.value.tx_hash])
        with pytest.raises(errors.TransactionDropped) as dropped:
            await t.wait(slow.value.tx_hash)
        assert dropped.value.nonce == 0
        with pytest.raises(errors.PendingTransaction) as refused:  # rebroadcast, no second payment
            await t.send(Call(payee, "0x", 10**15, "pay again"))
        assert refused.value.rebroadcast
        w3.provider.make_request("evm_mine", [])
        await t.wait(slow.value.tx_hash)
        await aw3.provider.disconnect()

    asyncio.run(run())
    assert w3.eth.get_balance(payee) == 10**15
    assert JOURNAL.entries(int(w3.eth.chain_id), acct.address) == []
