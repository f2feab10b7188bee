"""Every Solidity custom error decodes into its own exception class, under one root."""

import json
from importlib import resources

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
    wrong = errors.decode_revert(errors.WrongState.selector + encode(["bytes32", "uint8"], [b"\x01" * 32, 4]).hex())
    assert "state=4 (COMPLETED)" in str(wrong) and wrong.state == 4
    early = errors.decode_revert(errors.DeadlineNotReached.selector + encode(["uint256"], [1767225600]).hex())
    assert "deadline=1767225600 (2026-01-01 00:00:00 UTC)" in str(early) and early.deadline == 1767225600
    expired = errors.decode_revert(errors.OfferExpired.selector + encode(["uint64"], [1767225601]).hex())
    assert "expiry=1767225601 (2026-01-01 00:00:01 UTC)" in str(expired)
    amount = errors.decode_revert(errors.AmountTooLarge.selector + encode(["uint256"], [1767225600]).hex())
    assert "amount=1767225600)" in str(amount)  # a number that is not a time stays a number
