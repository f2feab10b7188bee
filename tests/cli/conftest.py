"""Every CLI test runs with its own config folder and none of the user's p2pescrow settings.

``home`` is the folder (override it, e.g. module-scoped, to share one between tests);
``isolated_env`` (automatic) points ``$P2PESCROW_HOME`` at it and unsets the rest.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """The test's config folder (not created: commands create what they need)."""
    return tmp_path / "p2pescrow-home"


@pytest.fixture(autouse=True)
def isolated_env(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``$P2PESCROW_HOME`` = ``home``; the developer's own settings unset (the node_modules
    location excepted: it only says where the node binaries are)."""
    for name in list(os.environ):
        if name.startswith("P2PESCROW_") and name != "P2PESCROW_NODE_MODULES":
            monkeypatch.delenv(name)
    for name in ("ETH_RPC_URL", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("P2PESCROW_HOME", str(home))
