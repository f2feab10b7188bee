"""Many threads, one LocalAccount, one client, a real node: every transaction gets its own nonce
and lands."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from p2pescrow import TradeState

N = 8


@pytest.mark.anvil
def test_threads_sending_from_one_account_get_distinct_nonces(anvil):
    buyer_acct, buyer = anvil.party(10)
    seller = anvil.account(0)
    start = anvil.nonce(buyer_acct.address)

    def create(i: int):
        return buyer.create(seller=seller.address, amount=f"0.0{i + 1}")

    with ThreadPoolExecutor(N) as pool:
        results = list(pool.map(create, range(N)))

    txs = [anvil.w3.eth.get_transaction(r.tx.tx_hash) for r in results]
    nonces = sorted(tx["nonce"] for tx in txs)
    assert nonces == list(range(start, start + N))
    assert all(tx["from"] == buyer_acct.address for tx in txs)
    assert all(anvil.w3.eth.get_transaction_receipt(r.tx.tx_hash)["status"] == 1 for r in results)
    assert anvil.nonce(buyer_acct.address) == start + N
    assert len({r.trade_id for r in results}) == N
    assert all(buyer.trade(r.trade_id).state is TradeState.FUNDED for r in results)
    held = sum(buyer.trade(r.trade_id).held for r in results)
    assert held == sum((i + 1) * 10**16 for i in range(N))

    # the counter stays in step afterwards: a plain send still works
    buyer.release(results[0].trade_id)
    assert anvil.nonce(buyer_acct.address) == start + N + 1
