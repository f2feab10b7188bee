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
