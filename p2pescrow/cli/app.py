"""The ``p2pescrow`` root command: global options, the command groups, and error handling.

Kept free of web3 at import time (``import web3`` costs ~0.9 s): ``--help``, ``--version`` and
argument errors answer at once; each command imports the SDK only when it runs.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar

import typer
from typer.core import TyperGroup

from ..errors import EXIT_INPUT, EXIT_INTERNAL, P2PEscrowError
from .context import Options, options
from .render import EXIT_CODES_HELP, fail, report

F = TypeVar("F", bound=Callable[..., Any])

HELP = """Peer-to-peer escrow on Ethereum: create, fund, dispute and settle trades.

Start a local chain with `p2pescrow node start`, or see it all in seconds with `p2pescrow demo`.
Amounts accept `1.5`, `1.5 ETH` or `250 USDC` (checked against the trade's token)."""



def _click_exceptions() -> Any:
    """click's exceptions module (typer 0.29 vendors click as ``typer._click``)."""
    try:
        from typer._click import exceptions
    except ImportError:  # older typer: click is a separate package
        from click import exceptions  # type: ignore[no-redef]
    return exceptions


class Root(TyperGroup):
    """The root command group: click's usage errors (a missing option, a bad value, an unknown
    command) end as one ``error: ...`` line and exit 2, and under ``--json`` as the same error
    document as every other error; ``Abort`` (end of input at a prompt) as one line too."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        argv = list(sys.argv[1:] if args is None else args)
        exceptions = _click_exceptions()
        aborted = getattr(exceptions, "Abort", typer.Abort)  # typer 0.29 has it as typer.Abort only
        try:
            result = super().main(argv, prog_name, complete_var, standalone_mode=False, **extra)
        except exceptions.NoArgsIsHelpError as exc:
            exc.show()  # `p2pescrow trade` alone: the group's help
            sys.exit(exc.exit_code)
        except exceptions.UsageError as exc:
            sys.exit(_usage_error(exc, argv))
        except exceptions.ClickException as exc:
            report(type(exc).__name__, exc.format_message(), None, exc.exit_code, json_output=_json(argv))
            sys.exit(exc.exit_code)
        except aborted:
            report("Abort", "aborted: no answer at the prompt", None, EXIT_INTERNAL, json_output=_json(argv))
            sys.exit(EXIT_INTERNAL)
        sys.exit(result if isinstance(result, int) else 0)


def _json(argv: list[str]) -> bool:
    """Whether ``--json`` was given (read from the arguments: a usage error may come before the
    root command has parsed them)."""
    return "--json" in (argv[:argv.index("--")] if "--" in argv else argv)


def _usage_error(exc: Any, argv: list[str]) -> int:
    """One line: click's message, and where the help is."""
    message = " ".join(exc.format_message().split())
    where = exc.ctx.command_path if exc.ctx is not None else "p2pescrow"
    report("UsageError", message, f"see `{where} --help`", EXIT_INPUT, json_output=_json(argv))
    return EXIT_INPUT


app = typer.Typer(name="p2pescrow", help=HELP, epilog=EXIT_CODES_HELP, no_args_is_help=True, cls=Root,
                  rich_markup_mode=None, pretty_exceptions_enable=False)


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("p2pescrow")
    except PackageNotFoundError:
        from .. import __version__

        return __version__


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"p2pescrow {package_version()}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    network: Annotated[str | None, typer.Option(
        "--network", "-n", envvar="P2PESCROW_NETWORK",
        help="Network name: local (Anvil, default), ganache, embedded, or one added with `networks add`.")] = None,
    rpc_url: Annotated[str | None, typer.Option(
        "--rpc-url", envvar="ETH_RPC_URL", help="RPC URL; overrides the network's.")] = None,
    account: Annotated[str | None, typer.Option(
        "--account", "-a", envvar="P2PESCROW_ACCOUNT",
        help="Keystore name (see `accounts list`), or dev0..dev9 on dev chains; else the default set with "
             "`accounts default NAME`. Needed to send or sign (no implicit account, dev chains included).")] = None,
    password_file: Annotated[str | None, typer.Option(
        "--password-file", envvar="P2PESCROW_PASSWORD_FILE",
        help="File holding the keystore password (else $P2PESCROW_PASSWORD, else a hidden prompt).")] = None,
    json_output: Annotated[bool, typer.Option(
        "--json", help="Print one JSON document instead of text.")] = False,
    yes: Annotated[bool, typer.Option(
        "--yes", "-y", help="Do not ask for confirmation before sending.")] = False,
    confirmations: Annotated[int, typer.Option(
        "--confirmations", envvar="P2PESCROW_CONFIRMATIONS", min=1, max=1000,
        help="Blocks a transaction must be buried under before it counts as done (1: mined). "
             "A receipt whose block a reorg removed is waited for again.")] = 1,
    timeout: Annotated[float, typer.Option(
        "--timeout", envvar="P2PESCROW_TIMEOUT", min=1,
        help="Seconds to wait for the receipt and its confirmations; then exit 5 with the hash "
             "(the transaction may still be mined: see `tx pending`).")] = 120.0,
    db: Annotated[str | None, typer.Option(
        "--db", envvar="P2PESCROW_DB", metavar="URL",
        help="The market index's database: a SQLAlchemy URL such as sqlite:///market.sqlite or "
             "postgresql+psycopg://user@host/market (default: market.sqlite in the config folder).")] = None,
    market_url: Annotated[str | None, typer.Option(
        "--market-url", envvar="P2PESCROW_MARKET_URL", metavar="URL",
        help="A market server (`p2pescrow serve`): market search, market stats, rep show and offer fill ID "
             "read it instead of a local index (relayed offers included); offer relay posts to it.")] = None,
    version: Annotated[bool, typer.Option(
        "--version", callback=_version_callback, is_eager=True, help="Show the version and exit.")] = False,
) -> None:
    ctx.obj = Options(network=network, rpc_url=rpc_url, account=account, password_file=password_file,
                      json=json_output, yes=yes, confirmations=confirmations, timeout=timeout, db=db,
                      market_url=market_url)


