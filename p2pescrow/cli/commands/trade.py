"""``p2pescrow trade ...``: every trade operation of the SDK, one command each.

Commands that send show what will happen (amounts with symbols, fees, counterparty, gas and its
cost) and ask before sending, unless ``--yes``; afterwards they print the gas used and the trade's
new state. Reads (``show``, ``list``, ``history``, ``watch``) need no password.
"""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ...errors import InputError
from .. import confirm, context, parse
from ..app import app, command
from ..context import Options
from ..context import client as connect
from ..render import (
    COMMANDS,
    amount_document,
    clock,
    deposit_fates,
    deposits_in,
    emit,
    event_text,
    held_now,
    human,
    line,
    me,
    percent,
    plain,
    progress,
    relative,
    roles,
    short,
    span,
    table,
    timeout_outcome,
    timeout_pays_seller,
    trade_document,
    trade_lines,
    trade_result,
    tx_document,
    tx_lines,
)

if TYPE_CHECKING:
    from ...clients.sync import EscrowClient
    from ...models import Trade

trade_app = typer.Typer(name="trade", no_args_is_help=True, help=(
    "Create, fund, release, dispute and settle trades, and read them.\n\n"
    "TRADE is a trade id (0x + 64 hex digits) or a unique prefix of at least 8 hex digits."))
app.add_typer(trade_app)

TradeArg = Annotated[str, typer.Argument(metavar="TRADE", help="Trade id, or a unique prefix of 8+ hex digits.",
                                         show_default=False)]
AmountPart = Annotated[str | None, typer.Option(
    "--amount", help="Only this part of what is held, e.g. '0.5' or '0.5 ETH' (default: all of it).")]
BuyerShare = Annotated[str, typer.Option(
    "--buyer-share", help="The buyer's share of what is held: '60%' or '6000bps'; the seller gets the rest.")]
BPS = 10_000


def _open(ctx: typer.Context, text: str, *, read_only: bool = False) -> tuple[Options, EscrowClient, Trade]:
    """Options, a connected client, and the trade ``text`` names."""
    options = context.options(ctx)
    client = connect(options, read_only=read_only)
    return options, client, client.trade(_trade_id(options, client, text))


def _trade_id(options: Options, client: EscrowClient, text: str) -> str:
    """A full trade id from ``text``; a prefix looked up in the market index when there is one."""
    if len(text.strip().lower().removeprefix("0x")) >= 64:
        return parse.trade_id(client, text)
    if client.url.startswith(("http://", "https://")):
        from ...reader import EscrowReader
        from ...transport.rpc import RpcClient

        indexed = _indexed(options, EscrowReader(RpcClient(client.url), client.deployment, client.address))
        if indexed is not None:
            return parse.trade_id(indexed, text)
    return parse.trade_id(client, text)


def _indexed(options: Options, reads: Any) -> Any:
    """``reads`` over the market index (:class:`~p2pescrow.market.trades.IndexedReader`), synced to the
    head first, when an index of this deployment exists: ``--db``/``$P2PESCROW_DB`` names one, or
    `market sync` made the SQLite file in the config folder, and it holds this escrow. Else None:
    the command scans the chain's logs as without an index. Trades found in the index are the ones
    the scan finds; their state is read from the chain either way."""
    from ...reader import EscrowReader
    from .market import database_errors, database_url, index_exists

    if not isinstance(reads, EscrowReader) or not index_exists(options):
        return None  # the embedded chain, WebSocket or a proxy: the SDK client; or no index
    from ...market.reads import CurrentIndex, IndexedReader

    url = database_url(options)
    if url.startswith("sqlite:///"):  # a current SQLite index is read without loading SQLAlchemy
        current = CurrentIndex.open(url.removeprefix("sqlite:///"), reads)
        if current is not None:
            return IndexedReader(reads, current)
    from ...market.sync import ChainMismatch
    from ...market.trades import index_for

    named = bool(options.db) or not url.startswith("sqlite:///")
    with database_errors(url):
        engine = index_for(url, reads.deployment.chain_id, reads.deployment.escrow, must_exist=named)
        if engine is None:
            return None  # no index of this escrow there: `market sync` makes one
        indexed = IndexedReader(reads, engine)
        try:
            indexed.sync()
        except ChainMismatch as exc:
            progress(f"not reading the market index ({exc}): scanning the chain", options)
            return None
    return indexed


def _reads(options: Options) -> Any:
    """What a read command reads through: the market index when there is one, else the fast reader."""
    reads = context.reader(options)
    return _indexed(options, reads) or reads


def _part(trade: Trade, units: int) -> Decimal | None:
    """The amount to pay out, as the SDK takes it: exactly the ``units`` shown in the confirmation
    (so the SDK does not read the trade a second time). Nothing held: None, and the contract
    says why."""
    return trade.token.human(units) if units else None


def _split_lines(trade: Trade, held: int, buyer_bps: int, arbiter_fee_bps: int = 0) -> list[str]:
    from ...core.trades import split

    parts = split(held, buyer_bps, arbiter_fee_bps, trade.platform_fee_bps)
    lines = [f"buyer {trade.buyer} receives {human(parts['to_buyer'], trade.token)} ({percent(buyer_bps)})",
             f"seller {trade.seller} receives {human(parts['to_seller'], trade.token)} "
             f"(after the {percent(trade.platform_fee_bps)} platform fee: "
             f"{human(parts['platform_fee'], trade.token)})"]
    if arbiter_fee_bps:
        lines.append(f"arbiter {trade.arbiter} receives {human(parts['arbiter_fee'], trade.token)} "
                     f"({percent(arbiter_fee_bps)} fee, taken first)")
    return lines


