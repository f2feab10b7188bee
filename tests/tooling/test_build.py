"""The contract build: reproducible artifacts, no-op rebuilds, solc errors, compiler discovery.

Scratch projects (a temp folder with its own contracts/) use the checkout's node_modules for
solc and OpenZeppelin, so these tests need `npm ci` to have run; the Makefile sees to that.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from p2pescrow.build import (
    DEPLOYABLE,
    EVM_VERSION,
    OPTIMIZER_RUNS,
    REMAPPINGS,
    SOLC_VERSION,
    ArtifactNotFound,
    BuildResult,
    CompilationFailed,
    Compiler,
    CompilerNotFound,
    Project,
    build,
    build_settings,
    build_tests,
    compile_sources,
    find_compiler,
    install_shim_for_solcx,
    load_artifact,
    load_errors,
)
from p2pescrow.build.compiler import shim_wrapper_text
from p2pescrow.build.paths import find_node_modules
from p2pescrow.build.sources import collect_sources, import_paths, resolve_import

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "p2pescrow" / "artifacts"
HAVE_SOLCJS = shutil.which("node") is not None and (
    (REPO / "node_modules" / "solc" / "package.json").is_file()
)
needs_compiler = pytest.mark.skipif(
    not HAVE_SOLCJS and not os.environ.get("P2PESCROW_SOLC"),
    reason="no compiler: run `npm ci` (solcjs) or set P2PESCROW_SOLC",
)

SPDX = "// SPDX-License-Identifier: MIT\npragma solidity 0.8.30;\n"
TINY = SPDX + textwrap.dedent(
    """
    import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
    import "./lib/Math2.sol";

    contract Tiny is Ownable {
        error TooBig(uint256 value);
        constructor() Ownable(msg.sender) {}
        function twice(uint256 x) external view onlyOwner returns (uint256) {
            if (x > 1000) revert TooBig(x);
            return Math2.double(x);
        }
    }
    """
)
MATH2 = (
    SPDX + "library Math2 { function double(uint256 x) internal pure returns (uint256) "
    "{ return 2 * x; } }\n"
)
MOCK = SPDX + textwrap.dedent(
    """
    import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
    import {Tiny} from "../Tiny.sol";

    contract MockToken is ERC20 { constructor() ERC20("Mock", "MCK") { _mint(msg.sender, 1e24); } }
    """
)


def make_project(root: Path, files: dict[str, str]) -> Project:
    """A scratch project under ``root`` whose only deployable contract is Tiny."""
    for name, text in files.items():
        path = root / "contracts" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return Project.at(root, deployable=("Tiny",))


def fake_solc(path: Path, version: str = f"{SOLC_VERSION}+commit.00000000.Fake") -> Path:
    """An executable that answers ``--version`` like solc and fails on anything else."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "--version" ]; then\n'
        f'  printf "solc, the solidity compiler commandline interface\\nVersion: {version}\\n"\n'
        "  exit 0\nfi\necho 'fake solc' >&2\nexit 2\n"
    )
    path.chmod(0o755)
    return path


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No P2PESCROW_SOLC, an empty py-solc-x folder and a private cache: discovery from zero."""
    monkeypatch.delenv("P2PESCROW_SOLC", raising=False)
    solcx_dir = tmp_path / "solcx"
    solcx_dir.mkdir()
    monkeypatch.setenv("SOLCX_BINARY_PATH", str(solcx_dir))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return solcx_dir


# --- (a), (b): the committed artifacts -----------------------------------------------------------


@pytest.fixture(scope="module")
def fresh_build(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Project, BuildResult]]:
    """One forced compile of the real contracts into a temp folder, shared by the tests below."""
    if not (REPO / "contracts").is_dir() or not any((REPO / "contracts").glob("*.sol")):
        pytest.skip("contracts/ has no sources yet")
    if not HAVE_SOLCJS and not os.environ.get("P2PESCROW_SOLC"):
        pytest.skip("no compiler")
    project = Project.at(REPO, artifacts_dir=tmp_path_factory.mktemp("artifacts"))
    yield project, build(project, force=True)


@pytest.mark.slow
def test_fresh_compile_reproduces_committed_artifacts(
    fresh_build: tuple[Project, BuildResult],
) -> None:
    project, result = fresh_build
    assert not result.up_to_date
    fresh = {p.name: p.read_bytes() for p in project.artifacts_dir.glob("*.json")}
    committed = {p.name: p.read_bytes() for p in COMMITTED.glob("*.json")}
    assert (
        sorted(fresh)
        == sorted(committed)
        == sorted([f"{name}.json" for name in DEPLOYABLE] + ["errors.json"])
    )
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert not stale, f"artifacts differ from a fresh compile: {stale}; run `make compile`"


@pytest.mark.slow
def test_unchanged_rebuild_does_not_run_the_compiler(
    fresh_build: tuple[Project, BuildResult], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    project, _ = fresh_build
    mtimes = {p: p.stat().st_mtime_ns for p in project.artifacts_dir.glob("*.json")}
    # Any attempt to find or run a compiler would now fail.
    monkeypatch.setenv("P2PESCROW_SOLC", str(tmp_path / "no-such-solc"))
    broken = Compiler(path=tmp_path / "no-such-solc", kind="explicit", version=SOLC_VERSION)
    again = build(project, compiler=broken)
    assert again.up_to_date and again.written == () and again.compiler is None
    assert {p: p.stat().st_mtime_ns for p in project.artifacts_dir.glob("*.json")} == mtimes


@pytest.mark.slow
def test_deployable_artifacts_are_complete(fresh_build: tuple[Project, BuildResult]) -> None:
    project, result = fresh_build
    settings = build_settings()
    for name in DEPLOYABLE:
        art = json.loads((project.artifacts_dir / f"{name}.json").read_text())
        assert art["contractName"] == name and art["sourceName"].startswith("contracts/")
        assert len(art["bytecode"]) > 2 and len(art["deployedBytecode"]) > 2
        assert art["compiler"] == {"version": art["compiler"]["version"], "settings": settings}
        assert art["compiler"]["version"].startswith(SOLC_VERSION + "+commit.")
        assert art["sourceHash"] == result.source_hash
        # EIP-170: deployed code must stay under 24,576 bytes or deployment fails.
        assert (len(art["deployedBytecode"]) - 2) // 2 <= 24_576, name


# --- scratch projects: artifacts, no-op rebuilds, test build -------------------------------------


@needs_compiler
def test_build_of_a_small_project(tmp_path: Path) -> None:
    project = make_project(tmp_path, {"Tiny.sol": TINY, "lib/Math2.sol": MATH2})
    first = build(project)
    assert not first.up_to_date
    assert sorted(p.name for p in first.written) == ["Tiny.json", "errors.json"]
    tiny = json.loads((project.artifacts_dir / "Tiny.json").read_text())
    assert tiny["sourceName"] == "contracts/Tiny.sol"
    assert {e["name"] for e in tiny["abi"] if e["type"] == "error"} >= {"TooBig"}
    text = (project.artifacts_dir / "Tiny.json").read_text()
    assert text.endswith("}\n") and text == json.dumps(tiny, indent=2, sort_keys=True) + "\n"

    errors = {
        e["signature"]: e
        for e in json.loads((project.artifacts_dir / "errors.json").read_text())["errors"]
    }
    assert errors["TooBig(uint256)"]["definedIn"] == ["contracts/Tiny.sol:Tiny"]
    owned = errors["OwnableUnauthorizedAccount(address)"]
    assert owned["selector"] == "0x118cdaa7"
    assert owned["definedIn"] == ["@openzeppelin/contracts/access/Ownable.sol:Ownable"]
    # settings.ERROR_SOURCES: token errors that SafeERC20 bubbles up are known too
    balance = errors["ERC20InsufficientBalance(address,uint256,uint256)"]
    assert balance["definedIn"] == [
        "@openzeppelin/contracts/interfaces/draft-IERC6093.sol:IERC20Errors"
    ]

    # unchanged: no compile, files untouched
    mtime = (project.artifacts_dir / "Tiny.json").stat().st_mtime_ns
    second = build(project)
    assert second.up_to_date and second.compiler is None
    assert (project.artifacts_dir / "Tiny.json").stat().st_mtime_ns == mtime

    # forced: compiles, byte-identical output, nothing rewritten
    forced = build(project, force=True)
    assert not forced.up_to_date and forced.written == ()

    # a changed source makes the artifacts stale
    (project.contracts_dir / "lib" / "Math2.sol").write_text(MATH2.replace("2 * x", "x + x"))
    assert not build(project).up_to_date


@needs_compiler
def test_test_build_and_loader(tmp_path: Path) -> None:
    project = make_project(
        tmp_path, {"Tiny.sol": TINY, "lib/Math2.sol": MATH2, "test/MockToken.sol": MOCK}
    )
    result = build_tests(project)
    assert not result.up_to_date
    written = sorted(p.name for p in result.written)
    assert written == [".stamp.json", "MockToken.json", "errors.json"]
    assert build_tests(project).up_to_date
    mock = load_artifact("MockToken", test=True, project=project)
    assert mock["sourceName"] == "contracts/test/MockToken.sol"
    assert mock["sourceHash"] == result.source_hash
    signatures = {e["signature"] for e in load_errors(test=True, project=project)["errors"]}
    assert "ERC20InsufficientBalance(address,uint256,uint256)" in signatures
    with pytest.raises(ArtifactNotFound):
        load_artifact("Tiny", test=True, project=project)  # shipped, not a test contract
    # a stale test build is rebuilt on demand by the loader
    (project.contracts_dir / "test" / "MockToken.sol").write_text(MOCK.replace("1e24", "1e25"))
    rebuilt = load_artifact("MockToken", test=True, project=project)
    assert rebuilt["sourceHash"] != mock["sourceHash"]


def test_shipped_loader_rejects_unknown_names() -> None:
    with pytest.raises(ArtifactNotFound):
        load_artifact("NoSuchContract")
    with pytest.raises(ArtifactNotFound):
        load_artifact("../settings")


@needs_compiler
def test_large_compiler_output_arrives_intact(tmp_path: Path) -> None:
    """The solcjs CLI cuts piped output at 64 KiB; the shim must not."""
    project = make_project(tmp_path, {"Tiny.sol": TINY, "lib/Math2.sol": MATH2})
    sources = collect_sources(project.main_files(), project.root, project.node_modules)
    output, _ = compile_sources(sources, build_settings(), find_compiler())
    assert len(json.dumps(output)) > 64 * 1024
    assert "Tiny" in output["contracts"]["contracts/Tiny.sol"]


# --- (c) compiler errors -------------------------------------------------------------------------

BROKEN = SPDX + "contract Tiny {\n    function f( external {}\n}\n"


@needs_compiler
def test_syntax_error_raises_compilation_failed(tmp_path: Path) -> None:
    project = make_project(tmp_path, {"Tiny.sol": BROKEN})
    with pytest.raises(CompilationFailed) as caught:
        build(project)
    assert "ParserError" in str(caught.value)
    assert any("contracts/Tiny.sol:4:" in m for m in caught.value.messages)
    assert not (project.artifacts_dir / "Tiny.json").exists()


@needs_compiler
def test_cli_reports_solc_errors_without_traceback(tmp_path: Path) -> None:
    make_project(tmp_path, {"Tiny.sol": BROKEN})
    proc = subprocess.run(
        [sys.executable, "-m", "p2pescrow.build", "--root", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.returncode == 1
    assert "ParserError" in proc.stderr and "contracts/Tiny.sol" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_import_is_reported(tmp_path: Path) -> None:
    tiny = SPDX + 'import "./Nope.sol";\ncontract Tiny {}\n'
    project = make_project(tmp_path, {"Tiny.sol": tiny})
    with pytest.raises(CompilationFailed, match=r"contracts/Nope\.sol.*contracts/Tiny\.sol"):
        build(project)


# --- (d) compiler discovery ----------------------------------------------------------------------


def test_explicit_compiler_wins(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake_solc(clean_env / f"solc-v{SOLC_VERSION}")  # a py-solc-x install that must lose
    explicit = fake_solc(tmp_path / "bin" / "solc")
    monkeypatch.setenv("P2PESCROW_SOLC", str(explicit))
    compiler = find_compiler()
    assert (compiler.kind, compiler.path) == ("explicit", explicit)
    assert compiler.long_version == f"{SOLC_VERSION}+commit.00000000"


def test_explicit_compiler_missing_is_an_error(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere" / "solc"
    monkeypatch.setenv("P2PESCROW_SOLC", str(missing))
    with pytest.raises(CompilerNotFound, match=r"P2PESCROW_SOLC=.*no such file"):
        find_compiler()


def test_explicit_compiler_of_another_version_is_an_error(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    other = fake_solc(tmp_path / "solc", "0.8.19+commit.7dd6d404")
    monkeypatch.setenv("P2PESCROW_SOLC", str(other))
    with pytest.raises(CompilerNotFound, match=f"pins {SOLC_VERSION}"):
        find_compiler()


def test_solcx_install_comes_second(clean_env: Path) -> None:
    installed = fake_solc(clean_env / f"solc-v{SOLC_VERSION}")
    compiler = find_compiler()
    assert (compiler.kind, compiler.path) == ("solcx", installed)


@pytest.mark.skipif(not HAVE_SOLCJS, reason="needs node and node_modules/solc")
def test_solcjs_shim_is_the_fallback(clean_env: Path) -> None:
    compiler = find_compiler()
    assert compiler.kind == "solcjs-shim"
    assert compiler.version.startswith(f"{SOLC_VERSION}+commit.")
    assert os.access(compiler.path, os.X_OK)


def test_no_node_modules_says_npm_ci(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("P2PESCROW_NODE_MODULES", str(tmp_path / "empty"))
    if shutil.which("node") is None:
        pytest.skip("no node: the error is about node instead")
    with pytest.raises(CompilerNotFound, match="npm ci"):
        find_compiler()


def test_no_node_says_install_node(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))
    with pytest.raises(CompilerNotFound, match="node"):
        find_compiler()


@pytest.mark.skipif(not HAVE_SOLCJS, reason="needs node and node_modules/solc")
def test_install_shim_for_solcx_never_clobbers(clean_env: Path) -> None:
    import solcx

    first = install_shim_for_solcx()
    assert (first.path, first.status) == (clean_env / f"solc-v{SOLC_VERSION}", "installed")
    assert install_shim_for_solcx().status == "unchanged"
    assert str(SOLC_VERSION) in [str(v) for v in solcx.get_installed_solc_versions()]
    assert find_compiler().kind == "solcjs-shim"  # py-solc-x's copy is for brownie; ours is used
    native = fake_solc(first.path)  # pretend a real solc was installed there instead
    before = native.read_bytes()
    assert install_shim_for_solcx().status == "kept"
    assert native.read_bytes() == before


def test_shim_registered_by_a_deleted_checkout_is_not_used(clean_env: Path, tmp_path: Path) -> None:
    """A CI clone registers its shim in ~/.solcx for brownie, then is deleted: the wrapper left
    behind runs a missing script. Other checkouts must not pick it up as py-solc-x's solc."""
    stale = clean_env / f"solc-v{SOLC_VERSION}"
    stale.write_text(shim_wrapper_text(Path("/usr/bin/node"), tmp_path / "gone" / "node_modules"))
    stale.chmod(0o755)
    if not HAVE_SOLCJS:
        with pytest.raises(CompilerNotFound, match=r"npm ci|node"):
            find_compiler()
        return
    compiler = find_compiler()
    assert compiler.kind == "solcjs-shim" and compiler.path != stale
    assert compiler.version.startswith(f"{SOLC_VERSION}+commit.")


