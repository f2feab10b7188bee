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


# -- replacing a stuck transaction through the path (what `tx replace` calls) -------------------------
def _stuck(w3, node, acct, payee):
    """A payment left pending (automine off), as a run that gave up waiting leaves it."""
    w3.provider.make_request("evm_setAutomine", [False])
    with pytest.raises(errors.TransactionTimeout) as info:
        transactor(w3, node, acct, timeout=0.2).send(Call(payee, "0x", 10**15, "pay"))
    entry = JOURNAL.find(info.value.tx_hash)
    assert entry is not None
    return entry


@pytest.mark.parametrize("path", ["sync", "asyncio"])
def test_replace_sends_the_same_call_with_the_same_nonce_and_higher_fees(w3, node, error_log, path):
    import asyncio
    import threading
    import time

    from web3 import AsyncWeb3

    from p2pescrow.transport.aio import AsyncTransactor

    acct = funded(w3, node, error_log)
    payee = Account.create().address
    entry = _stuck(w3, node, acct, payee)
    seen: list = []
    stop = threading.Event()

    def mine_once_replaced() -> None:  # the pool drops the original when the replacement comes in
        while not stop.is_set():
            try:
                w3.eth.get_transaction(entry.tx_hash)
            except Exception:  # noqa: BLE001 - TransactionNotFound: replaced in the pool
                w3.provider.make_request("evm_mine", [])
                return
            time.sleep(0.02)

    miner = threading.Thread(target=mine_once_replaced, daemon=True)
    miner.start()
    try:
        if path == "sync":
            result = transactor(w3, node, acct, timeout=10).replace(entry, before_send=lambda c, p: seen.append(p))
        else:
            async def run():
                aw3 = AsyncWeb3(AsyncWeb3.AsyncHTTPProvider(node.url))
                t = AsyncTransactor(aw3, acct, chain_id=entry.chain_id, url=node.url, timeout=10, poll_interval=0.01)
                try:
                    return await t.replace(entry, before_send=lambda c, p: seen.append(p))
                finally:
                    await aw3.provider.disconnect()

            result = asyncio.run(run())
    finally:
        stop.set()
        miner.join(5)

    new = w3.eth.get_transaction(result.tx_hash)
    assert result.tx_hash != entry.tx_hash and new["nonce"] == entry.nonce
    assert new["maxPriorityFeePerGas"] * 8 >= entry.max_priority_fee_per_gas * 9  # type: ignore[operator]
    assert new["maxFeePerGas"] * 8 >= entry.max_fee_per_gas * 9  # type: ignore[operator]
    assert len(seen) == 1 and seen[0].max_fee_per_gas == new["maxFeePerGas"]  # asked before signing
    assert w3.eth.get_balance(payee) == 10**15  # once: the original can never be mined now
    assert JOURNAL.entries(entry.chain_id, acct.address) == []


def test_replace_refuses_what_is_already_mined_and_another_senders_transaction(w3, node, error_log):
    acct, other = funded(w3, node, error_log), funded(w3, node, error_log)
    entry = _stuck(w3, node, acct, Account.create().address)
    with pytest.raises(errors.InputError, match="was sent by"):
        transactor(w3, node, other).replace(entry)
    w3.provider.make_request("evm_mine", [])
    with pytest.raises(errors.InputError, match="already mined"):
        transactor(w3, node, acct).replace(entry)
    assert JOURNAL.entries(entry.chain_id, acct.address) == []
