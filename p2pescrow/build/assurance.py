"""``make assurance``: figures about the project's checks that anyone can re-derive.

Every figure is produced here by a command or by loading the code it describes, never typed in:

* tests collected per suite: ``pytest --collect-only -q`` on ``tests/`` (``.venv``) and on
  ``tests_brownie/`` (``.venv-brownie``, brownie's pytest plugin; it starts Anvil to collect);
* Slither: the summary of :mod:`p2pescrow.build.slither` (the cached result if the contracts are
  unchanged);
* fuzz sizes: the hypothesis profiles that ``tests/contracts/test_stateful.py`` registers
  (``p2pescrow-stateful-*``), read from hypothesis after importing that module.

Each line says the command behind it, so it can be re-run by hand.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from .paths import source_checkout_root

_COLLECTED = re.compile(r"^(\d+)(?:/(\d+))? tests? collected", re.MULTILINE)
_NO_TESTS = re.compile(r"^no tests collected", re.MULTILINE)
STATEFUL = Path("tests/contracts/test_stateful.py")
PROFILE_PREFIX = "p2pescrow-stateful-"


def collected(python: str, args: Sequence[str], root: Path) -> tuple[str, str]:
    """(figure, command) for ``python -m pytest --collect-only -q *args``."""
    cmd = [python, "-m", "pytest", "--collect-only", "-q", *args]
    shown = " ".join(cmd)
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, check=False)
    match = _COLLECTED.search(proc.stdout)
    if match is None:
        if _NO_TESTS.search(proc.stdout):
            return "0 tests collected", shown
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or ["no output"]
        return f"FAILED to collect (exit {proc.returncode}): {tail[0]}", shown
    figure = f"{match.group(1)} tests collected"
    if proc.returncode != 0:
        figure += f" (pytest exit {proc.returncode}: collection errors)"
    return figure, shown


def fuzz_profiles(root: Path) -> list[str]:
    """One line per ``p2pescrow-stateful-*`` hypothesis profile the stateful test registers."""
    from hypothesis import settings

    sys.path.insert(0, str(root / "tests"))
    spec = importlib.util.spec_from_file_location("_assurance_stateful", root / STATEFUL)
    if spec is None or spec.loader is None:
        return [f"cannot load {STATEFUL}"]
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    profiles = getattr(settings, "_profiles", {})  # hypothesis keeps registered profiles here
    lines = []
    for name in sorted(n for n in profiles if n.startswith(PROFILE_PREFIX)):
        chosen = settings.get_profile(name)
        examples, steps = chosen.max_examples, chosen.stateful_step_count
        lines.append(
            f"{name}: {examples} examples x {steps} steps = up to {examples * steps} rule calls"
        )
    return lines or [f"no {PROFILE_PREFIX}* profile registered by {STATEFUL}"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m p2pescrow.build.assurance", description=__doc__)
    parser.add_argument("--brownie-python", help="the .venv-brownie interpreter (skipped if absent)")
    args = parser.parse_args(argv)
    root = source_checkout_root()
    if root is None:
        raise SystemExit("make assurance needs a source checkout")
    failed = False

    print("Tests collected (pytest --collect-only -q):")
    figure, cmd = collected(sys.executable, ["-p", "no:pytest-brownie", "tests/"], root)
    failed |= figure.startswith("FAILED")
    print(f"  main suite     {figure}\n                 [{cmd}]")
    if args.brownie_python and Path(args.brownie_python).is_file():
        figure, cmd = collected(args.brownie_python, ["tests_brownie/"], root)
        failed |= figure.startswith("FAILED")
        print(f"  brownie suite  {figure}\n                 [{cmd}]")
    else:
        print("  brownie suite  skipped: no .venv-brownie (run `make brownie`)")

    print("Slither (python -m p2pescrow.build.slither):")
    proc = subprocess.run(
        [sys.executable, "-m", "p2pescrow.build.slither"],
        cwd=root, capture_output=True, text=True, check=False,
    )
    lines = proc.stdout.strip().splitlines()
    print(f"  {lines[-1] if lines else 'no output: ' + proc.stderr.strip()[-500:]}")
    failed |= proc.returncode != 0

    print(f"Stateful fuzz profiles (hypothesis profiles registered by {STATEFUL}; "
          "P2PESCROW_FUZZ picks one, default ci):")
    for line in fuzz_profiles(root):
        print(f"  {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
