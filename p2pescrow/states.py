"""The states of a trade, as the escrow contract numbers them (``IP2PEscrow.State``).

Its own module, below :mod:`p2pescrow.errors` and :mod:`p2pescrow.models`: an error names the state a
trade was in (``state=4 (COMPLETED)``), and a model carries it, without either importing the other.
"""

from __future__ import annotations

import enum


class TradeState(enum.IntEnum):
    """Where a trade is in its life; mirrors ``IP2PEscrow.State``. The last five are terminal."""

    NONE = 0
    AWAITING_FUNDING = 1
    FUNDED = 2
    DISPUTED = 3
    COMPLETED = 4
    REFUNDED = 5
    SETTLED = 6
    RESOLVED = 7
    CANCELLED = 8

    @property
    def is_terminal(self) -> bool:
        return self >= TradeState.COMPLETED


__all__ = ["TradeState"]
