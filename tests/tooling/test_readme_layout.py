"""README's "## Layout" block is the package as it is: every module of ``p2pescrow/`` (``__init__.py``
files aside) and every subpackage is named there, and everything it names exists.

How the block is read: under the ``p2pescrow/`` line, an entry's names are its first column (the
words before two spaces: ``sync.py aio.py``), two more spaces of indent per folder level; lines
indented further continue the entry above. A folder's entry may also name the modules it holds in
its description (``node/   ...: devchain.py (...), process.py (...)``).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "p2pescrow"
#: Indent at which a line continues the entry above rather than starting one (entries sit at 2, 4, ...).
CONTINUATION = 8
_MODULE = re.compile(r"(?<![\w/*.-])(\w+\.py)\b")  # \w+: migrations too (0001_initial.py)


def layout_block(readme: str) -> list[str]:
    """The lines of the ``p2pescrow/`` part of README's Layout code block (its first line included)."""
    section = re.split(r"^## Layout\n", readme, maxsplit=1, flags=re.MULTILINE)[1].split("\n## ", 1)[0]
    block = section.split("```", 2)[1].splitlines()
    start = next(i for i, line in enumerate(block) if line.startswith("p2pescrow/"))
    end = next((i for i in range(start + 1, len(block)) if block[i] and not block[i][0].isspace()), len(block))
    return block[start:end]


def named(lines: list[str]) -> set[str]:
    """The paths the block names, relative to ``p2pescrow/`` (folders end with ``/``)."""
    paths: set[str] = set()
    folders = [""]  # folders[depth - 1]: the folder the entries at that depth are in
    describing = ""  # the folder whose entry the current line belongs to (its description may name modules)
    for line in lines[1:]:
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if indent >= CONTINUATION:
            description = line
        else:
            assert indent % 2 == 0 and 2 <= indent <= 2 * len(folders), f"misaligned Layout line: {line!r}"
            depth = indent // 2
            del folders[depth:]
            names, _, description = re.split(r"(\s{2,})", line.strip() + "  ", maxsplit=1)
            describing = ""
            for name in names.split():
                path = folders[-1] + name
                paths.add(path)
                if name.endswith("/"):
                    folders.append(path)
                    describing = path
        if describing:
            paths.update(describing + module for module in _MODULE.findall(description))
    return paths


def package_paths() -> set[str]:
    """Every module (``__init__.py`` aside) and every subpackage of the package on disk."""
    found = {p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")
             if "__pycache__" not in p.parts and p.name != "__init__.py"}
    found |= {p.parent.relative_to(PACKAGE).as_posix() + "/" for p in PACKAGE.rglob("__init__.py")
              if p.parent != PACKAGE and "__pycache__" not in p.parts}
    return found


def test_readme_layout_names_every_module_and_subpackage_and_nothing_else() -> None:
    in_readme = named(layout_block((ROOT / "README.md").read_text()))

    missing = sorted(package_paths() - in_readme)
    gone = sorted(p for p in in_readme if not (PACKAGE / p).exists() or (PACKAGE / p).is_dir() != p.endswith("/"))
    assert not missing, f"README's Layout block does not name: {missing}"
    assert not gone, f"README's Layout block names what p2pescrow/ does not hold: {gone}"


SAMPLE = """\
## Layout

```
tools/                not shipped
p2pescrow/            the package
  __init__.py         the API
  client.py aio.py    re-exports
  core/               no I/O:
    terms.py          input
  cli/                the CLI:
    commands/         one per group: trade.py rep.py
                      tx.py (the journal; scripts/*.py aside)
  node/               nodes: process.py (start/stop)
  states.py           the states
scripts/              deploy.py
```

## Next
"""


def test_the_layout_reader_takes_names_columns_folder_descriptions_and_continuations() -> None:
    assert named(layout_block(SAMPLE)) == {
        "__init__.py", "client.py", "aio.py", "core/", "core/terms.py", "cli/", "cli/commands/",
        "cli/commands/trade.py", "cli/commands/rep.py", "cli/commands/tx.py", "node/", "node/process.py",
        "states.py"}
