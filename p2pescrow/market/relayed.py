"""Relayed offers: signed offers a seller hands to a market server instead of paying gas to publish them.

    from p2pescrow.market import relayed

    submission = relayed.read_submission(body)                 # {"offer": ..., "document": ...}
    with Session(engine) as session, session.begin():
        listing = relayed.accept(session, chain_id, escrow, submission, now=now)

A relayed offer is checked as a board post is (:func:`p2pescrow.market.board.verify_post`: the
signature recovers to the seller under this chain id and escrow, the terms document is canonical JSON
hashing to the offer's ``termsHash``, the listing fields fit) and must be fillable now by the very
rules :func:`p2pescrow.market.queries.search` lists offers by (open, not expired, the nonce unused, the
current platform fee, the seller's free bond covering its deposit): it is inserted, asked about through
:func:`~p2pescrow.market.queries.offer`, and refused (the caller's transaction rolled back) unless
fillable. An offer the index already holds, relayed or published, is :class:`AlreadyKnown`.

Where it is kept:

- ``relayed_offers`` (:class:`~p2pescrow.market.schema.RelayedOffer`) holds what the relay accepted.
  It is not the chain's, so no rewind touches it.
- ``offers`` gets a row with ``source`` ``relayed``: search lists it (``relayed: true`` in
  ``OfferHit.to_json()``), the sync marks it filled or revoked like any other from the escrow's
  events. When the same offer is published on the board the sync turns that row into an on-chain one
  (``source`` board, the block and transaction of the post); when a reorg rewinds that publication
  away, :func:`restore` (called by the rewind) puts the relayed row back.

``publish-relayed`` (the operator, paying gas) reads :func:`pending`: the relayed offers not on the
board yet.

Retention: relayed offers cost their sellers nothing, so the index keeps them only while they matter.
:func:`prune` deletes those nobody can fill any more (expired, filled or revoked) whose end lies more
than ``keep_seconds`` back by the chain's time, both rows; a server runs it after each sync. An offer
on the board is the chain's and never pruned. :func:`open_count` is what a server's cap on open
relayed offers per seller counts.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy import text as sql
from sqlalchemy.orm import Session

from ..core.offers import OFFER_FIELDS, OfferError, SignedOffer, canonical_document, terms_document
from .board import Listing, RejectedPost, verify_post
from .schema import Bond, Event, Offer, RelayedOffer, SyncState, Trade

__all__ = [
    "RELAYED",
    "AlreadyKnown",
    "NotFillable",
    "RelayRefused",
    "Submission",
    "TooManyOpen",
    "accept",
    "nonce_used",
    "open_count",
    "pending",
    "prune",
    "read_submission",
    "restore",
]

#: ``offers.source`` of a relayed offer (an on-chain one is ``board``).
RELAYED = "relayed"


class RelayRefused(ValueError):
    """A submission the relay does not take; the message says why, ``hint`` what to do, ``status``
    is the HTTP status a server answers with (400: bad or foreign offer, 409: already known)."""

    status = 400

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class NotFillable(RelayRefused):
    """A valid offer that no buyer could fill now (expired, nonce used, old fee, bond short)."""


class AlreadyKnown(RelayRefused):
    """An offer the index already lists: relayed before, or published on the board."""

    status = 409


class TooManyOpen(RelayRefused):
    """The seller has as many relayed offers open as a server takes (its cap): 429, since it is a quota
    that frees itself (when one of them is filled, revoked or expires), not a fault of the offer.
    ``retry_after``: seconds until the soonest of them expires, by the chain's time."""

    status = 429

    def __init__(self, message: str, hint: str | None = None, *, retry_after: int) -> None:
        super().__init__(message, hint)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Submission:
    """A relay request read: the signed offer and its terms document (canonical bytes)."""

    signed: SignedOffer
    document: bytes


def nonce_used(session: Session, chain_id: int, seller: str, nonce: int) -> bool:
    """Whether the index holds an OfferFilled or OfferRevoked event of ``seller``'s ``nonce`` (the sync
    marks an offer published with a used nonce revoked by this too)."""
    # events.args is json.dumps(sort_keys=True): the seller appears as '"seller": "0x..."'.
    used = session.scalars(select(Event.args).where(
        Event.chain_id == chain_id, Event.name.in_(("OfferFilled", "OfferRevoked")),
        Event.args.contains(f'"seller": "{seller}"', autoescape=True))).all()
    for text in used:
        args = json.loads(text)
        if args.get("seller") == seller and int(args.get("nonce", -1)) == nonce:
            return True
    return False


