"""The relay and --market-url from the command line, the installed `p2pescrow` as a subprocess against
`p2pescrow serve` on Anvil: a seller relays an offer file (`offer relay FILE`, told it becomes public);
`p2pescrow --market-url URL --json market search` lists it marked relayed (and the server's offers page
shows it); a buyer fills it by its id through the server (`offer fill ID`) on chain; the operator puts
another on the board (`market publish-relayed`), after which it is an on-chain offer. `market stats` and
`rep show` read the server too.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_utils import keccak
from support.clitools import TEST_PASSWORD, ok, run
from support.market import document
from support.offers import offer, private_key, sign_offer
from support.server import register_deployment

from p2pescrow.core.offers import Offer as OfferStruct
from p2pescrow.core.offers import SignedOffer

pytestmark = [pytest.mark.anvil, pytest.mark.slow]


@pytest.fixture(scope="module")
def cli_home(served_market, tmp_path_factory) -> dict:
    """A config folder with the chain's deployment and the buyer's key in a keystore ("buyer")."""
    m = served_market.chain
    home = tmp_path_factory.mktemp("cli-home")
    register_deployment(m, home)
    password = home / "password.txt"
    password.write_text(TEST_PASSWORD + "\n")
    password.chmod(0o600)
    key = "0x" + private_key(m.d, m.d.buyer).hex()
    ok(run("--json", "--password-file", str(password), "accounts", "import", "buyer", "--private-key",
           input=key + "\n", home=home))
    return {"home": home, "password": str(password)}


def offer_file(served_market, folder: Path, title: str) -> tuple[Path, SignedOffer]:
    """An offer file as `offer create --out` writes it (signed offer + its terms), by the history's seller."""
    m = served_market.chain
    terms = document(title)
    o = offer(m.d, termsHash=keccak(terms))
    signed = SignedOffer(OfferStruct(**o), sign_offer(m.d, o), m.deployment.chain_id, m.d.escrow.address)
    path = folder / f"{title.replace(' ', '-')}.json"
    path.write_text(json.dumps({**json.loads(signed.to_json()), "terms": json.loads(terms)}) + "\n")
    return path, signed


def relay(served_market, cli_home, path: Path) -> str:
    done = run("--market-url", served_market.url, "--yes", "--json", "offer", "relay", str(path),
               home=cli_home["home"])
    assert done.exit_code == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["relayed"] is True and "lists it publicly" in answer["notice"]  # said even with --yes
    return str(answer["offer_id"])


def test_a_relayed_offer_is_found_by_market_search_through_the_server(served_market, cli_home, tmp_path):
    path, _ = offer_file(served_market, tmp_path, "Relayed guitar")
    offer_id = relay(served_market, cli_home, path)

    # No node named, no local index: the server answers.
    found = ok(run("--market-url", served_market.url, "--json", "market", "search", home=cli_home["home"]))
    offers = {o["id"]: o for o in found["offers"]}
    assert offers[offer_id]["relayed"] is True and offers[offer_id]["title"] == "Relayed guitar"
    assert offers[offer_id]["fill"] == f"p2pescrow --market-url {served_market.url} offer fill {offer_id}"
    assert offers[served_market.offers["bicycle"]]["relayed"] is False
    text = run("--market-url", served_market.url, "market", "search", "--text", "guitar", home=cli_home["home"])
    assert text.exit_code == 0, text.stderr
    assert offer_id in text.stdout and "relayed" in text.stdout

    # The same from the environment variable; and the server's offers page shows it, marked.
    by_env = ok(run("--json", "market", "search", "--text", "guitar", home=cli_home["home"],
                    env={"P2PESCROW_MARKET_URL": served_market.url}))
    assert [o["id"] for o in by_env["offers"]] == [offer_id]
    page = served_market.get("/", text="guitar")
    assert page.status_code == 200 and "Relayed guitar" in page.text and 'class="relayed"' in page.text

    # Told, even with --yes, that it becomes public; relayed twice: the server's refusal, one line, exit 2.
    again = run("--market-url", served_market.url, "--yes", "offer", "relay", str(path), home=cli_home["home"])
    assert "lists it publicly" in again.stderr
    assert again.exit_code == 2 and "relayed already" in again.stderr and "Traceback" not in again.stderr


def test_relaying_asks_first_and_needs_a_server(served_market, cli_home, tmp_path):
    path, _ = offer_file(served_market, tmp_path, "Asked first")
    no_terminal = run("--market-url", served_market.url, "offer", "relay", str(path), home=cli_home["home"])
    assert no_terminal.exit_code == 2 and "pass --yes" in no_terminal.stderr
    no_server = run("--yes", "offer", "relay", str(path), home=cli_home["home"])
    assert no_server.exit_code == 2 and "--market-url" in no_server.stderr
    down = run("--market-url", "http://127.0.0.1:9", "--yes", "offer", "relay", str(path), home=cli_home["home"])
    assert down.exit_code == 4 and "cannot reach the market server" in down.stderr


