"""MarketClient: the market index from Python — publish offers, sync the index, search and screen, the figures.

    from p2pescrow import EscrowClient, MarketClient

    escrow = EscrowClient.connect("http://127.0.0.1:8545", account)
    market = MarketClient(escrow)                        # the index: ~/.config/p2pescrow/market.sqlite
    market.publish(signed, document)                     # on the offer board (a transaction)
    for hit in market.search(token=usdc, max_amount=500 * 10**6, min_score=4.0):   # syncs new blocks first
        print(hit.id, hit.title, hit.screening.score)
    print(market.stats().dispute_rate)

``db`` is a SQLAlchemy URL (``sqlite:///path``, ``postgresql+psycopg://...``); None takes
``$P2PESCROW_DB``, else the SQLite file under the config folder (:func:`p2pescrow.market.db.resolve_url`).
The database is opened (created, or upgraded by its migrations) on first use, not when the client is
made.

Chain work (a publication, the chain's time, token symbols) goes through the escrow client; the index
(:class:`~p2pescrow.market.sync.Indexer`) reads the node by its own batched JSON-RPC at the escrow
client's URL, so the embedded chain (no URL) cannot be indexed. The asyncio twin,
:class:`AsyncMarketClient`, has the same surface over :class:`~p2pescrow.clients.aio.AsyncEscrowClient`:
its database work (sqlite3, psycopg and the indexer are blocking) runs in a worker thread
(``asyncio.to_thread``), its chain work through the async escrow client.

Needs the ``market`` extra (``pip install 'p2pescrow[market]'``): without it the constructor raises
:class:`~p2pescrow.errors.MissingExtra` naming that command. Nothing here imports SQLAlchemy until a
client is made.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..core.terms import checksum
from ..errors import ConfigError, InputError
from . import check_market

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from ..clients._base import DueAction, HistoryEntry
    from ..clients.aio import AsyncEscrowClient
    from ..clients.sync import EscrowClient
    from ..core.offers import SignedOffer
    from ..models import Trade, TradeState
    from ..transport.sync import Signer, TxResult
    from .queries import MarketStats, OfferHit, Screening
    from .sync import SyncReport
    from .timeline import Timeline
    from .trades import IndexedReader

Progress = Callable[[int, int], None]


class MarketBase:
    """What both market clients share: the database and every read of it (blocking, no chain I/O).

    The sync client calls these directly; the asyncio client in a worker thread."""

    chain_id: int

    def _setup(self, escrow_client: Any, db: str | None) -> None:
        check_market()
        from .db import resolve_url

        #: The escrow client the market client publishes and reads the chain through.
        self.escrow_client = escrow_client
        #: The index's database URL (as resolved: ``db``, ``$P2PESCROW_DB``, or the default file).
        self.db_url: str = resolve_url(db)
        self.chain_id = int(escrow_client.deployment.chain_id)
        self._engine: Engine | None = None
        self._engine_lock = threading.Lock()
        self._indexed_reader: IndexedReader | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(chain {self.chain_id}, escrow {self.escrow_client.deployment.escrow})"

    # -- the database ------------------------------------------------------------------------------
    def _db(self) -> Engine:
        """The index's engine, opened (created or migrated) on first use; one per client."""
        with self._engine_lock:
            if self._engine is None:
                from .db import open_database

                self._engine = open_database(self.db_url)
            return self._engine

    def _session(self) -> Any:
        from sqlalchemy.orm import Session

        return Session(self._db())

    def close(self) -> None:
        """Close the database's pooled connections (the client opens them again if used)."""
        with self._engine_lock:
            self._indexed_reader = None
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None

    # -- the index ---------------------------------------------------------------------------------
    def _rpc_url(self) -> str:
        url = str(self.escrow_client.url)
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"the market index reads a node over HTTP JSON-RPC, and this client's node is {url!r}: "
                              "connect the escrow client by an http(s):// URL (p2pescrow node start gives one)")
        return url

    def _sync_index(self, progress: Progress | None) -> SyncReport:
        url = self._rpc_url()
        from .sync import Indexer

        return Indexer(self._db(), url, self.escrow_client.deployment, progress=progress).sync()

    def _tokens_shown(self) -> list[str]:
        """The tokens a search may show: those of open offers and the listed reputation assets (a
        search flags a token whose symbol imitates a listed asset's, so both symbols are needed)."""
        from sqlalchemy import select, union

        from .schema import Listing, Offer

        query = union(
            select(Offer.token).where(Offer.chain_id == self.chain_id, Offer.status == "open"),
            select(Listing.token).where(Listing.chain_id == self.chain_id, Listing.listed.is_(True)))
        with self._session() as session:
            return sorted({str(token) for token in session.scalars(query)})

    def _search(self, filters: dict[str, Any], now: int, symbols: dict[str, str]) -> list[OfferHit]:
        from . import queries

        offer_filter = queries.OfferFilter(**filters)
        with self._session() as session:
            return list(queries.search(session, self.chain_id, offer_filter, now, symbols=symbols))

    def _offer(self, offer_id: str, now: int, symbols: dict[str, str]) -> OfferHit | None:
        from . import queries

        with self._session() as session:
            try:
                return queries.offer(session, self.chain_id, offer_id, now, symbols=symbols)
            except ValueError as exc:  # not hex, or a prefix more than one offer shares
                raise InputError(str(exc)) from None

    def _screening(self, address: str) -> Screening:
        from . import queries

        with self._session() as session:
            return queries.screening(session, self.chain_id, address)

    def _timeline(self, address: str) -> Timeline:
        from .timeline import timeline

        with self._session() as session:
            return timeline(session, self.chain_id, address)

    def _stats(self, now: int) -> MarketStats:
        from . import queries

        with self._session() as session:
            return queries.stats(session, self.chain_id, now)

    # -- trades from the index (p2pescrow.market.trades) -----------------------------------------
    def _indexed(self) -> IndexedReader:
        """The trades' reader over the index: which trades exist from the database, their states from
        the node in batched ``escrowOf`` calls (plain JSON-RPC at the escrow client's URL)."""
        with self._engine_lock:
            reads = self._indexed_reader
        if reads is None:
            from ..reader import EscrowReader
            from ..transport.rpc import RpcClient
            from .trades import IndexedReader

            reader = EscrowReader(RpcClient(self._rpc_url()), self.escrow_client.deployment,
                                  self.escrow_client.address)
            reads = IndexedReader(reader, self._db())
            with self._engine_lock:
                self._indexed_reader = reads
        return reads

    def _trades(self, party: str | None, state: TradeState | None, token: str | None) -> list[Trade]:
        return self._indexed().trades(party=None if party is None else _address(party), state=state, token=token)

    def _history(self, trade_id: str) -> list[HistoryEntry]:
        return self._indexed().history(trade_id)

    def _due(self, account: str | None) -> list[DueAction]:
        return self._indexed().due(_address(account) if account is not None else self.escrow_client.address)


