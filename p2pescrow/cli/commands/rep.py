"""``p2pescrow rep ...``: read an address's trade record, and rate the counterparty of a trade."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import typer

from ...errors import InputError
from ...models import ReputationRole
from .. import confirm, context, parse
from ..app import app, command
from ..context import client as connect
from ..plot import PlotOption, check_plot, write_address_chart
from ..render import emit, me, roles, table, trade_result

rep_app = typer.Typer(name="rep", no_args_is_help=True,
                      help="Reputation: per asset and role, the volume and outcomes of recorded trades and their "
                           "value-weighted 1-5 ratings; what faking it costs.")
app.add_typer(rep_app)


@command(rep_app, "show")
def show(ctx: typer.Context, address: Annotated[str | None, typer.Argument(
        metavar="[ADDRESS]", help="Whose record (default: your account).", show_default=False)] = None,
        plot: PlotOption = None) -> None:
    """An address's record per asset and role: volume, how its trades ended, the value-weighted
    rating, and the score across the listed assets.

    \b
    score = (sum of weightedScore/minimum + 3 x 5) / (sum of ratedVolume/minimum + 5)
    over the reputation assets listed now (one unit = one rated trade at the asset's minimum;
    the prior, 3.0 over 5 units, makes an account never rated score 3.00).

    When a market index exists (`market sync` made one, or --db / $P2PESCROW_DB names one), it is
    synced and the address's screening is shown too, as `market search` shows sellers. --plot FILE
    draws the address's ratings and volume over time from the index (PNG or SVG, by the suffix).

    \b
    Example:
      p2pescrow rep show 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC
      p2pescrow rep show 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC --plot record.png
    """
    who = parse.address(address) if address else None
    target = check_plot(plot) if plot is not None else None
    options = context.options(ctx)
    if target is not None:
        _check_index(options)
    reads = context.reader(options)
    if who is None:
        who = me(reads)
        if who is None:
            raise InputError("whose reputation? pass an ADDRESS, or --account NAME")
    r = reads.reputation(who)
    assets = reads.reputation_assets()
    tokens = {asset: reads.token(asset) for asset in {*assets, *(rec.asset for rec in r.records)}}
    records = []
    rows = []
    for rec in sorted(r.records, key=lambda x: (int(x.asset, 16) != 0, tokens[x.asset].symbol, int(x.role))):
        info = tokens[rec.asset]
        role = "buyer" if rec.role is ReputationRole.BUYER else "seller"
        average = rec.average_rating
        records.append({"asset": rec.asset, "symbol": info.symbol, "role": role,
                        "volume": str(info.human(rec.volume)), "volume_base_units": rec.volume,
                        "trades": rec.trades, "completed": rec.completed, "refunded": rec.refunded,
                        "settled": rec.settled, "disputes_won": rec.disputes_won,
                        "disputes_lost": rec.disputes_lost, "disputes_split": rec.disputes_split,
                        "ratings": rec.count, "rated_volume": str(info.human(rec.rated_volume)),
                        "rated_volume_base_units": rec.rated_volume, "weighted_score": rec.weighted_score,
                        "average_rating": average})
        rows.append((info.symbol, role, f"{info.human(rec.volume)} {info.symbol}", str(rec.trades),
                     str(rec.completed), str(rec.refunded), str(rec.settled),
                     f"{rec.disputes_won}/{rec.disputes_lost}/{rec.disputes_split}",
                     f"{rec.count}" + (f" on {info.human(rec.rated_volume)}" if rec.count else ""),
                     f"{average}/5" if average is not None else "-"))
    listed = {a: m for a, (is_listed, m) in assets.items() if is_listed}
    score, units = r.score(), r.units()
    by_role = {role: r.score(role=ReputationRole[role.upper()]) for role in ("buyer", "seller")}
    document = {"address": r.address, "score": score, "units": units, "score_as_buyer": by_role["buyer"],
                "score_as_seller": by_role["seller"], "trades": r.trades, "records": records,
                "assets": [{"asset": a, "symbol": tokens[a].symbol, "listed": is_listed,
                            "minimum": str(tokens[a].human(m)), "minimum_base_units": m}
                           for a, (is_listed, m) in assets.items()]}
    lines = [f"Reputation of {r.address}",
             f"  score: {score}/5 over {units.quantize(Decimal('0.01'))} units rated (as buyer {by_role['buyer']}/5, "
             f"as seller {by_role['seller']}/5); never rated: 3.00",
             "  one unit = one rated trade at the minimum: "
             + (", ".join(f"{tokens[a].human(m)} {tokens[a].symbol}" for a, m in listed.items())
                or "no asset is listed, so no trade records")]
    from .market import screening_for

    screened = screening_for(options, reads, r.address)
    if screened is not None:  # the market index's screening, as `market search` shows it
        document["screening"] = screened[0]
        lines.append(f"  screening (market index): {screened[1]}")
    if rows:
        header = ("asset", "role", "volume", "trades", "completed", "refunded", "settled", "won/lost/split",
                  "ratings", "rating")
        lines += ["", *("  " + line for line in table(rows, header).splitlines())]
    else:
        lines.append("  no recorded trades yet")
    if target is not None:
        line = _timeline(options, reads, r.address)
        lines += ["", write_address_chart(target, line, lambda token: _token_or_none(reads, token))]
        document["plot"] = str(target)
    emit(options, {"reputation": document}, lines)


def _check_index(options: context.Options) -> None:
    """--plot draws from a local market index: one that exists (checked before any work)."""
    from .market import index_exists

    if options.market_url:
        raise InputError("rep show --plot draws from a local market index, not a market server (--market-url)",
                         hint="leave --market-url out; `p2pescrow market sync` makes the local index")
    if not index_exists(options):
        raise InputError("rep show --plot draws from the market index, and there is none yet",
                         hint="run `p2pescrow market sync` first (or name the index with --db)")


def _timeline(options: context.Options, reads: Any, address: str) -> Any:
    """The address's timeline from the local market index (synced first), for --plot."""
    from .market import Market, database_errors

    market = Market(options, reads)
    market.sync()
    with database_errors(market.url):
        return market.client.timeline(address)


