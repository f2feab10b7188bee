"""Without the ``embedded`` extra, the embedded chain is refused with one line naming the install
command (a typed ConfigError, exit code 2), on both clients and through the named network. The
wheel installed without and then with the extra is tests/e2e/test_install_extras.py."""

from __future__ import annotations

import asyncio
import importlib.util

import pytest

from p2pescrow import errors
from p2pescrow.aio import AsyncEscrowClient
from p2pescrow.client import EscrowClient

FIX = "pip install 'p2pescrow[embedded]'"


@pytest.fixture
def no_eth_tester(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in a venv with the base install only: eth-tester and py-evm cannot be found."""
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a, **k: None if name in ("eth_tester", "eth") else real(name, *a, **k))


def _check(exc: errors.MissingExtra) -> None:
    assert isinstance(exc, errors.ConfigError) and exc.exit_code == 2
    assert str(exc) == f"the embedded chain needs the 'embedded' extra (missing: eth-tester, py-evm): {FIX}"
    assert "\n" not in str(exc) and exc.command == FIX and exc.extra == "embedded"


@pytest.mark.usefixtures("no_eth_tester")
def test_embedded_without_the_extra_names_the_install_command() -> None:
    with pytest.raises(errors.MissingExtra) as caught:
        EscrowClient.embedded()
    _check(caught.value)
    with pytest.raises(errors.MissingExtra) as caught:
        EscrowClient.from_network("embedded")
    _check(caught.value)


@pytest.mark.usefixtures("no_eth_tester")
def test_async_embedded_without_the_extra_names_the_install_command() -> None:
    with pytest.raises(errors.MissingExtra) as caught:
        asyncio.run(AsyncEscrowClient.embedded())
    _check(caught.value)
