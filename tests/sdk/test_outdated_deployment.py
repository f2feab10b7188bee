"""An escrow v1 is refused, with one line saying what is wrong and to redeploy: a registry record of
version 1 (or without a version), and a real v1 escrow on chain (its bytecode as shipped at 32ad5c4)
whatever its record claims. ``ensure_deployed`` replaces it with a version 2 deployment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_abi import encode
from web3 import Web3

from p2pescrow import EscrowClient, chains
from p2pescrow.deployments import (
    CONTRACT_VERSION,
    Deployment,
    OutdatedDeployment,
    Registry,
    code_hash,
    deployment_for,
    ensure_deployed,
)
from p2pescrow.errors import EXIT_NETWORK, NetworkError, exit_code_for
from p2pescrow.transport.sync import Transactor

V1 = json.loads((Path(__file__).parent / "data" / "escrow_v1.json").read_text())


def _deploy_v1(w3: Web3, name: str, *args: object) -> tuple[str, int]:
    types = [i["type"] for i in V1[name]["constructor"]["inputs"]]
    data = V1[name]["bytecode"] + encode(types, list(args)).hex()
    tx = w3.eth.send_transaction({"from": w3.eth.accounts[0], "data": data, "gas": 8_000_000})
    receipt = w3.eth.wait_for_transaction_receipt(tx)
    return receipt["contractAddress"], receipt["blockNumber"]


@pytest.fixture
def v1_chain():
    """An embedded chain holding a v1 escrow and its v1 Reputation, and the v1 record of them (as
    `p2pescrow deploy` of version 1 wrote it: no `version` key)."""
    w3 = chains.embedded_web3(chains.embedded_tester())
    owner = w3.eth.accounts[0]
    reputation, block = _deploy_v1(w3, "Reputation", owner)
    escrow, _ = _deploy_v1(w3, "P2PEscrow", owner, owner, 25, reputation)
    record = {"chain_id": int(w3.eth.chain_id), "escrow": escrow, "reputation": reputation, "block": block,
              "owner": owner, "fee_recipient": owner, "platform_fee_bps": 25,
              "escrow_code_hash": code_hash(w3, escrow), "reputation_code_hash": code_hash(w3, reputation),
              "dev_tokens": {}}
    return w3, record


def _registry_with(tmp_path: Path, record: dict[str, object]) -> Registry:
    path = tmp_path / "deployments.json"
    path.write_text(json.dumps({str(record["chain_id"]): record}))
    return Registry(path)


def test_a_record_written_before_version_2_reads_as_version_1_and_is_refused_in_one_line(v1_chain, tmp_path):
    w3, record = v1_chain
    registry = _registry_with(tmp_path, record)
    assert registry.get(record["chain_id"]).version == 1

    with pytest.raises(OutdatedDeployment) as caught:
        EscrowClient.from_web3(w3, registry=registry)

    exc = caught.value
    assert str(exc) == (f"the escrow {record['escrow']} on chain {record['chain_id']} is version 1; "
                        "this p2pescrow speaks only version 2")
    assert "\n" not in str(exc) and "\n" not in exc.hint
    assert "`p2pescrow deploy`" in exc.hint and "`p2pescrow node start`" in exc.hint
    assert isinstance(exc, NetworkError) and exit_code_for(exc) == EXIT_NETWORK == 4


def test_a_v1_escrow_is_refused_from_its_code_even_when_its_record_claims_version_2(v1_chain, tmp_path):
    w3, record = v1_chain
    registry = _registry_with(tmp_path, {**record, "version": 2})

    with pytest.raises(OutdatedDeployment) as caught:
        EscrowClient.from_web3(w3, registry=registry)
    assert caught.value.version is None
    assert "has no VERSION()" in str(caught.value) and "p2pescrow deploy" in caught.value.hint

    # a deployment given by hand (no registry) is checked the same way
    given = Deployment(**{**record, "version": 2})
    with pytest.raises(OutdatedDeployment):
        EscrowClient.from_web3(w3, deployment=given)


def test_the_version_is_checked_before_anything_is_read(tmp_path):
    old = Deployment(1, "0x" + "11" * 20, "0x" + "22" * 20, 0, "0x" + "33" * 20, "0x" + "33" * 20, 0,
                     "0x", "0x", version=1)
    with pytest.raises(OutdatedDeployment, match="is version 1; this p2pescrow speaks only version 2"):
        deployment_for(1, deployment=old)
    assert deployment_for(1, deployment=Deployment(**{**old.__dict__, "version": CONTRACT_VERSION})).version == 2
    with pytest.raises(OutdatedDeployment, match="is version 3") as newer:
        deployment_for(1, deployment=Deployment(**{**old.__dict__, "version": 3}))
    assert newer.value.hint == "upgrade p2pescrow to a release that speaks version 3"


def test_deploying_over_a_v1_record_deploys_version_2_and_connects(v1_chain, tmp_path):
    w3, record = v1_chain
    registry = _registry_with(tmp_path, record)
    lines: list[str] = []

    outcome = ensure_deployed(Transactor(w3, w3.eth.accounts[0], url="embedded", poll_interval=0), registry,
                              platform_fee_bps=25, report=lines.append)

    assert outcome.status == "deployed" and outcome.replaced is not None and outcome.replaced.version == 1
    assert outcome.deployment.version == 2 and outcome.deployment.escrow != record["escrow"]
    assert json.loads(registry.path.read_text())[str(record["chain_id"])]["version"] == 2
    assert any("version 1" in line for line in lines)
    client = EscrowClient.from_web3(w3, registry=registry)
    assert client.deployment == outcome.deployment


def test_the_registry_and_the_dapp_export_say_version_2(tmp_path):
    from p2pescrow.ops.admin import export_document

    deployment = EscrowClient.embedded().deployment
    registry = Registry(tmp_path / "deployments.json")
    registry.put(deployment)
    assert json.loads(registry.path.read_text())[str(deployment.chain_id)]["version"] == 2
    assert registry.get(deployment.chain_id) == deployment
    exported = export_document(deployment)
    assert exported["contractVersion"] == 2 and exported["eip712"]["domain"]["version"] == "2"
    assert [f["name"] for f in exported["eip712"]["types"]["Offer"]][4:7] == ["amount", "buyerDeposit",
                                                                               "sellerDeposit"]
