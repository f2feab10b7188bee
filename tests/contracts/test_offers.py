"""EIP-712 signed offers: a seller signs off chain, a buyer fills (creates and funds) in one
transaction."""

from __future__ import annotations

from typing import Any

import pytest
from eth_utils import keccak
from support.escrow import (
    ETH,
    PLATFORM_FEE_BPS,
    STATE,
    Deployment,
    trade_id,
)
from support.offers import (
    OFFER_FIELDS,
    approve,
    balance_of,
    next_time,
    offer,
    offer_digest,
    offer_typehash,
    reverts,
    sign_offer,
    sign_permit,
    terms_of_offer,
    tx,
)


def one(d: Deployment, receipt: dict[str, Any], name: str) -> Any:
    found = d.events(receipt, name)
    assert len(found) == 1, f"expected one {name}, got {found}"
    return found[0]


def fill(d: Deployment, o: dict[str, Any], signature: bytes, buyer: str) -> dict[str, Any]:
    value = o["amount"] if o["token"] == ETH else 0
    return tx(d, d.escrow.functions.fillOffer(o, signature), buyer, value)


def try_fill(d: Deployment, o: dict[str, Any], signature: bytes, buyer: str) -> None:
    """Fill through gas estimation, so that a revert surfaces with its error."""
    value = o["amount"] if o["token"] == ETH else 0
    d.send(d.escrow.functions.fillOffer(o, signature), buyer, value)


