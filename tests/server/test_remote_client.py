"""RemoteMarketClient and AsyncRemoteMarketClient against `p2pescrow serve` over real HTTP: the same
surface (search, offer, screening, stats, relay) with the same results as a MarketClient reading the
server's index directly; the server's refusals as the SDK's typed errors carrying its message.

Every test runs once per client (sync, async); each speaks from its own loopback address.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from typing import Any

import httpx
import pytest
from eth_utils import keccak
from support.market import document
from support.offers import offer, sign_offer

from p2pescrow.core.offers import Offer as OfferStruct
from p2pescrow.core.offers import SignedOffer
from p2pescrow.errors import InputError, NetworkError
from p2pescrow.market.remote import (
    AlreadyKnown,
    AsyncRemoteMarketClient,
    RateLimited,
    RemoteMarketClient,
    ServerRefused,
    ServerUnreachable,
)

pytestmark = pytest.mark.anvil

_addresses = (f"127.0.0.{n}" for n in itertools.count(100))


class Surface:
    """One remote client's operations called alike: the sync client's directly, the async client's in an
    event loop of their own."""

    def __init__(self, kind: str, url: str) -> None:
        self.kind, self.url, self.address = kind, url, next(_addresses)
        self.sync = RemoteMarketClient(url, transport=httpx.HTTPTransport(local_address=self.address)) \
            if kind == "sync" else None

    def __getattr__(self, name: str) -> Any:
        if self.sync is not None:
            return getattr(self.sync, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            async def run() -> Any:
                transport = httpx.AsyncHTTPTransport(local_address=self.address)
                async with AsyncRemoteMarketClient(self.url, transport=transport) as client:
                    return await getattr(client, name)(*args, **kwargs)

            return asyncio.run(run())

        return call


@pytest.fixture(params=["sync", "async"])
def remote(request, served_market):
    surface = Surface(request.param, served_market.url)
    yield surface
    if surface.sync is not None:
        surface.sync.close()


@pytest.fixture
def local(served_market):
    market = served_market.market()
    yield market
    market.close()


def signed_file(m, title: str, **overrides) -> tuple[SignedOffer, dict]:
    terms = document(title)
    o = offer(m.d, termsHash=keccak(terms), **overrides)
    signed = SignedOffer(OfferStruct(**o), sign_offer(m.d, o), m.deployment.chain_id, m.d.escrow.address)
    return signed, json.loads(terms)


def test_search_answers_as_the_index_does(remote, local, served_market):
    served_market.wait_synced()
    hits = remote.search(limit=100)
    assert [h.to_json() for h in hits] == [h.to_json() for h in local.search(sync=False, limit=100)]
    titles = {h.title for h in hits}
    assert {"Bicycle", "Long story"} <= titles and "Camera" not in titles  # the filled one is not fillable
    cheap = remote.search(token="0x" + "00" * 20, max_amount=10**18, sort="amount", timeout_releases=False)
    assert cheap and all(h.amount <= 10**18 and not h.timeout_releases for h in cheap)
    assert [h.id for h in remote.search(text="Bicycle")] == [served_market.offers["bicycle"]]


def test_one_offer_with_its_fill_state_and_none_for_an_unknown_id(remote, served_market):
    camera = remote.offer(served_market.offers["camera"])
    assert camera.status == "filled" and camera.fillable is False and camera.title == "Camera"
    bicycle = remote.offer(served_market.offers["bicycle"][:12])  # a unique prefix does
    assert bicycle.fillable and bicycle.signed_offer(served_market.record.escrow).signer() == bicycle.seller
    assert remote.offer("0x" + "ab" * 32) is None
    with pytest.raises(InputError, match="not an offer id"):
        remote.offer("not-hex")


def test_screening_and_stats_answer_as_the_index_does(remote, local, served_market):
    seller = served_market.chain.d.seller
    assert remote.screening(seller.lower()) == local.screening(seller)
    figures = remote.stats()
    expected = local.stats()
    assert figures.trades == expected.trades and figures.outcomes == expected.outcomes
    assert figures.volume_by_day == expected.volume_by_day and figures.arbiters == expected.arbiters


def test_a_relayed_offer_is_found_through_the_client_and_not_twice(remote, served_market):
    m = served_market.chain
    signed, terms = signed_file(m, f"Relayed by the {remote.kind} client")
    offer_id = remote.relay(signed, terms)
    found = {h.id: h for h in remote.search(limit=100)}
    assert found[offer_id].relayed and found[offer_id].title == f"Relayed by the {remote.kind} client"
    with pytest.raises(AlreadyKnown, match="relayed already") as known:
        remote.relay(signed, terms)
    assert known.value.status == 409 and isinstance(known.value, InputError)
    # The offer file as `offer create --out` writes it (terms inside) is relayed the same way.
    other, other_terms = signed_file(m, f"File for the {remote.kind} client")
    text = json.dumps({**json.loads(other.to_json()), "terms": other_terms})
    from_file = remote.relay(text)
    assert remote.offer(from_file).relayed and remote.offer(from_file).seller == other.offer.seller


def test_the_servers_refusal_is_a_typed_error_with_its_message(remote, served_market):
    m = served_market.chain
    signed, terms = signed_file(m, "Not the signed terms")
    with pytest.raises(ServerRefused, match="termsHash") as refused:
        remote.relay(signed, {**terms, "title": "swapped"})
    assert refused.value.status == 400 and refused.value.hint


def test_a_flood_is_rate_limited_with_the_seconds_to_wait(remote, served_market):
    m = served_market.chain
    stale = m.chain.w3.eth.get_block("latest")["timestamp"] - 60
    caught = None
    for number in range(20):  # the served market allows 10 a minute per client
        signed, terms = signed_file(m, f"Expired {number}", expiry=stale)
        try:
            remote.relay(signed, terms)
        except ServerRefused as exc:
            assert exc.status == 400 and "expired" in str(exc)
        except RateLimited as exc:
            caught = exc
            break
    assert caught is not None and isinstance(caught, NetworkError)
    assert caught.retry_after is not None and caught.retry_after >= 1 and "too many" in str(caught)


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_no_server_is_one_clear_error(kind):
    with pytest.raises(ServerUnreachable, match=re.escape("cannot reach the market server at http://127.0.0.1:9")):
        Surface(kind, "http://127.0.0.1:9").stats()
    with pytest.raises(InputError, match="not a market server URL"):
        RemoteMarketClient("ftp://example.org")


def test_the_two_clients_have_one_surface_and_the_market_clients_reads():
    import inspect

    from p2pescrow.market.client import MarketClient

    def surface(cls):
        return {name: inspect.signature(getattr(cls, name)) for name in dir(cls) if not name.startswith("_")}

    sync, asynchronous = surface(RemoteMarketClient), surface(AsyncRemoteMarketClient)
    assert sync == asynchronous
    assert {"search", "offer", "screening", "stats", "relay", "health", "close"} <= set(sync)
    for name in ("search", "offer", "screening"):
        assert list(sync[name].parameters) == list(inspect.signature(getattr(MarketClient, name)).parameters)
    assert all(inspect.iscoroutinefunction(getattr(AsyncRemoteMarketClient, name)) for name in asynchronous)
