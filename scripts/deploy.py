"""Deploy the escrow (one transaction: it creates its reputation contract) and record it in the registry.

    brownie run scripts/deploy.py --network sepolia           # brownie's network, .env and account
    brownie run scripts/deploy.py main force fee_bps=50       # options as words under brownie
    python scripts/deploy.py --rpc-url URL --account NAME     # without brownie (the SDK)

Deploys P2PEscrow version 2 (owner, fee recipient, platform fee) in one transaction; its
constructor creates the Reputation contract whose only writer it is (no owner, nothing to wire).
The owner owns the escrow from the start. No asset records reputation until the owner lists it
(scripts/list_reputation_asset.py). The deployment is written to the registry the SDK and the CLI
read (`$P2PESCROW_HOME/deployments.json`), so `p2pescrow trade ...` works against it at once.

Settings: --fee-bps / --fee-recipient / --owner, else $P2PESCROW_PLATFORM_FEE_BPS /
$P2PESCROW_FEE_RECIPIENT / $P2PESCROW_OWNER (.env), else the `p2pescrow:` section of
brownie-config.yaml. A chain with a working version-2 deployment is left alone unless --force. A
run that died after sending its transaction is continued by the next one (progress is recorded when
the transaction is sent and when it is mined): it waits for that transaction instead of sending another.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python scripts/deploy.py` from a checkout without `pip install -e`
    sys.path.insert(1, str(ROOT))

from p2pescrow.ops.runtime import EXIT_OK, Env, Script, setting  # noqa: E402

SCRIPT = Script("deploy.py", __doc__.split("\n\n")[0], ROOT)
SCRIPT.parser.add_argument("--fee-bps", type=int, help="platform fee in basis points (25 = 0.25%%, at most 500)")
SCRIPT.parser.add_argument("--fee-recipient", help="address paid the platform fees (default: the owner)")
SCRIPT.parser.add_argument("--owner", help="owner of the escrow (default: the deploying account)")
SCRIPT.parser.add_argument("--force", action="store_true",
                           help="deploy anew even if this chain has a deployment (or an unfinished one)")

#: Fault injection for the recovery tests: exit abruptly right after this step is recorded.
CRASH_AFTER_ENV = "P2PESCROW_TEST_CRASH_AFTER"


def run(env: Env) -> int:
    from p2pescrow.deployments import ensure_deployed
    from p2pescrow.errors import InputError

    args = env.args
    try:
        fee = int(setting(env, args.fee_bps, "P2PESCROW_PLATFORM_FEE_BPS", "platform_fee_bps", 0))
    except ValueError:
        raise InputError("the platform fee must be a whole number of basis points") from None
    if not 0 <= fee <= 500:
        raise InputError(f"the platform fee is 0 to 500 basis points (5%), not {fee}")
    recipient = setting(env, args.fee_recipient, "P2PESCROW_FEE_RECIPIENT", "fee_recipient")
    owner = setting(env, args.owner, "P2PESCROW_OWNER", "owner")
    if recipient or owner:
        from p2pescrow.core.terms import checksum

        recipient = checksum(recipient, "fee recipient") if recipient else None
        owner = checksum(owner, "owner") if owner else None
    transactor = env.transactor()
    env.note(f"network {env.network} (chain id {env.chain_id}), deploying account {transactor.address}")
    crash_after = os.environ.get(CRASH_AFTER_ENV)

    def after_step(step: str) -> None:
        if step == crash_after:
            env.note(f"{CRASH_AFTER_ENV}={step}: exiting abruptly")
            os._exit(137)

    outcome = ensure_deployed(transactor, env.registry, fee_recipient=recipient, platform_fee_bps=fee,
                              owner=owner, force=args.force, report=env.note, after_step=after_step)
    d = outcome.deployment
    if outcome.status == "existing":
        env.out(f"already deployed on chain {d.chain_id} at {d.escrow} (reputation {d.reputation}): "
                "nothing to do; --force deploys a new pair")
    else:
        env.out(f"{'deployed' if outcome.status == 'deployed' else 'finished the deployment'} on "
                f"chain {d.chain_id} at block {d.block}")
    env.out(f"  escrow:        {d.escrow}")
    env.out(f"  reputation:    {d.reputation} (created by the escrow, its only writer)")
    env.out(f"  version:       {d.version}")
    env.out(f"  owner:         {d.owner}")
    env.out(f"  platform fee:  {d.platform_fee_bps} bps to {d.fee_recipient}")
    env.out(f"  registry:      {env.registry.path}")
    if outcome.status != "existing" and env.via_brownie:
        _brownie_handles(d)
    return EXIT_OK


def _brownie_handles(d: object) -> None:
    """Make the contracts available as brownie objects (for `brownie run -I` and the console)."""
    from brownie import Contract

    from p2pescrow.build import load_artifact

    Contract.from_abi("P2PEscrow", d.escrow, load_artifact("P2PEscrow")["abi"])  # type: ignore[attr-defined]
    Contract.from_abi("Reputation", d.reputation, load_artifact("Reputation")["abi"])  # type: ignore[attr-defined]


def main(*words: str) -> None:
    """brownie run scripts/deploy.py [main [force] [fee_bps=N] [fee_recipient=0x..] [owner=0x..] [account=NAME]]"""
    SCRIPT.brownie(words, run)


if __name__ == "__main__":
    sys.exit(SCRIPT.python(sys.argv[1:], run))
