"""The domain values: exact amount conversion (the rules every SDK and CLI amount goes through), and the v2
rules mirrored from the contract: states, terms, fees rounded up, who gets each deposit, what each party may do,
and the reputation score."""

import dataclasses
import re
from decimal import Decimal
from pathlib import Path

import pytest

from p2pescrow.core.trades import (
    Ending,
    deposit_payouts,
    deposits_to,
    fee_up,
    next_actions,
    split,
    trade_from_slot,
)
from p2pescrow.errors import InvalidAmount, P2PEscrowError
from p2pescrow.models import (
    ETH_TOKEN,
    FLAG_CREATED_BY_SELLER,
    FLAG_RECORD_REPUTATION,
    ZERO_ADDRESS,
    AssetRecord,
    ReputationRecord,
    ReputationRole,
    Role,
    Terms,
    TradeState,
    from_base_units,
    to_base_units,
)
from p2pescrow.states import TRANSITIONS


@pytest.mark.parametrize(("amount", "decimals", "units"), [
    ("1.5", 18, 1_500_000_000_000_000_000),
    (Decimal("0.000001"), 6, 1),
    ("250", 6, 250_000_000),
    (3, 0, 3),
    ("1_000.25", 2, 100_025),
    ("1.500000", 6, 1_500_000),  # trailing zeros are not extra precision
    (str(2**128 - 1), 0, 2**128 - 1),  # beyond Decimal's default 28 digits: still exact
    ("123456789012.123456789012345678", 18, 123456789012123456789012345678),
])
def test_amounts_convert_exactly(amount, decimals, units):
    assert to_base_units(amount, decimals) == units


@pytest.mark.parametrize(("amount", "decimals", "reason"), [
    (0.1, 18, "float"),
    ("1.0000001", 6, "has 7 decimals, the token has 6"),
    ("0", 18, "greater than zero"),
    ("-1", 18, "greater than zero"),
    ("abc", 18, "not a number"),
    ("NaN", 18, "finite"),
    (str(2**128), 0, "larger than one trade can hold"),
])
def test_bad_amounts_are_refused_with_the_reason(amount, decimals, reason):
    with pytest.raises(InvalidAmount, match=reason) as info:
        to_base_units(amount, decimals)
    assert isinstance(info.value, P2PEscrowError)


def test_base_units_convert_back_exactly():
    assert from_base_units(1_500_000_000_000_000_000, 18) == Decimal("1.5")
    assert str(from_base_units(100_000_000, 6)) == "100"
    assert from_base_units(1, 18) == Decimal("1E-18")


def test_terminal_states():
    assert [s.name for s in TradeState if s.is_terminal] == [
        "COMPLETED", "REFUNDED", "SETTLED", "RESOLVED", "CANCELLED"]


# -- v2: states, terms, fees, deposits, what each party may do, reputation ------------------------------
INTERFACE = Path(__file__).resolve().parents[2] / "contracts" / "interfaces" / "IP2PEscrow.sol"
BUYER, SELLER, ARBITER = "0x" + "b1" * 20, "0x" + "5e" * 20, "0x" + "a7" * 20


def _solidity_block(keyword: str, name: str) -> list[str]:
    """The members of ``enum State`` / ``struct Terms`` in IP2PEscrow.sol, in order."""
    body = re.search(rf"{keyword} {name} {{(.*?)}}", INTERFACE.read_text(), re.S).group(1)
    lines = [line.split("//")[0].strip().rstrip(",;") for line in body.splitlines()]
    return [line.split()[-1] for line in lines if line]


def test_trade_states_are_the_contracts_enum_in_its_order():
    names = _solidity_block("enum", "State")
    assert [re.sub(r"(?<!^)(?=[A-Z])", "_", n).upper() for n in names] == [s.name for s in TradeState]
    assert TradeState.AWAITING_DEPOSIT == 2 and TradeState.CANCELLED == 9
    assert [s.name for s in TradeState if s.is_ended] == ["COMPLETED", "REFUNDED", "SETTLED", "RESOLVED"]
    assert [s.name for s in TradeState if s.is_live] == ["FUNDED", "DISPUTED"]


