"""Refusals that say what to do: a contract refusal carries a hint computed from the trade (who may
act now, amounts in the token's units, which cause of a refused rating applies), and the limits that are
constants in the contract are refused before any request, on both clients."""

from __future__ import annotations

import asyncio

import pytest
from eth_account import Account
from web3 import Web3

from p2pescrow import EscrowClient, errors
from p2pescrow.aio import AsyncEscrowClient
from p2pescrow.core import hints
from p2pescrow.models import ReputationRole

ETHER = 10**18
UNIT = 10**6


@pytest.fixture
def trade(embedded):
    """A funded 100 TUSD trade with an arbiter: (buyer, seller, arbiter, stranger) accounts and
    clients, the token and the trade id."""
    token = embedded.token(decimals=6)
    parties = [embedded.party() for _ in range(4)]
    (buyer_acct, buyer), (seller_acct, _), (arbiter_acct, _), _ = parties
    embedded.mint(token, buyer_acct.address, 1_000 * UNIT)
    trade_id = buyer.create(seller=seller_acct.address, token=token.address, amount="100",
                            arbiter=arbiter_acct.address, arbiter_fee_bps=100).trade_id
    return parties, token, trade_id


def test_the_mirrored_limits_are_the_contracts(embedded):
    escrow = embedded.base.escrow
    assert escrow.functions.MAX_ARBITER_FEE_BPS().call() == hints.MAX_ARBITER_FEE_BPS == 2_000
    assert escrow.functions.MAX_PLATFORM_FEE_BPS().call() == hints.MAX_PLATFORM_FEE_BPS == 500
    assert escrow.functions.MAX_WINDOW().call() == hints.MAX_WINDOW
    assert escrow.functions.BPS().call() == hints.BPS


def test_unauthorized_says_who_may_act_now(embedded, trade):
    ((buyer_acct, buyer), (seller_acct, seller), (arbiter_acct, _), (stranger_acct, stranger)), _, trade_id = trade
    with embedded.no_tx(seller_acct.address), pytest.raises(errors.Unauthorized) as caught:
        seller.release(trade_id)
    assert caught.value.hint == (f"only the buyer {buyer_acct.address} may release; "
                                 f"this account is {seller_acct.address}")
    with embedded.no_tx(buyer_acct.address), pytest.raises(errors.Unauthorized) as caught:
        buyer.refund(trade_id)
    assert caught.value.hint.startswith(f"only the seller {seller_acct.address} may refund;")
    with embedded.no_tx(stranger_acct.address), pytest.raises(errors.Unauthorized) as caught:
        stranger.dispute(trade_id)
    assert caught.value.hint == (f"only the buyer {buyer_acct.address} or the seller {seller_acct.address} may open "
                                 f"a dispute; this account is {stranger_acct.address}")
    with embedded.no_tx(buyer_acct.address), pytest.raises(errors.Unauthorized) as caught:
        buyer.rule(trade_id, 5_000)
    assert caught.value.hint.startswith(f"only the arbiter {arbiter_acct.address} may rule on this dispute;")
    with embedded.no_tx(stranger_acct.address), pytest.raises(errors.Unauthorized) as caught:
        stranger.submit_evidence(trade_id, "ipfs://x")
    assert caught.value.hint.startswith(f"only the buyer {buyer_acct.address}, the seller {seller_acct.address} "
                                        f"or the arbiter {arbiter_acct.address} may submit evidence;")


def test_unauthorized_names_no_arbiter_where_the_trade_has_none(embedded):
    buyer_acct, buyer = embedded.party()
    seller_acct, _ = embedded.party()
    stranger_acct, stranger = embedded.party()
    trade_id = buyer.create(seller=seller_acct.address, amount="1").trade_id
    with embedded.no_tx(buyer_acct.address), pytest.raises(errors.Unauthorized) as caught:
        buyer.rule(trade_id, 5_000)
    assert caught.value.hint == ("this trade has no arbiter: no one may rule on it; "
                                 f"this account is {buyer_acct.address}")
    with embedded.no_tx(stranger_acct.address), pytest.raises(errors.Unauthorized) as caught:
        stranger.submit_evidence(trade_id, "ipfs://x")
    assert caught.value.hint == (f"only the buyer {buyer_acct.address} or the seller {seller_acct.address} may submit "
                                 f"evidence; this account is {stranger_acct.address}")
    assert "0x" + "0" * 40 not in caught.value.hint


