"""A market sync in a process of its own, for the kill-and-resume test (tests/market/test_kill_resume.py):

    python -P tests/support/market_sync_worker.py DB_URL RPC_URL CHAIN_ID ESCROW REPUTATION BLOCK FEE_BPS PAGE

The test sets ``P2PESCROW_SYNC_PAGE_DELAY`` / ``P2PESCROW_SYNC_WRITE_DELAY`` to widen the windows it
kills the process in (``-P``: tests/support is not put on sys.path, where support/secrets.py would
shadow the standard library's). Prints ``done <last block>`` when the sync finished.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from p2pescrow.market.db import open_database
from p2pescrow.market.sync import Indexer


@dataclass(frozen=True)
class _Deployment:
    chain_id: int
    escrow: str
    reputation: str
    block: int
    platform_fee_bps: int


def main(argv: list[str]) -> int:
    db_url, rpc_url, chain_id, escrow, reputation, block, fee, page = argv
    deployment = _Deployment(int(chain_id), escrow, reputation, int(block), int(fee))
    report = Indexer(open_database(db_url), rpc_url, deployment, page=int(page)).sync()
    print(f"done {report.to_block}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
