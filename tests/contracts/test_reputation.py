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


def funded(deployed: Deployment, **overrides: Any) -> dict[str, Any]:
    t = deployed.terms(**overrides)
    tx(deployed, deployed.escrow.functions.createAndFund(t), t["buyer"], t["amount"])
    return t


# Ways a funded trade ends. Each ending returns the final receipt.
def _release(deployed: Deployment, t: dict[str, Any]) -> Any:
    return tx(deployed, deployed.escrow.functions.release(t, t["amount"]), deployed.buyer)


def _parts_then_refund(deployed: Deployment, t: dict[str, Any]) -> Any:
    tx(deployed, deployed.escrow.functions.release(t, 1), deployed.buyer)
    return tx(deployed, deployed.escrow.functions.refund(t, t["amount"] - 1), deployed.seller)


def _timeout(deployed: Deployment, t: dict[str, Any]) -> Any:
    deployed.chain.set_next_timestamp(deployed.escrow_of(t)["deadline"])
    return tx(deployed, deployed.escrow.functions.timeout(t), deployed.stranger)


def _refund(deployed: Deployment, t: dict[str, Any]) -> Any:
    return tx(deployed, deployed.escrow.functions.refund(t, t["amount"]), deployed.seller)


def _settle(bps: int) -> Callable[[Deployment, dict[str, Any]], Any]:
    def end(deployed: Deployment, t: dict[str, Any]) -> Any:
        tx(deployed, deployed.escrow.functions.proposeSettlement(t, bps), deployed.buyer)
        return tx(deployed, deployed.escrow.functions.acceptSettlement(t, bps), deployed.seller)

    return end


def _rule(bps: int) -> Callable[[Deployment, dict[str, Any]], Any]:
    def end(deployed: Deployment, t: dict[str, Any]) -> Any:
        tx(deployed, deployed.escrow.functions.dispute(t), deployed.buyer)
        return tx(deployed, deployed.escrow.functions.rule(t, bps), deployed.arbiter)

    return end


def _expired_dispute(deployed: Deployment, t: dict[str, Any]) -> Any:
    tx(deployed, deployed.escrow.functions.dispute(t), deployed.seller)
    deployed.chain.set_next_timestamp(deployed.escrow_of(t)["deadline"])
    return tx(deployed, deployed.escrow.functions.resolveExpiredDispute(t), deployed.stranger)


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
def test_outcome_is_recorded_for_both_parties(deployed: Deployment, ending: str) -> None:
    outcome, end, flags, buyer_rec, seller_rec, _ = ENDINGS[ending]
    t = funded(deployed, flags=FLAG_RECORD_REPUTATION | flags)
    assert deployed.record(deployed.buyer) == EMPTY and deployed.record(deployed.seller) == EMPTY
    r = end(deployed, t)
    events = deployed.events(r, "OutcomeRecorded", deployed.reputation)
    assert len(events) == 1
    assert (events[0]["escrow"], events[0]["tradeId"], events[0]["outcome"]) == (
        deployed.escrow.address,
        trade_id(t),
        OUTCOME[outcome],
    )
    assert deployed.record(deployed.buyer) == {**EMPTY, **buyer_rec}
    assert deployed.record(deployed.seller) == {**EMPTY, **seller_rec}
    assert deployed.record(deployed.arbiter) == EMPTY


@pytest.mark.parametrize("ending", list(ENDINGS))
def test_rating_allowed_only_when_the_seller_was_paid(deployed: Deployment, ending: str) -> None:
    *_, rateable = ENDINGS[ending]
    t = funded(deployed, flags=FLAG_RECORD_REPUTATION | ENDINGS[ending][2])
    ENDINGS[ending][1](deployed, t)
    if rateable:
        r = tx(deployed, deployed.escrow.functions.rate(t, 4, b"\x05" * 32), deployed.buyer)
        e = deployed.events(r, "Rated", deployed.reputation)[0]
        assert (e["tradeId"], e["rater"], e["ratee"], e["score"], e["commentHash"]) == (
            trade_id(t),
            deployed.buyer,
            deployed.seller,
            4,
            b"\x05" * 32,
        )
        record = deployed.record(deployed.seller)
        assert record["ratingCount"] == 1 and record["ratingSum"] == 4
    else:
        with reverts("NotRateable", id=trade_id(t)):
            deployed.send(deployed.escrow.functions.rate(t, 4, b"\x00" * 32), deployed.buyer)
        with reverts("NotRateable", id=trade_id(t)):
            deployed.send(deployed.escrow.functions.rate(t, 4, b"\x00" * 32), deployed.seller)
        assert deployed.record(deployed.seller)["ratingCount"] == 0


