"""Fixtures of the trade, offer, reputation and demo commands' tests: a real Anvil per module with
the contracts deployed into the module's ``P2PESCROW_HOME``, and ``cli(...)``, which runs the real
command through Typer's CliRunner.

The environment is isolated by ``tests/cli/conftest.py`` (no ``ETH_RPC_URL`` or ``P2PESCROW_*``
from the developer's shell); here ``home`` is the module's folder, so the deployments registry the
chain fixture writes is the one commands read. Commands reach the node as ``--network local
--rpc-url URL``: the built-in ``local`` network is a dev chain (chain id 31337), so ``--account
dev1`` works.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from support.escrow_cli import CHAIN_ID, DEV, PLATFORM_FEE_BPS, Chain, Cli
from web3 import Web3

from p2pescrow import EscrowClient
from p2pescrow.deployments import Registry
from p2pescrow.node.process import start_node
from p2pescrow.transport.nonces import NONCES


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The module's P2PESCROW_HOME (overrides the per-test one of tests/cli/conftest.py)."""
    return tmp_path_factory.mktemp("p2pescrow-home")


@pytest.fixture(scope="module")
def chain(home: Path) -> Iterator[Chain]:
    with start_node("anvil", chain_id=CHAIN_ID) as node, pytest.MonkeyPatch.context() as mp:
        mp.setenv("P2PESCROW_HOME", str(home))  # the SDK's transaction journal goes there too
        w3 = Web3(Web3.HTTPProvider(node.url))
        deployer = Account.from_key(node.accounts[0].private_key)
        deployment = EscrowClient.deploy(w3, deployer, registry=Registry(home / "deployments.json"),
                                         platform_fee_bps=PLATFORM_FEE_BPS, url=node.url)
        yield Chain(node, w3, deployment, home)


@pytest.fixture(autouse=True)
def fresh_nonces() -> None:
    """As in a fresh process, the SDK's nonce counters are re-read from the node: another test
    module may have used chain 31337 with the same dev accounts on another Anvil."""
    for address in DEV.values():
        NONCES.release((CHAIN_ID, address))


@pytest.fixture
def cli(chain: Chain) -> Cli:
    return Cli(chain)
