"""The log queries of the reads (no I/O): the ``eth_getLogs`` filters that find a trade's terms and
a party's trades, and the error when no trade has that id. Shared by the clients and the CLI's
reader (:mod:`p2pescrow.reader`), so both look for trades the same way."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..bindings import TRADE_CREATED, topics
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


def reputation_assets_query(escrow: str) -> dict[str, Any]:
    """The ReputationAssetSet logs of the escrow: every listing, re-pricing and delisting."""
    return {"address": escrow, "topics": [topics()["ReputationAssetSet"]]}


def reputation_assets_from_events(events: Iterable[Any]) -> dict[str, tuple[bool, int]]:
    """Asset -> (listed, minimum) from decoded ReputationAssetSet events in chain order (the last one
    of each asset holds); other events are skipped. ETH is the zero address."""
    assets: dict[str, tuple[bool, int]] = {}
    for event in events:
        if getattr(event, "name", None) != "ReputationAssetSet":
            continue
        args: Mapping[str, Any] = event.args
        assets[checksum(str(args["token"]))] = (bool(args["listed"]), int(args["minAmount"]))
    return assets


def offers_query(escrow: str, seller: str | None = None) -> dict[str, Any]:
    """The OfferPublished logs (the offer board), all or one seller's."""
    query: list[Any] = [topics()["OfferPublished"]]
    if seller:
        query.append("0x" + "00" * 12 + checksum(seller)[2:].lower())
    return {"address": escrow, "topics": query}


def no_trade(chain_id: int, trade_id: str) -> InputError:
    """The error for a trade id no TradeCreated log carries (exit 2)."""
    return InputError(f"no trade {trade_id} on this escrow (chain id {chain_id})",
                      hint="check the trade id and the network")


__all__ = ["no_trade", "offers_query", "reputation_assets_from_events", "reputation_assets_query", "terms_query",
           "trades_queries"]
