"""Helpers of the relay's storage tests (tests/server/test_relay_*.py): a signed offer for the market
chain's seller, the chain's time, and an offer relayed straight into an index (no HTTP)."""

from __future__ import annotations

from typing import Any

from eth_utils import keccak
from sqlalchemy.orm import Session

from p2pescrow.core.offers import Offer as OfferStruct
from p2pescrow.core.offers import SignedOffer
from p2pescrow.market import relayed
from support.offers import offer, sign_offer


def signed_offer(m: Any, terms: bytes, **overrides: Any) -> tuple[SignedOffer, dict]:
    """An offer of the market chain's seller committing to ``terms``, signed; and its fields."""
    o = offer(m.d, termsHash=keccak(terms), **overrides)
    signature = sign_offer(m.d, o)
    return SignedOffer(OfferStruct(**o), signature, m.deployment.chain_id, m.d.escrow.address), o


def now(m: Any) -> int:
    """The chain's time: the latest block's timestamp."""
    return int(m.chain.w3.eth.get_block("latest")["timestamp"])


def relay(engine: Any, m: Any, signed: SignedOffer, terms: bytes) -> str:
    """Relay ``signed`` into the index at ``engine`` as the server would (committed); its offer id."""
    with Session(engine) as session, session.begin():
        listing = relayed.accept(session, m.deployment.chain_id, m.d.escrow.address,
                                 relayed.Submission(signed, terms), now=now(m))
    return listing.id
