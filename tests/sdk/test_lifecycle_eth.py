"""ETH trades through the SDK on the embedded chain, every path of the lifecycle, checked on chain:
balances (to the wei, gas included), states, events and reputation records."""

from __future__ import annotations

from decimal import Decimal

import pytest
from eth_utils import keccak

from p2pescrow import TradeState, errors
from p2pescrow.models import Role

ETHER = 10**18
PLATFORM_FEE_BPS = 25  # what the conftest deploys with


def fee_of(gross: int) -> int:
    return gross * PLATFORM_FEE_BPS // 10_000


def test_create_and_release_everything(embedded):
    buyer_acct, buyer = embedded.party()
    seller = embedded.account(0)
    start = embedded.eth(buyer_acct.address)

    created = buyer.create(seller=seller.address, amount="1.5")
    amount = 1_500_000_000_000_000_000
    event = created.tx.event("TradeCreated").args
    assert event["held"] == amount and event["id"] == created.trade_id
    trade = buyer.trade(created.trade_id)
    assert trade.state is TradeState.FUNDED and trade.held == amount
    assert embedded.eth(buyer.deployment.escrow) >= amount

    released = buyer.release(created.trade_id)
    assert released.event("Released").args == {
        "id": created.trade_id,
        "toSeller": amount - fee_of(amount),
        "platformFee": fee_of(amount),
        "heldAfter": 0,
    }
    assert embedded.eth(seller.address) == amount - fee_of(amount)
    assert embedded.eth(buyer_acct.address) == start - amount - created.tx.fee - released.fee
    trade = buyer.trade(created.trade_id)
    assert trade.state is TradeState.COMPLETED and trade.held == 0 and trade.seller_paid
    assert buyer.reputation(buyer_acct.address).completed_as_buyer == 1
    assert buyer.reputation(seller.address).completed_as_seller == 1
    assert [ev.name for ev in released.events] == ["Released", "OutcomeRecorded"]


def test_release_in_parts(embedded):
    _buyer_acct, buyer = embedded.party()
    seller = embedded.account(0)
    trade_id = buyer.create(seller=seller.address, amount="1.5").trade_id

    buyer.release(trade_id, "0.5")
    part = ETHER // 2
    trade = buyer.trade(trade_id)
    assert (
        trade.state is TradeState.FUNDED and trade.held == ETHER and trade.held_human == Decimal(1)
    )
    assert trade.seller_paid
    assert embedded.eth(seller.address) == part - fee_of(part)

    last = buyer.release(trade_id, Decimal("1"))
    assert last.event("Released").args["heldAfter"] == 0
    assert buyer.trade(trade_id).state is TradeState.COMPLETED
    assert embedded.eth(seller.address) == part - fee_of(part) + ETHER - fee_of(ETHER)


def test_refund_in_parts_returns_everything_to_the_buyer(embedded):
    buyer_acct, buyer = embedded.party()
    seller_acct, seller = embedded.party(1)
    trade_id = buyer.create(seller=seller_acct.address, amount="2").trade_id
    after_funding = embedded.eth(buyer_acct.address)

    seller.refund(trade_id, "0.5")
    assert buyer.trade(trade_id).held == 3 * ETHER // 2
    final = seller.refund(trade_id)
    assert final.event("Refunded").args["toBuyer"] == 3 * ETHER // 2
    assert embedded.eth(buyer_acct.address) == after_funding + 2 * ETHER
    assert buyer.trade(trade_id).state is TradeState.REFUNDED
    assert buyer.reputation(buyer_acct.address).refunded == 1
    assert buyer.reputation(seller_acct.address).refunded == 1


def test_cancel_an_unfunded_trade_moves_nothing(embedded):
    buyer_acct, buyer = embedded.party()
    seller = embedded.account(0)
    created = buyer.create(seller=seller.address, amount="1", fund=False)
    trade = buyer.trade(created.trade_id)
    assert trade.state is TradeState.AWAITING_FUNDING and trade.held == 0
    assert trade.next_actions[Role.BUYER] == ("fund", "cancel")
    before = embedded.eth(buyer_acct.address)
    cancelled = buyer.cancel(created.trade_id)
    assert cancelled.event("Cancelled").args["by"] == buyer_acct.address
    assert buyer.trade(created.trade_id).state is TradeState.CANCELLED
    assert embedded.eth(buyer_acct.address) == before - cancelled.fee


