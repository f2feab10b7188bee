"""The log queries of the reads (no I/O): the ``eth_getLogs`` filters that find a trade's terms and
a party's trades, and the error when no trade has that id. Shared by the clients and the CLI's
reader (:mod:`p2pescrow.reader`), so both look for trades the same way."""

from __future__ import annotations

from typing import Any

from ..bindings import TRADE_CREATED
from ..errors import InputError
from .terms import checksum


def terms_query(escrow: str, trade_id: str) -> dict[str, Any]:
    """The TradeCreated log of one trade (its id is the first indexed topic)."""
    return {"address": escrow, "topics": [TRADE_CREATED, trade_id]}


def trades_queries(escrow: str, party: str | None = None) -> list[dict[str, Any]]:
    """The TradeCreated logs of every trade, or of ``party``'s: as buyer, then as seller."""
    queries: list[list[Any]] = [[TRADE_CREATED]]
    if party:
        topic = "0x" + "00" * 12 + checksum(party)[2:].lower()
        queries = [[TRADE_CREATED, None, topic], [TRADE_CREATED, None, None, topic]]
    return [{"address": escrow, "topics": topics} for topics in queries]


def no_trade(chain_id: int, trade_id: str) -> InputError:
    """The error for a trade id no TradeCreated log carries (exit 2)."""
    return InputError(f"no trade {trade_id} on this escrow (chain id {chain_id})",
                      hint="check the trade id and the network")


__all__ = ["no_trade", "terms_query", "trades_queries"]
