"""The scripts' workspace (fixture ``workspace``, in tests/e2e/conftest.py): scripts/*.py run as a
user runs them (``python scripts/X.py``, a subprocess) against a real node started with a non-dev
chain id (Sepolia's), with an encrypted keystore account, in an isolated ``P2PESCROW_HOME`` and with
their own .env file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from . import secrets

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "scripts"
SEPOLIA = 11155111
PASSWORD = "correct horse battery staple"
#: Variables of the developer's shell (or .env) that would change what a script does.
_SCRUB = ("P2PESCROW_ACCOUNT", "P2PESCROW_PASSWORD", "P2PESCROW_PASSWORD_FILE", "P2PESCROW_NETWORK",
          "ETH_RPC_URL", "P2PESCROW_PLATFORM_FEE_BPS", "P2PESCROW_FEE_RECIPIENT", "P2PESCROW_OWNER",
          "P2PESCROW_TEST_CRASH_AFTER")


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


@dataclass
class Workspace:
    """An isolated P2PESCROW_HOME, an env file, and a way to run the scripts there."""

    home: Path
    env_file: Path
    password_file: Path

    def environ(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
        env["P2PESCROW_HOME"] = str(self.home)
        env.update(extra)
        return env

    def run(self, script: str, *args: str, env: dict[str, str] | None = None, timeout: float = 180) -> Result:
        proc = subprocess.run([sys.executable, str(SCRIPTS / script), *args, "--env-file", str(self.env_file)],
                              capture_output=True, text=True, timeout=timeout, env=env or self.environ(),
                              cwd=self.home, stdin=subprocess.DEVNULL)
        secrets.observe(proc.stdout, proc.stderr)  # scanned by tests/conftest.py
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def popen(self, script: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, str(SCRIPTS / script), *args, "--env-file", str(self.env_file)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=env or self.environ(), cwd=self.home, stdin=subprocess.DEVNULL)

    def write_env(self, **values: Any) -> None:
        self.env_file.write_text("# written by the test\n" + "".join(f"{k}={v}\n" for k, v in values.items()))


def make_keystore(name: str) -> str:
    """A keystore account in P2PESCROW_HOME, as `p2pescrow accounts new` makes it (scrypt 2^18: a
    cheaper keystore is refused, see accounts.check_kdf, so each script run spends ~1 s on it)."""
    from eth_account import Account

    from p2pescrow import accounts

    account = Account.create()
    secrets.register(account.key, label=f"{name} key")
    accounts._write(name, dict(Account.encrypt(account.key, PASSWORD)))
    assert accounts.load(name, PASSWORD).address == account.address
    return str(account.address)


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("P2PESCROW_HOME", str(home))
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD + "\n")
    password_file.chmod(0o600)
    password_file.chmod(0o600)
    ws = Workspace(home, tmp_path / "test.env", password_file)
    ws.write_env()
    yield ws
