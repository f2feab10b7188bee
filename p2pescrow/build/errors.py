"""Exceptions of the build package, one base class so callers can catch any build failure."""

from __future__ import annotations

from collections.abc import Iterable


class BuildError(Exception):
    """Building the contracts failed for a reason the user must fix (message says which)."""


class CompilerNotFound(BuildError):
    """No usable solc of the pinned version: the message says what to install or set."""


class ArtifactNotFound(BuildError, LookupError):
    """A requested artifact does not exist (unknown contract name, or never built)."""


class CompilationFailed(BuildError):
    """solc rejected the sources.

    ``messages`` are solc's own ``formattedMessage`` texts (file, line, caret and all), so the
    user sees exactly what the compiler said; ``warnings`` are the non-fatal ones of that run.
    """

    def __init__(self, messages: Iterable[str], warnings: Iterable[str] = ()) -> None:
        self.messages: tuple[str, ...] = tuple(m.rstrip("\n") for m in messages)
        self.warnings: tuple[str, ...] = tuple(w.rstrip("\n") for w in warnings)
        super().__init__("\n\n".join(self.messages) or "compilation failed")
