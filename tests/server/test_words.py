"""The terms in words (server/words.py): what the offer and trade pages say about who may do what, the
timeout, the arbiter, the deposits and the risks, for terms with and without an arbiter, deposits and a
listed asset; and each event of a trade's history in a sentence."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from p2pescrow.models import FLAG_RECORD_REPUTATION, FLAG_TIMEOUT_RELEASES, ZERO_ADDRESS, TokenInfo
from p2pescrow.server.words import event_words, money, terms_in_words

ETH = TokenInfo(ZERO_ADDRESS, "ETH", 18)
ARBITER = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
SELLER = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"


def offer(**fields: Any) -> SimpleNamespace:
    values = {"amount": 8 * 10**17, "buyer_deposit": 0, "seller_deposit": 0, "arbiter": ARBITER,
              "arbiter_fee_bps": 100, "platform_fee_bps": 25, "release_window": 3 * 86_400,
              "arbitration_window": 7 * 86_400, "flags": FLAG_RECORD_REPUTATION, "buyer": ZERO_ADDRESS,
              "expiry": 1_796_644_800, "funding_window": 86_400}
    values.update(fields)
    return SimpleNamespace(**values)


def said(terms: SimpleNamespace, *, listing: tuple[bool, int] | None = (True, 10**16), is_offer: bool = True) -> dict[
        str, list[str]]:
    out: dict[str, list[str]] = {}
    for topic, sentence in terms_in_words(terms, ETH, listing, offer=is_offer):
        out.setdefault(topic, []).append(sentence)
    return out


def test_an_offer_with_an_arbiter_and_deposits_says_who_may_do_what() -> None:
    words = said(offer(buyer_deposit=5 * 10**16, seller_deposit=10**17))
    assert words["Who may fill it"] == ["Anyone may fill this offer, until it expires at 2026-12-07 12:00 UTC, "
                                        "unless the seller revokes it first."]
    assert "0.8 ETH with its deposit of 0.05 ETH (0.85 ETH in all)" in words["Price"][0]
    assert words["Seller's deposit"][0].startswith("0.1 ETH, locked from the seller's bond when the offer is filled")
    assert "forfeits its deposit" in words["Deposits' rules"][0]
    assert "3 days" in words["Timeout"][0] and "refunds the buyer" in words["Timeout"][0]
    assert "marks the goods delivered" in words["Timeout"][0]
    assert ARBITER in words["Arbiter"][0] and "1%" in words["Arbiter"][0]
    assert "1 week (the arbitration window)" in words["Arbiter"][0]
    assert words["Platform fee"] == ["0.25% of what the seller receives."]
    assert "records reputation" in words["Reputation"][0]
    assert "Risk" not in words


def test_no_arbiter_says_no_dispute_and_who_bears_the_risk() -> None:
    refunds = said(offer(arbiter=ZERO_ADDRESS, arbiter_fee_bps=0, seller_deposit=10**17))
    assert refunds["Arbiter"][0].startswith("None: no one can open a dispute")
    assert "both go back too" in refunds["Deposits' rules"][0]
    assert "marks the goods delivered" not in refunds["Timeout"][0]
    assert refunds["Risk"][0].startswith("No arbiter, and the timeout refunds the buyer: the seller bears the risk")
    releases = said(offer(arbiter=ZERO_ADDRESS, arbiter_fee_bps=0, flags=FLAG_TIMEOUT_RELEASES))
    assert "releases the price to the seller" in releases["Timeout"][0]
    assert releases["Risk"][0].startswith("No arbiter, and the timeout releases to the seller: the buyer bears")
    assert "cannot be rated" in releases["Reputation"][0]


def test_a_reserved_offer_and_a_price_below_the_minimum_are_said() -> None:
    buyer = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    words = said(offer(buyer=buyer, amount=10**15))
    assert words["Who may fill it"][0].startswith(f"Only {buyer} may fill this offer")
    assert "below the 0.01 ETH a trade needs to count for reputation" in words["Risk"][0]
    assert "Reputation" not in words
    unlisted = said(offer(), listing=(False, 0))
    assert "not a reputation asset" in unlisted["Risk"][0]


def test_a_trade_says_how_it_may_be_cancelled_before_going_live() -> None:
    words = said(offer(), is_offer=False)
    assert "Who may fill it" not in words
    assert "by anyone once the funding window of 1 day has passed" in words["Price"][0]


def test_events_in_words() -> None:
    assert money(1495 * 10**15, ETH) == "1.495 ETH" and money(7, None) == "7 base units"
    assert event_words("Ruled", {"buyerBps": 5000, "toBuyer": 495 * 10**15, "toSeller": 4937625 * 10**11,
                                 "arbiterFee": 10**16, "platformFee": 0}, ETH) == (
        "Ruled by the arbiter: 50% to the buyer (0.495 ETH), 0.4937625 ETH to the seller, arbiter fee 0.01 ETH.")
    assert event_words("TimedOut", {"toSeller": True, "amount": 10**18, "platformFee": 0}, ETH) == (
        "Timed out: 1 ETH to the seller.")
    assert event_words("Disputed", {"by": SELLER, "deadline": 1_796_644_800}, ETH) == (
        f"Disputed by {SELLER}; the arbiter rules by 2026-12-07 12:00 UTC.")
    assert event_words("SomethingNew", {}, ETH) == "SomethingNew"
