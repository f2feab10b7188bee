"""``p2pescrow demo`` runs the whole story through the SDK in seconds; ``--help`` and argument
errors of the trade, offer and rep commands answer without importing web3."""

from __future__ import annotations

import subprocess
import sys
import time

from typer.testing import CliRunner

from p2pescrow.cli import app


def test_demo_narrates_every_path_and_ends_with_the_reputation_table() -> None:
    started = time.monotonic()
    result = CliRunner().invoke(app, ["demo"])
    seconds = time.monotonic() - started

    assert result.exit_code == 0, result.output
    out = result.stdout
    for words in ("1. A happy trade", "Alice creates and funds the escrow", "Alice receives it and releases",
                  "2. A dispute", "Carol rules 60/40", "Alice +0.588 ETH; Bob +0.39102 ETH; Carol +0.02 ETH",
                  "3. A settlement", "Alice accepts", "4. Deposits", "Bob puts 0.1 ETH in his seller bond",
                  "Alice -0.6 ETH", "is AWAITING_DEPOSIT, holding 0.5 ETH", "his 0.1 ETH deposit is locked",
                  "Alice's to-do list (trade list --due): release or dispute within 3 days",
                  "(0.6 ETH at stake)", "Alice vanishes", "Carol (anyone) applies the timeout: Bob is paid",
                  "Bob +0.69875 ETH", "Alice's 0.1 ETH deposit (forfeited to the seller)", "5. A signed offer",
                  "no gas spent", "Erin fills it", "anyone sweeps the platform fees", "Reputation after five trades",
                  "Platform fees collected", "The escrow now holds 0 ETH.", "README's Gas table adds up whole paths",
                  "Done in"):
        assert words in out, words
    for state in ("COMPLETED", "RESOLVED", "SETTLED"):
        assert f"is {state}, holding 0 ETH (and its " in out
    table = out[out.index("Reputation after"):]
    bob = next(line for line in table.splitlines() if line.strip().startswith("Bob"))
    # the camera, the settlement and the lamp with deposits: Bob acted on each; the disputed lamp he never did
    assert bob.split()[1:4] == ["3", "3.5", "ETH"] and bob.split()[-1] == "4.14/5"
    assert seconds < 60


PROBE = """
import sys
from typer.testing import CliRunner
from p2pescrow.cli import app
runner = CliRunner()
codes = []
for args in (["--help"], ["trade", "--help"], ["trade", "create", "--help"], ["trade", "show", "--help"],
             ["offer", "--help"], ["offer", "fill", "--help"], ["rep", "--help"], ["rep", "rate", "--help"],
             ["trade", "create"], ["trade", "show"], ["trade", "release", "0x12", "--bogus"],
             ["rep", "rate", "0x12", "--score", "five"], ["offer", "show"]):
    codes.append(runner.invoke(app, args).exit_code)
print(codes, "web3" in sys.modules, "eth_account" in sys.modules)
"""


def test_help_and_argument_errors_do_not_import_web3() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stderr
    assert done.stdout.split("]")[0] + "]" == str([0] * 8 + [2] * 5)
    assert done.stdout.strip().endswith("False False")
