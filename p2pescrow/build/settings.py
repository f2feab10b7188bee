"""The one place where the compiler and its settings are fixed.

Every build of the contracts (``python -m p2pescrow.build``, the tests, brownie through
``brownie-config.yaml``) must use exactly these values, so that the bytecode in
``p2pescrow/artifacts/`` is reproducible by anyone, with native solc or with solcjs.
``tests/tooling/test_build.py`` checks that ``brownie-config.yaml`` agrees with this module.
"""

from __future__ import annotations

from typing import Any

#: The pinned compiler release. Native solc (``solcx.install_solc("0.8.30")``) and the npm
#: ``solc@0.8.30`` package (solcjs) produce identical bytecode for it.
SOLC_VERSION = "0.8.30"

#: Shanghai (PUSH0, no TSTORE/MCOPY) runs unchanged on the embedded py-evm chain, on Anvil and on
#: Ganache 7.9, which stops at Shanghai. One artifact for all three.
EVM_VERSION = "shanghai"

#: Runtime gas is paid on every trade, deployment once, so we would like many runs; but P2PEscrow
#: must stay under the 24,576-byte code-size limit (EIP-170), and measured with solc 0.8.30 it is
#: 22,169 bytes at 200 runs, 23,225 at 1,000 and 27,587 at 10,000. 200 keeps a safe margin (a test
#: checks the limit); the gas difference on the trade paths is reported by `make bench`.
OPTIMIZER_RUNS = 200

#: Import prefix -> folder, relative to the project root. The same mapping is in
#: brownie-config.yaml.
REMAPPINGS = ("@openzeppelin/=node_modules/@openzeppelin/",)

#: Contracts shipped as artifacts: the deployable ones (the dev tokens of contracts/dev/ included:
#: `p2pescrow node start` deploys them on a local chain). Test doubles under contracts/test/ are
#: compiled for the test suite only and never shipped.
DEPLOYABLE = ("P2PEscrow", "Reputation", "DevToken", "DevPermitToken")

#: Extra sources compiled with the contracts only so that ``errors.json`` knows their custom
#: errors: a token built on OpenZeppelin 5 reverts with IERC20Errors (ERC20InsufficientBalance,
#: ...), and SafeERC20 bubbles that revert data up through P2PEscrow, so the SDK must be able to
#: decode it. Unreferenced by the contracts, they leave the bytecode unchanged (checked).
ERROR_SOURCES = ("@openzeppelin/contracts/interfaces/draft-IERC6093.sol",)


def solc_settings() -> dict[str, Any]:
    """The ``settings`` object of the standard-JSON input, identical for every build."""
    return {
        "optimizer": {"enabled": True, "runs": OPTIMIZER_RUNS},
        "evmVersion": EVM_VERSION,
        "remappings": list(REMAPPINGS),
        "outputSelection": {
            "*": {
                "*": [
                    "abi",
                    "evm.bytecode.object",
                    "evm.deployedBytecode.object",
                    "metadata",
                    "devdoc",
                    "userdoc",
                ]
            }
        },
    }


def build_settings() -> dict[str, Any]:
    """The ``settings`` object that ``p2pescrow.build`` actually passes to solc.

    The builder resolves every import itself and hands solc each OpenZeppelin file under the
    name it is imported by (``@openzeppelin/contracts/...``), so ``remappings`` must be left
    out: with them, solc would rename those files to ``node_modules/@openzeppelin/...`` and ask
    for sources the input does not carry. Everything else comes from :func:`solc_settings`.
    The file-level ``ast`` output lets the builder tell where each custom error is declared
    (``errors.json``); output selection does not enter the metadata, so not the bytecode either.
    """
    settings = solc_settings()
    del settings["remappings"]
    settings["outputSelection"]["*"][""] = ["ast"]
    return settings
