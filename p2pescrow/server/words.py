"""Terms and events said in words, for the pages: who may do what and when, what the timeout does, the
deposits' rules, the risks (:func:`p2pescrow.clients._base.trade_risks`, the sentences the CLI prints
before a trade is entered), and what each event of a trade's history did.

The rules said here are the escrow's (:data:`p2pescrow.states.TRANSITIONS`): a trade is live once the
buyer's payment and the seller's deposit are both in; the timeout outcome is fixed by the terms; with an
arbiter, marking delivery makes the timeout release after a fresh release window. No I/O: the caller
passes the token (symbol and decimals) and the asset's listing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ..clients._base import trade_risks
from ..models import FLAG_RECORD_REPUTATION, FLAG_TIMEOUT_RELEASES, ZERO_ADDRESS, TokenInfo

__all__ = ["event_words", "money", "percent", "span", "terms_in_words", "when"]


def money(units: int, token: TokenInfo | None) -> str:
    """``800000000000000000`` -> ``0.8 ETH`` (base units of an unknown token said so)."""
    if token is None:
        return f"{units} base units"
    value = token.human(int(units))
    text = f"{value:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text} {token.symbol}"


def percent(bps: int) -> str:
    return f"{(Decimal(int(bps)) / 100).normalize():f}%"


def span(seconds: int) -> str:
    """``259200`` -> ``3 days``; ``5400`` -> ``90 minutes``."""
    seconds = int(seconds)
    for unit, size in (("week", 604_800), ("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"


def when(timestamp: int | None) -> str:
    """Unix seconds as ``2026-12-07 12:00 UTC``."""
    if timestamp is None:
        return "-"
    return f"{datetime.fromtimestamp(int(timestamp), UTC):%Y-%m-%d %H:%M} UTC"


def _has_arbiter(terms: Any) -> bool:
    return int(terms.arbiter, 16) != 0


def terms_in_words(terms: Any, token: TokenInfo | None, listing: tuple[bool, int] | None, *,
                   offer: bool) -> list[tuple[str, str]]:
    """The terms as (topic, sentence) pairs. ``terms`` is an offer (:class:`~p2pescrow.market.queries.OfferHit`,
    ``offer=True``) or a trade row (``offer=False``): price, deposits, arbiter, windows, fees, flags.
    ``listing`` is the asset's (listed, minimum) for the reputation sentence (None: not known)."""
    arbiter = _has_arbiter(terms)
    releases = bool(terms.flags & FLAG_TIMEOUT_RELEASES)
    price, buyer_deposit, seller_deposit = int(terms.amount), int(terms.buyer_deposit), int(terms.seller_deposit)
    out: list[tuple[str, str]] = []
    paid = (f" with its deposit of {money(buyer_deposit, token)} ({money(price + buyer_deposit, token)} in all)"
            if buyer_deposit else "")
    if offer:
        buyer = getattr(terms, "buyer", ZERO_ADDRESS)
        out.append(("Who may fill it", ("Anyone may fill this offer" if int(buyer, 16) == 0
                                        else f"Only {buyer} may fill this offer")
                    + f", until it expires at {when(terms.expiry)}, unless the seller revokes it first."))
        out.append(("Price", f"The buyer pays {money(price, token)}{paid} into the escrow when it fills the offer; "
                             "the escrow holds the price until the trade ends."))
    else:
        out.append(("Price", f"The buyer pays {money(price, token)}{paid} into the escrow; the escrow holds the "
                             "price until the trade ends. Before it goes live it may be cancelled, everything "
                             "paid in going back: by its creator while it awaits funding, by the buyer while it "
                             "awaits the seller's deposit, by anyone once the funding window of "
                             f"{span(terms.funding_window)} has passed."))
    if seller_deposit:
        locked = ("locked from the seller's bond when the offer is filled, so the trade is live at once" if offer
                  else "locked from the seller's bond when it accepts; the trade is live only once it is in")
        out.append(("Seller's deposit", f"{money(seller_deposit, token)}, {locked}."))
    else:
        out.append(("Seller's deposit", "None."))
    out.append(("Buyer's deposit", f"{money(buyer_deposit, token)}, paid with the price." if buyer_deposit
                else "None."))
    if buyer_deposit or seller_deposit:
        out.append(("Deposits' rules", "Each deposit goes back to its owner on release, refund, settlement or "
                    "cancellation; " + ("on a timeout the side it goes against forfeits its deposit to the other, "
                                        "and on a ruling (or a concession) the side awarded less than half does."
                                        if arbiter else "on a timeout both go back too (there is no arbiter).")))
    out.append(("While it is live", "The buyer may release the price to the seller, all or a part, at any time; "
                "the seller may refund the buyer, all or a part, at any time. Either may propose a settlement "
                "(a split of what is held); it takes effect when the other accepts it."))
    timeout = "releases the price to the seller" if releases else "refunds the buyer"
    marked = (" With an arbiter, if the seller marks the goods delivered, the timeout releases to the seller "
              "instead, after a fresh release window from the mark." if arbiter and not releases else "")
    out.append(("Timeout", f"The release window is {span(terms.release_window)} from when the trade goes live. "
                f"From the deadline anyone may apply the timeout, which {timeout}.{marked}"))
    if arbiter:
        out.append(("Arbiter", f"{terms.arbiter}, paid {percent(terms.arbiter_fee_bps)} of what is held if it "
                    "rules (half that if a party concedes), nothing otherwise. Before the deadline the buyer or "
                    "the seller may open a dispute; the arbiter then "
                    f"has {span(terms.arbitration_window)} (the arbitration window) to rule how what is held is "
                    "split. After that anyone may end the dispute 50/50, with no arbiter fee. Either party may "
                    "concede instead: all to the other side, and the arbiter gets half its fee."))
    else:
        out.append(("Arbiter", "None: no one can open a dispute; the trade ends by release, refund, settlement "
                               "or the timeout."))
    out.append(("Platform fee", f"{percent(terms.platform_fee_bps)} of what the seller receives."))
    records = bool(terms.flags & FLAG_RECORD_REPUTATION)
    if not records:
        out.append(("Reputation", "The trade does not ask to record reputation: it cannot be rated."))
    elif listing is None or (listing[0] and price >= listing[1]):
        out.append(("Reputation", "The trade records reputation: once it ends with a payout, both parties' "
                                  "records show it and each may rate the other once."))
    if token is not None:
        for risk in trade_risks(has_arbiter=arbiter, timeout_releases=releases, record_reputation=records,
                                token=token, amount=price, listing=listing if records else None):
            out.append(("Risk", str(risk)[0].upper() + str(risk)[1:] + "."))
    return out


