"""Where the build finds things: the package's own files, the source checkout, node_modules.

Kept apart so that the compiler discovery, the builder and the artifact loader agree on one
answer, whether p2pescrow runs from a git checkout (editable install, ``make``) or from a wheel
(where only the shipped artifacts and the shim exist and nothing can be compiled).
"""

from __future__ import annotations

import os
from pathlib import Path

#: ``p2pescrow/`` — the installed (or checked-out) package.
PACKAGE_DIR: Path = Path(__file__).resolve().parent.parent

#: The Node script that gives solcjs the command line of native solc.
SHIM_JS: Path = Path(__file__).resolve().parent / "solc_shim.js"

#: Environment variable naming a node_modules folder to use instead of the project's own.
NODE_MODULES_ENV = "P2PESCROW_NODE_MODULES"


def source_checkout_root() -> Path | None:
    """The git checkout this package was imported from, or None for an installed wheel.

    A checkout is recognised by ``contracts/`` next to the package folder; a wheel in
    site-packages has none, so building (which needs the Solidity sources) is impossible there.
    """
    root = PACKAGE_DIR.parent
    return root if (root / "contracts").is_dir() else None


def find_node_modules(root: Path | None = None) -> Path | None:
    """The node_modules folder holding solc and @openzeppelin/contracts, or None.

    Order: ``$P2PESCROW_NODE_MODULES`` (returned even if it does not exist, so that a wrong
    value is reported rather than silently replaced), ``<root>/node_modules``, the checkout's
    ``node_modules``, ``./node_modules``. The fallbacks let a scratch project (a temp folder in
    the tests) compile with the checkout's packages.
    """
    explicit = os.environ.get(NODE_MODULES_ENV)
    if explicit:
        return Path(explicit).resolve()
    candidates: list[Path] = []
    if root is not None:
        candidates.append(root / "node_modules")
    checkout = source_checkout_root()
    if checkout is not None:
        candidates.append(checkout / "node_modules")
    candidates.append(Path.cwd() / "node_modules")
    for candidate in candidates:
        if candidate.is_dir():
            return candidate.resolve()
    return None
