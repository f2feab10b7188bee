"""Where p2pescrow keeps user state: ``$P2PESCROW_HOME``, else ``$XDG_CONFIG_HOME/p2pescrow``, else
``~/.config/p2pescrow``. Holds the deployments registry (and, for the CLI, networks and keystores)."""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "P2PESCROW_HOME"


def config_dir() -> Path:
    """The user's p2pescrow folder (not created here)."""
    explicit = os.environ.get(HOME_ENV)
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "p2pescrow"
