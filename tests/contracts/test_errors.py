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
    # version "2" are constants shorter than 32 bytes, so neither error can ever be raised.
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
def new_terms(deployed: Deployment, asset: str, **overrides: Any) -> dict[str, Any]:
    if asset == "erc20":
        overrides.setdefault("token", deployed.tokens["standard"].address)
    return deployed.terms(**overrides)


def value_of(t: dict[str, Any]) -> int:
    """msg.value funding needs: price + buyer's deposit in ETH, nothing for a token."""
    return t["amount"] + t["buyerDeposit"] if t["token"] == ETH else 0


def opened(deployed: Deployment, asset: str, **overrides: Any) -> dict[str, Any]:
    """A trade the buyer created and funded (live unless it names a seller's deposit)."""
    t = new_terms(deployed, asset, **overrides)
    if t["token"] != ETH:
        approve(deployed, t["token"], t["buyer"], t["amount"] + t["buyerDeposit"])
    tx(deployed, deployed.escrow.functions.createAndFund(t), t["buyer"], value_of(t))
    return t


def created(deployed: Deployment, asset: str, **overrides: Any) -> dict[str, Any]:
    """An unfunded trade created by the buyer (the buyer has approved the tokens)."""
    t = new_terms(deployed, asset, **overrides)
    tx(deployed, deployed.escrow.functions.create(t), t["buyer"])
    if t["token"] != ETH:
        approve(deployed, t["token"], t["buyer"], t["amount"] + t["buyerDeposit"])
    return t


def in_state(deployed: Deployment, asset: str, state: str) -> dict[str, Any]:
    if state == "AwaitingFunding":
        return created(deployed, asset)
    if state == "AwaitingDeposit":  # funded by the buyer, the seller's deposit not in
        return opened(deployed, asset, sellerDeposit=10**17)
    if state == "Cancelled":
        t = created(deployed, asset)
        tx(deployed, deployed.escrow.functions.cancel(t), deployed.buyer)
        return t
    t = opened(deployed, asset)
    if state == "Disputed":
        tx(deployed, deployed.escrow.functions.dispute(t), deployed.buyer)
    elif state == "Completed":
        tx(deployed, deployed.escrow.functions.release(t, t["amount"]), deployed.buyer)
    elif state == "Refunded":
        tx(deployed, deployed.escrow.functions.refund(t, t["amount"]), deployed.seller)
    return t


def attempt(deployed: Deployment, fn: Any, sender: str, value: int = 0) -> None:
    """Send through gas estimation: a revert surfaces with its data."""
    deployed.send(fn, sender, value)


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
    "submitEvidence": ("buyer", (b"\x00" * 32, "ipfs://x")),
    "rate": ("buyer", (5, b"\x00" * 32)),
    "accept": ("seller", ()),
    "concede": ("buyer", ()),
}


def call(deployed: Deployment, name: str, t: dict[str, Any], caller: str | None = None) -> None:
    role, args = CALLS[name]
    value = value_of(t) if name == "fund" else 0
    attempt(deployed, getattr(deployed.escrow.functions, name)(t, *args), caller or getattr(deployed, role), value)


# -- terms validation ------------------------------------------------------------------------------
@raises("SameParty")
@pytest.mark.parametrize("asset", ASSETS)
def test_buyer_and_seller_must_differ(deployed: Deployment, asset: str) -> None:
    t = new_terms(deployed, asset, seller=deployed.buyer)
    with reverts("SameParty", party=deployed.buyer):
        attempt(deployed, deployed.escrow.functions.createAndFund(t), deployed.buyer, value_of(t))


@raises("SameParty")
def test_a_seller_creating_a_trade_with_itself_as_buyer_gets_same_party(deployed: Deployment) -> None:
    t = new_terms(deployed, "eth", buyer=deployed.seller, flags=0)  # terms are checked before the creator flag
    with reverts("SameParty", party=deployed.seller):
        attempt(deployed, deployed.escrow.functions.create(t), deployed.seller)


@raises("ZeroParty")
@pytest.mark.parametrize("asset", ASSETS)
def test_parties_cannot_be_zero(deployed: Deployment, asset: str) -> None:
    t = new_terms(deployed, asset, seller=ZERO)
    with reverts("ZeroParty"):
        attempt(deployed, deployed.escrow.functions.createAndFund(t), deployed.buyer, value_of(t))
    t = new_terms(deployed, asset, buyer=ZERO, flags=FLAG_CREATED_BY_SELLER)
    with reverts("ZeroParty"):
        attempt(deployed, deployed.escrow.functions.create(t), deployed.seller)


@raises("ArbiterIsParty")
@pytest.mark.parametrize("asset", ASSETS)
def test_arbiter_cannot_be_a_party(deployed: Deployment, asset: str) -> None:
    for who in (deployed.buyer, deployed.seller):
        t = new_terms(deployed, asset, arbiter=who)
        with reverts("ArbiterIsParty", arbiter=who):
            attempt(deployed, deployed.escrow.functions.createAndFund(t), deployed.buyer, value_of(t))


@raises("ZeroAmount")
@pytest.mark.parametrize("asset", ASSETS)
def test_amount_cannot_be_zero(deployed: Deployment, asset: str) -> None:
    t = new_terms(deployed, asset, amount=0)
    with reverts("ZeroAmount"):
        attempt(deployed, deployed.escrow.functions.createAndFund(t), deployed.buyer)
    with reverts("ZeroAmount"):
        attempt(deployed, deployed.escrow.functions.create(t), deployed.buyer)


@raises("BpsTooHigh")
@pytest.mark.parametrize("asset", ASSETS)
def test_arbiter_fee_above_twenty_percent_rejected(deployed: Deployment, asset: str) -> None:
    t = new_terms(deployed, asset, arbiterFeeBps=2001)
    with reverts("BpsTooHigh", bps=2001, max=2000):
        attempt(deployed, deployed.escrow.functions.createAndFund(t), deployed.buyer, value_of(t))
    at_cap = opened(deployed, asset, arbiterFeeBps=2000)  # the maximum itself is fine
    assert deployed.escrow_of(at_cap)["held"] == at_cap["amount"]
    assert deployed.state_of(at_cap) == "Funded"