def _deposit_lines(t: Trade, ending: str, *, buyer_bps: int | None = None) -> list[str]:
    """Where the deposits go if the trade ends by ``ending`` (a :class:`~p2pescrow.core.trades.Ending`
    value), for the deposits that are in."""
    from ...core.trades import Ending, deposits_to

    buyer_in, seller_in = deposits_in(t)
    if not (buyer_in or seller_in):
        return []
    to = deposits_to(Ending(ending), has_arbiter=t.terms.has_arbiter, buyer_bps=buyer_bps)
    lines = []
    for owner, units, is_in, goes_to in (("buyer", t.buyer_deposit, buyer_in, to.buyer_deposit),
                                         ("seller", t.seller_deposit, seller_in, to.seller_deposit)):
        if is_in:
            fate = "back to the " + owner if goes_to.value == owner else f"to the {goes_to.value} (forfeited)"
            lines.append(f"the {owner}'s deposit of {human(units, t.token)} goes {fate}")
    return lines


# -- creating and funding ------------------------------------------------------------------------
@command(trade_app, "create")
def create(
    ctx: typer.Context,
    *,
    amount: Annotated[str, typer.Option("--amount", help="What the buyer pays: '1.5', '1.5 ETH', '250 USDC'.",
                                        show_default=False)],
    buyer_deposit: Annotated[str, typer.Option(
        "--buyer-deposit", help="Security the buyer pays with the price, in the trade's token (default: none); "
        "back to the buyer unless it is the side that failed to act (see above).")] = "0",
    seller_deposit: Annotated[str, typer.Option(
        "--seller-deposit", help="Security the seller locks from its bond (`p2pescrow bond deposit`), in the "
        "trade's token (default: none).")] = "0",
    seller: Annotated[str | None, typer.Option("--seller", help="The seller's address: you buy.")] = None,
    buyer: Annotated[str | None, typer.Option("--buyer", help="The buyer's address: you sell.")] = None,
    token: Annotated[str | None, typer.Option("--token", help=parse.TOKEN_HELP)] = None,
    arbiter: Annotated[str | None, typer.Option("--arbiter", help="Who rules disputes (default: none).")] = None,
    arbiter_fee: Annotated[str, typer.Option("--arbiter-fee", help="The arbiter's fee if they rule: '1%'.")] = "0%",
    funding_window: Annotated[str, typer.Option("--funding-window", help="Time the buyer has to fund.")] = "1d",
    release_window: Annotated[str, typer.Option(
        "--release-window", help="Time after funding before the timeout may end the trade.")] = "3d",
    arbitration_window: Annotated[str, typer.Option(
        "--arbitration-window", help="Time the arbiter has to rule once disputed.")] = "7d",
    timeout_releases: Annotated[bool, typer.Option(
        "--timeout-releases", help="On timeout, pay the seller (marketplace) instead of refunding the buyer.")] = False,
    no_reputation: Annotated[bool, typer.Option(
        "--no-reputation", help="Do not record the outcome or allow ratings.")] = False,
    terms: Annotated[str | None, typer.Option(
        "--terms", help="The off-chain agreement; only its keccak hash goes on chain.")] = None,
    no_fund: Annotated[bool, typer.Option("--no-fund", help="As buyer: create now, fund later.")] = False,
) -> None:
    """Create a trade: with --seller you buy (and fund it now), with --buyer you sell.

    Deposits make a no-show pay. The buyer pays --buyer-deposit with the price; the seller's
    --seller-deposit is locked from its bond (`bond deposit`), at once when the seller creates the
    trade, else when it accepts (`trade accept`). The trade goes live, and its release window
    starts, only once both are in; if the seller's never comes, the buyer takes everything back.
    Release, refund, settlement or cancel return both. With an arbiter, a timeout makes the side
    it rules against (who failed to act) forfeit its deposit to the other, and a ruling makes the
    side awarded less than half forfeit; without one, a timeout returns both.

    Without an arbiter the timeout outcome fixed here decides: refund on timeout (default) puts
    the risk of a buyer who keeps the goods on the seller; --timeout-releases puts the risk of a
    seller who never delivers on the buyer. The confirmation says so, and whether the trade will
    record reputation at all (only in the escrow's reputation assets, from their minimum price).

    \b
    Examples:
      p2pescrow --account alice trade create --seller 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC --amount 1 \\
          --arbiter 0x90F79bf6EB2c4f870365E785982E1f101E93b906 --arbiter-fee 1% --buyer-deposit 0.1 --seller-deposit 0.1
      p2pescrow --account bob trade create --buyer 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 --amount "250 DUSD" \\
          --token DUSD --timeout-releases
    """
    from ...core.hints import check_term_bounds
    from ..parse import duration, share_bps

    if (seller is None) == (buyer is None):
        raise InputError("name the counterparty: --seller ADDRESS (you buy) or --buyer ADDRESS (you sell)")
    counterparty = parse.address(seller or buyer or "", "seller address" if seller else "buyer address")
    arbiter_address = parse.address(arbiter, "arbiter address") if arbiter else None
    token_address = parse.token_address(token)
    fee_bps = share_bps(arbiter_fee)
    if fee_bps and arbiter_address is None:
        raise InputError("--arbiter-fee needs an --arbiter")
    windows = {"funding_window": duration(funding_window), "release_window": duration(release_window),
               "arbitration_window": duration(arbitration_window)}
    check_term_bounds(arbiter=arbiter_address, arbiter_fee_bps=fee_bps, **windows)  # the contract's constants

    options = context.options(ctx)
    client = connect(options)
    if counterparty == client.address:
        raise InputError(f"the {'seller' if seller else 'buyer'} {counterparty} is your own account")
    token_address = parse.token_address(token, client.deployment.dev_tokens)
    info = client.token(token_address)
    units = parse.base_units(amount, info)  # exact and positive, or an InvalidAmount now
    deposits = {"buyer_deposit": info.human(parse.deposit(buyer_deposit, info, "--buyer-deposit")),
                "seller_deposit": info.human(parse.deposit(seller_deposit, info, "--seller-deposit"))}
    t = client.build_terms(
        amount=info.human(units), token=token_address, arbiter=arbiter_address, arbiter_fee_bps=fee_bps,
        timeout_releases=timeout_releases, record_reputation=not no_reputation, terms=terms, **windows,
        **deposits, **({"seller": counterparty} if seller else {"buyer": counterparty}))
    fund = seller is not None and not no_fund
    total = human(t.amount, info)
    paid = human(t.amount + t.buyer_deposit, info)
    lines = [f"create a trade: you {'buy from seller' if seller else 'sell to buyer'} {counterparty}",
             f"amount: {total}" + (", paid into escrow now" if fund else ", funded later by the buyer"),
             *_create_deposit_lines(client, t, info, as_seller=buyer is not None, fund=fund),
             f"arbiter: {t.arbiter}, fee {percent(fee_bps)} if they rule" if arbiter_address
             else "arbiter: none (no disputes: release, refund, settle or time out)",
             f"platform fee: {percent(t.platform_fee_bps)} of what the seller receives",
             f"windows: funding {span(t.funding_window)}, release {span(t.release_window)}, "
             f"arbitration {span(t.arbitration_window)}",
             "on timeout: " + ("release to the seller" if timeout_releases else
                               "refund the buyer, unless the seller marked it delivered" if arbiter_address
                               else "refund the buyer")]
    lines += [f"RISK: {risk}" for risk in client.risks(t)]  # no arbiter: who bears the risk; no reputation
    result = confirm.send(options, client, confirm.approve_or(info, t.amount + t.buyer_deposit, lines),
                          lambda: client.create_from_terms(t, fund=fund))
    if fund:
        headline = f"Created trade {result.trade_id} and paid {total} into escrow" + (
            f" (with your {human(t.buyer_deposit, info)} deposit: {paid})" if t.buyer_deposit else "") + "."
        if t.seller_deposit:
            headline += (f" It goes live once the seller accepts it, locking its {human(t.seller_deposit, info)} "
                         "deposit (`trade accept`).")
    else:
        headline = f"Created trade {result.trade_id} for {total}; it awaits funding by the buyer."
    trade_result(options, client, "create", headline, result.tx, result.trade_id, trade_id=result.trade_id)


