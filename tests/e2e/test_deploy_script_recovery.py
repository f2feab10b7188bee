"""The deploy script recovers, run as a user runs it (a subprocess) on a real Anvil: killed after its
one transaction was mined but before the registry was written, or killed while the transaction waits
to be mined, the next run continues the same deployment instead of deploying twice. (The in-process
cases: tests/sdk/test_deploy_recovery.py.)
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator

import pytest
from support.workspace import SEPOLIA, Workspace, make_keystore
from web3 import Web3

from p2pescrow.deployments import Deployment, Registry, check_deployment
from p2pescrow.node.process import Node, NodeBinaryNotFound, find_binary, rpc, start_node


def all_ok(w3: Web3, deployment: Deployment) -> bool:
    return all(c.ok is not False for c in check_deployment(w3, deployment))


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
def test_deploy_script_killed_before_recording_continues(anvil: Node, workspace: Workspace) -> None:
    w3 = Web3(Web3.HTTPProvider(anvil.url))
    deployer = make_keystore("deployer")
    _fund(w3, anvil, deployer)
    workspace.write_env(P2PESCROW_ACCOUNT="deployer", P2PESCROW_PASSWORD_FILE=workspace.password_file)
    killed = workspace.run("deploy.py", "--rpc-url", anvil.url, "--fee-bps", "25",
                           env=workspace.environ(P2PESCROW_TEST_CRASH_AFTER="escrow"))
    assert killed.code == 137, killed.text
    registry = Registry()
    pending = registry.get_pending(SEPOLIA)
    assert pending is not None and pending.escrow and pending.escrow_tx is None
    assert registry.get(SEPOLIA) is None

    resumed = workspace.run("deploy.py", "--rpc-url", anvil.url, "--fee-bps", "25")
    assert resumed.code == 0, resumed.text
    assert "continuing the unfinished deployment" in resumed.err and "finished the deployment" in resumed.out
    deployment = registry.get(SEPOLIA)
    assert deployment is not None and deployment.escrow == pending.escrow and deployment.version == 2
    assert not registry.pending_path.exists()
    assert all_ok(w3, deployment)
    assert w3.eth.get_transaction_count(deployer) == 1  # the escrow (and its Reputation): once
    verified = workspace.run("verify_deployment.py", "--rpc-url", anvil.url)
    assert verified.code == 0, verified.text
    assert "contract version" in verified.out and "reputation's only writer" in verified.out


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
                if pending and pending.get("escrow_tx"):
                    break
            time.sleep(0.05)
        assert pending and pending["escrow_tx"], process.communicate(timeout=5)
        process.send_signal(signal.SIGKILL)  # the deploy dies; its transaction is still in the mempool
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    rpc(anvil.url, "evm_mine")
    rpc(anvil.url, "evm_setAutomine", [True])
    receipt = w3.eth.get_transaction_receipt(pending["escrow_tx"])

    resumed = workspace.run("deploy.py", "--rpc-url", anvil.url)
    assert resumed.code == 0, resumed.text
    assert f"waiting for the transaction {pending['escrow_tx']}" in resumed.err
    deployment = registry.get(SEPOLIA)
    assert deployment is not None and deployment.escrow == receipt["contractAddress"]
    assert all_ok(w3, deployment)
    assert w3.eth.get_transaction_count(deployer) == 1
