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
    PLATFORM_FEE_BPS,
    Deployment,
)
from support.reverts import reverts

BEFORE, AT, AFTER = -1, 0, 1
OFFSETS = pytest.mark.parametrize(
    "offset", [BEFORE, AT, AFTER], ids=["1s_before", "at", "1s_after"]
)
FUNDING, RELEASE, ARBITRATION = 3600, 86400, 2 * 86400


@pytest.fixture
def d(d):
    return fast(d)


def at(d: Deployment, timestamp: int) -> None:
    """The next transaction's block carries exactly `timestamp`."""
    d.chain.set_next_timestamp(timestamp)


def mined_at(d: Deployment, receipt: dict[str, Any]) -> int:
    return int(d.chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"])


def soon(d: Deployment) -> int:
    return d.chain.now() + 100


def terms(d: Deployment, **overrides: Any) -> dict[str, Any]:
    return d.terms(
        fundingWindow=FUNDING, releaseWindow=RELEASE, arbitrationWindow=ARBITRATION, **overrides
    )


def created(d: Deployment) -> tuple[dict[str, Any], int]:
    """An unfunded trade created by the buyer, and its funding deadline."""
    t = terms(d)
    start = soon(d)
    at(d, start)
    d.send(d.escrow.functions.create(t), d.buyer)
    deadline = d.escrow_of(t)["deadline"]
    assert deadline == start + FUNDING
    return t, deadline


def funded(d: Deployment, **overrides: Any) -> tuple[dict[str, Any], int]:
    """A trade created and funded at a known time, and its release deadline."""
    t = terms(d, **overrides)
    start = soon(d)
    at(d, start)
    d.create_and_fund(t)
    deadline = d.escrow_of(t)["deadline"]
    assert deadline == start + RELEASE
    return t, deadline


def disputed(d: Deployment) -> tuple[dict[str, Any], int]:
    """A funded trade disputed at a known time, and its arbitration deadline."""
    t, _ = funded(d)
    start = soon(d)
    at(d, start)
    d.send(d.escrow.functions.dispute(t), d.seller)
    deadline = d.escrow_of(t)["deadline"]
    assert deadline == start + ARBITRATION
    return t, deadline


# --------------------------------------------------------------------------------------------------
# Funding deadline
# --------------------------------------------------------------------------------------------------


@OFFSETS
def test_buyer_funds_only_before_the_funding_deadline(d, offset):
    t, deadline = created(d)
    at(d, deadline + offset)
    if offset == BEFORE:
        receipt = d.send(d.escrow.functions.fund(t), d.buyer, t["amount"])
        assert mined_at(d, receipt) == deadline - 1 and d.state_of(t) == "Funded"
        assert (
            d.escrow_of(t)["deadline"] == deadline + offset + RELEASE
        )  # release clock starts at funding
    else:
        with reverts("DeadlinePassed", deadline=deadline):
            d.send(d.escrow.functions.fund(t), d.buyer, t["amount"])
        assert d.state_of(t) == "AwaitingFunding"


@OFFSETS
def test_stranger_cancels_only_from_the_funding_deadline(d, offset):
    t, deadline = created(d)
    at(d, deadline + offset)
    if offset == BEFORE:
        with reverts("DeadlineNotReached", deadline=deadline):
            d.send(d.escrow.functions.cancel(t), d.stranger)
        assert d.state_of(t) == "AwaitingFunding"
    else:
        receipt = d.send(d.escrow.functions.cancel(t), d.stranger)
        assert mined_at(d, receipt) == deadline + offset and d.state_of(t) == "Cancelled"


@pytest.mark.parametrize("creator", ["buyer", "seller"])
def test_creator_cancels_one_second_before_the_funding_deadline(d, creator):
    flags = FLAG_RECORD_REPUTATION | (FLAG_CREATED_BY_SELLER if creator == "seller" else 0)
    t = terms(d, flags=flags)
    d.send(d.escrow.functions.create(t), getattr(d, creator))
    at(d, d.escrow_of(t)["deadline"] + BEFORE)
    d.send(d.escrow.functions.cancel(t), getattr(d, creator))
    assert d.state_of(t) == "Cancelled"


# --------------------------------------------------------------------------------------------------
# Release deadline
# --------------------------------------------------------------------------------------------------


@OFFSETS
@pytest.mark.parametrize("action", ["dispute", "markDelivered"])
def test_dispute_and_mark_delivered_only_before_the_release_deadline(d, action, offset):
    t, deadline = funded(d)
    at(d, deadline + offset)
    call = getattr(d.escrow.functions, action)(t)
    if offset == BEFORE:
        d.send(call, d.seller)
        assert d.state_of(t) == ("Disputed" if action == "dispute" else "Funded")
    else:
        with reverts("DeadlinePassed", deadline=deadline):
            d.send(call, d.seller)
        assert d.escrow_of(t)["marks"] == 0 and d.state_of(t) == "Funded"


@OFFSETS
@pytest.mark.parametrize("timeout_releases", [False, True], ids=["refunds", "releases"])
def test_timeout_only_from_the_release_deadline(d, offset, timeout_releases):
    t, deadline = funded(d, flags=FLAG_RECORD_REPUTATION | int(timeout_releases))
    at(d, deadline + offset)
    if offset == BEFORE:
        with reverts("DeadlineNotReached", deadline=deadline):
            d.send(d.escrow.functions.timeout(t), d.stranger)
        assert d.state_of(t) == "Funded"
    else:
        receipt = d.send(d.escrow.functions.timeout(t), d.stranger)
        assert mined_at(d, receipt) == deadline + offset
        assert d.events(receipt, "TimedOut")[0]["toSeller"] is timeout_releases
        assert d.state_of(t) == ("Completed" if timeout_releases else "Refunded")


@pytest.mark.parametrize("offset", [AT, AFTER, 30 * 86400], ids=["at", "1s_after", "30d_after"])
@pytest.mark.parametrize("action", ["release", "refund"])
def test_release_and_refund_still_work_after_the_release_deadline_while_funded(d, action, offset):
    t, deadline = funded(d)
    at(d, deadline + offset)
    d.send(
        getattr(d.escrow.functions, action)(t, t["amount"]),
        d.buyer if action == "release" else d.seller,
    )
    assert d.state_of(t) == ("Completed" if action == "release" else "Refunded")


@pytest.mark.parametrize(
    "when", [1, RELEASE // 2, RELEASE - 1], ids=["early", "midway", "last_second"]
)
def test_mark_delivered_moves_the_deadline_to_now_plus_release_window(d, when):
    t, deadline = funded(d)
    marked_at = deadline - RELEASE + when
    at(d, marked_at)
    d.send(d.escrow.functions.markDelivered(t), d.seller)
    assert d.escrow_of(t)["deadline"] == marked_at + RELEASE


@OFFSETS
def test_after_mark_delivered_timeout_releases_from_the_new_deadline(d, offset):
    t, old_deadline = funded(d)  # timeout would refund the buyer...
    at(d, old_deadline - 1)
    d.send(d.escrow.functions.markDelivered(t), d.seller)  # ...until the seller marks delivery
    deadline = old_deadline - 1 + RELEASE
    at(d, deadline + offset)
    if offset == BEFORE:
        with reverts("DeadlineNotReached", deadline=deadline):
            d.send(d.escrow.functions.timeout(t), d.stranger)
    else:
        receipt = d.send(d.escrow.functions.timeout(t), d.stranger)
        assert d.events(receipt, "TimedOut")[0]["toSeller"] is True
        assert d.state_of(t) == "Completed"


@OFFSETS
def test_after_mark_delivered_buyer_disputes_until_the_new_deadline(d, offset):
    t, old_deadline = funded(d)
    at(d, old_deadline - 1)
    d.send(d.escrow.functions.markDelivered(t), d.seller)
    deadline = old_deadline - 1 + RELEASE
    at(d, deadline + offset)
    if offset == BEFORE:
        d.send(d.escrow.functions.dispute(t), d.buyer)  # long after the original deadline
        assert d.state_of(t) == "Disputed"
    else:
        with reverts("DeadlinePassed", deadline=deadline):
            d.send(d.escrow.functions.dispute(t), d.buyer)


def test_mark_delivered_twice_is_rejected_so_the_deadline_moves_once(d):
    t, deadline = funded(d)
    d.send(d.escrow.functions.markDelivered(t), d.seller)
    moved = d.escrow_of(t)["deadline"]
    at(d, deadline + 10)
    with reverts("AlreadyMarked"):
        d.send(d.escrow.functions.markDelivered(t), d.seller)
    assert d.escrow_of(t)["deadline"] == moved


# --------------------------------------------------------------------------------------------------
# Arbitration deadline
# --------------------------------------------------------------------------------------------------


@OFFSETS
def test_arbiter_rules_only_before_the_arbitration_deadline(d, offset):
    t, deadline = disputed(d)
    at(d, deadline + offset)
    if offset == BEFORE:
        receipt = d.send(d.escrow.functions.rule(t, 4000), d.arbiter)
        assert mined_at(d, receipt) == deadline - 1 and d.state_of(t) == "Resolved"
    else:
        with reverts("DeadlinePassed", deadline=deadline):
            d.send(d.escrow.functions.rule(t, 4000), d.arbiter)
        assert d.state_of(t) == "Disputed"


@OFFSETS
def test_expired_dispute_resolves_only_from_the_arbitration_deadline(d, offset):
    t, deadline = disputed(d)
    at(d, deadline + offset)
    if offset == BEFORE:
        with reverts("DeadlineNotReached", deadline=deadline):
            d.send(d.escrow.functions.resolveExpiredDispute(t), d.stranger)
        assert d.state_of(t) == "Disputed"
    else:
        receipt = d.send(d.escrow.functions.resolveExpiredDispute(t), d.stranger)
        assert mined_at(d, receipt) == deadline + offset and d.state_of(t) == "Resolved"


def test_parties_can_still_settle_after_the_arbitration_deadline(d):
    t, deadline = disputed(d)
    d.send(d.escrow.functions.proposeSettlement(t, 7000), d.buyer)
    at(d, deadline + 1)
    d.send(d.escrow.functions.acceptSettlement(t, 7000), d.seller)
    assert d.state_of(t) == "Settled"


# --------------------------------------------------------------------------------------------------
# Offer expiry
# --------------------------------------------------------------------------------------------------


def offer(d: Deployment, expiry: int, nonce: int = 1) -> dict[str, Any]:
    return {
        "seller": d.seller,
        "buyer": "0x" + "00" * 20,
        "token": ETH,
        "arbiter": d.arbiter,
        "amount": 10**18,
        "arbiterFeeBps": 100,
        "platformFeeBps": PLATFORM_FEE_BPS,
        "releaseWindow": RELEASE,
        "arbitrationWindow": ARBITRATION,
        "flags": FLAG_RECORD_REPUTATION,
        "termsHash": b"\x33" * 32,
        "nonce": nonce,
        "expiry": expiry,
    }


def test_python_offer_signature_matches_the_contract_digest(d):
    o = offer(d, soon(d))
    signature = sign_offer(d, o, private_key(d, d.seller))
    digest = d.escrow.functions.offerDigest(o).call()
    assert Account._recover_hash(digest, signature=signature) == d.seller


@OFFSETS
def test_offer_fills_up_to_and_including_its_expiry(d, offset):
    expiry = soon(d) + 1000
    o = offer(d, expiry)
    signature = sign_offer(d, o, private_key(d, d.seller))
    at(d, expiry + offset)
    fill = d.escrow.functions.fillOffer(o, signature)
    if offset in (BEFORE, AT):
        receipt = d.send(fill, d.buyer, o["amount"])
        assert mined_at(d, receipt) == expiry + offset
        trade = d.events(receipt, "OfferFilled")[0]["id"]
        assert d.escrow.functions.escrowOf(trade).call()[2] == 2  # Funded
        assert d.escrow.functions.isNonceUsed(d.seller, o["nonce"]).call()
    else:
        with reverts("OfferExpired", expiry=expiry):
            d.send(fill, d.buyer, o["amount"])
        assert not d.escrow.functions.isNonceUsed(d.seller, o["nonce"]).call()
