"""The market client on a real Anvil with the v2 escrow: offers published through MarketClient and
AsyncMarketClient are indexed, found by search with their sellers' screening, leave the search once a
buyer fills one, and the market's figures count the trade.

Both clients share one index (``db_url``: SQLite and PostgreSQL): what one writes the other reads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from support.harness import PLATFORM_FEE_BPS, ErrorLog, Harness, node_chain_id, node_harness

from p2pescrow import AsyncMarketClient, MarketClient, TradeState
from p2pescrow.clients.aio import AsyncEscrowClient
from p2pescrow.core.checks import offer_digest
from p2pescrow.errors import ConfigError, InputError
from p2pescrow.market.db import DB_ENV
from p2pescrow.models import ZERO_ADDRESS
from p2pescrow.node.process import start_node

pytestmark = pytest.mark.anvil

ETHER = 10**18


def listing(title: str, description: str, **more: object) -> dict[str, object]:
    """A terms document with the listing's fields (what `offer create --title ...` builds)."""
    return {"title": title, "description": description, "category": "music", "tags": ["used"],
            "payment_method": "", "fiat_price": "", **more}


def offer_id(signed: object) -> str:
    return "0x" + offer_digest(signed).hex()  # type: ignore[arg-type]


@pytest.fixture
def chain(tmp_path: Path, error_log: ErrorLog) -> Iterator[Harness]:
    """A fresh Anvil per test with the v2 escrow (so the index holds exactly the test's story), ETH
    listed as a reputation asset (trades of 0.1 ETH and more record): sellers have a score to screen."""
    with start_node("anvil", chain_id=node_chain_id()) as node:
        harness = node_harness("anvil", node, tmp_path / "deployments.json", error_log)
        harness.base.set_reputation_asset(None, listed=True, min_amount="0.1")
        yield harness


