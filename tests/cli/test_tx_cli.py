"""``p2pescrow tx pending|resend|replace`` on a real Anvil: a transaction an earlier run left
behind is listed with what the node says of it, rebroadcast with the same bytes, or replaced with
the same nonce and higher fees; a new payment is refused while it is unresolved."""

from __future__ import annotations

import threading
import time

import pytest
from support.escrow_cli import DEV, Chain, Cli, one_error_line

from p2pescrow import errors
from p2pescrow.accounts import dev_account
from p2pescrow.transport.journal import JOURNAL
from p2pescrow.transport.sync import Call, Transactor

pytestmark = pytest.mark.anvil


@pytest.fixture
def manual_mining(deployed_anvil: Chain):
    deployed_anvil.w3.provider.make_request("evm_setAutomine", [False])
    yield
    deployed_anvil.w3.provider.make_request("evm_setAutomine", [True])


def left_pending(deployed_anvil: Chain, name: str, to: str, wei: int) -> str:
    """Send as ``name`` and give up waiting: what a run that died after sending leaves behind."""
    t = Transactor(deployed_anvil.w3, dev_account(name), url=deployed_anvil.url, timeout=0.2, poll_interval=0.01)
    with pytest.raises(errors.TransactionTimeout) as info:
        t.send(Call(to, "0x", wei, "pay"))
    return info.value.tx_hash


def test_pending_resend_after_the_node_lost_it(cli: Cli, deployed_anvil: Chain, manual_mining) -> None:
    payee = DEV["dev7"]
    before = deployed_anvil.balance(payee)
    tx_hash = left_pending(deployed_anvil, "dev4", payee, 10**15)

    listed = cli.json("tx", "pending", account="dev4")["transactions"]
    assert [(t["hash"], t["status"], t["nonce"]) for t in listed] == [(tx_hash, "pending", 0)]

    refused = cli("trade", "create", "--seller", DEV["dev2"], "--amount", "1", account="dev4")
    assert refused.exit_code == 5 and tx_hash in one_error_line(refused) and "tx pending" in refused.stderr

    deployed_anvil.w3.provider.make_request("anvil_dropTransaction", [tx_hash])
    assert cli.json("tx", "pending")["transactions"][0]["status"] == "dropped"
    resent = cli.json("tx", "resend", tx_hash)
    assert resent["resent"] is True
    deployed_anvil.w3.provider.make_request("evm_mine", [])
    assert deployed_anvil.w3.eth.get_transaction_receipt(tx_hash)["status"] == 1
    assert cli.json("tx", "pending")["transactions"][0]["status"] == "mined"
    assert cli.json("tx", "pending")["transactions"] == []
    assert deployed_anvil.balance(payee) - before == 10**15  # paid exactly once


def test_replace_bumps_fees_and_keeps_the_nonce(cli: Cli, deployed_anvil: Chain, manual_mining) -> None:
    payee = DEV["dev8"]
    before = deployed_anvil.balance(payee)
    tx_hash = left_pending(deployed_anvil, "dev5", payee, 10**15)
    original = deployed_anvil.w3.eth.get_transaction(tx_hash)
    done = threading.Event()

    def mine_once_replaced() -> None:  # the pool drops the original when the replacement comes in
        while not done.is_set():
            try:
                deployed_anvil.w3.eth.get_transaction(tx_hash)
            except Exception:  # noqa: BLE001 - TransactionNotFound: replaced in the pool
                deployed_anvil.w3.provider.make_request("evm_mine", [])
                return
            time.sleep(0.02)

    miner = threading.Thread(target=mine_once_replaced, daemon=True)
    miner.start()
    try:
        document = cli.json("tx", "replace", tx_hash, account="dev5")
    finally:
        done.set()
        miner.join(5)

    new_hash = document["tx"]["hash"]
    assert document["replaced"] == tx_hash and new_hash != tx_hash
    new = deployed_anvil.w3.eth.get_transaction(new_hash)
    assert new["nonce"] == original["nonce"]
    assert new["maxPriorityFeePerGas"] * 8 >= original["maxPriorityFeePerGas"] * 9
    assert new["maxFeePerGas"] * 8 >= original["maxFeePerGas"] * 9
    assert deployed_anvil.balance(payee) - before == 10**15  # once: the original can never be mined now
    assert JOURNAL.entries(deployed_anvil.node.chain_id, DEV["dev5"]) == []
    assert cli.json("tx", "pending")["transactions"] == []


def test_replace_needs_the_sender(cli: Cli, deployed_anvil: Chain, manual_mining) -> None:
    tx_hash = left_pending(deployed_anvil, "dev6", DEV["dev9"], 1)
    result = cli("tx", "replace", tx_hash, account="dev1")
    assert result.exit_code == 2 and "was sent by" in one_error_line(result)
    deployed_anvil.w3.provider.make_request("evm_mine", [])
    assert cli.json("tx", "pending")["transactions"][0]["status"] == "mined"
