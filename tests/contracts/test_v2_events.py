"""The escrow's events rebuild every trade from logs alone: its terms, its deposits, its state and its
history. An indexer written here from the NatSpec of the events (nothing else: no call to the
escrow, only the logs and the timestamps of their blocks) follows a full trade with deposits and
agrees with the contract's own state at every step."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eth_utils import keccak
from support.escrow import (
    ETH,
    FLAG_CREATED_BY_SELLER,
    STATE,
    TERMS_FIELDS,
    Deployment,
    trade_id,
)
from support.offers import tx
from support.v2 import BUYER_DEPOSIT, ENDINGS, ONE, SELLER_DEPOSIT, Receipt, decode_entries, deposit_receivers, fund

STATE_NAME = {number: name for name, number in STATE.items()}


@dataclass
class Trade:
    """What an indexer knows of one trade."""

    terms: dict[str, Any]
    state: str
    held: int
    deadline: int
    buyer_deposit_in: bool
    seller_deposit_in: bool
    delivered: bool = False
    seller_paid: bool = False
    history: list[str] = field(default_factory=list)
    evidence: list[tuple[str, bytes, str]] = field(default_factory=list)
    deposits_to: tuple[str, str] | None = None
    payouts: dict[str, int] = field(default_factory=dict)


def rebuild(d: Deployment, from_block: int) -> dict[bytes, Trade]:
    """Every trade, rebuilt from the escrow's logs since `from_block`."""
    logs = d.chain.w3.eth.get_logs({"address": d.escrow.address, "fromBlock": from_block, "toBlock": "latest"})
    trades: dict[bytes, Trade] = {}
    for name, args, log in decode_entries(d.escrow, logs):
        if "id" not in args:
            continue
        now = int(d.chain.w3.eth.get_block(log["blockNumber"])["timestamp"])
        if name == "TradeCreated":
            terms = dict(args["terms"])
            assert list(terms) == list(TERMS_FIELDS)
            by_seller = bool(terms["flags"] & FLAG_CREATED_BY_SELLER)
            held = args["held"]
            if held == 0:
                state = "AwaitingFunding"
            elif terms["sellerDeposit"] and not by_seller:
                state = "AwaitingDeposit"
            else:
                state = "Funded"
            window = terms["releaseWindow"] if state == "Funded" else terms["fundingWindow"]
            trades[args["id"]] = Trade(terms, state, held, now + window, buyer_deposit_in=held > 0,
                                       seller_deposit_in=by_seller and terms["sellerDeposit"] > 0)
        trade = trades[args["id"]]
        trade.history.append(name)
        t = trade.terms
        if name == "TradeFunded":
            trade.held, trade.state, trade.deadline = args["held"], STATE_NAME[args["state"]], args["deadline"]
            trade.buyer_deposit_in = True
        elif name == "SellerAccepted":
            trade.state, trade.deadline = STATE_NAME[args["state"]], args["deadline"]
            trade.seller_deposit_in = t["sellerDeposit"] > 0
        elif name == "DeliveryMarked":
            trade.delivered, trade.deadline = True, args["deadline"]
        elif name == "Disputed":
            trade.state, trade.deadline = "Disputed", args["deadline"]
        elif name == "EvidenceSubmitted":
            trade.evidence.append((args["by"], args["contentHash"], args["uri"]))
        elif name == "Released" and trade.held > args["toSeller"] + args["platformFee"]:
            trade.held -= args["toSeller"] + args["platformFee"]  # a part: the trade goes on
            trade.seller_paid = True
        elif name == "Refunded" and trade.held > args["toBuyer"]:
            trade.held -= args["toBuyer"]
        elif name in ENDINGS:
            trade.payouts = {k: v for k, v in args.items() if k not in ("id", "by", "buyerBps")}
            if name in ("Released", "Refunded", "TimedOut"):
                seller_paid = trade.seller_paid or name == "Released" or (name == "TimedOut" and args["toSeller"])
                trade.state = "Completed" if seller_paid else "Refunded"
            else:
                trade.state = {"Settled": "Settled", "Cancelled": "Cancelled"}.get(name, "Resolved")
            trade.held = args.get("platformFee", 0)  # an ended trade holds its unswept fee
            trade.deposits_to = deposit_receivers(t, name, args, buyer_in=trade.buyer_deposit_in,
                                                  seller_in=trade.seller_deposit_in)
    return trades


