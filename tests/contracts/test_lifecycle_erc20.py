"""The core paths of a token trade, for every kind of token the escrow must handle.

Exact tokens (what is sent is what arrives): standard 18 decimals, 6 decimals, no-return
(USDT-like), EIP-2612 permit, blacklist (USDC-like). Then the kinds with their own rules:
fee-on-transfer (held is what arrived), blacklist (payouts to a blacklisted party are credited),
permit (one-transaction funding).
"""

from __future__ import annotations

from typing import Any

import pytest
from support.escrow import (
    BPS,
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
from support.offers import approve, balance_of, next_time, reverts, sign_permit, tx

EXACT = ["standard", "six_decimals", "no_return", "permit", "blacklist"]
# Payout paths need no more than the kinds whose transfer/decimals behaviour differs (permit and
# blacklist tokens behave like the standard one until a permit or a blacklisting is involved).
CORE = ["standard", "six_decimals", "no_return"]
DECIMALS = {
    "standard": 18,
    "six_decimals": 6,
    "no_return": 6,
    "permit": 18,
    "blacklist": 18,
    "fee_on_transfer": 18,
}


def amount_for(kind: str) -> int:
    """5.000…07 tokens: odd, so every rounding rule shows."""
    return 5 * 10 ** DECIMALS[kind] + 7


def fee(amount: int, bps: int = PLATFORM_FEE_BPS) -> int:
    return amount * bps // BPS


def one(d: Deployment, receipt: dict[str, Any], name: str, contract: Any = None) -> Any:
    found = d.events(receipt, name, contract)
    assert len(found) == 1, f"expected one {name}, got {found}"
    return found[0]


def block_time(d: Deployment, receipt: dict[str, Any]) -> int:
    return int(d.chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"])


class Ledger:
    """Token balances of the usual accounts and the escrow, before/after."""

    def __init__(self, d: Deployment, token: str) -> None:
        self.d, self.token = d, token
        self.who = {
            "buyer": d.buyer,
            "seller": d.seller,
            "arbiter": d.arbiter,
            "stranger": d.stranger,
            "fee_recipient": d.fee_recipient,
            "escrow": d.escrow.address,
        }
        self.before = self._read()

    def _read(self) -> dict[str, int]:
        return {k: balance_of(self.d, self.token, a) for k, a in self.who.items()}

    def delta(self) -> dict[str, int]:
        now = self._read()
        return {k: now[k] - self.before[k] for k in self.who}


def token_terms(d: Deployment, kind: str, **overrides: Any) -> dict[str, Any]:
    return d.terms(token=d.tokens[kind].address, amount=amount_for(kind), **overrides)


def funded(d: Deployment, kind: str, **overrides: Any) -> dict[str, Any]:
    t = token_terms(d, kind, **overrides)
    approve(d, t["token"], t["buyer"], t["amount"])
    tx(d, d.escrow.functions.createAndFund(t), t["buyer"])
    return t


def fees_accrued(d: Deployment, t: dict[str, Any]) -> int:
    return int(d.escrow.functions.feesAccrued(t["token"]).call())


# -- exact tokens ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", EXACT)
def test_seller_created_trade_funded_by_buyer_pulls_exact_amount(d: Deployment, kind: str) -> None:
    t = token_terms(d, kind, flags=FLAG_RECORD_REPUTATION | FLAG_CREATED_BY_SELLER)
    tx(d, d.escrow.functions.create(t), d.seller)
    assert d.state_of(t) == "AwaitingFunding"
    approve(d, t["token"], d.buyer, t["amount"])
    led = Ledger(d, t["token"])
    r = tx(d, d.escrow.functions.fund(t), d.buyer)
    e = one(d, r, "TradeFunded")
    assert (e["id"], e["held"], e["deadline"]) == (
        trade_id(t),
        t["amount"],
        block_time(d, r) + t["releaseWindow"],
    )
    assert led.delta()["buyer"] == -t["amount"] and led.delta()["escrow"] == t["amount"]
    assert d.escrow_of(t)["held"] == t["amount"] and d.state_of(t) == "Funded"


@pytest.mark.parametrize("kind", EXACT)
def test_create_and_fund_then_release_in_parts(d: Deployment, kind: str) -> None:
    t = token_terms(d, kind)
    approve(d, t["token"], d.buyer, t["amount"])
    led = Ledger(d, t["token"])
    r = tx(d, d.escrow.functions.createAndFund(t), d.buyer)
    e = one(d, r, "TradeCreated")
    assert dict(e["terms"]) == t and e["held"] == t["amount"]
    assert led.delta()["escrow"] == t["amount"]
    first = t["amount"] // 3
    rest = t["amount"] - first
    r1 = tx(d, d.escrow.functions.release(t, first), d.buyer)
    assert one(d, r1, "Released")["heldAfter"] == rest and d.state_of(t) == "Funded"
    r2 = tx(d, d.escrow.functions.release(t, rest), d.buyer)
    assert one(d, r2, "Released")["platformFee"] == fee(rest)
    assert d.state_of(t) == "Completed"
    fees = fee(first) + fee(rest)
    delta = led.delta()
    assert (
        delta["seller"] == t["amount"] - fees
        and delta["buyer"] == -t["amount"]
        and delta["escrow"] == fees
    )
    assert fees_accrued(d, t) == fees
    assert d.record(d.seller)["completedAsSeller"] == 1


@pytest.mark.parametrize("kind", CORE)
def test_partial_refund_then_release_of_the_rest(d: Deployment, kind: str) -> None:
    t = funded(d, kind)
    part = t["amount"] // 4
    led = Ledger(d, t["token"])
    tx(d, d.escrow.functions.refund(t, part), d.seller)
    assert d.state_of(t) == "Funded"
    tx(d, d.escrow.functions.release(t, t["amount"] - part), d.buyer)
    assert d.state_of(t) == "Completed"
    delta = led.delta()
    assert delta["buyer"] == part
    assert delta["seller"] == t["amount"] - part - fee(t["amount"] - part)
    assert delta["escrow"] == -(t["amount"] - fee(t["amount"] - part))


@pytest.mark.parametrize("kind", EXACT)
def test_full_refund_returns_every_token(d: Deployment, kind: str) -> None:
    t = funded(d, kind)
    led = Ledger(d, t["token"])
    r = tx(d, d.escrow.functions.refund(t, t["amount"]), d.seller)
    assert one(d, r, "Refunded")["toBuyer"] == t["amount"]
    assert led.delta()["buyer"] == t["amount"] and led.delta()["escrow"] == -t["amount"]
    assert d.state_of(t) == "Refunded" and fees_accrued(d, t) == 0


@pytest.mark.parametrize("kind", CORE)
def test_ruling_pays_exact_token_shares(d: Deployment, kind: str) -> None:
    t = funded(d, kind, arbiterFeeBps=250)
    tx(d, d.escrow.functions.dispute(t), d.buyer)
    led = Ledger(d, t["token"])
    r = tx(d, d.escrow.functions.rule(t, 4001), d.arbiter)
    s = split(t["amount"], 4001, 250, PLATFORM_FEE_BPS)
    e = one(d, r, "Ruled")
    assert (e["toBuyer"], e["toSeller"], e["arbiterFee"], e["platformFee"]) == (
        s["toBuyer"],
        s["toSeller"],
        s["arbiterFee"],
        s["platformFee"],
    )
    delta = led.delta()
    assert (delta["buyer"], delta["seller"], delta["arbiter"]) == (
        s["toBuyer"],
        s["toSeller"],
        s["arbiterFee"],
    )
    assert delta["escrow"] == -(t["amount"] - s["platformFee"])
    assert sum(s.values()) == t["amount"]
    assert fees_accrued(d, t) == s["platformFee"]
    assert d.state_of(t) == "Resolved"


@pytest.mark.parametrize("kind", CORE)
def test_settlement_in_dispute_pays_agreed_token_split(d: Deployment, kind: str) -> None:
    t = funded(d, kind)
    tx(d, d.escrow.functions.dispute(t), d.seller)
    tx(d, d.escrow.functions.proposeSettlement(t, 2500), d.buyer)
    led = Ledger(d, t["token"])
    r = tx(d, d.escrow.functions.acceptSettlement(t, 2500), d.seller)
    s = split(t["amount"], 2500, 0, PLATFORM_FEE_BPS)
    e = one(d, r, "Settled")
    assert (e["toBuyer"], e["toSeller"], e["platformFee"]) == (
        s["toBuyer"],
        s["toSeller"],
        s["platformFee"],
    )
    assert (led.delta()["buyer"], led.delta()["seller"], led.delta()["arbiter"]) == (
        s["toBuyer"],
        s["toSeller"],
        0,
    )
    assert d.state_of(t) == "Settled"


@pytest.mark.parametrize("kind", CORE)
@pytest.mark.parametrize("releases", [True, False], ids=["release-policy", "refund-policy"])
def test_timeout_applies_policy_with_tokens(d: Deployment, kind: str, releases: bool) -> None:
    flags = FLAG_RECORD_REPUTATION | (FLAG_TIMEOUT_RELEASES if releases else 0)
    t = funded(d, kind, flags=flags)
    d.chain.set_next_timestamp(d.escrow_of(t)["deadline"])
    led = Ledger(d, t["token"])
    r = tx(d, d.escrow.functions.timeout(t), d.stranger)
    e = one(d, r, "TimedOut")
    assert (e["toSeller"], e["amount"]) == (releases, t["amount"])
    if releases:
        assert led.delta()["seller"] == t["amount"] - fee(t["amount"]) and led.delta()["buyer"] == 0
        assert d.state_of(t) == "Completed"
    else:
        assert led.delta()["buyer"] == t["amount"] and led.delta()["seller"] == 0
        assert d.state_of(t) == "Refunded"


@pytest.mark.parametrize("kind", CORE)
def test_expired_dispute_even_token_split_and_fees_withdrawn(d: Deployment, kind: str) -> None:
    t = funded(d, kind)
    tx(d, d.escrow.functions.dispute(t), d.buyer)
    d.chain.set_next_timestamp(d.escrow_of(t)["deadline"])
    led = Ledger(d, t["token"])
    r = tx(d, d.escrow.functions.resolveExpiredDispute(t), d.stranger)
    to_buyer = t["amount"] // 2
    gross = t["amount"] - to_buyer
    e = one(d, r, "DisputeExpired")
    assert (e["toBuyer"], e["toSeller"], e["platformFee"]) == (
        to_buyer,
        gross - fee(gross),
        fee(gross),
    )
    assert (led.delta()["buyer"], led.delta()["seller"], led.delta()["arbiter"]) == (
        to_buyer,
        gross - fee(gross),
        0,
    )
    r = tx(d, d.escrow.functions.withdrawFees(t["token"]), d.stranger)
    e = one(d, r, "FeesWithdrawn")
    assert (e["token"], e["recipient"], e["amount"]) == (t["token"], d.fee_recipient, fee(gross))
    assert led.delta()["fee_recipient"] == fee(gross)
    assert fees_accrued(d, t) == 0
    assert balance_of(d, t["token"], d.escrow.address) == 0


@pytest.mark.parametrize("kind", CORE)
def test_buyer_created_trade_marked_delivered_times_out_to_seller(d: Deployment, kind: str) -> None:
    t = token_terms(d, kind)  # timeout refunds the buyer unless delivery is marked
    tx(d, d.escrow.functions.create(t), d.buyer)
    approve(d, t["token"], d.buyer, t["amount"])
    tx(d, d.escrow.functions.fund(t), d.buyer)
    r = tx(d, d.escrow.functions.markDelivered(t), d.seller)
    deadline = block_time(d, r) + t["releaseWindow"]
    assert one(d, r, "DeliveryMarked")["deadline"] == deadline == d.escrow_of(t)["deadline"]
    d.chain.set_next_timestamp(deadline)
    led = Ledger(d, t["token"])
    r = tx(d, d.escrow.functions.timeout(t), d.stranger)
    e = one(d, r, "TimedOut")
    assert (e["toSeller"], e["amount"], e["platformFee"]) == (True, t["amount"], fee(t["amount"]))
    assert led.delta()["seller"] == t["amount"] - fee(t["amount"]) and led.delta()["buyer"] == 0
    assert fees_accrued(d, t) == fee(t["amount"])
    assert d.state_of(t) == "Completed"


@pytest.mark.parametrize("kind", CORE)
def test_cancelled_token_trade_moves_nothing(d: Deployment, kind: str) -> None:
    t = token_terms(d, kind)
    tx(d, d.escrow.functions.create(t), d.buyer)
    approve(d, t["token"], d.buyer, t["amount"])
    led = Ledger(d, t["token"])
    tx(d, d.escrow.functions.cancel(t), d.buyer)
    assert d.state_of(t) == "Cancelled"
    assert led.delta() == {k: 0 for k in led.who}


def test_six_decimal_token_fee_rounds_down_on_small_amounts(d: Deployment) -> None:
    # 399 base units at 0.25%: fee 0.9975 -> 0; 400 -> exactly 1
    t = d.terms(token=d.tokens["six_decimals"].address, amount=799)
    d.create_and_fund(t)
    led = Ledger(d, t["token"])
    r1 = tx(d, d.escrow.functions.release(t, 399), d.buyer)
    r2 = tx(d, d.escrow.functions.release(t, 400), d.buyer)
    assert one(d, r1, "Released")["platformFee"] == 0
    assert one(d, r2, "Released")["platformFee"] == 1
    assert led.delta()["seller"] == 798 and fees_accrued(d, t) == 1


# -- fee-on-transfer -------------------------------------------------------------------------------
def fot_arrived(amount: int) -> int:
    return amount - amount * 100 // BPS  # the token burns 1% of every transfer


def test_fee_on_transfer_trade_holds_what_arrived(d: Deployment) -> None:
    t = token_terms(d, "fee_on_transfer")
    approve(d, t["token"], d.buyer, t["amount"])
    led = Ledger(d, t["token"])
    r = tx(d, d.escrow.functions.createAndFund(t), d.buyer)
    held = fot_arrived(t["amount"])
    assert held < t["amount"]
    assert one(d, r, "TradeCreated")["held"] == held
    assert d.escrow_of(t)["held"] == held
    assert led.delta()["escrow"] == held and led.delta()["buyer"] == -t["amount"]


def test_fee_on_transfer_fund_reports_what_arrived(d: Deployment) -> None:
    t = token_terms(d, "fee_on_transfer")
    tx(d, d.escrow.functions.create(t), d.buyer)
    approve(d, t["token"], d.buyer, t["amount"])
    r = tx(d, d.escrow.functions.fund(t), d.buyer)
    assert one(d, r, "TradeFunded")["held"] == fot_arrived(t["amount"])
    assert d.escrow_of(t)["held"] == fot_arrived(t["amount"])


def test_fee_on_transfer_release_pays_from_what_arrived(d: Deployment) -> None:
    t = funded(d, "fee_on_transfer")
    held = fot_arrived(t["amount"])
    with reverts("InvalidPart", requested=t["amount"], held=held):
        d.send(d.escrow.functions.release(t, t["amount"]), d.buyer)
    led = Ledger(d, t["token"])
    r = tx(d, d.escrow.functions.release(t, held), d.buyer)
    e = one(d, r, "Released")
    assert (e["toSeller"], e["platformFee"], e["heldAfter"]) == (held - fee(held), fee(held), 0)
    assert led.delta()["seller"] == fot_arrived(
        held - fee(held)
    )  # the token takes its cut on the way out
    assert led.delta()["escrow"] == -(held - fee(held))
    assert fees_accrued(d, t) == fee(held)
    assert d.state_of(t) == "Completed"
    tx(d, d.escrow.functions.withdrawFees(t["token"]), d.stranger)
    assert led.delta()["fee_recipient"] == fot_arrived(fee(held))
    assert balance_of(d, t["token"], d.escrow.address) == 0  # nothing stuck, nothing missing


def test_fee_on_transfer_ruling_splits_what_arrived(d: Deployment) -> None:
    t = funded(d, "fee_on_transfer")
    held = fot_arrived(t["amount"])
    tx(d, d.escrow.functions.dispute(t), d.buyer)
    r = tx(d, d.escrow.functions.rule(t, 5000), d.arbiter)
    s = split(held, 5000, 100, PLATFORM_FEE_BPS)
    e = one(d, r, "Ruled")
    assert (e["toBuyer"], e["toSeller"], e["arbiterFee"], e["platformFee"]) == (
        s["toBuyer"],
        s["toSeller"],
        s["arbiterFee"],
        s["platformFee"],
    )
    assert balance_of(d, t["token"], d.escrow.address) == s["platformFee"]


def test_fee_on_transfer_refund_returns_what_arrived(d: Deployment) -> None:
    t = funded(d, "fee_on_transfer")
    held = fot_arrived(t["amount"])
    led = Ledger(d, t["token"])
    r = tx(d, d.escrow.functions.refund(t, held), d.seller)
    assert one(d, r, "Refunded")["toBuyer"] == held
    assert led.delta()["buyer"] == fot_arrived(held)
    assert d.state_of(t) == "Refunded" and balance_of(d, t["token"], d.escrow.address) == 0


# -- blacklist -------------------------------------------------------------------------------------
def test_blacklisted_seller_payout_is_credited_and_withdrawn_elsewhere(d: Deployment) -> None:
    token = d.tokens["blacklist"]
    t = funded(d, "blacklist")
    tx(d, token.functions.setBlacklisted(d.seller, True), d.owner)
    led = Ledger(d, t["token"])
    r = tx(d, d.escrow.functions.release(t, t["amount"]), d.buyer)
    net = t["amount"] - fee(t["amount"])
    e = one(d, r, "PaymentCredited")
    assert (e["receiver"], e["token"], e["amount"]) == (d.seller, t["token"], net)
    assert d.state_of(t) == "Completed"  # the payout did not block the transition
    assert d.escrow.functions.credits(d.seller, t["token"]).call() == net
    assert led.delta()["escrow"] == 0 and led.delta()["seller"] == 0
    with reverts("Blacklisted", account=d.seller):
        d.send(d.escrow.functions.withdraw(t["token"], d.seller), d.seller)
    r = tx(d, d.escrow.functions.withdraw(t["token"], d.stranger), d.seller)
    e = one(d, r, "Withdrawn")
    assert (e["account"], e["token"], e["to"], e["amount"]) == (
        d.seller,
        t["token"],
        d.stranger,
        net,
    )
    assert led.delta()["stranger"] == net
    assert d.escrow.functions.credits(d.seller, t["token"]).call() == 0
    assert led.delta()["escrow"] == -net


def test_blacklisted_buyer_refund_is_credited_and_ruling_still_pays_seller(d: Deployment) -> None:
    token = d.tokens["blacklist"]
    t = funded(d, "blacklist")
    tx(d, d.escrow.functions.dispute(t), d.seller)
    tx(d, token.functions.setBlacklisted(d.buyer, True), d.owner)
    led = Ledger(d, t["token"])
    r = tx(d, d.escrow.functions.rule(t, 5000), d.arbiter)
    s = split(t["amount"], 5000, 100, PLATFORM_FEE_BPS)
    e = one(d, r, "PaymentCredited")
    assert (e["receiver"], e["amount"]) == (d.buyer, s["toBuyer"])
    assert led.delta()["seller"] == s["toSeller"] and led.delta()["arbiter"] == s["arbiterFee"]
    assert d.escrow.functions.credits(d.buyer, t["token"]).call() == s["toBuyer"]
    tx(d, d.escrow.functions.withdraw(t["token"], d.stranger), d.buyer)
    assert led.delta()["stranger"] == s["toBuyer"]


# -- permit ----------------------------------------------------------------------------------------
def test_create_and_fund_with_permit_needs_no_approve(d: Deployment) -> None:
    token = d.tokens["permit"]
    t = token_terms(d, "permit")
    assert token.functions.allowance(d.buyer, d.escrow.address).call() == 0
    permit = sign_permit(d, token, d.buyer, d.escrow.address, t["amount"], next_time(d) + 3600)
    led = Ledger(d, t["token"])
    block_before = d.chain.w3.eth.block_number
    r = tx(d, d.escrow.functions.createAndFundWithPermit(t, permit), d.buyer)
    assert r["blockNumber"] == block_before + 1  # one transaction
    assert one(d, r, "TradeCreated")["held"] == t["amount"]
    assert led.delta()["buyer"] == -t["amount"] and led.delta()["escrow"] == t["amount"]
    assert token.functions.allowance(d.buyer, d.escrow.address).call() == 0
    assert token.functions.nonces(d.buyer).call() == 1
    assert d.state_of(t) == "Funded"
    tx(d, d.escrow.functions.release(t, t["amount"]), d.buyer)
    assert led.delta()["seller"] == t["amount"] - fee(t["amount"])


def test_front_run_permit_does_not_block_funding(d: Deployment) -> None:
    token = d.tokens["permit"]
    t = token_terms(d, "permit")
    p = sign_permit(d, token, d.buyer, d.escrow.address, t["amount"], next_time(d) + 3600)
    # someone submits the buyer's permit first: the escrow's own permit call then fails, the
    # allowance stays
    tx(
        d,
        token.functions.permit(
            d.buyer, d.escrow.address, t["amount"], p["deadline"], p["v"], p["r"], p["s"]
        ),
        d.stranger,
    )
    tx(d, d.escrow.functions.createAndFundWithPermit(t, p), d.buyer)
    assert d.state_of(t) == "Funded" and d.escrow_of(t)["held"] == t["amount"]


def test_bad_permit_without_allowance_fails_on_transfer(d: Deployment) -> None:
    token = d.tokens["permit"]
    t = token_terms(d, "permit")
    p = sign_permit(
        d, token, d.buyer, d.escrow.address, t["amount"] - 1, next_time(d) + 3600
    )  # wrong value
    with reverts(
        "ERC20InsufficientAllowance", spender=d.escrow.address, allowance=0, needed=t["amount"]
    ):
        d.send(d.escrow.functions.createAndFundWithPermit(t, p), d.buyer)
    assert d.state_of(t) == "None"


def test_reputation_outcome_recorded_for_token_trade(d: Deployment) -> None:
    t = funded(d, "standard")
    r = tx(d, d.escrow.functions.release(t, t["amount"]), d.buyer)
    e = one(d, r, "OutcomeRecorded", d.reputation)
    assert (e["escrow"], e["tradeId"], e["outcome"]) == (
        d.escrow.address,
        trade_id(t),
        OUTCOME["Completed"],
    )
    assert d.escrow_of(t)["state"] == STATE["Completed"]
