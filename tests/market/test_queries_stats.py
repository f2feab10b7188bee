# ruff: noqa: F811 - the session and rows fixtures are imported from support.market_rows
"""market.queries.stats: the market's figures from the index (volume per asset per day and ISO week,
outcomes, dispute rate, time from funding to release, platform fees, the arbiter table), on SQLite and
PostgreSQL; and how long a search takes over 10,000 offers (slow)."""

from __future__ import annotations

import json
import statistics

import pytest
from sqlalchemy import insert, text
from support.market_rows import (  # noqa: F401 - fixtures
    ALICE,
    ARBITER,
    ARBITER_2,
    CAROL,
    DAI,
    DAY,
    ETH,
    NOW,
    USDC,
    USDC_MIN,
    WEI,
    Rows,
    address,
    rows,
    session,
)

from p2pescrow.market.queries import (
    ArbiterStats,
    OfferFilter,
    VolumePoint,
    refresh_records,
    refresh_scores,
    search,
    stats,
)
from p2pescrow.market.schema import Bond, Offer, Rating, Trade
from p2pescrow.states import TradeState

HOUR = 3600
#: 2026-12-07 00:00 UTC, a Monday (ISO week 50); the Sunday before is in week 49.
MONDAY = NOW - 12 * HOUR

RESOLVED, SETTLED, REFUNDED = int(TradeState.RESOLVED), int(TradeState.SETTLED), int(TradeState.REFUNDED)


def test_an_empty_index_has_no_figures(session) -> None:
    figures = stats(session, 31337, NOW)
    assert (figures.trades, figures.funded, figures.disputed, figures.dispute_rate) == (0, 0, 0, None)
    assert figures.outcomes == {} and figures.platform_fees == {} and figures.arbiters == ()
    assert figures.volume_by_day == () and figures.volume_by_week == ()
    assert figures.release_seconds_median is None and figures.release_seconds_p90 is None
    assert figures.as_of == NOW


def test_volume_per_asset_per_utc_day_and_iso_week(session, rows: Rows) -> None:
    rows.trade(amount=100 * 10**6, live_at=MONDAY - DAY - 14 * HOUR)  # Saturday 10:00
    rows.trade(amount=50 * 10**6, live_at=MONDAY - 1)  # Sunday 23:59:59
    rows.trade(amount=30 * 10**6, live_at=MONDAY)  # Monday 00:00
    rows.trade(token=ETH, amount=10 * WEI + 1, live_at=MONDAY + 9 * HOUR)
    rows.trade(token=ETH, amount=9 * WEI, live_at=MONDAY + 10 * HOUR, state=REFUNDED, outcome="refunded")
    rows.trade(amount=999, live_at=None, state=int(TradeState.CANCELLED), outcome="cancelled")  # never live
    figures = stats(session, 31337, NOW)
    assert figures.volume_by_day == (
        VolumePoint(ETH, "2026-12-07", 19 * WEI + 1, 2),
        VolumePoint(USDC, "2026-12-05", 100 * 10**6, 1),
        VolumePoint(USDC, "2026-12-06", 50 * 10**6, 1),
        VolumePoint(USDC, "2026-12-07", 30 * 10**6, 1),
    )
    assert figures.volume_by_week == (
        VolumePoint(ETH, "2026-W50", 19 * WEI + 1, 2),
        VolumePoint(USDC, "2026-W49", 150 * 10**6, 2),
        VolumePoint(USDC, "2026-W50", 30 * 10**6, 1),
    )


def test_trades_by_outcome_and_the_dispute_rate(session, rows: Rows) -> None:
    for _ in range(3):
        rows.trade()
    rows.trade(state=REFUNDED, outcome="refunded")
    rows.trade(state=int(TradeState.COMPLETED), outcome="timed_out")
    rows.trade(state=RESOLVED, outcome="ruled", buyer_bps=10_000, disputed_at=NOW - 9 * DAY)
    rows.trade(state=RESOLVED, outcome="ruled", buyer_bps=0, disputed_at=NOW - 9 * DAY)
    rows.trade(state=SETTLED, outcome="settled", buyer_bps=4000, disputed_at=NOW - 9 * DAY)
    rows.trade(state=int(TradeState.CANCELLED), outcome="cancelled", live_at=None)
    rows.trade(state=int(TradeState.FUNDED), outcome=None, ended_at=None)
    rows.trade(chain_id=1)  # another chain
    figures = stats(session, 31337, NOW)
    assert figures.outcomes == {"cancelled": 1, "open": 1, "refunded": 1, "released": 3, "ruled": 2, "settled": 1,
                                "timed_out": 1}
    assert (figures.trades, figures.funded, figures.disputed) == (10, 9, 3)
    assert figures.dispute_rate == pytest.approx(3 / 9)


