"""ETH trades through the SDK on the embedded chain, every path of the lifecycle, checked on chain:
balances (to the wei, gas included), states, events and reputation records (ETH is listed as a
reputation asset for this module; a trade counts for reputation once the seller has acted on it)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from eth_utils import keccak

from p2pescrow import ReputationRole, TradeState, errors
from p2pescrow.models import ZERO_ADDRESS, Role

ETHER = 10**18
PLATFORM_FEE_BPS = 25  # what the conftest deploys with
SELLER, BUYER = ReputationRole.SELLER, ReputationRole.BUYER


def fee_of(gross: int) -> int:
    """The platform fee, rounded up as the contract rounds it."""
    return -(-gross * PLATFORM_FEE_BPS // 10_000)


@pytest.fixture(scope="module", autouse=True)
def eth_listed(embedded):
    """ETH records reputation on this module's chain (trades of at least 0.01 ETH)."""
    embedded.base.set_reputation_asset(None, min_amount="0.01")


def eth_record(client, address, role):
    return client.reputation(address).record(ZERO_ADDRESS, role)


def test_create_and_release_everything(embedded):
    buyer_acct, buyer = embedded.party()
    seller, seller_client = embedded.party(1)
    start = embedded.eth(buyer_acct.address)

    created = buyer.create(seller=seller.address, amount="1.5")
    amount = 1_500_000_000_000_000_000
    event = created.tx.event("TradeCreated").args
    assert event["held"] == amount and event["id"] == created.trade_id
    trade = buyer.trade(created.trade_id)
    assert trade.state is TradeState.FUNDED and trade.held == amount
    assert embedded.eth(buyer.deployment.escrow) >= amount

    accepted = seller_client.accept(created.trade_id)  # the seller enters the trade knowingly
    assert buyer.trade(created.trade_id).seller_acted
    seller_before = embedded.eth(seller.address)
    released = buyer.release(created.trade_id)
    assert released.event("Released").args["toSeller"] == amount - fee_of(amount)
    assert released.event("Released").args["platformFee"] == fee_of(amount)
    assert embedded.eth(seller.address) == seller_before + amount - fee_of(amount)
    assert embedded.eth(buyer_acct.address) == start - amount - created.tx.fee - released.fee
    trade = buyer.trade(created.trade_id)
    assert trade.state is TradeState.COMPLETED and trade.seller_paid
    assert trade.held == fee_of(amount)  # the fee stays in the trade's slot until swept
    assert eth_record(buyer, buyer_acct.address, BUYER).completed == 1
    assert eth_record(buyer, seller.address, SELLER).completed == 1
    assert eth_record(buyer, seller.address, SELLER).volume == amount
    assert accepted.event("SellerAccepted").args["id"] == created.trade_id


def test_a_trade_the_seller_never_entered_records_nothing(embedded):
    """Consent: a stranger creating, funding and releasing a trade toward an address gives it no record."""
    _buyer_acct, buyer = embedded.party()
    victim, victim_client = embedded.party(1)
    trade_id = buyer.create(seller=victim.address, amount="0.5").trade_id
    buyer.release(trade_id)
    pushed = buyer.create(seller=victim.address, amount="0.5").trade_id
    victim_client.refund(pushed)  # giving the money back is not consent either
    assert buyer.reputation(victim.address).trades == 0
    with embedded.no_tx(buyer.address), pytest.raises(errors.NotRecorded) as refused:
        buyer.rate(trade_id, 1)
    assert "the seller never entered this trade" in str(refused.value.hint)  # the cause that applies here


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

    buyer.release(trade_id, Decimal("1"))
    assert buyer.trade(trade_id).state is TradeState.COMPLETED
    assert embedded.eth(seller.address) == part - fee_of(part) + ETHER - fee_of(ETHER)


def test_refund_in_parts_returns_everything_to_the_buyer(embedded):
    buyer_acct, buyer = embedded.party()
    seller_acct, seller = embedded.party(1)
    trade_id = buyer.create(seller=seller_acct.address, amount="2").trade_id
    seller.accept(trade_id)
    after_funding = embedded.eth(buyer_acct.address)

    seller.refund(trade_id, "0.5")
    assert buyer.trade(trade_id).held == 3 * ETHER // 2
    final = seller.refund(trade_id)
    assert final.event("Refunded").args["toBuyer"] == 3 * ETHER // 2
    assert embedded.eth(buyer_acct.address) == after_funding + 2 * ETHER
    assert buyer.trade(trade_id).state is TradeState.REFUNDED
    assert eth_record(buyer, buyer_acct.address, BUYER).refunded == 1  # the seller accepted: it records
    assert eth_record(buyer, seller_acct.address, SELLER).refunded == 1


