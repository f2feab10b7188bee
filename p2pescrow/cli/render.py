"""How the CLI speaks: one JSON document with ``--json``, readable text otherwise, and errors as one
line on stderr with a distinct exit code. No web3 here: it is imported by ``--help``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, NoReturn

import typer

from ..errors import (
    ContractError,
    P2PEscrowError,
    exit_code_for,
)

EXIT_CODES_HELP = (
    "Exit codes: 0 ok; 2 usage or input error (nothing sent); 3 refused by the contract or not "
    "enough funds (nothing sent); 4 network: node unreachable, wrong chain or no deployment; "
    "5 timeout: sent, no receipt yet, dropped or replaced, or an earlier transaction is still pending "
    "(the hash is printed; see `p2pescrow tx pending`), or another transaction took its nonce (nothing "
    "sent); 1 unexpected error."
)


@dataclass
class Options:
    """The global options, shared by every command through the Typer context."""

    network: str | None = None
    rpc_url: str | None = None
    account: str | None = None
    password_file: str | None = None
    json: bool = False
    yes: bool = False
    #: Blocks a transaction must be buried under (1: its own) before a command reports it done.
    confirmations: int = 1
    #: Seconds to wait for a receipt (and its confirmations) before exiting 5 with the hash.
    timeout: float = 120.0


def fail(exc: P2PEscrowError, options: Options | None = None) -> NoReturn:
    """Print ``exc`` as one line on stderr (plus a JSON document with ``--json``) and exit."""
    code = exit_code_for(exc)
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    hint = getattr(exc, "hint", None)
    if isinstance(exc, ContractError) and type(exc).__name__ not in message:
        message = f"{type(exc).__name__}: {message}"
    line = f"error: {message}" + (f" (hint: {hint})" if hint else "")
    typer.echo(line, err=True)
    if options is not None and options.json:
        typer.echo(json.dumps({"ok": False, "error": {"type": type(exc).__name__, "message": message,
                                                        "hint": hint, "exit_code": code}}))
    raise typer.Exit(code)


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
    """Print the result: ``document`` as JSON with ``--json``, else ``text``."""
    if options.json:
        typer.echo(json.dumps(to_jsonable({"ok": True, **document}), indent=2, sort_keys=True))
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


def when(moment: datetime | None, now: datetime | None = None) -> str:
    """A deadline as local time and relative words: ``2026-11-25 14:00 (in 2 days)``."""
    if moment is None:
        return "-"
    now = now or datetime.now(UTC)
    seconds = int((moment - now).total_seconds())
    span = abs(seconds)
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60), ("second", 1)):
        if span >= size or unit == "second":
            count = span // size
            words = f"{count} {unit}{'s' if count != 1 else ''}"
            break
    relative = f"in {words}" if seconds >= 0 else f"{words} ago"
    return f"{moment.astimezone().strftime('%Y-%m-%d %H:%M %Z')} ({relative})"


def progress(message: str, options: Options) -> None:
    """A progress line on stderr (never on stdout, which belongs to the result)."""
    if not options.json:
        typer.echo(message, err=True)
