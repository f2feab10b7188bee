"""Random sequences of every escrow action against a Python model, checked after every step.

A hypothesis ``RuleBasedStateMachine`` drives several trades at once, in ETH and three tokens
(standard, no-return, fee-on-transfer), with parties that are plain accounts or ``MaliciousParty``
contracts that reject ETH (so payouts get credited) or accept it (mode toggled at random). Trades
are opened every way there is (created by the buyer or the seller, created and funded, a seller's
signed offer filled), with deposits on either side or both; sellers post and withdraw bonds; the
owner pauses, changes the fee and its recipient, and lists, re-prices and delists reputation assets;
anyone sweeps fees; ETH is forced in with ``selfdestruct`` (``ForceSend``); the clock moves to one
second before, onto and one second after every open trade's current deadline (funding, release,
arbitration), or by each window's exact length and one second either side. The model decides whether
each action is legal: legal actions are sent and must succeed, illegal ones are simulated and must
revert with the error the contract's checks give, in their order. After every step:

* books per asset: the escrow's balance == sum(held of every trade: the price of live ones, the
  unswept fee of ended ones) + the deposits of trades not ended + sum(bonds) + sum(credits) +
  feesAccrued, plus the ETH forced in (which nobody's books count and nobody may receive);
* every account's balance (ETH net of the gas it paid), every credit, bond and feesAccrued equal the
  model's, so money only reaches a trade's buyer, seller, arbiter, the fee recipient, or the
  address a creditor or bond holder withdrew to, and nobody else gains a wei;
* who got what, measured at every payout (balance + credits before and after the transaction): each
  party received exactly the price parts the contract's own event reports, plus, when the trade
  ended, the deposits that the table in IP2PEscrow gives it for the ending the event reports (back to
  its owner, or on a timeout with an arbiter, a ruling or a concession to the counterparty); the
  arbiter its fee; the fee recipient, the owner and strangers nothing. So each deposit comes out
  exactly once, when its trade ends, and never to the arbiter, the platform or the owner;
* the no-arbiter rule, from the contract's events: in a trade without an arbiter the price reaches
  the seller only by the buyer's release or a settlement the buyer proposed or accepted, or by the
  timeout when the terms say it releases; it reaches the buyer only by the seller's refund, a
  settlement, a cancel (its own money) or the timeout the terms fixed: ``markDelivered`` never makes
  the timeout pay the seller of a refund-on-timeout trade;
* every trade's slot (state, held, deadline, marks, settlement) equals the model's, so ended trades
  stay ended and only modelled transitions happen;
* per trade, what arrived == held + everything paid out (payouts and fees), both in the model and as
  reported by the contract's own events; every payout goes to the trade's buyer, seller or arbiter
  (fees to the fee recipient);
* only legal transitions (``LEGAL``) happen on chain, and terminal states never change;
* at most one final payout per trade, from the events (exactly one once it ended with money, none if
  cancelled or open);
* reputation: ``Reputation.recordOf`` of every account, asset and role (read raw) is exactly what the
  ended trades add up to that asked to record, in an asset listed with a minimum at or below their
  price when they were created, and whose seller consented (created it, signed its offer, accepted it,
  marked it delivered, disputed, or proposed or accepted a settlement that leaves it a share; giving the
  money back is not consent), tracked from the calls it made, apart from the marks; plus the ratings
  given; no other trade changes any record;
* ratings (the reputation contract's ``Rated`` events): at most one per trade and rater, each on an
  ended trade (not cancelled) that records, and the rated marks agree;
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
from eth_utils.abi import event_abi_to_log_topic
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
from support.adversary import TX_GAS, FastDeployment, calldata, fast, malicious_party, private_key, sign_offer
from support.adversary import test_artifact as load_test_artifact
from support.escrow import (
    BPS,
    ETH,
    FLAG_CREATED_BY_SELLER,
    FLAG_RECORD_REPUTATION,
    FLAG_TIMEOUT_RELEASES,
    LISTED_MIN_AMOUNT,
    MARK_BUYER_RATED,
    MARK_DELIVERED,
    MARK_PROPOSED_BY_BUYER,
    MARK_PROPOSED_BY_SELLER,
    MARK_RECORDS,
    MARK_SELLER_ACTED,
    MARK_SELLER_DEPOSITED,
    MARK_SELLER_PAID,
    MARK_SELLER_RATED,
    OUTCOME,
    PLATFORM_FEE_BPS,
    RATINGS_FIELDS,
    RECORD_FIELDS,
    STATE,
    TERMINAL,
    Deployment,
    fee_up,
    trade_id,
)
from support.offers import terms_of_offer
from support.reverts import decode_revert, revert_data, reverts

# --------------------------------------------------------------------------------------------------
# Profiles
# --------------------------------------------------------------------------------------------------

_COMMON = {"deadline": None, "suppress_health_check": list(HealthCheck), "print_blob": True}
settings.register_profile("p2pescrow-stateful-ci", max_examples=15, stateful_step_count=30, **_COMMON)
# Deep: hypothesis ends some examples early (its data buffer fills, mostly from rule draws that a
# precondition rejects), so about two thirds of max_examples run >= 50 steps; 400 gives well over
# the 200 the deep run promises, and the test checks it (DEEP_MIN_FULL_EXAMPLES).
settings.register_profile("p2pescrow-stateful-deep", max_examples=400, stateful_step_count=60, **_COMMON)
DEEP_MIN_FULL_EXAMPLES, DEEP_MIN_STEPS = 200, 50


def fuzz_settings() -> settings:
    profile = settings.get_profile(f"p2pescrow-stateful-{os.environ.get('P2PESCROW_FUZZ', 'ci')}")
    overrides: dict[str, Any] = {}
    if "P2PESCROW_FUZZ_EXAMPLES" in os.environ:
        overrides["max_examples"] = int(os.environ["P2PESCROW_FUZZ_EXAMPLES"])
    if "P2PESCROW_FUZZ_STEPS" in os.environ:
        overrides["stateful_step_count"] = int(os.environ["P2PESCROW_FUZZ_STEPS"])
    return settings(profile, **overrides)


OUTCOMES: Counter[str] = Counter()  # action: outcome counts, printed with P2PESCROW_FUZZ_STATS=1 (and -s)
# examples, steps, invariant evaluations (per invariant), printed at the end of every run (-s shows it)
FIGURES: Counter[str] = Counter()
EXAMPLE_STEPS: list[int] = []  # steps each example ran

# --------------------------------------------------------------------------------------------------
# Raw chain reads (storage layout of P2PEscrow, Reputation and the test tokens, checked in World)
# --------------------------------------------------------------------------------------------------

# P2PEscrow: after EIP712(2) Ownable(1) Ownable2Step(1) ReentrancyGuard(1) Pausable+fee+recipient(1).
ESCROWS_SLOT, CREDITS_SLOT, FEES_SLOT, BONDS_SLOT = 6, 7, 8, 9
# Reputation keeps each Record at keccak256(account, asset, role) (a 96-byte preimage, ERC-7201 style)
# or in a mapping; its Ratings in a mapping: World finds which slot scheme holds them (see
# Raw.probe), so the fuzz reads them raw whichever layout the contract has.
RECORD_LAYOUTS = ("hashed", "mapping 0", "mapping 1")
RATINGS_LAYOUTS = ("mapping 0", "mapping 1")
ERC20_BALANCES_SLOT = {"standard": 0, "fee_on_transfer": 0, "no_return": 1}
ASSETS = ["eth", "standard", "no_return", "fee_on_transfer"]
MAX_UINT = 2**256 - 1
PAID_OUT = {"Completed", "Refunded", "Settled", "Resolved"}  # ended with exactly one final payout
OPEN = ("AwaitingFunding", "AwaitingDeposit", "Funded", "Disputed")
BUYER_IN = {"AwaitingDeposit", "Funded", "Disputed"}  # the buyer's price and deposit are in
# Every state change the contract may make (staying put is always allowed; terminal states only can).
LEGAL = {
    ("None", "AwaitingFunding"),
    ("None", "AwaitingDeposit"),
    ("None", "Funded"),
    ("AwaitingFunding", "AwaitingDeposit"),
    ("AwaitingFunding", "Funded"),
    ("AwaitingFunding", "Cancelled"),
    ("AwaitingDeposit", "Funded"),
    ("AwaitingDeposit", "Cancelled"),
    ("Funded", "Disputed"),
    ("Funded", "Completed"),
    ("Funded", "Refunded"),
    ("Funded", "Settled"),
    ("Disputed", "Settled"),
    ("Disputed", "Resolved"),
}
# The way out of each open state that needs no one's cooperation: anyone, from the deadline on.
EXIT = {
    "AwaitingFunding": "cancel",
    "AwaitingDeposit": "cancel",
    "Funded": "timeout",
    "Disputed": "resolveExpiredDispute",
}
STATE_NAME = {v: k for k, v in STATE.items()}
# The seller's calls that say it entered the trade knowingly (its signed offer too): tracked from the
# calls made, apart from the contract's MARK_SELLER_ACTED, and held against it. Giving the money back
# is not consent (a refund, a concession, a settlement of everything to the buyer): a trade pushed on a
# stranger must not count through its honest refusal.
CONSENTING_CALLS = {"create", "accept", "markDelivered", "proposeSettlement", "acceptSettlement", "dispute"}
SETTLEMENT_CALLS = {"proposeSettlement", "acceptSettlement"}  # consent unless the buyer gets everything
# The calls that pay out of a trade (their payees are measured, see EscrowMachine.check_who_got_what).
ENDING_CALLS = {
    "release", "refund", "timeout", "acceptSettlement", "rule", "concede", "resolveExpiredDispute", "cancel",
}
# Record fields bumped per outcome, for (buyer, seller): 0 volume, 1 completed, 2 refunded, 3 settled,
# 4 disputes won, 5 lost, 6 split.
OUTCOME_COUNTERS = {"Completed": (1, 1), "Refunded": (2, 2), "Settled": (3, 3), "BuyerWon": (4, 5),
                    "SellerWon": (5, 4), "Split": (6, 6)}
# Payout events: (fields of what left the trade, whether it always ends the trade)
PAYOUT_EVENTS = {
    "Released": (["toSeller", "platformFee"], False),
    "Refunded": (["toBuyer"], False),
    "TimedOut": (["amount"], True),
    "Settled": (["toBuyer", "toSeller", "platformFee"], True),
    "Ruled": (["toBuyer", "toSeller", "arbiterFee", "platformFee"], True),
    "Conceded": (["toBuyer", "toSeller", "arbiterFee", "platformFee"], True),
    "DisputeExpired": (["toBuyer", "toSeller", "platformFee"], True),
}


def _word(value: int | bytes) -> bytes:
    return value.to_bytes(32, "big") if isinstance(value, int) else bytes(value).rjust(32, b"\x00")


@functools.cache
def mapping_slot(key: int | bytes, slot: int | bytes) -> int:
    return int.from_bytes(keccak(_word(key) + _word(slot)), "big")


_canonical = functools.lru_cache(maxsize=None)(to_canonical_address)


def _nested(slot: int, *keys: int | bytes) -> int:
    for key in keys:
        slot = mapping_slot(key, slot.to_bytes(32, "big"))
    return slot


class Raw:
    """py-evm state reads: balances and storage, no EVM execution."""

    def __init__(self, deployed: Deployment, tokens: dict[str, str]) -> None:
        self.backend = deployed.chain.tester.backend
        self.escrow = to_canonical_address(deployed.escrow.address)
        self.reputation = to_canonical_address(deployed.reputation.address)
        self.tokens = {name: to_canonical_address(address) for name, address in tokens.items()}

    def state(self) -> Any:
        return self.backend.chain.get_vm().state

    def balance(self, state: Any, asset: str, account: str) -> int:
        holder = _canonical(account)
        if asset == "eth":
            return int(state.get_balance(holder))
        return int(state.get_storage(self.tokens[asset], mapping_slot(holder, ERC20_BALANCES_SLOT[asset])))

    def credit(self, state: Any, account: str, token: str) -> int:
        return int(state.get_storage(self.escrow, _nested(CREDITS_SLOT, _canonical(account), _canonical(token))))

    def bond(self, state: Any, account: str, token: str) -> int:
        return int(state.get_storage(self.escrow, _nested(BONDS_SLOT, _canonical(account), _canonical(token))))

    def fees(self, state: Any, token: str) -> int:
        return int(state.get_storage(self.escrow, mapping_slot(_canonical(token), FEES_SLOT)))

    def escrow_slot(self, state: Any, terms: dict[str, Any]) -> dict[str, int]:
        v = int(state.get_storage(self.escrow, mapping_slot(trade_id(terms), ESCROWS_SLOT)))
        return {
            "held": v & (2**128 - 1),
            "deadline": (v >> 128) & (2**40 - 1),
            "state": (v >> 168) & 0xFF,
            "marks": (v >> 176) & 0xFFFF,
            "settlementBps": (v >> 192) & 0xFFFF,
        }

    record_layout, ratings_layout = "hashed", "mapping 0"

    @staticmethod
    def _slot(layout: str, keys: tuple[bytes, bytes, int]) -> int:
        if layout == "hashed":
            return int.from_bytes(keccak(b"".join(_word(key) for key in keys)), "big")
        return _nested(int(layout.split()[1]), *keys)

    def probe(self, state: Any, account: str, token: str, role: int, want: tuple[int, ...]) -> None:
        """Pick the record and ratings layouts under which the raw words read as `want` (recordOf)."""
        for self.record_layout in RECORD_LAYOUTS:
            for self.ratings_layout in RATINGS_LAYOUTS:
                if self.reputation_of(state, account, token, role) == want:
                    return
        raise AssertionError("no known storage layout of Reputation gives what recordOf returns")

    def reputation_of(self, state: Any, account: str, token: str, role: int) -> tuple[int, ...]:
        """Reputation.recordOf(account, token, role), flattened: the 7 Record fields, the 3 Ratings."""
        keys = (_canonical(account), _canonical(token), role)
        record = int(state.get_storage(self.reputation, self._slot(self.record_layout, keys)))
        ratings = int(state.get_storage(self.reputation, self._slot(self.ratings_layout, keys)))
        fields = [record & (2**112 - 1), *((record >> (112 + 24 * i)) & (2**24 - 1) for i in range(6))]
        fields += [ratings & (2**112 - 1), (ratings >> 112) & (2**120 - 1), ratings >> 232]
        return tuple(fields)


# --------------------------------------------------------------------------------------------------
# The world every example starts from
# --------------------------------------------------------------------------------------------------


class World:
    """Accounts, hostile parties, tokens and approvals, deployed once; examples revert to `base`."""

    def __init__(self, deployed: FastDeployment) -> None:
        self.d = deployed
        acc = deployed.chain.accounts
        self.tokens = {name: deployed.tokens[name] for name in ("standard", "no_return", "fee_on_transfer")}
        self.token_address = {"eth": ETH, **{name: c.address for name, c in self.tokens.items()}}
        self.operator, self.extra, self.vault, self.alt_recipient = acc[5], acc[6], acc[7], acc[8]
        self.malicious = [
            malicious_party(deployed, "Revert", eth=0, tokens=tuple(self.tokens.values())) for _ in range(3)
        ]
        self.by_address = {m.address: m for m in self.malicious}
        self.parties = [
            deployed.buyer,
            deployed.seller,
            self.extra,
            self.malicious[0].address,
            self.malicious[1].address,
        ]
        # Sellers who sign offers: accounts with a key (the hostile contracts implement no ERC-1271).
        self.signers = [deployed.buyer, deployed.seller, self.extra]
        self.keys = {account: private_key(deployed, account) for account in self.signers}
        self.arbiters = [deployed.arbiter, self.malicious[2].address]
        self.tracked = [*acc, *self.by_address]
        # Whose reputation is read every step: everyone who could ever have any.
        self.reputation_accounts = [*self.parties, *self.arbiters, deployed.stranger, deployed.owner]
        for token in self.tokens.values():
            deployed.send(token.functions.mint(self.extra, 10**30), deployed.owner)
            for party in self.parties:
                if party in self.by_address:  # through execute: MaliciousParty.approve wants a bool back
                    approve = bytes.fromhex(token.encode_abi("approve", [deployed.escrow.address, MAX_UINT])[2:])
                    deployed.send(
                        self.by_address[party].contract.functions.execute(token.address, approve), self.operator
                    )
                else:
                    deployed.send(token.functions.approve(deployed.escrow.address, MAX_UINT), party)
        self.raw = Raw(deployed, {n: a for n, a in self.token_address.items() if n != "eth"})
        self.events = EventReader(deployed)
        self._check_layout()
        self.base = deployed.chain.snapshot()

    def _check_layout(self) -> None:
        """The raw slots agree with the ABI getters (on a throwaway trade, reverted): a hostile seller
        posts a bond, accepts a trade (consent), is paid a third (credited: it rejects ETH), then the
        rest; the buyer rates it."""
        deployed, snap = self.d, self.d.chain.snapshot()
        hostile = self.malicious[0]
        f = deployed.escrow.functions
        hostile.call("depositBond", ETH, 10**15, value=10**15)
        t = deployed.terms(seller=hostile.address, sellerDeposit=10**14)
        deployed.create_and_fund(t)
        hostile.call("accept", t)
        deployed.send(f.release(t, t["amount"] // 3), deployed.buyer)
        state = self.raw.state()
        assert self.raw.escrow_slot(state, t) == deployed.escrow_of(t)
        assert self.raw.fees(state, ETH) == f.feesAccrued(ETH).call() > 0
        assert self.raw.bond(state, hostile.address, ETH) == f.bonds(hostile.address, ETH).call() == 9 * 10**14
        assert self.raw.credit(state, hostile.address, ETH) == f.credits(hostile.address, ETH).call() > 0
        deployed.send(f.release(t, t["amount"] - t["amount"] // 3), deployed.buyer)
        deployed.send(f.rate(t, 4, b"\x00" * 32), deployed.buyer)
        state = self.raw.state()
        assert self.raw.escrow_slot(state, t) == deployed.escrow_of(t)
        seller_record = deployed.reputation.functions.recordOf(hostile.address, ETH, 1).call()
        self.raw.probe(state, hostile.address, ETH, 1, (*seller_record[0], *seller_record[1]))
        for account in (hostile.address, deployed.buyer):
            for role in (0, 1):
                record, ratings = deployed.reputation.functions.recordOf(account, ETH, role).call()
                assert self.raw.reputation_of(state, account, ETH, role) == (*record, *ratings)
        assert self.raw.reputation_of(state, hostile.address, ETH, 1)[1] == 1  # one completed, as seller
        assert self.raw.reputation_of(state, hostile.address, ETH, 1)[-1] == 1  # one rating, as seller
        for asset, token in self.tokens.items():
            assert (
                self.raw.balance(state, asset, deployed.buyer) == token.functions.balanceOf(deployed.buyer).call() > 0
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
    arrived: int = 0  # the part of the price the escrow received for it
    paid_out: int = 0  # gross payouts of the price + platform fees accrued or swept (+ arbiter fees)
    buyer_deposit_in: bool = False  # the buyer's deposit was paid in (it stays True once it is out)
    seller_deposit_in: bool = False  # the seller's deposit was locked from its bond
    deposits_to: tuple[str | None, str | None] | None = None  # where the model paid them when it ended
    deposits_seen: tuple[str | None, str | None] | None = None  # where the balances show they went
    ending: tuple[Any, ...] = ()  # how it ended: ("release",), ("timeout", to_seller), ("rule", bps) ...
    records_at_creation: bool = False  # asked to record, in an asset listed with a minimum <= its price
    seller_consented: bool = False  # the seller made a consenting call (CONSENTING_CALLS) or signed
    events_in: int = 0  # the price arrived and paid out, as the contract's events report them
    events_out: int = 0
    finals: int = 0  # events that paid out the last of what it held
    ratings: Counter[str] = field(default_factory=Counter)  # rater -> Rated events
    moves: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # (event, caller, args)
    outcome: str | None = None  # how it ended, as Reputation counts it (recorded if the trade counts)
    proposer: str | None = None  # who made the settlement proposal on record, from the events
    chain_state: str = "None"  # the state last seen on chain (for the transition check)

    @property
    def id(self) -> bytes:
        return trade_id(self.terms)

    @property
    def has_arbiter(self) -> bool:
        return self.terms["arbiter"] != ETH

    def has(self, mark: int) -> bool:
        return self.marks & mark != 0

    def locked(self) -> int:
        """The deposits the escrow holds for this trade now (none once it ended)."""
        if self.state in TERMINAL:
            return 0
        t = self.terms
        return (t["buyerDeposit"] if self.state in BUYER_IN else 0) + (
            t["sellerDeposit"] if self.has(MARK_SELLER_DEPOSITED) else 0
        )


def deposit_destinations(trade: Trade, ending: tuple[Any, ...] | None = None) -> tuple[str | None, str | None]:
    """The deposit table of IP2PEscrow: who receives the buyer's and the seller's deposit, given how the
    trade ended (None for a deposit that is zero or never went in)."""
    t = trade.terms
    ending = ending or trade.ending
    kind = ending[0]
    forfeit = None  # the side that forfeits its deposit to the other
    if kind == "timeout" and trade.has_arbiter:
        forfeit = "buyer" if ending[1] else "seller"  # the side the timeout rules against
    elif kind == "rule":
        bps = ending[1]
        forfeit = "buyer" if bps < BPS // 2 else ("seller" if bps > BPS // 2 else None)
    elif kind == "concede":
        forfeit = ending[1]  # the conceder
    # release, refund, settle, cancel, expired dispute, timeout without an arbiter: both back
    buyer_to = (t["seller"] if forfeit == "buyer" else t["buyer"]) if trade.buyer_deposit_in else None
    seller_to = (t["buyer"] if forfeit == "seller" else t["seller"]) if trade.seller_deposit_in else None
    if not t["buyerDeposit"]:
        buyer_to = None
    if not t["sellerDeposit"]:
        seller_to = None
    return buyer_to, seller_to


def fot(asset: str, amount: int) -> int:
    """What a transfer of `amount` loses on the way (FeeOnTransferToken keeps 1%)."""
    return amount * 100 // BPS if asset == "fee_on_transfer" else 0


def bps_of(amount: int, bps: int) -> int:
    return amount * bps // BPS


CALLERS = st.sampled_from(["buyer", "seller", "arbiter", "stranger"])
PARTY_CALLERS = st.sampled_from(["buyer", "seller", "buyer", "seller", "stranger"])
# A trade: an index, and whether to take it from all trades (mostly: only those in a fitting state).
TRADE = st.tuples(st.integers(min_value=0, max_value=2**16), st.sampled_from([False, False, False, True]))
WINDOWS = st.sampled_from([30, 3600, 86400])
BPS_VALUES = st.one_of(st.sampled_from([0, 1, 4999, 5000, 5001, 9999, BPS, BPS + 1]), st.integers(0, BPS))
DEPOSITS = st.sampled_from(["none", "none", "none", "one", "tenth", "same"])
HOW = [
    "createAndFund",
    "createAndFund",
    "create_by_buyer",
    "create_by_seller",
    "create_by_seller",
    "create_by_stranger",
    "fillOffer",
    "fillOffer",
]

NEW_TRADE = {
    "asset": st.sampled_from(["eth", *ASSETS]),
    "buyer": st.integers(0, 4),
    "seller": st.integers(1, 4),
    "arbiter": st.sampled_from([0, 0, 1, None, None]),
    "arbiter_fee": st.sampled_from([0, 100, 2000]),
    "amount": st.one_of(st.integers(1, 1000), st.integers(10**15, 10**18)),
    "buyer_deposit": DEPOSITS,
    "seller_deposit": DEPOSITS,
    "bond_first": st.sampled_from([True, True, True, False]),
    "timeout_releases": st.booleans(),
    "record": st.sampled_from([True, True, False]),
    "funding": WINDOWS,
    "release": WINDOWS,
    "arbitration": WINDOWS,
    "how": st.sampled_from(HOW),
    "offer": st.sampled_from(["ok", "ok", "ok", "ok", "for_buyer", "expired", "other_buyer", "forged", "again"]),
}


def deposit_amount(kind: str, amount: int) -> int:
    return {"none": 0, "one": 1, "tenth": amount // 10, "same": amount}[kind]


class EventReader:
    """Decodes the escrow's and the reputation contract's logs of a receipt, in log order (one topic
    lookup per log, instead of every event type trying every log)."""

    def __init__(self, deployed: Deployment) -> None:
        self.by_topic: dict[tuple[str, bytes], Any] = {}
        for contract in (deployed.escrow, deployed.reputation):
            for entry in contract.abi:
                if entry["type"] == "event":
                    event_type = getattr(contract.events, entry["name"])()
                    self.by_topic[(contract.address, event_abi_to_log_topic(entry))] = event_type

    def read(self, receipt: Any) -> list[tuple[str, dict[str, Any]]]:
        found = []
        for log in receipt["logs"]:
            event_type = self.by_topic.get((log["address"], bytes(log["topics"][0])))
            if event_type is not None:
                found.append((event_type.event_name, dict(event_type.process_log(log)["args"])))
        return found


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
        self.escrow = self.d.escrow.address
        self.accounts = [*world.tracked, self.escrow]
        self.expected = {a: {acct: world.raw.balance(state, a, acct) for acct in self.accounts} for a in ASSETS}
        self.credits: dict[tuple[str, str], int] = defaultdict(int)
        self.bonds: dict[tuple[str, str], int] = defaultdict(int)
        self.fees = dict.fromkeys(ASSETS, 0)
        # (account, asset, role) -> Ratings' 3 fields (ratedVolume, weightedScore, count)
        self.ratings: dict[tuple[str, str, int], list[int]] = defaultdict(lambda: [0] * 3)
        self.listing = dict.fromkeys(ASSETS, (True, LISTED_MIN_AMOUNT))  # as deploy_all left it
        self.offers: list[tuple[dict[str, Any], bytes]] = []  # offers filled (their nonces are used)
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
            if t.state in states and (not proposal or t.has(MARK_PROPOSED_BY_BUYER | MARK_PROPOSED_BY_SELLER))
        ]
        pool = fitting if fitting and not anything else self.trades
        return pool[index % len(pool)]

    def who(self, trade: Trade, role: str) -> str:
        t = trade.terms
        if role == "arbiter":
            return t["arbiter"] if t["arbiter"] != ETH else self.d.arbiter
        return self.d.stranger if role == "stranger" else t[role]

    def send(
        self,
        who: str,
        fn_name: str,
        *args: Any,
        value: int = 0,
        expect: str | None = None,
        trade: Trade | None = None,
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
        measured = trade is not None and fn_name in ENDING_CALLS
        if measured:
            payees = self.payees(trade)
            before, held_before = self.worth(trade, payees), self.w.raw.escrow_slot(self.w.raw.state(), trade.terms)
        receipt = self.chain.w3.eth.wait_for_transaction_receipt(fn.transact({**tx, "gas": TX_GAS}))
        if receipt["status"] != 1:
            try:
                fn.call(tx, block_identifier="pending")
                why = "(it passes when replayed)"
            except Exception as exc:
                why = repr(decode_revert(revert_data(exc)))
            raise AssertionError(f"the model says {fn_name}{args} by {who} is legal, but it reverted: {why}")
        assert self.chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"] == now
        gas = receipt["gasUsed"] * receipt["effectiveGasPrice"]
        self.expected["eth"][sender] -= value + gas
        if trade is not None and who == trade.terms["seller"] and fn_name in CONSENTING_CALLS:
            if fn_name not in SETTLEMENT_CALLS or args[1] < BPS:
                trade.seller_consented = True
        events = self._read_events(receipt, who)
        if measured:
            after = self.worth(trade, payees)
            if trade.asset == "eth" and sender in after:
                after[sender] += gas
            delta = {account: after[account] - before[account] for account in payees}
            self.check_who_got_what(trade, fn_name, events, delta, held_before["held"])
        return receipt

    def payees(self, trade: Trade) -> list[str]:
        """Everyone whose takings from a trade's payout are measured: its parties and arbiter, and the
        accounts that must get nothing from it (fee recipient, owner, a stranger, the vault)."""
        t = trade.terms
        return list(dict.fromkeys([t["buyer"], t["seller"], self.who(trade, "arbiter"), self.fee_recipient,
                                   self.d.owner, self.d.stranger, self.w.vault]))

    def worth(self, trade: Trade, accounts: list[str]) -> dict[str, int]:
        """Balance + credits of `accounts` in the trade's asset."""
        raw, state, token = self.w.raw, self.w.raw.state(), self.w.token_address[trade.asset]
        return {a: raw.balance(state, trade.asset, a) + raw.credit(state, a, token) for a in accounts}

    def check_who_got_what(
        self, trade: Trade, fn_name: str, events: list[tuple[str, dict[str, Any]]], delta: dict[str, int], held: int
    ) -> None:
        """Exact accounting of one payout, measured on chain: each party received the price parts the
        contract's own events report, plus, if the trade ended, the deposits the table gives it for the
        ending the events report (nothing if it did not end); the arbiter its fee; nobody else anything."""
        t = trade.terms
        buyer, seller, arbiter = t["buyer"], t["seller"], self.who(trade, "arbiter")
        price: Counter[str] = Counter()
        ending: tuple[Any, ...] = ()
        for name, args in events:
            if bytes(args.get("id", b"")) != trade.id:
                continue
            if name == "Released":
                price[seller] += args["toSeller"]
                ending = ("release",)
            elif name == "Refunded":
                price[buyer] += args["toBuyer"]
                ending = ("refund",)
            elif name == "TimedOut":
                price[seller if args["toSeller"] else buyer] += args["amount"] - args["platformFee"]
                ending = ("timeout", args["toSeller"])
            elif name in ("Settled", "Ruled", "Conceded", "DisputeExpired"):
                price[buyer] += args["toBuyer"]
                price[seller] += args["toSeller"]
                price[arbiter] += args.get("arbiterFee", 0)
                ending = {
                    "Settled": ("settle",),
                    "Ruled": ("rule", args.get("buyerBps")),
                    "Conceded": ("concede", "buyer" if args.get("by") == buyer else "seller"),
                    "DisputeExpired": ("expired",),
                }[name]
            elif name == "Cancelled":
                price[buyer] += held  # the price it held goes back
                ending = ("cancel",)
        assert ending, f"{fn_name} paid out without its event"
        ended = STATE_NAME[self.w.raw.escrow_slot(self.w.raw.state(), t)["state"]] in TERMINAL
        destinations = deposit_destinations(trade, ending) if ended else (None, None)
        if ended:
            assert ending == trade.ending, (ending, trade.ending)
            trade.deposits_seen = destinations
            if any(destinations):
                routes = [f"{side}'s to {'buyer' if to == buyer else 'seller'}"
                          for side, to in zip(("buyer", "seller"), destinations, strict=True) if to]
                OUTCOMES[f"ended by {ending[0]} with deposits: {', '.join(routes)}"] += 1
        totals = Counter(price)
        for receiver, deposit in zip(destinations, (t["buyerDeposit"], t["sellerDeposit"]), strict=True):
            if receiver is not None:
                totals[receiver] += deposit
        for account, got in delta.items():
            want = totals[account] - fot(trade.asset, totals[account])
            assert got == want, f"{fn_name}: {account} received {got}, the events and the deposit table say {want}"

    def _read_events(self, receipt: Any, caller: str) -> list[tuple[str, dict[str, Any]]]:
        """What the contract's events say each trade received and paid, what was rated (checked against
        the model and the rules by the invariants)."""
        events = self.w.events.read(receipt)
        for name, args in events:
            trade = self.by_id.get(bytes(args.get("id", args.get("tradeId", b""))))
            if name in ("TradeCreated", "TradeFunded"):
                trade.events_in += args["held"]
            elif name in PAYOUT_EVENTS:
                fields_out, final = PAYOUT_EVENTS[name]
                trade.events_out += sum(args[f] for f in fields_out)
                trade.finals += final or trade.state in TERMINAL  # a release or refund of the last of it
                trade.moves.append((name, caller, {**args, "proposer": trade.proposer}))
                if name == "TimedOut" and not trade.has_arbiter and trade.has(MARK_DELIVERED):
                    OUTCOMES[f"no-arbiter timeout after markDelivered, toSeller={args['toSeller']}"] += 1
            elif name in ("Cancelled", "Disputed"):
                trade.moves.append((name, caller, args))
            elif name == "SettlementProposed":
                trade.proposer = args["by"]
            elif name == "Rated":
                t = trade.terms
                assert trade.state in PAID_OUT, f"rated a {trade.state} trade"
                assert trade.has(MARK_RECORDS) and trade.has(MARK_SELLER_ACTED), "rated a trade that records nothing"
                assert (args["rater"], args["ratee"]) in ((t["buyer"], t["seller"]), (t["seller"], t["buyer"]))
                assert args["rater"] == caller, "a rating in someone else's name"
                trade.ratings[args["rater"]] += 1
        return events

    def move_out(self, asset: str, to: str, amount: int) -> None:
        self.expected[asset][self.escrow] -= amount
        self.expected[asset][to] += amount - fot(asset, amount)

    def pay(self, trade: Trade, to: str, amount: int) -> None:
        """Model of `_pay`: deliver, or credit a receiver that rejects ETH."""
        t = trade.terms
        assert to in (t["buyer"], t["seller"], t["arbiter"]), "a payout to someone outside the trade"
        if amount == 0:
            return
        if trade.asset == "eth" and self.rejects_eth.get(to, False):
            self.credits[(to, trade.asset)] += amount
        else:
            self.move_out(trade.asset, to, amount)

    def end(
        self,
        trade: Trade,
        state: str,
        ending: tuple[Any, ...],
        to_buyer: int,
        to_seller: int,
        fee: int = 0,
        arbiter_fee: int = 0,
    ) -> None:
        """The trade ends: the last of the price is paid (`fee` stays in the slot until swept) and every
        deposit that is in goes where the table says; one transfer per party."""
        t = trade.terms
        trade.state, trade.ending = state, ending
        trade.paid_out += trade.held - fee
        assert trade.held == to_buyer + to_seller + fee + arbiter_fee, "the model splits what it does not hold"
        trade.held = fee
        buyer_to, seller_to = trade.deposits_to = deposit_destinations(trade)
        totals = {t["buyer"]: to_buyer, t["seller"]: to_seller}
        if buyer_to is not None:
            totals[buyer_to] += t["buyerDeposit"]
        if seller_to is not None:
            totals[seller_to] += t["sellerDeposit"]
        self.pay(trade, t["seller"], totals[t["seller"]])
        self.pay(trade, t["buyer"], totals[t["buyer"]])
        self.pay(trade, t["arbiter"], arbiter_fee)

    def record_outcome(self, trade: Trade, outcome: str) -> None:
        """How the trade ends, as Reputation counts it (recorded only if the trade counts: see
        `records_only_from_listed_assets_and_consenting_sellers`)."""
        assert outcome in OUTCOME
        trade.outcome = outcome

    def records_mark(self, t: dict[str, Any], asset: str) -> bool:
        listed, minimum = self.listing[asset]
        # A price beyond a record's 112-bit volume would wrap it: such a trade records nothing.
        return bool(t["flags"] & FLAG_RECORD_REPUTATION) and listed and minimum <= t["amount"] < 2**112

    def new_trade(self, t: dict[str, Any], asset: str, deadline: int) -> Trade:
        records = self.records_mark(t, asset)
        trade = Trade(t, asset, "AwaitingFunding", deadline, marks=MARK_RECORDS if records else 0)
        trade.records_at_creation = records
        self.trades.append(trade)
        self.by_id[trade.id] = trade
        return trade

    def nothing_arrives(self, trade_asset: str, t: dict[str, Any]) -> bool:
        """A fee-on-transfer pull that leaves no part of the price beyond the buyer's deposit."""
        total = t["amount"] + t["buyerDeposit"]
        lost = fot(trade_asset, total)
        return lost != 0 and total - lost <= t["buyerDeposit"]

    def pull(self, trade: Trade) -> None:
        """The buyer's price and deposit arrive (ETH: the value, charged in `send`; tokens: transferFrom,
        a fee-on-transfer shortfall off the price); live if the seller's deposit is in or zero."""
        t, asset = trade.terms, trade.asset
        total = t["amount"] + t["buyerDeposit"]
        arrived = total - fot(asset, total)
        if asset != "eth":
            self.expected[asset][t["buyer"]] -= total
        self.expected[asset][self.escrow] += arrived
        trade.held = trade.arrived = t["amount"] if arrived == total else arrived - t["buyerDeposit"]
        trade.buyer_deposit_in = True
        if t["sellerDeposit"] == 0 or trade.has(MARK_SELLER_DEPOSITED):
            trade.state = "Funded"
            trade.deadline = self.now() + t["releaseWindow"]
        else:
            trade.state = "AwaitingDeposit"  # until the funding deadline (set at creation)

    def lock_seller_deposit(self, trade: Trade) -> None:
        t = trade.terms
        trade.marks |= MARK_SELLER_ACTED
        if t["sellerDeposit"]:
            self.bonds[(t["seller"], trade.asset)] -= t["sellerDeposit"]
            trade.marks |= MARK_SELLER_DEPOSITED
            trade.seller_deposit_in = True

    def top_up_bond(self, seller: str, asset: str, needed: int) -> None:
        """The seller posts enough bond for `needed` (twice the gap: a fee-on-transfer token keeps 1%)."""
        have = self.bonds[(seller, asset)]
        if not self.paused and have < needed:
            self.do_deposit_bond(seller, asset, 2 * (needed - have))

    # -- bonds, creating and funding ---------------------------------------------------------------

    @rule(
        who=st.integers(0, 4),
        asset=st.sampled_from(ASSETS),
        amount=st.sampled_from([0, 1, 1000, 10**15, 10**18, 2 * 10**18]),
    )
    def deposit_bond(self, who, asset, amount):
        self.do_deposit_bond(self.w.parties[who], asset, amount)

    def do_deposit_bond(self, who: str, asset: str, amount: int) -> None:
        if self.paused:
            expect = "EnforcedPause"
        elif amount == 0:
            expect = "ZeroAmount"
        else:
            expect = None
            arrived = amount - fot(asset, amount)
            if asset != "eth":
                self.expected[asset][who] -= amount
            self.expected[asset][self.escrow] += arrived
            self.bonds[(who, asset)] += arrived
        value = amount if asset == "eth" else 0
        self.send(who, "depositBond", self.w.token_address[asset], amount, value=value, expect=expect)

    @rule(
        who=st.integers(0, 4),
        asset=st.sampled_from(ASSETS),
        kind=st.sampled_from(["all", "part", "part", "zero", "over"]),
        to_vault=st.booleans(),
        holder=st.sampled_from([True, True, True, False]),
    )
    def withdraw_bond(self, who, asset, kind, to_vault, holder):
        """Mostly by someone who has a bond (in the asset it has it in)."""
        holding = sorted(key for key, amount in self.bonds.items() if amount)
        if holder and holding:
            account, asset = holding[who % len(holding)]
        else:
            account = self.w.parties[who]
        have = self.bonds[(account, asset)]
        amount = {"all": have, "part": max(1, have // 3), "zero": 0, "over": have + 1}[kind]
        to = self.w.vault if to_vault else account
        if amount == 0 or amount > have:
            expect = "InsufficientBond"
        elif asset == "eth" and self.rejects_eth.get(to, False):
            expect = "WithdrawFailed"
        else:
            expect = None
            self.bonds[(account, asset)] -= amount
            self.move_out(asset, to, amount)
        self.send(account, "withdrawBond", self.w.token_address[asset], amount, to, expect=expect)

    def _open(
        self,
        asset,
        buyer,
        seller,
        arbiter,
        arbiter_fee,
        amount,
        buyer_deposit,
        seller_deposit,
        bond_first,
        timeout_releases,
        record,
        funding,
        release,
        arbitration,
        how,
        offer,
    ):
        flags = (FLAG_TIMEOUT_RELEASES if timeout_releases else 0) | (FLAG_RECORD_REPUTATION if record else 0)
        fields = {
            "token": self.w.token_address[asset],
            "arbiter": ETH if arbiter is None else self.w.arbiters[arbiter],
            "arbiterFeeBps": 0 if arbiter is None else arbiter_fee,
            "amount": amount,
            "buyerDeposit": deposit_amount(buyer_deposit, amount),
            "sellerDeposit": deposit_amount(seller_deposit, amount),
            "platformFeeBps": self.platform_fee,
            "releaseWindow": release,
            "arbitrationWindow": arbitration,
        }
        if how == "fillOffer":
            self._fill(asset, buyer, seller, fields, flags, bond_first, offer)
            return
        parties = self.w.parties
        buyer_addr, seller_addr = parties[buyer], parties[(buyer + seller) % len(parties)]
        if how == "create_by_seller":
            flags |= FLAG_CREATED_BY_SELLER
        self.salt += 1
        t = self.d.terms(
            buyer=buyer_addr, seller=seller_addr, fundingWindow=funding, flags=flags, salt=self.salt, **fields
        )
        caller = {
            "createAndFund": buyer_addr,
            "create_by_buyer": buyer_addr,
            "create_by_seller": seller_addr,
            "create_by_stranger": self.d.stranger,
        }[how]
        fn = "createAndFund" if how == "createAndFund" else "create"
        value = amount + t["buyerDeposit"] if fn == "createAndFund" and asset == "eth" else 0
        if how == "create_by_seller" and bond_first:
            self.top_up_bond(seller_addr, asset, t["sellerDeposit"])
        if self.paused:
            expect = "EnforcedPause"
        elif how == "create_by_stranger":
            expect = "Unauthorized"
        elif how == "create_by_seller" and self.bonds[(seller_addr, asset)] < t["sellerDeposit"]:
            expect = "InsufficientBond"
        elif fn == "createAndFund" and self.nothing_arrives(asset, t):
            expect = "NothingArrived"
        else:
            expect = None
        if expect:
            self.send(caller, fn, t, value=value, expect=expect)
            return
        trade = self.new_trade(t, asset, self.now() + funding)
        if how == "create_by_seller":
            self.lock_seller_deposit(trade)
        if fn == "createAndFund":
            self.pull(trade)
        self.send(caller, fn, t, value=value, trade=trade)

    def _fill(self, asset, buyer, seller, fields, flags, bond_first, variant) -> None:
        """A buyer fills a seller's signed offer (created and funded at once, the seller's deposit locked
        from its bond), or tries to: an expired one, one reserved for someone else, a forged signature,
        an offer already filled."""
        signers, parties, now = self.w.signers, self.w.parties, self.now()
        if variant == "again" and self.offers:
            o, signature = self.offers[(buyer + seller) % len(self.offers)]
            others = [p for p in parties if p != o["seller"]]
            buyer_addr = others[buyer % len(others)]
            forged = False
        else:
            seller_addr = signers[seller % len(signers)]
            others = [p for p in parties if p != seller_addr]
            buyer_addr = others[buyer % len(others)]
            self.salt += 1
            o = {
                "seller": seller_addr,
                "buyer": ETH,
                **fields,
                "flags": flags,
                "termsHash": keccak(b"terms document %d" % self.salt),
                "nonce": self.salt,
                "expiry": now + 3600,
            }
            if variant == "for_buyer":
                o["buyer"] = buyer_addr
            elif variant == "other_buyer":
                o["buyer"] = next(p for p in others if p != buyer_addr)
            elif variant == "expired":
                o["expiry"] = now - 1
            forged = variant == "forged"
            signer = next(s for s in signers if s != seller_addr) if forged else seller_addr
            signature = sign_offer(self.d, o, self.w.keys[signer])
            if bond_first:
                self.top_up_bond(seller_addr, asset, o["sellerDeposit"])
        t = terms_of_offer(o, buyer_addr)
        value = t["amount"] + t["buyerDeposit"] if asset == "eth" else 0
        now = self.now()  # after the top-up's block
        if self.paused:
            expect = "EnforcedPause"
        elif now > o["expiry"]:
            expect = "OfferExpired"
        elif o["buyer"] not in (ETH, buyer_addr):
            expect = "NotOfferBuyer"
        elif forged:
            expect = "InvalidSignature"
        elif any(o is used for used, _ in self.offers):
            expect = "NonceUsed"
        elif o["platformFeeBps"] != self.platform_fee:
            expect = "PlatformFeeMismatch"
        elif self.bonds[(o["seller"], asset)] < o["sellerDeposit"]:
            expect = "InsufficientBond"
        elif self.nothing_arrives(asset, t):
            expect = "NothingArrived"
        else:
            expect = None
        if expect:
            self.send(buyer_addr, "fillOffer", o, signature, value=value, expect=expect)
            return
        trade = self.new_trade(t, asset, now)
        self.lock_seller_deposit(trade)
        trade.seller_consented = True  # its signature
        self.pull(trade)
        self.offers.append((o, signature))
        self.send(buyer_addr, "fillOffer", o, signature, value=value, trade=trade)

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
        value = t["amount"] + t["buyerDeposit"] if trade.asset == "eth" else 0
        if self.paused:
            expect = "EnforcedPause"
        elif not by_buyer:
            expect = "Unauthorized"
        elif trade.state != "AwaitingFunding":
            expect = "WrongState"
        elif now >= trade.deadline:
            expect = "DeadlinePassed"
        elif self.nothing_arrives(trade.asset, t):
            expect = "NothingArrived"
        else:
            expect = None
            self.pull(trade)
        self.send(caller, "fund", t, value=value, expect=expect, trade=trade)

    @precondition(lambda self: self.open_in("AwaitingFunding", "AwaitingDeposit", "Funded"))
    @rule(
        choice=TRADE,
        role=st.sampled_from(["seller", "seller", "seller", "buyer", "stranger"]),
        bond_first=st.sampled_from([True, True, False]),
    )
    def accept(self, choice, role, bond_first):
        self.do_accept(self.pick(choice, "AwaitingDeposit", "AwaitingFunding", "Funded"), role, bond_first)

    def do_accept(self, trade: Trade, role, bond_first) -> None:
        """The seller accepts: locks its deposit (a funded trade then goes live), or, on a live trade,
        only consents."""
        t, caller = trade.terms, self.who(trade, role)
        if bond_first and caller == t["seller"] and trade.state in ("AwaitingFunding", "AwaitingDeposit"):
            self.top_up_bond(caller, trade.asset, t["sellerDeposit"])
        now = self.now()  # after the top-up's block
        if self.paused:
            expect = "EnforcedPause"
        elif caller != t["seller"]:
            expect = "Unauthorized"
        elif trade.has(MARK_SELLER_ACTED):
            expect = "AlreadyAccepted"
        elif trade.state == "Funded":
            expect = None
            trade.marks |= MARK_SELLER_ACTED
        elif trade.state not in ("AwaitingFunding", "AwaitingDeposit"):
            expect = "WrongState"
        elif now >= trade.deadline:
            expect = "DeadlinePassed"
        elif self.bonds[(t["seller"], trade.asset)] < t["sellerDeposit"]:
            expect = "InsufficientBond"
        else:
            expect = None
            self.lock_seller_deposit(trade)
            if trade.state == "AwaitingDeposit":
                trade.state = "Funded"
                trade.deadline = now + t["releaseWindow"]
        self.send(caller, "accept", t, expect=expect, trade=trade)

    @precondition(lambda self: self.open_in("AwaitingFunding", "AwaitingDeposit"))
    @rule(choice=TRADE, role=st.sampled_from(["buyer", "seller", "stranger"]))
    def cancel(self, choice, role):
        self.do_cancel(self.pick(choice, "AwaitingFunding", "AwaitingDeposit"), role)

    def do_cancel(self, trade: Trade, role) -> None:
        t, caller = trade.terms, self.who(trade, role)
        if trade.state == "AwaitingFunding":
            early = t["seller"] if t["flags"] & FLAG_CREATED_BY_SELLER else t["buyer"]
        elif trade.state == "AwaitingDeposit":
            early = t["buyer"]
        else:
            early = None
        if early is None:
            expect = "WrongState"
        elif caller != early and self.now() < trade.deadline:
            expect = "DeadlineNotReached"
        else:
            expect = None
            self.end(trade, "Cancelled", ("cancel",), trade.held, 0)
        self.send(caller, "cancel", t, expect=expect, trade=trade)

    # -- paying out --------------------------------------------------------------------------------

    def _part(self, trade: Trade, kind: str, fraction: int) -> int:
        live = trade.held if trade.state in OPEN else 0
        return {"all": live, "part": max(1, live * fraction // BPS), "zero": 0, "over": live + 1}[kind]

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
            fee = fee_up(amount, t["platformFeeBps"])
            trade.marks |= MARK_SELLER_PAID
            if amount == trade.held:
                self.record_outcome(trade, "Completed")
                self.end(trade, "Completed", ("release",), 0, amount - fee, fee)
            else:
                trade.held -= amount
                trade.paid_out += amount
                self.fees[trade.asset] += fee
                self.pay(trade, t["seller"], amount - fee)
        self.send(caller, "release", t, amount, expect=expect, trade=trade)

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
            if amount == trade.held:
                state = "Completed" if trade.has(MARK_SELLER_PAID) else "Refunded"
                self.record_outcome(trade, state)
                self.end(trade, state, ("refund",), amount, 0)
            else:
                trade.held -= amount
                trade.paid_out += amount
                self.pay(trade, t["buyer"], amount)
        self.send(caller, "refund", t, amount, expect=expect, trade=trade)

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
            # Without an arbiter only the terms decide: the delivery mark moves nothing.
            to_seller = bool(t["flags"] & FLAG_TIMEOUT_RELEASES) or (trade.has_arbiter and trade.has(MARK_DELIVERED))
            fee = fee_up(amount, t["platformFeeBps"]) if to_seller else 0
            if to_seller:
                trade.marks |= MARK_SELLER_PAID
            state = "Completed" if trade.has(MARK_SELLER_PAID) else "Refunded"
            self.record_outcome(trade, state)
            if to_seller:
                self.end(trade, state, ("timeout", True), 0, amount - fee, fee)
            else:
                self.end(trade, state, ("timeout", False), amount, 0)
        self.send(caller, "timeout", t, expect=expect, trade=trade)

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
            trade.marks |= MARK_DELIVERED | MARK_SELLER_ACTED
            if trade.has_arbiter:  # without one, neither the outcome nor the deadline moves
                trade.deadline = now + t["releaseWindow"]
        self.send(caller, "markDelivered", t, expect=expect, trade=trade)

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
            proposer = MARK_PROPOSED_BY_BUYER if caller == t["buyer"] else MARK_PROPOSED_BY_SELLER
            if caller == t["seller"] and bps < BPS:  # giving everything back is not consent
                proposer |= MARK_SELLER_ACTED
            trade.marks = (trade.marks & ~(MARK_PROPOSED_BY_BUYER | MARK_PROPOSED_BY_SELLER)) | proposer
            trade.settlement_bps = bps
        self.send(caller, "proposeSettlement", t, bps, expect=expect, trade=trade)

    @precondition(lambda self: self.open_in("Funded", "Disputed"))
    @rule(
        choice=TRADE,
        role=st.sampled_from(["counterparty", "counterparty", "counterparty", "proposer", "stranger"]),
        matching=st.sampled_from([True, True, True, False]),
    )
    def accept_settlement(self, choice, role, matching):
        self.do_accept_settlement(self.pick(choice, "Funded", "Disputed", proposal=True), role, matching)

    def do_accept_settlement(self, trade: Trade, role, matching) -> None:
        t = trade.terms
        by_seller = trade.has(MARK_PROPOSED_BY_SELLER)
        caller = {
            "counterparty": t["buyer"] if by_seller else t["seller"],
            "proposer": t["seller"] if by_seller else t["buyer"],
            "stranger": self.d.stranger,
        }[role]
        bps = trade.settlement_bps if matching else (trade.settlement_bps + 1) % (BPS + 1)
        counterparty = MARK_PROPOSED_BY_SELLER if caller == t["buyer"] else MARK_PROPOSED_BY_BUYER
        if trade.state not in ("Funded", "Disputed"):
            expect = "WrongState"
        elif caller not in (t["buyer"], t["seller"]):
            expect = "Unauthorized"
        elif not trade.has(counterparty) or trade.settlement_bps != bps:
            expect = "SettlementMismatch"
        else:
            expect = None
            if caller == t["seller"] and bps < BPS:  # giving everything back is not consent
                trade.marks |= MARK_SELLER_ACTED
            to_buyer = bps_of(trade.held, bps)
            seller_gross = trade.held - to_buyer
            fee = fee_up(seller_gross, t["platformFeeBps"])
            if seller_gross:
                trade.marks |= MARK_SELLER_PAID
            self.record_outcome(trade, "Settled")
            self.end(trade, "Settled", ("settle",), to_buyer, seller_gross - fee, fee)
        self.send(caller, "acceptSettlement", t, bps, expect=expect, trade=trade)

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
        elif not trade.has_arbiter:
            expect = "NoArbiter"
        elif now >= trade.deadline:
            expect = "DeadlinePassed"
        else:
            expect = None
            if caller == t["seller"]:
                trade.marks |= MARK_SELLER_ACTED
            trade.state = "Disputed"
            trade.deadline = now + t["arbitrationWindow"]
        self.send(caller, "dispute", t, expect=expect, trade=trade)

    def _resolve(self, trade: Trade, ending: tuple[Any, ...], buyer_bps: int, arbiter_fee_bps: int, outcome: str):
        """A dispute ends by a split of what is held (computeSplit): ruled, conceded or expired."""
        t = trade.terms
        arbiter_fee = bps_of(trade.held, arbiter_fee_bps)
        pool = trade.held - arbiter_fee
        to_buyer = bps_of(pool, buyer_bps)
        seller_gross = pool - to_buyer
        fee = fee_up(seller_gross, t["platformFeeBps"])
        if seller_gross:
            trade.marks |= MARK_SELLER_PAID
        self.record_outcome(trade, outcome)
        self.end(trade, "Resolved", ending, to_buyer, seller_gross - fee, fee, arbiter_fee)

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
            outcome = "BuyerWon" if bps == BPS else ("SellerWon" if bps == 0 else "Split")
            self._resolve(trade, ("rule", bps), bps, t["arbiterFeeBps"], outcome)
        self.send(caller, "rule", t, bps, expect=expect, trade=trade)

    @precondition(lambda self: self.open_in("Disputed"))
    @rule(choice=TRADE, role=st.sampled_from(["buyer", "seller", "buyer", "seller", "arbiter"]))
    def concede(self, choice, role):
        self.do_concede(self.pick(choice, "Disputed"), role)

    def do_concede(self, trade: Trade, role) -> None:
        """A party gives the other everything held and forfeits its deposit; the arbiter gets half its fee."""
        t, caller = trade.terms, self.who(trade, role)
        if caller not in (t["buyer"], t["seller"]):
            expect = "Unauthorized"
        elif trade.state != "Disputed":
            expect = "WrongState"
        else:
            expect = None
            by_buyer = caller == t["buyer"]  # a seller's concession is not consent: it gives everything back
            ending = ("concede", "buyer" if by_buyer else "seller")
            outcome = "SellerWon" if by_buyer else "BuyerWon"
            self._resolve(trade, ending, 0 if by_buyer else BPS, t["arbiterFeeBps"] // 2, outcome)
        self.send(caller, "concede", t, expect=expect, trade=trade)

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
            self._resolve(trade, ("expired",), BPS // 2, 0, "Split")
        self.send(caller, "resolveExpiredDispute", t, expect=expect, trade=trade)

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

    @rule(
        index=st.integers(0, 2**16),
        picks=st.lists(st.integers(0, 2**16), max_size=4),
        spoil=st.sampled_from([None, None, None, None, "wrong_asset", "not_ended"]),
    )
    def sweep_fees(self, index, picks, spoil):
        """Anyone sweeps an asset's fees: those accrued by partial releases and those kept in the slots
        of the ended trades given (mostly ones that still keep one; sometimes a trade in another asset
        or one not ended, which must be refused)."""
        earning = [a for a in ASSETS if self.fees[a] or any(t.asset == a and t.held for t in self.ended())]
        asset = earning[index % len(earning)] if earning and spoil is None else ASSETS[index % len(ASSETS)]
        ended = [t for t in self.ended() if t.asset == asset]
        chosen = [ended[i % len(ended)] for i in picks] if ended else []
        if spoil == "wrong_asset":
            chosen += [t for t in self.trades if t.asset != asset][:1]
        elif spoil == "not_ended":
            chosen += [t for t in self.trades if t.asset == asset and t.state not in PAID_OUT][:1]
        expect = None
        for trade in chosen:
            if trade.asset != asset:
                expect = "WrongAsset"
            elif trade.state not in PAID_OUT:
                expect = "NotEnded"
            if expect:
                break
        unique = list({trade.id: trade for trade in chosen}.values())
        total = self.fees[asset] + sum(trade.held for trade in unique)
        if expect is None and total == 0:
            expect = "NothingToWithdraw"
        if expect is None:
            self.fees[asset] = 0
            for trade in unique:
                trade.paid_out += trade.held
                trade.held = 0
            self.move_out(asset, self.fee_recipient, total)
        token = self.w.token_address[asset]
        receipt = self.send(self.d.stranger, "sweepFees", token, [trade.terms for trade in chosen], expect=expect)
        if receipt is not None:  # the event says what was paid, to whom, and which slots went to 0
            swept = [args for name, args in self.w.events.read(receipt) if name == "FeesSwept"]
            assert [(a["token"], a["recipient"], a["amount"], [bytes(i) for i in a["trades"]]) for a in swept] == [
                (token, self.fee_recipient, total, [trade.id for trade in chosen])
            ]

    def ended(self) -> list[Trade]:
        return [t for t in self.trades if t.state in PAID_OUT]

    @precondition(lambda self: self.open_in(*PAID_OUT))
    @rule(choice=TRADE, role=PARTY_CALLERS, score=st.sampled_from([0, 1, 3, 5, 5, 6]))
    def rate(self, choice, role, score):
        self.do_rate(self.pick(choice, *PAID_OUT), role, score)

    def do_rate(self, trade: Trade, role, score) -> None:
        t, caller = trade.terms, self.who(trade, role)
        by_buyer = caller == t["buyer"]
        rated = MARK_BUYER_RATED if by_buyer else MARK_SELLER_RATED
        if caller not in (t["buyer"], t["seller"]):
            expect = "Unauthorized"
        elif not 1 <= score <= 5:
            expect = "InvalidScore"
        elif trade.state not in PAID_OUT:
            expect = "NotEnded"
        elif not (trade.has(MARK_RECORDS) and trade.has(MARK_SELLER_ACTED)):
            expect = "NotRecorded"
        elif trade.has(rated):
            expect = "AlreadyRated"
        else:
            expect = None
            trade.marks |= rated
            ratee, role_number = (t["seller"], 1) if by_buyer else (t["buyer"], 0)
            ratings = self.ratings[(ratee, trade.asset, role_number)]
            ratings[0] += t["amount"]
            ratings[1] += t["amount"] * score
            ratings[2] += 1
        self.send(caller, "rate", t, score, b"\x00" * 32, expect=expect, trade=trade)

    # -- the hostile parties, the owner, time ------------------------------------------------------

    @rule(which=st.integers(0, 2), reject=st.booleans())
    def set_malicious_mode(self, which, reject):
        party = self.w.malicious[which]
        receipt = self.d.send(party.contract.functions.setMode(1 if reject else 0), self.w.operator)
        self.expected["eth"][self.w.operator] -= receipt["gasUsed"] * receipt["effectiveGasPrice"]
        self.rejects_eth[party.address] = reject

    def owner_sends(self, label: str, call: Any, expect: str | None, sender: str | None = None) -> bool:
        """An owner setting: simulated if it must revert with `expect`, else sent (gas charged)."""
        sender = sender or self.d.owner
        OUTCOMES[f"owner {label}: {expect or 'ok'}"] += 1
        if expect:
            with reverts(expect):
                call.call({"from": sender}, block_identifier="pending")
            return False
        receipt = self.d.send(call, sender)
        self.expected["eth"][sender] -= receipt["gasUsed"] * receipt["effectiveGasPrice"]
        return True

    @rule(
        action=st.sampled_from(["pause", "unpause", "fee0", "fee500", "fee25", "recipient_alt", "recipient_default"]),
        resume=st.sampled_from([True, True, False]),
    )
    def owner_acts(self, action, resume):
        """Owner settings; a pause is mostly lifted at the owner's next move (so creation is
        still exercised)."""
        if self.paused and resume:
            action = "unpause"
        f = self.d.escrow.functions
        if action in ("pause", "unpause"):
            expect = (
                None
                if self.paused == (action == "unpause")
                else ("EnforcedPause" if self.paused else "ExpectedPause")
            )
            if self.owner_sends(action, getattr(f, action)(), expect):
                self.paused = action == "pause"
        elif action.startswith("fee"):
            self.owner_sends(action, f.setPlatformFee(int(action[3:])), None)
            self.platform_fee = int(action[3:])
        else:
            new = self.w.alt_recipient if action == "recipient_alt" else self.d.fee_recipient
            self.owner_sends(action, f.setFeeRecipient(new), None)
            self.fee_recipient = new

    @rule(
        asset=st.sampled_from(ASSETS),
        action=st.sampled_from(["list", "list_high", "delist", "delist", "by_stranger"]),
    )
    def list_asset(self, asset, action):
        """The owner lists (minimum 1, or 10^15: small trades then record nothing), re-prices or delists a
        reputation asset; it applies to trades created from then on. Nobody else may."""
        listed, minimum = {"list": (True, 1), "list_high": (True, 10**15), "delist": (False, 0),
                           "by_stranger": (True, 1)}[action]
        call = self.d.escrow.functions.setReputationAsset(self.w.token_address[asset], listed, minimum)
        if action == "by_stranger":
            self.owner_sends("setReputationAsset", call, "OwnableUnauthorizedAccount", self.d.stranger)
        elif self.owner_sends("setReputationAsset", call, None):
            self.listing[asset] = (listed, minimum)

    @precondition(lambda self: self.open_in(*OPEN))
    @rule(choice=TRADE, offset=st.sampled_from([-1, 0, 1]))
    def warp_to_deadline(self, choice, offset):
        """Move the clock to one second before, at or after an open trade's current deadline."""
        target = self.pick(choice, *OPEN).deadline + offset
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
            factory.constructor(self.d.escrow.address).transact({"from": sender, "value": amount, "gas": TX_GAS})
        )
        assert receipt["status"] == 1
        OUTCOMES["force ETH: ok"] += 1
        self.expected["eth"][sender] -= amount + receipt["gasUsed"] * receipt["effectiveGasPrice"]
        self.expected["eth"][self.escrow] += amount
        self.forced += amount

    def warp(self, timestamp: int) -> None:
        if timestamp > self.now():
            self.chain.set_next_timestamp(timestamp)

    @precondition(lambda self: self.open_in(*OPEN))
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
        trade = self.pick((index, False), *OPEN)
        for number, (step, late, fraction, bps) in enumerate(moves):
            if trade.state in TERMINAL:
                break
            if number:
                self.chain_matches_model()
            self.advance_once(trade, step, late, fraction, bps)
        if cash_out and any(self.credits.values()):
            self.chain_matches_model()
            self.withdraw(True, index, "eth", True)  # a credited party withdraws to its vault

    @precondition(lambda self: any(t.state == "Funded" and t.has_arbiter for t in self.trades))
    @rule(
        index=st.integers(0, 2**16),
        by_seller=st.booleans(),
        end=st.sampled_from(["rule", "rule", "rule", "concede_buyer", "concede_seller", "expire", "settle"]),
        bps=st.sampled_from([0, 2500, 4999, 5000, 5001, 7500, BPS]),  # each side of the forfeit line
    )
    def dispute_and_end(self, index, by_seller, end, bps):
        """A party disputes a live trade with an arbiter, then the dispute ends: ruled (any split), conceded
        by either side, expired, or settled. These are the endings where deposits are forfeited, and
        other rules reach them only by chance (hypothesis enables a random subset of rules per example)."""
        trade = self.pick((index, False), "Funded")
        if not trade.has_arbiter or self.now() >= trade.deadline:
            trade = next(t for t in self.trades if t.state == "Funded" and t.has_arbiter)
        self.do_dispute(trade, "seller" if by_seller else "buyer")
        if trade.state != "Disputed":
            return
        self.chain_matches_model()
        if end == "rule":
            self.do_rule_dispute(trade, "arbiter", bps)
        elif end == "expire":
            self.warp(trade.deadline)
            self.do_resolve_expired_dispute(trade, "stranger")
        elif end == "settle":
            self.do_propose_settlement(trade, "seller" if by_seller else "buyer", bps)
            self.chain_matches_model()
            self.do_accept_settlement(trade, "counterparty", True)
        else:
            self.do_concede(trade, end.removeprefix("concede_"))

    def advance_once(self, trade: Trade, step: int, late: bool, fraction: int, bps: int) -> None:
        """One legal move; `late` first moves the clock to the trade's deadline."""
        t = trade.terms
        if late:
            self.warp(trade.deadline)
        on_time = self.now() < trade.deadline
        options: list[Any] = []
        if trade.state == "AwaitingFunding":
            if on_time:
                options.append(lambda: self.do_fund(trade, True))
                if not trade.has(MARK_SELLER_ACTED):
                    options.append(lambda: self.do_accept(trade, "seller", True))
            creator = "seller" if t["flags"] & FLAG_CREATED_BY_SELLER else "buyer"
            options.append(lambda: self.do_cancel(trade, creator if on_time else "stranger"))
        elif trade.state == "AwaitingDeposit":
            if on_time:
                options += [lambda: self.do_accept(trade, "seller", True)] * 2
            options.append(lambda: self.do_cancel(trade, "buyer" if on_time else "stranger"))
        else:
            options = [
                lambda: self.do_propose_settlement(trade, "buyer", bps),
                lambda: self.do_propose_settlement(trade, "seller", bps),
            ]
            if trade.has(MARK_PROPOSED_BY_BUYER | MARK_PROPOSED_BY_SELLER):
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
                if trade.has_arbiter:  # weighted up: rulings and concessions are where deposits are forfeited
                    options += [lambda: self.do_dispute(trade, "buyer"), lambda: self.do_dispute(trade, "seller")] * 2
                if not trade.has(MARK_DELIVERED):
                    options.append(lambda: self.do_mark_delivered(trade, "seller"))
                if not trade.has(MARK_SELLER_ACTED):
                    options.append(lambda: self.do_accept(trade, "seller", False))
        if trade.state == "Disputed":
            options += [lambda: self.do_concede(trade, "buyer"), lambda: self.do_concede(trade, "seller")]
            if on_time:
                options += [lambda: self.do_rule_dispute(trade, "arbiter", bps)] * 2
            else:
                options += [lambda: self.do_resolve_expired_dispute(trade, "stranger")] * 2
        options[step % len(options)]()

    # -- invariants --------------------------------------------------------------------------------

    @invariant()
    def chain_matches_model(self):
        """Read every slot, balance, bond, credit and record once per step and hold them against the model."""
        FIGURES["invariant: chain matches model, books, deposits and bonds conserved, legal transitions"] += 1
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
            assert slot == model, (STATE_NAME[slot["state"]], slot, trade)
            if trade.state in ("AwaitingDeposit", "Funded", "Disputed"):
                assert trade.held > 0, "a live trade that holds nothing"
            elif trade.state in ("AwaitingFunding", "Refunded", "Cancelled"):
                assert trade.held == 0, f"{trade.state} keeps {trade.held}"
            assert trade.arrived == trade.held + trade.paid_out, "the model's conservation"
            assert trade.events_in == trade.arrived, "funding events"
            if trade.state == "Cancelled":
                assert trade.events_out == 0 and trade.paid_out == trade.arrived, "a cancel pays back what came in"
            else:
                live = trade.held if trade.state in OPEN else 0
                assert trade.events_out == trade.arrived - live, "payout events: paid out more or less than received"

    def check_books(self, state: Any, slots: list[dict[str, int]]) -> None:
        """Per asset: the escrow holds exactly held (prices and unswept fees) + deposits of trades not
        ended + bonds + credits + feesAccrued; every account, credit and bond is as modelled (so nobody
        outside a trade's parties, the fee recipient and the withdrawal targets gained anything)."""
        raw = self.w.raw
        for asset in ASSETS:
            token = self.w.token_address[asset]
            mine = [(trade, slot) for trade, slot in zip(self.trades, slots, strict=True) if trade.asset == asset]
            held = sum(slot["held"] for _, slot in mine)
            deposits = sum(trade.locked() for trade, _ in mine)
            credits = {account: raw.credit(state, account, token) for account in self.accounts}
            bonds = {account: raw.bond(state, account, token) for account in self.accounts}
            fees = raw.fees(state, token)
            balances = {account: raw.balance(state, asset, account) for account in self.accounts}
            owed = held + deposits + sum(bonds.values()) + sum(credits.values()) + fees
            assert balances[self.escrow] >= owed, f"insolvent in {asset}"
            forced = self.forced if asset == "eth" else 0
            assert balances[self.escrow] == owed + forced, f"books of {asset}"
            assert fees == self.fees[asset], f"feesAccrued[{asset}]"
            assert credits == {a: self.credits[(a, asset)] for a in self.accounts}, f"credits in {asset}"
            assert bonds == {a: self.bonds[(a, asset)] for a in self.accounts}, f"bonds in {asset}"
            assert balances == self.expected[asset], f"balances in {asset}"

    def expected_records(self) -> dict[tuple[str, str, int], list[int]]:
        """What Reputation must say, derived from the trades alone: every ended trade that asked to record,
        in an asset listed with a minimum at or below its price when it was created, whose seller consented, counts
        once for its buyer and its seller; ratings as given."""
        want: dict[tuple[str, str, int], list[int]] = defaultdict(lambda: [0] * 10)
        for trade in self.trades:
            if trade.state in PAID_OUT and trade.records_at_creation and trade.seller_consented:
                t = trade.terms
                for account, role in ((t["buyer"], 0), (t["seller"], 1)):
                    record = want[(account, trade.asset, role)]
                    record[0] += t["amount"]
                    record[OUTCOME_COUNTERS[trade.outcome][role]] += 1
        for key, ratings in self.ratings.items():
            want[key][7:] = ratings
        return want

    @invariant()
    def deposits_end_with_their_owner_or_per_the_table(self):
        """From the balances measured at each payout (`check_who_got_what`): a deposit goes out once,
        when its trade ends, to its owner or (timeout with an arbiter, ruling, concession) to the
        counterparty as the table says; never to the arbiter, the fee recipient or the owner; nothing
        while the trade is open."""
        FIGURES["invariant: deposits go back or per the table"] += 1
        outsiders = {*self.w.arbiters, self.d.owner, self.d.fee_recipient, self.w.alt_recipient, self.d.stranger}
        for trade in self.trades:
            t = trade.terms
            if trade.state not in TERMINAL:
                assert trade.deposits_seen is None, "deposits paid out of a trade still open"
                continue
            table = deposit_destinations(trade)
            assert trade.deposits_to == table, "the model paid the deposits against the table"
            assert trade.deposits_seen == table, "the balances show the deposits went against the table"
            assert table[0] in (None, t["buyer"], t["seller"]) and table[1] in (None, t["buyer"], t["seller"])
            assert not outsiders & set(table), "a deposit paid to someone outside the trade"

    @invariant()
    def no_arbiter_money_moves_only_by_the_other_party_or_the_terms(self):
        """The no-arbiter rule, from the events: the price reaches the seller only by the buyer's release,
        a settlement the buyer proposed or accepted, or a timeout the terms fixed to release; it reaches
        the buyer only by the seller's refund, a settlement, a cancel, or the timeout the terms fixed.
        No dispute, and both deposits always go back."""
        FIGURES["invariant: no-arbiter rule"] += 1
        for trade in self.trades:
            if trade.has_arbiter:
                continue
            t = trade.terms
            for name, caller, args in trade.moves:
                if name == "Released":
                    assert caller == t["buyer"], f"released by {caller}"
                elif name == "Refunded":
                    assert caller == t["seller"], f"refunded by {caller}"
                elif name == "TimedOut":
                    assert args["toSeller"] == bool(t["flags"] & FLAG_TIMEOUT_RELEASES), (
                        "a no-arbiter timeout went against the outcome fixed at creation"
                    )
                elif name == "Settled":
                    assert caller in (t["buyer"], t["seller"]) and args["proposer"] in (t["buyer"], t["seller"])
                    assert args["proposer"] != caller, "a settlement accepted by its own proposer"
                elif name != "Cancelled":
                    raise AssertionError(f"{name} on a trade without an arbiter")
            if trade.deposits_seen is not None:
                buyer_to, seller_to = trade.deposits_seen
                assert buyer_to in (None, t["buyer"]) and seller_to in (None, t["seller"]), "a no-arbiter forfeit"

    @invariant()
    def records_only_from_listed_assets_and_consenting_sellers(self):
        """A trade records iff it asked to, in an asset listed with a minimum at or below its price when it was created,
        and its seller consented by a call of its own or its signature (tracked apart from the marks):
        Reputation.recordOf of every account that could have a record, in every asset and role, is
        exactly what such ended trades add up to (plus the ratings given), read raw."""
        FIGURES["invariant: records only from listed assets and consenting sellers"] += 1
        for trade in self.trades:
            assert trade.has(MARK_RECORDS) == trade.records_at_creation, "RECORDS mark"
            assert trade.has(MARK_SELLER_ACTED) == trade.seller_consented, "consent mark"
        want, raw = self.expected_records(), self.w.raw
        state = raw.state()
        for account in self.w.reputation_accounts:
            for asset in ASSETS:
                for role in (0, 1):
                    got = raw.reputation_of(state, account, self.w.token_address[asset], role)
                    fields = dict(zip((*RECORD_FIELDS, *RATINGS_FIELDS), got, strict=True))
                    assert got == tuple(want.get((account, asset, role), [0] * 10)), (account, asset, role, fields)

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
        """At most one rating per party per trade (each checked, as it happened, to be on an ended
        trade that records); the marks agree with the events."""
        FIGURES["invariant: one rating per party per trade, ended recorded trades only"] += 1
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
                    raise AssertionError(f"no way out of {trade.state} for a stranger at the deadline: {why}") from exc
                FIGURES["liveness exits simulated"] += 1
                self.live.add(key)
        finally:
            self.chain.revert(snapshot)


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
