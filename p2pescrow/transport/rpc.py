"""A minimal read-only JSON-RPC client over the standard library: for reads that must not pay for
importing web3 (about a second), such as the CLI's ``trade show`` and ``rep show``.

It sends requests (one, or several in one batch) and nothing else: no signing, no middleware, no
retries. What it gets back is plain JSON (``0x`` hex text); :mod:`p2pescrow.core.codec` decodes it.
Failures become the package's errors, as :func:`p2pescrow.transport.reverts.translate` makes them
on the web3 paths: no answer -> :class:`~p2pescrow.errors.NodeUnreachable`, revert data -> the
typed :class:`~p2pescrow.errors.ContractError`, anything else -> the node's words.
"""

from __future__ import annotations

import http.client
import itertools
import json
import re
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

from ..errors import NodeUnreachable, P2PEscrowError, decode_revert
from .logs import DEFAULT_PAGE, Pager

#: Seconds to wait for one answer (as the SDK's HTTP provider).
TIMEOUT = 30.0


class RpcError(P2PEscrowError):
    """The node answered a request with a JSON-RPC error (not a revert)."""

    def __init__(self, method: str, error: dict[str, Any]) -> None:
        self.method = method
        self.code = error.get("code")
        self.error = error
        text = str(error.get("message", error)).splitlines()[0][:300] if error else "no message"
        super().__init__(f"the node refused the request: {text}")


class RpcClient:
    """JSON-RPC over HTTP(S) to one node, on one kept-alive connection.

        rpc = RpcClient("http://127.0.0.1:8545")
        chain_id = int(rpc.request("eth_chainId"), 16)
        head, code = rpc.batch([("eth_blockNumber", []), ("eth_getCode", [address, "latest"])])
    """

    def __init__(self, url: str, *, timeout: float = TIMEOUT) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise P2PEscrowError(f"the fast read path speaks HTTP(S) only, not {url!r}")
        self.url = url
        self.timeout = timeout
        self._parts = parts
        self._ids = itertools.count(1)
        self._connection: http.client.HTTPConnection | None = None
        #: Every HTTP round trip made, as (method names) tuples (for tests and benchmarks).
        self.sent: list[tuple[str, ...]] = []

    # -- the wire -----------------------------------------------------------------------------------
    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            host, port = self._parts.hostname or "", self._parts.port
            if self._parts.scheme == "https":
                self._connection = http.client.HTTPSConnection(host, port, timeout=self.timeout)
            else:
                self._connection = http.client.HTTPConnection(host, port, timeout=self.timeout)
        return self._connection

    def _post(self, body: Any) -> Any:
        path = self._parts.path or "/"
        if self._parts.query:
            path += "?" + self._parts.query
        payload = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._parts.username is not None:  # https://user:secret@host/ (as web3's HTTP provider takes it)
            from base64 import b64encode
            from urllib.parse import unquote

            secret = f"{unquote(self._parts.username)}:{unquote(self._parts.password or '')}"
            headers["Authorization"] = "Basic " + b64encode(secret.encode()).decode()
        for attempt in (1, 2):  # a kept-alive connection the server closed meanwhile: once more, anew
            try:
                connection = self._connect()
                connection.request("POST", path, payload, headers)
                response = connection.getresponse()
                text = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self.close()
                if attempt == 2:
                    raise NodeUnreachable(self.url, _reason(exc)) from None
                continue
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                raise NodeUnreachable(self.url, _reason(exc)) from None
            if response.status >= 400 and not text.strip().startswith((b"{", b"[")):
                raise NodeUnreachable(self.url, f"HTTP {response.status} {response.reason}")
            try:
                return json.loads(text)
            except ValueError:
                raise NodeUnreachable(self.url, "the answer is not JSON") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    # -- requests -----------------------------------------------------------------------------------
    def request(self, method: str, params: Sequence[Any] = ()) -> Any:
        """The result of one request."""
        return self.batch([(method, params)])[0]

    def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """The results of ``calls`` ((method, params) pairs), sent in one round trip, in order.
        The first failed one raises (a revert as its typed error)."""
        if not calls:
            return []
        requests = [{"jsonrpc": "2.0", "id": next(self._ids), "method": m, "params": list(p)} for m, p in calls]
        self.sent.append(tuple(m for m, _ in calls))
        answer = self._post(requests[0] if len(requests) == 1 else requests)
        answers = answer if isinstance(answer, list) else [answer]
        by_id = {a.get("id"): a for a in answers if isinstance(a, dict)}
        results = []
        for request in requests:
            reply = by_id.get(request["id"])
            if reply is None and len(answers) == 1 and isinstance(answers[0], dict) and "error" in answers[0]:
                reply = answers[0]  # a node that refuses the whole batch answers once, without an id
            if reply is None:
                raise P2PEscrowError(f"the node gave no answer to {request['method']}")
            if "error" in reply and reply["error"] is not None:
                raise _error(str(request["method"]), reply["error"])
            results.append(reply.get("result"))
        return results

    # -- what reads need ----------------------------------------------------------------------------
    def call(self, to: str, data: str, block: str = "latest") -> str:
        """``eth_call``: the raw answer, ``0x``-hex."""
        return str(self.request("eth_call", [{"to": to, "data": data}, block]))

    def get_logs(self, params: dict[str, Any], from_block: int, to_block: int,
                 page: int = DEFAULT_PAGE) -> Iterator[dict[str, Any]]:
        """``eth_getLogs`` over ``[from_block, to_block]`` in the pages a range-limited provider
        accepts (the same :class:`~p2pescrow.transport.logs.Pager` as the web3 paths)."""
        pager = Pager(from_block, to_block, page)
        while (span := pager.next_range()) is not None:
            try:
                logs = self.request("eth_getLogs", [{**params, "fromBlock": hex(span[0]), "toBlock": hex(span[1])}])
            except RpcError as exc:
                if pager.refusal(exc):
                    continue
                raise
            yield from logs or []
            pager.accepted(span[1])


def _reason(exc: BaseException) -> str:
    """Why the node did not answer, in the words of the SDK's HTTP path (requests), so a command
    prints the same line whichever path it took."""
    return "ReadTimeout" if isinstance(exc, TimeoutError) else "ConnectionError"


def _error(method: str, error: Any) -> P2PEscrowError:
    """A JSON-RPC error object as the package's error: a revert decoded into its typed error (the
    data is in ``error.data`` on Anvil and geth, in ``error.data.result`` on Ganache), else
    :class:`RpcError` with the node's words."""
    error = error if isinstance(error, dict) else {"message": str(error)}
    if method in ("eth_call", "eth_estimateGas"):
        data = error.get("data")
        if isinstance(data, dict):
            data = data.get("result", data.get("data"))
        if isinstance(data, str) and _HEX.fullmatch(data):
            return decode_revert(data)
        if "revert" in str(error.get("message", "")).lower():
            return decode_revert(b"")
    return RpcError(method, error)


_HEX = re.compile(r"0x(?:[0-9a-fA-F]{2})*")

__all__ = ["RpcClient", "RpcError"]
