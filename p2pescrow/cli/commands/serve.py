"""``p2pescrow serve``: the platform server. The market index behind a JSON API, a gas-free offer relay
and the market's pages, served by uvicorn; the index kept in sync in the background.

The node and its escrow deployment are the global options' (``--network``, ``--rpc-url``), the index
the ``--db`` URL's, as for ``market sync``. The server speaks plain HTTP on ``--host``/``--port``: put
a TLS-terminating reverse proxy in front of it to serve the public (README "Serving the market").
"""

from __future__ import annotations

import dataclasses
import signal
import socket
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ...errors import InputError, NetworkError
from .. import context
from ..app import app, command

if TYPE_CHECKING:
    from ...server.settings import ServerSettings


@command(app, "serve")
def serve(
    ctx: typer.Context, *,
    host: Annotated[str | None, typer.Option(
        "--host", metavar="ADDRESS",
        help="Address to bind: 127.0.0.1 (default: this computer only), 0.0.0.0 for every interface "
             "[env: P2PESCROW_SERVE_HOST].")] = None,
    port: Annotated[int | None, typer.Option(
        "--port", min=0, max=65535,
        help="TCP port (default 8000); 0 picks a free one and prints it [env: P2PESCROW_SERVE_PORT].")] = None,
    db: Annotated[str | None, typer.Option(
        "--db", metavar="URL",
        help="The index's database (as the global --db): sqlite:///market.sqlite or postgresql://... "
             "[env: P2PESCROW_DB].")] = None,
    sync_interval: Annotated[float | None, typer.Option(
        "--sync-interval", metavar="SECONDS",
        help="Seconds between two syncs of the index (default 5) [env: P2PESCROW_SYNC_INTERVAL].")] = None,
    cors_origin: Annotated[list[str] | None, typer.Option(
        "--cors-origin", metavar="ORIGIN",
        help="An origin whose pages may call the API from a browser (repeat for more; default none) "
             "[env: P2PESCROW_CORS_ORIGINS, comma-separated].")] = None,
    page_size_max: Annotated[int | None, typer.Option(
        "--page-size-max", metavar="N",
        help="The most offers one page of a search may hold (default 100) [env: P2PESCROW_PAGE_SIZE_MAX].")] = None,
    relay_rate: Annotated[int | None, typer.Option(
        "--relay-rate", metavar="N",
        help="Offers a minute one client, and one seller, may relay (default 10) [env: P2PESCROW_RELAY_RATE].")] = None,
    relay_keep: Annotated[str | None, typer.Option(
        "--relay-keep", metavar="DURATION",
        help="How long an ended relayed offer (expired, filled, revoked) is kept before it is deleted, by the "
             "chain's time: seconds, or e.g. 12h, 7d (default 7d, at least 1h) [env: P2PESCROW_RELAY_KEEP].")] = None,
    relay_max_per_seller: Annotated[int | None, typer.Option(
        "--relay-max-per-seller", metavar="N",
        help="The most relayed offers one seller may have open at once (default 100) "
             "[env: P2PESCROW_RELAY_MAX_PER_SELLER].")] = None,
    access_log: Annotated[bool, typer.Option(
        "--access-log", help="Log every request on stderr.")] = False,
) -> None:
    """Serve the market: the JSON API (/api, its OpenAPI document at /openapi.json, docs at /docs), the
    offer relay (POST /api/relay) and the pages (/), over the market index, synced every few seconds.

    It opens the index (creating it, or upgrading its schema), syncs it once, prints where it serves,
    and serves until interrupted (Ctrl-C or SIGTERM stop it cleanly). It speaks plain HTTP: for the
    public, bind 127.0.0.1 and put a TLS-terminating reverse proxy in front.

    \b
    Examples:
      p2pescrow serve
      p2pescrow --network sepolia serve --host 127.0.0.1 --port 8080 --db postgresql://market@db/market
      p2pescrow serve --port 0 --cors-origin https://app.example.org
    """
    from ...server import check_server

    check_server()  # the missing extra is the one line to say, before anything else
    from ...server.settings import ServerSettings, parse_duration

    options = context.options(ctx)
    keep = None if relay_keep is None else parse_duration(relay_keep, "--relay-keep")
    settings = ServerSettings.from_env(host=host, port=port, db=db or options.db, sync_interval=sync_interval,
                                       cors_origins=cors_origin or None, page_size_max=page_size_max,
                                       relay_rate=relay_rate, relay_keep=keep,
                                       relay_max_per_seller=relay_max_per_seller)
    net = context.network(options)
    if net.rpc_url is None:
        raise InputError("the embedded chain lives only inside one command: it has no market to serve",
                         hint="start a node with `p2pescrow node start` and pick it with --network or --rpc-url")
    settings = dataclasses.replace(settings, rpc_url=net.rpc_url)
    listening = _bind(settings.host, settings.port)
    try:
        _serve(options, settings.with_port(listening.getsockname()[1]), listening, access_log=access_log)
    finally:
        listening.close()


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: a free one), made before the index is opened so a
    port in use is said at once."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise InputError(f"cannot bind to {host!r}: {exc.strerror}",
                         hint="use an address of this computer, e.g. 127.0.0.1 or 0.0.0.0") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise NetworkError(f"cannot listen on {_hostport(host, port)}: {exc.strerror or exc}",
                           hint="pick another --port (0 takes a free one), or stop what uses it") from None
    sock.set_inheritable(True)
    return sock


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _serve(options: Any, settings: ServerSettings, listening: socket.socket, *, access_log: bool) -> None:
    import uvicorn

    from ...market.db import resolve_url
    from ...server.app import create_app
    from ...server.state import ServedMarket
    from .market import Meter, database_errors, shown_url

    reads = context.reader(options)
    url = resolve_url(settings.db)
    with database_errors(url):
        served = ServedMarket.open(settings, reads)
    where = f"http://{_hostport(settings.host, settings.port)}"
    typer.echo(f"Serving the market of {served.escrow} on chain {served.chain_id} at {where} "
               f"(index: {shown_url(url)})")
    meter = Meter(options)
    try:
        with database_errors(url):
            served.sync_once(progress=meter.update)
    finally:
        meter.close()
    config = uvicorn.Config(create_app(served), log_level="info" if access_log else "warning",
                            access_log=access_log, server_header=False, proxy_headers=True,
                            timeout_graceful_shutdown=10, lifespan="on")
    server = uvicorn.Server(config)
    stopped_by: list[int] = []
    # uvicorn shuts down gracefully on SIGINT/SIGTERM (the sync loop stopped in the lifespan's end), then
    # raises the signal again to whatever handler was there before it: this one notes it, so that a
    # stop asked for ends with exit 0 instead of death by the signal.
    previous = {sig: signal.signal(sig, lambda number, _frame: stopped_by.append(number))
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.run(sockets=[listening])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not server.started:
        typer.echo("error: the server did not start (see above)", err=True)
        raise typer.Exit(1)
    how = f" ({signal.Signals(stopped_by[0]).name})" if stopped_by else ""
    typer.echo(f"Stopped serving the market{how}.")
    sys.stdout.flush()
