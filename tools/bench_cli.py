"""Start-up and read times: imports in a fresh interpreter, and the ``p2pescrow`` command.

Part of ``python -m tools.bench`` (``--only cli``). Every figure is the wall time of a
subprocess, median of :data:`REPEATS` after one untimed run (which writes the bytecode caches, as
an installed package has them: ``PYTHONDONTWRITEBYTECODE`` is removed from the runs' environment):

* ``python -c "import X"`` minus ``python -c pass``: what importing X adds to a script;
* ``p2pescrow --help`` (target: :data:`TARGETS`);
* the reads, against an Anvil holding one trade (deployed into a throwaway ``P2PESCROW_HOME``, the
  trade created with the SDK): ``p2pescrow --network local --rpc-url URL trade show ID``,
  ``trade list`` and ``rep show ADDRESS`` (targets: :data:`TARGETS`);
* Foundry's ``cast call`` doing the same contract reads (``escrowOf``, ``recordOf``), for
  reference, when ``node_modules`` has cast (``@foundry-rs/cast``, installed by ``make setup``):
  through ``node_modules/.bin/cast`` (a Node wrapper) and the native binary it runs;
* ``p2pescrow demo``, once.

A command the installed CLI does not have yet reads ``n/a (command missing)``; one that fails
reads ``failed (exit N)`` with its last line of output. Neither stops the benchmark. A target not
met is reported as such, with its figure.
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

REPEATS = 7
IMPORTS = ("p2pescrow", "p2pescrow.reader", "p2pescrow.clients.sync", "web3")
MISSING = "n/a (command missing)"
#: Medians a command must not exceed, in ms (issue 10: reads at most 0.35 s, --help 0.15 s).
TARGETS = {"help": 150.0, "trade_show": 350.0, "rep_show": 350.0}
#: The reads, as (result key, label, the command's words).
READS = (("trade_show", "p2pescrow trade show ID", ("trade", "show")),
         ("trade_list", "p2pescrow trade list", ("trade", "list")),
         ("rep_show", "p2pescrow rep show ADDRESS", ("rep", "show")))
#: cast's reads, as (result key, which cast, label).
CASTS = (("cast_trade", "npm", "cast call escrowOf(ID)"), ("cast_rep", "npm", "cast call recordOf(ADDRESS)"),
         ("cast_trade_native", "native", "cast call escrowOf(ID), native binary"),
         ("cast_rep_native", "native", "cast call recordOf(ADDRESS), native"))
_ROOT = Path(__file__).resolve().parent.parent


def _env(home: Path) -> dict[str, str]:
    """The caller's environment without p2pescrow settings, with its own config folder, and with
    bytecode caches allowed (as in any installed package)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("P2PESCROW_") and k not in ("ETH_RPC_URL", "PYTHONDONTWRITEBYTECODE")}
    env["P2PESCROW_HOME"] = str(home)
    return env


