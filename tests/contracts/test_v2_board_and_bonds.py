"""Sellers' bonds and acceptance (a trade is live only once both deposits are in), and the offer board
(one event carrying a signed offer and its terms document, no storage, no checks)."""

from __future__ import annotations

import json
from typing import Any

from eth_account import Account
from eth_utils import keccak
from support.escrow import ETH, MARK_SELLER_ACTED, MARK_SELLER_DEPOSITED, STATE, Deployment, trade_id
from support.offers import next_time, offer, reverts, sign_offer, terms_of_offer, tx
from support.v2 import (
    BUYER_DEPOSIT,
    ONE,
    SELLER_DEPOSIT,
    at_deadline,
    balance_changes,
    canonical_json,
    changes_and_receipt,
    create_and_fund,
    decode_logs,
    fund,
    seller_created,
    storage_root,
)

SD = SELLER_DEPOSIT


# -- bonds ----------------------------------------------------------------------------------------------
def test_a_bond_deposit_adds_to_the_sellers_free_bond(deployed: Deployment) -> None:
    d = deployed
    d.deposit_bond(SD)
    receipt = d.deposit_bond(SD)
    (event,) = d.events(receipt, "BondDeposited")
    assert dict(event) == {"seller": d.seller, "token": ETH, "amount": SD, "free": 2 * SD}
    assert d.bond(d.seller, ETH) == 2 * SD


def test_an_offer_beyond_the_sellers_free_bond_cannot_be_filled(deployed: Deployment) -> None:
    d = deployed
    d.deposit_bond(SD - 1)
    o = offer(d, sellerDeposit=SD)
    with reverts("InsufficientBond", seller=d.seller, token=ETH, free=SD - 1, needed=SD):
        d.send(d.escrow.functions.fillOffer(o, sign_offer(d, o)), d.buyer, ONE)
    assert d.bond(d.seller, ETH) == SD - 1


def test_filling_an_offer_locks_the_sellers_deposit_and_the_trade_is_live(deployed: Deployment) -> None:
    d = deployed
    d.deposit_bond(3 * SD)
    o = offer(d, sellerDeposit=SD, buyerDeposit=BUYER_DEPOSIT)
    tx(d, d.escrow.functions.fillOffer(o, sign_offer(d, o)), d.buyer, ONE + BUYER_DEPOSIT)
    t = terms_of_offer(o, d.buyer)
    assert d.bond(d.seller, ETH) == 2 * SD
    assert d.state_of(t) == "Funded"
    assert d.marks_of(t) & (MARK_SELLER_ACTED | MARK_SELLER_DEPOSITED) == MARK_SELLER_ACTED | MARK_SELLER_DEPOSITED


def test_only_the_free_part_of_a_bond_can_be_withdrawn(deployed: Deployment) -> None:
    d = deployed
    spare = 10**15
    d.deposit_bond(SD + spare)
    o = offer(d, sellerDeposit=SD)
    tx(d, d.escrow.functions.fillOffer(o, sign_offer(d, o)), d.buyer, ONE)
    with reverts("InsufficientBond", seller=d.seller, token=ETH, free=spare, needed=SD + spare):
        d.send(d.escrow.functions.withdrawBond(ETH, SD + spare, d.seller), d.seller)
    changes, receipt = changes_and_receipt(
        d, ETH, {"to": d.stranger, "escrow": d.escrow.address},
        lambda: tx(d, d.escrow.functions.withdrawBond(ETH, spare, d.stranger), d.seller))
    assert changes == {"to": spare, "escrow": -spare}
    (event,) = d.events(receipt, "BondWithdrawn")
    assert dict(event) == {"seller": d.seller, "token": ETH, "to": d.stranger, "amount": spare, "free": 0}


