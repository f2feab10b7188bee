"""The JSON API over real HTTP against `p2pescrow serve` (tests/support/server.py)."""

from __future__ import annotations

from support.server import ServedMarket


def test_health_names_the_chain_the_escrow_and_the_head_indexed(served_market: ServedMarket) -> None:
    health = served_market.health()
    record = served_market.record
    assert health["chain_id"] == record.chain_id and health["escrow"] == record.escrow
    assert health["head_indexed"] == served_market.chain.chain.w3.eth.block_number
    assert health["sync_error"] is None and health["last_sync"] is not None