def test_a_buyer_fills_a_relayed_offer_by_its_id_through_the_server(served_market, cli_home, tmp_path):
    m = served_market.chain
    path, signed = offer_file(served_market, tmp_path, "Relayed amplifier")
    offer_id = relay(served_market, cli_home, path)
    filled = ok(run("--rpc-url", m.url, "--market-url", served_market.url, "--account", "buyer",
                    "--password-file", cli_home["password"], "--yes", "--json", "offer", "fill", offer_id[:12],
                    home=cli_home["home"]))
    trade = filled["trade"]
    assert trade["seller"] == m.d.seller and trade["buyer"] == m.d.buyer
    assert m.d.escrow.functions.isNonceUsed(m.d.seller, signed.offer.nonce).call()  # filled on chain
    served_market.wait_synced()
    answer = served_market.get(f"/api/offers/{offer_id}").json()
    assert answer["status"] == "filled" and answer["trade_id"] == filled["trade_id"] and answer["fillable"] is False


def test_the_operator_publishes_a_relayed_offer_and_it_becomes_on_chain(served_market, cli_home, tmp_path):
    m = served_market.chain
    path, _ = offer_file(served_market, tmp_path, "Relayed speaker")
    offer_id = relay(served_market, cli_home, path)
    operator = ["--rpc-url", m.url, "--db", served_market.db_url, "--account", "buyer", "--password-file",
                cli_home["password"]]
    declined = run(*operator, "market", "publish-relayed", offer_id, home=cli_home["home"])
    assert declined.exit_code == 2 and "pass --yes" in declined.stderr  # it sends: it asks first
    published = ok(run(*operator, "--yes", "--json", "market", "publish-relayed", offer_id, home=cli_home["home"]))
    assert [p["offer_id"] for p in published["published"]] == [offer_id]
    served_market.wait_synced()
    answer = served_market.get(f"/api/offers/{offer_id}").json()
    assert answer["relayed"] is False and answer["source"] == "board" and answer["tx_hash"] == \
        published["published"][0]["tx"]
    assert answer["fillable"] is True
    unknown = run(*operator, "--yes", "market", "publish-relayed", "0xdeadbeef", home=cli_home["home"])
    assert unknown.exit_code == 2 and "not a relayed offer" in unknown.stderr

    # Without ids: every relayed offer still fillable; then none is left.
    first = relay(served_market, cli_home, offer_file(served_market, tmp_path, "Relayed lamp")[0])
    second = relay(served_market, cli_home, offer_file(served_market, tmp_path, "Relayed rug")[0])
    everything = ok(run(*operator, "--yes", "--json", "market", "publish-relayed", home=cli_home["home"]))
    assert {first, second} <= {p["offer_id"] for p in everything["published"]}
    served_market.wait_synced()
    hits = {h["id"]: h for h in served_market.get("/api/offers", limit=100).json()["offers"]}
    assert hits[first]["relayed"] is False and hits[second]["relayed"] is False
    assert not any(h["relayed"] for h in hits.values())
    none_left = ok(run(*operator, "--yes", "--json", "market", "publish-relayed", home=cli_home["home"]))
    assert none_left["published"] == []


def test_market_stats_and_rep_show_read_the_server(served_market, cli_home):
    m = served_market.chain
    stats = ok(run("--market-url", served_market.url, "--json", "market", "stats", home=cli_home["home"]))
    served = served_market.get("/api/stats").json()
    assert stats["stats"]["trades"] == served["trades"] >= 5 and stats["stats"]["outcomes"] == served["outcomes"]
    assert [(p["period"], int(p["volume"])) for p in stats["stats"]["volume_by_day"]] == \
        [(p["period"], int(p["volume"])) for p in served["volume_by_day"]]
    assert stats["chain_id"] == m.deployment.chain_id and stats["escrow"] == served_market.record.escrow
    shown = ok(run("--rpc-url", m.url, "--market-url", served_market.url, "--json", "rep", "show", m.d.seller,
                   home=cli_home["home"]))["reputation"]
    screening = served_market.get(f"/api/addresses/{m.d.seller}").json()["screening"]
    assert shown["screening"]["address"] == m.d.seller and shown["screening"]["score"] == screening["score"]
    assert shown["screening"]["completed"] == screening["completed"] >= 1