def test_fund_by_another_than_the_buyer_says_who_funds(embedded):
    buyer_acct, _ = embedded.party()
    _, seller = embedded.party()
    stranger_acct, stranger = embedded.party()
    trade_id = seller.create(buyer=buyer_acct.address, amount="1").trade_id
    with embedded.no_tx(stranger_acct.address), pytest.raises(errors.Unauthorized) as caught:
        stranger.fund(trade_id)
    assert caught.value.hint.startswith(f"only the buyer {buyer_acct.address} may fund this trade;")


def test_invalid_part_is_shown_in_token_units(embedded, trade):
    ((buyer_acct, buyer), _, _, _), _, trade_id = trade
    with embedded.no_tx(buyer_acct.address), pytest.raises(errors.InvalidPart) as caught:
        buyer.release(trade_id, "150.5")
    exc = caught.value
    assert (exc.requested, exc.held) == (150_500_000, 100 * UNIT)  # the raw values stay
    assert str(exc).startswith("InvalidPart(requested=150.5 TUSD, held=100 TUSD)")
    assert "150500000" not in str(exc)
    assert exc.hint == "give an amount above 0 and at most 100 TUSD, or none for everything held"


def test_a_refused_rating_names_the_cause_that_applies(embedded):
    buyer_acct, buyer = embedded.party()
    seller_acct, seller = embedded.party()

    unlisted = buyer.create(seller=seller_acct.address, amount="1").trade_id  # before ETH is listed
    seller.accept(unlisted)
    buyer.release(unlisted)
    with embedded.no_tx(buyer_acct.address), pytest.raises(errors.NotRecorded) as caught:
        buyer.rate(unlisted, 5)
    assert caught.value.hint.startswith("the trade's asset was not a listed reputation asset")

    embedded.base.set_reputation_asset(None, min_amount="0.01")
    funded = buyer.create(seller=seller_acct.address, amount="1").trade_id
    with embedded.no_tx(buyer_acct.address), pytest.raises(errors.NotEnded) as caught:
        buyer.rate(funded, 5)
    assert caught.value.hint.startswith("the trade is FUNDED: ratings open once it has ended")

    quiet = buyer.create(seller=seller_acct.address, amount="1", record_reputation=False).trade_id
    buyer.release(quiet)
    with embedded.no_tx(buyer_acct.address), pytest.raises(errors.NotRecorded) as caught:
        buyer.rate(quiet, 5)
    assert "created without reputation" in caught.value.hint

    pushed = buyer.create(seller=seller_acct.address, amount="1").trade_id  # the seller never acts on it
    buyer.release(pushed)
    with embedded.no_tx(seller_acct.address), pytest.raises(errors.NotRecorded) as caught:
        seller.rate(pushed, 1)
    assert caught.value.hint.startswith("the seller never entered this trade")

    cancelled = seller.create(buyer=buyer_acct.address, amount="1").trade_id
    seller.cancel(cancelled)
    with embedded.no_tx(buyer_acct.address), pytest.raises(errors.NotEnded) as caught:
        buyer.rate(cancelled, 5)
    assert caught.value.hint == "the trade was cancelled before it went live: it can never be rated"

    seller.accept(funded)  # consent on a live trade
    buyer.release(funded)
    buyer.rate(funded, 5)
    with embedded.no_tx(buyer_acct.address), pytest.raises(errors.AlreadyRated) as caught:
        buyer.rate(funded, 4)
    assert caught.value.hint == "this account already rated this trade as the buyer: once per party"
    seller.rate(funded, 4)  # the other party still may
    rated = buyer.reputation(buyer_acct.address).record("0x" + "00" * 20, ReputationRole.BUYER)
    assert (rated.count, rated.weighted_score, rated.rated_volume) == (1, 4 * 10**18, 10**18)


