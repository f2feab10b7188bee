"""The shipped contract artifacts (ABI, bytecode) and the custom-error index, read from the package.

The SDK reads contracts only through here, so it never imports :mod:`p2pescrow.build` (the
compiler side, which needs a checkout and solc); it works the same from a wheel as from a checkout.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

ERRORS_FILE = "errors.json"
_NAME_RE = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")


class ArtifactNotFound(LookupError):
    """No shipped artifact by that name (a typo, or the package was built without it)."""


def shipped_artifact_names() -> list[str]:
    """Names of the contracts whose artifacts ship with the package."""
    folder = resources.files("p2pescrow").joinpath("artifacts")
    names = [e.name[: -len(".json")] for e in folder.iterdir() if e.name.endswith(".json")]
    return sorted(n for n in names if n != ERRORS_FILE[: -len(".json")])


@cache
def read_shipped(file_name: str) -> str:
    """The text of ``artifacts/FILE_NAME`` in the installed package (cached: it never changes)."""
    entry = resources.files("p2pescrow").joinpath("artifacts").joinpath(file_name)
    if not entry.is_file():
        raise ArtifactNotFound(f"no shipped artifact {file_name} (shipped: "
                               f"{', '.join(shipped_artifact_names()) or 'none'}); run `make compile`.")
    return entry.read_text(encoding="utf-8")


def load_artifact(name: str) -> dict[str, Any]:
    """The shipped artifact of contract ``name`` (abi, bytecode, ...), as a fresh dict."""
    if not _NAME_RE.fullmatch(name):
        raise ArtifactNotFound(f"{name!r} is not a contract name")
    document: dict[str, Any] = json.loads(read_shipped(f"{name}.json"))
    return document


def load_errors() -> dict[str, Any]:
    """The custom-error index ``errors.json`` (``{"errors": [...], "sourceHash": ...}``)."""
    document: dict[str, Any] = json.loads(read_shipped(ERRORS_FILE))
    return document


__all__ = ["ERRORS_FILE", "ArtifactNotFound", "load_artifact", "load_errors", "read_shipped", "shipped_artifact_names"]
