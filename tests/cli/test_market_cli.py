"""The market commands on a real Anvil: `offer create` with a listing's fields, `offer publish`, then
`market sync` (what it did, in one line), `market search` (its filters, the sellers' screening, tokens by
symbol and address, an imitation flagged, `--json`), `offer fill` by an index id, `market stats`,
`rep show` with the index's screening, and the one-line errors (no `market` extra, a database that does
not answer, a URL that is not one).

The index is the default SQLite file in the module's config folder: each command syncs the blocks mined
since the command before."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.escrow_cli import DEV, Chain, Cli, one_error_line

from p2pescrow._artifacts import load_artifact
from p2pescrow.core.offers import terms_hash

ARBITER = DEV["dev3"]


def create(cli: Cli, path: Path, amount: str, *options: str, seller: str = "dev2") -> dict[str, Any]:
    """`offer create ... --out path` as ``seller``; the offer's summary."""
    return cli.json("offer", "create", "--amount", amount, *options, "--out", str(path), account=seller)["offer"]


def publish(cli: Cli, path: Path, seller: str = "dev2") -> dict[str, Any]:
    return cli.json("offer", "publish", str(path), account=seller)


def test_publish_says_it_is_public_forever_and_where_buyers_find_it(cli: Cli, tmp_path: Path) -> None:
    offer = create(cli, tmp_path / "kayak.json", "0.4", "--title", "Kayak", "--category", "water", seller="dev9")
    result = cli.ok("offer", "publish", str(tmp_path / "kayak.json"), account="dev9")
    assert "public forever" in result.stderr
    assert "Published offer nonce" in result.stdout and "`p2pescrow market search`" in result.stdout
    assert [o["title"] for o in search(cli, "--category", "water")] == ["Kayak"]
    cli.ok("offer", "revoke", offer["nonce"], account="dev9")  # and off the list again
    assert search(cli, "--category", "water") == []


def search(cli: Cli, *filters: str) -> list[dict[str, Any]]:
    return list(cli.json("market", "search", *filters, account=None)["offers"])


