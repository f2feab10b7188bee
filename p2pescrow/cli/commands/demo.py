"""``p2pescrow demo``: a narrated end-to-end run on an embedded chain."""

from __future__ import annotations

import typer

from ..app import app, command


@command(app, "demo")
def demo(ctx: typer.Context) -> None:
    """Run real trades on an in-process chain, narrated: no setup, finishes in seconds."""
    from ..demo import run

    run()