def test_terms_are_the_contracts_struct_field_for_field():
    names = _solidity_block("struct", "Terms")
    assert names[4:7] == ["amount", "buyerDeposit", "sellerDeposit"]
    snake = [re.sub(r"(?<!^)(?=[A-Z])", "_", n).lower() for n in names]
    assert snake == [f.name for f in dataclasses.fields(Terms)]
    terms = _terms(buyer_deposit=3, seller_deposit=4)
    assert Terms.from_tuple(terms.as_tuple()) == terms and terms.as_tuple()[5:7] == (3, 4)
    assert Terms.ABI_TYPE.count(",") == 14


def _terms(**overrides):
    values = dict(buyer=BUYER, seller=SELLER, token=ZERO_ADDRESS, arbiter=ARBITER, amount=10_000,
                  buyer_deposit=100, seller_deposit=200, arbiter_fee_bps=200, platform_fee_bps=25,
                  funding_window=3_600, release_window=86_400, arbitration_window=86_400,
                  flags=FLAG_RECORD_REPUTATION, terms_hash=b"\0" * 32, salt=1)
    return Terms(**{**values, **overrides})


def test_deposits_may_be_zero_but_not_negative():
    assert to_base_units("0", 18, allow_zero=True) == 0
    assert to_base_units("0.1", 18, allow_zero=True) == 10**17
    with pytest.raises(InvalidAmount, match="cannot be negative"):
        to_base_units("-1", 18, allow_zero=True)


@pytest.mark.parametrize(("held", "bps", "fee"), [(1, 25, 1), (10_000, 25, 25), (10_001, 25, 26), (3, 1, 1),
                                                  (0, 25, 0), (5, 0, 0)])
def test_the_platform_fee_rounds_up(held, bps, fee):
    assert fee_up(held, bps) == fee
    assert split(held, 0, 0, bps) == {"to_buyer": 0, "to_seller": held - fee, "arbiter_fee": 0, "platform_fee": fee}


def test_a_split_sums_to_what_is_held_and_paying_in_parts_never_pays_less_fee():
    for held in (1, 7, 999, 10_001, 123_456_789):
        for buyer_bps in (0, 1, 3_333, 5_000, 9_999, 10_000):
            parts = split(held, buyer_bps, 150, 25)
            assert sum(parts.values()) == held
    assert fee_up(3, 25) + fee_up(3, 25) + fee_up(4, 25) >= fee_up(10, 25)


# The deposits table of IP2PEscrow, row by row: (ending, has an arbiter, buyer_bps) -> (buyer's deposit to,
# seller's deposit to).
DEPOSITS_TABLE = [
    (Ending.RELEASED, True, None, Role.BUYER, Role.SELLER),
    (Ending.REFUNDED, True, None, Role.BUYER, Role.SELLER),
    (Ending.SETTLED, True, None, Role.BUYER, Role.SELLER),
    (Ending.CANCELLED, True, None, Role.BUYER, Role.SELLER),
    (Ending.TIMEOUT_TO_SELLER, True, None, Role.SELLER, Role.SELLER),
    (Ending.TIMEOUT_TO_BUYER, True, None, Role.BUYER, Role.BUYER),
    (Ending.TIMEOUT_TO_SELLER, False, None, Role.BUYER, Role.SELLER),
    (Ending.TIMEOUT_TO_BUYER, False, None, Role.BUYER, Role.SELLER),
    (Ending.RULED, True, 4_999, Role.SELLER, Role.SELLER),
    (Ending.RULED, True, 0, Role.SELLER, Role.SELLER),
    (Ending.RULED, True, 5_001, Role.BUYER, Role.BUYER),
    (Ending.RULED, True, 10_000, Role.BUYER, Role.BUYER),
    (Ending.RULED, True, 5_000, Role.BUYER, Role.SELLER),
    (Ending.DISPUTE_EXPIRED, True, None, Role.BUYER, Role.SELLER),
    (Ending.BUYER_CONCEDED, True, None, Role.SELLER, Role.SELLER),
    (Ending.SELLER_CONCEDED, True, None, Role.BUYER, Role.BUYER),
]


