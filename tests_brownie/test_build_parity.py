"""brownie-config.yaml and p2pescrow/build agree: brownie's compile of contracts/ gives the bytecode
of p2pescrow/artifacts/.

Compared with the CBOR metadata stripped from the end of both (its length is in the last two bytes):
the metadata hashes the source unit names, and brownie names the OpenZeppelin files differently
(``node_modules/@openzeppelin/...`` through its remapping) from p2pescrow/build
(``@openzeppelin/...``), so that hash differs while every instruction is the same.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from p2pescrow.build import DEPLOYABLE, SOLC_VERSION, load_artifact

BUILD = Path(__file__).resolve().parent.parent / "build" / "contracts"


def code(hex_text: str) -> bytes:
    """The code without the CBOR metadata solc appends (its length is in the last two bytes)."""
    raw = bytes.fromhex(hex_text.removeprefix("0x"))
    if len(raw) < 2:
        return raw
    length = int.from_bytes(raw[-2:], "big")
    return raw[: -(length + 2)] if length + 2 <= len(raw) else raw


@pytest.mark.parametrize("name", DEPLOYABLE)
def test_brownie_bytecode_equals_the_artifacts(name):
    brownie_build = json.loads((BUILD / f"{name}.json").read_text())
    artifact = load_artifact(name)
    assert brownie_build["compiler"]["version"].startswith(SOLC_VERSION)
    assert brownie_build["compiler"]["evm_version"] == "shanghai"
    assert brownie_build["compiler"]["optimizer"] == {"enabled": True, "runs": 200}
    assert code(brownie_build["bytecode"]) == code(artifact["bytecode"])
    assert code(brownie_build["deployedBytecode"]) == code(artifact["deployedBytecode"])
    assert brownie_build["abi"] == artifact["abi"]
