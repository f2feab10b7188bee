"""``p2pescrow node``: a local chain in the background (Anvil, or Ganache), kept across restarts."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .. import context
from ..app import app, command
from ..context import Options
from ..render import emit, progress

if TYPE_CHECKING:
    from ...node.devchain import NodeStatus

node_app = typer.Typer(
    name="node", no_args_is_help=True,
    help="A local chain in the background: Anvil (network `local`) or Ganache (network `ganache`), "
         "with funded dev accounts and the contracts deployed; its state survives stop/start.")
app.add_typer(node_app)


class Engine(StrEnum):
    anvil = "anvil"
    ganache = "ganache"


ENGINE_HELP = "anvil (port 8545, chain 31337, network `local`) or ganache (port 8546, chain 1337)."
EngineOption = Annotated[Engine, typer.Option("--engine", "-e", help=ENGINE_HELP)]
AnyEngineOption = Annotated[Engine | None, typer.Option(
    "--engine", "-e", help="Only this engine (default: both).")]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask first (as the global --yes).")]
PortOption = Annotated[int | None, typer.Option(
    "--port", min=1, max=65535, help="Listen on this port instead of the engine's default (8545/8546).")]


def _engines(engine: Engine | None) -> list[str]:
    from ...node.devchain import ENGINES

    return [engine.value] if engine else list(ENGINES)


def _start(options: Options, engine: str, port: int | None) -> dict[str, Any]:
    from ...node import devchain

    if devchain.running(engine) is None:
        progress(f"starting {engine} ...", options)
    record, started = devchain.start(engine, port=port)
    network = devchain.NETWORK_OF[engine]
    result: dict[str, Any] = {"engine": engine, "started": started, "url": record.url,
                              "chain_id": record.chain_id, "pid": record.pid, "network": network}
    if not started:
        result["deployment"] = _plain(devchain.status(engine).deployment)
        return result
    progress(f"{engine} is up at {record.url}; checking the contracts ...", options)
    try:
        deployment, fresh = devchain.ensure_deployment(record)
    except Exception as exc:  # noqa: BLE001 - the node runs: say so, and how to finish the job
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise devchain.NodeError(f"{engine} runs at {record.url}, but deploying the contracts failed: "
                                 f"{reason}", hint="retry with `p2pescrow deploy`") from None
    result.update(deployment=_plain(deployment), deployed_now=fresh)
    return result


def _plain(deployment: Any) -> dict[str, Any] | None:
    from dataclasses import asdict

    return asdict(deployment) if deployment is not None else None


@command(node_app, "start")
def start(ctx: typer.Context, engine: EngineOption = Engine.anvil, port: PortOption = None) -> None:
    """Start a local chain in the background; the first start deploys the contracts (by dev0).

    Dev accounts dev0..dev9 hold 10 000 ETH each. The chain is kept in the config folder: stop and
    start again and your trades are still there (`node reset` starts over).

    \b
    Example:
      p2pescrow node start
      p2pescrow accounts show dev1
    """
    options = context.options(ctx)
    result = _start(options, engine.value, port)
    deployment = result.get("deployment")
    network = result["network"]
    if not result["started"]:
        lines = [f"{engine.value} is already running at {result['url']} (pid {result['pid']})"]
    else:
        lines = [f"{engine.value} running at {result['url']} (chain {result['chain_id']}, pid {result['pid']})"]
        if deployment is not None:
            verb = "deployed" if result.get("deployed_now") else "deployment found"
            lines.append(f"{verb}: escrow {deployment['escrow']}, reputation {deployment['reputation']}")
            lines += [f"dev token {symbol}: {address} (dev0..dev9 hold some; `p2pescrow node fund` gives more)"
                      for symbol, address in deployment.get("dev_tokens", {}).items()]
    from ...node.devchain import DEFAULT_PORTS

    default_port = DEFAULT_PORTS[engine.value]
    target = f"--network {network}" if network != "local" else ""
    if result["url"] != f"http://127.0.0.1:{default_port}":
        lines.append(f"the network `{network}` points at it while it runs")
    lines.append(f"try: p2pescrow {target + ' ' if target else ''}accounts show dev1; "
                 f"stop it with `p2pescrow node stop{' -e ganache' if engine.value == 'ganache' else ''}`")
    emit(options, result, lines)


@command(node_app, "stop")
def stop(ctx: typer.Context, engine: AnyEngineOption = None) -> None:
    """Stop the local chain (gracefully: it saves its state first).

    \b
    Example:
      p2pescrow node stop
    """
    from ...node import devchain

    options = context.options(ctx)
    stopped = []
    for name in _engines(engine):
        if devchain.running(name) is not None:
            progress(f"stopping {name} ...", options)
        record = devchain.stop(name)
        if record is not None:
            stopped.append({"engine": name, "pid": record.pid, "url": record.url})
    if stopped:
        text = [f"stopped {s['engine']} (pid {s['pid']}); its state is kept in {devchain.state_path(s['engine'])}, "
                f"and `p2pescrow node start` starts it again at {s['url']}" for s in stopped]
    else:
        text = "no local node was running"
    emit(options, {"stopped": stopped}, text)


@command(node_app, "status")
def status(ctx: typer.Context, engine: AnyEngineOption = None) -> None:
    """Show whether the local chain runs: URL, chain id, block, pid and the deployed contracts.

    \b
    Example:
      p2pescrow node status
    """
    from ...node import devchain

    options = context.options(ctx)
    reports = [devchain.status(name) for name in _engines(engine)]
    documents = [_status_document(r) for r in reports]
    lines: list[str] = []
    for report in reports:
        lines += _status_lines(report)
    if not any(r.running for r in reports):
        lines.append("start one with `p2pescrow node start`"
                     + (" -e ganache" if engine is Engine.ganache else ""))
    emit(options, {"nodes": documents, "running": any(r.running for r in reports)}, lines)


def _status_document(report: NodeStatus) -> dict[str, Any]:
    record = report.record
    return {"engine": report.engine, "running": report.running, "answering": report.answering,
            "url": record.url if record else None, "chain_id": record.chain_id if record else None,
            "port": record.port if record else None, "pid": record.pid if record else None,
            "started": record.started if record else None, "block": report.block,
            "deployment": _plain(report.deployment), "deployment_live": report.deployment_live,
            "log": str(report.log), "state": str(report.state)}


def _status_lines(report: NodeStatus) -> list[str]:
    record = report.record
    if record is None:
        return [f"{report.engine}: not running"]
    lines = [f"{report.engine}: running" + ("" if report.answering else " but not answering")]
    lines += [f"  url:        {record.url}", f"  chain id:   {record.chain_id}",
              f"  block:      {report.block if report.block is not None else '?'}",
              f"  pid:        {record.pid} (since {record.started})"]
    if report.deployment is not None:
        flag = (
            ""
            if report.deployment_live in (True, None)
            else "  (no code there: redeploy with `p2pescrow deploy --force`)"
        )
        lines += [f"  escrow:     {report.deployment.escrow}{flag}",
                  f"  reputation: {report.deployment.reputation}"]
        lines += [f"  {symbol + ':':<11} {address} (dev token)" for symbol, address in
                  report.deployment.dev_tokens.items()]
    else:
        lines.append("  contracts:  none recorded (deploy with `p2pescrow deploy`)")
    lines.append(f"  log:        {report.log}")
    return lines


@command(node_app, "fund")
def fund(ctx: typer.Context,
         who: Annotated[str, typer.Argument(help="An address, a keystore name (see `accounts list`) or dev0..dev9.",
                                            show_default=False)],
         amounts: Annotated[list[str] | None, typer.Argument(
             help="What to give, e.g. '10 ETH' '500 DUSD' (default: 10 ETH, 10,000 DUSD and 10,000 DEUR).",
             show_default=False)] = None) -> None:
    """Give an account ETH and dev tokens on the local chain (sent and minted by dev0).

    Only on a local dev chain: one `p2pescrow node start` runs, or chain id 31337/1337 on a loopback
    URL; refused anywhere else. The dev tokens are DUSD (a plain ERC-20, 6 decimals) and DEUR
    (EIP-2612 permit, 18 decimals); `p2pescrow node status` shows their addresses, for a trade's
    `--token`.

    \b
    Example:
      p2pescrow accounts new alice
      p2pescrow node fund alice
      p2pescrow node fund 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 '1.5 ETH' '250 DUSD'
    """
    from ...errors import InputError
    from ...models import from_base_units
    from ...node import devchain
    from ..context import network
    from ..parse import split_symbol

    options = context.options(ctx)
    net = network(options)
    if net.rpc_url is None:
        raise InputError("the embedded chain lives only as long as one command: fund accounts on a node",
                         hint="start one with `p2pescrow node start`")
    wanted: dict[str, str] = {}
    for text in amounts or []:
        number, symbol = split_symbol(text)
        if symbol is None:
            raise InputError(f"{text!r} names no token: write it as '10 ETH' or '500 DUSD'")
        wanted[symbol.upper()] = number
    address = _address_of(who)
    done = devchain.fund(net.rpc_url, address, wanted or None, report=lambda line: progress(line, options))
    document = {"address": address, "funded": [
        {"symbol": f.symbol, "amount": f"{from_base_units(f.amount, f.decimals):f}", "base_units": str(f.amount),
         "tx_hash": f.tx_hash} for f in done]}
    emit(options, document, [f"{address} got {from_base_units(f.amount, f.decimals):f} {f.symbol} ({f.tx_hash})"
                             for f in done])


def _address_of(who: str) -> str:
    """An address as given, or the address of a dev account or keystore (nothing is unlocked)."""
    from ...core.terms import checksum
    from ..accounts_default import address_named

    if who.startswith("0x"):
        return checksum(who, "address to fund")
    return address_named(who)


@command(node_app, "reset")
def reset(ctx: typer.Context, engine: EngineOption = Engine.anvil,
          start_again: Annotated[bool, typer.Option(
              "--start", help="Start a fresh chain afterwards (deploying the contracts again).")] = False,
          port: PortOption = None, yes: YesOption = False) -> None:
    """Stop the local chain and delete its state and recorded deployment: start over.

    \b
    Example:
      p2pescrow node reset --start --yes
    """
    from ...node import devchain
    from ..confirm import ask

    options = context.options(ctx)
    options.yes = options.yes or yes
    name = engine.value
    ask(options, [], f"Delete the {name} chain (all its blocks, balances and contracts)?", nothing="nothing deleted")
    stopped, removed, forgotten = devchain.reset(name)
    document: dict[str, Any] = {"engine": name, "stopped": stopped is not None,
                                "removed": [str(p) for p in removed], "deployment_forgotten": forgotten}
    lines = [f"{name}: " + ("stopped, " if stopped else "") + ("state deleted" if removed else "no state to delete")
             + (", deployment forgotten" if forgotten else "")]
    if start_again:
        started = _start(options, name, port)
        document["start"] = started
        deployment = started.get("deployment")
        lines.append(f"{name} running at {started['url']} (chain {started['chain_id']}, pid {started['pid']})")
        if deployment is not None:
            lines.append(f"deployed: escrow {deployment['escrow']}, reputation {deployment['reputation']}")
    emit(options, document, lines)
