"""The ``p2pescrow`` command line: ``app`` (Typer) and ``main`` (the console script)."""

from __future__ import annotations

from .app import app, command, main

from . import commands as _commands  # noqa: F401 - registers the command groups

__all__ = ["app", "command", "main"]
