"""Rows of the market index written straight into its tables, for the query tests: what a sync would
have written after the events a test describes (a trade that was released, a seller's bond, a
published offer), without a chain. Like the sync, a trade, a rating or a listing refreshes the derived
screening rows it changes (``market.queries.refresh_records`` and ``refresh_scores``). Defaults make a fillable
offer and a recorded, released trade; each test overrides only what its story is about.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from eth_utils import to_checksum_address
from sqlalchemy.orm import Session

from p2pescrow.market.db import open_database
from p2pescrow.market.queries import refresh_records, refresh_scores
from p2pescrow.market.schema import Bond, Listing, Offer, Rating, SyncState, Trade
from p2pescrow.models import ZERO_ADDRESS, ReputationRole
from p2pescrow.states import TradeState

CHAIN_ID = 31337
#: The chain's time in the tests: 2026-12-07 12:00 UTC.
NOW = 1_796_644_800
DAY = 86_400


def address(n: int) -> str:
    return to_checksum_address(f"0x{n:040x}")


ESCROW = address(0xE5)
REPUTATION = address(0xE6)
ALICE, BOB, CAROL, DAVE = address(0xA11CE), address(0xB0B), address(0xCA401), address(0xDA7E)
ARBITER, ARBITER_2 = address(0xA4B1), address(0xA4B2)
USDC, DAI, IMPOSTOR = address(0x05DC), address(0xDA1), address(0xBAD)
ETH = ZERO_ADDRESS
#: Six decimals: the listed minimum of USDC in the tests is 10 USDC.
USDC_MIN = 10_000_000
WEI = 10**18

_ids = itertools.count(1)


def _hex32(n: int) -> str:
    return f"0x{n:064x}"


class Rows:
    """Adds index rows on one chain through ``session`` (flushed at once)."""

    def __init__(self, session: Session, chain_id: int = CHAIN_ID) -> None:
        self.session = session
        self.chain_id = chain_id

    def _add(self, row: Any) -> Any:
        self.session.add(row)
        self.session.flush()
        return row

    def sync_state(self, fee_bps: int = 0, last_block: int = 1000) -> SyncState:
        return self._add(SyncState(
            chain_id=self.chain_id, escrow=ESCROW, reputation=REPUTATION, genesis=_hex32(1), start_block=1,
            last_block=last_block, platform_fee_bps=fee_bps, updated_at=NOW,
        ))

    def listing(self, token: str, min_amount: int, listed: bool = True) -> Listing:
        row = self._add(Listing(chain_id=self.chain_id, token=token, listed=listed, min_amount=min_amount,
                                block_number=1))
        refresh_scores(self.session, self.chain_id)  # the minimums changed: every score, as the sync does
        return row

    def bond(self, seller: str, token: str, free: int) -> Bond:
        return self._add(Bond(chain_id=self.chain_id, seller=seller, token=token, free=free))

    def offer(self, **fields: Any) -> Offer:
        n = next(_ids)
        values: dict[str, Any] = {
            "chain_id": self.chain_id, "id": _hex32(0x0FF0 << 32 | n), "seller": ALICE, "buyer": ZERO_ADDRESS,
            "token": USDC, "arbiter": ARBITER, "amount": 100 * 10**6, "buyer_deposit": 0, "seller_deposit": 0,
            "arbiter_fee_bps": 100, "platform_fee_bps": 0, "release_window": 3 * DAY, "arbitration_window": 7 * DAY,
            "flags": 2, "terms_hash": _hex32(n), "nonce": n, "expiry": NOW + DAY, "signature": "0x" + "11" * 65,
            "document": "{}", "title": "", "description": "", "category": "", "tags": "[]",
            "payment_method": "", "fiat_price": "", "status": "open", "trade_id": None, "source": "board",
            "published_block": 100 + n, "published_at": NOW - DAY + n, "tx_hash": _hex32(n), "log_index": 0,
        }
        values.update(fields)
        row = self._add(Offer(**values))
        refresh_scores(self.session, self.chain_id, [row.seller])  # its seller_score, as the sync does
        return row

    def trade(self, **fields: Any) -> Trade:
        """A trade; by default a recorded one of Bob buying 100 USDC from Alice, released a day after it
        went live."""
        n = next(_ids)
        live_at = fields.pop("live_at", NOW - 10 * DAY)
        values: dict[str, Any] = {
            "chain_id": self.chain_id, "id": _hex32(0x7AD3 << 32 | n), "buyer": BOB, "seller": ALICE,
            "token": USDC, "arbiter": ARBITER, "amount": 100 * 10**6, "buyer_deposit": 0, "seller_deposit": 0,
            "arbiter_fee_bps": 100, "platform_fee_bps": 0, "funding_window": DAY, "release_window": 3 * DAY,
            "arbitration_window": 7 * DAY, "flags": 2, "terms_hash": _hex32(n), "salt": n,
            "state": int(TradeState.COMPLETED), "held": 0, "deadline": 0, "seller_acted": True,
            "seller_deposited": False, "records": True, "created_block": 10 + n,
            "created_at": (live_at or NOW - 10 * DAY) - 60, "live_at": live_at, "disputed_at": None,
            "ended_at": None if live_at is None else live_at + DAY, "outcome": "released", "buyer_bps": None,
            "arbiter_fee": 0, "platform_fee": 0, "offer_id": None,
        }
        values.update(fields)
        row = self._add(Trade(**values))
        refresh_records(self.session, self.chain_id, [row.buyer, row.seller])  # as the sync does for its parties
        return row

    def rating(self, trade: Trade, rater: str, score: int, **fields: Any) -> Rating:
        """``rater``'s rating of its counterparty in ``trade`` (the trade's asset and price)."""
        ratee = trade.seller if rater == trade.buyer else trade.buyer
        role = ReputationRole.SELLER if ratee == trade.seller else ReputationRole.BUYER
        values: dict[str, Any] = {
            "chain_id": self.chain_id, "trade_id": trade.id, "rater": rater, "ratee": ratee, "role": int(role),
            "asset": trade.token, "amount": trade.amount, "score": score, "comment_hash": _hex32(0),
            "block_number": trade.created_block + 5, "timestamp": (trade.ended_at or NOW) + 60,
        }
        values.update(fields)
        row = self._add(Rating(**values))
        refresh_scores(self.session, self.chain_id, [row.ratee])  # as the sync does for the accounts it rated
        return row


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    """A session on a fresh market index (its schema made by the migrations), on SQLite and on
    PostgreSQL (``db_url``)."""
    engine = open_database(db_url)
    try:
        with Session(engine) as s:
            yield s
    finally:
        engine.dispose()


@pytest.fixture
def rows(session: Session) -> Rows:
    return Rows(session)
