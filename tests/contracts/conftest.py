"""Fixtures of the contract suite: one embedded py-evm chain for the session, the contracts deployed
once, and every test inside a snapshot reverted after it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.chain import Chain
from support.escrow import Deployment, deploy_all


@pytest.fixture(scope="session")
def evm_chain() -> Chain:
    """One embedded py-evm chain for the session (one per xdist worker)."""
    return Chain()


@pytest.fixture(scope="session")
def _deployed(evm_chain: Chain) -> Deployment:
    return deploy_all(evm_chain)


@pytest.fixture
def deployed(_deployed: Deployment, evm_chain: Chain) -> Iterator[Deployment]:
    """The deployed contracts, accounts and tokens, inside a snapshot reverted after the test."""
    snapshot = evm_chain.snapshot()
    yield _deployed
    evm_chain.revert(snapshot)