@pytest.mark.parametrize(("ending", "arbiter", "bps", "buyer_deposit_to", "seller_deposit_to"), DEPOSITS_TABLE)
def test_who_gets_each_deposit_follows_the_contracts_table(ending, arbiter, bps, buyer_deposit_to, seller_deposit_to):
    to = deposits_to(ending, has_arbiter=arbiter, buyer_bps=bps)
    assert (to.buyer_deposit, to.seller_deposit) == (buyer_deposit_to, seller_deposit_to)
    loser = Role.BUYER if buyer_deposit_to is Role.SELLER else Role.SELLER if seller_deposit_to is Role.BUYER else None
    assert to.forfeited_by is loser


def test_deposit_payouts_name_amounts_and_only_what_was_in():
    terms = _terms()
    assert deposit_payouts(terms, Ending.RELEASED) == {Role.BUYER: 100, Role.SELLER: 200}
    assert deposit_payouts(terms, Ending.BUYER_CONCEDED) == {Role.SELLER: 300}
    assert deposit_payouts(terms, Ending.RULED, buyer_bps=7_000) == {Role.BUYER: 300}
    assert deposit_payouts(terms, Ending.CANCELLED, buyer_in=False) == {Role.SELLER: 200}
    assert deposit_payouts(_terms(arbiter=ZERO_ADDRESS, arbiter_fee_bps=0), Ending.TIMEOUT_TO_SELLER) == \
        {Role.BUYER: 100, Role.SELLER: 200}
    assert deposit_payouts(_terms(buyer_deposit=0, seller_deposit=0), Ending.BUYER_CONCEDED) == {}
    with pytest.raises(ValueError, match="buyer_bps"):
        deposits_to(Ending.RULED)


def test_next_actions_of_each_v2_state():
    terms, later, now = _terms(), 2_000, 1_000
    waiting = next_actions(terms, TradeState.AWAITING_FUNDING, later, 0, now)
    assert waiting == {Role.BUYER: ("fund", "cancel"), Role.SELLER: ("accept",)}
    by_seller = _terms(flags=FLAG_RECORD_REPUTATION | FLAG_CREATED_BY_SELLER)
    assert next_actions(by_seller, TradeState.AWAITING_FUNDING, later, 64 | 128, now) == \
        {Role.BUYER: ("fund",), Role.SELLER: ("cancel",)}
    assert next_actions(terms, TradeState.AWAITING_DEPOSIT, later, 0, now) == \
        {Role.BUYER: ("cancel",), Role.SELLER: ("accept",)}
    assert next_actions(terms, TradeState.AWAITING_DEPOSIT, later, 0, later) == \
        {Role.BUYER: ("cancel",), Role.ANYONE: ("cancel",)}
    live = next_actions(terms, TradeState.FUNDED, later, 64 | 128, now)
    assert live[Role.SELLER] == ("refund", "mark_delivered", "dispute", "propose_settlement")
    assert "accept" in next_actions(terms, TradeState.FUNDED, later, 0, now)[Role.SELLER]  # consent not given yet
    disputed = next_actions(terms, TradeState.DISPUTED, later, 64, now)
    assert disputed[Role.BUYER] == ("propose_settlement", "concede") and disputed[Role.ARBITER] == ("rule",)
    assert next_actions(terms, TradeState.DISPUTED, later, 64, later)[Role.ANYONE] == ("resolve_expired_dispute",)


