"""``p2pescrow offer ...``: signed offers. A seller signs terms off-chain (no gas) and publishes the
JSON document; a buyer checks it and fills it, which creates and funds the trade in one transaction.

Documents travel as files or through pipes: ``offer create ... > offer.json``, ``offer fill -``.
"""

from __future__ import annotations

import json
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


def _text(source: str) -> str:
    """The text of an offer document from a file or ``-`` (stdin); an empty one is an input error."""
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
    return text


def _load_with_terms(source: str) -> tuple[SignedOffer, dict[str, Any] | None]:
    """An offer document and the terms document it carries (``"terms"``, as `offer create` writes it),
    or None when it carries none."""
    from ...core.offers import SignedOffer

    text = _text(source)
    signed = SignedOffer.from_json(text)
    terms = json.loads(text).get("terms")
    return signed, terms if isinstance(terms, dict) else None


def _terms_match(signed: SignedOffer, terms: dict[str, Any] | None) -> bool | None:
    """Whether the carried terms document hashes to the signed ``termsHash`` (None: none carried)."""
    from ...core.offers import OfferError, terms_hash

    if terms is None:
        return None
    try:
        return terms_hash(terms) == bytes(signed.offer.termsHash)
    except OfferError:
        return False


def _check_terms(signed: SignedOffer, terms: dict[str, Any] | None) -> None:
    """Refuse an offer whose carried terms document is not the one its seller signed (exit 2)."""
    from ...core.offers import OfferError

    if _terms_match(signed, terms) is False:
        raise OfferError("the terms document in the offer is NOT the one the seller signed (its hash differs from "
                         "the offer's termsHash): it was changed after signing", hint="do not fill it; ask the "
                         "seller for the offer as signed")


