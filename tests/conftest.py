"""Fixtures shared by the whole suite, and the secrets check.

The secrets check (a plugin, here so that it covers every folder): after each phase of each test,
what pytest captured (stdout, stderr, log records), the failure report and every CLI/subprocess
output the test's helpers saw are scanned for the registered secrets (``support/secrets.py``: the
dev keys of the test mnemonic, the test passwords, every key the SDK harness makes, and whatever a
test registers through the ``secrets`` fixture). A leak fails that test, and the secret is redacted
from what the report shows; the run's summary lists the leaks.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import secrets as _secrets
from support.chain import Chain
from support.escrow import Deployment, deploy_all
from support.secrets_plugin import pytest_configure  # noqa: F401 - the secrets scan


@pytest.fixture(scope="session", autouse=True)
def _no_real_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Nothing in the suite may write to the real ~/.config/p2pescrow (journal, registry,
    keystores): unless a test points P2PESCROW_HOME elsewhere, it is a throwaway folder. Set in
    os.environ so that subprocesses (the CLI, scripts) inherit it."""
    previous = os.environ.get("P2PESCROW_HOME")
    os.environ["P2PESCROW_HOME"] = str(tmp_path_factory.mktemp("p2pescrow-home"))
    yield
    if previous is None:
        os.environ.pop("P2PESCROW_HOME", None)
    else:
        os.environ["P2PESCROW_HOME"] = previous


@pytest.fixture
def secrets() -> Any:
    """The suite's secret registry: ``secrets.register(value, label=...)`` adds a key or password
    that must never appear in any output."""
    return _secrets


@pytest.fixture(scope="session")
def chain() -> Chain:
    """One embedded py-evm chain for the session."""
    return Chain()


@pytest.fixture(scope="session")
def _deployed(chain: Chain) -> Deployment:
    return deploy_all(chain)


@pytest.fixture
def d(_deployed: Deployment, chain: Chain) -> Iterator[Deployment]:
    """The deployed contracts, accounts and tokens, inside a snapshot reverted after the test."""
    snapshot = chain.snapshot()
    yield _deployed
    chain.revert(snapshot)


def pytest_sessionstart(session: pytest.Session) -> None:
    """``make coverage``: with P2PESCROW_COVERAGE=<file>, record which contract code py-evm runs."""
    if os.environ.get("P2PESCROW_COVERAGE"):
        from tools.coverage import Recorder

        recorder = Recorder()
        recorder.install()
        session.config.stash[_RECORDER] = recorder


def pytest_sessionfinish(session: pytest.Session) -> None:
    recorder = session.config.stash.get(_RECORDER, None)
    if recorder is not None:
        recorder.uninstall()
        recorder.dump(Path(os.environ["P2PESCROW_COVERAGE"]))


_RECORDER = pytest.StashKey["Any"]()