@pytest.mark.parametrize("ending", ["release", "refund", "split", "settled"])
def test_trade_without_reputation_flag_records_nothing_and_cannot_be_rated(
    deployed: Deployment, ending: str
) -> None:
    _, end, flags, *_ = ENDINGS[ending]
    t = funded(deployed, flags=flags)
    r = end(deployed, t)
    assert deployed.events(r, "OutcomeRecorded", deployed.reputation) == []
    assert deployed.record(deployed.buyer) == EMPTY and deployed.record(deployed.seller) == EMPTY
    with reverts("NotRateable", id=trade_id(t)):
        deployed.send(deployed.escrow.functions.rate(t, 5, b"\x00" * 32), deployed.buyer)


def test_each_party_rates_the_other_once(deployed: Deployment) -> None:
    t = funded(deployed)
    _release(deployed, t)
    tx(deployed, deployed.escrow.functions.rate(t, 5, b"\x00" * 32), deployed.buyer)
    r = tx(deployed, deployed.escrow.functions.rate(t, 2, b"\x0c" * 32), deployed.seller)
    e = deployed.events(r, "Rated", deployed.reputation)[0]
    assert (e["rater"], e["ratee"], e["score"]) == (deployed.seller, deployed.buyer, 2)
    for party in (deployed.buyer, deployed.seller):
        with reverts("NotRateable", id=trade_id(t)):
            deployed.send(deployed.escrow.functions.rate(t, 3, b"\x00" * 32), party)
    assert (deployed.record(deployed.seller)["ratingCount"], deployed.record(deployed.seller)["ratingSum"]) == (1, 5)
    assert (deployed.record(deployed.buyer)["ratingCount"], deployed.record(deployed.buyer)["ratingSum"]) == (1, 2)
    assert deployed.escrow_of(t)["marks"] & (16 | 32) == 16 | 32


def test_rating_sum_and_count_accumulate_over_trades(deployed: Deployment) -> None:
    scores = [5, 3, 1, 4]
    for score in scores:
        t = funded(deployed)
        _release(deployed, t)
        tx(deployed, deployed.escrow.functions.rate(t, score, b"\x00" * 32), deployed.buyer)
    rec = deployed.record(deployed.seller)
    assert (rec["ratingCount"], rec["ratingSum"]) == (4, sum(scores))
    assert rec["completedAsSeller"] == 4 and deployed.record(deployed.buyer)["completedAsBuyer"] == 4


@pytest.mark.parametrize("who", ["arbiter", "stranger"])
def test_only_parties_can_rate(deployed: Deployment, who: str) -> None:
    t = funded(deployed)
    _release(deployed, t)
    caller = getattr(deployed, who)
    with reverts("Unauthorized", caller=caller, id=trade_id(t)):
        deployed.send(deployed.escrow.functions.rate(t, 5, b"\x00" * 32), caller)


@pytest.mark.parametrize("score", [0, 6, 255])
def test_score_must_be_one_to_five(deployed: Deployment, score: int) -> None:
    t = funded(deployed)
    _release(deployed, t)
    with reverts("InvalidScore", score=score):
        deployed.send(deployed.escrow.functions.rate(t, score, b"\x00" * 32), deployed.buyer)
    tx(deployed, deployed.escrow.functions.rate(t, 1, b"\x00" * 32), deployed.buyer)
    tx(deployed, deployed.escrow.functions.rate(t, 5, b"\x00" * 32), deployed.seller)
    assert deployed.record(deployed.seller)["ratingSum"] == 1 and deployed.record(deployed.buyer)["ratingSum"] == 5


def test_unfinished_trade_cannot_be_rated_even_after_a_partial_release(deployed: Deployment) -> None:
    t = funded(deployed)
    tx(deployed, deployed.escrow.functions.release(t, 10**17), deployed.buyer)
    with reverts("NotRateable", id=trade_id(t)):
        deployed.send(deployed.escrow.functions.rate(t, 5, b"\x00" * 32), deployed.buyer)
    tx(deployed, deployed.escrow.functions.dispute(t), deployed.buyer)
    with reverts("NotRateable", id=trade_id(t)):
        deployed.send(deployed.escrow.functions.rate(t, 5, b"\x00" * 32), deployed.seller)


def test_cancelled_trade_cannot_be_rated_and_records_nothing(deployed: Deployment) -> None:
    t = deployed.terms()
    tx(deployed, deployed.escrow.functions.create(t), deployed.buyer)
    with reverts("NotRateable", id=trade_id(t)):
        deployed.send(deployed.escrow.functions.rate(t, 5, b"\x00" * 32), deployed.buyer)
    tx(deployed, deployed.escrow.functions.cancel(t), deployed.buyer)
    with reverts("NotRateable", id=trade_id(t)):
        deployed.send(deployed.escrow.functions.rate(t, 5, b"\x00" * 32), deployed.seller)
    assert deployed.record(deployed.buyer) == EMPTY and deployed.record(deployed.seller) == EMPTY