def test_median_and_p90_seconds_from_funding_to_release(session, rows: Rows) -> None:
    for hours in (4, 1, 10, 3, 2):
        rows.trade(live_at=NOW - 5 * DAY, ended_at=NOW - 5 * DAY + hours * HOUR)
    # Not releases: a refund, a timeout, a ruling, however long they took.
    rows.trade(state=REFUNDED, outcome="refunded", live_at=NOW - 5 * DAY, ended_at=NOW)
    rows.trade(outcome="timed_out", live_at=NOW - 5 * DAY, ended_at=NOW)
    rows.trade(state=RESOLVED, outcome="ruled", buyer_bps=0, disputed_at=NOW - 4 * DAY, live_at=NOW - 5 * DAY,
               ended_at=NOW)
    figures = stats(session, 31337, NOW)
    assert figures.release_seconds_median == 3 * HOUR
    # Interpolated between the 4th and 5th of 5 (4 h and 10 h), 60% of the way: 7.6 h.
    assert figures.release_seconds_p90 == pytest.approx(7.6 * HOUR)
    assert figures.release_seconds_p90 == statistics.quantiles([h * HOUR for h in (1, 2, 3, 4, 10)], n=10,
                                                               method="inclusive")[-1]


def test_platform_fees_per_asset(session, rows: Rows) -> None:
    rows.trade(platform_fee=10**6)
    rows.trade(platform_fee=5 * 10**5)
    rows.trade(token=ETH, amount=2000 * WEI, platform_fee=10 * WEI)
    rows.trade(token=ETH, amount=2000 * WEI, platform_fee=10 * WEI)
    rows.trade(token=DAI, platform_fee=0)
    assert stats(session, 31337, NOW).platform_fees == {ETH: 20 * WEI, USDC: 1_500_000}


def test_the_arbiter_table(session, rows: Rows) -> None:
    disputed = NOW - 9 * DAY

    def ruled(days: int, bps: int, fee: int, **fields) -> None:
        rows.trade(state=RESOLVED, outcome="ruled", buyer_bps=bps, disputed_at=disputed,
                   ended_at=disputed + days * DAY, arbiter_fee=fee, **fields)

    ruled(2, 5000, 10**6)
    ruled(1, 10_000, 2 * 10**6)
    ruled(4, 0, WEI, token=ETH, amount=100 * WEI)
    rows.trade(state=RESOLVED, outcome="conceded", buyer_bps=0, disputed_at=disputed, arbiter_fee=5 * 10**5)
    rows.trade(state=SETTLED, outcome="settled", buyer_bps=5000, disputed_at=disputed, arbiter=ARBITER_2)
    rows.trade(arbiter=address(0xA4B3))  # never disputed: not in the table
    figures = stats(session, 31337, NOW)
    assert figures.arbiters == (
        ArbiterStats(ARBITER, cases=4, rulings=3, median_seconds_to_rule=2 * DAY, even_split_share=pytest.approx(1 / 3),
                     fees={ETH: WEI, USDC: 3_500_000}),
        ArbiterStats(ARBITER_2, cases=1, rulings=0, median_seconds_to_rule=None, even_split_share=None, fees={}),
    )


def test_to_json_is_a_plain_document(session, rows: Rows) -> None:
    rows.trade(platform_fee=7)
    document = stats(session, 31337, NOW).to_json()
    assert json.loads(json.dumps(document)) == document
    assert document["platform_fees"] == {USDC: 7}
    assert document["volume_by_day"][0]["volume"] == 100 * 10**6


# --------------------------------------------------------------------------------------------------
# Speed: search over 10,000 offers (SQLite)
# --------------------------------------------------------------------------------------------------

SEARCHES = [
    OfferFilter(),
    OfferFilter(token=USDC, min_amount=50 * 10**6, max_amount=500 * 10**6),
    OfferFilter(text="bike"),
    OfferFilter(category="electronics", sort="amount"),
    OfferFilter(sort="-amount", offset=200),
    OfferFilter(max_arbiter_fee_bps=100, timeout_releases=True, sort="expiry"),
    OfferFilter(min_score="3.5"),
    OfferFilter(sort="score"),
    OfferFilter(min_volume=10**8, token=USDC),
]


