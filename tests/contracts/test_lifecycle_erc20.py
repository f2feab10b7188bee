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
    PLATFORM_FEE_BPS,
    STATE,
    Deployment,
    fee_up,
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
    """The platform fee on `amount`, rounded up."""
    return fee_up(amount, bps)


def one(deployed: Deployment, receipt: dict[str, Any], name: str, contract: Any = None) -> Any:
    found = deployed.events(receipt, name, contract)
    assert len(found) == 1, f"expected one {name}, got {found}"
    return found[0]


def block_time(deployed: Deployment, receipt: dict[str, Any]) -> int:
    return int(deployed.chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"])


class Ledger:
    """Token balances of the usual accounts and the escrow, before/after."""

    def __init__(self, deployed: Deployment, token: str) -> None:
        self.d, self.token = deployed, token
        self.who = {
            "buyer": deployed.buyer,
            "seller": deployed.seller,
            "arbiter": deployed.arbiter,
            "stranger": deployed.stranger,
            "fee_recipient": deployed.fee_recipient,
            "escrow": deployed.escrow.address,
        }
        self.before = self._read()

    def _read(self) -> dict[str, int]:
        return {k: balance_of(self.d, self.token, a) for k, a in self.who.items()}

    def delta(self) -> dict[str, int]:
        now = self._read()
        return {k: now[k] - self.before[k] for k in self.who}


def token_terms(deployed: Deployment, kind: str, **overrides: Any) -> dict[str, Any]:
    return deployed.terms(token=deployed.tokens[kind].address, amount=amount_for(kind), **overrides)


def funded(deployed: Deployment, kind: str, **overrides: Any) -> dict[str, Any]:
    t = token_terms(deployed, kind, **overrides)
    approve(deployed, t["token"], t["buyer"], deployed.pay_in(t))
    tx(deployed, deployed.escrow.functions.createAndFund(t), t["buyer"])
    return t


def fees_accrued(deployed: Deployment, t: dict[str, Any]) -> int:
    """Fees of partial releases in the trade's token, not yet swept."""
    return int(deployed.escrow.functions.feesAccrued(t["token"]).call())


def slot_fee(deployed: Deployment, t: dict[str, Any]) -> int:
    """The fee an ended trade keeps in its slot until swept."""
    return int(deployed.escrow_of(t)["held"])


# -- exact tokens ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", EXACT)
def test_seller_created_trade_funded_by_buyer_pulls_exact_amount(deployed: Deployment, kind: str) -> None:
    t = token_terms(deployed, kind, flags=FLAG_RECORD_REPUTATION | FLAG_CREATED_BY_SELLER)
    tx(deployed, deployed.escrow.functions.create(t), deployed.seller)
    assert deployed.state_of(t) == "AwaitingFunding"
    approve(deployed, t["token"], deployed.buyer, t["amount"])
    led = Ledger(deployed, t["token"])
    r = tx(deployed, deployed.escrow.functions.fund(t), deployed.buyer)
    e = one(deployed, r, "TradeFunded")
    assert (e["id"], e["held"], e["deadline"]) == (
        trade_id(t),
        t["amount"],
        block_time(deployed, r) + t["releaseWindow"],
    )
    assert led.delta()["buyer"] == -t["amount"] and led.delta()["escrow"] == t["amount"]
    assert deployed.escrow_of(t)["held"] == t["amount"] and deployed.state_of(t) == "Funded"


@pytest.mark.parametrize("kind", EXACT)
def test_create_and_fund_then_release_in_parts(deployed: Deployment, kind: str) -> None:
    t = token_terms(deployed, kind)
    approve(deployed, t["token"], deployed.buyer, t["amount"])
    led = Ledger(deployed, t["token"])
    r = tx(deployed, deployed.escrow.functions.createAndFund(t), deployed.buyer)
    e = one(deployed, r, "TradeCreated")
    assert dict(e["terms"]) == t and e["held"] == t["amount"]
    assert led.delta()["escrow"] == t["amount"]
    tx(deployed, deployed.escrow.functions.accept(t), deployed.seller)  # the seller's consent: the trade records
    first = t["amount"] // 3
    rest = t["amount"] - first
    r1 = tx(deployed, deployed.escrow.functions.release(t, first), deployed.buyer)
    assert one(deployed, r1, "Released")["platformFee"] == fee(first)
    assert deployed.escrow_of(t)["held"] == rest and deployed.state_of(t) == "Funded"
    r2 = tx(deployed, deployed.escrow.functions.release(t, rest), deployed.buyer)
    assert one(deployed, r2, "Released")["platformFee"] == fee(rest)
    assert deployed.state_of(t) == "Completed"
    fees = fee(first) + fee(rest)
    delta = led.delta()
    assert (
        delta["seller"] == t["amount"] - fees
        and delta["buyer"] == -t["amount"]
        and delta["escrow"] == fees
    )
    assert fees_accrued(deployed, t) == fee(first) and slot_fee(deployed, t) == fee(rest)
    assert deployed.record(deployed.seller, t["token"])["completed"] == 1
    assert deployed.record(deployed.buyer, t["token"], "Buyer")["volume"] == t["amount"]


@pytest.mark.parametrize("kind", CORE)
def test_partial_refund_then_release_of_the_rest(deployed: Deployment, kind: str) -> None:
    t = funded(deployed, kind)
    part = t["amount"] // 4
    led = Ledger(deployed, t["token"])
    tx(deployed, deployed.escrow.functions.refund(t, part), deployed.seller)
    assert deployed.state_of(t) == "Funded"
    tx(deployed, deployed.escrow.functions.release(t, t["amount"] - part), deployed.buyer)
    assert deployed.state_of(t) == "Completed"
    delta = led.delta()
    assert delta["buyer"] == part
    assert delta["seller"] == t["amount"] - part - fee(t["amount"] - part)
    assert delta["escrow"] == -(t["amount"] - fee(t["amount"] - part))


@pytest.mark.parametrize("kind", EXACT)
def test_full_refund_returns_every_token(deployed: Deployment, kind: str) -> None:
    t = funded(deployed, kind)
    led = Ledger(deployed, t["token"])
    r = tx(deployed, deployed.escrow.functions.refund(t, t["amount"]), deployed.seller)
    assert one(deployed, r, "Refunded")["toBuyer"] == t["amount"]
    assert led.delta()["buyer"] == t["amount"] and led.delta()["escrow"] == -t["amount"]
    assert deployed.state_of(t) == "Refunded" and fees_accrued(deployed, t) == 0


@pytest.mark.parametrize("kind", CORE)
def test_ruling_pays_exact_token_shares(deployed: Deployment, kind: str) -> None:
    t = funded(deployed, kind, arbiterFeeBps=250)
    tx(deployed, deployed.escrow.functions.dispute(t), deployed.buyer)
    led = Ledger(deployed, t["token"])
    r = tx(deployed, deployed.escrow.functions.rule(t, 4001), deployed.arbiter)
    s = split(t["amount"], 4001, 250, PLATFORM_FEE_BPS)
    e = one(deployed, r, "Ruled")
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
    assert fees_accrued(deployed, t) == 0 and slot_fee(deployed, t) == s["platformFee"]
    assert deployed.state_of(t) == "Resolved"


@pytest.mark.parametrize("kind", CORE)
def test_settlement_in_dispute_pays_agreed_token_split(deployed: Deployment, kind: str) -> None:
    t = funded(deployed, kind)
    tx(deployed, deployed.escrow.functions.dispute(t), deployed.seller)
    tx(deployed, deployed.escrow.functions.proposeSettlement(t, 2500), deployed.buyer)
    led = Ledger(deployed, t["token"])
    r = tx(deployed, deployed.escrow.functions.acceptSettlement(t, 2500), deployed.seller)
    s = split(t["amount"], 2500, 0, PLATFORM_FEE_BPS)
    e = one(deployed, r, "Settled")
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
    assert deployed.state_of(t) == "Settled"


@pytest.mark.parametrize("kind", CORE)
@pytest.mark.parametrize("releases", [True, False], ids=["release-policy", "refund-policy"])
def test_timeout_applies_policy_with_tokens(deployed: Deployment, kind: str, releases: bool) -> None:
    flags = FLAG_RECORD_REPUTATION | (FLAG_TIMEOUT_RELEASES if releases else 0)
    t = funded(deployed, kind, flags=flags)
    deployed.chain.set_next_timestamp(deployed.escrow_of(t)["deadline"])
    led = Ledger(deployed, t["token"])
    r = tx(deployed, deployed.escrow.functions.timeout(t), deployed.stranger)
    e = one(deployed, r, "TimedOut")
    assert (e["toSeller"], e["amount"]) == (releases, t["amount"])
    if releases:
        assert led.delta()["seller"] == t["amount"] - fee(t["amount"]) and led.delta()["buyer"] == 0
        assert deployed.state_of(t) == "Completed"
    else:
        assert led.delta()["buyer"] == t["amount"] and led.delta()["seller"] == 0
        assert deployed.state_of(t) == "Refunded"


@pytest.mark.parametrize("kind", CORE)
def test_expired_dispute_even_token_split_and_fees_swept(deployed: Deployment, kind: str) -> None:
    t = funded(deployed, kind)
    tx(deployed, deployed.escrow.functions.dispute(t), deployed.buyer)
    deployed.chain.set_next_timestamp(deployed.escrow_of(t)["deadline"])
    led = Ledger(deployed, t["token"])
    r = tx(deployed, deployed.escrow.functions.resolveExpiredDispute(t), deployed.stranger)
    to_buyer = t["amount"] // 2
    gross = t["amount"] - to_buyer
    e = one(deployed, r, "DisputeExpired")
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
    r = tx(deployed, deployed.escrow.functions.sweepFees(t["token"], [t]), deployed.stranger)
    e = one(deployed, r, "FeesSwept")
    assert (e["token"], e["recipient"], e["amount"]) == (t["token"], deployed.fee_recipient, fee(gross))
    assert led.delta()["fee_recipient"] == fee(gross)
    assert fees_accrued(deployed, t) == 0 and slot_fee(deployed, t) == 0
    assert balance_of(deployed, t["token"], deployed.escrow.address) == 0


@pytest.mark.parametrize("kind", CORE)
def test_buyer_created_trade_marked_delivered_times_out_to_seller(deployed: Deployment, kind: str) -> None:
    t = token_terms(deployed, kind)  # timeout refunds the buyer unless delivery is marked
    tx(deployed, deployed.escrow.functions.create(t), deployed.buyer)
    approve(deployed, t["token"], deployed.buyer, t["amount"])
    tx(deployed, deployed.escrow.functions.fund(t), deployed.buyer)
    r = tx(deployed, deployed.escrow.functions.markDelivered(t), deployed.seller)  # a trade with an arbiter
    deadline = block_time(deployed, r) + t["releaseWindow"]
    assert one(deployed, r, "DeliveryMarked")["deadline"] == deadline == deployed.escrow_of(t)["deadline"]
    deployed.chain.set_next_timestamp(deadline)
    led = Ledger(deployed, t["token"])
    r = tx(deployed, deployed.escrow.functions.timeout(t), deployed.stranger)
    e = one(deployed, r, "TimedOut")
    assert (e["toSeller"], e["amount"], e["platformFee"]) == (True, t["amount"], fee(t["amount"]))
    assert led.delta()["seller"] == t["amount"] - fee(t["amount"]) and led.delta()["buyer"] == 0
    assert slot_fee(deployed, t) == fee(t["amount"])
    assert deployed.state_of(t) == "Completed"


@pytest.mark.parametrize("kind", CORE)
def test_cancelled_token_trade_moves_nothing(deployed: Deployment, kind: str) -> None:
    t = token_terms(deployed, kind)
    tx(deployed, deployed.escrow.functions.create(t), deployed.buyer)
    approve(deployed, t["token"], deployed.buyer, t["amount"])
    led = Ledger(deployed, t["token"])
    tx(deployed, deployed.escrow.functions.cancel(t), deployed.buyer)
    assert deployed.state_of(t) == "Cancelled"
    assert led.delta() == {k: 0 for k in led.who}


def test_six_decimal_token_fee_rounds_up_on_small_amounts(deployed: Deployment) -> None:
    # 0.25%: 399 base units -> fee 0.9975 -> 1; 400 -> exactly 1; 1 -> 0.0025 -> 1 (never rounded away)
    t = deployed.terms(token=deployed.tokens["six_decimals"].address, amount=800)
    deployed.create_and_fund(t)
    led = Ledger(deployed, t["token"])
    r1 = tx(deployed, deployed.escrow.functions.release(t, 399), deployed.buyer)
    r2 = tx(deployed, deployed.escrow.functions.release(t, 400), deployed.buyer)
    r3 = tx(deployed, deployed.escrow.functions.release(t, 1), deployed.buyer)
    assert one(deployed, r1, "Released")["platformFee"] == 1
    assert one(deployed, r2, "Released")["platformFee"] == 1
    assert one(deployed, r3, "Released")["platformFee"] == 1
    assert deployed.events(r3, "PaymentCredited") == []  # the seller's 0 is no payout at all
    # in parts the fee is 3, at least the 2 of paying all 800 at once
    assert fee(800) == 2
    assert led.delta()["seller"] == 797 and fees_accrued(deployed, t) == 2 and slot_fee(deployed, t) == 1


# -- fee-on-transfer -------------------------------------------------------------------------------
def fot_arrived(amount: int) -> int:
    return amount - amount * 100 // BPS  # the token burns 1% of every transfer


def test_fee_on_transfer_trade_holds_what_arrived(deployed: Deployment) -> None:
    t = token_terms(deployed, "fee_on_transfer")
    approve(deployed, t["token"], deployed.buyer, t["amount"])
    led = Ledger(deployed, t["token"])
    r = tx(deployed, deployed.escrow.functions.createAndFund(t), deployed.buyer)
    held = fot_arrived(t["amount"])
    assert held < t["amount"]
    assert one(deployed, r, "TradeCreated")["held"] == held
    assert deployed.escrow_of(t)["held"] == held
    assert led.delta()["escrow"] == held and led.delta()["buyer"] == -t["amount"]


def test_fee_on_transfer_fund_reports_what_arrived(deployed: Deployment) -> None:
    t = token_terms(deployed, "fee_on_transfer")
    tx(deployed, deployed.escrow.functions.create(t), deployed.buyer)
    approve(deployed, t["token"], deployed.buyer, t["amount"])
    r = tx(deployed, deployed.escrow.functions.fund(t), deployed.buyer)
    assert one(deployed, r, "TradeFunded")["held"] == fot_arrived(t["amount"])
    assert deployed.escrow_of(t)["held"] == fot_arrived(t["amount"])


def test_fee_on_transfer_release_pays_from_what_arrived(deployed: Deployment) -> None:
    t = funded(deployed, "fee_on_transfer")
    held = fot_arrived(t["amount"])
    with reverts("InvalidPart", requested=t["amount"], held=held):
        deployed.send(deployed.escrow.functions.release(t, t["amount"]), deployed.buyer)
    led = Ledger(deployed, t["token"])
    r = tx(deployed, deployed.escrow.functions.release(t, held), deployed.buyer)
    e = one(deployed, r, "Released")
    assert (e["toSeller"], e["platformFee"]) == (held - fee(held), fee(held))
    assert led.delta()["seller"] == fot_arrived(
        held - fee(held)
    )  # the token takes its cut on the way out
    assert led.delta()["escrow"] == -(held - fee(held))
    assert slot_fee(deployed, t) == fee(held)
    assert deployed.state_of(t) == "Completed"
    tx(deployed, deployed.escrow.functions.sweepFees(t["token"], [t]), deployed.stranger)
    assert led.delta()["fee_recipient"] == fot_arrived(fee(held))
    assert balance_of(deployed, t["token"], deployed.escrow.address) == 0  # nothing stuck, nothing missing


def test_fee_on_transfer_ruling_splits_what_arrived(deployed: Deployment) -> None:
    t = funded(deployed, "fee_on_transfer")
    held = fot_arrived(t["amount"])
    tx(deployed, deployed.escrow.functions.dispute(t), deployed.buyer)
    r = tx(deployed, deployed.escrow.functions.rule(t, 5000), deployed.arbiter)
    s = split(held, 5000, 100, PLATFORM_FEE_BPS)
    e = one(deployed, r, "Ruled")
    assert (e["toBuyer"], e["toSeller"], e["arbiterFee"], e["platformFee"]) == (
        s["toBuyer"],
        s["toSeller"],
        s["arbiterFee"],
        s["platformFee"],
    )
    assert balance_of(deployed, t["token"], deployed.escrow.address) == s["platformFee"]


def test_fee_on_transfer_refund_returns_what_arrived(deployed: Deployment) -> None:
    t = funded(deployed, "fee_on_transfer")
    held = fot_arrived(t["amount"])
    led = Ledger(deployed, t["token"])
    r = tx(deployed, deployed.escrow.functions.refund(t, held), deployed.seller)
    assert one(deployed, r, "Refunded")["toBuyer"] == held
    assert led.delta()["buyer"] == fot_arrived(held)
    assert deployed.state_of(t) == "Refunded" and balance_of(deployed, t["token"], deployed.escrow.address) == 0


# -- blacklist -------------------------------------------------------------------------------------
def test_blacklisted_seller_payout_is_credited_and_withdrawn_elsewhere(deployed: Deployment) -> None:
    token = deployed.tokens["blacklist"]
    t = funded(deployed, "blacklist")
    tx(deployed, token.functions.setBlacklisted(deployed.seller, True), deployed.owner)
    led = Ledger(deployed, t["token"])
    r = tx(deployed, deployed.escrow.functions.release(t, t["amount"]), deployed.buyer)
    net = t["amount"] - fee(t["amount"])
    e = one(deployed, r, "PaymentCredited")
    assert (e["id"], e["receiver"], e["token"], e["amount"]) == (trade_id(t), deployed.seller, t["token"], net)
    assert deployed.state_of(t) == "Completed"  # the payout did not block the transition
    assert deployed.escrow.functions.credits(deployed.seller, t["token"]).call() == net
    assert led.delta()["escrow"] == 0 and led.delta()["seller"] == 0
    with reverts("Blacklisted", account=deployed.seller):
        deployed.send(deployed.escrow.functions.withdraw(t["token"], deployed.seller), deployed.seller)
    r = tx(deployed, deployed.escrow.functions.withdraw(t["token"], deployed.stranger), deployed.seller)
    e = one(deployed, r, "Withdrawn")
    assert (e["account"], e["token"], e["to"], e["amount"]) == (
        deployed.seller,
        t["token"],
        deployed.stranger,
        net,
    )
    assert led.delta()["stranger"] == net
    assert deployed.escrow.functions.credits(deployed.seller, t["token"]).call() == 0
    assert led.delta()["escrow"] == -net


def test_blacklisted_buyer_refund_is_credited_and_ruling_still_pays_seller(deployed: Deployment) -> None:
    token = deployed.tokens["blacklist"]
    t = funded(deployed, "blacklist")
    tx(deployed, deployed.escrow.functions.dispute(t), deployed.seller)
    tx(deployed, token.functions.setBlacklisted(deployed.buyer, True), deployed.owner)
    led = Ledger(deployed, t["token"])
    r = tx(deployed, deployed.escrow.functions.rule(t, 5000), deployed.arbiter)
    s = split(t["amount"], 5000, 100, PLATFORM_FEE_BPS)
    e = one(deployed, r, "PaymentCredited")
    assert (e["receiver"], e["amount"]) == (deployed.buyer, s["toBuyer"])
    assert led.delta()["seller"] == s["toSeller"] and led.delta()["arbiter"] == s["arbiterFee"]
    assert deployed.escrow.functions.credits(deployed.buyer, t["token"]).call() == s["toBuyer"]
    tx(deployed, deployed.escrow.functions.withdraw(t["token"], deployed.stranger), deployed.buyer)
    assert led.delta()["stranger"] == s["toBuyer"]


# -- permit ----------------------------------------------------------------------------------------
def test_create_and_fund_with_permit_needs_no_approve(deployed: Deployment) -> None:
    token = deployed.tokens["permit"]
    t = token_terms(deployed, "permit")
    assert token.functions.allowance(deployed.buyer, deployed.escrow.address).call() == 0
    permit = sign_permit(deployed, token, deployed.buyer, deployed.escrow.address, t["amount"],
                         next_time(deployed) + 3600)
    led = Ledger(deployed, t["token"])
    block_before = deployed.chain.w3.eth.block_number
    r = tx(deployed, deployed.escrow.functions.createAndFundWithPermit(t, permit), deployed.buyer)
    assert r["blockNumber"] == block_before + 1  # one transaction
    assert one(deployed, r, "TradeCreated")["held"] == t["amount"]
    assert led.delta()["buyer"] == -t["amount"] and led.delta()["escrow"] == t["amount"]
    assert token.functions.allowance(deployed.buyer, deployed.escrow.address).call() == 0
    assert token.functions.nonces(deployed.buyer).call() == 1
    assert deployed.state_of(t) == "Funded"
    tx(deployed, deployed.escrow.functions.release(t, t["amount"]), deployed.buyer)
    assert led.delta()["seller"] == t["amount"] - fee(t["amount"])


def test_front_run_permit_does_not_block_funding(deployed: Deployment) -> None:
    token = deployed.tokens["permit"]
    t = token_terms(deployed, "permit")
    p = sign_permit(deployed, token, deployed.buyer, deployed.escrow.address, t["amount"], next_time(deployed) + 3600)
    # someone submits the buyer's permit first: the escrow's own permit call then fails, the
    # allowance stays
    tx(
        deployed,
        token.functions.permit(
            deployed.buyer, deployed.escrow.address, t["amount"], p["deadline"], p["v"], p["r"], p["s"]
        ),
        deployed.stranger,
    )
    tx(deployed, deployed.escrow.functions.createAndFundWithPermit(t, p), deployed.buyer)
    assert deployed.state_of(t) == "Funded" and deployed.escrow_of(t)["held"] == t["amount"]


def test_bad_permit_without_allowance_fails_on_transfer(deployed: Deployment) -> None:
    token = deployed.tokens["permit"]
    t = token_terms(deployed, "permit")
    p = sign_permit(
        deployed, token, deployed.buyer, deployed.escrow.address, t["amount"] - 1, next_time(deployed) + 3600
    )  # wrong value
    with reverts(
        "ERC20InsufficientAllowance", spender=deployed.escrow.address, allowance=0, needed=t["amount"]
    ):
        deployed.send(deployed.escrow.functions.createAndFundWithPermit(t, p), deployed.buyer)
    assert deployed.state_of(t) == "None"


def test_reputation_outcome_recorded_for_token_trade_in_its_asset(deployed: Deployment) -> None:
    t = funded(deployed, "standard")
    tx(deployed, deployed.escrow.functions.accept(t), deployed.seller)
    r = tx(deployed, deployed.escrow.functions.release(t, t["amount"]), deployed.buyer)
    assert one(deployed, r, "Released")["id"] == trade_id(t)
    assert deployed.escrow_of(t)["state"] == STATE["Completed"]
    seller = deployed.record(deployed.seller, t["token"], "Seller")
    assert (seller["completed"], seller["volume"]) == (1, t["amount"])
    assert deployed.record(deployed.seller)["completed"] == 0  # nothing in ETH: records are per asset
