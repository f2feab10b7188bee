"""A sync killed at any point resumes to the same index: the sync runs in a subprocess (pages of one
block, with a pause inside each page's transaction and after each commit), is SIGKILLed again and
again (right after a commit, in the middle of a page's transaction, or after a random delay) and
restarted; after every kill the index equals an uninterrupted sync stopped at the same block (a
page boundary, never half a page), and the final index equals an uninterrupted sync's, domain table
by domain table (SQLite and PostgreSQL).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from support.market import domain_rows, make_history

from p2pescrow.market import schema as s
from p2pescrow.market.db import open_database
from p2pescrow.market.sync import PAGE_DELAY_ENV, WRITE_DELAY_ENV, Indexer

pytestmark = pytest.mark.anvil

WORKER = Path(__file__).resolve().parents[1] / "support" / "market_sync_worker.py"
KILLS = 6
SEED = 1306


@pytest.fixture(scope="module")
def history(market_chain):
    return make_history(market_chain)


def last_block(engine, m) -> int:
    with Session(engine) as session:
        value = session.scalar(select(s.SyncState.last_block).where(s.SyncState.chain_id == m.deployment.chain_id))
    return -1 if value is None else int(value)


def start_worker(m, db_url: str) -> subprocess.Popen[bytes]:
    d = m.deployment
    env = {**os.environ, PAGE_DELAY_ENV: "0.03", WRITE_DELAY_ENV: "0.03"}
    args = [db_url, m.url, d.chain_id, d.escrow, d.reputation, d.block, d.platform_fee_bps, 1]
    return subprocess.Popen([sys.executable, "-P", str(WORKER), *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_a_sync_killed_again_and_again_ends_equal_to_an_uninterrupted_one(market_chain, history, db_url,
                                                                           another_db):
    m = market_chain
    head = m.chain.w3.eth.block_number
    engine = open_database(db_url)  # the schema exists before the first worker starts
    reference = open_database(another_db("reference"))
    rng = random.Random(SEED)
    kills: list[tuple[str, int]] = []

    for n in range(KILLS):
        before = last_block(engine, m)
        worker = start_worker(m, db_url)
        how = ("after a commit", "inside a page", "at random")[n % 3]
        deadline = time.monotonic() + 60
        while last_block(engine, m) < before + 2 + rng.randrange(4) and worker.poll() is None:
            assert time.monotonic() < deadline, worker.stderr.read().decode() if worker.stderr else ""
            time.sleep(0.005)
        if how == "inside a page":
            time.sleep(0.03 + 0.01)  # past the commit's pause: inside the next page's transaction
        elif how == "at random":
            time.sleep(rng.uniform(0, 0.06))
        assert worker.poll() is None, (worker.stderr.read().decode() if worker.stderr else "", worker.returncode)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        stopped_at = last_block(engine, m)
        assert before < stopped_at < head
        kills.append((how, stopped_at))
        # A page boundary: exactly what an uninterrupted sync stopped at that block holds.
        Indexer(reference, m.url, m.deployment).sync(to_block=stopped_at)
        assert domain_rows(engine) == domain_rows(reference), (how, stopped_at)

    worker = start_worker(m, db_url)
    out, err = worker.communicate(timeout=120)
    assert worker.returncode == 0, err.decode()
    assert out.decode().split() == ["done", str(head)]

    whole = open_database(another_db("whole"))
    Indexer(whole, m.url, m.deployment).sync()
    assert domain_rows(engine) == domain_rows(whole)
    assert last_block(engine, m) == head and len(kills) == KILLS
    assert len({block for _, block in kills}) == KILLS  # every kill at another point
