"""The local development chain behind ``p2pescrow node``: one Anvil or Ganache in the background.

A node started here outlives the command that started it. What it needs to be found again is kept
in ``<config dir>/node/``::

    anvil.json           pid, port, chain id of the running Anvil (removed when it stops)
    anvil.port           the port it last ran on (kept after it stops: the network still names it)
    anvil.log            its output
    anvil-state.json     its chain state: loaded on start, dumped every few seconds and on exit
    ganache.json, ganache.log, ganache-db/   the same for Ganache (a LevelDB folder)

So a stopped and restarted node still has its blocks, balances and contracts. Both engines start
from the standard test mnemonic: ``dev0``..``dev9`` are funded with 10 000 ETH. The first start
deploys escrow + reputation with ``dev0`` (platform fee 25 bps, paid to ``dev0``) and records the
deployment in the registry, so the network ``local`` (or ``ganache``) works at once::

    record, deployment, fresh = devchain.start("anvil")
    devchain.stop("anvil")

No web3 import at module level: ``node status`` and the network lookup stay cheap.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ..config import config_dir
from ..errors import ConfigError, NetworkError
from . import process as _nodes

if TYPE_CHECKING:
    from ..deployments import Deployment
    from ..networks import Network

Engine = Literal["anvil", "ganache"]
ENGINES: tuple[Engine, ...] = ("anvil", "ganache")
DEFAULT_PORTS: dict[str, int] = {"anvil": 8545, "ganache": 8546}
#: The built-in network that talks to each engine.
NETWORK_OF: dict[str, str] = {"anvil": "local", "ganache": "ganache"}
PLATFORM_FEE_BPS = 25
#: Anvil writes its state this often (seconds) besides on exit, so a crash loses little.
STATE_INTERVAL = 5
STOP_TIMEOUT = 30.0


class NodeError(NetworkError):
    """The local node could not be started or stopped."""


@dataclass(frozen=True)
class NodeRecord:
    """A node started by :func:`start`, as recorded in ``<config dir>/node/<engine>.json``."""

    engine: str
    pid: int
    port: int
    chain_id: int
    started: str  # ISO 8601, UTC

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass(frozen=True)
class NodeStatus:
    """What ``p2pescrow node status`` shows for one engine."""

    engine: str
    running: bool
    record: NodeRecord | None
    answering: bool  # it answers JSON-RPC with the recorded chain id
    block: int | None
    deployment: Deployment | None
    deployment_live: bool | None  # the recorded contracts have code on the node (None: unknown)
    log: Path
    state: Path


# -- where things are ----------------------------------------------------------------------------
def node_dir() -> Path:
    return config_dir() / "node"


def record_path(engine: str) -> Path:
    return node_dir() / f"{engine}.json"


def log_path(engine: str) -> Path:
    return node_dir() / f"{engine}.log"


def last_port_path(engine: str) -> Path:
    return node_dir() / f"{engine}.port"


def last_port(engine: str) -> int | None:
    """The port the engine's node last ran on (running or stopped), if it ever ran here."""
    try:
        port = int(last_port_path(engine).read_text().strip())
    except (OSError, ValueError):
        return None
    return port if 0 < port < 65536 else None


def state_path(engine: str) -> Path:
    """Anvil's state file, or Ganache's database folder."""
    return node_dir() / ("anvil-state.json" if engine == "anvil" else "ganache-db")


def _check_engine(engine: str) -> None:
    if engine not in ENGINES:
        from ..errors import InputError

        raise InputError(f"unknown engine {engine!r}: use anvil or ganache")


# -- the record of a running node ----------------------------------------------------------------
def _read_record(engine: str) -> NodeRecord | None:
    path = record_path(engine)
    try:
        return NodeRecord(**json.loads(path.read_text()))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError):
        return None  # unreadable or from another version: treat as not running


