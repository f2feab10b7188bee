"""Random sequences of every escrow action against a Python model, checked after every step.

A hypothesis ``RuleBasedStateMachine`` drives several trades at once, in ETH and three tokens
(standard, no-return, fee-on-transfer), with parties that are plain accounts or ``MaliciousParty``
contracts that reject ETH (so payouts get credited) or accept it (mode toggled at random), forces ETH
in with ``selfdestruct`` (``ForceSend``), and moves time to one second before, onto and one second
after every open trade's current deadline (funding, release, arbitration), or by each window's exact
length and one second either side. The model decides whether each action is legal: legal actions are
sent and must succeed, illegal ones are simulated and must revert with the error the contract's
checks give, in their order. After every step:

* solvency per asset: the escrow's balance >= sum(held of open trades) + sum(credits) + feesAccrued,
  and exactly that plus the ETH forced in (which nobody's books count and nobody may receive);
* every account's balance (ETH net of the gas it paid), every credit and feesAccrued equal the
  model's, so money only reaches a trade's buyer, seller, arbiter, the fee recipient, or the
  address a creditor withdrew to, and nobody else gains a wei;
* every trade's slot (state, held, deadline, marks, settlement) equals the model's, so ended trades
  stay ended and only modelled transitions happen;
* per trade, what arrived == held + everything paid out (payouts and fees), both in the model and as
  reported by the contract's own events; every payout goes to the trade's buyer, seller or arbiter
  (fees to the fee recipient);
* only legal transitions (``LEGAL``) happen on chain, and terminal states never change;
* at most one final payout per trade, from the events (exactly one once it ended with money, none if
  cancelled or open);
* ratings (the reputation contract's ``Rated`` events): at most one per trade and rater, each on a
  finished trade whose seller was paid and that records reputation, and the rated marks agree;
* liveness: every open trade has a way out that needs no one's cooperation: at its deadline, a
  stranger's ``cancel`` / ``timeout`` / ``resolveExpiredDispute`` succeeds (simulated after a time jump
  inside a snapshot that is then reverted), whichever of its receivers reject ETH.

Each hypothesis example starts from the same clean deployment (snapshot taken in ``__init__``,
reverted in ``teardown``). Chain state is read straight from py-evm storage (slots checked against
the ABI getters before the run), so the checks cost microseconds rather than an eth_call each.

Size: ``P2PESCROW_FUZZ=ci`` (default: 15 examples x 30 steps, about a minute) or ``deep``
(400 x 60, ``make fuzz``, checked to run >= 200 examples of >= 50 steps);
``P2PESCROW_FUZZ_EXAMPLES`` / ``P2PESCROW_FUZZ_STEPS`` override either.
Every run prints its figures (examples, steps, invariant checks run, failures; visible with ``-s``);
``P2PESCROW_FUZZ_STATS=1`` adds the count of every action's outcome; ``P2PESCROW_FUZZ_RECORD=<file>``
writes the figures as JSON (``make fuzz`` keeps them for ``make assurance``).
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from eth_utils import keccak, to_canonical_address
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from support.adversary import (
    TX_GAS,
    FastDeployment,
    calldata,
    fast,
    malicious_party,
)
from support.adversary import (
    test_artifact as load_test_artifact,
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
    trade_id,
)
from support.reverts import decode_revert, revert_data, reverts

# --------------------------------------------------------------------------------------------------
# Profiles
# --------------------------------------------------------------------------------------------------

_COMMON = {"deadline": None, "suppress_health_check": list(HealthCheck), "print_blob": True}
settings.register_profile(
    "p2pescrow-stateful-ci", max_examples=15, stateful_step_count=30, **_COMMON
)
# Deep: hypothesis ends some examples early (its data buffer fills, mostly from rule draws that a
# precondition rejects), so about two thirds of max_examples run >= 50 steps; 400 gives well over
# the 200 the deep run promises, and the test checks it (DEEP_MIN_FULL_EXAMPLES).
settings.register_profile(
    "p2pescrow-stateful-deep", max_examples=400, stateful_step_count=60, **_COMMON
)
DEEP_MIN_FULL_EXAMPLES, DEEP_MIN_STEPS = 200, 50


def fuzz_settings() -> settings:
    profile = settings.get_profile(f"p2pescrow-stateful-{os.environ.get('P2PESCROW_FUZZ', 'ci')}")
    overrides: dict[str, Any] = {}
    if "P2PESCROW_FUZZ_EXAMPLES" in os.environ:
        overrides["max_examples"] = int(os.environ["P2PESCROW_FUZZ_EXAMPLES"])
    if "P2PESCROW_FUZZ_STEPS" in os.environ:
        overrides["stateful_step_count"] = int(os.environ["P2PESCROW_FUZZ_STEPS"])
    return settings(profile, **overrides)


OUTCOMES: Counter[str] = (
    Counter()
)  # action: outcome counts, printed with P2PESCROW_FUZZ_STATS=1 (and -s)
# examples, steps, invariant evaluations (per invariant), printed at the end of every run (-s shows it)
FIGURES: Counter[str] = Counter()
EXAMPLE_STEPS: list[int] = []  # steps each example ran

# --------------------------------------------------------------------------------------------------
# Raw chain reads (storage layout of P2PEscrow and the test tokens, checked in World.__init__)
# --------------------------------------------------------------------------------------------------

ESCROWS_SLOT, CREDITS_SLOT, FEES_SLOT = (
    6,
    7,
    8,
)  # after EIP712(2) Ownable(1) Ownable2Step(1) Guard(1) Pausable(1)
ERC20_BALANCES_SLOT = {"standard": 0, "fee_on_transfer": 0, "no_return": 1}
ASSETS = ["eth", "standard", "no_return", "fee_on_transfer"]
MAX_UINT = 2**256 - 1
TERMINAL = {"Completed", "Refunded", "Settled", "Resolved", "Cancelled"}
PAID_OUT = {"Completed", "Refunded", "Settled", "Resolved"}  # ended with exactly one final payout
FINISHED = {"Completed", "Settled", "Resolved"}  # rateable (if the seller got paid)
# Every state change the contract may make (staying put is always allowed; terminal states only can).
LEGAL = {
    ("None", "AwaitingFunding"),
    ("None", "Funded"),
    ("AwaitingFunding", "Funded"),
    ("AwaitingFunding", "Cancelled"),
    ("Funded", "Disputed"),
    ("Funded", "Completed"),
    ("Funded", "Refunded"),
    ("Funded", "Settled"),
    ("Disputed", "Settled"),
    ("Disputed", "Resolved"),
}
# The way out of each open state that needs no one's cooperation: anyone, from the deadline on.
EXIT = {"AwaitingFunding": "cancel", "Funded": "timeout", "Disputed": "resolveExpiredDispute"}
STATE_NAME = {v: k for k, v in STATE.items()}
(
    MARK_DELIVERED,
    MARK_SELLER_PAID,
    MARK_BY_BUYER,
    MARK_BY_SELLER,
    MARK_BUYER_RATED,
    MARK_SELLER_RATED,
) = (1, 2, 4, 8, 16, 32)


def _word(value: int | bytes) -> bytes:
    return value.to_bytes(32, "big") if isinstance(value, int) else bytes(value).rjust(32, b"\x00")


@functools.cache
def mapping_slot(key: int | bytes, slot: int | bytes) -> int:
    return int.from_bytes(keccak(_word(key) + _word(slot)), "big")


_canonical = functools.lru_cache(maxsize=None)(to_canonical_address)


class Raw:
    """py-evm state reads: balances and storage, no EVM execution."""

    def __init__(self, deployed: Deployment, tokens: dict[str, str]) -> None:
        self.backend = deployed.chain.tester.backend
        self.escrow = to_canonical_address(deployed.escrow.address)
        self.tokens = {name: to_canonical_address(address) for name, address in tokens.items()}

    def state(self) -> Any:
        return self.backend.chain.get_vm().state

    def balance(self, state: Any, asset: str, account: str) -> int:
        holder = _canonical(account)
        if asset == "eth":
            return int(state.get_balance(holder))
        return int(
            state.get_storage(self.tokens[asset], mapping_slot(holder, ERC20_BALANCES_SLOT[asset]))
        )

    def credit(self, state: Any, account: str, token: str) -> int:
        inner = mapping_slot(_canonical(account), CREDITS_SLOT).to_bytes(32, "big")
        return int(state.get_storage(self.escrow, mapping_slot(_canonical(token), inner)))

    def fees(self, state: Any, token: str) -> int:
        return int(state.get_storage(self.escrow, mapping_slot(_canonical(token), FEES_SLOT)))

    def escrow_slot(self, state: Any, terms: dict[str, Any]) -> dict[str, int]:
        v = int(state.get_storage(self.escrow, mapping_slot(trade_id(terms), ESCROWS_SLOT)))
        return {
            "held": v & (2**128 - 1),
            "deadline": (v >> 128) & (2**40 - 1),
            "state": (v >> 168) & 0xFF,
            "marks": (v >> 176) & 0xFF,
            "settlementBps": (v >> 184) & 0xFFFF,
        }


# --------------------------------------------------------------------------------------------------
# The world every example starts from
# --------------------------------------------------------------------------------------------------


class World:
    """Accounts, hostile parties, tokens and approvals, deployed once; examples revert to `base`."""

    def __init__(self, deployed: FastDeployment) -> None:
        self.d = deployed
        acc = deployed.chain.accounts
        self.tokens = {
            name: deployed.tokens[name] for name in ("standard", "no_return", "fee_on_transfer")
        }
        self.token_address = {"eth": ETH, **{name: c.address for name, c in self.tokens.items()}}
        self.operator, self.extra, self.vault, self.alt_recipient = acc[5], acc[6], acc[7], acc[8]
        self.malicious = [
            malicious_party(deployed, "Revert", eth=0, tokens=tuple(self.tokens.values()))
            for _ in range(3)
        ]
        self.by_address = {m.address: m for m in self.malicious}
        self.parties = [
            deployed.buyer,
            deployed.seller,
            self.extra,
            self.malicious[0].address,
            self.malicious[1].address,
        ]
        self.arbiters = [deployed.arbiter, self.malicious[2].address]
        self.tracked = [*acc, *self.by_address]
        for token in self.tokens.values():
            deployed.send(token.functions.mint(self.extra, 10**30), deployed.owner)
            for party in self.parties:
                if (
                    party in self.by_address
                ):  # through execute: MaliciousParty.approve wants a bool back
                    approve = bytes.fromhex(
                        token.encode_abi("approve", [deployed.escrow.address, MAX_UINT])[2:]
                    )
                    deployed.send(
                        self.by_address[party].contract.functions.execute(token.address, approve),
                        self.operator,
                    )
                else:
                    deployed.send(token.functions.approve(deployed.escrow.address, MAX_UINT), party)
        self.raw = Raw(deployed, {n: a for n, a in self.token_address.items() if n != "eth"})
        self._check_layout()
        self.base = deployed.chain.snapshot()

    def _check_layout(self) -> None:
        """The raw slots agree with the ABI getters (on a throwaway trade, reverted)."""
        deployed, snap = self.d, self.d.chain.snapshot()
        hostile = self.malicious[0]
        t = deployed.terms(seller=hostile.address)
        deployed.create_and_fund(t)
        deployed.send(deployed.escrow.functions.release(t, t["amount"] // 3), deployed.buyer)
        state = self.raw.state()
        assert self.raw.escrow_slot(state, t) == deployed.escrow_of(t)
        assert self.raw.fees(state, ETH) == deployed.escrow.functions.feesAccrued(ETH).call() > 0
        assert (
            self.raw.credit(state, hostile.address, ETH)
            == deployed.escrow.functions.credits(hostile.address, ETH).call()
            > 0
        )
        for asset, token in self.tokens.items():
            assert (
                self.raw.balance(state, asset, deployed.buyer)
                == token.functions.balanceOf(deployed.buyer).call()
                > 0
            )
        deployed.chain.revert(snap)


# --------------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------------


@dataclass
class Trade:
    terms: dict[str, Any]
    asset: str
    state: str
    deadline: int
    held: int = 0
    marks: int = 0
    settlement_bps: int = 0
    arrived: int = 0  # what the escrow received for it
    paid_out: int = 0  # gross payouts + platform fees (+ arbiter fees)
    events_in: int = 0  # the same two, as the contract's events report them
    events_out: int = 0
    finals: int = 0  # events that paid out the last of what it held
    ratings: Counter[str] = field(default_factory=Counter)  # rater -> Rated events
    chain_state: str = "None"  # the state last seen on chain (for the transition check)

    @property
    def id(self) -> bytes:
        return trade_id(self.terms)

    def has(self, mark: int) -> bool:
        return self.marks & mark != 0


def fot(asset: str, amount: int) -> int:
    """What a transfer of `amount` loses on the way (FeeOnTransferToken keeps 1%)."""
    return amount * 100 // BPS if asset == "fee_on_transfer" else 0


def bps_of(amount: int, bps: int) -> int:
    return amount * bps // BPS


CALLERS = st.sampled_from(["buyer", "seller", "arbiter", "stranger"])
PARTY_CALLERS = st.sampled_from(["buyer", "seller", "buyer", "seller", "stranger"])
# A trade: an index, and whether to take it from all trades (mostly: only those in a fitting state).
TRADE = st.tuples(
    st.integers(min_value=0, max_value=2**16), st.sampled_from([False, False, False, True])
)
WINDOWS = st.sampled_from([30, 3600, 86400])
BPS_VALUES = st.one_of(st.sampled_from([0, 1, 5000, 9999, BPS, BPS + 1]), st.integers(0, BPS))


NEW_TRADE = {
    "asset": st.sampled_from(["eth", *ASSETS]),
    "buyer": st.integers(0, 4),
    "seller": st.integers(1, 4),
    "arbiter": st.sampled_from([0, 0, 1, None]),
    "arbiter_fee": st.sampled_from([0, 100, 2000]),
    "amount": st.one_of(st.integers(1, 1000), st.integers(10**15, 10**18)),
    "timeout_releases": st.booleans(),
    "record": st.booleans(),
    "funding": WINDOWS,
    "release": WINDOWS,
    "arbitration": WINDOWS,
    "how": st.sampled_from(
        [
            "createAndFund",
            "createAndFund",
            "create_by_buyer",
            "create_by_seller",
            "create_by_stranger",
        ]
    ),
}


class EscrowMachine(RuleBasedStateMachine):
    def __init__(self, world: World) -> None:
        super().__init__()
        self.w, self.d = world, world.d
        self.chain = self.d.chain
        self.chain.revert(world.base)
        self.snapshot = self.chain.snapshot()
        self.trades: list[Trade] = []
        self.by_id: dict[bytes, Trade] = {}
        state = world.raw.state()
        self.accounts = [*world.tracked, self.d.escrow.address]
        self.expected = {
            a: {acct: world.raw.balance(state, a, acct) for acct in self.accounts} for a in ASSETS
        }
        self.credits: dict[tuple[str, str], int] = defaultdict(int)
        self.fees = dict.fromkeys(ASSETS, 0)
        self.rejects_eth = dict.fromkeys(world.by_address, True)
        self.paused = False
        self.platform_fee = PLATFORM_FEE_BPS
        self.fee_recipient = self.d.fee_recipient
        self.salt = 10**9
        self.forced = 0  # ETH forced in with selfdestruct: on the books of nobody
        self.forced_times = 0
        self.live: set[tuple[Any, ...]] = set()  # (trade, slot, receivers' modes) with a proven exit
        FIGURES["examples"] += 1
        self.steps_run = -1  # hypothesis checks the invariants once before the first step

    def check_invariants(self, settings, output, runtimes):  # noqa: ANN001 - hypothesis' hook
        """Hypothesis calls this once before the first step and once after every step."""
        FIGURES["steps"] += 1
        self.steps_run += 1
        super().check_invariants(settings, output, runtimes)

    def teardown(self) -> None:
        EXAMPLE_STEPS.append(self.steps_run)
        self.chain.revert(self.snapshot)

    # -- plumbing ----------------------------------------------------------------------------------

    def now(self) -> int:
        """The timestamp the next transaction will carry."""
        return int(self.chain.tester.get_block_by_number("pending")["timestamp"])

    def open_count(self) -> int:
        return sum(t.state not in TERMINAL for t in self.trades)

    def open_in(self, *states: str) -> bool:
        return any(t.state in states for t in self.trades)

    def pick(self, choice: tuple[int, bool], *states: str, proposal: bool = False) -> Trade:
        """A trade, mostly one in `states` (with a settlement proposal if `proposal`) if there is
        any, else any trade (which exercises the illegal paths)."""
        index, anything = choice
        fitting = [
            t
            for t in self.trades
            if t.state in states and (not proposal or t.has(MARK_BY_BUYER | MARK_BY_SELLER))
        ]
        pool = fitting if fitting and not anything else self.trades
        return pool[index % len(pool)]

    def who(self, trade: Trade, role: str) -> str:
        t = trade.terms
        if role == "arbiter":
            return t["arbiter"] if t["arbiter"] != ETH else self.d.arbiter
        return self.d.stranger if role == "stranger" else t[role]

    def send(
        self, who: str, fn_name: str, *args: Any, value: int = 0, expect: str | None = None
    ) -> Any:
        """`who` calls escrow.`fn_name`: expected to revert with `expect` (simulated, nothing
        mined), or to succeed (sent; gas and value charged to the sender in the model)."""
        deployed = self.d
        if who in self.w.by_address:
            fn = self.w.by_address[who].contract.functions.execute(
                deployed.escrow.address, calldata(deployed, fn_name, *args)
            )
            sender = self.w.operator
        else:
            fn, sender = getattr(deployed.escrow.functions, fn_name)(*args), who
        tx = {"from": sender, "value": value}
        event(f"{fn_name}: {expect or 'ok'}")
        OUTCOMES[f"{fn_name}: {expect or 'ok'}"] += 1
        if expect is not None:
            with reverts(expect):
                fn.call(tx, block_identifier="pending")
            return None
        now = self.now()
        receipt = self.chain.w3.eth.wait_for_transaction_receipt(fn.transact({**tx, "gas": TX_GAS}))
        if receipt["status"] != 1:
            try:
                fn.call(tx, block_identifier="pending")
                why = "(it passes when replayed)"
            except Exception as exc:
                why = repr(decode_revert(revert_data(exc)))
            raise AssertionError(
                f"the model says {fn_name}{args} by {who} is legal, but it reverted: {why}"
            )
        assert self.chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"] == now
        self.expected["eth"][sender] -= value + receipt["gasUsed"] * receipt["effectiveGasPrice"]
        self._read_events(receipt)
        return receipt

    def _read_events(self, receipt: Any) -> None:
        """Per-trade money in and out as the contract reports it (checked against the model)."""
        deployed = self.d
        for name, fields_in, fields_out in (
            ("TradeCreated", ["held"], []),
            ("TradeFunded", ["held"], []),
            ("Released", [], ["toSeller", "platformFee"]),
            ("Refunded", [], ["toBuyer"]),
            ("TimedOut", [], ["amount"]),
            ("Settled", [], ["toBuyer", "toSeller", "platformFee"]),
            ("Ruled", [], ["toBuyer", "toSeller", "arbiterFee", "platformFee"]),
            ("DisputeExpired", [], ["toBuyer", "toSeller", "platformFee"]),
        ):
            for args in deployed.events(receipt, name):
                trade = self.by_id[bytes(args["id"])]
                trade.events_in += sum(args[f] for f in fields_in)
                trade.events_out += sum(args[f] for f in fields_out)
                if fields_out and args.get("heldAfter", 0) == 0:
                    trade.finals += 1
        reputation = deployed.reputation.address
        if any(log["address"] == reputation for log in receipt["logs"]):
            for args in deployed.events(receipt, "Rated", deployed.reputation):
                trade = self.by_id[bytes(args["tradeId"])]
                t = trade.terms
                assert trade.state in FINISHED and trade.has(MARK_SELLER_PAID), (
                    f"rated a {trade.state} trade"
                )
                assert t["flags"] & FLAG_RECORD_REPUTATION, "rated a trade that records no reputation"
                assert {args["rater"], args["ratee"]} == {t["buyer"], t["seller"]}, "rater/ratee"
                trade.ratings[args["rater"]] += 1

    def move_out(self, asset: str, to: str, amount: int) -> None:
        self.expected[asset][self.d.escrow.address] -= amount
        self.expected[asset][to] += amount - fot(asset, amount)

    def pay(self, trade: Trade, to: str, amount: int) -> None:
        """Model of `_pay`: deliver, or credit a receiver that rejects ETH."""
        t = trade.terms
        assert to in (t["buyer"], t["seller"], t["arbiter"]), "a payout to someone outside the trade"
        trade.paid_out += amount
        if amount == 0:
            return
        if trade.asset == "eth" and self.rejects_eth.get(to, False):
            self.credits[(to, trade.asset)] += amount
        else:
            self.move_out(trade.asset, to, amount)

    def pay_seller(self, trade: Trade, gross: int) -> None:
        fee = bps_of(gross, trade.terms["platformFeeBps"])
        self.fees[trade.asset] += fee
        trade.paid_out += fee
        self.pay(trade, trade.terms["seller"], gross - fee)

    def pull(self, trade: Trade) -> None:
        """The buyer's funding arrives (ETH: the value, charged in `send`; tokens: transferFrom)."""
        t, asset = trade.terms, trade.asset
        arrived = t["amount"] - fot(asset, t["amount"])
        if asset != "eth":
            self.expected[asset][t["buyer"]] -= t["amount"]
        self.expected[asset][self.d.escrow.address] += arrived
        trade.held = trade.arrived = arrived
        trade.state = "Funded"
        trade.deadline = self.now() + t["releaseWindow"]
        trade.marks = 0

    def close(self, trade: Trade, state: str, seller_gross: int) -> None:
        trade.held = 0
        trade.state = state
        if seller_gross:
            trade.marks |= MARK_SELLER_PAID

    # -- creating and funding ----------------------------------------------------------------------

    def _open(
        self,
        asset,
        buyer,
        seller,
        arbiter,
        arbiter_fee,
        amount,
        timeout_releases,
        record,
        funding,
        release,
        arbitration,
        how,
    ):
        parties = self.w.parties
        buyer_addr, seller_addr = parties[buyer], parties[(buyer + seller) % len(parties)]
        flags = (FLAG_TIMEOUT_RELEASES if timeout_releases else 0) | (
            FLAG_RECORD_REPUTATION if record else 0
        )
        if how == "create_by_seller":
            flags |= FLAG_CREATED_BY_SELLER
        self.salt += 1
        t = self.d.terms(
            buyer=buyer_addr,
            seller=seller_addr,
            token=self.w.token_address[asset],
            arbiter=ETH if arbiter is None else self.w.arbiters[arbiter],
            arbiterFeeBps=0 if arbiter is None else arbiter_fee,
            amount=amount,
            platformFeeBps=self.platform_fee,
            fundingWindow=funding,
            releaseWindow=release,
            arbitrationWindow=arbitration,
            flags=flags,
            salt=self.salt,
        )
        caller = {
            "createAndFund": buyer_addr,
            "create_by_buyer": buyer_addr,
            "create_by_seller": seller_addr,
            "create_by_stranger": self.d.stranger,
        }[how]
        fn = "createAndFund" if how == "createAndFund" else "create"
        value = amount if fn == "createAndFund" and asset == "eth" else 0
        expect = (
            "EnforcedPause"
            if self.paused
            else ("Unauthorized" if how == "create_by_stranger" else None)
        )
        if expect:
            self.send(caller, fn, t, value=value, expect=expect)
            return
        trade = Trade(t, asset, "AwaitingFunding", self.now() + funding)
        self.trades.append(trade)
        self.by_id[trade.id] = trade
        if fn == "createAndFund":
            self.pull(trade)
        self.send(caller, fn, t, value=value)

    @initialize(first=st.fixed_dictionaries(NEW_TRADE), second=st.fixed_dictionaries(NEW_TRADE))
    def open_two_trades(self, first, second):
        self._open(**first)
        self._open(**second)

    @precondition(lambda self: self.open_count() < 4 and len(self.trades) < 12)
    @rule(new=st.fixed_dictionaries(NEW_TRADE))
    def open_trade(self, new):
        self._open(**new)

    @precondition(lambda self: self.open_in("AwaitingFunding"))
    @rule(choice=TRADE, by_buyer=st.sampled_from([True, True, True, False]))
    def fund(self, choice, by_buyer):
        self.do_fund(self.pick(choice, "AwaitingFunding"), by_buyer)

    def do_fund(self, trade: Trade, by_buyer) -> None:
        t, now = trade.terms, self.now()
        caller = t["buyer"] if by_buyer else self.d.stranger
        value = t["amount"] if trade.asset == "eth" else 0
        if not by_buyer:
            expect = "Unauthorized"
        elif trade.state != "AwaitingFunding":
            expect = "WrongState"
        elif now >= trade.deadline:
            expect = "DeadlinePassed"
        else:
            expect = None
            self.pull(trade)
        self.send(caller, "fund", t, value=value, expect=expect)

    @precondition(lambda self: self.open_in("AwaitingFunding"))
    @rule(choice=TRADE, role=st.sampled_from(["buyer", "seller", "stranger"]))
    def cancel(self, choice, role):
        self.do_cancel(self.pick(choice, "AwaitingFunding"), role)

    def do_cancel(self, trade: Trade, role) -> None:
        t, caller = trade.terms, self.who(trade, role)
        creator = t["seller"] if t["flags"] & FLAG_CREATED_BY_SELLER else t["buyer"]
        if trade.state != "AwaitingFunding":
            expect = "WrongState"
        elif caller != creator and self.now() < trade.deadline:
            expect = "DeadlineNotReached"
        else:
            expect = None
            trade.state = "Cancelled"
        self.send(caller, "cancel", t, expect=expect)

    # -- paying out --------------------------------------------------------------------------------

    def _part(self, trade: Trade, kind: str, fraction: int) -> int:
        return {
            "all": trade.held,
            "part": max(1, trade.held * fraction // BPS),
            "zero": 0,
            "over": trade.held + 1,
        }[kind]

    PART = st.sampled_from(["all", "all", "part", "part", "part", "zero", "over"])

    @precondition(lambda self: self.open_in("Funded"))
    @rule(
        choice=TRADE,
        kind=PART,
        fraction=st.integers(1, BPS - 1),
        role=st.sampled_from(["buyer", "buyer", "buyer", "seller", "stranger"]),
    )
    def release(self, choice, kind, fraction, role):
        self.do_release(self.pick(choice, "Funded"), kind, fraction, role)

    def do_release(self, trade: Trade, kind, fraction, role) -> None:
        t, caller, amount = trade.terms, self.who(trade, role), self._part(trade, kind, fraction)
        if caller != t["buyer"]:
            expect = "Unauthorized"
        elif trade.state != "Funded":
            expect = "WrongState"
        elif amount == 0 or amount > trade.held:
            expect = "InvalidPart"
        else:
            expect = None
            trade.held -= amount
            trade.marks |= MARK_SELLER_PAID
            if trade.held == 0:
                trade.state = "Completed"
            self.pay_seller(trade, amount)
        self.send(caller, "release", t, amount, expect=expect)

    @precondition(lambda self: self.open_in("Funded"))
    @rule(
        choice=TRADE,
        kind=PART,
        fraction=st.integers(1, BPS - 1),
        role=st.sampled_from(["seller", "seller", "seller", "buyer", "arbiter"]),
    )
    def refund(self, choice, kind, fraction, role):
        self.do_refund(self.pick(choice, "Funded"), kind, fraction, role)

    def do_refund(self, trade: Trade, kind, fraction, role) -> None:
        t, caller, amount = trade.terms, self.who(trade, role), self._part(trade, kind, fraction)
        if caller != t["seller"]:
            expect = "Unauthorized"
        elif trade.state != "Funded":
            expect = "WrongState"
        elif amount == 0 or amount > trade.held:
            expect = "InvalidPart"
        else:
            expect = None
            trade.held -= amount
            if trade.held == 0:
                trade.state = "Completed" if trade.has(MARK_SELLER_PAID) else "Refunded"
            self.pay(trade, t["buyer"], amount)
        self.send(caller, "refund", t, amount, expect=expect)

    @precondition(lambda self: self.open_in("Funded"))
    @rule(choice=TRADE, role=CALLERS)
    def timeout(self, choice, role):
        self.do_timeout(self.pick(choice, "Funded"), role)

    def do_timeout(self, trade: Trade, role) -> None:
        t, caller = trade.terms, self.who(trade, role)
        if trade.state != "Funded":
            expect = "WrongState"
        elif self.now() < trade.deadline:
            expect = "DeadlineNotReached"
        else:
            expect = None
            amount = trade.held
            to_seller = bool(t["flags"] & FLAG_TIMEOUT_RELEASES) or trade.has(MARK_DELIVERED)
            if to_seller:
                trade.marks |= MARK_SELLER_PAID
            trade.held = 0
            trade.state = "Completed" if trade.has(MARK_SELLER_PAID) else "Refunded"
            if to_seller:
                self.pay_seller(trade, amount)
            else:
                self.pay(trade, t["buyer"], amount)
        self.send(caller, "timeout", t, expect=expect)

    @precondition(lambda self: self.open_in("Funded"))
    @rule(choice=TRADE, role=st.sampled_from(["seller", "seller", "seller", "buyer"]))
    def mark_delivered(self, choice, role):
        self.do_mark_delivered(self.pick(choice, "Funded"), role)

    def do_mark_delivered(self, trade: Trade, role) -> None:
        t, caller, now = trade.terms, self.who(trade, role), self.now()
        if caller != t["seller"]:
            expect = "Unauthorized"
        elif trade.state != "Funded":
            expect = "WrongState"
        elif trade.has(MARK_DELIVERED):
            expect = "AlreadyMarked"
        elif now >= trade.deadline:
            expect = "DeadlinePassed"
        else:
            expect = None
            trade.marks |= MARK_DELIVERED
            trade.deadline = now + t["releaseWindow"]
        self.send(caller, "markDelivered", t, expect=expect)

    # -- settling and disputing --------------------------------------------------------------------

    @precondition(lambda self: self.open_in("Funded", "Disputed"))
    @rule(choice=TRADE, role=PARTY_CALLERS, bps=BPS_VALUES)
    def propose_settlement(self, choice, role, bps):
        self.do_propose_settlement(self.pick(choice, "Funded", "Disputed"), role, bps)

    def do_propose_settlement(self, trade: Trade, role, bps) -> None:
        t, caller = trade.terms, self.who(trade, role)
        if trade.state not in ("Funded", "Disputed"):
            expect = "WrongState"
        elif bps > BPS:
            expect = "BpsTooHigh"
        elif caller not in (t["buyer"], t["seller"]):
            expect = "Unauthorized"
        else:
            expect = None
            proposer = MARK_BY_BUYER if caller == t["buyer"] else MARK_BY_SELLER
            trade.marks = (trade.marks & ~(MARK_BY_BUYER | MARK_BY_SELLER)) | proposer
            trade.settlement_bps = bps
        self.send(caller, "proposeSettlement", t, bps, expect=expect)

    @precondition(lambda self: self.open_in("Funded", "Disputed"))
    @rule(
        choice=TRADE,
        role=st.sampled_from(
            ["counterparty", "counterparty", "counterparty", "proposer", "stranger"]
        ),
        matching=st.sampled_from([True, True, True, False]),
    )
    def accept_settlement(self, choice, role, matching):
        self.do_accept_settlement(
            self.pick(choice, "Funded", "Disputed", proposal=True), role, matching
        )

    def do_accept_settlement(self, trade: Trade, role, matching) -> None:
        t = trade.terms
        by_seller = trade.has(MARK_BY_SELLER)
        caller = {
            "counterparty": t["buyer"] if by_seller else t["seller"],
            "proposer": t["seller"] if by_seller else t["buyer"],
            "stranger": self.d.stranger,
        }[role]
        bps = trade.settlement_bps if matching else (trade.settlement_bps + 1) % (BPS + 1)
        counterparty = MARK_BY_SELLER if caller == t["buyer"] else MARK_BY_BUYER
        if trade.state not in ("Funded", "Disputed"):
            expect = "WrongState"
        elif caller not in (t["buyer"], t["seller"]):
            expect = "Unauthorized"
        elif not trade.has(counterparty) or trade.settlement_bps != bps:
            expect = "SettlementMismatch"
        else:
            expect = None
            to_buyer = bps_of(trade.held, bps)
            seller_gross = trade.held - to_buyer
            self.close(trade, "Settled", seller_gross)
            self.pay_seller(trade, seller_gross)
            self.pay(trade, t["buyer"], to_buyer)
        self.send(caller, "acceptSettlement", t, bps, expect=expect)

    @precondition(lambda self: self.open_in("Funded"))
    @rule(choice=TRADE, role=PARTY_CALLERS)
    def dispute(self, choice, role):
        self.do_dispute(self.pick(choice, "Funded"), role)

    def do_dispute(self, trade: Trade, role) -> None:
        t, caller, now = trade.terms, self.who(trade, role), self.now()
        if caller not in (t["buyer"], t["seller"]):
            expect = "Unauthorized"
        elif trade.state != "Funded":
            expect = "WrongState"
        elif t["arbiter"] == ETH:
            expect = "NoArbiter"
        elif now >= trade.deadline:
            expect = "DeadlinePassed"
        else:
            expect = None
            trade.state = "Disputed"
            trade.deadline = now + t["arbitrationWindow"]
        self.send(caller, "dispute", t, expect=expect)

    @precondition(lambda self: self.open_in("Disputed"))
    @rule(
        choice=TRADE,
        role=st.sampled_from(["arbiter", "arbiter", "arbiter", "buyer", "stranger"]),
        bps=BPS_VALUES,
    )
    def rule_dispute(self, choice, role, bps):
        self.do_rule_dispute(self.pick(choice, "Disputed"), role, bps)

    def do_rule_dispute(self, trade: Trade, role, bps) -> None:
        t, caller = trade.terms, self.who(trade, role)
        if caller != t["arbiter"]:
            expect = "Unauthorized"
        elif trade.state != "Disputed":
            expect = "WrongState"
        elif self.now() >= trade.deadline:
            expect = "DeadlinePassed"
        elif bps > BPS:
            expect = "BpsTooHigh"
        else:
            expect = None
            arbiter_fee = bps_of(trade.held, t["arbiterFeeBps"])
            pool = trade.held - arbiter_fee
            to_buyer = bps_of(pool, bps)
            seller_gross = pool - to_buyer
            self.close(trade, "Resolved", seller_gross)
            self.pay_seller(trade, seller_gross)
            self.pay(trade, t["buyer"], to_buyer)
            self.pay(trade, t["arbiter"], arbiter_fee)
        self.send(caller, "rule", t, bps, expect=expect)

    @precondition(lambda self: self.open_in("Disputed"))
    @rule(choice=TRADE, role=CALLERS)
    def resolve_expired_dispute(self, choice, role):
        self.do_resolve_expired_dispute(self.pick(choice, "Disputed"), role)

    def do_resolve_expired_dispute(self, trade: Trade, role) -> None:
        t, caller = trade.terms, self.who(trade, role)
        if trade.state != "Disputed":
            expect = "WrongState"
        elif self.now() < trade.deadline:
            expect = "DeadlineNotReached"
        else:
            expect = None
            to_buyer = bps_of(trade.held, BPS // 2)
            seller_gross = trade.held - to_buyer
            self.close(trade, "Resolved", seller_gross)
            self.pay_seller(trade, seller_gross)
            self.pay(trade, t["buyer"], to_buyer)
        self.send(caller, "resolveExpiredDispute", t, expect=expect)

    # -- credits, fees, ratings --------------------------------------------------------------------

    @rule(
        creditor=st.sampled_from([True, True, True, False]),
        who=st.integers(0, 2**16),
        asset=st.sampled_from(ASSETS),
        to_vault=st.booleans(),
    )
    def withdraw(self, creditor, who, asset, to_vault):
        owed = sorted(key for key, amount in self.credits.items() if amount)
        if creditor and owed:
            account, asset = owed[who % len(owed)]
        else:
            accounts = [*self.w.parties, *self.w.arbiters]
            account = accounts[who % len(accounts)]
        to = self.w.vault if to_vault else account
        amount = self.credits[(account, asset)]
        if amount == 0:
            expect = "NothingToWithdraw"
        elif asset == "eth" and self.rejects_eth.get(to, False):
            expect = "WithdrawFailed"
        else:
            expect = None
            self.credits[(account, asset)] = 0
            self.move_out(asset, to, amount)
        self.send(account, "withdraw", self.w.token_address[asset], to, expect=expect)

    @rule(index=st.integers(0, 2**16), with_fees=st.sampled_from([True, True, True, False]))
    def withdraw_fees(self, index, with_fees):
        earning = [a for a in ASSETS if self.fees[a]]
        asset = (
            earning[index % len(earning)] if with_fees and earning else ASSETS[index % len(ASSETS)]
        )
        amount = self.fees[asset]
        if amount == 0:
            expect = "NothingToWithdraw"
        else:
            expect = None
            self.fees[asset] = 0
            self.move_out(asset, self.fee_recipient, amount)
        self.send(self.d.stranger, "withdrawFees", self.w.token_address[asset], expect=expect)

    @precondition(lambda self: self.open_in("Completed", "Settled", "Resolved"))
    @rule(choice=TRADE, role=PARTY_CALLERS, score=st.sampled_from([0, 1, 3, 5, 5, 6]))
    def rate(self, choice, role, score):
        self.do_rate(self.pick(choice, "Completed", "Settled", "Resolved"), role, score)

    def do_rate(self, trade: Trade, role, score) -> None:
        t, caller = trade.terms, self.who(trade, role)
        rated = MARK_BUYER_RATED if caller == t["buyer"] else MARK_SELLER_RATED
        finished = trade.state in ("Completed", "Settled", "Resolved")
        if caller not in (t["buyer"], t["seller"]):
            expect = "Unauthorized"
        elif not 1 <= score <= 5:
            expect = "InvalidScore"
        elif (
            not finished
            or not trade.has(MARK_SELLER_PAID)
            or trade.has(rated)
            or not t["flags"] & FLAG_RECORD_REPUTATION
        ):
            expect = "NotRateable"
        else:
            expect = None
            trade.marks |= rated
        self.send(caller, "rate", t, score, b"\x00" * 32, expect=expect)

    # -- the hostile parties, the owner, time ------------------------------------------------------

    @rule(which=st.integers(0, 2), reject=st.booleans())
    def set_malicious_mode(self, which, reject):
        party = self.w.malicious[which]
        receipt = self.d.send(party.contract.functions.setMode(1 if reject else 0), self.w.operator)
        self.expected["eth"][self.w.operator] -= receipt["gasUsed"] * receipt["effectiveGasPrice"]
        self.rejects_eth[party.address] = reject

    @rule(
        action=st.sampled_from(
            ["pause", "unpause", "fee0", "fee500", "fee25", "recipient_alt", "recipient_default"]
        ),
        resume=st.sampled_from([True, True, False]),
    )
    def owner_acts(self, action, resume):
        """Owner settings; a pause is mostly lifted at the owner's next move (so creation is
        still exercised)."""
        if self.paused and resume:
            action = "unpause"
        f, owner = self.d.escrow.functions, self.d.owner
        if action in ("pause", "unpause"):
            expect = (
                None
                if self.paused == (action == "unpause")
                else ("EnforcedPause" if self.paused else "ExpectedPause")
            )
            call = getattr(f, action)()
            if expect is None:
                self.paused = action == "pause"
        elif action.startswith("fee"):
            expect, call = None, f.setPlatformFee(int(action[3:]))
            self.platform_fee = int(action[3:])
        else:
            new = self.w.alt_recipient if action == "recipient_alt" else self.d.fee_recipient
            expect, call = None, f.setFeeRecipient(new)
            self.fee_recipient = new
        OUTCOMES[f"owner {action}: {expect or 'ok'}"] += 1
        if expect:
            with reverts(expect):
                call.call({"from": owner}, block_identifier="pending")
            return
        receipt = self.d.send(call, owner)
        self.expected["eth"][owner] -= receipt["gasUsed"] * receipt["effectiveGasPrice"]

    @precondition(lambda self: self.open_in("AwaitingFunding", "Funded", "Disputed"))
    @rule(choice=TRADE, offset=st.sampled_from([-1, 0, 1]))
    def warp_to_deadline(self, choice, offset):
        """Move the clock to one second before, at or after an open trade's current deadline."""
        target = self.pick(choice, "AwaitingFunding", "Funded", "Disputed").deadline + offset
        if target >= self.now():
            self.chain.set_next_timestamp(target)

    @rule(seconds=st.sampled_from([1, 29, 30, 31, 3599, 3600, 3601, 86399, 86400, 86401, 86400 * 3]))
    def sleep(self, seconds):
        self.chain.set_next_timestamp(self.now() + seconds)

    @precondition(lambda self: self.forced_times < 2)  # else it crowds out the other rules
    @rule(amount=st.sampled_from([1, 7, 10**15, 10**18]))
    def force_eth(self, amount):
        """selfdestruct ETH into the escrow (no receive hook runs): it must change nothing, and
        never reach anyone."""
        self.forced_times += 1
        artifact = load_test_artifact("ForceSend")
        w3 = self.chain.w3
        factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
        sender = self.w.operator
        receipt = w3.eth.wait_for_transaction_receipt(
            factory.constructor(self.d.escrow.address).transact(
                {"from": sender, "value": amount, "gas": TX_GAS}
            )
        )
        assert receipt["status"] == 1
        OUTCOMES["force ETH: ok"] += 1
        self.expected["eth"][sender] -= amount + receipt["gasUsed"] * receipt["effectiveGasPrice"]
        self.expected["eth"][self.d.escrow.address] += amount
        self.forced += amount

    def warp(self, timestamp: int) -> None:
        if timestamp > self.now():
            self.chain.set_next_timestamp(timestamp)

    @precondition(lambda self: self.open_in("AwaitingFunding", "Funded", "Disputed"))
    @rule(
        index=st.integers(0, 2**16),
        moves=st.lists(
            st.tuples(
                st.integers(0, 2**16),
                st.sampled_from([False, False, True]),
                st.integers(1, BPS - 1),
                st.integers(0, BPS),
            ),
            min_size=1,
            max_size=4,
        ),
        cash_out=st.booleans(),
    )
    def advance(self, index, moves, cash_out):
        """Up to four legal moves on one open trade, checking the invariants after each, so every
        example makes progress whatever rules the swarm enabled (hypothesis enables a random subset
        of rules per example)."""
        trade = self.pick((index, False), "AwaitingFunding", "Funded", "Disputed")
        for number, (step, late, fraction, bps) in enumerate(moves):
            if trade.state in TERMINAL:
                break
            if number:
                self.chain_matches_model()
            self.advance_once(trade, step, late, fraction, bps)
        if cash_out and any(self.credits.values()):
            self.chain_matches_model()
            self.withdraw(True, index, "eth", True)  # a credited party withdraws to its vault

    def advance_once(self, trade: Trade, step: int, late: bool, fraction: int, bps: int) -> None:
        """One legal move; `late` first moves the clock to the trade's deadline."""
        t = trade.terms
        if late:
            self.warp(trade.deadline)
        on_time = self.now() < trade.deadline
        options: list[Any] = []
        if trade.state == "AwaitingFunding":
            options = [lambda: self.do_fund(trade, True)] if on_time else []
            options.append(
                lambda: self.do_cancel(
                    trade,
                    "stranger"
                    if not on_time
                    else ("seller" if t["flags"] & FLAG_CREATED_BY_SELLER else "buyer"),
                )
            )
        else:
            options = [
                lambda: self.do_propose_settlement(trade, "buyer", bps),
                lambda: self.do_propose_settlement(trade, "seller", bps),
            ]
            if trade.has(MARK_BY_BUYER | MARK_BY_SELLER):
                options += [lambda: self.do_accept_settlement(trade, "counterparty", True)] * 2
        if trade.state == "Funded":
            options += [
                lambda: self.do_release(trade, "all", fraction, "buyer"),
                lambda: self.do_release(trade, "part", fraction, "buyer"),
                lambda: self.do_refund(trade, "all", fraction, "seller"),
                lambda: self.do_refund(trade, "part", fraction, "seller"),
            ]
            if not on_time:
                options += [lambda: self.do_timeout(trade, "stranger")] * 3
            else:
                if t["arbiter"] != ETH:
                    options += [
                        lambda: self.do_dispute(trade, "buyer"),
                        lambda: self.do_dispute(trade, "seller"),
                    ]
                if not trade.has(MARK_DELIVERED):
                    options.append(lambda: self.do_mark_delivered(trade, "seller"))
        if trade.state == "Disputed":
            if on_time:
                options += [lambda: self.do_rule_dispute(trade, "arbiter", bps)] * 2
            else:
                options += [lambda: self.do_resolve_expired_dispute(trade, "stranger")] * 2
        options[step % len(options)]()

    # -- invariants --------------------------------------------------------------------------------

    @invariant()
    def chain_matches_model(self):
        """Read every slot and balance once per step and hold them against the model."""
        FIGURES["invariant: chain matches model, conservation, legal transitions"] += 1
        raw = self.w.raw
        state = raw.state()
        slots = [raw.escrow_slot(state, trade.terms) for trade in self.trades]
        self.check_transitions(slots)
        self.check_trades(slots)
        self.check_books(state, slots)

    def check_transitions(self, slots: list[dict[str, int]]) -> None:
        """Only modelled state changes happen on chain; terminal states never change."""
        for trade, slot in zip(self.trades, slots, strict=True):
            now = STATE_NAME[slot["state"]]
            before = trade.chain_state
            assert now == before or (before, now) in LEGAL, f"illegal transition {before} -> {now}"
            assert not (before in TERMINAL and now != before), f"terminal {before} left for {now}"
            trade.chain_state = now

    @invariant()
    def one_final_payout_per_trade(self):
        """From the events: a trade that ended with money pays out its last wei exactly once; a
        cancelled or open one never did."""
        FIGURES["invariant: at most one final payout per trade"] += 1
        for trade in self.trades:
            assert trade.finals <= 1, f"{trade.finals} final payouts"
            assert trade.finals == (trade.state in PAID_OUT), (trade.state, trade.finals)

    @invariant()
    def ratings_follow_the_rules(self):
        """At most one rating per trade and rater (each checked, as it happened, to be on a
        finished trade whose seller was paid); the marks agree with the events."""
        FIGURES["invariant: ratings once, finished trades only"] += 1
        for trade in self.trades:
            t = trade.terms
            assert all(count <= 1 for count in trade.ratings.values()), trade.ratings
            assert set(trade.ratings) <= {t["buyer"], t["seller"]}
            assert bool(trade.ratings[t["buyer"]]) == trade.has(MARK_BUYER_RATED)
            assert bool(trade.ratings[t["seller"]]) == trade.has(MARK_SELLER_RATED)

    @invariant()
    def every_open_trade_has_a_way_out(self):
        """Liveness: for each open trade, a stranger can end it at its deadline (cancel, timeout,
        resolveExpiredDispute), whoever of its parties rejects ETH. Simulated after moving the clock
        to each deadline in a snapshot, which is reverted. Proven once per trade slot and receivers'
        modes (nothing else changes the answer)."""
        FIGURES["invariant: liveness (permissionless exit)"] += 1
        modes = tuple(sorted(self.rejects_eth.items()))
        todo = []
        for trade in self.trades:
            if trade.state in TERMINAL:
                continue
            key = (trade.id, trade.state, trade.deadline, trade.marks, trade.held, modes)
            if key not in self.live:
                todo.append((trade, key))
        if not todo:
            return
        snapshot = self.chain.snapshot()
        try:
            for trade, key in sorted(todo, key=lambda item: item[0].deadline):
                if trade.deadline > self.now():
                    self.chain.set_next_timestamp(trade.deadline)
                fn = getattr(self.d.escrow.functions, EXIT[trade.state])(trade.terms)
                try:
                    fn.call({"from": self.d.stranger, "gas": TX_GAS}, block_identifier="pending")
                except Exception as exc:  # noqa: BLE001 - any revert is the failure
                    why = decode_revert(revert_data(exc))
                    raise AssertionError(
                        f"no way out of {trade.state} for a stranger at the deadline: {why}"
                    ) from exc
                FIGURES["liveness exits simulated"] += 1
                self.live.add(key)
        finally:
            self.chain.revert(snapshot)

    def check_trades(self, slots: list[dict[str, int]]) -> None:
        """Each trade is where the model says (ended trades stayed ended) and conserves money."""
        for trade, slot in zip(self.trades, slots, strict=True):
            model = {
                "held": trade.held,
                "deadline": trade.deadline,
                "state": STATE[trade.state],
                "marks": trade.marks,
                "settlementBps": trade.settlement_bps,
            }
            assert slot == model, (STATE_NAME[slot["state"]], trade)
            assert (trade.state in ("Funded", "Disputed")) == (trade.held > 0)
            assert trade.arrived == trade.held + trade.paid_out, "the model's conservation"
            assert trade.events_in == trade.arrived, "funding events"
            assert trade.events_out == trade.paid_out, (
                "payout events: paid out more or less than received"
            )

    def check_books(self, state: Any, slots: list[dict[str, int]]) -> None:
        """Per asset: the escrow holds exactly held + credits + fees; every account and credit is as
        modelled (so nobody outside a trade's parties, the fee recipient and the withdrawal targets
        gained anything)."""
        raw = self.w.raw
        for asset in ASSETS:
            token = self.w.token_address[asset]
            held = sum(
                slot["held"]
                for trade, slot in zip(self.trades, slots, strict=True)
                if trade.asset == asset
            )
            credits = {account: raw.credit(state, account, token) for account in self.accounts}
            fees = raw.fees(state, token)
            balances = {account: raw.balance(state, asset, account) for account in self.accounts}
            owed = held + sum(credits.values()) + fees
            assert balances[self.d.escrow.address] >= owed, f"insolvent in {asset}"
            forced = self.forced if asset == "eth" else 0
            assert balances[self.d.escrow.address] == owed + forced, f"books of {asset}"
            assert fees == self.fees[asset], f"feesAccrued[{asset}]"
            assert credits == {a: self.credits[(a, asset)] for a in self.accounts}, (
                f"credits in {asset}"
            )
            assert balances == self.expected[asset], f"balances in {asset}"


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:SELFDESTRUCT opcode:DeprecationWarning")
def test_random_action_sequences_keep_every_invariant(deployed):
    world = World(fast(deployed))
    chosen = fuzz_settings()
    FIGURES.clear()
    EXAMPLE_STEPS.clear()
    failures = 0
    started = time.monotonic()
    try:
        run_state_machine_as_test(lambda: EscrowMachine(world), settings=chosen)
    except BaseException:
        failures = 1
        raise
    finally:
        report_figures(chosen, failures, time.monotonic() - started)
    if os.environ.get("P2PESCROW_FUZZ_STATS"):
        for outcome, count in sorted(OUTCOMES.items()):
            print(f"{count:6d}  {outcome}")
    overridden = {"P2PESCROW_FUZZ_EXAMPLES", "P2PESCROW_FUZZ_STEPS"} & set(os.environ)
    if os.environ.get("P2PESCROW_FUZZ") == "deep" and not overridden:
        full = sum(n >= DEEP_MIN_STEPS for n in EXAMPLE_STEPS)
        assert full >= DEEP_MIN_FULL_EXAMPLES, (
            f"only {full} examples ran >= {DEEP_MIN_STEPS} steps; raise the deep max_examples"
        )


def report_figures(chosen: settings, failures: int, seconds: float) -> None:
    """The run's figures (shown with -s, as `make fuzz` runs it). Steps: rules run, the two
    opening trades included; a step's invariants are all checked after it."""
    steps = FIGURES["steps"] - FIGURES["examples"]  # hypothesis checks once more before step 1
    lengths = sorted(EXAMPLE_STEPS) or [0]
    checks = sum(n for name, n in FIGURES.items() if name.startswith("invariant: "))
    lines = [
        f"stateful escrow fuzz ({os.environ.get('P2PESCROW_FUZZ', 'ci')} profile: "
        f"{chosen.max_examples} examples x {chosen.stateful_step_count} steps), {seconds:.0f} s",
        f"  examples run:           {FIGURES['examples']}",
        f"  steps run:              {steps}",
        f"  steps per example:      min {min(lengths)}, median {lengths[len(lengths) // 2]}, "
        f"max {max(lengths)}; {sum(n >= chosen.stateful_step_count for n in lengths)} examples ran "
        f"all {chosen.stateful_step_count}, {sum(n >= 50 for n in lengths)} ran >= 50",
        f"  invariant checks run:   {checks}",
        *(
            f"    {name[len('invariant: '):]}: {n}"
            for name, n in sorted(FIGURES.items())
            if name.startswith("invariant: ")
        ),
        f"  liveness exits proven:  {FIGURES['liveness exits simulated']}",
        f"  failures:               {failures}",
    ]
    print("\n" + "\n".join(lines))
    record = os.environ.get("P2PESCROW_FUZZ_RECORD")
    if record:  # `make fuzz` keeps the figures for `make assurance` to publish
        path = Path(record)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({
            "profile": os.environ.get("P2PESCROW_FUZZ", "ci"),
            "max_examples": chosen.max_examples,
            "steps_per_example": chosen.stateful_step_count,
            "examples": FIGURES["examples"],
            "steps": steps,
            "examples_with_50_steps_or_more": sum(n >= 50 for n in lengths),
            "invariant_checks": checks,
            "liveness_exits": FIGURES["liveness exits simulated"],
            "failures": failures,
            "seconds": round(seconds),
        }, indent=2) + "\n")
