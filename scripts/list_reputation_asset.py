"""Owner: list an asset whose trades record reputation (ETH or an ERC-20), with the smallest price
that counts; re-price it; or delist it. Without an asset, print the assets listed now.

    python scripts/list_reputation_asset.py ETH --min-amount 0.01 --rpc-url URL --account OWNER [--dry-run]
    python scripts/list_reputation_asset.py 0xTOKEN --min-amount 25 --rpc-url URL --account OWNER
    python scripts/list_reputation_asset.py 0xTOKEN --delist --rpc-url URL --account OWNER
    python scripts/list_reputation_asset.py --rpc-url URL                  # what is listed
    brownie run scripts/list_reputation_asset.py main ETH min_amount=0.01 dry_run --network sepolia

A listing applies to trades created from then on (like the platform fee); delisting stops future
records and keeps past ones. The minimum is in the asset's units: a trade below it records nothing,
so a fake rating costs at least one trade at the minimum (see `p2pescrow rep cost`).
--dry-run prints what would change (current -> new) and simulates it as the account: nothing is sent.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(1, str(ROOT))

from p2pescrow.ops.runtime import EXIT_OK, Env, Script, run_changes  # noqa: E402

SCRIPT = Script("list_reputation_asset.py", __doc__.split("\n\n")[0], ROOT)
SCRIPT.parser.add_argument("asset", nargs="?", help="ETH or the token's address (none: show the listed assets)")
SCRIPT.parser.add_argument("--min-amount", help="the smallest price that records, in the asset's units (e.g. 0.01)")
SCRIPT.parser.add_argument("--delist", action="store_true", help="stop recording trades in this asset from now on")
SCRIPT.parser.add_argument("--dry-run", action="store_true", help="show and simulate, send nothing")


def run(env: Env) -> int:
    from p2pescrow.errors import InputError
    from p2pescrow.ops.admin import asset_label, describe_listing, plan_reputation_asset, reputation_assets

    args = env.args
    if args.asset is None:
        if args.delist or args.min_amount is not None:
            raise InputError("name the asset to list or delist (ETH or a token address)")
        client = env.client(signer=False)
        assets = reputation_assets(client)
        env.out(f"reputation assets of escrow {client.deployment.escrow} on {env.network} (chain id {env.chain_id}):")
        for token, symbol, listed, minimum, decimals in assets:
            env.out(f"  {asset_label(token, symbol):50}  {describe_listing(listed, minimum, decimals, symbol)}")
        if not assets:
            env.out("  none: no trade records reputation until the owner lists an asset")
        return EXIT_OK
    client = env.client()
    changes = plan_reputation_asset(client, args.asset, listed=not args.delist, min_amount=args.min_amount)
    return run_changes(env, client, changes, dry_run=args.dry_run)


def main(*words: str) -> None:
    """brownie run scripts/list_reputation_asset.py main [ETH|0xTOKEN] [min_amount=N] [delist] [dry_run]"""
    SCRIPT.brownie(words, run)


if __name__ == "__main__":
    sys.exit(SCRIPT.python(sys.argv[1:], run))