def read_submission(body: Any) -> Submission:
    """The signed offer and terms document of a relay request's JSON body: ``{"offer": <the signed offer
    document as `offer create --out` writes it, object or text>, "document": <the terms document, object or
    JSON text>}``. Without ``document`` the offer document's own ``terms`` (``offer create`` puts them
    there) are taken. :class:`RelayRefused` says what is malformed."""
    hint = 'post {"offer": <the file `p2pescrow offer create --out FILE` wrote>, "document": <its terms>}'
    if not isinstance(body, Mapping):
        raise RelayRefused(f"the request is a JSON {type(body).__name__}, not an object", hint=hint)
    offer = body.get("offer")
    if isinstance(offer, str):
        try:
            offer = json.loads(offer)
        except ValueError as exc:
            raise RelayRefused(f"the offer is not JSON: {exc}", hint=hint) from None
    if not isinstance(offer, Mapping):
        raise RelayRefused("the request has no offer object", hint=hint)
    try:
        signed = SignedOffer.from_json(json.dumps(offer))
    except OfferError as exc:
        raise RelayRefused(str(exc), hint=hint) from None
    for name, kind in ((f["name"], f["type"]) for f in OFFER_FIELDS if f["type"].startswith("uint")):
        value = getattr(signed.offer, name)
        if value >= 1 << int(kind.removeprefix("uint")):
            raise RelayRefused(f"offer field {name} is {value}, beyond its type {kind}", hint=hint)
    document = body.get("document", offer.get("terms"))
    if document is None:
        raise RelayRefused("the request has no terms document (\"document\", or the offer's \"terms\")", hint=hint)
    try:
        if isinstance(document, Mapping):
            data = terms_document(document)
        elif isinstance(document, str):
            data = canonical_document(document)
        else:
            raise RelayRefused(f"the terms document is a JSON {type(document).__name__}: an object (or its JSON "
                               "text) is expected", hint=hint)
    except (OfferError, RecursionError) as exc:
        raise RelayRefused(f"the terms document has no canonical JSON form: {exc}", hint=hint) from None
    return Submission(signed, data)


def _listing(signed: SignedOffer, document: bytes, chain_id: int, escrow: str) -> Listing:
    """The offer checked as a board post of ``chain_id`` and ``escrow`` would be (``RejectedPost`` if not)."""
    offer = asdict(signed.offer)
    return verify_post({"offer": offer, "terms": document, "signature": signed.signature}, chain_id, escrow)


def _row(listing: Listing, chain_id: int, *, status: str, block: int, at: int) -> Offer:
    """The ``offers`` row of a relayed listing (no transaction: ``tx_hash`` empty, ``log_index`` -1, so it
    sorts after the posts of ``block``, the last block indexed when it arrived)."""
    o, f = listing.signed.offer, listing.fields
    return Offer(
        chain_id=chain_id, id=listing.id, seller=o.seller, buyer=o.buyer, token=o.token, arbiter=o.arbiter,
        amount=o.amount, buyer_deposit=o.buyerDeposit, seller_deposit=o.sellerDeposit,
        arbiter_fee_bps=o.arbiterFeeBps, platform_fee_bps=o.platformFeeBps, release_window=o.releaseWindow,
        arbitration_window=o.arbitrationWindow, flags=o.flags, terms_hash="0x" + o.termsHash.hex(), nonce=o.nonce,
        expiry=o.expiry, signature="0x" + listing.signed.signature.hex(), document=listing.document,
        title=f["title"], description=f["description"], category=f["category"], tags=json.dumps(f["tags"]),
        payment_method=f["payment_method"], fiat_price=f["fiat_price"], status=status, trade_id=None,
        source=RELAYED, published_block=block, published_at=at, tx_hash="", log_index=-1)


