"""How the CLI speaks, and the one renderer: one JSON document with ``--json``, readable text
otherwise; errors as one line on stderr with a distinct exit code; amounts with their symbols, a
trade, a transaction and events in words. No web3 here: it is imported by ``--help`` (SDK modules
are imported inside the functions that need them)."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any, NoReturn

import typer

from ..errors import (
    ContractError,
    P2PEscrowError,
    exit_code_for,
)

if TYPE_CHECKING:
    from ..clients.sync import EscrowClient
    from ..models import TokenInfo, Trade
    from ..reader import Reads
    from ..transport.sync import TxResult
    from .context import Options

EXIT_CODES_HELP = (
    "Exit codes: 0 ok; 2 usage or input error (nothing sent); 3 refused by the contract or not "
    "enough funds (nothing sent); 4 network: node unreachable, wrong chain or no deployment; "
    "5 timeout: sent, no receipt yet, dropped or replaced, or an earlier transaction is still pending "
    "(the hash is printed; see `p2pescrow tx pending`), or another transaction took its nonce (nothing "
    "sent); 6 declined: you answered no at a confirmation (nothing sent then; an approval sent before is named); "
    "1 unexpected error."
)


def fail(exc: P2PEscrowError, options: Options | None = None) -> NoReturn:
    """Print ``exc`` as one line on stderr (plus a JSON document with ``--json``) and exit."""
    code = exit_code_for(exc)
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    hint = _CLI_HINTS.get(type(exc).__name__, getattr(exc, "hint", None))
    if isinstance(exc, ContractError) and type(exc).__name__ not in message:
        message = f"{type(exc).__name__}: {message}"
    report(type(exc).__name__, message, hint, code, json_output=options is not None and options.json)
    raise typer.Exit(code)


#: Hints that name the command to run rather than the SDK method (errors by class name).
_CLI_HINTS = {
    "InsufficientBond": "the seller adds to its bond with `p2pescrow bond deposit AMOUNT` (see `p2pescrow bond "
                        "show`), or the parties agree a smaller deposit",
}


def report(kind: str, message: str, hint: str | None, code: int, *, json_output: bool) -> None:
    """An error as one line on stderr, and with ``--json`` the error document on stdout
    (``{"ok": false, "error": {"type", "message", "hint", "exit_code"}}``)."""
    typer.echo(f"error: {message}" + (f" (hint: {hint})" if hint else ""), err=True)
    if json_output:
        typer.echo(json.dumps({"ok": False, "error": {"type": kind, "message": message, "hint": hint,
                                                        "exit_code": code}}))


def to_jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.name if not isinstance(value.value, str) else value.value
    if isinstance(value, dict):
        return {str(to_jsonable(k)): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    return value


def emit(options: Options, document: dict[str, Any], text: str | list[str]) -> None:
    """Print the result: ``document`` as JSON with ``--json``, else ``text``. The JSON is indented for a
    terminal and one line for a pipe: Python's C encoder serves only unindented output, and the
    pure-Python one took 0.1-0.2 s of a 334-trade ``trade list``."""
    if options.json:
        import sys

        indent = 2 if sys.stdout.isatty() else None
        typer.echo(json.dumps(to_jsonable({"ok": True, **document}), indent=indent, sort_keys=True))
        return
    typer.echo(text if isinstance(text, str) else "\n".join(text))


def table(rows: list[tuple[str, ...]], header: tuple[str, ...] | None = None) -> str:
    """A plain aligned table (readable in any terminal, easy to grep)."""
    data = ([header] if header else []) + rows
    if not data:
        return ""
    widths = [max(len(str(r[i])) for r in data) for i in range(len(data[0]))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=False)).rstrip() for r in data]
    if header:
        lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


_UNITS = (("day", 86_400), ("hour", 3_600), ("minute", 60), ("second", 1))


def relative(seconds: int) -> str:
    """A time from now in words, the one rule every command uses: floor to the largest unit, plus
    the next unit when it is not zero (``in 2 days 23 hours``, ``in 23 hours 59 minutes``,
    ``5 minutes ago``). Whole seconds: an hour later the same deadline reads one hour less."""
    span_ = abs(int(seconds))
    words = "0 seconds"
    for i, (unit, size) in enumerate(_UNITS):
        if span_ >= size:
            count, rest = divmod(span_, size)
            words = f"{count} {unit}{'s' if count != 1 else ''}"
            if i + 1 < len(_UNITS):
                sub, sub_size = _UNITS[i + 1]
                extra = rest // sub_size
                if extra:
                    words += f" {extra} {sub}{'s' if extra != 1 else ''}"
            break
    return f"in {words}" if seconds >= 0 else f"{words} ago"


def clock(reads: Reads) -> datetime:
    """"Now" for every relative time a command prints: the chain's time (its latest block), or
    this computer's clock when that is later. An idle dev chain's latest block can be minutes
    old while its next block takes the current time; after a jump in chain time (``evm_increaseTime``)
    the chain is ahead. ``offer show`` (offline) uses the computer's clock: both agree."""
    return max(reads.now(), datetime.now(UTC))


