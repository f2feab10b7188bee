"""Who gets each deposit, every row of the table in IP2PEscrow, with every balance checked exactly.

Each trade has a price of 1 unit, a buyer's deposit of 0.1 and a seller's deposit of 0.2 (different,
so a balance shows which deposit went where), an arbiter with a 1% fee and the suite's 0.25% platform
fee, in ETH and in an ERC-20. Only the ending transaction is measured: for ETH the gas a party paid is
added back, so a change is exactly what the escrow paid it. In every row the fee recipient and the
owner receive nothing at the ending (the platform fee stays in the trade's slot until swept), the
arbiter at most its fee, the escrow pays out exactly what the parties and the arbiter receive, and
after the sweep the escrow holds nothing of the trade: deposits never reach the arbiter, the fee
recipient or the owner. No event names the deposits: each test also reads who got them from the
ending's event and the table, as an indexer does, and finds the receivers the balances show.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from support.escrow import (
    BPS,
    ETH,
    FLAG_RECORD_REPUTATION,
    FLAG_TIMEOUT_RELEASES,
    Deployment,
    fee_up,
    split,
    trade_id,
)
from support.offers import balance_of, reverts, tx
from support.v2 import (
    BUYER_DEPOSIT,
    DEPOSITS,
    ENDINGS,
    ONE,
    SELLER_DEPOSIT,
    Receipt,
    at_deadline,
    balance_changes,
    changes_and_receipt,
    create_and_fund,
    decode_logs,
    deposit_receivers,
    live,
    parties,
    seller_created,
)

ZERO = ETH  # address(0): "no one", for a deposit that is zero or was never in
FEE = fee_up(ONE, 25)  # platform fee on the whole price
BD, SD = BUYER_DEPOSIT, SELLER_DEPOSIT


@pytest.fixture(params=["ETH", "ERC-20"])
def asset(request: pytest.FixtureRequest, deployed: Deployment) -> str:
    return ETH if request.param == "ETH" else deployed.tokens["standard"].address


def ends_paying(
    d: Deployment,
    t: dict[str, Any],
    end: Callable[[], Receipt],
    *,
    buyer: int,
    seller: int,
    arbiter: int = 0,
    platform_fee: int,
) -> Receipt:
    """Run the ending `end` and check what everyone got; then sweep the fee and check nothing of the
    trade is left in the escrow. Returns the ending's receipt."""
    changes, receipt = changes_and_receipt(d, t["token"], parties(d), end)
    assert changes == {
        "buyer": buyer,
        "seller": seller,
        "arbiter": arbiter,
        "fee_recipient": 0,
        "owner": 0,
        "escrow": -(buyer + seller + arbiter),
    }
    assert d.unswept_fee(t) == platform_fee
    if platform_fee:
        swept = balance_changes(d, t["token"], {"fee_recipient": d.fee_recipient},
                                lambda: d.sweep_fees(t["token"], [t]))
        assert swept == {"fee_recipient": platform_fee}
    # Nothing of the trade stays behind: the escrow holds only the seller's free bond.
    assert balance_of(d, t["token"], d.escrow.address) == d.bond(t["seller"], t["token"])
    return receipt


def deposits_paid(d: Deployment, t: dict[str, Any], receipt: Receipt, **in_: bool) -> tuple[str, str]:
    """Who got each deposit, as an indexer reads it from the ending's event and the table (the event
    names no deposit: a receiver gets its deposit in the same transfer as its other payout)."""
    (ending,) = [(name, args) for name, args in decode_logs(d.escrow, [receipt]) if name in ENDINGS]
    return deposit_receivers(t, *ending, **in_)


# -- release, refund, settlement, cancel: each deposit back to its owner ------------------------------
def test_release_returns_each_deposit_to_its_owner(deployed: Deployment, asset: str) -> None:
    d = deployed
    t = live(d, token=asset, **DEPOSITS)
    receipt = ends_paying(d, t, lambda: tx(d, d.escrow.functions.release(t, ONE), d.buyer),
                          buyer=BD, seller=ONE - FEE + SD, platform_fee=FEE)
    assert deposits_paid(d, t, receipt) == (d.buyer, d.seller)