def _create_deposit_lines(client: EscrowClient, t: Any, info: Any, *, as_seller: bool, fund: bool) -> list[str]:
    """The deposits of a trade about to be created, said from the creator's side."""
    lines = []
    if t.buyer_deposit:
        lines.append(f"buyer's deposit: {human(t.buyer_deposit, info)}, paid with the price "
                     + (f"now (you pay {human(t.amount + t.buyer_deposit, info)})" if fund else "when the buyer funds"))
    if t.seller_deposit:
        if as_seller:
            free = client.bond(t.token)
            lines.append(f"seller's deposit: {human(t.seller_deposit, info)}, locked now from your bond "
                         f"(free bond: {human(free, info)})")
        else:
            lines.append(f"seller's deposit: {human(t.seller_deposit, info)}, locked from the seller's bond when it "
                         "accepts (`trade accept`); the trade goes live only then, and if it never does you can "
                         "cancel and take everything back")
    if t.buyer_deposit or t.seller_deposit:
        lines.append("deposits: both back on release, refund, settlement or cancel; "
                     + ("on a timeout the side it rules against forfeits its deposit to the other, and on a ruling "
                        "the side awarded less than half" if t.has_arbiter else
                        "on a timeout both back too (no arbiter)"))
    return lines



@command(trade_app, "fund")
def fund(ctx: typer.Context, trade: TradeArg) -> None:
    """Buyer: pay the amount of a trade created earlier into escrow."""
    options, client, t = _open(ctx, trade)
    pay = t.amount + t.buyer_deposit
    lines = [f"fund trade {t.id}: pay {human(pay, t.token)} into escrow"
             + (f" (the price {human(t.amount, t.token)} and your deposit {human(t.buyer_deposit, t.token)})"
                if t.buyer_deposit else ""),
             f"seller: {t.seller}", f"arbiter: {t.arbiter or 'none'}"]
    waits = t.seller_deposit and not t.seller_deposited
    if waits:
        lines.append(f"the seller's deposit ({human(t.seller_deposit, t.token)}) is not in yet: the trade goes live "
                     "once the seller accepts; if it does not before the funding deadline, you can cancel and take "
                     "everything back")
    else:
        lines.append(f"then the seller has {span(t.terms.release_window)} before the timeout may {timeout_outcome(t)}")
    tx = confirm.send(options, client, confirm.approve_or(t.token, pay, lines), lambda: client.fund(t.id))
    trade_result(options, client, "fund", f"Funded trade {t.id}: {human(pay, t.token)} in escrow"
                 + (", awaiting the seller's deposit." if waits else "."), tx, t.id)


