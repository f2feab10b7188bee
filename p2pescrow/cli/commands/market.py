"""``p2pescrow market ...``: the market index. ``market sync`` follows the escrow, its Reputation and
the offer board into a database (SQLite under the config folder by default, PostgreSQL with
``--db``); ``market search`` finds the offers that can be filled now, with each seller's screening;
``market stats`` gives the market's figures. Every read syncs the new blocks first.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ...errors import InputError, NetworkError, P2PEscrowError
from .. import context, parse
from ..app import app, command
from ..plot import PlotOption, check_plot, write_market_chart
from ..render import emit, human, percent, short, span, table, to_jsonable, when

if TYPE_CHECKING:
    from ...models import TokenInfo
    from ...reader import Reads
    from ..context import Options

market_app = typer.Typer(name="market", no_args_is_help=True, help=(
    "The market index: search the offers on the board with each seller's screening, and read the market's "
    "figures, from a database of the chain (SQLite in the config folder by default; PostgreSQL with --db URL "
    "or $P2PESCROW_DB).\n\n"
    "Every command syncs the blocks mined since the last sync first.\n\n"
    "\b\nExample:\n"
    "  p2pescrow market search --category bikes --token ETH --max-amount 1\n"
    "  p2pescrow --json market stats"))
app.add_typer(market_app)

#: Sort orders of `market search`.
SORTS = ("newest", "amount", "-amount", "score", "expiry")


# -- the index -------------------------------------------------------------------------------------
def database_url(options: Options) -> str:
    """The index's database URL: ``--db``, else ``$P2PESCROW_DB``, else the SQLite file under the config folder."""
    from ...market.db import resolve_url

    return resolve_url(options.db)


def shown_url(url: str) -> str:
    """The URL as it may be printed: its password hidden."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a URL SQLAlchemy reads: said by open_database
        return url


def index_exists(options: Options) -> bool:
    """Whether a market index is there to read: a database named by ``--db``/``$P2PESCROW_DB``, or the
    default SQLite file already made by `market sync`. No extra installed: no index."""
    from importlib.util import find_spec

    if find_spec("sqlalchemy") is None or find_spec("alembic") is None:
        return False
    url = database_url(options)
    if options.db or not url.startswith("sqlite:///"):
        return True
    from pathlib import Path

    return Path(url.removeprefix("sqlite:///")).exists()


def _database_error(url: str, exc: Exception) -> Exception:
    """A database failure as one line: a URL SQLAlchemy cannot use (exit 2), or a database it cannot reach
    or read (exit 4)."""
    from sqlalchemy import exc as sa

    reason = " ".join(str(getattr(exc, "orig", None) or exc).split()) or type(exc).__name__
    reason = reason.split(" (Background on this error")[0].split("[SQL:")[0].strip()
    if isinstance(exc, (sa.ArgumentError, sa.NoSuchModuleError)):
        return InputError(f"not a database URL the market index can use: {shown_url(url)} ({reason})",
                          hint="e.g. --db sqlite:///market.sqlite or --db postgresql://user@host/market")
    return NetworkError(f"cannot open the market database {shown_url(url)}: {reason}",
                        hint="check the URL and that the database server runs, or leave --db and $P2PESCROW_DB "
                             "unset for the SQLite file in the config folder")


@contextmanager
def database_errors(url: str) -> Iterator[None]:
    """SQLAlchemy's and its drivers' exceptions (a server that does not answer, a bad URL, a locked file)
    as one line; the package's own errors go through as they are."""
    try:
        yield
    except P2PEscrowError:
        raise
    except Exception as exc:
        from sqlalchemy import exc as sa

        if isinstance(exc, sa.SQLAlchemyError) or type(exc).__module__.split(".")[0] in ("psycopg", "sqlite3",
                                                                                         "alembic"):
            raise _database_error(url, exc) from None
        raise


