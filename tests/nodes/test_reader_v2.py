"""The CLI's fast reader (JSON-RPC without web3) reads what the SDK reads on v2 contracts, on a real
Anvil: a trade waiting for the seller's deposit and then live (the slot's new marks), the listed
reputation assets, and a rated account's records per asset and role with its score."""

from __future__ import annotations

from decimal import Decimal

import pytest

from p2pescrow.models import ZERO_ADDRESS, ReputationRole, TradeState
from p2pescrow.reader import EscrowReader

pytestmark = pytest.mark.anvil


def test_the_reader_reads_v2_trades_listings_and_reputation_as_the_sdk(anvil):
    buyer_acct, buyer = anvil.party()
    seller_acct, seller = anvil.party()
    anvil.base.set_reputation_asset(None, min_amount="0.01")
    seller.deposit_bond("1")
    reader = EscrowReader.connect(anvil.node.url, buyer_acct.address, deployment=anvil.base.deployment)

    trade_id = buyer.create(seller=seller_acct.address, amount="1", buyer_deposit="0.1",
                            seller_deposit="0.2").trade_id
    waiting = reader.trade(trade_id)
    assert waiting == buyer.trade(trade_id)
    assert waiting.state is TradeState.AWAITING_DEPOSIT and not waiting.seller_deposited
    assert (waiting.buyer_deposit, waiting.seller_deposit) == (10**17, 2 * 10**17)

    seller.accept(trade_id)
    live = reader.trade(trade_id)
    assert live == buyer.trade(trade_id)
    assert live.state is TradeState.FUNDED and live.seller_deposited and live.seller_acted and live.records

    buyer.release(trade_id)
    seller.rate(trade_id, 4)
    assert reader.reputation_assets() == buyer.reputation_assets() == {ZERO_ADDRESS: (True, 10**16)}
    record = reader.reputation(buyer_acct.address)
    assert record == buyer.reputation(buyer_acct.address)
    as_buyer = record.record(ZERO_ADDRESS, ReputationRole.BUYER)
    assert (as_buyer.volume, as_buyer.completed, as_buyer.count, as_buyer.weighted_score) == (10**18, 1, 1, 4 * 10**18)
    assert record.score() == Decimal("3.95")  # 100 units (1 ETH at a 0.01 minimum) at 4, and the prior
    assert [trade.id for trade in reader.trades(party=buyer_acct.address)] == [trade_id]