def test_state_and_deadline_refusals_say_what_can_be_done_now(embedded):
    buyer_acct, buyer = embedded.party()
    seller_acct, seller = embedded.party()
    trade_id = buyer.create(seller=seller_acct.address, amount="1").trade_id
    deadline = f"{buyer.trade(trade_id).deadline:%Y-%m-%d %H:%M:%S} UTC"
    with embedded.no_tx(buyer_acct.address), pytest.raises(errors.DeadlineNotReached) as caught:
        buyer.timeout(trade_id)
    assert caught.value.hint == (f"the trade is FUNDED (deadline {deadline}); now the buyer may release, "
                                 "propose_settlement; the seller may refund, accept, mark_delivered, "
                                 "propose_settlement")
    buyer.release(trade_id)
    with embedded.no_tx(seller_acct.address), pytest.raises(errors.WrongState) as caught:
        seller.refund(trade_id)
    assert caught.value.hint == "the trade is COMPLETED; now nothing more can be done"  # no rating: not recorded

    unfunded = seller.create(buyer=buyer_acct.address, amount="1", funding_window=600).trade_id
    embedded.sleep(601)
    with embedded.no_tx(buyer_acct.address), pytest.raises(errors.DeadlinePassed) as caught:
        buyer.fund(unfunded)
    assert caught.value.hint.startswith("the trade is AWAITING_FUNDING (deadline ")
    assert caught.value.hint.endswith("; now the seller may cancel; anyone may cancel")


@pytest.fixture
def offline():
    """A client whose node does not exist: any request would raise NodeUnreachable, so an
    InputError proves the refusal came before any request."""
    deployment = EscrowClient.embedded().deployment
    account = Account.create()
    return EscrowClient(Web3(Web3.HTTPProvider("http://127.0.0.1:9")), deployment, account, url="http://127.0.0.1:9")


TRADE_ID = "0x" + "11" * 32
SELLER = Account.create().address
ARBITER = Account.create().address


@pytest.mark.parametrize(("call", "words"), [
    (lambda c: c.create(seller=SELLER, amount="1", arbiter=ARBITER, arbiter_fee_bps=5_000),
     "an arbiter fee of 50% (5000 bps) is above the contract's cap of 20% (2000 bps)"),
    (lambda c: c.create(seller=SELLER, amount="1", token=ARBITER, arbiter=ARBITER, arbiter_fee_bps=2_001),
     "above the contract's cap of 20%"),
    (lambda c: c.create(seller=SELLER, amount="1", arbiter_fee_bps=100), "an arbiter fee (1%) needs an arbiter"),
    (lambda c: c.create(seller=SELLER, amount="1", release_window=0), "the release window must be more than 0"),
    (lambda c: c.create(seller=SELLER, amount="1", funding_window=366 * 86_400), "the funding window"),
    (lambda c: c.create(seller=SELLER, amount="1", arbiter=ARBITER, arbitration_window=400 * 86_400),
     "the arbitration window"),
    (lambda c: c.build_terms(seller=SELLER, amount="1", arbiter=ARBITER, arbiter_fee_bps=2_500), "cap of 20%"),
    (lambda c: c.create_offer(amount="1", arbiter=ARBITER, arbiter_fee_bps=2_001), "cap of 20%"),
    (lambda c: c.propose_settlement(TRADE_ID, 10_001), "buyer_bps of 10001 bps (100.01%) is above the contract's cap"),
    (lambda c: c.accept_settlement(TRADE_ID, -1), "cannot be negative"),
    (lambda c: c.rule(TRADE_ID, 20_000), "cap of 10000 bps"),
    (lambda c: c.set_platform_fee(501), "the platform fee of 501 bps (5.01%) is above the contract's cap of 500 bps"),
])
def test_constant_limits_are_refused_before_any_request(offline, call, words):
    with pytest.raises(errors.InputError) as caught:
        call(offline)
    assert words in str(caught.value)
    assert caught.value.exit_code == 2


def test_the_async_client_hints_and_checks_the_same():
    async def run() -> None:
        base = await AsyncEscrowClient.embedded()
        buyer_addr, seller_addr = base.dev_accounts[1:3]
        buyer, seller = base.as_account(buyer_addr), base.as_account(seller_addr)
        trade_id = (await buyer.create(seller=seller_addr, amount="1")).trade_id
        with pytest.raises(errors.Unauthorized) as caught:
            await seller.release(trade_id)
        assert caught.value.hint == f"only the buyer {buyer_addr} may release; this account is {seller_addr}"
        with pytest.raises(errors.InvalidPart) as part:
            await buyer.release(trade_id, "2")
        assert str(part.value).startswith("InvalidPart(requested=2 ETH, held=1 ETH)")
        with pytest.raises(errors.NotEnded) as rated:
            await buyer.rate(trade_id, 5)
        assert rated.value.hint.startswith("the trade is FUNDED")
        with pytest.raises(errors.InputError, match="cap of 20%"):
            await buyer.create(seller=seller_addr, amount="1", arbiter=base.dev_accounts[3], arbiter_fee_bps=2_001)

    asyncio.run(run())
