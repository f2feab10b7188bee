"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.chain import Chain
from support.escrow import Deployment, deploy_all


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
