"""Gather every Solidity source a build needs, by content, and fingerprint the result.

Imports are resolved here rather than by solc's import callback, so that the standard-JSON
input is complete and self-contained: the same input (and so the same bytecode) whichever
compiler runs it, no file-system access during compilation, and a hash of the input that says
exactly when the artifacts are stale. Source unit names follow solc's own rules without
remappings: project files are ``contracts/...`` (relative to the project root), a direct import
keeps the name it was written with (``@openzeppelin/contracts/access/Ownable.sol``), a relative
import is resolved against the importing unit's name. Only locating the *file* for a unit name
uses ``settings.REMAPPINGS``.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .errors import CompilationFailed
from .settings import REMAPPINGS, SOLC_VERSION

_IMPORT_RE = re.compile(r"(?:^|(?<=[;}]))\s*import\b([^;]*);")
_STRING_RE = re.compile(r"\"((?:[^\"\\\n]|\\.)*)\"|'((?:[^'\\\n]|\\.)*)'")


def strip_comments(text: str) -> str:
    """``text`` with every comment blanked out (newlines kept), string literals untouched."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        nxt = text[i + 1] if i + 1 < n else ""
        if ch in "\"'":
            j = i + 1
            while j < n and text[j] != ch and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
        elif ch == "/" and nxt == "/":
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif ch == "/" and nxt == "*":
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def import_paths(text: str) -> list[str]:
    """The paths of all import directives in Solidity source ``text``, in order.

    Covers ``import "p";``, ``import "p" as X;``, ``import * as X from "p";`` and
    ``import {A, B as C} from "p";``. Imports may only stand at file level, so a directive is
    an ``import`` that starts the file or follows a ``;`` or ``}``.
    """
    found: list[str] = []
    for match in _IMPORT_RE.finditer(strip_comments(text)):
        literal = _STRING_RE.search(match.group(1))
        if literal is not None:
            found.append(literal.group(1) if literal.group(1) is not None else literal.group(2))
    return found


def resolve_import(importer: str, path: str) -> str:
    """The source unit name solc gives ``import "path"`` inside unit ``importer``.

    Relative paths (``./``, ``../``) are joined to the importer's directory and normalised;
    anything else is a direct import whose unit name is the path as written.
    """
    if not (path.startswith("./") or path.startswith("../")):
        return path
    joined = posixpath.join(posixpath.dirname(importer), path)
    return posixpath.normpath(joined).lstrip("/")


def locate(unit: str, root: Path, node_modules: Path | None) -> Path:
    """The file holding source unit ``unit``: the longest matching REMAPPINGS prefix, else
    ``root/unit``. A remapping target under ``node_modules/`` is taken from ``node_modules``
    (which may live outside ``root``, e.g. for a scratch project in the tests)."""
    best: tuple[str, str] | None = None
    for remapping in REMAPPINGS:
        prefix, _, target = remapping.split(":", 1)[-1].partition("=")
        if unit.startswith(prefix) and (best is None or len(prefix) > len(best[0])):
            best = (prefix, target)
    if best is None:
        return root / unit
    prefix, target = best
    relative = target + unit[len(prefix) :]
    if node_modules is not None and relative.startswith("node_modules/"):
        return node_modules / relative[len("node_modules/") :]
    return root / relative


def unit_name(path: Path, root: Path) -> str:
    """The source unit name of project file ``path``: its path relative to ``root``, POSIX."""
    return path.resolve().relative_to(root.resolve()).as_posix()


def collect_sources(
    files: Iterable[Path],
    root: Path,
    node_modules: Path | None,
    *,
    units: Iterable[str] = (),
) -> dict[str, str]:
    """Every source unit reachable by imports from project ``files`` and from the extra source
    unit names ``units`` (e.g. ``@openzeppelin/...``): ``{unit name: content}``, sorted.

    A missing import raises :class:`CompilationFailed` naming the importer, as solc would.
    """
    sources: dict[str, str] = {}
    pending: list[tuple[str, Path, str | None]] = [(unit_name(f, root), f, None) for f in files]
    pending += [(u, locate(u, root, node_modules), "settings.ERROR_SOURCES") for u in units]
    while pending:
        unit, path, importer = pending.pop()
        if unit in sources:
            continue
        try:
            content = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise CompilationFailed(
                [f'Error: Source "{unit}" not found (imported by {importer}; looked for {path}).']
            ) from None
        sources[unit] = content
        for imported in import_paths(content):
            name = resolve_import(unit, imported)
            if name not in sources:
                pending.append((name, locate(name, root, node_modules), unit))
    return dict(sorted(sources.items()))


def source_hash(sources: Mapping[str, str], settings: Mapping[str, Any]) -> str:
    """sha256 over the sorted (unit name, content) pairs, the solc settings and SOLC_VERSION.

    Everything that determines the compiler output and nothing else, so an equal hash means an
    artifact can be kept as it is.
    """
    payload = {
        "solcVersion": SOLC_VERSION,
        "settings": settings,
        "sources": [[name, sources[name]] for name in sorted(sources)],
    }
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def standard_json_input(sources: Mapping[str, str], settings: Mapping[str, Any]) -> dict[str, Any]:
    """The solc standard-JSON input carrying every source by content."""
    return {
        "language": "Solidity",
        "sources": {name: {"content": sources[name]} for name in sorted(sources)},
        "settings": settings,
    }
