"""Reading trades back: fields (raw and human amounts, aware deadlines, next actions per role),
listing and filtering, history, watching new events, reputation per asset and role, the trades
where an account must act before a deadline, and the risks stated before creating."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from p2pescrow import EscrowClient, ReputationRole, TradeRisk, TradeState, errors
from p2pescrow.clients._base import BUYER_BEARS_RISK, NO_REPUTATION, SELLER_BEARS_RISK
from p2pescrow.models import ZERO_ADDRESS, Role

ETHER = 10**18


@pytest.fixture(scope="module", autouse=True)
def eth_listed(embedded):
    """ETH records reputation on this module's chain, from 0.1 ETH."""
    embedded.base.set_reputation_asset(None, min_amount="0.1")


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
        Role.SELLER: ("refund", "accept", "mark_delivered", "dispute", "propose_settlement"),
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
    seller_acct, seller = embedded.party(1)
    trade_id = buyer.create(seller=seller_acct.address, amount="0.1").trade_id
    seller.accept(trade_id)
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
    assert [ev.name for ev in ours] == ["TradeCreated", "Released"]
    assert all(ev.args.get("id") != before for ev in seen)


def test_watch_from_a_block_replays_history(embedded):
    _buyer_acct, buyer = embedded.party()
    created = buyer.create(seller=embedded.account(0).address, amount="0.1")
    replay = list(
        buyer.watch(from_block=created.tx.block_number, poll_interval=0.01, stop_after=0.2)
    )
    assert replay[0].name == "TradeCreated"
    assert replay[0].args["id"] == created.trade_id