# -- paying out ------------------------------------------------------------------------------------
@command(trade_app, "release")
def release(ctx: typer.Context, trade: TradeArg, *, amount: AmountPart = None) -> None:
    """Buyer: pay the seller everything held, or --amount of it (partial delivery)."""
    from ...core.trades import split

    options, client, t = _open(ctx, trade)
    units = parse.base_units(amount, t.token) if amount is not None else t.held
    parts = split(units, 0, 0, t.platform_fee_bps)
    lines = [f"release {human(units, t.token)} of the {human(t.held, t.token)} held to seller {t.seller}",
             f"the seller receives {human(parts['to_seller'], t.token)} after the "
             f"{percent(t.platform_fee_bps)} platform fee ({human(parts['platform_fee'], t.token)})"]
    if 0 < units < t.held:
        lines.append(f"{human(t.held - units, t.token)} stays in escrow")
    elif units == t.held:
        lines += _deposit_lines(t, "released")
    tx = confirm.send(options, client, lines, lambda: client.release(t.id, _part(t, units)))
    trade_result(options, client, "release", f"Released {human(units, t.token)} to the seller.", tx, t.id)


@command(trade_app, "refund")
def refund(ctx: typer.Context, trade: TradeArg, *, amount: AmountPart = None) -> None:
    """Seller: give the buyer back everything held, or --amount of it."""
    options, client, t = _open(ctx, trade)
    units = parse.base_units(amount, t.token) if amount is not None else t.held
    lines = [f"refund {human(units, t.token)} of the {human(t.held, t.token)} held to buyer {t.buyer}"]
    if 0 < units < t.held:
        lines.append(f"{human(t.held - units, t.token)} stays in escrow")
    elif units == t.held:
        lines += _deposit_lines(t, "refunded")
    tx = confirm.send(options, client, lines, lambda: client.refund(t.id, _part(t, units)))
    trade_result(options, client, "refund", f"Refunded {human(units, t.token)} to the buyer.", tx, t.id)


@command(trade_app, "cancel")
def cancel(ctx: typer.Context, trade: TradeArg) -> None:
    """Cancel a trade that never went live: every payment and deposit goes back to its owner.

    Awaiting funding: its creator, or anyone after the funding deadline. Awaiting the seller's
    deposit: the buyer at any time, anyone after the deadline.
    """
    options, client, t = _open(ctx, trade)
    buyer_in, _ = deposits_in(t)
    back = []
    if t.held or buyer_in:
        back.append(f"the buyer gets {human(t.held + (t.buyer_deposit if buyer_in else 0), t.token)} back")
    if t.seller_deposited and t.seller_deposit:
        back.append(f"the seller gets its {human(t.seller_deposit, t.token)} deposit back")
    lines = [f"cancel trade {t.id} ({human(t.amount, t.token)}): "
             + ("; ".join(back) if back else "not funded, nothing moves")]
    tx = confirm.send(options, client, lines, lambda: client.cancel(t.id))
    trade_result(options, client, "cancel", f"Cancelled trade {t.id}.", tx, t.id)


@command(trade_app, "deliver")
def deliver(ctx: typer.Context, trade: TradeArg) -> None:
    """Seller: mark the trade delivered (or paid). With an arbiter the timeout then pays you instead of
    refunding, after a fresh release window; without one the mark is recorded and changes nothing."""
    options, client, t = _open(ctx, trade)
    if t.terms.has_arbiter:
        lines = [f"mark trade {t.id} delivered: from now on the timeout releases "
                 f"{human(t.held, t.token)} to you, the seller",
                 f"the buyer gets a fresh release window of {span(t.terms.release_window)} to release or dispute"]
        if deposits_in(t)[0]:
            lines.append(f"if it does neither, its deposit of {human(t.buyer_deposit, t.token)} goes to you too")
    else:
        outcome = "releases to you" if t.terms.timeout_releases else "refunds the buyer"
        lines = [f"mark trade {t.id} delivered: recorded (and it counts as your consent for reputation)",
                 f"no arbiter: the timeout still {outcome}, as fixed at creation; the deadline does not move"]
    tx = confirm.send(options, client, lines, lambda: client.mark_delivered(t.id))
    trade_result(options, client, "deliver", "Marked delivered.", tx, t.id)


@command(trade_app, "timeout")
def timeout(ctx: typer.Context, trade: TradeArg) -> None:
    """Anyone, once the release window has ended: apply the outcome fixed at creation."""
    options, client, t = _open(ctx, trade)
    to_seller = timeout_pays_seller(t)
    lines = [f"apply the timeout to trade {t.id}: {timeout_outcome(t)}"]
    lines += _split_lines(t, t.held, 0) if to_seller else [f"buyer {t.buyer} receives {human(t.held, t.token)}"]
    lines += _deposit_lines(t, "timeout_to_seller" if to_seller else "timeout_to_buyer")
    tx = confirm.send(options, client, lines, lambda: client.timeout(t.id))
    trade_result(options, client, "timeout", f"Timed out: {timeout_outcome(t)}.", tx, t.id)


