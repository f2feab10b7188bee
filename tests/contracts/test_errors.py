"""Every custom error of P2PEscrow and Reputation (their own and the OpenZeppelin ones in their
ABIs), raised through a real call, for ETH and ERC-20 trades where the error applies to both.

Each test declares the errors it raises with `@raises(...)`; the last test checks that the errors in
the two ABIs are exactly those, plus the ones no call can reach (listed with the reason), so that a
new error without a test fails the suite.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from support.escrow import (
    ETH,
    FLAG_CREATED_BY_SELLER,
    FLAG_RECORD_REPUTATION,
    PLATFORM_FEE_BPS,
    STATE,
    Deployment,
    trade_id,
)
from support.offers import (
    approve,
    balance_of,
    decode_revert,
    deploy_raw,
    next_time,
    offer,
    reverts,
    sign_offer,
    sign_permit,
    tx,
)

from p2pescrow.build import load_artifact

RAISED: set[str] = set()
# Errors in the ABIs that no call can raise.
UNREACHABLE = {
    # OpenZeppelin ShortStrings, used by EIP712's constructor: the escrow's name "P2PEscrow" and
    # version "1" are constants shorter than 32 bytes, so neither error can ever be raised.
    "InvalidShortString": "EIP712 name/version are short constants",
    "StringTooLong": "EIP712 name/version are short constants",
}
ZERO = "0x" + "00" * 20
MAX_WINDOW = 365 * 86400
ASSETS = ["eth", "erc20"]


def raises(*names: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(test: Callable[..., Any]) -> Callable[..., Any]:
        RAISED.update(names)
        return test

    return register


# -- helpers ---------------------------------------------------------------------------------------
def new_terms(d: Deployment, asset: str, **overrides: Any) -> dict[str, Any]:
    if asset == "erc20":
        overrides.setdefault("token", d.tokens["standard"].address)
    return d.terms(**overrides)


def value_of(t: dict[str, Any]) -> int:
    return t["amount"] if t["token"] == ETH else 0


def opened(d: Deployment, asset: str, **overrides: Any) -> dict[str, Any]:
    """A funded trade."""
    t = new_terms(d, asset, **overrides)
    if t["token"] != ETH:
        approve(d, t["token"], t["buyer"], t["amount"])
    tx(d, d.escrow.functions.createAndFund(t), t["buyer"], value_of(t))
    return t


def created(d: Deployment, asset: str, **overrides: Any) -> dict[str, Any]:
    """An unfunded trade created by the buyer (the buyer has approved the tokens)."""
    t = new_terms(d, asset, **overrides)
    tx(d, d.escrow.functions.create(t), t["buyer"])
    if t["token"] != ETH:
        approve(d, t["token"], t["buyer"], t["amount"])
    return t


def in_state(d: Deployment, asset: str, state: str) -> dict[str, Any]:
    if state == "AwaitingFunding":
        return created(d, asset)
    if state == "Cancelled":
        t = created(d, asset)
        tx(d, d.escrow.functions.cancel(t), d.buyer)
        return t
    t = opened(d, asset)
    if state == "Disputed":
        tx(d, d.escrow.functions.dispute(t), d.buyer)
    elif state == "Completed":
        tx(d, d.escrow.functions.release(t, t["amount"]), d.buyer)
    elif state == "Refunded":
        tx(d, d.escrow.functions.refund(t, t["amount"]), d.seller)
    return t


def attempt(d: Deployment, fn: Any, sender: str, value: int = 0) -> None:
    """Send through gas estimation: a revert surfaces with its data."""
    d.send(fn, sender, value)


# Calls by name: (function, role of the caller that passes the role checks, args after the terms).
CALLS: dict[str, tuple[str, tuple[Any, ...]]] = {
    "fund": ("buyer", ()),
    "release": ("buyer", (1,)),
    "refund": ("seller", (1,)),
    "cancel": ("buyer", ()),
    "timeout": ("stranger", ()),
    "markDelivered": ("seller", ()),
    "proposeSettlement": ("buyer", (5000,)),
    "acceptSettlement": ("seller", (5000,)),
    "dispute": ("buyer", ()),
    "rule": ("arbiter", (5000,)),
    "resolveExpiredDispute": ("stranger", ()),
    "submitEvidence": ("buyer", ("ipfs://x", b"\x00" * 32)),
    "rate": ("buyer", (5, b"\x00" * 32)),
}


def call(d: Deployment, name: str, t: dict[str, Any], caller: str | None = None) -> None:
    role, args = CALLS[name]
    value = value_of(t) if name == "fund" else 0
    attempt(d, getattr(d.escrow.functions, name)(t, *args), caller or getattr(d, role), value)


# -- terms validation ------------------------------------------------------------------------------
@raises("SameParty")
@pytest.mark.parametrize("asset", ASSETS)
def test_buyer_and_seller_must_differ(d: Deployment, asset: str) -> None:
    t = new_terms(d, asset, seller=d.buyer)
    with reverts("SameParty", party=d.buyer):
        attempt(d, d.escrow.functions.createAndFund(t), d.buyer, value_of(t))


@raises("SameParty")
def test_a_seller_creating_a_trade_with_itself_as_buyer_gets_same_party(d: Deployment) -> None:
    t = new_terms(d, "eth", buyer=d.seller, flags=0)  # terms are checked before the creator flag
    with reverts("SameParty", party=d.seller):
        attempt(d, d.escrow.functions.create(t), d.seller)


@raises("ZeroParty")
@pytest.mark.parametrize("asset", ASSETS)
def test_parties_cannot_be_zero(d: Deployment, asset: str) -> None:
    t = new_terms(d, asset, seller=ZERO)
    with reverts("ZeroParty"):
        attempt(d, d.escrow.functions.createAndFund(t), d.buyer, value_of(t))
    t = new_terms(d, asset, buyer=ZERO, flags=FLAG_CREATED_BY_SELLER)
    with reverts("ZeroParty"):
        attempt(d, d.escrow.functions.create(t), d.seller)


@raises("ArbiterIsParty")
@pytest.mark.parametrize("asset", ASSETS)
def test_arbiter_cannot_be_a_party(d: Deployment, asset: str) -> None:
    for who in (d.buyer, d.seller):
        t = new_terms(d, asset, arbiter=who)
        with reverts("ArbiterIsParty", arbiter=who):
            attempt(d, d.escrow.functions.createAndFund(t), d.buyer, value_of(t))


@raises("ZeroAmount")
@pytest.mark.parametrize("asset", ASSETS)
def test_amount_cannot_be_zero(d: Deployment, asset: str) -> None:
    t = new_terms(d, asset, amount=0)
    with reverts("ZeroAmount"):
        attempt(d, d.escrow.functions.createAndFund(t), d.buyer)
    with reverts("ZeroAmount"):
        attempt(d, d.escrow.functions.create(t), d.buyer)


@raises("BpsTooHigh")
@pytest.mark.parametrize("asset", ASSETS)
def test_arbiter_fee_above_twenty_percent_rejected(d: Deployment, asset: str) -> None:
    t = new_terms(d, asset, arbiterFeeBps=2001)
    with reverts("BpsTooHigh", bps=2001, max=2000):
        attempt(d, d.escrow.functions.createAndFund(t), d.buyer, value_of(t))
    opened(d, asset, arbiterFeeBps=2000)  # the maximum itself is fine


@raises("BpsTooHigh")
@pytest.mark.parametrize("asset", ASSETS)
def test_shares_above_one_hundred_percent_rejected(d: Deployment, asset: str) -> None:
    t = opened(d, asset)
    with reverts("BpsTooHigh", bps=10_001, max=10_000):
        attempt(d, d.escrow.functions.proposeSettlement(t, 10_001), d.buyer)
    tx(d, d.escrow.functions.dispute(t), d.buyer)
    with reverts("BpsTooHigh", bps=10_001, max=10_000):
        attempt(d, d.escrow.functions.rule(t, 10_001), d.arbiter)
    with reverts("BpsTooHigh", bps=10_001, max=10_000):
        d.escrow.functions.computeSplit(100, 10_001, 0, 0).call()


@raises("BpsTooHigh")
def test_platform_fee_above_five_percent_rejected(d: Deployment) -> None:
    with reverts("BpsTooHigh", bps=501, max=500):
        attempt(d, d.escrow.functions.setPlatformFee(501), d.owner)
    artifact = load_artifact("P2PEscrow")
    factory = d.chain.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    with reverts("BpsTooHigh", bps=501, max=500):
        factory.constructor(d.owner, d.fee_recipient, 501, d.reputation.address).estimate_gas(
            {"from": d.owner}
        )
    assert d.escrow.functions.platformFeeBps().call() == PLATFORM_FEE_BPS


@raises("FeeWithoutArbiter")
@pytest.mark.parametrize("asset", ASSETS)
def test_arbiter_fee_needs_an_arbiter(d: Deployment, asset: str) -> None:
    t = new_terms(d, asset, arbiter=ZERO, arbiterFeeBps=1)
    with reverts("FeeWithoutArbiter", arbiterFeeBps=1):
        attempt(d, d.escrow.functions.createAndFund(t), d.buyer, value_of(t))


@raises("PlatformFeeMismatch")
@pytest.mark.parametrize("asset", ASSETS)
def test_terms_must_name_the_fee_in_force(d: Deployment, asset: str) -> None:
    for wrong in (0, PLATFORM_FEE_BPS + 1):
        t = new_terms(d, asset, platformFeeBps=wrong)
        with reverts("PlatformFeeMismatch", given=wrong, current=PLATFORM_FEE_BPS):
            attempt(d, d.escrow.functions.createAndFund(t), d.buyer, value_of(t))


@raises("InvalidWindow")
@pytest.mark.parametrize("asset", ASSETS)
@pytest.mark.parametrize(
    "field, window",
    [
        ("releaseWindow", 0),
        ("releaseWindow", MAX_WINDOW + 1),
        ("arbitrationWindow", 0),
        ("fundingWindow", 0),
        ("fundingWindow", MAX_WINDOW + 1),
    ],
)
def test_windows_must_be_between_one_second_and_a_year(
    d: Deployment, asset: str, field: str, window: int
) -> None:
    t = new_terms(d, asset, **{field: window})
    with reverts("InvalidWindow", window=window, max=MAX_WINDOW):
        attempt(d, d.escrow.functions.create(t), d.buyer)


@raises("InvalidFlags")
@pytest.mark.parametrize("asset", ASSETS)
def test_flags_must_be_known_and_match_the_creator(d: Deployment, asset: str) -> None:
    cases = [
        (d.buyer, "createAndFund", new_terms(d, asset, flags=8)),
        (d.buyer, "create", new_terms(d, asset, flags=FLAG_CREATED_BY_SELLER)),
        (d.seller, "create", new_terms(d, asset, flags=FLAG_RECORD_REPUTATION)),
        (d.buyer, "createAndFund", new_terms(d, asset, flags=FLAG_CREATED_BY_SELLER)),
    ]
    for sender, fn, t in cases:
        value = value_of(t) if fn == "createAndFund" else 0
        with reverts("InvalidFlags", flags=t["flags"]):
            attempt(d, getattr(d.escrow.functions, fn)(t), sender, value)
    if asset == "erc20":  # the permit variant checks the creator flag too (the permit is never used)
        t = new_terms(d, asset, flags=FLAG_CREATED_BY_SELLER)
        permit = {"deadline": 0, "v": 0, "r": b"\x00" * 32, "s": b"\x00" * 32}
        with reverts("InvalidFlags", flags=t["flags"]):
            attempt(d, d.escrow.functions.createAndFundWithPermit(t, permit), d.buyer)
    o = offer(d, flags=8, **({"token": d.tokens["standard"].address} if asset == "erc20" else {}))
    with reverts("InvalidFlags", flags=8 | FLAG_CREATED_BY_SELLER):
        attempt(
            d,
            d.escrow.functions.fillOffer(o, sign_offer(d, o)),
            d.buyer,
            o["amount"] if asset == "eth" else 0,
        )


@raises("TradeExists")
@pytest.mark.parametrize("asset", ASSETS)
def test_same_terms_cannot_open_two_trades(d: Deployment, asset: str) -> None:
    t = opened(d, asset)
    with reverts("TradeExists", id=trade_id(t)):
        attempt(d, d.escrow.functions.createAndFund(t), d.buyer, value_of(t))
    with reverts("TradeExists", id=trade_id(t)):
        attempt(d, d.escrow.functions.create(t), d.buyer)
    c = created(d, asset)
    tx(d, d.escrow.functions.cancel(c), d.buyer)
    with reverts("TradeExists", id=trade_id(c)):  # a cancelled trade's terms stay taken
        attempt(d, d.escrow.functions.create(c), d.buyer)


# -- who and when ----------------------------------------------------------------------------------
@raises("UnknownTrade")
@pytest.mark.parametrize("asset", ASSETS)
def test_every_trade_call_rejects_unknown_terms(d: Deployment, asset: str) -> None:
    t = new_terms(d, asset)
    for name in CALLS:
        with reverts("UnknownTrade", id=trade_id(t)):
            call(d, name, t)


@raises("Unauthorized")
@pytest.mark.parametrize("asset", ASSETS)
def test_calls_by_the_wrong_account_are_rejected(d: Deployment, asset: str) -> None:
    funded_t = opened(d, asset)
    unfunded = created(d, asset)
    finished = opened(d, asset)
    tx(d, d.escrow.functions.release(finished, finished["amount"]), d.buyer)
    fresh = new_terms(d, asset)
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("fund", unfunded, d.seller),
        ("release", funded_t, d.seller),
        ("refund", funded_t, d.buyer),
        ("markDelivered", funded_t, d.buyer),
        ("dispute", funded_t, d.arbiter),
        ("dispute", funded_t, d.stranger),
        ("proposeSettlement", funded_t, d.arbiter),
        ("acceptSettlement", funded_t, d.stranger),
        ("submitEvidence", funded_t, d.stranger),
        ("rate", finished, d.arbiter),
    ]
    for name, t, caller in cases:
        with reverts("Unauthorized", caller=caller, id=trade_id(t)):
            call(d, name, t, caller)
    tx(d, d.escrow.functions.dispute(funded_t), d.seller)
    with reverts("Unauthorized", caller=d.buyer, id=trade_id(funded_t)):
        call(d, "rule", funded_t, d.buyer)
    with reverts("Unauthorized", caller=d.stranger, id=trade_id(fresh)):
        attempt(d, d.escrow.functions.create(fresh), d.stranger)
    with reverts("Unauthorized", caller=d.seller, id=trade_id(fresh)):
        attempt(d, d.escrow.functions.createAndFund(fresh), d.seller, value_of(fresh))
    permit = {"deadline": 0, "v": 0, "r": b"\x00" * 32, "s": b"\x00" * 32}
    with reverts("Unauthorized", caller=d.seller, id=trade_id(fresh)):
        attempt(d, d.escrow.functions.createAndFundWithPermit(fresh, permit), d.seller)


WRONG_STATE = {
    "AwaitingFunding": [
        "release",
        "refund",
        "timeout",
        "markDelivered",
        "proposeSettlement",
        "acceptSettlement",
        "dispute",
        "rule",
        "resolveExpiredDispute",
    ],
    "Funded": ["fund", "cancel", "rule", "resolveExpiredDispute"],
    "Disputed": ["fund", "cancel", "release", "refund", "timeout", "markDelivered", "dispute"],
    "Completed": [
        "fund",
        "cancel",
        "release",
        "refund",
        "timeout",
        "markDelivered",
        "proposeSettlement",
        "acceptSettlement",
        "dispute",
        "rule",
        "resolveExpiredDispute",
    ],
    "Refunded": ["release", "proposeSettlement", "dispute"],
    "Cancelled": ["fund", "cancel", "release", "dispute"],
}


@raises("WrongState")
@pytest.mark.parametrize("asset", ASSETS)
@pytest.mark.parametrize("state", list(WRONG_STATE))
def test_calls_in_the_wrong_state_are_rejected(d: Deployment, asset: str, state: str) -> None:
    t = in_state(d, asset, state)
    for name in WRONG_STATE[state]:
        try:
            with reverts("WrongState", id=trade_id(t), state=STATE[state]):
                call(d, name, t)
        except AssertionError as exc:
            raise AssertionError(f"{name} in {state}: {exc}") from exc


@raises("DeadlinePassed")
@pytest.mark.parametrize("asset", ASSETS)
def test_actions_allowed_only_before_their_deadline(d: Deployment, asset: str) -> None:
    unfunded, funded_t = created(d, asset), opened(d, asset)
    disputed = opened(d, asset)
    tx(d, d.escrow.functions.dispute(disputed), d.buyer)
    latest = max(d.escrow_of(x)["deadline"] for x in (unfunded, funded_t, disputed))
    d.chain.set_next_timestamp(latest)
    for name, t in [
        ("fund", unfunded),
        ("markDelivered", funded_t),
        ("dispute", funded_t),
        ("rule", disputed),
    ]:
        with reverts("DeadlinePassed", deadline=d.escrow_of(t)["deadline"]):
            call(d, name, t)


@raises("DeadlineNotReached")
@pytest.mark.parametrize("asset", ASSETS)
def test_fallbacks_allowed_only_from_their_deadline(d: Deployment, asset: str) -> None:
    unfunded, funded_t = created(d, asset), opened(d, asset)
    disputed = opened(d, asset)
    tx(d, d.escrow.functions.dispute(disputed), d.buyer)
    earliest = min(d.escrow_of(x)["deadline"] for x in (unfunded, funded_t, disputed))
    d.chain.set_next_timestamp(earliest - 1)
    for name, t, caller in [
        ("cancel", unfunded, d.stranger),
        ("cancel", unfunded, d.seller),
        ("timeout", funded_t, d.stranger),
        ("resolveExpiredDispute", disputed, d.stranger),
    ]:
        with reverts("DeadlineNotReached", deadline=d.escrow_of(t)["deadline"]):
            call(d, name, t, caller)


# -- amounts and values ----------------------------------------------------------------------------
@raises("InvalidPart")
@pytest.mark.parametrize("asset", ASSETS)
def test_parts_must_be_between_one_and_what_is_held(d: Deployment, asset: str) -> None:
    t = opened(d, asset)
    held = t["amount"]
    for fn, sender in (("release", d.buyer), ("refund", d.seller)):
        for part in (0, held + 1):
            with reverts("InvalidPart", requested=part, held=held):
                attempt(d, getattr(d.escrow.functions, fn)(t, part), sender)
    tx(d, d.escrow.functions.release(t, held - 10), d.buyer)
    with reverts("InvalidPart", requested=11, held=10):
        attempt(d, d.escrow.functions.refund(t, 11), d.seller)


@raises("WrongValue")
def test_eth_trades_need_exactly_the_amount_sent(d: Deployment) -> None:
    t = new_terms(d, "eth")
    for sent in (0, t["amount"] - 1, t["amount"] + 1):
        with reverts("WrongValue", sent=sent, expected=t["amount"]):
            attempt(d, d.escrow.functions.createAndFund(t), d.buyer, sent)
    c = created(d, "eth")
    with reverts("WrongValue", sent=1, expected=c["amount"]):
        attempt(d, d.escrow.functions.fund(c), d.buyer, 1)
    o = offer(d)
    with reverts("WrongValue", sent=0, expected=o["amount"]):
        attempt(d, d.escrow.functions.fillOffer(o, sign_offer(d, o)), d.buyer, 0)
    # the permit variants are not payable: an ETH offer cannot be filled through them
    permit = {"deadline": 0, "v": 0, "r": b"\x00" * 32, "s": b"\x00" * 32}
    with reverts("WrongValue", sent=0, expected=o["amount"]):
        attempt(d, d.escrow.functions.fillOfferWithPermit(o, sign_offer(d, o), permit), d.buyer)


@raises("WrongValue")
def test_token_trades_take_no_eth(d: Deployment) -> None:
    t = new_terms(d, "erc20")
    approve(d, t["token"], d.buyer, t["amount"])
    with reverts("WrongValue", sent=1, expected=0):
        attempt(d, d.escrow.functions.createAndFund(t), d.buyer, 1)
    c = created(d, "erc20")
    with reverts("WrongValue", sent=5, expected=0):
        attempt(d, d.escrow.functions.fund(c), d.buyer, 5)
    o = offer(d, token=t["token"])
    with reverts("WrongValue", sent=7, expected=0):
        attempt(d, d.escrow.functions.fillOffer(o, sign_offer(d, o)), d.buyer, 7)


@raises("NothingArrived")
def test_funding_that_moves_no_tokens_is_rejected(d: Deployment) -> None:
    # A token whose every call returns the word 1: transferFrom "succeeds", balanceOf never changes.
    constant = deploy_raw(d, bytes.fromhex("600160005260206000f3"))
    t = d.terms(token=constant)
    with reverts("NothingArrived", token=constant):
        attempt(d, d.escrow.functions.createAndFund(t), d.buyer)
    tx(d, d.escrow.functions.create(t), d.buyer)
    with reverts("NothingArrived", token=constant):
        attempt(d, d.escrow.functions.fund(t), d.buyer)


@raises("AmountTooLarge")
def test_more_than_uint128_arriving_is_rejected(d: Deployment) -> None:
    # The terms amount is a uint128, so only a token that delivers more than asked can overflow
    # `held`: the re-entrant token's hook mints 2**128 to the escrow while the escrow pulls the
    # buyer's tokens.
    token = d.chain.deploy("ReentrantToken", test=True)
    tx(d, token.functions.mint(d.buyer, 10**18), d.owner)
    tx(d, token.functions.approve(d.escrow.address, 10**18), d.buyer)
    mint = token.encode_abi("mint", args=[d.escrow.address, 2**128])
    tx(d, token.functions.arm(token.address, mint), d.owner)
    t = d.terms(token=token.address, amount=10**18)
    with reverts("AmountTooLarge", amount=10**18 + 2**128):
        attempt(d, d.escrow.functions.createAndFund(t), d.buyer)
    assert d.state_of(t) == "None"


@raises("SafeERC20FailedOperation")
def test_token_returning_false_fails_the_transfer(d: Deployment) -> None:
    # A token whose every call returns the word 0: balanceOf 0, transferFrom false.
    falsy = deploy_raw(d, bytes.fromhex("60206000f3"))
    t = d.terms(token=falsy)
    with reverts("SafeERC20FailedOperation", token=falsy):
        attempt(d, d.escrow.functions.createAndFund(t), d.buyer)


# -- trade-specific rules --------------------------------------------------------------------------
@raises("NoArbiter")
@pytest.mark.parametrize("asset", ASSETS)
def test_trade_without_arbiter_cannot_be_disputed(d: Deployment, asset: str) -> None:
    t = opened(d, asset, arbiter=ZERO, arbiterFeeBps=0)
    for party in (d.buyer, d.seller):
        with reverts("NoArbiter", id=trade_id(t)):
            attempt(d, d.escrow.functions.dispute(t), party)


@raises("AlreadyMarked")
@pytest.mark.parametrize("asset", ASSETS)
def test_delivery_can_be_marked_once(d: Deployment, asset: str) -> None:
    t = opened(d, asset)
    tx(d, d.escrow.functions.markDelivered(t), d.seller)
    with reverts("AlreadyMarked", id=trade_id(t)):
        attempt(d, d.escrow.functions.markDelivered(t), d.seller)


@raises("SettlementMismatch")
@pytest.mark.parametrize("asset", ASSETS)
def test_settlement_must_accept_the_counterpartys_exact_proposal(d: Deployment, asset: str) -> None:
    t = opened(d, asset)
    with reverts("SettlementMismatch", proposedBps=0, acceptedBps=5000):  # nothing proposed
        attempt(d, d.escrow.functions.acceptSettlement(t, 5000), d.seller)
    tx(d, d.escrow.functions.proposeSettlement(t, 5000), d.seller)
    with reverts("SettlementMismatch", proposedBps=0, acceptedBps=5000):  # own proposal
        attempt(d, d.escrow.functions.acceptSettlement(t, 5000), d.seller)
    with reverts("SettlementMismatch", proposedBps=5000, acceptedBps=5001):  # other split
        attempt(d, d.escrow.functions.acceptSettlement(t, 5001), d.buyer)


@raises("InvalidScore")
@pytest.mark.parametrize("asset", ASSETS)
def test_score_outside_one_to_five_rejected(d: Deployment, asset: str) -> None:
    t = opened(d, asset)
    tx(d, d.escrow.functions.release(t, t["amount"]), d.buyer)
    for score in (0, 6):
        with reverts("InvalidScore", score=score):
            attempt(d, d.escrow.functions.rate(t, score, b"\x00" * 32), d.seller)


@raises("NotRateable")
@pytest.mark.parametrize("asset", ASSETS)
def test_refunded_trade_and_second_rating_not_rateable(d: Deployment, asset: str) -> None:
    t = in_state(d, asset, "Refunded")
    with reverts("NotRateable", id=trade_id(t)):
        attempt(d, d.escrow.functions.rate(t, 5, b"\x00" * 32), d.buyer)
    t = in_state(d, asset, "Completed")
    tx(d, d.escrow.functions.rate(t, 5, b"\x00" * 32), d.buyer)
    with reverts("NotRateable", id=trade_id(t)):
        attempt(d, d.escrow.functions.rate(t, 5, b"\x00" * 32), d.buyer)


@raises("InsufficientGas")
@pytest.mark.parametrize("asset", ASSETS)
def test_starving_the_reputation_call_reverts_the_payout(d: Deployment, asset: str) -> None:
    t = opened(d, asset)
    fn = d.escrow.functions.release(t, t["amount"])

    # bisect for the lowest gas limit that succeeds; one unit below it, the payout goes through but
    # the reputation call would be starved, and the gas check trips
    def succeeds(gas: int) -> bool:
        try:
            fn.call({"from": d.buyer, "gas": gas})
            return True
        except Exception:
            return False

    low, high = 60_000, 400_000
    assert succeeds(high) and not succeeds(low)
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (low, mid) if succeeds(mid) else (mid, high)
    starving = low
    with reverts("InsufficientGas") as got:
        fn.call({"from": d.buyer, "gas": starving})
    assert got.args["left"] < 120_000 + 120_000 // 63 + 5_000
    # as a transaction: it fails, and nothing moved
    seller_before = balance_of(d, t["token"], d.seller)
    receipt = d.chain.w3.eth.wait_for_transaction_receipt(
        fn.transact({"from": d.buyer, "gas": starving})
    )
    assert receipt["status"] == 0
    assert d.state_of(t) == "Funded" and balance_of(d, t["token"], d.seller) == seller_before
    # the same gas is enough for a trade that does not record reputation
    quiet = opened(d, asset, flags=0)
    tx(d, d.escrow.functions.release(quiet, quiet["amount"]), d.buyer, gas=starving)
    assert d.state_of(quiet) == "Completed"
    # and no gas limit lets the payout through while the outcome goes unrecorded: at the lowest
    # limit that succeeds, the reputation call still got what it needs
    r = tx(d, fn, d.buyer, gas=high)
    assert d.state_of(t) == "Completed"
    assert len(d.events(r, "OutcomeRecorded", d.reputation)) == 1
    assert d.record(d.seller)["completedAsSeller"] == 1


# -- offers ----------------------------------------------------------------------------------------
def _offer(d: Deployment, asset: str, **overrides: Any) -> dict[str, Any]:
    if asset == "erc20":
        overrides.setdefault("token", d.tokens["standard"].address)
        approve(d, overrides["token"], d.buyer, 10**18)
    return offer(d, **overrides)


def _fill(d: Deployment, o: dict[str, Any], sig: bytes, sender: str) -> None:
    attempt(
        d, d.escrow.functions.fillOffer(o, sig), sender, o["amount"] if o["token"] == ETH else 0
    )


@raises("OfferExpired")
@pytest.mark.parametrize("asset", ASSETS)
def test_expired_offer_rejected(d: Deployment, asset: str) -> None:
    o = _offer(d, asset, expiry=next_time(d) + 10)
    d.chain.set_next_timestamp(o["expiry"] + 1)
    with reverts("OfferExpired", expiry=o["expiry"]):
        _fill(d, o, sign_offer(d, o), d.buyer)


@raises("InvalidSignature")
@pytest.mark.parametrize("asset", ASSETS)
def test_offer_signed_by_another_key_rejected(d: Deployment, asset: str) -> None:
    o = _offer(d, asset)
    with reverts("InvalidSignature", seller=d.seller):
        _fill(d, o, sign_offer(d, o, signer=d.buyer), d.buyer)


@raises("NonceUsed")
@pytest.mark.parametrize("asset", ASSETS)
def test_used_nonce_rejected(d: Deployment, asset: str) -> None:
    o = _offer(d, asset)
    sig = sign_offer(d, o)
    tx(d, d.escrow.functions.fillOffer(o, sig), d.buyer, o["amount"] if asset == "eth" else 0)
    with reverts("NonceUsed", seller=d.seller, nonce=o["nonce"]):
        _fill(d, o, sig, d.buyer)
    with reverts("NonceUsed", seller=d.seller, nonce=o["nonce"]):
        attempt(d, d.escrow.functions.revokeOffer(o["nonce"]), d.seller)


@raises("NotOfferBuyer")
@pytest.mark.parametrize("asset", ASSETS)
def test_reserved_offer_rejects_other_buyers(d: Deployment, asset: str) -> None:
    o = _offer(d, asset, buyer=d.buyer)
    with reverts("NotOfferBuyer", buyer=d.buyer):
        _fill(d, o, sign_offer(d, o), d.stranger)


# -- credits, fees, owner --------------------------------------------------------------------------
@raises("NothingToWithdraw")
@pytest.mark.parametrize("asset", ASSETS)
def test_nothing_to_withdraw(d: Deployment, asset: str) -> None:
    token = ETH if asset == "eth" else d.tokens["standard"].address
    with reverts("NothingToWithdraw", account=d.seller, token=token):
        attempt(d, d.escrow.functions.withdraw(token, d.seller), d.seller)
    with reverts("NothingToWithdraw", account=d.fee_recipient, token=token):
        attempt(d, d.escrow.functions.withdrawFees(token), d.stranger)


@raises("InvalidReceiver")
@pytest.mark.parametrize("asset", ASSETS)
def test_credits_cannot_be_withdrawn_to_the_escrow_or_the_zero_address(d: Deployment, asset: str) -> None:
    party = d.chain.deploy("MaliciousParty", test=True)
    tx(d, party.functions.setMode(1), d.stranger)  # rejects ETH: its payout is credited
    if asset == "eth":
        t = opened(d, "eth", seller=party.address)
        tx(d, d.escrow.functions.release(t, t["amount"]), d.buyer)
        token = ETH
    else:  # a blacklisted seller's token payout is credited
        token = d.tokens["blacklist"].address
        t = opened(d, "erc20", token=token, seller=party.address)
        tx(d, d.tokens["blacklist"].functions.setBlacklisted(party.address, True), d.stranger)
        tx(d, d.escrow.functions.release(t, t["amount"]), d.buyer)
    credited = d.escrow.functions.credits(party.address, token).call()
    assert credited > 0
    for to in (d.escrow.address, ZERO):
        data = d.escrow.encode_abi("withdraw", args=[token, to])
        with reverts("InvalidReceiver", to=to):
            attempt(d, party.functions.execute(d.escrow.address, data), d.stranger)
    assert d.escrow.functions.credits(party.address, token).call() == credited  # nothing lost


@raises("WithdrawFailed")
def test_eth_withdrawal_to_a_rejecting_receiver_fails(d: Deployment) -> None:
    t = opened(d, "eth")
    tx(d, d.escrow.functions.release(t, t["amount"]), d.buyer)
    tx(d, d.escrow.functions.setFeeRecipient(d.reputation.address), d.owner)  # has no receive()
    with reverts("WithdrawFailed", to=d.reputation.address):
        attempt(d, d.escrow.functions.withdrawFees(ETH), d.stranger)
    # credits: a seller contract that rejects ETH is credited, then withdraws to a rejecting address
    party = d.chain.deploy("MaliciousParty", test=True)
    tx(d, party.functions.setMode(1), d.stranger)
    t = opened(d, "eth", seller=party.address)
    tx(d, d.escrow.functions.release(t, t["amount"]), d.buyer)
    data = d.escrow.encode_abi("withdraw", args=[ETH, party.address])
    with reverts("WithdrawFailed", to=party.address):
        attempt(d, party.functions.execute(d.escrow.address, data), d.stranger)


@raises("ZeroFeeRecipient")
def test_fee_recipient_cannot_be_zero(d: Deployment) -> None:
    with reverts("ZeroFeeRecipient"):
        attempt(d, d.escrow.functions.setFeeRecipient(ZERO), d.owner)
    artifact = load_artifact("P2PEscrow")
    factory = d.chain.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    with reverts("ZeroFeeRecipient"):
        factory.constructor(d.owner, ZERO, 0, d.reputation.address).estimate_gas({"from": d.owner})


@raises("NotAuthorisedEscrow", "ZeroEscrow")
def test_reputation_guards(d: Deployment) -> None:
    with reverts("NotAuthorisedEscrow", caller=d.stranger):
        attempt(
            d, d.reputation.functions.recordOutcome(b"\x00" * 32, d.buyer, d.seller, 0), d.stranger
        )
    with reverts("NotAuthorisedEscrow", caller=d.owner):
        attempt(
            d,
            d.reputation.functions.recordRating(b"\x00" * 32, d.buyer, d.seller, 5, b"\x00" * 32),
            d.owner,
        )
    with reverts("ZeroEscrow"):
        attempt(d, d.reputation.functions.setEscrow(ZERO, True), d.owner)


@raises("OwnableUnauthorizedAccount")
def test_owner_functions_reject_everyone_else(d: Deployment) -> None:
    e, r = d.escrow.functions, d.reputation.functions
    for fn in (
        e.setPlatformFee(0),
        e.setFeeRecipient(d.stranger),
        e.pause(),
        e.unpause(),
        e.transferOwnership(d.stranger),
        e.renounceOwnership(),
        e.acceptOwnership(),
        r.setEscrow(d.stranger, True),
        r.transferOwnership(d.stranger),
        r.renounceOwnership(),
        r.acceptOwnership(),
    ):
        with reverts("OwnableUnauthorizedAccount", account=d.stranger):
            attempt(d, fn, d.stranger)


@raises("OwnableInvalidOwner")
def test_contracts_cannot_be_deployed_without_owner(d: Deployment) -> None:
    for name, args in (
        ("Reputation", (ZERO,)),
        ("P2PEscrow", (ZERO, d.fee_recipient, 0, d.reputation.address)),
    ):
        artifact = load_artifact(name)
        factory = d.chain.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
        with reverts("OwnableInvalidOwner", owner=ZERO):
            factory.constructor(*args).estimate_gas({"from": d.owner})


@raises("EnforcedPause", "ExpectedPause")
def test_paused_creation_and_unpausing_twice(d: Deployment) -> None:
    with reverts("ExpectedPause"):
        attempt(d, d.escrow.functions.unpause(), d.owner)
    tx(d, d.escrow.functions.pause(), d.owner)
    with reverts("EnforcedPause"):
        attempt(d, d.escrow.functions.pause(), d.owner)
    t = new_terms(d, "erc20", token=d.tokens["permit"].address)
    permit = sign_permit(
        d, d.tokens["permit"], d.buyer, d.escrow.address, t["amount"], next_time(d) + 600
    )
    o = offer(d, token=t["token"])
    for fn, value in (
        (d.escrow.functions.create(t), 0),
        (d.escrow.functions.createAndFund(t), 0),
        (d.escrow.functions.createAndFundWithPermit(t, permit), 0),
        (d.escrow.functions.fillOffer(o, sign_offer(d, o)), 0),
        (d.escrow.functions.fillOfferWithPermit(o, sign_offer(d, o), permit), 0),
    ):
        with reverts("EnforcedPause"):
            attempt(d, fn, d.buyer, value)


@raises("ReentrancyGuardReentrantCall")
def test_reentrant_token_cannot_reenter_a_payout(d: Deployment) -> None:
    token = d.chain.deploy("ReentrantToken", test=True)
    tx(d, token.functions.mint(d.buyer, 10**18), d.owner)
    t = d.terms(token=token.address, amount=10**18)
    tx(d, token.functions.approve(d.escrow.address, t["amount"]), d.buyer)
    tx(d, d.escrow.functions.createAndFund(t), d.buyer)
    tx(d, d.escrow.functions.release(t, t["amount"] // 2), d.buyer)  # some fees to steal
    fees = d.escrow.functions.feesAccrued(token.address).call()
    # while the escrow pays the seller, the token calls back into the escrow
    tx(
        d,
        token.functions.arm(
            d.escrow.address, d.escrow.encode_abi("withdrawFees", args=[token.address])
        ),
        d.owner,
    )
    tx(d, d.escrow.functions.release(t, t["amount"] // 2), d.buyer)
    assert not token.functions.reentrySucceeded().call()
    assert (
        decode_revert(token.functions.reentryRevertData().call()).name
        == "ReentrancyGuardReentrantCall"
    )
    assert d.state_of(t) == "Completed"
    assert d.escrow.functions.feesAccrued(token.address).call() == 2 * fees


# -- completeness ----------------------------------------------------------------------------------
def test_every_error_in_the_abis_is_raised_by_a_test() -> None:
    in_abis = {
        e["name"]
        for name in ("P2PEscrow", "Reputation")
        for e in load_artifact(name)["abi"]
        if e["type"] == "error"
    }
    assert not RAISED & set(UNREACHABLE)
    assert RAISED | set(UNREACHABLE) == in_abis, (
        f"untested: {sorted(in_abis - RAISED - set(UNREACHABLE))}, "
        f"unknown: {sorted((RAISED | set(UNREACHABLE)) - in_abis)}"
    )
