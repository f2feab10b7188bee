"""What the trade, offer and reputation commands share: trade ids, amounts as traders read them,
a trade rendered as text or JSON, and sending with a confirmation that says what will happen.

Imported by command modules at load time, so it must stay free of web3: SDK modules are imported
inside the functions that need them.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from ...errors import InputError
from ..context import confirm_send, network
from ..render import Options, when

if TYPE_CHECKING:
    from ...clients.sync import EscrowClient
    from ...models import TokenInfo, Trade
    from ...transport.sync import Call, TxResult

R = TypeVar("R")

#: SDK method names (``Trade.next_actions``) -> the command that does it.
COMMANDS = {
    "fund": "trade fund", "cancel": "trade cancel", "release": "trade release", "refund": "trade refund",
    "mark_delivered": "trade deliver", "dispute": "trade dispute", "propose_settlement": "trade settle",
    "accept_settlement": "trade accept", "rule": "trade rule", "timeout": "trade timeout",
    "resolve_expired_dispute": "trade resolve", "rate": "rep rate",
}
_AMOUNT_ARGS = {"held", "heldAfter", "toSeller", "toBuyer", "platformFee", "arbiterFee", "amount"}


def options_of(ctx: typer.Context) -> Options:
    found = ctx.find_object(Options)
    return found if found is not None else Options()


# -- ids, addresses, amounts ------------------------------------------------------------------------
def address(value: str, what: str = "address") -> str:
    """A checksummed address, or an InvalidAddress error (checked before connecting)."""
    from ...core.terms import checksum

    return checksum(value.strip(), what)


def trade_id(client: EscrowClient, text: str) -> str:
    """A full trade id, from ``0x`` + 64 hex digits or a unique prefix of 8+ hex digits."""
    raw = text.strip().lower()
    body = raw[2:] if raw.startswith("0x") else raw
    if not body or len(body) > 64 or any(c not in string.hexdigits for c in body):
        raise InputError(f"not a trade id: {text!r} (expected 0x and 64 hex digits)")
    if len(body) == 64:
        return "0x" + body
    if len(body) < 8:
        raise InputError(f"trade id prefix {text!r} is too short: give at least 8 hex digits")
    matches = [t.id for t in client.trades() if t.id[2:].startswith(body)]
    if not matches:
        raise InputError(f"no trade id starts with {text!r} on this escrow", hint="see `p2pescrow trade list`")
    if len(matches) > 1:
        raise InputError(f"trade id prefix {text!r} is ambiguous: {len(matches)} trades match",
                         hint="give more digits")
    return matches[0]


def base_units(text: str, token: TokenInfo) -> int:
    """``"1.5"`` / ``"1.5 ETH"`` / ``"250 USDC"`` -> base units of ``token`` (symbol checked, exact)."""
    from ...models import to_base_units
    from ..parse import amount

    return to_base_units(amount(text, token.symbol), token.decimals)


def human(units: int, token: TokenInfo) -> str:
    return f"{token.human(units):f} {token.symbol}"


def percent(bps: int) -> str:
    return f"{(Decimal(bps) / 100).normalize():f}%"


def short(value: str) -> str:
    return f"{value[:6]}...{value[-4:]}" if len(value) > 14 else value


def span(seconds: int) -> str:
    """``259200`` -> ``3 days``; ``5400`` -> ``90 minutes``."""
    for unit, size in (("week", 604_800), ("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"


def eth(wei: int) -> str:
    from ...models import from_base_units

    return f"{from_base_units(wei, 18):f} ETH"


# -- who you are in a trade, and what you may do ----------------------------------------------------
def roles(trade: Trade, you: str | None) -> list[str]:
    if you is None:
        return []
    return [name for name, who in (("buyer", trade.buyer), ("seller", trade.seller), ("arbiter", trade.arbiter))
            if who is not None and who.lower() == you.lower()]


def you_may(trade: Trade, you: str | None) -> list[str]:
    """The commands ``you`` may run on ``trade`` now (your roles' actions, then anyone's)."""
    from ...models import Role

    mine = [Role(r) for r in roles(trade, you)] + ([Role.ANYONE] if you else [])
    found: dict[str, None] = {}
    for role in mine:
        for action in trade.next_actions.get(role, ()):
            found[COMMANDS.get(action, action)] = None
    return list(found)


def me(client: EscrowClient) -> str | None:
    """The account the client acts as, or None for a read-only client without an account."""
    return None if int(client.address, 16) == 0 else client.address


# -- rendering a trade ------------------------------------------------------------------------------
def timeout_outcome(trade: Trade) -> str:
    return "release to the seller" if trade.terms.timeout_releases or trade.delivery_marked \
        else "refund the buyer"


def deadline_text(trade: Trade, now: datetime | None) -> str:
    from ...models import TradeState

    if trade.deadline is None:
        return "-"
    moment = when(trade.deadline, now)
    passed = trade.deadline <= (now or datetime.now(UTC))
    if trade.state is TradeState.AWAITING_FUNDING:
        return f"{moment}: " + ("funding window ended, anyone may cancel" if passed
                                else "fund by then, else anyone may cancel")
    if trade.state is TradeState.FUNDED:
        return f"{moment}: release window " + ("ended, anyone may apply the timeout" if passed else "ends")
    if trade.state is TradeState.DISPUTED:
        return f"{moment}: arbitration window " + ("ended, anyone may split it 50/50" if passed
                                                  else "ends, then anyone may split it 50/50")
    return moment


def amount_document(units: int, token: TokenInfo) -> dict[str, str]:
    return {"value": f"{token.human(units):f}", "base_units": str(units), "symbol": token.symbol}


def trade_document(trade: Trade, you: str | None) -> dict[str, Any]:
    """A trade as JSON: everything ``trade show`` prints, with exact amounts."""
    t = trade.terms
    return {
        "id": trade.id,
        "state": trade.state.name,
        "buyer": t.buyer,
        "seller": t.seller,
        "arbiter": trade.arbiter,
        "token": {"address": trade.token.address, "symbol": trade.token.symbol, "decimals": trade.token.decimals},
        "amount": amount_document(t.amount, trade.token),
        "held": amount_document(trade.held, trade.token),
        "deadline": trade.deadline.isoformat() if trade.deadline else None,
        "fees": {"platform_bps": t.platform_fee_bps, "arbiter_bps": t.arbiter_fee_bps},
        "windows": {"funding": t.funding_window, "release": t.release_window,
                    "arbitration": t.arbitration_window},
        "timeout_releases": t.timeout_releases,
        "records_reputation": t.records_reputation,
        "created_by_seller": t.created_by_seller,
        "delivery_marked": trade.delivery_marked,
        "seller_paid": trade.seller_paid,
        "settlement": None if trade.settlement_bps is None else {
            "buyer_bps": trade.settlement_bps,
            "proposer": trade.settlement_proposer.value if trade.settlement_proposer else None},
        "rated_by": sorted(r.value for r in trade.rated_by),
        "terms_hash": "0x" + t.terms_hash.hex(),
        "next_actions": {role.value: list(actions) for role, actions in trade.next_actions.items()},
        "you": None if you is None else {"address": you, "roles": roles(trade, you),
                                         "may": you_may(trade, you)},
    }


def trade_lines(trade: Trade, you: str | None, now: datetime | None) -> list[str]:
    """A trade as ``trade show`` prints it."""
    from ...models import TradeState

    t = trade.terms

    def party(addr: str) -> str:
        return addr + ("  (you)" if you and addr.lower() == you.lower() else "")

    state = trade.state.name
    if trade.delivery_marked and not trade.state.is_terminal:
        state += " (delivery marked)"
    fees = f"platform {percent(t.platform_fee_bps)} of what the seller receives"
    if trade.arbiter:
        fees += f"; arbiter {percent(t.arbiter_fee_bps)} of a ruled dispute"
    rows = [
        ("state", state),
        ("buyer", party(t.buyer)),
        ("seller", party(t.seller)),
        ("arbiter", party(trade.arbiter) if trade.arbiter else "none (no disputes: settle, refund or time out)"),
        ("amount", human(t.amount, trade.token) + ("" if trade.token.is_eth else f"  (token {t.token})")),
        ("held", human(trade.held, trade.token)),
        ("deadline", deadline_text(trade, now)),
        ("fees", fees),
    ]
    if trade.state in (TradeState.AWAITING_FUNDING, TradeState.FUNDED):
        rows.append(("timeout", f"once the release window ends, anyone may {timeout_outcome(trade)}"))
    if trade.settlement_bps is not None and trade.settlement_proposer is not None:
        rows.append(("settlement", f"{trade.settlement_proposer.value} proposed {percent(trade.settlement_bps)} "
                                   "to the buyer"))
    if int.from_bytes(t.terms_hash, "big"):
        rows.append(("terms", "0x" + t.terms_hash.hex()))
    if trade.rated_by:
        rows.append(("rated by", ", ".join(sorted(r.value for r in trade.rated_by))))
    if you is not None:
        may = you_may(trade, you)
        rows.append(("you may", ", ".join(may) if may else "nothing now"))
    width = max(len(k) for k, _ in rows)
    return [f"Trade {trade.id}"] + [f"  {k.ljust(width)}  {v}" for k, v in rows]


# -- events ------------------------------------------------------------------------------------------
def plain(value: Any) -> Any:
    """Event arguments as JSON-ready values (bytes as hex, structs as dicts, big ints kept)."""
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def event_text(name: str, args: Mapping[str, Any], token: TokenInfo | None) -> str:
    """``Released: toSeller 1.49625 ETH, platformFee 0.00375 ETH, heldAfter 0 ETH``."""
    parts = []
    for key, value in args.items():
        if key in ("id", "tradeId", "escrow"):
            continue
        if key == "terms":
            if token is not None:
                parts.append(f"amount {human(int(value['amount']), token)}")
            continue
        if key in _AMOUNT_ARGS and token is not None and isinstance(value, int):
            parts.append(f"{key} {human(value, token)}")
        elif key == "deadline" and isinstance(value, int):
            parts.append(f"deadline {datetime.fromtimestamp(value, UTC).astimezone():%Y-%m-%d %H:%M %Z}")
        elif key.endswith("Bps") and isinstance(value, int):
            parts.append(f"{key} {percent(value)}")
        elif key == "outcome":
            parts.append(f"outcome {_OUTCOMES[value] if 0 <= value < len(_OUTCOMES) else value}")
        else:
            shown = plain(value)
            parts.append(f"{key} {short(shown) if isinstance(shown, str) and shown.startswith('0x') else shown}")
    return f"{name}: {', '.join(parts)}" if parts else name


_OUTCOMES = ("Completed", "Refunded", "Settled", "BuyerWon", "SellerWon", "Split")


# -- sending ---------------------------------------------------------------------------------------
Details = list[str] | Callable[["Call"], list[str]]


def send(options: Options, client: EscrowClient, details: Details, operation: Callable[[], R]) -> R:
    """Run ``operation`` (one SDK call) with the confirmation showing ``details`` before each send.

    ``details`` may depend on the call: an ERC-20 trade sends an ``approve`` first, which gets its own.
    """
    def before_send(call: Call, preview: Any) -> None:
        lines = details(call) if callable(details) else details
        confirm_send(options, call, preview, lines)

    client.before_send = before_send
    return operation()


def approve_or(token: TokenInfo, units: int, lines: list[str]) -> Details:
    """``lines`` for the escrow call, and the right words for a preceding ERC-20 approval."""
    def details(call: Call) -> list[str]:
        if call.description == "approve":
            return [f"approve the escrow contract to take exactly {human(units, token)} (token {token.address})"]
        return lines

    return details


def tx_document(tx: TxResult) -> dict[str, Any]:
    return {"hash": tx.tx_hash, "block": tx.block_number, "gas_used": tx.gas_used,
            "gas_cost": {"value": eth(tx.fee).split()[0], "base_units": str(tx.fee), "symbol": "ETH"},
            "events": [{"name": e.name, "args": plain(e.args)} for e in tx.events]}


def tx_lines(options: Options, tx: TxResult) -> list[str]:
    link = network(options).tx_link(tx.tx_hash)
    return [f"  tx        {tx.tx_hash} (block {tx.block_number})" + (f"\n            {link}" if link else ""),
            f"  gas used  {tx.gas_used:,} (cost {eth(tx.fee)})"]


def trade_result(options: Options, client: EscrowClient, action: str, headline: str, tx: TxResult,
                 tid: str, **extra: Any) -> None:
    """After a trade operation: the headline, gas, and the trade's new state (or one JSON document)."""
    from ..render import emit

    trade = client.trade(tid)
    you = me(client)
    may = you_may(trade, you)
    lines = [headline, *tx_lines(options, tx), f"  trade     {trade.id}",
             f"  state     {trade.state.name}, holding {human(trade.held, trade.token)}"]
    if trade.deadline is not None:
        lines.append(f"  deadline  {deadline_text(trade, client.now())}")
    lines.append(f"  you may   {', '.join(may) if may else 'nothing now'}")
    emit(options, {"action": action, **extra, "trade": trade_document(trade, you), "tx": tx_document(tx)}, lines)