# -- digest ----------------------------------------------------------------------------------------
def test_python_digest_equals_contract_offer_digest(d: Deployment) -> None:
    o = offer(
        d,
        buyer=d.buyer,
        token=d.tokens["standard"].address,
        nonce=2**200 + 5,
        termsHash=b"\xab" * 32,
    )
    assert d.escrow.functions.OFFER_TYPEHASH().call() == offer_typehash()
    assert d.escrow.functions.offerDigest(o).call() == offer_digest(d, o)
    domain_type = (
        "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    )
    domain = keccak(
        keccak(text=domain_type)
        + keccak(text="P2PEscrow")
        + keccak(text="1")
        + d.chain.w3.eth.chain_id.to_bytes(32, "big")
        + bytes(12)
        + bytes.fromhex(d.escrow.address[2:])
    )
    assert d.escrow.functions.domainSeparator().call() == domain
    # every field is part of the digest
    for name, typ in OFFER_FIELDS:
        changed = dict(o)
        if typ == "address":
            changed[name] = d.stranger
        elif typ == "bytes32":
            changed[name] = b"\x01" * 32
        else:
            changed[name] = o[name] + 1
        assert offer_digest(d, changed) != offer_digest(d, o), name
        assert d.escrow.functions.offerDigest(changed).call() == offer_digest(d, changed), name


# -- filling ---------------------------------------------------------------------------------------
def test_anyone_can_fill_an_open_offer_seller_pays_no_gas(d: Deployment) -> None:
    o = offer(d)  # buyer = 0: anyone
    sig = sign_offer(d, o)
    seller_eth = balance_of(d, ETH, d.seller)
    filler = d.stranger
    r = fill(d, o, sig, filler)
    t = terms_of_offer(o, filler)
    tid = trade_id(t)
    e = one(d, r, "OfferFilled")
    assert (e["seller"], e["nonce"], e["id"]) == (d.seller, o["nonce"], tid)
    created = one(d, r, "TradeCreated")
    assert (created["id"], created["buyer"], created["seller"], created["held"]) == (
        tid,
        filler,
        d.seller,
        o["amount"],
    )
    assert dict(created["terms"]) == t
    assert d.state_of(t) == "Funded" and d.escrow_of(t)["held"] == o["amount"]
    assert d.escrow.functions.isNonceUsed(d.seller, o["nonce"]).call()
    assert balance_of(d, ETH, d.seller) == seller_eth  # the seller sent no transaction
    assert balance_of(d, ETH, d.escrow.address) == o["amount"]
    # the trade goes on like any other: the filler is its buyer
    tx(d, d.escrow.functions.release(t, o["amount"]), filler)
    assert d.state_of(t) == "Completed"
    assert (
        balance_of(d, ETH, d.seller)
        == seller_eth + o["amount"] - o["amount"] * PLATFORM_FEE_BPS // 10_000
    )


def test_reserved_offer_can_be_filled_only_by_its_buyer(d: Deployment) -> None:
    o = offer(d, buyer=d.buyer)
    sig = sign_offer(d, o)
    with reverts("NotOfferBuyer", buyer=d.buyer):
        try_fill(d, o, sig, d.stranger)
    assert not d.escrow.functions.isNonceUsed(d.seller, o["nonce"]).call()
    fill(d, o, sig, d.buyer)
    assert d.state_of(terms_of_offer(o, d.buyer)) == "Funded"


def test_erc20_offer_fill_pulls_tokens_from_the_filler(d: Deployment) -> None:
    token = d.tokens["six_decimals"]
    o = offer(d, token=token.address, amount=250 * 10**6)
    sig = sign_offer(d, o)
    approve(d, token.address, d.buyer, o["amount"])
    before = balance_of(d, token.address, d.buyer)
    seller_eth = balance_of(d, ETH, d.seller)
    fill(d, o, sig, d.buyer)
    t = terms_of_offer(o, d.buyer)
    assert d.state_of(t) == "Funded" and d.escrow_of(t)["held"] == o["amount"]
    assert balance_of(d, token.address, d.buyer) == before - o["amount"]
    assert balance_of(d, token.address, d.escrow.address) == o["amount"]
    assert balance_of(d, ETH, d.seller) == seller_eth


def test_permit_offer_fill_is_one_transaction_without_approve(d: Deployment) -> None:
    token = d.tokens["permit"]
    o = offer(d, token=token.address, amount=42 * 10**18, buyer=d.buyer)
    sig = sign_offer(d, o)
    permit = sign_permit(d, token, d.buyer, d.escrow.address, o["amount"], next_time(d) + 600)
    assert token.functions.allowance(d.buyer, d.escrow.address).call() == 0
    before = balance_of(d, token.address, d.buyer)
    seller_eth = balance_of(d, ETH, d.seller)
    block = d.chain.w3.eth.block_number
    r = tx(d, d.escrow.functions.fillOfferWithPermit(o, sig, permit), d.buyer)
    assert r["blockNumber"] == block + 1
    t = terms_of_offer(o, d.buyer)
    assert one(d, r, "OfferFilled")["id"] == trade_id(t)
    assert d.state_of(t) == "Funded"
    assert balance_of(d, token.address, d.buyer) == before - o["amount"]
    assert token.functions.allowance(d.buyer, d.escrow.address).call() == 0
    assert balance_of(d, ETH, d.seller) == seller_eth


def test_offer_with_reputation_off_and_release_policy_keeps_its_flags(d: Deployment) -> None:
    o = offer(d, flags=1)
    fill(d, o, sign_offer(d, o), d.buyer)
    t = terms_of_offer(o, d.buyer)
    assert t["flags"] == 1 | 4
    d.chain.set_next_timestamp(d.escrow_of(t)["deadline"])
    tx(d, d.escrow.functions.timeout(t), d.stranger)
    assert d.escrow_of(t)["state"] == STATE["Completed"]
    assert d.record(d.seller)["completedAsSeller"] == 0  # reputation flag off


# -- replay and forgery ----------------------------------------------------------------------------
def test_same_offer_cannot_be_filled_twice(d: Deployment) -> None:
    o = offer(d)
    sig = sign_offer(d, o)
    fill(d, o, sig, d.buyer)
    with reverts("NonceUsed", seller=d.seller, nonce=o["nonce"]):
        try_fill(d, o, sig, d.stranger)
    with reverts("NonceUsed", seller=d.seller, nonce=o["nonce"]):
        try_fill(d, o, sig, d.buyer)


def test_signature_is_bound_to_the_escrow_contract(d: Deployment) -> None:
    other = d.chain.deploy(
        "P2PEscrow", d.owner, d.fee_recipient, PLATFORM_FEE_BPS, d.reputation.address
    )
    o = offer(d)
    sig = sign_offer(d, o)  # for d.escrow
    assert other.functions.offerDigest(o).call() != d.escrow.functions.offerDigest(o).call()
    with reverts("InvalidSignature", seller=d.seller):
        d.send(other.functions.fillOffer(o, sig), d.buyer, o["amount"])
    # the same offer signed for the other deployment fills there
    tx(
        d,
        other.functions.fillOffer(o, sign_offer(d, o, verifying_contract=other.address)),
        d.buyer,
        o["amount"],
    )
    assert other.functions.isNonceUsed(d.seller, o["nonce"]).call()
    assert not d.escrow.functions.isNonceUsed(d.seller, o["nonce"]).call()


def test_signature_for_another_chain_is_rejected(d: Deployment) -> None:
    o = offer(d)
    sig = sign_offer(d, o, chain_id=1)
    with reverts("InvalidSignature", seller=d.seller):
        try_fill(d, o, sig, d.buyer)


def test_signature_by_someone_other_than_the_seller_is_rejected(d: Deployment) -> None:
    o = offer(d)
    sig = sign_offer(d, o, signer=d.stranger)
    with reverts("InvalidSignature", seller=d.seller):
        try_fill(d, o, sig, d.buyer)


@pytest.mark.parametrize(
    "signature",
    [b"", b"\x00" * 65, b"\x01" * 64, b"\x02" * 70],
    ids=["empty", "zero", "short", "long"],
)
def test_malformed_signature_is_rejected(d: Deployment, signature: bytes) -> None:
    o = offer(d)
    with reverts("InvalidSignature", seller=d.seller):
        try_fill(d, o, signature, d.buyer)


TAMPER: dict[str, Any] = {
    "seller": "stranger",
    "buyer": "buyer",
    "token": "standard",
    "arbiter": "stranger",
    "amount": 10**18 - 1,
    "arbiterFeeBps": 99,
    "releaseWindow": 86401,
    "arbitrationWindow": 3600,
    "flags": 3,
    "termsHash": b"\x99" * 32,
    "nonce": None,
    "expiry": None,
}


@pytest.mark.parametrize("field", list(TAMPER))
def test_tampered_offer_field_invalidates_signature(d: Deployment, field: str) -> None:
    o = offer(d)
    sig = sign_offer(d, o)
    tampered = dict(o)
    value = TAMPER[field]
    if value in ("stranger", "buyer"):
        value = getattr(d, value)
    elif value == "standard":
        value = d.tokens["standard"].address
        approve(d, value, d.buyer, o["amount"])
    elif value is None:
        value = o[field] + 1
    tampered[field] = value
    seller = tampered["seller"]
    with reverts("InvalidSignature", seller=seller):
        try_fill(d, tampered, sig, d.buyer)


def test_tampered_platform_fee_is_rejected_by_signature(d: Deployment) -> None:
    o = offer(d)
    sig = sign_offer(d, o)
    with reverts("InvalidSignature", seller=d.seller):
        try_fill(d, dict(o, platformFeeBps=0), sig, d.buyer)


def test_offer_signed_before_a_fee_change_cannot_be_filled_after_it(d: Deployment) -> None:
    o = offer(d)
    sig = sign_offer(d, o)
    tx(d, d.escrow.functions.setPlatformFee(100), d.owner)
    with reverts("PlatformFeeMismatch", given=PLATFORM_FEE_BPS, current=100):
        try_fill(d, o, sig, d.buyer)


# -- expiry ----------------------------------------------------------------------------------------
def test_offer_is_valid_up_to_its_expiry_second(d: Deployment) -> None:
    expiry = next_time(d) + 1000
    o = offer(d, expiry=expiry)
    d.chain.set_next_timestamp(expiry)
    fill(d, o, sign_offer(d, o), d.buyer)
    assert d.state_of(terms_of_offer(o, d.buyer)) == "Funded"


def test_offer_is_invalid_one_second_after_expiry(d: Deployment) -> None:
    expiry = next_time(d) + 1000
    o = offer(d, expiry=expiry)
    d.chain.set_next_timestamp(expiry + 1)
    with reverts("OfferExpired", expiry=expiry):
        try_fill(d, o, sign_offer(d, o), d.buyer)


# -- nonces ----------------------------------------------------------------------------------------
def test_revoked_offer_cannot_be_filled(d: Deployment) -> None:
    o = offer(d)
    sig = sign_offer(d, o)
    r = tx(d, d.escrow.functions.revokeOffer(o["nonce"]), d.seller)
    e = one(d, r, "OfferRevoked")
    assert (e["seller"], e["nonce"]) == (d.seller, o["nonce"])
    assert d.escrow.functions.isNonceUsed(d.seller, o["nonce"]).call()
    with reverts("NonceUsed", seller=d.seller, nonce=o["nonce"]):
        try_fill(d, o, sig, d.buyer)
    with reverts("NonceUsed", seller=d.seller, nonce=o["nonce"]):
        d.send(d.escrow.functions.revokeOffer(o["nonce"]), d.seller)


def test_nonces_are_per_seller_and_per_bit(d: Deployment) -> None:
    used = d.escrow.functions.isNonceUsed
    for nonce in (0, 255, 256, 2**256 - 1):
        assert not used(d.seller, nonce).call()
    tx(d, d.escrow.functions.revokeOffer(255), d.seller)
    tx(d, d.escrow.functions.revokeOffer(2**256 - 1), d.seller)
    assert used(d.seller, 255).call() and used(d.seller, 2**256 - 1).call()
    assert (
        not used(d.seller, 0).call()
        and not used(d.seller, 254).call()
        and not used(d.seller, 256).call()
    )
    assert not used(d.stranger, 255).call()  # another seller's nonce space
    # a revocation by someone else does not touch the seller's nonce
    o = offer(d, nonce=7)
    tx(d, d.escrow.functions.revokeOffer(7), d.stranger)
    fill(d, o, sign_offer(d, o), d.buyer)
    assert used(d.seller, 7).call()
