"""Reading trades back: fields (raw and human amounts, aware deadlines, next actions per role),
listing and filtering, history, watching new events, and reputation."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from p2pescrow import EscrowClient, TradeState, errors
from p2pescrow.models import Role

ETHER = 10**18


def fresh_client(embedded, account) -> EscrowClient:
    """A client with an empty terms cache: everything is rebuilt from events."""
    return embedded.client(account, timeout=30)


def test_trade_fields_rebuilt_from_events_by_another_client(embedded):
    buyer_acct, buyer = embedded.party()
    seller_acct = embedded.account(0)
    arbiter = embedded.account(0)
    token = embedded.token(decimals=6)
    embedded.mint(token, buyer_acct.address, 10**6 * 10**6)
    created = buyer.create(
        seller=seller_acct.address,
        token=token.address,
        amount="1234.56789",
        arbiter=arbiter.address,
        arbiter_fee_bps=150,
        release_window=2 * 86_400,
        terms="one used bicycle",
    )
    block_time = embedded.w3.eth.get_block(created.tx.block_number)["timestamp"]

    trade = fresh_client(embedded, seller_acct).trade(created.trade_id)
    assert trade.id == created.trade_id
    assert trade.amount == 1_234_567_890 and trade.held == 1_234_567_890
    assert trade.amount_human == Decimal("1234.56789") and isinstance(trade.held_human, Decimal)
    assert trade.token.symbol == "TUSD" and trade.token.decimals == 6
    assert trade.arbiter == arbiter.address and trade.arbiter_fee_bps == 150
    assert trade.platform_fee_bps == 25
    assert trade.deadline.tzinfo is not None
    assert trade.deadline == datetime.fromtimestamp(block_time + 2 * 86_400, UTC)
    assert trade.settlement_bps is None and trade.settlement_proposer is None
    assert trade.next_actions == {
        Role.BUYER: ("release", "dispute", "propose_settlement"),
        Role.SELLER: ("refund", "mark_delivered", "dispute", "propose_settlement"),
    }
    buyer.propose_settlement(created.trade_id, 2_500)
    trade = buyer.trade(created.trade_id)
    assert trade.settlement_proposer is Role.BUYER and trade.settlement_bps == 2_500
    assert "accept_settlement" in trade.next_actions[Role.SELLER]

    embedded.sleep(2 * 86_400)
    trade = buyer.trade(created.trade_id)
    assert trade.next_actions[Role.ANYONE] == ("timeout",)
    assert "dispute" not in trade.next_actions[Role.BUYER]
    assert "mark_delivered" not in trade.next_actions[Role.SELLER]


def test_terminal_trade_has_no_deadline(embedded):
    _buyer_acct, buyer = embedded.party()
    trade_id = buyer.create(seller=embedded.account(0).address, amount="0.1").trade_id
    buyer.release(trade_id)
    trade = buyer.trade(trade_id)
    assert trade.state.is_terminal and trade.deadline is None
    assert set(trade.next_actions) == {Role.BUYER, Role.SELLER}  # rating only
    assert trade.next_actions[Role.BUYER] == ("rate",)


def test_unfunded_trade_next_actions_and_the_expired_funding_window(embedded):
    buyer_acct, buyer = embedded.party()
    _seller_acct, seller = embedded.party(1)
    trade_id = seller.create(buyer=buyer_acct.address, amount="1", funding_window=600).trade_id
    actions = buyer.trade(trade_id).next_actions
    assert actions == {Role.BUYER: ("fund",), Role.SELLER: ("cancel",)}
    embedded.sleep(600)
    actions = buyer.trade(trade_id).next_actions
    assert actions == {Role.SELLER: ("cancel",), Role.ANYONE: ("cancel",)}
    _, outsider = embedded.party(1)
    outsider.cancel(trade_id)  # anyone, once the funding window is over
    assert buyer.trade(trade_id).state is TradeState.CANCELLED


def test_trades_filters_by_party_state_and_token(embedded):
    buyer_acct, buyer = embedded.party()
    seller_acct, seller = embedded.party(1)
    other_seller = embedded.account(0)
    token = embedded.token(decimals=6)
    embedded.mint(token, buyer_acct.address, 100 * 10**6)
    eth_funded = buyer.create(seller=seller_acct.address, amount="0.2").trade_id
    tok_funded = buyer.create(seller=seller_acct.address, token=token.address, amount="5").trade_id
    unfunded = seller.create(buyer=buyer_acct.address, amount="0.3").trade_id
    elsewhere = buyer.create(seller=other_seller.address, amount="0.1").trade_id
    buyer.release(elsewhere)

    def ids(trades):
        return {t.id for t in trades}

    reader = fresh_client(embedded, embedded.account(0))
    assert ids(reader.trades(party=buyer_acct.address)) == {
        eth_funded,
        tok_funded,
        unfunded,
        elsewhere,
    }
    assert ids(reader.trades(party=seller_acct.address, state=TradeState.FUNDED)) == {
        eth_funded,
        tok_funded,
    }
    assert ids(reader.trades(party=buyer_acct.address, state=TradeState.COMPLETED)) == {elsewhere}
    assert ids(reader.trades(party=seller_acct.address, token="ETH")) == {eth_funded, unfunded}
    assert ids(reader.trades(token=token.address)) == {
        tok_funded
    }  # all trades of the escrow, by token


def test_history_lists_every_event_of_a_trade_in_order(embedded):
    buyer_acct, buyer = embedded.party()
    seller_acct, seller = embedded.party(1)
    created = buyer.create(seller=seller_acct.address, amount="0.5")
    trade_id = created.trade_id
    seller.mark_delivered(trade_id)
    buyer.submit_evidence(trade_id, "ipfs://photo")
    released = buyer.release(trade_id)
    buyer.rate(trade_id, 3)
    buyer.create(seller=seller_acct.address, amount="0.5")  # another trade: not in this history

    history = fresh_client(embedded, buyer_acct).history(trade_id)
    assert [h.name for h in history] == [
        "TradeCreated",
        "DeliveryMarked",
        "EvidenceSubmitted",
        "Released",
        "OutcomeRecorded",
        "Rated",
    ]
    assert history[0].tx_hash == created.tx.tx_hash and history[0].block == created.tx.block_number
    assert history[3].tx_hash == released.tx_hash
    assert history[-1].args["score"] == 3
    assert [h.block for h in history] == sorted(h.block for h in history)


def test_watch_yields_events_that_happen_after_it_starts(embedded):
    _buyer_acct, buyer = embedded.party()
    seller = embedded.account(0)
    before = buyer.create(seller=seller.address, amount="0.1").trade_id  # before watching: not seen
    events = buyer.watch(poll_interval=0.05, stop_after=1.0)
    created = buyer.create(seller=seller.address, amount="0.2")
    buyer.release(created.trade_id)
    seen = list(events)
    ours = [
        ev
        for ev in seen
        if ev.args.get("id") == created.trade_id
        or ev.args.get("tradeId") == created.trade_id
    ]
    assert [ev.name for ev in ours] == ["TradeCreated", "Released", "OutcomeRecorded"]
    assert all(ev.args.get("id") != before for ev in seen)


def test_watch_from_a_block_replays_history(embedded):
    _buyer_acct, buyer = embedded.party()
    created = buyer.create(seller=embedded.account(0).address, amount="0.1")
    replay = list(
        buyer.watch(from_block=created.tx.block_number, poll_interval=0.01, stop_after=0.2)
    )
    assert replay[0].name == "TradeCreated"
    assert replay[0].args["id"] == created.trade_id


def test_reputation_score_and_average(embedded):
    buyer_acct, buyer = embedded.party()
    seller_acct, _seller = embedded.party(1)
    arbiter_acct, arbiter = embedded.party(1)
    assert buyer.reputation(seller_acct.address).trades == 0
    assert buyer.reputation(seller_acct.address).score == 0
    assert buyer.reputation(seller_acct.address).average_rating is None

    good = buyer.create(seller=seller_acct.address, amount="0.1").trade_id
    buyer.release(good)
    buyer.rate(good, 4)
    lost = buyer.create(
        seller=seller_acct.address, amount="0.1", arbiter=arbiter_acct.address
    ).trade_id
    buyer.dispute(lost)
    arbiter.rule(lost, 10_000)  # the buyer wins everything
    with embedded.no_tx(buyer_acct.address), pytest.raises(errors.NotRateable):
        buyer.rate(lost, 1)  # the seller was not paid: nothing to rate

    record = buyer.reputation(seller_acct.address)
    assert (record.completed_as_seller, record.disputes_lost, record.trades) == (1, 1, 2)
    assert (record.rating_count, record.rating_sum, record.average_rating) == (
        1,
        4,
        Decimal("4.00"),
    )
    # half the clean-trade ratio (1/2 -> 25) + half the rating scaled to 0..50 ((4-1)/4 -> 37.5)
    assert record.score == 62
    assert buyer.reputation(buyer_acct.address).disputes_won == 1
    assert buyer.reputation(buyer_acct.address).score == 100


@pytest.mark.parametrize("amount", ["0.000000000000000001", "12345.678901234567890123"])
def test_amounts_are_exact_on_chain(embedded, amount):
    _buyer_acct, buyer = embedded.party(20_000)
    created = buyer.create(seller=embedded.account(0).address, amount=amount)
    trade = buyer.trade(created.trade_id)
    assert trade.amount_human == Decimal(amount)
    assert trade.held == int(Decimal(amount) * ETHER)
