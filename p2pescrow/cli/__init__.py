"""The ``p2pescrow`` command line.

Kept free of web3 at import time (``import web3`` costs ~0.9 s): ``--help``, ``--version`` and
argument errors must answer instantly; commands import the SDK only when they run.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import typer

app = typer.Typer(
    name="p2pescrow",
    help="Peer-to-peer escrow on Ethereum: create, fund and settle trades.",
    no_args_is_help=True,
    add_completion=False,
)


def package_version() -> str:
    """The installed distribution's version, or the source tree's when not installed."""
    try:
        return version("p2pescrow")
    except PackageNotFoundError:
        from p2pescrow import __version__

        return __version__


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"p2pescrow {package_version()}")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: bool = typer.Option(
        False,
        "--version",
        callback=_version_callback,
        is_eager=True,
        help="Show the version and exit.",
    ),
) -> None:
    """Peer-to-peer escrow on Ethereum: create, fund and settle trades."""


@app.command("version")
def _version_command() -> None:
    """Show the version (same as --version)."""
    typer.echo(f"p2pescrow {package_version()}")


def main() -> None:
    """Console-script entry point (``p2pescrow = "p2pescrow.cli:main"``)."""
    app()
