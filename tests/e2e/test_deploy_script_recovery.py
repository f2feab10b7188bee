"""Deployments are idempotent and recoverable: a deploy that dies part way (an exception between
two steps, a killed process, a kill while a transaction waits to be mined) is continued by the
next run, with the same contracts, instead of leaving a half-wired pair or deploying twice.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_tester import EthereumTester, PyEVMBackend
from web3 import EthereumTesterProvider, Web3

from p2pescrow.build import load_artifact
from p2pescrow.deployments import (
    DEPLOY_STEPS,
    Deployment,
    PendingDeploymentConflict,
    Registry,
    check_deployment,
    code_matches_artifact,
    deploy,
    ensure_deployed,
)
from p2pescrow.node.process import Node, NodeBinaryNotFound, find_binary, rpc, start_node
from p2pescrow.transport.sync import Transactor

from .conftest import SEPOLIA, Workspace, make_keystore


class Crash(Exception):
    pass


@pytest.fixture
def chain() -> tuple[Web3, list[str]]:
    w3 = Web3(EthereumTesterProvider(EthereumTester(PyEVMBackend())))
    return w3, list(w3.eth.accounts)


def contracts_created(w3: Web3, deployer: str) -> int:
    """How many contracts ``deployer`` created (every transaction of a deploy is sent by it)."""
    count = 0
    for number in range(1, int(w3.eth.block_number) + 1):
        for tx_hash in w3.eth.get_block(number)["transactions"]:
            tx = w3.eth.get_transaction(tx_hash)
            if tx["from"] == deployer and tx.get("to") is None:
                count += 1
    return count


def all_ok(w3: Web3, deployment: Deployment) -> bool:
    return all(c.ok is not False for c in check_deployment(w3, deployment))


@pytest.mark.parametrize("step", DEPLOY_STEPS)
def test_a_deploy_that_fails_after_any_step_is_continued(chain: tuple[Web3, list[str]], tmp_path: Path,
                                                         step: str) -> None:
    w3, accounts = chain
    registry = Registry(tmp_path / "deployments.json")
    transactor = Transactor(w3, accounts[0], poll_interval=0)
    options = {"platform_fee_bps": 25, "owner": accounts[1], "fee_recipient": accounts[2]}

    def fail(done: str) -> None:
        if done == step:
            raise Crash(done)

    with pytest.raises(Crash):
        deploy(transactor, registry=registry, after_step=fail, **options)
    pending = registry.get_pending(w3.eth.chain_id)
    assert pending is not None and registry.get(w3.eth.chain_id) is None
    assert pending.reputation is not None

    lines: list[str] = []
    outcome = ensure_deployed(transactor, registry, report=lines.append, **options)
    assert outcome.status == "resumed"
    assert any("continuing the unfinished deployment" in line for line in lines)
    deployment = outcome.deployment
    assert deployment.reputation == pending.reputation
    if pending.escrow is not None:
        assert deployment.escrow == pending.escrow
    assert contracts_created(w3, accounts[0]) == 2  # no orphan from the failed run
    assert registry.get(w3.eth.chain_id) == deployment and registry.get_pending(w3.eth.chain_id) is None
    # The reputation contract waits for its owner to accept; everything else is in place.
    checks = {c.name: c for c in check_deployment(w3, deployment)}
    assert [name for name, c in checks.items() if c.ok is False] == ["reputation owner"]
    assert "not accepted yet" in checks["reputation owner"].detail

    again = ensure_deployed(transactor, registry, **options)
    assert again.status == "existing" and again.deployment == deployment


def test_unfinished_deployment_with_other_settings_is_refused_unless_forced(
        chain: tuple[Web3, list[str]], tmp_path: Path) -> None:
    w3, accounts = chain
    registry = Registry(tmp_path / "deployments.json")
    transactor = Transactor(w3, accounts[0], poll_interval=0)

    def fail(done: str) -> None:
        raise Crash(done)

    with pytest.raises(Crash):
        deploy(transactor, platform_fee_bps=25, registry=registry, after_step=fail)
    abandoned = registry.get_pending(w3.eth.chain_id)
    with pytest.raises(PendingDeploymentConflict, match="25 bps"):
        ensure_deployed(transactor, registry, platform_fee_bps=30)
    with pytest.raises(PendingDeploymentConflict):
        ensure_deployed(Transactor(w3, accounts[3], poll_interval=0), registry, platform_fee_bps=25)
    outcome = ensure_deployed(transactor, registry, platform_fee_bps=30, force=True)
    assert outcome.status == "deployed" and abandoned is not None
    assert outcome.deployment.reputation != abandoned.reputation
    assert outcome.deployment.platform_fee_bps == 30 and all_ok(w3, outcome.deployment)


def test_a_record_whose_chain_was_reset_is_replaced(chain: tuple[Web3, list[str]], tmp_path: Path) -> None:
    w3, accounts = chain
    registry = Registry(tmp_path / "deployments.json")
    transactor = Transactor(w3, accounts[0], poll_interval=0)
    first = ensure_deployed(transactor, registry).deployment
    # Another incarnation of the chain: the recorded addresses hold no code.
    stale = Deployment(**{**first.__dict__, "escrow": "0x" + "11" * 20, "reputation": "0x" + "22" * 20})
    registry.put(stale)
    lines: list[str] = []
    outcome = ensure_deployed(transactor, registry, report=lines.append)
    assert outcome.status == "deployed" and outcome.replaced == stale
    assert any("chain reset" in line for line in lines)
    assert all_ok(w3, outcome.deployment)


def test_code_matches_artifact_allows_only_immutable_slots() -> None:
    artifact = load_artifact("P2PEscrow")
    code = bytearray.fromhex(artifact["deployedBytecode"][2:])
    assert code_matches_artifact(bytes(code), artifact)
    slot = bytes(code).find(bytes(32))  # the first immutable placeholder
    assert slot > 0
    filled = bytearray(code)
    filled[slot + 12:slot + 32] = b"\x42" * 20  # an address, as the constructor writes it
    assert code_matches_artifact(bytes(filled), artifact)
    for position in (0, len(code) // 3, len(code) - 5):  # an opcode, the middle, the metadata hash
        if code[position] == 0:
            continue
        changed = bytearray(code)
        changed[position] ^= 0x01
        assert not code_matches_artifact(bytes(changed), artifact)
    assert not code_matches_artifact(bytes(code) + b"\x00", artifact)
    assert not code_matches_artifact(bytes.fromhex(load_artifact("Reputation")["deployedBytecode"][2:]),
                                     artifact)


# -- a killed process, on a real node --------------------------------------------------------------
@pytest.fixture
def anvil() -> Iterator[Node]:
    try:
        find_binary("anvil")
    except NodeBinaryNotFound as exc:
        pytest.skip(str(exc))
    with start_node("anvil", chain_id=SEPOLIA) as node:
        yield node


def _fund(w3: Web3, node: Node, address: str) -> None:
    w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction(
        {"from": node.accounts[0].address, "to": address, "value": 10 * 10**18}))


@pytest.mark.anvil
@pytest.mark.slow
def test_deploy_script_killed_between_the_two_contracts_continues(anvil: Node, workspace: Workspace) -> None:
    w3 = Web3(Web3.HTTPProvider(anvil.url))
    deployer = make_keystore("deployer")
    _fund(w3, anvil, deployer)
    workspace.write_env(P2PESCROW_ACCOUNT="deployer", P2PESCROW_PASSWORD_FILE=workspace.password_file)
    killed = workspace.run("deploy.py", "--rpc-url", anvil.url, "--fee-bps", "25",
                           env=workspace.environ(P2PESCROW_TEST_CRASH_AFTER="reputation"))
    assert killed.code == 137, killed.text
    registry = Registry()
    pending = registry.get_pending(SEPOLIA)
    assert pending is not None and pending.reputation and pending.escrow is None
    assert registry.get(SEPOLIA) is None

    resumed = workspace.run("deploy.py", "--rpc-url", anvil.url, "--fee-bps", "25")
    assert resumed.code == 0, resumed.text
    assert "continuing the unfinished deployment" in resumed.err and "finished the deployment" in resumed.out
    deployment = registry.get(SEPOLIA)
    assert deployment is not None and deployment.reputation == pending.reputation
    assert not registry.pending_path.exists()
    assert all_ok(w3, deployment)
    assert w3.eth.get_transaction_count(deployer) == 3  # Reputation, P2PEscrow, setEscrow: once each
    assert workspace.run("verify_deployment.py", "--rpc-url", anvil.url).code == 0


@pytest.mark.anvil
@pytest.mark.slow
def test_deploy_script_killed_while_waiting_for_a_receipt_picks_the_transaction_up(
        anvil: Node, workspace: Workspace) -> None:
    w3 = Web3(Web3.HTTPProvider(anvil.url))
    deployer = make_keystore("deployer")
    _fund(w3, anvil, deployer)
    workspace.write_env(P2PESCROW_ACCOUNT="deployer", P2PESCROW_PASSWORD_FILE=workspace.password_file)
    registry = Registry()
    rpc(anvil.url, "evm_setAutomine", [False])  # transactions now wait in the mempool, as on a testnet
    process = workspace.popen("deploy.py", "--rpc-url", anvil.url)
    try:
        deadline = time.monotonic() + 60
        pending = None
        while time.monotonic() < deadline and process.poll() is None:
            if registry.pending_path.exists():
                pending = json.loads(registry.pending_path.read_text()).get(str(SEPOLIA))
                if pending and pending.get("reputation_tx"):
                    break
            time.sleep(0.05)
        assert pending and pending["reputation_tx"], process.communicate(timeout=5)
        process.send_signal(signal.SIGKILL)  # the deploy dies; its transaction is still in the mempool
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    rpc(anvil.url, "evm_mine")
    rpc(anvil.url, "evm_setAutomine", [True])
    receipt = w3.eth.get_transaction_receipt(pending["reputation_tx"])

    resumed = workspace.run("deploy.py", "--rpc-url", anvil.url)
    assert resumed.code == 0, resumed.text
    assert f"waiting for the transaction {pending['reputation_tx']}" in resumed.err
    deployment = registry.get(SEPOLIA)
    assert deployment is not None and deployment.reputation == receipt["contractAddress"]
    assert all_ok(w3, deployment)
    assert w3.eth.get_transaction_count(deployer) == 3
