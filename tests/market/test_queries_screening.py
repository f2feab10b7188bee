# ruff: noqa: F811 - the session and rows fixtures are imported from support.market_rows
"""market.queries.screening: an account's record from the index, as the Reputation contract keeps it
(recorded trades only: asked to record, in a listed asset, the seller having acted), per asset and
role, with the value-weighted ratings, the totals, the first trade and the score, on SQLite and
PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import pytest
from support.market_rows import (  # noqa: F401 - fixtures
    ALICE,
    BOB,
    CAROL,
    DAI,
    DAY,
    ETH,
    NOW,
    USDC,
    USDC_MIN,
    WEI,
    Rows,
    rows,
    session,
)

from p2pescrow.market.queries import screening
from p2pescrow.models import AssetRecord, ReputationRecord, ReputationRole
from p2pescrow.states import TradeState

BUYER, SELLER = ReputationRole.BUYER, ReputationRole.SELLER


def test_an_unknown_account_scores_the_prior(session, rows: Rows) -> None:
    rows.listing(USDC, USDC_MIN)
    s = screening(session, 31337, CAROL)
    assert s.address == CAROL
    assert (s.records, s.completed, s.refunded, s.disputed, s.first_trade_at) == ((), 0, 0, 0, None)
    assert s.score == Decimal("3.00") and s.trades == 0


def test_outcomes_are_counted_per_asset_and_role_as_the_contract_records_them(session, rows: Rows) -> None:
    resolved = int(TradeState.RESOLVED)
    rows.trade(created_at=NOW - 30 * DAY)  # Alice sells to Bob, released
    rows.trade(state=int(TradeState.REFUNDED), outcome="refunded", amount=50 * 10**6)
    rows.trade(state=int(TradeState.SETTLED), outcome="settled", buyer_bps=3000, disputed_at=NOW - 9 * DAY)
    rows.trade(state=resolved, outcome="ruled", buyer_bps=10_000, disputed_at=NOW - 9 * DAY)  # Bob won
    rows.trade(state=resolved, outcome="conceded", buyer_bps=0, disputed_at=NOW - 9 * DAY)  # Alice won
    rows.trade(state=resolved, outcome="expired", buyer_bps=5000, disputed_at=NOW - 9 * DAY)  # split
    rows.trade(buyer=ALICE, seller=CAROL, amount=20 * 10**6, created_at=NOW - 20 * DAY)  # Alice buys
    alice = screening(session, 31337, ALICE)
    as_seller = AssetRecord(USDC, SELLER, volume=550 * 10**6, completed=1, refunded=1, settled=1, disputes_won=1,
                            disputes_lost=1, disputes_split=1)
    as_buyer = AssetRecord(USDC, BUYER, volume=20 * 10**6, completed=1)
    assert alice.records == (as_buyer, as_seller)
    assert (alice.completed, alice.refunded, alice.disputed, alice.trades) == (2, 1, 4, 7)
    assert alice.first_trade_at == NOW - 30 * DAY
    assert alice.volume(USDC) == 570 * 10**6
    bob = screening(session, 31337, BOB)
    assert bob.records == (AssetRecord(USDC, BUYER, volume=550 * 10**6, completed=1, refunded=1, settled=1,
                                       disputes_won=1, disputes_lost=1, disputes_split=1),)


def test_only_trades_that_count_for_reputation_are_screened(session, rows: Rows) -> None:
    rows.trade(records=False)  # not asked to record, or the asset not listed or under its minimum
    rows.trade(seller_acted=False)  # the seller never entered it knowingly
    rows.trade(state=int(TradeState.CANCELLED), outcome="cancelled", live_at=None)
    rows.trade(state=int(TradeState.FUNDED), outcome=None, ended_at=None)  # still live
    rows.trade(chain_id=1)  # another chain
    assert screening(session, 31337, ALICE).records == ()
    assert screening(session, 31337, ALICE).first_trade_at is None
    rows.trade(amount=7)
    assert screening(session, 31337, ALICE).records == (AssetRecord(USDC, SELLER, volume=7, completed=1),)


def test_ratings_are_weighted_by_value_and_give_the_score(session, rows: Rows) -> None:
    rows.listing(USDC, USDC_MIN)
    rows.listing(DAI, 10 * WEI, listed=False)  # delisted: its ratings show but carry no weight
    big = rows.trade(amount=100 * 10**6)  # 10 units
    small = rows.trade(amount=50 * 10**6)  # 5 units
    delisted = rows.trade(token=DAI, amount=500 * WEI)
    rows.rating(big, BOB, 5)
    rows.rating(small, BOB, 1)
    rows.rating(delisted, BOB, 1)
    rows.rating(big, ALICE, 4)  # Alice rates Bob: not Alice's record
    s = screening(session, 31337, ALICE)
    usdc = next(r for r in s.records if r.asset == USDC and r.role is SELLER)
    assert (usdc.rated_volume, usdc.weighted_score, usdc.count) == (150 * 10**6, 550 * 10**6, 2)
    assert usdc.average_rating == Decimal("3.67")
    # (5*10 + 1*5 + 3*5) / (10 + 5 + 5): the prior 3.0 weighs 5 units; DAI is not listed.
    assert s.score == Decimal("3.50")
    assert s.minimums == {USDC: USDC_MIN}
    assert s.score == ReputationRecord(ALICE, s.records, {USDC: USDC_MIN}).score()
    bob = screening(session, 31337, BOB)
    assert [(r.role, r.rated_volume, r.weighted_score) for r in bob.records if r.count] == [
        (BUYER, 100 * 10**6, 400 * 10**6)
    ]


def test_volumes_beyond_64_bits_are_exact(session, rows: Rows) -> None:
    rows.listing(ETH, WEI // 100)
    amounts = [10 * WEI + 1, 2**111, 7 * WEI + 3]
    for amount in amounts:
        trade = rows.trade(token=ETH, amount=amount)
        rows.rating(trade, BOB, 4)
    (record,) = screening(session, 31337, ALICE).records
    assert record.volume == sum(amounts)
    assert record.rated_volume == sum(amounts)
    assert record.weighted_score == 4 * sum(amounts)


def test_the_address_may_be_given_in_any_case(session, rows: Rows) -> None:
    rows.trade()
    assert screening(session, 31337, ALICE.lower()).address == ALICE
    assert screening(session, 31337, ALICE.lower()).trades == 1
    with pytest.raises(ValueError, match="not an address"):
        screening(session, 31337, "alice")


def test_to_json_is_plain(session, rows: Rows) -> None:
    rows.listing(USDC, USDC_MIN)
    rows.rating(rows.trade(), BOB, 5)
    document = screening(session, 31337, ALICE).to_json()
    assert document["score"] == "4.33"
    assert document["trades"] == 1
    assert document["records"][0]["role"] == "seller"
    assert document["minimums"] == {USDC: USDC_MIN}
