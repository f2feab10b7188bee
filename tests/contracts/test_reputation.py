"""Reputation: outcomes recorded per ending, ratings once per party on paid trades, authorised
escrows only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from support.escrow import (
    BPS,
    ETH,
    FLAG_RECORD_REPUTATION,
    FLAG_TIMEOUT_RELEASES,
    OUTCOME,
    PLATFORM_FEE_BPS,
    Deployment,
    trade_id,
)
from support.offers import balance_of, reverts, tx

EMPTY = {
    "completedAsBuyer": 0,
    "completedAsSeller": 0,
    "settled": 0,
    "refunded": 0,
    "disputesWon": 0,
    "disputesLost": 0,
    "disputesSplit": 0,
    "ratingCount": 0,
    "ratingSum": 0,
}


def funded(d: Deployment, **overrides: Any) -> dict[str, Any]:
    t = d.terms(**overrides)
    tx(d, d.escrow.functions.createAndFund(t), t["buyer"], t["amount"])
    return t


# Ways a funded trade ends. Each ending returns the final receipt.
def _release(d: Deployment, t: dict[str, Any]) -> Any:
    return tx(d, d.escrow.functions.release(t, t["amount"]), d.buyer)


def _parts_then_refund(d: Deployment, t: dict[str, Any]) -> Any:
    tx(d, d.escrow.functions.release(t, 1), d.buyer)
    return tx(d, d.escrow.functions.refund(t, t["amount"] - 1), d.seller)


def _timeout(d: Deployment, t: dict[str, Any]) -> Any:
    d.chain.set_next_timestamp(d.escrow_of(t)["deadline"])
    return tx(d, d.escrow.functions.timeout(t), d.stranger)


def _refund(d: Deployment, t: dict[str, Any]) -> Any:
    return tx(d, d.escrow.functions.refund(t, t["amount"]), d.seller)


def _settle(bps: int) -> Callable[[Deployment, dict[str, Any]], Any]:
    def end(d: Deployment, t: dict[str, Any]) -> Any:
        tx(d, d.escrow.functions.proposeSettlement(t, bps), d.buyer)
        return tx(d, d.escrow.functions.acceptSettlement(t, bps), d.seller)

    return end


def _rule(bps: int) -> Callable[[Deployment, dict[str, Any]], Any]:
    def end(d: Deployment, t: dict[str, Any]) -> Any:
        tx(d, d.escrow.functions.dispute(t), d.buyer)
        return tx(d, d.escrow.functions.rule(t, bps), d.arbiter)

    return end


def _expired_dispute(d: Deployment, t: dict[str, Any]) -> Any:
    tx(d, d.escrow.functions.dispute(t), d.seller)
    d.chain.set_next_timestamp(d.escrow_of(t)["deadline"])
    return tx(d, d.escrow.functions.resolveExpiredDispute(t), d.stranger)


ENDINGS: dict[str, tuple[str, Callable[..., Any], int, dict[str, int], dict[str, int], bool]] = {
    # name: (outcome, ending, flags, buyer record, seller record, rateable)
    "release": ("Completed", _release, 0, {"completedAsBuyer": 1}, {"completedAsSeller": 1}, True),
    "release_then_refund": (
        "Completed",
        _parts_then_refund,
        0,
        {"completedAsBuyer": 1},
        {"completedAsSeller": 1},
        True,
    ),
    "timeout_release": (
        "Completed",
        _timeout,
        FLAG_TIMEOUT_RELEASES,
        {"completedAsBuyer": 1},
        {"completedAsSeller": 1},
        True,
    ),
    "refund": ("Refunded", _refund, 0, {"refunded": 1}, {"refunded": 1}, False),
    "timeout_refund": ("Refunded", _timeout, 0, {"refunded": 1}, {"refunded": 1}, False),
    "settled": ("Settled", _settle(4000), 0, {"settled": 1}, {"settled": 1}, True),
    "settled_all_to_buyer": ("Settled", _settle(BPS), 0, {"settled": 1}, {"settled": 1}, False),
    "buyer_won": ("BuyerWon", _rule(BPS), 0, {"disputesWon": 1}, {"disputesLost": 1}, False),
    "seller_won": ("SellerWon", _rule(0), 0, {"disputesLost": 1}, {"disputesWon": 1}, True),
    "split": ("Split", _rule(5000), 0, {"disputesSplit": 1}, {"disputesSplit": 1}, True),
    "expired_dispute": (
        "Split",
        _expired_dispute,
        0,
        {"disputesSplit": 1},
        {"disputesSplit": 1},
        True,
    ),
}


@pytest.mark.parametrize("ending", list(ENDINGS))
def test_outcome_is_recorded_for_both_parties(d: Deployment, ending: str) -> None:
    outcome, end, flags, buyer_rec, seller_rec, _ = ENDINGS[ending]
    t = funded(d, flags=FLAG_RECORD_REPUTATION | flags)
    assert d.record(d.buyer) == EMPTY and d.record(d.seller) == EMPTY
    r = end(d, t)
    events = d.events(r, "OutcomeRecorded", d.reputation)
    assert len(events) == 1
    assert (events[0]["escrow"], events[0]["tradeId"], events[0]["outcome"]) == (
        d.escrow.address,
        trade_id(t),
        OUTCOME[outcome],
    )
    assert d.record(d.buyer) == {**EMPTY, **buyer_rec}
    assert d.record(d.seller) == {**EMPTY, **seller_rec}
    assert d.record(d.arbiter) == EMPTY


@pytest.mark.parametrize("ending", list(ENDINGS))
def test_rating_allowed_only_when_the_seller_was_paid(d: Deployment, ending: str) -> None:
    *_, rateable = ENDINGS[ending]
    t = funded(d, flags=FLAG_RECORD_REPUTATION | ENDINGS[ending][2])
    ENDINGS[ending][1](d, t)
    if rateable:
        r = tx(d, d.escrow.functions.rate(t, 4, b"\x05" * 32), d.buyer)
        e = d.events(r, "Rated", d.reputation)[0]
        assert (e["tradeId"], e["rater"], e["ratee"], e["score"], e["commentHash"]) == (
            trade_id(t),
            d.buyer,
            d.seller,
            4,
            b"\x05" * 32,
        )
        assert d.record(d.seller)["ratingCount"] == 1 and d.record(d.seller)["ratingSum"] == 4
    else:
        with reverts("NotRateable", id=trade_id(t)):
            d.send(d.escrow.functions.rate(t, 4, b"\x00" * 32), d.buyer)
        with reverts("NotRateable", id=trade_id(t)):
            d.send(d.escrow.functions.rate(t, 4, b"\x00" * 32), d.seller)
        assert d.record(d.seller)["ratingCount"] == 0


@pytest.mark.parametrize("ending", ["release", "refund", "split", "settled"])
def test_trade_without_reputation_flag_records_nothing_and_cannot_be_rated(
    d: Deployment, ending: str
) -> None:
    _, end, flags, *_ = ENDINGS[ending]
    t = funded(d, flags=flags)
    r = end(d, t)
    assert d.events(r, "OutcomeRecorded", d.reputation) == []
    assert d.record(d.buyer) == EMPTY and d.record(d.seller) == EMPTY
    with reverts("NotRateable", id=trade_id(t)):
        d.send(d.escrow.functions.rate(t, 5, b"\x00" * 32), d.buyer)


def test_each_party_rates_the_other_once(d: Deployment) -> None:
    t = funded(d)
    _release(d, t)
    tx(d, d.escrow.functions.rate(t, 5, b"\x00" * 32), d.buyer)
    r = tx(d, d.escrow.functions.rate(t, 2, b"\x0c" * 32), d.seller)
    e = d.events(r, "Rated", d.reputation)[0]
    assert (e["rater"], e["ratee"], e["score"]) == (d.seller, d.buyer, 2)
    for party in (d.buyer, d.seller):
        with reverts("NotRateable", id=trade_id(t)):
            d.send(d.escrow.functions.rate(t, 3, b"\x00" * 32), party)
    assert (d.record(d.seller)["ratingCount"], d.record(d.seller)["ratingSum"]) == (1, 5)
    assert (d.record(d.buyer)["ratingCount"], d.record(d.buyer)["ratingSum"]) == (1, 2)
    assert d.escrow_of(t)["marks"] & (16 | 32) == 16 | 32


def test_rating_sum_and_count_accumulate_over_trades(d: Deployment) -> None:
    scores = [5, 3, 1, 4]
    for score in scores:
        t = funded(d)
        _release(d, t)
        tx(d, d.escrow.functions.rate(t, score, b"\x00" * 32), d.buyer)
    rec = d.record(d.seller)
    assert (rec["ratingCount"], rec["ratingSum"]) == (4, sum(scores))
    assert rec["completedAsSeller"] == 4 and d.record(d.buyer)["completedAsBuyer"] == 4


@pytest.mark.parametrize("who", ["arbiter", "stranger"])
def test_only_parties_can_rate(d: Deployment, who: str) -> None:
    t = funded(d)
    _release(d, t)
    caller = getattr(d, who)
    with reverts("Unauthorized", caller=caller, id=trade_id(t)):
        d.send(d.escrow.functions.rate(t, 5, b"\x00" * 32), caller)


@pytest.mark.parametrize("score", [0, 6, 255])
def test_score_must_be_one_to_five(d: Deployment, score: int) -> None:
    t = funded(d)
    _release(d, t)
    with reverts("InvalidScore", score=score):
        d.send(d.escrow.functions.rate(t, score, b"\x00" * 32), d.buyer)
    tx(d, d.escrow.functions.rate(t, 1, b"\x00" * 32), d.buyer)
    tx(d, d.escrow.functions.rate(t, 5, b"\x00" * 32), d.seller)
    assert d.record(d.seller)["ratingSum"] == 1 and d.record(d.buyer)["ratingSum"] == 5


def test_unfinished_trade_cannot_be_rated_even_after_a_partial_release(d: Deployment) -> None:
    t = funded(d)
    tx(d, d.escrow.functions.release(t, 10**17), d.buyer)
    with reverts("NotRateable", id=trade_id(t)):
        d.send(d.escrow.functions.rate(t, 5, b"\x00" * 32), d.buyer)
    tx(d, d.escrow.functions.dispute(t), d.buyer)
    with reverts("NotRateable", id=trade_id(t)):
        d.send(d.escrow.functions.rate(t, 5, b"\x00" * 32), d.seller)


def test_cancelled_trade_cannot_be_rated_and_records_nothing(d: Deployment) -> None:
    t = d.terms()
    tx(d, d.escrow.functions.create(t), d.buyer)
    with reverts("NotRateable", id=trade_id(t)):
        d.send(d.escrow.functions.rate(t, 5, b"\x00" * 32), d.buyer)
    tx(d, d.escrow.functions.cancel(t), d.buyer)
    with reverts("NotRateable", id=trade_id(t)):
        d.send(d.escrow.functions.rate(t, 5, b"\x00" * 32), d.seller)
    assert d.record(d.buyer) == EMPTY and d.record(d.seller) == EMPTY


def test_settlement_after_partial_release_is_rateable_even_if_all_rest_goes_to_buyer(
    d: Deployment,
) -> None:
    t = funded(d)
    tx(d, d.escrow.functions.release(t, 10**17), d.buyer)
    _settle(BPS)(d, t)
    tx(d, d.escrow.functions.rate(t, 3, b"\x00" * 32), d.buyer)
    assert d.record(d.seller)["ratingSum"] == 3


# -- authorisation ---------------------------------------------------------------------------------
def test_stranger_cannot_record_outcomes_or_ratings(d: Deployment) -> None:
    with reverts("NotAuthorisedEscrow", caller=d.stranger):
        d.send(d.reputation.functions.recordOutcome(b"\x01" * 32, d.buyer, d.seller, 0), d.stranger)
    with reverts("NotAuthorisedEscrow", caller=d.seller):
        d.send(
            d.reputation.functions.recordRating(b"\x01" * 32, d.seller, d.buyer, 5, b"\x00" * 32),
            d.seller,
        )
    assert d.record(d.buyer) == EMPTY and d.record(d.seller) == EMPTY


def test_escrow_names_the_reputation_contract_it_reports_to(d: Deployment) -> None:
    """Clients find the reputation contract through the escrow (one address to configure)."""
    assert d.escrow.functions.reputation().call() == d.reputation.address


def test_owner_authorises_escrows_and_only_the_owner(d: Deployment) -> None:
    rep = d.reputation
    assert rep.functions.isAuthorisedEscrow(d.escrow.address).call()
    assert not rep.functions.isAuthorisedEscrow(d.stranger).call()
    with reverts("OwnableUnauthorizedAccount", account=d.stranger):
        d.send(rep.functions.setEscrow(d.stranger, True), d.stranger)
    with reverts("ZeroEscrow"):
        d.send(rep.functions.setEscrow(ETH, True), d.owner)
    r = tx(d, rep.functions.setEscrow(d.stranger, True), d.owner)
    e = d.events(r, "EscrowAuthorised", rep)[0]
    assert (e["escrow"], e["authorised"]) == (d.stranger, True)
    # an authorised caller records what it reports (the escrow is trusted to report truthfully)
    tx(
        d,
        rep.functions.recordOutcome(b"\x01" * 32, d.buyer, d.seller, OUTCOME["SellerWon"]),
        d.stranger,
    )
    assert d.record(d.seller)["disputesWon"] == 1 and d.record(d.buyer)["disputesLost"] == 1


def test_deauthorised_escrow_still_ends_trades_and_pays_out(d: Deployment) -> None:
    t = funded(d)
    r = tx(d, d.reputation.functions.setEscrow(d.escrow.address, False), d.owner)
    assert d.events(r, "EscrowAuthorised", d.reputation)[0]["authorised"] is False
    seller_before = balance_of(d, ETH, d.seller)
    r = tx(d, d.escrow.functions.release(t, t["amount"]), d.buyer)
    assert d.state_of(t) == "Completed"
    assert (
        balance_of(d, ETH, d.seller)
        == seller_before + t["amount"] - t["amount"] * PLATFORM_FEE_BPS // BPS
    )
    assert d.events(r, "OutcomeRecorded", d.reputation) == []
    assert d.record(d.seller) == EMPTY
    # rating needs the reputation contract: it reverts, and leaves the trade rateable for later
    with reverts("NotAuthorisedEscrow", caller=d.escrow.address):
        d.send(d.escrow.functions.rate(t, 5, b"\x00" * 32), d.buyer)
    tx(d, d.reputation.functions.setEscrow(d.escrow.address, True), d.owner)
    tx(d, d.escrow.functions.rate(t, 5, b"\x00" * 32), d.buyer)
    assert d.record(d.seller)["ratingCount"] == 1


def test_reputation_ownership_transfer_takes_two_steps(d: Deployment) -> None:
    rep = d.reputation
    tx(d, rep.functions.transferOwnership(d.stranger), d.owner)
    assert rep.functions.owner().call() == d.owner
    with reverts("OwnableUnauthorizedAccount", account=d.stranger):
        d.send(rep.functions.setEscrow(d.stranger, True), d.stranger)
    tx(d, rep.functions.acceptOwnership(), d.stranger)
    assert rep.functions.owner().call() == d.stranger
    with reverts("OwnableUnauthorizedAccount", account=d.owner):
        d.send(rep.functions.setEscrow(d.buyer, True), d.owner)
