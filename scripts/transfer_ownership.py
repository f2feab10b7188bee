"""Owner: hand the escrow to a new owner in two steps (OpenZeppelin Ownable2Step). The current
owner offers ownership (`transfer NEW_OWNER`); nothing changes until the new owner accepts
(`accept`, run with the new owner's account). A wrong address can therefore never take over.

    python scripts/transfer_ownership.py transfer 0xNEW --rpc-url URL --account OWNER [--dry-run]
    python scripts/transfer_ownership.py accept --rpc-url URL --account NEW_OWNER [--dry-run]
    brownie run scripts/transfer_ownership.py main transfer 0xNEW dry_run --network sepolia

The escrow is the only contract with an owner (its Reputation contract has none). --dry-run prints
what would change and simulates it as the account: nothing is sent. After `accept` the registry
records the new owner.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(1, str(ROOT))

from p2pescrow.ops.runtime import Env, Script, run_changes  # noqa: E402

SCRIPT = Script("transfer_ownership.py", __doc__.split("\n\n")[0], ROOT)
SCRIPT.parser.add_argument("action", choices=["transfer", "accept"])
SCRIPT.parser.add_argument("new_owner", nargs="?", help="the new owner's address (transfer)")
SCRIPT.parser.add_argument("--dry-run", action="store_true", help="show and simulate, send nothing")


def run(env: Env) -> int:
    from p2pescrow.errors import InputError
    from p2pescrow.ops.admin import plan_accept, plan_transfer

    args = env.args
    client = env.client()
    if args.action == "transfer":
        if not args.new_owner:
            raise InputError("transfer needs the new owner's address")
        changes = plan_transfer(client, args.new_owner)
    else:
        if args.new_owner:
            raise InputError("accept takes no address: run it with the new owner's account")
        changes = plan_accept(client)
    status = run_changes(env, client, changes, dry_run=args.dry_run)
    if args.action == "transfer" and changes and not args.dry_run:
        env.out(f"offered to {args.new_owner}: nothing changes until it runs `transfer_ownership.py accept`")
    return status


def main(*words: str) -> None:
    """brownie run scripts/transfer_ownership.py main transfer 0xNEW|accept [dry_run]"""
    SCRIPT.brownie(words, run)


if __name__ == "__main__":
    sys.exit(SCRIPT.python(sys.argv[1:], run))
