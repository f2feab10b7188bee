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
from ..app import app, command
from ..render import Options, emit, progress, table

if TYPE_CHECKING:
    from ...transport.journal import Entry
    from ...transport.sync import Transactor

tx_app = typer.Typer(name="tx", no_args_is_help=True,
                     help="Transactions sent but not seen mined: list, rebroadcast or replace them.")
app.add_typer(tx_app)

#: Replacement fees: at least this much more than the original (nodes want >= 10 %, often 12.5 %).
BUMP_NUM, BUMP_DEN = 9, 8


def _options(ctx: typer.Context) -> Options:
    found = ctx.find_object(Options)
    return found if found is not None else Options()


def _node(options: Options) -> tuple[Any, Any, str, int]:
    from web3 import Web3

    from ...transport.reverts import translate
    from ..context import network

    net = network(options)
    if net.rpc_url is None:
        raise InputError("the embedded chain lives only inside one command: it has no pending transactions")
    w3 = Web3(Web3.HTTPProvider(net.rpc_url, request_kwargs={"timeout": 30}))
    try:
        chain_id = int(w3.eth.chain_id)
    except Exception as exc:  # noqa: BLE001
        raise translate(exc, net.rpc_url) from None
    if net.chain_id is not None and net.chain_id != chain_id:
        from ...errors import WrongChain

        raise WrongChain(net.chain_id, chain_id)
    return net, w3, net.rpc_url, chain_id


def _transactor(w3: Any, signer: Any, url: str, chain_id: int) -> Transactor:
    from ...transport.sync import Transactor

    return Transactor(w3, signer, url=url, chain_id=chain_id)


def _entry(hash_: str, chain_id: int) -> Entry:
    from ...transport.journal import JOURNAL

    text = hash_.strip().lower()
    if not text.startswith("0x") or len(text) != 66:
        raise InputError(f"not a transaction hash: {hash_!r} (expected 0x and 64 hex digits)")
    entry = JOURNAL.find(text, chain_id)
    if entry is None:
        raise InputError(f"transaction {text} is not in the journal of chain {chain_id}",
                         hint="see `p2pescrow tx pending`")
    return entry


def _document(entry: Entry, status: str) -> dict[str, Any]:
    return {"hash": entry.tx_hash, "chain_id": entry.chain_id, "account": entry.account, "nonce": entry.nonce,
            "to": entry.to, "value": str(entry.value), "description": entry.description, "status": status}


@command(tx_app, "pending")
def pending(ctx: typer.Context) -> None:
    """List journaled transactions not seen mined yet, with what the node says of each.

    \b
    Statuses: pending (the node has it), dropped (the node lost it: `tx resend`), replaced (another
    transaction used its nonce), mined (now closed).
    """
    from ...transport.journal import JOURNAL

    options = _options(ctx)
    _net, w3, url, chain_id = _node(options)
    rows, documents = [], []
    for entry in JOURNAL.entries(chain_id):
        t = _transactor(w3, entry.account, url, chain_id)
        status = t.status(entry)
        if status in ("mined", "replaced"):
            JOURNAL.finish(entry)
        documents.append(_document(entry, status))
        rows.append((entry.tx_hash, entry.account, str(entry.nonce), status, entry.description))
    text = table(rows, ("hash", "account", "nonce", "status", "what")) if rows else "No pending transactions."
    emit(options, {"chain_id": chain_id, "transactions": documents}, text)


@command(tx_app, "resend")
def resend(ctx: typer.Context, hash_: Annotated[str, typer.Argument(
        metavar="HASH", help="A journaled transaction (see `tx pending`).", show_default=False)]) -> None:
    """Broadcast a journaled transaction again: the same signed bytes (same hash, same nonce)."""
    from ...transport.journal import JOURNAL

    options = _options(ctx)
    _net, w3, url, chain_id = _node(options)
    entry = _entry(hash_, chain_id)
    t = _transactor(w3, entry.account, url, chain_id)
    status = t.status(entry)
    if status in ("mined", "replaced"):
        JOURNAL.finish(entry)
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
    from ...transport.journal import JOURNAL, entry_for
    from ...transport.sync import Call, Preview
    from ..context import confirm_send, signer

    options = _options(ctx)
    net, w3, url, chain_id = _node(options)
    entry = _entry(hash_, chain_id)
    account = signer(options, net)
    if account.address.lower() != entry.account.lower():
        raise InputError(f"transaction {entry.tx_hash} was sent by {entry.account}, not by {account.address}",
                         hint="pass --account with the sender's keystore")
    t = _transactor(w3, account, url, chain_id)
    status = t.status(entry)
    if status in ("mined", "replaced"):
        JOURNAL.finish(entry)
        raise InputError(f"transaction {entry.tx_hash} was already {status}: nothing to replace")
    tx = entry.fields()
    block = w3.eth.get_block("latest")
    base_fee = block.get("baseFeePerGas")

    def bump(old: int) -> int:
        return -(-old * BUMP_NUM // BUMP_DEN)

    if entry.gas_price is not None:
        tx["gasPrice"] = max(bump(entry.gas_price), int(w3.eth.gas_price))
        preview = Preview(entry.gas, tx["gasPrice"], None, entry.value)
    else:
        tip = bump(int(entry.max_priority_fee_per_gas or 0))
        fee = max(bump(int(entry.max_fee_per_gas or 0)), 2 * int(base_fee or 0) + tip)
        tx["maxFeePerGas"], tx["maxPriorityFeePerGas"] = fee, tip
        preview = Preview(entry.gas, fee, tip, entry.value)
    tx.pop("from", None)
    call = Call(entry.to, entry.data, entry.value, f"replacement of {entry.tx_hash} (nonce {entry.nonce})")
    confirm_send(options, call, preview, [entry.description or "the same call", "same nonce, fees +12.5 % or more"])
    signed = account.sign_transaction(tx)
    new = JOURNAL.record(entry_for(chain_id, account.address, tx, signed, entry.description))
    sent = t._send_raw(signed.raw_transaction, new.tx_hash)
    progress(f"sent {new.tx_hash}, waiting for the receipt ...", options)
    result = t.wait("0x" + bytes(sent).hex(), nonce=entry.nonce)
    JOURNAL.finish(entry)
    emit(options, {"replaced": entry.tx_hash, "tx": {"hash": result.tx_hash, "block": result.block_number,
                                                    "gas_used": result.gas_used}},
         [f"Replaced {entry.tx_hash} with {result.tx_hash} (block {result.block_number}, nonce {entry.nonce})."])
