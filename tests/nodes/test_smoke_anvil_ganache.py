"""Lifecycle smoke test of the shipped artifacts on real Anvil and Ganache processes.

Each node is started by p2pescrow.node.process on a free port (skipped when its binary is missing), gets
P2PEscrow from p2pescrow/artifacts (which creates its Reputation) and a TestToken, and runs: an ETH
happy path, an ERC-20 happy path, deposits from both sides with the seller's acceptance, a dispute
with a ruling, a timeout after time travel (evm_increaseTime + evm_mine), and a custom-error revert
decoded to WrongState. Transactions are web3 7.16 defaults
(EIP-1559, node-managed accounts), which both nodes accept; Ganache 7.9 also takes legacy ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from support.escrow import (
    ETH,
    FLAG_TIMEOUT_RELEASES,
    PLATFORM_FEE_BPS,
    STATE,
    fee_up,
    split,
    trade_id,
)
from support.reverts import decode_revert, revert_data, reverts
from web3 import Web3
from web3.contract import Contract

from p2pescrow.build import load_artifact
from p2pescrow.node.process import Node, NodeBinaryNotFound, find_binary, start_node

AMOUNT = 10**18
DAY = 86_400


@dataclass
class Env:
    node: Node
    w3: Web3
    escrow: Contract
    reputation: Contract
    token: Contract
    owner: str
    buyer: str
    seller: str
    arbiter: str
    stranger: str
    fee_recipient: str
    salt: int = 0

    def send(self, fn: Any, sender: str, value: int = 0) -> dict[str, Any]:
        tx_hash = fn.transact({"from": sender, "value": value})
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash)
        assert receipt["status"] == 1, f"{fn.fn_name} failed on {self.node.kind}"
        return dict(receipt)

    def terms(self, **overrides: Any) -> dict[str, Any]:
        self.salt += 1
        terms = {
            "buyer": self.buyer, "seller": self.seller, "token": ETH, "arbiter": self.arbiter,
            "amount": AMOUNT, "buyerDeposit": 0, "sellerDeposit": 0, "arbiterFeeBps": 100,
            "platformFeeBps": PLATFORM_FEE_BPS,
            "fundingWindow": 3600, "releaseWindow": DAY, "arbitrationWindow": DAY, "flags": 0,
            "termsHash": b"\x11" * 32, "salt": self.salt,
        }
        terms.update(overrides)
        return terms

    def state(self, terms: dict[str, Any]) -> int:
        return int(self.escrow.functions.escrowOf(trade_id(terms)).call()[2])

    def held(self, terms: dict[str, Any]) -> int:
        return int(self.escrow.functions.escrowOf(trade_id(terms)).call()[0])

    def eth(self, account: str) -> int:
        return int(self.w3.eth.get_balance(account))

    def tok(self, account: str) -> int:
        return int(self.token.functions.balanceOf(account).call())


def _gas_cost(receipt: dict[str, Any]) -> int:
    return int(receipt["gasUsed"]) * int(receipt["effectiveGasPrice"])


def _deploy(w3: Web3, name: str, *args: Any, sender: str, test: bool = False) -> Contract:
    artifact = load_artifact(name, test=test)
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    tx_hash = factory.constructor(*args).transact({"from": sender})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
    assert receipt["status"] == 1, f"deploying {name} failed"
    return w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])


@pytest.fixture(scope="module", params=[pytest.param("anvil", marks=pytest.mark.anvil),
                                        pytest.param("ganache", marks=pytest.mark.ganache)])
def env(request: pytest.FixtureRequest) -> Iterator[Env]:
    kind = request.param
    try:
        find_binary(kind)
    except NodeBinaryNotFound as exc:
        pytest.skip(str(exc))
    with start_node(kind) as node:
        w3 = Web3(Web3.HTTPProvider(node.url, request_kwargs={"timeout": 60}))
        assert w3.eth.chain_id == {"anvil": 31337, "ganache": 1337}[kind]
        a = [account.address for account in node.accounts]
        owner, buyer, seller, arbiter, stranger, fee_recipient = a[0], a[1], a[2], a[3], a[4], a[9]
        assert w3.eth.get_balance(buyer) >= 1_000 * 10**18
        escrow = _deploy(w3, "P2PEscrow", owner, fee_recipient, PLATFORM_FEE_BPS, sender=owner)
        reputation = w3.eth.contract(address=escrow.functions.reputation().call(),
                                     abi=load_artifact("Reputation")["abi"])
        assert reputation.functions.escrow().call() == escrow.address
        token = _deploy(w3, "TestToken", "Test Dollar", "TUSD", 18, sender=owner, test=True)
        e = Env(node, w3, escrow, reputation, token, owner, buyer, seller, arbiter, stranger,
                fee_recipient)
        e.send(token.functions.mint(buyer, 10**24), owner)
        yield e


def test_eth_happy_path(env: Env) -> None:
    t = env.terms()
    f = env.escrow.functions
    buyer0, seller0, escrow0 = env.eth(env.buyer), env.eth(env.seller), env.eth(env.escrow.address)
    fees0 = f.feesAccrued(ETH).call()
    funded = env.send(f.createAndFund(t), env.buyer, AMOUNT)
    assert env.state(t) == STATE["Funded"]
    assert env.eth(env.escrow.address) == escrow0 + AMOUNT
    released = env.send(f.release(t, AMOUNT), env.buyer)
    fee = fee_up(AMOUNT, PLATFORM_FEE_BPS)
    assert env.state(t) == STATE["Completed"]
    assert env.eth(env.seller) == seller0 + AMOUNT - fee
    assert env.eth(env.buyer) == buyer0 - AMOUNT - _gas_cost(funded) - _gas_cost(released)
    assert env.eth(env.escrow.address) == escrow0 + fee
    assert env.held(t) == fee and f.feesAccrued(ETH).call() == fees0  # the last payout's fee stays in the slot


def test_erc20_happy_path(env: Env) -> None:
    t = env.terms(token=env.token.address)
    f = env.escrow.functions
    buyer0, seller0 = env.tok(env.buyer), env.tok(env.seller)
    env.send(env.token.functions.approve(env.escrow.address, AMOUNT), env.buyer)
    env.send(f.createAndFund(t), env.buyer)
    assert env.tok(env.escrow.address) == AMOUNT
    env.send(f.release(t, AMOUNT), env.buyer)
    fee = fee_up(AMOUNT, PLATFORM_FEE_BPS)
    assert env.state(t) == STATE["Completed"]
    assert (env.tok(env.buyer), env.tok(env.seller)) == (buyer0 - AMOUNT, seller0 + AMOUNT - fee)
    assert env.tok(env.escrow.address) == fee == env.held(t)
    env.send(f.sweepFees(env.token.address, [t]), env.stranger)  # anyone may sweep, to the fee recipient
    assert (env.tok(env.escrow.address), env.tok(env.fee_recipient), env.held(t)) == (0, fee, 0)


def test_deposits_from_both_sides_and_the_sellers_acceptance(env: Env) -> None:
    deposit_b, deposit_s = AMOUNT // 10, AMOUNT // 5
    t = env.terms(buyerDeposit=deposit_b, sellerDeposit=deposit_s, arbiter=ETH, arbiterFeeBps=0)
    f = env.escrow.functions
    env.send(f.depositBond(ETH, deposit_s), env.seller, deposit_s)
    env.send(f.createAndFund(t), env.buyer, AMOUNT + deposit_b)
    assert env.state(t) == STATE["AwaitingDeposit"]
    env.send(f.accept(t), env.seller)
    assert env.state(t) == STATE["Funded"] and f.bonds(env.seller, ETH).call() == 0
    buyer0, seller0 = env.eth(env.buyer), env.eth(env.seller)
    released = env.send(f.release(t, AMOUNT), env.buyer)
    fee = fee_up(AMOUNT, PLATFORM_FEE_BPS)
    assert env.eth(env.buyer) == buyer0 + deposit_b - _gas_cost(released)  # both deposits go back to wallets
    assert env.eth(env.seller) == seller0 + AMOUNT - fee + deposit_s


def test_dispute_with_ruling(env: Env) -> None:
    t = env.terms()
    f = env.escrow.functions
    env.send(f.createAndFund(t), env.buyer, AMOUNT)
    env.send(f.dispute(t), env.seller)
    assert env.state(t) == STATE["Disputed"]
    buyer0, seller0, arbiter0 = env.eth(env.buyer), env.eth(env.seller), env.eth(env.arbiter)
    ruled = env.send(f.rule(t, 7_000), env.arbiter)
    want = split(AMOUNT, 7_000, 100, PLATFORM_FEE_BPS)
    assert env.state(t) == STATE["Resolved"]
    assert env.eth(env.buyer) == buyer0 + want["toBuyer"]
    assert env.eth(env.seller) == seller0 + want["toSeller"]
    assert env.eth(env.arbiter) == arbiter0 + want["arbiterFee"] - _gas_cost(ruled)


def test_timeout_after_time_travel(env: Env) -> None:
    t = env.terms(flags=FLAG_TIMEOUT_RELEASES)
    f = env.escrow.functions
    env.send(f.createAndFund(t), env.buyer, AMOUNT)
    with reverts("DeadlineNotReached"):
        f.timeout(t).call({"from": env.stranger})
    env.w3.provider.make_request("evm_increaseTime", [DAY])
    env.w3.provider.make_request("evm_mine", [])
    seller0 = env.eth(env.seller)
    env.send(f.timeout(t), env.stranger)
    assert env.state(t) == STATE["Completed"]
    assert env.eth(env.seller) == seller0 + AMOUNT - fee_up(AMOUNT, PLATFORM_FEE_BPS)


def _revert_data(exc: BaseException) -> bytes:
    # Ganache reports a reverted gas estimate as ContractLogicError whose data is a dict with the
    # revert data under "result" (support.reverts knows "data" only); everything else goes there.
    data = getattr(exc, "data", None)
    if isinstance(data, dict) and isinstance(data.get("result"), str):
        return bytes.fromhex(data["result"][2:])
    return revert_data(exc)


def test_custom_error_is_decoded(env: Env) -> None:
    t = env.terms()
    f = env.escrow.functions
    env.send(f.createAndFund(t), env.buyer, AMOUNT)
    env.send(f.release(t, AMOUNT), env.buyer)
    # eth_call ...
    with reverts("WrongState", id=trade_id(t), state=STATE["Completed"]):
        f.release(t, 1).call({"from": env.buyer})
    # ... and a transaction (web3 estimates gas first, which reverts).
    with pytest.raises(Exception) as caught:  # each node raises its own type
        f.release(t, 1).transact({"from": env.buyer})
    got = decode_revert(_revert_data(caught.value))
    assert (got.name, got.args["state"]) == ("WrongState", STATE["Completed"])