@raises("BpsTooHigh")
@pytest.mark.parametrize("asset", ASSETS)
def test_shares_above_one_hundred_percent_rejected(deployed: Deployment, asset: str) -> None:
    t = opened(deployed, asset)
    with reverts("BpsTooHigh", bps=10_001, max=10_000):
        attempt(deployed, deployed.escrow.functions.proposeSettlement(t, 10_001), deployed.buyer)
    tx(deployed, deployed.escrow.functions.dispute(t), deployed.buyer)
    with reverts("BpsTooHigh", bps=10_001, max=10_000):
        attempt(deployed, deployed.escrow.functions.rule(t, 10_001), deployed.arbiter)
    with reverts("BpsTooHigh", bps=10_001, max=10_000):
        deployed.escrow.functions.computeSplit(100, 10_001, 0, 0).call()


@raises("BpsTooHigh")
def test_platform_fee_above_five_percent_rejected(deployed: Deployment) -> None:
    with reverts("BpsTooHigh", bps=501, max=500):
        attempt(deployed, deployed.escrow.functions.setPlatformFee(501), deployed.owner)
    artifact = load_artifact("P2PEscrow")
    factory = deployed.chain.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    with reverts("BpsTooHigh", bps=501, max=500):
        factory.constructor(deployed.owner, deployed.fee_recipient, 501).estimate_gas({"from": deployed.owner})
    assert deployed.escrow.functions.platformFeeBps().call() == PLATFORM_FEE_BPS


@raises("FeeWithoutArbiter")
@pytest.mark.parametrize("asset", ASSETS)
def test_arbiter_fee_needs_an_arbiter(deployed: Deployment, asset: str) -> None:
    t = new_terms(deployed, asset, arbiter=ZERO, arbiterFeeBps=1)
    with reverts("FeeWithoutArbiter", arbiterFeeBps=1):
        attempt(deployed, deployed.escrow.functions.createAndFund(t), deployed.buyer, value_of(t))


@raises("PlatformFeeMismatch")
@pytest.mark.parametrize("asset", ASSETS)
def test_terms_must_name_the_fee_in_force(deployed: Deployment, asset: str) -> None:
    for wrong in (0, PLATFORM_FEE_BPS + 1):
        t = new_terms(deployed, asset, platformFeeBps=wrong)
        with reverts("PlatformFeeMismatch", given=wrong, current=PLATFORM_FEE_BPS):
            attempt(deployed, deployed.escrow.functions.createAndFund(t), deployed.buyer, value_of(t))


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
    deployed: Deployment, asset: str, field: str, window: int
) -> None:
    t = new_terms(deployed, asset, **{field: window})
    with reverts("InvalidWindow", window=window, max=MAX_WINDOW):
        attempt(deployed, deployed.escrow.functions.create(t), deployed.buyer)


@raises("InvalidFlags")
@pytest.mark.parametrize("asset", ASSETS)
def test_flags_must_be_known_and_match_the_creator(deployed: Deployment, asset: str) -> None:
    cases = [
        (deployed.buyer, "createAndFund", new_terms(deployed, asset, flags=8)),
        (deployed.buyer, "create", new_terms(deployed, asset, flags=FLAG_CREATED_BY_SELLER)),
        (deployed.seller, "create", new_terms(deployed, asset, flags=FLAG_RECORD_REPUTATION)),
        (deployed.buyer, "createAndFund", new_terms(deployed, asset, flags=FLAG_CREATED_BY_SELLER)),
    ]
    for sender, fn, t in cases:
        value = value_of(t) if fn == "createAndFund" else 0
        with reverts("InvalidFlags", flags=t["flags"]):
            attempt(deployed, getattr(deployed.escrow.functions, fn)(t), sender, value)
    if asset == "erc20":  # the permit variant checks the creator flag too (the permit is never used)
        t = new_terms(deployed, asset, flags=FLAG_CREATED_BY_SELLER)
        permit = {"deadline": 0, "v": 0, "r": b"\x00" * 32, "s": b"\x00" * 32}
        with reverts("InvalidFlags", flags=t["flags"]):
            attempt(deployed, deployed.escrow.functions.createAndFundWithPermit(t, permit), deployed.buyer)
    o = offer(deployed, flags=8, **({"token": deployed.tokens["standard"].address} if asset == "erc20" else {}))
    with reverts("InvalidFlags", flags=8 | FLAG_CREATED_BY_SELLER):
        attempt(
            deployed,
            deployed.escrow.functions.fillOffer(o, sign_offer(deployed, o)),
            deployed.buyer,
            o["amount"] if asset == "eth" else 0,
        )


@raises("TradeExists")
@pytest.mark.parametrize("asset", ASSETS)
def test_same_terms_cannot_open_two_trades(deployed: Deployment, asset: str) -> None:
    t = opened(deployed, asset)
    with reverts("TradeExists", id=trade_id(t)):
        attempt(deployed, deployed.escrow.functions.createAndFund(t), deployed.buyer, value_of(t))
    with reverts("TradeExists", id=trade_id(t)):
        attempt(deployed, deployed.escrow.functions.create(t), deployed.buyer)
    c = created(deployed, asset)
    tx(deployed, deployed.escrow.functions.cancel(c), deployed.buyer)
    with reverts("TradeExists", id=trade_id(c)):  # a cancelled trade's terms stay taken
        attempt(deployed, deployed.escrow.functions.create(c), deployed.buyer)


# -- who and when ----------------------------------------------------------------------------------
@raises("UnknownTrade")
@pytest.mark.parametrize("asset", ASSETS)
def test_every_trade_call_rejects_unknown_terms(deployed: Deployment, asset: str) -> None:
    t = new_terms(deployed, asset)
    for name in CALLS:
        with reverts("UnknownTrade", id=trade_id(t)):
            call(deployed, name, t)