def test_seller_creates_and_buyer_funds(embedded):
    buyer_acct, buyer = embedded.party()
    _seller_acct, seller = embedded.party(1)
    trade_id = seller.create(buyer=buyer_acct.address, amount="0.75").trade_id
    trade = buyer.trade(trade_id)
    assert trade.terms.created_by_seller and trade.state is TradeState.AWAITING_FUNDING
    assert "cancel" in trade.next_actions[Role.SELLER] and "cancel" not in trade.next_actions.get(
        Role.BUYER, ()
    )
    funded = buyer.fund(trade_id)
    assert funded.event("TradeFunded").args["held"] == 3 * ETHER // 4
    assert buyer.trade(trade_id).state is TradeState.FUNDED


def test_settlement_pays_the_agreed_split(embedded):
    buyer_acct, buyer = embedded.party()
    seller_acct, seller = embedded.party(1)
    trade_id = buyer.create(seller=seller_acct.address, amount="1").trade_id
    buyer_after_funding = embedded.eth(buyer_acct.address)
    seller_before = embedded.eth(seller_acct.address)

    proposal = seller.propose_settlement(trade_id, 3_000)
    trade = buyer.trade(trade_id)
    assert trade.settlement_bps == 3_000 and trade.settlement_proposer is Role.SELLER
    assert "accept_settlement" in trade.next_actions[Role.BUYER]
    assert "accept_settlement" not in trade.next_actions[Role.SELLER]

    accepted = buyer.accept_settlement(trade_id)
    to_buyer = ETHER * 3_000 // 10_000
    gross = ETHER - to_buyer
    assert accepted.event("Settled").args["toBuyer"] == to_buyer
    assert accepted.event("Settled").args["toSeller"] == gross - fee_of(gross)
    assert embedded.eth(buyer_acct.address) == buyer_after_funding + to_buyer - accepted.fee
    assert embedded.eth(seller_acct.address) == seller_before - proposal.fee + gross - fee_of(gross)
    assert buyer.trade(trade_id).state is TradeState.SETTLED
    assert buyer.reputation(buyer_acct.address).settled == 1


@pytest.mark.parametrize(
    ("buyer_bps", "buyer_field", "seller_field"),
    [
        (6_000, "disputes_split", "disputes_split"),
        (10_000, "disputes_won", "disputes_lost"),
        (0, "disputes_lost", "disputes_won"),
    ],
)
def test_dispute_and_ruling(embedded, buyer_bps, buyer_field, seller_field):
    buyer_acct, buyer = embedded.party()
    seller = embedded.account(0)
    arbiter_acct, arbiter = embedded.party(1)
    trade_id = buyer.create(
        seller=seller.address, amount="2", arbiter=arbiter_acct.address, arbiter_fee_bps=200
    ).trade_id
    disputed = buyer.dispute(trade_id)
    trade = buyer.trade(trade_id)
    assert trade.state is TradeState.DISPUTED
    assert int(trade.deadline.timestamp()) == disputed.event("Disputed").args["deadline"]
    assert trade.next_actions[Role.ARBITER] == ("rule",)
    buyer_before, arbiter_before = embedded.eth(buyer_acct.address), embedded.eth(arbiter_acct.address)

    ruled = arbiter.rule(trade_id, buyer_bps)
    held = 2 * ETHER
    arbiter_fee = held * 200 // 10_000
    to_buyer = (held - arbiter_fee) * buyer_bps // 10_000
    gross = held - arbiter_fee - to_buyer
    assert ruled.event("Ruled").args == {
        "id": trade_id,
        "buyerBps": buyer_bps,
        "toBuyer": to_buyer,
        "toSeller": gross - fee_of(gross),
        "arbiterFee": arbiter_fee,
        "platformFee": fee_of(gross),
    }
    assert embedded.eth(buyer_acct.address) == buyer_before + to_buyer
    assert embedded.eth(seller.address) == gross - fee_of(gross)
    assert embedded.eth(arbiter_acct.address) == arbiter_before + arbiter_fee - ruled.fee
    assert buyer.trade(trade_id).state is TradeState.RESOLVED
    assert getattr(buyer.reputation(buyer_acct.address), buyer_field) == 1
    assert getattr(buyer.reputation(seller.address), seller_field) == 1


