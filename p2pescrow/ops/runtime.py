"""The runtime shared by ``scripts/*.py``: one script, two ways to run it.

    brownie run scripts/deploy.py --network sepolia            # brownie's networks, .env, accounts
    brownie run scripts/set_fee.py main fee_bps=50 dry_run     # options as key=value or a flag name
    python scripts/deploy.py --rpc-url URL --account NAME      # no brownie: the SDK alone

Both ways parse the same options (``brownie run`` passes words, turned into ``--options`` here), use
the same deployments registry (``$P2PESCROW_HOME``, else ``~/.config/p2pescrow``) and the same
implementation (:mod:`p2pescrow.deployments`, :mod:`p2pescrow.ops.admin`).

Accounts: ``--account NAME`` (or ``$P2PESCROW_ACCOUNT``) names an encrypted p2pescrow keystore
(``p2pescrow accounts new/import``), ``dev0``..``dev9`` (the public dev keys: only on the dev chain
ids 31337 and 1337), or under brownie ``brownie:NAME`` (a brownie keystore). The password comes from
``--password-file`` / ``$P2PESCROW_PASSWORD_FILE``, else ``$P2PESCROW_PASSWORD``, else a prompt:
never from an argument. Under brownie on a development network the default account is
``accounts[0]``.

Exit codes (the CLI's): 0 ok; 1 a check failed (verify_deployment.py); 2 usage, input,
configuration or account error (nothing sent); 3 refused by the contract or not enough funds; 4
network: node unreachable, wrong chain, no deployment recorded; 5 sent but no receipt in time.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import (
    EXIT_INPUT,
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_REVERT,
    AccountError,
    ContractError,
    InputError,
    P2PEscrowError,
    exit_code_for,
)

if TYPE_CHECKING:
    from web3 import Web3

    from ..clients.sync import EscrowClient
    from ..deployments import Deployment, Registry
    from ..transport.sync import Signer, Transactor



# Scripts exit as the CLI does: each error carries its exit code (p2pescrow.errors.exit_code_for).


class _Usage(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting (brownie would print a traceback for SystemExit 2)."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        raise _Usage(f"{self.prog}: {message}")


# -- .env and brownie-config.yaml -----------------------------------------------------------------
def load_env_file(path: Path) -> dict[str, str]:
    """Read ``KEY=VALUE`` lines (``export`` prefix, quotes and ``#`` comments allowed) into
    ``os.environ``, never overriding a variable already set. Returns what was read."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        key, value = key.strip(), value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[key] = value
        os.environ.setdefault(key, value)
    return values


def project_config(root: Path) -> dict[str, Any]:
    """The ``p2pescrow`` section of ``brownie-config.yaml`` ({} without the file or PyYAML)."""
    path = root / "brownie-config.yaml"
    if not path.is_file():
        return {}
    try:
        import yaml
    except ImportError:
        print(f"note: PyYAML is not installed, so {path.name} is not read; deploy settings come "
              "from options and the environment", file=sys.stderr)
        return {}
    section = (yaml.safe_load(path.read_text()) or {}).get("p2pescrow") or {}
    return dict(section) if isinstance(section, dict) else {}


# -- the environment a script body runs in ----------------------------------------------------------
@dataclass
class Env:
    """A connected chain and how to act on it, the same for both ways of running."""

    w3: Web3
    chain_id: int
    url: str
    network: str
    root: Path
    via_brownie: bool
    args: argparse.Namespace
    _config: dict[str, Any] | None = None
    _signer: Callable[[], Signer] | None = None
    _registry: Registry | None = None

    @property
    def config(self) -> dict[str, Any]:
        """The ``p2pescrow`` section of brownie-config.yaml (read on first use)."""
        if self._config is None:
            self._config = project_config(self.root)
        return self._config

    @property
    def dev(self) -> bool:
        """A local dev chain (:func:`p2pescrow.node.devchain.is_local_dev_chain`): the one rule."""
        from ..node.devchain import is_local_dev_chain

        return is_local_dev_chain(self.url, self.chain_id)

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            from ..deployments import Registry

            self._registry = Registry()
        return self._registry

    def signer(self) -> Signer:
        if self._signer is None:
            raise AccountError("no account selected", hint="pass --account NAME (a p2pescrow keystore) "
                               "or set P2PESCROW_ACCOUNT")
        signer = self._signer()
        self._signer = lambda: signer
        return signer

    def transactor(self) -> Transactor:
        from ..transport.sync import Transactor

        return Transactor(self.w3, self.signer(), url=self.url, chain_id=self.chain_id)

    def deployment(self) -> Deployment:
        from ..deployments import NoDeployment

        deployment = self.registry.get(self.chain_id)
        if deployment is None:
            raise NoDeployment(self.chain_id)
        return deployment

    def client(self, *, signer: bool = True) -> EscrowClient:
        """A client on the recorded deployment (its code verified), acting as the account."""
        from ..clients.sync import EscrowClient

        account: Any = self.signer() if signer else "0x" + "00" * 20
        return EscrowClient.from_web3(self.w3, account, registry=self.registry, url=self.url)

    def out(self, line: str = "") -> None:
        print(line, flush=True)

    def note(self, line: str) -> None:
        print(line, file=sys.stderr, flush=True)


Body = Callable[[Env], int]


class Script:
    """A script's options and its two entry points. ``body(env)`` returns the exit status."""

    def __init__(self, name: str, description: str, root: Path, *, needs_account: bool = True) -> None:
        self.root = root
        self.needs_account = needs_account
        self.parser = _Parser(prog=name, description=description,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
        common = self.parser.add_argument_group("connection (python only; under brownie use its --network)")
        common.add_argument("--rpc-url", help="node URL (default $ETH_RPC_URL)")
        common.add_argument("--network", help="a p2pescrow network name (`p2pescrow networks list`; "
                                              "default $P2PESCROW_NETWORK)")
        common.add_argument("--chain-id", type=int, help="refuse to run unless the node has this chain id")
        common.add_argument("--env-file", help="read variables from this file first (default: .env in "
                                               "the project root; variables already set win)")
        if needs_account:
            who = self.parser.add_argument_group("account")
            who.add_argument("--account", help="p2pescrow keystore name, dev0..dev9 on dev chains, or "
                                               "brownie:NAME under brownie (default $P2PESCROW_ACCOUNT)")
            who.add_argument("--password-file", help="file holding the keystore password (default "
                                                     "$P2PESCROW_PASSWORD_FILE, else $P2PESCROW_PASSWORD, "
                                                     "else a prompt)")

    # -- entry points -------------------------------------------------------------------------------
    def python(self, argv: Sequence[str], body: Body) -> int:
        """``python scripts/X.py ...``: connect through the SDK."""
        try:
            args = self.parser.parse_args(list(argv))
        except _Usage as exc:
            print(f"{self.parser.format_usage()}error: {exc}", file=sys.stderr)
            return EXIT_INPUT
        return self._guarded(lambda: body(self._python_env(args)))

    def brownie(self, words: Sequence[Any], body: Body) -> None:
        """``brownie run scripts/X.py [main [WORD ...]]``: brownie's network and accounts. Exits
        with the status (brownie itself would exit 0)."""
        try:
            args = self.parser.parse_args(self.words_to_argv(words))
        except _Usage as exc:
            print(f"{self.parser.format_usage()}error: {exc}\n(under brownie, give options as words: "
                  "`brownie run scripts/X.py main force fee_bps=50`)", file=sys.stderr)
            sys.exit(EXIT_INPUT)
        status = self._guarded(lambda: body(self._brownie_env(args)))
        if status:
            sys.exit(status)

    def words_to_argv(self, words: Sequence[Any]) -> list[str]:
        """``force`` -> ``--force``, ``fee_bps=50`` -> ``--fee-bps 50``; other words are positional."""
        flags = {s for a in self.parser._actions for s in a.option_strings}
        argv: list[str] = []
        for word in map(str, words):
            if word.startswith("-"):
                argv.append(word)
                continue
            key, eq, value = word.partition("=")
            option = "--" + key.replace("_", "-")
            if eq and option in flags:
                argv += [option, value]
            elif not eq and option in flags:
                argv.append(option)
            else:
                argv.append(word)
        return argv

    def _guarded(self, run: Callable[[], int]) -> int:
        try:
            return run()
        except P2PEscrowError as exc:
            hint = getattr(exc, "hint", None)
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if isinstance(exc, ContractError) and type(exc).__name__ not in message:
                message = f"{type(exc).__name__}: {message}"
            print(f"error: {message}" + (f" (hint: {hint})" if hint else ""), file=sys.stderr)
            return exit_code_for(exc)
        except _Usage as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_INPUT
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130

    # -- connecting -------------------------------------------------------------------------------
    def _load_env(self, args: argparse.Namespace) -> None:
        path = Path(args.env_file).expanduser() if args.env_file else self.root / ".env"
        if args.env_file and not path.is_file():
            raise InputError(f"--env-file {path}: no such file")
        load_env_file(path)

    def _python_env(self, args: argparse.Namespace) -> Env:
        from web3 import Web3

        from ..errors import WrongChain
        from ..transport.reverts import translate

        self._load_env(args)
        url, expected = args.rpc_url or None, args.chain_id
        name = args.network or (None if url else os.environ.get("P2PESCROW_NETWORK"))
        if name:
            from ..networks import Networks
            from ..node.devchain import resolve

            net = resolve(Networks().get(name))  # local/ganache: where `p2pescrow node start` runs them
            url = url or net.rpc_url
            expected = expected if expected is not None else net.chain_id
        url = url or os.environ.get("ETH_RPC_URL")
        if not url:
            raise InputError("no node to talk to", hint="pass --rpc-url URL or --network NAME, or set "
                             "ETH_RPC_URL (e.g. in .env)")
        provider: Any = (Web3.LegacyWebSocketProvider(url) if url.startswith(("ws://", "wss://"))
                         else Web3.HTTPProvider(url, request_kwargs={"timeout": 30}))
        w3 = Web3(provider)
        try:
            chain_id = int(w3.eth.chain_id)
        except Exception as exc:
            raise translate(exc, url) from None
        if expected is not None and chain_id != expected:
            raise WrongChain(expected, chain_id)
        env = Env(w3, chain_id, url, name or _redact(url), self.root, False, args)
        if self.needs_account:
            env._signer = self._python_signer(args, chain_id, url)
        return env

    def _python_signer(self, args: argparse.Namespace, chain_id: int, url: str) -> Callable[[], Signer] | None:
        name = args.account or os.environ.get("P2PESCROW_ACCOUNT")
        if not name:
            return None
        return lambda: load_account(name, chain_id, args.password_file, url=url)

    def _brownie_env(self, args: argparse.Namespace) -> Env:
        from brownie import accounts, network, web3

        if args.rpc_url or args.network:
            raise InputError("under brownie the network is brownie's: `brownie run scripts/X.py "
                             "--network NAME`, not an option of the script")
        chain_id = int(web3.eth.chain_id)
        if args.chain_id is not None and chain_id != args.chain_id:
            from ..errors import WrongChain

            raise WrongChain(args.chain_id, chain_id)
        self._load_env(args)  # brownie has loaded .env already (dotenv: .env); --env-file adds one
        url = str(getattr(web3.provider, "endpoint_uri", "") or "")
        env = Env(web3, chain_id, url, str(network.show_active()), self.root, True, args)
        if self.needs_account:
            name = args.account or os.environ.get("P2PESCROW_ACCOUNT")
            development = network.show_active() in _brownie_development_ids()
            if name and name.startswith("brownie:"):
                env._signer = lambda: _brownie_keystore(name.removeprefix("brownie:"), args.password_file)
            elif name:
                env._signer = lambda: load_account(name, chain_id, args.password_file, url=url)
            elif development and len(accounts) > 0:
                env._signer = lambda: str(accounts[0].address)  # node-managed, unlocked
        return env


def _brownie_development_ids() -> set[str]:
    from brownie._config import CONFIG

    return {k for k, v in CONFIG.networks.items() if "cmd" in v}


def _brownie_keystore(name: str, password_file: str | None) -> Signer:
    from brownie import accounts
    from eth_account import Account

    account = accounts.load(name, accounts.password(name, password_file))
    return Account.from_key(account.private_key)


def load_account(name: str, chain_id: int, password_file: str | None = None, *, url: str | None = None) -> Signer:
    """A p2pescrow keystore (decrypted here), or a dev key on a local dev chain: one `p2pescrow
    node` started, or chain id 31337/1337 on a loopback URL (``url`` None: the chain id alone)."""
    from .. import accounts
    from ..node.devchain import DEV_CHAIN_IDS, is_local_dev_chain

    if name in accounts.DEV_NAMES:
        dev = chain_id in DEV_CHAIN_IDS if url is None else is_local_dev_chain(url, chain_id)
        if not dev:
            raise AccountError(f"{name} is a public dev key: it is only allowed on local dev chains (chain id "
                               f"{sorted(DEV_CHAIN_IDS)} on this computer), not chain id {chain_id}"
                               + (f" at {_redact(url)}" if url else ""),
                               hint="use a keystore: `p2pescrow accounts new NAME`")
        return accounts.dev_account(name)
    return accounts.load(name, accounts.password(name, password_file))


def _redact(url: str) -> str:
    """A URL fit to print: the path (often an API key) and credentials dropped."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or url
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}" + ("/..." if parts.path.strip("/") else "")


def setting(env: Env, option: Any, variable: str, key: str, default: Any = None) -> Any:
    """An option's value: the command line, else ``$variable``, else the config's ``key``."""
    if option is not None:
        return option
    if os.environ.get(variable) not in (None, ""):
        return os.environ[variable]
    value = env.config.get(key)
    return default if value is None else value


def print_checks(env: Env, checks: list[Any]) -> int:
    """Print check results as a table; 0 when none failed, else 1."""
    width = max(len(c.name) for c in checks)
    for check in checks:
        mark = "ok  " if check.ok else ("FAIL" if check.ok is False else "info")
        env.out(f"  {mark}  {check.name.ljust(width)}  {check.detail}")
    failed = [c for c in checks if c.ok is False]
    return EXIT_INTERNAL if failed else EXIT_OK


def run_changes(env: Env, client: EscrowClient, changes: list[Any], *, dry_run: bool) -> int:
    """Show owner changes; with ``dry_run`` simulate them as this account and stop there, else send
    them and bring the registry's record up to date. 0 ok (or nothing to do), 3 a change would be
    refused (dry run)."""
    from . import admin as operations

    where = f"on {env.network} (chain id {env.chain_id}), escrow {client.deployment.escrow}, as {client.address}"
    if not changes:
        env.out(f"nothing to change {where}")
        return EXIT_OK
    env.out(("dry run: would send" if dry_run else "sending") + f" {len(changes)} transaction(s) {where}:")
    refused = 0
    for change in changes:
        line = f"  {change.describe()}    [{change.call.description}]"
        if dry_run:
            why = operations.simulate(client, change)
            refused += why is not None
            line += "  (would be refused: " + why + ")" if why else "  (simulated: ok)"
        env.out(line)
    if dry_run:
        env.out("dry run: nothing sent")
        return EXIT_REVERT if refused else EXIT_OK
    for change, result in zip(changes, operations.apply(client, changes), strict=True):
        env.out(f"  done: {change.call.description} in {result.tx_hash} (block {result.block_number})")
    recorded = operations.record(env.registry, client)
    env.out(f"registry updated: owner {recorded.owner}, fee {recorded.platform_fee_bps} bps to "
            f"{recorded.fee_recipient}")
    return EXIT_OK
