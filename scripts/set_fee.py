"""Owner: set the platform fee (basis points, for trades created from now on) and/or the fee
recipient of the escrow recorded for this chain.

    python scripts/set_fee.py --rpc-url URL --account OWNER --fee-bps 50 [--fee-recipient 0x..] [--dry-run]
    brownie run scripts/set_fee.py main fee_bps=50 dry_run --network sepolia

--dry-run prints what would change (current -> new) and simulates it as the account: nothing is sent.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(1, str(ROOT))

from p2pescrow.ops.runtime import Env, Script, run_changes  # noqa: E402

SCRIPT = Script("set_fee.py", __doc__.split("\n\n")[0], ROOT)
SCRIPT.parser.add_argument("--fee-bps", type=int, help="the new platform fee in basis points (0-500)")
SCRIPT.parser.add_argument("--fee-recipient", help="the new fee recipient")
SCRIPT.parser.add_argument("--dry-run", action="store_true", help="show and simulate, send nothing")


def run(env: Env) -> int:
    from p2pescrow.ops.admin import plan_fee

    client = env.client()
    changes = plan_fee(client, fee_bps=env.args.fee_bps, recipient=env.args.fee_recipient)
    return run_changes(env, client, changes, dry_run=env.args.dry_run)


def main(*words: str) -> None:
    """brownie run scripts/set_fee.py main [fee_bps=N] [fee_recipient=0x..] [dry_run]"""
    SCRIPT.brownie(words, run)


if __name__ == "__main__":
    sys.exit(SCRIPT.python(sys.argv[1:], run))