def _symbols_known(tokens: list[str], infos: list[Any]) -> dict[str, str]:
    return {token: info.symbol for token, info in zip(tokens, infos, strict=True) if info is not None}


def _address(address: str) -> str:
    try:
        return checksum(address)
    except (ValueError, TypeError):
        raise InputError(f"not an address: {address!r}") from None


class MarketClient(MarketBase):
    """The market index over one escrow client's chain and deployment (see the module's docstring)."""

    def __init__(self, escrow_client: EscrowClient, db: str | None = None) -> None:
        self._setup(escrow_client, db)

    @classmethod
    def connect(cls, rpc_url: str, account: Signer | None = None, *, db: str | None = None,
                **options: Any) -> MarketClient:
        """Connect an :class:`~p2pescrow.clients.sync.EscrowClient` by URL (``options`` are its
        ``connect``'s) and index it into ``db``."""
        from ..clients.sync import EscrowClient

        return cls(EscrowClient.connect(rpc_url, account, **options), db)

    # -- the board ---------------------------------------------------------------------------------
    def publish(self, signed: SignedOffer, document: bytes | str | dict[str, Any]) -> TxResult:
        """Put a signed offer and its terms document on the offer board (a transaction, through
        :meth:`EscrowClient.publish_offer`, which checks both first). Everything in it is public forever;
        the index lists it after the next :meth:`sync`."""
        return self.escrow_client.publish_offer(signed, document)

    # -- the index ---------------------------------------------------------------------------------
    def sync(self, progress: Progress | None = None) -> SyncReport:
        """Read the blocks since the last sync into the index (the first sync reads from the escrow's
        deployment). ``progress(done, total)`` is called as pages of blocks are written."""
        return self._sync_index(progress)

    def _now(self) -> int:
        return int(self.escrow_client.now().timestamp())

    def _symbols(self) -> dict[str, str]:
        tokens = self._tokens_shown()
        return _symbols_known(tokens, [self._token_or_none(token) for token in tokens])

    def _token_or_none(self, token: str) -> Any:
        try:
            return self.escrow_client.token(token)
        except InputError:  # not an ERC-20 (symbol or decimals unreadable): shown without a symbol
            return None

    # -- reads -------------------------------------------------------------------------------------
    def search(self, *, sync: bool = True, **filters: Any) -> list[OfferHit]:
        """The offers a buyer can fill now (open, unexpired, at the current platform fee, the seller's
        bond covering the deposit), each with the seller's screening, filtered by ``filters`` (the
        fields of :class:`~p2pescrow.market.queries.OfferFilter`: token, min_amount, max_amount,
        arbiter, category, text, min_score, sort, limit, ...). Syncs the new blocks first unless
        ``sync=False``."""
        if sync:
            self.sync()
        return self._search(filters, self._now(), self._symbols())

    def offer(self, offer_id: str) -> OfferHit | None:
        """One offer of the index by its id (or a unique prefix of it), whatever became of it (open,
        filled, revoked; ``fillable`` says whether a buyer can fill it now), or None. Fill it with
        ``escrow_client.fill_offer(hit.signed_offer(escrow_client.deployment.escrow))``. A malformed or
        ambiguous id is an :class:`~p2pescrow.errors.InputError`."""
        return self._offer(offer_id, self._now(), self._symbols())

    def screening(self, address: str) -> Screening:
        """What the index knows of a trader: volume, outcomes, ratings and score per asset and role."""
        return self._screening(_address(address))

    def timeline(self, address: str) -> Timeline:
        """A trader's trades over time (:mod:`p2pescrow.market.timeline`): role, price, outcome and the
        rating received per trade, and its score after each rating (what its chart draws)."""
        return self._timeline(_address(address))

    def stats(self) -> MarketStats:
        """The market's figures from the index: volume per asset per day and week, outcomes, dispute
        rate, time to release, platform fees, the arbiters' table."""
        return self._stats(self._now())

    def trades(self, *, party: str | None = None, state: TradeState | None = None, token: str | None = None,
               sync: bool = True) -> list[Trade]:
        """``EscrowClient.trades`` from the index: the same trades (oldest first), found by a query
        instead of a scan of the chain's logs; their states read from the node now, in batches. Syncs
        the new blocks first unless ``sync=False``."""
        if sync:
            self.sync()
        return self._trades(party, state, token)

    def history(self, trade_id: str, *, sync: bool = True) -> list[HistoryEntry]:
        """``EscrowClient.history`` from the index: every event of a trade, oldest first."""
        if sync:
            self.sync()
        return self._history(trade_id)

    def due(self, account: str | None = None, *, sync: bool = True) -> list[DueAction]:
        """``EscrowClient.due`` from the index: where ``account`` (default: the escrow client's) must
        act before a deadline, soonest first, with what it loses if it does not."""
        if sync:
            self.sync()
        return self._due(account)


