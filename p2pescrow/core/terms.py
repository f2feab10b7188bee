"""Turning what a caller passes into contract arguments (no I/O): addresses, ids, hashes, terms.

Shared by the sync and async clients, so both validate and build exactly the same way.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from eth_abi.exceptions import DecodingError
from eth_utils import is_address, is_checksum_address, keccak, to_checksum_address

from ..errors import ContractError, InputError, InvalidAddress
from ..models import (
    FLAG_CREATED_BY_SELLER,
    FLAG_RECORD_REPUTATION,
    FLAG_TIMEOUT_RELEASES,
    ZERO_ADDRESS,
    Terms,
    TokenInfo,
    to_base_units,
)
from .jcs import CanonicalJsonError, canonical

if TYPE_CHECKING:  # offers imports eth-account (half a second): the fast read path needs none of it
    from .offers import Offer

DAY = 86_400


def checksum(value: str, what: str = "address") -> str:
    """A checksummed address, or :class:`InvalidAddress` (mixed case with a wrong checksum too)."""
    if not isinstance(value, str) or not is_address(value):
        raise InvalidAddress(str(value), f"not a 20-byte hex {what}")
    body = value[2:]
    if body != body.lower() and body != body.upper() and not is_checksum_address(value):
        raise InvalidAddress(value, "wrong EIP-55 checksum (a typo?)")
    return to_checksum_address(value)


def token_key(value: str | None) -> str:
    """A token as the caches key it: the zero address for ETH (None, "", "ETH"), else checksummed."""
    return ZERO_ADDRESS if value in (None, "", "ETH", "eth") else checksum(str(value), "token address")


#: What a ``symbol()``/``decimals()`` read raises when the address is no ERC-20 token: the call
#: reverted (no such function), or its answer does not decode (an address without code answers
#: ``0x``). Nothing else means that: the node not answering (:class:`~p2pescrow.errors.NodeUnreachable`)
#: or refusing the request is reported as it is, whatever the address.
NOT_A_TOKEN: tuple[type[Exception], ...] = (ContractError, DecodingError, UnicodeDecodeError)


def not_a_token(address: str, exc: BaseException) -> InputError:
    """The error for a token whose ``symbol``/``decimals`` raised one of :data:`NOT_A_TOKEN`."""
    return InputError(f"{address} does not look like an ERC-20 token ({type(exc).__name__})")


def bytes32(value: str | bytes | Mapping[str, Any] | None) -> bytes:
    """A 32-byte hash: given as bytes or 0x-hex, the keccak of a text, or of a terms document's fields
    in canonical JSON (RFC 8785, as :func:`p2pescrow.core.offers.terms_hash`); None: zero."""
    if value is None:
        return b"\0" * 32
    if isinstance(value, Mapping):
        try:
            return keccak(canonical(value))
        except CanonicalJsonError as exc:
            raise InputError(f"the terms document has no canonical JSON form: {exc}") from None
    if isinstance(value, bytes):
        if len(value) != 32:
            raise InputError("a hash must be 32 bytes")
        return value
    if value.startswith("0x") and len(value) == 66:
        return bytes.fromhex(value[2:])
    return keccak(text=value)


def normalise_id(value: str) -> str:
    """A trade id as lower-case 0x-hex, or :class:`InputError`."""
    text = value.lower() if isinstance(value, str) else ""
    if not text.startswith("0x"):
        text = "0x" + text
    if len(text) != 66 or any(c not in "0123456789abcdef" for c in text[2:]):
        raise InputError(f"not a trade id: {value!r} (expected 0x and 64 hex digits)")
    return text


def flags(*, timeout_releases: bool, record_reputation: bool, created_by_seller: bool) -> int:
    return ((FLAG_TIMEOUT_RELEASES if timeout_releases else 0)
            | (FLAG_RECORD_REPUTATION if record_reputation else 0)
            | (FLAG_CREATED_BY_SELLER if created_by_seller else 0))


def deposit_units(value: Decimal | str | int | None, token: TokenInfo) -> int:
    """A deposit in the token's units (None: none) as base units; zero is allowed, negative is not."""
    return 0 if value is None else to_base_units(value, token.decimals, allow_zero=True)


def new_terms(me: str, token: TokenInfo, platform_fee_bps: int, *, amount: Decimal | str | int,
              buyer_deposit: Decimal | str | int | None = None, seller_deposit: Decimal | str | int | None = None,
              buyer: str | None = None, seller: str | None = None, arbiter: str | None = None,
              arbiter_fee_bps: int = 0, funding_window: int = DAY, release_window: int = 3 * DAY,
              arbitration_window: int = 7 * DAY, timeout_releases: bool = False,
              record_reputation: bool = True, terms: str | bytes | Mapping[str, Any] | None = None,
              salt: int | None = None) -> Terms:
    """Terms of a new trade in which ``me`` is the buyer (``seller`` given) or the seller (``buyer``).
    ``amount`` and the deposits are in the token's units, like every amount a caller passes."""
    if (buyer is None) == (seller is None):
        raise InputError("name the counterparty: seller=... (you buy) or buyer=... (you sell)")
    # `is not None`: an empty string is a typo to report, not "myself"
    buyer_addr = checksum(buyer) if buyer is not None else me
    seller_addr = checksum(seller) if seller is not None else me
    return Terms(
        buyer=buyer_addr, seller=seller_addr, token=token.address,
        arbiter=checksum(arbiter) if arbiter else ZERO_ADDRESS,
        amount=to_base_units(amount, token.decimals), buyer_deposit=deposit_units(buyer_deposit, token),
        seller_deposit=deposit_units(seller_deposit, token), arbiter_fee_bps=arbiter_fee_bps,
        platform_fee_bps=platform_fee_bps, funding_window=funding_window, release_window=release_window,
        arbitration_window=arbitration_window,
        flags=flags(timeout_releases=timeout_releases, record_reputation=record_reputation,
                    created_by_seller=seller_addr == me),
        terms_hash=bytes32(terms), salt=salt if salt is not None else secrets.randbits(64),
    )


def offer_terms(offer: Offer, buyer: str) -> Terms:
    """The terms the contract builds when ``buyer`` fills ``offer``."""
    return Terms(buyer, offer.seller, offer.token, offer.arbiter, offer.amount, offer.buyerDeposit,
                 offer.sellerDeposit, offer.arbiterFeeBps, offer.platformFeeBps, 0, offer.releaseWindow,
                 offer.arbitrationWindow, offer.flags | FLAG_CREATED_BY_SELLER, offer.termsHash, offer.nonce)
