"""A narrated run of real trades on an embedded chain: `make demo`.

Deploys the shipped artifacts (p2pescrow/artifacts/) to an in-process py-evm chain and runs four
trades between two peers and an arbiter: a happy trade, a partial delivery, a dispute ruled with a
split, and a trade that times out. Every figure printed is read back from the chain.

The CLI (`p2pescrow demo`) will take over this job; until then this script is the demo.
"""

from __future__ import annotations

import sys
import time
from decimal import Decimal
from typing import Any

from eth_tester import EthereumTester, PyEVMBackend
from web3 import EthereumTesterProvider, Web3

from p2pescrow.build import load_artifact

ETH = "0x" + "00" * 20
FEE_BPS = 25
FLAG_TIMEOUT_RELEASES = 1
FLAG_RECORD_REPUTATION = 2
STATES = ["None", "AwaitingFunding", "Funded", "Disputed", "Completed", "Refunded", "Settled",
          "Resolved", "Cancelled"]


def eth(wei: int) -> str:
    return f"{Decimal(wei) / Decimal(10**18):,.6f} ETH"


class Demo:
    def __init__(self) -> None:
        self.tester = EthereumTester(PyEVMBackend())
        self.w3 = Web3(EthereumTesterProvider(self.tester))
        accounts = self.w3.eth.accounts
        self.owner, self.alice, self.bob, self.carol, self.fees = (
            accounts[0], accounts[1], accounts[2], accounts[3], accounts[9])
        self.names = {self.alice: "Alice (buyer)", self.bob: "Bob (seller)", self.carol: "Carol (arbiter)",
                      self.fees: "fee recipient"}
        self.salt = 0

    def send(self, fn: Any, sender: str, value: int = 0) -> dict[str, Any]:
        receipt = self.w3.eth.wait_for_transaction_receipt(fn.transact({"from": sender, "value": value}))
        if receipt["status"] != 1:
            raise SystemExit(f"transaction {receipt['transactionHash'].hex()} reverted")
        return receipt

    def deploy(self, name: str, *args: Any) -> Any:
        artifact = load_artifact(name)
        factory = self.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
        receipt = self.send(factory.constructor(*args), self.owner)
        print(f"  {name:<11} {receipt['contractAddress']}  ({receipt['gasUsed']:,} gas)")
        return self.w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])

    def terms(self, **overrides: Any) -> dict[str, Any]:
        self.salt += 1
        terms = {"buyer": self.alice, "seller": self.bob, "token": ETH, "arbiter": self.carol,
                 "amount": 10**18, "arbiterFeeBps": 200, "platformFeeBps": FEE_BPS,
                 "fundingWindow": 3600, "releaseWindow": 3 * 86400, "arbitrationWindow": 7 * 86400,
                 "flags": FLAG_RECORD_REPUTATION, "termsHash": Web3.keccak(text=f"terms #{self.salt}"),
                 "salt": self.salt}
        terms.update(overrides)
        return terms

    def step(self, what: str, fn: Any, sender: str, value: int = 0) -> dict[str, Any]:
        before = {a: self.w3.eth.get_balance(a) for a in self.names}
        receipt = self.send(fn, sender, value)
        gas_cost = receipt["gasUsed"] * receipt["effectiveGasPrice"]
        moves = []
        for account, name in self.names.items():
            delta = self.w3.eth.get_balance(account) - before[account]
            if account == sender:
                delta += gas_cost
            if delta:
                moves.append(f"{name} {'+' if delta > 0 else ''}{eth(delta)}")
        print(f"  {what:<44} {receipt['gasUsed']:>7,} gas   {'; '.join(moves)}")
        return receipt

    def state(self, terms: dict[str, Any]) -> str:
        trade_id = self.escrow.functions.tradeId(terms).call()
        return STATES[self.escrow.functions.escrowOf(trade_id).call()[2]]

    def run(self) -> None:
        started = time.perf_counter()
        print("p2pescrow demo: real contracts on an embedded py-evm chain\n")
        print("Deploying (platform fee 0.25%):")
        self.reputation = self.deploy("Reputation", self.owner)
        self.escrow = self.deploy("P2PEscrow", self.owner, self.fees, FEE_BPS, self.reputation.address)
        self.send(self.reputation.functions.setEscrow(self.escrow.address, True), self.owner)
        e = self.escrow.functions

        print("\n1. A happy trade: Alice buys Bob's camera for 1 ETH.")
        t = self.terms()
        self.step("Alice creates and funds the escrow", e.createAndFund(t), self.alice, t["amount"])
        self.step("Bob ships; Alice releases the payment", e.release(t, t["amount"]), self.alice)
        self.step("Alice rates Bob 5/5", e.rate(t, 5, b"\0" * 32), self.alice)
        print(f"  -> trade is {self.state(t)}")

        print("\n2. Partial delivery: 2 ETH for two parcels, released one at a time.")
        t = self.terms(amount=2 * 10**18)
        self.step("Alice creates and funds", e.createAndFund(t), self.alice, t["amount"])
        self.step("first parcel arrives: Alice releases 1.2 ETH", e.release(t, 12 * 10**17), self.alice)
        self.step("second parcel is lost: Bob refunds 0.8 ETH", e.refund(t, 8 * 10**17), self.bob)
        print(f"  -> trade is {self.state(t)}")

        print("\n3. A dispute: the item arrives damaged; Carol rules 60% back to Alice.")
        t = self.terms()
        self.step("Alice creates and funds", e.createAndFund(t), self.alice, t["amount"])
        self.step("Alice opens a dispute", e.dispute(t), self.alice)
        self.step("Carol rules 60/40 (her fee: 2%)", e.rule(t, 6000), self.carol)
        print(f"  -> trade is {self.state(t)}")

        print("\n4. A timeout: Bob marks it delivered; Alice goes silent; anyone may settle it.")
        t = self.terms(flags=FLAG_RECORD_REPUTATION)  # timeout would refund, but delivery is marked
        self.step("Alice creates and funds", e.createAndFund(t), self.alice, t["amount"])
        self.step("Bob marks the trade delivered", e.markDelivered(t), self.bob)
        deadline = self.escrow.functions.escrowOf(self.escrow.functions.tradeId(t).call()).call()[1]
        self.tester.time_travel(deadline)
        print("  ... three days pass ...")
        self.step("anyone (here Carol) triggers the timeout", e.timeout(t), self.carol)
        print(f"  -> trade is {self.state(t)}")

        fees = self.escrow.functions.feesAccrued(ETH).call()
        self.step("fees are paid to the fee recipient", e.withdrawFees(ETH), self.owner)
        print("\nReputation after four trades:")
        labels = ("completed as buyer", "completed as seller", "settled", "refunded", "disputes won",
                  "disputes lost", "disputes split", "ratings")
        for account in (self.alice, self.bob):
            record, rating_sum = self.reputation.functions.recordOf(account).call()
            parts = [f"{label} {n}" for label, n in zip(labels, record) if n]
            average = f", average rating {rating_sum / record[7]:.1f}" if record[7] else ""
            print(f"  {self.names[account]:<14} {', '.join(parts)}{average}")
        print(f"\nPlatform fees collected: {eth(fees)}. Escrow now holds "
              f"{eth(self.w3.eth.get_balance(self.escrow.address))}.")
        print(f"Done in {time.perf_counter() - started:.1f} s.")


def main() -> int:
    Demo().run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
