"""Every window boundary, one second before, exactly at and one second after the deadline.

The contract's rule: "before the deadline" means `block.timestamp < deadline`, "from the deadline
on" means `block.timestamp >= deadline` (offers: fillable while `block.timestamp <= expiry`).
Each test pins the block timestamps with `chain.set_next_timestamp`, so every deadline is known
to the second.
"""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account
from support.adversary import fast, private_key, sign_offer
from support.escrow import (
    ETH,
    FLAG_CREATED_BY_SELLER,
    FLAG_RECORD_REPUTATION,
    FLAG_TIMEOUT_RELEASES,
    PLATFORM_FEE_BPS,
    STATE,
    Deployment,
)
from support.reverts import reverts

BEFORE, AT, AFTER = -1, 0, 1
OFFSETS = pytest.mark.parametrize(
    "offset", [BEFORE, AT, AFTER], ids=["1s_before", "at", "1s_after"]
)
FUNDING, RELEASE, ARBITRATION = 3600, 86400, 2 * 86400


@pytest.fixture
def deployed(deployed):
    return fast(deployed)


def at(deployed: Deployment, timestamp: int) -> None:
    """The next transaction's block carries exactly `timestamp`."""
    deployed.chain.set_next_timestamp(timestamp)


def mined_at(deployed: Deployment, receipt: dict[str, Any]) -> int:
    return int(deployed.chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"])


def soon(deployed: Deployment) -> int:
    return deployed.chain.next_timestamp() + 100


def terms(deployed: Deployment, **overrides: Any) -> dict[str, Any]:
    return deployed.terms(
        fundingWindow=FUNDING, releaseWindow=RELEASE, arbitrationWindow=ARBITRATION, **overrides
    )


def created(deployed: Deployment) -> tuple[dict[str, Any], int]:
    """An unfunded trade created by the buyer, and its funding deadline."""
    t = terms(deployed)
    start = soon(deployed)
    at(deployed, start)
    deployed.send(deployed.escrow.functions.create(t), deployed.buyer)
    deadline = deployed.escrow_of(t)["deadline"]
    assert deadline == start + FUNDING
    return t, deadline


def funded(deployed: Deployment, **overrides: Any) -> tuple[dict[str, Any], int]:
    """A trade created and funded at a known time, and its release deadline."""
    t = terms(deployed, **overrides)
    start = soon(deployed)
    at(deployed, start)
    deployed.create_and_fund(t)
    deadline = deployed.escrow_of(t)["deadline"]
    assert deadline == start + RELEASE
    return t, deadline


def awaiting_deposit(deployed: Deployment) -> tuple[dict[str, Any], int]:
    """A trade the buyer created and funded that waits for the seller's deposit, and its funding
    deadline (the seller has the bond to accept)."""
    t = terms(deployed, sellerDeposit=10**17)
    deployed.bond_for(t)
    start = soon(deployed)
    at(deployed, start)
    deployed.create_and_fund(t)
    assert deployed.state_of(t) == "AwaitingDeposit"
    deadline = deployed.escrow_of(t)["deadline"]
    assert deadline == start + FUNDING
    return t, deadline


def disputed(deployed: Deployment) -> tuple[dict[str, Any], int]:
    """A funded trade disputed at a known time, and its arbitration deadline."""
    t, _ = funded(deployed)
    start = soon(deployed)
    at(deployed, start)
    deployed.send(deployed.escrow.functions.dispute(t), deployed.seller)
    deadline = deployed.escrow_of(t)["deadline"]
    assert deadline == start + ARBITRATION
    return t, deadline


# --------------------------------------------------------------------------------------------------
# Funding deadline
# --------------------------------------------------------------------------------------------------


@OFFSETS
def test_buyer_funds_only_before_the_funding_deadline(deployed, offset):
    t, deadline = created(deployed)
    at(deployed, deadline + offset)
    if offset == BEFORE:
        receipt = deployed.send(deployed.escrow.functions.fund(t), deployed.buyer, t["amount"])
        assert mined_at(deployed, receipt) == deadline - 1 and deployed.state_of(t) == "Funded"
        assert (
            deployed.escrow_of(t)["deadline"] == deadline + offset + RELEASE
        )  # release clock starts at funding
    else:
        with reverts("DeadlinePassed", deadline=deadline):
            deployed.send(deployed.escrow.functions.fund(t), deployed.buyer, t["amount"])
        assert deployed.state_of(t) == "AwaitingFunding"


@OFFSETS
def test_stranger_cancels_only_from_the_funding_deadline(deployed, offset):
    t, deadline = created(deployed)
    at(deployed, deadline + offset)
    if offset == BEFORE:
        with reverts("DeadlineNotReached", deadline=deadline):
            deployed.send(deployed.escrow.functions.cancel(t), deployed.stranger)
        assert deployed.state_of(t) == "AwaitingFunding"
    else:
        receipt = deployed.send(deployed.escrow.functions.cancel(t), deployed.stranger)
        assert mined_at(deployed, receipt) == deadline + offset and deployed.state_of(t) == "Cancelled"


@OFFSETS
def test_seller_accepts_only_before_the_funding_deadline(deployed, offset):
    t, deadline = awaiting_deposit(deployed)
    at(deployed, deadline + offset)
    if offset == BEFORE:
        receipt = deployed.send(deployed.escrow.functions.accept(t), deployed.seller)
        assert deployed.state_of(t) == "Funded"
        assert deployed.escrow_of(t)["deadline"] == mined_at(deployed, receipt) + RELEASE  # live from now
    else:
        with reverts("DeadlinePassed", deadline=deadline):
            deployed.send(deployed.escrow.functions.accept(t), deployed.seller)
        assert deployed.state_of(t) == "AwaitingDeposit" and deployed.bond() == t["sellerDeposit"]


@OFFSETS
def test_stranger_cancels_a_trade_waiting_for_the_deposit_only_from_the_funding_deadline(deployed, offset):
    t, deadline = awaiting_deposit(deployed)
    at(deployed, deadline + offset)
    if offset == BEFORE:
        for who in (deployed.stranger, deployed.seller):
            with reverts("DeadlineNotReached", deadline=deadline):
                deployed.send(deployed.escrow.functions.cancel(t), who)
        deployed.send(deployed.escrow.functions.cancel(t), deployed.buyer)  # the buyer, any time
    else:
        deployed.send(deployed.escrow.functions.cancel(t), deployed.stranger)
    assert deployed.state_of(t) == "Cancelled"


@pytest.mark.parametrize("creator", ["buyer", "seller"])
def test_creator_cancels_one_second_before_the_funding_deadline(deployed, creator):
    flags = FLAG_RECORD_REPUTATION | (FLAG_CREATED_BY_SELLER if creator == "seller" else 0)
    t = terms(deployed, flags=flags)
    deployed.send(deployed.escrow.functions.create(t), getattr(deployed, creator))
    at(deployed, deployed.escrow_of(t)["deadline"] + BEFORE)
    deployed.send(deployed.escrow.functions.cancel(t), getattr(deployed, creator))
    assert deployed.state_of(t) == "Cancelled"


# --------------------------------------------------------------------------------------------------
# Release deadline
# --------------------------------------------------------------------------------------------------


@OFFSETS
@pytest.mark.parametrize("action", ["dispute", "markDelivered"])
def test_dispute_and_mark_delivered_only_before_the_release_deadline(deployed, action, offset):
    t, deadline = funded(deployed)
    marks = deployed.escrow_of(t)["marks"]
    at(deployed, deadline + offset)
    call = getattr(deployed.escrow.functions, action)(t)
    if offset == BEFORE:
        deployed.send(call, deployed.seller)
        assert deployed.state_of(t) == ("Disputed" if action == "dispute" else "Funded")
    else:
        with reverts("DeadlinePassed", deadline=deadline):
            deployed.send(call, deployed.seller)
        assert deployed.escrow_of(t)["marks"] == marks and deployed.state_of(t) == "Funded"


@OFFSETS
@pytest.mark.parametrize("timeout_releases", [False, True], ids=["refunds", "releases"])
def test_timeout_only_from_the_release_deadline(deployed, offset, timeout_releases):
    t, deadline = funded(deployed, flags=FLAG_RECORD_REPUTATION | int(timeout_releases))
    at(deployed, deadline + offset)
    if offset == BEFORE:
        with reverts("DeadlineNotReached", deadline=deadline):
            deployed.send(deployed.escrow.functions.timeout(t), deployed.stranger)
        assert deployed.state_of(t) == "Funded"
    else:
        receipt = deployed.send(deployed.escrow.functions.timeout(t), deployed.stranger)
        assert mined_at(deployed, receipt) == deadline + offset
        assert deployed.events(receipt, "TimedOut")[0]["toSeller"] is timeout_releases
        assert deployed.state_of(t) == ("Completed" if timeout_releases else "Refunded")


@pytest.mark.parametrize("offset", [AT, AFTER, 30 * 86400], ids=["at", "1s_after", "30d_after"])
@pytest.mark.parametrize("action", ["release", "refund"])
def test_release_and_refund_still_work_after_the_release_deadline_while_funded(deployed, action, offset):
    t, deadline = funded(deployed)
    at(deployed, deadline + offset)
    deployed.send(
        getattr(deployed.escrow.functions, action)(t, t["amount"]),
        deployed.buyer if action == "release" else deployed.seller,
    )
    assert deployed.state_of(t) == ("Completed" if action == "release" else "Refunded")


@pytest.mark.parametrize(
    "when", [1, RELEASE // 2, RELEASE - 1], ids=["early", "midway", "last_second"]
)
def test_mark_delivered_moves_the_deadline_to_now_plus_release_window(deployed, when):
    t, deadline = funded(deployed)
    marked_at = deadline - RELEASE + when
    at(deployed, marked_at)
    deployed.send(deployed.escrow.functions.markDelivered(t), deployed.seller)
    assert deployed.escrow_of(t)["deadline"] == marked_at + RELEASE


@OFFSETS
def test_after_mark_delivered_timeout_releases_from_the_new_deadline(deployed, offset):
    t, old_deadline = funded(deployed)  # timeout would refund the buyer...
    at(deployed, old_deadline - 1)
    deployed.send(deployed.escrow.functions.markDelivered(t), deployed.seller)  # ...until the seller marks delivery
    deadline = old_deadline - 1 + RELEASE
    at(deployed, deadline + offset)
    if offset == BEFORE:
        with reverts("DeadlineNotReached", deadline=deadline):
            deployed.send(deployed.escrow.functions.timeout(t), deployed.stranger)
    else:
        receipt = deployed.send(deployed.escrow.functions.timeout(t), deployed.stranger)
        assert deployed.events(receipt, "TimedOut")[0]["toSeller"] is True
        assert deployed.state_of(t) == "Completed"


@OFFSETS
def test_after_mark_delivered_buyer_disputes_until_the_new_deadline(deployed, offset):
    t, old_deadline = funded(deployed)
    at(deployed, old_deadline - 1)
    deployed.send(deployed.escrow.functions.markDelivered(t), deployed.seller)
    deadline = old_deadline - 1 + RELEASE
    at(deployed, deadline + offset)
    if offset == BEFORE:
        deployed.send(deployed.escrow.functions.dispute(t), deployed.buyer)  # long after the original deadline
        assert deployed.state_of(t) == "Disputed"
    else:
        with reverts("DeadlinePassed", deadline=deadline):
            deployed.send(deployed.escrow.functions.dispute(t), deployed.buyer)


@pytest.mark.parametrize("timeout_releases", [False, True], ids=["refunds", "releases"])
def test_without_an_arbiter_mark_delivered_moves_neither_the_deadline_nor_the_outcome(deployed, timeout_releases):
    """No unilateral mark moves the money on a trade no arbiter can look at: the timeout fixed at
    creation decides, at the deadline fixed when the trade went live."""
    flags = FLAG_RECORD_REPUTATION | (FLAG_TIMEOUT_RELEASES if timeout_releases else 0)
    t, deadline = funded(deployed, arbiter=ETH, arbiterFeeBps=0, flags=flags)
    at(deployed, deadline - 1)
    receipt = deployed.send(deployed.escrow.functions.markDelivered(t), deployed.seller)
    assert deployed.events(receipt, "DeliveryMarked")[0]["deadline"] == deadline
    assert deployed.escrow_of(t)["deadline"] == deadline
    assert deployed.escrow_of(t)["marks"] & 1  # the mark is recorded all the same
    at(deployed, deadline)
    receipt = deployed.send(deployed.escrow.functions.timeout(t), deployed.stranger)
    assert deployed.events(receipt, "TimedOut")[0]["toSeller"] is timeout_releases
    assert deployed.state_of(t) == ("Completed" if timeout_releases else "Refunded")


def test_mark_delivered_twice_is_rejected_so_the_deadline_moves_once(deployed):
    t, deadline = funded(deployed)
    deployed.send(deployed.escrow.functions.markDelivered(t), deployed.seller)
    moved = deployed.escrow_of(t)["deadline"]
    at(deployed, deadline + 10)
    with reverts("AlreadyMarked"):
        deployed.send(deployed.escrow.functions.markDelivered(t), deployed.seller)
    assert deployed.escrow_of(t)["deadline"] == moved


# --------------------------------------------------------------------------------------------------
# Arbitration deadline
# --------------------------------------------------------------------------------------------------


@OFFSETS
def test_arbiter_rules_only_before_the_arbitration_deadline(deployed, offset):
    t, deadline = disputed(deployed)
    at(deployed, deadline + offset)
    if offset == BEFORE:
        receipt = deployed.send(deployed.escrow.functions.rule(t, 4000), deployed.arbiter)
        assert mined_at(deployed, receipt) == deadline - 1 and deployed.state_of(t) == "Resolved"
    else:
        with reverts("DeadlinePassed", deadline=deadline):
            deployed.send(deployed.escrow.functions.rule(t, 4000), deployed.arbiter)
        assert deployed.state_of(t) == "Disputed"


@OFFSETS
def test_expired_dispute_resolves_only_from_the_arbitration_deadline(deployed, offset):
    t, deadline = disputed(deployed)
    at(deployed, deadline + offset)
    if offset == BEFORE:
        with reverts("DeadlineNotReached", deadline=deadline):
            deployed.send(deployed.escrow.functions.resolveExpiredDispute(t), deployed.stranger)
        assert deployed.state_of(t) == "Disputed"
    else:
        receipt = deployed.send(deployed.escrow.functions.resolveExpiredDispute(t), deployed.stranger)
        assert mined_at(deployed, receipt) == deadline + offset and deployed.state_of(t) == "Resolved"


def test_parties_can_still_settle_after_the_arbitration_deadline(deployed):
    t, deadline = disputed(deployed)
    deployed.send(deployed.escrow.functions.proposeSettlement(t, 7000), deployed.buyer)
    at(deployed, deadline + 1)
    deployed.send(deployed.escrow.functions.acceptSettlement(t, 7000), deployed.seller)
    assert deployed.state_of(t) == "Settled"


@pytest.mark.parametrize("who", ["buyer", "seller"])
def test_a_party_can_still_concede_after_the_arbitration_deadline(deployed, who):
    t, deadline = disputed(deployed)
    at(deployed, deadline + 30 * 86400)
    receipt = deployed.send(deployed.escrow.functions.concede(t), getattr(deployed, who))
    assert deployed.events(receipt, "Conceded")[0]["by"] == getattr(deployed, who)
    assert deployed.state_of(t) == "Resolved"


# --------------------------------------------------------------------------------------------------
# Offer expiry
# --------------------------------------------------------------------------------------------------


def offer(deployed: Deployment, expiry: int, nonce: int = 1) -> dict[str, Any]:
    return {
        "seller": deployed.seller,
        "buyer": "0x" + "00" * 20,
        "token": ETH,
        "arbiter": deployed.arbiter,
        "amount": 10**18,
        "buyerDeposit": 0,
        "sellerDeposit": 0,
        "arbiterFeeBps": 100,
        "platformFeeBps": PLATFORM_FEE_BPS,
        "releaseWindow": RELEASE,
        "arbitrationWindow": ARBITRATION,
        "flags": FLAG_RECORD_REPUTATION,
        "termsHash": b"\x33" * 32,
        "nonce": nonce,
        "expiry": expiry,
    }


def test_python_offer_signature_matches_the_contract_digest(deployed):
    o = offer(deployed, soon(deployed))
    signature = sign_offer(deployed, o, private_key(deployed, deployed.seller))
    digest = deployed.escrow.functions.offerDigest(o).call()
    assert Account._recover_hash(digest, signature=signature) == deployed.seller


@OFFSETS
def test_offer_fills_up_to_and_including_its_expiry(deployed, offset):
    expiry = soon(deployed) + 1000
    o = offer(deployed, expiry)
    signature = sign_offer(deployed, o, private_key(deployed, deployed.seller))
    at(deployed, expiry + offset)
    fill = deployed.escrow.functions.fillOffer(o, signature)
    if offset in (BEFORE, AT):
        receipt = deployed.send(fill, deployed.buyer, o["amount"])
        assert mined_at(deployed, receipt) == expiry + offset
        trade = deployed.events(receipt, "OfferFilled")[0]["id"]
        assert deployed.escrow.functions.escrowOf(trade).call()[2] == STATE["Funded"]
        assert deployed.escrow.functions.isNonceUsed(deployed.seller, o["nonce"]).call()
    else:
        with reverts("OfferExpired", expiry=expiry):
            deployed.send(fill, deployed.buyer, o["amount"])
        assert not deployed.escrow.functions.isNonceUsed(deployed.seller, o["nonce"]).call()
