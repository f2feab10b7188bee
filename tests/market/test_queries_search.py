# ruff: noqa: F811 - the session and rows fixtures are imported from support.market_rows
"""market.queries.search and offer: the offers that can be filled now, every filter and sort, free text
over title and description, the seller's screening on each hit, and the imitation warning, on SQLite
and PostgreSQL (rows written straight into a migrated index)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from support.market_rows import (  # noqa: F401 - fixtures
    ALICE,
    ARBITER,
    ARBITER_2,
    BOB,
    CAROL,
    DAI,
    DAY,
    ETH,
    IMPOSTOR,
    NOW,
    USDC,
    USDC_MIN,
    WEI,
    Rows,
    address,
    rows,
    session,
)

from p2pescrow.market.queries import OfferFilter, offer, search
from p2pescrow.models import FLAG_TIMEOUT_RELEASES


def titles(hits: list) -> list[str]:
    return [h.title for h in hits]


def find(session, **filters) -> list[str]:
    return titles(search(session, 31337, OfferFilter(**filters), NOW))


def test_nothing_is_listed_before_the_first_sync(session, rows: Rows) -> None:
    rows.offer(title="early")
    assert search(session, 31337, OfferFilter(), NOW) == []


def test_lists_open_offers_newest_first_with_the_offer_fields(session, rows: Rows) -> None:
    rows.sync_state()
    rows.offer(title="first", tags='["books", "used"]', fiat_price="120 EUR", payment_method="SEPA")
    rows.offer(title="second")
    hits = search(session, 31337, OfferFilter(), NOW)
    assert titles(hits) == ["second", "first"]
    first = hits[1]
    assert (first.seller, first.token, first.arbiter, first.amount) == (ALICE, USDC, ARBITER, 100 * 10**6)
    assert first.tags == ("books", "used")
    assert (first.fiat_price, first.payment_method, first.status, first.fillable) == ("120 EUR", "SEPA", "open", True)
    assert first.warnings == ()


def test_only_offers_fillable_now_are_listed(session, rows: Rows) -> None:
    rows.sync_state(fee_bps=50)
    rows.bond(ALICE, USDC, 30 * 10**6)
    rows.bond(BOB, USDC, 10 * 10**6)
    rows.offer(title="fillable", platform_fee_bps=50)
    rows.offer(title="expires this second", platform_fee_bps=50, expiry=NOW)
    rows.offer(title="expired", platform_fee_bps=50, expiry=NOW - 1)
    rows.offer(title="filled", platform_fee_bps=50, status="filled", trade_id="0x" + "ab" * 32)
    rows.offer(title="revoked", platform_fee_bps=50, status="revoked")
    rows.offer(title="old fee", platform_fee_bps=0)
    rows.offer(title="bond covers", platform_fee_bps=50, seller_deposit=30 * 10**6)
    rows.offer(title="bond too small", platform_fee_bps=50, seller=BOB, seller_deposit=10 * 10**6 + 1)
    rows.offer(title="no bond in that token", platform_fee_bps=50, token=DAI, seller_deposit=1)
    rows.offer(title="other chain", platform_fee_bps=50, chain_id=1)
    # The seller used nonce 7 on another offer (filled): this one can no longer be filled.
    rows.offer(title="nonce used", platform_fee_bps=50, seller=CAROL, nonce=7)
    rows.offer(title="same nonce filled", platform_fee_bps=50, seller=CAROL, nonce=7, status="filled")
    assert sorted(find(rows.session)) == ["bond covers", "expires this second", "fillable"]


def test_amounts_beyond_64_bits_compare_as_numbers(session, rows: Rows) -> None:
    rows.sync_state()
    rows.offer(title="9 ETH", token=ETH, amount=9 * WEI)
    rows.offer(title="1e30 wei", token=ETH, amount=10**30)
    rows.offer(title="max uint256", token=ETH, amount=2**256 - 1)
    assert find(session, min_amount=10 * WEI) == ["max uint256", "1e30 wei"]
    assert find(session, max_amount=10**30) == ["1e30 wei", "9 ETH"]
    assert find(session, sort="-amount") == ["max uint256", "1e30 wei", "9 ETH"]
    assert search(session, 31337, OfferFilter(sort="-amount"), NOW)[0].amount == 2**256 - 1


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"token": DAI.lower()}, ["dai"]),
        ({"min_amount": 100 * 10**6, "max_amount": 200 * 10**6}, ["timeout releases", "usdc 100"]),
        ({"arbiter": ARBITER_2}, ["other arbiter"]),
        ({"max_arbiter_fee_bps": 50}, ["other arbiter"]),
        ({"timeout_releases": True}, ["timeout releases"]),
        ({"timeout_releases": False}, ["other arbiter", "dai", "deposits", "usdc 100"]),
        ({"max_buyer_deposit": 0}, ["timeout releases", "other arbiter", "dai", "usdc 100"]),
        ({"min_seller_deposit": 1}, ["deposits"]),
        ({"max_seller_deposit": 5 * 10**6}, ["timeout releases", "other arbiter", "dai", "usdc 100"]),
        ({"category": "Electronics"}, ["dai", "usdc 100"]),
        ({"seller": BOB}, ["other arbiter"]),
        ({"token": USDC, "category": "electronics", "max_amount": 150 * 10**6}, ["usdc 100"]),
    ],
)
def test_each_filter_narrows_the_list(session, rows: Rows, filters: dict, expected: list[str]) -> None:
    rows.sync_state()
    rows.bond(ALICE, USDC, 50 * 10**6)
    rows.offer(title="usdc 100", category="electronics")
    rows.offer(title="deposits", amount=300 * 10**6, buyer_deposit=20 * 10**6, seller_deposit=50 * 10**6)
    rows.offer(title="dai", token=DAI, amount=10 * 10**18, category="electronics")
    rows.offer(title="other arbiter", seller=BOB, arbiter=ARBITER_2, arbiter_fee_bps=50, amount=50 * 10**6)
    rows.offer(title="timeout releases", amount=200 * 10**6, flags=2 | FLAG_TIMEOUT_RELEASES)
    assert find(session, **filters) == expected


def test_free_text_matches_every_word_in_title_or_description(session, rows: Rows) -> None:
    rows.sync_state()
    rows.offer(title="Vintage road bike", description="Steel frame, 56 cm, new tyres")
    rows.offer(title="Mountain bike", description="Aluminium frame")
    rows.offer(title="Guitar lessons", description="Ten lessons online, beginners welcome")
    assert find(session, text="bike") == ["Mountain bike", "Vintage road bike"]
    assert find(session, text="steel BIKE") == ["Vintage road bike"]
    assert find(session, text="frame") == ["Mountain bike", "Vintage road bike"]
    assert find(session, text="online lessons") == ["Guitar lessons"]
    assert find(session, text="bike lessons") == []
    assert find(session, text="piano") == []


def test_free_text_is_taken_as_words_not_query_syntax(session, rows: Rows) -> None:
    rows.sync_state()
    rows.offer(title="Road bike", description="steel")
    for hostile in ['bike" OR "x', "bike*", "NEAR(bike steel)", "bike AND", "'; DROP TABLE offers; --", "(bike)"]:
        # Every word must appear: "OR", "x", "NEAR", "AND", "DROP" do not, so nothing matches, and nothing breaks.
        assert find(session, text=hostile) in ([], ["Road bike"]), hostile
    assert find(session, text="(bike)") == ["Road bike"]
    assert find(session, text="bike*") == ["Road bike"]
    assert find(session, text="  ") == ["Road bike"]  # no words: no text filter


def test_sort_orders(session, rows: Rows) -> None:
    rows.sync_state()
    rows.offer(title="mid", amount=200, expiry=NOW + 3 * DAY)
    rows.offer(title="big", amount=300, expiry=NOW + 1 * DAY)
    rows.offer(title="small", amount=100, expiry=NOW + 2 * DAY)
    assert find(session) == ["small", "big", "mid"]
    assert find(session, sort="newest") == ["small", "big", "mid"]
    assert find(session, sort="amount") == ["small", "mid", "big"]
    assert find(session, sort="-amount") == ["big", "mid", "small"]
    assert find(session, sort="expiry") == ["big", "small", "mid"]
    with pytest.raises(ValueError, match="unknown sort"):
        OfferFilter(sort="cheapest")


def test_limit_and_offset_page_through_the_results(session, rows: Rows) -> None:
    rows.sync_state()
    for n in range(7):
        rows.offer(title=f"offer {n}", amount=n + 1)
    assert find(session, sort="amount", limit=3) == ["offer 0", "offer 1", "offer 2"]
    assert find(session, sort="amount", limit=3, offset=3) == ["offer 3", "offer 4", "offer 5"]
    assert find(session, sort="amount", limit=3, offset=6) == ["offer 6"]
    assert find(session, sort="score", limit=2, offset=1) == ["offer 5", "offer 4"]


def _reputations(rows: Rows) -> None:
    """Alice: a good seller (rated 5 on 100 USDC); Bob: rated 1 on 100 USDC; Carol: unknown."""
    rows.listing(USDC, USDC_MIN)
    good = rows.trade(buyer=DAVE_BUYER, seller=ALICE)
    rows.rating(good, DAVE_BUYER, 5)
    bad = rows.trade(buyer=DAVE_BUYER, seller=BOB, amount=40 * 10**6)
    rows.rating(bad, DAVE_BUYER, 1)


DAVE_BUYER = address(0xD0)


def test_each_hit_carries_its_sellers_screening(session, rows: Rows) -> None:
    rows.sync_state()
    _reputations(rows)
    rows.offer(title="alice's")
    rows.offer(title="carol's", seller=CAROL)
    carol, alice = search(session, 31337, OfferFilter(), NOW)
    # Alice: 10 units rated 5 -> (5*10 + 3*5) / (10 + 5) = 4.33
    assert alice.screening.address == ALICE
    assert alice.screening.score == Decimal("4.33")
    assert alice.screening.completed == 1
    assert alice.screening.volume(USDC) == 100 * 10**6
    assert carol.screening.score == Decimal("3.00")
    assert carol.screening.records == () and carol.screening.first_trade_at is None


def test_sort_and_filter_by_the_sellers_screening(session, rows: Rows) -> None:
    rows.sync_state()
    _reputations(rows)
    rows.offer(title="alice 1")
    rows.offer(title="bob", seller=BOB)
    rows.offer(title="carol", seller=CAROL)
    rows.offer(title="alice 2")
    # Bob: 4 units rated 1 -> (1*4 + 15) / 9 = 2.11; Carol 3.00; Alice 4.33.
    assert find(session, sort="score") == ["alice 2", "alice 1", "carol", "bob"]
    assert find(session, min_score="3") == ["alice 2", "carol", "alice 1"]
    assert find(session, min_score=4.34) == []
    assert find(session, min_score=Decimal("4.33"), sort="amount") == ["alice 2", "alice 1"]
    assert find(session, min_volume=40 * 10**6) == ["alice 2", "bob", "alice 1"]
    assert find(session, min_volume=40 * 10**6 + 1) == ["alice 2", "alice 1"]
    assert find(session, min_volume=1, token=DAI) == []


def test_a_token_imitating_a_listed_assets_symbol_is_flagged(session, rows: Rows) -> None:
    rows.sync_state()
    rows.listing(USDC, USDC_MIN)
    rows.listing(ETH, 10**16)
    lookalike_usdc, weth, cyrillic_c, unrelated = address(0xBAD1), address(0xBAD2), address(0xBAD3), address(0xBAD4)
    symbols = {
        USDC: "USDC", ETH: "ETH", IMPOSTOR: "USDC", lookalike_usdc: "usdc", weth: "WETH",
        cyrillic_c: "USD\u0421", unrelated: "LINK",
    }
    for token, title in [(USDC, "real usdc"), (ETH, "real eth"), (IMPOSTOR, "fake usdc"), (lookalike_usdc, "lower"),
                         (weth, "weth"), (cyrillic_c, "cyrillic"), (unrelated, "link"), (DAI, "no symbol known")]:
        rows.offer(title=title, token=token)
    hits = {h.title: h for h in search(session, 31337, OfferFilter(), NOW, symbols=symbols)}
    assert hits["real usdc"].warnings == () and hits["real eth"].warnings == ()
    assert hits["link"].warnings == () and hits["no symbol known"].warnings == ()
    (warning,) = hits["fake usdc"].warnings
    assert "USDC" in warning and IMPOSTOR in warning and USDC in warning
    assert len(hits["lower"].warnings) == 1
    assert len(hits["cyrillic"].warnings) == 1
    (eth_warning,) = hits["weth"].warnings
    assert "WETH" in eth_warning and "ETH at " + ETH in eth_warning


def test_offer_by_id_or_prefix_whatever_its_status(session, rows: Rows) -> None:
    rows.sync_state()
    listed = rows.offer(title="open one", id="0x" + "a1" * 32)
    filled = rows.offer(title="filled one", status="filled", id="0x" + "a2" * 32)
    hit = offer(session, 31337, listed.id, NOW)
    assert hit is not None and hit.title == "open one" and hit.fillable
    assert offer(session, 31337, listed.id.upper().replace("0X", "0x"), NOW).id == listed.id
    assert offer(session, 31337, "a1a1", NOW).id == listed.id  # a unique prefix
    gone = offer(session, 31337, filled.id, NOW)
    assert gone is not None and gone.status == "filled" and not gone.fillable
    assert offer(session, 31337, "0x" + "9" * 64, NOW) is None
    with pytest.raises(ValueError, match="ambiguous"):
        offer(session, 31337, "0xa", NOW)
    signed = hit.signed_offer(address(0xE5))
    assert signed.offer.seller == ALICE and signed.offer.amount == 100 * 10**6
    assert signed.offer.termsHash == bytes.fromhex(listed.terms_hash[2:])
    assert signed.chain_id == 31337 and signed.signature == b"\x11" * 65