def _context(args: tuple[Any, ...], kw: dict[str, Any]) -> typer.Context | None:
    """The command's Typer context (typer 0.29 vendors click and no longer re-exports
    ``get_current_context``): the ``ctx`` argument, else click's current one."""
    for value in (*args, *kw.values()):
        if isinstance(value, typer.Context):
            return value
    try:
        from typer._click.globals import get_current_context
    except ImportError:  # older typer: click is a separate package
        from click import get_current_context  # type: ignore[no-redef]
    return get_current_context(silent=True)  # type: ignore[return-value]


def command(group: typer.Typer, name: str, **kwargs: Any) -> Callable[[F], F]:
    """Register a command whose package errors end as one line on stderr and their exit code."""

    def register(fn: F) -> F:
        @functools.wraps(fn)
        def run(*args: Any, **kw: Any) -> Any:
            try:
                return fn(*args, **kw)
            except P2PEscrowError as exc:
                fail(exc, options(_context(args, kw)))
            except KeyboardInterrupt:
                typer.echo("interrupted", err=True)
                raise typer.Exit(130) from None
            except (typer.Exit, typer.Abort):
                raise
            except Exception as exc:  # noqa: BLE001 - last resort: one line, never a traceback
                typer.echo(f"error: unexpected {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                           " (please report this)", err=True)
                raise typer.Exit(EXIT_INTERNAL) from None

        group.command(name, **kwargs)(run)
        return fn

    return register


@app.command("version")
def version_command() -> None:
    """Show the version."""
    typer.echo(f"p2pescrow {package_version()}")


def main() -> None:
    """Console-script entry point (the package's ``__init__`` has registered the command groups)."""
    app()
