"""Another program takes our nonce, for real: a wallet holding the same key sends its own
transaction with the nonce ours is being signed with, straight to a real Anvil, just before ours
goes out. Mined ("nonce too low") or still pending ("replacement transaction underpriced"), the
call is checked again and sent once with the next nonce; a second theft raises NonceConflict with
nothing of ours sent; a call the other transaction made invalid raises its typed error."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from support.harness import funded
from web3 import AsyncWeb3, Web3

from p2pescrow import EscrowClient, errors
from p2pescrow.cli.render import EXIT_CODES_HELP
from p2pescrow.deployments import Registry
from p2pescrow.errors import exit_code_for
from p2pescrow.models import TradeState
from p2pescrow.transport.aio import AsyncTransactor
from p2pescrow.transport.journal import JOURNAL
from p2pescrow.transport.reverts import ALREADY_KNOWN, NONCE_TAKEN, refusal_error, send_refusal
from p2pescrow.transport.sync import Call, Transactor

pytestmark = pytest.mark.anvil
ETHER = 10**18


class SharedKey:
    """A LocalAccount whose key another wallet uses at the same time: before each of the next
    ``steals`` signatures, that wallet signs its own transaction (``theirs(ours)``) with the nonce
    ours is being signed with and sends it straight to the node (plain web3), as another program
    would. Everything else (``address``, ``key``, ...) is the real account's."""

    def __init__(self, account: LocalAccount, url: str, theirs: Callable[[dict[str, Any]], dict[str, Any]],
                 steals: int = 1, before_signing: Callable[[int], None] | None = None) -> None:
        self._account = account
        self._w3 = Web3(Web3.HTTPProvider(url))
        self._theirs = theirs
        self.steals = steals
        self.before_signing = before_signing  # called with the count of our signatures so far
        self.stolen: list[str] = []  # the other wallet's transactions
        self.signed: list[int] = []  # the nonces ours were signed with

    def __getattr__(self, name: str) -> Any:
        return getattr(self._account, name)

    def sign_transaction(self, tx: dict[str, Any]) -> Any:
        if self.steals > 0:
            self.steals -= 1
            other = self._account.sign_transaction(self._theirs(dict(tx)))
            self.stolen.append("0x" + bytes(self._w3.eth.send_raw_transaction(other.raw_transaction)).hex())
        if self.before_signing is not None:
            self.before_signing(len(self.signed))
        self.signed.append(int(tx["nonce"]))
        return self._account.sign_transaction(tx)


def pays(to: str, wei: int = 1) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The other wallet's transaction: ``wei`` to ``to``, same nonce and fees as ours."""
    return lambda ours: {**ours, "to": to, "value": wei, "data": "0x", "gas": 21_000}


@pytest.fixture
def w3(node) -> Iterator[Web3]:
    w3 = Web3(Web3.HTTPProvider(node.url))
    yield w3
    w3.provider.make_request("evm_setAutomine", [True])


# -- the classifier, over the nodes' own words -------------------------------------------------------
@pytest.mark.parametrize(("answer", "kind"), [
    ("nonce too low", NONCE_TAKEN),  # Anvil, geth
    ("nonce too low: next nonce 5, tx nonce 4", NONCE_TAKEN),
    ("nonce too low: address 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266, tx: 4 state: 5", NONCE_TAKEN),
    ("replacement transaction underpriced", NONCE_TAKEN),  # Anvil, geth: a pending one holds it
    ("replacement fee too low", NONCE_TAKEN),
    ("the tx doesn't have the correct nonce. account has nonce of: 4 tx has nonce of: 1", NONCE_TAKEN),  # Ganache 7
    ("the tx doesn't have the correct nonce. account has nonce of: 0 tx has nonce of: 14", None),  # too high
    ("already known", ALREADY_KNOWN),  # geth
    ("transaction already imported", ALREADY_KNOWN),  # Anvil
    ("known transaction: 0x5326ec", ALREADY_KNOWN),
    ("Transaction with the same hash was already imported.", ALREADY_KNOWN),  # Ganache 6, OpenEthereum
    ("transaction underpriced", None),  # geth: under the pool's minimum (Ganache: a replacement; ambiguous)
    ("insufficient funds for gas * price + value", None),
    ("intrinsic gas too low", None),
])
def test_refusals_are_classified_from_the_nodes_words(answer, kind):
    refused = errors.P2PEscrowError(f"the node refused the request: {{'code': -32003, 'message': '{answer}'}}")
    assert send_refusal(refused) == kind
    account = Account.create().address
    settled = refusal_error(refused, account, 7)
    if kind == NONCE_TAKEN:  # and the node does not have our hash: another transaction took it
        assert isinstance(settled, errors.NonceConflict) and (settled.account, settled.nonce) == (account, 7)
        assert f"nonce 7 of {account} was used by another transaction" in str(settled)
        assert "was not sent" in str(settled) and "next nonce" in (settled.hint or "")
        assert exit_code_for(settled) == 5
        assert refusal_error(refused, account, None) is refused  # a deliberate replacement: as the node says
    else:
        assert settled is refused


