"""``p2pescrow rep ...`` on escrow v2: the record of an address after real trades (per asset and role,
value-weighted), rating a counterparty, and what faking one unit of reputation costs. The module's
Anvil lists ETH as a reputation asset from 0.01 ETH."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from support.escrow_cli import DEV, Chain, Cli, one_error_line

pytestmark = pytest.mark.anvil


def finished(cli: Cli, buyer: str, seller: str, *, seller_enters: bool = True) -> str:
    """A released 1 ETH trade the buyer created; the seller accepted it first (its consent) unless not."""
    trade_id = cli.create(seller, "1", account=buyer)
    if seller_enters:
        cli.ok("trade", "accept", trade_id, account=seller)
    cli.ok("trade", "release", trade_id, account=buyer)
    return trade_id


def test_rate_both_ways_and_read_the_record_per_asset_and_role(cli: Cli) -> None:
    trade_id = finished(cli, "dev1", "dev8")

    rated = cli.ok("rep", "rate", trade_id, "--score", "4", "--comment", "fast shipping")
    assert "Rated the seller 4/5." in rated.stdout
    cli.ok("rep", "rate", trade_id, "5", account="dev8")

    text = cli.ok("rep", "show", DEV["dev8"], account=None).stdout
    document = cli.json("rep", "show", DEV["dev8"])["reputation"]

    assert text.startswith(f"Reputation of {DEV['dev8']}")
    # 1 ETH rated 4 = 100 units of 0.01 ETH: (4 x 100 + 3 x 5) / (100 + 5) = 3.95
    assert "score: 3.95/5 over 100.00 units rated (as buyer 3.00/5, as seller 3.95/5)" in text
    assert "one unit = one rated trade at the minimum: 0.01 ETH" in text
    row = next(line.split() for line in text.splitlines() if line.strip().startswith("ETH"))
    assert row == ["ETH", "seller", "1", "ETH", "1", "1", "0", "0", "0/0/0", "1", "on", "1", "4.00/5"]
    assert document["score"] == "3.95" and document["score_as_seller"] == "3.95" and document["trades"] == 1
    (record,) = document["records"]
    assert record["symbol"] == "ETH" and record["role"] == "seller" and record["volume"] == "1"
    assert record["completed"] == 1 and record["ratings"] == 1 and record["average_rating"] == "4.00"
    assert record["weighted_score"] == 4 * 10**18 and record["rated_volume_base_units"] == 10**18
    assert document["assets"] == [{"asset": "0x" + "00" * 20, "symbol": "ETH", "listed": True,
                                   "minimum": "0.01", "minimum_base_units": 10**16}]
    buyer = cli.json("rep", "show", account="dev1")["reputation"]  # yours
    assert buyer["address"] == DEV["dev1"] and buyer["score_as_buyer"] == "4.90"  # (5 x 100 + 15) / 105
    assert [r["role"] for r in buyer["records"]] == ["buyer"] and buyer["records"][0]["average_rating"] == "5.00"


def test_a_trade_the_seller_never_entered_records_nothing_and_cannot_be_rated(cli: Cli,
                                                                              deployed_anvil: Chain) -> None:
    trade_id = finished(cli, "dev1", "dev7", seller_enters=False)
    nonce = deployed_anvil.nonce(DEV["dev1"])

    result = cli("rep", "rate", trade_id, "1")

    assert result.exit_code == 3 and "NotRecorded" in one_error_line(result)
    assert deployed_anvil.nonce(DEV["dev1"]) == nonce
    assert cli.json("rep", "show", DEV["dev7"])["reputation"]["records"] == []


def test_rating_twice_is_refused_by_the_contract(cli: Cli, deployed_anvil: Chain) -> None:
    trade_id = finished(cli, "dev1", "dev9")
    cli.ok("rep", "rate", trade_id, "--score", "5")
    nonce = deployed_anvil.nonce(DEV["dev1"])

    result = cli("rep", "rate", trade_id, "--score", "5")

    assert result.exit_code == 3 and "AlreadyRated" in one_error_line(result)
    assert deployed_anvil.nonce(DEV["dev1"]) == nonce


def test_only_a_party_may_rate_and_only_1_to_5(cli: Cli) -> None:
    trade_id = finished(cli, "dev1", "dev9")

    outsider = cli("rep", "rate", trade_id, "--score", "5", account="dev4")
    assert outsider.exit_code == 2 and "neither the buyer nor the seller" in one_error_line(outsider)
    for score in ("0", "6"):
        result = cli("rep", "rate", trade_id, "--score", score)
        assert result.exit_code == 2 and "rate 1 (worst) to 5 (best)" in one_error_line(result)


def test_an_address_without_history(cli: Cli) -> None:
    text = cli.ok("rep", "show", "0x" + "ab" * 20).stdout

    assert "score: 3.00/5 over 0.00 units rated" in text and "no recorded trades yet" in text


def test_rep_cost_prices_a_recording_self_trade_per_listed_asset(cli: Cli) -> None:
    text = cli.ok("rep", "cost", "--gas-price", "2", account=None).stdout
    document = cli.json("rep", "cost", "--gas-price", "2", account=None)["trust_cost"]

    (eth,) = document["assets"]
    assert eth["symbol"] == "ETH" and eth["minimum"] == "0.01" and eth["platform_fee_bps"] == 25
    assert [s["call"] for s in eth["steps"]] == ["fillOffer", "release", "rate", "rate"]  # the cheaper path
    assert eth["gas"] == sum(s["gas"] for s in eth["steps"]) == min(p["gas"] for p in eth["paths"])
    assert 150_000 < eth["gas"] < 300_000
    assert eth["gas_price_wei"] == 2 * 10**9 and eth["gas_cost_wei"] == eth["gas"] * 2 * 10**9
    assert eth["platform_fee"] == "0.000025"  # 0.25% of 0.01 ETH
    assert eth["per_unit_wei"] == eth["gas_cost_wei"] + 25 * 10**12
    assert eth["per_volume"] == {"fee_rate": "0.0025", "gas_wei_at_minimum_size": eth["gas_cost_wei"] * 100}
    # The text is another run: the same figures within the few dozen gas the offer's expiry moves them.
    gas = int(re.search(r"gas +([\d,]+) \(signed offer: fillOffer, release, rate by each side\)", text)[1]
              .replace(",", ""))
    assert abs(gas - eth["gas"]) <= 100
    per_unit = Decimal(gas * 2 * 10**9 + 25 * 10**12) / 10**18
    assert f"per unit {per_unit.normalize():f} ETH" in text
    assert "fee      0.000025 ETH (platform fee on the minimum, rounded up)" in text
    assert "per 1 ETH of rated volume: 0.0025 ETH in fees at any trade size" in text


def test_rep_cost_refuses_a_negative_gas_price(cli: Cli) -> None:
    result = cli("rep", "cost", "--gas-price", "-1", account=None)
    assert result.exit_code == 2 and "gas price" in one_error_line(result)


def test_readme_trust_figures_are_what_rep_cost_says(cli: Cli) -> None:
    """README's Trust table (written from `p2pescrow rep cost --gas-price 1` after `node start`, which
    lists ETH from 0.01 at 0.25%, as this module's chain does) holds the ETH figure this command
    measures, within the few dozen gas the offer's expiry timestamp moves it."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    trust = readme.split("\n## Trust\n", 1)[1].split("\n## ", 1)[0]
    row = next(line for line in trust.splitlines() if line.startswith("| ETH | 0.01 ETH |"))
    published = int(row.split("|")[3].strip().replace(",", ""))
    (eth,) = cli.json("rep", "cost", "--gas-price", "1", account=None)["trust_cost"]["assets"]
    assert abs(eth["gas"] - published) <= 100, (eth["gas"], published)
