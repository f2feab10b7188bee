"""What the whole suite shares: the layer markers, a throwaway config folder, the secrets scan, the
checks over the whole run, the contract coverage recording, and a real PostgreSQL for the tests that
take ``postgres_url`` or ``db_url`` (``support/postgres.py``).

The suite is laid out by layer (``tests/<layer>/``): contracts, sdk, nodes, cli, ops, e2e, tooling.
Tests under ``tests/e2e`` are marked ``e2e`` and those under ``tests/nodes`` ``nodes`` here, so that
``make test-fast`` (``-m "not e2e and not nodes"``) leaves them out wherever they are run from.

The secrets check (a plugin, here so that it covers every folder): after each phase of each test,
what pytest captured (stdout, stderr, log records), the failure report and every CLI/subprocess
output the test's helpers saw are scanned for the registered secrets (``support/secrets.py``: the
dev keys of the test mnemonic, the test passwords, every key the SDK harness makes, and whatever a
test registers through the ``secrets`` fixture). A leak fails that test, and the secret is redacted
from what the report shows; the run's summary lists the leaks. At the end of the session,
``support/session_checks.py`` checks that the real config folder was not touched and that no key
appeared in an exception text.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import secrets as _secrets
from support.postgres import db_url, postgres_module_url, postgres_server, postgres_url  # noqa: F401 - fixtures
from support.secrets_plugin import pytest_configure as _secrets_configure
from support.session_checks import session_checks  # noqa: F401 - session fixture

_TESTS = Path(__file__).resolve().parent
#: Folders whose every test carries the marker of the same name.
LAYER_MARKERS = {"e2e": "e2e", "nodes": "nodes"}


def pytest_configure(config: pytest.Config) -> None:
    _secrets_configure(config)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        try:
            layer = Path(item.path).resolve().relative_to(_TESTS).parts[0]
        except ValueError:
            continue
        if layer in LAYER_MARKERS:
            item.add_marker(LAYER_MARKERS[layer])


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


def pytest_sessionstart(session: pytest.Session) -> None:
    """``make coverage``: with P2PESCROW_COVERAGE=<file>, record which contract code py-evm runs.

    Under pytest-xdist each worker runs tests in its own process and writes its own part
    (``hits.gw0.json`` beside ``hits.json``); the controller runs none and writes nothing.
    ``python -m tools.coverage hits.json`` merges the file and its parts."""
    path = os.environ.get("P2PESCROW_COVERAGE")
    if not path or _is_xdist_controller(session.config):
        return
    from tools.coverage import Recorder, part_path

    recorder = Recorder()
    recorder.install()
    session.config.stash[_RECORDER] = (recorder, part_path(Path(path), os.environ.get("PYTEST_XDIST_WORKER")))


def pytest_sessionfinish(session: pytest.Session) -> None:
    recording = session.config.stash.get(_RECORDER, None)
    if recording is not None:
        recorder, path = recording
        recorder.uninstall()
        recorder.dump(path)


def _is_xdist_controller(config: pytest.Config) -> bool:
    """True in the process that hands tests to xdist workers (``-n N`` with N > 0)."""
    return not hasattr(config, "workerinput") and bool(getattr(config.option, "numprocesses", None))


_RECORDER = pytest.StashKey["Any"]()
