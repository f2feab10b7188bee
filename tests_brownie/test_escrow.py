"""Escrow v2 lifecycles through brownie's contract objects: balances, events, reverts, deposits."""

from __future__ import annotations

import brownie

from p2pescrow.models import FLAG_TIMEOUT_RELEASES
from p2pescrow.states import TradeState
from tests_brownie.helpers import BPS, DAY, ETHER, FEE_BPS, SELLER, fee, pay_in, terms


def test_eth_trade_release_pays_the_seller_less_the_fee(escrow, reputation, owner, buyer, seller):
    t = terms(buyer, seller)
    seller_before = seller.balance()
    tx = escrow.createAndFund(t, {"from": buyer, "value": ETHER})
    trade_id = tx.events["TradeCreated"]["id"]
    assert escrow.escrowOf(trade_id)[0] == ETHER and escrow.escrowOf(trade_id)[2] == TradeState.FUNDED
    escrow.accept(t, {"from": seller})  # the seller consents: the trade will count for reputation
    escrow.release(t, ETHER, {"from": buyer})
    assert seller.balance() - seller_before == ETHER - fee(ETHER)
    held, _, state, _, _ = escrow.escrowOf(trade_id)
    assert (state, held) == (TradeState.COMPLETED, fee(ETHER))  # the fee stays in the slot until swept
    owner_before = owner.balance()
    escrow.sweepFees(brownie.ZERO_ADDRESS, [t], {"from": buyer})  # anyone may sweep, to the recipient
    assert owner.balance() - owner_before == fee(ETHER)
    assert escrow.escrowOf(trade_id)[0] == 0 and escrow.balance() == 0
    record, _ = reputation.recordOf(seller, brownie.ZERO_ADDRESS, SELLER)
    assert (record[0], record[1]) == (ETHER, 1)  # volume, completed as seller


def test_isolation_each_test_starts_from_the_module_deployment(escrow):
    assert escrow.feesAccrued(brownie.ZERO_ADDRESS) == 0  # the previous test's trade was reverted
    assert escrow.balance() == 0


def test_only_the_buyer_releases(escrow, buyer, seller):
    t = terms(buyer, seller)
    escrow.createAndFund(t, {"from": buyer, "value": ETHER})
    with brownie.reverts():
        escrow.release(t, ETHER, {"from": seller})
    escrow.refund(t, ETHER, {"from": seller})  # the seller may refund


def test_wrong_value_and_fee_mismatch_revert(escrow, buyer, seller):
    with_deposit = terms(buyer, seller, buyer_deposit=ETHER // 10)
    with brownie.reverts():
        escrow.createAndFund(with_deposit, {"from": buyer, "value": ETHER})  # the deposit is missing
    with brownie.reverts():
        escrow.createAndFund(terms(buyer, seller, fee_bps=FEE_BPS + 1), {"from": buyer, "value": ETHER})
    escrow.createAndFund(with_deposit, {"from": buyer, "value": pay_in(with_deposit)})


def test_erc20_trade(escrow, token, buyer, seller):
    amount = 250 * 10**6
    t = terms(buyer, seller, amount, token=token)
    token.approve(escrow, amount, {"from": buyer})
    escrow.createAndFund(t, {"from": buyer})
    assert token.balanceOf(escrow) == amount
    escrow.release(t, amount, {"from": buyer})
    assert token.balanceOf(seller) == amount - fee(amount)


def test_timeout_refunds_after_the_deadline(escrow, buyer, seller, chain):
    t = terms(buyer, seller)
    tx = escrow.createAndFund(t, {"from": buyer, "value": ETHER})
    trade_id = tx.events["TradeCreated"]["id"]
    with brownie.reverts():
        escrow.timeout(t, {"from": seller})
    chain.sleep(3 * DAY + 1)
    chain.mine()
    buyer_before = buyer.balance()
    escrow.timeout(t, {"from": seller})
    assert escrow.escrowOf(trade_id)[2] == TradeState.REFUNDED
    assert buyer.balance() - buyer_before == ETHER


def test_a_buyer_who_vanishes_forfeits_its_deposit_to_the_seller(escrow, buyer, seller, arbiter, chain):
    """Both deposits: the buyer's paid with the price, the seller's locked from its bond when it accepts
    (the trade waits in AwaitingDeposit until then). The seller delivers, the buyer never releases: the
    timeout (with an arbiter) pays the seller, and the buyer's deposit goes to it too."""
    deposit = ETHER // 10
    t = terms(buyer, seller, arbiter=arbiter, arbiter_fee_bps=100, buyer_deposit=deposit, seller_deposit=deposit)
    tx = escrow.createAndFund(t, {"from": buyer, "value": pay_in(t)})
    trade_id = tx.events["TradeCreated"]["id"]
    assert escrow.escrowOf(trade_id)[2] == TradeState.AWAITING_DEPOSIT
    with brownie.reverts():
        escrow.accept(t, {"from": seller})  # no bond yet
    escrow.depositBond(brownie.ZERO_ADDRESS, deposit, {"from": seller, "value": deposit})
    escrow.accept(t, {"from": seller})
    assert escrow.escrowOf(trade_id)[2] == TradeState.FUNDED
    assert escrow.bonds(seller, brownie.ZERO_ADDRESS) == 0  # the bond is locked in the trade
    escrow.markDelivered(t, {"from": seller})
    chain.sleep(3 * DAY + 1)
    chain.mine()
    seller_before, buyer_before = seller.balance(), buyer.balance()
    escrow.timeout(t, {"from": arbiter})
    assert escrow.escrowOf(trade_id)[2] == TradeState.COMPLETED
    assert seller.balance() - seller_before == ETHER - fee(ETHER) + 2 * deposit
    assert buyer.balance() == buyer_before


def test_a_party_concedes_a_dispute(escrow, buyer, seller, arbiter):
    """The seller concedes: the buyer gets everything held but half the arbiter's fee, and the seller's
    deposit with its own."""
    deposit = ETHER // 10
    t = terms(buyer, seller, arbiter=arbiter, arbiter_fee_bps=200, buyer_deposit=deposit, seller_deposit=deposit,
              flags=FLAG_TIMEOUT_RELEASES)
    escrow.depositBond(brownie.ZERO_ADDRESS, deposit, {"from": seller, "value": deposit})
    escrow.create(t, {"from": buyer})
    escrow.accept(t, {"from": seller})
    escrow.fund(t, {"from": buyer, "value": pay_in(t)})
    escrow.dispute(t, {"from": buyer})
    buyer_before, arbiter_before = buyer.balance(), arbiter.balance()
    escrow.concede(t, {"from": seller})
    arbiter_fee = ETHER * 100 // BPS
    assert arbiter.balance() - arbiter_before == arbiter_fee
    assert buyer.balance() - buyer_before == ETHER - arbiter_fee + 2 * deposit


def test_owner_settings_and_pause(escrow, owner, buyer, seller):
    with brownie.reverts():
        escrow.setPlatformFee(50, {"from": buyer})
    escrow.pause({"from": owner})
    with brownie.reverts():
        escrow.createAndFund(terms(buyer, seller), {"from": buyer, "value": ETHER})
    with brownie.reverts():
        escrow.depositBond(brownie.ZERO_ADDRESS, 1, {"from": seller, "value": 1})
    escrow.unpause({"from": owner})
    escrow.setPlatformFee(50, {"from": owner})
    assert escrow.platformFeeBps() == 50