def test_reputation_per_asset_and_role_with_a_value_weighted_score(embedded):
    buyer_acct, buyer = embedded.party()
    seller_acct, seller = embedded.party(1)
    arbiter_acct, arbiter = embedded.party(1)
    fresh = buyer.reputation(seller_acct.address)
    assert fresh.trades == 0 and fresh.score() == Decimal("3.00")  # the prior: neither trusted nor distrusted

    good = buyer.create(seller=seller_acct.address, amount="1").trade_id
    seller.accept(good)
    buyer.release(good)
    buyer.rate(good, 4)
    lost = buyer.create(seller=seller_acct.address, amount="0.5", arbiter=arbiter_acct.address).trade_id
    seller.dispute(lost)
    arbiter.rule(lost, 10_000)  # the buyer wins everything
    buyer.rate(lost, 1)  # losers are rateable in v2
    small = buyer.create(seller=seller_acct.address, amount="0.05").trade_id  # below the 0.1 ETH minimum
    seller.accept(small)
    buyer.release(small)
    with embedded.no_tx(buyer_acct.address), pytest.raises(errors.NotRecorded):
        buyer.rate(small, 1)

    record = buyer.reputation(seller_acct.address)
    as_seller = record.record(ZERO_ADDRESS, ReputationRole.SELLER)
    assert (as_seller.completed, as_seller.disputes_lost, as_seller.trades) == (1, 1, 2)
    assert as_seller.volume == 3 * ETHER // 2  # the small trade is not in it
    assert (as_seller.count, as_seller.rated_volume, as_seller.weighted_score) == (2, 3 * ETHER // 2, 9 * ETHER // 2)
    assert as_seller.average_rating == Decimal("3.00")  # (4 x 1 + 1 x 0.5) / 1.5
    assert record.minimums == {ZERO_ADDRESS: ETHER // 10}
    # 15 units of the 0.1 ETH minimum rated 3.0 on average, and the prior 3.0 x 5 units
    assert record.score() == Decimal("3.00")
    assert record.units() == 15
    as_buyer = buyer.reputation(buyer_acct.address).record(ZERO_ADDRESS, ReputationRole.BUYER)
    assert (as_buyer.completed, as_buyer.disputes_won) == (1, 1)


def test_reputation_assets_list_every_listing_and_delisting(embedded):
    owner = embedded.base
    token = embedded.token(decimals=6)
    owner.set_reputation_asset(token.address, min_amount="25")
    assert owner.reputation_assets()[token.address] == (True, 25 * 10**6)
    owner.set_reputation_asset(token.address, listed=False, min_amount=0)
    _, reader = embedded.party(1)
    assets = reader.reputation_assets()
    assert assets[token.address] == (False, 0)  # delisted, still named: its past records stay
    assert assets[ZERO_ADDRESS] == (True, ETHER // 10)
    with embedded.no_tx(reader.address), pytest.raises(errors.error_class("OwnableUnauthorizedAccount")):
        reader.set_reputation_asset(token.address, min_amount="1")


# -- the risks stated before creating -------------------------------------------------------------------
def test_no_arbiter_trades_state_who_bears_the_risk_before_anything_is_sent(embedded):
    buyer_acct, buyer = embedded.party()
    seller = embedded.account(0)
    shown: list[tuple[TradeRisk, ...]] = []
    buyer.on_risks = shown.append

    refund = buyer.create(seller=seller.address, amount="0.2")
    assert [r.kind for r in refund.risks] == [SELLER_BEARS_RISK] and shown == [refund.risks]
    assert "the seller bears the risk of a buyer who keeps the goods" in str(refund.risks[0])
    release = buyer.create(seller=seller.address, amount="0.2", timeout_releases=True)
    assert [r.kind for r in release.risks] == [BUYER_BEARS_RISK]
    assert "the buyer bears the risk of a seller who never delivers" in str(release.risks[0])
    arbitrated = buyer.create(seller=seller.address, amount="0.2", arbiter=embedded.account(0).address)
    assert arbitrated.risks == () and len(shown) == 2  # nothing to say: the hook is not called

    def refuse(risks):
        raise errors.InputError("not confirmed")

    buyer.on_risks = refuse
    with embedded.no_tx(buyer_acct.address), pytest.raises(errors.InputError, match="not confirmed"):
        buyer.create(seller=seller.address, amount="0.2")  # the hook stops it: nothing sent


def test_a_trade_that_will_record_no_reputation_says_so(embedded):
    buyer_acct, buyer = embedded.party()
    seller = embedded.account(0)
    arbiter = embedded.account(0).address
    token = embedded.token(decimals=6)
    embedded.mint(token, buyer_acct.address, 100 * 10**6)

    unlisted = buyer.build_terms(seller=seller.address, token=token.address, amount="10", arbiter=arbiter)
    assert [r.kind for r in buyer.risks(unlisted)] == [NO_REPUTATION]
    assert "TUSD is not a reputation asset" in str(buyer.risks(unlisted)[0])
    small = buyer.build_terms(seller=seller.address, amount="0.01", arbiter=arbiter)
    assert "below the 0.1 ETH" in str(buyer.risks(small)[0])
    assert buyer.risks(buyer.build_terms(seller=seller.address, amount="0.1", arbiter=arbiter)) == ()
    unrecorded = buyer.build_terms(seller=seller.address, amount="0.01", arbiter=arbiter, record_reputation=False)
    assert buyer.risks(unrecorded) == ()  # it asked for none: nothing to warn about
    created = buyer.create_from_terms(unlisted)
    assert [r.kind for r in created.risks] == [NO_REPUTATION]


# -- what is due before a deadline ------------------------------------------------------------------------
def test_due_lists_what_each_party_must_do_before_its_deadline_and_what_it_loses(embedded):
    _buyer_acct, buyer = embedded.party()
    seller_acct, seller = embedded.party(5)
    arbiter_acct, arbiter = embedded.party(1)
    waiting = buyer.create(seller=seller_acct.address, amount="1", seller_deposit="0.2", buyer_deposit="0.1",
                           funding_window=600).trade_id
    [item] = seller.due()
    assert (item.trade_id, item.role, item.actions) == (waiting, Role.SELLER, ("accept",))
    assert item.deadline == buyer.trade(waiting).deadline and item.lost == 0

    seller.deposit_bond("0.2")
    seller.accept(waiting)  # live now; no arbiter: nothing due (the outcome was fixed at creation)
    assert seller.due() == [] and buyer.due() == []

    released_on_timeout = buyer.create(seller=seller_acct.address, amount="2", buyer_deposit="0.3",
                                       arbiter=arbiter_acct.address, arbiter_fee_bps=100,
                                       timeout_releases=True).trade_id
    [item] = buyer.due()
    assert (item.trade_id, item.role, item.actions) == (released_on_timeout, Role.BUYER, ("release", "dispute"))
    assert (item.amount_lost, item.deposit_lost) == (2 * ETHER, 3 * ETHER // 10)
    refunded_on_timeout = buyer.create(seller=seller_acct.address, amount="1", arbiter=arbiter_acct.address).trade_id
    [item] = seller.due()
    assert (item.trade_id, item.actions, item.amount_lost) == (refunded_on_timeout, ("mark_delivered", "dispute"),
                                                                ETHER)
    assert buyer.due(seller_acct.address) == seller.due()  # anyone may ask about anyone

    buyer.dispute(released_on_timeout)
    [item] = arbiter.due()
    assert (item.trade_id, item.role, item.actions) == (released_on_timeout, Role.ARBITER, ("rule",))
    assert item.amount_lost == 2 * ETHER * 100 // 10_000  # the arbiter's fee
    arbiter.rule(released_on_timeout, 5_000)
    assert arbiter.due() == []


@pytest.mark.parametrize("amount", ["0.000000000000000001", "12345.678901234567890123"])
def test_amounts_are_exact_on_chain(embedded, amount):
    _buyer_acct, buyer = embedded.party(20_000)
    created = buyer.create(seller=embedded.account(0).address, amount=amount)
    trade = buyer.trade(created.trade_id)
    assert trade.amount_human == Decimal(amount)
    assert trade.held == int(Decimal(amount) * ETHER)
