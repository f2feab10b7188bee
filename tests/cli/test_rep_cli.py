"""``p2pescrow rep ...``: the record of an address after real trades, and rating a counterparty."""

from __future__ import annotations

import pytest
from support.escrow_cli import DEV, Chain, Cli, one_error_line

pytestmark = pytest.mark.anvil


def finished(cli: Cli, buyer: str, seller: str) -> str:
    trade_id = cli.create(seller, "1", account=buyer)
    cli.ok("trade", "release", trade_id, account=buyer)
    return trade_id


def test_rate_the_seller_and_read_the_record(cli: Cli) -> None:
    trade_id = finished(cli, "dev1", "dev8")

    rated = cli.ok("rep", "rate", trade_id, "--score", "4", "--comment", "fast shipping")
    assert "Rated the seller 4/5." in rated.stdout
    cli.ok("rep", "rate", trade_id, "--score", "5", account="dev8")

    text = cli.ok("rep", "show", DEV["dev8"], account=None).stdout
    document = cli.json("rep", "show", DEV["dev8"])["reputation"]

    assert text.startswith(f"Reputation of {DEV['dev8']}")
    for words in ("completed as seller  1", "ratings              1, average 4.00/5", "score                88/100"):
        assert words in text, words
    assert document["completed_as_seller"] == 1 and document["trades"] == 1
    assert document["rating_count"] == 1 and document["average_rating"] == "4.00" and document["score"] == 88
    assert cli.json("rep", "show", account="dev8")["reputation"]["address"] == DEV["dev8"]  # yours


def test_rating_twice_is_refused_by_the_contract(cli: Cli, deployed_anvil: Chain) -> None:
    trade_id = finished(cli, "dev1", "dev9")
    cli.ok("rep", "rate", trade_id, "--score", "5")
    nonce = deployed_anvil.nonce(DEV["dev1"])

    result = cli("rep", "rate", trade_id, "--score", "5")

    assert result.exit_code == 3 and "NotRateable" in one_error_line(result)
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

    assert "trades               0" in text and "no finished trades yet" in text
