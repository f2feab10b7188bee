"""The lifecycle scenarios on a real Anvil and a real Ganache (each deployed with
EscrowClient.deploy into a Registry file and connected through it), and the same revert decoded
into the same class with the same arguments on the embedded chain, Anvil and Ganache."""

from __future__ import annotations

import pytest
from eth_account import Account

from p2pescrow import SignedOffer, TradeState, errors
from p2pescrow.models import ZERO_ADDRESS, ReputationRole, Role

ETHER = 10**18
FEE_BPS = 25


def fee_of(gross: int) -> int:
    """The platform fee, rounded up as the contract takes it."""
    return (gross * FEE_BPS + 9_999) // 10_000


def eth_listed(real_node) -> None:
    """ETH is a reputation asset (minimum 0.01) on this node: trades created from now on record."""
    if real_node.base.reputation_assets().get(ZERO_ADDRESS) != (True, ETHER // 100):
        real_node.base.set_reputation_asset(None, min_amount="0.01")


def test_eth_happy_path(real_node):
    eth_listed(real_node)
    buyer_acct, buyer = real_node.party(5)
    seller_acct, seller = real_node.party(1)
    start, seller_start = real_node.eth(buyer_acct.address), real_node.eth(seller_acct.address)
    created = buyer.create(seller=seller_acct.address, amount="1.5")
    assert buyer.trade(created.trade_id).state is TradeState.FUNDED
    accepted = seller.accept(created.trade_id)  # the seller enters the trade: it counts for reputation
    released = buyer.release(created.trade_id)
    amount = 3 * ETHER // 2
    assert real_node.eth(seller_acct.address) == seller_start + amount - fee_of(amount) - accepted.fee
    assert real_node.eth(buyer_acct.address) == start - amount - created.tx.fee - released.fee
    assert buyer.trade(created.trade_id).state is TradeState.COMPLETED
    record = buyer.reputation(seller_acct.address).record(ZERO_ADDRESS, ReputationRole.SELLER)
    assert (record.completed, record.volume) == (1, amount)
    assert [e.name for e in buyer.history(created.trade_id)] == ["TradeCreated", "SellerAccepted", "Released"]


def test_erc20_happy_path(real_node):
    token = real_node.token(decimals=6)
    buyer_acct, buyer = real_node.party(5)
    seller = real_node.account(0)
    real_node.mint(token, buyer_acct.address, 500 * 10**6)
    nonce = real_node.nonce(buyer_acct.address)
    created = buyer.create(seller=seller.address, token=token.address, amount="120.25")
    assert real_node.nonce(buyer_acct.address) == nonce + 2
    assert token.functions.allowance(buyer_acct.address, buyer.deployment.escrow).call() == 0
    assert [a["value"] for a in real_node.erc20_logs(token, "Approval", owner=buyer_acct.address)] == [
        120_250_000
    ]
    buyer.release(created.trade_id)
    assert token.functions.balanceOf(seller.address).call() == 120_250_000 - fee_of(120_250_000)
    assert buyer.trade(created.trade_id).state is TradeState.COMPLETED


def test_dispute_and_ruling(real_node):
    eth_listed(real_node)
    buyer_acct, buyer = real_node.party(5)
    seller, seller_client = real_node.party(1)
    arbiter_acct, arbiter = real_node.party(1)
    trade_id = buyer.create(
        seller=seller.address, amount="1", arbiter=arbiter_acct.address, arbiter_fee_bps=100
    ).trade_id
    disputed = seller_client.dispute(trade_id)  # the seller disputes: it acted on the trade
    assert buyer.trade(trade_id).state is TradeState.DISPUTED
    before = real_node.eth(buyer_acct.address)
    ruled = arbiter.rule(trade_id, 7_000)
    arbiter_fee = ETHER // 100
    to_buyer = (ETHER - arbiter_fee) * 7_000 // 10_000
    gross = ETHER - arbiter_fee - to_buyer
    assert ruled.event("Ruled").args["toBuyer"] == to_buyer
    assert real_node.eth(buyer_acct.address) == before + to_buyer
    assert real_node.eth(seller.address) == ETHER - disputed.fee + gross - fee_of(gross)
    assert buyer.trade(trade_id).state is TradeState.RESOLVED
    assert buyer.reputation(seller.address).record(ZERO_ADDRESS, ReputationRole.SELLER).disputes_split == 1


def test_settlement(real_node):
    eth_listed(real_node)
    buyer_acct, buyer = real_node.party(5)
    seller_acct, seller = real_node.party(1)
    trade_id = buyer.create(seller=seller_acct.address, amount="2").trade_id
    buyer.propose_settlement(trade_id, 4_000)
    assert seller.trade(trade_id).next_actions[Role.SELLER][-1] == "accept_settlement"
    before = real_node.eth(buyer_acct.address)
    seller.accept_settlement(trade_id)
    assert real_node.eth(buyer_acct.address) == before + 2 * ETHER * 4_000 // 10_000
    assert buyer.trade(trade_id).state is TradeState.SETTLED
    assert buyer.reputation(buyer_acct.address).record(ZERO_ADDRESS, ReputationRole.BUYER).settled == 1


def test_timeout(real_node):
    buyer_acct, buyer = real_node.party(5)
    seller = real_node.account(0)
    trade_id = buyer.create(
        seller=seller.address, amount="1", release_window=3_600, timeout_releases=True
    ).trade_id
    with real_node.no_tx(buyer_acct.address), pytest.raises(errors.DeadlineNotReached):
        buyer.timeout(trade_id)
    real_node.sleep(3_601)
    assert buyer.trade(trade_id).next_actions[Role.ANYONE] == ("timeout",)
    buyer.timeout(trade_id)
    assert real_node.eth(seller.address) == ETHER - fee_of(ETHER)
    assert buyer.trade(trade_id).state is TradeState.COMPLETED


def test_signed_offer_with_permit(real_node):
    token = real_node.token("PermitToken")
    seller = real_node.account(0)
    buyer_acct, buyer = real_node.party(5)
    real_node.mint(token, buyer_acct.address, 10 * ETHER)
    document = real_node.client(seller).create_offer(amount="4", token=token.address).to_json()
    offer = SignedOffer.from_json(document)
    assert offer.chain_id == buyer.deployment.chain_id
    buyer.verify_offer(offer)
    nonce = real_node.nonce(buyer_acct.address)
    filled = buyer.fill_offer(offer)
    assert real_node.nonce(buyer_acct.address) == nonce + 1
    assert token.functions.allowance(buyer_acct.address, buyer.deployment.escrow).call() == 0
    assert real_node.nonce(seller.address) == 0
    buyer.release(filled.trade_id)
    assert token.functions.balanceOf(seller.address).call() == 4 * ETHER - fee_of(4 * ETHER)
    with real_node.no_tx(buyer_acct.address), pytest.raises(errors.InputError, match="nonce used"):
        buyer.fill_offer(offer)


def test_insufficient_funds_before_sending(real_node):
    poor_acct, poor = real_node.party("0.5")
    with (
        real_node.no_tx(poor_acct.address),
        pytest.raises(errors.InsufficientFunds, match=r"needs 1 ETH, has 0\.5 ETH"),
    ):
        poor.create(seller=real_node.account(0).address, amount="1")
    exact_acct, exact = real_node.party("1")  # the amount, but nothing for gas
    with (
        real_node.no_tx(exact_acct.address),
        pytest.raises(errors.InsufficientFunds, match=f"has {ETHER} wei"),
    ):
        exact.create(seller=real_node.account(0).address, amount="1")


# -- the same revert, the same class and arguments everywhere --------------------------------------
SAME_BUYER = Account.create()
SAME_SELLER = Account.create()


def _revert_fingerprints(real_node) -> list[tuple[str, dict]]:
    """Identical terms on every chain give the identical trade id, so even the ids match."""
    real_node.log.add_key(SAME_BUYER.key)
    real_node.log.add_key(SAME_SELLER.key)
    real_node.send_eth(SAME_BUYER.address, 5 * ETHER)
    real_node.send_eth(SAME_SELLER.address, ETHER)
    buyer, seller = real_node.client(SAME_BUYER), real_node.client(SAME_SELLER)
    terms = buyer.build_terms(seller=SAME_SELLER.address, amount="1", salt=424242)
    trade_id = buyer.create_from_terms(terms).trade_id
    found = []
    for action in (
        lambda: seller.release(trade_id),
        lambda: buyer.release(trade_id, "2"),
        lambda: buyer.dispute(trade_id),
        lambda: seller.accept_settlement(trade_id, 5_000),
    ):
        with (
            real_node.no_tx(SAME_BUYER.address, SAME_SELLER.address),
            pytest.raises(errors.ContractError) as info,
        ):
            action()
        found.append((type(info.value).__name__, info.value.args_by_name, info.value.data))
    buyer.release(trade_id)
    with real_node.no_tx(SAME_BUYER.address), pytest.raises(errors.WrongState) as info:
        buyer.release(trade_id)
    found.append((type(info.value).__name__, info.value.args_by_name, info.value.data))
    return found


@pytest.mark.anvil
@pytest.mark.ganache
def test_reverts_decode_identically_on_every_backend(embedded, anvil, ganache):
    results = {real_node.kind: _revert_fingerprints(real_node) for real_node in (embedded, anvil, ganache)}
    assert results["anvil"] == results["embedded"] == results["ganache"]
    names = [name for name, _, _ in results["embedded"]]
    assert names == ["Unauthorized", "InvalidPart", "NoArbiter", "SettlementMismatch", "WrongState"]
    wrong_state = results["embedded"][-1][1]
    assert wrong_state["state"] == TradeState.COMPLETED
    assert results["embedded"][0][1]["caller"] == SAME_SELLER.address