# -- settling and disputing ------------------------------------------------------------------------
@command(trade_app, "settle")
def settle(ctx: typer.Context, trade: TradeArg, *, buyer_share: BuyerShare) -> None:
    """Propose a split of what is held; the counterparty accepts it with `trade accept`."""
    from ..parse import share_bps

    bps = share_bps(buyer_share)
    options, client, t = _open(ctx, trade)
    lines = [f"propose a settlement of trade {t.id}: {percent(bps)} of "
             f"{human(t.held, t.token)} to the buyer", *_split_lines(t, t.held, bps),
             *_deposit_lines(t, "settled"), "nothing moves until the counterparty accepts"]
    tx = confirm.send(options, client, lines, lambda: client.propose_settlement(t.id, bps))
    trade_result(options, client, "settle", f"Proposed {percent(bps)} to the buyer.", tx, t.id)


@command(trade_app, "accept")
def accept(ctx: typer.Context, trade: TradeArg, *, buyer_share: Annotated[str | None, typer.Option(
        "--buyer-share", help="Accept a settlement only if it gives the buyer this share.")] = None) -> None:
    """Accept what awaits your yes: the counterparty's settlement proposal, or, as the seller, the trade.

    A settlement proposal by the other side is paid out at once (both deposits back).

    Otherwise, as the seller of a trade a buyer created: lock your seller deposit from your bond
    (`bond deposit` first). Before the buyer funds, the trade then goes live when it does; after
    (awaiting your deposit), it goes live now and the release window starts. On a live trade it
    records your consent, so the outcome counts for reputation. Only before the funding deadline.

    \b
    Examples:
      p2pescrow --account bob trade accept 0x1234abcd                        # the seller takes the trade
      p2pescrow --account alice trade accept 0x1234abcd --buyer-share 60%    # a settlement, if it says 60%
    """
    from ...models import Role, TradeState
    from ..parse import share_bps

    expected = share_bps(buyer_share) if buyer_share is not None else None
    options, client, t = _open(ctx, trade)
    mine = roles(t, client.address)
    proposed_by_other = (t.settlement_bps is not None and t.settlement_proposer is not None
                         and t.settlement_proposer.value not in mine)
    if proposed_by_other or expected is not None:
        bps = t.settlement_bps
        if bps is None or t.settlement_proposer is None:
            raise InputError(f"there is no settlement proposal on trade {t.id} to accept")
        if expected is not None and expected != bps:
            raise InputError(f"the proposal gives the buyer {percent(bps)}, not {percent(expected)}")
        lines = [f"accept the settlement of trade {t.id} proposed by the {t.settlement_proposer.value}",
                 *_split_lines(t, t.held, bps), *_deposit_lines(t, "settled")]
        tx = confirm.send(options, client, lines, lambda: client.accept_settlement(t.id, bps))
        trade_result(options, client, "accept", f"Settled: {percent(bps)} to the buyer.", tx, t.id)
        return
    if "seller" not in mine:
        raise InputError(f"nothing on trade {t.id} awaits your acceptance: no settlement proposal from the other "
                         "side" + ("" if t.settlement_bps is None else " (the one there is yours)")
                         + ", and only its seller accepts a trade")
    if "accept" not in t.next_actions.get(Role.SELLER, ()):
        why = ("you already accepted it or acted on it" if t.seller_acted
               else "the funding deadline has passed" if t.state in (TradeState.AWAITING_FUNDING,
                                                                   TradeState.AWAITING_DEPOSIT)
               else f"it is {t.state.name}")
        raise InputError(f"you cannot accept trade {t.id}: {why}")
    lines = [f"accept trade {t.id} as its seller ({human(t.amount, t.token)} from buyer {t.buyer})"]
    if t.seller_deposit and not t.seller_deposited:
        free = client.bond(t.terms.token)
        lines.append(f"lock your deposit of {human(t.seller_deposit, t.token)} from your bond "
                     f"(free bond: {human(free, t.token)})")
    if t.state is TradeState.AWAITING_DEPOSIT:
        lines.append(f"the trade goes live now: the release window ({span(t.terms.release_window)}) starts, then "
                     f"anyone may {timeout_outcome(t)}")
    elif t.state is TradeState.AWAITING_FUNDING:
        lines.append("the trade goes live when the buyer funds it")
    else:
        lines.append("records your consent: the trade's outcome counts for your reputation")
    if t.terms.has_deposits:
        lines += [f"deposits if {fate}" for fate in deposit_fates(t)[1:]]
    tx = confirm.send(options, client, lines, lambda: client.accept(t.id))
    trade_result(options, client, "accept", f"Accepted trade {t.id}"
                 + (f": your {human(t.seller_deposit, t.token)} deposit is locked." if t.seller_deposit else "."),
                 tx, t.id)


