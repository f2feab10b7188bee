"""Escrow lifecycles through brownie's contract objects: balances, events, reverts."""

from __future__ import annotations

import brownie

from tests_brownie.helpers import DAY, ETHER, FEE_BPS, terms

FUNDED, COMPLETED, REFUNDED, CANCELLED = 2, 4, 5, 8


def test_eth_trade_release_pays_the_seller_less_the_fee(escrow, reputation, buyer, seller):
    t = terms(buyer, seller)
    seller_before = seller.balance()
    tx = escrow.createAndFund(t, {"from": buyer, "value": ETHER})
    trade_id = tx.events["TradeCreated"]["id"]
    assert escrow.escrowOf(trade_id)[0] == ETHER and escrow.escrowOf(trade_id)[2] == FUNDED
    escrow.release(t, ETHER, {"from": buyer})
    fee = ETHER * FEE_BPS // 10_000
    assert seller.balance() - seller_before == ETHER - fee
    assert escrow.feesAccrued(brownie.ZERO_ADDRESS) == fee
    assert escrow.escrowOf(trade_id)[2] == COMPLETED
    assert reputation.recordOf(seller)[0][1] == 1  # completed as seller


def test_isolation_each_test_starts_from_the_module_deployment(escrow):
    assert escrow.feesAccrued(brownie.ZERO_ADDRESS) == 0  # the previous test's fee was reverted
    assert escrow.balance() == 0


def test_only_the_buyer_releases(escrow, buyer, seller):
    t = terms(buyer, seller)
    escrow.createAndFund(t, {"from": buyer, "value": ETHER})
    with brownie.reverts():
        escrow.release(t, ETHER, {"from": seller})
    escrow.refund(t, ETHER, {"from": seller})  # the seller may refund


def test_wrong_value_and_fee_mismatch_revert(escrow, buyer, seller):
    with brownie.reverts():
        escrow.createAndFund(terms(buyer, seller), {"from": buyer, "value": ETHER - 1})
    with brownie.reverts():
        escrow.createAndFund(terms(buyer, seller, fee_bps=FEE_BPS + 1), {"from": buyer, "value": ETHER})


def test_erc20_trade(escrow, token, buyer, seller):
    amount = 250 * 10**6
    t = terms(buyer, seller, amount, token=token)
    token.approve(escrow, amount, {"from": buyer})
    escrow.createAndFund(t, {"from": buyer})
    assert token.balanceOf(escrow) == amount
    escrow.release(t, amount, {"from": buyer})
    assert token.balanceOf(seller) == amount - amount * FEE_BPS // 10_000


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
    assert escrow.escrowOf(trade_id)[2] == REFUNDED
    assert buyer.balance() - buyer_before == ETHER


def test_owner_settings_and_pause(escrow, owner, buyer, seller):
    with brownie.reverts():
        escrow.setPlatformFee(50, {"from": buyer})
    escrow.pause({"from": owner})
    with brownie.reverts():
        escrow.createAndFund(terms(buyer, seller), {"from": buyer, "value": ETHER})
    escrow.unpause({"from": owner})
    escrow.setPlatformFee(50, {"from": owner})
    assert escrow.platformFeeBps() == 50