def accept(session: Session, chain_id: int, escrow: str, submission: Submission, *, now: int,
           admit: Callable[[str], None] | None = None, max_open: int | None = None) -> Listing:
    """Store a relayed offer in ``session`` (the caller commits; on an exception it must roll back, and
    nothing is kept). ``now`` is the chain's time. Raises :class:`RelayRefused` (a bad or foreign offer, a
    document that is not the signed one), :class:`NotFillable` or :class:`AlreadyKnown`.

    ``admit(seller)`` is called once the signature is known to be the seller's and the offer is new,
    before anything is stored (a server's per-seller rate limit: neither forged offers naming a seller
    nor replays of its known ones count against it).

    ``max_open``: the most relayed offers a seller may have open at once (:func:`open_count`); the next
    is :class:`TooManyOpen`, checked before ``admit`` (a refused offer spends none of the seller's rate).
    On PostgreSQL the count and the insert hold a transaction-level advisory lock on the seller, so the
    bound holds across servers sharing the database; on SQLite the caller serializes its accepts (one
    server process: :mod:`p2pescrow.server.relay` does)."""
    from . import queries

    signed = submission.signed
    if signed.chain_id != chain_id:
        raise RelayRefused(f"the offer is signed for chain {signed.chain_id}; this market is chain {chain_id}",
                           hint="sign the offer on this market's network (--network)")
    if signed.escrow.lower() != escrow.lower():
        raise RelayRefused(f"the offer is signed for escrow {signed.escrow}; this market is escrow {escrow}",
                           hint="sign the offer for this market's escrow deployment")
    try:
        listing = _listing(signed, submission.document, chain_id, escrow)
    except RejectedPost as exc:
        raise RelayRefused(str(exc), hint="relay the offer file exactly as `p2pescrow offer create --out` "
                                          "wrote it, with its own terms document") from None
    known = session.scalars(select(Offer).where(Offer.chain_id == chain_id, Offer.id == listing.id)).first()
    if known is not None:  # before admit: anyone may replay a public offer, it costs its seller nothing
        where = "relayed already" if known.source == RELAYED else f"on the board (block {known.published_block})"
        raise AlreadyKnown(f"offer {listing.id} is known: {where}", hint="search for it: nothing to relay")
    seller = listing.signed.offer.seller
    if max_open is not None:
        _lock_seller(session, chain_id, seller)
    if max_open is not None and open_count(session, chain_id, seller, now) >= max_open:
        soonest = first_expiry(session, chain_id, seller, now)
        wait = max(1, soonest - now + 1) if soonest is not None else 60
        raise TooManyOpen(f"seller {seller} has {max_open} relayed offers open, as many as this server lists "
                          "per seller", hint=f"wait until one is filled, revoked or expires (the first expires "
                          f"in {wait} s), or publish on the board yourself (`p2pescrow offer publish`)",
                          retry_after=wait)
    if admit is not None:
        admit(seller)
    state = session.scalars(select(SyncState).where(SyncState.chain_id == chain_id)
                            .order_by(SyncState.escrow).limit(1)).first()
    if state is None:
        raise NotFillable("the market index has not synced this chain yet", hint="try again in a moment")
    o = signed.offer
    status = "revoked" if nonce_used(session, chain_id, o.seller, o.nonce) else "open"
    block = max(int(state.last_block), 0)
    session.add(_row(listing, chain_id, status=status, block=block, at=now))
    session.add(RelayedOffer(chain_id=chain_id, id=listing.id, escrow=signed.escrow, seller=o.seller,
                             offer=signed.to_json(), document=listing.document, received_at=now,
                             received_block=block))
    session.flush()
    queries.refresh_scores(session, chain_id, [o.seller])  # its row's seller_score, which search sorts by
    hit = queries.offer(session, chain_id, listing.id, now)
    if hit is None or not hit.fillable:
        raise NotFillable(f"no buyer could fill this offer now: {_why_not(session, chain_id, listing, now)}",
                          hint=_FIX)
    return listing


def _lock_seller(session: Session, chain_id: int, seller: str) -> None:
    """On PostgreSQL, take the transaction's advisory lock on ``seller``'s relayed offers (released at
    commit or rollback): concurrent accepts for one seller count and insert one after the other."""
    if session.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.blake2b(f"p2pescrow-relay:{chain_id}:{seller.lower()}".encode(), digest_size=8).digest()
    session.execute(sql("SELECT pg_advisory_xact_lock(:key)"), {"key": int.from_bytes(digest, "big", signed=True)})


_FIX = "make a new offer that can be filled (`p2pescrow offer create`), then relay it"


