"""Every transition of an ETH trade, checked on chain: balances, fees, credits, state, events,
records."""

from __future__ import annotations

from typing import Any

import pytest
from support.escrow import (
    BPS,
    ETH,
    FLAG_CREATED_BY_SELLER,
    FLAG_RECORD_REPUTATION,
    FLAG_TIMEOUT_RELEASES,
    MARK_DELIVERED,
    MARK_RECORDS,
    MARK_SELLER_ACTED,
    PLATFORM_FEE_BPS,
    STATE,
    Deployment,
    fee_up,
    split,
    trade_id,
)
from support.offers import balance_of, gas_paid, next_time, offer, reverts, sign_offer, tx

ODD = 10**18 + 7  # an odd amount, so that every rounding rule shows


# -- helpers ---------------------------------------------------------------------------------------
def block_time(deployed: Deployment, receipt: dict[str, Any]) -> int:
    return int(deployed.chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"])


def one(deployed: Deployment, receipt: dict[str, Any], name: str, contract: Any = None) -> Any:
    found = deployed.events(receipt, name, contract)
    assert len(found) == 1, f"expected one {name}, got {found}"
    return found[0]


def funded(deployed: Deployment, **overrides: Any) -> dict[str, Any]:
    t = deployed.terms(**overrides)
    tx(deployed, deployed.escrow.functions.createAndFund(t), t["buyer"], deployed.value_for(t))
    return t


def consented(deployed: Deployment, **overrides: Any) -> dict[str, Any]:
    """A funded trade the seller accepted: it records reputation when it ends (a trade the seller never
    acted on counts for no one)."""
    t = funded(deployed, **overrides)
    tx(deployed, deployed.escrow.functions.accept(t), t["seller"])
    return t


def fee(amount: int, bps: int = PLATFORM_FEE_BPS) -> int:
    """The platform fee on `amount`, rounded up."""
    return fee_up(amount, bps)


class Balances:
    """ETH balances of the usual accounts, to compare before/after (gas paid is added back)."""

    def __init__(self, deployed: Deployment) -> None:
        self.d = deployed
        self.who = {
            "buyer": deployed.buyer,
            "seller": deployed.seller,
            "arbiter": deployed.arbiter,
            "stranger": deployed.stranger,
            "fee_recipient": deployed.fee_recipient,
            "escrow": deployed.escrow.address,
        }
        self.before = self._read()
        self.gas: dict[str, int] = {k: 0 for k in self.who}

    def _read(self) -> dict[str, int]:
        return {k: balance_of(self.d, ETH, a) for k, a in self.who.items()}

    def paid_gas(self, name: str, receipt: dict[str, Any]) -> dict[str, Any]:
        self.gas[name] += gas_paid(receipt)
        return receipt

    def delta(self) -> dict[str, int]:
        now = self._read()
        return {k: now[k] - self.before[k] + self.gas[k] for k in self.who}


def assert_escrow_holds(deployed: Deployment, expected: int) -> None:
    assert balance_of(deployed, ETH, deployed.escrow.address) == expected


# -- creating and funding --------------------------------------------------------------------------
def test_buyer_creates_unfunded_trade_then_funds_it(deployed: Deployment) -> None:
    t = deployed.terms()
    tid = trade_id(t)
    r = tx(deployed, deployed.escrow.functions.create(t), deployed.buyer)
    created_at = block_time(deployed, r)
    e = one(deployed, r, "TradeCreated")
    assert (e["id"], e["buyer"], e["seller"]) == (tid, deployed.buyer, deployed.seller)
    assert dict(e["terms"]) == t
    assert e["held"] == 0
    assert deployed.escrow_of(t) == {
        "held": 0,
        "deadline": created_at + 3600,
        "state": STATE["AwaitingFunding"],
        "marks": MARK_RECORDS,  # the flag is set and ETH is a listed reputation asset
        "settlementBps": 0,
    }
    assert_escrow_holds(deployed, 0)

    b = Balances(deployed)
    r = b.paid_gas("buyer", tx(deployed, deployed.escrow.functions.fund(t), deployed.buyer, t["amount"]))
    funded_at = block_time(deployed, r)
    e = one(deployed, r, "TradeFunded")
    assert (e["id"], e["held"], e["state"], e["deadline"]) == (
        tid, t["amount"], STATE["Funded"], funded_at + t["releaseWindow"])
    assert deployed.escrow_of(t) == {
        "held": t["amount"],
        "deadline": funded_at + 86400,
        "state": STATE["Funded"],
        "marks": MARK_RECORDS,
        "settlementBps": 0,
    }
    assert b.delta()["buyer"] == -t["amount"]
    assert_escrow_holds(deployed, t["amount"])


def test_seller_creates_trade_with_creator_flag_and_buyer_funds_it(deployed: Deployment) -> None:
    t = deployed.terms(flags=FLAG_RECORD_REPUTATION | FLAG_CREATED_BY_SELLER)
    r = tx(deployed, deployed.escrow.functions.create(t), deployed.seller)
    assert dict(one(deployed, r, "TradeCreated")["terms"]) == t
    assert deployed.state_of(t) == "AwaitingFunding"
    assert deployed.escrow_of(t)["marks"] == MARK_RECORDS | MARK_SELLER_ACTED  # creating is the seller's consent
    b = Balances(deployed)
    b.paid_gas("buyer", tx(deployed, deployed.escrow.functions.fund(t), deployed.buyer, t["amount"]))
    assert deployed.state_of(t) == "Funded"
    assert b.delta()["buyer"] == -t["amount"]
    assert b.delta()["seller"] == 0
    assert_escrow_holds(deployed, t["amount"])


def test_create_and_fund_opens_funded_trade_in_one_transaction(deployed: Deployment) -> None:
    t = deployed.terms()
    b = Balances(deployed)
    r = b.paid_gas("buyer", tx(deployed, deployed.escrow.functions.createAndFund(t), deployed.buyer, t["amount"]))
    now = block_time(deployed, r)
    e = one(deployed, r, "TradeCreated")
    assert e["id"] == trade_id(t) == deployed.escrow.functions.tradeId(t).call()
    assert dict(e["terms"]) == t
    assert e["held"] == t["amount"]
    assert deployed.events(r, "TradeFunded") == []
    assert deployed.escrow_of(t) == {
        "held": t["amount"],
        "deadline": now + 86400,
        "state": STATE["Funded"],
        "marks": MARK_RECORDS,
        "settlementBps": 0,
    }
    assert b.delta()["buyer"] == -t["amount"]
    assert_escrow_holds(deployed, t["amount"])


# -- release and refund ----------------------------------------------------------------------------
def test_buyer_releases_everything_seller_gets_amount_less_platform_fee(deployed: Deployment) -> None:
    t = consented(deployed, amount=ODD)
    b = Balances(deployed)
    r = b.paid_gas("buyer", tx(deployed, deployed.escrow.functions.release(t, ODD), deployed.buyer))
    e = one(deployed, r, "Released")
    assert (e["id"], e["toSeller"], e["platformFee"]) == (trade_id(t), ODD - fee(ODD), fee(ODD))
    assert b.delta() == {
        "buyer": 0,
        "seller": ODD - fee(ODD),
        "arbiter": 0,
        "stranger": 0,
        "fee_recipient": 0,
        "escrow": -(ODD - fee(ODD)),
    }
    # the fee stays in the trade's slot until swept
    assert deployed.escrow.functions.feesAccrued(ETH).call() == 0
    esc = deployed.escrow_of(t)
    assert (esc["held"], esc["state"]) == (fee(ODD), STATE["Completed"])
    assert deployed.record(deployed.buyer, role="Buyer")["completed"] == 1
    assert deployed.record(deployed.seller, role="Seller")["completed"] == 1
    assert deployed.record(deployed.seller)["volume"] == ODD
    assert_escrow_holds(deployed, fee(ODD))


def test_release_in_parts_takes_fee_per_part_and_ends_when_nothing_held(deployed: Deployment) -> None:
    t = consented(deployed, amount=ODD)
    parts = [3 * 10**17 + 1, 5 * 10**17 + 3, ODD - (3 * 10**17 + 1) - (5 * 10**17 + 3)]
    b = Balances(deployed)
    held = ODD
    for i, part in enumerate(parts):
        r = b.paid_gas("buyer", tx(deployed, deployed.escrow.functions.release(t, part), deployed.buyer))
        held -= part
        e = one(deployed, r, "Released")
        assert (e["toSeller"], e["platformFee"]) == (part - fee(part), fee(part))
        if i < len(parts) - 1:
            assert deployed.escrow_of(t)["held"] == held
            assert deployed.state_of(t) == "Funded"
            assert deployed.record(deployed.seller)["volume"] == 0  # recorded once, when the trade ends
    assert deployed.state_of(t) == "Completed"
    total_fee = sum(fee(p) for p in parts)
    assert total_fee >= fee(ODD)  # rounding up per part: paying in parts never pays less fee
    assert b.delta()["seller"] == ODD - total_fee
    # the partial releases' fees accrue per token; the last payout's stays in the trade's slot
    assert deployed.escrow.functions.feesAccrued(ETH).call() == fee(parts[0]) + fee(parts[1])
    assert deployed.escrow_of(t)["held"] == fee(parts[2])
    assert deployed.record(deployed.seller)["completed"] == 1
    assert_escrow_holds(deployed, total_fee)


def test_seller_refunds_everything_buyer_gets_it_all_back(deployed: Deployment) -> None:
    t = consented(deployed, amount=ODD)
    b = Balances(deployed)
    r = b.paid_gas("seller", tx(deployed, deployed.escrow.functions.refund(t, ODD), deployed.seller))
    e = one(deployed, r, "Refunded")
    assert (e["id"], e["toBuyer"]) == (trade_id(t), ODD)
    assert b.delta()["buyer"] == ODD and b.delta()["seller"] == 0
    assert deployed.state_of(t) == "Refunded"
    assert deployed.escrow.functions.feesAccrued(ETH).call() == 0
    # the seller had accepted the trade: it records (a refund alone would not: giving back is not consent)
    assert deployed.record(deployed.buyer, role="Buyer")["refunded"] == 1
    assert deployed.record(deployed.seller)["refunded"] == 1
    assert_escrow_holds(deployed, 0)


def test_refund_in_parts_ends_refunded_when_nothing_held(deployed: Deployment) -> None:
    t = funded(deployed, amount=ODD)
    b = Balances(deployed)
    r = b.paid_gas("seller", tx(deployed, deployed.escrow.functions.refund(t, 4 * 10**17), deployed.seller))
    assert one(deployed, r, "Refunded")["toBuyer"] == 4 * 10**17
    assert deployed.escrow_of(t)["held"] == ODD - 4 * 10**17
    assert deployed.state_of(t) == "Funded"
    b.paid_gas("seller", tx(deployed, deployed.escrow.functions.refund(t, ODD - 4 * 10**17), deployed.seller))
    assert deployed.state_of(t) == "Refunded"
    assert b.delta()["buyer"] == ODD
    assert_escrow_holds(deployed, 0)


def test_partial_release_then_refund_of_the_rest_ends_completed(deployed: Deployment) -> None:
    t = consented(deployed, amount=ODD)
    part = 6 * 10**17
    b = Balances(deployed)
    b.paid_gas("buyer", tx(deployed, deployed.escrow.functions.release(t, part), deployed.buyer))
    b.paid_gas("seller", tx(deployed, deployed.escrow.functions.refund(t, ODD - part), deployed.seller))
    assert deployed.state_of(t) == "Completed"
    assert deployed.escrow_of(t)["held"] == 0
    assert b.delta()["seller"] == part - fee(part)
    assert b.delta()["buyer"] == ODD - part
    record = deployed.record(deployed.seller)
    assert record["completed"] == 1 and record["refunded"] == 0
    assert_escrow_holds(deployed, fee(part))


# -- cancel ----------------------------------------------------------------------------------------
def test_buyer_can_cancel_own_unfunded_trade_any_time(deployed: Deployment) -> None:
    t = deployed.terms()
    tx(deployed, deployed.escrow.functions.create(t), deployed.buyer)
    r = tx(deployed, deployed.escrow.functions.cancel(t), deployed.buyer)
    e = one(deployed, r, "Cancelled")
    assert (e["id"], e["by"]) == (trade_id(t), deployed.buyer)
    assert deployed.state_of(t) == "Cancelled"
    with reverts("WrongState", state=STATE["Cancelled"]):
        deployed.send(deployed.escrow.functions.fund(t), deployed.buyer, t["amount"])
    assert_escrow_holds(deployed, 0)


def test_seller_can_cancel_own_unfunded_trade_any_time(deployed: Deployment) -> None:
    t = deployed.terms(flags=FLAG_CREATED_BY_SELLER)
    tx(deployed, deployed.escrow.functions.create(t), deployed.seller)
    deployed.chain.set_next_timestamp(next_time(deployed) + 100)
    tx(deployed, deployed.escrow.functions.cancel(t), deployed.seller)
    assert deployed.state_of(t) == "Cancelled"


@pytest.mark.parametrize("who", ["seller", "stranger"])
def test_non_creator_can_cancel_only_from_the_funding_deadline(deployed: Deployment, who: str) -> None:
    t = deployed.terms()
    tx(deployed, deployed.escrow.functions.create(t), deployed.buyer)
    deadline = deployed.escrow_of(t)["deadline"]
    caller = getattr(deployed, who)
    deployed.chain.set_next_timestamp(deadline - 1)
    with reverts("DeadlineNotReached", deadline=deadline):
        deployed.send(deployed.escrow.functions.cancel(t), caller)
    deployed.chain.set_next_timestamp(deadline)
    r = tx(deployed, deployed.escrow.functions.cancel(t), caller)
    assert one(deployed, r, "Cancelled")["by"] == caller
    assert deployed.state_of(t) == "Cancelled"


def test_buyer_cannot_fund_from_the_funding_deadline(deployed: Deployment) -> None:
    t = deployed.terms()
    tx(deployed, deployed.escrow.functions.create(t), deployed.buyer)
    deadline = deployed.escrow_of(t)["deadline"]
    deployed.chain.set_next_timestamp(deadline)
    with reverts("DeadlinePassed", deadline=deadline):
        deployed.send(deployed.escrow.functions.fund(t), deployed.buyer, t["amount"])
    assert deployed.state_of(t) == "AwaitingFunding"


# -- delivery and timeouts -------------------------------------------------------------------------
def test_mark_delivered_restarts_window_and_timeout_then_releases_on_refund_policy_trade(
    deployed: Deployment,
) -> None:
    t = funded(deployed, amount=ODD)  # flags: timeout refunds the buyer
    deployed.chain.set_next_timestamp(next_time(deployed) + 1000)
    r = tx(deployed, deployed.escrow.functions.markDelivered(t), deployed.seller)
    new_deadline = block_time(deployed, r) + t["releaseWindow"]
    e = one(deployed, r, "DeliveryMarked")
    assert (e["id"], e["deadline"]) == (trade_id(t), new_deadline)
    assert deployed.escrow_of(t)["deadline"] == new_deadline
    assert deployed.escrow_of(t)["marks"] & MARK_DELIVERED
    deployed.chain.set_next_timestamp(new_deadline - 1)
    with reverts("DeadlineNotReached", deadline=new_deadline):
        deployed.send(deployed.escrow.functions.timeout(t), deployed.stranger)
    deployed.chain.set_next_timestamp(new_deadline)
    b = Balances(deployed)
    r = b.paid_gas("stranger", tx(deployed, deployed.escrow.functions.timeout(t), deployed.stranger))
    e = one(deployed, r, "TimedOut")
    assert (e["toSeller"], e["amount"], e["platformFee"]) == (True, ODD, fee(ODD))
    assert b.delta()["seller"] == ODD - fee(ODD) and b.delta()["buyer"] == 0
    assert deployed.state_of(t) == "Completed"
    assert deployed.record(deployed.seller)["completed"] == 1  # marking delivery is the seller's consent


def test_timeout_refunds_buyer_on_refund_policy_trade_anyone_can_trigger(deployed: Deployment) -> None:
    t = funded(deployed, amount=ODD)
    deadline = deployed.escrow_of(t)["deadline"]
    deployed.chain.set_next_timestamp(deadline - 1)
    with reverts("DeadlineNotReached", deadline=deadline):
        deployed.send(deployed.escrow.functions.timeout(t), deployed.stranger)
    deployed.chain.set_next_timestamp(deadline)
    b = Balances(deployed)
    r = b.paid_gas("stranger", tx(deployed, deployed.escrow.functions.timeout(t), deployed.stranger))
    e = one(deployed, r, "TimedOut")
    assert (e["id"], e["toSeller"], e["amount"], e["platformFee"]) == (trade_id(t), False, ODD, 0)
    assert b.delta()["buyer"] == ODD and b.delta()["seller"] == 0 and b.delta()["stranger"] == 0
    assert deployed.state_of(t) == "Refunded"
    # the seller never acted on the trade: it counts for no one
    assert deployed.record(deployed.buyer, role="Buyer")["volume"] == deployed.record(deployed.seller)["volume"] == 0
    assert_escrow_holds(deployed, 0)


def test_timeout_releases_to_seller_on_release_policy_trade_anyone_can_trigger(
    deployed: Deployment,
) -> None:
    t = funded(deployed, amount=ODD, flags=FLAG_RECORD_REPUTATION | FLAG_TIMEOUT_RELEASES)
    deployed.chain.set_next_timestamp(deployed.escrow_of(t)["deadline"])
    b = Balances(deployed)
    r = b.paid_gas("stranger", tx(deployed, deployed.escrow.functions.timeout(t), deployed.stranger))
    e = one(deployed, r, "TimedOut")
    assert (e["toSeller"], e["amount"], e["platformFee"]) == (True, ODD, fee(ODD))
    assert b.delta()["seller"] == ODD - fee(ODD) and b.delta()["buyer"] == 0
    assert deployed.escrow_of(t)["held"] == fee(ODD)
    assert deployed.state_of(t) == "Completed"
    # the seller never acted: the trade records nothing
    assert deployed.record(deployed.seller)["volume"] == 0


def test_timeout_after_partial_release_refunds_the_rest_and_ends_completed(deployed: Deployment) -> None:
    t = funded(deployed, amount=ODD)
    tx(deployed, deployed.escrow.functions.release(t, 10**17), deployed.buyer)
    deployed.chain.set_next_timestamp(deployed.escrow_of(t)["deadline"])
    b = Balances(deployed)
    r = tx(deployed, deployed.escrow.functions.timeout(t), deployed.stranger)
    assert one(deployed, r, "TimedOut")["amount"] == ODD - 10**17
    assert b.delta()["buyer"] == ODD - 10**17
    assert deployed.state_of(t) == "Completed"


# -- settlements -----------------------------------------------------------------------------------
@pytest.mark.parametrize("in_dispute", [False, True], ids=["funded", "disputed"])
def test_accepted_settlement_pays_agreed_split(deployed: Deployment, in_dispute: bool) -> None:
    t = funded(deployed, amount=ODD)
    if in_dispute:
        tx(deployed, deployed.escrow.functions.dispute(t), deployed.buyer)
    r = tx(deployed, deployed.escrow.functions.proposeSettlement(t, 3333), deployed.seller)
    e = one(deployed, r, "SettlementProposed")
    assert (e["id"], e["by"], e["buyerBps"]) == (trade_id(t), deployed.seller, 3333)
    assert deployed.escrow_of(t)["settlementBps"] == 3333
    b = Balances(deployed)
    r = b.paid_gas("buyer", tx(deployed, deployed.escrow.functions.acceptSettlement(t, 3333), deployed.buyer))
    s = split(ODD, 3333, 0, PLATFORM_FEE_BPS)
    e = one(deployed, r, "Settled")
    assert (e["buyerBps"], e["toBuyer"], e["toSeller"], e["platformFee"]) == (
        3333,
        s["toBuyer"],
        s["toSeller"],
        s["platformFee"],
    )
    assert s["toBuyer"] + s["toSeller"] + s["platformFee"] == ODD
    assert b.delta()["buyer"] == s["toBuyer"] and b.delta()["seller"] == s["toSeller"]
    assert b.delta()["arbiter"] == 0
    assert deployed.escrow.functions.feesAccrued(ETH).call() == 0
    assert deployed.state_of(t) == "Settled"
    assert deployed.escrow_of(t)["held"] == s["platformFee"]
    assert deployed.record(deployed.buyer, role="Buyer")["settled"] == deployed.record(deployed.seller)["settled"] == 1
    assert_escrow_holds(deployed, s["platformFee"])


def test_new_proposal_replaces_the_earlier_one(deployed: Deployment) -> None:
    t = funded(deployed)
    tx(deployed, deployed.escrow.functions.proposeSettlement(t, 3000), deployed.buyer)
    tx(deployed, deployed.escrow.functions.proposeSettlement(t, 6000), deployed.seller)
    # the seller's proposal replaced the buyer's: the seller cannot accept either
    with reverts("SettlementMismatch", proposedBps=0, acceptedBps=6000):
        deployed.send(deployed.escrow.functions.acceptSettlement(t, 6000), deployed.seller)
    with reverts("SettlementMismatch", proposedBps=6000, acceptedBps=3000):
        deployed.send(deployed.escrow.functions.acceptSettlement(t, 3000), deployed.buyer)
    tx(deployed, deployed.escrow.functions.proposeSettlement(t, 5000), deployed.seller)
    with reverts("SettlementMismatch", proposedBps=5000, acceptedBps=6000):
        deployed.send(deployed.escrow.functions.acceptSettlement(t, 6000), deployed.buyer)
    tx(deployed, deployed.escrow.functions.acceptSettlement(t, 5000), deployed.buyer)
    assert deployed.state_of(t) == "Settled"


def test_party_cannot_accept_own_proposal(deployed: Deployment) -> None:
    t = funded(deployed)
    tx(deployed, deployed.escrow.functions.proposeSettlement(t, 4000), deployed.buyer)
    with reverts("SettlementMismatch", proposedBps=0, acceptedBps=4000):
        deployed.send(deployed.escrow.functions.acceptSettlement(t, 4000), deployed.buyer)
    assert deployed.state_of(t) == "Funded"


# -- disputes --------------------------------------------------------------------------------------
# (won, lost, split) of the buyer's record for each ruling; the seller's mirrors it
RULING_RECORD = {"BuyerWon": (1, 0, 0), "SellerWon": (0, 1, 0), "Split": (0, 0, 1)}


@pytest.mark.parametrize(
    "buyer_bps, outcome", [(3333, "Split"), (BPS, "BuyerWon"), (0, "SellerWon")]
)
def test_arbiter_ruling_pays_exact_shares_with_arbiter_and_platform_fees(
    deployed: Deployment, buyer_bps: int, outcome: str
) -> None:
    t = funded(deployed, amount=ODD, arbiterFeeBps=150)
    r = tx(deployed, deployed.escrow.functions.dispute(t), deployed.seller)
    e = one(deployed, r, "Disputed")
    assert (e["id"], e["by"], e["deadline"]) == (
        trade_id(t),
        deployed.seller,
        block_time(deployed, r) + t["arbitrationWindow"],
    )
    assert (
        deployed.escrow_of(t)["state"] == STATE["Disputed"] and deployed.escrow_of(t)["deadline"] == e["deadline"]
    )
    b = Balances(deployed)
    r = b.paid_gas("arbiter", tx(deployed, deployed.escrow.functions.rule(t, buyer_bps), deployed.arbiter))
    s = split(ODD, buyer_bps, 150, PLATFORM_FEE_BPS)
    assert s == dict(
        zip(
            ("toBuyer", "toSeller", "arbiterFee", "platformFee"),
            deployed.escrow.functions.computeSplit(ODD, buyer_bps, 150, PLATFORM_FEE_BPS).call(),
            strict=True,
        )
    )
    e = one(deployed, r, "Ruled")
    assert (e["buyerBps"], e["toBuyer"], e["toSeller"], e["arbiterFee"], e["platformFee"]) == (
        buyer_bps,
        s["toBuyer"],
        s["toSeller"],
        s["arbiterFee"],
        s["platformFee"],
    )
    assert sum(s.values()) == ODD  # no dust
    delta = b.delta()
    assert (delta["buyer"], delta["seller"], delta["arbiter"]) == (
        s["toBuyer"],
        s["toSeller"],
        s["arbiterFee"],
    )
    assert deployed.escrow.functions.feesAccrued(ETH).call() == 0
    assert deployed.state_of(t) == "Resolved" and deployed.escrow_of(t)["held"] == s["platformFee"]
    # the seller opened the dispute: it acted, so the ruling counts for both
    buyer, seller = deployed.record(deployed.buyer, role="Buyer"), deployed.record(deployed.seller)
    assert (buyer["disputesWon"], buyer["disputesLost"], buyer["disputesSplit"]) == RULING_RECORD[outcome]
    assert (seller["disputesLost"], seller["disputesWon"], seller["disputesSplit"]) == RULING_RECORD[outcome]
    assert_escrow_holds(deployed, s["platformFee"])


def test_expired_dispute_splits_evenly_without_arbiter_fee_odd_wei_to_seller(deployed: Deployment) -> None:
    t = consented(deployed, amount=ODD, arbiterFeeBps=500)
    tx(deployed, deployed.escrow.functions.dispute(t), deployed.buyer)
    deadline = deployed.escrow_of(t)["deadline"]
    deployed.chain.set_next_timestamp(deadline - 1)
    with reverts("DeadlineNotReached", deadline=deadline):
        deployed.send(deployed.escrow.functions.resolveExpiredDispute(t), deployed.stranger)
    deployed.chain.set_next_timestamp(deadline)
    b = Balances(deployed)
    r = b.paid_gas("stranger", tx(deployed, deployed.escrow.functions.resolveExpiredDispute(t), deployed.stranger))
    to_buyer = ODD // 2
    seller_gross = ODD - to_buyer
    assert seller_gross == to_buyer + 1
    e = one(deployed, r, "DisputeExpired")
    assert (e["toBuyer"], e["toSeller"], e["platformFee"]) == (
        to_buyer,
        seller_gross - fee(seller_gross),
        fee(seller_gross),
    )
    delta = b.delta()
    assert (delta["buyer"], delta["seller"], delta["arbiter"]) == (
        to_buyer,
        seller_gross - fee(seller_gross),
        0,
    )
    assert deployed.state_of(t) == "Resolved"
    assert deployed.record(deployed.buyer, role="Buyer")["disputesSplit"] == 1
    assert deployed.record(deployed.seller)["disputesSplit"] == 1
    assert_escrow_holds(deployed, fee(seller_gross))


@pytest.mark.parametrize("who", ["buyer", "seller", "arbiter"])
def test_parties_and_arbiter_can_submit_evidence(deployed: Deployment, who: str) -> None:
    t = funded(deployed)
    tx(deployed, deployed.escrow.functions.dispute(t), deployed.buyer)
    r = tx(
        deployed, deployed.escrow.functions.submitEvidence(t, b"\x33" * 32, "ipfs://evidence"), getattr(deployed, who)
    )
    e = one(deployed, r, "EvidenceSubmitted")
    assert (e["id"], e["by"], e["uri"], e["contentHash"]) == (
        trade_id(t),
        getattr(deployed, who),
        "ipfs://evidence",
        b"\x33" * 32,
    )


def test_stranger_cannot_submit_evidence(deployed: Deployment) -> None:
    t = funded(deployed)
    with reverts("Unauthorized", caller=deployed.stranger, id=trade_id(t)):
        deployed.send(deployed.escrow.functions.submitEvidence(t, b"\x00" * 32, "ipfs://x"), deployed.stranger)


# -- credits and fees ------------------------------------------------------------------------------
def test_rejected_payout_is_credited_and_withdrawn_to_another_address(deployed: Deployment) -> None:
    party = deployed.chain.deploy("MaliciousParty", test=True)
    tx(deployed, party.functions.setMode(1), deployed.stranger)  # Revert: rejects ETH
    t = funded(deployed, seller=party.address, amount=ODD)
    r = tx(deployed, deployed.escrow.functions.release(t, ODD), deployed.buyer)
    net = ODD - fee(ODD)
    e = one(deployed, r, "PaymentCredited")
    assert (e["id"], e["receiver"], e["token"], e["amount"]) == (trade_id(t), party.address, ETH, net)
    assert deployed.state_of(t) == "Completed"
    assert deployed.escrow.functions.credits(party.address, ETH).call() == net
    assert deployed.balance(ETH, party.address) == 0
    assert_escrow_holds(deployed, net + fee(ODD))

    b = Balances(deployed)
    data = deployed.escrow.encode_abi("withdraw", args=[ETH, deployed.stranger])
    r = b.paid_gas("buyer", tx(deployed, party.functions.execute(deployed.escrow.address, data), deployed.buyer))
    e = one(deployed, r, "Withdrawn")
    assert (e["account"], e["token"], e["to"], e["amount"]) == (party.address, ETH, deployed.stranger, net)
    assert b.delta()["stranger"] == net
    assert deployed.escrow.functions.credits(party.address, ETH).call() == 0
    assert_escrow_holds(deployed, fee(ODD))


def test_sweep_fees_pays_slot_fees_and_accrued_fees_to_fee_recipient_anyone_can_call(deployed: Deployment) -> None:
    t1, t2 = funded(deployed, amount=ODD), funded(deployed, amount=3 * 10**18)
    tx(deployed, deployed.escrow.functions.release(t1, ODD), deployed.buyer)  # ends: its fee stays in its slot
    tx(deployed, deployed.escrow.functions.release(t2, 10**18), deployed.buyer)  # a part: its fee accrues
    assert deployed.escrow_of(t1)["held"] == fee(ODD)
    assert deployed.escrow.functions.feesAccrued(ETH).call() == fee(10**18)
    fees = fee(ODD) + fee(10**18)
    b = Balances(deployed)
    r = b.paid_gas("stranger", tx(deployed, deployed.escrow.functions.sweepFees(ETH, [t1]), deployed.stranger))
    e = one(deployed, r, "FeesSwept")
    assert (e["token"], e["recipient"], e["amount"]) == (ETH, deployed.fee_recipient, fees)
    assert b.delta()["fee_recipient"] == fees and b.delta()["stranger"] == 0
    assert deployed.escrow.functions.feesAccrued(ETH).call() == 0
    assert deployed.escrow_of(t1)["held"] == 0 and deployed.state_of(t1) == "Completed"
    assert_escrow_holds(deployed, 2 * 10**18)  # t2 still holds the rest
    # swept once: the same trade again adds nothing
    with reverts("NothingToWithdraw", account=deployed.fee_recipient, token=ETH):
        deployed.send(deployed.escrow.functions.sweepFees(ETH, [t1]), deployed.stranger)


def test_sweep_fees_refuses_a_live_trade_and_a_trade_in_another_asset(deployed: Deployment) -> None:
    live = funded(deployed)
    with reverts("NotEnded", id=trade_id(live), state=STATE["Funded"]):
        deployed.send(deployed.escrow.functions.sweepFees(ETH, [live]), deployed.stranger)
    done = funded(deployed)
    tx(deployed, deployed.escrow.functions.release(done, done["amount"]), deployed.buyer)
    token = deployed.tokens["standard"].address
    with reverts("WrongAsset", id=trade_id(done)):
        deployed.send(deployed.escrow.functions.sweepFees(token, [done]), deployed.stranger)
    assert deployed.escrow_of(done)["held"] == fee(done["amount"])  # nothing was taken


# -- owner settings --------------------------------------------------------------------------------
def test_platform_fee_change_applies_to_new_trades_only(deployed: Deployment) -> None:
    old = funded(deployed, amount=ODD)
    r = tx(deployed, deployed.escrow.functions.setPlatformFee(400), deployed.owner)
    e = one(deployed, r, "PlatformFeeChanged")
    assert (e["previousBps"], e["newBps"]) == (PLATFORM_FEE_BPS, 400)
    assert deployed.escrow.functions.platformFeeBps().call() == 400
    with reverts("PlatformFeeMismatch", given=PLATFORM_FEE_BPS, current=400):
        deployed.send(deployed.escrow.functions.createAndFund(deployed.terms()), deployed.buyer, 10**18)
    new = funded(deployed, amount=ODD, platformFeeBps=400)
    b = Balances(deployed)
    r_old = b.paid_gas("buyer", tx(deployed, deployed.escrow.functions.release(old, ODD), deployed.buyer))
    assert one(deployed, r_old, "Released")["platformFee"] == fee(ODD, PLATFORM_FEE_BPS)
    r_new = b.paid_gas("buyer", tx(deployed, deployed.escrow.functions.release(new, ODD), deployed.buyer))
    assert one(deployed, r_new, "Released")["platformFee"] == fee(ODD, 400)
    assert b.delta()["seller"] == 2 * ODD - fee(ODD, PLATFORM_FEE_BPS) - fee(ODD, 400)
    assert deployed.escrow_of(old)["held"] == fee(ODD, PLATFORM_FEE_BPS)
    assert deployed.escrow_of(new)["held"] == fee(ODD, 400)


def test_zero_platform_fee_pays_seller_everything(deployed: Deployment) -> None:
    tx(deployed, deployed.escrow.functions.setPlatformFee(0), deployed.owner)
    t = funded(deployed, amount=ODD, platformFeeBps=0)
    b = Balances(deployed)
    r = tx(deployed, deployed.escrow.functions.release(t, 10**17), deployed.buyer)  # a part, then the rest
    assert one(deployed, r, "Released")["platformFee"] == 0
    r = tx(deployed, deployed.escrow.functions.release(t, ODD - 10**17), deployed.buyer)
    assert one(deployed, r, "Released")["platformFee"] == 0
    assert b.delta()["seller"] == ODD
    assert deployed.escrow.functions.feesAccrued(ETH).call() == 0
    assert deployed.escrow_of(t)["held"] == 0
    assert_escrow_holds(deployed, 0)


def test_fee_recipient_change_redirects_unswept_fees(deployed: Deployment) -> None:
    t = funded(deployed, amount=ODD)
    tx(deployed, deployed.escrow.functions.release(t, ODD), deployed.buyer)
    r = tx(deployed, deployed.escrow.functions.setFeeRecipient(deployed.stranger), deployed.owner)
    e = one(deployed, r, "FeeRecipientChanged")
    assert (e["previousRecipient"], e["newRecipient"]) == (deployed.fee_recipient, deployed.stranger)
    assert deployed.escrow.functions.feeRecipient().call() == deployed.stranger
    b = Balances(deployed)
    r = b.paid_gas("buyer", tx(deployed, deployed.escrow.functions.sweepFees(ETH, [t]), deployed.buyer))
    assert one(deployed, r, "FeesSwept")["recipient"] == deployed.stranger
    assert b.delta()["stranger"] == fee(ODD) and b.delta()["fee_recipient"] == 0


def test_pause_stops_new_money_but_every_way_out_stays_open(deployed: Deployment) -> None:
    unfunded = deployed.terms()
    tx(deployed, deployed.escrow.functions.create(unfunded), deployed.buyer)
    open_trade = funded(deployed)
    awaiting = funded(deployed)  # the seller has not accepted it
    to_refund = funded(deployed)
    deployed.deposit_bond(10**18)
    r = tx(deployed, deployed.escrow.functions.pause(), deployed.owner)
    assert deployed.escrow.functions.paused().call()
    assert deployed.events(r, "Paused")[0]["account"] == deployed.owner
    t = deployed.terms()
    with reverts("EnforcedPause"):
        deployed.send(deployed.escrow.functions.create(t), deployed.buyer)
    with reverts("EnforcedPause"):
        deployed.send(deployed.escrow.functions.createAndFund(t), deployed.buyer, t["amount"])
    o = offer(deployed)
    with reverts("EnforcedPause"):
        deployed.send(deployed.escrow.functions.fillOffer(o, sign_offer(deployed, o)), deployed.buyer, o["amount"])
    # no new money into a trade created before the pause either, nor into a bond
    with reverts("EnforcedPause"):
        deployed.send(deployed.escrow.functions.fund(unfunded), deployed.buyer, unfunded["amount"])
    with reverts("EnforcedPause"):
        deployed.send(deployed.escrow.functions.accept(awaiting), deployed.seller)
    with reverts("EnforcedPause"):
        deployed.send(deployed.escrow.functions.depositBond(ETH, 1), deployed.seller, 1)
    # every way out stays open
    tx(deployed, deployed.escrow.functions.release(open_trade, open_trade["amount"]), deployed.buyer)
    assert deployed.state_of(open_trade) == "Completed"
    tx(deployed, deployed.escrow.functions.refund(to_refund, to_refund["amount"]), deployed.seller)
    assert deployed.state_of(to_refund) == "Refunded"
    tx(deployed, deployed.escrow.functions.cancel(unfunded), deployed.buyer)
    assert deployed.state_of(unfunded) == "Cancelled"
    tx(deployed, deployed.escrow.functions.withdrawBond(ETH, 10**18, deployed.seller), deployed.seller)
    assert deployed.bond() == 0
    tx(deployed, deployed.escrow.functions.sweepFees(ETH, [open_trade]), deployed.stranger)
    deployed.chain.set_next_timestamp(deployed.escrow_of(awaiting)["deadline"])
    tx(deployed, deployed.escrow.functions.timeout(awaiting), deployed.stranger)
    assert deployed.state_of(awaiting) == "Refunded"
    tx(deployed, deployed.escrow.functions.unpause(), deployed.owner)
    assert not deployed.escrow.functions.paused().call()
    tx(deployed, deployed.escrow.functions.createAndFund(t), deployed.buyer, t["amount"])
    assert deployed.state_of(t) == "Funded"


def test_ownership_transfer_takes_two_steps(deployed: Deployment) -> None:
    new_owner = deployed.stranger
    r = tx(deployed, deployed.escrow.functions.transferOwnership(new_owner), deployed.owner)
    e = deployed.events(r, "OwnershipTransferStarted")[0]
    assert (e["previousOwner"], e["newOwner"]) == (deployed.owner, new_owner)
    assert deployed.escrow.functions.owner().call() == deployed.owner
    assert deployed.escrow.functions.pendingOwner().call() == new_owner
    with reverts("OwnableUnauthorizedAccount", account=new_owner):
        deployed.send(deployed.escrow.functions.setPlatformFee(1), new_owner)
    with reverts("OwnableUnauthorizedAccount", account=deployed.buyer):
        deployed.send(deployed.escrow.functions.acceptOwnership(), deployed.buyer)
    r = tx(deployed, deployed.escrow.functions.acceptOwnership(), new_owner)
    e = deployed.events(r, "OwnershipTransferred")[0]
    assert (e["previousOwner"], e["newOwner"]) == (deployed.owner, new_owner)
    assert deployed.escrow.functions.owner().call() == new_owner
    assert deployed.escrow.functions.pendingOwner().call() == ETH
    with reverts("OwnableUnauthorizedAccount", account=deployed.owner):
        deployed.send(deployed.escrow.functions.pause(), deployed.owner)
    tx(deployed, deployed.escrow.functions.setPlatformFee(1), new_owner)
    assert deployed.escrow.functions.platformFeeBps().call() == 1
