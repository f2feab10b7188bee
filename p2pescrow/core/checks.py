"""Decisions a client takes before sending, from values it has already read (no I/O).

Both clients read what a check needs (the way they read differs: awaited or not) and hand the
values here, so a signed offer or a payment is judged by the same lines whatever the client.
"""

from __future__ import annotations

from datetime import UTC, datetime

from ..errors import InsufficientFunds
from ..models import TokenInfo
from .offers import OfferError, SignedOffer


def check_offer_target(signed: SignedOffer, chain_id: int, escrow: str) -> None:
    """The offer was signed for this chain and this escrow contract, by its seller."""
    if signed.chain_id != chain_id:
        raise OfferError(f"the offer is for chain id {signed.chain_id}, this network is {chain_id}")
    if signed.escrow != escrow:
        raise OfferError(f"the offer is for escrow {signed.escrow}, not {escrow}")
    if signed.signer() != signed.offer.seller:
        raise OfferError("the signature is not the seller's (tampered or wrong signer)")


def offer_digest(signed: SignedOffer) -> bytes:
    """The EIP-712 digest of ``signed``, as computed locally (the contract's ``offerDigest``)."""
    from eth_account.messages import _hash_eip191_message, encode_typed_data

    return bytes(_hash_eip191_message(encode_typed_data(full_message=signed.typed_data())))


def check_offer_state(signed: SignedOffer, *, contract_digest: bytes | str, latest_time: int, nonce_used: bool,
                      platform_fee_bps: int, buyer: str) -> None:
    """The offer can be filled by ``buyer`` now, given what was read from the chain: the contract
    computes the same digest, it has not expired, its nonce is unused, it names the platform fee in
    force, and it is open to anyone or reserved for ``buyer``."""
    offer = signed.offer
    if isinstance(contract_digest, str):  # the codec hands bytes32 out as 0x-hex
        contract_digest = bytes.fromhex(contract_digest.removeprefix("0x"))
    if bytes(contract_digest) != offer_digest(signed):
        raise OfferError("the contract computes another digest for this offer")
    # The fill lands in a later block, whose timestamp is at least the latest one's + 1: an offer
    # expiring at the latest block's time can no longer be filled.
    if latest_time >= offer.expiry:
        expired = datetime.fromtimestamp(offer.expiry, UTC).isoformat()
        raise OfferError(f"the offer expired at {expired} (no block after it can fill it)")
    if nonce_used:
        raise OfferError("the offer was already filled or revoked (nonce used)")
    if platform_fee_bps != offer.platformFeeBps:
        raise OfferError(f"the offer names a platform fee of {offer.platformFeeBps} bps; "
                         f"the fee is now {platform_fee_bps} bps")
    if int(offer.buyer, 16) != 0 and offer.buyer != buyer:
        raise OfferError(f"the offer is reserved for buyer {offer.buyer}")


def check_can_pay(token: TokenInfo, amount: int, balance: int) -> None:
    """Raise :class:`InsufficientFunds` (in the token's units) unless ``balance`` covers ``amount``."""
    if balance < amount:
        raise InsufficientFunds(f"{token.symbol} balance", f"{token.human(amount)} {token.symbol}",
                                f"{token.human(balance)} {token.symbol}")


__all__ = ["check_can_pay", "check_offer_state", "check_offer_target", "offer_digest"]
