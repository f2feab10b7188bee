"""``p2pescrow tx ...``: transactions an earlier run left unresolved (the journal).

Every signed transaction is journaled before it is sent and forgotten once mined. ``tx pending``
shows what is left and what became of it; ``tx resend`` broadcasts the same signed bytes again (same
hash and nonce: it cannot pay twice); ``tx replace`` signs the same call with the same nonce and
fees raised by at least 12.5 %, to unstick it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from ...errors import InputError
from .. import context
from ..app import app, command
from ..context import Options
from ..render import emit, progress, table

if TYPE_CHECKING:
    from ...transport.journal import Entry
    from ...transport.sync import Transactor

tx_app = typer.Typer(name="tx", no_args_is_help=True,
                     help="Transactions sent but not seen mined: list, rebroadcast or replace them.")
app.add_typer(tx_app)


def _transactor(options: Options, signer: Any = None) -> Transactor:
    """The transaction path on the selected network's node (its identity checked), signing as
    ``signer`` (None: look up and rebroadcast only): :func:`context.transactor`."""
    return context.transactor(options, signer, embedded="the embedded chain lives only inside one command: "
                              "it has no pending transactions")


def _entry(t: Transactor, hash_: str) -> Entry:
    text = hash_.strip().lower()
    if not text.startswith("0x") or len(text) != 66:
        raise InputError(f"not a transaction hash: {hash_!r} (expected 0x and 64 hex digits)")
    entry = t.find(text)
    if entry is None:
        raise InputError(f"transaction {text} is not in the journal of chain {t.node.chain_id}",
                         hint="see `p2pescrow tx pending`")
    return entry


def _document(entry: Entry, status: str) -> dict[str, Any]:
    return {"hash": entry.tx_hash, "chain_id": entry.chain_id, "account": entry.account, "nonce": entry.nonce,
            "to": entry.to, "value": str(entry.value), "description": entry.description, "status": status}


def _forget(t: Transactor, entry: Entry) -> None:
    if t.journal is not None:
        t.journal.finish(entry)


@command(tx_app, "pending")
def pending(ctx: typer.Context) -> None:
    """List journaled transactions not seen mined yet, with what the node says of each.

    \b
    Statuses: pending (the node has it), dropped (the node lost it: `tx resend`), replaced (another
    transaction used its nonce), mined (now closed).
    """
    options = context.options(ctx)
    t = _transactor(options)
    rows, documents = [], []
    for entry in t.journaled():
        status = t.status(entry)
        if status in ("mined", "replaced"):
            _forget(t, entry)
        documents.append(_document(entry, status))
        rows.append((entry.tx_hash, entry.account, str(entry.nonce), status, entry.description))
    text = table(rows, ("hash", "account", "nonce", "status", "what")) if rows else "No pending transactions."
    emit(options, {"chain_id": t.node.chain_id, "transactions": documents}, text)


@command(tx_app, "resend")
def resend(ctx: typer.Context, hash_: Annotated[str, typer.Argument(
        metavar="HASH", help="A journaled transaction (see `tx pending`).", show_default=False)]) -> None:
    """Broadcast a journaled transaction again: the same signed bytes (same hash, same nonce)."""
    options = context.options(ctx)
    t = _transactor(options)
    entry = _entry(t, hash_)
    status = t.status(entry)
    if status in ("mined", "replaced"):
        _forget(t, entry)
        emit(options, {"transaction": _document(entry, status), "resent": False},
             f"Not resent: {entry.tx_hash} was {status}.")
        return
    t.resend(entry)
    emit(options, {"transaction": _document(entry, "pending"), "resent": True},
         f"Resent {entry.tx_hash} (nonce {entry.nonce}); `p2pescrow tx pending` shows when it is mined.")


@command(tx_app, "replace")
def replace(ctx: typer.Context, hash_: Annotated[str, typer.Argument(
        metavar="HASH", help="A journaled transaction (see `tx pending`).", show_default=False)]) -> None:
    """Send the same call with the same nonce and fees raised by at least 12.5 %, and wait for it."""
    from ..confirm import confirm_send
    from ..context import network, signer

    options = context.options(ctx)
    t = _transactor(options, signer(options, network(options)))
    entry = _entry(t, hash_)

    def confirm(call: Any, preview: Any) -> None:
        confirm_send(options, call, preview,
                     [entry.description or "the same call", "same nonce, fees +12.5 % or more"], sender=t.address)

    result = t.replace(entry, before_send=confirm,
                       on_sent=lambda h: progress(f"sent {h}, waiting for the receipt ...", options))
    emit(options, {"replaced": entry.tx_hash, "tx": {"hash": result.tx_hash, "block": result.block_number,
                                                    "gas_used": result.gas_used}},
         [f"Replaced {entry.tx_hash} with {result.tx_hash} (block {result.block_number}, nonce {entry.nonce})."])
