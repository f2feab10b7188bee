"""``market sync``: the escrow's and its Reputation's logs, read into the market index.

    from p2pescrow.market.db import open_database
    from p2pescrow.market.sync import Indexer

    report = Indexer(open_database(url), rpc_url, deployment).sync()

How it reads (stdlib JSON-RPC, :class:`~p2pescrow.transport.rpc.RpcClient`):

- **Incremental and resumable.** ``sync_state.last_block`` is the last block whose logs are all in
  the domain tables; a sync reads from the block after it (the deployment block on a fresh index)
  to the head (or ``to_block``).
- **One transaction per page.** Each page of blocks (:class:`~p2pescrow.transport.logs.Pager`: the
  sizes a range-limited provider accepts) is written in ONE database transaction together with the
  new ``last_block``: killed at any point, the index is at some page boundary, and the next sync
  goes on from there. An event already stored (same block and log index) is never applied twice.
- **Reorg-safe.** The hashes of the blocks read are kept (``blocks``: the ones with events, each
  page's last block, and every block near the head). Before each page the stored hash of
  ``last_block`` is compared with the node's; on a mismatch the recent stored blocks are compared
  (one batched request) to find the newest one still on the chain, everything after it is deleted,
  the derived rows (trades, bonds, listings, offer statuses, the fee) are rebuilt from the events
  that remain, and the sync reads on from there.
- **Polite.** Logs of both contracts in one ``eth_getLogs`` per page, block headers in batched
  requests of :data:`BATCH` at most, and ``progress(done, total)`` after each page.

Board posts are checked by :func:`p2pescrow.market.board.verify_post`; a bad one is recorded in
``rejected_posts`` with the reason, never indexed as an offer and never a crash.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from eth_utils import to_checksum_address
from sqlalchemy import Engine, delete, select, update
from sqlalchemy.orm import Session

from ..core.codec import escrow_codec, reputation_codec
from ..errors import NetworkError, P2PEscrowError
from ..states import TradeState
from ..transport.logs import Pager
from ..transport.rpc import RpcClient, RpcError
from . import schema as s
from .board import RejectedPost, verify_post
from .queries import refresh_records, refresh_scores
from .relayed import RELAYED, nonce_used
from .relayed import restore as restore_relayed

__all__ = ["BATCH", "DEFAULT_PAGE", "REORG_DEPTH", "ChainMismatch", "Indexer", "SyncReport"]

#: Tries to read or create the sync state row when another sync's insert raced this one's.
STATE_TRIES = 3

#: Blocks per page of logs at first (the Pager halves on a provider's refusal, grows back after).
DEFAULT_PAGE = 2_000
#: Most block headers asked for in one batched request.
BATCH = 100
#: How far back a reorg is looked for: blocks this close to the head are all kept in ``blocks``.
REORG_DEPTH = 64
#: Pages read again in a row because the chain changed under them, before the sync gives up.
MAX_UNSTEADY = 8
#: Test hooks (the kill-and-resume test's windows): seconds to sleep after each committed page, and
#: inside each page's transaction, its rows written but not committed.
PAGE_DELAY_ENV = "P2PESCROW_SYNC_PAGE_DELAY"
WRITE_DELAY_ENV = "P2PESCROW_SYNC_WRITE_DELAY"

BPS = 10_000
ZERO = "0x" + "00" * 20
UINT112_MAX = (1 << 112) - 1
FLAG_RECORD_REPUTATION = 2
FLAG_CREATED_BY_SELLER = 4

Progress = Callable[[int, int], None]


class DeploymentLike(Protocol):
    chain_id: int
    escrow: str
    reputation: str
    block: int
    platform_fee_bps: int


class ChainMismatch(NetworkError):
    """The node is another chain than the one the index was built from (another genesis): a reset
    local chain, or another network reusing the chain id."""


@dataclass(frozen=True)
class SyncReport:
    """What one :meth:`Indexer.sync` did."""

    from_block: int
    to_block: int
    #: Logs read and stored.
    events: int
    #: Board posts indexed as offers, and rejected.
    offers: int
    rejected: int
    #: Trades created in the blocks read.
    trades: int
    #: Blocks rewound after a reorg (0 without one).
    rewound: int
    seconds: float


@dataclass
class _Counts:
    events: int = 0
    offers: int = 0
    rejected: int = 0
    trades: int = 0
    rewound: int = 0


def _json_value(value: Any) -> Any:
    """A decoded event argument as JSON: integers as decimal strings, bytes as 0x hex."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if isinstance(value, Mapping):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    return value