@pytest.fixture(scope="module")
def board(deployed_anvil: Chain, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Offers on the board: two by dev2 (a seller with one completed recorded trade), one by dev4, one by dev5
    in a token whose symbol imitates ETH (the listed reputation asset), one by dev7 with a seller deposit its
    bond covers; and one by dev8 whose deposit no bond covers (never listed: it cannot be filled)."""
    cli = Cli(deployed_anvil)
    folder = tmp_path_factory.mktemp("offers")
    trade = cli.create("dev2", "0.1")  # dev1 buys from dev2: recorded (ETH listed from 0.01, dev2 accepts)
    cli.ok("trade", "accept", trade, account="dev2")
    cli.ok("trade", "release", trade)
    cli.ok("rep", "rate", trade, "5")  # dev1 rates dev2: 5 on 10 units (0.1 ETH at 0.01 each) -> 4.33
    bike, lamp, phone = folder / "bike.json", folder / "lamp.json", folder / "phone.json"
    create(cli, bike, "0.8", "--title", "Road bike, size 56", "--description", "Steel frame, new tyres",
           "--category", "bikes", "--tag", "road", "--tag", "steel", "--arbiter", ARBITER, "--arbiter-fee", "1%",
           "--buyer-deposit", "0.05")
    create(cli, lamp, "0.2", "--title", "Desk lamp", "--description", "Brass, works", "--category", "home",
           "--timeout-releases")
    create(cli, phone, "0.5", "--title", "Phone", "--description", "Unlocked, 128 GB, paid by bank transfer",
           "--category", "electronics", "--payment-method", "SEPA transfer", "--fiat-price", "450 EUR",
           "--arbiter", ARBITER, "--arbiter-fee", "3%", seller="dev4")
    for path, seller in ((bike, "dev2"), (lamp, "dev2"), (phone, "dev4")):
        publish(cli, path, seller)
    fake = _token(deployed_anvil, "Wrapped Ether", "WETH")
    weth = folder / "weth.json"
    create(cli, weth, "2", "--token", fake, "--title", "Wrapped ether, cheap", seller="dev5")
    publish(cli, weth, "dev5")
    cli.ok("bond", "deposit", "0.1", account="dev7")
    camera, drone = folder / "camera.json", folder / "drone.json"
    create(cli, camera, "0.9", "--title", "Camera", "--seller-deposit", "0.1", "--buyer-deposit", "0.01",
           seller="dev7")
    create(cli, drone, "0.4", "--title", "Drone", "--seller-deposit", "0.5", seller="dev8")
    publish(cli, camera, "dev7")
    publish(cli, drone, "dev8")
    return {"fake": fake}


def _token(chain: Chain, name: str, symbol: str) -> str:
    """A dev ERC-20 held by dev5 (deployed by dev5 with plain web3: Anvil's accounts are unlocked)."""
    artifact = load_artifact("DevToken")
    factory = chain.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    tx = factory.constructor(name, symbol, [DEV["dev5"]], 10**24).transact({"from": DEV["dev5"]})
    receipt = chain.w3.eth.wait_for_transaction_receipt(tx)
    return str(receipt["contractAddress"])


def test_offer_create_builds_the_terms_document_from_the_listing_fields(cli: Cli, tmp_path: Path) -> None:
    offer = create(cli, tmp_path / "o.json", "0.3", "--title", "Tent", "--description", "Two people",
                   "--category", "outdoor", "--tag", "camping", "--tag", "light", "--payment-method", "cash",
                   "--fiat-price", "120 EUR")
    fields = {"title": "Tent", "description": "Two people", "category": "outdoor", "tags": ["camping", "light"],
              "payment_method": "cash", "fiat_price": "120 EUR"}
    assert offer["terms_document"] == fields and offer["terms_document_matches"] is True
    assert offer["terms_hash"] == "0x" + terms_hash(fields).hex()
    written = json.loads((tmp_path / "o.json").read_text())
    assert written["terms"] == fields
    clash = cli("offer", "create", "--amount", "0.3", "--terms", "a tent", "--description", "a bike",
                account="dev2")
    assert clash.exit_code == 2 and "--description and --terms both give" in one_error_line(clash)


def test_sync_says_what_it_did(cli: Cli, board: dict[str, Any]) -> None:
    first = cli.ok("market", "sync", account=None)
    assert first.stdout.startswith(("Synced blocks", "The market index is up to date")), first.stdout
    again = cli.ok("market", "sync", account=None)
    assert "The market index is up to date" in again.stdout or "Synced blocks" in again.stdout
    assert "market.sqlite" in again.stdout
    document = cli.json("market", "sync", account=None)["sync"]
    assert document["database"].endswith("market.sqlite") and document["to_block"] >= 1


def test_search_lists_the_offers_with_their_sellers_screening(cli: Cli, board: dict[str, Any]) -> None:
    offers = {o["title"]: o for o in search(cli)}
    assert {"Road bike, size 56", "Desk lamp", "Phone", "Wrapped ether, cheap"} <= set(offers)
    bike = offers["Road bike, size 56"]
    assert bike["seller"] == DEV["dev2"] and bike["category"] == "bikes" and list(bike["tags"]) == ["road", "steel"]
    assert bike["amount"] == {"value": "0.8", "base_units": str(8 * 10**17), "symbol": "ETH"}
    assert bike["token"]["symbol"] == "ETH" and bike["token"]["imitation"] is False
    screening = bike["screening"]
    assert screening["completed"] >= 1 and screening["first_trade_at"] is not None
    assert any(r["asset"] == "0x" + "0" * 40 and r["symbol"] == "ETH" and int(r["volume"]) >= 10**17
               for r in screening["records"])
    assert offers["Phone"]["screening"]["completed"] == 0 and offers["Phone"]["screening"]["score"] == "3.00"
    assert offers["Phone"]["fiat_price"] == "450 EUR" and offers["Phone"]["payment_method"] == "SEPA transfer"
    weth = offers["Wrapped ether, cheap"]
    assert weth["token"] == {"address": board["fake"], "symbol": "WETH", "decimals": 6, "imitation": True}
    assert any("imitates the listed reputation asset ETH" in w for w in weth["warnings"])


def test_search_as_text_shows_tokens_by_symbol_and_address_and_flags_the_imitation(
        cli: Cli, board: dict[str, Any]) -> None:
    text = cli.ok("market", "search", account=None).stdout
    assert "[bikes] Road bike, size 56  #road #steel" in text
    assert "0.8 ETH  (token ETH 0x0000000000000000000000000000000000000000)" in text
    assert f"2 WETH  (token WETH {board['fake']})" in text
    assert "WARNING   token WETH" in text and "imitates the listed reputation asset ETH" in text
    assert f"seller    {DEV['dev2']}: score" in text and "completed 1" in text
    assert "fill one with `p2pescrow offer fill ID`" in text


@pytest.mark.parametrize(("filters", "titles"), [
    (("--category", "bikes"), {"Road bike, size 56"}),
    (("--text", "steel"), {"Road bike, size 56"}),
    (("--text", "bank transfer"), {"Phone"}),
    (("--token", "ETH", "--max-amount", "0.5"), {"Desk lamp", "Phone"}),
    (("--token", "ETH", "--min-amount", "0.5", "--max-amount", "0.8"), {"Road bike, size 56", "Phone"}),
    (("--arbiter", ARBITER), {"Road bike, size 56", "Phone"}),
    (("--arbiter", ARBITER, "--max-arbiter-fee", "2%"), {"Road bike, size 56"}),
    (("--timeout", "releases"), {"Desk lamp"}),
    (("--token", "ETH", "--max-buyer-deposit", "0"), {"Desk lamp", "Phone"}),
    (("--seller", DEV["dev4"]), {"Phone"}),
    (("--token", "ETH", "--min-volume", "0.1"), {"Road bike, size 56", "Desk lamp"}),
    (("--token", "ETH", "--min-seller-deposit", "0.1"), {"Camera"}),
    (("--token", "ETH", "--max-seller-deposit", "0"), {"Road bike, size 56", "Desk lamp", "Phone"}),
    (("--text", "drone"), set()),
    (("--min-score", "4.3"), {"Road bike, size 56", "Desk lamp"}),
    (("--min-score", "4.4"), set()),  # its seller's bond does not cover its deposit: it cannot be filled
])
def test_search_filters(cli: Cli, board: dict[str, Any], filters: tuple[str, ...], titles: set[str]) -> None:
    assert {o["title"] for o in search(cli, *filters)} == titles


def test_search_sorts(cli: Cli, board: dict[str, Any]) -> None:
    by_score = search(cli, "--sort", "score")
    assert {o["title"] for o in by_score[:2]} == {"Road bike, size 56", "Desk lamp"}
    assert by_score[0]["screening"]["score"] == "4.33" and by_score[2]["screening"]["score"] == "3.00"
    by_amount = [o["title"] for o in search(cli, "--token", "ETH", "--sort", "amount")]
    assert by_amount == ["Desk lamp", "Phone", "Road bike, size 56", "Camera"]
    assert [o["title"] for o in search(cli, "--token", "ETH", "--sort", "-amount")] == by_amount[::-1]
    pages = [search(cli, "--token", "ETH", "--sort", "amount", "--limit", "1", "--offset", str(n)) for n in range(3)]
    assert [o["title"] for page in pages for o in page] == by_amount[:3]


def test_a_search_that_finds_nothing_says_so(cli: Cli, board: dict[str, Any]) -> None:
    result = cli.ok("market", "search", "--category", "spaceships", account=None)
    assert result.stdout.strip() == "No offer that can be filled now matches."
    assert search(cli, "--category", "spaceships") == []


def test_bad_search_options_are_one_line(cli: Cli) -> None:
    for argv, words in ((("--max-amount", "1"), "--max-amount needs --token"),
                        (("--timeout", "sometimes"), "invalid --timeout 'sometimes'"),
                        (("--sort", "cheapest"), "invalid --sort 'cheapest'"),
                        (("--min-score", "9"), "scores run from 1 to 5"),
                        (("--arbiter", "bob"), "bob")):
        result = cli("market", "search", *argv, account=None)
        assert result.exit_code == 2, (argv, result.stdout, result.stderr)
        assert words in one_error_line(result)


def test_fill_by_index_id_then_search_lists_one_fewer_and_stats_count_the_trade(
        cli: Cli, board: dict[str, Any]) -> None:
    before = {o["title"]: o for o in search(cli)}
    stats_before = cli.json("market", "stats", account=None)["stats"]
    lamp = before["Desk lamp"]
    filled = cli.json("offer", "fill", lamp["id"][:12], account="dev6")
    assert filled["trade"]["seller"] == DEV["dev2"] and filled["trade"]["buyer"] == DEV["dev6"]
    after = {o["title"] for o in search(cli)}
    assert after == set(before) - {"Desk lamp"}
    again = cli("offer", "fill", lamp["id"], account="dev6")
    assert again.exit_code == 2 and f"offer {lamp['id']} is filled" in one_error_line(again)
    stats = cli.json("market", "stats", account=None)["stats"]
    assert stats["trades"] == stats_before["trades"] + 1
    assert stats["outcomes"]["released"] >= 1
    text = cli.ok("market", "stats", account=None).stdout
    assert "trades:" in text and "dispute rate" in text and "arbiters:" in text and "volume per day" in text


def test_rep_show_gains_the_index_screening(cli: Cli, board: dict[str, Any]) -> None:
    cli.ok("market", "sync", account=None)
    shown = cli.json("rep", "show", DEV["dev2"], account=None)["reputation"]
    assert shown["screening"]["completed"] >= 1 and shown["screening"]["address"] == DEV["dev2"]
    text = cli.ok("rep", "show", DEV["dev2"], account=None).stdout
    assert "screening (market index): score" in text


def test_an_unknown_offer_id_is_one_line(cli: Cli, board: dict[str, Any]) -> None:
    result = cli("offer", "fill", "0x" + "ab" * 32, account="dev6")
    assert result.exit_code == 2 and "no offer 0x" in one_error_line(result)


def test_a_database_that_does_not_answer_is_one_line(cli: Cli) -> None:
    result = cli("market", "search", account=None, extra=("--db", "postgresql://market:secret@127.0.0.1:9/market"))
    assert result.exit_code == 4, result.stderr
    line = one_error_line(result)
    assert line.startswith("error: cannot open the market database postgresql+psycopg://market:***@127.0.0.1:9/market")
    assert "secret" not in result.stderr


def test_a_url_that_is_not_a_database_is_one_line(cli: Cli) -> None:
    result = cli("market", "stats", account=None, extra=("--db", "nosuchdb://somewhere/x"))
    assert result.exit_code == 2 and "not a database URL the market index can use" in one_error_line(result)


def test_the_database_comes_from_the_environment(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 board: dict[str, Any]) -> None:
    path = tmp_path / "elsewhere.sqlite"
    monkeypatch.setenv("P2PESCROW_DB", f"sqlite:///{path}")
    document = cli.json("market", "sync", account=None)["sync"]
    assert document["database"] == f"sqlite:///{path}" and path.exists()


def test_without_the_market_extra_it_says_what_to_install(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    import p2pescrow.market as market

    monkeypatch.setattr(market, "MARKET_MODULES", {"sqlalchemy_is_not_installed": "sqlalchemy"})
    result = cli("market", "search", account=None)
    assert result.exit_code == 2
    assert "pip install 'p2pescrow[market]'" in one_error_line(result)


@pytest.mark.parametrize("argv", [("market", "search", "--category", "bikes"), ("market", "sync"),
                                  ("market", "stats"), ("offer", "fill", "0x3f2a9c1e")])
def test_without_sqlalchemy_installed_it_is_one_line(argv: tuple[str, ...], tmp_path: Path) -> None:
    """In a fresh interpreter where SQLAlchemy and Alembic cannot be imported (as in a base install)."""
    code = ("import sys\nsys.modules['sqlalchemy'] = sys.modules['alembic'] = None\n"
            "from p2pescrow.cli import main\n"
            f"sys.argv = ['p2pescrow', '--rpc-url', 'http://127.0.0.1:9', *{argv!r}]\nmain()\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("P2PESCROW_")}
    env["P2PESCROW_HOME"] = str(tmp_path / "home")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == "", done.stdout + done.stderr
    assert done.stderr.strip() == ("error: the market index needs the 'market' extra (missing: sqlalchemy, alembic): "
                                   "pip install 'p2pescrow[market]'")


@pytest.mark.parametrize("name", ["sync", "search", "stats"])
def test_every_market_command_teaches_with_an_example(cli: Cli, name: str) -> None:
    text = cli.ok("market", name, "--help", account=None, network=None, rpc_url=None, yes=False).stdout
    assert "Example:" in text and f"p2pescrow market {name}" in text
    group = cli.ok("market", "--help", account=None, network=None, rpc_url=None, yes=False).stdout
    assert "Example:" in group and f"  {name} " in group
    fill = cli.ok("offer", "fill", "--help", account=None, network=None, rpc_url=None, yes=False).stdout
    assert "FILE|ID" in fill and "offer fill 0x3f2a9c1e" in fill


def test_the_same_market_from_postgresql(cli: Cli, board: dict[str, Any], postgres_url: str) -> None:
    """`--db postgresql://...`: a fresh PostgreSQL index synced from the escrow's deployment finds what the
    SQLite one finds (full text through tsvector there), and counts the same trades."""
    on_pg = ("--db", postgres_url)
    synced = cli.json("market", "sync", account=None, extra=on_pg)["sync"]
    assert synced["database"].startswith("postgresql+psycopg://") and synced["offers"] >= 4
    assert {o["id"] for o in search(cli)} == {o["id"] for o in cli.json("market", "search", account=None,
                                                                        extra=on_pg)["offers"]}
    found = cli.json("market", "search", "--text", "steel", account=None, extra=on_pg)["offers"]
    assert [o["title"] for o in found] == ["Road bike, size 56"]
    assert found[0]["screening"]["completed"] >= 1
    sqlite_stats = cli.json("market", "stats", account=None)["stats"]
    pg_stats = cli.json("market", "stats", account=None, extra=on_pg)["stats"]
    assert (pg_stats["trades"], pg_stats["outcomes"]) == (sqlite_stats["trades"], sqlite_stats["outcomes"])
