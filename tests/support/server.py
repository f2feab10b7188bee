"""The served market: ``p2pescrow serve`` running as a subprocess over a real chain's index, for the
server's tests (tests/server) and the browser's (tests/browser).

What a test module gets from the ``served_market`` fixture (module scope) is a :class:`ServedMarket`:

- ``.url``: the server's base URL (``http://127.0.0.1:PORT``, a free port the server chose);
- ``.chain``: the :class:`~support.market.MarketChain` (a fresh Anvil with the escrow, the contract
  suite's helpers over HTTP), ``.history`` (:class:`~support.market.History`: trades that ended every
  way, a live one, offers filled, revoked and open, a rating, a bond), ``.offers`` (the offers' ids by
  name: see :data:`OFFER_NAMES`), ``.trades`` (the history's trade ids by name);
- ``.db_url``: the SQLite index the server syncs (``sqlite:///.../market.sqlite``), ``.home``: the
  server's own config folder (the deployment registered in its ``deployments.json``);
- ``.get(path, **params)`` / ``.post(path, ...)``: real HTTP to the server (httpx), and
  ``.market()``: a :class:`~p2pescrow.market.client.MarketClient` over the same index and node, to
  compare the server's answers with (``sync=False``: the server keeps the index in sync);
- ``.wait_synced()``: wait until the server's index holds the chain's head (after a test sent
  transactions), ``.output()``: what the server printed so far.

The history holds hostile listings, as a web page must show them (as text): ``script`` titled
``<script>alert(1)</script>``, ``rtl`` with right-to-left text and emoji (:data:`RTL_TITLE`), ``long``
with a 2,000-character description; and ``tusd`` priced in an ERC-20 (the TUSD test token).

To start another server (other options, another chain), use :func:`serve` directly::

    with serve(m, db_url, home, "--cors-origin", "https://app.example") as server:
        server.get("/api/health")

Register the fixtures in a ``conftest.py``::

    from support.market import market_chain  # noqa: F401 - fixtures
    from support.server import served_market  # noqa: F401 - fixtures
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_utils import to_checksum_address

from p2pescrow.deployments import Deployment, Registry, hash_of_code
from support.clitools import COMMAND
from support.market import History, MarketChain, document, make_history, publish, trade_key

__all__ = [
    "LONG_DESCRIPTION",
    "OFFER_NAMES",
    "RTL_TITLE",
    "SCRIPT_TITLE",
    "ServedMarket",
    "Server",
    "deployment_record",
    "register_deployment",
    "serve",
    "served_market",
]

#: A listing's title that would run in a page that did not escape it.
SCRIPT_TITLE = "<script>alert(1)</script>"
#: Right-to-left text (Hebrew and Arabic) with emoji and a right-to-left override character.
RTL_TITLE = "אופניים למכירה 🚲 دراجة ‮evil‬ 👍🏽"
#: 2,000 characters (the index keeps descriptions whole).
LONG_DESCRIPTION = ("A very long description. " * 80)[:2000]

#: The offers of the served market by name: what each is.
OFFER_NAMES = {
    "bicycle": "open (from make_history)",
    "camera": "filled (from make_history)",
    "phone": "revoked (from make_history)",
    "script": f"open, titled {SCRIPT_TITLE!r}, the description full of markup",
    "rtl": "open, right-to-left title with emoji",
    "long": "open, a 2,000-character description",
    "tusd": "open, 250 TUSD (an ERC-20), with a seller deposit its bond covers",
    "chair": "open, by another seller (the chain's `stranger`), 0.2 ETH, a 3% arbiter fee, the timeout releases",
}

#: Seconds the fixture waits for the server to answer /api/health.
START_TIMEOUT = 90.0


def deployment_record(m: MarketChain) -> Deployment:
    """The deployment registry's record of ``m``'s escrow (what `p2pescrow deploy` would have written)."""
    w3 = m.chain.w3
    return Deployment(
        chain_id=m.deployment.chain_id,
        escrow=to_checksum_address(m.deployment.escrow),
        reputation=to_checksum_address(m.deployment.reputation),
        block=m.deployment.block,
        owner=m.d.owner,
        fee_recipient=m.d.fee_recipient,
        platform_fee_bps=m.deployment.platform_fee_bps,
        escrow_code_hash=hash_of_code(bytes(w3.eth.get_code(m.d.escrow.address))),
        reputation_code_hash=hash_of_code(bytes(w3.eth.get_code(m.d.reputation.address))),
    )


def register_deployment(m: MarketChain, home: Path) -> Deployment:
    """Write ``m``'s deployment into the config folder ``home``'s registry; the record."""
    record = deployment_record(m)
    home.mkdir(parents=True, exist_ok=True)
    Registry(home / "deployments.json").put(record)
    return record


@dataclass
class Server:
    """One running ``p2pescrow serve`` (see :func:`serve`)."""

    url: str
    process: subprocess.Popen[str]
    home: Path
    db_url: str
    chain: MarketChain
    record: Deployment
    _lines: list[str] = field(default_factory=list)
    _client: httpx.Client | None = None
    #: The thread reading the server's output (joined on stop, so output() then holds all of it).
    _reader: threading.Thread | None = None

    @property
    def http(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(base_url=self.url, timeout=30)
        return self._client

    def get(self, path: str, **params: Any) -> httpx.Response:
        """GET ``path`` with ``params`` as the query (None values left out)."""
        return self.http.get(path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.post(path, **kwargs)

    def output(self) -> str:
        """Everything the server printed so far (stdout and stderr, interleaved by line)."""
        return "\n".join(self._lines)

    def health(self) -> dict[str, Any]:
        answer = self.get("/api/health")
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def wait_synced(self, timeout: float = 30.0) -> dict[str, Any]:
        """Wait until the server's index holds the chain's current head; its health then."""
        head = self.chain.chain.w3.eth.block_number
        deadline = time.monotonic() + timeout
        while True:
            health = self.health()
            if health["head_indexed"] is not None and health["head_indexed"] >= head and not health["sync_error"]:
                return health
            if time.monotonic() > deadline:
                raise AssertionError(f"the server did not index block {head} in {timeout} s: {health}\n"
                                     f"{self.output()}")
            time.sleep(0.1)

    def market(self) -> Any:
        """A MarketClient over the server's index and node (read it with ``sync=False``)."""
        from p2pescrow.market.client import MarketClient
        from p2pescrow.reader import EscrowReader

        return MarketClient(EscrowReader.connect(self.chain.url, deployment=self.record), db=self.db_url)

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM, as a service manager stops it; its exit code (killed after ``timeout`` seconds)."""
        if self._client is not None:
            self._client.close()
            self._client = None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._reader is not None:
            self._reader.join(5)
        return self.process.returncode


def server_env(home: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a served market: none of the user's p2pescrow settings, ``home`` as the
    config folder."""
    full = {k: v for k, v in os.environ.items()
            if not k.startswith("P2PESCROW_") or k == "P2PESCROW_NODE_MODULES"}
    full.pop("ETH_RPC_URL", None)
    full.update(P2PESCROW_HOME=str(home), PYTHONUNBUFFERED="1", **(env or {}))
    return full


