"""Signed offers (EIP-712): the typed data, the compact JSON document, local verification, and the
terms document an offer's ``termsHash`` commits to.

A seller signs an :class:`Offer` for one chain and one escrow contract; the JSON document carries
both, so a buyer can check everything (signer, expiry, chain, contract) before spending gas.

The terms document is what the parties agree on off chain (what is sold, delivery, ...): canonical
JSON (RFC 8785, :mod:`p2pescrow.core.jcs`), whose keccak256 is the offer's and the trade's
``termsHash``. ``terms_document({...})`` gives its bytes (what ``publishOffer`` carries on chain),
``terms_hash(document)`` the hash; anyone can recompute both from the fields.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from eth_utils import is_address, keccak, to_checksum_address

from ..errors import InputError
from .jcs import CanonicalJsonError, canonical, parse

DOCUMENT_KIND = "p2pescrow-offer/2"
#: The offer documents of escrow v1 (no deposits, EIP-712 version "1"): recognised only to say so.
_V1_KIND = "p2pescrow-offer/1"

OFFER_FIELDS = [
    {"name": "seller", "type": "address"},
    {"name": "buyer", "type": "address"},
    {"name": "token", "type": "address"},
    {"name": "arbiter", "type": "address"},
    {"name": "amount", "type": "uint128"},
    {"name": "buyerDeposit", "type": "uint128"},
    {"name": "sellerDeposit", "type": "uint128"},
    {"name": "arbiterFeeBps", "type": "uint16"},
    {"name": "platformFeeBps", "type": "uint16"},
    {"name": "releaseWindow", "type": "uint32"},
    {"name": "arbitrationWindow", "type": "uint32"},
    {"name": "flags", "type": "uint8"},
    {"name": "termsHash", "type": "bytes32"},
    {"name": "nonce", "type": "uint256"},
    {"name": "expiry", "type": "uint64"},
]
DOMAIN_NAME, DOMAIN_VERSION = "P2PEscrow", "2"


class OfferError(InputError):
    """A malformed, tampered, expired or foreign offer document."""


@dataclass(frozen=True)
class Offer:
    """A seller's offer, field for field as the contract's ``Offer`` struct (amount and deposits in
    base units; ``buyer`` the zero address for anyone)."""

    seller: str
    buyer: str
    token: str
    arbiter: str
    amount: int
    buyerDeposit: int  # noqa: N815
    sellerDeposit: int  # noqa: N815
    arbiterFeeBps: int  # noqa: N815 - the EIP-712 field names, kept so the JSON matches the contract
    platformFeeBps: int  # noqa: N815
    releaseWindow: int  # noqa: N815
    arbitrationWindow: int  # noqa: N815
    flags: int
    termsHash: bytes  # noqa: N815
    nonce: int
    expiry: int

    def as_tuple(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f["name"]) for f in OFFER_FIELDS)


@dataclass(frozen=True)
class SignedOffer:
    """An offer with its signature and the chain and contract it was signed for."""

    offer: Offer
    signature: bytes
    chain_id: int
    escrow: str

    def typed_data(self) -> dict[str, Any]:
        return typed_data(self.offer, self.chain_id, self.escrow)

    def signer(self) -> str:
        """The address that produced the signature (EOA signatures; recovered locally)."""
        from eth_account import Account  # on first use: importing eth-account costs more than a read
        from eth_account.messages import encode_typed_data

        try:
            return str(Account.recover_message(encode_typed_data(full_message=self.typed_data()),
                                               signature=self.signature))
        except Exception as exc:  # noqa: BLE001 - any malformed signature
            raise OfferError(f"the offer's signature is malformed: {exc}") from None

    def to_json(self) -> str:
        """The compact document a seller publishes (one line, no whitespace)."""
        offer = asdict(self.offer)
        offer["termsHash"] = "0x" + self.offer.termsHash.hex()
        for name in ("amount", "buyerDeposit", "sellerDeposit", "nonce"):  # beyond 2^53: as strings
            offer[name] = str(offer[name])
        document = {"kind": DOCUMENT_KIND, "chainId": self.chain_id, "escrow": self.escrow,
                    "offer": offer, "signature": "0x" + self.signature.hex()}
        return json.dumps(document, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> SignedOffer:
        """Parse a document; any malformation is an :class:`OfferError` saying what is wrong."""
        try:
            doc = json.loads(text)
        except (json.JSONDecodeError, TypeError) as exc:
            raise OfferError(f"not an offer document: invalid JSON ({exc})") from None
        if isinstance(doc, dict) and doc.get("kind") == _V1_KIND:
            raise OfferError("this offer was signed for an escrow v1 contract, which this version no longer "
                             "uses: ask the seller for a new offer")
        if not isinstance(doc, dict) or doc.get("kind") != DOCUMENT_KIND:
            raise OfferError(f"not an offer document: expected kind {DOCUMENT_KIND!r}")
        try:
            raw = doc["offer"]
            values: dict[str, Any] = {}
            for f in fields(Offer):
                value = raw[f.name]
                if f.name in ("seller", "buyer", "token", "arbiter"):
                    if not is_address(value):
                        raise OfferError(f"offer field {f.name} is not an address: {value!r}")
                    value = to_checksum_address(value)
                elif f.name == "termsHash":
                    value = bytes.fromhex(value.removeprefix("0x"))
                    if len(value) != 32:
                        raise OfferError("offer field termsHash must be 32 bytes")
                else:
                    value = int(value)
                    if value < 0:
                        raise OfferError(f"offer field {f.name} is negative")
                values[f.name] = value
            signature = bytes.fromhex(str(doc["signature"]).removeprefix("0x"))
            escrow = doc["escrow"]
            if not is_address(escrow):
                raise OfferError(f"escrow is not an address: {escrow!r}")
            return cls(Offer(**values), signature, int(doc["chainId"]), to_checksum_address(escrow))
        except OfferError:
            raise
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise OfferError(f"malformed offer document: {type(exc).__name__} {exc}") from None


def typed_data(offer: Offer, chain_id: int, escrow: str) -> dict[str, Any]:
    """The EIP-712 message for ``offer`` on ``chain_id`` and contract ``escrow``."""
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"},
            ],
            "Offer": OFFER_FIELDS,
        },
        "primaryType": "Offer",
        "domain": {"name": DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": chain_id,
                   "verifyingContract": escrow},
        "message": {f["name"]: getattr(offer, f["name"]) for f in OFFER_FIELDS},
    }


def sign_offer(offer: Offer, chain_id: int, escrow: str, account: Any) -> SignedOffer:
    """Sign locally with an eth-account ``LocalAccount``: the key never leaves the process."""
    from eth_account.messages import encode_typed_data

    signed = account.sign_message(encode_typed_data(full_message=typed_data(offer, chain_id, escrow)))
    return SignedOffer(offer, bytes(signed.signature), chain_id, escrow)


# -- the terms document ---------------------------------------------------------------------------------
def terms_document(fields: Mapping[str, Any]) -> bytes:
    """The terms document of ``fields`` (a JSON object: strings, integers, booleans, null, lists,
    objects): canonical JSON per RFC 8785, UTF-8. Amounts beyond 2^53 must be strings.
    Raises :class:`OfferError` for what has no canonical form."""
    if not isinstance(fields, Mapping):
        raise OfferError(f"a terms document is a JSON object, not {type(fields).__name__}")
    try:
        return canonical(fields)
    except CanonicalJsonError as exc:
        raise OfferError(f"the terms document has no canonical JSON form: {exc}") from None


def canonical_document(document: bytes | str | Mapping[str, Any]) -> bytes:
    """A terms document given as fields, JSON text or bytes, in its canonical bytes (text is parsed
    and written again, so any JSON spelling of the same object gives the same bytes)."""
    if isinstance(document, Mapping):
        return terms_document(document)
    try:
        return terms_document(parse(document))
    except CanonicalJsonError as exc:
        raise OfferError(f"the terms document is not valid JSON: {exc}") from None
    except UnicodeDecodeError:
        raise OfferError("the terms document is not UTF-8 text") from None


def terms_hash(document: bytes | str | Mapping[str, Any]) -> bytes:
    """keccak256 of the canonical terms document: the ``termsHash`` an offer and its trade carry.
    Bytes are hashed as they are (they are the document, as published); fields and text are
    canonicalised first."""
    data = bytes(document) if isinstance(document, (bytes, bytearray)) else canonical_document(document)
    return keccak(data)


def is_canonical(document: bytes) -> bool:
    """Whether ``document`` is exactly the canonical form of the JSON object it holds."""
    try:
        return canonical_document(document) == bytes(document)
    except OfferError:
        return False


def published_offer(args: Mapping[str, Any], chain_id: int, escrow: str) -> tuple[SignedOffer, bytes]:
    """The signed offer and terms document of a decoded ``OfferPublished`` event (the offer board), once
    the document is checked: canonical JSON whose keccak256 is the offer's ``termsHash``. The event
    itself checks nothing; the signature is for the reader to check next (``signer()``, or
    :func:`p2pescrow.core.checks.check_offer_target`). Raises :class:`OfferError`."""
    raw = dict(args["offer"])
    values: dict[str, Any] = {}
    for f in fields(Offer):
        value = raw[f.name]
        if f.name == "termsHash":
            value = bytes.fromhex(value.removeprefix("0x")) if isinstance(value, str) else bytes(value)
        elif f.name in ("seller", "buyer", "token", "arbiter"):
            value = to_checksum_address(value)
        else:
            value = int(value)
        values[f.name] = value
    offer = Offer(**values)
    document = bytes.fromhex(args["terms"].removeprefix("0x")) if isinstance(args["terms"], str) \
        else bytes(args["terms"])
    signature = bytes.fromhex(args["signature"].removeprefix("0x")) if isinstance(args["signature"], str) \
        else bytes(args["signature"])
    if keccak(document) != offer.termsHash:
        raise OfferError("the published terms document is not the one the offer commits to (its keccak256 is not "
                         "the offer's termsHash)")
    if not is_canonical(document):
        raise OfferError("the published terms document is not canonical JSON (RFC 8785)")
    return SignedOffer(offer, signature, chain_id, to_checksum_address(escrow)), document
