"""``p2pescrow offer ...``: signed offers. A seller signs terms off-chain (no gas) and publishes the
JSON document; a buyer checks it and fills it, which creates and funds the trade in one transaction.

Documents travel as files or through pipes: ``offer create ... > offer.json``, ``offer fill -``.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ...errors import InputError
from .. import confirm, context, parse
from ..app import app, command
from ..context import client as connect
from ..render import (
    amount_document,
    clock,
    emit,
    human,
    line,
    percent,
    progress,
    report,
    span,
    trade_result,
    tx_document,
    tx_lines,
    when,
)

if TYPE_CHECKING:
    from ...clients.sync import EscrowClient
    from ...core.offers import SignedOffer
    from ...models import TokenInfo

offer_app = typer.Typer(name="offer", no_args_is_help=True, help=(
    "Signed offers: sell with a signature instead of a transaction; the buyer fills it.\n\n"
    "FILE is an offer document, or - for standard input."))
app.add_typer(offer_app)

FileArg = Annotated[str, typer.Argument(metavar="FILE", help="Offer document, or - for standard input.",
                                        show_default=False)]


def _load(source: str) -> SignedOffer:
    """Parse an offer document from a file or ``-`` (stdin); malformed -> OfferError (exit 2)."""
    from ...core.offers import SignedOffer

    if source == "-":
        text = sys.stdin.read()
    else:
        path = Path(source).expanduser()
        try:
            text = path.read_text()
        except OSError as exc:
            raise InputError(f"cannot read the offer file {path}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise InputError(f"{path} is not a text file") from None
    if not text.strip():
        raise InputError("the offer document is empty" + (" (nothing on standard input)" if source == "-" else ""))
    return SignedOffer.from_json(text)


def _describe(
    signed: SignedOffer, token: TokenInfo | None, now: datetime | None = None
) -> tuple[dict[str, Any], list[str]]:
    """The offer as a JSON-ready dict and as text lines. ``token`` None: an ERC-20 not looked up."""
    from ...models import FLAG_RECORD_REPUTATION, FLAG_TIMEOUT_RELEASES, ZERO_ADDRESS

    o = signed.offer
    expiry = datetime.fromtimestamp(o.expiry, UTC)
    if token is not None:
        amount_text = human(o.amount, token) + ("" if token.is_eth else f"  (token {o.token})")
        amount_doc: dict[str, Any] = amount_document(o.amount, token)
    else:
        amount_text = f"{o.amount} base units of token {o.token}"
        amount_doc = {"value": None, "base_units": str(o.amount), "symbol": None}
    try:
        signed_by_seller = signed.signer() == o.seller
    except InputError:
        signed_by_seller = False
    anyone = o.buyer == ZERO_ADDRESS
    releases = bool(o.flags & FLAG_TIMEOUT_RELEASES)
    document = {
        "seller": o.seller, "buyer": None if anyone else o.buyer, "token": o.token, "amount": amount_doc,
        "arbiter": None if o.arbiter == ZERO_ADDRESS else o.arbiter, "arbiter_fee_bps": o.arbiterFeeBps,
        "platform_fee_bps": o.platformFeeBps, "release_window": o.releaseWindow,
        "arbitration_window": o.arbitrationWindow, "timeout_releases": releases,
        "records_reputation": bool(o.flags & FLAG_RECORD_REPUTATION), "terms_hash": "0x" + o.termsHash.hex(),
        "nonce": str(o.nonce),
        "expiry": expiry.isoformat(), "chain_id": signed.chain_id, "escrow": signed.escrow,
        "signed_by_seller": signed_by_seller,
    }
    rows = [
        ("seller", o.seller),
        ("buyer", "anyone" if anyone else o.buyer),
        ("amount", amount_text),
        ("arbiter", f"{o.arbiter}, fee {percent(o.arbiterFeeBps)}" if document["arbiter"] else "none"),
        ("fees", f"platform {percent(o.platformFeeBps)} of what the seller receives"),
        ("windows", f"release {span(o.releaseWindow)}, arbitration {span(o.arbitrationWindow)}"),
        ("timeout", "releases to the seller" if releases else "refunds the buyer unless marked delivered"),
        ("expires", when(expiry, now)),
        ("nonce", str(o.nonce)),
        ("chain", f"{signed.chain_id}, escrow {signed.escrow}"),
        ("signature", "valid, by the seller" if signed_by_seller else "NOT the seller's signature"),
    ]
    if int.from_bytes(o.termsHash, "big"):
        rows.insert(8, ("terms", "0x" + o.termsHash.hex()))
    width = max(len(k) for k, _ in rows)
    return document, [f"  {k.ljust(width)}  {v}" for k, v in rows]


@command(offer_app, "create")
def create(
    ctx: typer.Context, *,
    amount: Annotated[str, typer.Option("--amount", help="The price: '1.5', '1.5 ETH', '250 USDC'.",
                                        show_default=False)],
    token: Annotated[str | None, typer.Option("--token", help=parse.TOKEN_HELP)] = None,
    buyer: Annotated[str | None, typer.Option("--buyer", help="Reserve the offer for this buyer (default: anyone).")]
    = None,
    arbiter: Annotated[str | None, typer.Option("--arbiter", help="Who rules disputes (default: none).")] = None,
    arbiter_fee: Annotated[str, typer.Option("--arbiter-fee", help="The arbiter's fee if they rule: '1%'.")] = "0%",
    release_window: Annotated[str, typer.Option("--release-window", help="Time after funding before timeout.")]
    = "3d",
    arbitration_window: Annotated[str, typer.Option("--arbitration-window", help="Time the arbiter has to rule.")]
    = "7d",
    timeout_releases: Annotated[bool, typer.Option(
        "--timeout-releases", help="On timeout, pay the seller instead of refunding the buyer.")] = False,
    no_reputation: Annotated[bool, typer.Option("--no-reputation", help="Do not record the outcome.")] = False,
    terms: Annotated[str | None, typer.Option("--terms", help="The agreement; only its hash is signed.")] = None,
    expires_in: Annotated[str, typer.Option("--expires-in", help="How long the offer can be filled.")] = "1d",
    nonce: Annotated[str | None, typer.Option("--nonce", help="The offer nonce (default: random).")] = None,
    out: Annotated[str | None, typer.Option("--out", help="Write the document to FILE (default: stdout).",
                                            metavar="FILE")] = None,
) -> None:
    """Sign an offer as the seller (no transaction, no gas) and print its JSON document."""
    from ...core.hints import check_term_bounds
    from ..parse import duration, share_bps

    buyer_address = parse.address(buyer, "buyer address") if buyer else None
    arbiter_address = parse.address(arbiter, "arbiter address") if arbiter else None
    token_address = parse.token_address(token)
    fee_bps = share_bps(arbiter_fee)
    if fee_bps and arbiter_address is None:
        raise InputError("--arbiter-fee needs an --arbiter")
    windows = {"release_window": duration(release_window), "arbitration_window": duration(arbitration_window),
               "expires_in": duration(expires_in)}
    check_term_bounds(arbiter=arbiter_address, arbiter_fee_bps=fee_bps, **windows)  # the contract's constants
    offer_nonce = _nonce(nonce) if nonce is not None else None
    options = context.options(ctx)
    client = connect(options, hooks=False)
    token_address = parse.token_address(token, client.deployment.dev_tokens)
    info = client.token(token_address)
    units = parse.base_units(amount, info)  # exact and positive, or an InvalidAmount now
    signed = client.create_offer(
        amount=info.human(units), token=token_address, buyer=buyer_address, arbiter=arbiter_address,
        arbiter_fee_bps=fee_bps, timeout_releases=timeout_releases, record_reputation=not no_reputation,
        terms=terms, nonce=offer_nonce, **windows)
    document = signed.to_json()
    summary, lines = _describe(signed, info, clock(client))
    if out is None:
        line(document)
        progress(f"Signed an offer of {human(signed.offer.amount, info)} as "
                 f"{confirm.sending_account(options, client.address)} (nonce {signed.offer.nonce}); "
                 f"revoke it with `p2pescrow offer revoke {signed.offer.nonce}`.", options)
        return
    path = Path(out).expanduser()
    try:
        path.write_text(document + "\n")
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None
    emit(options, {"file": str(path), "offer": summary},
         [f"Signed offer written to {path} as {confirm.sending_account(options, client.address)} "
          "(no transaction was sent):", *lines,
          f"Revoke it with `p2pescrow offer revoke {signed.offer.nonce}`."])


def _nonce(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise InputError(f"invalid nonce {text!r}: a whole number (decimal or 0x-hex)") from None
    if not 0 <= value < 2**256:
        raise InputError(f"invalid nonce {text!r}: must be between 0 and 2^256 - 1")
    return value


@command(offer_app, "show")
def show(ctx: typer.Context, source: FileArg) -> None:
    """Print an offer document's terms (offline: checks the signature, not the chain)."""
    from ...models import ETH_TOKEN

    signed = _load(source)
    options = context.options(ctx)
    token = ETH_TOKEN if signed.offer.token == ETH_TOKEN.address else None
    document, lines = _describe(signed, token)
    if not document["signed_by_seller"]:  # said first, then the terms as they read, and exit 2
        bad = InputError(f"the offer's signature is NOT the seller's ({signed.offer.seller}): it was changed "
                         "after signing, or signed by another key", hint="do not fill it; ask the seller for a "
                         "new offer")
        if not options.json:
            report(type(bad).__name__, str(bad), bad.hint, bad.exit_code, json_output=False)
            line("\n".join(["Offer (NOT validly signed)", *lines]))
            raise typer.Exit(bad.exit_code)
        raise bad
    emit(options, {"offer": document}, ["Offer", *lines])


