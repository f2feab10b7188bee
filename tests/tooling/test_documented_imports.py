"""Nothing breaks for users: every import README shows works from where README shows it, and the
documented import paths (``p2pescrow``, ``p2pescrow.aio``, ``p2pescrow.client``, ``p2pescrow.errors``)
keep every name they export, as thin re-exports of the modules that now hold the code."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
DOCUMENTED_MODULES = ("p2pescrow", "p2pescrow.aio", "p2pescrow.client", "p2pescrow.errors")

_FROM_IMPORT = re.compile(r"\bfrom\s+(p2pescrow(?:\.\w+)*)\s+import\s+(\([^)]*\)|[^\n`;]+)")
_IMPORT = re.compile(r"(?<!\w)(?<!from )import\s+(p2pescrow(?:\.\w+)*(?:\s*,\s*p2pescrow(?:\.\w+)*)*)")
_DOTTED = re.compile(r"`(p2pescrow(?:\.\w+)+)")


def readme_imports(text: str) -> list[tuple[str, str | None]]:
    """``(module, name)`` for each ``from module import name`` and ``(module, None)`` for each
    ``import module`` README shows (code blocks and inline code alike)."""
    found: list[tuple[str, str | None]] = []
    for module, names in _FROM_IMPORT.findall(text):
        names = " ".join(line.split("#")[0] for line in names.strip("() \n").splitlines())
        for name in names.split(","):
            name = name.strip().split(" as ")[0].strip()
            if name:
                found.append((module, name))
    for modules in _IMPORT.findall(text):
        found += [(m.strip(), None) for m in modules.split(",")]
    return found


def resolve(dotted: str) -> Any:
    """``p2pescrow.aio.AsyncEscrowClient``: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)


def test_the_parser_reads_the_forms_readme_uses() -> None:
    text = ("```python\nfrom p2pescrow import EscrowClient, TradeState, errors\nimport p2pescrow.aio\n"
            "from p2pescrow.errors import (\n    Unauthorized,  # a comment\n    TradeNotFound as Missing,\n)\n```\n"
            "Use `from p2pescrow.client import EscrowClient` or `p2pescrow.aio.AsyncEscrowClient`.")
    assert readme_imports(text) == [
        ("p2pescrow", "EscrowClient"), ("p2pescrow", "TradeState"), ("p2pescrow", "errors"),
        ("p2pescrow.errors", "Unauthorized"), ("p2pescrow.errors", "TradeNotFound"),
        ("p2pescrow.client", "EscrowClient"), ("p2pescrow.aio", None),
    ]
    assert _DOTTED.findall(text) == ["p2pescrow.aio.AsyncEscrowClient"]


def test_every_import_readme_shows_works_from_where_it_shows_it() -> None:
    text = README.read_text()
    imports = readme_imports(text)
    assert ("p2pescrow", "EscrowClient") in imports  # the SDK example: the parser found README's imports
    for module, name in imports:
        imported = importlib.import_module(module)
        if name is not None:
            assert hasattr(imported, name) or importlib.import_module(f"{module}.{name}"), (module, name)
    for dotted in _DOTTED.findall(text):
        if not dotted.startswith("p2pescrow.build"):  # `python -m p2pescrow.build`: a command, checked below
            assert resolve(dotted) is not None, dotted


def test_python_m_p2pescrow_build_is_still_a_module() -> None:
    assert importlib.util.find_spec("p2pescrow.build.__main__") is not None


@pytest.mark.parametrize("module", DOCUMENTED_MODULES)
def test_documented_modules_export_every_name_they_list(module: str) -> None:
    imported = importlib.import_module(module)
    names = getattr(imported, "__all__", None)
    assert names, f"{module} lists no __all__"
    missing = [name for name in names if not hasattr(imported, name)]
    assert not missing, f"{module} lists names it does not have: {missing}"


def test_the_re_exports_are_the_same_objects() -> None:
    import p2pescrow
    from p2pescrow.aio import AsyncEscrowClient
    from p2pescrow.client import EscrowClient
    from p2pescrow.clients.aio import AsyncEscrowClient as AsyncHome
    from p2pescrow.clients.sync import EscrowClient as SyncHome

    assert EscrowClient is SyncHome is p2pescrow.EscrowClient
    assert AsyncEscrowClient is AsyncHome
    assert p2pescrow.errors.P2PEscrowError is p2pescrow.P2PEscrowError