def _wall(cmd: Sequence[str], env: dict[str, str], timeout: float = 120) -> tuple[float, int, str]:
    start = time.perf_counter()
    done = subprocess.run(list(cmd), env=env, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    return elapsed, done.returncode, (done.stderr.strip() or done.stdout.strip())


def _median(cmd: Sequence[str], env: dict[str, str], repeats: int | None = None,
            target: float | None = None) -> dict[str, Any]:
    """Median wall time in ms of ``repeats`` runs after a warm-up, or the failure; with ``target``
    (ms), whether the median meets it."""
    _, code, output = _wall(cmd, env)
    if code != 0:
        last = output.splitlines()[-1] if output else ""
        return {"ms": None, "status": f"failed (exit {code}): {last[:60]}", "target_ms": target}
    times = [_wall(cmd, env)[0] for _ in range(repeats or REPEATS)]
    ms = round(1000 * statistics.median(times), 1)
    result: dict[str, Any] = {"ms": ms, "status": "ok", "runs_ms": [round(1000 * t, 1) for t in times]}
    if target is not None:
        result.update(target_ms=target, meets_target=ms <= target)
    return result


def measure_imports(env: dict[str, str]) -> dict[str, Any]:
    """``python -c pass`` in ms, and per module what importing it adds (ms)."""
    base = _median([sys.executable, "-c", "pass"], env)
    out: dict[str, Any] = {"python_startup_ms": base["ms"]}
    for module in IMPORTS:
        result = _median([sys.executable, "-c", f"import {module}"], env)
        out[module] = None if result["ms"] is None or base["ms"] is None else round(result["ms"] - base["ms"], 1)
    return out


def find_cli() -> str | None:
    """The ``p2pescrow`` console script beside this interpreter, else on PATH."""
    beside = Path(sys.executable).with_name("p2pescrow")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("p2pescrow")


def find_casts() -> dict[str, str]:
    """Foundry's ``cast`` in node_modules (``@foundry-rs/cast``): ``{"npm": node_modules/.bin/cast
    (a Node wrapper), "native": the binary it runs}``, each only when present."""
    found: dict[str, str] = {}
    wrapper = _ROOT / "node_modules" / ".bin" / "cast"
    if wrapper.is_file() and os.access(wrapper, os.X_OK):
        found["npm"] = str(wrapper)
    for native in sorted((_ROOT / "node_modules" / "@foundry-rs").glob("cast-*/bin/cast")):
        if native.is_file() and os.access(native, os.X_OK):
            found["native"] = str(native)
            break
    return found


def _has(cli: str, words: Sequence[str], env: dict[str, str]) -> bool:
    """True when ``p2pescrow WORDS --help`` succeeds (the command exists)."""
    return _wall([cli, *words, "--help"], env)[1] == 0


def _reads(cli: str, env: dict[str, str], home: Path, present: dict[str, bool]) -> dict[str, Any]:
    """The read commands (and cast's reads) against an Anvil holding one funded trade."""
    from p2pescrow.node.process import start_node
    from tools.bench_speed import AMOUNT_ETH, _sdk_client, deploy_chain

    out: dict[str, Any] = {}
    with start_node("anvil") as node:
        chain = deploy_chain(node.url, node.accounts, home)
        seller = chain.accounts[2].address
        trade = _sdk_client(chain, chain.accounts[1]).create(seller=seller, amount=AMOUNT_ETH)
        where = ["--network", "local", "--rpc-url", node.url]
        operands = {"trade_show": [trade.trade_id], "rep_show": [seller]}
        for key, _, words in READS:
            out[key] = (_median([cli, *where, *words, *operands.get(key, [])], env, target=TARGETS.get(key))
                        if present[key]
                        else {"ms": None, "status": MISSING, "target_ms": TARGETS.get(key)})
        casts = find_casts()
        deployment = chain.registry.get(int(chain.w3.eth.chain_id))
        slot = "escrowOf(bytes32)((uint128,uint40,uint8,uint16,uint16))"
        # the seller's ETH record in the seller role (role 1), as `rep show` reads it
        record = ("recordOf(address,address,uint8)((uint112,uint24,uint24,uint24,uint24,uint24,uint24),"
                  "(uint112,uint120,uint24))")
        for key, which, _ in CASTS:
            cast = casts.get(which)
            if cast is None or deployment is None:
                out[key] = {"ms": None, "status": "n/a (no cast in node_modules: make setup)"}
                continue
            read = ([deployment.escrow, slot, trade.trade_id] if key.startswith("cast_trade")
                    else [deployment.reputation, record, seller, "0x" + "00" * 20, "1"])
            out[key] = _median([cast, "call", *read, "--rpc-url", node.url], env)
    return out


def measure_cli(env: dict[str, str], home: Path) -> dict[str, Any]:
    cli = find_cli()
    keys = ("help", *(k for k, _, _ in READS), *(k for k, _, _ in CASTS), "demo")
    if cli is None:
        return {name: {"ms": None, "status": "n/a (p2pescrow not installed)"} for name in keys}
    out: dict[str, Any] = {"help": _median([cli, "--help"], env, target=TARGETS["help"])}
    present = {key: _has(cli, words, env) for key, _, words in READS}
    if any(present.values()):
        out.update(_reads(cli, env, home, present))
    else:
        out.update({key: {"ms": None, "status": MISSING, "target_ms": TARGETS.get(key)} for key, _, _ in READS})
        out.update({key: {"ms": None, "status": "n/a (no read command to compare)"} for key, _, _ in CASTS})
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
        # The trade the reads show is deployed and created in this process, whose SDK journals under
        # P2PESCROW_HOME: keep it out of the user's real journal, as the subprocesses are.
        previous = os.environ.get("P2PESCROW_HOME")
        os.environ["P2PESCROW_HOME"] = tmp
        try:
            return {"repeats": REPEATS, "imports": measure_imports(env), "cli": measure_cli(env, home)}
        finally:
            if previous is None:
                os.environ.pop("P2PESCROW_HOME", None)
            else:
                os.environ["P2PESCROW_HOME"] = previous


def _verdict(result: dict[str, Any]) -> str:
    target = result.get("target_ms")
    if target is None:
        return ""
    if result.get("ms") is None:
        return f"  target <= {target:.0f} ms: not measured"
    return f"  target <= {target:.0f} ms: " + ("met" if result.get("meets_target") else "NOT MET")


def format_report(doc: dict[str, Any]) -> str:
    imports, cli = doc["imports"], doc["cli"]
    head = f"{'start-up and reads (fresh process)':44} {'wall time':>12}"
    startup = imports["python_startup_ms"]
    lines = [f"Start-up and reads: subprocess wall time, median of {doc['repeats']} after a warm-up run",
             head, "-" * len(head),
             f"{'python -c pass':44} {'-' if startup is None else f'{startup:.0f} ms':>12}"]
    for module in IMPORTS:
        ms = imports[module]
        label = f"import {module}" + ("  (reference)" if module == "web3" else "")
        lines.append(f"{label:44} {'-' if ms is None else f'{ms:+.0f} ms':>12}")
    rows = (("help", "p2pescrow --help"), *((k, f"{label} (Anvil)") for k, label, _ in READS),
            *((k, label) for k, _, label in CASTS), ("demo", "p2pescrow demo (once)"))
    for key, label in rows:
        r = cli[key]
        if r["ms"] is None:
            value = r["status"]
        elif key == "demo":
            value = f"{r['ms'] / 1000:>10.2f} s"
        else:
            value = f"{r['ms']:>9.0f} ms"
        lines.append(f"{label:44} {value:>12}{_verdict(r)}")
    lines.append("import rows: what the import adds to `python -c pass`; cast rows: the same contract read, "
                 "for reference.")
    return "\n".join(lines)
