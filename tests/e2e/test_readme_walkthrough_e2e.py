"""README's trader walkthrough, run word for word (issue 11's done-when), on Anvil and on Ganache.

The ``sh`` block is taken from README itself (the first ```` ```sh ```` fence under ``## The command
line``) and run by bash with ``set -euo pipefail``, so any line that fails fails the test. It runs as a
newcomer runs it: the installed ``p2pescrow`` first on PATH, a fresh ``$HOME`` (so the config folder is
``~/.config/p2pescrow`` there, nothing of the developer's) and an empty working folder. The only
changes, both documented in README under the block:

- ``p2pescrow node start`` gets ``--port <a free port>`` (and ``--engine ganache`` on Ganache), so
  runs side by side never meet on 8545;
- on Ganache, ``P2PESCROW_NETWORK=ganache`` is set in the environment (the text is not touched).

Then the outcome is read from the chain, not taken from exit codes: the block ends with
``node stop``, so the node is started again (its state is kept, as README says) and the trades, the
balances and the seller's reputation are read through the CLI's ``--json``. The node is stopped
whatever happens.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from support import secrets
from support.clitools import COMMAND, free_port, needs_binary, ok, run, stop_managed_nodes

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

README = Path(__file__).resolve().parents[2] / "README.md"
DEV1 = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
SELLER = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"  # dev2
ARBITER = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"  # dev3
NETWORK = {"anvil": "local", "ganache": "ganache"}
NODE_START = re.compile(r"^p2pescrow node start(?=[ \t]|$)", re.M)


def walkthrough() -> str:
    """The first ``sh`` block of README's "The command line" section, as written."""
    section = README.read_text().split("\n## The command line\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"^```sh\n(.*?)^```$", section, re.S | re.M)
    assert match, "README's '## The command line' section has no ```sh block"
    return match.group(1)


def as_run_here(block: str, engine: str, port: int) -> str:
    """The block with the documented substitution: ``node start`` on a free port (and on Ganache)."""
    flags = f" --port {port}" + (" --engine ganache" if engine == "ganache" else "")
    script, count = NODE_START.subn(lambda m: m.group(0) + flags, block)
    assert count == 1, f"expected one `p2pescrow node start` line in README's walkthrough, found {count}"
    return script


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    """The newcomer's config folder: ``~/.config/p2pescrow`` in a fresh ``$HOME`` (``tmp_path/home``).
    Every node started for it is stopped at the end, whatever happens."""
    folder = tmp_path / "home" / ".config" / "p2pescrow"
    yield folder
    stop_managed_nodes(folder)


def newcomer_env(home: Path, engine: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("P2PESCROW_") or k == "P2PESCROW_NODE_MODULES"}
    for name in ("ETH_RPC_URL", "XDG_CONFIG_HOME", "PYTHONPATH"):
        env.pop(name, None)
    installed = Path(COMMAND[0]).parent if len(COMMAND) == 1 else Path(sys.executable).parent
    env.update(HOME=str(home), PATH=f"{installed}{os.pathsep}{env.get('PATH', '')}")
    if engine == "ganache":
        env["P2PESCROW_NETWORK"] = "ganache"
    return env



@pytest.mark.parametrize("engine", [pytest.param("anvil", marks=pytest.mark.anvil),
                                    pytest.param("ganache", marks=pytest.mark.ganache)])
def test_readme_walkthrough_runs_word_for_word_and_the_trades_are_on_chain(
        home: Path, tmp_path: Path, engine: str) -> None:
    needs_binary(engine)
    user_home = tmp_path / "home"
    user_home.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    port = free_port()
    script = "set -euo pipefail\n" + as_run_here(walkthrough(), engine, port)

    started = time.monotonic()
    done = subprocess.run(["bash", "-c", script], cwd=work, env=newcomer_env(user_home, engine), capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=600)
    seconds = time.monotonic() - started
    secrets.observe(done.stdout, done.stderr)
    assert done.returncode == 0, f"README's walkthrough failed on {engine} (exit {done.returncode}):\n" \
                                 f"--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    print(f"README walkthrough on {engine}: {seconds:.1f} s")

    # What the comments promise is what the user saw.
    out = done.stdout
    assert "Created trade 0x" in out and "paid 1.5 ETH into escrow (with your 0.1 ETH deposit: 1.6 ETH)." in out
    assert "Accepted trade 0x" in out and "your 0.1 ETH deposit is locked." in out
    assert "trade release or trade dispute" in out and "1.6 ETH" in out  # the buyer's to-do: price and deposit
    assert "Released 1.5 ETH to the seller." in out
    assert re.search(r"^\s+ETH\s+seller\s+1\.5 ETH\s+1\s+1\s", out, re.M)  # rep show: volume, trades, completed
    assert "paid 250 DUSD into escrow." in out and "Released 250 DUSD to the seller." in out
    assert "Released: toSeller 249.375 DUSD, platformFee 0.625 DUSD" in out
    assert re.search(r"^DUSD:\s+9750 ", out, re.M)
    assert "stopped " in out

    # The password file is its owner's only, the keystore is in the fresh home, nowhere else.
    assert (work / "alice.pw").stat().st_mode & 0o777 == 0o600
    assert (home / "keystores" / "alice.json").is_file()

    # The chain, read again: the block stopped the node; its state is kept, so start it again.
    net = ["--network", NETWORK[engine]]
    ok(run("--json", "node", "start", "--engine", engine, "--port", str(port), home=home))
    alice = ok(run(*net, "--json", "accounts", "show", "alice", home=home))
    trades = ok(run(*net, "--json", "trade", "list", "--party", SELLER, home=home))["trades"]
    assert len(trades) == 2, trades
    eth, dusd = sorted(trades, key=lambda t: t["token"]["symbol"] != "ETH")
    assert eth["state"] == "COMPLETED" and (eth["buyer"], eth["seller"], eth["arbiter"]) == (DEV1, SELLER, ARBITER)
    assert eth["amount"]["base_units"] == str(15 * 10**17) and eth["fees"]["arbiter_bps"] == 100
    assert eth["held"]["base_units"] == "0"
    deposits = eth["deposits"]
    assert deposits["buyer"]["base_units"] == deposits["seller"]["base_units"] == str(10**17)
    assert deposits["buyer"]["in"] is deposits["seller"]["in"] is False  # paid back when the trade ended
    bond = ok(run(*net, "--json", "bond", "show", SELLER, home=home))["bond"]
    assert bond["free"]["base_units"] == "0" and bond["locked"]["base_units"] == "0"  # the deposit went to the wallet
    assert dusd["state"] == "COMPLETED" and (dusd["buyer"], dusd["seller"]) == (alice["address"], SELLER)
    assert dusd["amount"] == {"value": "250", "base_units": str(250 * 10**6), "symbol": "DUSD"}
    assert dusd["held"]["base_units"] == "0"

    def dusd_of(who: str) -> Decimal:
        shown = ok(run(*net, "--json", "accounts", "show", who, home=home))
        return Decimal({t["symbol"]: t["balance"] for t in shown["tokens"]}["DUSD"])

    assert dusd_of("alice") == 9750  # 10,000 from node fund, 250 paid
    assert dusd_of("dev2") == 1_000_000 + Decimal("249.375")  # a dev account's 1,000,000, plus 250 less 0.25%
    reputation = ok(run(*net, "--json", "rep", "show", SELLER, home=home))["reputation"]
    as_seller = {r["symbol"]: r for r in reputation["records"] if r["role"] == "seller"}
    assert as_seller["ETH"]["completed"] == 1 and as_seller["ETH"]["volume"] == "1.5"
    assert as_seller["DUSD"]["completed"] == 1 and as_seller["DUSD"]["volume"] == "250"
    ok(run("--json", "node", "stop", home=home))
