"""``p2pescrow fees sweep``: pay the platform fees the escrow holds to its fee recipient.

The fee of a trade's last payout stays in the trade's slot until swept (cheaper for the traders);
fees of partial releases accrue per token. Anyone may sweep: the money goes to the fee recipient
whoever sends it.
"""

from __future__ import annotations

from typing import Annotated

import typer

from .. import confirm, context, parse
from ..app import app, command
from ..context import client as connect
from ..render import amount_document, emit, human, tx_document, tx_lines

fees_app = typer.Typer(name="fees", no_args_is_help=True, help=(
    "Platform fees: kept in each ended trade until swept to the escrow's fee recipient (anyone may sweep)."))
app.add_typer(fees_app)


@command(fees_app, "sweep")
def sweep(
    ctx: typer.Context, *,
    token: Annotated[str | None, typer.Option("--token", help=parse.TOKEN_HELP)] = None,
) -> None:
    """Pay the platform fees in one token (default ETH) to the fee recipient.

    Collects the fee each ended trade keeps in its slot, and what partial releases accrued, in one
    transaction; the trades are found from the escrow's logs. Anyone may send it: the fees go to
    the fee recipient, not to you. Nothing to sweep is refused by the contract (exit 3).

    \b
    Examples:
      p2pescrow --account dev0 fees sweep
      p2pescrow --account dev0 fees sweep --token DUSD --json
    """
    parse.token_address(token)  # a malformed --token is an input error before connecting
    options = context.options(ctx)
    client = connect(options)
    info = client.token(parse.token_address(token, client.deployment.dev_tokens))
    ended = [t for t in client.trades(token=info.address if not info.is_eth else "ETH")
             if t.state.is_ended and t.held]
    kept = sum(t.held for t in ended)
    lines = [f"sweep the platform fees in {info.symbol} to the escrow's fee recipient: {human(kept, info)} kept in "
             f"{len(ended)} ended trade{'s' if len(ended) != 1 else ''}, and whatever partial releases accrued"]
    tx = confirm.send(options, client, lines, lambda: client.sweep_fees(info.address))
    swept = tx.event("FeesSwept").args
    amount, recipient = int(swept["amount"]), str(swept["recipient"])
    emit(options, {"action": "fees sweep", "amount": amount_document(amount, info), "recipient": recipient,
                   "trades": len(ended), "tx": tx_document(tx)},
         [f"Swept {human(amount, info)} of platform fees to {recipient}.", *tx_lines(options, tx)])