@raises("Unauthorized")
@pytest.mark.parametrize("asset", ASSETS)
def test_calls_by_the_wrong_account_are_rejected(deployed: Deployment, asset: str) -> None:
    funded_t = opened(deployed, asset)
    unfunded = created(deployed, asset)
    finished = opened(deployed, asset)
    tx(deployed, deployed.escrow.functions.release(finished, finished["amount"]), deployed.buyer)
    fresh = new_terms(deployed, asset)
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("fund", unfunded, deployed.seller),
        ("release", funded_t, deployed.seller),
        ("refund", funded_t, deployed.buyer),
        ("markDelivered", funded_t, deployed.buyer),
        ("dispute", funded_t, deployed.arbiter),
        ("dispute", funded_t, deployed.stranger),
        ("proposeSettlement", funded_t, deployed.arbiter),
        ("acceptSettlement", funded_t, deployed.stranger),
        ("submitEvidence", funded_t, deployed.stranger),
        ("rate", finished, deployed.arbiter),
        ("accept", unfunded, deployed.buyer),
        ("accept", funded_t, deployed.stranger),
    ]
    for name, t, caller in cases:
        with reverts("Unauthorized", caller=caller, id=trade_id(t)):
            call(deployed, name, t, caller)
    tx(deployed, deployed.escrow.functions.dispute(funded_t), deployed.seller)
    with reverts("Unauthorized", caller=deployed.buyer, id=trade_id(funded_t)):
        call(deployed, "rule", funded_t, deployed.buyer)
    for caller in (deployed.arbiter, deployed.stranger):
        with reverts("Unauthorized", caller=caller, id=trade_id(funded_t)):
            call(deployed, "concede", funded_t, caller)
    with reverts("Unauthorized", caller=deployed.stranger, id=trade_id(fresh)):
        attempt(deployed, deployed.escrow.functions.create(fresh), deployed.stranger)
    with reverts("Unauthorized", caller=deployed.seller, id=trade_id(fresh)):
        attempt(deployed, deployed.escrow.functions.createAndFund(fresh), deployed.seller, value_of(fresh))
    permit = {"deadline": 0, "v": 0, "r": b"\x00" * 32, "s": b"\x00" * 32}
    with reverts("Unauthorized", caller=deployed.seller, id=trade_id(fresh)):
        attempt(deployed, deployed.escrow.functions.createAndFundWithPermit(fresh, permit), deployed.seller)


LIVE_ONLY = ["release", "refund", "timeout", "markDelivered", "proposeSettlement", "acceptSettlement", "dispute"]
DISPUTE_ONLY = ["rule", "resolveExpiredDispute", "concede"]
WRONG_STATE = {
    "AwaitingFunding": LIVE_ONLY + DISPUTE_ONLY,
    "AwaitingDeposit": ["fund", *LIVE_ONLY, *DISPUTE_ONLY],
    "Funded": ["fund", "cancel", *DISPUTE_ONLY],
    # (the seller never acted on these trades: accept reaches the state check)
    "Disputed": ["fund", "cancel", "release", "refund", "timeout", "markDelivered", "dispute", "accept"],
    "Completed": ["fund", "cancel", *LIVE_ONLY, *DISPUTE_ONLY, "accept"],
    "Refunded": ["release", "proposeSettlement", "dispute", "concede"],
    "Cancelled": ["fund", "cancel", "release", "dispute", "concede", "accept"],
}


@raises("WrongState")
@pytest.mark.parametrize("asset", ASSETS)
@pytest.mark.parametrize("state", list(WRONG_STATE))
def test_calls_in_the_wrong_state_are_rejected(deployed: Deployment, asset: str, state: str) -> None:
    t = in_state(deployed, asset, state)
    for name in WRONG_STATE[state]:
        try:
            with reverts("WrongState", id=trade_id(t), state=STATE[state]):
                call(deployed, name, t)
        except AssertionError as exc:
            raise AssertionError(f"{name} in {state}: {exc}") from exc


@raises("DeadlinePassed")
@pytest.mark.parametrize("asset", ASSETS)
def test_actions_allowed_only_before_their_deadline(deployed: Deployment, asset: str) -> None:
    unfunded, funded_t = created(deployed, asset), opened(deployed, asset)
    disputed = opened(deployed, asset)
    tx(deployed, deployed.escrow.functions.dispute(disputed), deployed.buyer)
    latest = max(deployed.escrow_of(x)["deadline"] for x in (unfunded, funded_t, disputed))
    deployed.chain.set_next_timestamp(latest)
    for name, t in [
        ("fund", unfunded),
        ("accept", unfunded),
        ("markDelivered", funded_t),
        ("dispute", funded_t),
        ("rule", disputed),
    ]:
        with reverts("DeadlinePassed", deadline=deployed.escrow_of(t)["deadline"]):
            call(deployed, name, t)


@raises("DeadlineNotReached")
@pytest.mark.parametrize("asset", ASSETS)
def test_fallbacks_allowed_only_from_their_deadline(deployed: Deployment, asset: str) -> None:
    unfunded, funded_t = created(deployed, asset), opened(deployed, asset)
    awaiting_deposit = opened(deployed, asset, sellerDeposit=10**17)
    disputed = opened(deployed, asset)
    tx(deployed, deployed.escrow.functions.dispute(disputed), deployed.buyer)
    earliest = min(deployed.escrow_of(x)["deadline"] for x in (unfunded, funded_t, disputed, awaiting_deposit))
    deployed.chain.set_next_timestamp(earliest - 1)
    for name, t, caller in [
        ("cancel", unfunded, deployed.stranger),
        ("cancel", unfunded, deployed.seller),
        ("cancel", awaiting_deposit, deployed.stranger),
        ("cancel", awaiting_deposit, deployed.seller),
        ("timeout", funded_t, deployed.stranger),
        ("resolveExpiredDispute", disputed, deployed.stranger),
    ]:
        with reverts("DeadlineNotReached", deadline=deployed.escrow_of(t)["deadline"]):
            call(deployed, name, t, caller)


