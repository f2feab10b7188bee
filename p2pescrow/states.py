"""The states of a trade, as the escrow contract numbers them (``IP2PEscrow.State``), and the one
table of how a trade moves between them (:data:`TRANSITIONS`).

Its own module, below :mod:`p2pescrow.errors` and :mod:`p2pescrow.models`: an error names the state a
trade was in (``state=4 (COMPLETED)``), and a model carries it, without either importing the other.
The trade-state picture (README, the market pages) is drawn from :data:`TRANSITIONS` by
:mod:`p2pescrow.diagram`; a test checks every action it names is a function of the escrow.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class TradeState(enum.IntEnum):
    """Where a trade is in its life; mirrors ``IP2PEscrow.State`` (same numbers). The last five are
    terminal."""

    NONE = 0
    AWAITING_FUNDING = 1
    AWAITING_DEPOSIT = 2  # the buyer funded; the seller's deposit is not in yet
    FUNDED = 3  # live
    DISPUTED = 4
    COMPLETED = 5
    REFUNDED = 6
    SETTLED = 7
    RESOLVED = 8
    CANCELLED = 9

    @property
    def is_terminal(self) -> bool:
        return self >= TradeState.COMPLETED

    @property
    def is_ended(self) -> bool:
        """Ended after going live (can be rated, its fee swept): terminal but not Cancelled."""
        return self.is_terminal and self is not TradeState.CANCELLED

    @property
    def is_live(self) -> bool:
        """Funded or Disputed: both sides are in and the money moves only by the rules of a live trade."""
        return self in (TradeState.FUNDED, TradeState.DISPUTED)


@dataclass(frozen=True)
class Transition:
    """One way a trade moves: from ``source`` (None: the trade does not exist yet) to ``target``,
    by one of ``actions`` (escrow functions), done by ``who``, allowed ``when``."""

    source: TradeState | None
    target: TradeState
    actions: tuple[str, ...]
    who: str
    when: str = ""


_S = TradeState
#: How a trade moves, as the escrow enforces it. A trade goes live (Funded) only once the buyer's
#: payment and the seller's deposit are both in. The timeout outcome (release or refund) is fixed in
#: the terms at creation; with an arbiter, marking delivery makes the timeout release after a fresh
#: release window (without one, the mark changes nothing).
TRANSITIONS: tuple[Transition, ...] = (
    Transition(None, _S.AWAITING_FUNDING, ("create",), "buyer or seller", "a seller locks its deposit"),
    Transition(None, _S.AWAITING_DEPOSIT, ("createAndFund",), "buyer",
               "with a seller's deposit, which is not in yet"),
    Transition(None, _S.FUNDED, ("createAndFund", "fillOffer"), "buyer",
               "no seller's deposit, or a signed offer (which locks it)"),
    Transition(_S.AWAITING_FUNDING, _S.AWAITING_FUNDING, ("accept",), "seller",
               "locks its deposit, before the funding deadline"),
    Transition(_S.AWAITING_FUNDING, _S.AWAITING_DEPOSIT, ("fund",), "buyer",
               "before the funding deadline, the seller's deposit not in"),
    Transition(_S.AWAITING_FUNDING, _S.FUNDED, ("fund",), "buyer",
               "before the funding deadline, the seller's deposit in (or none)"),
    Transition(_S.AWAITING_FUNDING, _S.CANCELLED, ("cancel",), "creator", "anyone after the funding deadline"),
    Transition(_S.AWAITING_DEPOSIT, _S.FUNDED, ("accept",), "seller",
               "locks its deposit, before the funding deadline"),
    Transition(_S.AWAITING_DEPOSIT, _S.CANCELLED, ("cancel",), "buyer",
               "anyone after the funding deadline; all goes back"),
    Transition(_S.FUNDED, _S.FUNDED, ("release", "refund"), "buyer / seller", "a part"),
    Transition(_S.FUNDED, _S.FUNDED, ("markDelivered",), "seller", "with an arbiter the timeout then releases"),
    Transition(_S.FUNDED, _S.FUNDED, ("accept",), "seller", "records its consent"),
    Transition(_S.FUNDED, _S.COMPLETED, ("release",), "buyer", "what is left"),
    Transition(_S.FUNDED, _S.COMPLETED, ("timeout",), "anyone",
               "from the deadline, if the terms release on timeout or (with an arbiter) delivery was marked"),
    Transition(_S.FUNDED, _S.REFUNDED, ("refund",), "seller", "what is left (Completed if a part was released)"),
    Transition(_S.FUNDED, _S.REFUNDED, ("timeout",), "anyone", "from the deadline, if the terms refund on timeout"),
    Transition(_S.FUNDED, _S.DISPUTED, ("dispute",), "buyer or seller", "before the deadline, with an arbiter"),
    Transition(_S.FUNDED, _S.SETTLED, ("proposeSettlement", "acceptSettlement"), "one party, then the other"),
    Transition(_S.DISPUTED, _S.SETTLED, ("proposeSettlement", "acceptSettlement"), "one party, then the other"),
    Transition(_S.DISPUTED, _S.RESOLVED, ("rule",), "arbiter", "before the arbitration deadline"),
    Transition(_S.DISPUTED, _S.RESOLVED, ("concede",), "buyer or seller",
               "all to the other side; the arbiter gets half its fee"),
    Transition(_S.DISPUTED, _S.RESOLVED, ("resolveExpiredDispute",), "anyone",
               "after it: 50/50, no arbiter fee"),
)


__all__ = ["TRANSITIONS", "TradeState", "Transition"]
