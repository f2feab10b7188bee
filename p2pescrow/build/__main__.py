"""``python -m p2pescrow.build``: compile the contracts into p2pescrow/artifacts (``make compile``).

Exit status 0 on success, 1 when solc rejects the sources (its messages on stderr, no
traceback), when ``--check`` finds the committed artifacts out of date, or on any other build
error. argparse rather than Typer: this runs in CI and from the Makefile, and needs nothing
beyond py-solc-x.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .builder import BuildResult, Project, build, build_tests, check
from .compiler import Compiler
from .errors import BuildError, CompilationFailed


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m p2pescrow.build",
        description="Compile contracts/ into p2pescrow/artifacts/ (and the test doubles under "
        "contracts/test/ into .build/test-artifacts/ with --tests).",
    )
    parser.add_argument("--force", action="store_true", help="compile even if up to date")
    parser.add_argument(
        "--check",
        action="store_true",
        help="compile afresh and exit 1 if the committed artifacts differ (writes nothing)",
    )
    parser.add_argument("--tests", action="store_true", help="also build the test contracts")
    parser.add_argument(
        "--root", type=Path, default=None, help="project root (default: this checkout)"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="artifacts folder (default: p2pescrow/artifacts)"
    )
    return parser


def _rel(path: Path) -> str:
    """``path`` relative to the working directory when inside it, else absolute."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _report(result: BuildResult) -> None:
    for warning in result.warnings:
        print(warning, file=sys.stderr)
    label = "test artifacts" if result.kind == "test-artifacts" else "artifacts"
    if result.up_to_date:
        print(f"{label} up to date ({_rel(result.out_dir)})")
        return
    compiler = result.compiler
    via = f" with {compiler.kind} solc {compiler.version}" if compiler else ""
    print(f"compiled {result.sources} sources{via} in {result.seconds:.1f} s")
    for path in result.written:
        print(f"  wrote {_rel(path)}")
    for path in result.removed:
        print(f"  removed {_rel(path)}")
    if not result.written and not result.removed:
        print(f"  {label} unchanged ({_rel(result.out_dir)})")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the build; return the process exit status."""
    args = _parser().parse_args(argv)
    try:
        project = Project.at(args.root, artifacts_dir=args.out)
        compiler: Compiler | None = None
        if args.check:
            problems = check(project)
            for problem in problems:
                print(problem, file=sys.stderr)
            if problems:
                print("artifacts are stale: run `make compile` and commit them", file=sys.stderr)
                return 1
            print(f"artifacts match a fresh compile ({_rel(project.artifacts_dir)})")
        else:
            result = build(project, force=args.force)
            _report(result)
            compiler = result.compiler
        if args.tests:
            _report(build_tests(project, force=args.force, compiler=compiler))
    except CompilationFailed as exc:
        for warning in exc.warnings:
            print(warning, file=sys.stderr)
        for message in exc.messages:
            print(message, file=sys.stderr)
        print("compilation failed", file=sys.stderr)
        return 1
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
