"""Line and branch coverage of the shipped contracts, measured on the bytecode that ships.

``make coverage`` runs the contract tests with the recorder switched on, then reports:

1. **Record.** With ``P2PESCROW_COVERAGE=<file>`` the test suite (``tests/conftest.py``) installs
   :class:`Recorder` into py-evm, the embedded chain every contract test runs on. It notes, per
   piece of code executed (deployed runtime or creation code), each program counter reached and,
   for each ``JUMPI``, which way it went. Calls, simulations and gas estimates count: they execute
   the same code. Anvil and Ganache run outside the process and are not recorded.
2. **Map.** :func:`measure` compiles the shipped sources again with the build's exact settings,
   asking solc for the source maps and the AST as well (output selection does not change the
   bytecode; the bytecode is compared with the committed artifacts to be sure). Recorded code is
   matched to a contract by its bytecode, ignoring the bytes of immutables (they hold per-deployment
   values such as the EIP-712 domain); each instruction's source map entry then says which source
   range it executes.

What the figures mean (the optimized bytecode is measured, not a special unoptimized build, so
the figures describe the code that is deployed):

* **line**: a line of ``contracts/`` (test doubles under ``contracts/test/`` excluded) on which at
  least one instruction's source range starts; covered when one such instruction ran. The
  dispatcher's range (a whole contract) counts for no line. Code the optimizer removed or merged
  into another copy has no instructions, so it counts neither way.
* **branch**: each ``JUMPI`` whose source range is a branching construct of ``contracts/``
  (``if``, ``? :``, ``&&``, ``||``, ``require``, a loop condition) has two outcomes, jump taken and
  not taken; both are counted per source construct (a construct compiled into several ``JUMPI``
  is covered in a direction when any of them went that way). Compiler checks (ABI decoding,
  overflow, ``msg.value`` on a non-payable function) are not the contract's branches and are left
  out.
"""

from __future__ import annotations

import argparse
import json
import sys
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from p2pescrow.build.builder import Project, _collect, compile_sources
from p2pescrow.build.compiler import find_compiler
from p2pescrow.build.errors import BuildError
from p2pescrow.build.settings import build_settings

ENV = "P2PESCROW_COVERAGE"
JUMPI = 0x57
PUSH0, PUSH1, PUSH32 = 0x5F, 0x60, 0x7F
#: AST node types whose JUMPI is a branch of the contract's own logic.
BRANCHING = {"IfStatement", "Conditional", "ForStatement", "WhileStatement", "DoWhileStatement"}
BRANCHING_OPERATORS = {"&&", "||"}
BRANCHING_CALLS = {"require", "assert"}
OUTPUT_SELECTION = {
    "*": {
        "*": [
            "evm.bytecode.object",
            "evm.bytecode.sourceMap",
            "evm.deployedBytecode.object",
            "evm.deployedBytecode.sourceMap",
            "evm.deployedBytecode.immutableReferences",
        ],
        "": ["ast"],
    }
}


# --------------------------------------------------------------------------------------------------
# Recording (inside the test process)
# --------------------------------------------------------------------------------------------------


class Recorder:
    """Program counters and JUMPI outcomes per executed code, gathered from py-evm.

    py-evm runs every message through ``for opcode in computation.code``, where ``code`` is a
    ``CodeStream`` built by ``eth.vm.computation``; :meth:`install` swaps that class for a subclass
    whose iterator notes the position of each opcode before handing it on. Nothing else changes:
    gas, results and errors are py-evm's own.
    """

    def __init__(self) -> None:
        self.pcs: dict[bytes, set[int]] = defaultdict(set)
        self.jumps: dict[bytes, set[tuple[int, int]]] = defaultdict(set)
        self._original: Any = None

    def install(self) -> None:
        import eth.vm.computation as computation

        if self._original is not None:
            return
        recorder = self
        base = computation.CodeStream  # possibly another recorder's: both then record

        class RecordingCodeStream(base):  # type: ignore[misc, valid-type]
            __slots__ = ()

            def __iter__(self) -> Iterator[int]:
                pcs = recorder.pcs[self._raw_code_bytes]
                jumps = recorder.jumps[self._raw_code_bytes]
                after_jumpi = -1
                for opcode in super().__iter__():
                    pc = self.program_counter - 1
                    if after_jumpi >= 0:
                        jumps.add((after_jumpi, pc))
                    pcs.add(pc)
                    after_jumpi = pc if opcode == JUMPI else -1
                    yield opcode

        self._original = base
        computation.CodeStream = RecordingCodeStream  # type: ignore[misc]

    def uninstall(self) -> None:
        import eth.vm.computation as computation

        if self._original is not None:
            computation.CodeStream = self._original  # type: ignore[misc]
            self._original = None

    def dump(self, path: Path) -> None:
        """Write what was recorded as JSON (``{"codes": [{"code", "pcs", "jumps"}]}``)."""
        codes = [
            {
                "code": code.hex(),
                "pcs": sorted(pcs),
                "jumps": sorted(self.jumps.get(code, ())),
            }
            for code, pcs in self.pcs.items()
            if code and pcs
        ]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"codes": codes}) + "\n")


