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
    OUTCOME,
    PLATFORM_FEE_BPS,
    STATE,
    Deployment,
    split,
    trade_id,
)
from support.offers import balance_of, gas_paid, next_time, offer, reverts, sign_offer, tx

ODD = 10**18 + 7  # an odd amount, so that every rounding rule shows


# -- helpers ---------------------------------------------------------------------------------------
def block_time(d: Deployment, receipt: dict[str, Any]) -> int:
    return int(d.chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"])


def one(d: Deployment, receipt: dict[str, Any], name: str, contract: Any = None) -> Any:
    found = d.events(receipt, name, contract)
    assert len(found) == 1, f"expected one {name}, got {found}"
    return found[0]


def funded(d: Deployment, **overrides: Any) -> dict[str, Any]:
    t = d.terms(**overrides)
    tx(d, d.escrow.functions.createAndFund(t), t["buyer"], t["amount"])
    return t


def fee(amount: int, bps: int = PLATFORM_FEE_BPS) -> int:
    return amount * bps // BPS


class Balances:
    """ETH balances of the usual accounts, to compare before/after (gas paid is added back)."""

    def __init__(self, d: Deployment) -> None:
        self.d = d
        self.who = {
            "buyer": d.buyer,
            "seller": d.seller,
            "arbiter": d.arbiter,
            "stranger": d.stranger,
            "fee_recipient": d.fee_recipient,
            "escrow": d.escrow.address,
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


def assert_escrow_holds(d: Deployment, expected: int) -> None:
    assert balance_of(d, ETH, d.escrow.address) == expected


# -- creating and funding --------------------------------------------------------------------------
def test_buyer_creates_unfunded_trade_then_funds_it(d: Deployment) -> None:
    t = d.terms()
    tid = trade_id(t)
    r = tx(d, d.escrow.functions.create(t), d.buyer)
    created_at = block_time(d, r)
    e = one(d, r, "TradeCreated")
    assert (e["id"], e["buyer"], e["seller"]) == (tid, d.buyer, d.seller)
    assert dict(e["terms"]) == t
    assert (e["held"], e["deadline"]) == (0, created_at + t["fundingWindow"])
    assert d.escrow_of(t) == {
        "held": 0,
        "deadline": created_at + 3600,
        "state": STATE["AwaitingFunding"],
        "marks": 0,
        "settlementBps": 0,
    }
    assert_escrow_holds(d, 0)

    b = Balances(d)
    r = b.paid_gas("buyer", tx(d, d.escrow.functions.fund(t), d.buyer, t["amount"]))
    funded_at = block_time(d, r)
    e = one(d, r, "TradeFunded")
    assert (e["id"], e["held"], e["deadline"]) == (tid, t["amount"], funded_at + t["releaseWindow"])
    assert d.escrow_of(t) == {
        "held": t["amount"],
        "deadline": funded_at + 86400,
        "state": STATE["Funded"],
        "marks": 0,
        "settlementBps": 0,
    }
    assert b.delta()["buyer"] == -t["amount"]
    assert_escrow_holds(d, t["amount"])


def test_seller_creates_trade_with_creator_flag_and_buyer_funds_it(d: Deployment) -> None:
    t = d.terms(flags=FLAG_RECORD_REPUTATION | FLAG_CREATED_BY_SELLER)
    r = tx(d, d.escrow.functions.create(t), d.seller)
    assert dict(one(d, r, "TradeCreated")["terms"]) == t
    assert d.state_of(t) == "AwaitingFunding"
    b = Balances(d)
    b.paid_gas("buyer", tx(d, d.escrow.functions.fund(t), d.buyer, t["amount"]))
    assert d.state_of(t) == "Funded"
    assert b.delta()["buyer"] == -t["amount"]
    assert b.delta()["seller"] == 0
    assert_escrow_holds(d, t["amount"])


def test_create_and_fund_opens_funded_trade_in_one_transaction(d: Deployment) -> None:
    t = d.terms()
    b = Balances(d)
    r = b.paid_gas("buyer", tx(d, d.escrow.functions.createAndFund(t), d.buyer, t["amount"]))
    now = block_time(d, r)
    e = one(d, r, "TradeCreated")
    assert e["id"] == trade_id(t) == d.escrow.functions.tradeId(t).call()
    assert dict(e["terms"]) == t
    assert (e["held"], e["deadline"]) == (t["amount"], now + t["releaseWindow"])
    assert d.events(r, "TradeFunded") == []
    assert d.escrow_of(t) == {
        "held": t["amount"],
        "deadline": now + 86400,
        "state": STATE["Funded"],
        "marks": 0,
        "settlementBps": 0,
    }
    assert b.delta()["buyer"] == -t["amount"]
    assert_escrow_holds(d, t["amount"])


# -- release and refund ----------------------------------------------------------------------------
def test_buyer_releases_everything_seller_gets_amount_less_platform_fee(d: Deployment) -> None:
    t = funded(d, amount=ODD)
    b = Balances(d)
    r = b.paid_gas("buyer", tx(d, d.escrow.functions.release(t, ODD), d.buyer))
    e = one(d, r, "Released")
    assert (e["id"], e["toSeller"], e["platformFee"], e["heldAfter"]) == (
        trade_id(t),
        ODD - fee(ODD),
        fee(ODD),
        0,
    )
    assert b.delta() == {
        "buyer": 0,
        "seller": ODD - fee(ODD),
        "arbiter": 0,
        "stranger": 0,
        "fee_recipient": 0,
        "escrow": -(ODD - fee(ODD)),
    }
    assert d.escrow.functions.feesAccrued(ETH).call() == fee(ODD)
    esc = d.escrow_of(t)
    assert (esc["held"], esc["state"]) == (0, STATE["Completed"])
    assert one(d, r, "OutcomeRecorded", d.reputation)["outcome"] == OUTCOME["Completed"]
    assert d.record(d.buyer)["completedAsBuyer"] == 1
    assert d.record(d.seller)["completedAsSeller"] == 1
    assert_escrow_holds(d, fee(ODD))


def test_release_in_parts_takes_fee_per_part_and_ends_when_nothing_held(d: Deployment) -> None:
    t = funded(d, amount=ODD)
    parts = [3 * 10**17 + 1, 5 * 10**17 + 3, ODD - (3 * 10**17 + 1) - (5 * 10**17 + 3)]
    b = Balances(d)
    held = ODD
    for i, part in enumerate(parts):
        r = b.paid_gas("buyer", tx(d, d.escrow.functions.release(t, part), d.buyer))
        held -= part
        e = one(d, r, "Released")
        assert (e["toSeller"], e["platformFee"], e["heldAfter"]) == (
            part - fee(part),
            fee(part),
            held,
        )
        assert d.escrow_of(t)["held"] == held
        if i < len(parts) - 1:
            assert d.state_of(t) == "Funded"
            assert d.events(r, "OutcomeRecorded", d.reputation) == []
    assert d.state_of(t) == "Completed"
    total_fee = sum(fee(p) for p in parts)
    assert b.delta()["seller"] == ODD - total_fee
    assert d.escrow.functions.feesAccrued(ETH).call() == total_fee
    assert d.record(d.seller)["completedAsSeller"] == 1
    assert_escrow_holds(d, total_fee)


def test_seller_refunds_everything_buyer_gets_it_all_back(d: Deployment) -> None:
    t = funded(d, amount=ODD)
    b = Balances(d)
    r = b.paid_gas("seller", tx(d, d.escrow.functions.refund(t, ODD), d.seller))
    e = one(d, r, "Refunded")
    assert (e["id"], e["toBuyer"], e["heldAfter"]) == (trade_id(t), ODD, 0)
    assert b.delta()["buyer"] == ODD and b.delta()["seller"] == 0
    assert d.state_of(t) == "Refunded"
    assert d.escrow.functions.feesAccrued(ETH).call() == 0
    assert one(d, r, "OutcomeRecorded", d.reputation)["outcome"] == OUTCOME["Refunded"]
    assert d.record(d.buyer)["refunded"] == d.record(d.seller)["refunded"] == 1
    assert_escrow_holds(d, 0)


def test_refund_in_parts_ends_refunded_when_nothing_held(d: Deployment) -> None:
    t = funded(d, amount=ODD)
    b = Balances(d)
    r = b.paid_gas("seller", tx(d, d.escrow.functions.refund(t, 4 * 10**17), d.seller))
    assert one(d, r, "Refunded")["heldAfter"] == ODD - 4 * 10**17
    assert d.state_of(t) == "Funded"
    b.paid_gas("seller", tx(d, d.escrow.functions.refund(t, ODD - 4 * 10**17), d.seller))
    assert d.state_of(t) == "Refunded"
    assert b.delta()["buyer"] == ODD
    assert_escrow_holds(d, 0)


def test_partial_release_then_refund_of_the_rest_ends_completed(d: Deployment) -> None:
    t = funded(d, amount=ODD)
    part = 6 * 10**17
    b = Balances(d)
    b.paid_gas("buyer", tx(d, d.escrow.functions.release(t, part), d.buyer))
    r = b.paid_gas("seller", tx(d, d.escrow.functions.refund(t, ODD - part), d.seller))
    assert d.state_of(t) == "Completed"
    assert d.escrow_of(t)["held"] == 0
    assert b.delta()["seller"] == part - fee(part)
    assert b.delta()["buyer"] == ODD - part
    assert one(d, r, "OutcomeRecorded", d.reputation)["outcome"] == OUTCOME["Completed"]
    assert d.record(d.seller)["completedAsSeller"] == 1 and d.record(d.seller)["refunded"] == 0
    assert_escrow_holds(d, fee(part))


# -- cancel ----------------------------------------------------------------------------------------
def test_buyer_can_cancel_own_unfunded_trade_any_time(d: Deployment) -> None:
    t = d.terms()
    tx(d, d.escrow.functions.create(t), d.buyer)
    r = tx(d, d.escrow.functions.cancel(t), d.buyer)
    e = one(d, r, "Cancelled")
    assert (e["id"], e["by"]) == (trade_id(t), d.buyer)
    assert d.state_of(t) == "Cancelled"
    with reverts("WrongState", state=STATE["Cancelled"]):
        d.send(d.escrow.functions.fund(t), d.buyer, t["amount"])
    assert_escrow_holds(d, 0)


def test_seller_can_cancel_own_unfunded_trade_any_time(d: Deployment) -> None:
    t = d.terms(flags=FLAG_CREATED_BY_SELLER)
    tx(d, d.escrow.functions.create(t), d.seller)
    d.chain.set_next_timestamp(next_time(d) + 100)
    tx(d, d.escrow.functions.cancel(t), d.seller)
    assert d.state_of(t) == "Cancelled"


@pytest.mark.parametrize("who", ["seller", "stranger"])
def test_non_creator_can_cancel_only_from_the_funding_deadline(d: Deployment, who: str) -> None:
    t = d.terms()
    tx(d, d.escrow.functions.create(t), d.buyer)
    deadline = d.escrow_of(t)["deadline"]
    caller = getattr(d, who)
    d.chain.set_next_timestamp(deadline - 1)
    with reverts("DeadlineNotReached", deadline=deadline):
        d.send(d.escrow.functions.cancel(t), caller)
    d.chain.set_next_timestamp(deadline)
    r = tx(d, d.escrow.functions.cancel(t), caller)
    assert one(d, r, "Cancelled")["by"] == caller
    assert d.state_of(t) == "Cancelled"


def test_buyer_cannot_fund_from_the_funding_deadline(d: Deployment) -> None:
    t = d.terms()
    tx(d, d.escrow.functions.create(t), d.buyer)
    deadline = d.escrow_of(t)["deadline"]
    d.chain.set_next_timestamp(deadline)
    with reverts("DeadlinePassed", deadline=deadline):
        d.send(d.escrow.functions.fund(t), d.buyer, t["amount"])
    assert d.state_of(t) == "AwaitingFunding"


# -- delivery and timeouts -------------------------------------------------------------------------
def test_mark_delivered_restarts_window_and_timeout_then_releases_on_refund_policy_trade(
    d: Deployment,
) -> None:
    t = funded(d, amount=ODD)  # flags: timeout refunds the buyer
    d.chain.set_next_timestamp(next_time(d) + 1000)
    r = tx(d, d.escrow.functions.markDelivered(t), d.seller)
    new_deadline = block_time(d, r) + t["releaseWindow"]
    e = one(d, r, "DeliveryMarked")
    assert (e["id"], e["deadline"]) == (trade_id(t), new_deadline)
    assert d.escrow_of(t)["deadline"] == new_deadline
    assert d.escrow_of(t)["marks"] & 1
    d.chain.set_next_timestamp(new_deadline - 1)
    with reverts("DeadlineNotReached", deadline=new_deadline):
        d.send(d.escrow.functions.timeout(t), d.stranger)
    d.chain.set_next_timestamp(new_deadline)
    b = Balances(d)
    r = b.paid_gas("stranger", tx(d, d.escrow.functions.timeout(t), d.stranger))
    e = one(d, r, "TimedOut")
    assert (e["toSeller"], e["amount"], e["platformFee"]) == (True, ODD, fee(ODD))
    assert b.delta()["seller"] == ODD - fee(ODD) and b.delta()["buyer"] == 0
    assert d.state_of(t) == "Completed"
    assert d.record(d.seller)["completedAsSeller"] == 1


def test_timeout_refunds_buyer_on_refund_policy_trade_anyone_can_trigger(d: Deployment) -> None:
    t = funded(d, amount=ODD)
    deadline = d.escrow_of(t)["deadline"]
    d.chain.set_next_timestamp(deadline - 1)
    with reverts("DeadlineNotReached", deadline=deadline):
        d.send(d.escrow.functions.timeout(t), d.stranger)
    d.chain.set_next_timestamp(deadline)
    b = Balances(d)
    r = b.paid_gas("stranger", tx(d, d.escrow.functions.timeout(t), d.stranger))
    e = one(d, r, "TimedOut")
    assert (e["id"], e["toSeller"], e["amount"], e["platformFee"]) == (trade_id(t), False, ODD, 0)
    assert b.delta()["buyer"] == ODD and b.delta()["seller"] == 0 and b.delta()["stranger"] == 0
    assert d.state_of(t) == "Refunded"
    assert one(d, r, "OutcomeRecorded", d.reputation)["outcome"] == OUTCOME["Refunded"]
    assert_escrow_holds(d, 0)


def test_timeout_releases_to_seller_on_release_policy_trade_anyone_can_trigger(
    d: Deployment,
) -> None:
    t = funded(d, amount=ODD, flags=FLAG_RECORD_REPUTATION | FLAG_TIMEOUT_RELEASES)
    d.chain.set_next_timestamp(d.escrow_of(t)["deadline"])
    b = Balances(d)
    r = b.paid_gas("stranger", tx(d, d.escrow.functions.timeout(t), d.stranger))
    e = one(d, r, "TimedOut")
    assert (e["toSeller"], e["amount"], e["platformFee"]) == (True, ODD, fee(ODD))
    assert b.delta()["seller"] == ODD - fee(ODD) and b.delta()["buyer"] == 0
    assert d.escrow.functions.feesAccrued(ETH).call() == fee(ODD)
    assert d.state_of(t) == "Completed"
    assert one(d, r, "OutcomeRecorded", d.reputation)["outcome"] == OUTCOME["Completed"]


def test_timeout_after_partial_release_refunds_the_rest_and_ends_completed(d: Deployment) -> None:
    t = funded(d, amount=ODD)
    tx(d, d.escrow.functions.release(t, 10**17), d.buyer)
    d.chain.set_next_timestamp(d.escrow_of(t)["deadline"])
    b = Balances(d)
    r = tx(d, d.escrow.functions.timeout(t), d.stranger)
    assert one(d, r, "TimedOut")["amount"] == ODD - 10**17
    assert b.delta()["buyer"] == ODD - 10**17
    assert d.state_of(t) == "Completed"


# -- settlements -----------------------------------------------------------------------------------
@pytest.mark.parametrize("in_dispute", [False, True], ids=["funded", "disputed"])
def test_accepted_settlement_pays_agreed_split(d: Deployment, in_dispute: bool) -> None:
    t = funded(d, amount=ODD)
    if in_dispute:
        tx(d, d.escrow.functions.dispute(t), d.buyer)
    r = tx(d, d.escrow.functions.proposeSettlement(t, 3333), d.seller)
    e = one(d, r, "SettlementProposed")
    assert (e["id"], e["by"], e["buyerBps"]) == (trade_id(t), d.seller, 3333)
    assert d.escrow_of(t)["settlementBps"] == 3333
    b = Balances(d)
    r = b.paid_gas("buyer", tx(d, d.escrow.functions.acceptSettlement(t, 3333), d.buyer))
    s = split(ODD, 3333, 0, PLATFORM_FEE_BPS)
    e = one(d, r, "Settled")
    assert (e["buyerBps"], e["toBuyer"], e["toSeller"], e["platformFee"]) == (
        3333,
        s["toBuyer"],
        s["toSeller"],
        s["platformFee"],
    )
    assert s["toBuyer"] + s["toSeller"] + s["platformFee"] == ODD
    assert b.delta()["buyer"] == s["toBuyer"] and b.delta()["seller"] == s["toSeller"]
    assert b.delta()["arbiter"] == 0
    assert d.escrow.functions.feesAccrued(ETH).call() == s["platformFee"]
    assert d.state_of(t) == "Settled"
    assert d.escrow_of(t)["held"] == 0
    assert d.record(d.buyer)["settled"] == d.record(d.seller)["settled"] == 1
    assert_escrow_holds(d, s["platformFee"])


def test_new_proposal_replaces_the_earlier_one(d: Deployment) -> None:
    t = funded(d)
    tx(d, d.escrow.functions.proposeSettlement(t, 3000), d.buyer)
    tx(d, d.escrow.functions.proposeSettlement(t, 6000), d.seller)
    # the seller's proposal replaced the buyer's: the seller cannot accept either
    with reverts("SettlementMismatch", proposedBps=0, acceptedBps=6000):
        d.send(d.escrow.functions.acceptSettlement(t, 6000), d.seller)
    with reverts("SettlementMismatch", proposedBps=6000, acceptedBps=3000):
        d.send(d.escrow.functions.acceptSettlement(t, 3000), d.buyer)
    tx(d, d.escrow.functions.proposeSettlement(t, 5000), d.seller)
    with reverts("SettlementMismatch", proposedBps=5000, acceptedBps=6000):
        d.send(d.escrow.functions.acceptSettlement(t, 6000), d.buyer)
    tx(d, d.escrow.functions.acceptSettlement(t, 5000), d.buyer)
    assert d.state_of(t) == "Settled"


def test_party_cannot_accept_own_proposal(d: Deployment) -> None:
    t = funded(d)
    tx(d, d.escrow.functions.proposeSettlement(t, 4000), d.buyer)
    with reverts("SettlementMismatch", proposedBps=0, acceptedBps=4000):
        d.send(d.escrow.functions.acceptSettlement(t, 4000), d.buyer)
    assert d.state_of(t) == "Funded"


# -- disputes --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "buyer_bps, outcome", [(3333, "Split"), (BPS, "BuyerWon"), (0, "SellerWon")]
)
def test_arbiter_ruling_pays_exact_shares_with_arbiter_and_platform_fees(
    d: Deployment, buyer_bps: int, outcome: str
) -> None:
    t = funded(d, amount=ODD, arbiterFeeBps=150)
    r = tx(d, d.escrow.functions.dispute(t), d.seller)
    e = one(d, r, "Disputed")
    assert (e["id"], e["by"], e["deadline"]) == (
        trade_id(t),
        d.seller,
        block_time(d, r) + t["arbitrationWindow"],
    )
    assert (
        d.escrow_of(t)["state"] == STATE["Disputed"] and d.escrow_of(t)["deadline"] == e["deadline"]
    )
    b = Balances(d)
    r = b.paid_gas("arbiter", tx(d, d.escrow.functions.rule(t, buyer_bps), d.arbiter))
    s = split(ODD, buyer_bps, 150, PLATFORM_FEE_BPS)
    assert s == dict(
        zip(
            ("toBuyer", "toSeller", "arbiterFee", "platformFee"),
            d.escrow.functions.computeSplit(ODD, buyer_bps, 150, PLATFORM_FEE_BPS).call(),
            strict=True,
        )
    )
    e = one(d, r, "Ruled")
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
    assert d.escrow.functions.feesAccrued(ETH).call() == s["platformFee"]
    assert d.state_of(t) == "Resolved" and d.escrow_of(t)["held"] == 0
    assert one(d, r, "OutcomeRecorded", d.reputation)["outcome"] == OUTCOME[outcome]
    assert_escrow_holds(d, s["platformFee"])


def test_expired_dispute_splits_evenly_without_arbiter_fee_odd_wei_to_seller(d: Deployment) -> None:
    t = funded(d, amount=ODD, arbiterFeeBps=500)
    tx(d, d.escrow.functions.dispute(t), d.buyer)
    deadline = d.escrow_of(t)["deadline"]
    d.chain.set_next_timestamp(deadline - 1)
    with reverts("DeadlineNotReached", deadline=deadline):
        d.send(d.escrow.functions.resolveExpiredDispute(t), d.stranger)
    d.chain.set_next_timestamp(deadline)
    b = Balances(d)
    r = b.paid_gas("stranger", tx(d, d.escrow.functions.resolveExpiredDispute(t), d.stranger))
    to_buyer = ODD // 2
    seller_gross = ODD - to_buyer
    assert seller_gross == to_buyer + 1
    e = one(d, r, "DisputeExpired")
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
    assert d.state_of(t) == "Resolved"
    assert one(d, r, "OutcomeRecorded", d.reputation)["outcome"] == OUTCOME["Split"]
    assert_escrow_holds(d, fee(seller_gross))


@pytest.mark.parametrize("who", ["buyer", "seller", "arbiter"])
def test_parties_and_arbiter_can_submit_evidence(d: Deployment, who: str) -> None:
    t = funded(d)
    tx(d, d.escrow.functions.dispute(t), d.buyer)
    r = tx(
        d, d.escrow.functions.submitEvidence(t, "ipfs://evidence", b"\x33" * 32), getattr(d, who)
    )
    e = one(d, r, "EvidenceSubmitted")
    assert (e["id"], e["by"], e["uri"], e["contentHash"]) == (
        trade_id(t),
        getattr(d, who),
        "ipfs://evidence",
        b"\x33" * 32,
    )


def test_stranger_cannot_submit_evidence(d: Deployment) -> None:
    t = funded(d)
    with reverts("Unauthorized", caller=d.stranger, id=trade_id(t)):
        d.send(d.escrow.functions.submitEvidence(t, "ipfs://x", b"\x00" * 32), d.stranger)


# -- credits and fees ------------------------------------------------------------------------------
def test_rejected_payout_is_credited_and_withdrawn_to_another_address(d: Deployment) -> None:
    party = d.chain.deploy("MaliciousParty", test=True)
    tx(d, party.functions.setMode(1), d.stranger)  # Revert: rejects ETH
    t = funded(d, seller=party.address, amount=ODD)
    r = tx(d, d.escrow.functions.release(t, ODD), d.buyer)
    net = ODD - fee(ODD)
    e = one(d, r, "PaymentCredited")
    assert (e["receiver"], e["token"], e["amount"]) == (party.address, ETH, net)
    assert d.state_of(t) == "Completed"
    assert d.escrow.functions.credits(party.address, ETH).call() == net
    assert d.balance(ETH, party.address) == 0
    assert_escrow_holds(d, net + fee(ODD))

    b = Balances(d)
    data = d.escrow.encode_abi("withdraw", args=[ETH, d.stranger])
    r = b.paid_gas("buyer", tx(d, party.functions.execute(d.escrow.address, data), d.buyer))
    e = one(d, r, "Withdrawn")
    assert (e["account"], e["token"], e["to"], e["amount"]) == (party.address, ETH, d.stranger, net)
    assert b.delta()["stranger"] == net
    assert d.escrow.functions.credits(party.address, ETH).call() == 0
    assert_escrow_holds(d, fee(ODD))


def test_withdraw_fees_pays_fee_recipient_anyone_can_call(d: Deployment) -> None:
    t1, t2 = funded(d, amount=ODD), funded(d, amount=3 * 10**18)
    tx(d, d.escrow.functions.release(t1, ODD), d.buyer)
    tx(d, d.escrow.functions.release(t2, 10**18), d.buyer)
    fees = fee(ODD) + fee(10**18)
    assert d.escrow.functions.feesAccrued(ETH).call() == fees
    b = Balances(d)
    r = b.paid_gas("stranger", tx(d, d.escrow.functions.withdrawFees(ETH), d.stranger))
    e = one(d, r, "FeesWithdrawn")
    assert (e["token"], e["recipient"], e["amount"]) == (ETH, d.fee_recipient, fees)
    assert b.delta()["fee_recipient"] == fees and b.delta()["stranger"] == 0
    assert d.escrow.functions.feesAccrued(ETH).call() == 0
    assert_escrow_holds(d, 2 * 10**18)  # t2 still holds the rest
    with reverts("NothingToWithdraw", account=d.fee_recipient, token=ETH):
        d.send(d.escrow.functions.withdrawFees(ETH), d.stranger)


# -- owner settings --------------------------------------------------------------------------------
def test_platform_fee_change_applies_to_new_trades_only(d: Deployment) -> None:
    old = funded(d, amount=ODD)
    r = tx(d, d.escrow.functions.setPlatformFee(400), d.owner)
    e = one(d, r, "PlatformFeeChanged")
    assert (e["previousBps"], e["newBps"]) == (PLATFORM_FEE_BPS, 400)
    assert d.escrow.functions.platformFeeBps().call() == 400
    with reverts("PlatformFeeMismatch", given=PLATFORM_FEE_BPS, current=400):
        d.send(d.escrow.functions.createAndFund(d.terms()), d.buyer, 10**18)
    new = funded(d, amount=ODD, platformFeeBps=400)
    b = Balances(d)
    r_old = b.paid_gas("buyer", tx(d, d.escrow.functions.release(old, ODD), d.buyer))
    assert one(d, r_old, "Released")["platformFee"] == fee(ODD, PLATFORM_FEE_BPS)
    r_new = b.paid_gas("buyer", tx(d, d.escrow.functions.release(new, ODD), d.buyer))
    assert one(d, r_new, "Released")["platformFee"] == fee(ODD, 400)
    assert b.delta()["seller"] == 2 * ODD - fee(ODD, PLATFORM_FEE_BPS) - fee(ODD, 400)
    assert d.escrow.functions.feesAccrued(ETH).call() == fee(ODD, PLATFORM_FEE_BPS) + fee(ODD, 400)


def test_zero_platform_fee_pays_seller_everything(d: Deployment) -> None:
    tx(d, d.escrow.functions.setPlatformFee(0), d.owner)
    t = funded(d, amount=ODD, platformFeeBps=0)
    b = Balances(d)
    r = tx(d, d.escrow.functions.release(t, ODD), d.buyer)
    assert one(d, r, "Released")["platformFee"] == 0
    assert b.delta()["seller"] == ODD
    assert d.escrow.functions.feesAccrued(ETH).call() == 0


def test_fee_recipient_change_redirects_accrued_fees(d: Deployment) -> None:
    t = funded(d, amount=ODD)
    tx(d, d.escrow.functions.release(t, ODD), d.buyer)
    r = tx(d, d.escrow.functions.setFeeRecipient(d.stranger), d.owner)
    e = one(d, r, "FeeRecipientChanged")
    assert (e["previousRecipient"], e["newRecipient"]) == (d.fee_recipient, d.stranger)
    assert d.escrow.functions.feeRecipient().call() == d.stranger
    b = Balances(d)
    r = b.paid_gas("buyer", tx(d, d.escrow.functions.withdrawFees(ETH), d.buyer))
    assert one(d, r, "FeesWithdrawn")["recipient"] == d.stranger
    assert b.delta()["stranger"] == fee(ODD) and b.delta()["fee_recipient"] == 0


def test_pause_blocks_new_trades_but_not_open_ones(d: Deployment) -> None:
    unfunded = d.terms()
    tx(d, d.escrow.functions.create(unfunded), d.buyer)
    open_trade = funded(d)
    r = tx(d, d.escrow.functions.pause(), d.owner)
    assert d.escrow.functions.paused().call()
    assert d.events(r, "Paused")[0]["account"] == d.owner
    t = d.terms()
    with reverts("EnforcedPause"):
        d.send(d.escrow.functions.create(t), d.buyer)
    with reverts("EnforcedPause"):
        d.send(d.escrow.functions.createAndFund(t), d.buyer, t["amount"])
    o = offer(d)
    with reverts("EnforcedPause"):
        d.send(d.escrow.functions.fillOffer(o, sign_offer(d, o)), d.buyer, o["amount"])
    # open trades go on
    tx(d, d.escrow.functions.fund(unfunded), d.buyer, unfunded["amount"])
    assert d.state_of(unfunded) == "Funded"
    tx(d, d.escrow.functions.release(open_trade, open_trade["amount"]), d.buyer)
    assert d.state_of(open_trade) == "Completed"
    tx(d, d.escrow.functions.unpause(), d.owner)
    assert not d.escrow.functions.paused().call()
    tx(d, d.escrow.functions.createAndFund(t), d.buyer, t["amount"])
    assert d.state_of(t) == "Funded"


def test_ownership_transfer_takes_two_steps(d: Deployment) -> None:
    new_owner = d.stranger
    r = tx(d, d.escrow.functions.transferOwnership(new_owner), d.owner)
    e = d.events(r, "OwnershipTransferStarted")[0]
    assert (e["previousOwner"], e["newOwner"]) == (d.owner, new_owner)
    assert d.escrow.functions.owner().call() == d.owner
    assert d.escrow.functions.pendingOwner().call() == new_owner
    with reverts("OwnableUnauthorizedAccount", account=new_owner):
        d.send(d.escrow.functions.setPlatformFee(1), new_owner)
    with reverts("OwnableUnauthorizedAccount", account=d.buyer):
        d.send(d.escrow.functions.acceptOwnership(), d.buyer)
    r = tx(d, d.escrow.functions.acceptOwnership(), new_owner)
    e = d.events(r, "OwnershipTransferred")[0]
    assert (e["previousOwner"], e["newOwner"]) == (d.owner, new_owner)
    assert d.escrow.functions.owner().call() == new_owner
    assert d.escrow.functions.pendingOwner().call() == ETH
    with reverts("OwnableUnauthorizedAccount", account=d.owner):
        d.send(d.escrow.functions.pause(), d.owner)
    tx(d, d.escrow.functions.setPlatformFee(1), new_owner)
    assert d.escrow.functions.platformFeeBps().call() == 1
