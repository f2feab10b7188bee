"""The dev tokens `p2pescrow node start` deploys on a local chain (contracts/dev/DevTokens.sol):
the dev accounts hold them from the deploying transaction, only the deployer mints more, and the
permit token takes EIP-2612 permits (so trades in it fund in one transaction)."""

from __future__ import annotations

from typing import Any

import pytest
from support.escrow import Deployment
from support.offers import balance_of, reverts, sign_permit, tx

from p2pescrow.node.devchain import DEV_TOKENS

SPECS = {spec.contract: spec for spec in DEV_TOKENS}


def deploy_dev_token(deployed: Deployment, contract: str) -> Any:
    spec = SPECS[contract]
    holders = deployed.chain.accounts[1:4]
    return deployed.chain.deploy(contract, spec.name, spec.symbol, holders, spec.per_account * 10**spec.decimals,
                                 sender=deployed.chain.accounts[0])


@pytest.mark.parametrize("contract", sorted(SPECS))
def test_the_dev_accounts_hold_the_token_from_its_deployment(deployed: Deployment, contract: str) -> None:
    spec = SPECS[contract]
    token = deploy_dev_token(deployed, contract)

    assert token.functions.symbol().call() == spec.symbol
    assert token.functions.decimals().call() == spec.decimals
    for holder in deployed.chain.accounts[1:4]:
        assert balance_of(deployed, token.address, holder) == spec.per_account * 10**spec.decimals
    assert balance_of(deployed, token.address, deployed.chain.accounts[4]) == 0
    assert token.functions.totalSupply().call() == 3 * spec.per_account * 10**spec.decimals


@pytest.mark.parametrize("contract", sorted(SPECS))
def test_only_the_deployer_mints(deployed: Deployment, contract: str) -> None:
    owner, stranger = deployed.chain.accounts[0], deployed.chain.accounts[5]
    token = deploy_dev_token(deployed, contract)

    tx(deployed, token.functions.mint(stranger, 1234), owner)
    with reverts("OwnableUnauthorizedAccount", account=stranger):
        token.functions.mint(stranger, 10**30).transact({"from": stranger})

    assert balance_of(deployed, token.address, stranger) == 1234


def test_the_permit_token_takes_an_eip2612_permit(deployed: Deployment) -> None:
    holder, spender = deployed.chain.accounts[1], deployed.chain.accounts[6]
    token = deploy_dev_token(deployed, "DevPermitToken")
    deadline = deployed.chain.next_timestamp() + 3600
    permit = sign_permit(deployed, token, holder, spender, 5 * 10**18, deadline)

    tx(deployed, token.functions.permit(holder, spender, 5 * 10**18, deadline, permit["v"], permit["r"],
                                        permit["s"]), spender)

    assert token.functions.allowance(holder, spender).call() == 5 * 10**18
    assert token.functions.nonces(holder).call() == 1
