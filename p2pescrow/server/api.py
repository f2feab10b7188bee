"""The JSON API under ``/api``: what a dApp reads instead of running its own index.

    GET /api/health                 the index: chain, escrow, last block indexed, last sync, its error
    GET /api/offers?...             the offers that can be filled now (the market search's filters)
    GET /api/offers/{id}            one offer, whatever became of it, with its signed form and terms
    GET /api/trades/{id}            a trade: terms, state, deadline, and its history
    GET /api/addresses/{address}    an address's screening, recent trades, score and volume over time
    GET /api/stats                  the market's figures
    GET /api/states                 the trade-state table

Every route reads the index through :mod:`p2pescrow.market.queries` (the answers are those of
:class:`~p2pescrow.market.client.MarketClient` on the same index), never the node, except a trade's
current slot. Every input is validated before any query: ids and addresses by pattern, numbers within
bounds, strings bounded, unknown query parameters refused; errors are JSON ``{"error", "hint"}``.
"""


import json
from collections.abc import Mapping
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from ..states import TRANSITIONS, TradeState
from .settings import OFFSET_MAX, TEXT_MAX, ServerSettings
from .state import ERROR_RESPONSES, ApiError, ErrorBody, ServedMarket, get_served

__all__ = ["ADDRESS", "OFFER_ID", "TRADE_ID", "UINT256_MAX", "create_router", "docs_router",
           "jsonable"]

Served = Annotated[ServedMarket, Depends(get_served)]

#: Patterns of the path parameters (checked before any query).
#: An address in any letter case (its EIP-55 checksum, when mixed case, is not checked: the pattern is the
#: whole contract, as the OpenAPI document states it).
ADDRESS = r"^0x[0-9a-fA-F]{40}$"
TRADE_ID = r"^0x[0-9a-fA-F]{64}$"
#: A full offer id, or a unique prefix of it (at least 4 hex digits), as `p2pescrow offer fill` takes.
OFFER_ID = r"^0x[0-9a-fA-F]{4,64}$"
UINT256_MAX = 2**256 - 1
#: A listing field's longest value (the board's bound, p2pescrow.market.board.MAX_FIELD).
FIELD_MAX = 64
#: The recent trades an address answer lists by default.
RECENT_DEFAULT = 20
SORTS = ("newest", "amount", "-amount", "score", "expiry")


