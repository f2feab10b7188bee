"""Reputation priced by value: records per asset and role carrying volume, ratings weighted by the
trade's amount, listed assets with a minimum (checked at creation), consent of the seller, each party
rating once, and the errors that say why a trade cannot be rated."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from support.escrow import BPS, ETH, FLAG_RECORD_REPUTATION, STATE, Deployment, trade_id
from support.offers import offer, reverts, sign_offer, terms_of_offer, tx
from support.v2 import ONE, Receipt, at_deadline, create_and_fund, live, seller_created

NO_COMMENT = b"\x00" * 32
EMPTY = {"volume": 0, "completed": 0, "refunded": 0, "settled": 0, "disputesWon": 0, "disputesLost": 0,
         "disputesSplit": 0, "ratedVolume": 0, "weightedScore": 0, "count": 0}


def rate(d: Deployment, t: dict[str, Any], rater: str, score: int, comment: bytes = NO_COMMENT) -> Receipt:
    return tx(d, d.escrow.functions.rate(t, score, comment), rater)


def released(d: Deployment, **overrides: Any) -> dict[str, Any]:
    """A trade both parties entered, released in full."""
    t = live(d, **overrides)
    tx(d, d.escrow.functions.release(t, t["amount"]), d.buyer)
    return t


# -- records per asset and role, with volume ------------------------------------------------------------
def test_outcomes_are_recorded_per_asset_and_role_with_their_volume(deployed: Deployment) -> None:
    d = deployed
    tusd = d.tokens["standard"].address
    released(d, amount=ONE)
    refunded = live(d, token=tusd, amount=5 * ONE)
    tx(d, d.escrow.functions.refund(refunded, 5 * ONE), d.seller)
    assert d.record(d.seller, ETH, "Seller") == {**EMPTY, "volume": ONE, "completed": 1}
    assert d.record(d.seller, tusd, "Seller") == {**EMPTY, "volume": 5 * ONE, "refunded": 1}
    assert d.record(d.buyer, ETH, "Buyer") == {**EMPTY, "volume": ONE, "completed": 1}
    assert d.record(d.buyer, tusd, "Buyer") == {**EMPTY, "volume": 5 * ONE, "refunded": 1}
    assert d.record(d.seller, ETH, "Buyer") == EMPTY
    assert d.record(d.buyer, ETH, "Seller") == EMPTY


def _rule(bps: int) -> Callable[[Deployment, dict[str, Any]], Any]:
    def end(d: Deployment, t: dict[str, Any]) -> Any:
        tx(d, d.escrow.functions.dispute(t), d.buyer)
        return tx(d, d.escrow.functions.rule(t, bps), d.arbiter)

    return end


def _settle(d: Deployment, t: dict[str, Any]) -> Any:
    tx(d, d.escrow.functions.proposeSettlement(t, 3000), d.seller)
    return tx(d, d.escrow.functions.acceptSettlement(t, 3000), d.buyer)


def _expire(d: Deployment, t: dict[str, Any]) -> Any:
    tx(d, d.escrow.functions.dispute(t), d.seller)
    at_deadline(d, t)
    return tx(d, d.escrow.functions.resolveExpiredDispute(t), d.stranger)


def _concede(by: str) -> Callable[[Deployment, dict[str, Any]], Any]:
    def end(d: Deployment, t: dict[str, Any]) -> Any:
        tx(d, d.escrow.functions.dispute(t), d.buyer)
        return tx(d, d.escrow.functions.concede(t), getattr(d, by))

    return end


ENDINGS: dict[str, tuple[Callable[[Deployment, dict[str, Any]], Any], dict[str, int], dict[str, int]]] = {
    # ending: (how, buyer's record, seller's record)
    "release": (lambda d, t: tx(d, d.escrow.functions.release(t, ONE), d.buyer), {"completed": 1}, {"completed": 1}),
    "refund": (lambda d, t: tx(d, d.escrow.functions.refund(t, ONE), d.seller), {"refunded": 1}, {"refunded": 1}),
    "timeout": (lambda d, t: (at_deadline(d, t), tx(d, d.escrow.functions.timeout(t), d.stranger)),
                {"refunded": 1}, {"refunded": 1}),
    "settlement": (_settle, {"settled": 1}, {"settled": 1}),
    "ruled for the buyer": (_rule(BPS), {"disputesWon": 1}, {"disputesLost": 1}),
    "ruled for the seller": (_rule(0), {"disputesLost": 1}, {"disputesWon": 1}),
    "ruled a split": (_rule(5000), {"disputesSplit": 1}, {"disputesSplit": 1}),
    "dispute expired": (_expire, {"disputesSplit": 1}, {"disputesSplit": 1}),
    "buyer concedes": (_concede("buyer"), {"disputesLost": 1}, {"disputesWon": 1}),
    "seller concedes": (_concede("seller"), {"disputesWon": 1}, {"disputesLost": 1}),
}


@pytest.mark.parametrize("ending", list(ENDINGS))
def test_every_ending_is_recorded_for_both_parties_and_both_may_rate(deployed: Deployment, ending: str) -> None:
    d = deployed
    how, buyer_fields, seller_fields = ENDINGS[ending]
    t = live(d)
    how(d, t)
    assert d.record(d.buyer, ETH, "Buyer") == {**EMPTY, "volume": ONE, **buyer_fields}
    assert d.record(d.seller, ETH, "Seller") == {**EMPTY, "volume": ONE, **seller_fields}
    rate(d, t, d.buyer, 2)
    rate(d, t, d.seller, 4)
    assert d.record(d.seller, ETH, "Seller")["weightedScore"] == 2 * ONE
    assert d.record(d.buyer, ETH, "Buyer")["weightedScore"] == 4 * ONE


# -- ratings weighted by value -------------------------------------------------------------------------
def test_a_rating_weighs_the_trades_amount(deployed: Deployment) -> None:
    d = deployed
    small, large = released(d, amount=ONE), released(d, amount=3 * ONE)
    rate(d, small, d.buyer, 5)
    rate(d, large, d.buyer, 1)
    ratings = d.record(d.seller, ETH, "Seller")
    assert (ratings["ratedVolume"], ratings["weightedScore"], ratings["count"]) == (4 * ONE, 8 * ONE, 2)
    assert ratings["weightedScore"] / ratings["ratedVolume"] == 2.0  # a plain mean would say 3.0


def test_the_rated_event_carries_asset_amount_role_and_comment(deployed: Deployment) -> None:
    d = deployed
    tusd = d.tokens["standard"].address
    t = released(d, token=tusd, amount=7 * ONE)
    receipt = rate(d, t, d.seller, 4, b"\x42" * 32)
    (event,) = d.events(receipt, "Rated", d.reputation)
    assert dict(event) == {"tradeId": trade_id(t), "rater": d.seller, "ratee": d.buyer, "role": 0, "asset": tusd,
                           "amount": 7 * ONE, "score": 4, "commentHash": b"\x42" * 32}


def test_ratings_in_one_asset_do_not_show_in_another(deployed: Deployment) -> None:
    d = deployed
    tusd = d.tokens["standard"].address
    rate(d, released(d), d.buyer, 5)
    assert d.record(d.seller, ETH, "Seller")["count"] == 1
    assert d.record(d.seller, tusd, "Seller") == EMPTY


# -- listed assets and their minimum ----------------------------------------------------------------
def test_delisting_stops_records_for_trades_created_later_and_keeps_past_ones(deployed: Deployment) -> None:
    d = deployed
    past = released(d)  # ended before the delisting
    rate(d, past, d.buyer, 5)
    created_before = live(d)  # created before, ended after
    receipt = d.list_asset(ETH, 1, listed=False)
    (event,) = d.events(receipt, "ReputationAssetSet")
    assert dict(event) == {"token": ETH, "listed": False, "minAmount": 1}
    assert d.escrow.functions.reputationAssets(ETH).call() == [False, 1]
    created_after = live(d)
    for t in (created_before, created_after):
        tx(d, d.escrow.functions.release(t, ONE), d.buyer)
    assert d.record(d.seller, ETH, "Seller") == {**EMPTY, "volume": 2 * ONE, "completed": 2, "ratedVolume": ONE,
                                                 "weightedScore": 5 * ONE, "count": 1}
    rate(d, created_before, d.buyer, 5)
    with reverts("NotRecorded", id=trade_id(created_after)):
        d.send(d.escrow.functions.rate(created_after, 5, NO_COMMENT), d.buyer)


def test_a_trade_below_the_assets_minimum_records_nothing(deployed: Deployment) -> None:
    d = deployed
    d.list_asset(ETH, ONE)
    t = released(d, amount=ONE - 1)
    assert d.record(d.seller, ETH, "Seller") == EMPTY
    with reverts("NotRecorded", id=trade_id(t)):
        d.send(d.escrow.functions.rate(t, 5, NO_COMMENT), d.buyer)


def test_a_trade_at_the_assets_minimum_records(deployed: Deployment) -> None:
    d = deployed
    d.list_asset(ETH, ONE)
    t = released(d, amount=ONE)
    rate(d, t, d.buyer, 5)
    assert d.record(d.seller, ETH, "Seller") == {**EMPTY, "volume": ONE, "completed": 1, "ratedVolume": ONE,
                                                 "weightedScore": 5 * ONE, "count": 1}


def test_the_minimum_in_force_at_creation_decides(deployed: Deployment) -> None:
    d = deployed
    t = live(d, amount=ONE)
    d.list_asset(ETH, 2 * ONE)  # raised after creation
    tx(d, d.escrow.functions.release(t, ONE), d.buyer)
    assert d.record(d.seller, ETH, "Seller")["completed"] == 1


# -- consent: the seller entered the trade knowingly -------------------------------------------------
def _buyers_trade(d: Deployment) -> dict[str, Any]:
    t = d.terms()
    create_and_fund(d, t)
    return t


def _seller_acts(d: Deployment, act: str) -> dict[str, Any]:
    e = d.escrow.functions
    if act == "signs the offer":
        o = offer(d)
        tx(d, e.fillOffer(o, sign_offer(d, o)), d.buyer, ONE)
        t = terms_of_offer(o, d.buyer)
        tx(d, e.release(t, ONE), d.buyer)
        return t
    if act == "creates":
        return released(d)
    t = _buyers_trade(d)
    if act == "accepts":
        tx(d, e.accept(t), d.seller)
        tx(d, e.release(t, ONE), d.buyer)
    elif act == "marks delivery":
        tx(d, e.markDelivered(t), d.seller)
        tx(d, e.release(t, ONE), d.buyer)
    elif act == "accepts, then refunds":
        tx(d, e.accept(t), d.seller)
        tx(d, e.refund(t, ONE), d.seller)
    elif act == "proposes a settlement":
        tx(d, e.proposeSettlement(t, 2000), d.seller)
        tx(d, e.acceptSettlement(t, 2000), d.buyer)
    elif act == "accepts a settlement":
        tx(d, e.proposeSettlement(t, 2000), d.buyer)
        tx(d, e.acceptSettlement(t, 2000), d.seller)
    elif act == "disputes":
        tx(d, e.dispute(t), d.seller)
        tx(d, e.rule(t, 5000), d.arbiter)
    elif act == "disputes, then concedes":
        tx(d, e.dispute(t), d.seller)
        tx(d, e.concede(t), d.seller)
    else:
        raise AssertionError(act)
    return t


SELLER_ACTS = ["creates", "signs the offer", "accepts", "marks delivery", "proposes a settlement",
               "accepts a settlement", "disputes", "accepts, then refunds", "disputes, then concedes"]


@pytest.mark.parametrize("act", SELLER_ACTS)
def test_a_trade_records_once_its_seller_acted_on_it(deployed: Deployment, act: str) -> None:
    d = deployed
    t = _seller_acts(d, act)
    assert d.record(d.seller, ETH, "Seller")["volume"] == ONE
    assert d.record(d.buyer, ETH, "Buyer")["volume"] == ONE
    rate(d, t, d.buyer, 3)


def test_a_trade_whose_seller_never_acted_records_nothing_for_either_party(deployed: Deployment) -> None:
    d = deployed
    t = _buyers_trade(d)
    tx(d, d.escrow.functions.release(t, ONE), d.buyer)
    assert d.record(d.seller, ETH, "Seller") == EMPTY
    assert d.record(d.buyer, ETH, "Buyer") == EMPTY
    for rater in (d.buyer, d.seller):
        with reverts("NotRecorded", id=trade_id(t)):
            d.send(d.escrow.functions.rate(t, 5, NO_COMMENT), rater)


# -- rating: once per party, ended trades only, recorded trades only ---------------------------------------
def test_each_party_rates_a_trade_once(deployed: Deployment) -> None:
    d = deployed
    t = released(d)
    rate(d, t, d.buyer, 5)
    with reverts("AlreadyRated", id=trade_id(t), rater=d.buyer):
        d.send(d.escrow.functions.rate(t, 1, NO_COMMENT), d.buyer)
    rate(d, t, d.seller, 4)  # the other party still may, once
    with reverts("AlreadyRated", id=trade_id(t), rater=d.seller):
        d.send(d.escrow.functions.rate(t, 1, NO_COMMENT), d.seller)
    assert d.record(d.seller, ETH, "Seller")["count"] == 1
    assert d.record(d.buyer, ETH, "Buyer")["count"] == 1


@pytest.mark.parametrize("state", ["AwaitingFunding", "AwaitingDeposit", "Funded", "Disputed", "Cancelled"])
def test_a_trade_that_has_not_ended_cannot_be_rated(deployed: Deployment, state: str) -> None:
    d = deployed
    if state == "AwaitingFunding":
        t = seller_created(d)
    elif state == "AwaitingDeposit":
        t = d.terms(sellerDeposit=ONE)
        create_and_fund(d, t)
    else:
        t = live(d)
        if state == "Disputed":
            tx(d, d.escrow.functions.dispute(t), d.buyer)
    if state == "Cancelled":
        t = seller_created(d)
        tx(d, d.escrow.functions.cancel(t), d.seller)
    assert d.state_of(t) == state
    with reverts("NotEnded", id=trade_id(t), state=STATE[state]):
        d.send(d.escrow.functions.rate(t, 5, NO_COMMENT), d.buyer)


def test_a_trade_in_an_unlisted_asset_cannot_be_rated(deployed: Deployment) -> None:
    d = deployed
    six = d.tokens["six_decimals"].address
    d.list_asset(six, 1, listed=False)
    t = released(d, token=six, amount=10**6)
    assert d.record(d.seller, six, "Seller") == EMPTY
    with reverts("NotRecorded", id=trade_id(t)):
        d.send(d.escrow.functions.rate(t, 5, NO_COMMENT), d.buyer)


def test_a_trade_that_did_not_ask_to_record_cannot_be_rated(deployed: Deployment) -> None:
    d = deployed
    t = released(d, flags=0)
    assert not t["flags"] & FLAG_RECORD_REPUTATION
    assert d.record(d.seller, ETH, "Seller") == EMPTY
    with reverts("NotRecorded", id=trade_id(t)):
        d.send(d.escrow.functions.rate(t, 5, NO_COMMENT), d.seller)


@pytest.mark.parametrize("score", [0, 6])
def test_a_score_outside_one_to_five_is_refused(deployed: Deployment, score: int) -> None:
    d = deployed
    t = released(d)
    with reverts("InvalidScore", score=score):
        d.send(d.escrow.functions.rate(t, score, NO_COMMENT), d.buyer)


def test_a_trade_beyond_a_records_112_bit_volume_records_nothing(deployed: Deployment) -> None:
    """A record keeps volumes in 112 bits: a larger price (a listed token with 24 decimals, or a large
    supply) records nothing rather than wrap the record to a small volume under a huge rating."""
    d = deployed
    tusd = d.tokens["standard"]
    tx(d, tusd.functions.mint(d.buyer, 2**113), d.owner)
    largest = released(d, token=tusd.address, amount=2**112 - 1)
    rate(d, largest, d.buyer, 5)
    too_large = released(d, token=tusd.address, amount=2**112)
    with reverts("NotRecorded", id=trade_id(too_large)):
        d.send(d.escrow.functions.rate(too_large, 5, NO_COMMENT), d.buyer)
    assert d.record(d.seller, tusd.address, "Seller") == {
        **EMPTY, "volume": 2**112 - 1, "completed": 1, "ratedVolume": 2**112 - 1, "weightedScore": 5 * (2**112 - 1),
        "count": 1}


def test_eths_minimum_is_at_most_2_to_the_64_wei(deployed: Deployment) -> None:
    d = deployed
    d.list_asset(ETH, 2**64 - 1)
    with reverts("AmountTooLarge", amount=2**64):
        d.send(d.escrow.functions.setReputationAsset(ETH, True, 2**64), d.owner)
    assert d.escrow.functions.reputationAssets(ETH).call() == [True, 2**64 - 1]


def test_the_eth_listing_and_the_fee_settings_beside_it_leave_each_other_alone(deployed: Deployment) -> None:
    """ETH's listing shares a storage slot with the platform fee, the fee recipient and the pause flag."""
    d = deployed
    e = d.escrow.functions
    d.list_asset(ETH, 2**64 - 1)
    assert (e.platformFeeBps().call(), e.feeRecipient().call(), e.paused().call()) == (25, d.fee_recipient, False)
    tx(d, e.setPlatformFee(500), d.owner)
    tx(d, e.setFeeRecipient(d.stranger), d.owner)
    tx(d, e.pause(), d.owner)
    assert e.reputationAssets(ETH).call() == [True, 2**64 - 1]
    d.list_asset(ETH, 0, listed=False)
    assert (e.platformFeeBps().call(), e.feeRecipient().call(), e.paused().call()) == (500, d.stranger, True)
    assert e.reputationAssets(ETH).call() == [False, 0]
    assert e.reputationAssets(d.tokens["standard"].address).call() == [True, 1]


def test_a_records_volume_wraps_within_its_own_bits(deployed: Deployment) -> None:
    """Recording never reverts (it would block the payout): a field that overflows wraps, and carries
    nothing into the counters packed beside it."""
    d = deployed
    tusd = d.tokens["standard"]
    largest = 2**112 - 1
    tx(d, tusd.functions.mint(d.buyer, 2 * largest), d.owner)
    released(d, token=tusd.address, amount=largest)
    released(d, token=tusd.address, amount=largest)
    record = d.record(d.seller, tusd.address, "Seller")
    assert (record["volume"], record["completed"], record["refunded"]) == ((2 * largest) % 2**112, 2, 0)
