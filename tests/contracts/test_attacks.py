"""Attacks performed against the escrow, each checked by its on-chain outcome.

Re-entrancy runs on every payout path in two flavours:

* ETH: the attacker is a ``LeanReentrant``, whose receive hook re-enters *within* the escrow's
  50,000-gas payout stipend (the stock ``MaliciousParty`` cannot: its hook costs more than the
  stipend, so it is simply credited, as
  ``test_stock_malicious_party_is_credited_under_the_eth_stipend``
  shows that, and its re-entry from ``withdraw``, which forwards all gas, is tested too).
* token: the trade runs in ``ReentrantToken``, whose transfer hook calls the attacking
  ``MaliciousParty`` (Reenter mode), which re-enters the escrow as the trade party it is.

Every attack asserts that the re-entrant call really happened and how it ended, who received what,
the trade's state, and that the escrow still holds exactly what it owes.

Version 2 keeps no re-entrancy guard on the payout paths: every function writes the trade's slot
before it pays, so a call re-entering the same trade sees it already closed (``WrongState``) or sees
what is left of it and can do no more than its caller could have done in a transaction of its own
(a seller refunding the rest to the buyer); each attack checks that outcome. The guard stays where
it is needed: around the balance measurement of token pulls, and on ``withdraw``, ``withdrawBond``
and ``sweepFees``, which send with all the gas.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from support.adversary import (
    Money,
    Party,
    balance_of,
    deploy_test,
    fast,
    lean_party,
    malicious_party,
    private_key,
    send_raw,
    sign_offer,
)
from support.escrow import (
    BPS,
    ETH,
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
from support.reverts import reverts

A = 10**18  # trade amount used throughout
FEE = fee_up(A, PLATFORM_FEE_BPS)
GUARD = "ReentrancyGuardReentrantCall"
CLOSED = "WrongState"  # what a call re-entering a trade that its payout already closed gets


@pytest.fixture
def deployed(deployed):
    return fast(deployed)


def fee(gross: int) -> int:
    """The platform fee on `gross`, rounded up."""
    return fee_up(gross, PLATFORM_FEE_BPS)


# --------------------------------------------------------------------------------------------------
# Re-entrancy scenario plumbing
# --------------------------------------------------------------------------------------------------


@dataclass
class Scene:
    """A funded trade with a hostile party in `role`: ETH (LeanReentrant) or ReentrantToken."""

    deployed: Deployment
    asset: str
    role: str
    attacker: Party
    terms: dict[str, Any]
    token: Any = None
    money: Money | None = None
    others: list[dict[str, Any]] = field(default_factory=list)  # other trades in the same asset

    @property
    def token_address(self) -> str:
        return ETH if self.token is None else self.token.address

    def act(self, who: str, fn_name: str, *args: Any) -> dict[str, Any]:
        """`who` (an address, possibly the attacker's) calls escrow.`fn_name`."""
        if who == self.attacker.address:
            receipt = self.attacker.call(fn_name, *args)
        else:
            receipt = self.deployed.send(getattr(self.deployed.escrow.functions, fn_name)(*args), who)
        if self.money is not None:
            self.money.paid_gas(receipt)
        return receipt

    def arm(self, fn_name: str, *args: Any) -> None:
        """Re-enter escrow.`fn_name`(*args) when next paid; money is measured from here."""
        self.attacker.arm(fn_name, *args)
        if self.token is not None:
            hook = bytes.fromhex(self.attacker.contract.encode_abi("onTokenTransfer", [])[2:])
            self.deployed.send(self.token.functions.arm(self.attacker.address, hook), self.deployed.owner)
        self.money = Money(self.deployed, self.token_address, self.parties())

    def parties(self) -> list[str]:
        t = self.terms
        return [t["buyer"], t["seller"], t["arbiter"], self.deployed.fee_recipient, self.deployed.stranger]

    def assert_reentry_blocked(
        self, receipt: dict[str, Any], error: str = GUARD, **args: Any
    ) -> None:
        attempts, ok, revert = self.attacker.reentry(receipt)
        assert attempts == 1, "the re-entrant call was never made"
        assert not ok, "the re-entrant call succeeded"
        assert revert is not None and revert.name == error, revert
        for key, value in args.items():
            assert revert.args[key] == value
        self._assert_hook_ran()

    def assert_reentry_succeeded(self, receipt: dict[str, Any]) -> None:
        """The re-entrant call was made and went through (it saw the state the payout had written)."""
        attempts, ok, revert = self.attacker.reentry(receipt)
        assert (attempts, ok) == (1, True), revert
        self._assert_hook_ran()

    def _assert_hook_ran(self) -> None:
        if self.token is not None:
            assert self.token.functions.hookTarget().call() == self.attacker.address
            assert not self.token.functions.armed().call(), "the token hook never ran"

    def gains(self) -> dict[str, int]:
        assert self.money is not None
        gains = self.money.gains()
        return {role: gains[self.terms[role]] for role in ("buyer", "seller", "arbiter")}

    def assert_escrow_holds_exactly_what_it_owes(self) -> None:
        deployed, token = self.deployed, self.token_address
        owed = (  # held (the unswept fee, once a trade ended), fees of parts, credits (no deposits here)
            sum(deployed.escrow_of(t)["held"] for t in [self.terms, *self.others])
            + deployed.escrow.functions.feesAccrued(token).call()
            + sum(deployed.escrow.functions.credits(a, token).call() for a in self.parties())
        )
        assert balance_of(deployed, token, deployed.escrow.address) == owed


def scene(deployed: Deployment, asset: str, role: str, **overrides: Any) -> Scene:
    """A funded trade whose `role` (buyer/seller/arbiter) is the attacker."""
    if asset == "eth":
        attacker, token = lean_party(deployed), None
    else:
        attacker, token = malicious_party(deployed), deploy_test(deployed, "ReentrantToken")
        for holder in (deployed.buyer, attacker.address):
            deployed.send(token.functions.mint(holder, 10**24), deployed.owner)
    terms = deployed.terms(
        **{
            role: attacker.address,
            "token": token.address if token else ETH,
            "amount": A,
            **overrides,
        }
    )
    s = Scene(deployed, asset, role, attacker, terms, token)
    deposit = terms["sellerDeposit"]
    if deposit:  # the hostile seller posts its bond, to accept the trade with
        assert role == "seller"
        if token is not None:
            attacker.approve(token.address, deposit)
            attacker.call("depositBond", token.address, deposit)
        else:
            attacker.call("depositBond", ETH, deposit, value=deposit)
    if token is not None:
        if role == "buyer":
            attacker.approve(token.address, A)
        else:
            deployed.send(token.functions.approve(deployed.escrow.address, A), deployed.buyer)
    if token is not None:
        s.act(terms["buyer"], "createAndFund", terms)
    else:
        _fund_eth(s)
    if deposit:
        s.act(attacker.address, "accept", terms)
    assert deployed.state_of(terms) == "Funded"
    return s


def _fund_eth(s: Scene) -> None:
    t = s.terms
    if t["buyer"] == s.attacker.address:
        s.attacker.call("createAndFund", t, value=t["amount"])
    else:
        s.deployed.send(s.deployed.escrow.functions.createAndFund(t), t["buyer"], t["amount"])


def dispute_now(s: Scene) -> None:
    t = s.terms
    s.act(t["buyer"], "dispute", t)
    assert s.deployed.state_of(t) == "Disputed"


ASSETS = pytest.mark.parametrize("asset", ["eth", "token"])


# --------------------------------------------------------------------------------------------------
# Re-entrancy on every payout path
# --------------------------------------------------------------------------------------------------


# what the seller's re-entry during a full release gets: the trade is already Completed, and the seller
# has no credit to withdraw (it is being paid, not credited)
FULL_RELEASE_REENTRY = {
    "refund": (CLOSED, {"state": STATE["Completed"]}),
    "timeout": (CLOSED, {"state": STATE["Completed"]}),
    "withdraw": ("NothingToWithdraw", {}),
}


@ASSETS
@pytest.mark.parametrize("reentry", list(FULL_RELEASE_REENTRY))
def test_seller_reentering_during_full_release_finds_it_closed_and_is_paid_once(deployed, asset, reentry):
    s = scene(deployed, asset, "seller")
    t = s.terms
    args = {
        "refund": (t, A),
        "timeout": (t,),
        "withdraw": (s.token_address, s.attacker.address),
    }[reentry]
    s.arm(reentry, *args)

    receipt = s.act(deployed.buyer, "release", t, A)

    error, error_args = FULL_RELEASE_REENTRY[reentry]
    s.assert_reentry_blocked(receipt, error, **error_args)
    assert s.gains() == {"buyer": 0, "seller": A - FEE, "arbiter": 0}
    assert deployed.state_of(t) == "Completed"
    assert len(deployed.events(receipt, "Released")) == 1
    s.assert_escrow_holds_exactly_what_it_owes()
    with reverts("WrongState", state=STATE["Completed"]):
        s.act(deployed.buyer, "release", t, A)


@ASSETS
def test_seller_reentering_withdraw_bond_finds_its_deposit_paid_out_not_back_in_the_bond(deployed, asset):
    """The deposit comes back with the price, in the one transfer to the seller's wallet, never into
    the bond: a withdrawBond from the payout hook has nothing to take a second time."""
    deposit = A // 10
    s = scene(deployed, asset, "seller", sellerDeposit=deposit)
    t = s.terms
    assert deployed.bond(s.attacker.address, s.token_address) == 0  # all of it locked by the trade
    s.arm("withdrawBond", s.token_address, deposit, s.attacker.address)

    receipt = s.act(deployed.buyer, "release", t, A)

    s.assert_reentry_blocked(receipt, "InsufficientBond", free=0, needed=deposit)
    assert s.gains() == {"buyer": 0, "seller": A - FEE + deposit, "arbiter": 0}
    assert deployed.state_of(t) == "Completed"
    assert deployed.bond(s.attacker.address, s.token_address) == 0
    s.assert_escrow_holds_exactly_what_it_owes()


@ASSETS
def test_seller_releasing_another_trade_during_a_payout_settles_both_exactly_once(deployed, asset):
    """The seller is also the *buyer* of a second funded trade and releases it mid-payout: without a
    guard on payouts this goes through, as it would in a transaction of its own; each trade pays once."""
    s = scene(deployed, asset, "seller")
    t = s.terms
    other = deployed.terms(buyer=s.attacker.address, seller=deployed.stranger, token=s.token_address, amount=A)
    if s.token is not None:
        s.attacker.approve(s.token.address, A)
        s.attacker.call("createAndFund", other)
    else:
        s.attacker.call("createAndFund", other, value=A)
    s.others.append(other)
    s.arm("release", other, A)

    receipt = s.act(deployed.buyer, "release", t, A)

    s.assert_reentry_succeeded(receipt)
    assert s.gains() == {"buyer": 0, "seller": A - FEE, "arbiter": 0}
    assert s.money.gained(deployed.stranger) == A - FEE  # the second trade's seller, paid once
    assert deployed.state_of(t) == deployed.state_of(other) == "Completed"
    # the outer release's event first (emitted before it pays), then the re-entered one's
    assert [e["id"] for e in deployed.events(receipt, "Released")] == [trade_id(t), trade_id(other)]
    s.assert_escrow_holds_exactly_what_it_owes()


@ASSETS
def test_seller_reentering_refund_of_everything_during_partial_release_finds_only_the_rest(deployed, asset):
    """Mid-release, the slot already holds only the rest: a refund of what was held before fails."""
    s = scene(deployed, asset, "seller")
    t = s.terms
    s.arm("refund", t, A)

    receipt = s.act(deployed.buyer, "release", t, A // 4)

    s.assert_reentry_blocked(receipt, "InvalidPart", requested=A, held=3 * A // 4)
    assert s.gains() == {"buyer": 0, "seller": A // 4 - fee(A // 4), "arbiter": 0}
    assert deployed.escrow_of(t)["held"] == 3 * A // 4 and deployed.state_of(t) == "Funded"
    s.assert_escrow_holds_exactly_what_it_owes()
    s.act(deployed.buyer, "release", t, 3 * A // 4)
    assert deployed.state_of(t) == "Completed"
    assert s.gains()["seller"] == A // 4 - fee(A // 4) + 3 * A // 4 - fee(3 * A // 4)
    s.assert_escrow_holds_exactly_what_it_owes()


@ASSETS
def test_seller_refunding_the_rest_during_partial_release_moves_only_what_is_left(deployed, asset):
    """The seller refunds what is left from its payout hook: what it could do in its own transaction,
    and no more: the buyer gets the rest, the trade ends Completed, nothing is paid twice."""
    s = scene(deployed, asset, "seller")
    t = s.terms
    s.arm("refund", t, 3 * A // 4)

    receipt = s.act(deployed.buyer, "release", t, A // 4)

    s.assert_reentry_succeeded(receipt)
    assert s.gains() == {"buyer": 3 * A // 4, "seller": A // 4 - fee(A // 4), "arbiter": 0}
    assert deployed.state_of(t) == "Completed" and deployed.escrow_of(t)["held"] == 0
    s.assert_escrow_holds_exactly_what_it_owes()


# (refunded part, release the buyer re-enters with) -> how the re-entry ends
REFUND_REENTRY = {
    "full-refund": (A, A, (CLOSED, {"state": STATE["Refunded"]})),
    "partial-refund-release-all": (A // 3, A, ("InvalidPart", {"requested": A, "held": A - A // 3})),
    "partial-refund-release-rest": (A // 3, A - A // 3, None),
}


@ASSETS
@pytest.mark.parametrize("case", list(REFUND_REENTRY))
def test_buyer_reentering_release_during_refund_moves_no_more_than_is_left(deployed, asset, case):
    part, released, blocked = REFUND_REENTRY[case]
    s = scene(deployed, asset, "buyer")
    t = s.terms
    s.arm("release", t, released)

    receipt = s.act(deployed.seller, "refund", t, part)

    if blocked is None:  # the buyer released the rest to the seller: both payouts happened, once
        s.assert_reentry_succeeded(receipt)
        assert s.gains() == {"buyer": part, "seller": released - fee(released), "arbiter": 0}
        assert deployed.escrow_of(t)["held"] == fee(released) and deployed.state_of(t) == "Completed"
    else:
        error, error_args = blocked
        s.assert_reentry_blocked(receipt, error, **error_args)
        assert s.gains() == {"buyer": part, "seller": 0, "arbiter": 0}
        assert deployed.escrow_of(t)["held"] == A - part
        assert deployed.state_of(t) == ("Refunded" if part == A else "Funded")
    s.assert_escrow_holds_exactly_what_it_owes()


@ASSETS
@pytest.mark.parametrize("to_seller", [True, False], ids=["to_seller", "to_buyer"])
def test_receiver_reentering_timeout_during_timeout_finds_it_closed(deployed, asset, to_seller):
    role = "seller" if to_seller else "buyer"
    s = scene(deployed, asset, role, flags=FLAG_TIMEOUT_RELEASES if to_seller else 0)
    t = s.terms
    s.arm("timeout", t)
    deployed.chain.set_next_timestamp(deployed.escrow_of(t)["deadline"])

    receipt = s.act(deployed.stranger, "timeout", t)

    s.assert_reentry_blocked(receipt, CLOSED, state=STATE["Completed" if to_seller else "Refunded"])
    expected = (
        {"buyer": 0, "seller": A - FEE, "arbiter": 0}
        if to_seller
        else {"buyer": A, "seller": 0, "arbiter": 0}
    )
    assert s.gains() == expected
    assert deployed.state_of(t) == ("Completed" if to_seller else "Refunded")
    assert len(deployed.events(receipt, "TimedOut")) == 1
    s.assert_escrow_holds_exactly_what_it_owes()
    with reverts("WrongState"):
        s.act(deployed.stranger, "timeout", t)


@ASSETS
def test_buyer_reentering_accept_during_settlement_payout_finds_it_closed(deployed, asset):
    s = scene(deployed, asset, "buyer")
    t = s.terms
    s.act(deployed.seller, "proposeSettlement", t, 3000)
    s.arm("acceptSettlement", t, 3000)

    receipt = s.act(s.attacker.address, "acceptSettlement", t, 3000)

    s.assert_reentry_blocked(receipt, CLOSED, state=STATE["Settled"])
    parts = split(A, 3000, 0, PLATFORM_FEE_BPS)
    assert s.gains() == {"buyer": parts["toBuyer"], "seller": parts["toSeller"], "arbiter": 0}
    assert deployed.state_of(t) == "Settled"
    assert len(deployed.events(receipt, "Settled")) == 1
    s.assert_escrow_holds_exactly_what_it_owes()


@ASSETS
def test_arbiter_reentering_rule_during_its_ruling_finds_it_closed(deployed, asset):
    s = scene(deployed, asset, "arbiter")
    t = s.terms
    dispute_now(s)
    s.arm("rule", t, 0)  # a second ruling, all to the seller

    receipt = s.act(s.attacker.address, "rule", t, 2500)

    s.assert_reentry_blocked(receipt, CLOSED, state=STATE["Resolved"])
    parts = split(A, 2500, t["arbiterFeeBps"], PLATFORM_FEE_BPS)
    assert s.gains() == {
        "buyer": parts["toBuyer"],
        "seller": parts["toSeller"],
        "arbiter": parts["arbiterFee"],
    }
    assert deployed.state_of(t) == "Resolved"
    assert len(deployed.events(receipt, "Ruled")) == 1
    s.assert_escrow_holds_exactly_what_it_owes()


@ASSETS
def test_buyer_reentering_resolve_during_expired_dispute_payout_finds_it_closed(deployed, asset):
    s = scene(deployed, asset, "buyer")
    t = s.terms
    dispute_now(s)
    s.arm("resolveExpiredDispute", t)
    deployed.chain.set_next_timestamp(deployed.escrow_of(t)["deadline"])

    receipt = s.act(deployed.stranger, "resolveExpiredDispute", t)

    s.assert_reentry_blocked(receipt, CLOSED, state=STATE["Resolved"])
    parts = split(A, BPS // 2, 0, PLATFORM_FEE_BPS)
    assert s.gains() == {"buyer": parts["toBuyer"], "seller": parts["toSeller"], "arbiter": 0}
    assert deployed.state_of(t) == "Resolved"
    assert len(deployed.events(receipt, "DisputeExpired")) == 1
    s.assert_escrow_holds_exactly_what_it_owes()


@ASSETS
@pytest.mark.parametrize("path", ["release", "rule"])
def test_reentering_a_non_payout_function_sees_the_trade_already_closed(deployed, asset, path):
    """Effects before interactions: mid-payout, the trade's slot already says it is over."""
    s = scene(deployed, asset, "seller")
    t = s.terms
    if path == "release":
        s.arm("dispute", t)
        receipt = s.act(deployed.buyer, "release", t, A)
        s.assert_reentry_blocked(receipt, "WrongState", state=STATE["Completed"])
    else:
        dispute_now(s)
        s.arm("proposeSettlement", t, 0)
        receipt = s.act(deployed.arbiter, "rule", t, 0)
        s.assert_reentry_blocked(receipt, "WrongState", state=STATE["Resolved"])
    s.assert_escrow_holds_exactly_what_it_owes()


def test_stock_malicious_party_is_credited_under_the_eth_stipend(deployed):
    """MaliciousParty's Reenter hook needs more than the 50k-gas stipend: the payout is credited,
    the re-entry never runs, and the trade still completes."""
    party = malicious_party(deployed)
    t = deployed.terms(seller=party.address)
    deployed.create_and_fund(t)
    party.arm("refund", t, A)

    deployed.send(deployed.escrow.functions.release(t, A), deployed.buyer)

    assert party.reentry() == (0, False, None)
    assert deployed.escrow.functions.credits(party.address, ETH).call() == A - FEE
    assert deployed.chain.balance(party.address) == 10 * 10**18
    assert deployed.state_of(t) == "Completed"


def test_reentering_withdraw_during_eth_withdraw_is_blocked_and_pays_once(deployed):
    party = malicious_party(deployed, "Revert")
    t = deployed.terms(seller=party.address)
    deployed.create_and_fund(t)
    deployed.send(deployed.escrow.functions.release(t, A), deployed.buyer)
    assert deployed.escrow.functions.credits(party.address, ETH).call() == A - FEE
    party.arm("withdraw", ETH, party.address)  # withdraw forwards all gas: the hook does run
    before = deployed.chain.balance(party.address)

    party.call("withdraw", ETH, party.address)

    attempts, ok, revert = party.reentry()
    assert (attempts, ok, revert.name) == (1, False, GUARD)
    assert deployed.chain.balance(party.address) - before == A - FEE
    assert deployed.escrow.functions.credits(party.address, ETH).call() == 0
    assert deployed.chain.balance(deployed.escrow.address) == deployed.escrow_of(t)["held"] == FEE  # the unswept fee
    with reverts("NothingToWithdraw"):
        party.call("withdraw", ETH, party.address)


def test_reentering_sweep_fees_during_token_fee_payout_is_blocked(deployed):
    s = scene(deployed, "token", "seller")
    t = s.terms
    s.act(deployed.buyer, "release", t, A // 2)  # a part: its fee accrues
    s.act(deployed.buyer, "release", t, A // 2)  # the rest: its fee stays in the slot; the hook is not armed yet
    s.arm("sweepFees", s.token.address, [t])

    receipt = s.act(deployed.stranger, "sweepFees", s.token.address, [t])

    s.assert_reentry_blocked(receipt)
    assert s.money.gained(deployed.fee_recipient) == 2 * fee(A // 2)
    assert deployed.escrow.functions.feesAccrued(s.token.address).call() == 0
    assert deployed.escrow_of(t)["held"] == 0
    assert balance_of(deployed, s.token.address, deployed.escrow.address) == 0


def test_reentering_withdraw_bond_during_an_eth_bond_withdrawal_is_blocked_and_pays_once(deployed):
    """withdrawBond sends with all the gas (the seller chose the receiver): its receiver can re-enter,
    and the guard stops it."""
    party = malicious_party(deployed)
    party.call("depositBond", ETH, A, value=A)
    assert deployed.bond(party.address) == A
    party.arm("withdrawBond", ETH, A, party.address)
    before = deployed.chain.balance(party.address)

    party.call("withdrawBond", ETH, A, party.address)

    attempts, ok, revert = party.reentry()
    assert (attempts, ok, revert.name) == (1, False, GUARD)
    assert deployed.chain.balance(party.address) - before == A
    assert deployed.bond(party.address) == 0 and deployed.chain.balance(deployed.escrow.address) == 0


# --------------------------------------------------------------------------------------------------
# Re-entrant token during funding
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("outer", ["createAndFund", "fund"])
def test_reentrant_funding_of_a_second_trade_during_the_pull_is_blocked(deployed, outer):
    """A re-entrant fund inside the pull would be counted twice (the outer balance-difference would
    include it); the pull is guarded, so it fails and every trade holds exactly what arrived."""
    buyer = malicious_party(deployed)
    token = deploy_test(deployed, "ReentrantToken")
    deployed.send(token.functions.mint(buyer.address, 10**24), deployed.owner)
    buyer.approve(token.address, 10**24)
    first = deployed.terms(buyer=buyer.address, token=token.address, amount=1000)
    second = deployed.terms(buyer=buyer.address, token=token.address, amount=500)
    third = deployed.terms(buyer=buyer.address, token=token.address, amount=700)
    buyer.call("create", second)
    if outer == "fund":
        buyer.call("create", first)
        buyer.arm("createAndFund", third)
    else:
        buyer.arm("fund", second)
    hook = bytes.fromhex(buyer.contract.encode_abi("onTokenTransfer", [])[2:])
    deployed.send(token.functions.arm(buyer.address, hook), deployed.owner)

    buyer.call(outer, first)

    attempts, ok, revert = buyer.reentry()
    assert (attempts, ok, revert.name) == (1, False, GUARD)
    assert (
        not token.functions.armed().call()
    )  # the token's hook ran (and the party's re-entry failed)
    assert deployed.escrow_of(first)["held"] == 1000 and deployed.state_of(first) == "Funded"
    assert deployed.state_of(second) == "AwaitingFunding" and deployed.escrow_of(second)["held"] == 0
    assert deployed.state_of(third) == "None"
    assert token.functions.balanceOf(deployed.escrow.address).call() == 1000


# --------------------------------------------------------------------------------------------------
# Receivers that revert, burn gas or return-bomb
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["seller", "buyer"])
def test_rejecting_eth_receiver_is_credited_and_withdraws_to_another_address(deployed, role):
    party = malicious_party(deployed, "Revert")
    t = deployed.terms(**{role: party.address})
    if role == "buyer":
        party.call("createAndFund", t, value=A)
        deployed.send(deployed.escrow.functions.refund(t, A), deployed.seller)
        owed, state = A, "Refunded"
    else:
        deployed.create_and_fund(t)
        deployed.send(deployed.escrow.functions.release(t, A), deployed.buyer)
        owed, state = A - FEE, "Completed"
    assert deployed.state_of(t) == state
    assert deployed.escrow.functions.credits(party.address, ETH).call() == owed

    with reverts("WithdrawFailed", to=party.address.lower()):  # it still rejects ETH itself
        party.call("withdraw", ETH, party.address)
    elsewhere = deployed.chain.accounts[7]
    before = deployed.chain.balance(elsewhere)
    party.call("withdraw", ETH, elsewhere)

    assert deployed.chain.balance(elsewhere) - before == owed
    assert deployed.escrow.functions.credits(party.address, ETH).call() == 0
    assert deployed.chain.balance(deployed.escrow.address) == deployed.escrow_of(t)["held"]  # the unswept fee


def test_blacklisted_token_seller_is_credited_and_withdraws_to_another_address(deployed):
    token = deployed.tokens["blacklist"]
    t = deployed.terms(token=token.address, amount=A)
    deployed.create_and_fund(t)
    deployed.send(token.functions.setBlacklisted(deployed.seller, True), deployed.owner)

    deployed.send(deployed.escrow.functions.release(t, A), deployed.buyer)

    assert deployed.state_of(t) == "Completed"
    assert deployed.escrow.functions.credits(deployed.seller, token.address).call() == A - FEE
    elsewhere = deployed.chain.accounts[7]
    deployed.send(deployed.escrow.functions.withdraw(token.address, elsewhere), deployed.seller)
    assert token.functions.balanceOf(elsewhere).call() == A - FEE
    assert token.functions.balanceOf(deployed.escrow.address).call() == FEE


ETH_PAYOUT_GAS = 50_000  # the gas the escrow gives an ETH receiver
VALUE_CALL_STIPEND = 2_300  # the EVM adds it to the gas of any call that carries value
# Crediting a payout: the credit slot read cold (2,100) and written fresh (20,000), PaymentCredited as a
# LOG4 with one word of data (375 + 4 x 375 + 8 x 32 = 2,131), and the bookkeeping around them.
CREDIT_WRITE = 2_100 + 20_000 + 2_131 + 1_000


def _release_gas(deployed: Deployment, seller: str) -> dict[str, Any]:
    t = deployed.terms(seller=seller)
    deployed.create_and_fund(t)
    receipt = send_raw(deployed, deployed.escrow.functions.release(t, A), deployed.buyer, gas=500_000)
    assert receipt["status"] == 1 and deployed.state_of(t) == "Completed"
    return receipt


@pytest.mark.parametrize("mode", ["BurnGas", "ReturnBomb"])
def test_gas_griefing_receiver_is_credited_within_a_normal_gas_limit(deployed, mode):
    normal = _release_gas(deployed, deployed.seller)["gasUsed"]
    rejecting = malicious_party(deployed, "Revert")
    rejected = _release_gas(deployed, rejecting.address)["gasUsed"]
    party = malicious_party(deployed, mode)

    receipt = _release_gas(deployed, party.address)

    # the caller pays at most the gas the receiver was given plus the credit write
    assert receipt["gasUsed"] <= normal + ETH_PAYOUT_GAS + VALUE_CALL_STIPEND + CREDIT_WRITE
    # burning it or return-bombing costs no more than rejecting outright, beyond that budget
    assert receipt["gasUsed"] <= rejected + ETH_PAYOUT_GAS + VALUE_CALL_STIPEND
    assert receipt["gasUsed"] <= 150_000  # far under any wallet's default limit for a release
    assert deployed.escrow.functions.credits(party.address, ETH).call() == A - FEE
    assert deployed.escrow.functions.credits(rejecting.address, ETH).call() == A - FEE


# --------------------------------------------------------------------------------------------------
# Races between the parties
# --------------------------------------------------------------------------------------------------


def test_dispute_landing_before_release_freezes_funds_for_the_arbiter(deployed):
    t = deployed.terms()
    deployed.create_and_fund(t)
    money = Money(deployed, ETH, [deployed.buyer, deployed.seller, deployed.arbiter])
    money.paid_gas(deployed.send(deployed.escrow.functions.dispute(t), deployed.seller))  # the front-runner

    with reverts("WrongState", state=STATE["Disputed"]):
        deployed.send(deployed.escrow.functions.release(t, A), deployed.buyer)
    with reverts("WrongState", state=STATE["Disputed"]):
        deployed.send(deployed.escrow.functions.refund(t, A), deployed.seller)
    assert deployed.escrow_of(t)["held"] == A and deployed.chain.balance(deployed.escrow.address) == A

    money.paid_gas(deployed.send(deployed.escrow.functions.rule(t, BPS), deployed.arbiter))
    parts = split(A, BPS, t["arbiterFeeBps"], PLATFORM_FEE_BPS)
    assert money.gains() == {
        deployed.buyer: parts["toBuyer"], deployed.seller: 0, deployed.arbiter: parts["arbiterFee"]
    }


def test_release_landing_before_dispute_makes_the_dispute_fail(deployed):
    t = deployed.terms()
    deployed.create_and_fund(t)
    deployed.send(deployed.escrow.functions.release(t, A), deployed.buyer)

    with reverts("WrongState", state=STATE["Completed"]):
        deployed.send(deployed.escrow.functions.dispute(t), deployed.seller)
    assert deployed.state_of(t) == "Completed"


def test_settlement_swapped_just_before_acceptance_is_not_accepted(deployed):
    t = deployed.terms()
    deployed.create_and_fund(t)
    deployed.send(deployed.escrow.functions.proposeSettlement(t, 5000), deployed.seller)
    # swapped in front of the buyer
    deployed.send(deployed.escrow.functions.proposeSettlement(t, 1000), deployed.seller)

    with reverts("SettlementMismatch", proposedBps=1000, acceptedBps=5000):
        deployed.send(deployed.escrow.functions.acceptSettlement(t, 5000), deployed.buyer)
    assert deployed.state_of(t) == "Funded" and deployed.chain.balance(deployed.escrow.address) == A


def test_a_party_cannot_accept_its_own_proposal(deployed):
    t = deployed.terms()
    deployed.create_and_fund(t)
    deployed.send(deployed.escrow.functions.proposeSettlement(t, 0), deployed.seller)

    with reverts("SettlementMismatch", proposedBps=0, acceptedBps=0):
        deployed.send(deployed.escrow.functions.acceptSettlement(t, 0), deployed.seller)


# --------------------------------------------------------------------------------------------------
# Role confusion
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fn", ["create", "createAndFund"])
def test_buyer_equal_to_seller_is_rejected(deployed, fn):
    # Calling `create` as both parties counts as the seller creating (the creator flag must say so).
    flags = FLAG_RECORD_REPUTATION | (FLAG_CREATED_BY_SELLER if fn == "create" else 0)
    t = deployed.terms(seller=deployed.buyer, flags=flags)
    with reverts("SameParty", party=deployed.buyer.lower()):
        deployed.send(getattr(deployed.escrow.functions, fn)(t), deployed.buyer, A if fn == "createAndFund" else 0)


def test_seller_filling_its_own_offer_is_rejected(deployed):
    offer = _offer(deployed)
    signature = sign_offer(deployed, offer, private_key(deployed, deployed.seller))
    with reverts("SameParty", party=deployed.seller.lower()):
        deployed.send(deployed.escrow.functions.fillOffer(offer, signature), deployed.seller, A)


@pytest.mark.parametrize("arbiter", ["buyer", "seller"])
@pytest.mark.parametrize("fn", ["create", "createAndFund"])
def test_arbiter_equal_to_a_party_is_rejected(deployed, arbiter, fn):
    t = deployed.terms(arbiter=getattr(deployed, arbiter))
    with reverts("ArbiterIsParty", arbiter=getattr(deployed, arbiter).lower()):
        deployed.send(getattr(deployed.escrow.functions, fn)(t), deployed.buyer, A if fn == "createAndFund" else 0)


def _offer(deployed: Deployment, **overrides: Any) -> dict[str, Any]:
    offer = {
        "seller": deployed.seller,
        "buyer": "0x" + "00" * 20,
        "token": ETH,
        "arbiter": deployed.arbiter,
        "amount": A,
        "buyerDeposit": 0,
        "sellerDeposit": 0,
        "arbiterFeeBps": 100,
        "platformFeeBps": PLATFORM_FEE_BPS,
        "releaseWindow": 86400,
        "arbitrationWindow": 86400,
        "flags": 0,
        "termsHash": b"\x22" * 32,
        "nonce": 7,
        "expiry": deployed.chain.next_timestamp() + 3600,
    }
    offer.update(overrides)
    return offer


# --------------------------------------------------------------------------------------------------
# The owner
# --------------------------------------------------------------------------------------------------

# Every state-changing function of the escrow, and what the owner gets calling it on others' trades.
OWNER_REACH = {
    "release": "Unauthorized",
    "refund": "Unauthorized",
    "timeout": "DeadlineNotReached",
    "markDelivered": "Unauthorized",
    "proposeSettlement": "Unauthorized",
    "acceptSettlement": "Unauthorized",
    "dispute": "Unauthorized",
    "rule": "Unauthorized",
    "resolveExpiredDispute": "DeadlineNotReached",
    "submitEvidence": "Unauthorized",
    "withdraw": "NothingToWithdraw",
    "rate": "Unauthorized",
    "fund": "Unauthorized",
    "accept": "Unauthorized",
    "concede": "Unauthorized",
    "withdrawBond": "InsufficientBond",  # only ever the caller's own bond
    "cancel": "WrongState",
    "createAndFund": "Unauthorized",
    "createAndFundWithPermit": "Unauthorized",
    "create": "Unauthorized",
    "fillOffer": "InvalidSignature",
    "fillOfferWithPermit": "InvalidSignature",
    "revokeOffer": None,  # only ever the caller's own nonces
    "publishOffer": None,  # an event, nothing stored
    "depositBond": None,  # only ever the caller's own money in
    "sweepFees": None,  # pays the fee recipient, checked below
    "setPlatformFee": None,
    "setReputationAsset": None,
    "setFeeRecipient": None,
    "pause": None,
    "unpause": None,
    "transferOwnership": None,
    "acceptOwnership": None,
    "renounceOwnership": None,
}


def test_every_state_changing_function_is_covered_by_the_owner_audit(deployed):
    abi = deployed.escrow.abi
    mutating = {
        e["name"]
        for e in abi
        if e["type"] == "function" and e["stateMutability"] not in ("view", "pure")
    }
    assert mutating == set(OWNER_REACH)


def _open_trades(deployed: Deployment) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A funded ETH trade (with a seller proposal), a disputed token trade and a released one (its fee
    unswept in its slot)."""
    token = deployed.tokens["standard"].address
    funded = deployed.terms()
    disputed = deployed.terms(token=token, amount=A)
    paid = deployed.terms()
    for t in (funded, disputed, paid):
        deployed.create_and_fund(t)
    deployed.send(deployed.escrow.functions.proposeSettlement(funded, 0), deployed.seller)
    deployed.send(deployed.escrow.functions.dispute(disputed), deployed.buyer)
    deployed.send(deployed.escrow.functions.release(paid, A), deployed.buyer)
    return funded, disputed, paid


def _escrow_books(deployed: Deployment, trades: list[dict[str, Any]]) -> tuple[int, int, list[int]]:
    token = deployed.tokens["standard"].address
    return (
        deployed.chain.balance(deployed.escrow.address),
        balance_of(deployed, token, deployed.escrow.address),
        [deployed.escrow_of(t)["held"] for t in trades],
    )


def test_owner_can_reach_no_held_funds_through_any_function(deployed):
    funded, disputed, paid = _open_trades(deployed)
    books = _escrow_books(deployed, [funded, disputed])
    owner = deployed.owner
    f = deployed.escrow.functions
    offer = _offer(deployed)
    permit = (0, 0, b"\x00" * 32, b"\x00" * 32)
    attempts = {
        "release": f.release(funded, A),
        "refund": f.refund(funded, A),
        "timeout": f.timeout(funded),
        "markDelivered": f.markDelivered(funded),
        "proposeSettlement": f.proposeSettlement(funded, 0),
        "acceptSettlement": f.acceptSettlement(funded, 0),
        "dispute": f.dispute(funded),
        "rule": f.rule(disputed, 0),
        "resolveExpiredDispute": f.resolveExpiredDispute(disputed),
        "submitEvidence": f.submitEvidence(funded, b"\x00" * 32, "ipfs://x"),
        "withdraw": f.withdraw(ETH, owner),
        "rate": f.rate(paid, 1, b"\x00" * 32),
        "fund": f.fund(funded),
        "accept": f.accept(funded),
        "concede": f.concede(disputed),
        "withdrawBond": f.withdrawBond(ETH, 1, owner),
        "cancel": f.cancel(funded),
        "createAndFund": f.createAndFund(funded),
        "createAndFundWithPermit": f.createAndFundWithPermit(disputed, permit),
        "create": f.create(funded),
        "fillOffer": f.fillOffer(offer, b"\x00" * 65),
        "fillOfferWithPermit": f.fillOfferWithPermit(offer, b"\x00" * 65, permit),
    }
    for name, call in attempts.items():
        with reverts(OWNER_REACH[name]):
            deployed.send(call, owner)
    assert _escrow_books(deployed, [funded, disputed]) == books

    # Owner-only settings, in turn: none moves a wei of what is held.
    for call, sender in [
        (f.setPlatformFee(500), owner),
        (f.setReputationAsset(ETH, False, 0), owner),
        (f.publishOffer(offer, b"\x00" * 65, b"{}"), owner),
        (f.revokeOffer(offer["nonce"]), owner),
        (f.pause(), owner),
        (f.unpause(), owner),
        (f.transferOwnership(deployed.stranger), owner),
        (f.acceptOwnership(), deployed.stranger),
        (f.renounceOwnership(), deployed.stranger),
    ]:
        deployed.send(call, sender)
        assert _escrow_books(deployed, [funded, disputed]) == books


def test_redirecting_fees_moves_only_fees(deployed):
    funded, _, paid = _open_trades(deployed)
    deployed.send(deployed.escrow.functions.setFeeRecipient(deployed.owner), deployed.owner)
    money = Money(deployed, ETH, [deployed.owner, deployed.fee_recipient])

    money.paid_gas(deployed.send(deployed.escrow.functions.sweepFees(ETH, [paid]), deployed.owner))

    assert money.gains() == {deployed.owner: FEE, deployed.fee_recipient: 0}
    assert deployed.chain.balance(deployed.escrow.address) == A == deployed.escrow_of(funded)["held"]
    with reverts("NothingToWithdraw"):
        deployed.send(deployed.escrow.functions.sweepFees(ETH, [paid]), deployed.owner)
    # a live trade's money is not a fee: sweeping it is refused
    with reverts("NotEnded", state=STATE["Funded"]):
        deployed.send(deployed.escrow.functions.sweepFees(ETH, [funded]), deployed.owner)


def test_pause_stops_new_money_but_no_way_out(deployed):
    release_me, refund_me, time_me, cancel_me = deployed.terms(), deployed.terms(), deployed.terms(), deployed.terms()
    waiting = deployed.terms(sellerDeposit=A // 10)
    for t in (release_me, refund_me, time_me, waiting):
        deployed.create_and_fund(t)
    deployed.send(deployed.escrow.functions.create(cancel_me), deployed.buyer)
    deployed.deposit_bond(A // 10)
    deployed.send(deployed.escrow.functions.pause(), deployed.owner)

    with reverts("EnforcedPause"):
        deployed.create_and_fund(deployed.terms())
    with reverts("EnforcedPause"):
        deployed.send(deployed.escrow.functions.create(deployed.terms()), deployed.buyer)
    with reverts("EnforcedPause"):  # no money into a trade created before the pause either
        deployed.send(deployed.escrow.functions.fund(cancel_me), deployed.buyer, A)
    with reverts("EnforcedPause"):  # nor a seller's deposit
        deployed.send(deployed.escrow.functions.accept(waiting), deployed.seller)
    deployed.send(deployed.escrow.functions.release(release_me, A), deployed.buyer)
    deployed.send(deployed.escrow.functions.refund(refund_me, A), deployed.seller)
    deployed.send(deployed.escrow.functions.cancel(cancel_me), deployed.buyer)
    deployed.send(deployed.escrow.functions.cancel(waiting), deployed.buyer)
    deployed.send(deployed.escrow.functions.withdrawBond(ETH, A // 10, deployed.seller), deployed.seller)
    deployed.chain.set_next_timestamp(deployed.escrow_of(time_me)["deadline"])
    deployed.send(deployed.escrow.functions.timeout(time_me), deployed.stranger)
    deployed.send(deployed.escrow.functions.sweepFees(ETH, [release_me]), deployed.stranger)

    assert [deployed.state_of(t) for t in (release_me, refund_me, time_me, cancel_me, waiting)] == [
        "Completed",
        "Refunded",
        "Refunded",
        "Cancelled",
        "Cancelled",
    ]
    assert deployed.chain.balance(deployed.escrow.address) == 0  # every wei found its way out


def test_renounced_ownership_blocks_no_trade(deployed):
    t = deployed.terms()
    deployed.create_and_fund(t)
    deployed.send(deployed.escrow.functions.renounceOwnership(), deployed.owner)

    with reverts("OwnableUnauthorizedAccount", account=deployed.owner.lower()):
        deployed.send(deployed.escrow.functions.pause(), deployed.owner)
    deployed.send(deployed.escrow.functions.dispute(t), deployed.buyer)
    deployed.send(deployed.escrow.functions.rule(t, 5000), deployed.arbiter)
    fresh = deployed.terms()
    deployed.create_and_fund(fresh)
    deployed.send(deployed.escrow.functions.release(fresh, A), deployed.buyer)
    deployed.send(deployed.escrow.functions.sweepFees(ETH, [t, fresh]), deployed.stranger)
    assert (deployed.state_of(t), deployed.state_of(fresh)) == ("Resolved", "Completed")
    assert deployed.chain.balance(deployed.escrow.address) == 0


def test_fee_change_does_not_reach_open_trades(deployed):
    t = deployed.terms()
    deployed.create_and_fund(t)
    deployed.send(deployed.escrow.functions.setPlatformFee(500), deployed.owner)

    receipt = deployed.send(deployed.escrow.functions.release(t, A), deployed.buyer)

    assert deployed.events(receipt, "Released")[0]["platformFee"] == FEE


# --------------------------------------------------------------------------------------------------
# Forced ETH, strangers, tampered terms
# --------------------------------------------------------------------------------------------------


def test_forced_eth_breaks_nothing_and_belongs_to_no_one(deployed):
    released, refunded = deployed.terms(), deployed.terms()
    deployed.create_and_fund(released)
    deployed.create_and_fund(refunded)
    forced = 3 * 10**18
    deploy_test(deployed, "ForceSend", deployed.escrow.address, value=forced)
    assert deployed.chain.balance(deployed.escrow.address) == 2 * A + forced

    deployed.send(deployed.escrow.functions.release(released, A), deployed.buyer)
    deployed.send(deployed.escrow.functions.refund(refunded, A), deployed.seller)
    deployed.send(deployed.escrow.functions.sweepFees(ETH, [released, refunded]), deployed.stranger)

    assert (deployed.state_of(released), deployed.state_of(refunded)) == ("Completed", "Refunded")
    assert deployed.chain.balance(deployed.escrow.address) == forced
    for account in (deployed.owner, deployed.stranger, deployed.buyer, deployed.seller):
        with reverts("NothingToWithdraw"):
            deployed.send(deployed.escrow.functions.withdraw(ETH, account), account)


STRANGER_CALLS = [
    "release",
    "refund",
    "rule",
    "accept",
    "concede",
    "proposeSettlement",
    "acceptSettlement",
    "markDelivered",
    "dispute",
    "rate",
    "fund",
    "submitEvidence",
]


@pytest.mark.parametrize("fn", STRANGER_CALLS)
def test_stranger_cannot_act_on_someone_elses_trade(deployed, fn):
    t = deployed.terms()
    deployed.create_and_fund(t)
    deployed.send(deployed.escrow.functions.proposeSettlement(t, BPS), deployed.buyer)
    if fn in ("rule", "concede"):
        deployed.send(deployed.escrow.functions.dispute(t), deployed.buyer)
    if fn == "rate":
        deployed.send(deployed.escrow.functions.release(t, A), deployed.buyer)
    before = deployed.chain.balance(deployed.escrow.address)
    args = {
        "release": (t, A),
        "refund": (t, A),
        "rule": (t, BPS),
        "proposeSettlement": (t, BPS),
        "acceptSettlement": (t, BPS),
        "rate": (t, 1, b"\x00" * 32),
        "submitEvidence": (t, b"\x00" * 32, "x"),
    }.get(fn, (t,))
    value = A if fn == "fund" else 0

    with reverts("Unauthorized", caller=deployed.stranger.lower(), id=trade_id(t)):
        deployed.send(getattr(deployed.escrow.functions, fn)(*args), deployed.stranger, value)
    assert deployed.chain.balance(deployed.escrow.address) == before


def test_stranger_cannot_cancel_before_the_funding_deadline(deployed):
    t = deployed.terms()
    deployed.send(deployed.escrow.functions.create(t), deployed.buyer)
    with reverts("DeadlineNotReached"):
        deployed.send(deployed.escrow.functions.cancel(t), deployed.stranger)
    assert deployed.state_of(t) == "AwaitingFunding"


TAMPERINGS = {
    "amount": lambda deployed: {"amount": A // 2},
    "seller": lambda deployed: {"seller": deployed.stranger},
    "buyer": lambda deployed: {"buyer": deployed.stranger},
    "platformFeeBps": lambda deployed: {"platformFeeBps": 0},
    "arbiterFeeBps": lambda deployed: {"arbiterFeeBps": 2000},
    "arbiter": lambda deployed: {"arbiter": deployed.stranger},
    "flags": lambda deployed: {"flags": FLAG_TIMEOUT_RELEASES},
    "token": lambda deployed: {"token": deployed.tokens["standard"].address},
}


@pytest.mark.parametrize("field_name", list(TAMPERINGS))
def test_tampered_terms_reach_no_trade(deployed, field_name):
    t = deployed.terms()
    deployed.create_and_fund(t)
    forged = {**t, **TAMPERINGS[field_name](deployed)}
    forged_id = trade_id(forged)
    f = deployed.escrow.functions
    attempts = [
        (f.release(forged, A // 2), forged["buyer"]),
        (f.refund(forged, A // 2), forged["seller"]),
        (f.dispute(forged), forged["buyer"]),
        (f.proposeSettlement(forged, 0), forged["seller"]),
        (f.markDelivered(forged), forged["seller"]),
    ]
    deployed.chain.sleep(t["releaseWindow"])
    attempts.append((f.timeout(forged), deployed.stranger))

    for call, sender in attempts:
        with reverts("UnknownTrade", id=forged_id):
            deployed.send(call, sender)
    assert deployed.escrow_of(t)["held"] == A and deployed.chain.balance(deployed.escrow.address) == A
    assert deployed.escrow_of(forged)["state"] == STATE["None"]
