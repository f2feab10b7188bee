"""Trade ids, the escrow slot, and the rules of what each party may do next and who gets what (no I/O)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime

from eth_abi import encode
from eth_utils import keccak

from ..models import (
    _MARK_BUYER_RATED,
    _MARK_DELIVERED,
    _MARK_PROPOSED_BY_BUYER,
    _MARK_PROPOSED_BY_SELLER,
    _MARK_RECORDS,
    _MARK_SELLER_ACTED,
    _MARK_SELLER_DEPOSITED,
    _MARK_SELLER_PAID,
    _MARK_SELLER_RATED,
    Role,
    Terms,
    TokenInfo,
    Trade,
    TradeState,
)

BPS = 10_000


def trade_id(terms: Terms) -> str:
    """``keccak256(abi.encode(terms))``, as the contract computes it, ``0x``-hex."""
    return "0x" + keccak(encode([Terms.ABI_TYPE], [terms.as_tuple()])).hex()


def fee_up(amount: int, bps: int) -> int:
    """``ceil(amount * bps / 10000)``: the platform fee on ``amount``, rounded up as the contract does
    (paying in parts never pays less fee than paying the whole)."""
    return (amount * bps + BPS - 1) // BPS


def split(held: int, buyer_bps: int, arbiter_fee_bps: int = 0, platform_fee_bps: int = 0) -> dict[str, int]:
    """Mirror of ``P2PEscrow.computeSplit`` for previews: the arbiter's fee and the buyer's share round
    down (the remainders go to the seller's side) and the platform fee rounds up, so the four parts
    sum to ``held`` exactly. A concession is ``split(held, 0 or 10000, arbiter_fee_bps // 2, ...)``."""
    arbiter_fee = held * arbiter_fee_bps // BPS
    pool = held - arbiter_fee
    to_buyer = pool * buyer_bps // BPS
    seller_gross = pool - to_buyer
    platform_fee = fee_up(seller_gross, platform_fee_bps)
    return {"to_buyer": to_buyer, "to_seller": seller_gross - platform_fee,
            "arbiter_fee": arbiter_fee, "platform_fee": platform_fee}


def created(terms: Terms, held: int, timestamp: int) -> tuple[TradeState, int]:
    """The state and deadline a trade had when created, from its ``TradeCreated`` event (which carries
    only ``held``) and its block's ``timestamp``: not funded (``held`` 0) -> AwaitingFunding until the
    funding window ends; funded by a buyer while a seller's deposit is still to come -> AwaitingDeposit,
    same deadline; else live -> Funded until the release window ends."""
    if held == 0:
        return TradeState.AWAITING_FUNDING, timestamp + terms.funding_window
    if terms.seller_deposit and not terms.created_by_seller:
        return TradeState.AWAITING_DEPOSIT, timestamp + terms.funding_window
    return TradeState.FUNDED, timestamp + terms.release_window


# -- deposits -----------------------------------------------------------------------------------------
class Ending(enum.Enum):
    """How a trade can end, as far as its deposits are concerned (the table in ``IP2PEscrow``)."""

    RELEASED = "released"  # the buyer released what was left (Completed)
    REFUNDED = "refunded"  # the seller refunded what was left (Refunded, or Completed after a part)
    SETTLED = "settled"  # a settlement was accepted
    CANCELLED = "cancelled"  # never went live
    TIMEOUT_TO_SELLER = "timeout_to_seller"  # the timeout released to the seller
    TIMEOUT_TO_BUYER = "timeout_to_buyer"  # the timeout refunded the buyer
    RULED = "ruled"  # the arbiter ruled (the split decides)
    DISPUTE_EXPIRED = "dispute_expired"  # no ruling in time: 50/50
    BUYER_CONCEDED = "buyer_conceded"
    SELLER_CONCEDED = "seller_conceded"


@dataclass(frozen=True)
class DepositsTo:
    """Who receives each deposit when a trade ends: ``buyer_deposit`` and ``seller_deposit`` name a
    party (:attr:`Role.BUYER` or :attr:`Role.SELLER`). Whether a deposit exists (non-zero, and in) is
    the terms' and the trade's business; this says only where it goes."""

    buyer_deposit: Role
    seller_deposit: Role

    @property
    def forfeited_by(self) -> Role | None:
        """The party that loses its deposit to the other, or None (both go back)."""
        if self.buyer_deposit is Role.SELLER:
            return Role.BUYER
        if self.seller_deposit is Role.BUYER:
            return Role.SELLER
        return None


_BOTH_BACK = DepositsTo(Role.BUYER, Role.SELLER)
_BUYER_FORFEITS = DepositsTo(Role.SELLER, Role.SELLER)
_SELLER_FORFEITS = DepositsTo(Role.BUYER, Role.BUYER)


def deposits_to(ending: Ending, *, has_arbiter: bool = True, buyer_bps: int | None = None) -> DepositsTo:
    """Who gets each deposit for ``ending``, by the contract's table: release, refund, settlement,
    cancel, an expired dispute and any timeout without an arbiter return both; a timeout with an
    arbiter makes the side it rules against forfeit to the other; a ruling makes the side awarded less
    than half forfeit (an even split returns both: ``buyer_bps`` is required); a conceder forfeits."""
    if ending in (Ending.TIMEOUT_TO_SELLER, Ending.TIMEOUT_TO_BUYER):
        if not has_arbiter:
            return _BOTH_BACK
        return _BUYER_FORFEITS if ending is Ending.TIMEOUT_TO_SELLER else _SELLER_FORFEITS
    if ending is Ending.RULED:
        if buyer_bps is None:
            raise ValueError("a ruling's deposits depend on its split: pass buyer_bps")
        if buyer_bps * 2 < BPS:
            return _BUYER_FORFEITS
        return _SELLER_FORFEITS if buyer_bps * 2 > BPS else _BOTH_BACK
    if ending is Ending.BUYER_CONCEDED:
        return _BUYER_FORFEITS
    if ending is Ending.SELLER_CONCEDED:
        return _SELLER_FORFEITS
    return _BOTH_BACK


def deposit_payouts(terms: Terms, ending: Ending, *, buyer_bps: int | None = None, buyer_in: bool = True,
                    seller_in: bool = True) -> dict[Role, int]:
    """What each party receives of the deposits when the trade ends so (base units; parties that get
    nothing are left out). ``buyer_in`` / ``seller_in``: whether each deposit is in (a cancelled trade
    returns only what was in; a live trade has both)."""
    to = deposits_to(ending, has_arbiter=terms.has_arbiter, buyer_bps=buyer_bps)
    out: dict[Role, int] = {}
    if buyer_in and terms.buyer_deposit:
        out[to.buyer_deposit] = out.get(to.buyer_deposit, 0) + terms.buyer_deposit
    if seller_in and terms.seller_deposit:
        out[to.seller_deposit] = out.get(to.seller_deposit, 0) + terms.seller_deposit
    return out


def timeout_releases(terms: Terms, marks: int) -> bool:
    """Whether the timeout of a live trade pays the seller: the terms say so, or (with an arbiter only)
    the seller marked delivery."""
    return terms.timeout_releases or (terms.has_arbiter and bool(marks & _MARK_DELIVERED))


# -- what each party may do -----------------------------------------------------------------------------
def records(marks: int) -> bool:
    """Whether a trade counts for reputation: it recorded at creation and the seller acted on it."""
    return marks & (_MARK_RECORDS | _MARK_SELLER_ACTED) == (_MARK_RECORDS | _MARK_SELLER_ACTED)


def next_actions(terms: Terms, state: TradeState, deadline: int, marks: int, now: int) -> dict[Role, tuple[str, ...]]:
    """What each role may do now, by the contract's rules (method names of the client)."""
    actions: dict[Role, list[str]] = {role: [] for role in Role}
    before = now < deadline
    seller_acted = bool(marks & _MARK_SELLER_ACTED)
    if state is TradeState.AWAITING_FUNDING:
        creator = Role.SELLER if terms.created_by_seller else Role.BUYER
        if before:
            actions[Role.BUYER].append("fund")
            if not seller_acted:
                actions[Role.SELLER].append("accept")
        actions[creator].append("cancel")
        if not before:
            actions[Role.ANYONE].append("cancel")
    elif state is TradeState.AWAITING_DEPOSIT:
        if before and not seller_acted:
            actions[Role.SELLER].append("accept")
        actions[Role.BUYER].append("cancel")
        if not before:
            actions[Role.ANYONE].append("cancel")
    elif state is TradeState.FUNDED:
        actions[Role.BUYER].append("release")
        actions[Role.SELLER].append("refund")
        if not seller_acted:
            actions[Role.SELLER].append("accept")
        if before and not marks & _MARK_DELIVERED:
            actions[Role.SELLER].append("mark_delivered")
        if before and terms.has_arbiter:
            actions[Role.BUYER].append("dispute")
            actions[Role.SELLER].append("dispute")
        if not before:
            actions[Role.ANYONE].append("timeout")
    if state.is_live:
        for role, theirs in ((Role.BUYER, _MARK_PROPOSED_BY_SELLER), (Role.SELLER, _MARK_PROPOSED_BY_BUYER)):
            actions[role].append("propose_settlement")
            if marks & theirs:
                actions[role].append("accept_settlement")
    if state is TradeState.DISPUTED:
        actions[Role.BUYER].append("concede")
        actions[Role.SELLER].append("concede")
        if before:
            actions[Role.ARBITER].append("rule")
        else:
            actions[Role.ANYONE].append("resolve_expired_dispute")
    if state.is_ended and records(marks):
        if not marks & _MARK_BUYER_RATED:
            actions[Role.BUYER].append("rate")
        if not marks & _MARK_SELLER_RATED:
            actions[Role.SELLER].append("rate")
    return {role: tuple(names) for role, names in actions.items() if names}


def trade_from_slot(terms: Terms, token: TokenInfo, slot: tuple[int, int, int, int, int], now: int,
                    key: str | None = None) -> Trade:
    """Combine the immutable terms with the contract's escrow slot into a :class:`Trade`. ``key`` is the
    trade's id when the caller has it already (the ``TradeCreated`` log that carried the terms); else
    it is computed from the terms (ABI-encoding them and hashing costs ~0.3 ms, a tenth of a second
    over a few hundred trades)."""
    held, deadline, state_number, marks, settlement_bps = slot
    state = TradeState(state_number)
    proposer = (Role.BUYER if marks & _MARK_PROPOSED_BY_BUYER
                else Role.SELLER if marks & _MARK_PROPOSED_BY_SELLER else None)
    rated = frozenset(r for r, m in ((Role.BUYER, _MARK_BUYER_RATED), (Role.SELLER, _MARK_SELLER_RATED))
                      if marks & m)
    return Trade(
        id=key or trade_id(terms), terms=terms, token=token, state=state, held=held,
        deadline=datetime.fromtimestamp(deadline, UTC) if deadline and not state.is_terminal else None,
        delivery_marked=bool(marks & _MARK_DELIVERED), seller_paid=bool(marks & _MARK_SELLER_PAID),
        settlement_bps=settlement_bps if proposer else None, settlement_proposer=proposer,
        rated_by=rated, seller_acted=bool(marks & _MARK_SELLER_ACTED),
        seller_deposited=bool(marks & _MARK_SELLER_DEPOSITED), records=bool(marks & _MARK_RECORDS),
        next_actions=next_actions(terms, state, deadline, marks, now),
    )


__all__ = ["BPS", "DepositsTo", "Ending", "created", "deposit_payouts", "deposits_to", "fee_up", "next_actions",
           "records", "split", "timeout_releases", "trade_from_slot", "trade_id"]
