"""Start-up times: imports in a fresh interpreter, and the ``p2pescrow`` command.

Part of ``python -m tools.bench`` (``--only cli``). Every figure is the wall time of a
subprocess, median of :data:`REPEATS` after one untimed run (which warms the bytecode cache):

* ``python -c "import X"`` minus ``python -c pass``: what importing X adds to a script;
* ``p2pescrow --help``;
* ``p2pescrow --network local --rpc-url URL trade show ID`` against an Anvil holding one trade
  (deployed into a throwaway ``P2PESCROW_HOME``, the trade created with the SDK);
* ``p2pescrow demo``, once.

A command the installed CLI does not have yet reads ``n/a (command missing)``; one that fails
reads ``failed (exit N)`` with its last line of output. Neither stops the benchmark.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPEATS = 5
IMPORTS = ("p2pescrow", "p2pescrow.clients.sync", "web3")
MISSING = "n/a (command missing)"


def _env(home: Path) -> dict[str, str]:
    """The caller's environment without p2pescrow settings, with its own config folder."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("P2PESCROW_") and k != "ETH_RPC_URL"}
    env["P2PESCROW_HOME"] = str(home)
    return env


def _wall(cmd: Sequence[str], env: dict[str, str], timeout: float = 120) -> tuple[float, int, str]:
    start = time.perf_counter()
    done = subprocess.run(list(cmd), env=env, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    return elapsed, done.returncode, (done.stderr.strip() or done.stdout.strip())


def _median(cmd: Sequence[str], env: dict[str, str], repeats: int = REPEATS) -> dict[str, Any]:
    """Median wall time in ms of ``repeats`` runs after a warm-up, or the failure."""
    _, code, output = _wall(cmd, env)
    if code != 0:
        last = output.splitlines()[-1] if output else ""
        return {"ms": None, "status": f"failed (exit {code}): {last[:60]}"}
    times = [_wall(cmd, env)[0] for _ in range(repeats)]
    return {"ms": round(1000 * statistics.median(times), 1), "status": "ok",
            "runs_ms": [round(1000 * t, 1) for t in times]}


def measure_imports(env: dict[str, str]) -> dict[str, Any]:
    """``python -c pass`` in ms, and per module what importing it adds (ms)."""
    base = _median([sys.executable, "-c", "pass"], env)
    out: dict[str, Any] = {"python_startup_ms": base["ms"]}
    for module in IMPORTS:
        result = _median([sys.executable, "-c", f"import {module}"], env)
        out[module] = None if result["ms"] is None else round(result["ms"] - base["ms"], 1)
    return out


def find_cli() -> str | None:
    """The ``p2pescrow`` console script beside this interpreter, else on PATH."""
    beside = Path(sys.executable).with_name("p2pescrow")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("p2pescrow")


def _has(cli: str, words: Sequence[str], env: dict[str, str]) -> bool:
    """True when ``p2pescrow WORDS --help`` succeeds (the command exists)."""
    return _wall([cli, *words, "--help"], env)[1] == 0


def _trade_show(cli: str, env: dict[str, str], home: Path) -> dict[str, Any]:
    from p2pescrow.node.process import start_node
    from tools.bench_speed import AMOUNT_ETH, _sdk_client, deploy_chain

    with start_node("anvil") as node:
        chain = deploy_chain(node.url, node.accounts, home)
        trade = _sdk_client(chain, chain.accounts[1]).create(seller=chain.accounts[2].address,
                                                            amount=AMOUNT_ETH)
        return _median([cli, "--network", "local", "--rpc-url", node.url, "trade", "show",
                        trade.trade_id], env)


def measure_cli(env: dict[str, str], home: Path) -> dict[str, Any]:
    cli = find_cli()
    if cli is None:
        return {name: {"ms": None, "status": "n/a (p2pescrow not installed)"}
                for name in ("help", "trade_show", "demo")}
    out: dict[str, Any] = {"help": _median([cli, "--help"], env)}
    out["trade_show"] = (_trade_show(cli, env, home) if _has(cli, ["trade", "show"], env)
                         else {"ms": None, "status": MISSING})
    if _has(cli, ["demo"], env):
        seconds, code, output = _wall([cli, "demo"], env, timeout=600)
        last = output.splitlines()[-1] if output else ""
        out["demo"] = ({"ms": round(1000 * seconds, 1), "status": "ok"} if code == 0
                       else {"ms": None, "status": f"failed (exit {code}): {last[:60]}"})
    else:
        out["demo"] = {"ms": None, "status": MISSING}
    return out


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="p2pescrow-bench-home-") as tmp:
        home = Path(tmp)
        env = _env(home)
        return {"repeats": REPEATS, "imports": measure_imports(env), "cli": measure_cli(env, home)}


def format_report(doc: dict[str, Any]) -> str:
    imports, cli = doc["imports"], doc["cli"]
    head = f"{'start-up (fresh process)':44} {'wall time':>12}"
    lines = [f"Start-up: subprocess wall time, median of {doc['repeats']} after a warm-up run",
             head, "-" * len(head),
             f"{'python -c pass':44} {imports['python_startup_ms']:>9.0f} ms"]
    for module in IMPORTS:
        ms = imports[module]
        label = f"import {module}" + ("  (reference)" if module == "web3" else "")
        lines.append(f"{label:44} {'-' if ms is None else f'{ms:+.0f} ms':>12}")
    rows = (("help", "p2pescrow --help"), ("trade_show", "p2pescrow trade show ID (Anvil)"),
            ("demo", "p2pescrow demo (once)"))
    for key, label in rows:
        r = cli[key]
        if r["ms"] is None:
            value = r["status"]
        elif key == "demo":
            value = f"{r['ms'] / 1000:>10.2f} s"
        else:
            value = f"{r['ms']:>9.0f} ms"
        lines.append(f"{label:44} {value:>12}")
    lines.append("import rows: what the import adds to `python -c pass`.")
    return "\n".join(lines)
