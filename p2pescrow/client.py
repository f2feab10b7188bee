"""The synchronous SDK's import path, kept for code written against it: see :mod:`p2pescrow.clients.sync`."""

from __future__ import annotations

from .clients._base import DueAction, TradeRisk
from .clients.sync import EscrowClient, HistoryEntry, TradeResult

__all__ = ["DueAction", "EscrowClient", "HistoryEntry", "TradeResult", "TradeRisk"]