def test_settlement_after_partial_release_is_rateable_even_if_all_rest_goes_to_buyer(
    deployed: Deployment,
) -> None:
    t = funded(deployed)
    tx(deployed, deployed.escrow.functions.release(t, 10**17), deployed.buyer)
    _settle(BPS)(deployed, t)
    tx(deployed, deployed.escrow.functions.rate(t, 3, b"\x00" * 32), deployed.buyer)
    assert deployed.record(deployed.seller)["ratingSum"] == 3


# -- authorisation ---------------------------------------------------------------------------------
def test_stranger_cannot_record_outcomes_or_ratings(deployed: Deployment) -> None:
    with reverts("NotAuthorisedEscrow", caller=deployed.stranger):
        deployed.send(deployed.reputation.functions.recordOutcome(b"\x01" * 32, deployed.buyer, deployed.seller, 0),
                      deployed.stranger)
    with reverts("NotAuthorisedEscrow", caller=deployed.seller):
        deployed.send(
            deployed.reputation.functions.recordRating(b"\x01" * 32, deployed.seller, deployed.buyer, 5, b"\x00" * 32),
            deployed.seller,
        )
    assert deployed.record(deployed.buyer) == EMPTY and deployed.record(deployed.seller) == EMPTY


def test_escrow_names_the_reputation_contract_it_reports_to(deployed: Deployment) -> None:
    """Clients find the reputation contract through the escrow (one address to configure)."""
    assert deployed.escrow.functions.reputation().call() == deployed.reputation.address


def test_owner_authorises_escrows_and_only_the_owner(deployed: Deployment) -> None:
    rep = deployed.reputation
    assert rep.functions.isAuthorisedEscrow(deployed.escrow.address).call()
    assert not rep.functions.isAuthorisedEscrow(deployed.stranger).call()
    with reverts("OwnableUnauthorizedAccount", account=deployed.stranger):
        deployed.send(rep.functions.setEscrow(deployed.stranger, True), deployed.stranger)
    with reverts("ZeroEscrow"):
        deployed.send(rep.functions.setEscrow(ETH, True), deployed.owner)
    r = tx(deployed, rep.functions.setEscrow(deployed.stranger, True), deployed.owner)
    e = deployed.events(r, "EscrowAuthorised", rep)[0]
    assert (e["escrow"], e["authorised"]) == (deployed.stranger, True)
    # an authorised caller records what it reports (the escrow is trusted to report truthfully)
    tx(
        deployed,
        rep.functions.recordOutcome(b"\x01" * 32, deployed.buyer, deployed.seller, OUTCOME["SellerWon"]),
        deployed.stranger,
    )
    assert deployed.record(deployed.seller)["disputesWon"] == 1 and deployed.record(deployed.buyer)["disputesLost"] == 1


def test_deauthorised_escrow_still_ends_trades_and_pays_out(deployed: Deployment) -> None:
    t = funded(deployed)
    r = tx(deployed, deployed.reputation.functions.setEscrow(deployed.escrow.address, False), deployed.owner)
    assert deployed.events(r, "EscrowAuthorised", deployed.reputation)[0]["authorised"] is False
    seller_before = balance_of(deployed, ETH, deployed.seller)
    r = tx(deployed, deployed.escrow.functions.release(t, t["amount"]), deployed.buyer)
    assert deployed.state_of(t) == "Completed"
    assert (
        balance_of(deployed, ETH, deployed.seller)
        == seller_before + t["amount"] - t["amount"] * PLATFORM_FEE_BPS // BPS
    )
    assert deployed.events(r, "OutcomeRecorded", deployed.reputation) == []
    assert deployed.record(deployed.seller) == EMPTY
    # rating needs the reputation contract: it reverts, and leaves the trade rateable for later
    with reverts("NotAuthorisedEscrow", caller=deployed.escrow.address):
        deployed.send(deployed.escrow.functions.rate(t, 5, b"\x00" * 32), deployed.buyer)
    tx(deployed, deployed.reputation.functions.setEscrow(deployed.escrow.address, True), deployed.owner)
    tx(deployed, deployed.escrow.functions.rate(t, 5, b"\x00" * 32), deployed.buyer)
    assert deployed.record(deployed.seller)["ratingCount"] == 1


def test_reputation_ownership_transfer_takes_two_steps(deployed: Deployment) -> None:
    rep = deployed.reputation
    tx(deployed, rep.functions.transferOwnership(deployed.stranger), deployed.owner)
    assert rep.functions.owner().call() == deployed.owner
    with reverts("OwnableUnauthorizedAccount", account=deployed.stranger):
        deployed.send(rep.functions.setEscrow(deployed.stranger, True), deployed.stranger)
    tx(deployed, rep.functions.acceptOwnership(), deployed.stranger)
    assert rep.functions.owner().call() == deployed.stranger
    with reverts("OwnableUnauthorizedAccount", account=deployed.owner):
        deployed.send(rep.functions.setEscrow(deployed.buyer, True), deployed.owner)
