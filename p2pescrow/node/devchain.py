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
deploys the escrow (version 2, which creates its reputation contract) with ``dev0`` (platform fee
25 bps, paid to ``dev0``), the dev tokens DUSD and DEUR, lists ETH, DUSD and DEUR as reputation
assets (:data:`REPUTATION_MINIMUMS`), and records the deployment in the registry, so the network
``local`` (or ``ganache``) works at once::

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
from typing import TYPE_CHECKING, Any, Literal

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
    """The node's recorded deployment if its code is there and of version 2, else a new one by ``dev0``
    (platform fee 25 bps, paid to dev0), recorded; and the dev tokens (:data:`DEV_TOKENS`) deployed and
    recorded with it if they are not there yet. When either was deployed now, ETH and the dev tokens
    are listed as reputation assets with :data:`REPUTATION_MINIMUMS` (a listing the owner changed
    later is left alone). Returns ``(deployment, deployed_now)``."""
    from ..accounts import dev_account
    from ..chains import web3_for
    from ..deployments import Registry, ensure_deployed
    from ..transport.sync import Transactor

    w3 = web3_for(record.url)
    dev0 = dev_account("dev0")
    transactor = Transactor(w3, dev0, url=record.url, chain_id=record.chain_id)
    registry = Registry()
    outcome = ensure_deployed(transactor, registry, fee_recipient=dev0.address,
                              platform_fee_bps=PLATFORM_FEE_BPS, report=report)
    deployment = outcome.deployment
    fresh = outcome.status != "existing"
    if not _tokens_live(w3, deployment):
        deployment = replace(deployment, dev_tokens=_deploy_dev_tokens(transactor, report))
        registry.put(deployment)
        fresh = True
    if fresh:
        _list_reputation_assets(transactor, deployment, report)
    return deployment, outcome.status != "existing"


# -- dev tokens and funding ----------------------------------------------------------------------
@dataclass(frozen=True)
class DevTokenSpec:
    """A token :func:`ensure_deployment` deploys on a local chain (contracts/dev/DevTokens.sol)."""

    contract: str
    name: str
    symbol: str
    decimals: int
    #: What each dev account (dev0..dev9) holds from the start, in whole tokens.
    per_account: int


#: A plain ERC-20 (approve, then fund) and an EIP-2612 one (funds in one transaction, by permit).
DEV_TOKENS = (DevTokenSpec("DevToken", "Dev Dollar", "DUSD", 6, 1_000_000),
              DevTokenSpec("DevPermitToken", "Dev Permit Euro", "DEUR", 18, 1_000_000))
#: What `node fund` gives when no amount is named: enough to try every walkthrough trade.
DEFAULT_FUNDING = {"ETH": 10, "DUSD": 10_000, "DEUR": 10_000}


#: The reputation assets of a local chain and the smallest trade that counts, in whole units: one unit
#: of reputation is one rated trade of this size (see ``ReputationRecord.score``).
REPUTATION_MINIMUMS = {"ETH": "0.01", "DUSD": "10", "DEUR": "10"}


def reputation_assets_wanted(deployment: Deployment) -> dict[str, int]:
    """Token address (the zero address for ETH) -> minimum in base units, for the assets of
    :data:`REPUTATION_MINIMUMS` this deployment has."""
    from ..models import ZERO_ADDRESS, to_base_units

    decimals = {spec.symbol: spec.decimals for spec in DEV_TOKENS}
    wanted = {ZERO_ADDRESS: to_base_units(REPUTATION_MINIMUMS["ETH"], 18)}
    for symbol, address in deployment.dev_tokens.items():
        if symbol in REPUTATION_MINIMUMS:
            wanted[address] = to_base_units(REPUTATION_MINIMUMS[symbol], decimals[symbol])
    return wanted


def _list_reputation_assets(transactor: Any, deployment: Deployment, report: Callable[[str], None] | None) -> None:
    """List each asset of :func:`reputation_assets_wanted` that is not listed with its minimum yet."""
    from ..core.codec import escrow_codec
    from ..transport.sync import Call

    codec = escrow_codec()
    symbols = {address: symbol for symbol, address in deployment.dev_tokens.items()}
    for token, minimum in reputation_assets_wanted(deployment).items():
        answer = transactor.w3.eth.call({"to": deployment.escrow, "data": codec.encode_call("reputationAssets", token)})
        listed, current = codec.decode_output("reputationAssets", bytes(answer))
        if listed and current == minimum:
            continue
        symbol = symbols.get(token, "ETH")
        transactor.send(Call(deployment.escrow, codec.encode_call("setReputationAsset", token, True, minimum), 0,
                             f"list {symbol} as a reputation asset"))
        if report is not None:
            report(f"listed {symbol} as a reputation asset: trades of at least {REPUTATION_MINIMUMS[symbol]} "
                   f"{symbol} build reputation")


def _tokens_live(w3: Any, deployment: Deployment) -> bool:
    symbols = {spec.symbol for spec in DEV_TOKENS}
    if set(deployment.dev_tokens) != symbols:
        return False
    return all(len(bytes(w3.eth.get_code(address))) > 0 for address in deployment.dev_tokens.values())