# --- import resolution ---------------------------------------------------------------------------


def test_import_parsing_and_resolution() -> None:
    text = textwrap.dedent(
        """
        // import "commented.sol";
        /* import "block.sol"; */
        import "a.sol";
        import "./b.sol" as B;
        import * as C from '../c.sol';
        import {D, E as F} from "@openzeppelin/contracts/d.sol";
        contract X { string s = "import \\"fake.sol\\";"; }
        """
    )
    assert import_paths(text) == ["a.sol", "./b.sol", "../c.sol", "@openzeppelin/contracts/d.sol"]
    assert resolve_import("contracts/x/A.sol", "./B.sol") == "contracts/x/B.sol"
    assert resolve_import("contracts/x/A.sol", "../I.sol") == "contracts/I.sol"
    oz = "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol"
    assert resolve_import(oz, "../IERC20.sol") == "@openzeppelin/contracts/token/ERC20/IERC20.sol"
    assert resolve_import("contracts/A.sol", "@openzeppelin/x.sol") == "@openzeppelin/x.sol"


# --- packaging and configuration -----------------------------------------------------------------


def test_cli_import_stays_light() -> None:
    code = "import sys, p2pescrow.cli; assert 'web3' not in sys.modules, 'cli imports web3'"
    subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def test_brownie_config_agrees_with_settings() -> None:
    config_path = REPO / "brownie-config.yaml"
    if not config_path.is_file():
        pytest.skip("no brownie-config.yaml")
    yaml = pytest.importorskip("yaml")
    config = yaml.safe_load(config_path.read_text())
    solc = config["compiler"]["solc"]
    assert str(solc["version"]) == SOLC_VERSION
    assert solc["optimizer"] == {"enabled": True, "runs": OPTIMIZER_RUNS}
    assert config["compiler"].get("evm_version") == EVM_VERSION
    strip = [r.replace("/=", "=").rstrip("/") for r in REMAPPINGS]
    assert [r.replace("/=", "=").rstrip("/") for r in solc.get("remappings", [])] == strip


def test_node_modules_found() -> None:
    if not (REPO / "node_modules").is_dir():
        pytest.skip("npm ci has not run")
    assert find_node_modules(REPO) == (REPO / "node_modules").resolve()
