"""`p2pescrow serve` over a PostgreSQL index (the suite's own server, tests/support/postgres.py): the
same chain served from PostgreSQL answers as MarketClient over that database, and as the SQLite-served
market does (full-text search aside, whose matching is each engine's own: compared with MarketClient
only)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from support.market import MarketChain
from support.server import ServedMarket, Server, serve

pytestmark = pytest.mark.anvil


@pytest.fixture(scope="module")
def pg_server(served_market: ServedMarket, market_chain: MarketChain, postgres_module_url: str,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve(market_chain, postgres_module_url, tmp_path_factory.mktemp("pg-home")) as server:
        server.wait_synced()
        yield server


@pytest.fixture(scope="module")
def pg_market(pg_server: Server) -> Iterator[Any]:
    client = pg_server.market()
    yield client
    client.close()


def get(server: Server, path: str, **params: Any) -> Any:
    answer = server.get(path, **params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_it_serves_from_postgresql(pg_server: Server) -> None:
    assert "(index: postgresql+psycopg://" in pg_server.output().splitlines()[0]


@pytest.mark.parametrize("path", ["/api/offers", "/api/offers?sort=amount", "/api/offers?min_score=3.5",
                                  "/api/stats", "/api/states"])
def test_postgresql_answers_as_sqlite(pg_server: Server, served_market: ServedMarket, path: str) -> None:
    served_market.wait_synced()
    assert get(pg_server, path) == get(served_market, path)


def test_an_offer_a_trade_and_an_address_as_sqlite(pg_server: Server, served_market: ServedMarket) -> None:
    for path in (f"/api/offers/{served_market.offers['rtl']}", f"/api/trades/{served_market.trades['ruled']}",
                 f"/api/addresses/{served_market.chain.d.seller}"):
        assert get(pg_server, path) == get(served_market, path), path


@pytest.mark.parametrize("text", ["bicycle", "long story", "alert", "אופניים"])
def test_full_text_search_is_the_market_clients(pg_server: Server, pg_market: Any, text: str) -> None:
    import json

    found = get(pg_server, "/api/offers", text=text)["offers"]
    assert found == json.loads(json.dumps([hit.to_json() for hit in pg_market.search(sync=False, text=text)]))
    assert found, text


def test_stats_are_the_market_clients(pg_server: Server, pg_market: Any) -> None:
    import json

    assert get(pg_server, "/api/stats") == json.loads(json.dumps(pg_market.stats().to_json()))
