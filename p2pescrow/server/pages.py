"""The market's pages: server-rendered HTML at ``/`` over the index (Jinja2, autoescaped), readable
without JavaScript, under the app's Content-Security-Policy (no inline script, no inline style: the
charts are inline SVG whose styles are presentation attributes, :func:`p2pescrow.market.charts.inline_svg`).

Pages, and the stable ids and roles tests and the browser rely on
(every page: ``a.skip-link`` to ``main#main``, ``header`` > ``nav[aria-label=Main]`` with the current
page's link ``aria-current="page"``, ``footer#index-status``):

``GET /`` — the offers that can be filled now
    ``form#search`` (``role=search``, ``method=get``, ``action=/``): inputs named as the API's query
    parameters, each with a ``<label for>``: ``text``, ``token`` (select: ``any`` or a token address),
    ``min_amount``/``max_amount`` (in the token's units; need ``token``), ``category``, ``seller``,
    ``arbiter``, ``max_arbiter_fee`` (percent), ``timeout`` (select: any, releases, refunds),
    ``max_buyer_deposit``, ``min_seller_deposit``, ``max_seller_deposit`` (token units), ``min_score``
    (1 to 5), ``sort`` (select: newest, amount, -amount, score, expiry), ``limit``; ``button#search-submit``.
    ``p#form-error`` (``role=alert``, status 400) when a filter is malformed.
    ``p#result-count``; ``table#offers`` (``th scope=col``), one ``tr.offer[data-offer-id]`` per offer
    with ``a.offer-link`` (to ``/offers/{id}``) and ``a.seller-link`` (to ``/addresses/{seller}``),
    ``span.relayed`` on a relayed offer; the Offer, Price, Seller and Expires column headers link to
    the same search sorted by them (``a.sort-link``; the sorted column has ``aria-sort``);
    ``p#no-offers`` when none; ``nav#pagination`` with
    ``a[rel=prev]`` / ``a[rel=next]`` (same filters, offset moved by limit).

``GET /offers/{id}`` — one offer (a full ``0x`` id, or a unique prefix of 8+ hex digits)
    ``h1#offer-title`` (the listing's title, as text), ``p#offer-description`` (when it has one),
    ``p#fillable[data-fillable=true|false]`` with ``ul#not-fillable-reasons`` when it cannot be filled,
    ``dl#terms-in-words`` (``dt`` topic / ``dd`` sentence: who may fill it, price, deposits and their
    rules, while live, timeout, arbiter, platform fee, reputation, risks), ``section#screening``
    (``a.seller-link``), ``code#fill-command`` (``p2pescrow offer fill <id>``) with
    ``button#copy-fill-command`` (``hidden`` until /static/copy.js shows it; it copies the command and
    says so in ``span#copy-status``, ``aria-live=polite``), ``a#download-offer`` (to
    ``/offers/{id}.json``), ``pre#terms-document`` (the terms document as published).
``GET /offers/{id}.json`` — the signed offer with its terms document, exactly as ``p2pescrow offer
    fill FILE`` reads it (``Content-Disposition: attachment``).

``GET /addresses/{address}`` — a trader
    ``code#address`` (in the ``h1``), ``p#score`` (value-weighted, 1 to 5), ``table#records`` (one
    ``tr[data-asset][data-role]`` per asset and role),
    ``figure#address-chart`` (inline ``svg[role=img]``: score and ratings over time, volume per asset)
    with ``details.numbers`` > ``table``; ``table#recent-trades`` (``a.trade-link`` to ``/trades/{id}``),
    ``p#no-trades`` when none; ``ul#open-offers`` (``a.offer-link``: its offers that can be filled now)
    when it has any.

``GET /trades/{id}`` — a trade (full ``0x`` id)
    ``h1#trade-title``, ``p#trade-state[data-state=FUNDED|...]``, ``dl#trade-terms`` (parties, amounts)
    and ``dl#terms-in-words``, ``ol#timeline`` (one ``li.event[data-event=Name]`` per event, oldest
    first, with ``time[datetime]``), ``figure#state-diagram`` (inline ``svg[role=img]``; the current
    state's box is ``rect.current`` inside ``g.state[data-state=NAME]``).

``GET /market`` — the market's figures
    ``figure.chart`` ids ``chart-volume``, ``chart-outcomes``, ``chart-disputes``, ``chart-release``,
    ``chart-arbiters``, each an inline ``svg[role=img]`` then ``details.numbers`` >
    ``summary`` "Numbers" > ``table``; ``table#arbiters`` is the arbiter table's numbers.

Errors: an unknown id is a 404 page, a malformed one a 400 page (``h1#error`` with the status,
``p#error-message``, ``p#error-hint``),
never a traceback; the app sends other paths' HTTP errors here (:func:`error_page`).

Static files: ``/static/style.css``, ``/static/copy.js`` (the only script; no inline script or
event handler anywhere).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from importlib.resources import files
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from ..models import FLAG_TIMEOUT_RELEASES, ZERO_ADDRESS, TokenInfo, to_base_units
from ..states import TradeState
from .state import ServedMarket, get_served
from .words import event_words, money, percent, span, terms_in_words, when

if TYPE_CHECKING:
    from jinja2 import Environment

__all__ = ["error_page", "router"]

log = logging.getLogger("p2pescrow.server.pages")

router = APIRouter(include_in_schema=False)
Served = Annotated[ServedMarket, Depends(get_served)]

OFFER_ID = re.compile(r"^0x[0-9a-fA-F]{8,64}$")
TRADE_ID = re.compile(r"^0x[0-9a-fA-F]{64}$")
ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
#: Offers per page unless the form asks for another number (up to the settings' maximum).
PAGE_SIZE = 20
#: The newest trades an address page lists.
RECENT_TRADES = 25
#: The offers of a seller its page lists (the newest that can be filled now).
OPEN_OFFERS = 10
TEXT_MAX = 200
STATIC = {"style.css": "text/css; charset=utf-8", "copy.js": "text/javascript; charset=utf-8"}
SORT_LABELS = {"newest": "Newest first", "amount": "Price, low to high", "-amount": "Price, high to low",
               "score": "Seller's score, best first", "expiry": "Expiring soonest"}
ETH = TokenInfo(ZERO_ADDRESS, "ETH", 18)


class PageError(Exception):
    """A page that cannot be shown: ``status`` (400, 404), what is wrong, and what to do."""

    def __init__(self, status: int, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.hint = status, message, hint


# -- templates -------------------------------------------------------------------------------------
_ENV: Environment | None = None
_ENV_LOCK = threading.Lock()


def _environment() -> Environment:
    global _ENV
    with _ENV_LOCK:
        if _ENV is None:
            from jinja2 import Environment, PackageLoader, StrictUndefined

            env = Environment(loader=PackageLoader("p2pescrow.server", "templates"), autoescape=True,
                              undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
            env.filters.update(money=money, when=when, percent=percent, span=span, short=_short,
                               state_label=_state_label)
            _ENV = env
        return _ENV


def _short(value: str) -> str:
    return f"{value[:8]}…{value[-6:]}" if len(value) > 16 else value


def _state_label(state: TradeState | int) -> str:
    return TradeState(int(state)).name.replace("_", " ").title()


def _render(request: Request, template: str, code: int = 200, **context: Any) -> HTMLResponse:
    served: ServedMarket | None = getattr(request.app.state, "served", None)
    base = {"path": request.url.path, "chain_id": served.chain_id if served else None,
            "escrow": served.escrow if served else None,
            "head": served.sync_status.head_indexed if served else None,
            "head_time": served.sync_status.head_time if served else None}
    html = _environment().get_template(template).render(**base, **context)
    return HTMLResponse(html, status_code=code, headers={"Cache-Control": "no-cache"})


def error_page(request: Request, status: int, detail: str, hint: str | None = None) -> HTMLResponse:
    """An HTML error page (the app calls it for HTTP errors outside ``/api``)."""
    if status == 404 and not hint:
        detail = f"Nothing here: {request.url.path}" if detail in ("Not Found", "") else detail
        hint = "Start from the offers (/) or the market's figures (/market)."
    if status == 405:
        hint = hint or "The pages are read with GET."
    return _render(request, "error.html", status, status=status, message=detail, hint=hint,
                   title={404: "Not found", 503: "Not available right now"}.get(status, "Cannot show this page"))


def _page(handler: Callable[..., HTMLResponse | Response]) -> Callable[..., HTMLResponse | Response]:
    """A page handler whose :class:`PageError` becomes its error page."""
    import functools

    @functools.wraps(handler)
    def wrapped(request: Request, *args: Any, **kwargs: Any) -> HTMLResponse | Response:
        try:
            return handler(request, *args, **kwargs)
        except PageError as exc:
            return error_page(request, exc.status, exc.message, exc.hint)
        except Exception as exc:
            from sqlalchemy.exc import SQLAlchemyError

            if not isinstance(exc, SQLAlchemyError):
                raise
            log.warning("the index could not be read for %s: %s", request.url.path, exc)
            return error_page(request, 503, "The market index cannot be read right now.",
                              "Try again in a moment; if it lasts, tell the server's operator.")

    return wrapped


# -- what pages share ------------------------------------------------------------------------------
class _Tokens:
    """Token symbols and decimals for the pages, never read from the node by a request.

    A token the sync already read (:attr:`ServedMarket.symbols`: those of open offers and the listed
    assets; the reader keeps their symbol and decimals) is answered from the reader's cache. Any other
    token a page shows is asked for: after the next sync, in the sync's thread, a hook reads every
    token the index holds (trades' and offers') that is not known yet. Until then its amounts show in
    base units."""

    def __init__(self) -> None:
        self._known: dict[tuple[int, str], TokenInfo | None] = {}
        self._wanted: set[tuple[int, str]] = set()
        self._lock = threading.Lock()

    def get(self, served: ServedMarket, address: str) -> TokenInfo | None:
        if int(address, 16) == 0:
            return ETH
        key = (served.chain_id, address.lower())
        with self._lock:
            if key in self._known:
                return self._known[key]
        synced = next((a for a in served.symbols if a.lower() == key[1]), None)
        if synced is None:
            self._ask(served, key)
            return None
        info = self._read(served, synced)  # read by the sync: the reader's cache answers
        with self._lock:
            self._known[key] = info
        return info

    def many(self, served: ServedMarket, addresses: Any) -> dict[str, TokenInfo]:
        out = {}
        for address in set(addresses):
            info = self.get(served, address)
            if info is not None:
                out[address] = info
        return out

    @staticmethod
    def _read(served: ServedMarket, address: str) -> TokenInfo | None:
        try:
            return served.market.escrow_client.token(address)  # type: ignore[no-any-return]
        except Exception:  # noqa: BLE001 - not an ERC-20 that answers: shown in base units
            return None

    def _ask(self, served: ServedMarket, key: tuple[int, str]) -> None:
        with self._lock:
            self._wanted.add(key)
            if self.learn not in served.after_sync:
                served.after_sync.append(self.learn)

    def learn(self, served: ServedMarket) -> None:
        """After a sync (its thread): read every token of the index not known yet."""
        from sqlalchemy import select, union

        from ..market.schema import Offer, Trade

        with served.session() as session:
            held = {str(t) for t in session.scalars(union(
                select(Trade.token).where(Trade.chain_id == served.chain_id),
                select(Offer.token).where(Offer.chain_id == served.chain_id)))}
        with self._lock:
            wanted = {a for c, a in self._wanted if c == served.chain_id}
            todo = sorted(a for a in held | wanted if (served.chain_id, a.lower()) not in self._known)
        for address in todo:
            if int(address, 16) == 0:
                continue
            info = self._read(served, address)
            with self._lock:
                self._known[(served.chain_id, address.lower())] = info
                self._wanted.discard((served.chain_id, address.lower()))


TOKENS = _Tokens()


class _Cache:
    """Rendered charts by key, kept while the index's head is the same (a new block may change them)."""

    def __init__(self, size: int = 64) -> None:
        self._items: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._lock = threading.Lock()
        self.size = size

    def get(self, key: tuple[Any, ...], make: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = make()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value


CHARTS = _Cache()


def _head_key(served: ServedMarket) -> tuple[Any, ...]:
    return (served.chain_id, served.sync_status.head_indexed, served.sync_status.head_time)


def _current_fee(served: ServedMarket, session: Any) -> int | None:
    from sqlalchemy import select

    from ..market.schema import SyncState

    return session.scalar(select(SyncState.platform_fee_bps).where(SyncState.chain_id == served.chain_id,
                                                                   SyncState.escrow == served.escrow))


def _reputation_address(served: ServedMarket, session: Any) -> str:
    from sqlalchemy import select

    from ..market.schema import SyncState

    found = session.scalar(select(SyncState.reputation).where(SyncState.chain_id == served.chain_id,
                                                              SyncState.escrow == served.escrow))
    return str(found or ZERO_ADDRESS)


def _listing(minimums: Mapping[str, int], token: str) -> tuple[bool, int]:
    for asset, minimum in minimums.items():
        if asset.lower() == token.lower():
            return True, int(minimum)
    return False, 0


def _checked_address(value: str, what: str = "address") -> str:
    from ..core.terms import checksum
    from ..errors import InputError

    text = value.strip()
    if not ADDRESS.match(text):
        raise PageError(400, f"not an {what}: {text[:80]!r}", "an address is 0x and 40 hex digits")
    try:
        return checksum(text, what)
    except InputError as exc:  # mixed case with a wrong checksum
        raise PageError(400, f"not an {what}: {exc}", "check it for a typo, or give it in lower case") from None


# -- static files ----------------------------------------------------------------------------------
@router.get("/static/{name}")
def static(request: Request, name: str) -> Response:
    """The stylesheet and the copy button's script (nothing else is served from here)."""
    if name not in STATIC:
        return error_page(request, 404, f"no static file {name[:80]!r}")
    body = files("p2pescrow.server").joinpath("static", name).read_bytes()
    return Response(body, media_type=STATIC[name], headers={"Cache-Control": "public, max-age=300"})


# -- / : the offers --------------------------------------------------------------------------------
#: The form's amount fields: name -> the OfferFilter field (in the token's units).
_AMOUNTS = {"min_amount": "min_amount", "max_amount": "max_amount", "max_buyer_deposit": "max_buyer_deposit",
            "min_seller_deposit": "min_seller_deposit", "max_seller_deposit": "max_seller_deposit"}
FORM_FIELDS = ("text", "token", "min_amount", "max_amount", "category", "seller", "arbiter", "max_arbiter_fee",
               "timeout", "max_buyer_deposit", "min_seller_deposit", "max_seller_deposit", "min_score", "sort",
               "limit")


def _token_options(served: ServedMarket) -> list[tuple[str, str]]:
    options = {ZERO_ADDRESS: "ETH"}
    options.update({address: symbol for address, symbol in served.symbols.items()})
    return sorted(options.items(), key=lambda kv: (kv[0] != ZERO_ADDRESS, kv[1].lower(), kv[0]))


def _search_filters(served: ServedMarket, params: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The OfferFilter fields from the form's query (raises PageError 400 naming the field), and the
    form's values to show again."""
    form = {name: (params.get(name) or "").strip() for name in FORM_FIELDS}
    fields: dict[str, Any] = {}
    if len(form["text"]) > TEXT_MAX:
        raise PageError(400, f"the search text is {len(form['text'])} characters long: at most {TEXT_MAX}")
    if form["text"]:
        fields["text"] = form["text"]
    if len(form["category"]) > 64:
        raise PageError(400, "the category is too long: at most 64 characters")
    if form["category"]:
        fields["category"] = form["category"]
    token: TokenInfo | None = None
    if form["token"] and form["token"] != "any":
        known = dict(_token_options(served))
        wanted = form["token"]
        address = next((a for a, s in known.items() if wanted.lower() in (a.lower(), s.lower())), None)
        if address is None:
            address = _checked_address(wanted, "token address")
        token = TOKENS.get(served, address)
        if token is None:
            raise PageError(400, f"token {address} does not answer as an ERC-20",
                            "pick a token from the list, or leave it at any")
        fields["token"] = address
        form["token"] = address
    for name in ("seller", "arbiter"):
        if form[name]:
            fields[name] = _checked_address(form[name], f"{name} address")
    for name, field in _AMOUNTS.items():
        if not form[name]:
            continue
        if token is None:
            raise PageError(400, f"{name.replace('_', ' ')} needs a token: amounts are in the token's units",
                            "choose the token, then the amounts")
        try:
            fields[field] = to_base_units(form[name], token.decimals, allow_zero=True)
        except Exception as exc:  # noqa: BLE001 - InvalidAmount: said as it is
            raise PageError(400, f"{name.replace('_', ' ')}: {exc}") from None
    if form["max_arbiter_fee"]:
        try:
            fee = Decimal(form["max_arbiter_fee"].removesuffix("%"))
        except InvalidOperation:
            raise PageError(400, f"max arbiter fee {form['max_arbiter_fee'][:20]!r} is not a percentage",
                            "e.g. 1.5 for 1.5%") from None
        if not fee.is_finite() or not 0 <= fee <= 100 or (fee * 100) != (fee * 100).to_integral_value():
            raise PageError(400, "max arbiter fee: a percentage from 0 to 100, at most two decimals")
        fields["max_arbiter_fee_bps"] = int(fee * 100)
    if form["timeout"] and form["timeout"] != "any":
        if form["timeout"] not in ("releases", "refunds"):
            raise PageError(400, f"timeout {form['timeout'][:20]!r}: any, releases or refunds")
        fields["timeout_releases"] = form["timeout"] == "releases"
    if form["min_score"]:
        try:
            score = Decimal(form["min_score"])
        except InvalidOperation:
            raise PageError(400, f"min score {form['min_score'][:20]!r} is not a number", "1 to 5") from None
        if not score.is_finite() or not 1 <= score <= 5:
            raise PageError(400, "min score: a number from 1 to 5")
        fields["min_score"] = score
    sort = form["sort"] or "newest"
    if sort not in SORT_LABELS:
        raise PageError(400, f"unknown sort {sort[:20]!r}", "one of: " + ", ".join(SORT_LABELS))
    fields["sort"] = sort
    return fields, form


def _page_numbers(served: ServedMarket, params: Mapping[str, str]) -> tuple[int, int]:
    most = served.settings.page_size_max
    try:
        limit = int(params.get("limit") or min(PAGE_SIZE, most))
        offset = int(params.get("offset") or 0)
    except ValueError:
        raise PageError(400, "limit and offset are whole numbers") from None
    if not 1 <= limit <= most:
        raise PageError(400, f"limit {limit}: from 1 to {most} offers a page")
    if not 0 <= offset <= 10_000:
        raise PageError(400, f"offset {offset}: from 0 to 10000")
    return limit, offset


@router.get("/", response_class=HTMLResponse)
@_page
def offers_page(request: Request, served: Served) -> HTMLResponse:
    """The offers that can be filled now, searched by the form's filters, a page at a time."""
    from ..market import queries

    params = request.query_params
    error = None
    try:
        fields, form = _search_filters(served, params)
        limit, offset = _page_numbers(served, params)
    except PageError as exc:
        error = exc
        fields, form = {"sort": "newest"}, {name: (params.get(name) or "")[:TEXT_MAX] for name in FORM_FIELDS}
        limit, offset = min(PAGE_SIZE, served.settings.page_size_max), 0
    hits: list[Any] = []
    more = False
    if error is None:
        with served.session() as session:
            found = queries.search(session, served.chain_id, queries.OfferFilter(**fields, limit=limit + 1,
                                                                                 offset=offset),
                                   served.now(), symbols=served.symbols)
        more = len(found) > limit
        hits = found[:limit]
    tokens = TOKENS.many(served, [h.token for h in hits])
    kept = {k: v for k, v in params.items() if k in FORM_FIELDS and v}
    prev_link = ("/?" + urlencode({**kept, "offset": max(0, offset - limit)})) if offset > 0 else None
    next_link = ("/?" + urlencode({**kept, "offset": offset + limit})) if more else None
    form.setdefault("limit", str(limit))
    sort_links = {sort: "/?" + urlencode({**kept, "sort": sort}) for sort in SORT_LABELS}
    return _render(request, "offers.html", 400 if error else 200, hits=hits, tokens=tokens, form=form,
                   sort=fields.get("sort", "newest"), sort_links=sort_links,
                   error=error, token_options=_token_options(served), sorts=SORT_LABELS, offset=offset,
                   limit=limit, prev_link=prev_link, next_link=next_link,
                   filtered=any(k not in ("sort", "limit", "offset") for k in kept))


# -- /offers/{id} ----------------------------------------------------------------------------------
def _offer(served: ServedMarket, offer_id: str) -> Any:
    from ..market import queries

    if not OFFER_ID.match(offer_id):
        raise PageError(400, f"not an offer id: {offer_id[:80]!r}",
                        "an offer id is 0x and 64 hex digits (8 or more of its first digits do)")
    with served.session() as session:
        try:
            hit = queries.offer(session, served.chain_id, offer_id, served.now(), symbols=served.symbols)
        except ValueError as exc:  # an ambiguous prefix
            raise PageError(400, str(exc), "give more of the id's digits") from None
    if hit is None:
        raise PageError(404, f"no offer {offer_id} in this market", "see the offers that can be filled now at /")
    return hit


def _not_fillable(served: ServedMarket, hit: Any) -> list[str]:
    """Why an offer cannot be filled now (the search's rules, each said)."""
    from sqlalchemy import select

    from ..market.schema import Bond, Offer

    reasons = []
    if hit.status == "filled":
        reasons.append("It was filled: a buyer took it" + (f" (trade {hit.trade_id})" if hit.trade_id else "") + ".")
    elif hit.status == "revoked":
        reasons.append("The seller revoked it (its nonce).")
    now = served.now()
    if hit.expiry < now:
        reasons.append(f"It expired at {when(hit.expiry)}.")
    with served.session() as session:
        fee = _current_fee(served, session)
        if fee is not None and hit.platform_fee_bps != fee:
            reasons.append(f"It was signed at a platform fee of {percent(hit.platform_fee_bps)}; the fee is now "
                           f"{percent(fee)}, so the escrow refuses it.")
        if hit.status == "open":
            used = session.scalar(select(Offer.id).where(
                Offer.chain_id == served.chain_id, Offer.seller == hit.seller, Offer.nonce == hit.nonce,
                Offer.status.in_(("filled", "revoked"))).limit(1))
            if used:
                reasons.append("Another offer of the seller with the same nonce was filled or revoked.")
        if hit.seller_deposit:
            free = session.scalar(select(Bond.free).where(Bond.chain_id == served.chain_id, Bond.seller == hit.seller,
                                                          Bond.token == hit.token))
            if int(free or 0) < int(hit.seller_deposit):
                reasons.append("The seller's free bond does not cover the seller's deposit it promised.")
    return reasons or ["The index does not list it as fillable now."]


@router.get("/offers/{offer_id}.json")
@_page
def offer_json(request: Request, offer_id: str, served: Served) -> Response:
    """The signed offer with its terms document, as ``p2pescrow offer fill FILE`` reads it."""
    hit = _offer(served, offer_id)
    return Response(signed_offer_json(hit, served.escrow), media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="offer-{hit.id[2:14]}.json"'})


def signed_offer_json(hit: Any, escrow: str) -> str:
    """An index offer as the offer document ``offer create --out`` writes and ``offer fill FILE`` reads:
    the signed offer and, under ``terms``, its terms document."""
    document = json.loads(hit.signed_offer(escrow).to_json())
    try:
        terms = json.loads(hit.document)
    except ValueError:
        terms = None
    if isinstance(terms, dict):
        document["terms"] = terms
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


@router.get("/offers/{offer_id}", response_class=HTMLResponse)
@_page
def offer_page(request: Request, offer_id: str, served: Served) -> Response:
    """One offer: its terms in words, the seller's screening, whether it can be filled, how to fill it."""
    hit = _offer(served, offer_id)
    if offer_id != hit.id:  # a prefix, or upper case: the page has one address
        return RedirectResponse(f"/offers/{hit.id}", status_code=308)
    token = TOKENS.get(served, hit.token)
    words = terms_in_words(hit, token, _listing(hit.screening.minimums, hit.token), offer=True)
    try:
        document = json.dumps(json.loads(hit.document), indent=2, ensure_ascii=False)
    except ValueError:
        document = hit.document
    tokens = TOKENS.many(served, [r.asset for r in hit.screening.records])
    return _render(request, "offer.html", hit=hit, token=token, words=words, document=document,
                   reasons=[] if hit.fillable else _not_fillable(served, hit), screening=hit.screening,
                   tokens=tokens, fill_command=f"p2pescrow offer fill {hit.id}",
                   timeout_releases=bool(hit.flags & FLAG_TIMEOUT_RELEASES))


# -- /addresses/{address} --------------------------------------------------------------------------
@router.get("/addresses/{address}", response_class=HTMLResponse)
@_page
def address_page(request: Request, address: str, served: Served) -> HTMLResponse:
    """A trader: records per asset and role, value-weighted score, ratings and volume over time, recent trades."""
    from ..market import charts, queries
    from ..market.timeline import timeline

    who = _checked_address(address)
    with served.session() as session:
        line = timeline(session, served.chain_id, who)
        offers = queries.search(session, served.chain_id, queries.OfferFilter(seller=who, limit=OPEN_OFFERS + 1),
                                served.now(), symbols=served.symbols)
    tokens = TOKENS.many(served, [e.token for e in line.entries] + [r.asset for r in line.screening.records]
                         + [o.token for o in offers])

    def draw() -> tuple[str, dict[str, Any]]:
        chart = charts.address_chart(line, tokens)
        return charts.inline_svg(chart, prefix="address-chart"), chart.figures

    svg, figures = CHARTS.get(("address", who, *_head_key(served)), draw)
    records = sorted(line.screening.records, key=lambda r: (TOKENS.get(served, r.asset) is None,
                                                            _symbol(tokens, r.asset), int(r.role)))
    return _render(request, "address.html", address=who, line=line, screening=line.screening, records=records,
                   tokens=tokens, chart=Markup(svg), figures=figures, recent=line.recent(RECENT_TRADES),
                   offers=offers[:OPEN_OFFERS], more_offers=len(offers) > OPEN_OFFERS)


def _symbol(tokens: Mapping[str, TokenInfo], address: str) -> str:
    info = tokens.get(address)
    return info.symbol if info is not None else address


# -- /trades/{id} ----------------------------------------------------------------------------------
@router.get("/trades/{trade_id}", response_class=HTMLResponse)
@_page
def trade_page(request: Request, trade_id: str, served: Served) -> HTMLResponse:
    """A trade: its terms, its state, its events as a timeline, the state diagram with its state marked."""
    from sqlalchemy import select

    from .. import diagram
    from ..market import charts, queries
    from ..market.reads import history, session_rows
    from ..market.schema import Event, Trade

    if not TRADE_ID.match(trade_id):
        raise PageError(400, f"not a trade id: {trade_id[:80]!r}", "a trade id is 0x and 64 hex digits")
    key = trade_id.lower()
    with served.session() as session:
        row = session.get(Trade, (served.chain_id, key))
        if row is None:
            raise PageError(404, f"no trade {key} in this market",
                            "a trade appears here once the index has synced the block that created it")
        session.expunge(row)
        events = history(session_rows(session), served.chain_id, key, escrow=served.escrow,
                         reputation=_reputation_address(served, session))
        stamps = dict(session.execute(select(Event.block_number, Event.timestamp)
                                      .where(Event.chain_id == served.chain_id, Event.trade_id == key)).all())
        minimums = queries.screening(session, served.chain_id, row.seller).minimums
    state = TradeState(row.state)
    token = TOKENS.get(served, row.token)
    words = terms_in_words(row, token, _listing(minimums, row.token) if row.records else None, offer=False)
    timeline = [{"name": e.name, "block": e.block, "tx": e.tx_hash, "at": stamps.get(e.block),
                 "words": event_words(e.name, e.args, token)} for e in events]
    svg = CHARTS.get(("diagram", int(state)), lambda: charts.inline_svg(
        diagram.render(highlight=state), prefix="state-diagram",
        label=f"The trade-state diagram; this trade is {_state_label(state)}"))
    return _render(request, "trade.html", trade=row, state=state, token=token, words=words, timeline=timeline,
                   diagram=Markup(svg))


# -- /market ---------------------------------------------------------------------------------------
@router.get("/market", response_class=HTMLResponse)
@_page
def market_page(request: Request, served: Served) -> HTMLResponse:
    """The market's figures as charts, each with its numbers one click away."""
    from ..market import charts, queries

    with served.session() as session:
        figures = queries.stats(session, served.chain_id, served.now())
    tokens = TOKENS.many(served, [p.token for p in figures.volume_by_day]
                         + [t for a in figures.arbiters for t in a.fees] + list(figures.platform_fees))

    def draw() -> list[dict[str, Any]]:
        return [{"name": c.name, "title": c.title, "summary": c.summary, "figures": c.figures,
                 "svg": charts.inline_svg(c, prefix=f"chart-{c.name}")} for c in charts.market_charts(figures, tokens)]

    drawn = CHARTS.get(("market", *_head_key(served), figures.as_of // 60), draw)
    return _render(request, "market.html", stats=figures, charts=[{**c, "svg": Markup(c["svg"])} for c in drawn],
                   tokens=tokens)


@router.get("/offers", include_in_schema=False)
def offers_redirect() -> RedirectResponse:
    return RedirectResponse("/", status_code=308)