class Market:
    """The selected network's escrow read through its market index (:class:`p2pescrow.market.client.MarketClient`
    over the command's fast reader): ``sync`` first, then ``search``, ``offer``, ``screening``, ``stats``."""

    def __init__(self, options: Options, reads: Reads | None = None) -> None:
        from ...market import check_market
        from ...market.client import MarketClient

        check_market()  # before connecting: the missing extra is the one line to say
        net = context.network(options)
        if net.rpc_url is None:
            raise InputError("the embedded chain lives only inside one command: it has no market to index",
                             hint="start a node with `p2pescrow node start` and pick it with --network")
        self.options = options
        self.reads = reads if reads is not None else context.reader(options)
        self.client = MarketClient(self.reads, db=options.db)  # type: ignore[arg-type] # the reader reads as it
        self.url: str = self.client.db_url
        self.chain_id = self.reads.deployment.chain_id

    def sync(self, *, show: bool = True) -> Any:
        """Sync the blocks mined since the last sync (a SyncReport), showing progress on a terminal."""
        meter = Meter(self.options) if show else None
        try:
            with database_errors(self.url):
                return self.client.sync(progress=meter.update if meter else None)
        finally:
            if meter is not None:
                meter.close()

    def search(self, **filters: Any) -> list[Any]:
        with database_errors(self.url):
            return self.client.search(sync=False, **filters)

    def offer(self, offer_id: str) -> Any:
        with database_errors(self.url):
            return self.client.offer(offer_id)

    def screening(self, address: str) -> Any:
        with database_errors(self.url):
            return self.client.screening(address)

    def stats(self) -> Any:
        with database_errors(self.url):
            return self.client.stats()

    def token(self, address: str) -> TokenInfo:
        """A token's symbol and decimals (the reader caches them)."""
        return self.reads.token(address)

    def now(self) -> int:
        return int(max(self.reads.now(), datetime.now(UTC)).timestamp())


def open_market(options: Options, reads: Reads | None = None) -> Any:
    """The market the read commands use: the server's with ``--market-url`` (:mod:`p2pescrow.cli.remote_market`),
    else the local index (:class:`Market`)."""
    from ..remote_market import open_remote

    remote = open_remote(options)
    return remote if remote is not None else Market(options, reads)


class Meter:
    """Progress of a sync on stderr, rewritten in place, when stderr is a terminal and the sync is long:
    more than one page of blocks, or more than half a second (nothing under ``--json`` or in a pipe)."""

    def __init__(self, options: Options) -> None:
        self.live = not options.json and sys.stderr.isatty()
        self.started = time.monotonic()
        self.shown = False

    def update(self, done: int, total: int) -> None:
        if not self.live or not (self.shown or done < total or time.monotonic() - self.started >= 0.5):
            return
        share = f" ({100 * done // total}%)" if total else ""
        sys.stderr.write(f"\rsyncing the market index: block {done:,} of {total:,}{share} ...")
        sys.stderr.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()


