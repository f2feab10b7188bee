"""The guards against leaked keys work: the error log would catch a key in an exception text (it is
checked after every SDK and node module, and over the whole run by ``support/session_checks.py``),
and dev accounts never show their keys."""

from __future__ import annotations

from eth_account import Account

from p2pescrow import P2PEscrowError


def test_the_leak_check_would_catch_a_leak(error_log):
    key = Account.create().key.hex()
    error_log.add_key(key)
    planted = P2PEscrowError(f"oops {key}")
    assert any("P2PEscrowError" in leak for leak in error_log.leaks())
    error_log.raised.remove(planted)
    error_log.secrets.discard(key.lower().removeprefix("0x"))
    assert not any("P2PEscrowError: key" in leak and key[-6:] in leak for leak in error_log.leaks())


def test_dev_account_reprs_hide_keys():
    from p2pescrow.node.process import dev_accounts

    account = dev_accounts(count=1)[0]
    assert account.private_key[2:] not in repr(account)