def _deploy_dev_tokens(transactor: Any, report: Callable[[str], None] | None) -> dict[str, str]:
    from .._artifacts import load_artifact
    from ..deployments import deploy_data
    from ..transport.sync import Call
    from .process import dev_accounts

    holders = [account.address for account in dev_accounts()]
    addresses: dict[str, str] = {}
    for spec in DEV_TOKENS:
        data = deploy_data(load_artifact(spec.contract), spec.name, spec.symbol, holders,
                           spec.per_account * 10**spec.decimals)
        result = transactor.send(Call(None, data, description=f"deploy {spec.contract} ({spec.symbol})"))
        addresses[spec.symbol] = str(result.contract_address)
        if report is not None:
            report(f"deployed {spec.name} ({spec.symbol}) at {result.contract_address}; "
                   f"dev0..dev9 hold {spec.per_account:,} {spec.symbol} each")
    return addresses


#: The chain ids of local dev chains (Anvil's and Ganache's defaults).
DEV_CHAIN_IDS = frozenset({31337, 1337})


def is_local_dev_chain(url: str | None, chain_id: int) -> bool:
    """A chain where the dev accounts' public keys may act and `node fund` may mint: one that
    `p2pescrow node` started (it is recorded), or chain id 31337 or 1337 on a loopback URL. Nothing
    else is, whatever its chain id (a testnet fork on chain id 31337 behind a remote URL is not)."""
    if url is None:
        return True  # the embedded chain lives in this process
    for engine in ENGINES:
        record = running(engine)
        if record is not None and record.url == url.rstrip("/") and record.chain_id == chain_id:
            return True
    from urllib.parse import urlsplit

    host = (urlsplit(url).hostname or "").lower()
    loopback = host == "localhost" or host == "::1" or host.startswith("127.")
    return loopback and chain_id in DEV_CHAIN_IDS


@dataclass(frozen=True)
class Funding:
    """One credit made by :func:`fund`: what, how much (base units) and the transaction."""

    symbol: str
    amount: int
    decimals: int
    tx_hash: str


def fund(url: str, to: str, amounts: dict[str, Any] | None = None, *,
         report: Callable[[str], None] | None = None) -> list[Funding]:
    """Give ``to`` ETH (sent by dev0) and dev tokens (minted by dev0) on a local dev chain.

    ``amounts`` maps a symbol (``ETH`` or one of :data:`DEV_TOKENS`) to an amount in whole units
    (``Decimal``, ``str`` or ``int``); default :data:`DEFAULT_FUNDING`. Refused with
    :class:`~p2pescrow.errors.InputError`, nothing sent, on any chain that is not a local dev chain
    (:func:`is_local_dev_chain`) or when a symbol is not a dev token of this chain; every amount is
    checked before the first transaction. ``report(line)`` is told each transaction before it is sent."""
    from ..errors import InputError, NodeUnreachable

    chain_id = _nodes.chain_id_of(url, timeout=5.0)
    if chain_id is None:
        raise NodeUnreachable(url, "no answer to eth_chainId")
    if not is_local_dev_chain(url, chain_id):
        raise InputError(f"funding is only for local dev chains; {url} (chain id {chain_id}) is not one",
                         hint="start one with `p2pescrow node start`")
    from ..accounts import dev_account
    from ..chains import web3_for
    from ..core.terms import checksum
    from ..deployments import Registry
    from ..models import from_base_units, to_base_units
    from ..transport.sync import Call, Transactor

    recipient = checksum(to, "address to fund")
    wanted = {str(k).upper(): v for k, v in (amounts or DEFAULT_FUNDING).items()}
    deployment = Registry().get(chain_id)
    tokens = dict(deployment.dev_tokens) if deployment is not None else {}
    decimals = {spec.symbol: spec.decimals for spec in DEV_TOKENS}
    unknown = [s for s in wanted if s != "ETH" and s not in tokens]
    if unknown:
        known = ", ".join(["ETH", *tokens]) if tokens else "ETH (no dev tokens are recorded for this chain)"
        raise InputError(f"{', '.join(unknown)} is not a dev token of chain id {chain_id}: use {known}",
                         hint="`p2pescrow node start` deploys the dev tokens")
    plan = [(symbol, to_base_units(value, 18 if symbol == "ETH" else decimals[symbol]))
            for symbol, value in wanted.items()]  # every amount checked before anything is sent
    transactor = Transactor(web3_for(url), dev_account("dev0"), url=url, chain_id=chain_id)
    done: list[Funding] = []
    for symbol, amount in plan:
        if symbol == "ETH":
            call = Call(recipient, "0x", amount, f"send {from_base_units(amount, 18)} ETH to {recipient}")
        else:
            call = Call(tokens[symbol], _mint_data(recipient, amount), 0,
                        f"mint {from_base_units(amount, decimals[symbol])} {symbol} to {recipient}")
        if report is not None:
            report(f"{call.description} ...")
        result = transactor.send(call)
        done.append(Funding(symbol, amount, 18 if symbol == "ETH" else decimals[symbol], result.tx_hash))
    return done


def _mint_data(to: str, amount: int) -> str:
    """``mint(to, amount)`` of a dev token (both have the same one), encoded by the package's codec."""
    from ..core.codec import Codec

    return Codec.for_contract("DevToken").encode_call("mint", to, amount)


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
        answering = _nodes.chain_id_of(record.url) == record.chain_id
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
