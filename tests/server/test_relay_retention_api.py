"""Retention and the per-seller cap of the relay, against `p2pescrow serve` running on an Anvil market whose
clock the tests move: the background loop deletes a relayed offer that expired longer ago than
``--relay-keep`` (the API then answers 404 for it), not sooner; a seller with ``--relay-max-per-seller``
offers open is refused the next with 429 and Retry-After, other sellers are not, and a place frees when
one of its offers ends (also when they arrive at once); the options and their environment variables,
and bad values as one line, exit 2.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from eth_utils import keccak, to_checksum_address
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from support.clitools import one_error_line, run
from support.market import document, make_history
from support.offers import offer, sign_offer
from support.relay import now
from support.server import Server, serve

from p2pescrow.core.offers import Offer as OfferStruct
from p2pescrow.core.offers import SignedOffer
from p2pescrow.errors import InputError
from p2pescrow.market.schema import Offer, RelayedOffer
from p2pescrow.server.settings import ServerSettings

pytestmark = pytest.mark.anvil

_addresses = (f"127.0.0.{n}" for n in itertools.count(40))


@pytest.fixture(scope="module")
def server(market_chain, tmp_path_factory) -> Iterator[Server]:
    """A server keeping ended relayed offers an hour, at most 2 open per seller."""
    make_history(market_chain)
    folder = tmp_path_factory.mktemp("retention")
    with serve(market_chain, f"sqlite:///{folder / 'market.sqlite'}", folder / "home", "--relay-rate", "1000",
               "--relay-keep", "1h", "--relay-max-per-seller", "2") as running:
        running.wait_synced()
        yield running


def offer_file(m, title: str, **overrides) -> dict:
    terms = document(title)
    o = offer(m.d, termsHash=keccak(terms), **overrides)
    signed = SignedOffer(OfferStruct(**o), sign_offer(m.d, o), m.deployment.chain_id,
                         to_checksum_address(m.d.escrow.address))
    return {**json.loads(signed.to_json()), "terms": json.loads(terms)}


def post(server: Server, body: dict) -> httpx.Response:
    with httpx.Client(base_url=server.url, transport=httpx.HTTPTransport(local_address=next(_addresses)),
                      timeout=30) as http:
        return http.post("/api/relay", json={"offer": body})


def later(m, seconds: int) -> None:
    m.chain.rpc("evm_increaseTime", seconds)
    m.chain.mine()


def test_past_the_cap_a_sellers_next_offer_is_429_until_one_of_them_ends(server, market_chain):
    m, d = market_chain, market_chain.d
    first = offer_file(m, "Capped one")
    assert post(server, first).status_code == 201
    assert post(server, offer_file(m, "Capped two")).status_code == 201
    answer = post(server, offer_file(m, "Capped three"))
    assert answer.status_code == 429, answer.text
    body = answer.json()
    assert set(body) == {"error", "hint"}
    assert d.seller in body["error"] and "2 relayed offers open" in body["error"]
    assert "filled, revoked or expires" in body["hint"]
    wait = int(answer.headers["Retry-After"])
    assert 1 <= wait <= int(first["offer"]["expiry"]) - now(m) + 1  # when the soonest of them expires
    # Another seller is not held back.
    assert post(server, offer_file(m, "Another seller's", seller=d.buyer)).status_code == 201
    # The seller revokes one on chain: once the index has it, there is a place again.
    m.send(d.escrow.functions.revokeOffer(int(first["offer"]["nonce"])), d.seller)
    server.wait_synced()
    assert post(server, offer_file(m, "Capped three, later")).status_code == 201
    assert post(server, offer_file(m, "Capped four")).status_code == 429


def test_offers_of_one_seller_posted_at_once_do_not_pass_the_cap_together(server, market_chain):
    from concurrent.futures import ThreadPoolExecutor

    m, d = market_chain, market_chain.d
    bodies = [offer_file(m, f"At once {n}", seller=d.stranger) for n in range(6)]
    with ThreadPoolExecutor(6) as pool:
        statuses = sorted(answer.status_code for answer in pool.map(lambda body: post(server, body), bodies))
    assert statuses == [201, 201, 429, 429, 429, 429]


def test_the_loop_prunes_an_expired_relayed_offer_after_the_keep_and_not_before(server, market_chain):
    m, d = market_chain, market_chain.d
    body = offer_file(m, "Kept an hour", seller=d.arbiter, expiry=now(m) + 600)
    answer = post(server, body)
    assert answer.status_code == 201, answer.text
    offer_id = answer.json()["offer_id"]
    assert server.get(f"/api/offers/{offer_id}").status_code == 200
    engine = create_engine(server.db_url)
    try:
        with Session(engine) as session:
            board = set(session.scalars(select(Offer.id).where(Offer.source == "board")).all())
    finally:
        engine.dispose()
    assert board

    pruned = server.health()["relayed_pruned"]
    later(m, 600 + 1800)  # expired half an hour ago
    server.wait_synced()
    deadline = time.monotonic() + 3  # a few more syncs of the loop (every 0.5 s)
    while time.monotonic() < deadline:
        shown = server.get(f"/api/offers/{offer_id}")
        assert shown.status_code == 200, shown.text
        time.sleep(0.3)
    assert shown.json()["fillable"] is False
    assert server.health()["relayed_pruned"] == pruned

    later(m, 1800 + 60)  # expired more than an hour ago
    server.wait_synced()
    deadline = time.monotonic() + 30
    while (shown := server.get(f"/api/offers/{offer_id}")).status_code == 200:
        assert time.monotonic() < deadline, "the loop did not prune the offer"
        time.sleep(0.2)
    assert shown.status_code == 404, shown.text
    health = server.health()
    assert health["sync_error"] is None and health["relayed_pruned"] > pruned
    # Both its rows are gone from the server's index; the board's offers (expired long ago too) are all there.
    engine = create_engine(server.db_url)
    try:
        with Session(engine) as session:
            assert session.scalar(select(Offer.id).where(Offer.id == offer_id)) is None
            assert session.scalar(select(RelayedOffer.id).where(RelayedOffer.id == offer_id)) is None
            assert set(session.scalars(select(Offer.id).where(Offer.source == "board")).all()) == board
    finally:
        engine.dispose()


# -- the options ---------------------------------------------------------------------------------------
def test_the_help_names_the_retention_options_and_their_variables(tmp_path: Path) -> None:
    done = run("serve", "--help", home=tmp_path)
    assert done.exit_code == 0
    text = " ".join(done.stdout.split())
    for option, variable in (("--relay-keep", "P2PESCROW_RELAY_KEEP"),
                             ("--relay-max-per-seller", "P2PESCROW_RELAY_MAX_PER_SELLER")):
        assert option in text and variable in text, option


def test_keep_and_cap_from_option_variable_and_default() -> None:
    defaults = ServerSettings.from_env({})
    assert (defaults.relay_keep, defaults.relay_max_per_seller) == (7 * 86_400, 100)
    env = {"P2PESCROW_RELAY_KEEP": "12h", "P2PESCROW_RELAY_MAX_PER_SELLER": "5"}
    assert (ServerSettings.from_env(env).relay_keep, ServerSettings.from_env(env).relay_max_per_seller) == (43_200, 5)
    given = ServerSettings.from_env(env, relay_keep=7200, relay_max_per_seller=None)
    assert (given.relay_keep, given.relay_max_per_seller) == (7200, 5)
    for text, seconds in (("3600", 3600), ("90m", 5400), ("2d", 172_800), ("1w", 604_800), (" 7D ", 604_800)):
        assert ServerSettings.from_env({"P2PESCROW_RELAY_KEEP": text}).relay_keep == seconds, text
    with pytest.raises(InputError, match="P2PESCROW_RELAY_KEEP"):
        ServerSettings.from_env({"P2PESCROW_RELAY_KEEP": "a week"})


@pytest.mark.parametrize(("args", "env", "message"), [
    (("--relay-keep", "7y"), {}, "error: --relay-keep is '7y', not a duration (hint: use seconds or e.g. 12h, 7d"),
    (("--relay-keep", "1.5h"), {}, "error: --relay-keep is '1.5h', not a duration"),
    (("--relay-keep", "10m"), {}, "error: relay keep 600 s is out of range (hint: use 1h to 3650d"),
    ((), {"P2PESCROW_RELAY_KEEP": "-1d"}, "error: $P2PESCROW_RELAY_KEEP is '-1d', not a duration"),
    ((), {"P2PESCROW_RELAY_KEEP": "4000d"}, "error: relay keep 345600000 s is out of range"),
    (("--relay-max-per-seller", "0"), {}, "error: relay maximum per seller 0 is out of range (hint: use 1 to"),
    ((), {"P2PESCROW_RELAY_MAX_PER_SELLER": "many"}, "error: $P2PESCROW_RELAY_MAX_PER_SELLER is 'many', not a number"),
], ids=["unit", "fraction", "too-short", "env-negative", "env-too-long", "cap-zero", "cap-env"])
def test_a_bad_keep_or_cap_is_one_line_and_exit_2(tmp_path: Path, args: tuple[str, ...], env: dict[str, str],
                                                  message: str) -> None:
    done = run("--rpc-url", "http://127.0.0.1:9", "serve", *args, home=tmp_path, env=env, timeout=60)
    assert done.exit_code == 2, done.stderr
    assert one_error_line(done.stderr).startswith(message), done.stderr
