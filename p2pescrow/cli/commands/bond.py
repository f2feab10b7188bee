"""``p2pescrow bond ...``: a seller's bond, the money it keeps in the escrow so its trades can lock a
seller deposit without a transaction of its own (a buyer filling its signed offer locks it).

The bond is the seller's: ``deposit`` tops it up, ``withdraw`` takes out what no trade has locked,
``show`` reads it. A deposit a trade locked is paid to a wallet when the trade ends (the seller's,
or the buyer's if the seller forfeits it), never back into the bond.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ...errors import InputError
from .. import confirm, context, parse
from ..app import app, command
from ..context import client as connect
from ..render import amount_document, emit, human, me, tx_document, tx_lines

if TYPE_CHECKING:
    from ...clients.sync import EscrowClient
    from ...models import TokenInfo, Trade

bond_app = typer.Typer(name="bond", no_args_is_help=True, help=(
    "A seller's bond: money you keep in the escrow, from which your trades lock your seller deposit.\n\n"
    "A trade locks its seller deposit from your free bond when a buyer fills your signed offer, when you "
    "create the trade as seller, or when you accept a trade a buyer created; an offer asking for more "
    "than your free bond cannot be filled. When the trade ends the deposit is paid to a wallet (yours, "
    "or the buyer's if you forfeit it), not back into the bond."))
app.add_typer(bond_app)

TokenOption = Annotated[str | None, typer.Option("--token", help=parse.TOKEN_HELP)]


def _token(client: EscrowClient, token: str | None) -> TokenInfo:
    return client.token(parse.token_address(token, client.deployment.dev_tokens))


def _units(text: str, info: TokenInfo) -> int:
    return parse.base_units(text, info)  # exact, positive, in the token's symbol: else exit 2


@command(bond_app, "deposit")
def deposit(
    ctx: typer.Context,
    amount: Annotated[str, typer.Argument(metavar="AMOUNT", help="How much to add: '2', '2 ETH', '500 DUSD'.",
                                          show_default=False)],
    *, token: TokenOption = None,
) -> None:
    """Add to your bond, so your offers and trades can lock a seller deposit from it.

    ETH is sent with the call; a token is approved first (exactly AMOUNT), then taken.

    \b
    Examples:
      p2pescrow --account bob bond deposit 0.5              # 0.5 ETH
      p2pescrow --account bob bond deposit "200 DUSD" --token DUSD
    """
    parse.token_address(token)  # a malformed --token is an input error before connecting
    options = context.options(ctx)
    client = connect(options)
    info = _token(client, token)
    units = _units(amount, info)
    free = client.bond(info.address)
    lines = [f"add {human(units, info)} to your bond "
             f"(free bond now {human(free, info)}, then {human(free + units, info)})",
             "your trades lock their seller deposits from it; `bond withdraw` takes back what is free"]
    tx = confirm.send(options, client, confirm.approve_or(info, units, lines),
                      lambda: client.deposit_bond(info.human(units), token=info.address))
    after = client.bond(info.address)
    emit(options, {"action": "bond deposit", "amount": amount_document(units, info),
                   "free": amount_document(after, info), "tx": tx_document(tx)},
         [f"Added {human(units, info)} to your bond; free bond {human(after, info)}.", *tx_lines(options, tx)])


@command(bond_app, "withdraw")
def withdraw(
    ctx: typer.Context,
    amount: Annotated[str, typer.Argument(metavar="AMOUNT", help="How much: '1', '1 ETH', or 'all' (the free bond).",
                                          show_default=False)],
    *, token: TokenOption = None,
    to: Annotated[str | None, typer.Option("--to", help="Where to send it (default: your account).",
                                           metavar="ADDRESS")] = None,
) -> None:
    """Take money out of your bond: only what no trade has locked (the free bond).

    \b
    Examples:
      p2pescrow --account bob bond withdraw 0.2
      p2pescrow --account bob bond withdraw all --token DUSD --to 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC
    """
    parse.token_address(token)
    receiver = parse.address(to, "--to address") if to else None
    options = context.options(ctx)
    client = connect(options)
    info = _token(client, token)
    free = client.bond(info.address)
    if amount.strip().lower() == "all":
        if not free:
            raise InputError(f"your free bond in {info.symbol} is 0: nothing to withdraw",
                             hint="`p2pescrow bond show` shows what your trades have locked")
        units = free
    else:
        units = _units(amount, info)
    if units > free:
        raise InputError(f"you can withdraw at most your free bond, {human(free, info)}; "
                         f"asked for {human(units, info)}",
                         hint="deposits your trades locked come back when the trades end, paid to your wallet")
    destination = receiver or client.address
    lines = [f"withdraw {human(units, info)} of your free bond ({human(free, info)}) to {destination}",
             f"free bond afterwards: {human(free - units, info)}"]
    tx = confirm.send(options, client, lines,
                      lambda: client.withdraw_bond(info.human(units), token=info.address, to=receiver))
    after = client.bond(info.address)
    emit(options, {"action": "bond withdraw", "amount": amount_document(units, info), "to": destination,
                   "free": amount_document(after, info), "tx": tx_document(tx)},
         [f"Withdrew {human(units, info)} from your bond to {destination}; free bond {human(after, info)}.",
          *tx_lines(options, tx)])


def _locked(trades: list[Trade], seller: str) -> list[Trade]:
    """The live trades of ``seller`` whose seller deposit is locked (in, not yet paid out)."""
    return [t for t in trades if t.seller.lower() == seller.lower() and t.seller_deposit and t.seller_deposited
            and not t.state.is_terminal]


@command(bond_app, "show")
def show(
    ctx: typer.Context,
    address: Annotated[str | None, typer.Argument(metavar="[ADDRESS]", help="Whose bond (default: your account).",
                                                  show_default=False)] = None,
    *, token: TokenOption = None,
) -> None:
    """A seller's bond in one asset: what is free, and what its live trades have locked.

    \b
    Examples:
      p2pescrow --account bob bond show
      p2pescrow bond show 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC --token DUSD
    """
    parse.token_address(token)
    who = parse.address(address) if address else None
    options = context.options(ctx)
    client = connect(options, read_only=True)
    if who is None:
        who = me(client)
        if who is None:
            raise InputError("whose bond? pass an ADDRESS, or --account NAME")
    info = _token(client, token)
    free = client.bond(info.address, account=who)
    token_filter = info.address if not info.is_eth else "ETH"
    locked = _locked(client.trades(party=who, token=token_filter), who)
    total = sum(t.seller_deposit for t in locked)
    rows = [("free", f"{human(free, info)}  (what new trades can lock, and what `bond withdraw` can take)"),
            ("locked", f"{human(total, info)} in {len(locked)} live trade{'s' if len(locked) != 1 else ''}")]
    rows += [("", f"{t.id[:10]}  {human(t.seller_deposit, t.token)}  {t.state.name}") for t in locked]
    width = max(len(k) for k, _ in rows)
    emit(options, {"bond": {"address": who, "token": {"address": info.address, "symbol": info.symbol,
                                                       "decimals": info.decimals},
                            "free": amount_document(free, info), "locked": amount_document(total, info),
                            "locked_in": [{"trade_id": t.id, "deposit": amount_document(t.seller_deposit, info),
                                           "state": t.state.name} for t in locked]}},
         [f"Bond of {who} in {info.symbol}", *(f"  {k.ljust(width)}  {v}" for k, v in rows)])
