"""POST /api/relay over real HTTP, against `p2pescrow serve` running on an Anvil market: a good offer is
accepted and listed, marked relayed; every attack is refused with the reason (a forged signature,
another chain's or escrow's offer, a document that is not the one signed, an expired offer, a used
nonce, a seller whose bond does not cover its deposit, an old fee, garbage, an oversized body, the
same offer twice); a flood from one client or for one seller is cut at the rate (429, Retry-After),
and neither forged offers naming a seller nor replays of its offers spend that seller's rate.

Each test speaks from its own loopback address (127.0.0.N), as distinct clients do.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator

import httpx
import pytest
from eth_utils import keccak, to_checksum_address
from support.market import document, make_history
from support.offers import offer, sign_offer
from support.server import Server, serve

from p2pescrow.core.offers import Offer as OfferStruct
from p2pescrow.core.offers import SignedOffer

pytestmark = pytest.mark.anvil

_addresses = (f"127.0.0.{n}" for n in itertools.count(10))


@pytest.fixture(scope="module")
def relay_server(market_chain, tmp_path_factory) -> Iterator[Server]:
    """A server with a generous rate, over the chain's market history (the seller's 1 ETH bond included)."""
    make_history(market_chain)
    folder = tmp_path_factory.mktemp("relay")
    with serve(market_chain, f"sqlite:///{folder / 'market.sqlite'}", folder / "home", "--relay-rate", "1000") \
            as server:
        server.wait_synced()
        yield server


@pytest.fixture
def client(relay_server) -> Iterator[httpx.Client]:
    """HTTP to the relay server from an address of this test's own."""
    transport = httpx.HTTPTransport(local_address=next(_addresses))
    with httpx.Client(base_url=relay_server.url, transport=transport, timeout=30) as http:
        yield http


def offer_file(m, title: str, *, terms: bytes | None = None, chain_id: int | None = None,
               escrow: str | None = None, signer: str | None = None, **overrides) -> dict:
    """The signed offer document as `offer create --out` writes it: the offer, its signature, its terms."""
    document_bytes = document(title)
    o = offer(m.d, termsHash=keccak(terms if terms is not None else document_bytes), **overrides)
    signature = sign_offer(m.d, o, signer=signer, chain_id=chain_id, verifying_contract=escrow)
    signed = SignedOffer(OfferStruct(**o), signature, chain_id or m.deployment.chain_id,
                         to_checksum_address(escrow or m.d.escrow.address))
    return {**json.loads(signed.to_json()), "terms": json.loads(document_bytes)}


def refused(answer: httpx.Response, status: int, *words: str) -> str:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"error", "hint"}
    for word in words:
        assert word in body["error"], body
    return str(body["error"])


def listed(server: Server) -> dict[str, dict]:
    """The offers the server's search lists (its JSON API), by id."""
    answer = server.get("/api/offers", limit=100)
    assert answer.status_code == 200, answer.text
    return {hit["id"]: hit for hit in answer.json()["offers"]}


def test_a_good_offer_is_accepted_and_listed_as_relayed(relay_server, client, market_chain):
    body = offer_file(market_chain, "Relayed teapot")
    answer = client.post("/api/relay", json={"offer": body, "document": body["terms"]})
    assert answer.status_code == 201, answer.text
    assert answer.json()["relayed"] is True
    offer_id = answer.json()["offer_id"]
    hits = listed(relay_server)
    assert hits[offer_id]["relayed"] is True and hits[offer_id]["title"] == "Relayed teapot"
    assert any(hit["relayed"] is False for hit in hits.values())  # the board's offers, next to it
    # The document may travel inside the offer file alone (as `offer create --out` writes it).
    alone = offer_file(market_chain, "Relayed mug")
    assert client.post("/api/relay", json={"offer": alone}).status_code == 201


def test_the_same_offer_twice_is_a_conflict(client, market_chain):
    body = offer_file(market_chain, "Relayed twice")
    assert client.post("/api/relay", json={"offer": body}).status_code == 201
    refused(client.post("/api/relay", json={"offer": body}), 409, "relayed already")


def test_the_same_offer_posted_at_once_by_many_clients_is_stored_once(relay_server, market_chain):
    from concurrent.futures import ThreadPoolExecutor

    body = offer_file(market_chain, "Posted at once")

    def post(_: int) -> int:
        with speaker(relay_server) as http:
            return http.post("/api/relay", json={"offer": body}).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(post, range(8)))
    assert statuses == [201] + [409] * 7
    assert sum(hit["title"] == "Posted at once" for hit in listed(relay_server).values()) == 1


