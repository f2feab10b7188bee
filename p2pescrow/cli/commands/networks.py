"""``p2pescrow networks``: the built-in networks and your own (``<config dir>/networks.json``)."""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlsplit, urlunsplit

import typer

from .. import context
from ..app import app, command
from ..render import emit, table

networks_app = typer.Typer(
    name="networks", no_args_is_help=True,
    help="Built-in networks (local, ganache, embedded) and the ones you add (name, RPC URL, chain id).")
app.add_typer(networks_app)

_SECRET_SEGMENT = re.compile(r"^[A-Za-z0-9_-]{16,}$")


def redact(url: str | None) -> str | None:
    """An RPC URL fit for a screen: API keys in the path, query or user info are shortened.

    ``https://sepolia.infura.io/v3/0123456789abcdef0123456789abcdef`` -> ``https://sepolia.infura.io/v3/0123…``
    """
    if not url:
        return url
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    path = "/".join(s[:4] + "…" if _SECRET_SEGMENT.match(s) else s for s in parts.path.split("/"))
    return urlunsplit((parts.scheme, netloc, path, "…" if parts.query else "", ""))


@command(networks_app, "list")
def list_(ctx: typer.Context) -> None:
    """List the networks, with the escrow address where a deployment is recorded for the chain.

    \b
    Example:
      p2pescrow networks list
    """
    from ...deployments import Registry
    from ...networks import Networks
    from ...node import devchain

    options = context.options(ctx)
    registry = Registry()
    entries = []
    for net in Networks().all():
        net = devchain.resolve(net)
        deployment = registry.get(net.chain_id) if net.chain_id is not None else None
        entries.append({
            "name": net.name, "rpc_url": redact(net.rpc_url), "chain_id": net.chain_id,
            "explorer": net.explorer, "builtin": net.builtin, "dev": net.dev,
            "escrow": deployment.escrow if deployment else None,
            "reputation": deployment.reputation if deployment else None,
        })
    rows = []
    for e in entries:
        kind = ("built-in" if e["builtin"] else "user") + (", dev" if e["dev"] else "")
        if e["rpc_url"] is None:
            deployed = "deployed fresh on each run"
        else:
            deployed = e["escrow"] or "-"
        rows.append((e["name"], e["rpc_url"] or "(in-process)", str(e["chain_id"] or "-"), kind, deployed))
    emit(options, {"networks": entries}, table(rows, ("NAME", "RPC URL", "CHAIN ID", "KIND", "ESCROW")))


@command(networks_app, "add")
def add(ctx: typer.Context,
        name: Annotated[str, typer.Argument(help="A name for the network, e.g. sepolia.")],
        rpc_url: Annotated[str, typer.Option(
            "--rpc-url", help="Its JSON-RPC URL (http(s):// or ws(s)://); yours, it may hold an API key.")],
        chain_id: Annotated[int, typer.Option(
            "--chain-id", min=1, help="Its chain id (checked on every connection), e.g. 11155111.")],
        explorer: Annotated[str | None, typer.Option(
            "--explorer", help="Block explorer base URL, for transaction links.")] = None,
        dev: Annotated[bool, typer.Option(
            "--dev", help="A local dev chain from the test mnemonic: allow dev0..dev9 on it.")] = False) -> None:
    """Add (or replace) a network of your own. The file is written mode 0600.

    \b
    Example:
      p2pescrow networks add sepolia --rpc-url https://sepolia.infura.io/v3/KEY --chain-id 11155111
    """
    from ...errors import InputError
    from ...networks import Network, Networks

    options = context.options(ctx)
    if explorer is not None and not explorer.startswith(("http://", "https://")):
        raise InputError(f"invalid explorer URL {explorer!r}: expected http(s)://")
    networks = Networks()
    replaced = any(n.name == name and not n.builtin for n in networks.all())
    networks.add(Network(name, rpc_url, chain_id, explorer, builtin=False, dev=dev))
    emit(options, {"name": name, "rpc_url": redact(rpc_url), "chain_id": chain_id, "explorer": explorer,
                   "dev": dev, "replaced": replaced, "file": str(networks.path)},
         f"{'replaced' if replaced else 'added'} {name}: {redact(rpc_url)} (chain {chain_id}); "
         f"use it with `p2pescrow --network {name} ...`")


@command(networks_app, "remove")
def remove(ctx: typer.Context,
           name: Annotated[str, typer.Argument(help="A network you added.")]) -> None:
    """Remove a network you added (its recorded deployment, by chain id, is kept).

    \b
    Example:
      p2pescrow networks remove sepolia
    """
    from ...networks import Networks

    options = context.options(ctx)
    Networks().remove(name)
    emit(options, {"name": name, "removed": True}, f"removed {name}")
