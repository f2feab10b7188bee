"""The gas-free offer relay: ``POST /api/relay``.

A seller who would rather not pay gas to publish posts the signed offer and its terms document here:

    POST /api/relay
    {"offer": <the signed offer document, as `p2pescrow offer create --out FILE` writes it>,
     "document": <its terms document: the JSON object, or its canonical JSON text>}

    201 {"offer_id": "0x...", "relayed": true}

The offer is checked as a board post is (the signature recovers to the seller under this chain id and
escrow, the document is canonical JSON hashing to ``termsHash``, the listing fields fit), and must be
fillable now by the market search's own rules (not expired, the nonce unused, the current platform
fee, the seller's free bond covering its deposit): :func:`p2pescrow.market.relayed.accept`. Then it
is in the index, and search lists it with ``relayed: true`` until it is filled, revoked or expires;
published on the board (``p2pescrow market publish-relayed``, the operator paying the gas), it
becomes an on-chain offer.

Answers: 400 with the reason (malformed, forged, foreign, not fillable), 409 when the index already
has the offer (relayed or published), 413 for a body over the server's bound (the app's middleware,
before anything reads it), 429 with ``Retry-After`` when the client's address or the seller has used
up its rate (token buckets of ``settings.relay_rate`` offers a minute each; the seller's is charged
only for a new offer with the seller's own signature, so neither forged offers nor replays of the
seller's public ones can spend it), and 429 too when the seller already has
``settings.relay_max_per_seller`` relayed offers open (counted in the index: off the board, neither
filled, revoked nor expired), ``Retry-After`` then saying when the soonest of them expires. A cap is a
quota that frees itself as the seller's offers end, not a fault of the offer, so 429 (retry later) rather
than 400 (fix the request): a client that backs off on 429 does the right thing, and the hint says how to
free a place sooner. The count and the insert are one critical section per server process, and on
PostgreSQL hold an advisory lock on the seller too, so the cap holds under concurrent requests, to one
server or to several sharing the database.

Relayed offers that ended (expired, filled, revoked) are deleted ``settings.relay_keep`` seconds later
by the background loop (:func:`p2pescrow.market.relayed.prune`).
"""

from __future__ import annotations

import json
import math
import threading
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from .state import ApiError, ErrorBody, ServedMarket, get_served

__all__ = ["RELAY_BODY_SCHEMA", "RateLimits", "TokenBucket", "router"]

router = APIRouter(prefix="/api", tags=["relay"])

Served = Annotated[ServedMarket, Depends(get_served)]

#: Buckets kept per limit before the full (idle) ones are dropped: a flood of addresses cannot grow
#: the server's memory without bound.
MAX_BUCKETS = 10_000

#: The request body, for the OpenAPI document (the route reads and checks the body itself, so that
#: malformed JSON is a 400 saying so).
RELAY_BODY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["offer"],
    "properties": {
        "offer": {"type": "object", "description": "The signed offer document, as `p2pescrow offer create "
                                                   "--out FILE` writes it (kind, chainId, escrow, offer, "
                                                   "signature; its terms too, if no document is given)."},
        "document": {"description": "The terms document the offer's termsHash commits to: the JSON object, "
                                    "or its canonical JSON text (RFC 8785).",
                     "anyOf": [{"type": "object"}, {"type": "string"}]},
    },
}


class Relayed(BaseModel):
    """A relayed offer, accepted: search lists it now, marked relayed."""

    offer_id: str = Field(description="The offer's id (its EIP-712 digest): GET /api/offers/{offer_id}.")
    relayed: bool = Field(True, description="Always true: listed as relayed until published on the board.")


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