def test_cancel_an_unfunded_trade_moves_nothing(embedded):
    buyer_acct, buyer = embedded.party()
    seller = embedded.account(0)
    created = buyer.create(seller=seller.address, amount="1", fund=False)
    trade = buyer.trade(created.trade_id)
    assert trade.state is TradeState.AWAITING_FUNDING and trade.held == 0
    assert set(trade.next_actions[Role.BUYER]) == {"fund", "cancel"}
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
    assert eth_record(buyer, buyer_acct.address, BUYER).settled == 1


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
    seller, seller_client = embedded.party(1)
    arbiter_acct, arbiter = embedded.party(1)
    trade_id = buyer.create(
        seller=seller.address, amount="2", arbiter=arbiter_acct.address, arbiter_fee_bps=200
    ).trade_id
    seller_client.accept(trade_id)
    seller_start = embedded.eth(seller.address)
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
    assert embedded.eth(seller.address) == seller_start + gross - fee_of(gross)
    assert embedded.eth(arbiter_acct.address) == arbiter_before + arbiter_fee - ruled.fee
    assert buyer.trade(trade_id).state is TradeState.RESOLVED
    assert getattr(eth_record(buyer, buyer_acct.address, BUYER), buyer_field) == 1
    assert getattr(eth_record(buyer, seller.address, SELLER), seller_field) == 1


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
    arbiter = embedded.account(0)
    trade_id = buyer.create(
        seller=seller_acct.address,
        amount="1",
        release_window=3_600,
        timeout_releases=how == "timeout_releases",
        arbiter=arbiter.address if how == "mark_delivered" else None,  # a mark moves the timeout only with one
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


def test_without_an_arbiter_marking_delivery_does_not_change_the_timeout(embedded):
    """The no-arbiter rule: the outcome fixed at creation (refund) holds whatever the seller marks."""
    buyer_acct, buyer = embedded.party()
    seller_acct, seller = embedded.party(1)
    trade_id = buyer.create(seller=seller_acct.address, amount="1", release_window=3_600).trade_id
    deadline = buyer.trade(trade_id).deadline
    seller.mark_delivered(trade_id)
    trade = buyer.trade(trade_id)
    assert trade.delivery_marked and trade.deadline == deadline  # recorded, deadline unchanged
    after_funding = embedded.eth(buyer_acct.address)
    embedded.sleep(3_600)
    timed = seller.timeout(trade_id)
    assert timed.event("TimedOut").args["toSeller"] is False
    assert embedded.eth(buyer_acct.address) == after_funding + ETHER
    assert buyer.trade(trade_id).state is TradeState.REFUNDED


def test_expired_dispute_splits_evenly_without_arbiter_fee(embedded):
    buyer_acct, buyer = embedded.party()
    seller, seller_client = embedded.party(1)
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
    seller_client.dispute(trade_id)  # the seller disputes: it acted, the trade records
    seller_before = embedded.eth(seller.address)
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
    assert embedded.eth(seller.address) == seller_before + gross - fee_of(gross)
    assert embedded.eth(arbiter.address) == 0
    assert buyer.trade(trade_id).state is TradeState.RESOLVED
    assert eth_record(buyer, seller.address, SELLER).disputes_split == 1


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
    seller.accept(trade_id)
    with embedded.no_tx(buyer_acct.address), pytest.raises(errors.NotEnded):
        buyer.rate(trade_id, 5)  # not finished yet
    buyer.release(trade_id)
    assert buyer.trade(trade_id).next_actions[Role.BUYER] == ("rate",)
    rated = buyer.rate(trade_id, 5, "fast and friendly")
    assert rated.event("Rated").args["ratee"] == seller_acct.address
    assert rated.event("Rated").args["commentHash"] == "0x" + keccak(text="fast and friendly").hex()
    seller.rate(trade_id, 4)
    trade = buyer.trade(trade_id)
    assert trade.rated_by == {Role.BUYER, Role.SELLER} and Role.BUYER not in trade.next_actions

    record = eth_record(buyer, seller_acct.address, SELLER)
    assert (record.count, record.rated_volume, record.weighted_score, record.average_rating) == (
        1,
        ETHER,
        5 * ETHER,
        Decimal("5.00"),
    )
    assert record.completed == 1
    # one rated trade of 1 ETH = 100 units of the 0.01 ETH minimum: (5*100 + 3*5) / (100 + 5)
    assert buyer.reputation(seller_acct.address).score() == Decimal("4.90")
    assert eth_record(buyer, buyer_acct.address, BUYER).average_rating == Decimal("4.00")
    with embedded.no_tx(buyer_acct.address), pytest.raises(errors.AlreadyRated):
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
        "id": trade_id,
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


def test_sweep_fees_collects_the_fees_kept_in_ended_trades(embedded):
    token = embedded.token(decimals=6)
    buyer_acct, buyer = embedded.party()
    seller = embedded.account(0)
    _, anyone = embedded.party(1)
    embedded.mint(token, buyer_acct.address, 1_000 * 10**6)
    whole = buyer.create(seller=seller.address, token=token.address, amount="400").trade_id
    buyer.release(whole)  # its fee stays in its slot
    parts = buyer.create(seller=seller.address, token=token.address, amount="100").trade_id
    buyer.release(parts, "40")  # a partial release's fee goes to the escrow's accrued fees
    live_fee = fee_of(40 * 10**6)
    recipient = buyer.deployment.fee_recipient
    before = token.functions.balanceOf(recipient).call()

    swept = anyone.sweep_fees(token.address)
    assert swept.event("FeesSwept").args["amount"] == fee_of(400 * 10**6) + live_fee == 1_100_000
    assert token.functions.balanceOf(recipient).call() == before + 1_100_000
    assert buyer.trade(whole).held == 0  # swept out of the slot
    assert buyer.trade(parts).held == 60 * 10**6  # a live trade keeps what it holds
    with embedded.no_tx(anyone.address), pytest.raises(errors.NothingToWithdraw):
        anyone.sweep_fees(token.address)

    # ETH: only ended ETH trades are collected, to the wei
    eth_trade = buyer.create(seller=seller.address, amount="1").trade_id
    buyer.release(eth_trade)
    eth_before = embedded.eth(recipient)
    swept = anyone.sweep_fees()
    amount = swept.event("FeesSwept").args["amount"]
    assert amount >= fee_of(ETHER)
    assert embedded.eth(recipient) == eth_before + amount
    assert buyer.trade(eth_trade).held == 0


# -- v2: deposits, bonds, acceptance, concession -------------------------------------------------------
def test_a_buyer_deposit_is_paid_with_the_price_and_comes_back_on_release(embedded):
    buyer_acct, buyer = embedded.party()
    seller_acct, _seller = embedded.party(1)
    start = embedded.eth(buyer_acct.address)
    created = buyer.create(seller=seller_acct.address, amount="1", buyer_deposit="0.2")
    trade = buyer.trade(created.trade_id)
    assert trade.state is TradeState.FUNDED and trade.held == ETHER  # held is the price only
    assert trade.buyer_deposit == ETHER // 5
    assert embedded.eth(buyer_acct.address) == start - ETHER - ETHER // 5 - created.tx.fee  # value = both

    released = buyer.release(created.trade_id)
    assert embedded.eth(buyer_acct.address) == start - ETHER - created.tx.fee - released.fee  # deposit back
    assert buyer.trade(created.trade_id).state is TradeState.COMPLETED


def test_a_seller_deposit_waits_for_the_sellers_bond_then_the_trade_goes_live(embedded):
    buyer_acct, buyer = embedded.party()
    seller_acct, seller = embedded.party(5)
    created = buyer.create(seller=seller_acct.address, amount="1", seller_deposit="0.5", buyer_deposit="0.1")
    trade = buyer.trade(created.trade_id)
    assert trade.state is TradeState.AWAITING_DEPOSIT and not trade.seller_deposited
    assert "accept" in trade.next_actions[Role.SELLER]

    with embedded.no_tx(seller_acct.address), pytest.raises(errors.InsufficientBond) as refused:
        seller.accept(created.trade_id)  # no bond yet: refused before sending
    assert refused.value.needed == ETHER // 2 and refused.value.free == 0

    deposited = seller.deposit_bond("0.8")
    assert deposited.event("BondDeposited").args["free"] == 8 * ETHER // 10
    assert seller.bond() == buyer.bond(account=seller_acct.address) == 8 * ETHER // 10
    seller.accept(created.trade_id)
    trade = buyer.trade(created.trade_id)
    assert trade.state is TradeState.FUNDED and trade.seller_deposited and trade.seller_acted
    assert seller.bond() == 3 * ETHER // 10  # the deposit is locked out of the free bond

    seller_before, buyer_before = embedded.eth(seller_acct.address), embedded.eth(buyer_acct.address)
    released = buyer.release(created.trade_id)
    # deposits are paid to the wallets, never back into the bond
    assert embedded.eth(seller_acct.address) == seller_before + ETHER - fee_of(ETHER) + ETHER // 2
    assert embedded.eth(buyer_acct.address) == buyer_before + ETHER // 10 - released.fee
    assert seller.bond() == 3 * ETHER // 10

    elsewhere = embedded.account(0)
    withdrawn = seller.withdraw_bond("0.3", to=elsewhere.address)
    assert withdrawn.event("BondWithdrawn").args["free"] == 0
    assert embedded.eth(elsewhere.address) == 3 * ETHER // 10
    with embedded.no_tx(seller_acct.address), pytest.raises(errors.InsufficientBond):
        seller.withdraw_bond("0.1")


def test_a_buyer_cancels_a_trade_whose_seller_never_posts_its_deposit(embedded):
    buyer_acct, buyer = embedded.party()
    seller = embedded.account(0)
    start = embedded.eth(buyer_acct.address)
    created = buyer.create(seller=seller.address, amount="1", buyer_deposit="0.1", seller_deposit="0.1")
    cancelled = buyer.cancel(created.trade_id)
    assert buyer.trade(created.trade_id).state is TradeState.CANCELLED
    assert embedded.eth(buyer_acct.address) == start - created.tx.fee - cancelled.fee  # price and deposit back


def test_a_seller_who_concedes_forfeits_its_deposit_and_the_arbiter_gets_half_its_fee(embedded):
    buyer_acct, buyer = embedded.party()
    seller_acct, seller = embedded.party(5)
    arbiter_acct, _arbiter = embedded.party(0)
    seller.deposit_bond("0.5")
    created = buyer.create(seller=seller_acct.address, amount="2", buyer_deposit="0.2", seller_deposit="0.5",
                           arbiter=arbiter_acct.address, arbiter_fee_bps=400)
    seller.accept(created.trade_id)
    buyer.dispute(created.trade_id)
    assert "concede" in buyer.trade(created.trade_id).next_actions[Role.SELLER]
    buyer_before = embedded.eth(buyer_acct.address)

    conceded = seller.concede(created.trade_id)
    held = 2 * ETHER
    arbiter_fee = held * 200 // 10_000  # half of 4%
    assert conceded.event("Conceded").args["arbiterFee"] == arbiter_fee
    assert embedded.eth(arbiter_acct.address) == arbiter_fee
    # the buyer gets what is held less the arbiter's half fee, its own deposit and the seller's
    assert embedded.eth(buyer_acct.address) == buyer_before + held - arbiter_fee + ETHER // 5 + ETHER // 2
    assert buyer.trade(created.trade_id).state is TradeState.RESOLVED
    assert eth_record(buyer, seller_acct.address, SELLER).disputes_lost == 1


def test_a_timeout_with_an_arbiter_forfeits_the_deposit_of_the_side_that_did_not_act(embedded):
    buyer_acct, buyer = embedded.party()
    _seller_acct, seller = embedded.party(5)
    arbiter = embedded.account(0)
    _, outsider = embedded.party(1)
    seller.deposit_bond("0.3")
    trade_id = seller.create(buyer=buyer_acct.address, amount="1", seller_deposit="0.3", arbiter=arbiter.address,
                             release_window=3_600).trade_id  # the seller creates: its deposit locks now
    assert buyer.trade(trade_id).seller_deposited
    buyer.fund(trade_id)
    assert buyer.trade(trade_id).state is TradeState.FUNDED
    after_funding = embedded.eth(buyer_acct.address)
    embedded.sleep(3_600)
    outsider.timeout(trade_id)  # refund on timeout: the seller never marked delivery
    assert embedded.eth(buyer_acct.address) == after_funding + ETHER + 3 * ETHER // 10  # price + seller's deposit
    assert buyer.trade(trade_id).state is TradeState.REFUNDED