# -- amounts and values ----------------------------------------------------------------------------
@raises("InvalidPart")
@pytest.mark.parametrize("asset", ASSETS)
def test_parts_must_be_between_one_and_what_is_held(deployed: Deployment, asset: str) -> None:
    t = opened(deployed, asset)
    held = t["amount"]
    for fn, sender in (("release", deployed.buyer), ("refund", deployed.seller)):
        for part in (0, held + 1):
            with reverts("InvalidPart", requested=part, held=held):
                attempt(deployed, getattr(deployed.escrow.functions, fn)(t, part), sender)
    tx(deployed, deployed.escrow.functions.release(t, held - 10), deployed.buyer)
    with reverts("InvalidPart", requested=11, held=10):
        attempt(deployed, deployed.escrow.functions.refund(t, 11), deployed.seller)


@raises("WrongValue")
def test_eth_trades_need_exactly_the_amount_sent(deployed: Deployment) -> None:
    t = new_terms(deployed, "eth")
    for sent in (0, t["amount"] - 1, t["amount"] + 1):
        with reverts("WrongValue", sent=sent, expected=t["amount"]):
            attempt(deployed, deployed.escrow.functions.createAndFund(t), deployed.buyer, sent)
    # with a buyer's deposit: price and deposit together, not the price alone
    t = new_terms(deployed, "eth", buyerDeposit=10**17)
    with reverts("WrongValue", sent=t["amount"], expected=t["amount"] + 10**17):
        attempt(deployed, deployed.escrow.functions.createAndFund(t), deployed.buyer, t["amount"])
    # a bond: exactly the amount named
    with reverts("WrongValue", sent=4, expected=5):
        attempt(deployed, deployed.escrow.functions.depositBond(ETH, 5), deployed.seller, 4)
    c = created(deployed, "eth")
    with reverts("WrongValue", sent=1, expected=c["amount"]):
        attempt(deployed, deployed.escrow.functions.fund(c), deployed.buyer, 1)
    o = offer(deployed)
    with reverts("WrongValue", sent=0, expected=o["amount"]):
        attempt(deployed, deployed.escrow.functions.fillOffer(o, sign_offer(deployed, o)), deployed.buyer, 0)
    # the permit variants are not payable: an ETH offer cannot be filled through them
    permit = {"deadline": 0, "v": 0, "r": b"\x00" * 32, "s": b"\x00" * 32}
    with reverts("WrongValue", sent=0, expected=o["amount"]):
        attempt(deployed, deployed.escrow.functions.fillOfferWithPermit(o, sign_offer(deployed, o), permit),
                deployed.buyer)


@raises("WrongValue")
def test_token_trades_take_no_eth(deployed: Deployment) -> None:
    t = new_terms(deployed, "erc20")
    approve(deployed, t["token"], deployed.buyer, t["amount"])
    with reverts("WrongValue", sent=1, expected=0):
        attempt(deployed, deployed.escrow.functions.createAndFund(t), deployed.buyer, 1)
    c = created(deployed, "erc20")
    with reverts("WrongValue", sent=5, expected=0):
        attempt(deployed, deployed.escrow.functions.fund(c), deployed.buyer, 5)
    o = offer(deployed, token=t["token"])
    with reverts("WrongValue", sent=7, expected=0):
        attempt(deployed, deployed.escrow.functions.fillOffer(o, sign_offer(deployed, o)), deployed.buyer, 7)
    with reverts("WrongValue", sent=3, expected=0):
        attempt(deployed, deployed.escrow.functions.depositBond(t["token"], 3), deployed.seller, 3)


@raises("NothingArrived")
def test_funding_that_moves_no_tokens_is_rejected(deployed: Deployment) -> None:
    # A token whose every call returns the word 1: transferFrom "succeeds", balanceOf never changes.
    constant = deploy_raw(deployed, bytes.fromhex("600160005260206000f3"))
    t = deployed.terms(token=constant)
    with reverts("NothingArrived", token=constant):
        attempt(deployed, deployed.escrow.functions.createAndFund(t), deployed.buyer)
    tx(deployed, deployed.escrow.functions.create(t), deployed.buyer)
    with reverts("NothingArrived", token=constant):
        attempt(deployed, deployed.escrow.functions.fund(t), deployed.buyer)
    with reverts("NothingArrived", token=constant):
        attempt(deployed, deployed.escrow.functions.depositBond(constant, 10), deployed.seller)


@raises("AmountTooLarge")
def test_more_than_uint128_arriving_is_rejected(deployed: Deployment) -> None:
    # The terms amount is a uint128, so only a token that delivers more than asked can overflow
    # `held`: the re-entrant token's hook mints 2**128 to the escrow while the escrow pulls the
    # buyer's tokens.
    token = deployed.chain.deploy("ReentrantToken", test=True)
    tx(deployed, token.functions.mint(deployed.buyer, 10**18), deployed.owner)
    tx(deployed, token.functions.approve(deployed.escrow.address, 10**18), deployed.buyer)
    mint = token.encode_abi("mint", args=[deployed.escrow.address, 2**128])
    tx(deployed, token.functions.arm(token.address, mint), deployed.owner)
    t = deployed.terms(token=token.address, amount=10**18)
    with reverts("AmountTooLarge", amount=10**18 + 2**128):
        attempt(deployed, deployed.escrow.functions.createAndFund(t), deployed.buyer)
    assert deployed.state_of(t) == "None"


@raises("SafeERC20FailedOperation")
def test_token_returning_false_fails_the_transfer(deployed: Deployment) -> None:
    # A token whose every call returns the word 0: balanceOf 0, transferFrom false.
    falsy = deploy_raw(deployed, bytes.fromhex("60206000f3"))
    t = deployed.terms(token=falsy)
    with reverts("SafeERC20FailedOperation", token=falsy):
        attempt(deployed, deployed.escrow.functions.createAndFund(t), deployed.buyer)


# -- trade-specific rules --------------------------------------------------------------------------
@raises("NoArbiter")
@pytest.mark.parametrize("asset", ASSETS)
def test_trade_without_arbiter_cannot_be_disputed(deployed: Deployment, asset: str) -> None:
    t = opened(deployed, asset, arbiter=ZERO, arbiterFeeBps=0)
    for party in (deployed.buyer, deployed.seller):
        with reverts("NoArbiter", id=trade_id(t)):
            attempt(deployed, deployed.escrow.functions.dispute(t), party)