def test_a_seller_who_creates_a_trade_locks_its_deposit_at_creation(deployed: Deployment) -> None:
    d = deployed
    t = seller_created(d, sellerDeposit=SD)
    assert d.bond(d.seller, ETH) == 0
    assert d.state_of(t) == "AwaitingFunding"
    assert d.marks_of(t) & MARK_SELLER_DEPOSITED
    fund(d, t)
    assert d.state_of(t) == "Funded"  # both deposits in: live at once


def test_a_seller_cannot_create_a_trade_its_bond_does_not_cover(deployed: Deployment) -> None:
    d = deployed
    t = d.terms(sellerDeposit=SD)
    t["flags"] |= 4
    with reverts("InsufficientBond", seller=d.seller, token=ETH, free=0, needed=SD):
        d.send(d.escrow.functions.create(t), d.seller)


# -- acceptance of a trade a buyer created ---------------------------------------------------------------
def awaiting_deposit(d: Deployment, **overrides: Any) -> dict[str, Any]:
    """A trade the buyer created and funded, waiting for the seller's deposit (its bond is posted)."""
    t = d.terms(sellerDeposit=SD, buyerDeposit=BUYER_DEPOSIT, **overrides)
    d.bond_for(t)
    create_and_fund(d, t)
    return t


def test_a_buyers_trade_with_a_seller_deposit_waits_for_the_seller(deployed: Deployment) -> None:
    d = deployed
    t = d.terms(sellerDeposit=SD, buyerDeposit=BUYER_DEPOSIT)
    d.bond_for(t)
    receipt = create_and_fund(d, t)
    created_at = d.chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    assert d.state_of(t) == "AwaitingDeposit"
    assert d.escrow_of(t)["deadline"] == created_at + t["fundingWindow"]
    assert d.bond(d.seller, ETH) == SD  # nothing locked yet
    with reverts("WrongState", id=trade_id(t), state=STATE["AwaitingDeposit"]):
        d.send(d.escrow.functions.release(t, ONE), d.buyer)
    with reverts("WrongState", id=trade_id(t), state=STATE["AwaitingDeposit"]):
        d.send(d.escrow.functions.refund(t, ONE), d.seller)


def test_the_release_window_starts_when_the_seller_accepts(deployed: Deployment) -> None:
    d = deployed
    t = awaiting_deposit(d)
    accepted_at = next_time(d) + 1000
    d.chain.set_next_timestamp(accepted_at)
    receipt = tx(d, d.escrow.functions.accept(t), d.seller)
    assert d.state_of(t) == "Funded"
    assert d.escrow_of(t)["deadline"] == accepted_at + t["releaseWindow"]
    assert d.bond(d.seller, ETH) == 0
    (event,) = d.events(receipt, "SellerAccepted")
    assert dict(event) == {"id": trade_id(t), "state": STATE["Funded"], "deadline": accepted_at + t["releaseWindow"]}


def test_a_seller_may_accept_before_the_buyer_funds(deployed: Deployment) -> None:
    d = deployed
    t = d.terms(sellerDeposit=SD)
    d.bond_for(t)
    tx(d, d.escrow.functions.create(t), d.buyer)
    tx(d, d.escrow.functions.accept(t), d.seller)
    assert d.state_of(t) == "AwaitingFunding"
    assert d.marks_of(t) & MARK_SELLER_DEPOSITED
    fund(d, t)
    assert d.state_of(t) == "Funded"


def test_the_buyer_can_cancel_a_trade_waiting_for_the_sellers_deposit_at_any_time(deployed: Deployment) -> None:
    d = deployed
    t = awaiting_deposit(d)
    for other in (d.seller, d.stranger):
        with reverts("DeadlineNotReached"):
            d.send(d.escrow.functions.cancel(t), other)
    changes = balance_changes(d, ETH, {"buyer": d.buyer, "seller": d.seller},
                              lambda: tx(d, d.escrow.functions.cancel(t), d.buyer))
    assert changes == {"buyer": ONE + BUYER_DEPOSIT, "seller": 0}
    assert d.state_of(t) == "Cancelled"
    assert d.bond(d.seller, ETH) == SD  # the seller's bond was never touched