def report_document(report: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(report) and not isinstance(report, type):
        return {f.name: to_jsonable(getattr(report, f.name)) for f in dataclasses.fields(report)}
    return {key: to_jsonable(value) for key, value in vars(report).items() if not key.startswith("_")}


def report_line(report: Any, url: str) -> str:
    """What a sync did, in one line."""
    doc = report_document(report)
    first, last = doc.get("from_block"), doc.get("to_block")
    where = f"into {shown_url(url)}"
    if first is None or last is None or first > last:
        return f"The market index is up to date (block {last}) {where}."
    rewound = f"; rewound {doc['rewound']} blocks a reorg orphaned" if doc.get("rewound") else ""
    seconds = doc.get("seconds")
    took = f" in {float(seconds):.1f} s" if seconds is not None else ""
    return (f"Synced blocks {first:,}..{last:,} {where}{took}: {_count(doc.get('events', 0), 'event')}, "
            f"{_count(doc.get('offers', 0), 'offer')} ({doc.get('rejected', 0):,} rejected), "
            f"{_count(doc.get('trades', 0), 'trade')}{rewound}.")


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


@command(market_app, "sync")
def sync(ctx: typer.Context) -> None:
    """Bring the market index up to the chain's head: the escrow's trades, the reputation records and
    ratings, and the offers published on the board (each checked: a bad post is recorded with the
    reason, never indexed).

    Incremental and resumable: the first sync reads from the escrow's deployment block, later ones
    from the last block synced; an interrupted sync restarts where it stopped. On a terminal it shows
    its progress; it ends saying what it read. The database: --db URL, $P2PESCROW_DB, else
    market.sqlite in the config folder.

    \b
    Example:
      p2pescrow market sync
      p2pescrow --db postgresql://market@db.example/market market sync
    """
    options = context.options(ctx)
    market = Market(options)
    report = market.sync()
    emit(options, {"sync": {**report_document(report), "database": shown_url(market.url),
                            "chain_id": market.chain_id, "escrow": market.reads.deployment.escrow}},
         report_line(report, market.url))


# -- search ----------------------------------------------------------------------------------------
def _bps(text: str | None, what: str) -> int | None:
    if text is None:
        return None
    try:
        return parse.share_bps(text)
    except InputError as exc:
        raise InputError(f"{what}: {exc}") from None


def _score(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise InputError(f"invalid --min-score {text!r}: a number from 1 to 5, e.g. 4.5") from None
    if not Decimal(1) <= value <= Decimal(5):
        raise InputError(f"invalid --min-score {text!r}: scores run from 1 to 5")
    return value


def _filters(market: Market, **given: Any) -> dict[str, Any]:
    """The OfferFilter's fields from the command's options: amounts in the --token's units (so they need one)."""
    token_text = given.pop("token")
    info: TokenInfo | None = None
    if token_text is not None:
        address = parse.token_address(token_text, market.reads.deployment.dev_tokens)
        info = market.token(address or "0x" + "0" * 40)
    fields: dict[str, Any] = {"token": info.address if info is not None else None}
    for name in ("min_amount", "max_amount", "max_buyer_deposit", "max_seller_deposit", "min_seller_deposit",
                 "min_volume"):
        text = given.pop(name)
        if text is None:
            fields[name] = None
            continue
        option = "--" + name.replace("_", "-")
        if info is None:
            raise InputError(f"{option} needs --token: amounts are in a token's units",
                             hint=f"e.g. --token ETH {option} {text}")
        fields[name] = parse.deposit(text, info, option)
    fields.update(given)
    return fields


def hit_document(market: Market, hit: Any) -> dict[str, Any]:
    """One search hit as JSON: the offer's fields, the token with its symbol and address (and whether
    that symbol imitates a listed reputation asset's), amounts with their symbol, the seller's screening."""
    from ..render import amount_document

    doc = _plain(hit)
    info = _token_or_none(market, hit.token)
    warnings = [str(w) for w in (getattr(hit, "warnings", None) or [])]
    doc["token"] = {"address": hit.token, "symbol": info.symbol if info else None,
                    "decimals": info.decimals if info else None,
                    "imitation": any("imitat" in w for w in warnings)}
    if info is not None:
        for name in ("amount", "buyer_deposit", "seller_deposit"):
            doc[name] = amount_document(int(getattr(hit, name)), info)
    doc["warnings"] = warnings
    doc["screening"] = screening_document(market, getattr(hit, "screening", None))
    remote = getattr(market.options, "market_url", None)  # a relayed offer is found through the server only
    doc["fill"] = f"p2pescrow {f'--market-url {market.url} ' if remote else ''}offer fill {hit.id}"
    return doc


def _token_or_none(market: Market, address: str) -> TokenInfo | None:
    try:
        return market.token(address)
    except Exception:  # noqa: BLE001 - not an ERC-20 that answers: shown by address only
        return None


def _plain(value: Any) -> Any:
    """A query result (dataclass, mapping, list, ...) as JSON-ready values (its own ``to_json()`` if it has one)."""
    if callable(getattr(value, "to_json", None)) and not isinstance(value, type):
        value = value.to_json()
        if isinstance(value, str):
            import json

            value = json.loads(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(_plain(k)): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**53:
        return str(value)
    return to_jsonable(value)


def screening_document(market: Market, screening: Any) -> dict[str, Any] | None:
    """A seller's screening as JSON, with each asset's symbol."""
    if screening is None:
        return None
    doc = _plain(screening)
    for row in _rows(doc):
        asset = row.get("asset")
        if isinstance(asset, str):
            info = _token_or_none(market, asset)
            row["symbol"] = info.symbol if info else None
    return doc


def _rows(doc: Any) -> list[dict[str, Any]]:
    """The per-asset rows of a screening document, wherever they are (a list of objects with an asset)."""
    found: list[dict[str, Any]] = []
    if isinstance(doc, dict):
        for value in doc.values():
            if isinstance(value, list):
                found += [v for v in value if isinstance(v, dict) and "asset" in v]
            elif isinstance(value, dict) and all(isinstance(v, dict) for v in value.values()):
                found += [v for v in value.values() if "asset" in v]
    return found


def _get(value: Any, *names: str, default: Any = None) -> Any:
    for name in names:
        if isinstance(value, Mapping) and name in value:
            return value[name]
        if hasattr(value, name):
            return getattr(value, name)
    return default


def screening_text(market: Market, screening: Any) -> str:
    """A seller's screening in one line: score, volume per asset, outcomes, first trade."""
    if screening is None:
        return "no screening"
    score = _get(screening, "score")
    parts = [f"score {Decimal(str(score)).quantize(Decimal('0.01'))}/5" if score is not None else "score -"]
    volumes = []
    for row in _rows(_plain(screening)):
        volume = int(row.get("volume") or 0)
        if not volume:
            continue
        info = _token_or_none(market, row["asset"])
        role = row.get("role")
        volumes.append((human(volume, info) if info else f"{volume} units of {row['asset']}")
                       + (f" as {str(role).lower()}" if role is not None else ""))
    parts.append("volume " + (", ".join(volumes) if volumes else "none"))
    parts.append(f"completed {_get(screening, 'completed', default=0)}, refunded "
                 f"{_get(screening, 'refunded', default=0)}, disputed {_get(screening, 'disputed', default=0)}")
    first = _get(screening, "first_trade_at", "first_trade", "first_trade_timestamp")
    parts.append("first trade " + (datetime.fromtimestamp(int(first), UTC).strftime("%Y-%m-%d") if first
                                   else "never"))
    return "; ".join(parts)


def hit_lines(market: Market, hit: Any, now: int) -> list[str]:
    """One search hit as text."""
    from ...models import FLAG_TIMEOUT_RELEASES, ZERO_ADDRESS

    info = _token_or_none(market, hit.token)

    def money(units: int) -> str:
        return human(int(units), info) if info else f"{units} base units"

    title = hit.title or (hit.description[:60] + ("..." if len(hit.description) > 60 else "")) or "(untitled)"
    label = f"[{hit.category}] " if hit.category else ""
    tags = _tags(hit)
    lines = [f"{hit.id}  {label}{title}" + ("  " + " ".join("#" + t for t in tags) if tags else "")]
    if getattr(hit, "relayed", False):
        lines.append("  relayed   handed to the market server by its seller, not on the offer board (yet)")
    token_text = (f"{info.symbol} {hit.token}" if info else f"token {hit.token} (not a token that answers)")
    lines.append(f"  price     {money(hit.amount)}  (token {token_text})"
                 + (f"; fiat {hit.fiat_price}" if hit.fiat_price else "")
                 + (f" by {hit.payment_method}" if hit.payment_method else ""))
    for warning in getattr(hit, "warnings", None) or []:
        lines.append(f"  WARNING   {warning}")
    lines.append(f"  deposits  buyer {money(hit.buyer_deposit) if hit.buyer_deposit else 'none'}, "
                 f"seller {money(hit.seller_deposit) if hit.seller_deposit else 'none'}")
    lines.append(f"  seller    {hit.seller}: {screening_text(market, getattr(hit, 'screening', None))}")
    arbiter = (f"{hit.arbiter}, fee {percent(hit.arbiter_fee_bps)}" if hit.arbiter != ZERO_ADDRESS else "none")
    timeout = "releases to the seller" if hit.flags & FLAG_TIMEOUT_RELEASES else "refunds the buyer"
    lines.append(f"  arbiter   {arbiter}; release window {span(hit.release_window)}, timeout {timeout}")
    if hit.buyer != ZERO_ADDRESS:
        lines.append(f"  buyer     reserved for {hit.buyer}")
    lines.append(f"  expires   {when(datetime.fromtimestamp(hit.expiry, UTC), datetime.fromtimestamp(now, UTC))}")
    return lines


def _tags(hit: Any) -> list[str]:
    import json

    tags = hit.tags
    if isinstance(tags, str):
        try:
            tags = json.loads(tags)
        except ValueError:
            return []
    return [str(t) for t in tags] if isinstance(tags, (list, tuple)) else []


@command(market_app, "search")
def search(
    ctx: typer.Context, *,
    token: Annotated[str | None, typer.Option(
        "--token", help="Only offers in this token: ETH, a dev token's symbol (DUSD) or an address. The amount "
        "options are in its units.")] = None,
    min_amount: Annotated[str | None, typer.Option("--min-amount", help="The least price, in --token's units.")]
    = None,
    max_amount: Annotated[str | None, typer.Option("--max-amount", help="The highest price, in --token's units.")]
    = None,
    arbiter: Annotated[str | None, typer.Option(
        "--arbiter", help="Only offers this arbiter rules, or 'none' for offers without one.")] = None,
    max_arbiter_fee: Annotated[str | None, typer.Option(
        "--max-arbiter-fee", help="The highest arbiter fee: '1%'.")] = None,
    timeout: Annotated[str | None, typer.Option(
        "--timeout", metavar="releases|refunds",
        help="Only offers whose timeout releases to the seller, or refunds the buyer.")] = None,
    max_buyer_deposit: Annotated[str | None, typer.Option(
        "--max-buyer-deposit", help="The most you pay as deposit, in --token's units (0: none).")] = None,
    min_seller_deposit: Annotated[str | None, typer.Option(
        "--min-seller-deposit", help="The least the seller puts up as deposit, in --token's units.")] = None,
    max_seller_deposit: Annotated[str | None, typer.Option(
        "--max-seller-deposit", help="The most the seller puts up as deposit, in --token's units.")] = None,
    category: Annotated[str | None, typer.Option("--category", help="Only this category (as the seller wrote it).")]
    = None,
    text: Annotated[str | None, typer.Option(
        "--text", help="Words to find in the title and description (full-text: every word must be there).")] = None,
    seller: Annotated[str | None, typer.Option("--seller", help="Only this seller's offers.")] = None,
    min_score: Annotated[str | None, typer.Option(
        "--min-score", help="The seller's least score, 1 to 5 (never rated: 3.00).")] = None,
    min_volume: Annotated[str | None, typer.Option(
        "--min-volume", help="The seller's least volume of recorded trades in --token, in its units.")] = None,
    sort: Annotated[str, typer.Option(
        "--sort", metavar="|".join(SORTS), help="newest first, amount (ascending), -amount (descending), score "
        "(best seller first), expiry (soonest first).")] = "newest",
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="At most this many offers.")] = 50,
    offset: Annotated[int, typer.Option("--offset", min=0, help="Skip this many (the next page).")] = 0,
) -> None:
    """The offers that can be filled now (open, not expired, fee current, the seller's bond covering
    its deposit), newest first, each with its seller's screening: score, volume per asset, how its
    trades ended, its first trade's date. Tokens show their symbol and address; a token whose symbol
    imitates a listed reputation asset's is flagged. Syncs the new blocks first.

    \b
    Example:
      p2pescrow market search --category bikes --text "road steel" --token ETH --max-amount 1
      p2pescrow market search --min-score 4 --max-arbiter-fee 2% --timeout refunds --sort score
      p2pescrow --json market search --token DUSD --min-volume 1000
      p2pescrow --account alice offer fill 0x3f2a...   # an id from the list
    """
    from ...models import ZERO_ADDRESS

    if sort not in SORTS:
        raise InputError(f"invalid --sort {sort!r}: one of {', '.join(SORTS)}")
    if timeout is not None and timeout not in ("releases", "refunds"):
        raise InputError(f"invalid --timeout {timeout!r}: releases (to the seller) or refunds (the buyer)")
    arbiter_address = None
    if arbiter is not None:
        arbiter_address = ZERO_ADDRESS if arbiter.strip().lower() == "none" else parse.address(arbiter, "--arbiter")
    seller_address = parse.address(seller, "--seller") if seller is not None else None
    fee = _bps(max_arbiter_fee, "--max-arbiter-fee")
    score = _score(min_score)
    options = context.options(ctx)
    market = open_market(options)
    report = market.sync()
    fields = _filters(
        market, token=token, min_amount=min_amount, max_amount=max_amount, max_buyer_deposit=max_buyer_deposit,
        max_seller_deposit=max_seller_deposit, min_seller_deposit=min_seller_deposit, min_volume=min_volume)
    fields.update(arbiter=arbiter_address, max_arbiter_fee_bps=fee,
                  timeout_releases=None if timeout is None else timeout == "releases",
                  category=category, text=text, seller=seller_address, min_score=score, sort=sort,
                  limit=limit, offset=offset)
    from ...market.queries import OfferFilter  # after Market(): the missing extra is its one line

    OfferFilter(**fields)  # a bad combination is said before any query
    now = market.now()
    hits = market.search(**fields)
    documents = [hit_document(market, hit) for hit in hits]
    lines: list[str] = []
    for hit in hits:
        lines += [*hit_lines(market, hit, now), ""]
    if hits:
        lines.append(f"{len(hits)} offer{'s' if len(hits) != 1 else ''} that can be filled now"
                     + (f" (the first {limit}: --offset {offset + limit} for more)" if len(hits) == limit else "")
                     + "; fill one with `p2pescrow offer fill ID`.")
    else:
        lines.append("No offer that can be filled now matches." + ("" if any(
            v is not None for k, v in fields.items() if k not in ("sort", "limit", "offset")) else
            " Sellers publish with `p2pescrow offer publish FILE`."))
    filters = {k: v for k, v in fields.items() if v is not None and k not in ("limit", "offset")}
    emit(options, {"offers": documents, "count": len(documents), "filter": _plain(filters), "now": now,
                   "synced_to": report_document(report).get("to_block"), "database": shown_url(market.url)},
         lines)


# -- stats -----------------------------------------------------------------------------------------
@command(market_app, "stats")
def stats(ctx: typer.Context, plot: PlotOption = None) -> None:
    """The market's figures: volume per asset per day and per ISO week, trades by outcome, the dispute
    rate, the median and p90 time from funding to release, the platform fees earned per asset, and the
    arbiters (cases, rulings, median time to rule, share of even splits, fees earned). Syncs first.
    --plot FILE also draws them (PNG or SVG, by the file's suffix).

    \b
    Example:
      p2pescrow market stats
      p2pescrow --json market stats
      p2pescrow market stats --plot market.png
    """
    options = context.options(ctx)
    target = check_plot(plot) if plot is not None else None
    market = open_market(options)
    market.sync()
    now = market.now()
    figures = market.stats()
    document = _plain(figures)
    _add_symbols(market, document)
    lines = stats_lines(market, figures, document)
    extra = {}
    if target is not None:
        lines += ["", write_market_chart(target, figures, lambda token: _token_or_none(market, token))]
        extra["plot"] = str(target)
    emit(options, {"stats": document, "chain_id": market.chain_id, "escrow": market.reads.deployment.escrow,
                   "now": now, **extra}, lines)


def _add_symbols(market: Market, document: Any) -> None:
    """Each object naming an asset or token gains that token's symbol (recursively)."""
    if isinstance(document, dict):
        for key in ("asset", "token"):
            if isinstance(document.get(key), str) and document[key].startswith("0x") and "symbol" not in document:
                info = _token_or_none(market, document[key])
                document["symbol"] = info.symbol if info else None
        for value in document.values():
            _add_symbols(market, value)
    elif isinstance(document, list):
        for value in document:
            _add_symbols(market, value)


def _amount(market: Market, asset: str | None, units: Any) -> str:
    info = _token_or_none(market, asset or "0x" + "0" * 40)
    return human(int(units), info) if info else f"{units} base units of {asset}"


def _seconds(value: Any) -> str:
    if value is None:
        return "-"
    seconds = int(value)
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds} s"