def when(moment: datetime | None, now: datetime | None = None) -> str:
    """A deadline as local time and relative words: ``2026-11-25 14:00 (in 2 days 3 hours)``."""
    if moment is None:
        return "-"
    now = now or datetime.now(UTC)
    return f"{moment.astimezone().strftime('%Y-%m-%d %H:%M %Z')} ({relative(int((moment - now).total_seconds()))})"


def line(text: str) -> None:
    """One line of output as it happens (a stream, e.g. ``trade watch``; a document printed as is)."""
    typer.echo(text)


def progress(message: str, options: Options) -> None:
    """A progress line on stderr (never on stdout, which belongs to the result)."""
    if not options.json:
        typer.echo(message, err=True)


#: SDK method names (``Trade.next_actions``) -> the command that does it.
COMMANDS = {
    "fund": "trade fund", "cancel": "trade cancel", "release": "trade release", "refund": "trade refund",
    "mark_delivered": "trade deliver", "dispute": "trade dispute", "propose_settlement": "trade settle",
    "accept_settlement": "trade accept", "accept": "trade accept", "concede": "trade concede",
    "rule": "trade rule", "timeout": "trade timeout", "resolve_expired_dispute": "trade resolve", "rate": "rep rate",
}
_AMOUNT_ARGS = {"held", "heldAfter", "toSeller", "toBuyer", "platformFee", "arbiterFee", "amount", "free",
                "minAmount"}


# -- amounts, shares, spans -----------------------------------------------------------------------
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
    from ..models import from_base_units

    return f"{from_base_units(wei, 18):f} ETH"


# -- who you are in a trade, and what you may do ----------------------------------------------------
def roles(trade: Trade, you: str | None) -> list[str]:
    if you is None:
        return []
    return [name for name, who in (("buyer", trade.buyer), ("seller", trade.seller), ("arbiter", trade.arbiter))
            if who is not None and who.lower() == you.lower()]


def you_may(trade: Trade, you: str | None) -> list[str]:
    """The commands ``you`` may run on ``trade`` now (your roles' actions, then anyone's)."""
    from ..models import Role

    mine = [Role(r) for r in roles(trade, you)] + ([Role.ANYONE] if you else [])
    found: dict[str, None] = {}
    for role in mine:
        for action in trade.next_actions.get(role, ()):
            found[COMMANDS.get(action, action)] = None
    return list(found)


def me(client: Reads) -> str | None:
    """The account the client (or reader) acts as, or None for a reader without an account."""
    return None if int(client.address, 16) == 0 else client.address


# -- rendering a trade ------------------------------------------------------------------------------
def timeout_pays_seller(trade: Trade) -> bool:
    """Whether the timeout of this trade pays the seller: the terms say so, or (with an arbiter
    only) the seller marked delivery. Without an arbiter no mark changes the outcome fixed at creation."""
    return trade.terms.timeout_releases or (trade.terms.has_arbiter and trade.delivery_marked)


def timeout_outcome(trade: Trade) -> str:
    return "release to the seller" if timeout_pays_seller(trade) else "refund the buyer"


def held_now(trade: Trade) -> int:
    """What the escrow holds for the parties: ``held`` while the trade is open. Once it has ended the
    slot keeps only the platform fee not yet swept (:func:`unswept_fee`), which is nobody's to claim."""
    return 0 if trade.state.is_terminal else trade.held


def unswept_fee(trade: Trade) -> int:
    return trade.held if trade.state.is_terminal else 0


