"""Checks over the whole run (this file runs last in the directory): no private key the suite used
appears in any exception the package built (message, repr, hint, attributes; the session fixture
checks again at teardown), and the real ~/.config/p2pescrow was not touched."""

from __future__ import annotations

import pytest
from eth_account import Account

from p2pescrow import P2PEscrowError


def test_the_leak_check_would_catch_a_leak(error_log):
    key = Account.create().key.hex()
    error_log.add_key(key)
    planted = P2PEscrowError(f"oops {key}")
    assert any("P2PEscrowError" in leak for leak in error_log.leaks())
    error_log.raised.remove(planted)
    error_log.secrets.discard(key.lower().removeprefix("0x"))


def test_no_key_in_any_exception_message(error_log):
    if not error_log.raised:
        pytest.skip("nothing was raised: run it with the rest of the suite")
    assert error_log.secrets
    assert not error_log.leaks()


def test_dev_account_reprs_hide_keys():
    from p2pescrow.node.process import dev_accounts

    account = dev_accounts(count=1)[0]
    assert account.private_key[2:] not in repr(account)


def test_the_real_config_dir_was_not_touched(real_config_unchanged):
    assert real_config_unchanged