@raises("AlreadyMarked")
@pytest.mark.parametrize("asset", ASSETS)
def test_delivery_can_be_marked_once(deployed: Deployment, asset: str) -> None:
    t = opened(deployed, asset)
    tx(deployed, deployed.escrow.functions.markDelivered(t), deployed.seller)
    with reverts("AlreadyMarked", id=trade_id(t)):
        attempt(deployed, deployed.escrow.functions.markDelivered(t), deployed.seller)


@raises("SettlementMismatch")
@pytest.mark.parametrize("asset", ASSETS)
def test_settlement_must_accept_the_counterpartys_exact_proposal(deployed: Deployment, asset: str) -> None:
    t = opened(deployed, asset)
    with reverts("SettlementMismatch", proposedBps=0, acceptedBps=5000):  # nothing proposed
        attempt(deployed, deployed.escrow.functions.acceptSettlement(t, 5000), deployed.seller)
    tx(deployed, deployed.escrow.functions.proposeSettlement(t, 5000), deployed.seller)
    with reverts("SettlementMismatch", proposedBps=0, acceptedBps=5000):  # own proposal
        attempt(deployed, deployed.escrow.functions.acceptSettlement(t, 5000), deployed.seller)
    with reverts("SettlementMismatch", proposedBps=5000, acceptedBps=5001):  # other split
        attempt(deployed, deployed.escrow.functions.acceptSettlement(t, 5001), deployed.buyer)


@raises("InvalidScore")
@pytest.mark.parametrize("asset", ASSETS)
def test_score_outside_one_to_five_rejected(deployed: Deployment, asset: str) -> None:
    t = opened(deployed, asset)
    tx(deployed, deployed.escrow.functions.release(t, t["amount"]), deployed.buyer)
    for score in (0, 6):
        with reverts("InvalidScore", score=score):
            attempt(deployed, deployed.escrow.functions.rate(t, score, b"\x00" * 32), deployed.seller)


@raises("NotEnded")
@pytest.mark.parametrize("asset", ASSETS)
@pytest.mark.parametrize("state", ["AwaitingFunding", "AwaitingDeposit", "Funded", "Disputed", "Cancelled"])
def test_only_an_ended_trade_can_be_rated(deployed: Deployment, asset: str, state: str) -> None:
    t = in_state(deployed, asset, state)
    with reverts("NotEnded", id=trade_id(t), state=STATE[state]):
        attempt(deployed, deployed.escrow.functions.rate(t, 5, b"\x00" * 32), deployed.buyer)


@raises("NotRecorded")
@pytest.mark.parametrize("asset", ASSETS)
def test_a_trade_that_records_nothing_cannot_be_rated(deployed: Deployment, asset: str) -> None:
    # the seller never acted on it: the trade counts for no one
    unconsented = in_state(deployed, asset, "Completed")
    # the flag is off
    quiet = opened(deployed, asset, flags=0)
    tx(deployed, deployed.escrow.functions.accept(quiet), deployed.seller)
    tx(deployed, deployed.escrow.functions.release(quiet, quiet["amount"]), deployed.buyer)
    # the asset is not listed (delisted before the trade was created)
    token = ETH if asset == "eth" else deployed.tokens["standard"].address
    deployed.list_asset(token, listed=False)
    unlisted = opened(deployed, asset)
    tx(deployed, deployed.escrow.functions.accept(unlisted), deployed.seller)
    tx(deployed, deployed.escrow.functions.release(unlisted, unlisted["amount"]), deployed.buyer)
    # the price is below the listed minimum
    deployed.list_asset(token, min_amount=10**19)
    small = opened(deployed, asset)
    tx(deployed, deployed.escrow.functions.accept(small), deployed.seller)
    tx(deployed, deployed.escrow.functions.release(small, small["amount"]), deployed.buyer)
    for t in (unconsented, quiet, unlisted, small):
        for rater in (deployed.buyer, deployed.seller):
            with reverts("NotRecorded", id=trade_id(t)):
                attempt(deployed, deployed.escrow.functions.rate(t, 5, b"\x00" * 32), rater)


@raises("AlreadyRated")
@pytest.mark.parametrize("asset", ASSETS)
def test_each_party_rates_a_trade_once(deployed: Deployment, asset: str) -> None:
    t = opened(deployed, asset)
    tx(deployed, deployed.escrow.functions.accept(t), deployed.seller)  # both entered it: it records
    tx(deployed, deployed.escrow.functions.release(t, t["amount"]), deployed.buyer)
    for rater in (deployed.buyer, deployed.seller):
        tx(deployed, deployed.escrow.functions.rate(t, 4, b"\x00" * 32), rater)
        with reverts("AlreadyRated", id=trade_id(t), rater=rater):
            attempt(deployed, deployed.escrow.functions.rate(t, 5, b"\x00" * 32), rater)


@pytest.mark.parametrize("asset", ASSETS)
def test_starving_the_reputation_call_reverts_the_payout(deployed: Deployment, asset: str) -> None:
    t = opened(deployed, asset)
    tx(deployed, deployed.escrow.functions.accept(t), deployed.seller)  # the trade records
    fn = deployed.escrow.functions.release(t, t["amount"])

    # bisect for the lowest gas limit that succeeds; below it, the reputation call is starved and the
    # whole transaction reverts: no one can end a trade while dodging its record
    def succeeds(gas: int) -> bool:
        try:
            fn.call({"from": deployed.buyer, "gas": gas})
            return True
        except Exception:
            return False

    low, high = 40_000, 400_000
    assert succeeds(high) and not succeeds(low)
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (low, mid) if succeeds(mid) else (mid, high)
    starving = low
    # as a transaction: it fails, and nothing moved
    seller_before = balance_of(deployed, t["token"], deployed.seller)
    receipt = deployed.chain.w3.eth.wait_for_transaction_receipt(
        fn.transact({"from": deployed.buyer, "gas": starving})
    )
    assert receipt["status"] == 0
    assert deployed.state_of(t) == "Funded" and balance_of(deployed, t["token"], deployed.seller) == seller_before
    assert deployed.record(deployed.seller, t["token"])["volume"] == 0
    # the same gas is enough for a trade that does not record reputation
    quiet = opened(deployed, asset, flags=0)
    tx(deployed, deployed.escrow.functions.accept(quiet), deployed.seller)
    tx(deployed, deployed.escrow.functions.release(quiet, quiet["amount"]), deployed.buyer, gas=starving)
    assert deployed.state_of(quiet) == "Completed"
    # and no gas limit lets the payout through while the outcome goes unrecorded: at the lowest
    # limit that succeeds, the reputation call still got what it needs
    tx(deployed, fn, deployed.buyer, gas=high)
    assert deployed.state_of(t) == "Completed"
    assert deployed.record(deployed.seller, t["token"])["completed"] == 1
    assert deployed.record(deployed.buyer, t["token"], "Buyer")["completed"] == 1


