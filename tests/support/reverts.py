"""Decode revert data into (error name, arguments), the same way whatever node raised it.

The SDK has its own typed error mapping; the contract suite uses this small decoder so that it tests
the contracts, not the SDK.
"""

from __future__ import annotations

import ast
import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from eth_abi import decode
from eth_utils import function_signature_to_4byte_selector

from p2pescrow.build import load_artifact


def _signature(entry: dict[str, Any]) -> str:
    def typ(inp: dict[str, Any]) -> str:
        if inp["type"].startswith("tuple"):
            return "(" + ",".join(typ(c) for c in inp["components"]) + ")" + inp["type"][5:]
        return inp["type"]

    return f"{entry['name']}({','.join(typ(i) for i in entry['inputs'])})"


def _error_entries() -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for name in ("P2PEscrow", "Reputation"):
        entries += [e for e in load_artifact(name)["abi"] if e["type"] == "error"]
    for name in ("BlacklistToken", "TestToken", "PermitToken", "FeeOnTransferToken", "ReentrantToken"):
        entries += [e for e in load_artifact(name, test=True)["abi"] if e["type"] == "error"]
    return entries


_BY_SELECTOR: dict[bytes, dict[str, Any]] = {}


def _registry() -> dict[bytes, dict[str, Any]]:
    if not _BY_SELECTOR:
        for entry in _error_entries():
            _BY_SELECTOR[function_signature_to_4byte_selector(_signature(entry))] = entry
    return _BY_SELECTOR


@dataclass
class Revert:
    """What a revert said: the custom error's name and decoded arguments (or the raw data)."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)
    data: bytes = b""


def decode_revert(data: bytes) -> Revert:
    entry = _registry().get(data[:4])
    if entry is None:
        if data[:4] == bytes.fromhex("08c379a0"):
            return Revert("Error", {"message": decode(["string"], data[4:])[0]}, data)
        return Revert("Unknown", {}, data)
    types = [i["type"] if not i["type"].startswith("tuple") else _signature(i) for i in entry["inputs"]]
    values = decode(types, data[4:])
    return Revert(entry["name"], {i["name"]: v for i, v in zip(entry["inputs"], values, strict=False)}, data)


_HEX = re.compile(r"0x[0-9a-fA-F]{8,}")


def revert_data(exc: BaseException) -> bytes:
    """Pull the raw revert data out of whatever exception the provider raised."""
    for attr in ("data",):
        value = getattr(exc, attr, None)
        if isinstance(value, (bytes, bytearray)):
            return bytes(value)
        if isinstance(value, str) and value.startswith("0x"):
            return bytes.fromhex(value[2:])
        if isinstance(value, dict) and isinstance(value.get("data"), str):
            return bytes.fromhex(value["data"][2:])
    for arg in getattr(exc, "args", ()):
        if isinstance(arg, (bytes, bytearray)):
            return bytes(arg)
        if isinstance(arg, str) and "reverted: b" in arg:
            # eth-tester: "execution reverted: b'...'" (a Python bytes literal)
            literal = arg[arg.index("reverted: b") + len("reverted: "):]
            value = ast.literal_eval(literal)
            if isinstance(value, bytes):
                return value
        if isinstance(arg, str):
            match = _HEX.search(arg)
            if match:
                return bytes.fromhex(match.group(0)[2:])
        if isinstance(arg, dict) and isinstance(arg.get("data"), str):
            return bytes.fromhex(arg["data"][2:])
    raise AssertionError(f"no revert data in {type(exc).__name__}: {exc!r}")


@contextlib.contextmanager
def reverts(name: str, **expected: Any) -> Iterator[Revert]:
    """Expect the block to revert with custom error `name` (and these argument values)."""
    result = Revert("")
    try:
        yield result
    except AssertionError:
        raise
    except Exception as exc:  # noqa: BLE001 - every provider raises its own type
        got = decode_revert(revert_data(exc))
        assert got.name == name, f"expected {name}{expected or ''}, got {got.name}{got.args}"
        for key, value in expected.items():
            assert got.args[key] == value, f"{name}.{key}: expected {value!r}, got {got.args[key]!r}"
        result.name, result.args, result.data = got.name, got.args, got.data
        return
    raise AssertionError(f"expected revert {name}, but the call succeeded")