def stats_lines(market: Market, figures: Any, document: dict[str, Any]) -> list[str]:
    """The figures as text: each part a heading and a table."""
    lines = [f"The market of escrow {market.reads.deployment.escrow} (chain id {market.chain_id})"]
    outcomes = _get(figures, "outcomes", "trades_by_outcome", default={}) or {}
    total = _get(figures, "trades", "total_trades")
    if not isinstance(total, int):
        total = sum(int(v) for v in outcomes.values()) if isinstance(outcomes, Mapping) else 0
    lines += ["", f"trades: {total}" + (" (" + ", ".join(f"{k} {v}" for k, v in outcomes.items()) + ")"
                                        if isinstance(outcomes, Mapping) and outcomes else "")]
    rate = _get(figures, "dispute_rate")
    if rate is not None:
        lines.append(f"dispute rate: {Decimal(str(rate)) * 100:.1f}%")
    median = _get(figures, "release_seconds_median", "release_median_seconds")
    p90 = _get(figures, "release_seconds_p90", "release_p90_seconds")
    lines.append(f"funding to release: median {_seconds(median)}, p90 {_seconds(p90)}")
    for title, names in (("volume per day", ("volume_per_day", "volume_by_day", "daily_volume")),
                         ("volume per ISO week", ("volume_per_week", "volume_by_week", "weekly_volume"))):
        rows = _table_rows(market, _get(figures, *names), period=True)
        lines += ["", title + ":"] + (["  " + x for x in table(rows, ("period", "asset", "volume", "trades"))
                                      .splitlines()] if rows else ["  none"])
    fees = _get(figures, "platform_fees", "fees", default={}) or {}
    fee_rows = [(f"{_amount(market, asset, units)}",) for asset, units in _pairs(fees)]
    lines += ["", "platform fees earned: " + (", ".join(r[0] for r in fee_rows) if fee_rows else "none")]
    arbiters = _get(figures, "arbiters", default=[]) or []
    arbiter_rows = []
    for a in (arbiters.values() if isinstance(arbiters, Mapping) else arbiters):
        even = _get(a, "even_split_share", "even_splits_share", "share_even_splits")
        earned = _get(a, "fees", "fees_earned", default={}) or {}
        arbiter_rows.append((str(_get(a, "arbiter", "address", default="?")), str(_get(a, "cases", default=0)),
                             str(_get(a, "rulings", default=0)), _seconds(_get(a, "median_seconds_to_rule",
                                                                               "median_rule_seconds")),
                             f"{Decimal(str(even)) * 100:.0f}%" if even is not None else "-",
                             ", ".join(_amount(market, k, v) for k, v in _pairs(earned)) or "-"))
    lines += ["", "arbiters:"] + (["  " + x for x in table(arbiter_rows, (
        "arbiter", "cases", "rulings", "median to rule", "even splits", "fees earned")).splitlines()]
        if arbiter_rows else ["  none"])
    return lines