# -- bonds, acceptance, evidence -------------------------------------------------------------------
@raises("AlreadyAccepted")
@pytest.mark.parametrize("asset", ASSETS)
def test_a_seller_accepts_once(deployed: Deployment, asset: str) -> None:
    t = opened(deployed, asset)
    tx(deployed, deployed.escrow.functions.accept(t), deployed.seller)
    with reverts("AlreadyAccepted", id=trade_id(t)):
        attempt(deployed, deployed.escrow.functions.accept(t), deployed.seller)
    # creating the trade was the seller's acceptance
    by_seller = new_terms(deployed, asset, flags=FLAG_RECORD_REPUTATION | FLAG_CREATED_BY_SELLER)
    tx(deployed, deployed.escrow.functions.create(by_seller), deployed.seller)
    with reverts("AlreadyAccepted", id=trade_id(by_seller)):
        attempt(deployed, deployed.escrow.functions.accept(by_seller), deployed.seller)


@raises("InsufficientBond")
@pytest.mark.parametrize("asset", ASSETS)
def test_a_seller_deposit_needs_enough_free_bond(deployed: Deployment, asset: str) -> None:
    token = ETH if asset == "eth" else deployed.tokens["standard"].address
    deployed.deposit_bond(10**17 - 1, token)
    t = opened(deployed, asset, sellerDeposit=10**17)
    with reverts("InsufficientBond", seller=deployed.seller, token=token, free=10**17 - 1, needed=10**17):
        attempt(deployed, deployed.escrow.functions.accept(t), deployed.seller)
    by_seller = new_terms(deployed, asset, sellerDeposit=10**17, flags=FLAG_CREATED_BY_SELLER)
    with reverts("InsufficientBond", seller=deployed.seller, token=token, free=10**17 - 1, needed=10**17):
        attempt(deployed, deployed.escrow.functions.create(by_seller), deployed.seller)
    o = _offer(deployed, asset, sellerDeposit=10**17)
    with reverts("InsufficientBond", seller=deployed.seller, token=token, free=10**17 - 1, needed=10**17):
        _fill(deployed, o, sign_offer(deployed, o), deployed.buyer)
    # withdrawing more than the free bond, or nothing
    for amount in (10**17, 0):
        with reverts("InsufficientBond", seller=deployed.seller, token=token, free=10**17 - 1, needed=amount):
            attempt(deployed, deployed.escrow.functions.withdrawBond(token, amount, deployed.seller), deployed.seller)
    assert deployed.bond(token=token) == 10**17 - 1 and deployed.state_of(t) == "AwaitingDeposit"


@raises("ZeroAmount")
@pytest.mark.parametrize("asset", ASSETS)
def test_an_empty_bond_deposit_is_rejected(deployed: Deployment, asset: str) -> None:
    token = ETH if asset == "eth" else deployed.tokens["standard"].address
    with reverts("ZeroAmount"):
        attempt(deployed, deployed.escrow.functions.depositBond(token, 0), deployed.seller)


@raises("UriTooLong")
def test_evidence_uri_is_at_most_512_bytes(deployed: Deployment) -> None:
    t = opened(deployed, "eth")
    longest = "ipfs://" + "a" * (512 - len("ipfs://"))
    r = tx(deployed, deployed.escrow.functions.submitEvidence(t, b"\x01" * 32, longest), deployed.buyer)
    assert deployed.events(r, "EvidenceSubmitted")[0]["uri"] == longest
    with reverts("UriTooLong", length=513, max=512):
        attempt(deployed, deployed.escrow.functions.submitEvidence(t, b"\x01" * 32, longest + "a"), deployed.buyer)
    # bytes, not characters: 171 three-byte characters are 513 bytes
    with reverts("UriTooLong", length=513, max=512):
        attempt(deployed, deployed.escrow.functions.submitEvidence(t, b"\x01" * 32, "\u20ac" * 171), deployed.buyer)


@raises("WrongAsset")
@pytest.mark.parametrize("asset", ASSETS)
def test_fees_are_swept_per_asset(deployed: Deployment, asset: str) -> None:
    t = in_state(deployed, asset, "Completed")
    other = deployed.tokens["six_decimals"].address
    with reverts("WrongAsset", id=trade_id(t)):
        attempt(deployed, deployed.escrow.functions.sweepFees(other, [t]), deployed.stranger)
    assert deployed.escrow_of(t)["held"] > 0  # its fee is still there


@raises("NotEnded")
@pytest.mark.parametrize("asset", ASSETS)
@pytest.mark.parametrize("state", ["Funded", "Disputed", "AwaitingFunding", "Cancelled"])
def test_fees_are_swept_only_from_ended_trades(deployed: Deployment, asset: str, state: str) -> None:
    t = in_state(deployed, asset, state)
    with reverts("NotEnded", id=trade_id(t), state=STATE[state]):
        attempt(deployed, deployed.escrow.functions.sweepFees(t["token"], [t]), deployed.stranger)


# -- offers ----------------------------------------------------------------------------------------
def _offer(deployed: Deployment, asset: str, **overrides: Any) -> dict[str, Any]:
    if asset == "erc20":
        overrides.setdefault("token", deployed.tokens["standard"].address)
        approve(deployed, overrides["token"], deployed.buyer, 2 * 10**18)
    return offer(deployed, **overrides)