def test_offers_from_both_clients_are_searched_screened_filled_and_counted(chain, db_url):
    h = chain
    seller_a, escrow_a = h.party()
    seller_b = h.account()
    _buyer, escrow_buyer = h.party()

    # Alice has a past: one trade of 0.2 ETH she accepted (consent: it may record), released, rated 5
    past = escrow_buyer.create(seller=seller_a.address, amount="0.2")
    escrow_a.accept(past.trade_id)
    escrow_buyer.release(past.trade_id)
    escrow_buyer.rate(past.trade_id, 5)

    # Alice publishes two offers through the sync client
    market = MarketClient(escrow_a, db=db_url)
    camera_doc = listing("Vintage camera", "A film camera from 1972, lens included", category="photo")
    guitar_doc = listing("Acoustic guitar", "Spruce top, new strings")
    camera = escrow_a.create_offer(amount="0.5", terms=camera_doc)
    guitar = escrow_a.create_offer(amount="0.3", terms=guitar_doc)
    published = market.publish(camera, camera_doc)
    assert published.event("OfferPublished").args["seller"] == seller_a.address
    market.publish(guitar, guitar_doc)

    # Bob publishes through the asyncio client, syncs and searches the same index
    violin_doc = listing("Violin", "A student violin with its bow and case")

    async def bob_publishes() -> tuple[object, list, object]:
        escrow_b = await AsyncEscrowClient.connect(h.node.url, seller_b, deployment=h.base.deployment,
                                                   poll_interval=0.01)
        async_market = AsyncMarketClient(escrow_b, db=db_url)
        signed = await escrow_b.create_offer(amount="0.25", terms=violin_doc)
        await async_market.publish(signed, violin_doc)
        report = await async_market.sync()
        hits = await async_market.search(sync=False, text="violin")
        found = await async_market.offer(offer_id(signed))
        screened, figures = await asyncio.gather(async_market.screening(seller_a.address), async_market.stats())
        async_market.close()
        return signed, hits, (report, found, screened, figures)

    violin, violin_hits, (async_report, violin_found, alice_screened, figures) = asyncio.run(bob_publishes())
    assert alice_screened.completed == 1 and figures.outcomes == {"released": 1} and figures.funded == 1
    assert async_report.offers == 3 and async_report.rejected == 0
    assert [hit.id for hit in violin_hits] == [offer_id(violin)]
    assert violin_found.id == offer_id(violin) and violin_found.status == "open"
    assert violin_found.title == "Violin" and violin_found.seller == seller_b.address

    # the sync client finds all three (it syncs first: nothing new), each with its seller's screening
    hits = {hit.id: hit for hit in market.search()}
    assert set(hits) == {offer_id(camera), offer_id(guitar), offer_id(violin)}
    alice_hit = hits[offer_id(camera)]
    assert (alice_hit.title, alice_hit.category, alice_hit.amount) == ("Vintage camera", "photo", ETHER // 2)
    assert alice_hit.seller == seller_a.address
    on_chain = escrow_a.reputation(seller_a.address)
    assert alice_hit.screening.completed == 1 and alice_hit.screening.disputed == 0
    assert Decimal(str(alice_hit.screening.score)) == on_chain.score() > Decimal(3)
    assert hits[offer_id(violin)].screening.completed == 0
    assert market.screening(seller_a.address) == alice_hit.screening
    # filters and free text
    assert [hit.id for hit in market.search(sync=False, text="camera")] == [offer_id(camera)]
    assert {hit.id for hit in market.search(sync=False, category="music")} == {offer_id(guitar), offer_id(violin)}
    assert [hit.id for hit in market.search(sync=False, min_amount=ETHER * 4 // 10)] == [offer_id(camera)]
    assert next(hit.id for hit in market.search(sync=False, sort="-amount")) == offer_id(camera)

    # a buyer fills the camera, taken from the index by its id: it leaves the search, the index knows it
    # as filled with its trade
    from_index = market.offer(offer_id(camera)[:12])
    assert from_index.fillable and from_index.signed_offer(h.base.deployment.escrow) == camera
    filled = escrow_buyer.fill_offer(from_index.signed_offer(h.base.deployment.escrow))
    assert escrow_buyer.trade(filled.trade_id).state is TradeState.FUNDED
    assert {hit.id for hit in market.search()} == {offer_id(guitar), offer_id(violin)}
    camera_now = market.offer(offer_id(camera))
    assert camera_now.status == "filled" and camera_now.trade_id == filled.trade_id and not camera_now.fillable

    # released: the figures count both of Alice's trades, the fill's fee among the platform's fees
    escrow_buyer.release(filled.trade_id)
    market.sync()
    stats = market.stats()
    assert stats.outcomes["released"] == 2 and stats.trades == 2
    assert stats.funded == 2 and stats.dispute_rate == 0
    assert stats.platform_fees[ZERO_ADDRESS] == (2 * ETHER // 10 + ETHER // 2) * PLATFORM_FEE_BPS // 10_000
    assert market.screening(seller_a.address).completed == 2


def test_a_search_syncs_new_blocks_first_unless_told_not_to(chain, db_url):
    seller, escrow = chain.party()
    market = MarketClient(escrow, db=db_url)
    market.sync()
    doc = listing("Drum kit", "Five pieces and cymbals")
    signed = escrow.create_offer(amount="0.4", terms=doc)
    market.publish(signed, doc)
    assert [hit.id for hit in market.search(sync=False, seller=seller.address)] == []
    assert [hit.id for hit in market.search(seller=seller.address)] == [offer_id(signed)]


def test_a_token_whose_symbol_imitates_a_listed_asset_is_flagged_by_both_clients(chain, db_url):
    seller, escrow = chain.party()
    impostor = chain.deploy("TestToken", "Ether", "\u0415\u0422\u041d", 18)  # Cyrillic capitals: it reads ETH
    cheap, honest = listing("Cheap ether", "Not what it seems"), listing("Ether", "The real one")
    market = MarketClient(escrow, db=db_url)
    market.publish(signed := escrow.create_offer(amount="1", token=impostor.address, terms=cheap), cheap)
    market.publish(escrow.create_offer(amount="1", terms=honest), honest)

    warning = (f"token \u0415\u0422\u041d at {impostor.address} imitates the listed reputation asset ETH "
               f"at {ZERO_ADDRESS}")
    assert {hit.title: hit.warnings for hit in market.search()} == {"Cheap ether": (warning,), "Ether": ()}

    async def searched() -> list:
        escrow_async = await AsyncEscrowClient.connect(chain.node.url, seller, deployment=chain.base.deployment)
        return await AsyncMarketClient(escrow_async, db=db_url).search(token=impostor.address)

    [hit] = asyncio.run(searched())
    assert hit.id == offer_id(signed) and hit.warnings == (warning,)


def test_an_offer_by_id_unknown_is_none_and_a_malformed_id_says_so(chain, db_url):
    market = MarketClient(chain.base, db=db_url)
    market.sync()
    assert market.offer("0x" + "ab" * 32) is None
    with pytest.raises(InputError, match="not an offer id"):
        market.offer("not-hex")
    with pytest.raises(InputError, match="not an address"):
        market.screening("0x1234")


def test_the_database_is_the_option_then_the_environment_then_the_config_folder(chain, monkeypatch, tmp_path):
    monkeypatch.delenv(DB_ENV, raising=False)
    assert MarketClient(chain.base).db_url.endswith("market.sqlite")
    monkeypatch.setenv(DB_ENV, f"sqlite:///{tmp_path / 'env.sqlite'}")
    assert MarketClient(chain.base).db_url == f"sqlite:///{tmp_path / 'env.sqlite'}"
    assert MarketClient(chain.base, db=f"sqlite:///{tmp_path / 'option.sqlite'}").db_url.endswith("option.sqlite")
    # the database is opened on first use, not when the client is made
    assert not (tmp_path / "option.sqlite").exists()


def test_the_embedded_chain_cannot_be_indexed_and_says_so(tmp_path):
    from p2pescrow import EscrowClient

    market = MarketClient(EscrowClient.embedded(), db=f"sqlite:///{tmp_path / 'm.sqlite'}")
    with pytest.raises(ConfigError, match="HTTP JSON-RPC"):
        market.sync()