def test_refund_returns_each_deposit_to_its_owner(deployed: Deployment, asset: str) -> None:
    d = deployed
    t = live(d, token=asset, **DEPOSITS)
    receipt = ends_paying(d, t, lambda: tx(d, d.escrow.functions.refund(t, ONE), d.seller),
                          buyer=ONE + BD, seller=SD, platform_fee=0)
    assert deposits_paid(d, t, receipt) == (d.buyer, d.seller)


def test_accepted_settlement_returns_each_deposit_to_its_owner(deployed: Deployment, asset: str) -> None:
    d = deployed
    t = live(d, token=asset, **DEPOSITS)
    tx(d, d.escrow.functions.proposeSettlement(t, 4000), d.buyer)
    s = split(ONE, 4000, 0, 25)
    receipt = ends_paying(d, t, lambda: tx(d, d.escrow.functions.acceptSettlement(t, 4000), d.seller),
                          buyer=s["toBuyer"] + BD, seller=s["toSeller"] + SD, platform_fee=s["platformFee"])
    assert deposits_paid(d, t, receipt) == (d.buyer, d.seller)


def test_cancel_before_funding_pays_the_sellers_locked_deposit_to_its_wallet(
    deployed: Deployment, asset: str
) -> None:
    d = deployed
    t = seller_created(d, token=asset, **DEPOSITS)
    assert d.state_of(t) == "AwaitingFunding"
    assert d.bond(d.seller, asset) == 0  # the deposit is locked
    receipt = ends_paying(d, t, lambda: tx(d, d.escrow.functions.cancel(t), d.seller),
                          buyer=0, seller=SD, platform_fee=0)
    assert deposits_paid(d, t, receipt, buyer_in=False) == (ZERO, d.seller)
    assert d.state_of(t) == "Cancelled"
    assert d.bond(d.seller, asset) == 0  # paid to the wallet, not back into the bond


def test_cancel_while_awaiting_the_sellers_deposit_returns_price_and_deposit_to_the_buyer(
    deployed: Deployment, asset: str
) -> None:
    d = deployed
    t = d.terms(token=asset, **DEPOSITS)
    create_and_fund(d, t)
    assert d.state_of(t) == "AwaitingDeposit"
    receipt = ends_paying(d, t, lambda: tx(d, d.escrow.functions.cancel(t), d.buyer),
                          buyer=ONE + BD, seller=0, platform_fee=0)
    assert deposits_paid(d, t, receipt, seller_in=False) == (d.buyer, ZERO)


# -- timeout ----------------------------------------------------------------------------------------
def test_timeout_after_delivery_with_an_arbiter_makes_the_silent_buyer_forfeit(
    deployed: Deployment, asset: str
) -> None:
    d = deployed
    t = live(d, token=asset, **DEPOSITS)
    tx(d, d.escrow.functions.markDelivered(t), d.seller)
    at_deadline(d, t)
    receipt = ends_paying(d, t, lambda: tx(d, d.escrow.functions.timeout(t), d.stranger),
                          buyer=0, seller=ONE - FEE + BD + SD, platform_fee=FEE)
    assert deposits_paid(d, t, receipt) == (d.seller, d.seller)


def test_timeout_without_delivery_with_an_arbiter_makes_the_silent_seller_forfeit(
    deployed: Deployment, asset: str
) -> None:
    d = deployed
    t = live(d, token=asset, flags=FLAG_RECORD_REPUTATION, **DEPOSITS)  # refund on timeout
    at_deadline(d, t)
    receipt = ends_paying(d, t, lambda: tx(d, d.escrow.functions.timeout(t), d.stranger),
                          buyer=ONE + BD + SD, seller=0, platform_fee=0)
    assert deposits_paid(d, t, receipt) == (d.buyer, d.buyer)


def test_timeout_releasing_without_an_arbiter_returns_both_deposits(deployed: Deployment, asset: str) -> None:
    d = deployed
    t = live(d, token=asset, arbiter=ETH, arbiterFeeBps=0, flags=FLAG_TIMEOUT_RELEASES, **DEPOSITS)
    at_deadline(d, t)
    receipt = ends_paying(d, t, lambda: tx(d, d.escrow.functions.timeout(t), d.stranger),
                          buyer=BD, seller=ONE - FEE + SD, platform_fee=FEE)
    assert deposits_paid(d, t, receipt) == (d.buyer, d.seller)


