"""ERC-20 trades: exact approvals (never unlimited, nothing left over) and the one-transaction
permit path, with the transactions each account sent counted through its nonce."""

from __future__ import annotations

from decimal import Decimal

import pytest

from p2pescrow import TradeState, errors

PLATFORM_FEE_BPS = 25
UNIT = 10**6  # the test tokens here have 6 decimals (PermitToken has 18)


def allowance(token, owner, spender):
    return token.functions.allowance(owner, spender).call()


def test_test_token_approves_exactly_the_amount(embedded):
    token = embedded.token(decimals=6)
    buyer_acct, buyer = embedded.party()
    seller = embedded.account(0)
    embedded.mint(token, buyer_acct.address, 1_000 * UNIT)
    escrow = buyer.deployment.escrow
    nonce = embedded.nonce(buyer_acct.address)

    created = buyer.create(seller=seller.address, token=token.address, amount="250.5")
    amount = 250_500_000
    assert embedded.nonce(buyer_acct.address) == nonce + 2  # approve + createAndFund
    approvals = embedded.erc20_logs(token, "Approval", owner=buyer_acct.address)
    assert [a["value"] for a in approvals] == [amount]  # exactly the amount, never unlimited
    assert allowance(token, buyer_acct.address, escrow) == 0  # all of it was used
    assert token.functions.balanceOf(escrow).call() == amount
    trade = buyer.trade(created.trade_id)
    assert trade.state is TradeState.FUNDED and trade.token.symbol == "TUSD"
    assert trade.amount == amount and trade.amount_human == Decimal("250.5")

    buyer.release(created.trade_id, "50")
    buyer.release(created.trade_id)
    fee = 50 * UNIT * PLATFORM_FEE_BPS // 10_000 + 200_500_000 * PLATFORM_FEE_BPS // 10_000
    assert token.functions.balanceOf(seller.address).call() == amount - fee
    assert token.functions.balanceOf(buyer_acct.address).call() == 1_000 * UNIT - amount
    assert buyer.trade(created.trade_id).state is TradeState.COMPLETED
    assert allowance(token, buyer_acct.address, escrow) == 0


def test_fund_later_approves_exactly_and_refund_returns_tokens(embedded):
    token = embedded.token(decimals=6)
    buyer_acct, buyer = embedded.party()
    _seller_acct, seller = embedded.party(1)
    embedded.mint(token, buyer_acct.address, 100 * UNIT)
    trade_id = seller.create(buyer=buyer_acct.address, token=token.address, amount="100").trade_id
    nonce = embedded.nonce(buyer_acct.address)
    buyer.fund(trade_id)
    assert embedded.nonce(buyer_acct.address) == nonce + 2
    assert allowance(token, buyer_acct.address, buyer.deployment.escrow) == 0
    assert token.functions.balanceOf(buyer_acct.address).call() == 0
    seller.refund(trade_id)
    assert token.functions.balanceOf(buyer_acct.address).call() == 100 * UNIT
    assert buyer.trade(trade_id).state is TradeState.REFUNDED


def test_permit_token_funds_in_one_transaction_without_approve(embedded):
    token = embedded.token("PermitToken")
    buyer_acct, buyer = embedded.party()
    seller = embedded.account(0)
    embedded.mint(token, buyer_acct.address, 10 * 10**18)
    escrow = buyer.deployment.escrow
    assert allowance(token, buyer_acct.address, escrow) == 0
    nonce = embedded.nonce(buyer_acct.address)

    created = buyer.create(seller=seller.address, token=token.address, amount="3.25")
    assert embedded.nonce(buyer_acct.address) == nonce + 1  # one transaction: createAndFundWithPermit
    assert allowance(token, buyer_acct.address, escrow) == 0
    assert (
        embedded.erc20_logs(token, "Approval", owner=buyer_acct.address, spender=escrow)[0]["value"]
        == 3_250_000_000_000_000_000
    )
    assert token.functions.nonces(buyer_acct.address).call() == 1  # the permit was used
    assert token.functions.balanceOf(escrow).call() >= 3_250_000_000_000_000_000
    trade = buyer.trade(created.trade_id)
    assert trade.state is TradeState.FUNDED and trade.token.symbol == "PUSD"

    buyer.release(created.trade_id)
    assert (
        token.functions.balanceOf(seller.address).call()
        == 3_250_000_000_000_000_000 * 9_975 // 10_000
    )


def test_permit_can_be_declined_for_an_approval(embedded):
    token = embedded.token("PermitToken")
    buyer_acct, buyer = embedded.party()
    seller = embedded.account(0)
    embedded.mint(token, buyer_acct.address, 10**18)
    nonce = embedded.nonce(buyer_acct.address)
    buyer.create(seller=seller.address, token=token.address, amount="1", permit=False)
    assert embedded.nonce(buyer_acct.address) == nonce + 2
    assert allowance(token, buyer_acct.address, buyer.deployment.escrow) == 0