def _busy_index(session, rows: Rows) -> None:
    """10,000 offers by 1,000 sellers (2,000 of them filled or revoked), 10,000 recorded trades, 5,000
    ratings, bonds for every seller."""
    rows.sync_state()
    rows.listing(USDC, USDC_MIN)
    sellers = [address(0x5E11E4 << 16 | n) for n in range(1000)]
    words = ["bike", "guitar", "phone", "lamp", "desk", "camera", "book", "watch"]
    offers, trades, ratings = [], [], []
    for n in range(10_000):
        seller = sellers[n % 1000]
        offers.append({
            "chain_id": 31337, "id": f"0x{n:064x}", "seller": seller, "buyer": "0x" + "00" * 20,
            "token": USDC if n % 3 else DAI, "arbiter": ARBITER if n % 2 else ARBITER_2,
            "amount": (n % 997 + 1) * 10**6,
            "buyer_deposit": 0, "seller_deposit": (n % 5) * 10**6, "arbiter_fee_bps": n % 300,
            "platform_fee_bps": 0, "release_window": DAY, "arbitration_window": DAY, "flags": 2 | (n % 2),
            "terms_hash": f"0x{n:064x}", "nonce": n, "expiry": NOW + (n % 50) * DAY - 10 * DAY,
            "signature": "0x" + "11" * 65, "document": "{}", "title": f"{words[n % 8]} number {n}",
            "description": f"a {words[(n * 7) % 8]} in good condition", "category": ["electronics", "home"][n % 2],
            "tags": "[]", "payment_method": "", "fiat_price": "",
            "status": "open" if n % 5 else ["filled", "revoked"][n % 2], "trade_id": None, "source": "board",
            "published_block": n, "published_at": NOW - 10_000 + n, "tx_hash": f"0x{n:064x}", "log_index": 0,
        })
        trade_id = f"0x{n + 1:064x}"
        trades.append({
            "chain_id": 31337, "id": trade_id, "buyer": CAROL, "seller": seller, "token": USDC, "arbiter": ARBITER,
            "amount": (n % 50 + 10) * 10**6, "buyer_deposit": 0, "seller_deposit": 0, "arbiter_fee_bps": 0,
            "platform_fee_bps": 0, "funding_window": DAY, "release_window": DAY, "arbitration_window": DAY,
            "flags": 2, "terms_hash": trade_id, "salt": n, "state": int(TradeState.COMPLETED), "held": 0,
            "deadline": 0, "seller_acted": True, "seller_deposited": False, "records": True, "created_block": n,
            "created_at": NOW - 100 * DAY + n, "live_at": NOW - 100 * DAY + n, "disputed_at": None,
            "ended_at": NOW - 99 * DAY + n, "outcome": "released", "buyer_bps": None, "arbiter_fee": 0,
            "platform_fee": 0, "offer_id": None,
        })
        if n % 2:
            ratings.append({
                "chain_id": 31337, "trade_id": trade_id, "rater": CAROL, "ratee": seller, "role": 1, "asset": USDC,
                "amount": (n % 50 + 10) * 10**6, "score": n % 5 + 1, "comment_hash": trade_id, "block_number": n,
                "timestamp": NOW,
            })
    session.execute(insert(Offer), offers)
    session.execute(insert(Trade), trades)
    session.execute(insert(Rating), ratings)
    session.execute(insert(Bond), [{"chain_id": 31337, "seller": s, "token": t, "free": 3 * 10**6}
                                   for s in sellers for t in (USDC, DAI)])
    refresh_scores(session, 31337)  # the screening rows a sync keeps along
    refresh_records(session, 31337)
    session.commit()


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_every_search_over_ten_thousand_offers_answers_once_the_sync_has_analyzed(session, rows: Rows,
                                                                                   db_url: str) -> None:
    # How fast is measured by `make bench` (`--only market`, README "Market"), never here; this checks that
    # the searches answer at that size with the statistics a sync leaves (without them SQLite picked a plan
    # that scanned every offer per offer, and one search took minutes).
    _busy_index(session, rows)
    session.execute(text("ANALYZE"))
    for f in SEARCHES:
        assert search(session, 31337, f, NOW), f