def test_timeout_refunds_by_default(embedded):
    buyer_acct, buyer = embedded.party()
    seller = embedded.account(0)
    _, outsider = embedded.party(1)
    trade_id = buyer.create(seller=seller.address, amount="1", release_window=3_600).trade_id
    with embedded.no_tx(outsider.address), pytest.raises(errors.DeadlineNotReached):
        outsider.timeout(trade_id)
    after_funding = embedded.eth(buyer_acct.address)
    embedded.sleep(3_600)
    assert buyer.trade(trade_id).next_actions[Role.ANYONE] == ("timeout",)
    timed = outsider.timeout(trade_id)
    assert timed.event("TimedOut").args["toSeller"] is False
    assert embedded.eth(buyer_acct.address) == after_funding + ETHER
    assert buyer.trade(trade_id).state is TradeState.REFUNDED


@pytest.mark.parametrize("how", ["timeout_releases", "mark_delivered"])
def test_timeout_releases_to_the_seller(embedded, how):
    _buyer_acct, buyer = embedded.party()
    seller_acct, seller = embedded.party(1)
    trade_id = buyer.create(
        seller=seller_acct.address,
        amount="1",
        release_window=3_600,
        timeout_releases=how == "timeout_releases",
    ).trade_id
    if how == "mark_delivered":
        marked = seller.mark_delivered(trade_id)
        assert buyer.trade(trade_id).delivery_marked
        assert marked.event("DeliveryMarked").args["deadline"] == int(
            buyer.trade(trade_id).deadline.timestamp()
        )
    seller_before = embedded.eth(seller_acct.address)
    embedded.sleep(3_600)
    timed = buyer.timeout(trade_id)
    assert timed.event("TimedOut").args["toSeller"] is True
    assert embedded.eth(seller_acct.address) == seller_before + ETHER - fee_of(ETHER)
    assert buyer.trade(trade_id).state is TradeState.COMPLETED


def test_expired_dispute_splits_evenly_without_arbiter_fee(embedded):
    buyer_acct, buyer = embedded.party()
    seller = embedded.account(0)
    arbiter = embedded.account(0)
    _, outsider = embedded.party(1)
    held = 10**18 + 1  # odd wei goes to the seller's side
    trade_id = buyer.create(
        seller=seller.address,
        amount=str(Decimal(held) / ETHER),
        arbiter=arbiter.address,
        arbiter_fee_bps=500,
        arbitration_window=7_200,
    ).trade_id
    buyer.dispute(trade_id)
    with embedded.no_tx(outsider.address), pytest.raises(errors.DeadlineNotReached):
        outsider.resolve_expired_dispute(trade_id)
    before = embedded.eth(buyer_acct.address)
    embedded.sleep(7_200)
    assert "resolve_expired_dispute" in buyer.trade(trade_id).next_actions[Role.ANYONE]
    resolved = outsider.resolve_expired_dispute(trade_id)
    to_buyer = held // 2
    gross = held - to_buyer
    assert resolved.event("DisputeExpired").args["toBuyer"] == to_buyer
    assert embedded.eth(buyer_acct.address) == before + to_buyer
    assert embedded.eth(seller.address) == gross - fee_of(gross)
    assert embedded.eth(arbiter.address) == 0
    assert buyer.trade(trade_id).state is TradeState.RESOLVED
    assert buyer.reputation(seller.address).disputes_split == 1


def test_evidence_from_parties_and_arbiter(embedded):
    buyer_acct, buyer = embedded.party()
    seller_acct, seller = embedded.party(1)
    arbiter_acct, arbiter = embedded.party(1)
    _, outsider = embedded.party(1)
    trade_id = buyer.create(
        seller=seller_acct.address, amount="1", arbiter=arbiter_acct.address
    ).trade_id
    sent = buyer.submit_evidence(trade_id, "ipfs://receipt")
    digest = "0x" + "ab" * 32
    by_seller = seller.submit_evidence(trade_id, "https://tracking.example/1", digest)
    by_arbiter = arbiter.submit_evidence(trade_id, "ipfs://notes")
    with embedded.no_tx(outsider.address), pytest.raises(errors.Unauthorized) as info:
        outsider.submit_evidence(trade_id, "spam")
    assert info.value.caller == outsider.address
    evidence = [tx.event("EvidenceSubmitted").args for tx in (sent, by_seller, by_arbiter)]
    assert [(x["id"], x["by"], x["uri"]) for x in evidence] == [
        (trade_id, buyer_acct.address, "ipfs://receipt"),
        (trade_id, seller_acct.address, "https://tracking.example/1"),
        (trade_id, arbiter_acct.address, "ipfs://notes"),
    ]
    assert evidence[0]["contentHash"] == "0x" + keccak(text="ipfs://receipt").hex()  # default: hash of the URI
    assert evidence[1]["contentHash"] == "0x" + "ab" * 32
    assert buyer.trade(trade_id).state is TradeState.FUNDED  # evidence changes nothing


