"""The architecture's rules are declared where `lint-imports` enforces them (pyproject's
``[tool.importlinter]``, run by `make lint` and `make test`), and the package keeps them: data flows
one way (cli -> clients -> transport -> core -> models -> errors -> states -> _artifacts), the SDK never
imports the CLI, the build or the tooling, core/ does no I/O, and no package has an import cycle."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def contracts() -> dict[str, dict[str, Any]]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {contract["id"]: contract for contract in config["contracts"]}


def layer_of(layers: list[str], module: str) -> int:
    return next(i for i, layer in enumerate(layers) if module in [m.strip() for m in layer.split("|")])


def test_the_layers_run_the_way_the_data_flows() -> None:
    layered = contracts()["layers"]
    assert layered["containers"] == ["p2pescrow"] and layered["exhaustive"] is True
    layers = layered["layers"]
    flow = ["cli", "clients", "transport", "core", "bindings", "models", "errors", "states", "_artifacts"]
    positions = [layer_of(layers, module) for module in flow]
    assert positions == sorted(positions) and len(set(positions)) == len(positions), layers
    assert layer_of(layers, "ops") < layer_of(layers, "clients") and layer_of(layers, "node") < layer_of(
        layers, "clients")


def test_the_sdk_may_not_import_the_cli_the_build_or_the_tooling() -> None:
    sdk = contracts()["sdk-stays-an-sdk"]
    assert {"p2pescrow.clients", "p2pescrow.transport", "p2pescrow.core", "p2pescrow.bindings", "p2pescrow.models",
            "p2pescrow.errors"} <= set(sdk["source_modules"])
    assert {"p2pescrow.cli", "p2pescrow.build", "tools"} <= set(sdk["forbidden_modules"])
    assert contracts()["nothing-shipped-imports-tools"]["forbidden_modules"] == ["tools"]


def test_core_may_not_reach_the_network_or_a_node() -> None:
    forbidden = set(contracts()["core-does-no-io"]["forbidden_modules"])
    assert {"web3", "urllib", "socket", "http", "requests", "httpx", "p2pescrow.transport"} <= forbidden


def test_the_twins_shared_bases_may_not_do_io() -> None:
    bases = contracts()["bases-do-no-io"]
    assert set(bases["source_modules"]) == {"p2pescrow.transport._base", "p2pescrow.clients._base"}
    assert {"web3", "p2pescrow.transport.sync", "p2pescrow.transport.aio"} <= set(bases["forbidden_modules"])


def test_no_cycles_anywhere_in_the_package() -> None:
    assert contracts()["no-cycles"]["type"] == "acyclic_siblings"
    assert contracts()["no-cycles"]["ancestors"] == ["p2pescrow"]


@pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is not installed (dev extra)")
def test_the_package_keeps_every_contract(tmp_path: Path) -> None:
    done = subprocess.run([str(LINT_IMPORTS), "--cache-dir", str(tmp_path / "cache")], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert f"{len(contracts())} kept, 0 broken" in done.stdout
