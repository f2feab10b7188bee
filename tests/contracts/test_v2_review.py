"""The review of the landed contracts (issue 12, "What was found"), each finding performed as an attack
on v2 and shown to fail, plus the smaller findings checked through the public interface."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from eth_utils import keccak
from support.escrow import (
    BPS,
    ETH,
    FLAG_CREATED_BY_SELLER,
    FLAG_RECORD_REPUTATION,
    FLAG_TIMEOUT_RELEASES,
    MARK_BUYER_RATED,
    MARK_DELIVERED,
    MARK_RECORDS,
    Deployment,
    fee_up,
    trade_id,
)
from support.offers import offer, reverts, sign_offer, tx
from support.v2 import (
    DEPOSITS,
    ONE,
    Receipt,
    at_deadline,
    balance_changes,
    create_and_fund,
    live,
    seller_created,
)

NO_COMMENT = b"\x00" * 32
EMPTY_RECORD = {"volume": 0, "completed": 0, "refunded": 0, "settled": 0, "disputesWon": 0, "disputesLost": 0,
                "disputesSplit": 0, "ratedVolume": 0, "weightedScore": 0, "count": 0}


def rate(d: Deployment, t: dict[str, Any], rater: str, score: int) -> Receipt:
    return tx(d, d.escrow.functions.rate(t, score, NO_COMMENT), rater)


# -- ratings for 1 wei: a stranger's trade toward a victim ------------------------------------------------
@pytest.mark.parametrize("amount", [1, ONE], ids=["1 wei", "1 ETH"])
def test_a_strangers_trade_naming_a_victim_seller_who_never_acts_records_nothing(
    deployed: Deployment, amount: int
) -> None:
    """ETH is listed with a minimum of 1 wei in the suite, so only consent stops the attack."""
    d = deployed
    victim = d.chain.accounts[7]
    t = d.terms(buyer=d.stranger, seller=victim, amount=amount)
    create_and_fund(d, t)
    tx(d, d.escrow.functions.release(t, amount), d.stranger)
    assert d.state_of(t) == "Completed"
    assert d.record(victim, ETH, "Seller") == EMPTY_RECORD
    assert d.record(d.stranger, ETH, "Buyer") == EMPTY_RECORD


@pytest.mark.parametrize("ending", ["release", "timeout"])
def test_no_one_can_rate_a_trade_pushed_on_a_victim(deployed: Deployment, ending: str) -> None:
    d = deployed
    victim = d.chain.accounts[7]
    t = d.terms(buyer=d.stranger, seller=victim, amount=1, flags=FLAG_RECORD_REPUTATION | FLAG_TIMEOUT_RELEASES)
    create_and_fund(d, t)
    if ending == "release":
        tx(d, d.escrow.functions.release(t, 1), d.stranger)
    else:
        at_deadline(d, t)
        tx(d, d.escrow.functions.timeout(t), d.stranger)
    for rater in (d.stranger, victim):
        with reverts("NotRecorded", id=trade_id(t)):
            d.send(d.escrow.functions.rate(t, 1, NO_COMMENT), rater)
    assert d.record(victim, ETH, "Seller") == EMPTY_RECORD


@pytest.mark.parametrize("gives_back", ["refunds", "concedes the buyer's dispute", "proposes giving everything back",
                                        "accepts giving everything back"])
def test_a_victim_who_gives_back_a_trade_pushed_on_it_does_not_become_rateable(
    deployed: Deployment, gives_back: str
) -> None:
    """Sending back money one never asked for is not entering the trade (the issue's list of acts that
    show consent has neither refund nor concession). Otherwise the review's attack returns: push a
    trade at the minimum toward a victim (naming your own arbiter), open a dispute or propose a
    settlement, wait for the honest refund, concession or settlement of everything back to you (no
    platform fee on any of them), then rate one star."""
    d = deployed
    victim, attackers_arbiter = d.chain.accounts[7], d.chain.accounts[8]
    t = d.terms(buyer=d.stranger, seller=victim, arbiter=attackers_arbiter)
    create_and_fund(d, t)
    e = d.escrow.functions
    if gives_back == "refunds":
        tx(d, e.refund(t, t["amount"]), victim)
    elif gives_back == "concedes the buyer's dispute":
        tx(d, e.dispute(t), d.stranger)
        tx(d, e.concede(t), victim)
    elif gives_back == "proposes giving everything back":
        tx(d, e.proposeSettlement(t, BPS), victim)
        tx(d, e.acceptSettlement(t, BPS), d.stranger)
    else:
        tx(d, e.proposeSettlement(t, BPS), d.stranger)
        tx(d, e.acceptSettlement(t, BPS), victim)
    with reverts("NotRecorded", id=trade_id(t)):
        d.send(d.escrow.functions.rate(t, 1, NO_COMMENT), d.stranger)
    assert d.record(victim, ETH, "Seller") == EMPTY_RECORD


# -- worthless tokens and cheap self-trades ----------------------------------------------------------
def self_trade(d: Deployment, attacker_buyer: str, attacker_seller: str, *, records: bool,
               **overrides: Any) -> list[Receipt]:
    """The attacker's two wallets trade with each other: the seller creates (consent), the buyer funds,
    releases and rates five stars, which succeeds exactly if the trade `records`. Returns every receipt
    of the attack."""
    t = d.terms(buyer=attacker_buyer, seller=attacker_seller, arbiter=ETH, arbiterFeeBps=0, **overrides)
    t["flags"] |= FLAG_CREATED_BY_SELLER
    receipts = [tx(d, d.escrow.functions.create(t), attacker_seller)]
    if t["token"] != ETH:
        token = d.chain.at("TestToken", t["token"], test=True)
        receipts.append(tx(d, token.functions.approve(d.escrow.address, t["amount"]), attacker_buyer))
    receipts.append(tx(d, d.escrow.functions.fund(t), attacker_buyer, t["amount"] if t["token"] == ETH else 0))
    receipts.append(tx(d, d.escrow.functions.release(t, t["amount"]), attacker_buyer))
    assert bool(d.marks_of(t) & MARK_RECORDS) == records
    if records:
        receipts.append(rate(d, t, attacker_buyer, 5))
    else:
        with reverts("NotRecorded", id=trade_id(t)):
            d.send(d.escrow.functions.rate(t, 5, NO_COMMENT), attacker_buyer)
    return receipts


def test_a_worthless_freshly_minted_token_records_nothing(deployed: Deployment) -> None:
    d = deployed
    buyer, seller = d.chain.accounts[5], d.chain.accounts[6]
    worthless = d.chain.deploy("TestToken", "Worthless", "NIL", 18, sender=seller, test=True)
    tx(d, worthless.functions.mint(buyer, 10**24), seller)
    assert d.escrow.functions.reputationAssets(worthless.address).call() == [False, 0]
    self_trade(d, buyer, seller, records=False, token=worthless.address, amount=10**24)
    assert d.record(seller, worthless.address, "Seller") == EMPTY_RECORD


def test_batched_self_trades_below_the_assets_minimum_record_nothing(deployed: Deployment) -> None:
    """Many small trades add up to nothing: the minimum is checked per trade, so splitting a volume
    into trades below it (one after another here, or batched from a contract) records none of them."""
    d = deployed
    minimum = 10**16  # 0.01 ETH
    d.list_asset(ETH, minimum)
    buyer, seller = d.chain.accounts[5], d.chain.accounts[6]
    for _ in range(5):
        self_trade(d, buyer, seller, records=False, amount=minimum - 1)
    assert d.record(seller, ETH, "Seller") == EMPTY_RECORD
    assert d.record(buyer, ETH, "Buyer") == EMPTY_RECORD


def test_self_trades_at_the_minimum_of_a_listed_asset_record_and_cost_the_fee_plus_gas(
    deployed: Deployment,
) -> None:
    """What faking reputation costs in v2: each self-trade at ETH's minimum (0.01 ETH here) records one
    unit of volume and one five-star rating, and costs its wallets the platform fee on the minimum
    (0.25%, rounded up: 25,000,000,000,000 wei) plus the gas of create, fund, release and rate
    (about 220,000 gas; at 20 gwei about 0.0044 ETH) — the fee is what scales with the volume claimed."""
    d = deployed
    minimum, trades = 10**16, 3
    d.list_asset(ETH, minimum)
    buyer, seller = d.chain.accounts[5], d.chain.accounts[6]
    before = d.chain.balance(buyer) + d.chain.balance(seller)
    receipts = [r for _ in range(trades) for r in self_trade(d, buyer, seller, records=True, amount=minimum)]
    after = d.chain.balance(buyer) + d.chain.balance(seller)
    gas = sum(int(r["gasUsed"]) for r in receipts)
    gas_cost = sum(int(r["gasUsed"]) * int(r["effectiveGasPrice"]) for r in receipts)
    assert before - after == trades * fee_up(minimum, 25) + gas_cost
    assert 150_000 * trades < gas < 300_000 * trades, gas
    record = d.record(seller, ETH, "Seller")
    assert (record["volume"], record["completed"]) == (trades * minimum, trades)
    assert (record["ratedVolume"], record["weightedScore"], record["count"]) == (
        trades * minimum, 5 * trades * minimum, trades)


# -- a trade without an arbiter cannot be robbed by its seller ------------------------------------------
def test_a_seller_marking_delivery_on_a_no_arbiter_trade_cannot_take_the_money_by_waiting(
    deployed: Deployment,
) -> None:
    d = deployed
    t = live(d, arbiter=ETH, arbiterFeeBps=0, flags=FLAG_RECORD_REPUTATION)  # refund on timeout
    deadline = d.escrow_of(t)["deadline"]
    receipt = tx(d, d.escrow.functions.markDelivered(t), d.seller)
    (marked,) = d.events(receipt, "DeliveryMarked")
    assert marked["deadline"] == deadline == d.escrow_of(t)["deadline"]  # the mark moves no deadline
    with reverts("NoArbiter", id=trade_id(t)):
        d.send(d.escrow.functions.dispute(t), d.buyer)
    at_deadline(d, t)
    changes = balance_changes(d, ETH, {"buyer": d.buyer, "seller": d.seller},
                              lambda: tx(d, d.escrow.functions.timeout(t), d.seller))
    assert changes == {"buyer": ONE, "seller": 0}
    assert d.state_of(t) == "Refunded"


# -- fees never round away --------------------------------------------------------------------------
def test_many_small_partial_releases_pay_at_least_the_fee_of_one_whole_release(deployed: Deployment) -> None:
    d = deployed
    amount, parts = 1_000, 10  # wei: 0.25% of a 100-wei part is 0.25 wei
    whole = live(d, amount=amount)
    tx(d, d.escrow.functions.release(whole, amount), d.buyer)
    whole_fee = d.unswept_fee(whole)
    assert whole_fee == 3  # ceil(2.5)
    in_parts = live(d, amount=amount)
    for _ in range(parts):
        tx(d, d.escrow.functions.release(in_parts, amount // parts), d.buyer)
    parts_fee = d.fees_accrued(ETH) + d.unswept_fee(in_parts)
    assert parts_fee == parts * 1
    assert parts_fee >= whole_fee
    swept = balance_changes(d, ETH, {"fee_recipient": d.fee_recipient},
                            lambda: d.sweep_fees(ETH, [whole, in_parts]))
    assert swept == {"fee_recipient": whole_fee + parts_fee}


# -- the reputation contract has one writer -----------------------------------------------------------
def _some_value(abi_type: str, d: Deployment) -> Any:
    if abi_type == "address":
        return d.seller
    if abi_type.startswith("bytes"):
        return b"\x01" * int(abi_type[5:] or 32)
    return 1  # uint*: 1 fits every score, role, outcome and amount


@pytest.mark.parametrize("caller", ["owner", "stranger", "buyer"])
def test_nobody_but_the_escrow_can_write_to_reputation(deployed: Deployment, caller: str) -> None:
    """Every function of Reputation that is not a view, called directly with plausible arguments."""
    d = deployed
    who = getattr(d, caller)
    writers = [e for e in d.reputation.abi if e["type"] == "function" and e["stateMutability"] != "view"]
    assert {e["name"] for e in writers} == {"recordOutcome", "recordRating"}
    for entry in writers:
        args = [_some_value(i["type"], d) for i in entry["inputs"]]
        with reverts("NotEscrow", caller=who):
            d.send(getattr(d.reputation.functions, entry["name"])(*args), who)
    assert d.record(d.seller, ETH, "Seller") == EMPTY_RECORD
    assert d.record(d.seller, ETH, "Buyer") == EMPTY_RECORD


def test_reputation_has_no_owner_and_no_way_to_bind_another_escrow(deployed: Deployment) -> None:
    functions = {e["name"] for e in deployed.reputation.abi if e["type"] == "function"}
    assert functions == {"escrow", "recordOutcome", "recordRating", "recordOf"}


def test_the_escrows_reputation_contract_holds_code_and_answers_only_to_it(deployed: Deployment) -> None:
    d = deployed
    address = d.escrow.functions.reputation().call()
    assert len(d.chain.w3.eth.get_code(address)) > 0
    assert address == d.reputation.address
    assert d.reputation.functions.escrow().call() == d.escrow.address


# -- losers are rateable ----------------------------------------------------------------------------
def test_a_seller_who_refunded_everything_can_be_rated(deployed: Deployment) -> None:
    d = deployed
    t = live(d)
    tx(d, d.escrow.functions.refund(t, ONE), d.seller)
    rate(d, t, d.buyer, 1)
    assert d.record(d.seller, ETH, "Seller") == {**EMPTY_RECORD, "volume": ONE, "refunded": 1,
                                                 "ratedVolume": ONE, "weightedScore": ONE, "count": 1}


def test_a_seller_who_lost_a_full_ruling_can_be_rated(deployed: Deployment) -> None:
    d = deployed
    t = live(d)
    tx(d, d.escrow.functions.dispute(t), d.buyer)
    tx(d, d.escrow.functions.rule(t, BPS), d.arbiter)
    rate(d, t, d.buyer, 1)
    rate(d, t, d.seller, 2)
    seller, buyer = d.record(d.seller, ETH, "Seller"), d.record(d.buyer, ETH, "Buyer")
    assert (seller["disputesLost"], seller["count"], seller["weightedScore"]) == (1, 1, ONE)
    assert (buyer["disputesWon"], buyer["count"], buyer["weightedScore"]) == (1, 1, 2 * ONE)


@pytest.mark.parametrize("conceder", ["buyer", "seller"])
def test_a_party_who_conceded_can_be_rated(deployed: Deployment, conceder: str) -> None:
    d = deployed
    t = live(d)
    other = "seller" if conceder == "buyer" else "buyer"
    tx(d, d.escrow.functions.dispute(t), getattr(d, other))
    tx(d, d.escrow.functions.concede(t), getattr(d, conceder))
    rate(d, t, getattr(d, other), 1)
    conceder_record = d.record(getattr(d, conceder), ETH, conceder.capitalize())
    assert (conceder_record["disputesLost"], conceder_record["count"], conceder_record["weightedScore"]) == (
        1, 1, ONE)


# -- a paused escrow takes no new money; every way out stays open -------------------------------------
def _pause(d: Deployment) -> None:
    tx(d, d.escrow.functions.pause(), d.owner)


def _new_money(d: Deployment) -> dict[str, Callable[[], Any]]:
    """Each way money enters the escrow, prepared before the pause, as a call to make after it."""
    e = d.escrow.functions
    unfunded = d.terms(flags=FLAG_RECORD_REPUTATION | FLAG_CREATED_BY_SELLER)
    tx(d, e.create(unfunded), d.seller)
    awaiting = d.terms(sellerDeposit=ONE)
    create_and_fund(d, awaiting)
    d.deposit_bond(ONE)
    o = offer(d)
    signature = sign_offer(d, o)
    # A permit that fails is tolerated when an allowance covers the pull: approve, send a dummy permit.
    token = d.tokens["permit"].address
    d.approve(token, d.buyer, 10**30)
    token_offer = offer(d, token=token)
    token_signature = sign_offer(d, token_offer)
    no_permit = (2**64, 27, b"\x00" * 32, b"\x00" * 32)
    return {
        "create": lambda: d.send(e.create(d.terms()), d.buyer),
        "createAndFund": lambda: d.send(e.createAndFund(d.terms()), d.buyer, ONE),
        "createAndFundWithPermit": lambda: d.send(e.createAndFundWithPermit(d.terms(token=token), no_permit),
                                                  d.buyer),
        "fund": lambda: d.send(e.fund(unfunded), d.buyer, ONE),
        "accept": lambda: d.send(e.accept(awaiting), d.seller),
        "fillOffer": lambda: d.send(e.fillOffer(o, signature), d.buyer, ONE),
        "fillOfferWithPermit": lambda: d.send(e.fillOfferWithPermit(token_offer, token_signature, no_permit),
                                              d.buyer),
        "depositBond": lambda: d.send(e.depositBond(ETH, ONE), d.seller, ONE),
    }


NEW_MONEY = ["create", "createAndFund", "createAndFundWithPermit", "fund", "accept", "fillOffer",
             "fillOfferWithPermit", "depositBond"]


@pytest.mark.parametrize("way_in", NEW_MONEY)
def test_a_paused_escrow_takes_no_new_money(deployed: Deployment, way_in: str) -> None:
    d = deployed
    _new_money(d)[way_in]()  # works before the pause
    calls = _new_money(d)  # the same call, prepared afresh, is refused once paused
    _pause(d)
    with reverts("EnforcedPause"):
        calls[way_in]()


def _way_out(d: Deployment, way: str) -> tuple[Callable[[], Any], Callable[[], bool]]:
    """A way out of the escrow, prepared before the pause: (the call to make after it, whether it worked)."""
    e = d.escrow.functions
    if way == "cancel":
        unfunded = seller_created(d, **DEPOSITS)
        return lambda: tx(d, e.cancel(unfunded), d.seller), lambda: d.state_of(unfunded) == "Cancelled"
    if way == "withdrawBond":
        d.deposit_bond(ONE)
        return lambda: tx(d, e.withdrawBond(ETH, ONE, d.seller), d.seller), lambda: d.bond() == 0
    if way == "withdraw":
        blacklist = d.tokens["blacklist"]
        credited = live(d, token=blacklist.address)
        tx(d, blacklist.functions.setBlacklisted(d.seller, True), d.owner)
        tx(d, e.release(credited, ONE), d.buyer)
        tx(d, blacklist.functions.setBlacklisted(d.seller, False), d.owner)
        return (lambda: tx(d, e.withdraw(blacklist.address, d.seller), d.seller),
                lambda: d.credit(d.seller, blacklist.address) == 0)
    t = live(d, **DEPOSITS)

    def state(expected: str) -> Callable[[], bool]:
        return lambda: d.state_of(t) == expected

    if way in ("rule", "concede", "resolveExpiredDispute"):
        tx(d, e.dispute(t), d.buyer)
    if way == "release":
        return lambda: tx(d, e.release(t, ONE), d.buyer), state("Completed")
    if way == "refund":
        return lambda: tx(d, e.refund(t, ONE), d.seller), state("Refunded")
    if way == "timeout":
        return lambda: (at_deadline(d, t), tx(d, e.timeout(t), d.stranger)), state("Refunded")
    if way == "dispute":
        return lambda: tx(d, e.dispute(t), d.seller), state("Disputed")
    if way == "rule":
        return lambda: tx(d, e.rule(t, 5000), d.arbiter), state("Resolved")
    if way == "concede":
        return lambda: tx(d, e.concede(t), d.seller), state("Resolved")
    if way == "resolveExpiredDispute":
        return lambda: (at_deadline(d, t), tx(d, e.resolveExpiredDispute(t), d.stranger)), state("Resolved")
    if way == "acceptSettlement":
        tx(d, e.proposeSettlement(t, 3000), d.buyer)
        return lambda: tx(d, e.acceptSettlement(t, 3000), d.seller), state("Settled")
    if way == "markDelivered":
        return lambda: tx(d, e.markDelivered(t), d.seller), lambda: d.marks_of(t) & MARK_DELIVERED != 0
    tx(d, e.release(t, ONE), d.buyer)
    if way == "sweepFees":
        return lambda: d.sweep_fees(ETH, [t]), lambda: d.unswept_fee(t) == 0
    if way == "rate":
        return lambda: rate(d, t, d.buyer, 4), lambda: d.marks_of(t) & MARK_BUYER_RATED != 0
    raise AssertionError(way)


WAYS_OUT = ["release", "refund", "timeout", "dispute", "rule", "concede", "acceptSettlement",
            "resolveExpiredDispute", "markDelivered", "cancel", "withdraw", "withdrawBond", "sweepFees", "rate"]


@pytest.mark.parametrize("way_out", WAYS_OUT)
def test_every_way_out_works_while_paused(deployed: Deployment, way_out: str) -> None:
    d = deployed
    call, worked = _way_out(d, way_out)
    _pause(d)
    assert d.escrow.functions.paused().call()
    assert not worked()
    call()
    assert worked()


# -- smaller findings ---------------------------------------------------------------------------------
def test_payment_credited_names_its_trade(deployed: Deployment) -> None:
    d = deployed
    blacklist = d.tokens["blacklist"]
    t = live(d, token=blacklist.address)
    tx(d, blacklist.functions.setBlacklisted(d.seller, True), d.owner)
    receipt = tx(d, d.escrow.functions.release(t, ONE), d.buyer)
    (credited,) = d.events(receipt, "PaymentCredited")
    assert dict(credited) == {"id": trade_id(t), "receiver": d.seller, "token": blacklist.address,
                              "amount": ONE - fee_up(ONE, 25)}
    assert d.credit(d.seller, blacklist.address) == ONE - fee_up(ONE, 25)


def test_an_evidence_uri_of_512_bytes_is_accepted(deployed: Deployment) -> None:
    d = deployed
    t = live(d)
    uri = "ipfs://" + "a" * 505
    assert len(uri.encode()) == 512
    receipt = tx(d, d.escrow.functions.submitEvidence(t, keccak(b"evidence"), uri), d.buyer)
    (event,) = d.events(receipt, "EvidenceSubmitted")
    assert dict(event) == {"id": trade_id(t), "by": d.buyer, "contentHash": keccak(b"evidence"), "uri": uri}


def test_an_evidence_uri_over_512_bytes_is_refused(deployed: Deployment) -> None:
    d = deployed
    t = live(d)
    uri = "ipfs://" + "é" * 253  # 7 + 506 bytes: the bound is in bytes, not characters
    assert len(uri.encode()) == 513
    with reverts("UriTooLong", length=513, max=512):
        d.send(d.escrow.functions.submitEvidence(t, keccak(b"evidence"), uri), d.buyer)
