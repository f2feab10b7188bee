"""The JSON API over real HTTP against `p2pescrow serve` (tests/support/server.py): every answer is the
one MarketClient gives over the same index (the index is synced to the chain's head and the chain is
quiet while the module runs, so both read the same state at the same chain time).

The served history: trades that ended every way and a live one, offers open, filled and revoked, a
hostile listing (a script title), right-to-left text with emoji, a 2,000-character description, an
ERC-20 offer with deposits, and another seller's offer whose timeout releases."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support.server import LONG_DESCRIPTION, RTL_TITLE, SCRIPT_TITLE, ServedMarket

from p2pescrow.core.offers import SignedOffer
from p2pescrow.states import TRANSITIONS, TradeState

pytestmark = pytest.mark.anvil


def plain(value: Any) -> Any:
    """As it reads after a trip through JSON (tuples as lists, keys as strings)."""
    return json.loads(json.dumps(value))


@pytest.fixture(scope="module")
def market(served_market: ServedMarket) -> Any:
    client = served_market.market()
    yield client
    client.close()


def api(served_market: ServedMarket, path: str, **params: Any) -> Any:
    answer = served_market.get(path, **params)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    return answer.json()


def names(served_market: ServedMarket, offers: list[dict[str, Any]]) -> list[str]:
    by_id = {offer_id: name for name, offer_id in served_market.offers.items()}
    return [by_id[o["id"]] for o in offers]


def test_health_names_the_chain_the_escrow_and_the_head_indexed(served_market: ServedMarket) -> None:
    health = served_market.health()
    record = served_market.record
    assert health["chain_id"] == record.chain_id and health["escrow"] == record.escrow
    assert health["head_indexed"] == served_market.chain.chain.w3.eth.block_number
    assert health["head_time"] == served_market.chain.chain.w3.eth.get_block("latest")["timestamp"]
    assert health["sync_error"] is None and health["last_sync"] is not None


def test_search_lists_what_the_market_client_lists(served_market: ServedMarket, market: Any) -> None:
    page = api(served_market, "/api/offers")
    expected = [hit.to_json() for hit in market.search(sync=False)]
    assert page["offers"] == plain(expected)
    assert page["limit"] == 50 and page["offset"] == 0
    # the open offers, none of the filled or revoked
    assert sorted(names(served_market, page["offers"])) == sorted(
        ["bicycle", "script", "rtl", "long", "tusd", "chair"])
    assert all(o["relayed"] is False and o["fillable"] is True for o in page["offers"])


def _filters(served_market: ServedMarket) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """name -> (query parameters of the API, the same filters for MarketClient.search)."""
    d = served_market.chain.d
    tusd = d.tokens["standard"].address
    return {
        "token": ({"token": tusd}, {"token": tusd}),
        "min_amount": ({"min_amount": 5 * 10**17}, {"min_amount": 5 * 10**17}),
        "max_amount": ({"max_amount": 5 * 10**17}, {"max_amount": 5 * 10**17}),
        "seller": ({"seller": d.stranger.lower()}, {"seller": d.stranger}),
        "arbiter_fee": ({"max_arbiter_fee_bps": 100}, {"max_arbiter_fee_bps": 100}),
        "timeout_releases": ({"timeout": "releases"}, {"timeout_releases": True}),
        "timeout_refunds": ({"timeout": "refunds"}, {"timeout_releases": False}),
        "buyer_deposit": ({"max_buyer_deposit": 0}, {"max_buyer_deposit": 0}),
        "seller_deposit": ({"min_seller_deposit": 1}, {"min_seller_deposit": 1}),
        "category": ({"category": "BIKES"}, {"category": "BIKES"}),
        "text": ({"text": "long story"}, {"text": "long story"}),
        "min_score": ({"min_score": 3.5}, {"min_score": "3.5"}),
        "min_volume": ({"min_volume": 1}, {"min_volume": 1}),
        "sort_amount": ({"sort": "amount"}, {"sort": "amount"}),
        "sort_desc": ({"sort": "-amount"}, {"sort": "-amount"}),
        "sort_score": ({"sort": "score"}, {"sort": "score"}),
        "sort_expiry": ({"sort": "expiry"}, {"sort": "expiry"}),
        "page": ({"limit": 2, "offset": 1}, {"limit": 2, "offset": 1}),
    }


FILTERS = ["token", "min_amount", "max_amount", "seller", "arbiter_fee", "timeout_releases", "timeout_refunds",
           "buyer_deposit", "seller_deposit", "category", "text", "min_score", "min_volume"]
SORTS = ["sort_amount", "sort_desc", "sort_score", "sort_expiry", "page"]


@pytest.mark.parametrize("case", FILTERS)
def test_each_filter_narrows_the_search_as_the_market_client_does(served_market: ServedMarket, market: Any,
                                                                  case: str) -> None:
    query, filters = _filters(served_market)[case]
    every = api(served_market, "/api/offers")["offers"]
    found = api(served_market, "/api/offers", **query)["offers"]
    assert found == plain([hit.to_json() for hit in market.search(sync=False, **filters)])
    assert 0 < len(found) < len(every), f"{case} should keep some offers and drop others"


@pytest.mark.parametrize("case", SORTS)
def test_sorting_and_paging_follow_the_market_client(served_market: ServedMarket, market: Any, case: str) -> None:
    query, filters = _filters(served_market)[case]
    found = api(served_market, "/api/offers", **query)
    assert found["offers"] == plain([hit.to_json() for hit in market.search(sync=False, **filters)])
    if case == "page":
        every = api(served_market, "/api/offers")["offers"]
        assert found["offers"] == every[1:3] and (found["limit"], found["offset"]) == (2, 1)
    elif case in ("sort_amount", "sort_desc"):
        amounts = [o["amount"] for o in found["offers"]]
        assert amounts == sorted(amounts, reverse=case == "sort_desc") and len(set(amounts)) > 1


def test_an_offer_is_the_market_clients_with_its_signed_form(served_market: ServedMarket, market: Any) -> None:
    offer_id = served_market.offers["tusd"]
    answer = api(served_market, f"/api/offers/{offer_id}")
    hit = market.offer(offer_id)
    for key, value in plain(hit.to_json()).items():
        assert answer[key] == value, key
    signed = SignedOffer.from_json(json.dumps(answer["signed_offer"]))
    assert signed == hit.signed_offer(served_market.record.escrow)
    assert answer["signed_offer"]["terms"] == json.loads(hit.document) == answer["terms"]
    assert answer["fill_command"] == f"p2pescrow offer fill {offer_id}"
    assert answer["fillable"] is True and answer["terms"]["title"] == "Paid in TUSD"


def test_an_offer_by_a_prefix_of_its_id(served_market: ServedMarket) -> None:
    offer_id = served_market.offers["bicycle"]
    assert api(served_market, f"/api/offers/{offer_id[:14]}")["id"] == offer_id


@pytest.mark.parametrize("name", ["camera", "phone"])
def test_a_filled_or_revoked_offer_is_there_but_not_fillable(served_market: ServedMarket, market: Any,
                                                             name: str) -> None:
    offer_id = served_market.offers[name]
    answer = api(served_market, f"/api/offers/{offer_id}")
    assert answer["fillable"] is False and answer["fillable"] == market.offer(offer_id).fillable
    assert answer["status"] == {"camera": "filled", "phone": "revoked"}[name]


def test_an_unknown_offer_is_a_json_404(served_market: ServedMarket) -> None:
    answer = served_market.get("/api/offers/0x" + "ab" * 32)
    assert answer.status_code == 404
    assert answer.json()["error"] == f"no offer 0x{'ab' * 32} in the index" and answer.json()["hint"]


def test_hostile_listings_come_back_exactly_as_published(served_market: ServedMarket) -> None:
    script = api(served_market, f"/api/offers/{served_market.offers['script']}")
    assert script["title"] == SCRIPT_TITLE and script["terms"]["title"] == SCRIPT_TITLE
    assert script["category"] == "<i>tools</i>"
    assert api(served_market, f"/api/offers/{served_market.offers['rtl']}")["title"] == RTL_TITLE
    long = api(served_market, f"/api/offers/{served_market.offers['long']}")
    assert long["description"] == LONG_DESCRIPTION and len(long["description"]) == 2000
    found = api(served_market, "/api/offers", text="alert")["offers"]  # the words of a title, searchable
    assert names(served_market, found) == ["script"]


TRADES = ["released", "refunded", "ruled", "cancelled", "live", "filled"]
STATES = {"released": "completed", "refunded": "refunded", "ruled": "resolved", "cancelled": "cancelled",
          "live": "funded", "filled": "funded"}


@pytest.mark.parametrize("name", TRADES)
def test_a_trade_is_its_state_now_and_its_history(served_market: ServedMarket, market: Any, name: str) -> None:
    trade_id = served_market.trades[name]
    answer = api(served_market, f"/api/trades/{trade_id}")
    current = market._indexed().trade(trade_id)
    history = market.history(trade_id, sync=False)
    assert answer["id"] == trade_id and answer["state"] == STATES[name] == current.state.name.lower()
    assert answer["state_number"] == int(current.state)
    assert answer["held"] == current.held
    assert answer["terms"]["buyer"] == current.terms.buyer and answer["terms"]["amount"] == current.terms.amount
    assert answer["token"] == {"address": current.token.address, "symbol": current.token.symbol,
                               "decimals": current.token.decimals}
    assert [(e["block"], e["tx_hash"], e["name"]) for e in answer["history"]] == [
        (e.block, e.tx_hash, e.name) for e in history]
    assert answer["history"][0]["name"] == "TradeCreated"


def test_a_trade_history_carries_the_events_arguments(served_market: ServedMarket, market: Any) -> None:
    trade_id = served_market.trades["ruled"]
    answer = api(served_market, f"/api/trades/{trade_id}")
    ruled = [e for e in answer["history"] if e["name"] == "Ruled"]
    expected = [e for e in market.history(trade_id, sync=False) if e.name == "Ruled"]
    assert len(ruled) == 1 == len(expected)
    assert ruled[0]["args"]["id"] == trade_id
    for key, value in expected[0].args.items():
        if isinstance(value, int):
            assert ruled[0]["args"][key] == value, key


def test_an_unknown_trade_is_a_json_404(served_market: ServedMarket) -> None:
    answer = served_market.get("/api/trades/0x" + "cd" * 32)
    assert answer.status_code == 404 and answer.json()["error"] == f"no trade 0x{'cd' * 32} in the index"


@pytest.mark.parametrize("who", ["seller", "buyer", "arbiter", "stranger", "fee_recipient"])
def test_an_address_is_its_screening_and_its_timeline(served_market: ServedMarket, market: Any, who: str) -> None:
    address = getattr(served_market.chain.d, who)
    answer = api(served_market, f"/api/addresses/{address.lower()}")
    assert answer["address"] == address
    assert answer["screening"] == plain(market.screening(address).to_json())
    line = market.timeline(address)
    assert answer["recent_trades"] == plain([e.to_json() for e in line.recent(20)])
    assert answer["trades"] == len(line.entries)
    assert answer["score_history"] == [{"at": at, "score": str(score)} for at, score in line.score_history]
    if who in ("seller", "buyer"):
        assert answer["trades"] > 0 and answer["volume_history"]


def test_the_sellers_rating_shows_in_its_screening(served_market: ServedMarket) -> None:
    seller = api(served_market, f"/api/addresses/{served_market.chain.d.seller}")
    assert seller["screening"]["score"] != "3.00" and len(seller["score_history"]) == 1
    assert api(served_market, f"/api/addresses/{served_market.chain.d.seller}", recent=2)["recent_trades"] == \
        seller["recent_trades"][:2]


def test_the_stats_are_the_market_clients(served_market: ServedMarket, market: Any) -> None:
    stats = api(served_market, "/api/stats")
    assert stats == plain(market.stats().to_json())
    assert stats["trades"] >= 6 and stats["disputed"] == 1 and stats["arbiters"]


def test_the_states_are_the_trade_state_table(served_market: ServedMarket) -> None:
    table = api(served_market, "/api/states")
    assert [s["name"] for s in table["states"]] == [s.name.lower() for s in TradeState]
    assert [s["terminal"] for s in table["states"]] == [s.is_terminal for s in TradeState]
    assert len(table["transitions"]) == len(TRANSITIONS)
    for row, transition in zip(table["transitions"], TRANSITIONS, strict=True):
        assert row["from"] == (None if transition.source is None else transition.source.name.lower())
        assert row["to"] == transition.target.name.lower() and row["actions"] == list(transition.actions)


def test_the_openapi_document_lists_every_route(served_market: ServedMarket) -> None:
    document = api(served_market, "/openapi.json")
    assert {"/api/health", "/api/offers", "/api/offers/{offer_id}", "/api/trades/{trade_id}",
            "/api/addresses/{address}", "/api/stats", "/api/states"} <= set(document["paths"])
    limit = next(p for p in document["paths"]["/api/offers"]["get"]["parameters"] if p["name"] == "limit")
    assert limit["schema"]["maximum"] == 100
    error = document["paths"]["/api/offers"]["get"]["responses"]["422"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/ErrorBody"}
    docs = served_market.get("/docs")
    assert docs.status_code == 200 and "/openapi.json" in docs.text and "<script>" not in docs.text
