"""The application: :func:`create_app` puts the routers (the JSON API, the relay, the pages) behind the
middleware every response goes through, and runs the background sync while it serves.

Every response, whatever answers it (a route, a 404, a validation error, a crash), carries the
security headers (:data:`SECURITY_HEADERS`: a strict Content-Security-Policy with no inline script or
style, ``nosniff``, no referrer, no framing). A request body larger than the settings' bound is
answered 413 before anything reads it (by its ``Content-Length``, or as it streams in). CORS headers
are sent only to the origins configured (``--cors-origin``); none by default. Every error is JSON
``{"error": ..., "hint": ...}`` with its status code, FastAPI's validation errors (422) included.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import P2PEscrowError
from . import api, pages, relay
from .state import ApiError, ServedMarket
from .syncing import SyncLoop, one_line

__all__ = ["CONTENT_SECURITY_POLICY", "SECURITY_HEADERS", "create_app"]

log = logging.getLogger("p2pescrow.server")

#: The pages load scripts, styles and images from this server only, inline SVG/data images aside;
#: nothing inline runs (no 'unsafe-inline', no 'unsafe-eval'); forms post here; no framing.
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")

#: On every response.
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}

#: The interactive API documentation (Swagger UI) loads its script and style from this CDN: its page
#: alone gets a policy that allows them (still no inline script: its start-up is /docs/init.js).
DOCS_CDN = "https://cdn.jsdelivr.net"
DOCS_POLICY = (f"default-src 'none'; script-src 'self' {DOCS_CDN}; style-src 'self' {DOCS_CDN}; "
               "img-src 'self' data: https://fastapi.tiangolo.com; connect-src 'self'; base-uri 'none'; "
               "frame-ancestors 'none'")


# -- middleware (plain ASGI: they see every response, errors included) --------------------------------
class SecurityHeaders:
    """Adds :data:`SECURITY_HEADERS` to every HTTP response, and answers an exception no handler took
    as a JSON 500 (logged), so that even that response carries them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.headers = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
        self.docs = [(k, DOCS_POLICY.encode() if k == b"content-security-policy" else v) for k, v in self.headers]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        added = self.docs if scope.get("path") == "/docs" else self.headers
        names = {name for name, _ in added}
        started = False

        async def with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": [*kept, *added]}
            await send(message)

        try:
            await self.app(scope, receive, with_headers)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            response = JSONResponse({"error": "internal error: the server failed to answer this request",
                                     "hint": "try again; if it persists, tell the server's operator"}, 500)
            await response(scope, receive, with_headers)


#: The longest query string read (bytes; the longest valid search is well under 2 KiB).
QUERY_MAX_BYTES = 8 * 1024
#: The most header bytes a request may carry, names and values together.
HEADERS_MAX_BYTES = 16 * 1024