def test_rating_both_ways_once(embedded):
    buyer_acct, buyer = embedded.party()
    seller_acct, seller = embedded.party(1)
    trade_id = buyer.create(seller=seller_acct.address, amount="1").trade_id
    with embedded.no_tx(buyer_acct.address), pytest.raises(errors.NotRateable):
        buyer.rate(trade_id, 5)  # not finished yet
    buyer.release(trade_id)
    assert buyer.trade(trade_id).next_actions[Role.BUYER] == ("rate",)
    rated = buyer.rate(trade_id, 5, "fast and friendly")
    assert rated.event("Rated").args["ratee"] == seller_acct.address
    assert rated.event("Rated").args["commentHash"] == "0x" + keccak(text="fast and friendly").hex()
    seller.rate(trade_id, 4)
    trade = buyer.trade(trade_id)
    assert trade.rated_by == {Role.BUYER, Role.SELLER} and Role.BUYER not in trade.next_actions

    record = buyer.reputation(seller_acct.address)
    assert (record.rating_count, record.rating_sum, record.average_rating) == (
        1,
        5,
        Decimal("5.00"),
    )
    assert record.completed_as_seller == 1 and record.score == 100
    assert buyer.reputation(buyer_acct.address).average_rating == Decimal("4.00")
    with embedded.no_tx(buyer_acct.address), pytest.raises(errors.NotRateable):
        buyer.rate(trade_id, 1)  # once only
    with embedded.no_tx(buyer_acct.address), pytest.raises(errors.InputError, match="1 to 5"):
        buyer.rate(trade_id, 6)


def test_withdraw_credits_of_a_blacklisted_seller(embedded):
    token = embedded.token("BlacklistToken")
    buyer_acct, buyer = embedded.party()
    seller_acct, seller = embedded.party(1)
    elsewhere = embedded.account(0)
    embedded.mint(token, buyer_acct.address, 1_000 * ETHER)
    embedded.transact(token, "setBlacklisted", seller_acct.address, True)
    trade_id = buyer.create(seller=seller_acct.address, token=token.address, amount="100").trade_id

    released = buyer.release(trade_id)
    net = 100 * ETHER - fee_of(100 * ETHER)
    assert released.event("PaymentCredited").args == {
        "receiver": seller_acct.address,
        "token": token.address,
        "amount": net,
    }
    assert token.functions.balanceOf(seller_acct.address).call() == 0
    assert buyer.trade(trade_id).state is TradeState.COMPLETED  # the payout did not block the trade

    withdrawn = seller.withdraw(token.address, to=elsewhere.address)
    assert withdrawn.event("Withdrawn").args["amount"] == net
    assert token.functions.balanceOf(elsewhere.address).call() == net
    with embedded.no_tx(seller_acct.address), pytest.raises(errors.NothingToWithdraw) as info:
        seller.withdraw(token.address)
    assert info.value.account == seller_acct.address


def test_withdraw_fees_to_the_fee_recipient(embedded):
    token = embedded.token(decimals=6)
    buyer_acct, buyer = embedded.party()
    seller = embedded.account(0)
    _, anyone = embedded.party(1)
    embedded.mint(token, buyer_acct.address, 1_000 * 10**6)
    trade_id = buyer.create(seller=seller.address, token=token.address, amount="400").trade_id
    buyer.release(trade_id)
    recipient = buyer.deployment.fee_recipient
    before = token.functions.balanceOf(recipient).call()

    paid = anyone.withdraw_fees(token.address)
    assert paid.event("FeesWithdrawn").args["amount"] == fee_of(400 * 10**6) == 1_000_000
    assert token.functions.balanceOf(recipient).call() == before + 1_000_000
    with embedded.no_tx(anyone.address), pytest.raises(errors.NothingToWithdraw):
        anyone.withdraw_fees(token.address)

    # ETH fees: whatever accrued goes to the recipient, to the wei
    eth_trade = buyer.create(seller=seller.address, amount="1").trade_id
    buyer.release(eth_trade)
    eth_before = embedded.eth(recipient)
    paid = anyone.withdraw_fees()
    amount = paid.event("FeesWithdrawn").args["amount"]
    assert amount >= fee_of(ETHER)
    assert embedded.eth(recipient) == eth_before + amount
