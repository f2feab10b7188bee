"""The offer board's posts, checked before the index believes them.

``publishOffer`` stores and checks nothing: anyone can post any bytes. :func:`verify_post` turns a
decoded ``OfferPublished`` event into a :class:`Listing` (the signed offer, its id, the terms
document and the listing fields read from it) or raises :class:`RejectedPost` saying why it is not a
valid offer of this chain and escrow:

- the terms document is larger than :data:`MAX_DOCUMENT` bytes;
- its keccak256 is not the offer's ``termsHash``;
- it is not UTF-8 JSON, not a JSON object, or not canonical JSON (RFC 8785);
- it holds a NUL character (no text column of PostgreSQL can store one);
- a listing field has the wrong type or is too long for its column;
- the signature does not recover to the seller under this chain id and escrow (EIP-712 domain): a
  forgery, a tampered offer, or an offer signed for another chain or another escrow.

No I/O: the caller decodes the log and records the outcome.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eth_utils import keccak

from ..core.checks import offer_digest
from ..core.jcs import CanonicalJsonError, parse
from ..core.offers import OfferError, SignedOffer, is_canonical, published_offer

__all__ = ["MAX_DOCUMENT", "MAX_FIELD", "Listing", "RejectedPost", "verify_post"]

#: The largest terms document indexed, in bytes (a listing's title, description and terms fit easily).
MAX_DOCUMENT = 16 * 1024
#: The longest category, payment method or fiat price (their columns' width).
MAX_FIELD = 64
#: The listing fields a terms document may carry, read into the offers table.
TEXT_FIELDS = ("title", "description", "category", "payment_method", "fiat_price")


class RejectedPost(ValueError):
    """A board post that is not a valid offer for this chain and escrow; the message says why."""


@dataclass(frozen=True)
class Listing:
    """A verified board post: the signed offer, its id (EIP-712 digest), the document and its fields."""

    signed: SignedOffer
    id: str
    document: str
    fields: dict[str, Any]


def _bytes(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return bytes.fromhex(str(value).removeprefix("0x"))


def _has_nul(value: Any) -> bool:
    """Whether a parsed JSON value holds U+0000 in any string or member name (escaped as \\u0000 in
    the text, it would reach a column as a raw NUL, which PostgreSQL's text refuses)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _fields(document: Mapping[str, Any]) -> dict[str, Any]:
    """The listing fields of a terms document (absent ones empty); wrong types are rejected."""
    out: dict[str, Any] = {}
    for name in TEXT_FIELDS:
        value = document.get(name, "")
        if not isinstance(value, str):
            raise RejectedPost(f"the terms document's {name!r} is not a string")
        if name not in ("title", "description") and len(value) > MAX_FIELD:
            raise RejectedPost(f"the terms document's {name!r} is longer than {MAX_FIELD} characters")
        out[name] = value
    tags = document.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise RejectedPost("the terms document's 'tags' is not a list of strings")
    out["tags"] = tags
    return out


def verify_post(args: Mapping[str, Any], chain_id: int, escrow: str) -> Listing:
    """The listing of a decoded ``OfferPublished`` event's arguments, or :class:`RejectedPost`."""
    try:
        terms = _bytes(args["terms"])
        signature = _bytes(args["signature"])
        terms_hash = _bytes(args["offer"]["termsHash"])
    except (KeyError, TypeError, ValueError) as exc:
        raise RejectedPost(f"malformed post: {type(exc).__name__} {exc}") from None
    if len(terms) > MAX_DOCUMENT:
        raise RejectedPost(f"the terms document is {len(terms)} bytes, more than the {MAX_DOCUMENT} indexed")
    if keccak(terms) != terms_hash:
        raise RejectedPost("the terms document does not hash to the offer's termsHash")
    try:
        text = terms.decode("utf-8")
    except UnicodeDecodeError:
        raise RejectedPost("the terms document is not UTF-8 text (garbage bytes)") from None
    try:
        document = parse(text)
    except (CanonicalJsonError, ValueError, RecursionError) as exc:
        raise RejectedPost(f"the terms document is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise RejectedPost(f"the terms document is a JSON {type(document).__name__}, not an object")
    if not is_canonical(terms):
        raise RejectedPost("the terms document is not canonical JSON (RFC 8785)")
    if _has_nul(document):
        raise RejectedPost("the terms document holds a NUL character")
    listing_fields = _fields(document)
    try:
        signed, _ = published_offer({**args, "terms": terms, "signature": signature}, chain_id, escrow)
    except OfferError as exc:
        raise RejectedPost(str(exc)) from None
    except (KeyError, TypeError, ValueError) as exc:
        raise RejectedPost(f"malformed offer: {type(exc).__name__} {exc}") from None
    try:
        signer = signed.signer()
    except OfferError as exc:
        raise RejectedPost(f"bad signature: {exc}") from None
    if signer != signed.offer.seller:
        raise RejectedPost(
            f"bad signature: it is not the seller's for chain {chain_id} and escrow {signed.escrow} "
            f"(recovers to {signer}: forged, tampered, or signed for another chain or escrow)")
    return Listing(signed, "0x" + offer_digest(signed).hex(), text, listing_fields)
