"""The testnet path, end to end, exactly as on Sepolia: the scripts run with plain Python (no
brownie) against a real Anvil and a real Ganache started with Sepolia's chain id 11155111 (so no dev
key is accepted), from an encrypted keystore funded first by a dev account.

deploy (one transaction) -> registry written -> re-run says already deployed (nothing sent) -> verify
exit 0 -> tamper with the fee on chain -> verify fails with exit 1 naming it -> export the ABIs,
addresses and EIP-712 types -> owner scripts (fee, pause, reputation assets, ownership), each dry run
(nothing changes) then real -> a trade through the SDK client, which finds the contracts through the
registry.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from eth_account import Account
from support.workspace import PASSWORD, SEPOLIA, Workspace, make_keystore
from web3 import Web3

from p2pescrow import EscrowClient, TradeState, accounts
from p2pescrow.build import load_artifact
from p2pescrow.core.offers import DOMAIN_NAME, OFFER_FIELDS
from p2pescrow.deployments import Registry
from p2pescrow.node.process import Node, NodeBinaryNotFound, find_binary, start_node

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
ETHER = 10**18


def _node(kind: str) -> Iterator[Node]:
    try:
        find_binary(kind)  # type: ignore[arg-type]
    except NodeBinaryNotFound as exc:
        pytest.skip(str(exc))
    with start_node(kind, chain_id=SEPOLIA) as node:  # type: ignore[arg-type]
        yield node


@pytest.fixture(params=[pytest.param("anvil", marks=pytest.mark.anvil),
                        pytest.param("ganache", marks=pytest.mark.ganache)])
def node(request: pytest.FixtureRequest) -> Iterator[Node]:
    yield from _node(request.param)


def fund(w3: Web3, node: Node, to: str, eth: int = 10) -> None:
    funder = Account.from_key(node.accounts[0].private_key)
    tx = {"to": to, "value": eth * ETHER, "gas": 21_000, "gasPrice": w3.eth.gas_price * 2,
          "nonce": w3.eth.get_transaction_count(funder.address), "chainId": SEPOLIA}
    w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(funder.sign_transaction(tx).raw_transaction))


def send_as(w3: Web3, key: bytes, to: str, data: str) -> None:
    sender = Account.from_key(key)
    tx = {"to": to, "data": data, "gas": 200_000, "gasPrice": w3.eth.gas_price * 2,
          "nonce": w3.eth.get_transaction_count(sender.address), "chainId": SEPOLIA}
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(sender.sign_transaction(tx).raw_transaction))
    assert receipt["status"] == 1


def test_testnet_path_end_to_end(node: Node, workspace: Workspace) -> None:
    w3 = Web3(Web3.HTTPProvider(node.url))
    assert w3.eth.chain_id == SEPOLIA
    deployer, new_owner = make_keystore("deployer"), make_keystore("newowner")
    for address in (deployer, new_owner):
        fund(w3, node, address)
    # .env as a user writes it: the account by name, the password in a file; no key anywhere.
    workspace.write_env(P2PESCROW_ACCOUNT="deployer", P2PESCROW_PASSWORD_FILE=workspace.password_file,
                        P2PESCROW_PLATFORM_FEE_BPS=25)
    url = ["--rpc-url", node.url]

    # The public dev keys are refused on a non-dev chain id.
    refused = workspace.run("deploy.py", *url, "--account", "dev0")
    assert refused.code == 2 and "public dev key" in refused.err

    # Deploy: the registry gets the record the SDK and CLI read.
    deployed = workspace.run("deploy.py", *url, "--chain-id", str(SEPOLIA))
    assert deployed.code == 0, deployed.text
    registry = Registry()
    record = registry.get(SEPOLIA)
    assert record is not None
    assert (record.owner, record.fee_recipient, record.platform_fee_bps) == (deployer, deployer, 25)
    assert record.escrow in deployed.out and record.reputation in deployed.out
    assert not registry.pending_path.exists()
    assert w3.eth.get_transaction_count(deployer) == 1  # the escrow, which created its Reputation

    # Re-running says so and sends nothing.
    nonce = w3.eth.get_transaction_count(deployer)
    again = workspace.run("deploy.py", *url)
    assert again.code == 0 and f"already deployed on chain {SEPOLIA} at {record.escrow}" in again.out
    assert "nothing to do; --force deploys a new pair" in again.out  # the words and exit code of `p2pescrow deploy`
    assert w3.eth.get_transaction_count(deployer) == nonce
    assert registry.get(SEPOLIA) == record

    verified = workspace.run("verify_deployment.py", *url)
    assert verified.code == 0, verified.text
    assert "all checks passed" in verified.out and "FAIL" not in verified.out
    assert "contract version" in verified.out and "none listed" in verified.out

    # Tamper: the owner's key changes the fee behind the registry's back.
    escrow = w3.eth.contract(address=record.escrow, abi=load_artifact("P2PEscrow")["abi"])
    key = accounts.load("deployer", PASSWORD).key
    send_as(w3, key, record.escrow, escrow.encode_abi("setPlatformFee", [99]))
    tampered = workspace.run("verify_deployment.py", *url)
    assert tampered.code == 1, tampered.text
    assert any("FAIL" in line and "platform fee" in line and "99, expected 25" in line
               for line in tampered.out.splitlines())

    # Export for dApps: one JSON per chain.
    out = workspace.home / "export.json"
    exported = workspace.run("export_abi.py", *url, "--out", str(out))
    assert exported.code == 0, exported.text
    document = json.loads(out.read_text())
    assert document["chainId"] == SEPOLIA and document["contractVersion"] == 2
    assert document["contracts"]["P2PEscrow"]["address"] == record.escrow
    assert document["contracts"]["Reputation"]["address"] == record.reputation
    assert document["contracts"]["P2PEscrow"]["abi"] == load_artifact("P2PEscrow")["abi"]
    assert document["eip712"]["types"]["Offer"] == OFFER_FIELDS
    assert document["eip712"]["domain"] == {"name": DOMAIN_NAME, "version": "2", "chainId": SEPOLIA,
                                            "verifyingContract": record.escrow}
    assert any(e["name"] == "WrongState" for e in document["errors"])

    # Owner scripts: each dry run changes nothing, then the real run does.
    dry = workspace.run("set_fee.py", *url, "--fee-bps", "25", "--dry-run")
    assert dry.code == 0 and "99 -> 25" in dry.out and "nothing sent" in dry.out
    assert escrow.functions.platformFeeBps().call() == 99
    assert workspace.run("set_fee.py", *url, "--fee-bps", "25").code == 0
    assert escrow.functions.platformFeeBps().call() == 25
    assert workspace.run("verify_deployment.py", *url).code == 0

    dry = workspace.run("pause.py", "pause", *url, "--dry-run")
    assert dry.code == 0 and "False -> True" in dry.out and not escrow.functions.paused().call()
    assert workspace.run("pause.py", "pause", *url).code == 0
    assert escrow.functions.paused().call()
    assert workspace.run("pause.py", "unpause", *url).code == 0
    assert not escrow.functions.paused().call()

    # Only the owner may: the dry run says it would be refused, with the contract's error.
    not_owner = workspace.run("set_fee.py", *url, "--fee-bps", "40", "--dry-run", "--account", "newowner")
    assert not_owner.code == 3 and "OwnableUnauthorizedAccount" in not_owner.out

    # Reputation assets: none listed after deploy; the owner lists ETH with a minimum, dry run first.
    dry = workspace.run("list_reputation_asset.py", "ETH", "--min-amount", "0.01", *url, "--dry-run")
    assert dry.code == 0, dry.text
    assert "reputation asset ETH: not listed -> listed, minimum 0.01 ETH" in dry.out and "nothing sent" in dry.out
    assert escrow.functions.reputationAssets("0x" + "00" * 20).call() == [False, 0]
    not_owner = workspace.run("list_reputation_asset.py", "ETH", "--min-amount", "0.01", *url, "--dry-run",
                              "--account", "newowner")
    assert not_owner.code == 3 and "OwnableUnauthorizedAccount" in not_owner.out
    assert workspace.run("list_reputation_asset.py", "ETH", "--min-amount", "0.01", *url).code == 0
    assert escrow.functions.reputationAssets("0x" + "00" * 20).call() == [True, 10**16]
    shown = workspace.run("list_reputation_asset.py", *url)
    assert shown.code == 0 and "ETH" in shown.out and "listed, minimum 0.01 ETH" in shown.out, shown.text
    verified = workspace.run("verify_deployment.py", *url)
    assert verified.code == 0 and "reputation asset ETH" in verified.out and "listed, minimum" in verified.out

    dry = workspace.run("transfer_ownership.py", "transfer", new_owner, *url, "--dry-run")
    assert dry.code == 0 and dry.out.count(f"-> {new_owner}") == 1  # the escrow: Reputation has no owner
    assert escrow.functions.pendingOwner().call() == "0x" + "00" * 20
    assert workspace.run("transfer_ownership.py", "transfer", new_owner, *url).code == 0
    assert escrow.functions.pendingOwner().call() == new_owner
    assert escrow.functions.owner().call() == deployer  # nothing changes before the accept
    dry = workspace.run("transfer_ownership.py", "accept", *url, "--account", "newowner", "--dry-run")
    assert dry.code == 0 and "acceptOwnership" in dry.out and escrow.functions.owner().call() == deployer
    accepted = workspace.run("transfer_ownership.py", "accept", *url, "--account", "newowner")
    assert accepted.code == 0, accepted.text
    assert escrow.functions.owner().call() == new_owner
    assert registry.get(SEPOLIA).owner == new_owner  # type: ignore[union-attr]
    assert workspace.run("verify_deployment.py", *url).code == 0

    # A trader's SDK client finds the contracts through the registry and trades.
    buyer, seller = Account.create(), Account.create()
    fund(w3, node, buyer.address)
    client = EscrowClient.connect(node.url, buyer, expected_chain_id=SEPOLIA)
    assert client.deployment.escrow == record.escrow
    trade = client.create(seller=seller.address, amount="1.5")
    client.release(trade.trade_id)
    assert client.trade(trade.trade_id).state is TradeState.COMPLETED
    assert w3.eth.get_balance(seller.address) == 15 * ETHER // 10 * (10_000 - 25) // 10_000
