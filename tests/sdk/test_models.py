"""Exact amount conversion: the rules every SDK and CLI amount goes through."""

from decimal import Decimal

import pytest

from p2pescrow.errors import InvalidAmount, P2PEscrowError
from p2pescrow.models import TradeState, from_base_units, to_base_units


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
