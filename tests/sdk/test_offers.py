"""Signed offers: a seller signs off-chain (no gas) and publishes JSON; a buyer parses, verifies
and fills it.
Every bad offer is an OfferError saying what is wrong, raised before anything is sent."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from p2pescrow import OfferError, SignedOffer, TradeState, errors
from p2pescrow.models import Role

ETHER = 10**18


@pytest.fixture
def offer_parties(embedded):
    seller = embedded.account(0)  # signs only: needs no ETH
    buyer_acct, buyer = embedded.party()
    return seller, embedded.client(seller), buyer_acct, buyer


def test_eth_offer_round_trip_through_json(embedded, offer_parties):
    seller, seller_client, buyer_acct, buyer = offer_parties
    signed = seller_client.create_offer(amount="1.25", terms="2 concert tickets", expires_in=3_600)
    document = signed.to_json()
    assert "\n" not in document and json.loads(document)["kind"] == "p2pescrow-offer/2"
    assert seller.key.hex().removeprefix("0x") not in document

    parsed = SignedOffer.from_json(document)
    assert parsed == signed
    buyer.verify_offer(parsed)
    nonce = embedded.nonce(buyer_acct.address)
    filled = buyer.fill_offer(parsed)
    assert embedded.nonce(buyer_acct.address) == nonce + 1
    assert embedded.nonce(seller.address) == 0  # the seller never sent anything
    assert filled.tx.event("OfferFilled").args["nonce"] == signed.offer.nonce

    trade = buyer.trade(filled.trade_id)
    assert trade.state is TradeState.FUNDED and trade.held == 5 * ETHER // 4
    assert (trade.buyer, trade.seller) == (buyer_acct.address, seller.address)
    assert trade.terms.created_by_seller and trade.terms.salt == signed.offer.nonce
    buyer.release(filled.trade_id)
    assert embedded.eth(seller.address) == 5 * ETHER // 4 * 9_975 // 10_000


def test_permit_offer_fills_in_one_transaction(embedded, offer_parties):
    _seller, seller_client, buyer_acct, buyer = offer_parties
    token = embedded.token("PermitToken")
    embedded.mint(token, buyer_acct.address, 5 * ETHER)
    signed = seller_client.create_offer(amount="2", token=token.address, buyer=buyer_acct.address)
    nonce = embedded.nonce(buyer_acct.address)
    filled = buyer.fill_offer(SignedOffer.from_json(signed.to_json()))
    assert embedded.nonce(buyer_acct.address) == nonce + 1  # no approve transaction
    assert token.functions.allowance(buyer_acct.address, buyer.deployment.escrow).call() == 0
    assert token.functions.balanceOf(buyer_acct.address).call() == 3 * ETHER
    assert buyer.trade(filled.trade_id).state is TradeState.FUNDED


def _document(signed: SignedOffer) -> dict:
    return json.loads(signed.to_json())


MALFORMED = {
    "not json": (lambda d: "{not json", "invalid JSON"),
    "a list": (lambda d: "[1, 2]", "expected kind"),
    "wrong kind": (lambda d: json.dumps({**d, "kind": "something-else/1"}), "expected kind"),
    "missing field": (
        lambda d: json.dumps(
            {**d, "offer": {k: v for k, v in d["offer"].items() if k != "amount"}}
        ),
        "amount",
    ),
    "bad seller address": (
        lambda d: json.dumps({**d, "offer": {**d["offer"], "seller": "0x1234"}}),
        "seller is not an address",
    ),
    "amount not a number": (
        lambda d: json.dumps({**d, "offer": {**d["offer"], "amount": "lots"}}),
        "malformed offer document",
    ),
    "negative amount": (
        lambda d: json.dumps({**d, "offer": {**d["offer"], "amount": "-1"}}),
        "amount is negative",
    ),
    "short termsHash": (
        lambda d: json.dumps({**d, "offer": {**d["offer"], "termsHash": "0x1234"}}),
        "termsHash must be 32 bytes",
    ),
    "signature not hex": (
        lambda d: json.dumps({**d, "signature": "0xzz"}),
        "malformed offer document",
    ),
    "escrow not an address": (
        lambda d: json.dumps({**d, "escrow": "escrow"}),
        "escrow is not an address",
    ),
    "no chain id": (
        lambda d: json.dumps({k: v for k, v in d.items() if k != "chainId"}),
        "chainId",
    ),
}


@pytest.mark.parametrize("malformation", sorted(MALFORMED))
def test_malformed_documents_are_refused_with_the_reason(embedded, offer_parties, malformation):
    _, seller_client, buyer_acct, buyer = offer_parties
    signed = seller_client.create_offer(amount="1")
    mutate, reason = MALFORMED[malformation]
    with embedded.no_tx(buyer_acct.address), pytest.raises(OfferError, match=reason) as info:
        buyer.fill_offer(SignedOffer.from_json(mutate(_document(signed))))
    assert isinstance(info.value, errors.InputError)


def _tamper_signature(signed: SignedOffer) -> SignedOffer:
    sig = bytearray(signed.signature)
    sig[10] ^= 0xFF
    return replace(signed, signature=bytes(sig))


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (
            lambda s, embedded: SignedOffer.from_json(
                json.dumps({**_document(s), "offer": {**_document(s)["offer"], "amount": "1"}})
            ),
            "not the seller's",
        ),
        (lambda s, embedded: _tamper_signature(s), "signature"),
        (lambda s, embedded: replace(s, signature=s.signature[:40]), "signature"),
        (
            lambda s, embedded: SignedOffer.from_json(json.dumps({**_document(s), "chainId": 1})),
            "chain id 1",
        ),
        (lambda s, embedded: replace(s, escrow=embedded.base.deployment.reputation), "escrow"),
    ],
)
def test_tampered_or_foreign_offers_are_refused(embedded, offer_parties, tamper, reason):
    _, seller_client, buyer_acct, buyer = offer_parties
    bad = tamper(seller_client.create_offer(amount="1"), embedded)
    with embedded.no_tx(buyer_acct.address), pytest.raises(OfferError, match=reason):
        buyer.fill_offer(bad)


def test_expired_offer(embedded, offer_parties):
    _, seller_client, buyer_acct, buyer = offer_parties
    signed = seller_client.create_offer(amount="1", expires_in=60)
    embedded.sleep(120)
    with embedded.no_tx(buyer_acct.address), pytest.raises(OfferError, match="expired at"):
        buyer.fill_offer(signed)


def test_offer_expiring_at_the_latest_block_is_refused_before_sending(embedded, offer_parties):
    """The fill would be mined in a later block, after the expiry: refused by the check, not by a
    failed simulation."""
    _, seller_client, buyer_acct, buyer = offer_parties
    signed = seller_client.create_offer(amount="1", expires_in=60)
    embedded.base.sleep(signed.offer.expiry - buyer._now())  # embedded: the latest block is then at the expiry
    assert buyer._now() == signed.offer.expiry
    with embedded.no_tx(buyer_acct.address), pytest.raises(OfferError, match="expired at"):
        buyer.fill_offer(signed)


def test_used_and_revoked_nonces(embedded, offer_parties):
    seller, seller_client, buyer_acct, buyer = offer_parties
    signed = seller_client.create_offer(amount="0.1")
    buyer.fill_offer(signed)
    with embedded.no_tx(buyer_acct.address), pytest.raises(OfferError, match="already filled or revoked"):
        buyer.fill_offer(signed)

    embedded.send_eth(seller.address, ETHER)
    revoked = seller_client.create_offer(amount="0.1")
    seller_client.revoke_offer(revoked.offer.nonce).event("OfferRevoked")
    with embedded.no_tx(buyer_acct.address), pytest.raises(OfferError, match="nonce used"):
        buyer.fill_offer(revoked)


def test_offer_reserved_for_another_buyer(embedded, offer_parties):
    _, seller_client, buyer_acct, buyer = offer_parties
    signed = seller_client.create_offer(amount="0.1", buyer=embedded.account(0).address)
    with embedded.no_tx(buyer_acct.address), pytest.raises(OfferError, match="reserved for buyer"):
        buyer.fill_offer(signed)


def test_offer_signed_before_a_fee_change(embedded, offer_parties):
    """The platform fee changed since the offer was signed: refused up front, saying so."""
    _, seller_client, buyer_acct, buyer = offer_parties
    signed = seller_client.create_offer(amount="0.1")
    embedded.base.set_platform_fee(30)  # dev account 0 owns the embedded deployment
    try:
        with (
            embedded.no_tx(buyer_acct.address),
            pytest.raises(OfferError, match="25 bps; the fee is now 30 bps"),
        ):
            buyer.fill_offer(signed)
    finally:
        embedded.base.set_platform_fee(25)
    filled = buyer.fill_offer(signed)  # valid again
    trade = buyer.trade(filled.trade_id)
    assert trade.state is TradeState.FUNDED and trade.terms.platform_fee_bps == 25


def test_signing_an_offer_needs_a_local_account(embedded):
    node_account = embedded.base.as_account(embedded.base.dev_accounts[5])
    with pytest.raises(errors.InputError, match="local account"):
        node_account.create_offer(amount="1")


def test_next_actions_of_a_filled_offer(embedded, offer_parties):
    _, seller_client, _buyer_acct, buyer = offer_parties
    filled = buyer.fill_offer(
        seller_client.create_offer(amount="0.1", arbiter=embedded.account(0).address)
    )
    actions = buyer.trade(filled.trade_id).next_actions
    assert actions[Role.BUYER] == ("release", "dispute", "propose_settlement")
    assert actions[Role.SELLER] == ("refund", "mark_delivered", "dispute", "propose_settlement")  # it signed: acted


# -- v2: deposits in offers, the seller's bond, the offer board ------------------------------------------
def test_an_offer_with_deposits_locks_the_sellers_bond_when_filled(embedded):
    _seller_acct, seller = embedded.party(5)
    buyer_acct, buyer = embedded.party()
    signed = seller.create_offer(amount="1", buyer_deposit="0.1", seller_deposit="0.4")
    assert (signed.offer.buyerDeposit, signed.offer.sellerDeposit) == (ETHER // 10, 4 * ETHER // 10)
    assert SignedOffer.from_json(signed.to_json()) == signed  # the deposits travel with the document

    with embedded.no_tx(buyer_acct.address), pytest.raises(OfferError, match="free bond is 0 ETH"):
        buyer.fill_offer(signed)  # beyond the seller's free bond: refused before sending
    seller.deposit_bond("0.5")
    start = embedded.eth(buyer_acct.address)
    filled = buyer.fill_offer(signed)
    trade = buyer.trade(filled.trade_id)
    assert trade.state is TradeState.FUNDED and trade.seller_deposited  # the signature was the acceptance
    assert embedded.eth(buyer_acct.address) == start - ETHER - ETHER // 10 - filled.tx.fee
    assert seller.bond() == ETHER // 10


def test_publishing_an_offer_puts_it_and_its_terms_document_on_the_board(embedded):
    seller_acct, seller = embedded.party(1)
    document = {"item": "2 concert tickets", "delivery": "e-mail", "price": "1.25 ETH"}
    signed = seller.create_offer(amount="1.25", terms=document)
    spelled_otherwise = json.dumps(document, indent=2).encode()  # any JSON spelling of the same object

    published = seller.publish_offer(signed, spelled_otherwise)
    event = published.event("OfferPublished").args
    assert event["seller"] == seller_acct.address and event["nonce"] == signed.offer.nonce
    canonical = b'{"delivery":"e-mail","item":"2 concert tickets","price":"1.25 ETH"}'
    assert bytes(event["terms"]) == canonical  # RFC 8785: what termsHash is the keccak of

    with embedded.no_tx(seller_acct.address), pytest.raises(OfferError, match="termsHash"):
        seller.publish_offer(signed, {**document, "price": "1 ETH"})  # not the document signed
    foreign = replace(signed, chain_id=signed.chain_id + 1)
    with embedded.no_tx(seller_acct.address), pytest.raises(OfferError, match="chain id"):
        seller.publish_offer(foreign, document)
