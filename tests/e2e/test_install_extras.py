"""A new user's install, done as README's "Install" says, in a fresh venv.

The story: ``pip install .`` (the base install: the SDK and the CLI against a real node), then the
README's SDK example and ``p2pescrow demo``: both need the in-process chain, so both stop with one
line naming ``pip install 'p2pescrow[embedded]'`` (the demo with exit code 2, not "unexpected").
Then README's ``pip install '.[embedded]'`` in the same venv, and both run to the end.

One venv serves both halves (a venv and its install take most of the time here; the second install
only adds eth-tester and py-evm to what is there). Dependencies come from the package index, through
pip's own cache. The commands are taken from README, run in a copy of the clone (the way a user runs
them in theirs), so the test fails when README and the packaging part ways.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1200)]

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
FIX = "pip install 'p2pescrow[embedded]'"


def readme_install_commands() -> dict[str, str]:
    """README's install commands, by extra ("" for the base install)."""
    section = README.read_text().split("## Install\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]
    commands = {}
    for line in block.splitlines():
        command = line.split("#", 1)[0].strip()
        if command.startswith("pip install"):
            extra = re.search(r"\[(\w+)\]", command)
            commands[extra.group(1) if extra else ""] = command
    return commands


def readme_sdk_example() -> str:
    section = README.read_text().split("## Python SDK", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]


class Venv:
    def __init__(self, root: Path, home: Path) -> None:
        self.root = root
        self.bin = root / "bin"
        self.env = {**os.environ, "VIRTUAL_ENV": str(root), "PATH": f"{self.bin}{os.pathsep}{os.environ['PATH']}",
                    "P2PESCROW_HOME": str(home)}
        self.env.pop("PYTHONPATH", None)

    def shell(self, command: str, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", "-c", command], cwd=cwd, env=self.env, capture_output=True, text=True,
                              timeout=timeout)

    def run(self, *args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(args), cwd=cwd, env=self.env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """What a clone holds for an install (the package, pyproject, README), without build leftovers."""
    source = tmp_path / "clone"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    shutil.copytree(REPO / "p2pescrow", source / "p2pescrow", ignore=shutil.ignore_patterns("__pycache__"))
    return source


def test_readme_install_without_then_with_the_embedded_extra(clone: Path, tmp_path: Path, home: Path) -> None:
    commands = readme_install_commands()
    assert set(commands) >= {"", "embedded"}, commands
    done = subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "venv")], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    venv = Venv(tmp_path / "venv", home)
    work = tmp_path / "work"  # not the clone: `import p2pescrow` must find the installed package
    work.mkdir()
    example = work / "readme_example.py"
    example.write_text(readme_sdk_example())

    # The base install: the SDK and the CLI, no in-process chain.
    done = venv.shell(commands[""], clone)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    where = venv.run("python", "-c", "import p2pescrow; print(p2pescrow.__file__)", cwd=work)
    assert where.stdout.strip().startswith(str(venv.root)), where.stdout + where.stderr
    assert venv.run("python", "-c", "import eth_tester", cwd=work).returncode != 0

    sdk = venv.run("python", str(example), cwd=work)
    assert sdk.returncode == 1 and sdk.stdout == ""
    last = sdk.stderr.strip().splitlines()[-1]
    assert last.startswith("p2pescrow.errors.MissingExtra: ") and last.endswith(FIX), sdk.stderr[-2000:]
    assert "ModuleNotFoundError" not in sdk.stderr

    demo = venv.run("p2pescrow", "demo", cwd=work)
    assert demo.returncode == 2, demo.stdout + demo.stderr
    assert demo.stdout == ""
    assert demo.stderr.splitlines() == [
        f"error: the embedded chain needs the 'embedded' extra (missing: eth-tester, py-evm): {FIX}"
    ]

    # README's install with the extra: both now run to the end.
    done = venv.shell(commands["embedded"], clone)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    sdk = venv.run("python", str(example), cwd=work)
    assert sdk.returncode == 0, sdk.stderr[-3000:]
    assert sdk.stdout.splitlines() == ["refused: the caller may not do this to this trade", "COMPLETED", "1"]

    demo = venv.run("p2pescrow", "demo", cwd=work)
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
    assert "reputation" in demo.stdout.lower() and demo.stderr == ""
