"""The market of a ``p2pescrow serve`` server, over HTTP: search, one offer, a trader's screening, the
figures, and the gas-free relay, without a node or an index of one's own.

    from p2pescrow.market.remote import RemoteMarketClient

    with RemoteMarketClient("https://market.example.org") as market:
        for hit in market.search(category="bikes", max_amount=10**18, sort="score"):
            print(hit.id, hit.title, hit.relayed, hit.screening.score)
        offer_id = market.relay(signed, document)          # listed at once, marked relayed

The same reads as :class:`~p2pescrow.market.client.MarketClient` (``search(**filters)`` takes the
fields of :class:`~p2pescrow.market.queries.OfferFilter`; ``offer``, ``screening``, ``stats``) with the
same results (:class:`~p2pescrow.market.queries.OfferHit`, ``Screening``, ``MarketStats``), read from the
server's JSON API; the server keeps its index in sync, so ``sync=`` is accepted and changes nothing.
:class:`AsyncRemoteMarketClient` is the asyncio twin.

An error the server answers becomes the SDK's typed error with the server's message and hint:
:class:`ServerRefused` (an :class:`~p2pescrow.errors.InputError`: a bad request, a relayed offer
refused, :class:`AlreadyKnown` for 409), :class:`RateLimited` (a
:class:`~p2pescrow.errors.NetworkError` with ``retry_after`` seconds), :class:`ServerFailed` (5xx, or
an answer that is not the API's) and :class:`ServerUnreachable`.

Needs httpx (the ``server`` extra: ``pip install 'p2pescrow[server]'``) and the market extra's
result types.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ..errors import InputError, MissingExtra, NetworkError

if TYPE_CHECKING:
    from ..core.offers import SignedOffer
    from .queries import MarketStats, OfferHit, Screening

__all__ = [
    "MARKET_URL_ENV",
    "AlreadyKnown",
    "AsyncRemoteMarketClient",
    "RateLimited",
    "RemoteMarketClient",
    "ServerFailed",
    "ServerRefused",
    "ServerUnreachable",
]

#: The environment variable the CLI reads the server's URL from (``--market-url``).
MARKET_URL_ENV = "P2PESCROW_MARKET_URL"

#: Seconds a request may take.
DEFAULT_TIMEOUT = 15.0


# -- errors ----------------------------------------------------------------------------------------------
class ServerRefused(InputError):
    """The market server refused the request (4xx): the message is the server's."""

    def __init__(self, message: str, *, status: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


class AlreadyKnown(ServerRefused):
    """The server already lists this offer (relayed before, or on the board): 409."""


class RateLimited(NetworkError):
    """Too many requests: the server says to retry after ``retry_after`` seconds (429)."""

    def __init__(self, message: str, *, retry_after: int | None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = 429
        self.retry_after = retry_after


class ServerFailed(NetworkError):
    """The server failed (5xx), or answered something that is not its API's JSON."""

    def __init__(self, message: str, *, status: int | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


class ServerUnreachable(NetworkError):
    """No answer from the market server."""


def _httpx() -> Any:
    try:
        import httpx
    except ModuleNotFoundError:
        raise MissingExtra("the remote market client", "server", "httpx") from None
    return httpx


# -- JSON -> the market's result types ---------------------------------------------------------------------
def _screening(data: Mapping[str, Any]) -> Screening:
    from ..models import AssetRecord, ReputationRole
    from .queries import Screening

    records = []
    for row in data.get("records") or ():
        role = row["role"]
        role = ReputationRole[role.upper()] if isinstance(role, str) else ReputationRole(int(role))
        records.append(AssetRecord(
            asset=row["asset"], role=role,
            **{name: int(row.get(name) or 0) for name in (
                "volume", "completed", "refunded", "settled", "disputes_won", "disputes_lost", "disputes_split",
                "rated_volume", "weighted_score", "count")}))
    first = data.get("first_trade_at")
    return Screening(
        address=data["address"], records=tuple(records),
        minimums={str(k): int(v) for k, v in (data.get("minimums") or {}).items()},
        completed=int(data.get("completed") or 0), refunded=int(data.get("refunded") or 0),
        disputed=int(data.get("disputed") or 0), first_trade_at=None if first is None else int(first),
        score=Decimal(str(data.get("score", "3.00"))))


_HIT_INTS = ("chain_id", "amount", "buyer_deposit", "seller_deposit", "arbiter_fee_bps", "platform_fee_bps",
             "release_window", "arbitration_window", "flags", "nonce", "expiry", "published_block", "published_at",
             "log_index")


def _hit(data: Mapping[str, Any]) -> OfferHit:
    from dataclasses import fields

    from .queries import OfferHit

    values: dict[str, Any] = {}
    for f in fields(OfferHit):
        if f.name == "screening":
            values[f.name] = _screening(data["screening"])
        elif f.name in ("tags", "warnings"):
            values[f.name] = tuple(str(t) for t in (data.get(f.name) or ()))
        elif f.name in _HIT_INTS:
            values[f.name] = int(data[f.name])
        elif f.name == "fillable":
            values[f.name] = bool(data.get("fillable", True))
        elif f.name == "source":
            values[f.name] = str(data.get("source") or ("relayed" if data.get("relayed") else "board"))
        elif f.name in data:
            values[f.name] = data[f.name]
    return OfferHit(**values)


def _stats(data: Mapping[str, Any]) -> MarketStats:
    from .queries import ArbiterStats, MarketStats, VolumePoint

    def points(rows: Any) -> tuple[VolumePoint, ...]:
        return tuple(VolumePoint(str(r["token"]), str(r["period"]), int(r["volume"]), int(r["trades"]))
                     for r in rows or ())

    def number(value: Any) -> float | None:
        return None if value is None else float(value)

    arbiters = tuple(ArbiterStats(
        arbiter=a["arbiter"], cases=int(a["cases"]), rulings=int(a["rulings"]),
        median_seconds_to_rule=number(a.get("median_seconds_to_rule")),
        even_split_share=number(a.get("even_split_share")),
        fees={str(k): int(v) for k, v in (a.get("fees") or {}).items()}) for a in data.get("arbiters") or ())
    return MarketStats(
        chain_id=int(data["chain_id"]), as_of=int(data["as_of"]), trades=int(data["trades"]),
        funded=int(data["funded"]), disputed=int(data["disputed"]), dispute_rate=number(data.get("dispute_rate")),
        outcomes={str(k): int(v) for k, v in (data.get("outcomes") or {}).items()},
        volume_by_day=points(data.get("volume_by_day")), volume_by_week=points(data.get("volume_by_week")),
        release_seconds_median=number(data.get("release_seconds_median")),
        release_seconds_p90=number(data.get("release_seconds_p90")),
        platform_fees={str(k): int(v) for k, v in (data.get("platform_fees") or {}).items()},
        arbiters=arbiters)


# -- requests --------------------------------------------------------------------------------------------
#: OfferFilter fields the API takes under another name or form.
def _search_params(filters: Mapping[str, Any]) -> dict[str, str]:
    from .queries import OfferFilter

    OfferFilter(**{k: v for k, v in filters.items() if k != "sync"})  # a bad filter is said here, not by the server
    params: dict[str, str] = {}
    for name, value in filters.items():
        if value is None or name == "sync":
            continue
        if name == "timeout_releases":
            params["timeout"] = "releases" if value else "refunds"
        elif isinstance(value, bool):
            params[name] = "true" if value else "false"
        else:
            params[name] = str(value)
    return params


def _relay_body(signed: SignedOffer | str | Mapping[str, Any],
                document: bytes | str | Mapping[str, Any] | None) -> dict[str, Any]:
    """The relay's request: the signed offer document (a SignedOffer, its JSON text as `offer create
    --out` writes it, or that parsed) and the terms document (the offer document's own ``terms`` if None)."""
    if isinstance(signed, str):
        try:
            offer = json.loads(signed)
        except ValueError as exc:
            raise InputError(f"not an offer document: invalid JSON ({exc})") from None
    elif isinstance(signed, Mapping):
        offer = dict(signed)
    else:
        offer = json.loads(signed.to_json())
    if not isinstance(offer, dict):
        raise InputError("not an offer document: a JSON object is expected")
    body: dict[str, Any] = {"offer": offer}
    if document is not None:
        body["document"] = document.decode("utf-8") if isinstance(document, (bytes, bytearray)) else document
    elif "terms" not in offer:
        raise InputError("the offer document carries no terms document: pass it as document",
                         hint="an offer is relayed with the document its termsHash commits to")
    return body


def _base(url: str) -> str:
    text = url.strip().rstrip("/")
    if not text.startswith(("http://", "https://")):
        raise InputError(f"not a market server URL: {url!r}", hint="e.g. --market-url https://market.example.org "
                                                                     "or http://127.0.0.1:8000")
    return text


class _Remote:
    """What both clients share: the URL, how a response becomes a result or a typed error."""

    url: str

    def _failure(self, response: Any, *, relay: bool = False) -> Exception:
        status = int(response.status_code)
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            message, hint = body["error"], body.get("hint") if isinstance(body.get("hint"), str) else None
        else:
            message, hint = f"HTTP {status} {getattr(response, 'reason_phrase', '')}".strip(), None
        where = f"the market server at {self.url}"
        if status == 429:
            after = response.headers.get("retry-after", "")
            return RateLimited(f"{where}: {message}", retry_after=int(after) if after.isdigit() else None,
                               hint=hint or (f"retry in {after} s" if after else None))
        if status == 409 and relay:
            return AlreadyKnown(message, status=status, hint=hint)
        if 400 <= status < 500:
            return ServerRefused(message, status=status, hint=hint)
        return ServerFailed(f"{where} failed: {message}", status=status, hint=hint or "try again later")

    def _json(self, response: Any, *, relay: bool = False) -> Any:
        if response.status_code >= 400:
            raise self._failure(response, relay=relay)
        try:
            return response.json()
        except ValueError:
            raise ServerFailed(f"the market server at {self.url} answered something that is not JSON",
                               status=response.status_code,
                               hint="check --market-url: it names a `p2pescrow serve` server") from None

    def _unreachable(self, exc: Exception) -> ServerUnreachable:
        reason = str(exc) or type(exc).__name__
        return ServerUnreachable(f"cannot reach the market server at {self.url}: {reason}",
                                 hint="check --market-url / $P2PESCROW_MARKET_URL and that `p2pescrow serve` runs "
                                      "there")

    @staticmethod
    def _hits(data: Any) -> list[OfferHit]:
        rows = data.get("offers") if isinstance(data, dict) else data
        return [_hit(row) for row in rows or ()]

    @staticmethod
    def _screening_of(data: Any) -> Screening:
        return _screening(data["screening"] if isinstance(data, dict) and "screening" in data else data)

    @staticmethod
    def _stats_of(data: Any) -> MarketStats:
        return _stats(data["stats"] if isinstance(data, dict) and "stats" in data else data)

    @staticmethod
    def _offer_path(offer_id: str) -> str:
        text = offer_id.strip().lower()
        body = text.removeprefix("0x")
        if not 1 <= len(body) <= 64 or any(c not in "0123456789abcdef" for c in body):
            raise InputError(f"not an offer id: {offer_id!r}")
        return "/api/offers/0x" + body

    @staticmethod
    def _address_path(address: str) -> str:
        from .client import _address

        return "/api/addresses/" + quote(_address(address))


class RemoteMarketClient(_Remote):
    """A market server's reads and relay, blocking (see the module's docstring)."""

    def __init__(self, url: str, *, timeout: float = DEFAULT_TIMEOUT, **options: Any) -> None:
        httpx = _httpx()
        self.url = _base(url)
        self._httpx = httpx
        #: The HTTP client (``options`` go to :class:`httpx.Client`, e.g. ``transport=``, ``headers=``).
        self.http = httpx.Client(base_url=self.url, timeout=timeout, **options)

    def __repr__(self) -> str:
        return f"RemoteMarketClient({self.url!r})"

    def __enter__(self) -> RemoteMarketClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def _get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        try:
            response = self.http.get(path, params=params)
        except self._httpx.HTTPError as exc:
            raise self._unreachable(exc) from None
        return self._json(response)

    def health(self) -> dict[str, Any]:
        """The server's index: chain id, escrow, last block indexed, last sync and its error."""
        return dict(self._get("/api/health"))

    def search(self, *, sync: bool = True, **filters: Any) -> list[OfferHit]:
        """The offers a buyer can fill now, on-chain and relayed (``hit.relayed``), filtered by ``filters``
        (:class:`~p2pescrow.market.queries.OfferFilter`'s fields). ``sync`` changes nothing: the server syncs."""
        return self._hits(self._get("/api/offers", _search_params(filters)))

    def offer(self, offer_id: str) -> OfferHit | None:
        """One offer by its id (or a unique prefix), whatever became of it; None if the server has none."""
        try:
            return _hit(self._get(self._offer_path(offer_id)))
        except ServerRefused as exc:
            if exc.status == 404:
                return None
            raise

    def screening(self, address: str) -> Screening:
        """What the server's index knows of a trader."""
        return self._screening_of(self._get(self._address_path(address)))

    def stats(self) -> MarketStats:
        """The market's figures."""
        return self._stats_of(self._get("/api/stats"))

    def relay(self, signed: SignedOffer | str | Mapping[str, Any],
              document: bytes | str | Mapping[str, Any] | None = None) -> str:
        """Hand a signed offer and its terms document to the server's relay (no gas): its id once accepted
        and listed (marked relayed). Everything in it becomes public."""
        try:
            response = self.http.post("/api/relay", json=_relay_body(signed, document))
        except self._httpx.HTTPError as exc:
            raise self._unreachable(exc) from None
        return str(self._json(response, relay=True)["offer_id"])


class AsyncRemoteMarketClient(_Remote):
    """:class:`RemoteMarketClient` for asyncio: the same operations, awaited."""

    def __init__(self, url: str, *, timeout: float = DEFAULT_TIMEOUT, **options: Any) -> None:
        httpx = _httpx()
        self.url = _base(url)
        self._httpx = httpx
        #: The HTTP client (``options`` go to :class:`httpx.AsyncClient`).
        self.http = httpx.AsyncClient(base_url=self.url, timeout=timeout, **options)

    def __repr__(self) -> str:
        return f"AsyncRemoteMarketClient({self.url!r})"

    async def __aenter__(self) -> AsyncRemoteMarketClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.http.aclose()

    async def _get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        try:
            response = await self.http.get(path, params=params)
        except self._httpx.HTTPError as exc:
            raise self._unreachable(exc) from None
        return self._json(response)

    async def health(self) -> dict[str, Any]:
        """The server's index (as :meth:`RemoteMarketClient.health`)."""
        return dict(await self._get("/api/health"))

    async def search(self, *, sync: bool = True, **filters: Any) -> list[OfferHit]:
        """The offers a buyer can fill now (as :meth:`RemoteMarketClient.search`)."""
        return self._hits(await self._get("/api/offers", _search_params(filters)))

    async def offer(self, offer_id: str) -> OfferHit | None:
        """One offer by its id, or None (as :meth:`RemoteMarketClient.offer`)."""
        try:
            return _hit(await self._get(self._offer_path(offer_id)))
        except ServerRefused as exc:
            if exc.status == 404:
                return None
            raise

    async def screening(self, address: str) -> Screening:
        """What the server's index knows of a trader (as :meth:`RemoteMarketClient.screening`)."""
        return self._screening_of(await self._get(self._address_path(address)))

    async def stats(self) -> MarketStats:
        """The market's figures (as :meth:`RemoteMarketClient.stats`)."""
        return self._stats_of(await self._get("/api/stats"))

    async def relay(self, signed: SignedOffer | str | Mapping[str, Any],
                    document: bytes | str | Mapping[str, Any] | None = None) -> str:
        """Hand a signed offer to the server's relay (as :meth:`RemoteMarketClient.relay`)."""
        try:
            response = await self.http.post("/api/relay", json=_relay_body(signed, document))
        except self._httpx.HTTPError as exc:
            raise self._unreachable(exc) from None
        return str(self._json(response, relay=True)["offer_id"])