def _pairs(value: Any) -> Iterable[tuple[str | None, Any]]:
    """(asset, amount) pairs from a mapping asset -> amount or a list of {asset, amount} objects."""
    if isinstance(value, Mapping):
        return list(value.items())
    result = []
    for row in value or []:
        result.append((_get(row, "asset", "token"), _get(row, "amount", "fees", "total", default=0)))
    return result


def _table_rows(market: Market, value: Any, *, period: bool) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    if isinstance(value, Mapping):  # {asset: {period: amount}} or {period: {asset: amount}}
        for outer, inner in value.items():
            if isinstance(inner, Mapping):
                for key, amount in inner.items():
                    asset, when_ = (outer, key) if str(outer).startswith("0x") else (key, outer)
                    rows.append((str(when_), _symbol(market, asset), _amount(market, asset, _volume(amount)),
                                 str(_get(amount, "trades", "count", default=""))))
        return rows
    for row in value or []:
        asset = _get(row, "asset", "token")
        rows.append((str(_get(row, "day", "week", "period", default="")), _symbol(market, asset),
                     _amount(market, asset, _get(row, "volume", "amount", default=0)),
                     str(_get(row, "trades", "count", default=""))))
    return rows


def _volume(amount: Any) -> Any:
    return _get(amount, "volume", "amount", default=amount) if not isinstance(amount, (int, str)) else amount


