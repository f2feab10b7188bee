"""The journal and the nonce manager know a node by its identity (chain id and genesis block hash),
not by its chain id alone: two real Anvils both serving chain 31337 never take each other's
transactions for abandoned or replaced ones, a nonce counted on one is never carried to a fresh
one, and journal entries written under the chain id alone (before the genesis hash was part of the
key) are still read and resolved."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from eth_account import Account
from web3 import Web3
from web3.exceptions import TransactionNotFound

from p2pescrow import errors
from p2pescrow.node.process import Node, start_node
from p2pescrow.transport.journal import Journal, entry_for
from p2pescrow.transport.nonces import NonceManager
from p2pescrow.transport.sync import Call, Transactor

pytestmark = [pytest.mark.anvil, pytest.mark.fault]
ETHER = 10**18


def _next_second() -> None:
    """Nodes started in the same second with the same settings have the same genesis block (its
    timestamp is the start time): start the next one in another second, as nodes of different runs are."""
    time.sleep(1.05 - time.time() % 1)


@pytest.fixture
def twins(error_log) -> Iterator[tuple[Node, Node]]:
    """Two Anvils with the same chain id (31337) and the same dev accounts."""
    with start_node("anvil") as first:
        _next_second()
        with start_node("anvil") as second:
            for node in (first, second):
                for account in node.accounts:
                    error_log.add_key(account.private_key)
            yield first, second


def transactor(node: Node, signer, journal: Journal, nonces: NonceManager, **options) -> Transactor:
    return Transactor(Web3(Web3.HTTPProvider(node.url)), signer, url=node.url, journal=journal, nonces=nonces,
                      poll_interval=0.01, **options)


def test_two_nodes_with_one_chain_id_have_two_identities(twins):
    first, _second = twins
    ids = [Transactor.connect(node.url).node_id() for node in twins]
    assert ids[0].chain_id == ids[1].chain_id == 31337
    assert ids[0].genesis != ids[1].genesis
    assert ids[0] == Transactor.connect(first.url).node_id()  # the same node, asked again


def test_a_pending_transaction_on_one_node_is_not_abandoned_on_its_twin(twins, tmp_path):
    first, second = twins
    journal, nonces = Journal(tmp_path / "journal"), NonceManager()
    payer = Account.from_key(first.accounts[3].private_key)  # the same dev account on both nodes
    payee = Account.create().address
    w3_first = Web3(Web3.HTTPProvider(first.url))
    w3_first.provider.make_request("evm_setAutomine", [False])
    try:
        stuck = transactor(first, payer, journal, nonces, timeout=0.2)
        with pytest.raises(errors.TransactionTimeout) as left:
            stuck.send(Call(payee, "0x", 1, "left pending on the first node"))

        on_second = transactor(second, payer, journal, nonces)
        notices: list[str] = []
        on_second.on_notice = notices.append
        paid = on_second.send(Call(payee, "0x", 2, "pay on the second node"))

        assert notices == []  # not "abandoned", not "replaced": it is not this node's transaction
        assert Web3(Web3.HTTPProvider(second.url)).eth.get_transaction(paid.tx_hash)["nonce"] == 0
        assert [e.tx_hash for e in on_second.journaled()] == []
        still = transactor(first, payer, journal, nonces)
        assert [e.tx_hash for e in still.journaled(payer.address)] == [left.value.tx_hash]
        with pytest.raises(errors.PendingTransaction) as refused:  # its own node still has it pending
            still.send(Call(payee, "0x", 3, "another payment on the first node"))
        assert refused.value.tx_hash == left.value.tx_hash
    finally:
        w3_first.provider.make_request("evm_setAutomine", [True])
    w3_first.provider.make_request("evm_mine", [])
    transactor(first, payer, journal, nonces).send(Call(payee, "0x", 3, "once the first is mined"))
    assert journal.entries(31337, payer.address) == []


def test_a_nonce_counted_on_one_node_is_not_carried_to_a_fresh_twin(twins, tmp_path):
    """The bug this fixes: an async test's Anvil, then the bench's fresh Anvil in the same process,
    and the bench's first send waited 120 s behind a nonce the fresh chain would never reach."""
    first, second = twins
    journal, nonces = Journal(tmp_path / "journal"), NonceManager()
    payer = Account.from_key(first.accounts[4].private_key)
    payee = Account.create().address
    on_first = transactor(first, payer, journal, nonces)
    for wei in (1, 2, 3):
        on_first.send(Call(payee, "0x", wei, "pay"))
    on_second = transactor(second, payer, journal, nonces, timeout=5)
    started = time.monotonic()
    result = on_second.send(Call(payee, "0x", 4, "pay on the fresh node"))
    assert time.monotonic() - started < 5
    assert Web3(Web3.HTTPProvider(second.url)).eth.get_transaction(result.tx_hash)["nonce"] == 0
    assert on_first.send(Call(payee, "0x", 5, "pay on the first again")).block_number > 0
    assert Web3(Web3.HTTPProvider(first.url)).eth.get_transaction_count(payer.address) == 4