def test_an_offer_on_the_board_already_is_a_conflict(relay_server, client, market_chain):
    m = market_chain
    body = offer_file(m, "On the board")
    signed = SignedOffer.from_json(json.dumps(body))
    o = {**signed.offer.__dict__}
    m.send(m.d.escrow.functions.publishOffer(o, signed.signature, document("On the board")), m.d.seller)
    relay_server.wait_synced()
    refused(client.post("/api/relay", json={"offer": body}), 409, "on the board")


def test_a_forged_signature_is_refused(client, market_chain):
    m = market_chain
    body = offer_file(m, "Forged", signer=m.d.buyer)  # the buyer signs an offer naming the seller
    refused(client.post("/api/relay", json={"offer": body}), 400, "bad signature")


def test_a_tampered_offer_is_refused(client, market_chain):
    body = offer_file(market_chain, "Tampered")
    body["offer"]["amount"] = str(int(body["offer"]["amount"]) // 100)  # cheaper than signed
    refused(client.post("/api/relay", json={"offer": body}), 400, "bad signature")


def test_another_chains_offer_is_refused(client, market_chain):
    body = offer_file(market_chain, "Other chain", chain_id=market_chain.deployment.chain_id + 1)
    refused(client.post("/api/relay", json={"offer": body}), 400, "signed for chain")


def test_another_escrows_offer_is_refused(client, market_chain):
    body = offer_file(market_chain, "Other escrow", escrow="0x" + "ab" * 20)
    refused(client.post("/api/relay", json={"offer": body}), 400, "signed for escrow")


def test_a_document_that_is_not_the_signed_one_is_refused(client, market_chain):
    body = offer_file(market_chain, "Honest terms")
    swapped = {**body["terms"], "description": "something else entirely"}
    refused(client.post("/api/relay", json={"offer": body, "document": swapped}), 400, "termsHash")


def test_an_expired_offer_is_refused(client, market_chain):
    m = market_chain
    head = m.chain.w3.eth.get_block("latest")["timestamp"]
    body = offer_file(m, "Expired", expiry=head - 60)
    refused(client.post("/api/relay", json={"offer": body}), 400, "expired")


def test_an_offer_whose_nonce_is_used_is_refused(relay_server, client, market_chain):
    m = market_chain
    body = offer_file(m, "Revoked nonce")
    m.send(m.d.escrow.functions.revokeOffer(int(body["offer"]["nonce"])), m.d.seller)
    relay_server.wait_synced()
    refused(client.post("/api/relay", json={"offer": body}), 400, "nonce")


def test_a_seller_whose_bond_does_not_cover_its_deposit_is_refused(client, market_chain):
    m = market_chain
    body = offer_file(m, "No bond", seller=m.d.arbiter, sellerDeposit=10**17)  # the arbiter has no bond
    refused(client.post("/api/relay", json={"offer": body}), 400, "bond")
    covered = offer_file(m, "Bond enough", sellerDeposit=10**17)  # the seller's bond covers it
    assert client.post("/api/relay", json={"offer": covered}).status_code == 201


def test_an_offer_at_an_old_fee_is_refused(client, market_chain):
    body = offer_file(market_chain, "Old fee", platformFeeBps=0)
    refused(client.post("/api/relay", json={"offer": body}), 400, "platform fee")


@pytest.mark.parametrize(("content", "words"), [
    (b"{not json", "not JSON"),
    (b"[1, 2, 3]", "not an object"),
    (b"{}", "no offer"),
    (b'{"offer": {"kind": "p2pescrow-offer/2"}}', "malformed offer document"),
    (b'{"offer": "x"}', "not JSON"),
    (b"\xff\xfe\x00garbage", "not JSON"),
], ids=["broken", "array", "empty", "half-an-offer", "offer-not-json", "binary"])
def test_garbage_is_refused_with_the_reason(client, content, words):
    refused(client.post("/api/relay", content=content, headers={"Content-Type": "application/json"}), 400, words)


@pytest.mark.parametrize(("field", "value"), [("expiry", 2**64), ("amount", 2**128), ("nonce", 2**256),
                                               ("flags", 256)])
def test_a_number_beyond_its_type_is_refused(client, market_chain, field, value):
    body = offer_file(market_chain, "Out of range")
    body["offer"][field] = str(value)
    refused(client.post("/api/relay", json={"offer": body}), 400, f"offer field {field}", "beyond its type")


def test_a_body_over_the_bound_is_refused_before_it_is_read(client, market_chain):
    body = offer_file(market_chain, "Huge")
    body["terms"]["description"] = "x" * (70 * 1024)
    refused(client.post("/api/relay", json={"offer": body}), 413, "too large")


# -- rate limits ---------------------------------------------------------------------------------------
@pytest.fixture
def strict_server(market_chain, relay_server, tmp_path) -> Iterator[Server]:
    """Another server on the same chain allowing 3 relayed offers a minute per client and per seller."""
    with serve(market_chain, f"sqlite:///{tmp_path / 'strict.sqlite'}", tmp_path / "home", "--relay-rate", "3") \
            as server:
        server.wait_synced()
        yield server


def speaker(server: Server) -> httpx.Client:
    return httpx.Client(base_url=server.url, transport=httpx.HTTPTransport(local_address=next(_addresses)),
                        timeout=30)


def test_a_flood_from_one_client_is_cut_at_the_rate_and_others_go_on(strict_server):
    with speaker(strict_server) as flooder, speaker(strict_server) as other:
        for _ in range(3):
            refused(flooder.post("/api/relay", content=b"{}"), 400)
        answer = flooder.post("/api/relay", content=b"{}")
        refused(answer, 429, "too many")
        assert 1 <= int(answer.headers["Retry-After"]) <= 60
        refused(other.post("/api/relay", content=b"{}"), 400)  # another client is not held back


def test_a_forged_forwarded_for_header_does_not_evade_the_client_limit(strict_server):
    with speaker(strict_server) as flooder:
        answers = [flooder.post("/api/relay", content=b"{}", headers={"X-Forwarded-For": f"198.51.100.{n}"})
                   for n in range(4)]
    assert [a.status_code for a in answers] == [400, 400, 400, 429]


def test_behind_a_proxy_on_the_same_host_each_visitor_has_its_own_limit(strict_server):
    """The proxy connects from 127.0.0.1 (trusted for X-Forwarded-For) and names the visitor."""
    proxy = httpx.HTTPTransport(local_address="127.0.0.1")
    with httpx.Client(base_url=strict_server.url, transport=proxy, timeout=30) as http:
        first = [http.post("/api/relay", content=b"{}", headers={"X-Forwarded-For": "203.0.113.7"})
                 for _ in range(4)]
        second = http.post("/api/relay", content=b"{}", headers={"X-Forwarded-For": "203.0.113.8"})
    assert [a.status_code for a in first] == [400, 400, 400, 429] and "203.0.113.7" in first[-1].json()["error"]
    assert second.status_code == 400


def test_a_flood_for_one_seller_is_cut_at_the_rate_from_any_client(strict_server, market_chain):
    m = market_chain
    for number in range(3):
        with speaker(strict_server) as http:
            answer = http.post("/api/relay", json={"offer": offer_file(m, f"Flood {number}")})
            assert answer.status_code == 201, answer.text
    with speaker(strict_server) as http:
        answer = http.post("/api/relay", json={"offer": offer_file(m, "Flood 3")})
        refused(answer, 429, "seller", m.d.seller)
        assert int(answer.headers["Retry-After"]) >= 1
        # Another seller is not held back.
        other = offer_file(m, "Other seller", seller=m.d.buyer)
        assert http.post("/api/relay", json={"offer": other}).status_code == 201


def test_forged_offers_naming_a_seller_do_not_spend_its_rate(strict_server, market_chain):
    m = market_chain
    victim = m.d.arbiter
    for number in range(4):
        with speaker(strict_server) as http:
            forged = offer_file(m, f"Forged {number}", seller=victim, signer=m.d.buyer)
            refused(http.post("/api/relay", json={"offer": forged}), 400, "bad signature")
    with speaker(strict_server) as http:
        honest = offer_file(m, "Honest", seller=victim)
        assert http.post("/api/relay", json={"offer": honest}).status_code == 201


def test_replaying_a_sellers_relayed_offer_does_not_spend_its_rate(strict_server, market_chain):
    m = market_chain
    seller = m.d.owner
    known = offer_file(m, "Replayed", seller=seller)
    with speaker(strict_server) as http:
        assert http.post("/api/relay", json={"offer": known}).status_code == 201
    for _ in range(4):  # anyone can copy a public offer and post it again
        with speaker(strict_server) as http:
            refused(http.post("/api/relay", json={"offer": known}), 409, "relayed already")
    with speaker(strict_server) as http:
        assert http.post("/api/relay", json={"offer": offer_file(m, "Fresh", seller=seller)}).status_code == 201
