"""The contract coverage tool (``make coverage``): what it decodes, and that its figures follow what
really ran (a function never called stays uncovered, one called is covered, both ways of a branch
are told apart)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.chain import Chain
from support.escrow import deploy_all

from tools.coverage import JUMPI, Recorder, hit_files, instructions, load_hits, masked_equal, measure, part_path

REPO = Path(__file__).resolve().parents[2]

ESCROW = "contracts/P2PEscrow.sol"


def test_source_map_entries_are_decompressed_one_per_instruction() -> None:
    # PUSH1 0x80, PUSH0, JUMPI, PUSH2 0x0001, STOP, then metadata bytes with no entry
    code = bytes([0x60, 0x80, 0x5F, JUMPI, 0x61, 0x00, 0x01, 0x00, 0xA2, 0x64])
    got = instructions(code, "0:10:0;;5:2::-;:3:-1;")
    assert [(i.pc, i.opcode, i.start, i.length, i.file) for i in got] == [
        (0, 0x60, 0, 10, 0),
        (2, 0x5F, 0, 10, 0),  # empty entry: everything repeats
        (3, JUMPI, 5, 2, 0),  # empty file field: repeats
        (4, 0x61, 5, 3, -1),  # PUSH2 skips its two data bytes
        (7, 0x00, 5, 3, -1),
    ]


def test_immutables_are_ignored_when_matching_deployed_code() -> None:
    shipped = bytes(8)
    deployed = bytes([0, 0, 7, 7, 0, 0, 0, 0])
    assert masked_equal(deployed, shipped, [(2, 2)])
    assert not masked_equal(deployed, shipped, [(3, 2)])
    assert not masked_equal(deployed + b"\x00", shipped + b"\x01", [(2, 2)])


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.slow
def test_figures_follow_what_ran(tmp_path: Path) -> None:
    """Deploy, then call two getters: the constructor and the getters' bodies are covered,
    ``rate``'s body (never called) is not, and the constructor's fee check went one way only."""
    recorder = Recorder()
    recorder.install()
    try:
        d = deploy_all(Chain())
        d.escrow.functions.domainSeparator().call()
        d.escrow.functions.isNonceUsed(d.seller, 3).call()
    finally:
        recorder.uninstall()
    hits = tmp_path / "hits.json"
    recorder.dump(hits)
    assert json.loads(hits.read_text())["codes"]

    coverage = measure(load_hits(hits))
    assert coverage.matched["P2PEscrow"] >= 2  # its creation code and its deployed code
    escrow = next(f for f in coverage.files if f.unit == ESCROW)
    text = (Path(__file__).resolve().parents[2] / ESCROW).read_text()
    assert escrow.lines[line_of(text, "return _domainSeparatorV4();")]
    assert escrow.lines[line_of(text, "return _nonceBitmap[seller][nonce >> 8]")]
    fee_check = line_of(text, "if (feeRecipient_ == address(0)) revert ZeroFeeRecipient();")
    assert escrow.lines[fee_check]  # the constructor ran (creation code)
    assert fee_check in [line for line, _ in escrow.partial_branches()]  # never reverted
    assert not escrow.lines[line_of(text, "reputation.recordRating(")]
    assert 0 < escrow.lines_covered < len(escrow.lines)
    rated = line_of(text, "if (score == 0 || score > 5) revert InvalidScore(score);")
    assert rated in escrow.missing_lines()
    covered, total = coverage.lines
    assert 0 < covered < total and coverage.branches[0] < coverage.branches[1]


def test_the_parts_xdist_workers_write_are_merged(tmp_path: Path) -> None:
    hits = tmp_path / "hits.json"
    assert part_path(hits, None) == hits and part_path(hits, "gw1") == tmp_path / "hits.gw1.json"
    assert hit_files(hits) == []
    part_path(hits, "gw0").write_text(json.dumps({"codes": [{"code": "6001", "pcs": [0], "jumps": [[3, 1]]}]}))
    part_path(hits, "gw1").write_text(json.dumps({"codes": [
        {"code": "6001", "pcs": [2], "jumps": [[3, 0]]}, {"code": "6002", "pcs": [0], "jumps": []}]}))
    (tmp_path / "other.gw0.json").write_text("not ours")

    merged = {code: (pcs, jumps) for code, pcs, jumps in load_hits(hits)}

    assert merged == {bytes.fromhex("6001"): ({0, 2}, {(3, 0), (3, 1)}), bytes.fromhex("6002"): ({0}, set())}


@pytest.mark.slow
def test_a_run_spread_over_xdist_workers_records_all_it_ran(tmp_path: Path) -> None:
    """Two contract test files on two workers (one each): every worker writes its part, the parts
    hold what each ran, and the merge the gate measures holds them all."""
    hits = tmp_path / "hits.json"
    env = {**os.environ, "P2PESCROW_COVERAGE": str(hits)}
    tests = ["tests/contracts/test_reputation.py::test_each_party_rates_the_other_once",
             "tests/contracts/test_split_arithmetic.py::test_platform_fee_cap"]
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:pytest-brownie", "-p", "no:cacheprovider",
                           "-n", "2", "--dist", "loadfile", *tests], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    parts = hit_files(hits)
    assert [p.name for p in parts] == ["hits.gw0.json", "hits.gw1.json"]  # the controller ran nothing
    merged = {code: pcs for code, pcs, _ in load_hits(hits)}
    for part in parts:
        recorded = load_hits(part)
        assert recorded
        assert all(pcs <= merged[code] for code, pcs, _ in recorded)
    # What the gate then measures from the merge is test_figures_follow_what_ran's business (a compile).
