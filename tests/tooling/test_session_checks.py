"""The checks made when the session ends (``support/session_checks.py``) see what they guard: a
change under the real config folder, and a private key in an exception text."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from eth_account import Account
from support import session_checks

from p2pescrow import P2PEscrowError


def test_a_write_to_the_real_config_folder_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # Path.home() -> a stand-in for the user's home
    before = session_checks.real_config_state()
    assert before == [] and session_checks.problems(before) == []
    journal = tmp_path / ".config" / "p2pescrow" / "journal"
    journal.mkdir(parents=True)
    (journal / "31337").write_text("{}")
    assert [p for p in session_checks.problems(before) if "real" in p and "p2pescrow" in p]


def test_a_key_in_an_exception_text_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    from support import harness

    log = harness.ErrorLog()
    monkeypatch.setattr(harness, "ERROR_LOG", log)
    monkeypatch.setitem(sys.modules, f"{session_checks.__package__}.harness", harness)
    key = Account.create().key.hex()
    log.add_key(key)
    log.raised.append(P2PEscrowError(f"oops {key}"))
    before = session_checks.real_config_state()
    assert [p for p in session_checks.problems(before) if "private key" in p]
    log.raised.clear()
    assert not [p for p in session_checks.problems(before) if "private key" in p]
