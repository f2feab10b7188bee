"""``p2pescrow deploy``: escrow + reputation on the selected network, recorded in the registry."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated

import typer

from .. import context
from ..app import app, command
from ..context import Options
from ..render import emit, progress

if TYPE_CHECKING:
    from ...transport.sync import Transactor

#: P2PEscrow.MAX_PLATFORM_FEE_BPS (the constructor refuses more; checked here to fail early).
MAX_FEE_BPS = 500


@command(app, "deploy")
def deploy(ctx: typer.Context,
           fee_bps: Annotated[int, typer.Option(
               "--fee-bps", min=0, max=MAX_FEE_BPS,
               help="Platform fee on new trades, in basis points (25 = 0.25%; at most 500).")] = 0,
           fee_recipient: Annotated[str | None, typer.Option(
               "--fee-recipient", help="Address that receives the fees (default: the deploying account).")] = None,
           force: Annotated[bool, typer.Option(
               "--force", help="Deploy even if a deployment is recorded for this chain (it is replaced).")] = False,
           yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask first (as the global --yes).")] = False,
           ) -> None:
    """Deploy the escrow and reputation contracts with the selected account and record them.

    Every command then finds them by the chain id. A chain gets one deployment: a second one is
    nothing to do (exit 0) unless --force. Shows the cost and asks first, unless --yes.

    \b
    Example:
      p2pescrow --network sepolia --account alice deploy --fee-bps 25
    """
    from ...deployments import (
        CONTRACT_VERSION,
        DeploymentMismatch,
        OutdatedDeployment,
        Registry,
        ensure_deployed,
        verify,
    )
    from ...errors import InputError
    from ..context import network, signer, transactor
    from ..parse import address

    options = context.options(ctx)
    options.yes = options.yes or yes
    net = network(options)
    if net.rpc_url is None:
        raise InputError("the embedded chain is created, contracts included, afresh for each command: "
                         "there is nothing to deploy to", hint="pick a node with --network or --rpc-url")
    recipient = address(fee_recipient, "fee recipient") if fee_recipient else None
    node = transactor(options)  # the node, its chain checked; no account needed yet
    chain_id = node.chain_id

    registry = Registry()
    previous = registry.get(chain_id)
    if previous is not None and not force and previous.version == CONTRACT_VERSION:
        try:
            verify(node.w3, previous)
        except (DeploymentMismatch, OutdatedDeployment):
            pass  # its chain was reset, or it is a v1 escrow: ensure_deployed says so and deploys anew
        else:  # nothing failed: exit 0, as scripts/deploy.py does
            emit(options, {"network": net.name, **asdict(previous), "status": "existing", "replaced": None,
                           "registry": str(registry.path)},
                 f"already deployed on chain {chain_id} at {previous.escrow} (reputation {previous.reputation}): "
                 "nothing to do; --force deploys a new pair")
            return

    sender = transactor(options, signer(options, net))
    _confirm(options, sender, net.name, chain_id, fee_bps, recipient)
    outcome = ensure_deployed(sender, registry, fee_recipient=recipient, platform_fee_bps=fee_bps,
                              force=force, report=lambda line: progress(line, options))
    deployment = outcome.deployment
    replaced = outcome.replaced.escrow if outcome.replaced is not None else None
    emit(options, {"network": net.name, **asdict(deployment), "status": outcome.status, "replaced": replaced,
                   "registry": str(registry.path)},
         [f"deployed on {net.name} (chain {chain_id}) at block {deployment.block}",
          f"  escrow:        {deployment.escrow}",
          f"  reputation:    {deployment.reputation}",
          f"  owner:         {deployment.owner}",
          f"  platform fee:  {deployment.platform_fee_bps} bps to {deployment.fee_recipient}",
          "  reputation assets: none listed yet, so no trade records reputation until the owner lists one "
          "(python scripts/list_reputation_asset.py ETH --min-amount 0.01 ...)",
          f"recorded in {registry.path}" + (f" (replacing {replaced})" if replaced else "")])


def _confirm(options: Options, sender: Transactor, network_name: str, chain_id: int, fee_bps: int,
             recipient: str | None) -> None:
    """Price the deployment (which also checks it would succeed), show it, and ask."""
    from ..._artifacts import load_artifact
    from ...deployments import deploy_data
    from ...transport.sync import Call
    from ..confirm import ask, sending_account
    from ..render import eth

    owner = sender.address
    esc = sender.preview(Call(None, deploy_data(load_artifact("P2PEscrow"), owner, recipient or owner, fee_bps)))
    ask(options, [f"From: {sending_account(options, owner)} (the owner)",
                  f"About to deploy p2pescrow on {network_name} (chain {chain_id}):",
                  f"  platform fee:  {fee_bps} bps ({fee_bps / 100:g}%) to {recipient or owner}",
                  "  transactions:  1 (P2PEscrow, which creates its Reputation contract)",
                  f"  gas:           about {esc.gas:,}, at most {eth(esc.gas * esc.max_fee_per_gas)}"],
        "Deploy?")
