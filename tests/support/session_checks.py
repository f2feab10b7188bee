"""Checks over the whole run, made when the session ends rather than by a test that must run last:
they hold whatever order the tests ran in, whichever subset was selected, and however pytest-xdist
spread the tests over workers (each worker checks what its own tests did).

- The real ``~/.config/p2pescrow`` was not touched (every suite works in temporary folders).
- No private key the SDK harness used appears in any :class:`~p2pescrow.errors.P2PEscrowError` built
  while its modules ran (``support/harness.py`` checks after each module; this is the whole run).

A failed check is reported as an error at the teardown of the session's (or the worker's) last test,
so ``pytest`` exits non-zero.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


def real_config_state() -> list[tuple[str, float]]:
    """What the real ~/.config/p2pescrow holds (paths, mtimes)."""
    real = Path.home() / ".config" / "p2pescrow"
    if not real.exists():
        return []
    return sorted((str(p), p.stat().st_mtime) for p in real.rglob("*"))


def problems(config_before: list[tuple[str, float]]) -> list[str]:
    """What is wrong at the end of a run (empty: nothing)."""
    found = []
    if real_config_state() != config_before:
        found.append(f"the real {Path.home() / '.config' / 'p2pescrow'} was changed by the run")
    harness = sys.modules.get(f"{__package__}.harness")  # loaded if an SDK or node test ran
    if harness is not None:
        found += [f"a private key appeared in an exception text: {leak}" for leak in harness.ERROR_LOG.leaks()]
    return found


@pytest.fixture(scope="session", autouse=True)
def session_checks() -> Iterator[None]:
    before = real_config_state()
    yield
    found = problems(before)
    assert not found, "checks over the whole run failed:\n" + "\n".join(found)
