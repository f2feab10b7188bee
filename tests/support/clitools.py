"""Running the ``p2pescrow`` command in tests: in-process (CliRunner), as a subprocess (the
installed console script, as a user runs it), and in a pseudo-terminal (to type at hidden prompts).
"""

from __future__ import annotations

import json
import os
import pty
import select
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from p2pescrow.cli import app

from . import secrets

#: The console script next to the test interpreter (.venv/bin/p2pescrow), else ``python -m``.
_SCRIPT = Path(sys.executable).with_name("p2pescrow")
COMMAND = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "p2pescrow"]

TEST_PASSWORD = "correct horse battery staple 42"
#: dev1's key: public, but it must never be printed back all the same.
DEV1_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
DEV1 = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def invoke(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
    """Run the CLI in-process; stdout and stderr are kept apart."""
    result = CliRunner().invoke(app, list(args), input=input, env=env, catch_exceptions=False)
    secrets.observe(result.stdout, result.stderr)  # scanned for the suite's secrets (tests/conftest.py)
    return result


def as_json(result: Result | CompletedRun) -> dict[str, Any]:
    document = json.loads(result.stdout)
    assert isinstance(document, dict)
    return document


def one_error_line(stderr: str) -> str:
    """The single ``error: ...`` line a failing command prints (and nothing like a traceback)."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class CompletedRun:
    args: Sequence[str]
    exit_code: int
    stdout: str
    stderr: str
    seconds: float


def run(*args: str, home: Path, input: str | None = None, env: dict[str, str] | None = None,
        timeout: float = 180) -> CompletedRun:
    """Run the installed ``p2pescrow`` as a subprocess with ``home`` as its config folder."""
    full_env = {k: v for k, v in os.environ.items()
                if not k.startswith("P2PESCROW_") or k == "P2PESCROW_NODE_MODULES"}
    full_env.pop("ETH_RPC_URL", None)
    full_env.update(P2PESCROW_HOME=str(home), **(env or {}))
    started = time.monotonic()
    done = subprocess.run([*COMMAND, *args], input=input, capture_output=True, text=True, env=full_env,
                          timeout=timeout, stdin=None if input is not None else subprocess.DEVNULL)
    secrets.observe(done.stdout, done.stderr)
    return CompletedRun(args, done.returncode, done.stdout, done.stderr, time.monotonic() - started)


def run_in_terminal(*args: str, home: Path, answers: Sequence[tuple[str, str]],
                    timeout: float = 120) -> tuple[int, str]:
    """Run ``p2pescrow`` on a pseudo-terminal, answering each prompt (matched by its text) as a
    user types; returns the exit code and everything the terminal showed."""
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("P2PESCROW_") or k == "P2PESCROW_NODE_MODULES"}
    env.update(P2PESCROW_HOME=str(home), TERM="dumb")
    env.pop("ETH_RPC_URL", None)
    process = subprocess.Popen([*COMMAND, *args], stdin=slave, stdout=slave, stderr=slave, env=env,
                               start_new_session=True)  # no controlling terminal: getpass uses the pty
    os.close(slave)
    seen = b""
    position = 0  # where the next prompt is looked for: each is answered once
    deadline = time.monotonic() + timeout
    try:
        for prompt, answer in answers:
            while (found := seen.find(prompt.encode(), position)) < 0:
                chunk = _read(master, deadline)
                if chunk is None:
                    raise AssertionError(f"no prompt {prompt!r}; the terminal showed:\n{seen.decode()}")
                seen += chunk
            position = found + len(prompt)
            time.sleep(0.05)  # let the prompt switch echo off before typing
            os.write(master, answer.encode() + b"\n")
        while (chunk := _read(master, deadline)) is not None:
            seen += chunk
        secrets.observe(seen.decode(errors="replace"))
        return process.wait(timeout=max(1.0, deadline - time.monotonic())), seen.decode(errors="replace")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)


def _read(fd: int, deadline: float) -> bytes | None:
    """Some output, or None at the end of it (or at the deadline)."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return None
    ready, _, _ = select.select([fd], [], [], remaining)
    if not ready:
        return None
    try:
        data = os.read(fd, 4096)
    except OSError:  # EIO: the other side closed
        return None
    return data or None


def stop_managed_nodes(home: Path) -> None:
    """Stop every node that ``p2pescrow node start`` ran for the config folder ``home`` (test cleanup,
    whatever the test left running)."""
    from p2pescrow.node import process as _nodes

    for record in (home / "node").glob("*.json"):
        try:
            pid = int(json.loads(record.read_text())["pid"])
        except (OSError, ValueError, KeyError):
            continue
        _nodes.stop_process(pid, timeout=10)


def ok(result: CompletedRun) -> dict[str, Any]:
    """Assert a subprocess run succeeded; its JSON document if it printed one, else ``{}``."""
    assert result.exit_code == 0, f"p2pescrow {' '.join(result.args)}: {result.stderr}"
    return as_json(result) if result.stdout.lstrip().startswith("{") else {}


def needs_binary(engine: str) -> None:
    """Skip the test, saying why, when ``engine`` (anvil or ganache) is not installed."""
    from p2pescrow.node import process as _nodes

    try:
        _nodes.find_binary(engine)  # type: ignore[arg-type]
    except _nodes.NodeBinaryNotFound as exc:
        pytest.skip(str(exc))
