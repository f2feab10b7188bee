"""The pytest plugin of the secrets check (see :mod:`support.secrets`): loaded by tests/conftest.py,
or on its own with ``-p support.secrets_plugin``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from . import secrets

_LEAKS = "secret leaks"
"""The ``user_properties`` entry a leaking report carries: reports travel from pytest-xdist workers
to the controller, which writes the summary, with their user properties."""


class SecretsScan:
    """Per session: scan every test phase's report (where the test ran: in an xdist worker, there);
    fail the test on a leak; list leaks at the end (where reports are logged: the controller)."""

    def __init__(self) -> None:
        self.leaks: list[str] = []

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
        outcome = yield
        report = outcome.get_result()
        leaks = secrets.check_report(report, secrets.drain_observed())
        if leaks:
            report.user_properties = [*report.user_properties,
                                      (_LEAKS, [f"{item.nodeid} ({call.when}): {leak}" for leak in leaks])]

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for name, value in report.user_properties:
            if name == _LEAKS:
                self.leaks.extend(value)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.leaks:
            terminalreporter.section("secrets that appeared in test output", red=True)
            for leak in self.leaks:
                terminalreporter.line(leak)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.leaks and exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin("secrets-scan"):
        config.pluginmanager.register(SecretsScan(), "secrets-scan")
