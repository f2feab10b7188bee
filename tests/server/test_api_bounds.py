"""What the API refuses, and how: every bad input is a JSON ``{"error", "hint"}`` with its status (422
for a parameter out of bounds or malformed, 404 for what is not there, 405 for a wrong method, 413 for a
body over 64 KiB, 414 for a query string over 8 KiB, 431 for headers over 16 KiB, all answered before
anything reads the request); every response, errors included, carries the
security headers; CORS headers only for the origins configured."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.market import MarketChain
from support.server import ServedMarket, Server, serve

pytestmark = pytest.mark.anvil

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
       "base-uri 'none'; frame-ancestors 'none'")


def refused(answer: httpx.Response, status: int) -> dict[str, Any]:
    """The answer is the JSON error document with ``status``; the document."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert set(body) == {"error", "hint"} and body["error"], body
    return dict(body)


BAD_QUERIES = {
    "limit above the page maximum": ({"limit": 101}, "query parameter limit"),
    "limit zero": ({"limit": 0}, "query parameter limit"),
    "negative offset": ({"offset": -1}, "query parameter offset"),
    "offset past 10,000": ({"offset": 10_001}, "query parameter offset"),
    "text over 200 characters": ({"text": "x" * 201}, "query parameter text"),
    "category over 64 characters": ({"category": "c" * 65}, "query parameter category"),
    "token not an address": ({"token": "ETH"}, "query parameter token"),
    "seller too short": ({"seller": "0x1234"}, "query parameter seller"),
    "amount not a number": ({"min_amount": "1.5"}, "query parameter min_amount"),
    "amount negative": ({"max_amount": -1}, "query parameter max_amount"),
    "amount beyond uint256": ({"max_amount": str(2**256)}, "query parameter max_amount"),
    "fee beyond 100%": ({"max_arbiter_fee_bps": 10_001}, "query parameter max_arbiter_fee_bps"),
    "score above 5": ({"min_score": 6}, "query parameter min_score"),
    "score not a number": ({"min_score": "nan"}, "query parameter min_score"),
    "unknown sort": ({"sort": "cheapest"}, "query parameter sort"),
    "unknown timeout": ({"timeout": "never"}, "query parameter timeout"),
    "unknown parameter": ({"max_amout": 5}, "unknown query parameter max_amout"),
}


@pytest.mark.parametrize("case", list(BAD_QUERIES))
def test_a_bad_search_parameter_is_a_422_naming_it(served_market: ServedMarket, case: str) -> None:
    params, named = BAD_QUERIES[case]
    body = refused(served_market.get("/api/offers", **params), 422)
    assert body["error"].startswith("invalid request: ") and named in body["error"], body


def test_the_largest_page_and_offset_allowed_are_answered(served_market: ServedMarket) -> None:
    assert served_market.get("/api/offers", limit=100, offset=10_000).json() == {
        "offers": [], "limit": 100, "offset": 10_000}
    assert served_market.get("/api/offers", text="x" * 200).status_code == 200


BAD_PATHS = {
    "offer id not hex": "/api/offers/0xnothex",
    "offer id too long": "/api/offers/0x" + "1" * 65,
    "offer id prefix too short": "/api/offers/0x12",
    "trade id short": "/api/trades/0x" + "1" * 63,
    "trade id without 0x": "/api/trades/" + "1" * 64,
    "address short": "/api/addresses/0x" + "1" * 39,
}


@pytest.mark.parametrize("case", list(BAD_PATHS))
def test_a_malformed_id_or_address_is_a_422(served_market: ServedMarket, case: str) -> None:
    body = refused(served_market.get(BAD_PATHS[case]), 422)
    assert "path parameter" in body["error"], body


def test_recent_trades_are_bounded(served_market: ServedMarket) -> None:
    address = served_market.chain.d.seller
    refused(served_market.get(f"/api/addresses/{address}", recent=101), 422)
    assert served_market.get(f"/api/addresses/{address}", recent=0).json()["recent_trades"] == []


