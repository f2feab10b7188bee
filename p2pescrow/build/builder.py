"""Compile the contracts into the artifacts the SDK ships, and the test doubles for the tests.

Two builds, each one ``solcx.compile_standard`` call with every source supplied by content:

* the shipped build: ``contracts/**/*.sol`` except ``contracts/test/``; writes one artifact per
  ``settings.DEPLOYABLE`` contract plus ``errors.json`` into ``p2pescrow/artifacts/`` (committed,
  shipped in the wheel);
* the test build: the same sources plus ``contracts/test/**``; writes an artifact for every
  contract declared under ``contracts/test/`` (mocks, attackers) plus ``errors.json`` into
  ``.build/test-artifacts/`` (git-ignored, rebuilt on demand by :func:`load_artifact`).

Each artifact records the hash of its build's input (:func:`sources.source_hash`); when the
recorded hashes equal the current one the compiler is not run at all.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from .artifacts import (
    ERRORS_FILE,
    contract_artifact,
    dumps,
    error_index,
    read_source_hash,
    write_if_changed,
)
from .compiler import Compiler, find_compiler
from .errors import BuildError, CompilationFailed
from .paths import find_node_modules, source_checkout_root
from .settings import DEPLOYABLE, ERROR_SOURCES, build_settings
from .sources import collect_sources, source_hash, standard_json_input

#: Records, in the test-artifacts folder, which files the last test build wrote and from what.
TEST_STAMP = ".stamp.json"


@dataclass(frozen=True)
class Project:
    """Where a build reads sources and writes artifacts. Tests point it at scratch folders."""

    root: Path
    artifacts_dir: Path
    test_artifacts_dir: Path
    node_modules: Path | None
    deployable: tuple[str, ...] = DEPLOYABLE

    @classmethod
    def at(
        cls,
        root: Path | None = None,
        *,
        artifacts_dir: Path | None = None,
        test_artifacts_dir: Path | None = None,
        node_modules: Path | None = None,
        deployable: tuple[str, ...] = DEPLOYABLE,
    ) -> Project:
        """The project at ``root`` (default: this source checkout), usual layout unless given."""
        if root is None:
            root = source_checkout_root()
            if root is None:
                raise BuildError(
                    "p2pescrow is installed without its Solidity sources (no contracts/ folder "
                    "next to the package); building needs a source checkout."
                )
        root = root.resolve()
        return cls(
            root=root,
            artifacts_dir=(artifacts_dir or root / "p2pescrow" / "artifacts").resolve(),
            test_artifacts_dir=(test_artifacts_dir or root / ".build" / "test-artifacts").resolve(),
            node_modules=node_modules if node_modules is not None else find_node_modules(root),
            deployable=deployable,
        )

    @property
    def contracts_dir(self) -> Path:
        return self.root / "contracts"

    @property
    def test_contracts_dir(self) -> Path:
        return self.contracts_dir / "test"

    def main_files(self) -> list[Path]:
        """The shipped build's own sources: ``contracts/**/*.sol`` outside ``contracts/test/``."""
        tests = self.test_contracts_dir
        return sorted(p for p in self.contracts_dir.rglob("*.sol") if not p.is_relative_to(tests))

    def test_files(self) -> list[Path]:
        """The test doubles: ``contracts/test/**/*.sol``."""
        return sorted(self.test_contracts_dir.rglob("*.sol"))

    def is_test_unit(self, unit: str) -> bool:
        prefix = (self.test_contracts_dir.relative_to(self.root)).as_posix() + "/"
        return unit.startswith(prefix)


@dataclass(frozen=True)
class BuildResult:
    """What a build did. ``up_to_date`` means the compiler was not run."""

    kind: Literal["artifacts", "test-artifacts"]
    out_dir: Path
    source_hash: str
    up_to_date: bool
    written: tuple[Path, ...] = ()
    removed: tuple[Path, ...] = ()
    warnings: tuple[str, ...] = ()
    compiler: Compiler | None = None
    seconds: float = 0.0
    sources: int = field(default=0)


