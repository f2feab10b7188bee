"""Helpers for the attack, deadline and stateful suites: hostile parties, money tracking, offers.

* :class:`Party` wraps a contract that acts as a trade party through its ``execute`` forwarder
  (``MaliciousParty`` or ``LeanReentrant``) and arms its re-entry.
* :class:`Money` measures what accounts really received in one asset: balance change + credits
  change + the gas they paid (so an EOA that sent a transaction is measured exactly).
* :func:`sign_offer` signs an EIP-712 offer with an eth-tester account's key.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from dataclasses import dataclass, field
from typing import Any

from eth_account import Account
from web3.contract import Contract

from p2pescrow.build import load_artifact

from .escrow import ETH, Deployment
from .offers import _typed_offer
from .reverts import Revert, decode_revert

# MaliciousParty.Mode
MODE = {"Accept": 0, "Revert": 1, "Reenter": 2, "BurnGas": 3, "ReturnBomb": 4}
OPERATOR_INDEX = 5  # the EOA that drives the hostile contracts (no role in any trade)


TX_GAS = 5_000_000


class FastDeployment(Deployment):
    """The same deployment, whose `send` skips web3's gas estimation (a ~15-step binary search over
    py-evm, most of a test's time): it simulates the call on the pending block (so a revert raises
    with its data, at the timestamp the transaction would get, and nothing is mined), then sends it
    with a fixed gas limit. An explicit `gas` keeps the plain behaviour."""

    def send(self, fn: Any, sender: str, value: int = 0, gas: int | None = None) -> dict[str, Any]:
        if gas is not None:
            return super().send(fn, sender, value, gas)
        tx = {"from": sender, "value": value}
        fn.call(tx, block_identifier="pending")
        receipt = self.chain.w3.eth.wait_for_transaction_receipt(fn.transact({**tx, "gas": TX_GAS}))
        assert receipt["status"] == 1
        return receipt


def fast(d: Deployment) -> FastDeployment:
    """`d` with a faster `send` (use as a fixture override: ``def d(d): return fast(d)``)."""
    return FastDeployment(**{f.name: getattr(d, f.name) for f in dataclasses.fields(d)})


def calldata(d: Deployment, fn_name: str, *args: Any) -> bytes:
    """ABI-encoded call of escrow function `fn_name` (terms may be dicts)."""
    return bytes.fromhex(d.escrow.encode_abi(fn_name, list(args))[2:])


@functools.cache
def test_artifact(name: str) -> dict[str, Any]:
    """A test artifact, loaded once per process (each `load_artifact(test=True)` re-hashes every
    source to check the build is current, which dominates a test that reads balances in a loop)."""
    return load_artifact(name, test=True)


def deploy_test(d: Deployment, name: str, *args: Any, value: int = 0) -> Contract:
    artifact = test_artifact(name)
    w3 = d.chain.w3
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    tx = factory.constructor(*args).transact({"from": operator(d), "value": value, "gas": TX_GAS})
    receipt = w3.eth.wait_for_transaction_receipt(tx)
    assert receipt["status"] == 1, f"deploying {name} failed"
    return w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])


def erc20(d: Deployment, address: str) -> Contract:
    """Any token through the TestToken ABI (balanceOf/approve/transfer/mint: same selectors)."""
    return d.chain.w3.eth.contract(address=address, abi=test_artifact("TestToken")["abi"])


def operator(d: Deployment) -> str:
    return d.chain.accounts[OPERATOR_INDEX]


def send_raw(
    d: Deployment, fn: Any, sender: str, value: int = 0, gas: int | None = None
) -> dict[str, Any]:
    """Like Deployment.send but returns failed receipts too (for gas-limited calls)."""
    tx: dict[str, Any] = {"from": sender, "value": value}
    if gas is not None:
        tx["gas"] = gas
    return d.chain.w3.eth.wait_for_transaction_receipt(fn.transact(tx))


def contract_events(contract: Contract, receipt: dict[str, Any], name: str) -> list[Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [e["args"] for e in getattr(contract.events, name)().process_receipt(receipt)]


@dataclass
class Party:
    """A hostile trade party: a MaliciousParty or LeanReentrant that acts through `execute`."""

    d: Deployment
    contract: Contract
    lean: bool = False

    @property
    def address(self) -> str:
        return self.contract.address

    def call(
        self, fn_name: str, *args: Any, value: int = 0, gas: int | None = None
    ) -> dict[str, Any]:
        """Call escrow.`fn_name`(*args) as this contract (a revert surfaces the escrow's error)."""
        fn = self.contract.functions.execute(
            self.d.escrow.address, calldata(self.d, fn_name, *args)
        )
        return self.d.send(fn, operator(self.d), value=value, gas=gas)

    def set_mode(self, mode: str) -> None:
        assert not self.lean
        self.d.send(self.contract.functions.setMode(MODE[mode]), operator(self.d))

    def approve(self, token: str, amount: int) -> None:
        assert not self.lean
        self.d.send(
            self.contract.functions.approve(token, self.d.escrow.address, amount), operator(self.d)
        )

    def arm(self, fn_name: str, *args: Any) -> None:
        """Re-enter escrow.`fn_name`(*args), as this contract, the next time it is paid."""
        data = calldata(self.d, fn_name, *args)
        if self.lean:
            self.d.send(self.contract.functions.arm(self.d.escrow.address, data), operator(self.d))
        else:
            self.d.send(
                self.contract.functions.setReentry(self.d.escrow.address, data), operator(self.d)
            )
            self.set_mode("Reenter")

    def reentry(self, receipt: dict[str, Any] | None = None) -> tuple[int, bool, Revert | None]:
        """(attempts, succeeded, decoded revert of the re-entrant call or None)."""
        f = self.contract.functions
        attempts, ok = int(f.reentryAttempts().call()), bool(f.reentrySucceeded().call())
        if self.lean:
            assert receipt is not None, "LeanReentrant reports the revert data in an event"
            events = contract_events(self.contract, receipt, "Reentered")
            data = bytes(events[0]["ret"]) if events else b""
        else:
            data = bytes(f.reentryRevertData().call())
        return attempts, ok, (decode_revert(data) if not ok and attempts else None)


def malicious_party(
    d: Deployment, mode: str = "Accept", eth: int = 10 * 10**18, tokens: tuple[Contract, ...] = ()
) -> Party:
    """A MaliciousParty holding `eth` and 10^30 of each of `tokens`, in `mode`."""
    party = Party(d, deploy_test(d, "MaliciousParty"))
    _endow(d, party.address, eth, tokens)
    if mode != "Accept":
        party.set_mode(mode)
    return party


def lean_party(d: Deployment, eth: int = 10 * 10**18) -> Party:
    party = Party(d, deploy_test(d, "LeanReentrant"), lean=True)
    _endow(d, party.address, eth, ())
    return party


def _endow(d: Deployment, address: str, eth: int, tokens: tuple[Contract, ...]) -> None:
    if eth:
        d.chain.w3.eth.wait_for_transaction_receipt(
            d.chain.w3.eth.send_transaction(
                {"from": operator(d), "to": address, "value": eth, "gas": 100_000}
            )
        )
    for token in tokens:
        d.send(token.functions.mint(address, 10**30), d.owner)


def balance_of(d: Deployment, token: str, account: str) -> int:
    if token == ETH:
        return d.chain.balance(account)
    return int(erc20(d, token).functions.balanceOf(account).call())


@dataclass
class Money:
    """What `accounts` received in `token` since construction: balance + credits + gas they paid."""

    d: Deployment
    token: str
    accounts: list[str]
    _start: dict[str, int] = field(default_factory=dict)
    _gas: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._start = {a: self._worth(a) for a in self.accounts}

    def _worth(self, account: str) -> int:
        return balance_of(self.d, self.token, account) + self.credit(account)

    def credit(self, account: str) -> int:
        return int(self.d.escrow.functions.credits(account, self.token).call())

    def paid_gas(self, receipt: dict[str, Any]) -> dict[str, Any]:
        """Note the gas an EOA paid for `receipt` (ETH only); returns the receipt."""
        if self.token == ETH:
            sender = receipt["from"]
            self._gas[sender] = (
                self._gas.get(sender, 0) + receipt["gasUsed"] * receipt["effectiveGasPrice"]
            )
        return receipt

    def gained(self, account: str) -> int:
        return self._worth(account) - self._start[account] + self._gas.get(account, 0)

    def gains(self) -> dict[str, int]:
        return {a: self.gained(a) for a in self.accounts}


# -- signed offers ---------------------------------------------------------------------------------

def private_key(d: Deployment, account: str) -> bytes:
    """The key of one of eth-tester's funded accounts."""
    index = d.chain.accounts.index(account)
    key = d.chain.tester.backend.account_keys[index].to_bytes()
    assert Account.from_key(key).address == account
    return key


def sign_offer(d: Deployment, offer: dict[str, Any], key: bytes) -> bytes:
    """The seller's EIP-712 signature of `offer` for this escrow (domain "P2PEscrow", "2"), with
    an explicit key: the one typed-data encoding of the suite lives in support/offers.py."""
    return bytes(Account.sign_message(_typed_offer(d, offer, None, None), key).signature)
