"""The brownie suite (`brownie test`, run by `make test` with .venv-brownie): brownie's fixtures
(accounts, contract containers), per-test isolation (`fn_isolation`: a chain snapshot reverted after
each test), `brownie.reverts`, and hypothesis state machines. The development network is Anvil from
node_modules (on PATH through the Makefile), chain id 31337, Shanghai, the dev mnemonic.

The contracts come from brownie's own compile of contracts/ (same compiler and settings as
p2pescrow/build; test_build_parity.py checks the bytecode is the same as p2pescrow/artifacts/).
"""

from __future__ import annotations

import sys

import pytest

from p2pescrow.models import ZERO_ADDRESS
from tests_brownie.helpers import FEE_BPS


def pytest_configure(config: pytest.Config) -> None:
    """brownie 1.22's own `chain.snapshot/revert/sleep/mine` call its deprecated `rpc.*` twins and
    warn about themselves (FutureWarning: "rpc.X should not be called directly") on every isolated
    test: dozens of lines about brownie's internals that say nothing about this project."""
    config.addinivalue_line("filterwarnings", r"ignore:rpc\.\w+ should not be called directly:FutureWarning")


@pytest.fixture(autouse=True)
def isolation(fn_isolation):
    """Every test starts from the module's deployment; what it does is reverted afterwards."""


@pytest.fixture(scope="module")
def owner(accounts):
    return accounts[0]


@pytest.fixture(scope="module")
def buyer(accounts):
    return accounts[1]


@pytest.fixture(scope="module")
def seller(accounts):
    return accounts[2]


@pytest.fixture(scope="module")
def arbiter(accounts):
    return accounts[3]


@pytest.fixture(scope="module")
def escrow(P2PEscrow, owner):
    """The escrow (fees to its owner); it creates its own Reputation. ETH is a listed reputation asset
    (minimum 1 wei), so ETH trades that ask to record and whose seller consented do."""
    contract = P2PEscrow.deploy(owner, owner, FEE_BPS, {"from": owner})
    contract.setReputationAsset(ZERO_ADDRESS, True, 1, {"from": owner})
    return contract


@pytest.fixture(scope="module")
def reputation(Reputation, escrow):
    return Reputation.at(escrow.reputation())


@pytest.fixture(scope="module")
def token(TestToken, owner, buyer):
    contract = TestToken.deploy("Test USD", "TUSD", 6, {"from": owner})
    contract.mint(buyer, 10**12, {"from": owner})
    return contract


def _pure_python_stateful():
    """brownie.test.stateful loaded from its Python source instead of the compiled module."""
    import importlib.util
    from pathlib import Path

    import brownie.test

    name = "tests_brownie._brownie_stateful_py"
    if name not in sys.modules:
        path = Path(brownie.test.__file__).with_name("stateful.py")
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture
def state_machine(request):
    """Brownie's own `state_machine` fixture, run from the Python source of brownie.test.stateful.

    eth-brownie 1.22.2 ships that module compiled with mypyc, and the compiled `execute_step`
    rejects every machine it generates ("_BrownieStateMachine object expected; got
    BrownieStateMachine"), so the stock fixture cannot run any state machine. Same code, same API.
    """
    module = _pure_python_stateful()
    module._BrownieStateMachine._capman = request.config.pluginmanager.get_plugin("capturemanager")
    return module.state_machine