def _describe(
    signed: SignedOffer, token: TokenInfo | None, now: datetime | None = None, terms: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """The offer as a JSON-ready dict and as text lines. ``token`` None: an ERC-20 not looked up;
    ``terms``: the terms document the offer document carries, checked against the signed hash."""
    from ...models import FLAG_RECORD_REPUTATION, FLAG_TIMEOUT_RELEASES, ZERO_ADDRESS

    o = signed.offer
    expiry = datetime.fromtimestamp(o.expiry, UTC)
    def money(units: int) -> tuple[str, dict[str, Any]]:
        if token is not None:
            return human(units, token), amount_document(units, token)
        return f"{units} base units", {"value": None, "base_units": str(units), "symbol": None}

    amount_text, amount_doc = money(o.amount)
    if token is None:
        amount_text += f" of token {o.token}"
    elif not token.is_eth:
        amount_text += f"  (token {o.token})"
    buyer_deposit_text, buyer_deposit_doc = money(o.buyerDeposit)
    seller_deposit_text, seller_deposit_doc = money(o.sellerDeposit)
    try:
        signed_by_seller = signed.signer() == o.seller
    except InputError:
        signed_by_seller = False
    anyone = o.buyer == ZERO_ADDRESS
    releases = bool(o.flags & FLAG_TIMEOUT_RELEASES)
    document = {
        "seller": o.seller, "buyer": None if anyone else o.buyer, "token": o.token, "amount": amount_doc,
        "deposits": {"buyer": buyer_deposit_doc, "seller": seller_deposit_doc},
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
        ("deposits", "none" if not (o.buyerDeposit or o.sellerDeposit) else
         f"buyer {buyer_deposit_text if o.buyerDeposit else 'none'} (paid with the price), "
         f"seller {seller_deposit_text if o.sellerDeposit else 'none'} (locked from the seller's bond at filling)"),
        ("arbiter", f"{o.arbiter}, fee {percent(o.arbiterFeeBps)}" if document["arbiter"] else "none"),
        ("fees", f"platform {percent(o.platformFeeBps)} of what the seller receives"),
        ("windows", f"release {span(o.releaseWindow)}, arbitration {span(o.arbitrationWindow)}"),
        ("timeout", "releases to the seller" if releases else "refunds the buyer unless marked delivered"
         if document["arbiter"] else "refunds the buyer (no arbiter: marking delivery changes nothing)"),
        ("expires", when(expiry, now)),
        ("nonce", str(o.nonce)),
        ("chain", f"{signed.chain_id}, escrow {signed.escrow}"),
        ("signature", "valid, by the seller" if signed_by_seller else "NOT the seller's signature"),
    ]
    if int.from_bytes(o.termsHash, "big"):
        rows.insert(9, ("terms", "0x" + o.termsHash.hex()))
    match = _terms_match(signed, terms)
    document["terms_document"], document["terms_document_matches"] = terms, match
    if terms is not None:
        shown = terms["description"] if isinstance(terms.get("description"), str) and len(terms) == 1 \
            else json.dumps(terms, ensure_ascii=False, separators=(", ", ": "))
        rows.insert(10, ("", f"{shown[:200]}{'...' if len(shown) > 200 else ''}  ("
                             + ("the document the seller signed" if match else "NOT the document the seller signed")
                             + ")"))
    width = max(len(k) for k, _ in rows)
    return document, [f"  {k.ljust(width)}  {v}" for k, v in rows]


@command(offer_app, "create")
def create(
    ctx: typer.Context, *,
    amount: Annotated[str, typer.Option("--amount", help="The price: '1.5', '1.5 ETH', '250 USDC'.",
                                        show_default=False)],
    token: Annotated[str | None, typer.Option("--token", help=parse.TOKEN_HELP)] = None,
    buyer_deposit: Annotated[str, typer.Option(
        "--buyer-deposit", help="Security the buyer pays with the price when filling (default: none).")] = "0",
    seller_deposit: Annotated[str, typer.Option(
        "--seller-deposit", help="Security locked from your bond when a buyer fills the offer (default: none; "
        "top up with `bond deposit`).")] = "0",
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
    terms: Annotated[str | None, typer.Option(
        "--terms", help="What is sold, in words: the terms document becomes {\"description\": TEXT}; only its "
        "hash is signed.")] = None,
    terms_file: Annotated[Path | None, typer.Option(
        "--terms-file", metavar="PATH", help="The terms document as a JSON object (what is sold, delivery, ...); "
        "only its hash (keccak256 of its canonical JSON) is signed.")] = None,
    title: Annotated[str | None, typer.Option(
        "--title", help="The listing's title, searched by `market search --text`.")] = None,
    description: Annotated[str | None, typer.Option(
        "--description", help="The listing's description (what is sold, its condition, delivery), searched by "
        "`market search --text`.")] = None,
    category: Annotated[str | None, typer.Option(
        "--category", help="The listing's category, e.g. bikes (`market search --category bikes`).")] = None,
    tag: Annotated[list[str] | None, typer.Option(
        "--tag", metavar="TAG", help="A tag for the listing; repeat for more: --tag road --tag steel.")] = None,
    payment_method: Annotated[str | None, typer.Option(
        "--payment-method", help="For fiat trades: how the fiat is paid, e.g. 'SEPA transfer'.")] = None,
    fiat_price: Annotated[str | None, typer.Option(
        "--fiat-price", help="For fiat trades: the price in fiat, e.g. '120 EUR'.")] = None,
    expires_in: Annotated[str, typer.Option("--expires-in", help="How long the offer can be filled.")] = "1d",
    nonce: Annotated[str | None, typer.Option("--nonce", help="The offer nonce (default: random).")] = None,
    out: Annotated[str | None, typer.Option("--out", help="Write the document to FILE (default: stdout).",
                                            metavar="FILE")] = None,
) -> None:
    """Sign an offer as the seller (no transaction, no gas) and print its JSON document.

    The terms document travels in the offer document; only its hash is signed, so a buyer (and
    `offer publish`) can check it. It is built from the listing's fields (--title, --description,
    --category, --tag, --payment-method, --fiat-price: what `market search` shows and searches), or
    is --terms TEXT (the description) or --terms-file PATH (a JSON object; the listing options add
    to it). --seller-deposit is locked from your bond when a buyer fills the offer: an offer asking
    for more than your free bond cannot be filled (`bond deposit` first).

    \b
    Example:
      p2pescrow --account bob offer create --amount 0.8 --title "Road bike, size 56" \\
          --description "Steel frame, new tyres; pick up in Lyon" --category bikes --tag road \\
          --buyer-deposit 0.05 --seller-deposit 0.1 \\
          --arbiter 0x90F79bf6EB2c4f870365E785982E1f101E93b906 --out bike.json
      p2pescrow --account bob offer publish bike.json
    """
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
    document_fields = _listing(_terms_fields(terms, terms_file), title=title, description=description,
                               category=category, tags=tag, payment_method=payment_method, fiat_price=fiat_price)
    options = context.options(ctx)
    client = connect(options, hooks=False)
    token_address = parse.token_address(token, client.deployment.dev_tokens)
    info = client.token(token_address)
    units = parse.base_units(amount, info)  # exact and positive, or an InvalidAmount now
    deposits = {"buyer_deposit": info.human(parse.deposit(buyer_deposit, info, "--buyer-deposit")),
                "seller_deposit": info.human(parse.deposit(seller_deposit, info, "--seller-deposit"))}
    risks: list[Any] = []
    client.on_risks = risks.extend
    signed = client.create_offer(
        amount=info.human(units), token=token_address, buyer=buyer_address, arbiter=arbiter_address,
        arbiter_fee_bps=fee_bps, timeout_releases=timeout_releases, record_reputation=not no_reputation,
        terms=document_fields, nonce=offer_nonce, **deposits, **windows)
    for risk in risks:
        progress(f"RISK: {risk}", options)
    if signed.offer.sellerDeposit:
        free = client.bond(info.address)
        if free < signed.offer.sellerDeposit:
            progress(f"NOTE: your free bond is {human(free, info)}: no buyer can fill this offer until you add "
                     f"{human(signed.offer.sellerDeposit - free, info)} (`p2pescrow bond deposit`)", options)
    document = _with_terms(signed.to_json(), document_fields)
    summary, lines = _describe(signed, info, clock(client), document_fields)
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


def _terms_fields(text: str | None, path: Path | None) -> dict[str, Any] | None:
    """The offer's terms document as fields: ``{"description": TEXT}``, or the JSON object in a file."""
    if text is not None and path is not None:
        raise InputError("give --terms or --terms-file, not both")
    if text is not None:
        return {"description": text}
    if path is None:
        return None
    try:
        value = json.loads(path.expanduser().read_text())
    except OSError as exc:
        raise InputError(f"cannot read the terms file {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"the terms file {path} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InputError(f"the terms file {path} holds a JSON {type(value).__name__}: a terms document is an object")
    return value


def _listing(fields: dict[str, Any] | None, **listing: Any) -> dict[str, Any] | None:
    """The terms document: ``fields`` (from --terms / --terms-file) with the listing's fields added under the
    keys the market index reads (title, description, category, tags, payment_method, fiat_price), checked to
    have a canonical JSON form (:func:`p2pescrow.core.offers.terms_document`: its keccak256 is signed)."""
    from ...core.offers import OfferError, terms_document

    given = {key: value for key, value in listing.items() if value not in (None, [], ())}
    if not given:
        return fields
    document = dict(fields or {})
    for key, value in given.items():
        if key != "tags" and not str(value).strip():
            raise InputError(f"--{key.replace('_', '-')} is empty")
        if key in document and document[key] != value:
            where = "--terms" if key == "description" and fields == {"description": document[key]} else "the terms file"
            raise InputError(f"--{key.replace('_', '-')} and {where} both give the listing's {key}: give it once")
        document[key] = [str(t) for t in value] if key == "tags" else value
    try:
        terms_document(document)
    except OfferError as exc:
        raise InputError(str(exc)) from None
    return document


def _with_terms(document: str, fields: dict[str, Any] | None) -> str:
    """The offer document with its terms document beside the signed offer (``"terms"``), so whoever
    receives it can check the hash and `offer publish` can put both on the board."""
    if fields is None:
        return document
    value = json.loads(document)
    value["terms"] = fields
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


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

    signed, terms = _load_with_terms(source)
    options = context.options(ctx)
    token = ETH_TOKEN if signed.offer.token == ETH_TOKEN.address else None
    document, lines = _describe(signed, token, terms=terms)
    bad: InputError | None = None
    if document["terms_document_matches"] is False:
        bad = InputError("the terms document in the offer is NOT the one the seller signed: it was changed after "
                         "signing", hint="do not fill it; ask the seller for the offer as signed")
    if not document["signed_by_seller"]:
        bad = InputError(f"the offer's signature is NOT the seller's ({signed.offer.seller}): it was changed "
                         "after signing, or signed by another key", hint="do not fill it; ask the seller for a "
                         "new offer")
    if bad is not None:  # said first, then the terms as they read, and exit 2
        if not options.json:
            report(type(bad).__name__, str(bad), bad.hint, bad.exit_code, json_output=False)
            line("\n".join(["Offer (NOT validly signed)", *lines]))
            raise typer.Exit(bad.exit_code)
        raise bad
    emit(options, {"offer": document}, ["Offer", *lines])


def _checked(client: EscrowClient, signed: SignedOffer,
             terms: dict[str, Any] | None) -> tuple[TokenInfo, dict[str, Any], list[str]]:
    info = client.token(signed.offer.token)
    document, lines = _describe(signed, info, clock(client), terms)
    return info, document, lines


@command(offer_app, "verify")
def verify(ctx: typer.Context, source: FileArg) -> None:
    """Check an offer against the chain: contract, signer, expiry, nonce, fee and buyer (exit 2 if bad)."""
    signed, terms = _load_with_terms(source)
    _check_terms(signed, terms)
    options = context.options(ctx)
    client = connect(options, read_only=True)
    client.verify_offer(signed)
    _, document, lines = _checked(client, signed, terms)
    emit(options, {"valid": True, "offer": document}, ["Offer OK: it can be filled now.", *lines])


@command(offer_app, "fill")
def fill(ctx: typer.Context, source: Annotated[str, typer.Argument(
        metavar="FILE|ID", help="Offer document, - for standard input, or an offer's id in the market index "
        "(`market search`; 8 or more of its first hex digits do).", show_default=False)]) -> None:
    """Buyer: verify an offer, then fill it: creates and funds the trade in one transaction.

    The offer comes from a file (or standard input), or from the market index by its id: the index
    is synced first, and the offer and its terms document are the ones published on the board.

    \b
    Example:
      p2pescrow --account alice offer fill bike.json
      p2pescrow market search --category bikes
      p2pescrow --account alice offer fill 0x3f2a9c1e
    """
    from ...models import FLAG_TIMEOUT_RELEASES

    options = context.options(ctx)
    if source != "-" and not Path(source).expanduser().exists() and _looks_like_id(source):
        from .market import indexed_offer

        signed, terms = indexed_offer(options, source)
    else:
        signed, terms = _load_with_terms(source)
    _check_terms(signed, terms)
    client = connect(options)
    info = client.token(signed.offer.token)
    o = signed.offer
    pay = o.amount + o.buyerDeposit
    lines = [f"fill the offer of seller {o.seller}: pay {human(pay, info)} into escrow"
             + (f" (the price {human(o.amount, info)} and your deposit {human(o.buyerDeposit, info)})"
                if o.buyerDeposit else ""),
             *([f"the seller's deposit of {human(o.sellerDeposit, info)} is locked from its bond: the trade is live "
                "at once"] if o.sellerDeposit else []),
             f"arbiter: {o.arbiter}, fee {percent(o.arbiterFeeBps)}" if int(o.arbiter, 16) else "arbiter: none",
             f"platform fee: {percent(o.platformFeeBps)} of what the seller receives",
             f"release window {span(o.releaseWindow)}; on timeout: "
             + ("release to the seller" if o.flags & FLAG_TIMEOUT_RELEASES
                else "refund the buyer unless marked delivered" if int(o.arbiter, 16) else "refund the buyer")]
    if o.buyerDeposit or o.sellerDeposit:
        lines.append("deposits: both back on release, refund or settlement; "
                     + ("on a timeout the side it rules against forfeits its deposit to the other, and on a ruling "
                        "the side awarded less than half" if int(o.arbiter, 16) else
                        "on a timeout both back too (no arbiter)"))
    lines += [f"RISK: {risk}" for risk in client.risks(signed)]  # no arbiter; no reputation recorded
    result = confirm.send(options, client, confirm.approve_or(info, pay, lines), lambda: client.fill_offer(signed))
    trade_result(options, client, "fill", f"Filled the offer: trade {result.trade_id} holds "
                 f"{human(o.amount, info)}.", result.tx, result.trade_id, trade_id=result.trade_id)


def _looks_like_id(text: str) -> bool:
    """An offer id (or a prefix of one) rather than a file name: hex digits, 0x first or not."""
    body = text.strip().lower().removeprefix("0x")
    return 8 <= len(body) <= 64 and all(c in "0123456789abcdef" for c in body)


PUBLIC_FOREVER = ("everything in it becomes public forever: the offer (seller, price, deposits, arbiter, fees, "
                  "expiry) and the whole terms document go into an event on chain that anyone can read and no one "
                  "can remove (revoking the nonce stops fills, not the record)")


@command(offer_app, "publish")
def publish(
    ctx: typer.Context, source: FileArg, *,
    terms_file: Annotated[Path | None, typer.Option(
        "--terms-file", metavar="PATH", help="The terms document (a JSON object), if the offer document does not "
        "carry it (`offer create` puts it there).")] = None,
) -> None:
    """Seller: put a signed offer and its terms document on the offer board, for buyers to find.

    One transaction, one event (OfferPublished) carrying both, no storage. Checked first: the
    offer is this escrow's, signed by its seller (you), and the terms document hashes to the
    offer's termsHash (keccak256 of its canonical JSON, RFC 8785). Everything in it becomes public
    forever; the confirmation says so first.

    \b
    Example:
      p2pescrow --account bob offer create --amount 0.8 --terms "road bike, size 56" --out bike.json
      p2pescrow --account bob offer publish bike.json
    """
    from ...core.offers import terms_document

    signed, carried = _load_with_terms(source)
    fields = _terms_fields(None, terms_file) if terms_file is not None else carried
    if fields is None:
        raise InputError("the offer document carries no terms document: pass it with --terms-file PATH",
                         hint="an offer goes on the board with the document its termsHash commits to")
    options = context.options(ctx)
    client = connect(options)
    o = signed.offer
    if o.seller.lower() != client.address.lower():
        raise InputError(f"the offer is {o.seller}'s: only its seller publishes it (you are {client.address})")
    info = client.token(o.token)
    size = len(terms_document(fields))
    lines = [f"publish the offer nonce {o.nonce}: {human(o.amount, info)}, with its {size}-byte terms document",
             PUBLIC_FOREVER[0].upper() + PUBLIC_FOREVER[1:]]

    def details(call: Any) -> list[str]:  # called just before sending, once the SDK's checks passed
        if options.yes:  # no confirmation to show it in: say it anyway
            progress("Publishing: " + PUBLIC_FOREVER + ".", options)
        return lines

    tx = confirm.send(options, client, details, lambda: client.publish_offer(signed, fields))
    emit(options, {"action": "publish", "seller": o.seller, "nonce": str(o.nonce), "terms_bytes": size,
                   "terms_hash": "0x" + o.termsHash.hex(), "tx": tx_document(tx)},
         [f"Published offer nonce {o.nonce} ({human(o.amount, info)}) on the offer board.", *tx_lines(options, tx),
          "Buyers find it with `p2pescrow market search`."])


RELAY_PUBLIC = ("the market server lists it publicly at once: the offer (seller, price, deposits, arbiter, fees, "
                "expiry) and its whole terms document, for anyone who reads the market; its operator may also "
                "publish it on the offer board (an event on chain no one can remove)")


@command(offer_app, "relay")
def relay(
    ctx: typer.Context, source: FileArg, *,
    terms_file: Annotated[Path | None, typer.Option(
        "--terms-file", metavar="PATH", help="The terms document (a JSON object), if the offer document does not "
        "carry it (`offer create` puts it there).")] = None,
) -> None:
    """Seller: hand a signed offer to a market server instead of publishing it: no transaction, no gas.

    The server (--market-url URL or $P2PESCROW_MARKET_URL) checks it as a board post (your
    signature, its chain and escrow, the terms document's hash) and that a buyer could fill it now
    (not expired, nonce unused, the current fee, your free bond covering your deposit), then lists
    it, marked relayed; `market search` through that server shows it. Everything in it becomes
    public; the confirmation says so first (--yes to skip it).

    \b
    Example:
      p2pescrow --account bob offer create --amount 0.8 --title "Road bike" --out bike.json
      p2pescrow --market-url https://market.example.org offer relay bike.json
    """
    from ...market.remote import RemoteMarketClient

    options = context.options(ctx)
    if not options.market_url:
        raise InputError("offer relay posts to a market server: none is given",
                         hint="pass --market-url URL (before the command) or set $P2PESCROW_MARKET_URL")
    signed, carried = _load_with_terms(source)
    fields = _terms_fields(None, terms_file) if terms_file is not None else carried
    if fields is None:
        raise InputError("the offer document carries no terms document: pass it with --terms-file PATH",
                         hint="an offer is relayed with the document its termsHash commits to")
    _check_terms(signed, fields)
    o = signed.offer
    with RemoteMarketClient(options.market_url) as market:
        confirm.ask(options, [f"relay the offer nonce {o.nonce} of {o.seller} to the market server {market.url}",
                              RELAY_PUBLIC[0].upper() + RELAY_PUBLIC[1:]], "Relay it?", nothing="nothing relayed")
        if options.yes:
            progress("Relaying: " + RELAY_PUBLIC + ".", options)
        offer_id = market.relay(signed, fields)
    emit(options, {"action": "relay", "offer_id": offer_id, "relayed": True, "seller": o.seller,
                   "nonce": str(o.nonce), "market_url": market.url, "notice": RELAY_PUBLIC},
         [f"Relayed offer {offer_id} to {market.url}: listed now, marked relayed (no transaction was sent).",
          f"Buyers fill it with `p2pescrow --market-url {market.url} offer fill {offer_id}`."])


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