def test_anyone_can_cancel_a_trade_the_seller_never_accepted_once_the_deadline_passed(deployed: Deployment) -> None:
    d = deployed
    t = awaiting_deposit(d)
    at_deadline(d, t)
    changes = balance_changes(d, ETH, {"buyer": d.buyer}, lambda: tx(d, d.escrow.functions.cancel(t), d.stranger))
    assert changes == {"buyer": ONE + BUYER_DEPOSIT}
    assert d.state_of(t) == "Cancelled"


def test_accepting_after_the_funding_deadline_is_refused(deployed: Deployment) -> None:
    d = deployed
    t = awaiting_deposit(d)
    deadline = d.escrow_of(t)["deadline"]
    at_deadline(d, t)
    with reverts("DeadlinePassed", deadline=deadline):
        d.send(d.escrow.functions.accept(t), d.seller)


def test_a_seller_accepts_once(deployed: Deployment) -> None:
    d = deployed
    t = awaiting_deposit(d)
    tx(d, d.escrow.functions.accept(t), d.seller)
    with reverts("AlreadyAccepted", id=trade_id(t)):
        d.send(d.escrow.functions.accept(t), d.seller)


def test_a_seller_who_created_the_trade_has_already_accepted_it(deployed: Deployment) -> None:
    d = deployed
    t = seller_created(d, sellerDeposit=SD)
    with reverts("AlreadyAccepted", id=trade_id(t)):
        d.send(d.escrow.functions.accept(t), d.seller)


def test_accepting_needs_a_bond_covering_the_deposit(deployed: Deployment) -> None:
    d = deployed
    t = d.terms(sellerDeposit=SD)
    create_and_fund(d, t)
    with reverts("InsufficientBond", seller=d.seller, token=ETH, free=0, needed=SD):
        d.send(d.escrow.functions.accept(t), d.seller)


def test_only_the_seller_can_accept(deployed: Deployment) -> None:
    d = deployed
    t = awaiting_deposit(d)
    for caller in (d.buyer, d.stranger):
        with reverts("Unauthorized", caller=caller, id=trade_id(t)):
            d.send(d.escrow.functions.accept(t), caller)


# -- the offer board ------------------------------------------------------------------------------------
def terms_document(d: Deployment) -> dict[str, Any]:
    """A typical listing's terms document (about 300 bytes of canonical JSON)."""
    return {
        "version": 1,
        "title": "Used road bike, 56 cm",
        "description": "Aluminium frame, Shimano 105, new tyres. Ships in 3 days.",
        "delivery": {"method": "parcel", "days": 3, "region": "EU"},
        "payment": {"asset": "ETH", "amount": "1"},
        "seller": d.seller,
        "contact": "matrix:@seller:example.org",
    }


def published(d: Deployment) -> tuple[dict[str, Any], bytes, bytes, dict[str, Any]]:
    """A signed offer whose termsHash is its document's keccak256, published by a stranger (anyone may
    relay): (offer, signature, document bytes, receipt)."""
    document = canonical_json(terms_document(d))
    o = offer(d, termsHash=keccak(document), sellerDeposit=SD, buyerDeposit=BUYER_DEPOSIT)
    signature = sign_offer(d, o)
    receipt = tx(d, d.escrow.functions.publishOffer(o, signature, document), d.stranger)
    return o, signature, document, receipt


def test_a_typical_terms_document_is_about_300_bytes(deployed: Deployment) -> None:
    assert 280 <= len(canonical_json(terms_document(deployed))) <= 320


def test_publishing_an_offer_emits_one_event_carrying_the_offer_its_signature_and_its_terms(
    deployed: Deployment,
) -> None:
    d = deployed
    o, signature, document, receipt = published(d)
    assert len(receipt["logs"]) == 1
    ((name, args),) = decode_logs(d.escrow, [receipt])
    assert name == "OfferPublished"
    assert (args["seller"], args["nonce"]) == (d.seller, o["nonce"])
    assert dict(args["offer"]) == o
    assert args["signature"] == signature
    assert args["terms"] == document


