"""The one confirmation prompt: from which account (first), what will happen and what it may cost,
shown on stderr before anything is sent; then "Send it?" unless ``--yes``. Without a terminal (or
with ``--json``) a command that would have to ask fails instead (exit 2), so scripts never hang.
Declining is not an error: "nothing sent" and exit 6 (``EXIT_DECLINED``), saying so when an
approval sent before (in the same command) stays.

Imported when a command sends: no web3 at import time.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from ..errors import InputError

if TYPE_CHECKING:
    from ..clients.sync import EscrowClient
    from ..models import TokenInfo
    from ..transport.sync import Call, Preview
    from .context import Options

R = TypeVar("R")
#: What a confirmation says about a call: fixed lines, or lines chosen by the call (an ERC-20
#: trade sends an ``approve`` first, which gets its own words).
Details = list[str] | Callable[["Call"], list[str]]


#: Exit code of a declined confirmation (documented in ``p2pescrow --help``).
EXIT_DECLINED = 6


def ask(options: Options, lines: list[str], question: str = "Send it?", *,
        declined: Callable[[], list[str]] | None = None, nothing: str = "nothing sent") -> None:
    """Show ``lines`` and ask ``question`` (unless ``--yes``); a "no" prints "declined: nothing
    sent" (or ``nothing``, e.g. "nothing deleted"; then what ``declined`` adds) and exits 6."""
    if options.yes:
        return
    if options.json or not sys.stdin.isatty():
        raise InputError("confirmation needed and there is no terminal to ask", hint="pass --yes")
    if lines:
        typer.echo("\n".join(lines), err=True)
    if not typer.confirm(question, default=False, err=True):
        typer.echo("\n".join([f"declined: {nothing}", *(declined() if declined else [])]), err=True)
        raise typer.Exit(EXIT_DECLINED)


def sending_account(options: Options, address: str | None) -> str:
    """``alice 0x...`` (or the address alone when no name selects it): who signs and pays."""
    from .accounts_default import account_name

    name = account_name(options)
    if address is None:
        return name or "?"
    return f"{name} {address}" if name and name.lower() != address.lower() else address


def confirm_send(options: Options, call: Call, preview: Preview, details: list[str] | None = None, *,
                 sender: str | None = None, declined: Callable[[], list[str]] | None = None) -> None:
    """Show from which account (first), what a transaction will do and what it may cost; then ask
    (unless ``--yes``)."""
    from .render import eth

    lines = [f"From: {sending_account(options, sender)}", f"About to send: {call.description}"]
    lines += [f"  {d}" for d in details or []]
    if call.value:
        lines.append(f"  value: {eth(call.value)}")
    lines.append(f"  gas: up to {preview.gas:,}, at most {eth(preview.gas * preview.max_fee_per_gas)}")
    ask(options, lines, declined=declined)


def send(options: Options, client: EscrowClient, details: Details, operation: Callable[[], R]) -> R:
    """Run ``operation`` (one SDK call) with the confirmation showing ``details`` before each send.

    A token payment's plan (:class:`~p2pescrow.core.funding.FundingPlan`: approval first or not)
    is shown with the first confirmation; declining after an approval was sent says it stays."""
    plans: list[Any] = []
    approved: list[str] = []

    def before_send(call: Call, preview: Any) -> None:
        lines = details(call) if callable(details) else list(details)
        if plans and not approved:
            lines = [*lines, plans[-1].describe()]
        confirm_send(options, call, preview, lines, sender=client.address,
                     declined=lambda: _approval_stays(plans[-1], client) if approved and plans else [])
        if call.description == "approve":
            approved.append(call.description)

    client.before_send = before_send
    client.on_plan = plans.append
    return operation()


def _approval_stays(plan: Any, client: EscrowClient) -> list[str]:
    """What to say when the funding call is declined after its approval was mined."""
    escrow = client.escrow.address
    return [f"the approval sent before stays: the escrow {escrow} may take {plan.amount_text} from "
            f"{client.address}",
            f"  reuse it: the next `trade create`, `trade fund` or `offer fill` paying up to {plan.amount_text} "
            "uses it, with no new approval",
            f"  revoke it: approve 0, e.g. `cast send {plan.token.address} 'approve(address,uint256)' {escrow} 0`"]


def approve_or(token: TokenInfo, units: int, lines: list[str]) -> Details:
    """``lines`` for the escrow call, and the right words for a preceding ERC-20 approval (with
    what it is for: the escrow call's lines, asked for next)."""
    from .render import human

    def details(call: Call) -> list[str]:
        if call.description == "approve":
            return [f"approve the escrow contract to take exactly {human(units, token)} (token {token.address})",
                    "for this payment, confirmed next:", *(f"  {line}" for line in lines)]
        return lines

    return details