def _pays(o: dict[str, Any]) -> int:
    return o["amount"] + o["buyerDeposit"] if o["token"] == ETH else 0


def _fill(deployed: Deployment, o: dict[str, Any], sig: bytes, sender: str) -> None:
    attempt(deployed, deployed.escrow.functions.fillOffer(o, sig), sender, _pays(o))


@raises("OfferExpired")
@pytest.mark.parametrize("asset", ASSETS)
def test_expired_offer_rejected(deployed: Deployment, asset: str) -> None:
    o = _offer(deployed, asset, expiry=next_time(deployed) + 10)
    deployed.chain.set_next_timestamp(o["expiry"] + 1)
    with reverts("OfferExpired", expiry=o["expiry"]):
        _fill(deployed, o, sign_offer(deployed, o), deployed.buyer)


@raises("InvalidSignature")
@pytest.mark.parametrize("asset", ASSETS)
def test_offer_signed_by_another_key_rejected(deployed: Deployment, asset: str) -> None:
    o = _offer(deployed, asset)
    with reverts("InvalidSignature", seller=deployed.seller):
        _fill(deployed, o, sign_offer(deployed, o, signer=deployed.buyer), deployed.buyer)


@raises("NonceUsed")
@pytest.mark.parametrize("asset", ASSETS)
def test_used_nonce_rejected(deployed: Deployment, asset: str) -> None:
    o = _offer(deployed, asset)
    sig = sign_offer(deployed, o)
    tx(deployed, deployed.escrow.functions.fillOffer(o, sig), deployed.buyer, o["amount"] if asset == "eth" else 0)
    with reverts("NonceUsed", seller=deployed.seller, nonce=o["nonce"]):
        _fill(deployed, o, sig, deployed.buyer)
    with reverts("NonceUsed", seller=deployed.seller, nonce=o["nonce"]):
        attempt(deployed, deployed.escrow.functions.revokeOffer(o["nonce"]), deployed.seller)


@raises("NotOfferBuyer")
@pytest.mark.parametrize("asset", ASSETS)
def test_reserved_offer_rejects_other_buyers(deployed: Deployment, asset: str) -> None:
    o = _offer(deployed, asset, buyer=deployed.buyer)
    with reverts("NotOfferBuyer", buyer=deployed.buyer):
        _fill(deployed, o, sign_offer(deployed, o), deployed.stranger)


# -- credits, fees, owner --------------------------------------------------------------------------
@raises("NothingToWithdraw")
@pytest.mark.parametrize("asset", ASSETS)
def test_nothing_to_withdraw(deployed: Deployment, asset: str) -> None:
    token = ETH if asset == "eth" else deployed.tokens["standard"].address
    with reverts("NothingToWithdraw", account=deployed.seller, token=token):
        attempt(deployed, deployed.escrow.functions.withdraw(token, deployed.seller), deployed.seller)
    with reverts("NothingToWithdraw", account=deployed.fee_recipient, token=token):
        attempt(deployed, deployed.escrow.functions.sweepFees(token, []), deployed.stranger)
    # a trade whose fee is zero (refunded) or already swept adds nothing
    refunded = in_state(deployed, asset, "Refunded")
    with reverts("NothingToWithdraw", account=deployed.fee_recipient, token=token):
        attempt(deployed, deployed.escrow.functions.sweepFees(token, [refunded]), deployed.stranger)


@raises("InvalidReceiver")
@pytest.mark.parametrize("asset", ASSETS)
def test_credits_cannot_be_withdrawn_to_the_escrow_or_the_zero_address(deployed: Deployment, asset: str) -> None:
    party = deployed.chain.deploy("MaliciousParty", test=True)
    tx(deployed, party.functions.setMode(1), deployed.stranger)  # rejects ETH: its payout is credited
    if asset == "eth":
        t = opened(deployed, "eth", seller=party.address)
        tx(deployed, deployed.escrow.functions.release(t, t["amount"]), deployed.buyer)
        token = ETH
    else:  # a blacklisted seller's token payout is credited
        token = deployed.tokens["blacklist"].address
        t = opened(deployed, "erc20", token=token, seller=party.address)
        tx(deployed, deployed.tokens["blacklist"].functions.setBlacklisted(party.address, True), deployed.stranger)
        tx(deployed, deployed.escrow.functions.release(t, t["amount"]), deployed.buyer)
    credited = deployed.escrow.functions.credits(party.address, token).call()
    assert credited > 0
    for to in (deployed.escrow.address, ZERO):
        data = deployed.escrow.encode_abi("withdraw", args=[token, to])
        with reverts("InvalidReceiver", to=to):
            attempt(deployed, party.functions.execute(deployed.escrow.address, data), deployed.stranger)
    assert deployed.escrow.functions.credits(party.address, token).call() == credited  # nothing lost
    # bonds neither
    deployed.deposit_bond(10, token)
    for to in (deployed.escrow.address, ZERO):
        with reverts("InvalidReceiver", to=to):
            attempt(deployed, deployed.escrow.functions.withdrawBond(token, 10, to), deployed.seller)
    assert deployed.bond(token=token) == 10


@raises("WithdrawFailed")
def test_eth_withdrawal_to_a_rejecting_receiver_fails(deployed: Deployment) -> None:
    t = opened(deployed, "eth")
    tx(deployed, deployed.escrow.functions.release(t, t["amount"]), deployed.buyer)
    # the reputation contract has no receive()
    tx(deployed, deployed.escrow.functions.setFeeRecipient(deployed.reputation.address), deployed.owner)
    with reverts("WithdrawFailed", to=deployed.reputation.address):
        attempt(deployed, deployed.escrow.functions.sweepFees(ETH, [t]), deployed.stranger)
    # a bond withdrawn to a rejecting address
    deployed.deposit_bond(10)
    with reverts("WithdrawFailed", to=deployed.reputation.address):
        attempt(deployed, deployed.escrow.functions.withdrawBond(ETH, 10, deployed.reputation.address), deployed.seller)
    # credits: a seller contract that rejects ETH is credited, then withdraws to a rejecting address
    party = deployed.chain.deploy("MaliciousParty", test=True)
    tx(deployed, party.functions.setMode(1), deployed.stranger)
    t = opened(deployed, "eth", seller=party.address)
    tx(deployed, deployed.escrow.functions.release(t, t["amount"]), deployed.buyer)
    data = deployed.escrow.encode_abi("withdraw", args=[ETH, party.address])
    with reverts("WithdrawFailed", to=party.address):
        attempt(deployed, party.functions.execute(deployed.escrow.address, data), deployed.stranger)