def test_publishing_an_offer_writes_no_storage(deployed: Deployment) -> None:
    d = deployed
    d.deposit_bond(SD)
    before = {name: storage_root(d, address) for name, address in
              (("escrow", d.escrow.address), ("reputation", d.reputation.address))}
    o, signature, _, _ = published(d)
    after = {name: storage_root(d, address) for name, address in
             (("escrow", d.escrow.address), ("reputation", d.reputation.address))}
    assert after == before
    assert not d.escrow.functions.isNonceUsed(d.seller, o["nonce"]).call()
    assert d.bond(d.seller, ETH) == SD
    # ... and the offer is as fillable as before it was published
    tx(d, d.escrow.functions.fillOffer(o, signature), d.buyer, ONE + BUYER_DEPOSIT)
    assert d.state_of(terms_of_offer(o, d.buyer)) == "Funded"
    assert storage_root(d, d.escrow.address) != before["escrow"]  # (the root does see a write)


def test_a_reader_checks_a_published_offer_from_the_event_alone(deployed: Deployment) -> None:
    """What the event does not check, a reader can: the document hashes to termsHash and parses back
    to the canonical document, and the signature recovers to the seller on this chain and escrow."""
    d = deployed
    _, _, _, receipt = published(d)
    ((_, args),) = decode_logs(d.escrow, [receipt])
    o = dict(args["offer"])
    assert keccak(args["terms"]) == o["termsHash"]
    assert canonical_json(json.loads(args["terms"])) == args["terms"]
    assert json.loads(args["terms"]) == terms_document(d)
    digest = d.escrow.functions.offerDigest(o).call()
    assert Account._recover_hash(digest, signature=args["signature"]) == args["seller"] == o["seller"]


def test_the_board_checks_nothing_so_a_reader_must(deployed: Deployment) -> None:
    d = deployed
    o = offer(d, termsHash=keccak(b"another document"))
    receipt = tx(d, d.escrow.functions.publishOffer(o, b"\x00" * 65, b"not the document"), d.stranger)
    ((_, args),) = decode_logs(d.escrow, [receipt])
    assert keccak(args["terms"]) != dict(args["offer"])["termsHash"]
    with reverts("InvalidSignature", seller=d.seller):
        d.send(d.escrow.functions.fillOffer(o, b"\x00" * 65), d.buyer, ONE)


def test_funding_before_the_seller_accepts_keeps_the_funding_deadline(deployed: Deployment) -> None:
    d = deployed
    t = d.terms(sellerDeposit=SD)
    tx(d, d.escrow.functions.create(t), d.buyer)
    funding_deadline = d.escrow_of(t)["deadline"]
    d.chain.sleep(600)
    receipt = fund(d, t)
    assert d.state_of(t) == "AwaitingDeposit"
    assert d.escrow_of(t)["deadline"] == funding_deadline
    (event,) = d.events(receipt, "TradeFunded")
    assert dict(event) == {"id": trade_id(t), "held": ONE, "state": STATE["AwaitingDeposit"],
                           "deadline": funding_deadline}


def test_accepting_a_live_trade_only_records_the_sellers_consent(deployed: Deployment) -> None:
    d = deployed
    t = d.terms()  # no seller deposit: live as soon as the buyer funds
    create_and_fund(d, t)
    before = d.escrow_of(t)
    tx(d, d.escrow.functions.accept(t), d.seller)
    after = d.escrow_of(t)
    assert after == {**before, "marks": before["marks"] | MARK_SELLER_ACTED}


def test_a_buyers_trade_waiting_for_a_seller_deposit_needs_a_funding_window(deployed: Deployment) -> None:
    d = deployed
    t = d.terms(sellerDeposit=SD, fundingWindow=0)
    with reverts("InvalidWindow", window=0):
        d.send(d.escrow.functions.createAndFund(t), d.buyer, ONE)