@command(trade_app, "concede")
def concede(ctx: typer.Context, trade: TradeArg) -> None:
    """Buyer or seller in a dispute: end it by giving the other side everything held.

    The arbiter gets half its fee (it did not have to rule), the platform fee applies to what the
    seller receives, and your deposit goes to the other side: never more than losing the ruling.

    \b
    Example:
      p2pescrow --account bob trade concede 0x1234abcd     # the seller gives in: the buyer is refunded
    """
    from ...core.trades import split

    options, client, t = _open(ctx, trade)
    mine = [r for r in roles(t, client.address) if r in ("buyer", "seller")]
    if not mine:
        raise InputError(f"only the buyer or the seller of trade {t.id} can concede it")
    you = mine[0]
    other = "seller" if you == "buyer" else "buyer"
    parts = split(t.held, BPS if you == "seller" else 0, t.arbiter_fee_bps // 2, t.platform_fee_bps)
    receives = parts["to_buyer"] if other == "buyer" else parts["to_seller"]
    lines = [f"concede the dispute on trade {t.id} as the {you}: the {other} wins",
             f"the {other} receives {human(receives, t.token)} of the {human(t.held, t.token)} held"
             + (f" (after the {percent(t.platform_fee_bps)} platform fee: {human(parts['platform_fee'], t.token)})"
                if other == "seller" else "")]
    if t.arbiter:
        lines.append(f"arbiter {t.arbiter} receives half its fee: {human(parts['arbiter_fee'], t.token)}")
    lines += _deposit_lines(t, f"{you}_conceded")
    tx = confirm.send(options, client, lines, lambda: client.concede(t.id))
    trade_result(options, client, "concede", f"Conceded: the {other} receives {human(receives, t.token)}.", tx, t.id)


@command(trade_app, "dispute")
def dispute(ctx: typer.Context, trade: TradeArg) -> None:
    """Buyer or seller: freeze the trade and ask the arbiter to rule."""
    options, client, t = _open(ctx, trade)
    fee = t.held * t.arbiter_fee_bps // BPS
    lines = [f"open a dispute on trade {t.id} ({human(t.held, t.token)} held)",
             f"arbiter {t.arbiter or 'none'} may rule within {span(t.terms.arbitration_window)}, "
             f"for a fee of {percent(t.arbiter_fee_bps)} ({human(fee, t.token)})",
             "if they do not, anyone may then split it 50/50; you can still settle or concede meanwhile"]
    if t.terms.has_deposits:
        lines.append("deposits: the side the ruling awards less than half forfeits its deposit to the other; "
                     "an even split, a settlement or no ruling returns both")
    tx = confirm.send(options, client, lines, lambda: client.dispute(t.id))
    trade_result(options, client, "dispute", "Disputed.", tx, t.id)


@command(trade_app, "rule")
def rule(ctx: typer.Context, trade: TradeArg, *, buyer_share: BuyerShare) -> None:
    """Arbiter: decide a dispute; your fee comes first, the buyer's share is of the rest."""
    from ..parse import share_bps

    bps = share_bps(buyer_share)
    options, client, t = _open(ctx, trade)
    lines = [f"rule on trade {t.id}: {percent(bps)} to the buyer",
             *_split_lines(t, t.held, bps, t.arbiter_fee_bps), *_deposit_lines(t, "ruled", buyer_bps=bps)]
    tx = confirm.send(options, client, lines, lambda: client.rule(t.id, bps))
    trade_result(options, client, "rule", f"Ruled: {percent(bps)} to the buyer.", tx, t.id)


@command(trade_app, "resolve")
def resolve(ctx: typer.Context, trade: TradeArg) -> None:
    """Anyone, once the arbitration window has ended unruled: split what is held 50/50."""
    options, client, t = _open(ctx, trade)
    lines = [f"end the expired dispute on trade {t.id} with an even split (no arbiter fee)",
             *_split_lines(t, t.held, BPS // 2), *_deposit_lines(t, "dispute_expired")]
    tx = confirm.send(options, client, lines, lambda: client.resolve_expired_dispute(t.id))
    trade_result(options, client, "resolve", "Resolved 50/50.", tx, t.id)


@command(trade_app, "evidence")
def evidence(ctx: typer.Context, trade: TradeArg,
             uri: Annotated[str, typer.Argument(help="Where the evidence is (https://, ipfs://, ...).")], *,
             file: Annotated[Path | None, typer.Option(
                 "--file", metavar="PATH", help="The evidence itself: its content's keccak256 is sent with the "
                 "URI (the file is not uploaded).")] = None,
             content_hash: Annotated[str | None, typer.Option(
                 "--hash", help="0x + 64 hex digits: a precomputed hash of the content.")] = None,
             ) -> None:
    """Buyer, seller or arbiter: attach evidence (a URI and the hash of its content) to a trade.

    The hash proves later what the URI pointed to: give the content with --file PATH (hashed here,
    keccak256 of its bytes) or its hash with --hash. With neither, the URI's own hash is sent.

    \b
    Example:
      p2pescrow --account alice trade evidence 0x1234abcd ipfs://bafy.../photo.jpg --file photo.jpg
    """
    if file is not None and content_hash is not None:
        raise InputError("give --file or --hash, not both")
    source = "the URI itself (no --file or --hash)"
    if file is not None:
        content_hash, source = _file_hash(file), f"the content of {file}"
    elif content_hash is not None:
        body = content_hash.lower().removeprefix("0x")
        if len(body) != 64 or any(c not in "0123456789abcdef" for c in body):
            raise InputError(f"invalid --hash {content_hash!r}: expected 0x and 64 hex digits")
        source = "given with --hash"
    options, client, t = _open(ctx, trade)
    lines = [f"attach evidence to trade {t.id}: {uri}",
             f"content hash: {content_hash or 'keccak256 of the URI'} ({source})"]
    tx = confirm.send(options, client, lines, lambda: client.submit_evidence(t.id, content_hash=content_hash, uri=uri))
    trade_result(options, client, "evidence", "Evidence attached.", tx, t.id, uri=uri,
                 content_hash=content_hash)


def _file_hash(path: Path) -> str:
    """keccak256 of a file's bytes, 0x-hex."""
    from eth_utils import keccak

    try:
        data = path.expanduser().read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the evidence file {path}: {exc.strerror or exc}") from None
    return "0x" + keccak(data).hex()


@command(trade_app, "withdraw")
def withdraw(
    ctx: typer.Context, *,
    token: Annotated[str | None, typer.Option("--token", help=parse.TOKEN_HELP)] = None,
    to: Annotated[str | None, typer.Option("--to", help="Where to send it (default: your account).")] = None,
) -> None:
    """Withdraw your credits: payouts the escrow could not deliver to you (e.g. a rejecting wallet)."""
    token_address = parse.token_address(token)
    receiver = parse.address(to, "--to address") if to else None
    options = context.options(ctx)
    client = connect(options)
    token_address = parse.token_address(token, client.deployment.dev_tokens)
    info = client.token(token_address)
    credit = client.credits(token_address)
    lines = [f"withdraw your credits of {human(credit, info)} to {receiver or client.address}"]
    tx = confirm.send(options, client, lines, lambda: client.withdraw(token_address, receiver))
    emit(options, {"action": "withdraw", "amount": amount_document(credit, info),
                   "to": receiver or client.address, "tx": tx_document(tx)},
         [f"Withdrew {human(credit, info)} to {receiver or client.address}.", *tx_lines(options, tx)])


# -- reading ---------------------------------------------------------------------------------------
@command(trade_app, "show")
def show(ctx: typer.Context, trade: TradeArg) -> None:
    """A trade: parties, amounts, state, deadline, fees, and what you may do next."""
    options = context.options(ctx)
    reads = context.reader(options)
    if len(trade.strip().lower().removeprefix("0x")) < 64:  # a prefix: found in the market index if any
        reads = _indexed(options, reads) or reads
    t = reads.trade(parse.trade_id(reads, trade))
    you = me(reads)
    emit(options, {"trade": trade_document(t, you)}, trade_lines(t, you, clock(reads)))


@command(trade_app, "list")
def list_(
    ctx: typer.Context, *,
    mine: Annotated[bool, typer.Option("--mine", help="Only trades where you are buyer or seller.")] = False,
    party: Annotated[str | None, typer.Option("--party", help="Only trades where ADDRESS is buyer or seller.",
                                              metavar="ADDRESS")] = None,
    state: Annotated[str | None, typer.Option("--state", help=parse.STATE_HELP)] = None,
    token: Annotated[str | None, typer.Option(
        "--token", help="Only trades in this token (address, ETH, or DUSD/DEUR on a `node start` chain).")] = None,
    due: Annotated[bool, typer.Option(
        "--due", help="Only the trades where you (or --party) must act before a deadline, soonest first, with "
        "what you lose if you don't.")] = False,
) -> None:
    """Trades on this escrow, as a table (newest last); with --due, your to-do list.

    --due lists, soonest deadline first, each trade where you must act, as buyer, seller or
    arbiter: what to run, by when, and what happens (and what you lose: price, deposit or fee)
    if you don't. Nothing is due on a trade whose outcome you cannot change.

    With a market index of this escrow (`market sync`, or --db), the trades are found in it, synced
    first, instead of by scanning the chain's logs; their states are read from the chain either way.

    \b
    Examples:
      p2pescrow --account alice trade list --mine
      p2pescrow --account bob trade list --due
      p2pescrow trade list --due --party 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC --json
    """
    if mine and party:
        raise InputError("use either --mine or --party, not both")
    if due:
        if state is not None or token is not None:
            raise InputError("--due lists every trade where you must act: it takes no --state or --token")
        _due(ctx, parse.address(party, "--party address") if party else None)
        return
    wanted_state = parse.state(state)
    who = parse.address(party, "--party address") if party else None
    token_filter = None if token is None else (parse.token_address(token) or "ETH")
    options = context.options(ctx)
    reads = _reads(options)
    if token_filter is not None and token_filter != "ETH":
        token_filter = parse.token_address(token, reads.deployment.dev_tokens)
    you = me(reads)
    if mine:
        if you is None:
            from ..accounts_default import NO_ACCOUNT_HINT

            raise InputError("--mine needs an account", hint=NO_ACCOUNT_HINT)
        who = you
    trades = reads.trades(party=who, state=wanted_state, token=token_filter)
    now = clock(reads)
    rows = [(t.id[:10], t.state.name, ",".join(roles(t, you)) or "-", human(t.amount, t.token),
             human(held_now(t), t.token), short(t.buyer), short(t.seller),
             relative(int((t.deadline - now).total_seconds())) if t.deadline else "-") for t in trades]
    text = (table(rows, ("TRADE", "STATE", "YOU", "AMOUNT", "HELD", "BUYER", "SELLER", "DEADLINE"))
            if rows else "No trades.")
    emit(options, {"trades": [trade_document(t, you) for t in trades]}, text)


def _due(ctx: typer.Context, who: str | None) -> None:
    """``trade list --due``: the SDK's :meth:`~p2pescrow.clients.sync.EscrowClient.due` as a table."""
    options = context.options(ctx)
    indexed = _indexed(options, context.reader(options))
    client = indexed if indexed is not None else connect(options, read_only=True)
    if who is None:
        who = me(client)
        if who is None:
            from ..accounts_default import NO_ACCOUNT_HINT

            raise InputError("--due needs an account (or --party ADDRESS)", hint=NO_ACCOUNT_HINT)
    items = client.due(who)
    now = clock(client)
    rows = [(d.trade.id[:10], d.role.value, " or ".join(COMMANDS.get(a, a) for a in d.actions),
             relative(int((d.deadline - now).total_seconds())),
             human(d.lost, d.trade.token) if d.lost else "-", d.consequence) for d in items]
    document = {"account": who, "due": [{
        "trade_id": d.trade.id, "role": d.role.value, "actions": [COMMANDS.get(a, a) for a in d.actions],
        "deadline": d.deadline.isoformat(), "if_not": d.consequence,
        "amount_lost": amount_document(d.amount_lost, d.trade.token),
        "deposit_lost": amount_document(d.deposit_lost, d.trade.token)} for d in items]}
    text = (table(rows, ("TRADE", "YOU", "DO", "DEADLINE", "AT STAKE", "IF NOT")) if rows
            else f"Nothing due: no trade waits for {who} before a deadline.")
    emit(options, document, text)


@command(trade_app, "history")
def history(ctx: typer.Context, trade: TradeArg) -> None:
    """Every event of a trade, oldest first; for an ended trade with deposits, where each went.

    The contract emits no event for the deposits: where they went follows from the terms and the
    event that ended the trade, by the contract's table (see `trade create --help`).
    """
    options = context.options(ctx)
    indexed = _indexed(options, context.reader(options))
    if indexed is not None:
        t = indexed.trade(parse.trade_id(indexed, trade))
        entries = indexed.history(t.id)
    else:
        options, client, t = _open(ctx, trade, read_only=True)
        entries = client.history(t.id)
    rows = [(str(e.block), short(e.tx_hash), event_text(e.name, e.args, t.token)) for e in entries]
    paid = _deposits_paid(t, entries)
    text = table(rows, ("BLOCK", "TX", "EVENT"))
    if paid:
        text += "\ndeposits (by the contract's table, from the ending above): " + ", ".join(
            f"the {owner}'s {human(units, t.token)} "
            + (f"back to the {to}" if to == owner else f"to the {to} (forfeited)") for owner, units, to in paid)
    emit(options, {"trade_id": t.id, "events": [
        {"block": e.block, "tx_hash": e.tx_hash, "name": e.name, "args": plain(e.args)} for e in entries],
        "deposits_paid": [{"deposit": f"{owner}", "amount": amount_document(units, t.token), "to": to}
                          for owner, units, to in paid]}, text)


def _deposits_paid(t: Trade, entries: list[Any]) -> list[tuple[str, int, str]]:
    """``(owner, amount, to whom)`` for each deposit of a trade that went live and ended, from the
    event that ended it (none for a trade still open, cancelled, or without deposits)."""
    from ...core.trades import Ending, deposits_to

    if not t.terms.has_deposits or not t.state.is_ended:
        return []
    ending, bps = None, None
    for e in reversed(entries):  # the last payout event ended the trade
        if e.name == "TimedOut":
            ending = Ending.TIMEOUT_TO_SELLER if e.args["toSeller"] else Ending.TIMEOUT_TO_BUYER
        elif e.name == "Ruled":
            ending, bps = Ending.RULED, int(e.args["buyerBps"])
        elif e.name == "Conceded":
            ending = Ending.SELLER_CONCEDED if e.args["by"].lower() == t.seller.lower() else Ending.BUYER_CONCEDED
        elif e.name in ("DisputeExpired", "Settled", "Released", "Refunded"):
            ending = Ending.RELEASED  # each deposit back to its owner, as for a settlement or a refund
        if ending is not None:
            break
    if ending is None:
        return []
    to = deposits_to(ending, has_arbiter=t.terms.has_arbiter, buyer_bps=bps)
    return [(owner, units, goes.value) for owner, units, goes in (("buyer", t.buyer_deposit, to.buyer_deposit),
                                                                  ("seller", t.seller_deposit, to.seller_deposit))
            if units]


@command(trade_app, "watch")
def watch(
    ctx: typer.Context, *,
    seconds: Annotated[float | None, typer.Option("--seconds", help="Stop after this many seconds "
                                                  "(default: until Ctrl-C).", min=0)] = None,
    trade: Annotated[str | None, typer.Option("--trade", help="Only this trade's events.", metavar="TRADE")] = None,
    interval: Annotated[float, typer.Option("--interval", help="Seconds between polls.", min=0.05)] = 1.0,
) -> None:
    """Print escrow and reputation events as they happen (with --json: one document at the end)."""
    options = context.options(ctx)
    client = connect(options, read_only=True)
    only = parse.trade_id(client, trade) if trade else None
    tokens: dict[str, Any] = {}
    seen: list[dict[str, Any]] = []

    def token_of(trade_key: str | None) -> Any:
        if trade_key is None:
            return None
        if trade_key not in tokens:
            try:
                tokens[trade_key] = client.trade(trade_key).token
            except InputError:
                tokens[trade_key] = None
        return tokens[trade_key]

    progress("watching for events" + (f" for {seconds:g} s" if seconds is not None else " (Ctrl-C to stop)"),
             options)
    try:
        for event in client.watch(poll_interval=interval, stop_after=seconds):
            raw = event.args.get("id", event.args.get("tradeId"))
            key = raw if isinstance(raw, str) else None  # bytes32 ids come decoded as 0x-hex
            if only is not None and key != only:
                continue
            seen.append({"name": event.name, "contract": event.address, "trade_id": key,
                         "args": plain(event.args)})
            if not options.json:
                stamp = time.strftime("%H:%M:%S")
                text = event_text(event.name, event.args, token_of(key))
                line(f"{stamp}  {key[:10] if key else '-':<10}  {text}")
    except KeyboardInterrupt:
        pass
    if options.json:
        emit(options, {"events": seen}, "")