SERVING = re.compile(r"^Serving the market of (0x[0-9a-fA-F]{40}) on chain (\d+) at (http://\S+) \(index: (.*)\)$")


@contextlib.contextmanager
def serve(m: MarketChain, db_url: str, home: Path, *args: str, env: dict[str, str] | None = None,
          sync_interval: float = 0.5, timeout: float = START_TIMEOUT, rpc_url: str | None = None) -> Iterator[Server]:
    """Run ``p2pescrow --rpc-url <m's node> serve --db db_url *args --port 0 --sync-interval S`` with
    ``home`` as its config folder (``m``'s deployment registered there), wait until it answers
    ``/api/health``, yield it, stop it (SIGTERM) after. ``--port 0`` and ``--sync-interval`` are left
    out when ``args`` or ``env`` (``P2PESCROW_SERVE_PORT``, ``P2PESCROW_SYNC_INTERVAL``) set them.
    ``rpc_url``: reach the node there instead (a proxy in front of it)."""
    record = register_deployment(m, home)
    given = {**(env or {})}
    command = [*COMMAND, "--rpc-url", rpc_url or m.url, "serve", "--db", db_url, *args]
    if "--port" not in args and "P2PESCROW_SERVE_PORT" not in given:
        command += ["--port", "0"]
    if "--sync-interval" not in args and "P2PESCROW_SYNC_INTERVAL" not in given:
        command += ["--sync-interval", str(sync_interval)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=server_env(home, env), stdin=subprocess.DEVNULL, start_new_session=True)
    lines: list[str] = []
    url_found = threading.Event()
    found: dict[str, str] = {}

    def drain() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            line = line.rstrip("\n")
            lines.append(line)
            match = SERVING.match(line)
            if match and not url_found.is_set():
                found["url"] = match.group(3)
                url_found.set()
        url_found.set()  # the output ended: the server is gone

    reader = threading.Thread(target=drain, name="served-market-output", daemon=True)
    reader.start()
    server: Server | None = None
    try:
        if not url_found.wait(timeout) or "url" not in found:
            raise AssertionError("`p2pescrow serve` did not say where it serves:\n" + "\n".join(lines))
        server = Server(found["url"], process, home, db_url, m, record, lines, _reader=reader)
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                reader.join(5)
                raise AssertionError(f"`p2pescrow serve` exited {process.returncode}:\n" + "\n".join(lines))
            with contextlib.suppress(httpx.HTTPError):
                if server.get("/api/health").status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise AssertionError(f"`p2pescrow serve` did not answer /api/health in {timeout} s:\n"
                                     + "\n".join(lines))
            time.sleep(0.1)
        yield server
    finally:
        if server is not None:
            server.stop()
        elif process.poll() is None:
            process.kill()
            process.wait()
        reader.join(5)


