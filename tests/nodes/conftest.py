"""Fixtures of the node suite (real Anvil and Ganache: backends, faults, recovery): the harness of
``support/harness.py``.

``real_node`` runs a test on a deployed Anvil and a deployed Ganache; ``anvil`` / ``ganache`` one of
them; ``node`` is a bare Anvil (nothing deployed) for fault injection. ``isolated_home`` and
``error_log`` guard every module, as in tests/sdk.
"""

from __future__ import annotations

from support.harness import (  # noqa: F401 - fixtures
    anvil,
    embedded,
    error_log,
    fresh_chain_id,
    ganache,
    isolated_home,
    node,
    real_node,
)