def test_unknown_paths_and_methods_are_json(served_market: ServedMarket) -> None:
    assert refused(served_market.get("/api/nothing"), 404)["error"] == "not found: /api/nothing"
    assert "DELETE" in refused(served_market.http.delete("/api/offers"), 405)["error"]


def test_a_body_over_64_kib_is_a_413_before_it_is_read(served_market: ServedMarket) -> None:
    big = b"{" + b" " * (64 * 1024) + b"}"
    body = refused(served_market.post("/api/relay", content=big, headers={"content-type": "application/json"}), 413)
    assert "64 KiB" in body["error"]
    # a path that reads no body at all: refused by the length the client declared
    refused(served_market.post("/api/health", content=big), 413)


def test_a_streamed_body_is_cut_at_64_kib(served_market: ServedMarket) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer encoding
        for _ in range(100):
            yield b" " * 1024

    answer = served_market.post("/api/relay", content=chunks(), headers={"content-type": "application/json"})
    refused(answer, 413)


def raw_request(url: str, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` as bytes on a fresh connection (httpx refuses to send an over-long URL); the
    status, headers and body of the answer."""
    import socket
    from urllib.parse import urlparse

    where = urlparse(url)
    answer = b""
    with socket.create_connection((where.hostname, where.port), timeout=30) as connection:
        connection.sendall(request)
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


def test_an_over_long_query_string_is_a_json_414(served_market: ServedMarket) -> None:
    status, headers, body = raw_request(served_market.url, b"GET /api/offers?text=" + b"x" * 9000
                                        + b" HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
    assert status == 414 and headers["content-type"] == "application/json", body
    assert json.loads(body)["error"] == "query string too long: more than 8192 bytes"
    assert headers["content-security-policy"] == CSP


def test_over_large_headers_are_a_json_431(served_market: ServedMarket) -> None:
    status, headers, body = raw_request(served_market.url, b"GET /api/health HTTP/1.1\r\nHost: test\r\n"
                                        b"X-Padding: " + b"y" * 20_000 + b"\r\nConnection: close\r\n\r\n")
    assert status == 431 and json.loads(body)["error"].startswith("request headers too large")
    assert headers["content-security-policy"] == CSP


def test_a_body_within_the_bound_is_read(served_market: ServedMarket) -> None:
    answer = served_market.post("/api/relay", content=b"{" + b" " * 60_000 + b"}",
                                headers={"content-type": "application/json"})
    assert answer.status_code not in (413, 500) and set(answer.json()) >= {"error", "hint"}


def security_headers_of(answer: httpx.Response) -> dict[str, str]:
    return {name: answer.headers.get(name) for name in (
        "content-security-policy", "x-content-type-options", "referrer-policy", "x-frame-options")}


EXPECTED_HEADERS = {"content-security-policy": CSP, "x-content-type-options": "nosniff",
                    "referrer-policy": "no-referrer", "x-frame-options": "DENY"}


@pytest.mark.parametrize("request_", [
    ("GET", "/api/health", None), ("GET", "/api/offers", None), ("GET", "/openapi.json", None),
    ("GET", "/api/offers?limit=0", None), ("GET", "/api/nothing", None), ("DELETE", "/api/offers", None),
    ("POST", "/api/health", b"x" * 70_000), ("GET", "/", None), ("GET", "/api/trades/0x" + "0" * 64, None),
], ids=["health", "search", "openapi", "422", "404", "405", "413", "page", "trade-404"])
def test_every_response_carries_the_security_headers(served_market: ServedMarket,
                                                     request_: tuple[str, str, bytes | None]) -> None:
    method, path, content = request_
    answer = served_market.http.request(method, path, content=content)
    assert security_headers_of(answer) == EXPECTED_HEADERS, (answer.status_code, dict(answer.headers))


def test_the_api_docs_page_runs_no_inline_script(served_market: ServedMarket) -> None:
    docs = served_market.get("/docs")
    policy = docs.headers["content-security-policy"]
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy and "script-src 'self'" in policy
    assert '<script src="/docs/init.js"></script>' in docs.text
    init = served_market.get("/docs/init.js")
    assert init.status_code == 200 and "/openapi.json" in init.text


def test_no_cors_headers_unless_configured(served_market: ServedMarket) -> None:
    answer = served_market.http.get("/api/stats", headers={"origin": "https://app.example"})
    assert answer.status_code == 200 and "access-control-allow-origin" not in answer.headers
    preflight = served_market.http.options("/api/offers", headers={
        "origin": "https://app.example", "access-control-request-method": "GET"})
    assert "access-control-allow-origin" not in preflight.headers


@pytest.fixture(scope="module")
def cors_server(served_market: ServedMarket, market_chain: MarketChain,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A second server over the same chain (its own index), CORS for two origins set by
    $P2PESCROW_CORS_ORIGINS (comma-separated)."""
    folder = tmp_path_factory.mktemp("cors")
    with serve(market_chain, f"sqlite:///{folder / 'market.sqlite'}", folder / "home",
               env={"P2PESCROW_CORS_ORIGINS": "https://app.example, https://other.example"}) as server:
        yield server


def test_cors_for_the_origins_configured_only(cors_server: Server) -> None:
    for origin in ("https://app.example", "https://other.example"):
        answer = cors_server.http.get("/api/stats", headers={"origin": origin})
        assert answer.headers["access-control-allow-origin"] == origin
    stranger = cors_server.http.get("/api/stats", headers={"origin": "https://evil.example"})
    assert stranger.status_code == 200 and "access-control-allow-origin" not in stranger.headers
    preflight = cors_server.http.options("/api/offers", headers={
        "origin": "https://app.example", "access-control-request-method": "GET"})
    assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == "https://app.example"
    assert security_headers_of(preflight) == EXPECTED_HEADERS
    refused_preflight = cors_server.http.options("/api/offers", headers={
        "origin": "https://evil.example", "access-control-request-method": "GET"})
    assert refused_preflight.status_code == 400 and "access-control-allow-origin" not in refused_preflight.headers


def test_the_cors_option_wins_over_the_environment(market_chain: MarketChain, served_market: ServedMarket,
                                                   tmp_path: Path) -> None:
    with serve(market_chain, f"sqlite:///{tmp_path / 'market.sqlite'}", tmp_path / "home",
               "--cors-origin", "https://option.example",
               env={"P2PESCROW_CORS_ORIGINS": "https://app.example"}) as server:
        chosen = server.http.get("/api/health", headers={"origin": "https://option.example"})
        assert chosen.headers["access-control-allow-origin"] == "https://option.example"
        other = server.http.get("/api/health", headers={"origin": "https://app.example"})
        assert "access-control-allow-origin" not in other.headers


def test_a_crash_is_a_json_500_with_the_security_headers() -> None:
    """A route that fails unexpectedly (here the served market itself) is answered, not dropped: JSON,
    no traceback, the headers on it too. In process, with a market whose health raises."""
    import logging

    from starlette.testclient import TestClient

    from p2pescrow.server.app import create_app
    from p2pescrow.server.settings import ServerSettings
    from p2pescrow.server.syncing import SyncStatus

    class Broken:
        settings = ServerSettings()
        sync_status = SyncStatus()

        def health(self) -> dict[str, Any]:
            raise RuntimeError("a bug")

        def close(self) -> None:
            pass

    logging.getLogger("p2pescrow.server").disabled = True
    try:
        with TestClient(create_app(Broken(), background_sync=False), raise_server_exceptions=False) as client:
            answer = client.get("/api/health")
    finally:
        logging.getLogger("p2pescrow.server").disabled = False
    body = refused(answer, 500)
    assert body["error"].startswith("internal error") and "a bug" not in body["error"]
    assert security_headers_of(answer) == EXPECTED_HEADERS
