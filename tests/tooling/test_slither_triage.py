"""The Slither gate's judging logic (tools/slither.py), on synthetic Slither reports.

Slither itself runs in `make slither` (part of `make lint` and `make test`); these tests only pin
what the gate does with a report: which findings count as ours, how they are keyed, and when the
run fails. They also check that the committed triage file is well formed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tools.slither import TRIAGE_FILE, findings_of, judge, load_triage

REPO = Path(__file__).resolve().parents[2]


def _element(file: str, kind: str = "function", name: str = "f", signature: str | None = "f()",
             parent: dict[str, Any] | None = None) -> dict[str, Any]:
    fields: dict[str, Any] = {"parent": parent or {"type": "contract", "name": "C"}}
    if signature:
        fields["signature"] = signature
    return {"type": kind, "name": name, "source_mapping": {"filename_relative": file},
            "type_specific_fields": fields}


def _report(*results: dict[str, Any]) -> dict[str, Any]:
    return {"success": True, "results": {"detectors": list(results)}}


def _result(check: str, impact: str, *elements: dict[str, Any]) -> dict[str, Any]:
    return {"check": check, "impact": impact, "confidence": "High", "description": check,
            "elements": list(elements)}


def _entry(detector: str, target: str, verdict: str, file: str = "contracts/A.sol") -> dict[str, str]:
    return {"detector": detector, "file": file, "target": target, "verdict": verdict, "reason": "r"}


def test_dependency_and_test_double_findings_are_not_ours() -> None:
    report = _report(
        _result("assembly", "Informational", _element("node_modules/@openzeppelin/x.sol")),
        _result("assembly", "Informational", _element("contracts/test/Mock.sol")),
        _result("assembly", "Informational", _element("contracts/A.sol")),
    )
    ours, dependency = findings_of(report)
    assert [(f.detector, f.file, f.target) for f in ours] == [("assembly", "contracts/A.sol", "C.f()")]
    assert dependency == 2


def test_mixed_finding_is_keyed_by_its_first_element_in_contracts() -> None:
    pragma = _result(
        "pragma", "Informational",
        _element("node_modules/@openzeppelin/x.sol", "pragma", "^0.8.20", None, {}),
        _element("contracts/A.sol", "pragma", "0.8.30", None, {}),
    )
    variable = _result("uninitialized-local", "Medium", _element(
        "contracts/A.sol", "variable", "fee", None,
        {"type": "function", "name": "g", "type_specific_fields": {
            "signature": "g(uint256)", "parent": {"type": "contract", "name": "C"}}},
    ))
    ours, _ = findings_of(_report(pragma, variable))
    assert [f.target for f in ours] == ["C.g(uint256).fee", "pragma 0.8.30"]  # Medium sorts first


def test_untriaged_findings_fail() -> None:
    ours, dep = findings_of(_report(_result("timestamp", "Low", _element("contracts/A.sol"))))
    report = judge(ours, dep, [], "0", 0.0)
    assert not report.ok and len(report.untriaged) == 1


@pytest.mark.parametrize(("verdict", "ok"), [("false-positive", True), ("accepted", False)])
def test_high_and_medium_pass_only_as_false_positives(verdict: str, ok: bool) -> None:
    ours, dep = findings_of(_report(_result("arbitrary-send-eth", "High", _element("contracts/A.sol"))))
    report = judge(ours, dep, [_entry("arbitrary-send-eth", "C.f()", verdict)], "0", 0.0)
    assert report.ok is ok


def test_low_findings_may_be_accepted_and_stale_entries_do_not_fail() -> None:
    ours, dep = findings_of(_report(_result("timestamp", "Low", _element("contracts/A.sol"))))
    triage = [_entry("timestamp", "C.f()", "accepted"), _entry("assembly", "C.gone()", "accepted")]
    report = judge(ours, dep, triage, "0", 0.0)
    assert report.ok
    assert [e["target"] for e in report.stale] == ["C.gone()"]


def test_committed_triage_file_is_well_formed() -> None:
    entries = load_triage(REPO / TRIAGE_FILE)
    assert entries, "the triage file lists the findings Slither reports in contracts/"
    keys = [(e["detector"], e["file"], e["target"]) for e in entries]
    assert len(keys) == len(set(keys)), "one entry per finding"
    for entry in entries:
        assert (REPO / entry["file"]).is_file(), entry
        assert len(entry["reason"]) >= 40, f"give a precise reason: {entry}"
