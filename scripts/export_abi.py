"""Write the ABIs and addresses of this chain's deployment for dApps in any language: one JSON file
per chain with both contracts (address, deployment block, ABI), the settings, every custom error,
and the EIP-712 domain and types of signed offers.

    brownie run scripts/export_abi.py --network sepolia
    python scripts/export_abi.py --rpc-url URL             # or --chain-id N: no node needed
    python scripts/export_abi.py --chain-id 11155111 --out web/p2pescrow.json

Default output: build/exports/p2pescrow-<chain id>.json (`-` writes to stdout).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(1, str(ROOT))

from p2pescrow.ops.runtime import EXIT_OK, Env, Script  # noqa: E402

SCRIPT = Script("export_abi.py", __doc__.split("\n\n")[0], ROOT, needs_account=False)
SCRIPT.parser.add_argument("--out", help="output file (default build/exports/p2pescrow-<chain id>.json; - for stdout)")


def run(env: Env) -> int:
    from p2pescrow.ops.admin import export_document

    document = export_document(env.deployment())
    text = json.dumps(document, indent=2, sort_keys=True) + "\n"
    if env.args.out == "-":
        sys.stdout.write(text)
        return EXIT_OK
    out = Path(env.args.out) if env.args.out else ROOT / "build" / "exports" / f"p2pescrow-{env.chain_id}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    env.out(f"wrote {out} (chain id {env.chain_id}: P2PEscrow {document['contracts']['P2PEscrow']['address']}, "
            f"Reputation {document['contracts']['Reputation']['address']}, EIP-712 Offer types)")
    return EXIT_OK


def offline(argv: list[str]) -> int | None:
    """`--chain-id N` without --rpc-url/--network: read the registry, no node needed."""
    import argparse

    probe = argparse.ArgumentParser(add_help=False)
    for option in ("--rpc-url", "--network", "--chain-id", "--out", "--env-file"):
        probe.add_argument(option)
    known, rest = probe.parse_known_args(argv)
    if rest or known.chain_id is None or known.rpc_url or known.network:
        return None
    from p2pescrow.ops.runtime import EXIT_INPUT
    from p2pescrow.ops.runtime import Env as _Env

    try:
        chain_id = int(known.chain_id)
    except ValueError:
        print("error: --chain-id must be a number", file=sys.stderr)
        return EXIT_INPUT
    env = _Env(None, chain_id, "", f"chain {chain_id}", ROOT, False, known)  # type: ignore[arg-type]
    return SCRIPT._guarded(lambda: run(env))


def main(*words: str) -> None:
    """brownie run scripts/export_abi.py [main [out=PATH]]"""
    SCRIPT.brownie(words, run)


if __name__ == "__main__":
    status = offline(sys.argv[1:])
    sys.exit(status if status is not None else SCRIPT.python(sys.argv[1:], run))