class AsyncMarketClient(MarketBase):
    """:class:`MarketClient` for asyncio: the same operations, awaited; the database in a worker thread."""

    def __init__(self, escrow_client: AsyncEscrowClient, db: str | None = None) -> None:
        self._setup(escrow_client, db)

    @classmethod
    async def connect(cls, rpc_url: str, account: Signer | None = None, *, db: str | None = None,
                      **options: Any) -> AsyncMarketClient:
        """Connect an :class:`~p2pescrow.clients.aio.AsyncEscrowClient` by URL and index it into ``db``."""
        from ..clients.aio import AsyncEscrowClient

        return cls(await AsyncEscrowClient.connect(rpc_url, account, **options), db)

    # -- the board ---------------------------------------------------------------------------------
    async def publish(self, signed: SignedOffer, document: bytes | str | dict[str, Any]) -> TxResult:
        """Put a signed offer and its terms document on the offer board (as :meth:`MarketClient.publish`)."""
        return await self.escrow_client.publish_offer(signed, document)

    # -- the index ---------------------------------------------------------------------------------
    async def sync(self, progress: Progress | None = None) -> SyncReport:
        """Read the new blocks into the index (as :meth:`MarketClient.sync`), in a worker thread:
        ``progress`` is called from that thread."""
        return await asyncio.to_thread(self._sync_index, progress)

    async def _now(self) -> int:
        return int((await self.escrow_client.now()).timestamp())

    async def _symbols(self) -> dict[str, str]:
        tokens = await asyncio.to_thread(self._tokens_shown)
        return _symbols_known(tokens, await asyncio.gather(*(self._token_or_none(token) for token in tokens)))

    async def _token_or_none(self, token: str) -> Any:
        try:
            return await self.escrow_client.token(token)
        except InputError:
            return None

    # -- reads -------------------------------------------------------------------------------------
    async def search(self, *, sync: bool = True, **filters: Any) -> list[OfferHit]:
        """The offers a buyer can fill now (as :meth:`MarketClient.search`)."""
        if sync:
            await self.sync()
        now, symbols = await asyncio.gather(self._now(), self._symbols())
        return await asyncio.to_thread(self._search, filters, now, symbols)

    async def offer(self, offer_id: str) -> OfferHit | None:
        """One offer of the index by its id, or None (as :meth:`MarketClient.offer`)."""
        now, symbols = await asyncio.gather(self._now(), self._symbols())
        return await asyncio.to_thread(self._offer, offer_id, now, symbols)

    async def screening(self, address: str) -> Screening:
        """What the index knows of a trader (as :meth:`MarketClient.screening`)."""
        return await asyncio.to_thread(self._screening, _address(address))

    async def timeline(self, address: str) -> Timeline:
        """A trader's trades over time (as :meth:`MarketClient.timeline`)."""
        return await asyncio.to_thread(self._timeline, _address(address))

    async def stats(self) -> MarketStats:
        """The market's figures from the index (as :meth:`MarketClient.stats`)."""
        return await asyncio.to_thread(self._stats, await self._now())

    async def trades(self, *, party: str | None = None, state: TradeState | None = None, token: str | None = None,
                     sync: bool = True) -> list[Trade]:
        """The trades from the index (as :meth:`MarketClient.trades`), in a worker thread."""
        if sync:
            await self.sync()
        return await asyncio.to_thread(self._trades, party, state, token)

    async def history(self, trade_id: str, *, sync: bool = True) -> list[HistoryEntry]:
        """A trade's events from the index (as :meth:`MarketClient.history`)."""
        if sync:
            await self.sync()
        return await asyncio.to_thread(self._history, trade_id)

    async def due(self, account: str | None = None, *, sync: bool = True) -> list[DueAction]:
        """Where ``account`` must act, from the index (as :meth:`MarketClient.due`), in a worker thread."""
        if sync:
            await self.sync()
        return await asyncio.to_thread(self._due, account)


__all__ = ["AsyncMarketClient", "MarketClient"]
