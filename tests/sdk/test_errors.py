"""Every Solidity custom error decodes into its own exception class, under one root."""

import json
from importlib import resources

import pytest
from eth_abi import encode

from p2pescrow import errors


def _errors_json():
    return json.loads((resources.files("p2pescrow") / "artifacts" / "errors.json").read_text())["errors"]


def test_every_error_in_the_artifacts_has_a_class():
    for entry in _errors_json():
        cls = errors.error_class(entry["name"])
        assert issubclass(cls, errors.ContractError)
        assert issubclass(cls, errors.P2PEscrowError)
        assert cls.signature == entry["signature"]


def test_revert_data_decodes_into_the_typed_error_with_arguments_and_message():
    selector = bytes.fromhex(errors.error_class("WrongState").selector[2:])
    data = selector + encode(["bytes32", "uint8"], [b"\x01" * 32, 4])
    exc = errors.decode_revert(data)
    assert isinstance(exc, errors.WrongState)
    assert exc.id == "0x" + "01" * 32 and exc.state == 4  # bytes32 as 0x-hex, like a trade id
    assert "not in a state that allows this" in str(exc)
    assert exc.data == "0x" + data.hex()


def test_openzeppelin_errors_decode_too():
    cls = errors.error_class("ERC20InsufficientAllowance")
    data = bytes.fromhex(cls.selector[2:]) + encode(["address", "uint256", "uint256"], ["0x" + "11" * 20, 1, 2])
    exc = errors.decode_revert(data)
    assert isinstance(exc, cls) and exc.needed == 2


def test_unknown_data_falls_back_to_the_raw_hex():
    exc = errors.decode_revert("0xdeadbeef0102")
    assert isinstance(exc, errors.UnknownRevert)
    assert exc.data == "0xdeadbeef0102"
    assert "0xdeadbeef0102" in str(exc)


def test_plain_reason_strings_and_panics():
    reason = errors.decode_revert(bytes.fromhex("08c379a0") + encode(["string"], ["allowance"]))
    assert isinstance(reason, errors.RevertReason) and "allowance" in str(reason)
    panic = errors.decode_revert(bytes.fromhex("4e487b71") + encode(["uint256"], [0x11]))
    assert isinstance(panic, errors.Panic) and panic.code == 0x11


def test_states_and_times_in_messages_read_as_names_and_dates_with_the_raw_value_kept():
    wrong = errors.decode_revert(errors.WrongState.selector + encode(["bytes32", "uint8"], [b"\x01" * 32, 5]).hex())
    assert "state=5 (COMPLETED)" in str(wrong) and wrong.state == 5
    early = errors.decode_revert(errors.DeadlineNotReached.selector + encode(["uint256"], [1767225600]).hex())
    assert "deadline=1767225600 (2026-01-01 00:00:00 UTC)" in str(early) and early.deadline == 1767225600
    expired = errors.decode_revert(errors.OfferExpired.selector + encode(["uint64"], [1767225601]).hex())
    assert "expiry=1767225601 (2026-01-01 00:00:01 UTC)" in str(expired)
    amount = errors.decode_revert(errors.AmountTooLarge.selector + encode(["uint256"], [1767225600]).hex())
    assert "amount=1767225600)" in str(amount)  # a number that is not a time stays a number


V2_ERRORS = ["InsufficientBond", "AlreadyAccepted", "NotEnded", "NotRecorded", "AlreadyRated", "UriTooLong",
             "WrongAsset", "NotEscrow"]
REMOVED = ["InsufficientGas", "NotRateable", "NotAuthorisedEscrow", "ZeroEscrow"]


def _contract_errors():
    """The custom errors our interfaces define (IP2PEscrow, IReputation), not the libraries'."""
    return sorted(e["name"] for e in _errors_json() if any(d.startswith("contracts/") for d in e["definedIn"]))


def test_the_v2_errors_exist_and_the_removed_ones_are_gone():
    names = _contract_errors()
    assert set(V2_ERRORS) <= set(names)
    for name in REMOVED:
        assert name not in names
        with pytest.raises(AttributeError):
            getattr(errors, name)


def test_every_escrow_and_reputation_error_says_in_one_line_what_is_wrong_and_what_to_do():
    for name in _contract_errors():
        cls = errors.error_class(name)
        assert cls.notice and "\n" not in cls.notice, name  # what is wrong (the contract's NatSpec)
        assert cls.hint and "\n" not in cls.hint, name  # what to do
        assert cls.exit_code == errors.EXIT_REVERT == 3


def test_a_v2_refusal_decodes_with_its_arguments_its_message_and_its_hint():
    seller, token = "0x" + "5e" * 20, "0x" + "00" * 20
    data = errors.InsufficientBond.selector + encode(["address", "address", "uint256", "uint256"],
                                                     [seller, token, 5, 20]).hex()
    exc = errors.decode_revert(data)
    assert isinstance(exc, errors.InsufficientBond) and (exc.free, exc.needed) == (5, 20)
    assert str(exc) == (f"InsufficientBond(seller={exc.seller}, token={token}, free=5, needed=20): "
                        "the seller's free bond does not cover the deposit the trade locks")
    assert "deposit_bond" in exc.hint and errors.exit_code_for(exc) == 3

    ended = errors.decode_revert(errors.NotEnded.selector + encode(["bytes32", "uint8"], [b"\1" * 32, 2]).hex())
    assert "state=2 (AWAITING_DEPOSIT)" in str(ended)
    long_uri = errors.decode_revert(errors.UriTooLong.selector + encode(["uint256", "uint256"], [600, 512]).hex())
    assert (long_uri.length, long_uri.max) == (600, 512) and "512 bytes" in long_uri.hint
