"""The trade, offer, reputation and demo commands' test helpers (fixtures: tests/cli/escrow/conftest.py):
the chain the tests run on, and ``cli(...)``, which runs the real command through CliRunner."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result
from web3 import Web3

from p2pescrow import EscrowClient
from p2pescrow.accounts import DEV_NAMES, dev_account
from p2pescrow.cli import app
from p2pescrow.deployments import Deployment, Registry
from p2pescrow.node.process import Node
from support import clitools, secrets

CHAIN_ID = 31337  # the built-in `local` network's chain id
PLATFORM_FEE_BPS = 25
#: The smallest ETH trade that records reputation on the CLI suite's chain (the owner lists ETH so).
REPUTATION_MINIMUM = "0.01"
ETHER = 10**18
#: dev0..dev9 -> address (the same mnemonic as Anvil's accounts).
DEV = {name: dev_account(name).address for name in DEV_NAMES}


@dataclass
class Chain:
    """The module's Anvil with the contracts deployed, and plain-web3 reads for assertions."""

    node: Node
    w3: Web3
    deployment: Deployment
    home: Path

    @property
    def url(self) -> str:
        return self.node.url

    def nonce(self, address: str) -> int:
        return int(self.w3.eth.get_transaction_count(address))

    def balance(self, address: str) -> int:
        return int(self.w3.eth.get_balance(address))

    def sleep(self, seconds: int) -> None:
        """Let chain time pass."""
        self.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
        self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]

    def sdk(self, name: str = "dev0") -> EscrowClient:
        """The SDK as a dev account, for setting up what a test needs."""
        return EscrowClient.connect(self.url, dev_account(name), registry=Registry(self.home / "deployments.json"))


class Cli:
    """``cli("trade", "show", ID)`` runs ``p2pescrow --network local --rpc-url URL --account dev1
    --yes trade show ID``; keyword arguments change the global options."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        self.runner = CliRunner()

    def __call__(self, *args: str, account: str | None = "dev1", yes: bool = True, json_output: bool = False,
                 network: str | None = "local", rpc_url: str | None = "", input: str | None = None,
                 extra: tuple[str, ...] = ()) -> Result:
        argv: list[str] = []
        if network is not None:
            argv += ["--network", network]
        if rpc_url is not None:
            argv += ["--rpc-url", rpc_url or self.chain.url]
        if account is not None:
            argv += ["--account", account]
        if yes:
            argv.append("--yes")
        if json_output:
            argv.append("--json")
        argv += [*extra, *args]
        result = self.runner.invoke(app, argv, input=input)
        secrets.observe(result.stdout, result.stderr)  # scanned by tests/conftest.py
        return result

    def ok(self, *args: str, **kwargs: Any) -> Result:
        """Run and assert success."""
        result = self(*args, **kwargs)
        assert result.exit_code == 0, f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}" \
            + (f"\n{result.exception!r}" if result.exception and not isinstance(result.exception, SystemExit) else "")
        return result

    def json(self, *args: str, **kwargs: Any) -> dict[str, Any]:
        """Run with --json, assert success, and return the one document on stdout."""
        document = json.loads(self.ok(*args, json_output=True, **kwargs).stdout)
        assert document["ok"] is True
        return document

    def create(self, seller: str = "dev2", amount: str = "1", *options: str, account: str = "dev1") -> str:
        """Create and fund a trade (dev1 buys from dev2 unless told otherwise); its id."""
        document = self.json("trade", "create", "--seller", DEV[seller], "--amount", amount, *options,
                             account=account)
        return str(document["trade_id"])


def one_error_line(result: Result) -> str:
    """The single ``error: ...`` line a failed command prints on stderr (and no traceback)."""
    return clitools.one_error_line(result.stderr)
