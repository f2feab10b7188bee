"""Without the ``market`` extra (SQLAlchemy, Alembic) the market index is refused with one line naming
``pip install 'p2pescrow[market]'``, and a PostgreSQL index without the ``postgres`` extra (psycopg)
with one naming ``pip install 'p2pescrow[postgres]'``; ``import p2pescrow.market`` itself needs neither.

Each case runs in a fresh interpreter whose ``sys.modules`` holds ``None`` for the blocked packages: to
``import`` and to ``importlib.util.find_spec`` they are then not installed, as in a venv with the base
install only (this process has long imported SQLAlchemy for the other tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

MARKET = "the market index needs the 'market' extra (missing: sqlalchemy, alembic): pip install 'p2pescrow[market]'"
POSTGRES = "a PostgreSQL market index needs the 'postgres' extra (missing: psycopg): pip install 'p2pescrow[postgres]'"


def run_without(blocked: tuple[str, ...], code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    prologue = f"import sys\nfor name in {blocked!r}:\n    sys.modules[name] = None\n"
    env = {k: v for k, v in os.environ.items() if not k.startswith("P2PESCROW_")}
    env["P2PESCROW_HOME"] = str(tmp_path / "home")
    return subprocess.run([sys.executable, "-c", prologue + code], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)


def refused_in_one_line(done: subprocess.CompletedProcess[str], message: str) -> None:
    """The program died of MissingExtra alone: its last line is the message, no import error shown."""
    assert done.returncode == 1 and done.stdout == "", done.stdout + done.stderr
    assert done.stderr.strip().splitlines()[-1] == f"p2pescrow.errors.MissingExtra: {message}", done.stderr
    assert "ModuleNotFoundError" not in done.stderr and "ImportError" not in done.stderr, done.stderr


def test_the_package_imports_without_the_extra_and_says_what_is_missing(tmp_path: Path) -> None:
    code = ("import p2pescrow.market as market\n"
            "from p2pescrow import errors\n"
            "print(market.resolve_url(None).startswith('sqlite:///'))\n"
            "try:\n"
            "    market.check_market()\n"
            "except errors.MissingExtra as exc:\n"
            "    print(exc.exit_code, exc.command)\n"
            "    print(exc)\n"
            "print(sorted(m for m, v in sys.modules.items()\n"
            "             if v is not None and m.split('.')[0] in ('sqlalchemy', 'alembic')))\n")
    done = run_without(("sqlalchemy", "alembic"), code, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["True", "2 pip install 'p2pescrow[market]'", MARKET, "[]"]


@pytest.mark.parametrize("statement", [
    "from p2pescrow.market import search",
    "from p2pescrow.market import OfferFilter",
    "from p2pescrow.market import open_database; open_database('sqlite:///index.sqlite')",
    "from p2pescrow import MarketClient; MarketClient(None)",
], ids=["search", "OfferFilter", "open_database", "MarketClient"])
def test_the_market_index_without_the_extra_is_one_line(statement: str, tmp_path: Path) -> None:
    refused_in_one_line(run_without(("sqlalchemy", "alembic"), statement, tmp_path), MARKET)


def test_only_sqlalchemy_missing_names_it_alone(tmp_path: Path) -> None:
    done = run_without(("sqlalchemy",), "from p2pescrow.market import stats", tmp_path)
    refused_in_one_line(done, MARKET.replace("sqlalchemy, alembic", "sqlalchemy"))


@pytest.mark.parametrize("statement", [
    "from p2pescrow.market import check_market; check_market('postgresql+psycopg://u@/db?host=/tmp')",
    "from p2pescrow.market import open_database; open_database('postgresql+psycopg://u@/db?host=/tmp')",
], ids=["check_market", "open_database"])
def test_postgresql_without_psycopg_names_the_postgres_extra(statement: str, tmp_path: Path) -> None:
    refused_in_one_line(run_without(("psycopg",), statement, tmp_path), POSTGRES)


def test_sqlite_needs_no_psycopg(tmp_path: Path) -> None:
    code = ("from p2pescrow.market import check_market, open_database\n"
            "check_market('sqlite:///x.sqlite')\n"
            "engine = open_database('sqlite:///index.sqlite')\n"
            "print(engine.dialect.name)\n"
            "print([m for m, v in sys.modules.items() if v is not None and m.split('.')[0] == 'psycopg'])\n")
    done = run_without(("psycopg",), code, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["sqlite", "[]"]
    assert (tmp_path / "index.sqlite").exists()
