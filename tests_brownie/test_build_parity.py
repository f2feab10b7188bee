"""brownie-config.yaml and p2pescrow/build agree: brownie's compile of contracts/ gives the bytecode
of p2pescrow/artifacts/.

Compared with solc's CBOR metadata blanked out of both: the metadata hashes the source unit names
and the settings, and brownie names the OpenZeppelin files differently (``node_modules/@openzeppelin/...``
through its remapping) from p2pescrow/build (``@openzeppelin/...``), so that hash differs while every
instruction is the same. P2PEscrow's creation code carries two such blobs: its own at the end, and
Reputation's, inside the Reputation creation code its constructor deploys (``new Reputation()``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from p2pescrow.build import DEPLOYABLE, SOLC_VERSION, load_artifact

BUILD = Path(__file__).resolve().parent.parent / "build" / "contracts"


# What solc appends to each contract's code: CBOR {"ipfs": 34-byte multihash, "solc": 3-byte version},
# then its length (0x0033).
METADATA = re.compile(rb"\xa2\x64ipfs\x58\x22.{34}\x64solc\x43.{3}\x00\x33", re.DOTALL)


def code(hex_text: str) -> bytes:
    """The code with every CBOR metadata blob solc appended (the contract's own, and those of contracts
    whose creation code it embeds) blanked out, so only instructions and data are compared."""
    raw = bytes.fromhex(hex_text.removeprefix("0x"))
    return METADATA.sub(lambda blob: b"\0" * len(blob.group()), raw)


def test_the_metadata_pattern_finds_every_blob():
    """P2PEscrow's creation code holds its own metadata and Reputation's; its runtime code only its own."""
    artifact = load_artifact("P2PEscrow")
    for key, blobs in (("bytecode", 2), ("deployedBytecode", 1)):
        raw = bytes.fromhex(artifact[key].removeprefix("0x"))
        matches = list(METADATA.finditer(raw))
        assert len(matches) == blobs, key
        assert matches[-1].end() == len(raw), key  # the contract's own closes its code


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