def test_ratings_open_on_every_ended_trade_that_records_and_the_seller_entered():
    terms = _terms()
    records, acted = 256, 64
    for state in (TradeState.COMPLETED, TradeState.REFUNDED, TradeState.SETTLED, TradeState.RESOLVED):
        assert next_actions(terms, state, 0, records | acted, 1) == {Role.BUYER: ("rate",), Role.SELLER: ("rate",)}
        assert next_actions(terms, state, 0, records | acted | 16, 1) == {Role.SELLER: ("rate",)}
        assert next_actions(terms, state, 0, records, 1) == {}  # the seller never entered it
        assert next_actions(terms, state, 0, acted, 1) == {}  # not a listed asset, or below its minimum
    assert next_actions(terms, TradeState.CANCELLED, 0, records | acted, 1) == {}


def test_the_slot_marks_become_the_trades_flags():
    trade = trade_from_slot(_terms(), ETH_TOKEN, (10_000, 2_000, 3, 64 | 128 | 256 | 1, 0), 1_000)
    assert (trade.state, trade.delivery_marked, trade.seller_acted, trade.seller_deposited, trade.records) == \
        (TradeState.FUNDED, True, True, True, True)
    assert trade.counts_for_reputation and (trade.buyer_deposit, trade.seller_deposit) == (100, 200)
    bare = trade_from_slot(_terms(), ETH_TOKEN, (10_000, 2_000, 2, 0, 0), 1_000)
    assert (bare.state, bare.seller_acted, bare.seller_deposited, bare.records) == \
        (TradeState.AWAITING_DEPOSIT, False, False, False)


def test_the_state_table_lets_the_seller_accept_and_either_party_concede():
    moves = {(t.source, t.target): t for t in TRANSITIONS if len(t.actions) == 1}
    assert moves[(TradeState.AWAITING_DEPOSIT, TradeState.FUNDED)].actions == ("accept",)
    assert moves[(TradeState.AWAITING_DEPOSIT, TradeState.CANCELLED)].who == "buyer"
    assert any(t.actions == ("concede",) and t.target is TradeState.RESOLVED for t in TRANSITIONS)
    assert any(t.source is None and t.target is TradeState.AWAITING_DEPOSIT for t in TRANSITIONS)


USDC = "0x" + "cc" * 20


def _record(asset, role, rated_volume, weighted_score, **counts):
    return AssetRecord(asset, role, rated_volume=rated_volume, weighted_score=weighted_score, count=1, **counts)


def test_the_score_weighs_each_asset_in_units_of_its_minimum_with_a_prior_of_3():
    eth_min, usdc_min = 10**16, 10 * 10**6
    record = ReputationRecord(BUYER, (
        _record(ZERO_ADDRESS, ReputationRole.SELLER, 5 * eth_min, 5 * 5 * eth_min, completed=5),  # 5 units at 5.0
        _record(USDC, ReputationRole.BUYER, 10 * usdc_min, 1 * 10 * usdc_min, completed=1),  # 10 units at 1.0
    ), {ZERO_ADDRESS: eth_min, USDC: usdc_min})
    # (5*5 + 10*1 + 3*5) / (5 + 10 + 5) = 50 / 20
    assert record.score() == Decimal("2.50")
    assert record.units() == 15
    assert record.score(assets=[ZERO_ADDRESS]) == Decimal("4.00")  # (25 + 15) / (5 + 5)
    assert record.score(role=ReputationRole.BUYER) == Decimal("1.67")  # (10 + 15) / (10 + 5)
    assert record.record(USDC, ReputationRole.BUYER).average_rating == Decimal("1.00")
    assert record.trades == 6 and record.volume == {ZERO_ADDRESS: 0, USDC: 0}


def test_an_unknown_account_or_an_untrusted_asset_scores_the_prior():
    assert ReputationRecord(BUYER).score() == Decimal("3.00")
    untrusted = ReputationRecord(BUYER, (_record(USDC, ReputationRole.SELLER, 10**9, 5 * 10**9),), {})
    assert untrusted.score() == Decimal("3.00") and untrusted.units() == 0
    assert AssetRecord(USDC, ReputationRole.SELLER).average_rating is None
