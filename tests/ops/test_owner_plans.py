"""The owner's operations as plans (what the scripts show in a dry run, simulate, then send), and the
export for dApps, on a v2 deployment on the embedded chain: listing reputation assets, the two-step
transfer of the escrow (the only contract with an owner)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_tester import EthereumTester, PyEVMBackend
from web3 import EthereumTesterProvider, Web3

from p2pescrow.clients.sync import EscrowClient
from p2pescrow.core.offers import DOMAIN_VERSION, OFFER_FIELDS
from p2pescrow.deployments import Deployment, Registry, deploy
from p2pescrow.errors import ConfigError, InputError, InvalidAmount
from p2pescrow.ops import admin
from p2pescrow.transport.sync import Transactor

ETH = "0x" + "00" * 20


class Chain:
    def __init__(self, w3: Web3, accounts: list[str], deployment: Deployment) -> None:
        self.w3, self.accounts, self.deployment = w3, accounts, deployment
        self.owner, self.stranger = accounts[0], accounts[1]

    def client(self, account: str) -> EscrowClient:
        return EscrowClient.from_web3(self.w3, account, deployment=self.deployment)

    def listing(self, token: str = ETH) -> tuple[bool, int]:
        listed, minimum = self.client(self.owner).escrow.functions.reputationAssets(token).call()
        return bool(listed), int(minimum)


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[Chain]:
    w3 = Web3(EthereumTesterProvider(EthereumTester(PyEVMBackend())))
    accounts = list(w3.eth.accounts)
    deployment = deploy(Transactor(w3, accounts[0], poll_interval=0), platform_fee_bps=25,
                        registry=Registry(tmp_path / "deployments.json"))
    yield Chain(w3, accounts, deployment)


def test_listing_eth_is_shown_simulated_then_sent(chain: Chain) -> None:
    owner = chain.client(chain.owner)
    changes = admin.plan_reputation_asset(owner, "ETH", min_amount="0.01")
    assert [c.describe() for c in changes] == [
        "escrow: reputation asset ETH: not listed -> listed, minimum 0.01 ETH"]
    assert admin.simulate(owner, changes[0]) is None
    refused = admin.simulate(chain.client(chain.stranger), changes[0])
    assert refused is not None and "OwnableUnauthorizedAccount" in refused
    assert chain.listing() == (False, 0)  # a plan and its simulation send nothing

    admin.apply(owner, changes)
    assert chain.listing() == (True, 10**16)
    assert admin.plan_reputation_asset(owner, None, min_amount="0.01") == []  # already so: nothing to send
    assert admin.reputation_assets(owner) == [(ETH, "ETH", True, 10**16, 18)]


def test_repricing_and_delisting(chain: Chain) -> None:
    owner = chain.client(chain.owner)
    admin.apply(owner, admin.plan_reputation_asset(owner, "ETH", min_amount="0.01"))
    repriced = admin.plan_reputation_asset(owner, "eth", min_amount="0.5")
    assert [c.describe() for c in repriced] == [
        "escrow: reputation asset ETH: listed, minimum 0.01 ETH -> listed, minimum 0.5 ETH"]
    admin.apply(owner, repriced)
    delisted = admin.plan_reputation_asset(owner, "ETH", listed=False)
    assert [c.describe() for c in delisted] == ["escrow: reputation asset ETH: listed, minimum 0.5 ETH -> not listed"]
    admin.apply(owner, delisted)
    assert chain.listing() == (False, 5 * 10**17)  # the minimum stays on chain; nothing records
    assert admin.reputation_assets(owner) == [(ETH, "ETH", False, 5 * 10**17, 18)]


def test_a_listing_needs_a_positive_minimum_and_a_delisting_none(chain: Chain) -> None:
    owner = chain.client(chain.owner)
    with pytest.raises(InputError, match="minimum price"):
        admin.plan_reputation_asset(owner, "ETH")
    with pytest.raises(InvalidAmount):  # a zero minimum would let 1-wei trades build reputation
        admin.plan_reputation_asset(owner, "ETH", min_amount="0")
    with pytest.raises(InputError, match="no minimum"):
        admin.plan_reputation_asset(owner, "ETH", listed=False, min_amount="1")


def test_the_transfer_is_of_the_escrow_only_and_accepted_by_the_new_owner(chain: Chain) -> None:
    owner, new_owner = chain.client(chain.owner), chain.client(chain.stranger)
    assert admin.plan_accept(new_owner) == []  # nothing offered yet
    offer = admin.plan_transfer(owner, chain.stranger)
    assert [c.describe() for c in offer] == [f"escrow: pending owner: {ETH} -> {chain.stranger}"]
    admin.apply(owner, offer)
    assert admin.plan_transfer(owner, chain.stranger) == []  # offered already
    accept = admin.plan_accept(new_owner)
    assert [c.describe() for c in accept] == [f"escrow: owner: {chain.owner} -> {chain.stranger}"]
    admin.apply(new_owner, accept)
    assert new_owner.escrow.functions.owner().call() == chain.stranger


def test_the_export_says_version_2(chain: Chain) -> None:
    document = admin.export_document(chain.deployment)
    assert document["kind"] == "p2pescrow-deployment/2" and document["contractVersion"] == 2
    assert document["contracts"]["Reputation"]["address"] == chain.deployment.reputation
    assert document["eip712"]["domain"]["version"] == DOMAIN_VERSION == "2"
    offer_fields = [f["name"] for f in document["eip712"]["types"]["Offer"]]
    assert offer_fields == [f["name"] for f in OFFER_FIELDS] and "sellerDeposit" in offer_fields
    v1 = Deployment(**{**chain.deployment.__dict__, "version": 1})
    with pytest.raises(ConfigError, match="version 1"):
        admin.export_document(v1)
