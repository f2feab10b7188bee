"""Read artifacts: the shipped ones from the package, the test ones built on demand.

The SDK deploys and talks to contracts through :func:`load_artifact`; it works from a wheel
(package data via importlib.resources) as well as from a checkout. Test artifacts exist only in
a checkout and are (re)built here when missing or stale, so a test never runs old bytecode.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .._artifacts import ArtifactNotFound as ShippedArtifactNotFound
from .._artifacts import read_shipped as shipped_text
from .._artifacts import shipped_artifact_names as shipped_artifact_names
from .artifacts import ERRORS_FILE
from .builder import Project, build_tests
from .errors import ArtifactNotFound

_NAME_RE = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")


def load_artifact(
    name: str, *, test: bool = False, project: Project | None = None
) -> dict[str, Any]:
    """The artifact of contract ``name`` (abi, bytecode, ...) as a fresh dict.

    ``test=False``: a shipped contract (``settings.DEPLOYABLE``) from ``p2pescrow/artifacts``.
    ``test=True``: a contract declared under ``contracts/test/``, from ``.build/test-artifacts``
    after building them if needed (needs a source checkout and a compiler). ``project``
    (test artifacts only) defaults to this checkout.
    """
    if not _NAME_RE.fullmatch(name):
        raise ArtifactNotFound(f"{name!r} is not a contract name")
    return _load(f"{name}.json", test=test, project=project)


def load_errors(*, test: bool = False, project: Project | None = None) -> dict[str, Any]:
    """The custom-error index ``errors.json`` (``{"errors": [...], "sourceHash": ...}``)."""
    return _load(ERRORS_FILE, test=test, project=project)


def _load(file_name: str, *, test: bool, project: Project | None) -> dict[str, Any]:
    if test:
        project = project or Project.at()
        build_tests(project)
        path = project.test_artifacts_dir / file_name
        if not path.is_file():
            built = sorted(p.stem for p in project.test_artifacts_dir.glob("*.json"))
            raise ArtifactNotFound(
                f"no test artifact {file_name} (contracts under contracts/test/: "
                f"{', '.join(n for n in built if n not in ('errors', '.stamp')) or 'none'}); "
                "shipped contracts load with test=False."
            )
        text = path.read_text(encoding="utf-8")
    else:
        try:
            text = shipped_text(file_name)
        except ShippedArtifactNotFound as exc:
            raise ArtifactNotFound(str(exc)) from None
    document: dict[str, Any] = json.loads(text)
    return document
