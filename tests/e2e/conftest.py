"""Fixtures of the end-to-end suite: the CLI and scripts/*.py run as a user runs them, as
subprocesses, against real nodes. Every test here is marked ``e2e`` (tests/conftest.py), and runs
with none of the developer's p2pescrow settings (``isolated_env``, as in tests/cli); ``workspace``
is the scripts' isolated config folder, .env file and runner (``support/workspace.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.clitools import stop_managed_nodes
from support.isolation import isolate
from support.workspace import workspace  # noqa: F401 - fixture


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    """The config folder of the user under test (a test module may override it); every node
    `p2pescrow node start` ran for it is stopped at the end, whatever the test left running."""
    folder = tmp_path / "p2pescrow-home"
    yield folder
    stop_managed_nodes(folder)


@pytest.fixture(autouse=True)
def isolated_env(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(home, monkeypatch)
