"""README's "Assurance" figures are what the commands produced, not typed by hand: the block is the
rendering of assurance/figures.json, whose coverage and deep-fuzz figures are the records
`make coverage` and `make fuzz` wrote, whose fuzz profiles are the registered ones, and whose
fault list is what `pytest -m fault` collects now."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tools import assurance

ROOT = Path(__file__).resolve().parents[2]


def record(path: Path) -> dict:
    return json.loads((ROOT / path).read_text())


@pytest.fixture(scope="module")
def figures() -> dict:
    return record(assurance.FIGURES)


def test_readme_block_is_the_rendering_of_the_recorded_figures(figures: dict) -> None:
    readme = (ROOT / assurance.README).read_text()
    assert assurance.readme_block(readme) == assurance.render(figures), (
        "README's Assurance block was edited by hand or is stale: run `make assurance`"
    )


def test_coverage_figures_are_make_coverage_s_record(figures: dict) -> None:
    coverage = record(assurance.COVERAGE_RECORD)
    assert figures["coverage"]["lines"] == coverage["lines"]
    assert figures["coverage"]["branches"] == coverage["branches"]
    assert coverage["lines"]["percent"] >= 95  # the aim; `make coverage` enforces it too


def test_deep_fuzz_figures_are_make_fuzz_s_record_of_a_full_passing_run(figures: dict) -> None:
    deep = record(assurance.FUZZ_RECORD)
    assert figures["fuzz_deep_run"] == deep
    assert deep["profile"] == "deep" and deep["failures"] == 0
    assert deep["examples_with_50_steps_or_more"] >= 200 and deep["steps_per_example"] >= 50


def test_fuzz_profiles_are_the_registered_ones(figures: dict) -> None:
    assert figures["fuzz_profiles"] == assurance.fuzz_profiles(ROOT)


@pytest.mark.slow
def test_fault_cases_are_the_tests_marked_fault(figures: dict) -> None:
    collected = assurance.collect(sys.executable, ["-p", "no:pytest-brownie", "tests/", "-m", "fault"], ROOT)
    assert figures["faults"] == [node.removeprefix("tests/") for node in collected], (
        "fault tests changed: run `make assurance`"
    )
    assert len(figures["faults"]) >= 8


def test_markers_missing_from_readme_is_a_clear_error() -> None:
    with pytest.raises(assurance.AssuranceError, match="lacks the markers"):
        assurance.replace_block("# no block here\n", "| x |")


def test_tests_are_counted_per_layer_in_readme_order() -> None:
    ids = ["tests/tooling/test_a.py::t", "tests/contracts/test_b.py::t", "tests/contracts/test_b.py::u",
           "tests/market/test_c.py::t", "tests/sdk/test_d.py::t[x]"]
    assert list(assurance.per_layer(ids).items()) == [("contracts", 2), ("sdk", 1), ("tooling", 1), ("market", 1)]


def test_the_layer_counts_add_up_to_the_main_suite(figures: dict) -> None:
    tests = figures["tests"]
    assert sum(tests["layers"].values()) == tests["main"]
    # make test-fast leaves out exactly the folders whose tests are all marked nodes or e2e
    assert tests["fast"] == tests["main"] - sum(tests["layers"].get(layer, 0) for layer in assurance.SLOW_LAYERS)