def test_exit_codes_help_names_the_conflict():
    assert "another transaction took its nonce (nothing sent)" in EXIT_CODES_HELP
    assert exit_code_for(errors.NonceConflict("0x" + "ab" * 20, 3)) == 5


# -- the sync path -------------------------------------------------------------------------------
@pytest.mark.fault
@pytest.mark.parametrize("theirs_state", ["mined", "pending"])
def test_a_nonce_taken_once_is_retried_with_the_next_one(node, w3, error_log, theirs_state):
    """The other wallet's transaction is mined at once ("nonce too low"), or waits in the pool with
    fees ours does not outbid ("replacement transaction underpriced"): ours goes out once, with the
    next nonce."""
    acct = funded(node, error_log)
    payee, other_payee = Account.create().address, Account.create().address

    def mine_theirs_first(signed_so_far: int) -> None:  # pending case: before our retry is signed
        if signed_so_far == 1:
            w3.provider.make_request("evm_mine", [])
            w3.provider.make_request("evm_setAutomine", [True])

    signer = SharedKey(acct, node.url, pays(other_payee),
                       before_signing=mine_theirs_first if theirs_state == "pending" else None)
    t = Transactor(w3, signer, url=node.url, timeout=10, poll_interval=0.01)
    notices: list[str] = []
    t.on_notice = notices.append
    if theirs_state == "pending":
        w3.provider.make_request("evm_setAutomine", [False])
    result = t.send(Call(payee, "0x", ETHER // 10, "pay"))

    assert signer.signed == [0, 1] and len(signer.stolen) == 1
    assert int(w3.eth.get_transaction(result.tx_hash)["nonce"]) == 1
    assert int(w3.eth.get_transaction(signer.stolen[0])["nonce"]) == 0
    assert w3.eth.get_transaction_receipt(signer.stolen[0])["status"] == 1
    assert len(notices) == 1 and "nonce 0" in notices[0] and "next nonce" in notices[0]
    assert w3.eth.get_balance(payee) == ETHER // 10  # paid once, by us
    assert w3.eth.get_balance(other_payee) == 1  # and the other wallet's transaction, once
    assert w3.eth.get_transaction_count(acct.address) == 2
    assert JOURNAL.entries(t.chain_id, acct.address) == []


@pytest.mark.fault
def test_a_nonce_taken_every_time_raises_nonce_conflict_and_sends_nothing(node, w3, error_log):
    acct = funded(node, error_log)
    payee, other_payee = Account.create().address, Account.create().address
    signer = SharedKey(acct, node.url, pays(other_payee), steals=10)
    t = Transactor(w3, signer, url=node.url, timeout=10, poll_interval=0.01)
    notices: list[str] = []
    t.on_notice = notices.append
    with pytest.raises(errors.NonceConflict) as info:
        t.send(Call(payee, "0x", ETHER // 10, "pay"))
    assert (info.value.account, info.value.nonce) == (acct.address, 1)  # the retry's nonce
    assert signer.signed == [0, 1] and len(signer.stolen) == 2  # retried once, not more
    assert len(notices) == 1
    assert exit_code_for(info.value) == 5
    assert JOURNAL.entries(t.chain_id, acct.address) == []
    assert w3.eth.get_balance(payee) == 0  # our payment was never made
    assert w3.eth.get_transaction_count(acct.address) == 2  # both nonces are the other wallet's
    assert w3.eth.get_balance(other_payee) == 2


@pytest.mark.fault
@pytest.mark.parametrize("theirs_state", ["automine", "pending"])
def test_a_call_the_other_transaction_made_invalid_raises_its_revert_on_the_retry(node, w3, error_log, tmp_path,
                                                                                   theirs_state):
    """The other wallet releases the trade first (the same call, another gas limit: another
    transaction): our release, checked again after the conflict, reverts in the simulation and is
    never sent. Automining, theirs may be mined or not yet when ours is refused (Anvil answers a
    send before it mines); "pending" holds theirs in the pool until the end: the check must see it
    there, not pass on the latest block and send a release that reverts once mined."""
    dev = Account.from_key(node.accounts[0].private_key)
    deployment = EscrowClient.deploy(w3, dev, registry=Registry(tmp_path / "deployments.json"), url=node.url)
    acct = funded(node, error_log, eth=5)
    seller = Account.create().address
    signer = SharedKey(acct, node.url, lambda ours: {**ours, "gas": int(ours["gas"]) + 1}, steals=0)
    buyer = EscrowClient.from_web3(w3, signer, deployment=deployment, url=node.url, poll_interval=0.01)
    notices: list[str] = []
    buyer.tx.on_notice = notices.append
    trade = buyer.create(seller=seller, amount="1")
    nonce = w3.eth.get_transaction_count(acct.address)
    signer.steals = 1
    if theirs_state == "pending":
        w3.provider.make_request("evm_setAutomine", [False])
    with pytest.raises(errors.error_class("WrongState")) as info:  # the trade is COMPLETED by then
        buyer.release(trade.trade_id)
    assert info.value.state == TradeState.COMPLETED and exit_code_for(info.value) == 3
    assert len(notices) == 1 and f"nonce {nonce}" in notices[0]
    assert signer.signed == [nonce - 1, nonce]  # the create, then the release the other wallet beat
    if theirs_state == "pending":
        assert w3.eth.get_transaction_count(acct.address, "latest") == nonce  # theirs not mined yet
        w3.provider.make_request("evm_mine", [])
    assert w3.eth.wait_for_transaction_receipt(signer.stolen[0], timeout=10)["status"] == 1  # their release
    assert w3.eth.get_transaction_count(acct.address) == nonce + 1  # theirs only: ours was not sent
    after = buyer.trade(trade.trade_id)
    assert after.state == TradeState.COMPLETED and after.held == 0  # released once, by their transaction
    assert JOURNAL.entries(buyer.tx.chain_id, acct.address) == []


@pytest.mark.fault
def test_a_nonce_used_between_two_sends_is_caught_and_the_next_send_asks_the_node(node, w3, error_log):
    """After a send, the next nonce is counted locally (the node is not asked). Another wallet with
    the same key sends in between: ours goes out with the taken nonce, is refused ("nonce too low",
    nothing sent), and is retried once with the node's count; the one after needs no retry."""
    acct = funded(node, error_log)
    payee, other_payee = Account.create().address, Account.create().address
    t = Transactor(w3, acct, url=node.url, timeout=10, poll_interval=0.01)
    notices: list[str] = []
    t.on_notice = notices.append
    t.send(Call(payee, "0x", 1, "first"))
    block = w3.eth.get_block("latest")
    theirs = acct.sign_transaction({"to": other_payee, "value": 5, "gas": 21_000, "nonce": 1, "chainId": t.chain_id,
                                    "maxFeePerGas": 2 * int(block["baseFeePerGas"]) + 10**9,
                                    "maxPriorityFeePerGas": 10**9})
    sent = w3.eth.send_raw_transaction(theirs.raw_transaction)
    assert w3.eth.wait_for_transaction_receipt(sent, timeout=30)["status"] == 1

    second = t.send(Call(payee, "0x", 2, "second"))
    third = t.send(Call(payee, "0x", 3, "third"))

    assert len(notices) == 1 and "nonce 1" in notices[0]
    assert [int(w3.eth.get_transaction(r.tx_hash)["nonce"]) for r in (second, third)] == [2, 3]
    assert w3.eth.get_balance(payee) == 6 and w3.eth.get_balance(other_payee) == 5  # each payment once
    assert JOURNAL.entries(t.chain_id, acct.address) == []


# -- the asyncio path ----------------------------------------------------------------------------
@pytest.mark.fault
@pytest.mark.parametrize("steals", [1, 10])
def test_async_twin_retries_a_taken_nonce_once(node, w3, error_log, steals):
    acct = funded(node, error_log)
    payee, other_payee = Account.create().address, Account.create().address
    signer = SharedKey(acct, node.url, pays(other_payee), steals=steals)
    notices: list[str] = []

    async def run() -> Any:
        aw3 = AsyncWeb3(AsyncWeb3.AsyncHTTPProvider(node.url))
        t = AsyncTransactor(aw3, signer, chain_id=int(w3.eth.chain_id), url=node.url, timeout=10,
                            poll_interval=0.01)
        t.on_notice = notices.append
        try:
            return await t.send(Call(payee, "0x", ETHER // 10, "pay"))
        except errors.NonceConflict as exc:
            return exc
        finally:
            await aw3.provider.disconnect()

    outcome = asyncio.run(run())
    assert signer.signed == [0, 1] and len(notices) == 1 and "nonce 0" in notices[0]
    assert w3.eth.get_transaction_count(acct.address) == 2
    assert JOURNAL.entries(int(w3.eth.chain_id), acct.address) == []
    if steals == 1:
        assert int(w3.eth.get_transaction(outcome.tx_hash)["nonce"]) == 1
        assert w3.eth.get_balance(payee) == ETHER // 10
    else:
        assert isinstance(outcome, errors.NonceConflict) and (outcome.account, outcome.nonce) == (acct.address, 1)
        assert w3.eth.get_balance(payee) == 0