@raises("ZeroFeeRecipient")
def test_fee_recipient_cannot_be_zero(deployed: Deployment) -> None:
    with reverts("ZeroFeeRecipient"):
        attempt(deployed, deployed.escrow.functions.setFeeRecipient(ZERO), deployed.owner)
    artifact = load_artifact("P2PEscrow")
    factory = deployed.chain.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    with reverts("ZeroFeeRecipient"):
        factory.constructor(deployed.owner, ZERO, 0).estimate_gas({"from": deployed.owner})


@raises("NotEscrow")
def test_only_the_escrow_writes_reputation(deployed: Deployment) -> None:
    assert deployed.reputation.functions.escrow().call() == deployed.escrow.address
    for caller in (deployed.stranger, deployed.owner):
        with reverts("NotEscrow", caller=caller):
            attempt(
                deployed,
                deployed.reputation.functions.recordOutcome(deployed.buyer, deployed.seller, ETH, 1, 0),
                caller,
            )
        with reverts("NotEscrow", caller=caller):
            attempt(
                deployed,
                deployed.reputation.functions.recordRating(
                    b"\x00" * 32, deployed.buyer, deployed.seller, 1, ETH, 1, 5, b"\x00" * 32
                ),
                caller,
            )


@raises("OwnableUnauthorizedAccount")
def test_owner_functions_reject_everyone_else(deployed: Deployment) -> None:
    e = deployed.escrow.functions
    for fn in (
        e.setPlatformFee(0),
        e.setFeeRecipient(deployed.stranger),
        e.setReputationAsset(ETH, False, 0),
        e.pause(),
        e.unpause(),
        e.transferOwnership(deployed.stranger),
        e.renounceOwnership(),
        e.acceptOwnership(),
    ):
        with reverts("OwnableUnauthorizedAccount", account=deployed.stranger):
            attempt(deployed, fn, deployed.stranger)
    # the reputation contract has no owner at all
    names = {f["name"] for f in deployed.reputation.abi if f["type"] == "function"}
    assert names == {"escrow", "recordOutcome", "recordRating", "recordOf"}


@raises("OwnableInvalidOwner")
def test_escrow_cannot_be_deployed_without_owner(deployed: Deployment) -> None:
    artifact = load_artifact("P2PEscrow")
    factory = deployed.chain.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    with reverts("OwnableInvalidOwner", owner=ZERO):
        factory.constructor(ZERO, deployed.fee_recipient, 0).estimate_gas({"from": deployed.owner})


@raises("EnforcedPause", "ExpectedPause")
def test_paused_new_money_and_unpausing_twice(deployed: Deployment) -> None:
    with reverts("ExpectedPause"):
        attempt(deployed, deployed.escrow.functions.unpause(), deployed.owner)
    unfunded = created(deployed, "eth")
    live = opened(deployed, "eth")
    tx(deployed, deployed.escrow.functions.pause(), deployed.owner)
    with reverts("EnforcedPause"):
        attempt(deployed, deployed.escrow.functions.pause(), deployed.owner)
    t = new_terms(deployed, "erc20", token=deployed.tokens["permit"].address)
    permit = sign_permit(
        deployed, deployed.tokens["permit"], deployed.buyer, deployed.escrow.address, t["amount"],
        next_time(deployed) + 600,
    )
    o = offer(deployed, token=t["token"])
    for fn, value in (
        (deployed.escrow.functions.create(t), 0),
        (deployed.escrow.functions.createAndFund(t), 0),
        (deployed.escrow.functions.createAndFundWithPermit(t, permit), 0),
        (deployed.escrow.functions.fillOffer(o, sign_offer(deployed, o)), 0),
        (deployed.escrow.functions.fillOfferWithPermit(o, sign_offer(deployed, o), permit), 0),
        (deployed.escrow.functions.fund(unfunded), unfunded["amount"]),
    ):
        with reverts("EnforcedPause"):
            attempt(deployed, fn, deployed.buyer, value)
    for fn, value in (
        (deployed.escrow.functions.accept(live), 0),
        (deployed.escrow.functions.depositBond(ETH, 1), 1),
    ):
        with reverts("EnforcedPause"):
            attempt(deployed, fn, deployed.seller, value)


@raises("ReentrancyGuardReentrantCall")
def test_reentrant_token_cannot_reenter_during_the_pull(deployed: Deployment) -> None:
    # While the escrow measures what a pull delivered (balance before and after transferFrom), the
    # token calls back into the escrow to move tokens of its own in (a bond deposit): they would
    # count as the buyer's payment. The guard on the pull stops it.
    token = deployed.chain.deploy("ReentrantToken", test=True)
    tx(deployed, token.functions.mint(deployed.buyer, 10**18), deployed.owner)
    t = deployed.terms(token=token.address, amount=10**18)
    tx(deployed, token.functions.approve(deployed.escrow.address, t["amount"]), deployed.buyer)
    deposit = deployed.escrow.encode_abi("depositBond", args=[token.address, 1])
    tx(deployed, token.functions.arm(deployed.escrow.address, deposit), deployed.owner)
    tx(deployed, deployed.escrow.functions.createAndFund(t), deployed.buyer)
    assert not token.functions.reentrySucceeded().call()
    assert decode_revert(token.functions.reentryRevertData().call()).name == "ReentrancyGuardReentrantCall"
    assert deployed.state_of(t) == "Funded" and deployed.escrow_of(t)["held"] == t["amount"]
    assert deployed.bond(token.address, token.address) == 0
    assert token.functions.balanceOf(deployed.escrow.address).call() == t["amount"]


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