def test_timeout_refunding_without_an_arbiter_returns_both_deposits(deployed: Deployment, asset: str) -> None:
    d = deployed
    t = live(d, token=asset, arbiter=ETH, arbiterFeeBps=0, flags=0, **DEPOSITS)
    tx(d, d.escrow.functions.markDelivered(t), d.seller)  # changes nothing without an arbiter
    at_deadline(d, t)
    receipt = ends_paying(d, t, lambda: tx(d, d.escrow.functions.timeout(t), d.stranger),
                          buyer=ONE + BD, seller=SD, platform_fee=0)
    assert deposits_paid(d, t, receipt) == (d.buyer, d.seller)


# -- rulings, expired disputes, concessions ---------------------------------------------------------
def _ruled(d: Deployment, asset: str, buyer_bps: int) -> tuple[dict[str, Any], Callable[[], Receipt]]:
    t = live(d, token=asset, **DEPOSITS)
    tx(d, d.escrow.functions.dispute(t), d.buyer)
    return t, lambda: tx(d, d.escrow.functions.rule(t, buyer_bps), d.arbiter)


def test_ruling_below_half_makes_the_buyer_forfeit(deployed: Deployment, asset: str) -> None:
    d = deployed
    t, end = _ruled(d, asset, 4999)
    s = split(ONE, 4999, 100, 25)
    receipt = ends_paying(d, t, end, buyer=s["toBuyer"], seller=s["toSeller"] + BD + SD,
                          arbiter=s["arbiterFee"], platform_fee=s["platformFee"])
    assert deposits_paid(d, t, receipt) == (d.seller, d.seller)


def test_ruling_above_half_makes_the_seller_forfeit(deployed: Deployment, asset: str) -> None:
    d = deployed
    t, end = _ruled(d, asset, 5001)
    s = split(ONE, 5001, 100, 25)
    receipt = ends_paying(d, t, end, buyer=s["toBuyer"] + BD + SD, seller=s["toSeller"],
                          arbiter=s["arbiterFee"], platform_fee=s["platformFee"])
    assert deposits_paid(d, t, receipt) == (d.buyer, d.buyer)


def test_even_ruling_returns_both_deposits(deployed: Deployment, asset: str) -> None:
    d = deployed
    t, end = _ruled(d, asset, 5000)
    s = split(ONE, 5000, 100, 25)
    receipt = ends_paying(d, t, end, buyer=s["toBuyer"] + BD, seller=s["toSeller"] + SD,
                          arbiter=s["arbiterFee"], platform_fee=s["platformFee"])
    assert deposits_paid(d, t, receipt) == (d.buyer, d.seller)


def test_a_dispute_the_arbiter_never_rules_returns_both_deposits(deployed: Deployment, asset: str) -> None:
    d = deployed
    t = live(d, token=asset, **DEPOSITS)
    tx(d, d.escrow.functions.dispute(t), d.seller)
    at_deadline(d, t)
    s = split(ONE, 5000, 0, 25)
    receipt = ends_paying(d, t, lambda: tx(d, d.escrow.functions.resolveExpiredDispute(t), d.stranger),
                          buyer=s["toBuyer"] + BD, seller=s["toSeller"] + SD, platform_fee=s["platformFee"])
    assert deposits_paid(d, t, receipt) == (d.buyer, d.seller)


def test_buyer_who_concedes_forfeits_its_deposit_and_the_arbiter_gets_half_its_fee(
    deployed: Deployment, asset: str
) -> None:
    d = deployed
    t = live(d, token=asset, **DEPOSITS)
    tx(d, d.escrow.functions.dispute(t), d.seller)
    s = split(ONE, 0, 50, 25)  # 1% arbiter fee halved
    receipt = ends_paying(d, t, lambda: tx(d, d.escrow.functions.concede(t), d.buyer),
                          buyer=0, seller=s["toSeller"] + BD + SD, arbiter=s["arbiterFee"],
                          platform_fee=s["platformFee"])
    assert s["arbiterFee"] == ONE * 50 // BPS
    assert deposits_paid(d, t, receipt) == (d.seller, d.seller)
    (conceded,) = d.events(receipt, "Conceded")
    assert (conceded["by"], conceded["toBuyer"], conceded["toSeller"], conceded["arbiterFee"],
            conceded["platformFee"]) == (d.buyer, 0, s["toSeller"], s["arbiterFee"], s["platformFee"])