def event_words(name: str, args: dict[str, Any], token: TokenInfo | None) -> str:
    """What one event of a trade's history did, in a sentence."""
    def m(key: str) -> str:
        return money(int(args.get(key, 0)), token)

    by = args.get("by")
    said = {
        "TradeCreated": lambda: f"Created: {args.get('buyer')} buys from {args.get('seller')}"
                                + (f"; {m('held')} paid in" if int(args.get("held", 0)) else "") + ".",
        "TradeFunded": lambda: f"Funded: {m('held')} held; deadline {when(args.get('deadline'))}.",
        "SellerAccepted": lambda: "The seller accepted" + (f"; deadline {when(args.get('deadline'))}"
                                                           if int(args.get("deadline", 0)) else "") + ".",
        "DeliveryMarked": lambda: f"The seller marked the goods delivered; new deadline {when(args.get('deadline'))}.",
        "Released": lambda: f"Released {m('toSeller')} to the seller (platform fee {m('platformFee')}).",
        "Refunded": lambda: f"Refunded {m('toBuyer')} to the buyer.",
        "Disputed": lambda: f"Disputed by {by}; the arbiter rules by {when(args.get('deadline'))}.",
        "EvidenceSubmitted": lambda: f"Evidence submitted by {by}: {args.get('uri') or 'no link'} "
                                     f"(hash 0x{bytes(args.get('contentHash', b'')).hex()}).",
        "SettlementProposed": lambda: f"Settlement proposed by {by}: {percent(int(args.get('buyerBps', 0)))} "
                                      "of what is held to the buyer.",
        "Settled": lambda: f"Settled: {m('toBuyer')} to the buyer, {m('toSeller')} to the seller.",
        "Ruled": lambda: f"Ruled by the arbiter: {percent(int(args.get('buyerBps', 0)))} to the buyer "
                         f"({m('toBuyer')}), {m('toSeller')} to the seller, arbiter fee {m('arbiterFee')}.",
        "Conceded": lambda: f"Conceded by {by}: {m('toBuyer')} to the buyer, {m('toSeller')} to the seller.",
        "DisputeExpired": lambda: f"The dispute expired unruled: {m('toBuyer')} to the buyer, {m('toSeller')} "
                                  "to the seller, no arbiter fee.",
        "TimedOut": lambda: f"Timed out: {m('amount')} to the {'seller' if args.get('toSeller') else 'buyer'}.",
        "Cancelled": lambda: f"Cancelled by {by}: everything paid in went back.",
        "PaymentCredited": lambda: f"A payment of {m('amount')} to {args.get('receiver')} was credited "
                                   "(its transfer failed): it withdraws it later.",
        "Rated": lambda: f"{args.get('rater')} rated {args.get('ratee')} {args.get('score')}/5.",
    }
    sentence = said.get(name)
    try:
        return sentence() if sentence is not None else name
    except (TypeError, ValueError):
        return name