def compile_sources(
    sources: Mapping[str, str], settings: Mapping[str, Any], compiler: Compiler
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Run solc once on ``sources``; return (standard-JSON output, warning messages).

    Raises :class:`CompilationFailed` carrying solc's own ``formattedMessage`` for every error,
    whether py-solc-x raised (it does on errors) or not.
    """
    import solcx
    from solcx.exceptions import SolcError

    diagnostics: list[Mapping[str, Any]]
    try:
        output: dict[str, Any] = solcx.compile_standard(
            standard_json_input(sources, settings), solc_binary=compiler.path
        )
        diagnostics = output.get("errors", [])
    except SolcError as exc:
        if not exc.error_dict:  # the compiler process itself failed, not the sources
            detail = (exc.stderr_data or exc.stdout_data or exc.message or "").strip()
            raise CompilationFailed(
                [f"{compiler.path} failed (exit {exc.return_code}): {detail}"]
            ) from None
        # py-solc-x annotates error_dict as a dict; it is solc's "errors" list.
        diagnostics = cast(list[Mapping[str, Any]], exc.error_dict)
        output = {}
    except ValueError as exc:  # stdout was not JSON
        raise CompilationFailed([f"{compiler.path} did not return standard JSON: {exc}"]) from None
    except (OSError, subprocess.CalledProcessError) as exc:  # e.g. `--version` failed
        raise CompilationFailed([f"cannot run {compiler.path}: {exc}"]) from None
    errors = [_message(d) for d in diagnostics if d.get("severity") == "error"]
    warnings = tuple(_message(d) for d in diagnostics if d.get("severity") != "error")
    if errors:
        raise CompilationFailed(errors, warnings)
    return output, warnings


def build(
    project: Project | None = None, *, force: bool = False, compiler: Compiler | None = None
) -> BuildResult:
    """Bring the shipped artifacts up to date (compile only if their sourceHash is stale)."""
    project = project or Project.at()
    settings = build_settings()
    sources = _collect(project, project.main_files())
    digest = source_hash(sources, settings)
    expected = [f"{name}.json" for name in project.deployable] + [ERRORS_FILE]
    if not force and all(read_source_hash(project.artifacts_dir / f) == digest for f in expected):
        return BuildResult("artifacts", project.artifacts_dir, digest, True, sources=len(sources))
    started = time.monotonic()
    compiler = compiler or find_compiler(node_modules=project.node_modules)
    files, warnings = _render_main(project, sources, settings, digest, compiler)
    written, removed = _sync(project.artifacts_dir, files)
    return BuildResult(
        "artifacts",
        project.artifacts_dir,
        digest,
        False,
        written,
        removed,
        warnings,
        compiler,
        time.monotonic() - started,
        len(sources),
    )


def build_tests(
    project: Project | None = None, *, force: bool = False, compiler: Compiler | None = None
) -> BuildResult:
    """Bring ``.build/test-artifacts/`` up to date: main + test sources in one compile."""
    project = project or Project.at()
    out = project.test_artifacts_dir
    with _locked(out.with_name(f".{out.name}.lock")):
        settings = build_settings()
        test_files = project.test_files()
        sources = _collect(project, project.main_files() + test_files) if test_files else {}
        digest = source_hash(sources, settings)
        if not force and _test_build_current(out, digest):
            return BuildResult("test-artifacts", out, digest, True, sources=len(sources))
        started = time.monotonic()
        files: dict[str, str] = {}
        warnings: tuple[str, ...] = ()
        if sources:
            compiler = compiler or find_compiler(node_modules=project.node_modules)
            output, warnings = compile_sources(sources, settings, compiler)
            files = _render_tests(project, output, settings, digest, compiler)
        stamp = {"sourceHash": digest, "files": sorted(files)}
        written, removed = _sync(out, {**files, TEST_STAMP: dumps(stamp)})
        return BuildResult(
            "test-artifacts",
            out,
            digest,
            False,
            written,
            removed,
            warnings,
            compiler,
            time.monotonic() - started,
            len(sources),
        )


def check(project: Project | None = None, *, compiler: Compiler | None = None) -> list[str]:
    """Compile afresh and compare with the shipped artifacts on disk, touching nothing.

    Returns one line per difference (missing, different or unexpected file); empty if equal.
    """
    project = project or Project.at()
    settings = build_settings()
    sources = _collect(project, project.main_files())
    digest = source_hash(sources, settings)
    compiler = compiler or find_compiler(node_modules=project.node_modules)
    files, _ = _render_main(project, sources, settings, digest, compiler)
    problems: list[str] = []
    for name in sorted(files):
        path = project.artifacts_dir / name
        if not path.is_file():
            problems.append(f"{path}: missing")
        elif path.read_text(encoding="utf-8") != files[name]:
            problems.append(f"{path}: differs from a fresh compile")
    for path in sorted(project.artifacts_dir.glob("*.json")):
        if path.name not in files:
            problems.append(f"{path}: not produced by the build")
    return problems


def _collect(project: Project, files: list[Path]) -> dict[str, str]:
    """The build input: ``files``, ``settings.ERROR_SOURCES`` and everything they import."""
    if not files:
        raise BuildError(f"no Solidity sources under {project.contracts_dir}")
    return collect_sources(files, project.root, project.node_modules, units=ERROR_SOURCES)


def _render_main(
    project: Project,
    sources: Mapping[str, str],
    settings: Mapping[str, Any],
    digest: str,
    compiler: Compiler,
) -> tuple[dict[str, str], tuple[str, ...]]:
    output, warnings = compile_sources(sources, settings, compiler)
    found = {
        name: unit
        for unit, contracts in output.get("contracts", {}).items()
        if not project.is_test_unit(unit) and unit.startswith("contracts/")
        for name in contracts
    }
    files: dict[str, str] = {}
    for name in project.deployable:
        unit = found.get(name)
        if unit is None:
            raise BuildError(
                f"contract {name} (settings.DEPLOYABLE) is not declared under contracts/"
            )
        artifact = contract_artifact(
            unit,
            name,
            output["contracts"][unit][name],
            compiler_version=compiler.long_version,
            settings=settings,
            source_hash=digest,
        )
        files[f"{name}.json"] = dumps(artifact)
    files[ERRORS_FILE] = dumps(error_index(output, source_hash=digest))
    return files, warnings


def _render_tests(
    project: Project,
    output: Mapping[str, Any],
    settings: Mapping[str, Any],
    digest: str,
    compiler: Compiler,
) -> dict[str, str]:
    files: dict[str, str] = {}
    owner: dict[str, str] = {}
    for unit in sorted(output.get("contracts", {})):
        if not project.is_test_unit(unit):
            continue
        for name, compiled in sorted(output["contracts"][unit].items()):
            file_name = f"{name}.json"
            if file_name in files or file_name in (ERRORS_FILE, TEST_STAMP):
                raise BuildError(
                    f"contract name {name} is used twice ({owner.get(file_name, 'reserved')} and "
                    f"{unit}); artifacts are named by contract, so rename one."
                )
            owner[file_name] = unit
            files[file_name] = dumps(
                contract_artifact(
                    unit,
                    name,
                    compiled,
                    compiler_version=compiler.long_version,
                    settings=settings,
                    source_hash=digest,
                )
            )
    files[ERRORS_FILE] = dumps(error_index(output, source_hash=digest))
    return files


def _test_build_current(out: Path, digest: str) -> bool:
    if read_source_hash(out / TEST_STAMP) != digest:
        return False
    try:
        listed = json.loads((out / TEST_STAMP).read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError):
        return False
    return all(read_source_hash(out / name) == digest for name in listed)


def _sync(out_dir: Path, files: Mapping[str, str]) -> tuple[tuple[Path, ...], tuple[Path, ...]]:
    """Write ``files`` into ``out_dir`` (unchanged ones untouched), delete other ``*.json``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = tuple(out_dir / n for n in sorted(files) if write_if_changed(out_dir / n, files[n]))
    removed: list[Path] = []
    for path in sorted(out_dir.glob("*.json")):
        if path.name not in files:
            path.unlink()
            removed.append(path)
    return written, tuple(removed)


def _message(diagnostic: Mapping[str, Any]) -> str:
    text = diagnostic.get("formattedMessage") or diagnostic.get("message") or str(diagnostic)
    return str(text).rstrip("\n")


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    """Serialise test builds across processes (pytest-xdist workers) where flock exists."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # Windows: no cross-process lock, builds are still atomic per file
        yield
        return
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