def test_seller_who_concedes_forfeits_its_deposit_and_the_arbiter_gets_half_its_fee(
    deployed: Deployment, asset: str
) -> None:
    d = deployed
    t = live(d, token=asset, **DEPOSITS)
    tx(d, d.escrow.functions.dispute(t), d.buyer)
    s = split(ONE, BPS, 50, 25)
    receipt = ends_paying(d, t, lambda: tx(d, d.escrow.functions.concede(t), d.seller),
                          buyer=s["toBuyer"] + BD + SD, seller=0, arbiter=s["arbiterFee"], platform_fee=0)
    assert deposits_paid(d, t, receipt) == (d.buyer, d.buyer)


@pytest.mark.parametrize(("conceder", "losing_bps"), [("buyer", 0), ("seller", BPS)])
def test_conceding_never_costs_the_conceder_more_than_losing_the_ruling(
    deployed: Deployment, asset: str, conceder: str, losing_bps: int
) -> None:
    """Two identical trades (but for the salt), both disputed: one conceded, one ruled entirely against
    the same party. The conceder gets at least what the loser gets, and its counterparty and the
    arbiter share the arbiter fee the ruling would have cost."""
    d = deployed
    accounts = parties(d)
    outcomes = {}
    for ending in ("concede", "rule"):
        t = live(d, token=asset, **DEPOSITS)
        tx(d, d.escrow.functions.dispute(t), d.buyer)
        if ending == "concede":
            act = lambda t=t: tx(d, d.escrow.functions.concede(t), accounts[conceder])  # noqa: E731
        else:
            act = lambda t=t: tx(d, d.escrow.functions.rule(t, losing_bps), d.arbiter)  # noqa: E731
        outcomes[ending] = balance_changes(d, asset, accounts, act)
    winner = "seller" if conceder == "buyer" else "buyer"
    assert outcomes["concede"][conceder] >= outcomes["rule"][conceder]
    assert outcomes["concede"]["arbiter"] == outcomes["rule"]["arbiter"] // 2
    assert outcomes["concede"][winner] > outcomes["rule"][winner]


# -- how deposits come in and go out ---------------------------------------------------------------------
def test_the_buyer_pays_price_and_deposit_together(deployed: Deployment) -> None:
    d = deployed
    t = d.terms(buyerDeposit=BD)
    with reverts("WrongValue", sent=ONE, expected=ONE + BD):
        d.send(d.escrow.functions.createAndFund(t), d.buyer, ONE)
    changes = balance_changes(d, ETH, {"buyer": d.buyer, "escrow": d.escrow.address},
                              lambda: create_and_fund(d, t))
    assert changes == {"buyer": -(ONE + BD), "escrow": ONE + BD}
    assert d.escrow_of(t)["held"] == ONE  # the deposit is not in `held`: the terms say it


def test_a_fee_on_transfer_shortfall_comes_off_the_price_not_the_deposit(deployed: Deployment) -> None:
    d = deployed
    token = d.tokens["fee_on_transfer"].address  # keeps 1% of every transfer
    t = live(d, token=token, buyerDeposit=BD)
    arrived = (ONE + BD) * 99 // 100
    assert d.escrow_of(t)["held"] == arrived - BD
    changes = balance_changes(d, token, {"buyer": d.buyer},
                              lambda: tx(d, d.escrow.functions.refund(t, arrived - BD), d.seller))
    assert changes == {"buyer": arrived * 99 // 100}  # price held and the whole deposit, in one transfer


def test_a_deposit_to_a_receiver_that_rejects_it_is_credited_with_its_payout(deployed: Deployment) -> None:
    """One transfer per party: the seller's payout and both deposits it won go out together, and are
    credited together, under the trade's id, when the seller cannot receive them."""
    d = deployed
    blacklist = d.tokens["blacklist"]
    t = live(d, token=blacklist.address, **DEPOSITS)
    tx(d, d.escrow.functions.dispute(t), d.buyer)
    tx(d, blacklist.functions.setBlacklisted(d.seller, True), d.owner)
    receipt = tx(d, d.escrow.functions.concede(t), d.buyer)
    s = split(ONE, 0, 50, 25)
    (credited,) = d.events(receipt, "PaymentCredited")
    assert dict(credited) == {"id": trade_id(t), "receiver": d.seller, "token": blacklist.address,
                              "amount": s["toSeller"] + BD + SD}
    assert d.credit(d.seller, blacklist.address) == s["toSeller"] + BD + SD
