"""The environment of a user with no p2pescrow settings, for CLI runs (in process and as
subprocesses): used by the autouse fixtures of tests/cli and tests/e2e."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def isolate(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``$P2PESCROW_HOME`` = ``home``; the developer's own settings unset (the node_modules
    location excepted: it only says where the node binaries are)."""
    for name in list(os.environ):
        if name.startswith("P2PESCROW_") and name != "P2PESCROW_NODE_MODULES":
            monkeypatch.delenv(name)
    for name in ("ETH_RPC_URL", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("P2PESCROW_HOME", str(home))