def _write_record(record: NodeRecord) -> None:
    path = record_path(record.engine)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(asdict(record), indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def _is_our_process(record: NodeRecord) -> bool:
    """The recorded pid still runs our node (not a later process that reused the pid)."""
    if not _nodes.process_alive(record.pid):
        return False
    cmdline = Path(f"/proc/{record.pid}/cmdline")
    if cmdline.parent.exists():  # Linux: check it is the same program, on the same port
        try:
            args = cmdline.read_bytes().decode(errors="replace").split("\0")
        except OSError:
            return False
        return any(record.engine in a for a in args) and str(record.port) in args
    return True


def running(engine: str) -> NodeRecord | None:
    """The record of the engine's node if it runs; a stale record (the process is gone) is removed."""
    record = _read_record(engine)
    if record is None:
        return None
    if _is_our_process(record):
        return record
    record_path(engine).unlink(missing_ok=True)
    return None


def resolve(network: Network) -> Network:
    """``local``/``ganache`` pointed at the port their managed node runs on, or last ran on once
    stopped: an error then names that port, and another node listening on the default port is
    never used silently in its place."""
    if not network.builtin:
        return network
    for engine, name in NETWORK_OF.items():
        if network.name == name:
            record = running(engine)
            port = record.port if record is not None else last_port(engine)
            url = f"http://127.0.0.1:{port}" if port is not None else None
            if url is not None and url != network.rpc_url:
                return replace(network, rpc_url=url)
    return network


# -- start, stop, status, reset ------------------------------------------------------------------
def _extra_args(engine: str) -> list[str]:
    state = state_path(engine)
    if engine == "anvil":
        return ["--state", str(state), "--state-interval", str(STATE_INTERVAL)]
    state.mkdir(parents=True, exist_ok=True)
    return ["--database.dbPath", str(state)]


def start(engine: str = "anvil", *, port: int | None = None) -> tuple[NodeRecord, bool]:
    """Start the engine's node in the background; returns ``(record, started)``.

    ``started`` is False when it was already running (then nothing changes); asking for another
    port than the one it runs on raises :class:`InputError` (stop it first). Without ``port`` it
    starts on the port it last ran on (else the engine's default). Raises :class:`NodeError` if
    the binary is missing, the port is taken, or the node does not come up.
    """
    _check_engine(engine)
    current = running(engine)
    if current is not None:
        if port is not None and port != current.port:
            from ..errors import InputError

            raise InputError(f"{engine} already runs on port {current.port}, not {port}",
                             hint=f"stop it first (`p2pescrow node stop --engine {engine}`), then start it "
                                  f"with --port {port}")
        return current, False
    port = port or last_port(engine) or DEFAULT_PORTS[engine]
    node_dir().mkdir(parents=True, exist_ok=True)
    try:
        node = _nodes.start_detached(engine, port=port, log_path=log_path(engine),  # type: ignore[arg-type]
                                     extra_args=_extra_args(engine))
    except _nodes.NodeBinaryNotFound as exc:
        raise ConfigError(str(exc).split(". ")[0], hint="run `npm ci` in the p2pescrow folder") from None
    except _nodes.NodeStartError as exc:
        hint = (f"stop what listens there, or pick another port: `p2pescrow node start --port {port + 10}`"
                if "in use" in str(exc) else f"see the log: {log_path(engine)}")
        raise NodeError(f"could not start {engine}: {str(exc).splitlines()[0]}", hint=hint) from None
    record = NodeRecord(engine, node.pid, node.port, node.chain_id,
                        datetime.now(UTC).replace(microsecond=0).isoformat())
    _write_record(record)
    last_port_path(engine).write_text(f"{record.port}\n")
    return record, True


def ensure_deployment(record: NodeRecord, report: Callable[[str], None] | None = None) -> tuple[Deployment, bool]:
    """The node's recorded deployment if its code is there, else a new one by ``dev0`` (platform
    fee 25 bps, paid to dev0), recorded. Returns ``(deployment, deployed_now)``."""
    from web3 import Web3

    from ..accounts import dev_account
    from ..deployments import Registry, ensure_deployed
    from ..transport.sync import Transactor

    w3 = Web3(Web3.HTTPProvider(record.url, request_kwargs={"timeout": 30}))
    dev0 = dev_account("dev0")
    outcome = ensure_deployed(Transactor(w3, dev0, url=record.url), Registry(), fee_recipient=dev0.address,
                              platform_fee_bps=PLATFORM_FEE_BPS, report=report)
    return outcome.deployment, outcome.status != "existing"


def stop(engine: str, *, timeout: float = STOP_TIMEOUT) -> NodeRecord | None:
    """Stop the engine's node gracefully (it saves its state); None if it was not running."""
    _check_engine(engine)
    record = running(engine)
    if record is None:
        return None
    _nodes.stop_process(record.pid, timeout=timeout)
    record_path(engine).unlink(missing_ok=True)
    return record


def status(engine: str) -> NodeStatus:
    """Is it running, does it answer, at which block, and what is deployed there."""
    _check_engine(engine)
    record = running(engine)
    chain_id = record.chain_id if record else _nodes.DEFAULT_CHAIN_IDS[engine]
    deployment = _recorded_deployment(chain_id)
    answering, block, live = False, None, None
    if record is not None:
        answering = _nodes._chain_id_of(record.url) == record.chain_id
        if answering:
            number = _nodes.rpc(record.url, "eth_blockNumber")
            block = int(str(number), 16) if number is not None else None
            if deployment is not None:
                codes = [_nodes.rpc(record.url, "eth_getCode", [a, "latest"])
                         for a in (deployment.escrow, deployment.reputation)]
                live = all(isinstance(c, str) and len(c) > 2 for c in codes)
    return NodeStatus(engine, record is not None, record, answering, block, deployment, live,
                      log_path(engine), state_path(engine))


def _recorded_deployment(chain_id: int) -> Deployment | None:
    from ..deployments import Registry

    return Registry().get(chain_id)


def reset(engine: str) -> tuple[NodeRecord | None, list[Path], bool]:
    """Stop the node, delete its state and the registry's deployment for its chain.

    Returns ``(the stopped node or None, the paths deleted, whether a deployment was forgotten)``.
    """
    from ..deployments import Registry

    stopped = stop(engine)
    removed: list[Path] = []
    for path in (state_path(engine), log_path(engine)):
        if path.is_dir():
            shutil.rmtree(path)
            removed.append(path)
        elif path.exists():
            path.unlink()
            removed.append(path)
    chain_id = stopped.chain_id if stopped else _nodes.DEFAULT_CHAIN_IDS[engine]
    registry = Registry()
    forgotten = registry.get(chain_id) is not None
    if forgotten:
        registry.remove(chain_id)
    return stopped, removed, forgotten
