"""What a contract refusal means for the trade at hand, and the bounds known without asking (no I/O).

The escrow's errors carry what the contract knows (``Unauthorized(caller, id)``, ``InvalidPart(requested,
held)`` in base units, ``NotRecorded(id)``); the client knows the trade's terms and state, so it can
say who may act now, show amounts in the token's units, and name the one cause of a refused rating.
The limits that are constants in the contract are mirrored here and checked before any request:
:func:`check_term_bounds`, :func:`check_bps`, :func:`check_platform_fee`.
"""

from __future__ import annotations

from typing import Any

from ..errors import InputError
from ..models import ZERO_ADDRESS, Role, Terms, TokenInfo, Trade, TradeState

# Constants of P2PEscrow.sol (tests/sdk/test_hints.py compares them with the deployed contract's).
BPS = 10_000
#: The highest arbiter fee a trade can name: 20%.
MAX_ARBITER_FEE_BPS = 2_000
#: The highest platform fee the owner can ever set: 5%.
MAX_PLATFORM_FEE_BPS = 500
#: The longest any window can be: a year.
MAX_WINDOW = 365 * 86_400


def _percent(bps: int) -> str:
    return f"{bps / 100:g}%"


def _bps_value(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{what} is a whole number of basis points, not {value!r}")
    if value < 0:
        raise InputError(f"{what} cannot be negative ({value} bps)")
    return value


def check_bps(value: Any, what: str = "buyer_bps", cap: int = BPS) -> int:
    """``value`` basis points, at most ``cap`` (the contract's constant), or :class:`InputError`."""
    bps = _bps_value(value, what)
    if bps > cap:
        raise InputError(f"{what} of {bps} bps ({_percent(bps)}) is above the contract's cap of {cap} bps "
                         f"({_percent(cap)})")
    return bps


def check_platform_fee(bps: Any) -> int:
    """A platform fee the owner may set: at most MAX_PLATFORM_FEE_BPS (5%)."""
    return check_bps(bps, "the platform fee", MAX_PLATFORM_FEE_BPS)


def _check_window(value: Any, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_WINDOW:
        raise InputError(f"{what} must be more than 0 seconds and at most a year ({MAX_WINDOW} s), not {value!r}")


def check_term_bounds(*, arbiter: str | None = None, arbiter_fee_bps: Any = 0, funding_window: Any | None = None,
                      release_window: Any = 3 * 86_400, arbitration_window: Any = 7 * 86_400, **_: Any) -> None:
    """The limits of new terms that are constants in the contract, checked before any request:
    the arbiter fee (only with an arbiter, at most 20%) and the windows (1 s to a year; the
    arbitration window only counts with an arbiter; ``funding_window`` None: not part of it, as in
    an offer). Other options are ignored (pass a create call's keyword arguments as they are)."""
    fee = _bps_value(arbiter_fee_bps, "the arbiter fee")
    if fee and not arbiter:
        raise InputError(f"an arbiter fee ({_percent(fee)}) needs an arbiter")
    if fee > MAX_ARBITER_FEE_BPS:
        raise InputError(f"an arbiter fee of {_percent(fee)} ({fee} bps) is above the contract's cap of "
                         f"{_percent(MAX_ARBITER_FEE_BPS)} ({MAX_ARBITER_FEE_BPS} bps)")
    if funding_window is not None:
        _check_window(funding_window, "the funding window")
    _check_window(release_window, "the release window")
    if arbiter:
        _check_window(arbitration_window, "the arbitration window")


# -- refusals explained -------------------------------------------------------------------------------
#: Who may call each escrow function on a trade, and how to say the act.
_MAY = {
    "create": (("buyer", "seller"), "create this trade"),
    "createAndFund": (("buyer",), "fund this trade"),
    "createAndFundWithPermit": (("buyer",), "fund this trade"),
    "fund": (("buyer",), "fund this trade"),
    "accept": (("seller",), "accept this trade"),
    "concede": (("buyer", "seller"), "concede this dispute"),
    "release": (("buyer",), "release"),
    "refund": (("seller",), "refund"),
    "markDelivered": (("seller",), "mark this trade delivered"),
    "proposeSettlement": (("buyer", "seller"), "propose a settlement"),
    "acceptSettlement": (("buyer", "seller"), "accept a settlement"),
    "dispute": (("buyer", "seller"), "open a dispute"),
    "rate": (("buyer", "seller"), "rate this trade"),
    "rule": (("arbiter",), "rule on this dispute"),
    "submitEvidence": (("buyer", "seller", "arbiter"), "submit evidence"),
}


#: How to say an act no one may do on this trade (there is no dispute to rule on without an arbiter).
_NO_ONE = {"rule": "rule on it"}


def _who(roles: tuple[str, ...], terms: Terms) -> str:
    named = [f"the {role} {getattr(terms, role)}" for role in roles]
    return named[0] if len(named) == 1 else ", ".join(named[:-1]) + " or " + named[-1]


def unauthorized_hint(fn: str, terms: Terms, caller: str) -> str | None:
    """Who may do ``fn`` on this trade, and who asked: "only the buyer 0x… may release; this
    account is 0x…". A role the trade does not have (no arbiter: the zero address) is not named as
    one who may act: "this trade has no arbiter: no one may rule on it; ..."."""
    if fn not in _MAY:
        return None
    roles, act = _MAY[fn]
    present = tuple(role for role in roles if getattr(terms, role) != ZERO_ADDRESS)
    if not present:
        return f"this trade has no {' or '.join(roles)}: no one may {_NO_ONE.get(fn, act)}; this account is {caller}"
    return f"only {_who(present, terms)} may {act}; this account is {caller}"


def invalid_part_message(requested: int, held: int, token: TokenInfo, notice: str) -> tuple[str, str]:
    """``InvalidPart``'s message and hint with the amounts in the token's units."""
    asked, has = f"{token.human(requested)} {token.symbol}", f"{token.human(held)} {token.symbol}"
    message = f"InvalidPart(requested={asked}, held={has})" + (f": {notice}" if notice else "")
    if held == 0:
        return message, "the trade holds nothing any more"
    return message, f"give an amount above 0 and at most {has}, or none for everything held"


def not_rateable_hint(trade: Trade, caller: str) -> str:
    """Why ``caller`` cannot rate ``trade`` (``NotEnded``, ``NotRecorded``, ``AlreadyRated``): the one cause
    that applies, from the trade as it is now, in the contract's order of checks."""
    if trade.state is TradeState.CANCELLED:
        return "the trade was cancelled before it went live: it can never be rated"
    if not trade.state.is_ended:
        return (f"the trade is {trade.state.name}: ratings open once it has ended (completed, refunded, settled "
                "or resolved)")
    if not trade.terms.records_reputation:
        return "this trade was created without reputation (record_reputation=False): it can never be rated"
    if not trade.records:
        return ("the trade's asset was not a listed reputation asset (or the price was below its minimum, or "
                "beyond what a record holds) when the trade was created: it can never be rated")
    if not trade.seller_acted:
        return ("the seller never entered this trade (it did not create it, sign its offer, accept it, mark it "
                "delivered, dispute it or agree a split; giving the money back is not entering): a trade pushed on "
                "a stranger counts for no one and cannot be rated")
    role = Role.BUYER if caller == trade.terms.buyer else Role.SELLER
    if role in trade.rated_by:
        return f"this account already rated this trade as the {role.value}: once per party"
    return "the trade cannot be rated now"


def state_hint(trade: Trade) -> str:
    """What can be done on the trade now, for refusals about its state or its deadline
    (``WrongState``, ``DeadlinePassed``, ``DeadlineNotReached``): its state, its deadline, and who
    may do what (the client's method names, from the trade's ``next_actions``)."""
    when = f" (deadline {trade.deadline:%Y-%m-%d %H:%M:%S} UTC)" if trade.deadline else ""
    parts = []
    for role, actions in trade.next_actions.items():
        who = "anyone" if role is Role.ANYONE else f"the {role.value}"
        parts.append(f"{who} may {', '.join(actions)}")
    now = "; ".join(parts) if parts else "nothing more can be done"
    return f"the trade is {trade.state.name}{when}; now {now}"


__all__ = ["BPS", "MAX_ARBITER_FEE_BPS", "MAX_PLATFORM_FEE_BPS", "MAX_WINDOW", "check_bps", "check_platform_fee",
           "check_term_bounds", "invalid_part_message", "not_rateable_hint", "state_hint", "unauthorized_hint"]