# -- the served market -----------------------------------------------------------------------------
@dataclass
class ServedMarket(Server):
    """:class:`Server` over the market history of :func:`make_served_history`."""

    history: History | None = None
    #: The offers' ids by name (:data:`OFFER_NAMES`).
    offers: dict[str, str] = field(default_factory=dict)
    #: The history's trade ids by name: released, refunded, ruled, cancelled, live, filled.
    trades: dict[str, str] = field(default_factory=dict)


def make_served_history(m: MarketChain) -> tuple[History, dict[str, str]]:
    """:func:`make_history` plus the hostile and the ERC-20 listings; (history, publication tx hash by
    offer name)."""
    d = m.d
    history = make_history(m)
    published = {"camera": history.filled["tx_hash"], "phone": history.revoked["tx_hash"],
                 "bicycle": history.open["tx_hash"]}
    script = publish(m, document(SCRIPT_TITLE, description='<img src=x onerror=alert(2)> "quoted" & <b>bold</b>',
                                 category="<i>tools</i>"))
    rtl = publish(m, document(RTL_TITLE, description="نص عربي مع رموز تعبيرية 🎉 ועברית", category="bikes"))
    long = publish(m, document("Long story", description=LONG_DESCRIPTION))
    tusd = d.tokens["standard"].address
    bond = 10**21
    m.send(d.tokens["standard"].functions.approve(d.escrow.address, bond), d.seller)
    m.send(d.escrow.functions.depositBond(tusd, bond), d.seller)
    priced = publish(m, document("Paid in TUSD", category="tokens"), token=tusd, amount=250 * 10**18,
                     sellerDeposit=10 * 10**18, buyerDeposit=5 * 10**18)
    chair = publish(m, document("Garden chair", category="home"), seller=d.stranger, amount=2 * 10**17,
                    arbiterFeeBps=300, flags=3)  # records reputation (2), the timeout releases (1)
    published.update(script=script["tx_hash"], rtl=rtl["tx_hash"], long=long["tx_hash"], tusd=priced["tx_hash"],
                     chair=chair["tx_hash"])
    return history, published


def offer_ids(db_url: str, published: dict[str, str]) -> dict[str, str]:
    """The index's offer ids by name, found by their publication's transaction hash."""
    from sqlalchemy import create_engine, select

    from p2pescrow.market.schema import Offer

    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            by_tx = {str(tx).lower(): str(offer_id) for offer_id, tx in connection.execute(
                select(Offer.id, Offer.tx_hash))}
    finally:
        engine.dispose()
    missing = sorted(name for name, tx in published.items() if tx.lower() not in by_tx)
    assert not missing, f"offers not in the index: {missing}"
    return {name: by_tx[tx.lower()] for name, tx in published.items()}


@contextlib.contextmanager
def served(m: MarketChain, folder: Path, *args: str, **kwargs: Any) -> Iterator[ServedMarket]:
    """The served market history on ``m``: the history made, a server started on a fresh SQLite index
    under ``folder`` (its config folder ``folder/home``), synced to the head."""
    history, published = make_served_history(m)
    db_url = f"sqlite:///{folder / 'market.sqlite'}"
    with serve(m, db_url, folder / "home", *args, **kwargs) as server:
        server.wait_synced()
        market = ServedMarket(**{f: getattr(server, f) for f in ("url", "process", "home", "db_url", "chain",
                                                                 "record", "_lines", "_reader")})
        market.history = history
        market.offers = offer_ids(db_url, published)
        market.trades = {name: trade_key(getattr(history, name)) for name in
                         ("released", "refunded", "ruled", "cancelled", "live")}
        market.trades["filled"] = _filled_trade(market)
        try:
            yield market
        finally:
            market.stop()


def _filled_trade(market: ServedMarket) -> str:
    from sqlalchemy import create_engine, select

    from p2pescrow.market.schema import Offer

    engine = create_engine(market.db_url)
    try:
        with engine.connect() as connection:
            found = connection.execute(select(Offer.trade_id).where(Offer.id == market.offers["camera"])).scalar()
    finally:
        engine.dispose()
    assert found, "the filled offer has no trade in the index"
    return str(found)


@pytest.fixture(scope="module")
def served_market(market_chain: MarketChain, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedMarket]:
    """`p2pescrow serve` over the module's chain (``market_chain``) with the served history (see the
    module's docstring); stopped after the module."""
    with served(market_chain, tmp_path_factory.mktemp("served-market")) as market:
        yield market
