"""Deployments are idempotent and recoverable: a deploy that dies part way (an exception after its
transaction, a deployment left unfinished with other settings, a chain reset under a record) is
continued by the next run, with the same contract, instead of deploying twice. A v2 deployment is one
transaction: the escrow's constructor creates its Reputation. On the embedded chain, in process; the
deploy script killed on a real node is in tests/e2e/test_deploy_script_recovery.py.
"""

from __future__ import annotations

import json
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
from p2pescrow.transport.sync import Transactor


class Crash(Exception):
    pass


@pytest.fixture
def embedded_w3() -> tuple[Web3, list[str]]:
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
def test_a_deploy_that_fails_after_any_step_is_continued(embedded_w3: tuple[Web3, list[str]], tmp_path: Path,
                                                         step: str) -> None:
    w3, accounts = embedded_w3
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
    assert pending.escrow is not None and pending.escrow_tx is None

    lines: list[str] = []
    outcome = ensure_deployed(transactor, registry, report=lines.append, **options)
    assert outcome.status == "resumed"
    assert any("continuing the unfinished deployment" in line for line in lines)
    deployment = outcome.deployment
    assert deployment.escrow == pending.escrow and deployment.version == 2
    assert contracts_created(w3, accounts[0]) == 1  # no orphan from the failed run
    assert registry.get(w3.eth.chain_id) == deployment and registry.get_pending(w3.eth.chain_id) is None
    # The owner owns the escrow from its constructor; the reputation contract has no owner at all.
    checks = {c.name: c for c in check_deployment(w3, deployment)}
    assert [name for name, c in checks.items() if c.ok is False] == []
    assert checks["escrow owner"].detail == accounts[1]
    assert checks["reputation's only writer"].detail == deployment.escrow

    again = ensure_deployed(transactor, registry, **options)
    assert again.status == "existing" and again.deployment == deployment


def test_unfinished_deployment_with_other_settings_is_refused_unless_forced(
        embedded_w3: tuple[Web3, list[str]], tmp_path: Path) -> None:
    w3, accounts = embedded_w3
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
    assert outcome.deployment.escrow != abandoned.escrow
    assert outcome.deployment.platform_fee_bps == 30 and all_ok(w3, outcome.deployment)


def test_a_record_whose_chain_was_reset_is_replaced(embedded_w3: tuple[Web3, list[str]], tmp_path: Path) -> None:
    w3, accounts = embedded_w3
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


def test_a_version_1_record_is_replaced_and_its_unfinished_deployment_ignored(
        embedded_w3: tuple[Web3, list[str]], tmp_path: Path) -> None:
    w3, accounts = embedded_w3
    registry = Registry(tmp_path / "deployments.json")
    transactor = Transactor(w3, accounts[0], poll_interval=0)
    v2 = ensure_deployed(transactor, registry).deployment
    # What a v1 deploy left: a record without a version, and a pending record of its four steps.
    record = {k: v for k, v in v2.__dict__.items() if k != "version"}
    registry.path.write_text(json.dumps({str(v2.chain_id): record}))
    registry.pending_path.write_text(json.dumps({"1": {
        "chain_id": 1, "deployer": accounts[0], "owner": accounts[0], "fee_recipient": accounts[0],
        "platform_fee_bps": 0, "reputation": "0x" + "22" * 20, "reputation_tx": None, "escrow": None,
        "escrow_tx": None, "authorised": False, "handed_over": False, "block": 1}}))
    v1 = registry.get(v2.chain_id)
    assert v1 is not None and v1.version == 1 and registry.get_pending(1) is None
    lines: list[str] = []
    outcome = ensure_deployed(transactor, registry, report=lines.append)
    assert outcome.status == "deployed" and outcome.replaced == v1 and outcome.deployment.version == 2
    assert outcome.deployment.escrow != v2.escrow
    assert any("is version 1: deploying version 2" in line for line in lines)