def part_path(path: Path, worker: str | None) -> Path:
    """Where one process of a run writes: ``path`` itself, or for pytest-xdist worker ``gw0`` its
    part ``hits.gw0.json`` beside ``hits.json`` (workers are separate processes, each records what
    its own tests ran)."""
    return path.with_name(f"{path.stem}.{worker}{path.suffix}") if worker else path


def hit_files(path: Path) -> list[Path]:
    """``path`` and every worker part written beside it (see :func:`part_path`), those that exist."""
    parts = sorted(path.parent.glob(f"{path.stem}.*{path.suffix}")) if path.parent.is_dir() else []
    return [p for p in [path, *parts] if p.is_file()]


def load_hits(path: Path) -> list[tuple[bytes, set[int], set[tuple[int, int]]]]:
    """What ``path`` and its worker parts recorded, merged per piece of code."""
    merged: dict[bytes, tuple[set[int], set[tuple[int, int]]]] = {}
    for file in hit_files(path):
        for entry in json.loads(file.read_text())["codes"]:
            pcs, jumps = merged.setdefault(bytes.fromhex(entry["code"]), (set(), set()))
            pcs.update(entry["pcs"])
            jumps.update((a, b) for a, b in entry["jumps"])
    return [(code, pcs, jumps) for code, (pcs, jumps) in merged.items()]


# --------------------------------------------------------------------------------------------------
# Mapping bytecode to source
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    pc: int
    opcode: int
    file: int  # source id, -1 for none
    start: int
    length: int


def instructions(code: bytes, source_map: str) -> list[Instruction]:
    """Each instruction of ``code`` with its decompressed source map entry (solc's format:
    ``s:l:f:j:m`` per instruction, ``;``-separated, an empty field repeats the previous one). The
    metadata appended to the bytecode has no entries and is not decoded."""
    entries = source_map.split(";")
    out: list[Instruction] = []
    start = length = 0
    file = -1
    pc = 0
    for entry in entries:
        if pc >= len(code):
            break
        fields = entry.split(":")
        if fields[0]:
            start = int(fields[0])
        if len(fields) > 1 and fields[1]:
            length = int(fields[1])
        if len(fields) > 2 and fields[2]:
            file = int(fields[2])
        opcode = code[pc]
        out.append(Instruction(pc, opcode, file, start, length))
        pc += 1 + (opcode - PUSH0 if PUSH1 <= opcode <= PUSH32 else 0)
    return out


def masked_equal(recorded: bytes, shipped: bytes, immutables: Sequence[tuple[int, int]]) -> bool:
    """``recorded`` is ``shipped`` with only its immutable slots filled in."""
    if len(recorded) != len(shipped):
        return False
    if not immutables:
        return recorded == shipped
    a, b = bytearray(recorded), bytearray(shipped)
    for start, length in immutables:
        a[start : start + length] = bytes(length)
        b[start : start + length] = bytes(length)
    return a == b


@dataclass
class Source:
    """One file of ``contracts/`` and what the AST says about its ranges."""

    unit: str
    text: bytes
    line_starts: list[int]
    contracts: set[tuple[int, int]]  # (start, length) of each contract definition: the dispatcher
    branching: set[tuple[int, int]]  # (start, length) of each branching construct

    def line(self, offset: int) -> int:
        return bisect_right(self.line_starts, offset)

    def line_text(self, line: int) -> str:
        begin = self.line_starts[line - 1]
        end = self.line_starts[line] - 1 if line < len(self.line_starts) else len(self.text)
        return self.text[begin:end].decode(errors="replace").strip()


