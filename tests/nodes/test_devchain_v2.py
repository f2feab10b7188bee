"""`p2pescrow node start`'s deployment on a real Anvil: escrow version 2 (which creates its
Reputation), the dev tokens, and ETH, DUSD and DEUR listed as reputation assets with the local
minimums; a second start sends nothing and leaves a listing the owner changed alone; a version 1
record left from an older p2pescrow is replaced by a version 2 deployment."""

from __future__ import annotations

import json

import pytest
from support.clitools import free_port

from p2pescrow.chains import web3_for
from p2pescrow.core.codec import escrow_codec
from p2pescrow.deployments import Registry
from p2pescrow.models import ZERO_ADDRESS
from p2pescrow.node import devchain

pytestmark = pytest.mark.anvil


@pytest.fixture
def started():
    record, _ = devchain.start("anvil", port=free_port())
    try:
        yield record
    finally:
        devchain.stop("anvil")


def _listing(record, deployment, token):
    codec = escrow_codec()
    answer = web3_for(record.url).eth.call({"to": deployment.escrow,
                                            "data": codec.encode_call("reputationAssets", token)})
    return codec.decode_output("reputationAssets", bytes(answer))


def test_node_start_deploys_version_2_and_lists_eth_and_the_dev_tokens(started):
    lines: list[str] = []
    deployment, deployed_now = devchain.ensure_deployment(started, report=lines.append)

    assert deployed_now and deployment.version == 2
    assert Registry().get(started.chain_id) == deployment
    w3 = web3_for(started.url)
    escrow = w3.eth.contract(address=deployment.escrow, abi=escrow_codec().abi)
    assert escrow.functions.VERSION().call() == 2 and escrow.functions.reputation().call() == deployment.reputation
    assert _listing(started, deployment, ZERO_ADDRESS) == (True, 10**16)  # 0.01 ETH
    assert _listing(started, deployment, deployment.dev_tokens["DUSD"]) == (True, 10 * 10**6)
    assert _listing(started, deployment, deployment.dev_tokens["DEUR"]) == (True, 10 * 10**18)
    assert devchain.reputation_assets_wanted(deployment) == {
        ZERO_ADDRESS: 10**16, deployment.dev_tokens["DUSD"]: 10**7, deployment.dev_tokens["DEUR"]: 10**19}
    assert any("listed DUSD as a reputation asset: trades of at least 10 DUSD" in line for line in lines)

    # the owner delists DEUR; starting again sends nothing and keeps the owner's choice
    escrow.functions.setReputationAsset(deployment.dev_tokens["DEUR"], False, 0).transact(
        {"from": deployment.owner})
    block = w3.eth.block_number
    again, deployed_now = devchain.ensure_deployment(started)
    assert not deployed_now and again == deployment and w3.eth.block_number == block
    assert _listing(started, deployment, deployment.dev_tokens["DEUR"]) == (False, 0)


def test_a_version_1_record_is_replaced_by_a_version_2_deployment(started):
    first, _ = devchain.ensure_deployment(started)
    registry = Registry()
    data = json.loads(registry.path.read_text())
    old = {k: v for k, v in data[str(started.chain_id)].items() if k != "version"}  # as v1 wrote it
    registry.path.write_text(json.dumps({**data, str(started.chain_id): old}))
    assert registry.get(started.chain_id).version == 1

    lines: list[str] = []
    deployment, deployed_now = devchain.ensure_deployment(started, report=lines.append)

    assert deployed_now and deployment.version == 2 and deployment.escrow != first.escrow
    assert any("is version 1: deploying version 2" in line for line in lines)
    assert _listing(started, deployment, ZERO_ADDRESS) == (True, 10**16)
