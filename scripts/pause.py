"""Owner: pause the escrow (no new trades and no offer fills; open trades go on to the end) or
unpause it.

    python scripts/pause.py pause --rpc-url URL --account OWNER [--dry-run]
    python scripts/pause.py unpause --rpc-url URL --account OWNER [--dry-run]
    brownie run scripts/pause.py main pause dry_run --network sepolia

--dry-run prints what would change and simulates it as the account: nothing is sent.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(1, str(ROOT))

from p2pescrow.ops.runtime import Env, Script, run_changes  # noqa: E402

SCRIPT = Script("pause.py", __doc__.split("\n\n")[0], ROOT)
SCRIPT.parser.add_argument("action", choices=["pause", "unpause"])
SCRIPT.parser.add_argument("--dry-run", action="store_true", help="show and simulate, send nothing")


def run(env: Env) -> int:
    from p2pescrow.ops.admin import plan_pause

    client = env.client()
    return run_changes(env, client, plan_pause(client, env.args.action == "pause"), dry_run=env.args.dry_run)


def main(*words: str) -> None:
    """brownie run scripts/pause.py main pause|unpause [dry_run]"""
    SCRIPT.brownie(words, run)


if __name__ == "__main__":
    sys.exit(SCRIPT.python(sys.argv[1:], run))