# -- rate limits ---------------------------------------------------------------------------------------
class TokenBucket:
    """Token buckets by key (a client's address, a seller): each holds up to ``capacity`` tokens and
    gains ``capacity`` a minute; a request takes one or is refused with the seconds until one is back."""

    def __init__(self, per_minute: int, *, clock: Any = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float | None:
        """Take a token from ``key``'s bucket: None if there was one, else the seconds to wait."""
        with self._lock:
            now = self.clock()
            tokens, then = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - then) * self.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                self._forget_idle(now)
                return None
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate

    def _forget_idle(self, now: float) -> None:
        """Past :data:`MAX_BUCKETS` keys: drop the full buckets (a new one is the same), and if that is not
        enough, the least recently used down to three quarters of the bound (a flood of addresses can
        then win a few tokens back, never grow the server's memory)."""
        if len(self._buckets) <= MAX_BUCKETS:
            return
        full = [k for k, (tokens, then) in self._buckets.items()
                if tokens + (now - then) * self.rate >= self.capacity]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) > MAX_BUCKETS:
            keep = sorted(self._buckets.items(), key=lambda item: item[1][1])[-(MAX_BUCKETS * 3 // 4):]
            self._buckets = dict(keep)


class RateLimits:
    """The relay's two limits: per client address and per seller."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self.clients = TokenBucket(per_minute)
        self.sellers = TokenBucket(per_minute)


_limits_lock = threading.Lock()
#: Held while an offer is counted against its seller's cap and stored.
_accepting = threading.Lock()


def _limits(request: Request, served: ServedMarket) -> RateLimits:
    """The app's rate limits (made on first use from the settings)."""
    state = request.app.state
    with _limits_lock:
        limits = getattr(state, "relay_limits", None)
        if limits is None:
            limits = state.relay_limits = RateLimits(served.settings.relay_rate)
    return limits


def _too_many(wait: float, who: str, per_minute: int) -> ApiError:
    seconds = max(1, math.ceil(wait))
    return ApiError(429, f"too many relayed offers from {who}: at most {per_minute} a minute",
                    f"retry in {seconds} s", headers={"Retry-After": str(seconds)})


# -- the route -----------------------------------------------------------------------------------------
@router.post(
    "/relay",
    status_code=201,
    response_model=Relayed,
    summary="Relay a signed offer (no gas)",
    responses={
        400: _error("Not a valid offer of this market, or one no buyer could fill now: the error says why."),
        409: _error("The index already lists this offer (relayed before, or on the board)."),
        413: _error("The request body is larger than the server reads."),
        429: _error("Too many relayed offers from this client or for this seller, or the seller has as many "
                    "open as the server lists: see Retry-After."),
        503: _error("The index cannot be written right now."),
    },
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
        "schema": RELAY_BODY_SCHEMA}}}},
)
async def relay(request: Request, served: Served) -> Relayed:
    """Take a seller's signed offer and its terms document, check it as a board post would be (signature,
    chain, escrow, terms hash) and fillable now (the search's rules), and list it, marked relayed. The
    offer is public once accepted: whoever reads the market sees it, and the operator may publish it on
    the board."""
    limits = _limits(request, served)
    client = request.client.host if request.client is not None else "unknown"
    wait = limits.clients.take(f"client:{client}")
    if wait is not None:
        raise _too_many(wait, f"this client ({client})", limits.per_minute)
    raw = await request.body()
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, f"the request body is not JSON: {exc}",
                       'post {"offer": <the signed offer document>, "document": <its terms>}') from None
    return await run_in_threadpool(_accept, served, limits, body)


def _accept(served: ServedMarket, limits: RateLimits, body: Any) -> Relayed:
    from sqlalchemy.exc import IntegrityError, OperationalError

    from ..market import relayed

    def admit(seller: str) -> None:
        wait = limits.sellers.take(f"seller:{seller}")
        if wait is not None:
            raise _too_many(wait, f"seller {seller}", limits.per_minute)

    try:
        submission = relayed.read_submission(body)
        with _accepting, served.session() as session, session.begin():  # the cap's count and the insert
            listing = relayed.accept(session, served.chain_id, served.escrow, submission, now=served.now(),
                                     admit=admit, max_open=served.settings.relay_max_per_seller)
    except relayed.TooManyOpen as exc:
        raise ApiError(429, str(exc), exc.hint, headers={"Retry-After": str(exc.retry_after)}) from None
    except relayed.RelayRefused as exc:
        raise ApiError(exc.status, str(exc), exc.hint) from None
    except IntegrityError:  # the same offer relayed at the same moment by another request
        raise ApiError(409, "this offer is known: relayed already", "search for it: nothing to relay") from None
    except OperationalError:
        raise ApiError(503, "the market index cannot be written right now", "try again in a moment") from None
    return Relayed(offer_id=listing.id)
