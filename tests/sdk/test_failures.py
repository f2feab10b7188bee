"""Every failure is a typed P2PEscrowError raised before anything is sent: reverts are decoded from
the simulation (the sender's nonce and balance do not move), bad input is refused locally, and
network/deployment problems name what is wrong."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from dataclasses import replace

import pytest
from eth_account import Account
from web3 import Web3

from p2pescrow import EscrowClient, P2PEscrowError, TradeState, errors
from p2pescrow.chains import embedded_async_web3
from p2pescrow.clients.aio import AsyncEscrowClient
from p2pescrow.deployments import DeploymentMismatch, NoDeployment, OutdatedDeployment, Registry
from p2pescrow.node.process import start_node

ETHER = 10**18


@pytest.fixture
def funded(embedded):
    """A funded ETH trade: (buyer account and client, seller account and client, trade id)."""
    buyer_acct, buyer = embedded.party()
    seller_acct, seller = embedded.party(1)
    trade_id = buyer.create(seller=seller_acct.address, amount="1").trade_id
    return buyer_acct, buyer, seller_acct, seller, trade_id


# -- reverts, decoded before gas is spent ----------------------------------------------------------
def test_wrong_state(embedded, funded):
    buyer_acct, buyer, _, _, trade_id = funded
    buyer.release(trade_id)
    with embedded.no_tx(buyer_acct.address), pytest.raises(errors.WrongState) as info:
        buyer.release(trade_id, "0.1")
    assert info.value.id == trade_id and info.value.state == TradeState.COMPLETED == 5
    assert isinstance(info.value, errors.ContractError) and isinstance(info.value, P2PEscrowError)
    assert "not in a state that allows this" in str(info.value)
    assert info.value.data.startswith(errors.WrongState.selector)


def test_unauthorized(embedded, funded):
    _, _, seller_acct, seller, trade_id = funded
    with embedded.no_tx(seller_acct.address), pytest.raises(errors.Unauthorized) as info:
        seller.release(trade_id)
    assert info.value.caller == seller_acct.address
    assert info.value.id == trade_id


def test_deadline_passed(embedded):
    buyer_acct, buyer = embedded.party()
    seller_acct, seller = embedded.party(1)
    unfunded = seller.create(buyer=buyer_acct.address, amount="1", funding_window=300).trade_id
    funded = buyer.create(
        seller=seller_acct.address, amount="1", release_window=300, arbiter=embedded.account(0).address
    ).trade_id
    embedded.sleep(300)
    with embedded.no_tx(buyer_acct.address), pytest.raises(errors.DeadlinePassed) as info:
        buyer.fund(unfunded)
    assert info.value.deadline == int(buyer.trade(unfunded).deadline.timestamp())
    with embedded.no_tx(buyer_acct.address), pytest.raises(errors.DeadlinePassed):
        buyer.dispute(funded)
    with embedded.no_tx(seller_acct.address), pytest.raises(errors.DeadlinePassed):
        seller.mark_delivered(funded)


def test_invalid_part(embedded, funded):
    buyer_acct, buyer, _, _, trade_id = funded
    with embedded.no_tx(buyer_acct.address), pytest.raises(errors.InvalidPart) as info:
        buyer.release(trade_id, "1.5")
    assert (info.value.requested, info.value.held) == (3 * ETHER // 2, ETHER)


def test_more_reverts_map_to_their_classes(embedded, funded):
    buyer_acct, buyer, seller_acct, seller, trade_id = funded
    with embedded.no_tx(buyer_acct.address), pytest.raises(errors.NoArbiter):
        buyer.dispute(trade_id)
    with embedded.no_tx(buyer_acct.address), pytest.raises(errors.SettlementMismatch) as info:
        buyer.accept_settlement(trade_id, 5_000)
    assert (info.value.proposedBps, info.value.acceptedBps) == (0, 5_000)
    # A bound that is a constant in the contract is checked before any request (tests/sdk/test_hints.py)
    with embedded.no_tx(buyer_acct.address), pytest.raises(errors.InputError, match="cap of 10000 bps"):
        buyer.propose_settlement(trade_id, 10_001)
    seller.mark_delivered(trade_id)
    with embedded.no_tx(seller_acct.address), pytest.raises(errors.AlreadyMarked):
        seller.mark_delivered(trade_id)
    with embedded.no_tx(buyer_acct.address), pytest.raises(errors.NothingToWithdraw):
        buyer.withdraw()
    with embedded.no_tx(buyer_acct.address), pytest.raises(errors.OwnableUnauthorizedAccount):
        buyer.set_platform_fee(100)
    with embedded.no_tx(buyer_acct.address), pytest.raises(errors.InputError, match="release window"):
        buyer.create(seller=seller_acct.address, amount="1", release_window=0)
    with embedded.no_tx(buyer_acct.address), pytest.raises(errors.ArbiterIsParty):
        buyer.create(seller=seller_acct.address, amount="1", arbiter=seller_acct.address)


def test_owner_operations(embedded):
    """Owner ops through the client: pause stops new trades (typed revert), fee changes apply to
    new trades only (the client fills in the fee in force)."""
    owner = embedded.base  # dev account 0 deployed and owns the contracts
    buyer_acct, buyer = embedded.party()
    seller = embedded.account(0)
    owner.pause()
    try:
        with embedded.no_tx(buyer_acct.address), pytest.raises(errors.EnforcedPause):
            buyer.create(seller=seller.address, amount="0.1")
    finally:
        owner.unpause()
    owner.set_platform_fee(50)
    try:
        trade_id = buyer.create(seller=seller.address, amount="1").trade_id
        assert buyer.trade(trade_id).platform_fee_bps == 50
        buyer.release(trade_id)
        assert embedded.eth(seller.address) == ETHER - ETHER * 50 // 10_000
    finally:
        owner.set_platform_fee(25)


# -- funds, checked with the numbers ---------------------------------------------------------------
def test_not_enough_eth(embedded):
    buyer_acct, buyer = embedded.party("0.1")
    seller = embedded.account(0)
    with embedded.no_tx(buyer_acct.address), pytest.raises(errors.InsufficientFunds) as info:
        buyer.create(seller=seller.address, amount="1.5")
    assert "needs 1.5 ETH" in str(info.value) and "has 0.1 ETH" in str(info.value)
    assert isinstance(info.value, errors.TransactionError)


def test_enough_for_the_amount_but_not_for_gas(embedded):
    buyer_acct, buyer = embedded.party("1")
    with embedded.no_tx(buyer_acct.address), pytest.raises(errors.InsufficientFunds) as info:
        buyer.create(seller=embedded.account(0).address, amount="1")
    assert "value + " in str(info.value) and f"has {ETHER} wei" in str(info.value)


def test_not_enough_tokens(embedded, token_buyer):
    token, buyer_acct, buyer = token_buyer
    with embedded.no_tx(buyer_acct.address), pytest.raises(errors.InsufficientFunds) as info:
        buyer.create(seller=embedded.account(0).address, token=token.address, amount="250.5")
    assert str(info.value) == "insufficient TUSD balance: needs 250.5 TUSD, has 100 TUSD"


# -- input refused locally -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def token_buyer(embedded):
    """A 6-decimal token and a buyer holding 100 of it (shared: these tests never send anything)."""
    token = embedded.token(decimals=6)
    buyer_acct, buyer = embedded.party()
    embedded.mint(token, buyer_acct.address, 100 * 10**6)
    return token, buyer_acct, buyer


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        ("1.0000001", "has 7 decimals, the token has 6"),
        (0.5, "not a float"),
        ("0", "greater than zero"),
        ("-3", "greater than zero"),
        ("ten", "not a number"),
    ],
)
def test_invalid_amounts(embedded, token_buyer, amount, reason):
    token, buyer_acct, buyer = token_buyer
    with embedded.no_tx(buyer_acct.address), pytest.raises(errors.InvalidAmount, match=reason):
        buyer.create(seller=embedded.account(0).address, token=token.address, amount=amount)


def test_invalid_part_amounts_are_refused_before_sending(embedded, funded):
    buyer_acct, buyer, _, _, trade_id = funded
    with embedded.no_tx(buyer_acct.address), pytest.raises(errors.InvalidAmount, match="float"):
        buyer.release(trade_id, 0.1)
    with embedded.no_tx(buyer_acct.address), pytest.raises(errors.InvalidAmount, match="19 decimals"):
        buyer.release(trade_id, "0.0000000000000000001")


def _bad_checksum(address: str) -> str:
    body = address[2:]
    for i, ch in enumerate(body):
        if ch.isalpha():
            flipped = ch.lower() if ch.isupper() else ch.upper()
            return "0x" + body[:i] + flipped + body[i + 1 :]
    raise AssertionError("no letter in the address")


@pytest.mark.parametrize("kind", ["bad checksum", "too short", "not hex", "empty"])
def test_invalid_addresses(embedded, token_buyer, kind):
    _, buyer_acct, buyer = token_buyer
    good = Account.create().address
    while good[2:].isdigit() or good[2:].lower() == good[2:] or good[2:].upper() == good[2:]:
        good = Account.create().address
    value = {
        "bad checksum": _bad_checksum(good),
        "too short": "0x1234",
        "not hex": "0x" + "zz" * 20,
        "empty": "",
    }[kind]
    with embedded.no_tx(buyer_acct.address), pytest.raises(errors.InvalidAddress) as info:
        buyer.create(seller=value, amount="1")
    assert repr(value) in str(info.value)
    if kind == "bad checksum":
        assert "checksum" in str(info.value)
        assert (
            buyer.build_terms(seller=good.lower(), amount="1").seller == good
        )  # lower case is fine


def test_unknown_and_malformed_trade_ids(embedded):
    buyer_acct, buyer = embedded.party()
    unknown = "0x" + "ab" * 32
    with embedded.no_tx(buyer_acct.address), pytest.raises(errors.InputError, match="no trade 0xabab"):
        buyer.release(unknown)
    with pytest.raises(errors.InputError, match="not a trade id"):
        buyer.trade("0x1234")


# -- networks and deployments ----------------------------------------------------------------------
def test_wrong_chain(embedded):
    with pytest.raises(errors.WrongChain) as info:
        EscrowClient.from_web3(
            embedded.w3, Account.create(), deployment=embedded.base.deployment, expected_chain_id=1
        )
    assert (info.value.expected, info.value.actual) == (1, embedded.base.deployment.chain_id)
    assert isinstance(info.value, errors.NetworkError)


def test_no_deployment(embedded, tmp_path):
    with pytest.raises(NoDeployment, match=f"chain id {embedded.base.deployment.chain_id}") as info:
        EscrowClient.from_web3(embedded.w3, Account.create(), registry=Registry(tmp_path / "empty.json"))
    assert info.value.hint and isinstance(info.value, errors.ConfigError)


def test_deployment_mismatch(embedded, tmp_path):
    other_code = embedded.token(decimals=6)
    registry = Registry(tmp_path / "deployments.json")
    registry.put(replace(embedded.base.deployment, reputation=other_code.address))
    with pytest.raises(DeploymentMismatch, match=other_code.address) as info:
        EscrowClient.from_web3(embedded.w3, Account.create(), registry=registry)
    assert isinstance(info.value, errors.NetworkError)
    registry.put(embedded.base.deployment)  # the right record connects
    assert (
        EscrowClient.from_web3(embedded.w3, Account.create(), registry=registry).deployment
        == embedded.base.deployment
    )


def test_a_version_1_deployment_is_refused_on_connecting(embedded, tmp_path):
    """v1 is left behind: a record of version 1, or an escrow whose code has no VERSION(), is refused
    with one line saying to redeploy, by the client itself (sync and async connect the same way)."""
    registry = Registry(tmp_path / "deployments.json")
    registry.put(replace(embedded.base.deployment, version=1))
    with pytest.raises(OutdatedDeployment, match="version 2") as info:
        EscrowClient.from_web3(embedded.w3, Account.create(), registry=registry)
    assert "\n" not in str(info.value) and "deploy" in f"{info.value} {info.value.hint}"
    no_version = embedded.token(decimals=6)  # code without VERSION(), as an escrow v1's
    with pytest.raises(OutdatedDeployment):
        EscrowClient.from_web3(embedded.w3, Account.create(),
                               deployment=replace(embedded.base.deployment, escrow=no_version.address))
    async_w3 = embedded_async_web3(embedded.base._chain)
    for refused in (dict(registry=registry),
                    dict(deployment=replace(embedded.base.deployment, escrow=no_version.address))):
        with pytest.raises(OutdatedDeployment):
            asyncio.run(AsyncEscrowClient.from_web3(async_w3, Account.create(), **refused))


def test_corrupt_registry_is_a_config_error(embedded, tmp_path):
    path = tmp_path / "deployments.json"
    path.write_text("{oops")
    with pytest.raises(errors.ConfigError, match="not valid JSON"):
        EscrowClient.from_web3(embedded.w3, Account.create(), registry=Registry(path))


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_node_unreachable():
    url = _dead_url()
    start = time.monotonic()
    with pytest.raises(errors.NodeUnreachable) as info:
        EscrowClient.connect(url, Account.create())
    assert info.value.url == url and url in str(info.value)
    assert info.value.tx_hash is None and info.value.hint
    assert time.monotonic() - start < 10


@pytest.mark.anvil
def test_node_killed_while_waiting_for_the_receipt(tmp_path, error_log, fresh_chain_id):
    """The transaction is broadcast, then the node dies before mining it: the error says so and
    carries the hash, so the caller can look it up instead of sending again."""
    with start_node("anvil", chain_id=fresh_chain_id) as node:
        dev = Account.from_key(node.accounts[0].private_key)
        buyer = Account.from_key(node.accounts[1].private_key)
        for account in node.accounts:
            error_log.add_key(account.private_key)
        registry = Registry(tmp_path / "deployments.json")
        EscrowClient.deploy(Web3(Web3.HTTPProvider(node.url)), dev, registry=registry, url=node.url)
        client = EscrowClient.connect(node.url, buyer, registry=registry, timeout=60)
        client.w3.provider.make_request("evm_setAutomine", [False])  # the tx stays pending
        watcher_w3 = Web3(Web3.HTTPProvider(node.url))
        done = threading.Event()

        def stop_once_broadcast() -> None:  # the node dies as soon as the tx is in its pool
            while not done.is_set():
                if watcher_w3.eth.get_transaction_count(buyer.address, "pending") > 0:
                    node.stop()
                    return
                time.sleep(0.02)

        killer = threading.Thread(target=stop_once_broadcast, daemon=True)
        killer.start()
        start = time.monotonic()
        try:
            with pytest.raises((errors.NodeUnreachable, errors.TransactionTimeout)) as info:
                client.create(seller=node.accounts[2].address, amount="1")
        finally:
            done.set()
            killer.join(10)
        assert not node.running
        assert time.monotonic() - start < 30
    tx_hash = info.value.tx_hash
    assert tx_hash and tx_hash.startswith("0x") and len(tx_hash) == 66
    assert tx_hash in str(info.value)
    assert isinstance(info.value, errors.NodeUnreachable) and info.value.url == node.url


def test_timeout_carries_the_hash(embedded):
    """A receipt that does not come in time: TransactionTimeout with the hash (embedded chain with
    a zero timeout and one more confirmation than will ever arrive)."""
    buyer_acct = embedded.account()
    client = embedded.client(buyer_acct, timeout=0.2, confirmations=10**6)
    with pytest.raises(errors.TransactionTimeout) as info:
        client.create(seller=embedded.account(0).address, amount="0.1")
    assert info.value.tx_hash.startswith("0x") and info.value.tx_hash in str(info.value)
    assert embedded.nonce(buyer_acct.address) == 1  # it was sent (and mined): the hash lets you find it
    receipt = embedded.w3.eth.get_transaction_receipt(info.value.tx_hash)
    assert receipt["status"] == 1
    assert json.dumps(str(info.value))  # a plain message
