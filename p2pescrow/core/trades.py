"""Trade ids, the escrow slot, and the rules of what each party may do next (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime

from eth_abi import encode
from eth_utils import keccak

from ..models import (
    _MARK_BUYER_RATED,
    _MARK_DELIVERED,
    _MARK_PROPOSED_BY_BUYER,
    _MARK_PROPOSED_BY_SELLER,
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


def split(held: int, buyer_bps: int, arbiter_fee_bps: int = 0, platform_fee_bps: int = 0) -> dict[str, int]:
    """Mirror of ``P2PEscrow.computeSplit`` for previews: every division rounds down and the
    remainders go to the seller's side, so the four parts sum to ``held`` exactly."""
    arbiter_fee = held * arbiter_fee_bps // BPS
    pool = held - arbiter_fee
    to_buyer = pool * buyer_bps // BPS
    seller_gross = pool - to_buyer
    platform_fee = seller_gross * platform_fee_bps // BPS
    return {"to_buyer": to_buyer, "to_seller": seller_gross - platform_fee,
            "arbiter_fee": arbiter_fee, "platform_fee": platform_fee}


def next_actions(terms: Terms, state: TradeState, deadline: int, marks: int, now: int) -> dict[Role, tuple[str, ...]]:
    """What each role may do now, by the contract's rules (method names of the client)."""
    actions: dict[Role, list[str]] = {role: [] for role in Role}
    before = now < deadline
    if state is TradeState.AWAITING_FUNDING:
        creator = Role.SELLER if terms.created_by_seller else Role.BUYER
        if before:
            actions[Role.BUYER].append("fund")
        actions[creator].append("cancel")
        if not before:
            actions[Role.ANYONE].append("cancel")
    elif state is TradeState.FUNDED:
        actions[Role.BUYER].append("release")
        actions[Role.SELLER].append("refund")
        if before and not marks & _MARK_DELIVERED:
            actions[Role.SELLER].append("mark_delivered")
        if before and terms.has_arbiter:
            actions[Role.BUYER].append("dispute")
            actions[Role.SELLER].append("dispute")
        if not before:
            actions[Role.ANYONE].append("timeout")
    if state in (TradeState.FUNDED, TradeState.DISPUTED):
        for role, theirs in ((Role.BUYER, _MARK_PROPOSED_BY_SELLER), (Role.SELLER, _MARK_PROPOSED_BY_BUYER)):
            actions[role].append("propose_settlement")
            if marks & theirs:
                actions[role].append("accept_settlement")
    if state is TradeState.DISPUTED:
        if before:
            actions[Role.ARBITER].append("rule")
        else:
            actions[Role.ANYONE].append("resolve_expired_dispute")
    if (state in (TradeState.COMPLETED, TradeState.SETTLED, TradeState.RESOLVED)
            and marks & _MARK_SELLER_PAID and terms.records_reputation):
        if not marks & _MARK_BUYER_RATED:
            actions[Role.BUYER].append("rate")
        if not marks & _MARK_SELLER_RATED:
            actions[Role.SELLER].append("rate")
    return {role: tuple(names) for role, names in actions.items() if names}


def trade_from_slot(terms: Terms, token: TokenInfo, slot: tuple[int, int, int, int, int], now: int) -> Trade:
    """Combine the immutable terms with the contract's escrow slot into a :class:`Trade`."""
    held, deadline, state_number, marks, settlement_bps = slot
    state = TradeState(state_number)
    proposer = (Role.BUYER if marks & _MARK_PROPOSED_BY_BUYER
                else Role.SELLER if marks & _MARK_PROPOSED_BY_SELLER else None)
    rated = frozenset(r for r, m in ((Role.BUYER, _MARK_BUYER_RATED), (Role.SELLER, _MARK_SELLER_RATED))
                      if marks & m)
    return Trade(
        id=trade_id(terms), terms=terms, token=token, state=state, held=held,
        deadline=datetime.fromtimestamp(deadline, UTC) if deadline and not state.is_terminal else None,
        delivery_marked=bool(marks & _MARK_DELIVERED), seller_paid=bool(marks & _MARK_SELLER_PAID),
        settlement_bps=settlement_bps if proposer else None, settlement_proposer=proposer,
        rated_by=rated, next_actions=next_actions(terms, state, deadline, marks, now),
    )
