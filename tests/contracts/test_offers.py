"""EIP-712 signed offers: a seller signs off chain, a buyer fills (creates and funds) in one
transaction."""

from __future__ import annotations

from typing import Any

import pytest
from eth_utils import keccak
from support.escrow import (
    ETH,
    MARK_RECORDS,
    MARK_SELLER_ACTED,
    PLATFORM_FEE_BPS,
    STATE,
    Deployment,
    fee_up,
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


def one(deployed: Deployment, receipt: dict[str, Any], name: str) -> Any:
    found = deployed.events(receipt, name)
    assert len(found) == 1, f"expected one {name}, got {found}"
    return found[0]


def value_of(o: dict[str, Any]) -> int:
    """msg.value a fill needs: price + buyer's deposit in ETH, nothing for a token."""
    return o["amount"] + o["buyerDeposit"] if o["token"] == ETH else 0


def fill(deployed: Deployment, o: dict[str, Any], signature: bytes, buyer: str) -> dict[str, Any]:
    return tx(deployed, deployed.escrow.functions.fillOffer(o, signature), buyer, value_of(o))


def try_fill(deployed: Deployment, o: dict[str, Any], signature: bytes, buyer: str) -> None:
    """Fill through gas estimation, so that a revert surfaces with its error."""
    deployed.send(deployed.escrow.functions.fillOffer(o, signature), buyer, value_of(o))


# -- digest ----------------------------------------------------------------------------------------
def test_python_digest_equals_contract_offer_digest(deployed: Deployment) -> None:
    o = offer(
        deployed,
        buyer=deployed.buyer,
        token=deployed.tokens["standard"].address,
        nonce=2**200 + 5,
        termsHash=b"\xab" * 32,
    )
    assert deployed.escrow.functions.OFFER_TYPEHASH().call() == offer_typehash()
    assert deployed.escrow.functions.offerDigest(o).call() == offer_digest(deployed, o)
    domain_type = (
        "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    )
    domain = keccak(
        keccak(text=domain_type)
        + keccak(text="P2PEscrow")
        + keccak(text="2")
        + deployed.chain.w3.eth.chain_id.to_bytes(32, "big")
        + bytes(12)
        + bytes.fromhex(deployed.escrow.address[2:])
    )
    assert deployed.escrow.functions.domainSeparator().call() == domain
    # every field is part of the digest
    for name, typ in OFFER_FIELDS:
        changed = dict(o)
        if typ == "address":
            changed[name] = deployed.stranger
        elif typ == "bytes32":
            changed[name] = b"\x01" * 32
        else:
            changed[name] = o[name] + 1
        assert offer_digest(deployed, changed) != offer_digest(deployed, o), name
        assert deployed.escrow.functions.offerDigest(changed).call() == offer_digest(deployed, changed), name


# -- filling ---------------------------------------------------------------------------------------
def test_anyone_can_fill_an_open_offer_seller_pays_no_gas(deployed: Deployment) -> None:
    o = offer(deployed)  # buyer = 0: anyone
    sig = sign_offer(deployed, o)
    seller_eth = balance_of(deployed, ETH, deployed.seller)
    filler = deployed.stranger
    r = fill(deployed, o, sig, filler)
    t = terms_of_offer(o, filler)
    tid = trade_id(t)
    e = one(deployed, r, "OfferFilled")
    assert (e["seller"], e["nonce"], e["id"]) == (deployed.seller, o["nonce"], tid)
    created = one(deployed, r, "TradeCreated")
    assert (created["id"], created["buyer"], created["seller"], created["held"]) == (
        tid,
        filler,
        deployed.seller,
        o["amount"],
    )
    assert dict(created["terms"]) == t
    assert deployed.state_of(t) == "Funded" and deployed.escrow_of(t)["held"] == o["amount"]
    assert deployed.escrow.functions.isNonceUsed(deployed.seller, o["nonce"]).call()
    assert balance_of(deployed, ETH, deployed.seller) == seller_eth  # the seller sent no transaction
    assert balance_of(deployed, ETH, deployed.escrow.address) == o["amount"]
    # the trade goes on like any other: the filler is its buyer
    tx(deployed, deployed.escrow.functions.release(t, o["amount"]), filler)
    assert deployed.state_of(t) == "Completed"
    assert (
        balance_of(deployed, ETH, deployed.seller)
        == seller_eth + o["amount"] - fee_up(o["amount"], PLATFORM_FEE_BPS)
    )


def test_reserved_offer_can_be_filled_only_by_its_buyer(deployed: Deployment) -> None:
    o = offer(deployed, buyer=deployed.buyer)
    sig = sign_offer(deployed, o)
    with reverts("NotOfferBuyer", buyer=deployed.buyer):
        try_fill(deployed, o, sig, deployed.stranger)
    assert not deployed.escrow.functions.isNonceUsed(deployed.seller, o["nonce"]).call()
    fill(deployed, o, sig, deployed.buyer)
    assert deployed.state_of(terms_of_offer(o, deployed.buyer)) == "Funded"


def test_erc20_offer_fill_pulls_tokens_from_the_filler(deployed: Deployment) -> None:
    token = deployed.tokens["six_decimals"]
    o = offer(deployed, token=token.address, amount=250 * 10**6)
    sig = sign_offer(deployed, o)
    approve(deployed, token.address, deployed.buyer, o["amount"])
    before = balance_of(deployed, token.address, deployed.buyer)
    seller_eth = balance_of(deployed, ETH, deployed.seller)
    fill(deployed, o, sig, deployed.buyer)
    t = terms_of_offer(o, deployed.buyer)
    assert deployed.state_of(t) == "Funded" and deployed.escrow_of(t)["held"] == o["amount"]
    assert balance_of(deployed, token.address, deployed.buyer) == before - o["amount"]
    assert balance_of(deployed, token.address, deployed.escrow.address) == o["amount"]
    assert balance_of(deployed, ETH, deployed.seller) == seller_eth


def test_permit_offer_fill_is_one_transaction_without_approve(deployed: Deployment) -> None:
    token = deployed.tokens["permit"]
    o = offer(deployed, token=token.address, amount=42 * 10**18, buyer=deployed.buyer)
    sig = sign_offer(deployed, o)
    permit = sign_permit(deployed, token, deployed.buyer, deployed.escrow.address, o["amount"],
                         next_time(deployed) + 600)
    assert token.functions.allowance(deployed.buyer, deployed.escrow.address).call() == 0
    before = balance_of(deployed, token.address, deployed.buyer)
    seller_eth = balance_of(deployed, ETH, deployed.seller)
    block = deployed.chain.w3.eth.block_number
    r = tx(deployed, deployed.escrow.functions.fillOfferWithPermit(o, sig, permit), deployed.buyer)
    assert r["blockNumber"] == block + 1
    t = terms_of_offer(o, deployed.buyer)
    assert one(deployed, r, "OfferFilled")["id"] == trade_id(t)
    assert deployed.state_of(t) == "Funded"
    assert balance_of(deployed, token.address, deployed.buyer) == before - o["amount"]
    assert token.functions.allowance(deployed.buyer, deployed.escrow.address).call() == 0
    assert balance_of(deployed, ETH, deployed.seller) == seller_eth


def test_offer_with_reputation_off_and_release_policy_keeps_its_flags(deployed: Deployment) -> None:
    o = offer(deployed, flags=1)
    fill(deployed, o, sign_offer(deployed, o), deployed.buyer)
    t = terms_of_offer(o, deployed.buyer)
    assert t["flags"] == 1 | 4
    deployed.chain.set_next_timestamp(deployed.escrow_of(t)["deadline"])
    tx(deployed, deployed.escrow.functions.timeout(t), deployed.stranger)
    assert deployed.escrow_of(t)["state"] == STATE["Completed"]
    assert deployed.record(deployed.seller)["completed"] == 0  # reputation flag off


def test_filled_offer_is_the_sellers_consent_and_records_without_another_transaction(deployed: Deployment) -> None:
    o = offer(deployed)  # reputation on
    fill(deployed, o, sign_offer(deployed, o), deployed.buyer)
    t = terms_of_offer(o, deployed.buyer)
    assert deployed.escrow_of(t)["marks"] == MARK_RECORDS | MARK_SELLER_ACTED  # the signature is its act
    tx(deployed, deployed.escrow.functions.release(t, o["amount"]), deployed.buyer)
    assert deployed.record(deployed.seller)["completed"] == 1
    assert deployed.record(deployed.buyer, role="Buyer")["completed"] == 1


# -- replay and forgery ----------------------------------------------------------------------------
def test_same_offer_cannot_be_filled_twice(deployed: Deployment) -> None:
    o = offer(deployed)
    sig = sign_offer(deployed, o)
    fill(deployed, o, sig, deployed.buyer)
    with reverts("NonceUsed", seller=deployed.seller, nonce=o["nonce"]):
        try_fill(deployed, o, sig, deployed.stranger)
    with reverts("NonceUsed", seller=deployed.seller, nonce=o["nonce"]):
        try_fill(deployed, o, sig, deployed.buyer)


def test_signature_is_bound_to_the_escrow_contract(deployed: Deployment) -> None:
    other = deployed.chain.deploy("P2PEscrow", deployed.owner, deployed.fee_recipient, PLATFORM_FEE_BPS)
    o = offer(deployed)
    sig = sign_offer(deployed, o)  # for d.escrow
    assert other.functions.offerDigest(o).call() != deployed.escrow.functions.offerDigest(o).call()
    with reverts("InvalidSignature", seller=deployed.seller):
        deployed.send(other.functions.fillOffer(o, sig), deployed.buyer, o["amount"])
    # the same offer signed for the other deployment fills there
    tx(
        deployed,
        other.functions.fillOffer(o, sign_offer(deployed, o, verifying_contract=other.address)),
        deployed.buyer,
        o["amount"],
    )
    assert other.functions.isNonceUsed(deployed.seller, o["nonce"]).call()
    assert not deployed.escrow.functions.isNonceUsed(deployed.seller, o["nonce"]).call()


def test_signature_for_another_chain_is_rejected(deployed: Deployment) -> None:
    o = offer(deployed)
    sig = sign_offer(deployed, o, chain_id=1)
    with reverts("InvalidSignature", seller=deployed.seller):
        try_fill(deployed, o, sig, deployed.buyer)


def test_signature_by_someone_other_than_the_seller_is_rejected(deployed: Deployment) -> None:
    o = offer(deployed)
    sig = sign_offer(deployed, o, signer=deployed.stranger)
    with reverts("InvalidSignature", seller=deployed.seller):
        try_fill(deployed, o, sig, deployed.buyer)


@pytest.mark.parametrize(
    "signature",
    [b"", b"\x00" * 65, b"\x01" * 64, b"\x02" * 70],
    ids=["empty", "zero", "short", "long"],
)
def test_malformed_signature_is_rejected(deployed: Deployment, signature: bytes) -> None:
    o = offer(deployed)
    with reverts("InvalidSignature", seller=deployed.seller):
        try_fill(deployed, o, signature, deployed.buyer)


TAMPER: dict[str, Any] = {
    "seller": "stranger",
    "buyer": "buyer",
    "token": "standard",
    "arbiter": "stranger",
    "amount": 10**18 - 1,
    "buyerDeposit": 1,
    "sellerDeposit": 1,
    "arbiterFeeBps": 99,
    "releaseWindow": 86401,
    "arbitrationWindow": 3600,
    "flags": 3,
    "termsHash": b"\x99" * 32,
    "nonce": None,
    "expiry": None,
}


@pytest.mark.parametrize("field", list(TAMPER))
def test_tampered_offer_field_invalidates_signature(deployed: Deployment, field: str) -> None:
    o = offer(deployed)
    sig = sign_offer(deployed, o)
    tampered = dict(o)
    value = TAMPER[field]
    if value in ("stranger", "buyer"):
        value = getattr(deployed, value)
    elif value == "standard":
        value = deployed.tokens["standard"].address
        approve(deployed, value, deployed.buyer, o["amount"])
    elif value is None:
        value = o[field] + 1
    tampered[field] = value
    seller = tampered["seller"]
    with reverts("InvalidSignature", seller=seller):
        try_fill(deployed, tampered, sig, deployed.buyer)


def test_tampered_platform_fee_is_rejected_by_signature(deployed: Deployment) -> None:
    o = offer(deployed)
    sig = sign_offer(deployed, o)
    with reverts("InvalidSignature", seller=deployed.seller):
        try_fill(deployed, dict(o, platformFeeBps=0), sig, deployed.buyer)


def test_offer_signed_before_a_fee_change_cannot_be_filled_after_it(deployed: Deployment) -> None:
    o = offer(deployed)
    sig = sign_offer(deployed, o)
    tx(deployed, deployed.escrow.functions.setPlatformFee(100), deployed.owner)
    with reverts("PlatformFeeMismatch", given=PLATFORM_FEE_BPS, current=100):
        try_fill(deployed, o, sig, deployed.buyer)


# -- expiry ----------------------------------------------------------------------------------------
def test_offer_is_valid_up_to_its_expiry_second(deployed: Deployment) -> None:
    expiry = next_time(deployed) + 1000
    o = offer(deployed, expiry=expiry)
    deployed.chain.set_next_timestamp(expiry)
    fill(deployed, o, sign_offer(deployed, o), deployed.buyer)
    assert deployed.state_of(terms_of_offer(o, deployed.buyer)) == "Funded"


def test_offer_is_invalid_one_second_after_expiry(deployed: Deployment) -> None:
    expiry = next_time(deployed) + 1000
    o = offer(deployed, expiry=expiry)
    deployed.chain.set_next_timestamp(expiry + 1)
    with reverts("OfferExpired", expiry=expiry):
        try_fill(deployed, o, sign_offer(deployed, o), deployed.buyer)


# -- nonces ----------------------------------------------------------------------------------------
def test_revoked_offer_cannot_be_filled(deployed: Deployment) -> None:
    o = offer(deployed)
    sig = sign_offer(deployed, o)
    r = tx(deployed, deployed.escrow.functions.revokeOffer(o["nonce"]), deployed.seller)
    e = one(deployed, r, "OfferRevoked")
    assert (e["seller"], e["nonce"]) == (deployed.seller, o["nonce"])
    assert deployed.escrow.functions.isNonceUsed(deployed.seller, o["nonce"]).call()
    with reverts("NonceUsed", seller=deployed.seller, nonce=o["nonce"]):
        try_fill(deployed, o, sig, deployed.buyer)
    with reverts("NonceUsed", seller=deployed.seller, nonce=o["nonce"]):
        deployed.send(deployed.escrow.functions.revokeOffer(o["nonce"]), deployed.seller)


def test_nonces_are_per_seller_and_per_bit(deployed: Deployment) -> None:
    used = deployed.escrow.functions.isNonceUsed
    for nonce in (0, 255, 256, 2**256 - 1):
        assert not used(deployed.seller, nonce).call()
    tx(deployed, deployed.escrow.functions.revokeOffer(255), deployed.seller)
    tx(deployed, deployed.escrow.functions.revokeOffer(2**256 - 1), deployed.seller)
    assert used(deployed.seller, 255).call() and used(deployed.seller, 2**256 - 1).call()
    assert (
        not used(deployed.seller, 0).call()
        and not used(deployed.seller, 254).call()
        and not used(deployed.seller, 256).call()
    )
    assert not used(deployed.stranger, 255).call()  # another seller's nonce space
    # a revocation by someone else does not touch the seller's nonce
    o = offer(deployed, nonce=7)
    tx(deployed, deployed.escrow.functions.revokeOffer(7), deployed.stranger)
    fill(deployed, o, sign_offer(deployed, o), deployed.buyer)
    assert used(deployed.seller, 7).call()
