"""Fixtures of the SDK suite (both clients): the harness of ``support/harness.py``.

``embedded`` is a fresh embedded chain per module; ``anvil`` / ``ganache`` a real node per module
(for what the embedded chain cannot do, e.g. the async client); ``node`` a bare Anvil. Two guards
run for every module here: ``isolated_home`` (no test touches ~/.config) and ``error_log`` (no
private key in any exception text).
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