def _token_or_none(reads: Any, address: str) -> Any:
    try:
        return reads.token(address)
    except Exception:  # noqa: BLE001 - not an ERC-20 that answers: drawn in base units
        return None


@command(rep_app, "cost")
def cost(
    ctx: typer.Context,
    gas_price: Annotated[Decimal | None, typer.Option(
        "--gas-price", metavar="GWEI", help="Gas price in gwei (default: the node's).", show_default=False)] = None,
) -> None:
    """What faking one unit of reputation costs on this deployment, per listed asset.

    \b
    One unit is one rated trade at the asset's minimum. The cheapest fake is a self-trade between
    two of one's own addresses that records and is rated both ways: its gas (measured on a replica
    of this deployment: same code, fee and minimum) at the gas price, plus the platform fee on
    the minimum. The price itself comes back; the gas and the fee do not.
    """
    from ...ops.trust import report as cost_report
    from ...ops.trust import trust_cost
    from ..render import progress

    options = context.options(ctx)
    if gas_price is not None and gas_price < 0:
        raise InputError(f"invalid gas price {gas_price}: gwei, 0 or more")
    client = connect(options, hooks=False, read_only=True)
    price = None if gas_price is None else int(gas_price * 10**9)
    costs = trust_cost(client, gas_price=price, progress=lambda line: progress(line, options))
    deployment = client.deployment
    lines = [f"Faking one unit of reputation on escrow {deployment.escrow} (chain id {deployment.chain_id}):",
             "a self-trade at the asset's minimum that records and is rated both ways"]
    for c in costs:
        gwei = Decimal(c.gas_price) / 10**9
        lines += ["", f"{c.symbol} (minimum {c.human(c.minimum)} {c.symbol}, fee {c.platform_fee_bps} bps):",
                  f"  gas      {c.gas:,} ({c.cheapest.path}) = {eth_text(c.gas_cost)} ETH at {gwei.normalize():f} gwei",
                  f"  fee      {c.human(c.platform_fee)} {c.symbol} (platform fee on the minimum, rounded up)"]
        if c.per_unit_eth is not None:
            lines.append(f"  per unit {eth_text(c.per_unit_eth)} ETH")
        else:
            lines.append(f"  per unit {eth_text(c.gas_cost)} ETH + {c.human(c.platform_fee)} {c.symbol}")
        lines.append(f"  per 1 {c.symbol} of rated volume: {c.fee_rate.normalize():f} {c.symbol} in fees at any "
                     f"trade size, + {eth_text(int(c.gas_per_volume()))} ETH of gas with trades at the minimum")
        if c.replica_token:
            lines.append(f"  (gas measured with a standard ERC-20 standing in for {c.symbol}: its own transfers "
                         "may cost more or less)")
    if not costs:
        lines += ["", "no asset is listed: no trade records reputation, so none can be faked "
                      "(the owner lists assets with scripts/list_reputation_asset.py)"]
    emit(options, {"trust_cost": {"escrow": deployment.escrow, "chain_id": deployment.chain_id,
                                  **cost_report(costs)}}, lines)


def eth_text(wei: int) -> str:
    """Wei as ETH, plain decimal (no exponent)."""
    from ...models import from_base_units

    return f"{from_base_units(wei, 18):f}"


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
