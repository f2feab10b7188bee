"""The embedded chain the contract suite runs on: eth-tester's py-evm backend behind web3.

One chain per test session; every test runs inside a snapshot that is reverted afterwards, so
tests are isolated and deployment happens once.
"""

from __future__ import annotations

from typing import Any

from eth_tester import EthereumTester, PyEVMBackend
from web3 import EthereumTesterProvider, Web3
from web3.contract import Contract

from p2pescrow.build import load_artifact


class Chain:
    """An in-process py-evm chain with ten funded, node-managed accounts and control over time."""

    def __init__(self) -> None:
        self.tester = EthereumTester(PyEVMBackend())
        self.w3 = Web3(EthereumTesterProvider(self.tester))
        self.accounts: list[str] = list(self.w3.eth.accounts)

    # -- time ---------------------------------------------------------------------------------
    def now(self) -> int:
        """Timestamp of the latest block."""
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def next_timestamp(self) -> int:
        """Timestamp the next block will carry: at least the wall clock, which keeps running while
        snapshots take the latest block back in time (a long session leaves it far behind)."""
        return int(self.tester.get_block_by_number("pending")["timestamp"])

    def set_next_timestamp(self, timestamp: int) -> None:
        """Make the next transaction's block carry exactly `timestamp` (deadline tests need it)."""
        pending = self.next_timestamp()
        if timestamp < pending:
            raise ValueError(f"cannot go back in time: next block is already at {pending}")
        if timestamp > pending:
            # time_travel mines a block one second before the target, leaving the pending block at it.
            self.tester.time_travel(timestamp)
        assert int(self.tester.get_block_by_number("pending")["timestamp"]) == timestamp

    def sleep(self, seconds: int) -> None:
        """Let `seconds` pass before the next transaction."""
        self.set_next_timestamp(self.now() + seconds)

    # -- state --------------------------------------------------------------------------------
    def snapshot(self) -> Any:
        return self.tester.take_snapshot()

    def revert(self, snapshot: Any) -> None:
        self.tester.revert_to_snapshot(snapshot)

    # -- contracts ----------------------------------------------------------------------------
    def deploy(self, name: str, *args: Any, sender: str | None = None, test: bool = False,
               value: int = 0) -> Contract:
        artifact = load_artifact(name, test=test)
        factory = self.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
        tx = factory.constructor(*args).transact({"from": sender or self.accounts[0], "value": value})
        receipt = self.w3.eth.wait_for_transaction_receipt(tx)
        assert receipt["status"] == 1, f"deploying {name} failed"
        return self.w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])

    def at(self, name: str, address: str, *, test: bool = False) -> Contract:
        return self.w3.eth.contract(address=address, abi=load_artifact(name, test=test)["abi"])

    def balance(self, address: str) -> int:
        return int(self.w3.eth.get_balance(address))