def test_a_full_trade_with_deposits_is_rebuilt_from_its_events_alone(deployed: Deployment) -> None:
    d = deployed
    start = d.chain.w3.eth.block_number + 1
    e = d.escrow.functions
    t = d.terms(buyerDeposit=BUYER_DEPOSIT, sellerDeposit=SELLER_DEPOSIT, termsHash=keccak(b"the terms"))
    d.bond_for(t)
    other = d.terms()  # a trade in between, which the indexer must keep apart
    evidence_hash, uri = keccak(b"photo of the parcel"), "ipfs://bafy-parcel-photo"

    def check(step: str) -> None:
        """The rebuilt trade agrees with the contract's slot after `step`."""
        trade = rebuild(d, start)[trade_id(t)]
        slot = d.escrow_of(t)
        assert (trade.state, trade.held, trade.deadline) == (d.state_of(t), slot["held"], slot["deadline"]), step
        assert trade.delivered == bool(slot["marks"] & 1), step

    steps: list[tuple[str, Any]] = [
        ("create", lambda: tx(d, e.create(t), d.buyer)),
        ("fund", lambda: fund(d, t)),
        ("another trade", lambda: tx(d, e.createAndFund(other), d.buyer, ONE)),
        ("accept", lambda: tx(d, e.accept(t), d.seller)),
        ("deliver", lambda: tx(d, e.markDelivered(t), d.seller)),
        ("dispute", lambda: tx(d, e.dispute(t), d.buyer)),
        ("evidence", lambda: tx(d, e.submitEvidence(t, evidence_hash, uri), d.buyer)),
        ("rule", lambda: tx(d, e.rule(t, 3000), d.arbiter)),
    ]
    receipts: list[Receipt] = []
    for step, act in steps:
        receipts.append(act())
        check(step)

    trades = rebuild(d, start)
    assert set(trades) == {trade_id(t), trade_id(other)}
    trade = trades[trade_id(t)]
    assert trade.terms == t  # every term, so trade_id(terms) is the id the events carry
    assert trade.history == ["TradeCreated", "TradeFunded", "SellerAccepted", "DeliveryMarked", "Disputed",
                             "EvidenceSubmitted", "Ruled"]
    assert trade.evidence == [(d.buyer, evidence_hash, uri)]
    assert trade.state == "Resolved"
    # the buyer was awarded less than half: it forfeits its deposit; the seller keeps its own
    assert trade.deposits_to == (d.seller, d.seller)
    assert trade.payouts["arbiterFee"] == ONE // 100
    assert trades[trade_id(other)].history == ["TradeCreated"]
    assert trades[trade_id(other)].state == d.state_of(other) == "Funded"


def test_a_trade_the_seller_created_and_the_buyer_never_funded_is_rebuilt_as_cancelled(deployed: Deployment) -> None:
    d = deployed
    start = d.chain.w3.eth.block_number + 1
    t = d.terms(sellerDeposit=SELLER_DEPOSIT)
    t["flags"] |= FLAG_CREATED_BY_SELLER
    d.bond_for(t)
    tx(d, d.escrow.functions.create(t), d.seller)
    trade = rebuild(d, start)[trade_id(t)]
    assert (trade.state, trade.seller_deposit_in, trade.buyer_deposit_in) == ("AwaitingFunding", True, False)
    assert trade.deadline == d.escrow_of(t)["deadline"]
    tx(d, d.escrow.functions.cancel(t), d.seller)
    trade = rebuild(d, start)[trade_id(t)]
    assert trade.state == d.state_of(t) == "Cancelled"
    assert trade.deposits_to == (ETH, d.seller)


def test_partial_payouts_are_rebuilt_until_the_trade_ends(deployed: Deployment) -> None:
    """A release in parts then a refund of the rest: the trade is Completed (the seller was paid some),
    which the indexer can only tell by following what is held through every event."""
    d = deployed
    start = d.chain.w3.eth.block_number + 1
    t = d.terms(buyerDeposit=BUYER_DEPOSIT)
    e = d.escrow.functions
    tx(d, e.createAndFund(t), d.buyer, ONE + BUYER_DEPOSIT)
    for step, act in [("release a quarter", lambda: tx(d, e.release(t, ONE // 4), d.buyer)),
                      ("refund a quarter", lambda: tx(d, e.refund(t, ONE // 4), d.seller)),
                      ("refund the rest", lambda: tx(d, e.refund(t, ONE // 2), d.seller))]:
        act()
        trade = rebuild(d, start)[trade_id(t)]
        assert (trade.state, trade.held) == (d.state_of(t), d.escrow_of(t)["held"]), step
    assert trade.state == "Completed"
    assert trade.history == ["TradeCreated", "Released", "Refunded", "Refunded"]
    assert trade.deposits_to == (d.buyer, ETH)
