"""The fast read path's JSON-RPC client (p2pescrow.transport.rpc) against a scripted HTTP server:
batches answered out of order, reverts in Anvil's and Ganache's shapes, other refusals, a node
that is not there, and log pages a range-limited provider refuses."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from p2pescrow.errors import NodeUnreachable, P2PEscrowError, UnknownRevert, decode_revert
from p2pescrow.transport.rpc import RpcClient, RpcError

Answer = Callable[[dict[str, Any]], dict[str, Any]]


@pytest.fixture
def scripted_node() -> Iterator[tuple[str, list[Any], list[Answer], list[str | None]]]:
    """A JSON-RPC server on a free port: ``answers[0]`` answers each request; every body received
    is recorded."""
    received: list[Any] = []
    authorizations: list[str | None] = []
    answers: list[Answer] = [lambda request: {"result": None}]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            received.append(body)
            authorizations.append(self.headers.get("Authorization"))
            requests = body if isinstance(body, list) else [body]
            replies = [{"jsonrpc": "2.0", "id": r["id"], **answers[0](r)} for r in requests]
            data = json.dumps(list(reversed(replies)) if isinstance(body, list) else replies[0]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received, answers, authorizations
    finally:
        server.shutdown()
        server.server_close()


WRONG_STATE = "0x" + "ab" * 4  # an unknown selector: decoded as UnknownRevert with its data


def test_a_batch_is_one_round_trip_and_results_come_back_in_request_order(scripted_node) -> None:
    url, received, answers, _ = scripted_node
    answers[0] = lambda request: {"result": request["method"]}
    rpc = RpcClient(url)

    results = rpc.batch([("eth_chainId", []), ("eth_blockNumber", []), ("eth_gasPrice", [])])

    assert results == ["eth_chainId", "eth_blockNumber", "eth_gasPrice"]  # the server answered reversed
    assert len(received) == 1 and [r["method"] for r in received[0]] == results
    assert rpc.sent == [("eth_chainId", "eth_blockNumber", "eth_gasPrice")]


@pytest.mark.parametrize("error", [
    pytest.param({"code": 3, "message": "execution reverted", "data": WRONG_STATE}, id="anvil"),
    pytest.param({"code": -32000, "message": "VM Exception while processing transaction: revert",
                  "data": {"result": WRONG_STATE, "reason": None}}, id="ganache"),
])
def test_a_reverted_call_raises_the_decoded_revert(scripted_node, error: dict[str, Any]) -> None:
    url, _, answers, _ = scripted_node
    answers[0] = lambda request: {"error": error}

    with pytest.raises(UnknownRevert) as raised:
        RpcClient(url).call("0x" + "11" * 20, "0x12345678")

    assert raised.value.data == WRONG_STATE
    assert str(raised.value) == str(decode_revert(WRONG_STATE))


def test_a_refusal_that_is_no_revert_keeps_the_nodes_words(scripted_node) -> None:
    url, _, answers, _ = scripted_node
    answers[0] = lambda request: {"error": {"code": -32601, "message": "method not found"}}

    with pytest.raises(RpcError, match="the node refused the request: method not found"):
        RpcClient(url).request("eth_nothing")


def test_no_node_is_node_unreachable_in_the_sdks_words() -> None:
    with pytest.raises(NodeUnreachable) as raised:
        RpcClient("http://127.0.0.1:1").request("eth_chainId")

    assert str(raised.value) == "cannot reach the node at http://127.0.0.1:1: ConnectionError"
    assert raised.value.exit_code == 4


def test_only_http_urls_are_taken() -> None:
    with pytest.raises(P2PEscrowError, match=r"speaks HTTP\(S\) only"):
        RpcClient("ws://127.0.0.1:8545")


def test_log_pages_shrink_when_the_provider_refuses_a_range(scripted_node) -> None:
    url, received, answers, _ = scripted_node

    def logs(request: dict[str, Any]) -> dict[str, Any]:
        query = request["params"][0]
        start, end = int(query["fromBlock"], 16), int(query["toBlock"], 16)
        if end - start + 1 > 100:
            return {"error": {"code": -32005, "message": "query exceeds max block range 100"}}
        return {"result": [{"blockNumber": hex(n)} for n in range(start, end + 1) if n % 50 == 0]}

    answers[0] = logs
    found = list(RpcClient(url).get_logs({"address": "0x" + "11" * 20}, 0, 399))

    assert [int(log["blockNumber"], 16) for log in found] == [0, 50, 100, 150, 200, 250, 300, 350]
    sizes = [int(b["params"][0]["toBlock"], 16) - int(b["params"][0]["fromBlock"], 16) + 1 for b in received]
    first_accepted = next(i for i, size in enumerate(sizes) if size <= 100)
    assert all(size > 100 for size in sizes[:first_accepted])  # refused: halved each time
    assert first_accepted <= 8 and all(size <= 100 for size in sizes[first_accepted:])  # never again too big


def test_credentials_in_the_url_are_sent_as_basic_auth(scripted_node) -> None:
    url, _, answers, authorizations = scripted_node
    answers[0] = lambda request: {"result": "0x7a69"}

    with_credentials = url.replace("http://", "http://reader:s%40cret@")
    assert RpcClient(with_credentials).request("eth_chainId") == "0x7a69"
    assert RpcClient(url).request("eth_chainId") == "0x7a69"

    assert authorizations == ["Basic cmVhZGVyOnNAY3JldA==", None]  # base64 of "reader:s@cret"