def _checked(client: EscrowClient, signed: SignedOffer) -> tuple[TokenInfo, dict[str, Any], list[str]]:
    info = client.token(signed.offer.token)
    document, lines = _describe(signed, info, clock(client))
    return info, document, lines


@command(offer_app, "verify")
def verify(ctx: typer.Context, source: FileArg) -> None:
    """Check an offer against the chain: contract, signer, expiry, nonce, fee and buyer (exit 2 if bad)."""
    signed = _load(source)
    options = context.options(ctx)
    client = connect(options, read_only=True)
    client.verify_offer(signed)
    _, document, lines = _checked(client, signed)
    emit(options, {"valid": True, "offer": document}, ["Offer OK: it can be filled now.", *lines])


@command(offer_app, "fill")
def fill(ctx: typer.Context, source: FileArg) -> None:
    """Buyer: verify an offer, then fill it: creates and funds the trade in one transaction."""
    from ...models import FLAG_TIMEOUT_RELEASES

    signed = _load(source)
    options = context.options(ctx)
    client = connect(options)
    info = client.token(signed.offer.token)
    o = signed.offer
    lines = [f"fill the offer of seller {o.seller}: pay {human(o.amount, info)} into escrow",
             f"arbiter: {o.arbiter}, fee {percent(o.arbiterFeeBps)}" if int(o.arbiter, 16) else "arbiter: none",
             f"platform fee: {percent(o.platformFeeBps)} of what the seller receives",
             f"release window {span(o.releaseWindow)}; on timeout: "
             + ("release to the seller" if o.flags & FLAG_TIMEOUT_RELEASES
                else "refund the buyer unless marked delivered")]
    result = confirm.send(options, client, confirm.approve_or(info, o.amount, lines), lambda: client.fill_offer(signed))
    trade_result(options, client, "fill", f"Filled the offer: trade {result.trade_id} holds "
                 f"{human(o.amount, info)}.", result.tx, result.trade_id, trade_id=result.trade_id)


@command(offer_app, "revoke")
def revoke(ctx: typer.Context, nonce: Annotated[str, typer.Argument(
        metavar="NONCE", help="The nonce of the offer (see `offer show`).", show_default=False)]) -> None:
    """Seller: revoke an offer nonce, so no offer signed with it can be filled."""
    value = _nonce(nonce)
    options = context.options(ctx)
    client = connect(options)
    lines = [f"revoke offer nonce {value} of {client.address}: no offer signed with it can be filled"]
    tx = confirm.send(options, client, lines, lambda: client.revoke_offer(value))
    emit(options, {"action": "revoke", "nonce": str(value), "seller": client.address, "tx": tx_document(tx)},
         [f"Revoked offer nonce {value}.", *tx_lines(options, tx)])
