"""Run Slither on the shipped contracts through the project's compiler, and judge every finding.

``python -m tools.slither`` (``make slither``, part of ``make lint`` and ``make test``):

1. writes the solc standard-JSON input of the shipped build (``contracts/**`` except
   ``contracts/test/``, plus every import and ``settings.ERROR_SOURCES``: the same sources and
   compiler settings as :func:`p2pescrow.build.build`) to ``.build/slither/input.json``; only the
   output selection differs, because crytic-compile needs the AST and the source maps;
2. runs ``slither <input> --compile-force-framework solc-json --solc <compiler>``, where the
   compiler is :func:`find_compiler`'s (the solcjs shim on machines without native solc). The
   standard-JSON route is the one solcjs can serve; slither-analyzer >= 0.11.6 honours ``--solc``;
3. keeps the findings that touch our own contracts (an element under ``contracts/``), drops those
   entirely inside dependencies (OpenZeppelin under ``node_modules/``);
4. compares them with the committed triage file ``slither.triage.json``. Each entry names a
   detector, a file and a target (``Contract.function(signature)``, ``...function(sig).variable``
   or ``pragma <version>``), a verdict and the reason. The run fails on any finding with no entry,
   and on any High or Medium finding whose entry is not ``"verdict": "false-positive"``.

Line numbers are left out of the key on purpose, so editing a contract does not invalidate the
triage; an entry that matches nothing any more is reported (stale) without failing the run.
Slither's findings are cached in ``.build/slither/result.json`` under a hash of the input, this
module and the Slither version: unchanged contracts are not analysed twice (the triage is always
applied afresh). ``--no-cache`` or ``P2PESCROW_SLITHER_NO_CACHE=1`` forces a run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from p2pescrow.build.builder import Project, _collect
from p2pescrow.build.compiler import find_compiler
from p2pescrow.build.settings import build_settings
from p2pescrow.build.sources import standard_json_input

TRIAGE_FILE = "slither.triage.json"
FAILING_IMPACTS = ("High", "Medium")
VERDICTS = ("false-positive", "accepted")
IMPACT_ORDER = ("High", "Medium", "Low", "Informational", "Optimization")
#: What crytic-compile reads from solc's output (it parses the AST and the source maps).
OUTPUT_SELECTION = {
    "*": {
        "*": ["abi", "metadata", "devdoc", "userdoc", "evm.bytecode", "evm.deployedBytecode"],
        "": ["ast"],
    }
}


@dataclass(frozen=True)
class Finding:
    detector: str
    impact: str
    confidence: str
    file: str
    target: str
    description: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.detector, self.file, self.target)


@dataclass(frozen=True)
class Report:
    findings: tuple[Finding, ...]
    dependency_findings: int
    untriaged: tuple[Finding, ...]
    failing: tuple[Finding, ...]
    stale: tuple[Mapping[str, str], ...]
    slither_version: str
    seconds: float
    cached: bool = False

    @property
    def ok(self) -> bool:
        return not self.untriaged and not self.failing

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.findings:
            out[f.impact] = out.get(f.impact, 0) + 1
        return out


def write_input(project: Project, out: Path) -> Path:
    """Write the standard-JSON input of the shipped build to ``out``; return it."""
    settings = build_settings()
    settings["outputSelection"] = OUTPUT_SELECTION
    data = standard_json_input(_collect(project, project.main_files()), settings)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return out


def slither_executable() -> str:
    """``slither`` next to this interpreter (the venv), else on PATH."""
    beside = Path(sys.executable).parent / "slither"
    if beside.is_file():
        return str(beside)
    found = shutil.which("slither")
    if found is None:
        raise SystemExit("slither is not installed: pip install -e '.[dev]' (slither-analyzer)")
    return found


def slither_version() -> str:
    from importlib.metadata import version

    return version("slither-analyzer")


def run_slither(project: Project, input_path: Path, out_json: Path) -> dict[str, Any]:
    """Run Slither on ``input_path`` with the project's compiler; return its JSON report."""
    compiler = find_compiler(node_modules=project.node_modules)
    out_json.unlink(missing_ok=True)
    cmd = [
        slither_executable(),
        str(input_path),
        "--compile-force-framework",
        "solc-json",
        "--solc",
        str(compiler.path),
        "--json",
        str(out_json),
        "--disable-color",
    ]
    # Exit status is the number of findings (capped) or an error: the JSON report tells which.
    proc = subprocess.run(cmd, cwd=project.root, capture_output=True, text=True, check=False)
    try:
        report = json.loads(out_json.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        report = None
    if not isinstance(report, dict) or not report.get("success"):
        detail = (report or {}).get("error") if isinstance(report, dict) else None
        raise SystemExit(
            f"slither failed (exit {proc.returncode}): {detail or ''}\n"
            f"command: {' '.join(cmd)}\n{proc.stderr[-4000:]}"
        )
    return report


def _is_ours(element: Mapping[str, Any]) -> bool:
    name = element.get("source_mapping", {}).get("filename_relative") or ""
    return name.startswith("contracts/") and not name.startswith("contracts/test/")


def _target(element: Mapping[str, Any]) -> str:
    fields = element.get("type_specific_fields", {})
    parent = fields.get("parent") or {}
    own = fields.get("signature") or element.get("name", "")
    if element.get("type") == "pragma":
        return f"pragma {element.get('name', '')}"
    if parent.get("type") == "contract":
        return f"{parent.get('name')}.{own}"
    if parent.get("type") == "function":
        pfields = parent.get("type_specific_fields", {})
        contract = (pfields.get("parent") or {}).get("name")
        psig = pfields.get("signature") or parent.get("name")
        return f"{contract}.{psig}.{own}" if contract else f"{psig}.{own}"
    return f"{element.get('type')} {own}"


def findings_of(report: Mapping[str, Any]) -> tuple[list[Finding], int]:
    """(findings touching our contracts, number of findings only in dependencies)."""
    ours: list[Finding] = []
    dependency = 0
    for result in report.get("results", {}).get("detectors", []):
        elements = [e for e in result.get("elements", []) if _is_ours(e)]
        if not elements:
            dependency += 1
            continue
        first = elements[0]
        ours.append(
            Finding(
                detector=result["check"],
                impact=result["impact"],
                confidence=result["confidence"],
                file=first["source_mapping"]["filename_relative"],
                target=_target(first),
                description=result.get("description", "").strip(),
            )
        )
    ours.sort(key=lambda f: (IMPACT_ORDER.index(f.impact) if f.impact in IMPACT_ORDER else 9, f.key))
    return ours, dependency


def load_triage(path: Path) -> list[dict[str, str]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    entries = data["findings"] if isinstance(data, dict) else data
    for i, entry in enumerate(entries):
        missing = [k for k in ("detector", "file", "target", "verdict", "reason") if not entry.get(k)]
        if missing:
            raise SystemExit(f"{path}: entry {i} lacks {', '.join(missing)}")
        if entry["verdict"] not in VERDICTS:
            raise SystemExit(f"{path}: entry {i}: verdict must be one of {VERDICTS}")
    return entries


def judge(
    findings: Sequence[Finding], dependency: int, triage: Sequence[Mapping[str, str]],
    version: str, seconds: float,
) -> Report:
    by_key = {(e["detector"], e["file"], e["target"]): e for e in triage}
    untriaged = tuple(f for f in findings if f.key not in by_key)
    failing = tuple(
        f
        for f in findings
        if f.impact in FAILING_IMPACTS
        and f.key in by_key
        and by_key[f.key]["verdict"] != "false-positive"
    )
    seen = {f.key for f in findings}
    stale = tuple(e for k, e in by_key.items() if k not in seen)
    return Report(tuple(findings), dependency, untriaged, failing, stale, version, seconds)


def check(project: Project | None = None, *, use_cache: bool = True) -> Report:
    """Write the input, run Slither (unless cached), judge the findings against the triage."""
    project = project or Project.at()
    work = project.root / ".build" / "slither"
    triage_path = project.root / TRIAGE_FILE
    input_path = write_input(project, work / "input.json")
    version = slither_version()
    digest = hashlib.sha256()
    for blob in (input_path.read_bytes(), Path(__file__).read_bytes()):
        digest.update(hashlib.sha256(blob).digest())
    digest.update(version.encode())
    cache_path = work / "result.json"
    triage = load_triage(triage_path)
    if use_cache:
        try:
            cached = json.loads(cache_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            cached = None
        if cached and cached.get("key") == digest.hexdigest():
            findings = [Finding(**f) for f in cached["findings"]]
            report = judge(findings, cached["dependency"], triage, version, 0.0)
            return replace(report, cached=True)
    started = time.monotonic()
    raw = run_slither(project, input_path, work / "slither-output.json")
    findings, dependency = findings_of(raw)
    report = judge(findings, dependency, triage, version, time.monotonic() - started)
    cache_path.write_text(
        json.dumps(
            {
                "key": digest.hexdigest(),
                "findings": [asdict(f) for f in findings],
                "dependency": dependency,
            },
            indent=1,
        ),
        encoding="utf-8",
    )
    return report


def summary(report: Report) -> str:
    counts = report.counts()
    parts = [f"{counts.get(i, 0)} {i.lower()}" for i in ("High", "Medium", "Low", "Informational")]
    state = "passed" if report.ok else "FAILED"
    how = "cached result" if report.cached else f"{report.seconds:.1f} s"
    return (
        f"slither {report.slither_version} {state}: {len(report.findings)} findings in contracts/ "
        f"({', '.join(parts)}); triaged in {TRIAGE_FILE}: "
        f"{len(report.findings) - len(report.untriaged)}, untriaged: {len(report.untriaged)}, "
        f"high/medium not marked false-positive: {len(report.failing)}; "
        f"{report.dependency_findings} findings only in dependencies (node_modules) ignored ({how})"
    )


def _short(text: str, lines: int = 8) -> str:
    parts = text.splitlines()
    more = f"\n  ... ({len(parts) - lines} more lines)" if len(parts) > lines else ""
    return "\n  ".join(parts[:lines]) + more


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.slither", description=__doc__)
    parser.add_argument("--no-cache", action="store_true", help="always run Slither")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every finding")
    args = parser.parse_args(argv)
    report = check(use_cache=not args.no_cache and not os.environ.get("P2PESCROW_SLITHER_NO_CACHE"))
    for f in report.findings if args.verbose else ():
        print(f"[{f.impact}] {f.detector} {f.file} {f.target}")
    for f in report.untriaged:
        print(f"untriaged [{f.impact}/{f.confidence}] {f.detector}: {f.file} {f.target}\n"
              f"  {_short(f.description)}\n  -> add an entry to {TRIAGE_FILE} with the reason, or fix it",
              file=sys.stderr)
    for f in report.failing:
        print(f"{f.impact} finding not marked a false positive: {f.detector} {f.file} {f.target}\n"
              f"  {_short(f.description)}", file=sys.stderr)
    for e in report.stale:
        print(f"warning: stale triage entry (matches no finding): {e['detector']} {e['file']} "
              f"{e['target']}", file=sys.stderr)
    print(summary(report))
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