# -- deposits ---------------------------------------------------------------------------------------
def deposits_in(trade: Trade) -> tuple[bool, bool]:
    """Whether the buyer's and the seller's deposits are in the escrow now (locked in the trade)."""
    from ..models import TradeState

    buyer_in = trade.state in (TradeState.AWAITING_DEPOSIT, TradeState.FUNDED, TradeState.DISPUTED)
    seller_in = trade.seller_deposited and not trade.state.is_terminal
    return bool(trade.buyer_deposit) and buyer_in, bool(trade.seller_deposit) and seller_in


def deposit_status(trade: Trade) -> tuple[str, str]:
    """Each deposit in words: its amount and whether it is in (``0.1 ETH, in``)."""
    from ..models import TradeState

    buyer_in, seller_in = deposits_in(trade)
    ended = trade.state.is_terminal

    def text(units: int, is_in: bool, waiting: str) -> str:
        if not units:
            return "none"
        status = "paid out when the trade ended" if ended else "in" if is_in else waiting
        return f"{human(units, trade.token)}, {status}"

    buyer_waiting = "not in yet: paid with the price when the buyer funds"
    seller_waiting = ("not in yet: locked from the seller's bond when the seller accepts (`trade accept`)"
                      if trade.state in (TradeState.AWAITING_FUNDING, TradeState.AWAITING_DEPOSIT) else "not in")
    return (text(trade.buyer_deposit, buyer_in, buyer_waiting), text(trade.seller_deposit, seller_in, seller_waiting))


def deposit_fates(trade: Trade) -> list[str]:
    """Who gets each deposit if the trade ends one way or another (the contract's table), for a trade
    that has deposits and is not over: what a party risks by not acting."""
    from ..models import TradeState

    if not trade.terms.has_deposits or trade.state.is_terminal:
        return []
    lines = ["release, refund, settlement or cancel: each deposit back to its owner"]
    if trade.terms.has_arbiter:
        loser = "buyer" if timeout_pays_seller(trade) else "seller"
        winner = "seller" if loser == "buyer" else "buyer"
        lines.append(f"timeout (it would {timeout_outcome(trade)}): the {loser}'s deposit goes to the {winner}")
        lines.append("a ruling: the side awarded less than half forfeits its deposit to the other; "
                     "an even split or a dispute never ruled returns both")
    else:
        lines.append("timeout: both back (no arbiter: no one can establish fault)")
    if trade.state is TradeState.DISPUTED:
        lines.append("conceding: the conceder's deposit goes to the other side")
    return lines


def deposits_document(trade: Trade) -> dict[str, Any]:
    buyer_in, seller_in = deposits_in(trade)
    return {"buyer": {**amount_document(trade.buyer_deposit, trade.token), "in": buyer_in},
            "seller": {**amount_document(trade.seller_deposit, trade.token), "in": seller_in},
            "if": deposit_fates(trade)}


def deadline_text(trade: Trade, now: datetime | None) -> str:
    from ..models import TradeState

    if trade.deadline is None:
        return "-"
    moment = when(trade.deadline, now)
    passed = trade.deadline <= (now or datetime.now(UTC))
    if trade.state is TradeState.AWAITING_FUNDING:
        return f"{moment}: " + ("funding window ended, anyone may cancel" if passed
                                else "fund by then, else anyone may cancel")
    if trade.state is TradeState.AWAITING_DEPOSIT:
        return f"{moment}: " + ("funding window ended without the seller's deposit: anyone may cancel, the buyer "
                                "gets everything back" if passed else "the seller must accept (lock its deposit) "
                                "by then, else the buyer gets everything back")
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
        "held": amount_document(held_now(trade), trade.token),
        "unswept_fee": amount_document(unswept_fee(trade), trade.token),
        "deposits": deposits_document(trade),
        "deadline": trade.deadline.isoformat() if trade.deadline else None,
        "fees": {"platform_bps": t.platform_fee_bps, "arbiter_bps": t.arbiter_fee_bps},
        "windows": {"funding": t.funding_window, "release": t.release_window,
                    "arbitration": t.arbitration_window},
        "timeout_releases": t.timeout_releases,
        "records_reputation": t.records_reputation,
        "created_by_seller": t.created_by_seller,
        "seller_acted": trade.seller_acted,
        "counts_for_reputation": trade.counts_for_reputation,
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
    from ..models import TradeState

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
        ("held", human(held_now(trade), trade.token)),
    ]
    if t.has_deposits:
        buyer_deposit, seller_deposit = deposit_status(trade)
        rows += [("deposits", f"buyer {buyer_deposit}"), ("", f"seller {seller_deposit}")]
        rows += [("", f"if {fate}") for fate in deposit_fates(trade)]
    rows += [("deadline", deadline_text(trade, now)), ("fees", fees)]
    if trade.state in (TradeState.AWAITING_FUNDING, TradeState.AWAITING_DEPOSIT, TradeState.FUNDED):
        rows.append(("timeout", f"once the release window ends, anyone may {timeout_outcome(trade)}"
                     + ("" if t.has_arbiter or t.timeout_releases else
                        " (no arbiter: marking delivery does not change that)")))
    if t.records_reputation:
        rows.append(("reputation", "counts: the outcome is recorded and both may rate" if trade.counts_for_reputation
                     else "counts once the seller acts on the trade" if trade.records
                     else "records nothing (the asset is not listed, or the price is below its minimum)"))
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


