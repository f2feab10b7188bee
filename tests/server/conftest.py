"""Fixtures of the server suite (helpers in ``support/server.py``):

- ``market_chain`` (module): a fresh Anvil with the v2 escrow deployed (:class:`support.market.MarketChain`);
- ``served_market`` (module): ``p2pescrow serve`` running over an index of that chain's market history
  (trades ended every way, open offers, hostile listings), real HTTP at ``served_market.url``.
"""

from __future__ import annotations

from support.market import market_chain  # noqa: F401 - fixtures
from support.server import served_market  # noqa: F401 - fixtures
