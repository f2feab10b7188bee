"""The deployments registry: deploy records by chain id (with code hashes), connect reads it; the
default location follows P2PESCROW_HOME, and tests never touch the real ~/.config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_account import Account
from web3 import Web3

from p2pescrow import EscrowClient, TradeState
from p2pescrow.config import HOME_ENV, config_dir
from p2pescrow.deployments import NoDeployment, Registry


def test_the_suite_never_uses_the_real_config_dir(isolated_home):
    assert config_dir() == isolated_home
    assert Registry().path == isolated_home / "deployments.json"
    assert not str(config_dir()).startswith(str(Path.home() / ".config"))


@pytest.mark.anvil
def test_deploy_records_and_connect_reads_the_registry(anvil, tmp_path, monkeypatch):
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    node = anvil.node
    deployer = Account.from_key(node.accounts[0].private_key)
    w3 = Web3(Web3.HTTPProvider(node.url))
    chain_id = anvil.base.deployment.chain_id

    path = tmp_path / "registry" / "deployments.json"
    deployment = EscrowClient.deploy(
        w3, deployer, registry=Registry(path), platform_fee_bps=40, url=node.url
    )
    record = json.loads(path.read_text())[str(chain_id)]
    assert record["escrow"] == deployment.escrow and record["reputation"] == deployment.reputation
    assert record["chain_id"] == chain_id and record["platform_fee_bps"] == 40
    assert record["version"] == deployment.version == 2
    assert record["escrow_code_hash"].startswith("0x") and len(record["escrow_code_hash"]) == 66
    assert deployment.escrow != anvil.base.deployment.escrow  # a second, separate deployment

    buyer_acct = anvil.account(5)
    client = EscrowClient.connect(
        node.url, buyer_acct, registry=Registry(path), expected_chain_id=chain_id
    )
    assert client.deployment == deployment
    created = client.create(seller=anvil.account(0).address, amount="1")
    trade = client.trade(created.trade_id)
    assert trade.state is TradeState.FUNDED and trade.platform_fee_bps == 40

    # the default registry is $P2PESCROW_HOME/deployments.json: empty here until a deploy writes it
    with pytest.raises(NoDeployment):
        EscrowClient.connect(node.url, buyer_acct)
    default = EscrowClient.deploy(w3, deployer, platform_fee_bps=25, url=node.url)
    assert (tmp_path / "home" / "deployments.json").exists()
    assert EscrowClient.connect(node.url, buyer_acct).deployment == default

    # another chain's record sits beside it, keyed by chain id
    Registry(path).put(Registry(path).get(chain_id).__class__(**{**record, "chain_id": 999}))
    assert set(json.loads(path.read_text())) == {str(chain_id), "999"}
    assert Registry(path).get(chain_id) == deployment