def _symbol(market: Market, asset: Any) -> str:
    info = _token_or_none(market, str(asset)) if asset else None
    return f"{info.symbol} {short(str(asset))}" if info else str(asset)


# -- for other commands: rep show, offer fill --------------------------------------------------------
def screening_for(options: Options, reads: Reads, address: str) -> tuple[dict[str, Any], str] | None:
    """The index's screening of ``address`` (document and one line) when an index exists, after syncing
    the new blocks; None without one."""
    if not options.market_url and not index_exists(options):
        return None
    market = open_market(options, reads)
    market.sync()
    found = market.screening(address)
    return screening_document(market, found) or {}, screening_text(market, found)


def indexed_offer(options: Options, offer_id: str) -> tuple[Any, dict[str, Any]]:
    """The signed offer and terms document of an offer in the index, by id (``0x`` + 64 hex digits, or a
    unique prefix of 8 or more), after syncing the new blocks."""
    import json

    raw = offer_id.strip().lower()
    body = raw.removeprefix("0x")
    if not 8 <= len(body) <= 64 or any(c not in "0123456789abcdef" for c in body):
        raise InputError(f"not an offer file nor an offer id: {offer_id!r}",
                         hint="pass an offer document FILE, - for standard input, or an id from "
                              "`p2pescrow market search`")
    market = open_market(options)
    market.sync()
    hit = market.offer("0x" + body)
    if hit is None:
        raise InputError(f"no offer {offer_id} in the market index of chain {market.chain_id} (no such file either)",
                         hint="see `p2pescrow market search`")
    status = getattr(hit, "status", "open")
    if status != "open":
        trade = getattr(hit, "trade_id", None)
        raise InputError(f"offer {hit.id} is {status}" + (f" (trade {trade})" if trade else "")
                         + ": it can no longer be filled", hint="see `p2pescrow market search`")
    signed = hit.signed_offer(market.reads.deployment.escrow)
    document = hit.document
    return signed, json.loads(document) if isinstance(document, (str, bytes)) else dict(document)