def _when(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _why_not(session: Session, chain_id: int, listing: Listing, now: int) -> str:
    """Which of the search's conditions the offer fails, in words (the decision is the search's)."""
    o = listing.signed.offer
    fee = session.scalar(select(SyncState.platform_fee_bps).where(SyncState.chain_id == chain_id)
                         .order_by(SyncState.escrow).limit(1))
    if o.expiry < now:
        return f"it expired at {_when(o.expiry)} (the chain's time is {_when(now)})"
    if fee is not None and o.platformFeeBps != fee:
        return f"it carries a platform fee of {o.platformFeeBps} bps, and the escrow's fee is {fee} bps now"
    closed = session.scalar(select(Offer.pk).where(
        Offer.chain_id == chain_id, Offer.seller == o.seller, Offer.nonce == o.nonce,
        Offer.status.in_(("filled", "revoked"))).limit(1))
    if closed is not None or nonce_used(session, chain_id, o.seller, o.nonce):
        return f"the seller's nonce {o.nonce} is used already (an offer with it was filled, or it was revoked)"
    if o.sellerDeposit:
        free = session.scalar(select(Bond.free).where(Bond.chain_id == chain_id, Bond.seller == o.seller,
                                                      Bond.token == o.token)) or 0
        if int(free) < o.sellerDeposit:
            return (f"the seller's free bond in {o.token} is {int(free)} base units, less than the offer's seller "
                    f"deposit of {o.sellerDeposit} (`p2pescrow bond deposit` first)")
    return "the market search would not list it"


def restore(session: Session, chain_id: int) -> int:
    """Give every relayed offer without an ``offers`` row its relayed row back (after a rewind deleted
    the block that published it on the board); the number restored. Their statuses are ``open``: the
    rewind replays the escrow's events after this, which mark filled and revoked ones."""
    missing = session.scalars(select(RelayedOffer).where(
        RelayedOffer.chain_id == chain_id,
        ~exists().where(Offer.chain_id == chain_id, Offer.id == RelayedOffer.id))).all()
    restored = 0
    for relayed in missing:
        try:
            signed = SignedOffer.from_json(relayed.offer)
            listing = _listing(signed, relayed.document.encode("utf-8"), chain_id, relayed.escrow)
        except (OfferError, RejectedPost):  # accepted once, so not expected: left out rather than fatal
            continue
        session.add(_row(listing, chain_id, status="open", block=int(relayed.received_block),
                         at=int(relayed.received_at)))
        restored += 1
    if restored:
        session.flush()
    return restored


@dataclass(frozen=True)
class Pending:
    """A relayed offer not on the board yet: what ``publishOffer`` needs, and whether a buyer could fill it."""

    id: str
    signed: SignedOffer
    document: bytes
    fillable: bool
    status: str


def pending(session: Session, chain_id: int, now: int, ids: Iterable[str] | None = None) -> list[Pending]:
    """The relayed offers still off the board (``ids``: only those, by full id or unique prefix), oldest
    first. An id given that is not such an offer is a :class:`RelayRefused` naming it."""
    from . import queries

    rows = session.execute(
        select(RelayedOffer, Offer.status).join(Offer, (Offer.chain_id == RelayedOffer.chain_id)
                                                & (Offer.id == RelayedOffer.id))
        .where(RelayedOffer.chain_id == chain_id, Offer.source == RELAYED)
        .order_by(RelayedOffer.received_at, RelayedOffer.id)).all()
    chosen = list(rows)
    if ids is not None:
        wanted = [i.strip().lower() for i in ids]
        chosen = []
        for prefix in wanted:
            body = prefix if prefix.startswith("0x") else "0x" + prefix
            matches = [r for r in rows if r[0].id.startswith(body)]
            if len(matches) != 1:
                raise RelayRefused(f"{prefix} is {'an ambiguous prefix of' if matches else 'not'} a relayed offer "
                                   "waiting for the board", hint="list them with `p2pescrow market publish-relayed` "
                                                                 "and no ID")
            if matches[0] not in chosen:
                chosen.append(matches[0])
    out = []
    for relayed, status in chosen:
        hit = queries.offer(session, chain_id, relayed.id, now)
        out.append(Pending(relayed.id, SignedOffer.from_json(relayed.offer), relayed.document.encode("utf-8"),
                           bool(hit and hit.fillable), str(status)))
    return out


def _nonce_used_at(session: Session, chain_id: int, seller: str, nonce: int) -> int | None:
    """When (the chain's time) ``seller``'s ``nonce`` was first used, by an OfferFilled or OfferRevoked event
    the index holds; None if it holds none."""
    rows = session.execute(select(Event.args, Event.timestamp).where(
        Event.chain_id == chain_id, Event.name.in_(("OfferFilled", "OfferRevoked")),
        Event.args.contains(f'"seller": "{seller}"', autoescape=True))).all()
    times = [int(stamp) for text, stamp in rows
             if (args := json.loads(text)).get("seller") == seller and int(args.get("nonce", -1)) == nonce]
    return min(times) if times else None


def prune(session: Session, chain_id: int, now: int, keep_seconds: int) -> int:
    """Delete the relayed offers nobody can fill any more whose end is more than ``keep_seconds`` before
    ``now`` (the chain's time): expired (``expiry < now - keep_seconds``), or filled or revoked at a time
    the index knows (the fill's trade, else the OfferFilled or OfferRevoked event of the seller's nonce)
    that is older than that. Both rows go: ``relayed_offers`` and the ``offers`` row while it is still a
    relayed one. An offer published on the board (``source`` board) is the chain's: neither of its rows
    is touched (its ``relayed_offers`` row is what a reorg dropping the publication restores it from).
    A trade filled from a deleted offer keeps its history but no longer links to it (``offer_id`` null,
    as a rebuild of the index would have it). Returns how many offers were deleted; the caller commits."""
    cutoff = now - keep_seconds
    rows = session.execute(
        select(Offer.id, Offer.seller, Offer.nonce, Offer.expiry, Offer.trade_id)
        .join(RelayedOffer, (RelayedOffer.chain_id == Offer.chain_id) & (RelayedOffer.id == Offer.id))
        .where(Offer.chain_id == chain_id, Offer.source == RELAYED,
               # one that ended can only have ended after it was received: the ones received within the
               # keep are left alone without reading their events (this runs after every sync)
               (Offer.expiry < cutoff) | (Offer.status.in_(("filled", "revoked")) & (Offer.published_at < cutoff))))
    gone: list[str] = []
    for offer_id, seller, nonce, expiry, trade_id in rows.all():
        if int(expiry) < cutoff:
            gone.append(offer_id)
            continue
        ended = None
        if trade_id is not None:  # filled: when its trade was made
            ended = session.scalar(select(Trade.created_at).where(Trade.chain_id == chain_id, Trade.id == trade_id))
        if ended is None:  # revoked, or its nonce used by another offer's fill
            ended = _nonce_used_at(session, chain_id, seller, int(nonce))
        if ended is not None and int(ended) < cutoff:
            gone.append(offer_id)
    for start in range(0, len(gone), 500):  # bounded IN lists
        chunk = gone[start:start + 500]
        session.execute(delete(Offer).where(Offer.chain_id == chain_id, Offer.id.in_(chunk), Offer.source == RELAYED))
        session.execute(delete(RelayedOffer).where(RelayedOffer.chain_id == chain_id, RelayedOffer.id.in_(chunk)))
        # A trade filled from one keeps no link to an offer the index no longer has (as a rebuild would).
        session.execute(update(Trade).where(Trade.chain_id == chain_id, Trade.offer_id.in_(chunk))
                        .values(offer_id=None))
    return len(gone)


def open_count(session: Session, chain_id: int, seller: str, now: int) -> int:
    """How many of ``seller``'s relayed offers are open now: off the board, neither filled nor revoked,
    and not expired at ``now`` (the chain's time)."""
    return int(session.scalar(select(func.count()).select_from(Offer).where(
        Offer.chain_id == chain_id, Offer.seller == seller, Offer.source == RELAYED, Offer.status == "open",
        Offer.expiry >= now)) or 0)


def first_expiry(session: Session, chain_id: int, seller: str, now: int) -> int | None:
    """The soonest expiry among ``seller``'s open relayed offers (None without any)."""
    found = session.scalar(select(func.min(Offer.expiry)).where(
        Offer.chain_id == chain_id, Offer.seller == seller, Offer.source == RELAYED, Offer.status == "open",
        Offer.expiry >= now))
    return None if found is None else int(found)
