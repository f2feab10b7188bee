"""A hypothesis state machine over many ETH trades (brownie's `state_machine`): random creates (some
with a buyer's deposit), funds, partial releases and refunds, cancels, timeouts and fee sweeps by
random accounts. Invariants after every step: the escrow's balance is exactly what its trades hold
(prices of live trades, unswept fees of ended ones) plus the buyer deposits of live trades plus the
fees accrued (no wei created or lost), and every trade's slot agrees with a Python model. A timeout
moves time past every funding deadline too: an unfunded trade then refuses to be funded
(DeadlinePassed) and can only be cancelled."""

from __future__ import annotations

import brownie
from brownie.test import strategy

from p2pescrow.models import FLAG_CREATED_BY_SELLER, FLAG_RECORD_REPUTATION
from p2pescrow.states import TradeState
from tests_brownie.helpers import DAY, fee, pay_in, terms

AWAITING, FUNDED = TradeState.AWAITING_FUNDING, TradeState.FUNDED
COMPLETED, REFUNDED, CANCELLED = TradeState.COMPLETED, TradeState.REFUNDED, TradeState.CANCELLED


class EscrowMachine:
    party = strategy("uint8", max_value=3)
    other = strategy("uint8", max_value=3)
    amount = strategy("uint256", min_value=1, max_value=10**18)
    deposit = strategy("uint256", max_value=10**17)
    part = strategy("uint256", min_value=1, max_value=10**18)
    pick = strategy("uint256")
    fund_now = strategy("bool")

    def __init__(cls, accounts, escrow):
        cls.accounts = accounts
        cls.escrow = escrow

    def setup(self):
        self.trades = {}  # id -> [terms, held, state, deadline]
        self.seller_paid = set()  # trades with a partial release
        self.fees = 0  # feesAccrued: fees of partial releases
        self.salt = 0

    def _trade(self, pick, states):
        ids = [i for i, t in self.trades.items() if t[2] in states]
        return ids[pick % len(ids)] if ids else None

    def rule_create(self, party, other, amount, deposit, fund_now):
        buyer, seller = self.accounts[party + 1], self.accounts[(party + other + 1) % 4 + 1]
        if buyer == seller:
            seller = self.accounts[6]
        self.salt += 1
        flags = FLAG_RECORD_REPUTATION | (0 if fund_now else FLAG_CREATED_BY_SELLER)
        t = terms(buyer, seller, amount, buyer_deposit=deposit, salt=self.salt, flags=flags)
        if fund_now:
            tx = self.escrow.createAndFund(t, {"from": buyer, "value": pay_in(t)})
            held, state, window = amount, FUNDED, 3 * DAY
        else:
            tx = self.escrow.create(t, {"from": seller})
            held, state, window = 0, AWAITING, DAY
        trade_id = str(tx.events["TradeCreated"]["id"])
        self.trades[trade_id] = [t, held, state, tx.timestamp + window]
        assert self.escrow.escrowOf(trade_id)[1] == tx.timestamp + window

    def rule_fund(self, pick):
        trade_id = self._trade(pick, {AWAITING})
        if trade_id is None:
            return
        t = self.trades[trade_id]
        now = brownie.chain.time()  # the next block's time, give or take a second
        if now > t[3] + 1:  # the funding window has closed
            with brownie.reverts(revert_pattern="DeadlinePassed.*"):
                self.escrow.fund(t[0], {"from": t[0][0], "value": pay_in(t[0])})
            return
        if now >= t[3] - 1:
            return  # on the deadline's second: either outcome is right, so none is asserted
        tx = self.escrow.fund(t[0], {"from": t[0][0], "value": pay_in(t[0])})
        t[1], t[2], t[3] = t[0][4], FUNDED, tx.timestamp + 3 * DAY

    def rule_release_part(self, pick, part):
        trade_id = self._trade(pick, {FUNDED})
        if trade_id is None:
            return
        t = self.trades[trade_id]
        part = min(part, t[1])
        self.escrow.release(t[0], part, {"from": t[0][0]})
        self.seller_paid.add(trade_id)
        if part == t[1]:
            t[1], t[2] = fee(part), COMPLETED  # the last part's fee stays in the slot until swept
        else:
            t[1] -= part
            self.fees += fee(part)

    def rule_refund_all(self, pick):
        trade_id = self._trade(pick, {FUNDED})
        if trade_id is None:
            return
        t = self.trades[trade_id]
        self.escrow.refund(t[0], t[1], {"from": t[0][1]})
        # Everything back to the buyer is Refunded; if the seller was paid some before, Completed.
        t[1], t[2] = 0, COMPLETED if trade_id in self.seller_paid else REFUNDED

    def rule_outsider_cannot_release(self, pick):
        trade_id = self._trade(pick, {FUNDED})
        if trade_id is None:
            return
        t = self.trades[trade_id]
        with brownie.reverts(revert_pattern="Unauthorized.*"):
            self.escrow.release(t[0], t[1], {"from": self.accounts[9]})

    def rule_cancel(self, pick):
        trade_id = self._trade(pick, {AWAITING})
        if trade_id is None:
            return
        t = self.trades[trade_id]
        self.escrow.cancel(t[0], {"from": t[0][1]})
        t[2] = CANCELLED

    def rule_timeout(self, pick):
        trade_id = self._trade(pick, {FUNDED})
        if trade_id is None:
            return
        t = self.trades[trade_id]
        brownie.chain.sleep(3 * DAY + 1)
        brownie.chain.mine()
        # The release window runs from funding. Other trades' deadlines pass too: funded ones can
        # then time out as well, unfunded ones can no longer be funded (rule_fund expects that).
        self.escrow.timeout(t[0], {"from": self.accounts[9]})
        t[1], t[2] = 0, COMPLETED if trade_id in self.seller_paid else REFUNDED

    def rule_sweep_fees(self):
        ended = [i for i, t in self.trades.items() if t[2] == COMPLETED]
        if not self.fees and not any(self.trades[i][1] for i in ended):
            return
        recipient = self.accounts[0]  # the owner receives the fees
        before = recipient.balance()
        self.escrow.sweepFees(brownie.ZERO_ADDRESS, [self.trades[i][0] for i in ended], {"from": self.accounts[8]})
        assert recipient.balance() - before == self.fees + sum(self.trades[i][1] for i in ended)
        self.fees = 0
        for i in ended:
            self.trades[i][1] = 0

    def invariant_balance_is_held_plus_deposits_plus_fees(self):
        held = sum(t[1] for t in self.trades.values())
        deposits = sum(t[0][5] for t in self.trades.values() if t[2] == FUNDED)
        assert self.escrow.feesAccrued(brownie.ZERO_ADDRESS) == self.fees
        assert self.escrow.balance() == held + deposits + self.fees

    def invariant_states_match_the_model(self):
        for trade_id, t in self.trades.items():
            slot = self.escrow.escrowOf(trade_id)
            assert (slot[0], slot[2]) == (t[1], t[2])
            if t[2] in (AWAITING, FUNDED):
                assert slot[1] == t[3]  # the deadline that applies


def test_escrow_state_machine(state_machine, accounts, escrow):
    state_machine(EscrowMachine, accounts, escrow, settings={"max_examples": 12, "stateful_step_count": 10})
