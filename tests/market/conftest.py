"""Fixtures of the market index suite (helpers in ``support/market.py``):

- ``market_chain`` (module): a fresh Anvil with the v2 escrow deployed (:class:`support.market.MarketChain`);
- ``another_db`` (function): a factory of further empty databases on the engine of ``db_url``;
- ``db_url`` (``support/postgres.py``, registered by tests/conftest.py): a fresh database,
  parametrized over SQLite and PostgreSQL.
"""

from __future__ import annotations

from support.harness import error_log, isolated_home  # noqa: F401 - fixtures
from support.market import another_db, market_chain  # noqa: F401 - fixtures
