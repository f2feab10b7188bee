"""Two syncs that start together on a database nobody has indexed yet (a platform's server starting
while its operator runs `market sync`, two CLI processes) both finish, and leave exactly the rows one
sync leaves: the schema is created once, the sync state row is made once, and neither sync crashes on
the other's work. SQLite and PostgreSQL (``db_url``)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from support.market import MarketChain, domain_rows, make_history

from p2pescrow.market.db import open_database
from p2pescrow.market.sync import Indexer

pytestmark = pytest.mark.anvil


@pytest.fixture(scope="module")
def history(market_chain: MarketChain):
    return make_history(market_chain)


def together(*jobs: Any) -> list[Any]:
    """Run ``jobs`` in threads released at the same moment; their results, or the exceptions they raised."""
    start = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)

    def run(i: int, job: Any) -> None:
        start.wait()
        try:
            results[i] = job()
        except Exception as exc:  # noqa: BLE001 - the test reports it
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return results


def sync_fresh(db_url: str, m: MarketChain) -> Any:
    return Indexer(open_database(db_url), m.url, m.deployment).sync()


def test_two_first_syncs_at_once_both_finish_with_one_syncs_rows(market_chain, history, db_url, another_db):
    m = market_chain
    for attempt in range(3):  # a race is a matter of timing: give it a few chances
        url = another_db(f"race{attempt}")
        results = together(lambda u=url: sync_fresh(u, m), lambda u=url: sync_fresh(u, m))
        assert [r for r in results if isinstance(r, BaseException)] == []
        alone = another_db(f"alone{attempt}")
        sync_fresh(alone, m)
        assert domain_rows(open_database(url)) == domain_rows(open_database(alone))


_SYNC_SCRIPT = """
import json, sys, time, types
from p2pescrow.market.db import open_database
from p2pescrow.market.sync import Indexer
url, rpc, start = sys.argv[1], sys.argv[2], float(sys.argv[4])
deployment = types.SimpleNamespace(**json.loads(sys.argv[3]))  # what the Indexer reads of a deployment
time.sleep(max(0.0, start - time.time()))  # both processes begin at the same moment
Indexer(open_database(url), rpc, deployment).sync()
"""


def test_two_processes_syncing_a_fresh_database_at_once_both_finish(market_chain, history, db_url, another_db):
    import dataclasses
    import json
    import subprocess
    import sys
    import time

    m = market_chain
    deployment = json.dumps({f.name: getattr(m.deployment, f.name) for f in dataclasses.fields(m.deployment)})
    alone = another_db("alone")
    sync_fresh(alone, m)
    for attempt in range(3):
        url = another_db(f"processes{attempt}")
        start = time.time() + 3.0  # after both interpreters have imported everything
        runs = [subprocess.Popen([sys.executable, "-c", _SYNC_SCRIPT, url, m.url, deployment, str(start)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        outcomes = [run.communicate(timeout=300) for run in runs]
        assert [run.returncode for run in runs] == [0, 0], [err[-2000:] for _, err in outcomes]
        assert domain_rows(open_database(url)) == domain_rows(open_database(alone))