def _src(node: Mapping[str, Any]) -> tuple[int, int]:
    start, length, _ = node["src"].split(":")
    return int(start), int(length)


def _walk(node: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(node, Mapping):
        if "nodeType" in node:
            yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _source(unit: str, text: str, ast: Mapping[str, Any]) -> Source:
    raw = text.encode()
    line_starts = [0] + [i + 1 for i, byte in enumerate(raw) if byte == 0x0A]
    contracts, branching = set(), set()
    for node in _walk(ast):
        kind = node["nodeType"]
        if kind == "ContractDefinition":
            contracts.add(_src(node))
        elif kind in BRANCHING:  # its JUMPI carries the statement's range, not the condition's
            branching.add(_src(node))
        elif kind == "BinaryOperation" and node.get("operator") in BRANCHING_OPERATORS:
            branching.add(_src(node))
        elif kind == "FunctionCall" and node["expression"].get("name") in BRANCHING_CALLS:
            branching.add(_src(node))
    return Source(unit, raw, line_starts, contracts, branching)


# --------------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------------


@dataclass
class FileCoverage:
    unit: str
    lines: dict[int, bool] = field(default_factory=dict)  # line -> covered
    # (line, start, length) of a branching construct -> outcomes seen ("taken", "not taken")
    branches: dict[tuple[int, int, int], set[str]] = field(default_factory=dict)

    @property
    def lines_covered(self) -> int:
        return sum(self.lines.values())

    @property
    def branches_total(self) -> int:
        return 2 * len(self.branches)

    @property
    def branches_covered(self) -> int:
        return sum(len(seen) for seen in self.branches.values())

    def missing_lines(self) -> list[int]:
        return sorted(line for line, covered in self.lines.items() if not covered)

    def partial_branches(self) -> list[tuple[int, set[str]]]:
        return sorted((line, seen) for (line, _, _), seen in self.branches.items() if len(seen) < 2)


@dataclass(frozen=True)
class Coverage:
    files: tuple[FileCoverage, ...]
    matched: Mapping[str, int]  # contract name -> pieces of recorded code matched to it
    sources: Mapping[str, Source]

    @property
    def lines(self) -> tuple[int, int]:
        return sum(f.lines_covered for f in self.files), sum(len(f.lines) for f in self.files)

    @property
    def branches(self) -> tuple[int, int]:
        return sum(f.branches_covered for f in self.files), sum(f.branches_total for f in self.files)

    def as_record(self) -> dict[str, Any]:
        (lc, lt), (bc, bt) = self.lines, self.branches
        return {
            "lines": {"covered": lc, "total": lt, "percent": _percent(lc, lt)},
            "branches": {"covered": bc, "total": bt, "percent": _percent(bc, bt)},
            "files": {
                f.unit: {
                    "lines": [f.lines_covered, len(f.lines)],
                    "branches": [f.branches_covered, f.branches_total],
                    "missing_lines": f.missing_lines(),
                }
                for f in self.files
            },
        }


def _percent(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else 100.0


def measure(
    hits: Iterable[tuple[bytes, set[int], set[tuple[int, int]]]], project: Project | None = None
) -> Coverage:
    """Map recorded executions onto the lines and branches of the project's own contracts."""
    project = project or Project.at()
    sources = _collect(project, project.main_files())
    settings = build_settings()
    settings["outputSelection"] = OUTPUT_SELECTION
    output, _ = compile_sources(sources, settings, find_compiler(node_modules=project.node_modules))
    own = {
        info["id"]: _source(unit, sources[unit], info["ast"])
        for unit, info in output["sources"].items()
        if unit.startswith("contracts/") and not project.is_test_unit(unit)
    }
    hits = list(hits)
    files = {source.unit: FileCoverage(source.unit) for source in own.values()}
    matched: dict[str, int] = {}
    for name in project.deployable:
        unit = next(u for u, cs in output["contracts"].items() if name in cs and u.startswith("contracts/"))
        evm = output["contracts"][unit][name]["evm"]
        _check_shipped(project, name, evm)
        runtime = bytes.fromhex(evm["deployedBytecode"]["object"])
        creation = bytes.fromhex(evm["bytecode"]["object"])
        immutables = [
            (ref["start"], ref["length"])
            for refs in evm["deployedBytecode"].get("immutableReferences", {}).values()
            for ref in refs
        ]
        pieces = [
            (instructions(runtime, evm["deployedBytecode"]["sourceMap"]),
             [h for h in hits if masked_equal(h[0], runtime, immutables)]),
            (instructions(creation, evm["bytecode"]["sourceMap"]),
             [h for h in hits if h[0].startswith(creation) and len(h[0]) >= len(creation)]),
        ]
        matched[name] = sum(len(found) for _, found in pieces)
        for code, found in pieces:
            pcs = set().union(*(h[1] for h in found)) if found else set()
            jumps = set().union(*(h[2] for h in found)) if found else set()
            _tally(code, pcs, jumps, own, files)
    ordered = tuple(files[unit] for unit in sorted(files) if files[unit].lines)
    return Coverage(ordered, matched, {s.unit: s for s in own.values()})


def _check_shipped(project: Project, name: str, evm: Mapping[str, Any]) -> None:
    artifact = json.loads((project.artifacts_dir / f"{name}.json").read_text())
    if artifact["deployedBytecode"].removeprefix("0x") != evm["deployedBytecode"]["object"]:
        raise BuildError(
            f"{name}: the committed artifact is not what the sources compile to; "
            "run `make compile` first"
        )


def _tally(
    code: list[Instruction],
    pcs: set[int],
    jumps: set[tuple[int, int]],
    own: Mapping[int, Source],
    files: Mapping[str, FileCoverage],
) -> None:
    taken = {a for a, b in jumps if b != a + 1}
    fell = {a for a, b in jumps if b == a + 1}
    for ins in code:
        source = own.get(ins.file)
        if source is None or (ins.start, ins.length) in source.contracts:
            continue
        result = files[source.unit]
        line = source.line(ins.start)
        result.lines[line] = result.lines.get(line, False) or ins.pc in pcs
        if ins.opcode == JUMPI and (ins.start, ins.length) in source.branching:
            seen = result.branches.setdefault((line, ins.start, ins.length), set())
            if ins.pc in taken:
                seen.add("taken")
            if ins.pc in fell:
                seen.add("not taken")


# --------------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------------


def render(coverage: Coverage, *, show_missing: bool = True) -> str:
    out = []
    width = max(len(f.unit) for f in coverage.files)
    for f in coverage.files:
        out.append(
            f"{f.unit:<{width}}  lines {f.lines_covered:4d}/{len(f.lines):<4d} "
            f"{_percent(f.lines_covered, len(f.lines)):5.1f}%   "
            f"branches {f.branches_covered:4d}/{f.branches_total:<4d} "
            f"{_percent(f.branches_covered, f.branches_total):5.1f}%"
        )
    (lc, lt), (bc, bt) = coverage.lines, coverage.branches
    out.append(
        f"{'total':<{width}}  lines {lc:4d}/{lt:<4d} {_percent(lc, lt):5.1f}%   "
        f"branches {bc:4d}/{bt:<4d} {_percent(bc, bt):5.1f}%"
    )
    if show_missing:
        for f in coverage.files:
            source = coverage.sources[f.unit]
            for line in f.missing_lines():
                out.append(f"  not run     {f.unit}:{line}: {source.line_text(line)}")
            for line, seen in f.partial_branches():
                went = ", ".join(sorted(seen)) or "never reached"
                out.append(f"  one way     {f.unit}:{line} ({went}): {source.line_text(line)}")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.coverage", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("hits", type=Path, help=f"what the tests recorded ({ENV}=<this file>)")
    parser.add_argument("--record", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--fail-under", type=float, default=0.0,
                        help="exit 1 if line coverage (percent) is below this")
    args = parser.parse_args(argv)
    if not hit_files(args.hits):
        print(f"error: {args.hits} does not exist; run the tests with {ENV}={args.hits} first",
              file=sys.stderr)
        return 2
    coverage = measure(load_hits(args.hits))
    if not all(coverage.matched.values()):
        missing = [name for name, n in coverage.matched.items() if not n]
        print(f"error: no recorded execution of {', '.join(missing)}; did the tests run with {ENV}?",
              file=sys.stderr)
        return 1
    print(render(coverage))
    if args.record:
        args.record.parent.mkdir(parents=True, exist_ok=True)
        args.record.write_text(json.dumps(coverage.as_record(), indent=2) + "\n")
    percent = _percent(*coverage.lines)
    if percent < args.fail_under:
        print(f"error: line coverage {percent}% is below {args.fail_under}%", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
