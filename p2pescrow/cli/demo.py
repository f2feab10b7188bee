"""A narrated run of real trades on an embedded chain: ``p2pescrow demo`` (and ``make demo``).

Everything goes through the SDK (:class:`~p2pescrow.clients.sync.EscrowClient` on
:meth:`~p2pescrow.clients.sync.EscrowClient.embedded`): the shipped contracts are deployed to an in-process
py-evm chain, and two peers (Alice and Bob) and an arbiter (Carol) run a happy trade, a dispute
ruled with a split, a settlement, and a trade with deposits from both sides in which the buyer
vanishes and forfeits hers; then Dave, a seller with a fresh key, signs an offer that Erin fills.
They rate each other, and the final reputation table closes the run. Every figure printed is read
back from the chain. Needs the ``embedded`` extra (eth-tester); takes a few seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from eth_account import Account

from ..clients.sync import EscrowClient, TradeResult
from ..core.offers import SignedOffer
from ..core.trades import Ending, deposits_to, fee_up
from ..transport.sync import Call, TxResult
from .render import eth, held_now, table, unswept_fee

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
        self.say(f"  {what:<56} {tx.gas_used:>7,} gas   {'; '.join(moves)}")
        return result

    def state(self, trade_id: str) -> None:
        trade = self.base.trade(trade_id)
        fee = unswept_fee(trade)
        self.say(f"  -> trade {trade_id[:10]} is {trade.state.name}, holding {eth(held_now(trade))}"
                 + (f" (and its {eth(fee)} platform fee until swept)" if fee else ""))

    # -- the story -----------------------------------------------------------------------------------
    def run(self) -> None:
        b = self.base
        self.say("p2pescrow demo: real contracts on an embedded py-evm chain, driven through the SDK\n")
        self.say(f"Deployed escrow {b.deployment.escrow} and reputation {b.deployment.reputation}")
        self.say(f"(platform fee {PLATFORM_FEE_BPS / 100:g}%, paid to the fee recipient "
                 f"{self.fees[:10]}).")
        self.step("the owner lists ETH as a reputation asset (from 0.1 ETH)", b,
                  lambda: b.set_reputation_asset(None, min_amount="0.1"))
        self.say("  (trades in other assets, or below 0.1 ETH, still work but record no reputation)")

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

        self.say("\n4. Deposits: Alice orders a 0.5 ETH lamp from Bob; each puts up 0.1 ETH as security.")
        self.step("Bob puts 0.1 ETH in his seller bond", self.bob, lambda: self.bob.deposit_bond("0.1"))
        t4 = self.step("Alice creates and funds (0.5 ETH + her 0.1 ETH deposit)", self.alice,
                       lambda: self.alice.create(seller=self.bob.address, amount="0.5", buyer_deposit="0.1",
                                                 seller_deposit="0.1", arbiter=self.carol.address,
                                                 arbiter_fee_bps=200, release_window=3 * DAY)).trade_id
        self.state(t4)
        self.step("Bob accepts: his 0.1 ETH deposit is locked from the bond", self.bob, lambda: self.bob.accept(t4))
        self.state(t4)
        self.step("Bob ships and marks it delivered (a fresh 3-day window)", self.bob,
                  lambda: self.bob.mark_delivered(t4))
        for due in self.alice.due():
            if due.trade_id == t4:
                self.say(f"  Alice's to-do list (trade list --due): {' or '.join(due.actions)} within 3 days;\n"
                         f"  if not, {due.consequence} ({eth(due.lost)} at stake)")
        b.sleep(3 * DAY + 1)
        self.say("  ... Alice vanishes: three days pass without a release or a dispute ...")
        self.step("Carol (anyone) applies the timeout: Bob is paid", self.carol, lambda: self.carol.timeout(t4))
        terms = b.trade(t4).terms
        fee = fee_up(terms.amount, terms.platform_fee_bps)
        to = deposits_to(Ending.TIMEOUT_TO_SELLER, has_arbiter=terms.has_arbiter)
        self.say(f"  Bob's {eth(terms.amount - fee + terms.buyer_deposit + terms.seller_deposit)}: "
                 f"{eth(terms.amount - fee)} for the lamp (less the fee), Alice's {eth(terms.buyer_deposit)} deposit "
                 f"(forfeited to the {to.buyer_deposit.value})\n  and his own {eth(terms.seller_deposit)} back")
        self.say("  (with no arbiter named, a timeout returns both deposits, and Bob's mark would not have "
                 "changed the outcome\n  fixed at creation: refund on timeout)")
        self.state(t4)

        self.say("\n5. A signed offer: Dave sells a bike without a transaction; Erin fills it.")
        for who in (self.dave, self.erin):
            self.step(f"{self.names[who.address]} (a fresh key) gets 5 ETH from a dev account", b,
                      lambda who=who: b.tx.send(Call(who.address, "0x", 5 * 10**18, "fund a demo account")))
        signed = self.dave.create_offer(amount="0.8", terms={"description": "road bike, size 56"}, expires_in=DAY)
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

        fees = self.step("anyone sweeps the platform fees to the fee recipient", b, lambda: b.sweep_fees())
        collected = int(fees.event("FeesSwept").args["amount"])

        self.say("\nReputation after five trades (in ETH; a trade counts once the seller has acted on it, "
                 "so Bob's silent\nside of the lamp dispute records nothing):")
        rows = []
        for client in (self.alice, self.bob, self.dave, self.erin):
            r = b.reputation(client.address)
            records = r.records
            won = sum(x.disputes_won for x in records), sum(x.disputes_lost for x in records)
            rated = [x for x in records if x.count]
            average = (sum(x.weighted_score for x in rated) / sum(x.rated_volume for x in rated)) if rated else None
            volume = sum(r.volume.values())
            rows.append((self.names[client.address], str(r.trades), eth(volume), str(sum(x.completed for x in records)),
                         str(sum(x.settled for x in records)), f"{won[0]}/{won[1]}",
                         f"{average:.2f} ({sum(x.count for x in rated)})" if average is not None else "-",
                         f"{r.score()}/5"))
        header = ("", "trades", "volume", "completed", "settled", "won/lost", "rating (count)", "score")
        for line in table(rows, header).splitlines():
            self.say(f"  {line}")
        escrow_balance = b.balance(account=b.deployment.escrow)
        self.say(f"\nPlatform fees collected: {eth(collected)}. The escrow now holds {eth(escrow_balance)}.")
        self.say("The score weighs each rating by the trade's value in units of the asset's minimum (0.1 ETH), "
                 "with a prior\nof 3.0 worth 5 units: a few small trades cannot buy a high score.")
        self.say("Gas above is per transaction, and these are first trades that record reputation: a write to an "
                 "empty\nstorage slot (a party's first reputation record, a bond) costs 20,000 "
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
