"""A narrated run of real trades on an embedded chain: ``p2pescrow demo`` (and ``make demo``).

Everything goes through the SDK (:class:`~p2pescrow.clients.sync.EscrowClient` on
:meth:`~p2pescrow.clients.sync.EscrowClient.embedded`): the shipped contracts are deployed to an in-process
py-evm chain, and two peers (Alice and Bob) and an arbiter (Carol) run a happy trade, a dispute
ruled with a split, a settlement and a timeout; then Dave, a seller with a fresh key, signs an offer
that Erin fills. Both rate, and the final reputation table closes the run. Every figure printed is
read back from the chain. Needs the ``embedded`` extra (eth-tester); takes a few seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from eth_account import Account

from ..clients.sync import EscrowClient, TradeResult
from ..core.offers import SignedOffer
from ..transport.sync import Call, TxResult
from .render import eth, table

PLATFORM_FEE_BPS = 25
DAY = 86_400


class Demo:
    """The cast, the chain, and a narrator that prints each step with its gas and money moved."""

    def __init__(self, echo: Callable[[str], None]) -> None:
        self.echo = echo
        self.base = EscrowClient.embedded(platform_fee_bps=PLATFORM_FEE_BPS)
        dev = self.base.dev_accounts
        self.fees = self.base.deployment.fee_recipient
        self.alice, self.bob, self.carol = (self.base.as_account(a) for a in dev[1:4])
        # Dave and Erin hold their own keys (LocalAccounts): a seller must sign offers locally.
        self.dave = self.base.as_account(Account.create())
        self.erin = self.base.as_account(Account.create())
        self.names = {self.alice.address: "Alice", self.bob.address: "Bob", self.carol.address: "Carol",
                      self.dave.address: "Dave", self.erin.address: "Erin", self.fees: "Owner (fees)"}

    def say(self, text: str = "") -> None:
        self.echo(text)

    def step(self, what: str, actor: EscrowClient, action: Callable[[], TxResult | TradeResult]) -> Any:
        """Run one SDK call and print its gas and who received or paid what (gas aside)."""
        before = {a: self.base.balance(account=a) for a in self.names}
        result = action()
        tx = result.tx if isinstance(result, TradeResult) else result
        moves = []
        for account, name in self.names.items():
            delta = self.base.balance(account=account) - before[account]
            if account == actor.address:
                delta += tx.fee
            if delta:
                moves.append(f"{name} {'+' if delta > 0 else '-'}{eth(abs(delta))}")
        self.say(f"  {what:<48} {tx.gas_used:>7,} gas   {'; '.join(moves)}")
        return result

    def state(self, trade_id: str) -> None:
        trade = self.base.trade(trade_id)
        self.say(f"  -> trade {trade_id[:10]} is {trade.state.name}, holding {trade.held_human:f} ETH")

    # -- the story -----------------------------------------------------------------------------------
    def run(self) -> None:
        b = self.base
        self.say("p2pescrow demo: real contracts on an embedded py-evm chain, driven through the SDK\n")
        self.say(f"Deployed escrow {b.deployment.escrow} and reputation {b.deployment.reputation}")
        self.say(f"(platform fee {PLATFORM_FEE_BPS / 100:g}%, paid to the fee recipient "
                 f"{self.fees[:10]}).")

        self.say("\n1. A happy trade: Alice buys Bob's camera for 1 ETH; Carol would arbitrate (2% fee).")
        trade = self.step("Alice creates and funds the escrow", self.alice, lambda: self.alice.create(
            seller=self.bob.address, amount="1", arbiter=self.carol.address, arbiter_fee_bps=200,
            terms="camera as pictured, shipped within 2 days"))
        t1 = trade.trade_id
        self.step("Bob ships and marks it delivered", self.bob, lambda: self.bob.mark_delivered(t1))
        self.step("Alice receives it and releases the payment", self.alice, lambda: self.alice.release(t1))
        self.step("Alice rates Bob 5/5", self.alice, lambda: self.alice.rate(t1, 5, "great camera"))
        self.step("Bob rates Alice 5/5", self.bob, lambda: self.bob.rate(t1, 5))
        self.state(t1)

        self.say("\n2. A dispute: the lamp arrives broken; Carol rules 60% back to Alice.")
        t2 = self.step("Alice creates and funds (1 ETH)", self.alice, lambda: self.alice.create(
            seller=self.bob.address, amount="1", arbiter=self.carol.address, arbiter_fee_bps=200,
            terms="vintage lamp, working")).trade_id
        self.step("Alice opens a dispute", self.alice, lambda: self.alice.dispute(t2))
        self.step("Alice attaches a photo as evidence", self.alice,
                  lambda: self.alice.submit_evidence(t2, "ipfs://bafy.../broken-lamp.jpg"))
        self.step("Carol rules 60/40 (her fee first: 2%)", self.carol, lambda: self.carol.rule(t2, 6_000))
        self.state(t2)

        self.say("\n3. A settlement: one of two parcels is lost; Bob offers 40% back and Alice agrees.")
        t3 = self.step("Alice creates and funds (2 ETH)", self.alice, lambda: self.alice.create(
            seller=self.bob.address, amount="2", arbiter=self.carol.address, arbiter_fee_bps=200)).trade_id
        self.step("Bob proposes 40% to Alice", self.bob, lambda: self.bob.propose_settlement(t3, 4_000))
        self.step("Alice accepts: paid out at once, no arbiter fee", self.alice,
                  lambda: self.alice.accept_settlement(t3))
        self.step("Alice rates Bob 4/5", self.alice, lambda: self.alice.rate(t3, 4))
        self.state(t3)

        self.say("\n4. A timeout: Bob delivers, Alice goes silent; anyone may end it after the window.")
        t4 = self.step("Alice creates and funds (0.5 ETH, 3-day window)", self.alice, lambda: self.alice.create(
            seller=self.bob.address, amount="0.5", release_window=3 * DAY)).trade_id
        self.step("Bob marks it delivered (a fresh 3-day window)", self.bob, lambda: self.bob.mark_delivered(t4))
        b.sleep(3 * DAY + 1)
        self.say("  ... three days pass without a word from Alice ...")
        self.step("Carol (anyone) applies the timeout: Bob is paid", self.carol, lambda: self.carol.timeout(t4))
        self.state(t4)

        self.say("\n5. A signed offer: Dave sells a bike without a transaction; Erin fills it.")
        for who in (self.dave, self.erin):
            self.step(f"{self.names[who.address]} (a fresh key) gets 5 ETH from a dev account", b,
                      lambda who=who: b.tx.send(Call(who.address, "0x", 5 * 10**18, "fund a demo account")))
        signed = self.dave.create_offer(amount="0.8", terms="road bike, size 56", expires_in=DAY)
        document = signed.to_json()
        self.say(f"  Dave signs an offer for 0.8 ETH: a {len(document)}-byte JSON document, no gas spent")
        received = SignedOffer.from_json(document)
        self.erin.verify_offer(received)
        self.say("  Erin checks it: right chain and contract, signed by Dave, not expired, nonce unused")
        t5 = self.step("Erin fills it: trade created and funded at once", self.erin,
                       lambda: self.erin.fill_offer(received)).trade_id
        self.step("the bike arrives: Erin releases", self.erin, lambda: self.erin.release(t5))
        self.step("Erin rates Dave 5/5", self.erin, lambda: self.erin.rate(t5, 5))
        self.step("Dave rates Erin 4/5", self.dave, lambda: self.dave.rate(t5, 4))
        self.state(t5)

        fees = self.step("platform fees go to the fee recipient", b, lambda: b.withdraw_fees())
        collected = int(fees.event("FeesWithdrawn").args["amount"])

        self.say("\nReputation after five trades:")
        rows = []
        for client in (self.alice, self.bob, self.dave, self.erin):
            r = b.reputation(client.address)
            rows.append((self.names[client.address], str(r.trades), str(r.completed_as_buyer),
                         str(r.completed_as_seller), str(r.settled), str(r.refunded),
                         f"{r.disputes_won}/{r.disputes_lost}/{r.disputes_split}",
                         f"{r.average_rating} ({r.rating_count})" if r.rating_count else "-", f"{r.score}/100"))
        header = ("", "trades", "bought", "sold", "settled", "refunded", "won/lost/split", "rating", "score")
        for line in table(rows, header).splitlines():
            self.say(f"  {line}")
        escrow_balance = b.balance(account=b.deployment.escrow)
        self.say(f"\nPlatform fees collected: {eth(collected)}. The escrow now holds {eth(escrow_balance)}.")
        self.say("Gas above is per transaction, and these are first trades that record reputation: a write to an "
                 "empty\nstorage slot (a party's first reputation record, the platform's first fee) costs 20,000 "
                 "gas, a later one\n2,900. README's Gas table adds up whole paths (create, then release) on a "
                 "second trade without\nreputation, which is why Alice's first release here costs more than "
                 "that table's happy path.")


def run(echo: Callable[[str], None] = print) -> float:
    """Run the demo, printing through ``echo``; returns the seconds it took."""
    started = time.perf_counter()
    Demo(echo).run()
    elapsed = time.perf_counter() - started
    echo(f"Done in {elapsed:.1f} s.")
    return elapsed


if __name__ == "__main__":
    run()