def test_asking_for_a_permit_on_a_token_without_one_is_refused(embedded):
    token = embedded.token(decimals=6)
    buyer_acct, buyer = embedded.party()
    embedded.mint(token, buyer_acct.address, 10 * UNIT)
    with embedded.no_tx(buyer_acct.address), pytest.raises(errors.InputError, match="EIP-2612"):
        buyer.create(seller=embedded.account(0).address, token=token.address, amount="1", permit=True)


def test_fee_on_transfer_token_holds_what_arrived(embedded):
    token = embedded.token("FeeOnTransferToken")
    buyer_acct, buyer = embedded.party()
    seller = embedded.account(0)
    embedded.mint(token, buyer_acct.address, 100 * 10**18)
    trade_id = buyer.create(seller=seller.address, token=token.address, amount="100").trade_id
    trade = buyer.trade(trade_id)
    assert trade.amount == 100 * 10**18 and trade.held == 99 * 10**18  # 1% burned on the way in
    assert allowance(token, buyer_acct.address, buyer.deployment.escrow) == 0


# -- v2: deposits and bonds in tokens -------------------------------------------------------------------
def test_a_buyer_deposit_in_tokens_is_approved_and_taken_with_the_price(embedded):
    token = embedded.token(decimals=6)
    buyer_acct, buyer = embedded.party()
    seller_acct, seller = embedded.party(1)
    embedded.mint(token, buyer_acct.address, 130 * UNIT)
    plans = []
    buyer.on_plan = plans.append
    created = buyer.create(seller=seller_acct.address, token=token.address, amount="100", buyer_deposit="30")
    approvals = embedded.erc20_logs(token, "Approval", owner=buyer_acct.address)
    assert [a["value"] for a in approvals] == [130 * UNIT]  # exactly price + deposit
    assert [(p.amount, p.approve_first) for p in plans] == [(130 * UNIT, True)]
    assert token.functions.balanceOf(buyer_acct.address).call() == 0
    trade = buyer.trade(created.trade_id)
    assert trade.held == 100 * UNIT and trade.buyer_deposit == 30 * UNIT

    seller.refund(created.trade_id)
    assert token.functions.balanceOf(buyer_acct.address).call() == 130 * UNIT  # price and deposit back


def test_a_buyer_short_of_the_deposit_is_refused_before_the_approval(embedded):
    token = embedded.token(decimals=6)
    buyer_acct, buyer = embedded.party()
    embedded.mint(token, buyer_acct.address, 100 * UNIT)
    with embedded.no_tx(buyer_acct.address), pytest.raises(errors.InsufficientFunds, match="110 TUSD"):
        buyer.create(seller=embedded.account(0).address, token=token.address, amount="100", buyer_deposit="10")


def test_a_permit_covers_the_price_and_the_deposit(embedded):
    token = embedded.token("PermitToken")
    buyer_acct, buyer = embedded.party()
    embedded.mint(token, buyer_acct.address, 5 * 10**18)
    nonce = embedded.nonce(buyer_acct.address)
    buyer.create(seller=embedded.account(0).address, token=token.address, amount="2", buyer_deposit="0.5")
    assert embedded.nonce(buyer_acct.address) == nonce + 1  # one transaction
    assert token.functions.balanceOf(buyer_acct.address).call() == 5 * 10**18 - 25 * 10**17


def test_a_token_bond_is_approved_exactly_then_deposited_and_locked_by_a_trade(embedded):
    token = embedded.token(decimals=6)
    seller_acct, seller = embedded.party()
    buyer_acct, buyer = embedded.party()
    embedded.mint(token, seller_acct.address, 50 * UNIT)
    embedded.mint(token, buyer_acct.address, 100 * UNIT)
    escrow = seller.deployment.escrow
    plans = []
    seller.on_plan = plans.append
    nonce = embedded.nonce(seller_acct.address)

    deposited = seller.deposit_bond("40", token=token.address)
    assert embedded.nonce(seller_acct.address) == nonce + 2  # approve + depositBond, as create does
    assert [p.amount for p in plans] == [40 * UNIT] and plans[0].approve_first
    assert [a["value"] for a in embedded.erc20_logs(token, "Approval", owner=seller_acct.address)] == [40 * UNIT]
    assert allowance(token, seller_acct.address, escrow) == 0
    assert deposited.event("BondDeposited").args["amount"] == 40 * UNIT
    assert seller.bond(token.address) == 40 * UNIT
    with embedded.no_tx(seller_acct.address), pytest.raises(errors.InsufficientFunds):
        seller.deposit_bond("11", token=token.address)  # 10 left in the wallet

    trade_id = seller.create(buyer=buyer_acct.address, token=token.address, amount="100",
                             seller_deposit="25").trade_id
    assert seller.bond(token.address) == 15 * UNIT  # locked at creation by the seller
    buyer.fund(trade_id)
    buyer.release(trade_id)
    fee = -(-100 * UNIT * PLATFORM_FEE_BPS // 10_000)
    assert token.functions.balanceOf(seller_acct.address).call() == 10 * UNIT + 100 * UNIT - fee + 25 * UNIT
    seller.withdraw_bond("15", token=token.address)
    assert seller.bond(token.address) == 0
    assert token.functions.balanceOf(seller_acct.address).call() == 50 * UNIT + 100 * UNIT - fee
