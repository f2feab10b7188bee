"""The one confirmation prompt: what will happen, what it may cost, and from which account, shown
on stderr before anything is sent; then "Send it?" unless ``--yes``. Without a terminal (or with
``--json``) a command that would have to ask fails instead (exit 2), so scripts never hang.

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


def ask(options: Options, lines: list[str], question: str = "Send it?") -> None:
    """Show ``lines`` and ask ``question`` (unless ``--yes``); a "no" aborts the command (exit 1)."""
    if options.yes:
        return
    if options.json or not sys.stdin.isatty():
        raise InputError("confirmation needed and there is no terminal to ask", hint="pass --yes")
    if lines:
        typer.echo("\n".join(lines), err=True)
    if not typer.confirm(question, default=False, err=True):
        raise typer.Abort()


def confirm_send(options: Options, call: Call, preview: Preview, details: list[str] | None = None, *,
                 sender: str | None = None) -> None:
    """Show what a transaction will do, from which account, and what it may cost; then ask
    (unless ``--yes``)."""
    from ..models import from_base_units

    lines = [f"About to send: {call.description}"] + [f"  {d}" for d in details or []]
    if sender:
        lines.append(f"  from: {sender}")
    if call.value:
        lines.append(f"  value: {from_base_units(call.value, 18)} ETH")
    most = from_base_units(preview.gas * preview.max_fee_per_gas, 18)
    lines.append(f"  gas: up to {preview.gas:,}, at most {most} ETH")
    ask(options, lines)


def send(options: Options, client: EscrowClient, details: Details, operation: Callable[[], R]) -> R:
    """Run ``operation`` (one SDK call) with the confirmation showing ``details`` before each send."""
    def before_send(call: Call, preview: Any) -> None:
        lines = details(call) if callable(details) else details
        confirm_send(options, call, preview, lines, sender=client.address)

    client.before_send = before_send
    return operation()


def approve_or(token: TokenInfo, units: int, lines: list[str]) -> Details:
    """``lines`` for the escrow call, and the right words for a preceding ERC-20 approval."""
    from .render import human

    def details(call: Call) -> list[str]:
        if call.description == "approve":
            return [f"approve the escrow contract to take exactly {human(units, token)} (token {token.address})"]
        return lines

    return details