def _int(value: Any) -> int:
    return int(value, 16) if isinstance(value, str) and value.startswith("0x") else int(value)


class Indexer:
    """Reads one escrow deployment's logs into the market index (see the module's docstring)."""

    def __init__(self, engine: Engine, rpc_url: str, deployment: DeploymentLike, *, page: int = DEFAULT_PAGE,
                 progress: Progress | None = None, rpc: RpcClient | None = None) -> None:
        self.engine = engine
        self.rpc = rpc or RpcClient(rpc_url)
        self.deployment = deployment
        self.chain_id = int(deployment.chain_id)
        self.escrow = to_checksum_address(deployment.escrow)
        self.reputation = to_checksum_address(deployment.reputation)
        self.page = max(1, int(page))
        self.progress = progress
        self._escrow_codec = escrow_codec()
        self._reputation_codec = reputation_codec()
        self._page_delay = float(os.environ.get(PAGE_DELAY_ENV) or 0)
        self._write_delay = float(os.environ.get(WRITE_DELAY_ENV) or 0)
        #: The accounts the page being written rated or published offers of (their scores, and their
        #: offers' seller_score, to refresh), None once a listing changed in it (every score).
        self._rated: set[str] | None = set()
        #: The parties of the trades the page being written touched (their trade records to refresh).
        self._traders: set[str] = set()

    # -- the sync ---------------------------------------------------------------------------------------
    def sync(self, to_block: int | None = None) -> SyncReport:
        """Read every block after the last one synced up to ``to_block`` (default: the head)."""
        started = time.monotonic()
        counts = _Counts()
        head = _int(self.rpc.request("eth_blockNumber"))
        target = head if to_block is None else min(int(to_block), head)
        state = self._state()
        first = state.last_block + 1
        counts.rewound += self._check_reorg(state.last_block)
        last = self._state().last_block
        first = min(first, last + 1)
        base = last  # progress counts blocks from here
        pager = Pager(last + 1, target, self.page)
        unsteady = 0
        while (span := pager.next_range()) is not None:
            try:
                logs = self.rpc.request("eth_getLogs", [{
                    "address": [self.escrow, self.reputation],
                    "fromBlock": hex(span[0]), "toBlock": hex(span[1]),
                }]) or []
            except RpcError as exc:
                if pager.refusal(exc):
                    continue
                raise
            headers = self._headers(self._wanted_blocks(span, logs, head, last))
            if not self._consistent(last, headers, logs):
                # The chain moved under the page: find the fork, rewind, and read again from there.
                unsteady += 1
                if unsteady > MAX_UNSTEADY:
                    raise P2PEscrowError(f"the node's blocks kept changing while block {span[0]} on was read "
                                         f"({MAX_UNSTEADY} tries): try the sync again later")
                counts.rewound += self._check_reorg(last)
                last = self._state().last_block
                first = min(first, last + 1)
                head = _int(self.rpc.request("eth_blockNumber"))
                target = min(target, head) if to_block is not None else head
                base = min(base, last)
                pager = Pager(last + 1, target, self.page)
                continue
            unsteady = 0
            self._write_page(span, logs, headers, counts, expected_last=last)
            last = span[1]
            pager.accepted(span[1])
            if self.progress is not None:
                self.progress(last - base, max(target - base, 0))
            if self._page_delay:
                time.sleep(self._page_delay)
        if counts.events:
            self._refresh_statistics()
        return SyncReport(first, max(last, first - 1), counts.events, counts.offers, counts.rejected, counts.trades,
                          counts.rewound, time.monotonic() - started)

    def _refresh_statistics(self) -> None:
        """The query planner's table statistics, after new rows. Without them SQLite plans search's
        "nonce already used" check on the wrong index and one search over 10,000 offers takes minutes;
        ANALYZE takes milliseconds there. (PostgreSQL's autovacuum analyzes too, but not at once.)"""
        with self.engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")

    # -- bookkeeping ------------------------------------------------------------------------------------
    def _state(self) -> s.SyncState:
        """The index's sync state for this deployment, created on first use (genesis checked). Two
        first syncs at once both try to create it: the one whose insert loses reads the other's."""
        from sqlalchemy.exc import DBAPIError

        genesis = self.rpc.request("eth_getBlockByNumber", ["0x0", False])["hash"]
        for attempt in range(1, STATE_TRIES + 1):
            try:
                return self._state_row(genesis)
            except DBAPIError:
                if attempt == STATE_TRIES:
                    raise
                time.sleep(0.1 * attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _state_row(self, genesis: str) -> s.SyncState:
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            state = session.get(s.SyncState, (self.chain_id, self.escrow))
            if state is None:
                state = s.SyncState(chain_id=self.chain_id, escrow=self.escrow, reputation=self.reputation,
                                    genesis=genesis, start_block=int(self.deployment.block),
                                    last_block=int(self.deployment.block) - 1,
                                    platform_fee_bps=int(self.deployment.platform_fee_bps), updated_at=0)
                session.add(state)
            elif state.genesis != genesis:
                raise ChainMismatch(
                    f"the index holds chain {self.chain_id} with genesis {state.genesis}, but the node's genesis is "
                    f"{genesis}: another chain with the same id (a reset local chain?)",
                    hint="index it in another database (--db), or delete this one to start over")
            return state

    def _wanted_blocks(self, span: tuple[int, int], logs: Sequence[Mapping[str, Any]], head: int,
                       last: int) -> list[int]:
        numbers = {_int(log["blockNumber"]) for log in logs} | {span[1]}
        numbers |= set(range(max(span[0], head - REORG_DEPTH + 1), span[1] + 1))
        if last >= 0:
            numbers.add(last)
        return sorted(numbers)

    def _headers(self, numbers: Iterable[int]) -> dict[int, dict[str, Any]]:
        wanted = list(numbers)
        out: dict[int, dict[str, Any]] = {}
        for i in range(0, len(wanted), BATCH):
            chunk = wanted[i:i + BATCH]
            answers = self.rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n in chunk])
            for number, block in zip(chunk, answers, strict=True):
                if block is not None:
                    out[number] = block
        return out

    def _consistent(self, last: int, headers: Mapping[int, Mapping[str, Any]],
                    logs: Sequence[Mapping[str, Any]]) -> bool:
        """The page's logs and headers agree with each other and with the stored last block."""
        for log in logs:
            block = headers.get(_int(log["blockNumber"]))
            if block is None or block["hash"] != log.get("blockHash", block["hash"]):
                return False
        if last >= 0 and last in headers:
            with Session(self.engine) as session:
                stored = session.get(s.Block, (self.chain_id, last))
            if stored is not None and stored.hash != headers[last]["hash"]:
                return False
        return True

    def _check_reorg(self, last: int) -> int:
        """Rewind the index to the newest stored block the node still has; the number of blocks
        rewound (0 when the stored last block is still on the chain)."""
        with Session(self.engine) as session:
            stored = session.scalars(
                select(s.Block).where(s.Block.chain_id == self.chain_id, s.Block.number <= last)
                .order_by(s.Block.number.desc()).limit(REORG_DEPTH)).all()
            recent = [(b.number, b.hash) for b in stored]
        if not recent:
            return 0
        headers = self._headers([n for n, _ in recent])
        if recent[0][0] in headers and headers[recent[0][0]]["hash"] == recent[0][1]:
            return 0
        ancestor = next((n for n, h in recent if n in headers and headers[n]["hash"] == h), None)
        start = int(self.deployment.block)
        keep = ancestor if ancestor is not None else start - 1
        self._rewind(keep)
        return last - keep

    def _rewind(self, keep: int) -> None:
        """Delete everything read after block ``keep`` and rebuild the derived rows from the events
        kept, in one transaction."""
        c = self.chain_id
        with Session(self.engine) as session, session.begin():
            state = self._lock(session)
            session.execute(delete(s.Event).where(s.Event.chain_id == c, s.Event.block_number > keep))
            session.execute(delete(s.RejectedPost).where(s.RejectedPost.chain_id == c,
                                                         s.RejectedPost.block_number > keep))
            session.execute(delete(s.Rating).where(s.Rating.chain_id == c, s.Rating.block_number > keep))
            session.execute(delete(s.Offer).where(s.Offer.chain_id == c, s.Offer.published_block > keep))
            restore_relayed(session, c)  # relayed offers whose publication was rewound: relayed again
            session.execute(delete(s.Block).where(s.Block.chain_id == c, s.Block.number > keep))
            # The derived rows: rebuilt from the events that remain.
            session.execute(delete(s.Trade).where(s.Trade.chain_id == c))
            session.execute(delete(s.Bond).where(s.Bond.chain_id == c))
            session.execute(delete(s.Listing).where(s.Listing.chain_id == c))
            session.execute(update(s.Offer).where(s.Offer.chain_id == c).values(status="open", trade_id=None))
            state.platform_fee_bps = int(self.deployment.platform_fee_bps)
            session.flush()
            events = session.scalars(select(s.Event).where(s.Event.chain_id == c)
                                     .order_by(s.Event.block_number, s.Event.log_index)).all()
            for event in events:
                self._apply(session, state, event.name, json.loads(event.args), event.block_number,
                            event.timestamp, event.log_index)
                session.flush()
            refresh_scores(session, c)
            refresh_records(session, c)
            state.last_block = keep
            state.updated_at = int(time.time())

    def _lock(self, session: Session) -> s.SyncState:
        """The sync state row, locked for this transaction (an UPDATE first: on SQLite it takes the
        write lock at once, so two syncs never interleave their pages)."""
        session.execute(update(s.SyncState).where(s.SyncState.chain_id == self.chain_id,
                                                  s.SyncState.escrow == self.escrow)
                        .values(updated_at=int(time.time())))
        state = session.get(s.SyncState, (self.chain_id, self.escrow), populate_existing=True)
        assert state is not None
        return state

    # -- one page ---------------------------------------------------------------------------------------
    def _write_page(self, span: tuple[int, int], logs: Sequence[Mapping[str, Any]],
                    headers: Mapping[int, Mapping[str, Any]], counts: _Counts, *, expected_last: int) -> None:
        c = self.chain_id
        with Session(self.engine) as session, session.begin():
            state = self._lock(session)
            if state.last_block != expected_last:
                # Another sync moved the index meanwhile: skip what it already wrote.
                if state.last_block >= span[1]:
                    return
            for number, block in headers.items():
                if number < span[0] and number != expected_last:
                    continue
                session.merge(s.Block(chain_id=c, number=number, hash=block["hash"],
                                      parent_hash=block["parentHash"], timestamp=_int(block["timestamp"])))
            self._rated, self._traders = set(), set()
            for log in sorted(logs, key=lambda x: (_int(x["blockNumber"]), _int(x["logIndex"]))):
                self._store_log(session, state, log, headers, counts)
            # The derived screening rows of the accounts the page changed, in the same transaction.
            refresh_scores(session, c, self._rated)
            refresh_records(session, c, self._traders)
            state.last_block = max(state.last_block, span[1])
            if self._write_delay:
                session.flush()
                time.sleep(self._write_delay)

    def _store_log(self, session: Session, state: s.SyncState, log: Mapping[str, Any],
                   headers: Mapping[int, Mapping[str, Any]], counts: _Counts) -> None:
        number, index = _int(log["blockNumber"]), _int(log["logIndex"])
        if session.get(s.Event, (self.chain_id, number, index)) is not None:
            return  # already stored (and applied): re-reading a page changes nothing
        address = to_checksum_address(log["address"])
        codec = self._escrow_codec if address == self.escrow else self._reputation_codec
        timestamp = _int(headers[number]["timestamp"])
        tx_hash = str(log.get("transactionHash"))
        try:
            decoded = codec.decode_log(log)
        except Exception as exc:  # noqa: BLE001 - a log the ABI cannot decode is recorded, not fatal
            decoded = None
            reason = f"undecodable log: {type(exc).__name__} {exc}"
        else:
            reason = "not an event of this contract"
        if decoded is None:
            if log.get("topics") and address == self.escrow and \
                    log["topics"][0] == self._escrow_codec.topic("OfferPublished"):
                session.add(s.RejectedPost(chain_id=self.chain_id, block_number=number, log_index=index,
                                           tx_hash=tx_hash, reason=reason[:1000]))
                counts.rejected += 1
            return
        args = _json_value(decoded.args)
        trade_id = args.get("tradeId") if decoded.name == "Rated" else args.get("id")
        stored_args = args
        if decoded.name == "OfferPublished":
            # The post is checked and stored once (offers / rejected_posts); the event keeps its
            # offer struct but not the document bytes twice.
            stored_args = {k: v for k, v in args.items() if k != "terms"}
        session.add(s.Event(chain_id=self.chain_id, block_number=number, log_index=index, tx_hash=tx_hash,
                            address=address, name=decoded.name,
                            trade_id=trade_id if isinstance(trade_id, str) else None,
                            args=json.dumps(stored_args, sort_keys=True), timestamp=timestamp))
        counts.events += 1
        if decoded.name == "OfferPublished":
            self._store_post(session, decoded.args, number, index, tx_hash, timestamp, counts)
        elif decoded.name == "Rated":
            self._store_rating(session, args, number, timestamp)
        if decoded.name == "TradeCreated":
            counts.trades += 1
        self._apply(session, state, decoded.name, args, number, timestamp, index)
        if address == self.escrow and isinstance(trade_id, str):
            trade = self._trade(session, trade_id)
            if trade is not None:
                self._traders.update((trade.buyer, trade.seller))
        session.flush()

    def _store_post(self, session: Session, args: Mapping[str, Any], number: int, index: int, tx_hash: str,
                    timestamp: int, counts: _Counts) -> None:
        def reject(reason: str) -> None:
            session.add(s.RejectedPost(chain_id=self.chain_id, block_number=number, log_index=index,
                                       tx_hash=tx_hash, reason=reason[:1000]))
            counts.rejected += 1

        try:
            listing = verify_post(args, self.chain_id, self.escrow)
        except RejectedPost as exc:
            reject(str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - whatever a hostile post trips, it is a rejection
            reject(f"unreadable post: {type(exc).__name__} {exc}")
            return
        existing = session.scalars(select(s.Offer).where(s.Offer.chain_id == self.chain_id,
                                                         s.Offer.id == listing.id)).first()
        if existing is not None and existing.source == RELAYED:
            # A relayed offer published on the board: now an on-chain one (a rewind makes it relayed again).
            existing.source, existing.signature = "board", "0x" + listing.signed.signature.hex()
            existing.published_block, existing.published_at = number, timestamp
            existing.tx_hash, existing.log_index = tx_hash, index
            counts.offers += 1
            return
        if existing is not None:
            reject(f"a repost of offer {listing.id} (published in block {existing.published_block})")
            return
        o = listing.signed.offer
        f = listing.fields
        session.add(s.Offer(
            chain_id=self.chain_id, id=listing.id, seller=o.seller, buyer=o.buyer, token=o.token, arbiter=o.arbiter,
            amount=o.amount, buyer_deposit=o.buyerDeposit, seller_deposit=o.sellerDeposit,
            arbiter_fee_bps=o.arbiterFeeBps, platform_fee_bps=o.platformFeeBps, release_window=o.releaseWindow,
            arbitration_window=o.arbitrationWindow, flags=o.flags, terms_hash="0x" + o.termsHash.hex(),
            nonce=o.nonce, expiry=o.expiry, signature="0x" + listing.signed.signature.hex(),
            document=listing.document, title=f["title"], description=f["description"], category=f["category"],
            tags=json.dumps(f["tags"]), payment_method=f["payment_method"], fiat_price=f["fiat_price"],
            status=self._nonce_status(session, o.seller, o.nonce), trade_id=None, source="board",
            published_block=number, published_at=timestamp, tx_hash=tx_hash, log_index=index))
        counts.offers += 1
        if self._rated is not None:
            self._rated.add(o.seller)  # its seller_score is set with the scores at the end of the page

    def _nonce_status(self, session: Session, seller: str, nonce: int) -> str:
        """open, or revoked when the seller's nonce was already used (filled or revoked) before."""
        return "revoked" if nonce_used(session, self.chain_id, seller, nonce) else "open"

    def _store_rating(self, session: Session, args: Mapping[str, Any], number: int, timestamp: int) -> None:
        session.merge(s.Rating(
            chain_id=self.chain_id, trade_id=args["tradeId"], rater=args["rater"], ratee=args["ratee"],
            role=int(args["role"]), asset=args["asset"], amount=int(args["amount"]), score=int(args["score"]),
            comment_hash=args["commentHash"], block_number=number, timestamp=timestamp))
        if self._rated is not None:
            self._rated.add(args["ratee"])

    # -- derived rows: trades, bonds, listings, offer statuses, the fee ---------------------------------
    def _apply(self, session: Session, state: s.SyncState, name: str, args: Mapping[str, Any], number: int,
               timestamp: int, log_index: int) -> None:
        """Apply one event to the derived rows. Works on stored (JSON) arguments too, so a rewind
        can rebuild them from the events table."""
        handler = getattr(self, f"_on_{name}", None)
        if handler is not None:
            handler(session, state, args, number, timestamp, log_index)

    def _trade(self, session: Session, trade_id: str) -> s.Trade | None:
        return session.get(s.Trade, (self.chain_id, trade_id))

    def _lock_deposit(self, session: Session, seller: str, token: str, amount: int) -> None:
        if amount <= 0:
            return
        bond = session.get(s.Bond, (self.chain_id, seller, token))
        if bond is None:
            bond = s.Bond(chain_id=self.chain_id, seller=seller, token=token, free=0)
            session.add(bond)
        bond.free = max(int(bond.free or 0) - amount, 0)

    def _records(self, session: Session, token: str, amount: int, flags: int) -> bool:
        if not flags & FLAG_RECORD_REPUTATION:
            return False
        listing = session.get(s.Listing, (self.chain_id, token))
        return bool(listing and listing.listed and int(listing.min_amount) <= amount <= UINT112_MAX)

    def _on_TradeCreated(self, session: Session, state: s.SyncState, args: Mapping[str, Any], number: int,
                         timestamp: int, _index: int) -> None:
        t = args["terms"]
        held = int(args["held"])
        flags, seller_deposit = int(t["flags"]), int(t["sellerDeposit"])
        by_seller = bool(flags & FLAG_CREATED_BY_SELLER)
        if held == 0:
            trade_state = TradeState.AWAITING_FUNDING
        elif seller_deposit and not by_seller:
            trade_state = TradeState.AWAITING_DEPOSIT
        else:
            trade_state = TradeState.FUNDED
        live = trade_state == TradeState.FUNDED
        deadline = timestamp + int(t["releaseWindow"] if live else t["fundingWindow"])
        seller, token = to_checksum_address(t["seller"]), to_checksum_address(t["token"])
        if by_seller:
            self._lock_deposit(session, seller, token, seller_deposit)
        session.merge(s.Trade(
            chain_id=self.chain_id, id=args["id"], buyer=to_checksum_address(t["buyer"]), seller=seller, token=token,
            arbiter=to_checksum_address(t["arbiter"]), amount=int(t["amount"]), buyer_deposit=int(t["buyerDeposit"]),
            seller_deposit=seller_deposit, arbiter_fee_bps=int(t["arbiterFeeBps"]),
            platform_fee_bps=int(t["platformFeeBps"]), funding_window=int(t["fundingWindow"]),
            release_window=int(t["releaseWindow"]), arbitration_window=int(t["arbitrationWindow"]), flags=flags,
            terms_hash=str(t["termsHash"]), salt=int(t["salt"]), state=int(trade_state), held=held, deadline=deadline,
            seller_acted=by_seller, seller_deposited=by_seller and seller_deposit > 0,
            records=self._records(session, token, int(t["amount"]), flags), created_block=number,
            created_at=timestamp, live_at=timestamp if live else None, disputed_at=None, ended_at=None, outcome=None,
            buyer_bps=None, arbiter_fee=0, platform_fee=0, offer_id=None))

    def _on_TradeFunded(self, session: Session, state: s.SyncState, args: Mapping[str, Any], number: int,
                        timestamp: int, _index: int) -> None:
        trade = self._trade(session, args["id"])
        if trade is None:
            return
        trade.held = int(args["held"])
        trade.state = int(args["state"])
        trade.deadline = int(args["deadline"])
        if trade.state == TradeState.FUNDED and trade.live_at is None:
            trade.live_at = timestamp

    def _on_SellerAccepted(self, session: Session, state: s.SyncState, args: Mapping[str, Any],
                           number: int, timestamp: int, _index: int) -> None:
        trade = self._trade(session, args["id"])
        if trade is None:
            return
        trade.seller_acted = True
        if int(trade.seller_deposit):
            trade.seller_deposited = True
            self._lock_deposit(session, trade.seller, trade.token, int(trade.seller_deposit))
        trade.state = int(args["state"])
        trade.deadline = int(args["deadline"])
        if trade.state == TradeState.FUNDED and trade.live_at is None:
            trade.live_at = timestamp

    def _end(self, trade: s.Trade, trade_state: TradeState, outcome: str, timestamp: int) -> None:
        trade.state = int(trade_state)
        trade.outcome = outcome
        trade.held = 0
        trade.ended_at = timestamp

    def _released_before(self, session: Session, trade_id: str) -> bool:
        return session.scalars(select(s.Event.log_index).where(
            s.Event.chain_id == self.chain_id, s.Event.trade_id == trade_id, s.Event.name == "Released")
            .limit(1)).first() is not None

    def _on_Released(self, session: Session, state: s.SyncState, args: Mapping[str, Any], number: int,
                     timestamp: int, _index: int) -> None:
        trade = self._trade(session, args["id"])
        if trade is None:
            return
        fee = int(args["platformFee"])
        trade.platform_fee = int(trade.platform_fee or 0) + fee
        trade.held = max(int(trade.held) - int(args["toSeller"]) - fee, 0)
        if trade.held == 0:
            self._end(trade, TradeState.COMPLETED, "released", timestamp)

    def _on_Refunded(self, session: Session, state: s.SyncState, args: Mapping[str, Any], number: int,
                     timestamp: int, _index: int) -> None:
        trade = self._trade(session, args["id"])
        if trade is None:
            return
        trade.held = max(int(trade.held) - int(args["toBuyer"]), 0)
        if trade.held == 0:
            paid = self._released_before(session, trade.id)
            self._end(trade, TradeState.COMPLETED if paid else TradeState.REFUNDED, "refunded", timestamp)

    def _on_Cancelled(self, session: Session, state: s.SyncState, args: Mapping[str, Any], number: int,
                      timestamp: int, _index: int) -> None:
        trade = self._trade(session, args["id"])
        if trade is not None:
            self._end(trade, TradeState.CANCELLED, "cancelled", timestamp)

    def _on_DeliveryMarked(self, session: Session, state: s.SyncState, args: Mapping[str, Any],
                           number: int, timestamp: int, _index: int) -> None:
        trade = self._trade(session, args["id"])
        if trade is not None:
            trade.seller_acted = True
            trade.deadline = int(args["deadline"])

    def _on_SettlementProposed(self, session: Session, state: s.SyncState, args: Mapping[str, Any],
                               number: int, timestamp: int, _index: int) -> None:
        trade = self._trade(session, args["id"])
        if trade is not None and args["by"] == trade.seller and int(args["buyerBps"]) < BPS:
            trade.seller_acted = True

    def _on_Settled(self, session: Session, state: s.SyncState, args: Mapping[str, Any], number: int,
                    timestamp: int, _index: int) -> None:
        trade = self._trade(session, args["id"])
        if trade is None:
            return
        bps = int(args["buyerBps"])
        proposer = session.scalars(select(s.Event.args).where(
            s.Event.chain_id == self.chain_id, s.Event.trade_id == trade.id, s.Event.name == "SettlementProposed")
            .order_by(s.Event.block_number.desc(), s.Event.log_index.desc()).limit(1)).first()
        if proposer is not None and json.loads(proposer).get("by") == trade.buyer and bps < BPS:
            trade.seller_acted = True  # the seller accepted the buyer's proposal
        trade.buyer_bps = bps
        trade.platform_fee = int(trade.platform_fee or 0) + int(args["platformFee"])
        self._end(trade, TradeState.SETTLED, "settled", timestamp)

    def _on_Disputed(self, session: Session, state: s.SyncState, args: Mapping[str, Any], number: int,
                     timestamp: int, _index: int) -> None:
        trade = self._trade(session, args["id"])
        if trade is None:
            return
        if args["by"] == trade.seller:
            trade.seller_acted = True
        trade.state = int(TradeState.DISPUTED)
        trade.deadline = int(args["deadline"])
        trade.disputed_at = timestamp

    def _on_Ruled(self, session: Session, state: s.SyncState, args: Mapping[str, Any], number: int,
                  timestamp: int, _index: int) -> None:
        trade = self._trade(session, args["id"])
        if trade is None:
            return
        trade.buyer_bps = int(args["buyerBps"])
        trade.arbiter_fee = int(args["arbiterFee"])
        trade.platform_fee = int(trade.platform_fee or 0) + int(args["platformFee"])
        self._end(trade, TradeState.RESOLVED, "ruled", timestamp)

    def _on_Conceded(self, session: Session, state: s.SyncState, args: Mapping[str, Any], number: int,
                     timestamp: int, _index: int) -> None:
        trade = self._trade(session, args["id"])
        if trade is None:
            return
        trade.buyer_bps = BPS if args["by"] == trade.seller else 0
        trade.arbiter_fee = int(args["arbiterFee"])
        trade.platform_fee = int(trade.platform_fee or 0) + int(args["platformFee"])
        self._end(trade, TradeState.RESOLVED, "conceded", timestamp)

    def _on_DisputeExpired(self, session: Session, state: s.SyncState, args: Mapping[str, Any],
                           number: int, timestamp: int, _index: int) -> None:
        trade = self._trade(session, args["id"])
        if trade is None:
            return
        trade.buyer_bps = BPS // 2
        trade.platform_fee = int(trade.platform_fee or 0) + int(args["platformFee"])
        self._end(trade, TradeState.RESOLVED, "expired", timestamp)

    def _on_TimedOut(self, session: Session, state: s.SyncState, args: Mapping[str, Any], number: int,
                     timestamp: int, _index: int) -> None:
        trade = self._trade(session, args["id"])
        if trade is None:
            return
        paid = bool(args["toSeller"]) or self._released_before(session, trade.id)
        trade.platform_fee = int(trade.platform_fee or 0) + int(args["platformFee"])
        self._end(trade, TradeState.COMPLETED if paid else TradeState.REFUNDED, "timed_out", timestamp)

    def _set_bond(self, session: Session, args: Mapping[str, Any]) -> None:
        seller, token = to_checksum_address(args["seller"]), to_checksum_address(args["token"])
        bond = session.get(s.Bond, (self.chain_id, seller, token))
        if bond is None:
            session.add(s.Bond(chain_id=self.chain_id, seller=seller, token=token, free=int(args["free"])))
        else:
            bond.free = int(args["free"])

    def _on_BondDeposited(self, session: Session, state: s.SyncState, args: Mapping[str, Any],
                          number: int, timestamp: int, _index: int) -> None:
        self._set_bond(session, args)

    def _on_BondWithdrawn(self, session: Session, state: s.SyncState, args: Mapping[str, Any],
                          number: int, timestamp: int, _index: int) -> None:
        self._set_bond(session, args)

    def _offers_of(self, session: Session, seller: str, nonce: int) -> list[s.Offer]:
        return list(session.scalars(select(s.Offer).where(
            s.Offer.chain_id == self.chain_id, s.Offer.seller == seller, s.Offer.nonce == nonce)
            .order_by(s.Offer.published_block, s.Offer.log_index)).all())

    def _on_OfferFilled(self, session: Session, state: s.SyncState, args: Mapping[str, Any],
                        number: int, timestamp: int, _index: int) -> None:
        seller, nonce, trade_id = to_checksum_address(args["seller"]), int(args["nonce"]), args["id"]
        trade = self._trade(session, trade_id)
        for offer in self._offers_of(session, seller, nonce):
            matches = trade is not None and (offer.token, int(offer.amount), offer.terms_hash, offer.arbiter) == (
                trade.token, int(trade.amount), trade.terms_hash, trade.arbiter)
            if matches and (trade is not None and trade.offer_id is None):
                offer.status, offer.trade_id = "filled", trade_id
                trade.offer_id = offer.id
            elif offer.status == "open":
                offer.status = "revoked"  # its nonce is used: it can never be filled

    def _on_OfferRevoked(self, session: Session, state: s.SyncState, args: Mapping[str, Any],
                         number: int, timestamp: int, _index: int) -> None:
        for offer in self._offers_of(session, to_checksum_address(args["seller"]), int(args["nonce"])):
            if offer.status == "open":
                offer.status = "revoked"

    def _on_ReputationAssetSet(self, session: Session, state: s.SyncState, args: Mapping[str, Any],
                               number: int, timestamp: int, _index: int) -> None:
        session.merge(s.Listing(chain_id=self.chain_id, token=to_checksum_address(args["token"]),
                                listed=bool(args["listed"]), min_amount=int(args["minAmount"]), block_number=number))
        self._rated = None  # the minimums changed: every score

    def _on_PlatformFeeChanged(self, session: Session, state: s.SyncState, args: Mapping[str, Any],
                               number: int, timestamp: int, _index: int) -> None:
        state.platform_fee_bps = int(args["newBps"])
