"""`--confirmations N` and `--timeout S`: a command reports a transaction done only once N blocks
bury it, and gives up after S seconds with exit 5 and the hash (the transaction is not lost: it is
mined later). On an Anvil that mines one block per second, as a public chain does every few."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.clitools import as_json, run
from web3 import Web3

from p2pescrow import EscrowClient
from p2pescrow.accounts import dev_account
from p2pescrow.deployments import Registry
from p2pescrow.node.process import dev_accounts, rpc, start_node
from p2pescrow.transport.nonces import NONCES

pytestmark = pytest.mark.anvil
SELLER = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"  # dev2


@pytest.fixture(scope="module")
def _mining_anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """(registry file, url): one Anvil for the module, mining a block every second, the contracts
    deployed."""
    registry = tmp_path_factory.mktemp("deployed") / "deployments.json"
    with start_node("anvil", chain_id=31337, extra_args=["--block-time", "1"]) as node:
        _forget_nonces(node.accounts)
        EscrowClient.deploy(Web3(Web3.HTTPProvider(node.url)), dev_account("dev0"),
                            registry=Registry(registry), url=node.url)
        yield registry, node.url
        _forget_nonces(node.accounts)  # other modules start their own chain 31337


@pytest.fixture
def mining_anvil(_mining_anvil: tuple[Path, str], tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """(home, url): the module's Anvil as each test found it (a chain snapshot, reverted after the
    test), and a fresh home holding its deployments registry (no journal from another test)."""
    registry, url = _mining_anvil
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy2(registry, home / "deployments.json")
    snapshot = rpc(url, "evm_snapshot")
    _forget_nonces(dev_accounts())
    yield home, url
    assert rpc(url, "evm_revert", [snapshot])
    _forget_nonces(dev_accounts())


def _forget_nonces(accounts) -> None:
    for account in accounts:
        NONCES.release((31337, account.address))


def create(home: Path, url: str, *options: str):
    return run("--rpc-url", url, "--network", "local", "--account", "dev1", "--yes", *options,
               "trade", "create", "--seller", SELLER, "--amount", "0.1", home=home)


def test_a_command_waits_for_the_confirmations_asked(mining_anvil) -> None:
    home, url = mining_anvil
    result = create(home, url, "--json", "--confirmations", "3")
    assert result.exit_code == 0, result.stderr
    done = as_json(result)
    w3 = Web3(Web3.HTTPProvider(url))
    mined_in = int(w3.eth.get_transaction_receipt(done["tx"]["hash"])["blockNumber"])
    assert w3.eth.block_number - mined_in + 1 >= 3  # two more blocks came before it reported


def test_a_timeout_exits_5_with_the_hash_and_the_transaction_is_still_mined(mining_anvil) -> None:
    home, url = mining_anvil
    result = create(home, url, "--confirmations", "30", "--timeout", "2")
    assert result.exit_code == 5, result.stderr
    assert "waiting for 30 confirmations" in result.stderr  # the progress line says what it waits for
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert "Traceback" not in result.stderr
    tx_hash = next(word for word in line.split() if word.startswith("0x") and len(word) == 66)
    receipt = Web3(Web3.HTTPProvider(url)).eth.wait_for_transaction_receipt(tx_hash, timeout=10)
    assert receipt["status"] == 1  # not lost: mined, just not buried 30 deep within 2 s


def test_confirmations_must_be_at_least_one(mining_anvil) -> None:
    home, url = mining_anvil
    result = create(home, url, "--confirmations", "0")
    assert result.exit_code == 2 and "--confirmations" in result.stderr