class BodyTooLarge(StarletteHTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body too large: more than {limit} bytes")


class BodyLimit:
    """Bounds a request's size before anything reads it: a query string over :data:`QUERY_MAX_BYTES`
    is answered 414, headers over :data:`HEADERS_MAX_BYTES` in all 431, and a body larger than ``limit``
    bytes 413: by its ``Content-Length`` before anything is read, else when the streamed body passes the
    limit (nothing parses it)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if len(scope.get("query_string") or b"") > QUERY_MAX_BYTES:
            await _json(414, f"query string too long: more than {QUERY_MAX_BYTES} bytes",
                        "the search's parameters are short: see /docs")(scope, receive, send)
            return
        headers = scope.get("headers") or []
        if sum(len(name) + len(value) for name, value in headers) > HEADERS_MAX_BYTES:
            await _json(431, f"request headers too large: more than {HEADERS_MAX_BYTES} bytes in all",
                        "send fewer or shorter headers")(scope, receive, send)
            return
        declared = dict(headers).get(b"content-length")
        if declared is not None:
            text = declared.decode("latin-1").strip()
            if not text.isdigit():
                await _json(400, "malformed Content-Length header", "send the body's length in bytes")(
                    scope, receive, send)
                return
            if int(text) > self.limit:
                await _too_large(self.limit)(scope, receive, send)
                return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        await self.app(scope, limited, send)


def _json(status: int, error: str, hint: str | None, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": error, "hint": hint}, status, headers=headers)


def _too_large(limit: int) -> JSONResponse:
    return _json(413, f"request body too large: more than {limit} bytes ({limit // 1024} KiB)",
                 "send a smaller body: a signed offer and its terms document fit well within it")


# -- errors as JSON ----------------------------------------------------------------------------------
def _where(loc: Any) -> str:
    parts = [str(p) for p in (loc or ())]
    if not parts:
        return "the request"
    kinds = {"query": "query parameter", "path": "path parameter", "body": "body field", "header": "header"}
    if parts[0] in kinds:
        rest = ".".join(parts[1:])
        return f"{kinds[parts[0]]} {rest}" if rest else ("the body" if parts[0] == "body" else parts[0])
    return ".".join(parts)


def validation_message(exc: RequestValidationError) -> str:
    """FastAPI's validation errors in one line: where, and what is wrong (the first few)."""
    problems = []
    for error in exc.errors()[:3]:
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        problems.append(f"{_where(error.get('loc'))}: {message}")
    more = len(exc.errors()) - len(problems)
    return "invalid request: " + "; ".join(problems) + (f" (and {more} more)" if more > 0 else "")


def _install_error_handlers(app: FastAPI) -> None:
    async def api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return JSONResponse(exc.body(), exc.status, headers=exc.headers or None)

    async def http_error(request: Request, exc: Exception) -> Any:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 413:
            return _too_large(getattr(request.app.state, "body_max_bytes", 0))
        page = getattr(pages, "error_page", None)  # the pages answer their own paths in HTML
        if page is not None and not request.url.path.startswith("/api"):
            answer = page(request, exc.status_code, str(exc.detail))
            if answer is not None:
                return answer
        if exc.status_code == 404:
            return _json(404, f"not found: {request.url.path}", "the API is under /api: see /docs",
                         exc.headers)
        if exc.status_code == 405:
            return _json(405, f"{request.method} is not allowed on {request.url.path}",
                         "see /docs for the methods each path takes", exc.headers)
        detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        return _json(exc.status_code, detail, None, exc.headers)

    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return _json(422, validation_message(exc), "see /docs (or /openapi.json) for what each parameter takes")

    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.warning("%s %s: %s", request.method, request.url.path, one_line(exc))
        return _json(503, f"the index cannot be read right now: {one_line(exc)}",
                     "try again shortly; if it persists, tell the server's operator", {"Retry-After": "5"})

    async def package_error(request: Request, exc: Exception) -> JSONResponse:
        from ..errors import InputError, NetworkError

        assert isinstance(exc, P2PEscrowError)
        if isinstance(exc, InputError):
            return _json(422, f"invalid request: {exc}", exc.hint)
        if isinstance(exc, NetworkError):
            return _json(503, f"the node does not answer: {one_line(exc)}",
                         "try again shortly; if it persists, tell the server's operator", {"Retry-After": "5"})
        log.error("%s %s: %s", request.method, request.url.path, one_line(exc))
        return _json(500, f"internal error: {one_line(exc)}", "tell the server's operator")

    from sqlalchemy.exc import SQLAlchemyError

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(SQLAlchemyError, unavailable)
    app.add_exception_handler(P2PEscrowError, package_error)


# -- the app -----------------------------------------------------------------------------------------
DESCRIPTION = """The market index of one escrow deployment, over HTTP: the offers that can be filled now
(with each seller's screening), one offer with its signed form, a trade and its history, an address's
record, the market's figures, the trade-state table; and a gas-free relay for signed offers.

Every error is JSON `{"error": "...", "hint": "..."}` with its status code. Amounts are integers in the
token's base units."""


def create_app(served: ServedMarket, *, background_sync: bool = True) -> FastAPI:
    """The ASGI application serving ``served``: the API (:mod:`.api`), the relay (:mod:`.relay`) and the
    pages (:mod:`.pages`); while it runs (its lifespan), the index is synced every
    ``settings.sync_interval`` seconds unless ``background_sync`` is False."""
    settings = served.settings

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loop = SyncLoop(served, settings.sync_interval) if background_sync else None
        app.state.sync_loop = loop
        if loop is not None:
            loop.start()
        try:
            yield
        finally:
            if loop is not None:
                await loop.stop()
            served.close()

    app = FastAPI(
        title="p2pescrow market",
        version=_version(),
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.served = served
    app.state.body_max_bytes = settings.body_max_bytes
    _install_error_handlers(app)
    app.include_router(api.create_router(settings))
    app.include_router(api.docs_router)
    app.include_router(relay.router)
    app.include_router(pages.router)
    app.add_middleware(BodyLimit, limit=settings.body_max_bytes)
    if settings.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Content-Type"], max_age=600)
    app.add_middleware(SecurityHeaders)
    return app


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("p2pescrow")
    except PackageNotFoundError:
        return "0"
