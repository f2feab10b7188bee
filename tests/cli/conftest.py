"""Fixtures of the CLI suite: commands run in process through Typer's CliRunner, each with its own
config folder and none of the user's p2pescrow settings.

``home`` is the test's config folder; ``isolated_env`` (automatic) points ``$P2PESCROW_HOME`` at it
and unsets the rest. ``deployed_anvil`` is a real Anvil per module with the contracts deployed into
the module's config folder (``anvil_home``: a test that uses it gets that folder as its ``home``,
so the deployments registry the fixture writes is the one commands read); ``cli(...)`` runs the
real command against it. Commands reach the node as ``--network local --rpc-url URL``: the built-in
``local`` network is a dev chain (chain id 31337), so ``--account dev1`` works.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from support.escrow_cli import CHAIN_ID, DEV, PLATFORM_FEE_BPS, REPUTATION_MINIMUM, Chain, Cli
from support.isolation import isolate
from web3 import Web3

from p2pescrow import EscrowClient
from p2pescrow.deployments import Registry
from p2pescrow.node.process import start_node
from p2pescrow.transport.nonces import NONCES


@pytest.fixture
def home(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """The test's config folder (not created: commands create what they need); for a test on
    ``deployed_anvil``, the module's folder the contracts were deployed into."""
    if "deployed_anvil" in request.fixturenames:
        return request.getfixturevalue("anvil_home")
    return tmp_path / "p2pescrow-home"


@pytest.fixture(autouse=True)
def isolated_env(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(home, monkeypatch)


@pytest.fixture(scope="module")
def anvil_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The config folder of the module's ``deployed_anvil``."""
    return tmp_path_factory.mktemp("p2pescrow-home")


@pytest.fixture(scope="module")
def deployed_anvil(anvil_home: Path) -> Iterator[Chain]:
    """A real Anvil (chain id 31337) for the module, the contracts deployed by dev0 into
    ``anvil_home``'s registry, ETH listed as a reputation asset from 0.01 ETH."""
    with start_node("anvil", chain_id=CHAIN_ID) as node, pytest.MonkeyPatch.context() as mp:
        mp.setenv("P2PESCROW_HOME", str(anvil_home))  # the SDK's transaction journal goes there too
        w3 = Web3(Web3.HTTPProvider(node.url))
        deployer = Account.from_key(node.accounts[0].private_key)
        registry = Registry(anvil_home / "deployments.json")
        deployment = EscrowClient.deploy(w3, deployer, registry=registry, platform_fee_bps=PLATFORM_FEE_BPS,
                                         url=node.url)
        owner = EscrowClient.connect(node.url, deployer, registry=registry)
        owner.set_reputation_asset(None, min_amount=REPUTATION_MINIMUM)  # ETH trades from 0.01 ETH record
        NONCES.release((CHAIN_ID, deployer.address))
        yield Chain(node, w3, deployment, anvil_home)


@pytest.fixture(autouse=True)
def fresh_nonces(request: pytest.FixtureRequest) -> None:
    """On ``deployed_anvil``, as in a fresh process, the SDK's nonce counters are re-read from the
    node: another test module may have used chain 31337 with the same dev accounts on another Anvil."""
    if "deployed_anvil" in request.fixturenames:
        for address in DEV.values():
            NONCES.release((CHAIN_ID, address))


@pytest.fixture
def cli(deployed_anvil: Chain) -> Cli:
    return Cli(deployed_anvil)