def jsonable(value: Any) -> Any:
    """A value as JSON-ready data: bytes as ``0x`` hex, enums by name (lower case), Decimals as strings,
    datetimes as unix seconds, dataclasses and mappings field by field."""
    from dataclasses import fields, is_dataclass
    from datetime import datetime

    if isinstance(value, bool) or value is None or isinstance(value, int | float | str):
        return value
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, Enum):
        return value.name.lower() if isinstance(value.value, int) else value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return int(value.timestamp())
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {str(jsonable(k)): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return str(value)


# -- response models (the OpenAPI document's schemas) ------------------------------------------------
class Open(BaseModel):
    """A model that keeps fields it does not name (later versions may add some)."""

    model_config = ConfigDict(extra="allow")


class Health(BaseModel):
    """The server's view of its index."""

    chain_id: int = Field(description="The chain the index follows.")
    escrow: str = Field(description="The escrow contract indexed (checksummed).")
    head_indexed: int | None = Field(description="The last block the index holds (null before the first sync).")
    head_time: int | None = Field(description="That block's timestamp: the chain's time the answers use.")
    last_sync: float | None = Field(description="When the last sync succeeded (unix seconds), null before.")
    sync_error: str | None = Field(description="The last sync's error, null when it succeeded.")
    relayed_pruned: int = Field(0, ge=0, description="Relayed offers deleted since the server started, as they "
                                                     "ended longer ago than it keeps them (--relay-keep).")


class AssetRecordOut(Open):
    asset: str = Field(description="The asset (token address; the zero address is ETH).")
    role: Literal["buyer", "seller"]
    volume: int = Field(ge=0, description="Sum of the recorded trades' prices (base units).")
    completed: int = Field(ge=0)
    refunded: int = Field(ge=0)
    settled: int = Field(ge=0)
    disputes_won: int = Field(ge=0)
    disputes_lost: int = Field(ge=0)
    disputes_split: int = Field(ge=0)
    rated_volume: int = Field(ge=0)
    weighted_score: int = Field(ge=0)
    count: int = Field(ge=0, description="Ratings received.")


class ScreeningOut(Open):
    """What the index knows of a trader (the Reputation contract's rules)."""

    address: str
    records: list[AssetRecordOut]
    minimums: dict[str, int] = Field(description="The listed reputation assets' minimums (base units).")
    completed: int = Field(ge=0)
    refunded: int = Field(ge=0)
    disputed: int = Field(ge=0)
    first_trade_at: int | None
    score: str = Field(description="1.00 to 5.00; 3.00 for an account no one rated.")
    trades: int = Field(ge=0)


class OfferOut(Open):
    """An offer from the index with its seller's screening. Amounts are integers in the token's base
    units (they may exceed 2^53: read them as big integers)."""

    chain_id: int
    id: str
    seller: str
    buyer: str
    token: str
    arbiter: str
    amount: int
    buyer_deposit: int
    seller_deposit: int
    arbiter_fee_bps: int
    platform_fee_bps: int
    release_window: int
    arbitration_window: int
    flags: int
    terms_hash: str
    nonce: int
    expiry: int
    signature: str
    document: str = Field(description="The terms document, its canonical JSON text (keccak256 of it: terms_hash).")
    title: str
    description: str
    category: str
    tags: list[str]
    payment_method: str
    fiat_price: str
    status: str = Field(description="open, filled or revoked (as the board says).")
    trade_id: str | None
    source: str
    published_block: int
    published_at: int
    tx_hash: str
    log_index: int
    screening: ScreeningOut
    warnings: list[str]
    fillable: bool = Field(description="Whether a buyer can fill it now.")
    relayed: bool = Field(description="Relayed to this server, not (yet) on the board.")


class OfferPage(BaseModel):
    offers: list[OfferOut]
    limit: int
    offset: int


class OfferDetail(OfferOut):
    signed_offer: dict[str, Any] = Field(
        description="The signed offer as `p2pescrow offer fill FILE` reads it (with its terms document).")
    terms: dict[str, Any] | None = Field(description="The terms document, parsed.")
    fill_command: str


class TokenOut(BaseModel):
    address: str
    symbol: str | None
    decimals: int | None


class HistoryEntryOut(BaseModel):
    block: int
    tx_hash: str
    name: str
    args: dict[str, Any]


class TradeOut(Open):
    id: str
    state: str = Field(description="The trade's state now (lower case), e.g. funded, completed.")
    state_number: int
    token: TokenOut
    terms: dict[str, Any]
    held: int
    deadline: int | None = Field(description="The current deadline (unix seconds), if any.")
    history: list[HistoryEntryOut]


class TimelineEntryOut(Open):
    trade_id: str
    role: str
    counterparty: str
    token: str
    amount: str
    state: str
    outcome: str | None
    created_at: int
    live_at: int | None
    ended_at: int | None
    records: bool
    rating: int | None
    rated_at: int | None


class ScorePoint(BaseModel):
    at: int
    score: str


class VolumeStep(BaseModel):
    at: int
    volume: int


class AddressOut(BaseModel):
    address: str
    screening: ScreeningOut
    recent_trades: list[TimelineEntryOut] = Field(description="The newest trades first.")
    trades: int = Field(description="Trades of the address in the index (as buyer, seller or arbiter).")
    score_history: list[ScorePoint] = Field(description="The score after each rating received, oldest first.")
    volume_history: dict[str, list[VolumeStep]] = Field(
        description="Per asset, the cumulative volume bought or sold, by when each trade went live.")
    truncated: bool = Field(description="Whether the address has more trades than the timeline reads.")


class VolumePointOut(BaseModel):
    token: str
    period: str
    volume: int
    trades: int


class ArbiterOut(Open):
    arbiter: str
    cases: int
    rulings: int
    median_seconds_to_rule: float | None
    even_split_share: float | None
    fees: dict[str, int]


class StatsOut(Open):
    chain_id: int
    as_of: int
    trades: int
    funded: int
    disputed: int
    dispute_rate: float | None
    outcomes: dict[str, int]
    volume_by_day: list[VolumePointOut]
    volume_by_week: list[VolumePointOut]
    release_seconds_median: float | None
    release_seconds_p90: float | None
    platform_fees: dict[str, int]
    arbiters: list[ArbiterOut]


class StateOut(BaseModel):
    number: int
    name: str
    terminal: bool
    live: bool


class TransitionOut(BaseModel):
    source: str | None = Field(alias="from", description="null: the trade does not exist yet.")
    target: str = Field(alias="to")
    actions: list[str]
    who: str
    when: str

    model_config = ConfigDict(populate_by_name=True)


class StatesOut(BaseModel):
    states: list[StateOut]
    transitions: list[TransitionOut]


# -- the routes --------------------------------------------------------------------------------------
def _offer_json(hit: Any) -> dict[str, Any]:
    out: dict[str, Any] = hit.to_json()
    out["tags"] = list(out.get("tags") or [])
    out["warnings"] = list(out.get("warnings") or [])
    out.setdefault("relayed", getattr(hit, "source", "board") == "relayed")
    return out


def _not_found(what: str, hint: str) -> ApiError:
    return ApiError(404, what, hint)


def create_router(settings: ServerSettings) -> APIRouter:
    """The API's routes, bounded by ``settings`` (the page size)."""
    router = APIRouter(prefix="/api", tags=["market"], responses=ERROR_RESPONSES)
    page_max = settings.page_size_max
    Address = Annotated[str | None, Query(pattern=ADDRESS, description="An address (0x + 40 hex digits).")]
    Units = Annotated[int | None, Query(ge=0, le=UINT256_MAX, description="Base units of the offer's token.")]
    offer_parameters = {"token", "min_amount", "max_amount", "arbiter", "max_arbiter_fee_bps", "timeout",
                        "max_buyer_deposit", "min_seller_deposit", "max_seller_deposit", "category", "text",
                        "seller", "min_score", "min_volume", "sort", "limit", "offset"}

    @router.get("/health", response_model=Health, summary="The index's state")
    def health(served: Served) -> dict[str, Any]:
        """Which chain and escrow the server indexes, the last block indexed and its time, when the last
        sync succeeded, and the last sync's error (null when none)."""
        return {**served.health(), "head_time": served.sync_status.head_time}

    @router.get("/offers", response_model=OfferPage, summary="Search the offers that can be filled now")
    def offers(
        request: Request,
        served: Served,
        token: Annotated[str | None, Query(pattern=ADDRESS, description="The token (0x000…0 for ETH).")] = None,
        min_amount: Units = None,
        max_amount: Units = None,
        arbiter: Address = None,
        max_arbiter_fee_bps: Annotated[int | None, Query(ge=0, le=10_000)] = None,
        timeout: Annotated[Literal["releases", "refunds"] | None, Query(
            description="What the timeout does: releases the payment to the seller, or refunds the buyer.")] = None,
        max_buyer_deposit: Units = None,
        min_seller_deposit: Units = None,
        max_seller_deposit: Units = None,
        category: Annotated[str | None, Query(max_length=FIELD_MAX)] = None,
        text: Annotated[str | None, Query(max_length=TEXT_MAX,
                                          description="Words the title or the description must all hold.")] = None,
        seller: Address = None,
        min_score: Annotated[float | None, Query(ge=1, le=5, allow_inf_nan=False,
                                                 description="The seller's score at least (1 to 5).")] = None,
        min_volume: Annotated[int | None, Query(
            ge=0, le=UINT256_MAX, description="The seller's recorded volume in the offer's asset at least.")] = None,
        sort: Annotated[Literal[SORTS], Query(  # type: ignore[valid-type]
            description="newest, amount (cheapest first), -amount, score (best seller first), expiry.")] = "newest",
        limit: Annotated[int, Query(ge=1, le=page_max, description=f"Offers per page (1 to {page_max}).")] = min(
            50, page_max),
        offset: Annotated[int, Query(ge=0, le=OFFSET_MAX)] = 0,
    ) -> dict[str, Any]:
        """The offers a buyer can fill now (open, unexpired, at the current platform fee, the seller's
        bond covering its deposit), relayed ones marked ``relayed``, each with its seller's screening;
        filtered, sorted and paged as `p2pescrow market search`."""
        unknown = sorted(set(request.query_params) - offer_parameters)
        if unknown:
            raise ApiError(422, f"invalid request: unknown query parameter {', '.join(unknown)}",
                           f"the filters are: {', '.join(sorted(offer_parameters))}")
        from ..market import queries

        token, arbiter, seller = (None if a is None else a.lower() for a in (token, arbiter, seller))
        filters = queries.OfferFilter(
            token=token, min_amount=min_amount, max_amount=max_amount, arbiter=arbiter,
            max_arbiter_fee_bps=max_arbiter_fee_bps,
            timeout_releases=None if timeout is None else timeout == "releases",
            max_buyer_deposit=max_buyer_deposit, max_seller_deposit=max_seller_deposit,
            min_seller_deposit=min_seller_deposit, category=category, text=text, seller=seller,
            min_score=None if min_score is None else Decimal(str(min_score)), min_volume=min_volume, sort=sort,
            limit=limit, offset=offset)
        with served.session() as session:
            hits = queries.search(session, served.chain_id, filters, served.now(), symbols=served.symbols)
        return {"offers": [_offer_json(hit) for hit in hits], "limit": limit, "offset": offset}

    @router.get("/offers/{offer_id}", response_model=OfferDetail, summary="One offer",
                responses={409: {"model": ErrorBody, "description": "The id prefix matches more than one offer."}})
    def offer(
        served: Served,
        offer_id: Annotated[str, Path(pattern=OFFER_ID, description="The offer's id, or a unique prefix of it.")],
    ) -> dict[str, Any]:
        """One offer of the index by its id, whatever became of it (``fillable`` says whether a buyer can
        fill it now), with the signed offer as `p2pescrow offer fill` reads it and its terms document."""
        from ..market import queries

        with served.session() as session:
            try:
                hit = queries.offer(session, served.chain_id, offer_id, served.now(), symbols=served.symbols)
            except ValueError as exc:
                raise ApiError(409, str(exc), "give more digits of the offer's id") from None
        if hit is None:
            raise _not_found(f"no offer {offer_id} in the index",
                             "search the offers with GET /api/offers; a new offer is listed once the index "
                             "has synced its block")
        out = _offer_json(hit)
        try:
            terms = json.loads(hit.document)
        except ValueError:
            terms = None
        signed = json.loads(hit.signed_offer(served.escrow).to_json())
        if terms is not None:
            signed["terms"] = terms
        out.update(signed_offer=signed, terms=terms if isinstance(terms, dict) else None,
                   fill_command=f"p2pescrow offer fill {hit.id}")
        return out

    @router.get("/trades/{trade_id}", response_model=TradeOut, summary="A trade and its history",
                responses={503: {"model": ErrorBody, "description": "The node does not answer."}})
    def trade(
        served: Served,
        trade_id: Annotated[str, Path(pattern=TRADE_ID, description="The trade's id (0x + 64 hex digits).")],
    ) -> dict[str, Any]:
        """A trade from the index: its terms, its state and deadline now (read from the chain), and every
        event of its history, oldest first."""
        from ..market import schema

        key = trade_id.lower()
        with served.session() as session:
            known = session.get(schema.Trade, (served.chain_id, key)) is not None
        if not known:
            raise _not_found(f"no trade {key} in the index",
                             "check the id (`p2pescrow trade list`); a new trade is found once the index has "
                             "synced its block")
        reads = served.indexed()
        current = reads.trade(key)
        history = reads.history(key)
        return _trade_json(current, history)

    @router.get("/addresses/{address}", response_model=AddressOut, summary="An address's record")
    def address(
        served: Served,
        address: Annotated[str, Path(pattern=ADDRESS, description="The address (0x + 40 hex digits).")],
        recent: Annotated[int, Query(ge=0, le=page_max, description="How many recent trades to list.")] = min(
            RECENT_DEFAULT, page_max),
    ) -> dict[str, Any]:
        """What the index knows of a trader: its screening (volume, outcomes and ratings per asset and
        role, its score), its recent trades, its score after each rating and its volume over time."""
        from ..market import timeline as timelines

        with served.session() as session:
            line = timelines.timeline(session, served.chain_id, address.lower())
        return {
            "address": line.address,
            "screening": line.screening.to_json(),
            "recent_trades": [entry.to_json() for entry in line.recent(recent)],
            "trades": len(line.entries),
            "score_history": [{"at": at, "score": str(score)} for at, score in line.score_history],
            "volume_history": {token: [{"at": at, "volume": volume} for at, volume in points]
                               for token, points in line.volume_history().items()},
            "truncated": line.truncated,
        }

    @router.get("/stats", response_model=StatsOut, summary="The market's figures")
    def stats(served: Served) -> dict[str, Any]:
        """Volume per asset per day and ISO week, trades by outcome, the dispute rate, time to release,
        platform fees, and the arbiters' table, as of the index's newest block."""
        from ..market import queries

        with served.session() as session:
            return dict(queries.stats(session, served.chain_id, served.now()).to_json())

    @router.get("/states", response_model=StatesOut, response_model_by_alias=True, summary="The trade-state table")
    def states() -> dict[str, Any]:
        """Every state a trade can be in, and every way it moves between them (who may act, when)."""
        return {
            "states": [{"number": int(s), "name": s.name.lower(), "terminal": s.is_terminal, "live": s.is_live}
                       for s in TradeState],
            "transitions": [{"from": None if t.source is None else t.source.name.lower(),
                             "to": t.target.name.lower(), "actions": list(t.actions), "who": t.who, "when": t.when}
                            for t in TRANSITIONS],
        }

    return router


def _trade_json(trade: Any, history: list[Any]) -> dict[str, Any]:
    terms = jsonable(trade.terms)
    return {
        "id": trade.id,
        "state": trade.state.name.lower(),
        "state_number": int(trade.state),
        "token": {"address": trade.token.address, "symbol": trade.token.symbol, "decimals": trade.token.decimals},
        "terms": terms,
        "held": trade.held,
        "deadline": None if trade.deadline is None else int(trade.deadline.timestamp()),
        "delivery_marked": trade.delivery_marked,
        "seller_paid": trade.seller_paid,
        "settlement_bps": trade.settlement_bps,
        "settlement_proposer": jsonable(trade.settlement_proposer),
        "rated_by": sorted(jsonable(role) for role in trade.rated_by),
        "seller_acted": trade.seller_acted,
        "seller_deposited": trade.seller_deposited,
        "records": trade.records,
        "next_actions": {jsonable(role): list(actions) for role, actions in trade.next_actions.items()},
        "history": [{"block": e.block, "tx_hash": e.tx_hash, "name": e.name, "args": jsonable(e.args)}
                    for e in history],
    }


# -- the interactive documentation -------------------------------------------------------------------
docs_router = APIRouter(include_in_schema=False)

SWAGGER = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5"

DOCS_PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>p2pescrow market API</title>
<link rel="stylesheet" href="{SWAGGER}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"><p>The API's OpenAPI document: <a href="/openapi.json">/openapi.json</a>.</p></div>
<script src="{SWAGGER}/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
"""

DOCS_INIT = 'window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui"});\n'


@docs_router.get("/docs", response_class=HTMLResponse)
def docs() -> HTMLResponse:
    """Swagger UI over /openapi.json (its scripts from the CDN, none inline)."""
    return HTMLResponse(DOCS_PAGE)


@docs_router.get("/docs/init.js")
def docs_init() -> Response:
    return Response(DOCS_INIT, media_type="text/javascript")
