"""Reputation: outcomes recorded per ending, per account, asset and role, once both parties entered
the trade; ratings once per party on every ended trade that records (losers too), weighted by price;
listed assets with a minimum, read at creation; the escrow that created the contract is its one
writer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from support.escrow import (
    BPS,
    ENDED,
    ETH,
    FLAG_RECORD_REPUTATION,
    FLAG_TIMEOUT_RELEASES,
    MARK_BUYER_RATED,
    MARK_RECORDS,
    MARK_SELLER_ACTED,
    MARK_SELLER_RATED,
    OUTCOME,
    PLATFORM_FEE_BPS,
    RATINGS_FIELDS,
    RECORD_FIELDS,
    ROLE,
    STATE,
    Deployment,
    trade_id,
)
from support.offers import reverts, tx

EMPTY = {name: 0 for name in (*RECORD_FIELDS, *RATINGS_FIELDS)}
AMOUNT = 10**18


def funded(deployed: Deployment, **overrides: Any) -> dict[str, Any]:
    """A trade the buyer created and funded; the seller has not acted on it."""
    t = deployed.terms(**overrides)
    tx(deployed, deployed.escrow.functions.createAndFund(t), t["buyer"], deployed.value_for(t))
    return t


def entered(deployed: Deployment, **overrides: Any) -> dict[str, Any]:
    """A funded trade the seller accepted: both parties entered it, so it records when it ends."""
    t = funded(deployed, **overrides)
    tx(deployed, deployed.escrow.functions.accept(t), t["seller"])
    return t


def rec(deployed: Deployment, account: str, role: str, asset: str = ETH) -> dict[str, int]:
    return deployed.record(account, asset, role)


def nothing_recorded(deployed: Deployment) -> bool:
    return all(
        rec(deployed, account, role) == EMPTY
        for account in (deployed.buyer, deployed.seller, deployed.arbiter)
        for role in ROLE
    )


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


def _concede(by: str) -> Callable[[Deployment, dict[str, Any]], Any]:
    def end(deployed: Deployment, t: dict[str, Any]) -> Any:
        tx(deployed, deployed.escrow.functions.dispute(t), deployed.buyer)
        return tx(deployed, deployed.escrow.functions.concede(t), getattr(deployed, by))

    return end


def _expired_dispute(deployed: Deployment, t: dict[str, Any]) -> Any:
    tx(deployed, deployed.escrow.functions.dispute(t), deployed.seller)
    deployed.chain.set_next_timestamp(deployed.escrow_of(t)["deadline"])
    return tx(deployed, deployed.escrow.functions.resolveExpiredDispute(t), deployed.stranger)


ENDINGS: dict[str, tuple[Callable[..., Any], int, dict[str, int], dict[str, int]]] = {
    # name: (ending, flags, buyer's record as buyer, seller's record as seller)
    "release": (_release, 0, {"completed": 1}, {"completed": 1}),
    "release_then_refund": (_parts_then_refund, 0, {"completed": 1}, {"completed": 1}),
    "timeout_release": (_timeout, FLAG_TIMEOUT_RELEASES, {"completed": 1}, {"completed": 1}),
    "refund": (_refund, 0, {"refunded": 1}, {"refunded": 1}),
    "timeout_refund": (_timeout, 0, {"refunded": 1}, {"refunded": 1}),
    "settled": (_settle(4000), 0, {"settled": 1}, {"settled": 1}),
    "settled_all_to_buyer": (_settle(BPS), 0, {"settled": 1}, {"settled": 1}),
    "buyer_won": (_rule(BPS), 0, {"disputesWon": 1}, {"disputesLost": 1}),
    "seller_won": (_rule(0), 0, {"disputesLost": 1}, {"disputesWon": 1}),
    "split": (_rule(5000), 0, {"disputesSplit": 1}, {"disputesSplit": 1}),
    "seller_concedes": (_concede("seller"), 0, {"disputesWon": 1}, {"disputesLost": 1}),
    "buyer_concedes": (_concede("buyer"), 0, {"disputesLost": 1}, {"disputesWon": 1}),
    "expired_dispute": (_expired_dispute, 0, {"disputesSplit": 1}, {"disputesSplit": 1}),
}
# Endings in which the seller does nothing, or only gives the money back (a refund, a settlement of
# everything to the buyer, a concession): on a trade it never accepted, they record nothing.
WITHOUT_THE_SELLER = ["release", "release_then_refund", "timeout_release", "refund", "timeout_refund",
                      "settled_all_to_buyer", "buyer_won", "seller_won", "split", "seller_concedes",
                      "buyer_concedes"]


@pytest.mark.parametrize("ending", list(ENDINGS))
def test_outcome_is_recorded_for_both_parties_in_their_role_and_asset(deployed: Deployment, ending: str) -> None:
    end, flags, buyer_rec, seller_rec = ENDINGS[ending]
    t = entered(deployed, flags=FLAG_RECORD_REPUTATION | flags)
    assert nothing_recorded(deployed)
    end(deployed, t)
    assert rec(deployed, deployed.buyer, "Buyer") == {**EMPTY, "volume": AMOUNT, **buyer_rec}
    assert rec(deployed, deployed.seller, "Seller") == {**EMPTY, "volume": AMOUNT, **seller_rec}
    # nothing in the other role, the other assets, or for the arbiter
    assert rec(deployed, deployed.buyer, "Seller") == rec(deployed, deployed.seller, "Buyer") == EMPTY
    assert rec(deployed, deployed.seller, "Seller", deployed.tokens["standard"].address) == EMPTY
    assert rec(deployed, deployed.arbiter, "Buyer") == rec(deployed, deployed.arbiter, "Seller") == EMPTY


@pytest.mark.parametrize("ending", list(ENDINGS))
def test_every_ended_trade_that_records_is_rateable_by_both_winners_and_losers(
    deployed: Deployment, ending: str
) -> None:
    end, flags, *_ = ENDINGS[ending]
    t = entered(deployed, flags=FLAG_RECORD_REPUTATION | flags)
    end(deployed, t)
    r = tx(deployed, deployed.escrow.functions.rate(t, 4, b"\x05" * 32), deployed.buyer)
    e = deployed.events(r, "Rated", deployed.reputation)[0]
    assert (e["tradeId"], e["rater"], e["ratee"], e["role"], e["asset"], e["amount"], e["score"],
            e["commentHash"]) == (trade_id(t), deployed.buyer, deployed.seller, ROLE["Seller"], ETH, AMOUNT, 4,
                                  b"\x05" * 32)
    r = tx(deployed, deployed.escrow.functions.rate(t, 2, b"\x00" * 32), deployed.seller)
    e = deployed.events(r, "Rated", deployed.reputation)[0]
    assert (e["rater"], e["ratee"], e["role"]) == (deployed.seller, deployed.buyer, ROLE["Buyer"])
    seller = rec(deployed, deployed.seller, "Seller")
    assert (seller["ratedVolume"], seller["weightedScore"], seller["count"]) == (AMOUNT, 4 * AMOUNT, 1)
    buyer = rec(deployed, deployed.buyer, "Buyer")
    assert (buyer["ratedVolume"], buyer["weightedScore"], buyer["count"]) == (AMOUNT, 2 * AMOUNT, 1)


@pytest.mark.parametrize("ending", WITHOUT_THE_SELLER)
def test_trade_the_seller_never_entered_records_nothing_and_cannot_be_rated(
    deployed: Deployment, ending: str
) -> None:
    """A buyer cannot build a record on a stranger it named as seller: without the seller's consent the
    trade counts for no one, and a seller who only hands the money back has not consented."""
    end, flags, *_ = ENDINGS[ending]
    t = funded(deployed, flags=FLAG_RECORD_REPUTATION | flags)
    end(deployed, t)
    assert deployed.state_of(t) in ENDED
    assert deployed.escrow_of(t)["marks"] & MARK_SELLER_ACTED == 0
    assert nothing_recorded(deployed)
    for rater in (deployed.buyer, deployed.seller):
        with reverts("NotRecorded", id=trade_id(t)):
            deployed.send(deployed.escrow.functions.rate(t, 5, b"\x00" * 32), rater)


@pytest.mark.parametrize("ending", ["release", "refund", "split", "settled", "seller_concedes"])
def test_trade_without_reputation_flag_records_nothing_and_cannot_be_rated(
    deployed: Deployment, ending: str
) -> None:
    end, flags, *_ = ENDINGS[ending]
    t = entered(deployed, flags=flags)
    assert deployed.escrow_of(t)["marks"] & MARK_RECORDS == 0
    end(deployed, t)
    assert nothing_recorded(deployed)
    with reverts("NotRecorded", id=trade_id(t)):
        deployed.send(deployed.escrow.functions.rate(t, 5, b"\x00" * 32), deployed.buyer)


def test_each_party_rates_the_other_once(deployed: Deployment) -> None:
    t = entered(deployed)
    _release(deployed, t)
    tx(deployed, deployed.escrow.functions.rate(t, 5, b"\x00" * 32), deployed.buyer)
    r = tx(deployed, deployed.escrow.functions.rate(t, 2, b"\x0c" * 32), deployed.seller)
    e = deployed.events(r, "Rated", deployed.reputation)[0]
    assert (e["rater"], e["ratee"], e["score"]) == (deployed.seller, deployed.buyer, 2)
    for party in (deployed.buyer, deployed.seller):
        with reverts("AlreadyRated", id=trade_id(t), rater=party):
            deployed.send(deployed.escrow.functions.rate(t, 3, b"\x00" * 32), party)
    seller, buyer = rec(deployed, deployed.seller, "Seller"), rec(deployed, deployed.buyer, "Buyer")
    assert (seller["count"], seller["weightedScore"]) == (1, 5 * AMOUNT)
    assert (buyer["count"], buyer["weightedScore"]) == (1, 2 * AMOUNT)
    # both rating marks, beside the consent and records marks above bit 7: the marks are a uint16
    marks = deployed.escrow_of(t)["marks"]
    assert marks & (MARK_BUYER_RATED | MARK_SELLER_RATED | MARK_SELLER_ACTED | MARK_RECORDS) == (
        MARK_BUYER_RATED | MARK_SELLER_RATED | MARK_SELLER_ACTED | MARK_RECORDS)
    assert marks > 255


def test_ratings_weigh_the_price_of_each_trade(deployed: Deployment) -> None:
    """A rating on a small trade weighs little: the record keeps the volume and sum(score x price)."""
    trades = [(5, 10**18), (3, 2 * 10**18), (1, 10**16), (4, 3 * 10**18)]
    for score, amount in trades:
        t = entered(deployed, amount=amount)
        _release(deployed, t)
        tx(deployed, deployed.escrow.functions.rate(t, score, b"\x00" * 32), deployed.buyer)
    seller = rec(deployed, deployed.seller, "Seller")
    volume = sum(amount for _, amount in trades)
    assert (seller["count"], seller["ratedVolume"], seller["weightedScore"]) == (
        4, volume, sum(score * amount for score, amount in trades))
    assert seller["completed"] == 4 and seller["volume"] == volume
    assert rec(deployed, deployed.buyer, "Buyer")["completed"] == 4
    # the weighted mean: the 1-star rating on the tiny trade barely moves it
    assert 3.8 < seller["weightedScore"] / seller["ratedVolume"] < 3.9
    assert sum(score for score, _ in trades) / len(trades) == 3.25


@pytest.mark.parametrize("who", ["arbiter", "stranger"])
def test_only_parties_can_rate(deployed: Deployment, who: str) -> None:
    t = entered(deployed)
    _release(deployed, t)
    caller = getattr(deployed, who)
    with reverts("Unauthorized", caller=caller, id=trade_id(t)):
        deployed.send(deployed.escrow.functions.rate(t, 5, b"\x00" * 32), caller)


@pytest.mark.parametrize("score", [0, 6, 255])
def test_score_must_be_one_to_five(deployed: Deployment, score: int) -> None:
    t = entered(deployed)
    _release(deployed, t)
    with reverts("InvalidScore", score=score):
        deployed.send(deployed.escrow.functions.rate(t, score, b"\x00" * 32), deployed.buyer)
    tx(deployed, deployed.escrow.functions.rate(t, 1, b"\x00" * 32), deployed.buyer)
    tx(deployed, deployed.escrow.functions.rate(t, 5, b"\x00" * 32), deployed.seller)
    assert rec(deployed, deployed.seller, "Seller")["weightedScore"] == AMOUNT
    assert rec(deployed, deployed.buyer, "Buyer")["weightedScore"] == 5 * AMOUNT


def test_unfinished_trade_cannot_be_rated_even_after_a_partial_release(deployed: Deployment) -> None:
    t = entered(deployed)
    tx(deployed, deployed.escrow.functions.release(t, 10**17), deployed.buyer)
    with reverts("NotEnded", id=trade_id(t), state=STATE["Funded"]):
        deployed.send(deployed.escrow.functions.rate(t, 5, b"\x00" * 32), deployed.buyer)
    tx(deployed, deployed.escrow.functions.dispute(t), deployed.buyer)
    with reverts("NotEnded", id=trade_id(t), state=STATE["Disputed"]):
        deployed.send(deployed.escrow.functions.rate(t, 5, b"\x00" * 32), deployed.seller)
    assert nothing_recorded(deployed)


def test_cancelled_trade_cannot_be_rated_and_records_nothing(deployed: Deployment) -> None:
    t = deployed.terms()
    tx(deployed, deployed.escrow.functions.create(t), deployed.buyer)
    tx(deployed, deployed.escrow.functions.accept(t), deployed.seller)
    with reverts("NotEnded", id=trade_id(t), state=STATE["AwaitingFunding"]):
        deployed.send(deployed.escrow.functions.rate(t, 5, b"\x00" * 32), deployed.buyer)
    tx(deployed, deployed.escrow.functions.cancel(t), deployed.buyer)
    with reverts("NotEnded", id=trade_id(t), state=STATE["Cancelled"]):
        deployed.send(deployed.escrow.functions.rate(t, 5, b"\x00" * 32), deployed.seller)
    assert nothing_recorded(deployed)


def test_settlement_after_partial_release_is_rateable_even_if_all_rest_goes_to_buyer(
    deployed: Deployment,
) -> None:
    t = entered(deployed)
    tx(deployed, deployed.escrow.functions.release(t, 10**17), deployed.buyer)
    _settle(BPS)(deployed, t)
    tx(deployed, deployed.escrow.functions.rate(t, 3, b"\x00" * 32), deployed.buyer)
    assert rec(deployed, deployed.seller, "Seller")["weightedScore"] == 3 * AMOUNT


# -- reputation assets -----------------------------------------------------------------------------
def test_owner_lists_reputation_assets_with_a_minimum_and_only_the_owner(deployed: Deployment) -> None:
    token = deployed.tokens["six_decimals"].address
    r = tx(deployed, deployed.escrow.functions.setReputationAsset(token, True, 5 * 10**6), deployed.owner)
    e = deployed.events(r, "ReputationAssetSet")[0]
    assert (e["token"], e["listed"], e["minAmount"]) == (token, True, 5 * 10**6)
    assert deployed.escrow.functions.reputationAssets(token).call() == [True, 5 * 10**6]
    tx(deployed, deployed.escrow.functions.setReputationAsset(ETH, False, 0), deployed.owner)
    assert deployed.escrow.functions.reputationAssets(ETH).call() == [False, 0]
    with reverts("OwnableUnauthorizedAccount", account=deployed.stranger):
        deployed.send(deployed.escrow.functions.setReputationAsset(ETH, True, 1), deployed.stranger)


def test_a_trade_below_the_assets_minimum_records_nothing(deployed: Deployment) -> None:
    deployed.list_asset(ETH, min_amount=AMOUNT)
    small = entered(deployed, amount=AMOUNT - 1)
    at_min = entered(deployed, amount=AMOUNT)
    assert deployed.escrow_of(small)["marks"] & MARK_RECORDS == 0
    assert deployed.escrow_of(at_min)["marks"] & MARK_RECORDS
    _release(deployed, small)
    _release(deployed, at_min)
    assert rec(deployed, deployed.seller, "Seller")["completed"] == 1
    assert rec(deployed, deployed.seller, "Seller")["volume"] == AMOUNT
    with reverts("NotRecorded", id=trade_id(small)):
        deployed.send(deployed.escrow.functions.rate(small, 5, b"\x00" * 32), deployed.buyer)


def test_listing_applies_to_trades_created_afterwards(deployed: Deployment) -> None:
    """Like the platform fee, the listing is read once, when the trade is created: delisting cannot
    take away a record an open trade was promised, nor listing give one to a trade that was not."""
    before_delisting = entered(deployed)
    deployed.list_asset(ETH, listed=False)
    after_delisting = entered(deployed)
    for t in (before_delisting, after_delisting):
        _release(deployed, t)
    assert rec(deployed, deployed.seller, "Seller")["completed"] == 1
    tx(deployed, deployed.escrow.functions.rate(before_delisting, 5, b"\x00" * 32), deployed.buyer)
    with reverts("NotRecorded", id=trade_id(after_delisting)):
        deployed.send(deployed.escrow.functions.rate(after_delisting, 5, b"\x00" * 32), deployed.buyer)
    # listed again: a trade created unlisted still records nothing
    unlisted = entered(deployed)
    deployed.list_asset(ETH)
    _release(deployed, unlisted)
    assert rec(deployed, deployed.seller, "Seller")["completed"] == 1


# -- the one writer --------------------------------------------------------------------------------
def test_stranger_cannot_record_outcomes_or_ratings(deployed: Deployment) -> None:
    with reverts("NotEscrow", caller=deployed.stranger):
        deployed.send(
            deployed.reputation.functions.recordOutcome(deployed.buyer, deployed.seller, ETH, AMOUNT,
                                                        OUTCOME["SellerWon"]),
            deployed.stranger,
        )
    with reverts("NotEscrow", caller=deployed.seller):
        deployed.send(
            deployed.reputation.functions.recordRating(
                b"\x01" * 32, deployed.seller, deployed.buyer, ROLE["Buyer"], ETH, AMOUNT, 5, b"\x00" * 32
            ),
            deployed.seller,
        )
    assert nothing_recorded(deployed)


def test_escrow_names_the_reputation_contract_it_created_and_is_its_only_writer(deployed: Deployment) -> None:
    """Clients find the reputation contract through the escrow (one address to configure); the
    reputation contract was created by the escrow and names it, with no owner to change that."""
    assert deployed.escrow.functions.reputation().call() == deployed.reputation.address
    assert deployed.reputation.functions.escrow().call() == deployed.escrow.address
    assert not [f for f in deployed.reputation.abi if f.get("name") in ("owner", "setEscrow", "transferOwnership")]


def test_a_second_escrow_writes_its_own_reputation_contract_only(deployed: Deployment) -> None:
    """A look-alike escrow cannot write into this escrow's records: every escrow creates its own."""
    other = deployed.chain.deploy("P2PEscrow", deployed.owner, deployed.fee_recipient, PLATFORM_FEE_BPS)
    other_reputation = deployed.chain.at("Reputation", other.functions.reputation().call())
    assert other_reputation.address != deployed.reputation.address
    assert other_reputation.functions.escrow().call() == other.address
    tx(deployed, other.functions.setReputationAsset(ETH, True, 1), deployed.owner)
    t = deployed.terms()
    tx(deployed, other.functions.createAndFund(t), deployed.buyer, t["amount"])
    tx(deployed, other.functions.accept(t), deployed.seller)
    tx(deployed, other.functions.release(t, t["amount"]), deployed.buyer)
    assert other_reputation.functions.recordOf(deployed.seller, ETH, ROLE["Seller"]).call()[0][1] == 1  # completed
    assert nothing_recorded(deployed)