# -- publish-relayed (the operator) ----------------------------------------------------------------
@command(market_app, "publish-relayed")
def publish_relayed(ctx: typer.Context, ids: Annotated[list[str] | None, typer.Argument(
        metavar="ID", help="Relayed offers to publish (ids or unique prefixes); default: every one still "
        "fillable.", show_default=False)] = None) -> None:
    """Operator: put relayed offers on the offer board, paying the gas for their sellers.

    A market server's relay (`p2pescrow serve`, POST /api/relay) lists signed offers sellers hand
    it without publishing them; this publishes them from the server's index (--db: the database
    the server uses), one transaction each, confirmed like any other. Once synced, they are on-chain
    offers (`market search` no longer marks them relayed). Without IDs, every relayed offer a buyer
    could still fill is published; an ID that cannot be filled any more is skipped, saying why.

    \b
    Example:
      p2pescrow --db postgresql://market@db/market --account operator market publish-relayed
      p2pescrow --account operator market publish-relayed 0x3f2a9c1e
    """
    from ...market import relayed
    from ..confirm import send
    from ..context import client as connect

    options = context.options(ctx)
    market = Market(options)
    market.sync()
    now = market.now()
    try:
        with database_errors(market.url), market.client._session() as session:
            waiting = relayed.pending(session, market.chain_id, now, ids or None)
    except relayed.RelayRefused as exc:
        raise InputError(str(exc), hint=exc.hint) from None
    skipped = [p for p in waiting if not p.fillable]
    chosen = [p for p in waiting if p.fillable]
    for p in skipped if ids else []:
        progress_line = f"skipped {p.id}: a buyer could no longer fill it ({p.status}, expired, or its bond is short)"
        typer.echo(progress_line, err=True)
    if not chosen:
        emit(options, {"published": [], "skipped": [p.id for p in skipped]},
             "No relayed offer waiting for the board" + (" can still be filled." if skipped else "."))
        return
    client = connect(options)
    published = []
    for p in chosen:
        o = p.signed.offer
        info = client.token(o.token)
        lines = [f"publish relayed offer {p.id} of seller {o.seller}: {human(o.amount, info)}, with its "
                 f"{len(p.document)}-byte terms document; you pay the gas",
                 "the offer and its terms document go into an event on chain: public forever, no one can remove it"]
        tx = send(options, client, lines, lambda p=p: client.publish_offer(p.signed, p.document))
        published.append({"offer_id": p.id, "seller": o.seller, "tx": tx.tx_hash})
        typer.echo(f"Published relayed offer {p.id} ({human(o.amount, info)}) in transaction {tx.tx_hash}.",
                   err=options.json)
    emit(options, {"published": published, "skipped": [p.id for p in skipped]},
         f"{len(published)} relayed offer{'s' if len(published) != 1 else ''} published on the offer board; "
         "`market search` lists them as on-chain offers once synced.")