def event_types(name: str) -> dict[str, str]:
    """The ABI types of event ``name``'s arguments (escrow and reputation contracts), by name."""
    return _event_types().get(name, {})


@functools.cache
def _event_types() -> dict[str, dict[str, str]]:
    from .._artifacts import load_artifact

    found: dict[str, dict[str, str]] = {}
    for contract in ("Reputation", "P2PEscrow"):
        for entry in load_artifact(contract)["abi"]:
            if entry.get("type") == "event":
                found[entry["name"]] = {i["name"]: i["type"] for i in entry.get("inputs", ())}
    return found


def event_text(name: str, args: Mapping[str, Any], token: TokenInfo | None) -> str:
    """``Released: toSeller 1.49625 ETH, platformFee 0.00375 ETH, heldAfter 0 ETH``. Arguments are
    shown by their ABI type: a bool as yes/no (``TimedOut: toSeller no``), token amounts only for
    the amount fields (uint)."""
    types = event_types(name)
    parts = []
    for key, value in args.items():
        kind = types.get(key, "")
        if key in ("id", "tradeId", "escrow"):
            continue
        if key == "terms":
            if token is not None:
                parts.append(f"amount {human(int(value['amount']), token)}")
                for side in ("buyerDeposit", "sellerDeposit"):
                    if int(value.get(side, 0)):
                        parts.append(f"{side} {human(int(value[side]), token)}")
            continue
        if key == "state" and isinstance(value, int):
            from ..states import TradeState

            parts.append(f"state {TradeState(value).name if 0 <= value < len(TradeState) else value}")
            continue
        if kind == "bool" or isinstance(value, bool):
            parts.append(f"{key} {'yes' if value else 'no'}")
        elif (key in _AMOUNT_ARGS and token is not None and isinstance(value, int)
              and kind in ("", "uint256", "uint128")):
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


# -- transactions ---------------------------------------------------------------------------------
def tx_document(tx: TxResult) -> dict[str, Any]:
    return {"hash": tx.tx_hash, "block": tx.block_number, "gas_used": tx.gas_used,
            "gas_cost": {"value": eth(tx.fee).split()[0], "base_units": str(tx.fee), "symbol": "ETH"},
            "events": [{"name": e.name, "args": plain(e.args)} for e in tx.events]}


def tx_lines(options: Options, tx: TxResult) -> list[str]:
    link = options.selected_network().tx_link(tx.tx_hash)
    return [f"  tx        {tx.tx_hash} (block {tx.block_number})" + (f"\n            {link}" if link else ""),
            f"  gas used  {tx.gas_used:,} (cost {eth(tx.fee)})"]


def trade_result(options: Options, client: EscrowClient, action: str, headline: str, tx: TxResult,
                 tid: str, **extra: Any) -> None:
    """After a trade operation: the headline, gas, and the trade's new state (or one JSON document)."""
    trade = client.trade(tid)
    you = me(client)
    may = you_may(trade, you)
    lines = [headline, *tx_lines(options, tx), f"  trade     {trade.id}",
             f"  state     {trade.state.name}, holding {human(held_now(trade), trade.token)}"]
    if trade.deadline is not None:
        lines.append(f"  deadline  {deadline_text(trade, clock(client))}")
    lines.append(f"  you may   {', '.join(may) if may else 'nothing now'}")
    emit(options, {"action": action, **extra, "trade": trade_document(trade, you), "tx": tx_document(tx)}, lines)