def test_nodes_started_in_the_same_second_do_not_share_nonces_either(error_log, tmp_path):
    """Same settings, same second: the same genesis block, so the same identity. The nonce manager
    keys on the endpoint too: a count made on the first never reaches the second (a test suite
    starts its nodes that fast; this is how its bench waited 120 s)."""
    journal, nonces = Journal(tmp_path / "journal"), NonceManager()
    payee = Account.create().address
    with start_node("anvil") as first, start_node("anvil") as second:
        for node in (first, second):
            for account in node.accounts:
                error_log.add_key(account.private_key)
        payer = Account.from_key(first.accounts[6].private_key)
        on_first = transactor(first, payer, journal, nonces)
        for wei in (1, 2):
            on_first.send(Call(payee, "0x", wei, "pay"))
        on_second = transactor(second, payer, journal, nonces, timeout=5)
        result = on_second.send(Call(payee, "0x", 3, "pay on the other node"))
        same_genesis = on_first.node == on_second.node
        assert Web3(Web3.HTTPProvider(second.url)).eth.get_transaction(result.tx_hash)["nonce"] == 0
    if not same_genesis:
        pytest.skip("the two nodes started in different seconds: nothing shared to begin with")


def test_entries_written_under_the_chain_id_alone_are_still_read(twins, tmp_path):
    """An entry of the earlier layout (``journal/31337/<account>/...``, no genesis hash): a signed
    transaction the node never got. The next send finds it, rebroadcasts it (same bytes) and stops;
    once it is mined, sending goes on and the old entry is gone."""
    first, second = twins
    journal, nonces = Journal(tmp_path / "journal"), NonceManager()
    payer = Account.from_key(second.accounts[5].private_key)
    payee = Account.create().address
    w3 = Web3(Web3.HTTPProvider(second.url))
    block = w3.eth.get_block("latest")
    tx = {"to": payee, "value": 7, "data": "0x", "gas": 21_000, "chainId": 31337, "nonce": 0,
          "maxFeePerGas": 2 * int(block["baseFeePerGas"]) + 10**9, "maxPriorityFeePerGas": 10**9}
    signed = payer.sign_transaction(tx)
    old = journal.record(entry_for(31337, payer.address, tx, signed, "written by an earlier version"), track=False)
    assert old.genesis == "" and (tmp_path / "journal" / "31337" / payer.address.lower()).is_dir()

    t = transactor(second, payer, journal, nonces)
    with pytest.raises(errors.PendingTransaction) as stopped:
        t.send(Call(payee, "0x", 8, "new payment"))
    assert stopped.value.rebroadcast and stopped.value.tx_hash == old.tx_hash
    # automine: the same bytes, mined on the node asked (Anvil mines after answering the send: waited for, as
    # the SDK does) and not on its twin, which would take them too (same chain id, same dev account)
    assert w3.eth.wait_for_transaction_receipt(old.tx_hash, timeout=10)["status"] == 1
    with pytest.raises(TransactionNotFound):
        Web3(Web3.HTTPProvider(first.url)).eth.get_transaction(old.tx_hash)

    t.send(Call(payee, "0x", 8, "new payment"))
    assert w3.eth.get_balance(payee) == 15  # each payment once
    assert journal.entries(31337, payer.address) == []
