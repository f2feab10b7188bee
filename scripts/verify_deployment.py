"""Check the deployment recorded for this chain: the code at both addresses against the shipped
artifacts, the version (VERSION() == 2), the wiring (the escrow's reputation contract, whose only
writer is that escrow), the escrow's owner and fee settings; the listed reputation assets are printed.

    brownie run scripts/verify_deployment.py --network sepolia
    python scripts/verify_deployment.py --rpc-url URL [--owner 0x.. --fee-bps N --fee-recipient 0x..]

Expected values are the registry's record unless given. Exit status: 0 every check passed, 1 a
check failed, 2 bad options, 4 node unreachable or no deployment recorded for the chain.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(1, str(ROOT))

from p2pescrow.ops.runtime import Env, Script, print_checks  # noqa: E402

SCRIPT = Script("verify_deployment.py", __doc__.split("\n\n")[0], ROOT, needs_account=False)
SCRIPT.parser.add_argument("--owner", help="expected owner (default: the recorded one)")
SCRIPT.parser.add_argument("--fee-bps", type=int, help="expected platform fee (default: the recorded one)")
SCRIPT.parser.add_argument("--fee-recipient", help="expected fee recipient (default: the recorded one)")


def run(env: Env) -> int:
    from p2pescrow.deployments import NoDeployment, check_deployment

    deployment = env.registry.get(env.chain_id)
    if deployment is None:
        from p2pescrow.errors import NetworkError

        raise NetworkError(str(NoDeployment(env.chain_id)), hint="deploy with scripts/deploy.py first")
    env.out(f"deployment on {env.network} (chain id {env.chain_id}), recorded in {env.registry.path}")
    checks = check_deployment(env.w3, deployment, owner=env.args.owner, fee_recipient=env.args.fee_recipient,
                              platform_fee_bps=env.args.fee_bps)
    status = print_checks(env, checks)
    failed = sum(1 for c in checks if c.ok is False)
    env.out("all checks passed" if not status else f"{failed} check(s) FAILED")
    return status


def main(*words: str) -> None:
    """brownie run scripts/verify_deployment.py [main [owner=0x..] [fee_bps=N] [fee_recipient=0x..]]"""
    SCRIPT.brownie(words, run)


if __name__ == "__main__":
    sys.exit(SCRIPT.python(sys.argv[1:], run))
