"""``p2pescrow rep ...``: read an address's trade record, and rate the counterparty of a trade."""

from __future__ import annotations

from typing import Annotated

import typer

from ...errors import InputError
from .. import confirm, context, parse
from ..app import app, command
from ..context import client as connect
from ..render import emit, me, roles, table, trade_result

rep_app = typer.Typer(name="rep", no_args_is_help=True,
                      help="Reputation: outcomes of finished trades and 1-5 ratings, per address.")
app.add_typer(rep_app)


@command(rep_app, "show")
def show(ctx: typer.Context, address: Annotated[str | None, typer.Argument(
        metavar="[ADDRESS]", help="Whose record (default: your account).", show_default=False)] = None) -> None:
    """An address's record: trades by outcome, ratings, and a 0-100 score."""
    who = parse.address(address) if address else None
    options = context.options(ctx)
    reads = context.reader(options)
    if who is None:
        who = me(reads)
        if who is None:
            raise InputError("whose reputation? pass an ADDRESS, or --account NAME")
    r = reads.reputation(who)
    average = r.average_rating
    rows = [("completed as buyer", str(r.completed_as_buyer)), ("completed as seller", str(r.completed_as_seller)),
            ("settled", str(r.settled)), ("refunded", str(r.refunded)), ("disputes won", str(r.disputes_won)),
            ("disputes lost", str(r.disputes_lost)), ("disputes split", str(r.disputes_split)),
            ("trades", str(r.trades)),
            ("ratings", f"{r.rating_count}" + (f", average {average}/5" if average is not None else "")),
            ("score", f"{r.score}/100" if r.trades else "- (no finished trades yet)")]
    document = {"address": r.address, "completed_as_buyer": r.completed_as_buyer,
                "completed_as_seller": r.completed_as_seller, "settled": r.settled, "refunded": r.refunded,
                "disputes_won": r.disputes_won, "disputes_lost": r.disputes_lost,
                "disputes_split": r.disputes_split, "trades": r.trades, "rating_count": r.rating_count,
                "rating_sum": r.rating_sum, "average_rating": average, "score": r.score}
    emit(
        options,
        {"reputation": document},
        [f"Reputation of {r.address}", *("  " + line for line in table(rows).splitlines())],
    )


@command(rep_app, "rate")
def rate(
    ctx: typer.Context,
    trade: Annotated[str, typer.Argument(metavar="TRADE", help="A finished trade you were a party to.",
                                         show_default=False)],
    score_arg: Annotated[int | None, typer.Argument(
        metavar="[SCORE]", help="1 (worst) to 5 (best); or --score.", show_default=False)] = None,
    *,
    score: Annotated[int | None, typer.Option("--score", help="1 (worst) to 5 (best).", show_default=False)] = None,
    comment: Annotated[str | None, typer.Option(
        "--comment", help="A comment; only its keccak hash goes on chain.")] = None,
) -> None:
    """Rate the counterparty of a finished trade (once per party; stored with the trade's outcome).

    \b
    Example:
      p2pescrow --account alice rep rate 0x1234abcd 5
    """
    if score_arg is not None and score is not None and score_arg != score:
        raise InputError(f"two scores given ({score_arg} and --score {score}): give one")
    score = score_arg if score_arg is not None else score
    if score is None:
        raise InputError("no score given: rate 1 (worst) to 5 (best)", hint="e.g. `p2pescrow rep rate TRADE 5`")
    if not 1 <= score <= 5:
        raise InputError(f"invalid score {score}: rate 1 (worst) to 5 (best)")
    options = context.options(ctx)
    client = connect(options)
    t = client.trade(parse.trade_id(client, trade))
    mine = roles(t, client.address)
    if "buyer" in mine:
        role, ratee = "seller", t.seller
    elif "seller" in mine:
        role, ratee = "buyer", t.buyer
    else:
        raise InputError(f"you ({client.address}) are neither the buyer nor the seller of trade {t.id}")
    lines = [f"rate the {role} {ratee} {score}/5 for trade {t.id}"]
    if comment:
        lines.append("comment: stored as its keccak hash (keep the text to prove it later)")
    tx = confirm.send(options, client, lines, lambda: client.rate(t.id, score, comment))
    trade_result(options, client, "rate", f"Rated the {role} {score}/5.", tx, t.id,
                 rating={"ratee": ratee, "score": score})
