"""A node that stops answering mid-session: a loopback JSON-RPC proxy in front of a real node.

It forwards every request to ``upstream`` until it is stopped, by :meth:`StoppingProxy.stop` or at
the first request ``stop_at`` matches; from then on each request is read and its connection closed
without an answer (the client sees the node hang up, as when it dies).

    with StoppingProxy(node.url, stop_at=calls_to(token)) as proxy:
        client = EscrowClient.connect(proxy.url, ...)  # connecting is answered
        client.token(token)                            # the node is gone
"""

from __future__ import annotations

import http.server
import json
import threading
import urllib.request
from collections.abc import Callable
from typing import Any

Request = dict[str, Any]


def calls_to(address: str) -> Callable[[Request], bool]:
    """Matches an ``eth_call`` to ``address`` (the node stops answering at the first one)."""
    def matches(request: Request) -> bool:
        params = request.get("params") or [{}]
        return request.get("method") == "eth_call" and str(params[0].get("to", "")).lower() == address.lower()
    return matches


class StoppingProxy:
    def __init__(self, upstream: str, stop_at: Callable[[Request], bool] | None = None) -> None:
        self.upstream = upstream
        self.stop_at = stop_at
        self.stopped = False
        #: Methods of the requests that went unanswered.
        self.unanswered: list[str] = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                document = json.loads(body)
                requests = document if isinstance(document, list) else [document]
                if proxy.stop_at is not None and any(proxy.stop_at(r) for r in requests):
                    proxy.stopped = True
                if proxy.stopped:
                    proxy.unanswered += [str(r.get("method")) for r in requests]
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                forwarded = urllib.request.Request(proxy.upstream, body, {"Content-Type": "application/json"})
                with urllib.request.urlopen(forwarded, timeout=30) as response:
                    answer = response.read()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def stop(self) -> None:
        """From now on, no request is answered."""
        self.stopped = True

    def __enter__(self) -> StoppingProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
