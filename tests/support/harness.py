"""The SDK harness, shared by tests/sdk and tests/nodes (their conftest.py files import these
fixtures): an embedded chain, an Anvil and a Ganache per module, and a :class:`Harness` that makes
fresh funded LocalAccounts and test tokens on any of them.

Every test acts with fresh accounts, so tests need no snapshots (the SDK's process-wide nonce
counter would not survive a revert anyway). Setup (funding, minting, deploying test tokens) goes
through the SDK's own transaction pipeline; assertions read the chain through the public client.

Two suite-wide guards:
- ``P2PESCROW_HOME`` points at a temporary folder in every module: no test touches ~/.config.
- every :class:`~p2pescrow.errors.P2PEscrowError` constructed while the modules run is recorded,
  and none of their texts may contain a private key the suite used (checked after each module and
  at the end of the session: :func:`session_leaks`).
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract

from p2pescrow import EscrowClient
from p2pescrow.build import load_artifact
from p2pescrow.config import HOME_ENV
from p2pescrow.deployments import Registry, deploy_data
from p2pescrow.errors import P2PEscrowError
from p2pescrow.node.process import Node, start_node
from p2pescrow.transport.sync import Call, Transactor

from . import secrets

ETHER = 10**18
PLATFORM_FEE_BPS = 25


# -- suite-wide guards -----------------------------------------------------------------------------
@dataclass
class ErrorLog:
    """Private keys the suite used, and every package error constructed while it ran."""

    # not in the repr: pytest prints a failing test's fixtures with it, and the keys with them
    secrets: set[str] = field(default_factory=set, repr=False)
    raised: list[BaseException] = field(default_factory=list, repr=False)

    def add_key(self, key: Any) -> None:
        text = key.hex() if isinstance(key, (bytes, bytearray)) else str(key)
        text = text.lower().removeprefix("0x")
        self.secrets.add(text)
        secrets.register(text, label="sdk test key")  # and never in any output (tests/conftest.py)

    def leaks(self) -> list[str]:
        found = []
        for exc in self.raised:
            texts = [
                str(exc),
                repr(exc),
                str(getattr(exc, "hint", "")),
                *(str(v) for v in vars(exc).values()),
            ]
            blob = " ".join(texts).lower()
            for secret in self.secrets:
                if secret in blob:
                    found.append(f"{type(exc).__name__}: key ...{secret[-6:]}")
        return found


ERROR_LOG = ErrorLog()


@pytest.fixture(scope="module", autouse=True)
def error_log() -> Iterator[ErrorLog]:
    """Record every P2PEscrowError built while this folder's modules run (subclasses all call this
    __init__); module-scoped so that other folders' tests in the same session are left alone."""
    original = P2PEscrowError.__init__

    def recording(self: P2PEscrowError, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        ERROR_LOG.raised.append(self)

    P2PEscrowError.__init__ = recording  # type: ignore[method-assign]
    yield ERROR_LOG
    P2PEscrowError.__init__ = original  # type: ignore[method-assign]
    leaks = ERROR_LOG.leaks()
    assert not leaks, f"private keys appeared in exception texts: {leaks}"


@pytest.fixture(scope="module", autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """P2PESCROW_HOME -> a temporary folder, for every module of this folder."""
    home = tmp_path_factory.mktemp("p2pescrow-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(HOME_ENV, str(home))
        yield home


# -- the harness -----------------------------------------------------------------------------------
class Harness:
    """A deployed chain (embedded, Anvil or Ganache), with helpers for funded parties and tokens."""

    def __init__(
        self, kind: str, base: EscrowClient, funder: Any, log: ErrorLog, node: Node | None = None
    ) -> None:
        self.kind = kind
        self.base = base
        self.w3: Web3 = base.w3
        self.node = node
        self.log = log
        self.funder = Transactor(
            base.w3, funder, url=base.url, chain_id=base.deployment.chain_id, poll_interval=0.01
        )
        self.funder_address = self.funder.address
        self._deployed_at: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"Harness({self.kind})"

    # accounts
    def account(self, eth: int | str = 100) -> LocalAccount:
        """A fresh LocalAccount funded with ``eth`` ether (as a decimal string or int)."""
        acct = Account.create()
        self.log.add_key(acct.key)
        wei = int(Decimal(str(eth)) * ETHER)
        if wei:
            self.send_eth(acct.address, wei)
        return acct

    def client(self, acct: Any, **options: Any) -> EscrowClient:
        return (
            self.base.as_account(acct)
            if not options
            else EscrowClient.from_web3(
                self.w3, acct, deployment=self.base.deployment, url=self.base.url, **options
            )
        )

    def party(self, eth: int | str = 100) -> tuple[LocalAccount, EscrowClient]:
        acct = self.account(eth)
        return acct, self.client(acct)

    def send_eth(self, to: str, wei: int) -> None:
        self.funder.send(Call(to, "0x", wei, "fund"))

    # contracts
    def deploy(self, name: str, *args: Any, test: bool = True) -> Contract:
        artifact = load_artifact(name, test=test)
        result = self.funder.send(
            Call(None, deploy_data(artifact, *args), description=f"deploy {name}")
        )
        assert result.contract_address
        self._deployed_at[Web3.to_checksum_address(result.contract_address)] = result.block_number
        return self.w3.eth.contract(address=result.contract_address, abi=artifact["abi"])

    def transact(self, contract: Contract, fn: str, *args: Any) -> None:
        self.funder.send(
            Call(contract.address, contract.encode_abi(fn, list(args)), description=fn)
        )

    def token(self, kind: str = "TestToken", decimals: int = 6) -> Contract:
        if kind == "TestToken":
            return self.deploy("TestToken", "Test Dollar", "TUSD", decimals)
        return self.deploy(kind)

    def mint(self, token: Contract, to: str, amount: int) -> None:
        self.transact(token, "mint", to, amount)

    # reads (plain web3, independent of the client under test)
    def nonce(self, address: str) -> int:
        return int(self.w3.eth.get_transaction_count(address))

    def eth(self, address: str) -> int:
        return int(self.w3.eth.get_balance(address))

    def sleep(self, seconds: int) -> None:
        self.base.sleep(seconds)

    @contextlib.contextmanager
    def no_tx(self, *addresses: str) -> Iterator[None]:
        """Nothing was sent and no gas spent by ``addresses`` inside the block (nonce and ETH
        balance unchanged)."""
        before = {a: (self.nonce(a), self.eth(a)) for a in addresses}
        yield
        after = {a: (self.nonce(a), self.eth(a)) for a in addresses}
        assert after == before, "a transaction was sent (or gas spent) although the call failed"

    def erc20_logs(self, token: Contract, event: str, **filters: Any) -> list[Any]:
        """Decoded token events (Approval/Transfer) since the token's deployment, matching
        ``filters``."""
        logs = getattr(token.events, event)().get_logs(from_block=self._deployed_at[token.address])
        return [log["args"] for log in logs if all(log["args"][k] == v for k, v in filters.items())]

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])


_chain_ids = itertools.count(31_400)


def node_chain_id() -> int:
    """A chain id no other node of this session used (the SDK's nonce counter is per chain and
    account)."""
    return next(_chain_ids)


@pytest.fixture(scope="module")
def node(error_log: ErrorLog) -> Iterator[Node]:
    """A bare Anvil of the module's own (a fresh chain id, nothing deployed), its keys kept out of
    every output, for tests that inject faults into a real node."""
    with start_node("anvil", chain_id=node_chain_id()) as started:
        for account in started.accounts:
            error_log.add_key(account.private_key)
        yield started


def funded(node: Node, error_log: ErrorLog, eth: int = 1) -> LocalAccount:
    """A fresh account holding ``eth`` ETH on ``node`` (sent by the node's first dev account)."""
    acct = Account.create()
    error_log.add_key(acct.key)
    funder = Transactor(Web3(Web3.HTTPProvider(node.url)), Account.from_key(node.accounts[0].private_key),
                        url=node.url, poll_interval=0.01)
    funder.send(Call(acct.address, "0x", eth * 10**18, "fund"))
    return acct


def node_harness(kind: str, node: Node, registry_path: Path, log: ErrorLog) -> Harness:
    """Deploy on a running node into a registry file, then connect through the registry."""
    dev = Account.from_key(node.accounts[0].private_key)
    for account in node.accounts:
        log.add_key(account.private_key)
    registry = Registry(registry_path)
    EscrowClient.deploy(
        Web3(Web3.HTTPProvider(node.url)),
        dev,
        registry=registry,
        platform_fee_bps=PLATFORM_FEE_BPS,
        url=node.url,
    )
    base = EscrowClient.connect(node.url, dev, registry=registry, timeout=30)
    base.tx.poll_interval = 0.01
    return Harness(kind, base, dev, log, node)


@pytest.fixture
def fresh_chain_id() -> int:
    return node_chain_id()


@pytest.fixture(scope="module")
def embedded(error_log: ErrorLog) -> Harness:
    """A fresh embedded chain per module (0.2 s): eth-tester scans every block for eth_getLogs, so
    short chains keep the event reads fast."""
    base = EscrowClient.embedded(platform_fee_bps=PLATFORM_FEE_BPS)
    return Harness("embedded", base, base.dev_accounts[0], error_log)


@pytest.fixture(scope="module")
def anvil(tmp_path_factory: pytest.TempPathFactory, error_log: ErrorLog) -> Iterator[Harness]:
    with start_node("anvil", chain_id=node_chain_id()) as node:
        yield node_harness(
            "anvil", node, tmp_path_factory.mktemp("anvil") / "deployments.json", error_log
        )


@pytest.fixture(scope="module")
def ganache(tmp_path_factory: pytest.TempPathFactory, error_log: ErrorLog) -> Iterator[Harness]:
    with start_node("ganache", chain_id=node_chain_id()) as node:
        yield node_harness(
            "ganache", node, tmp_path_factory.mktemp("ganache") / "deployments.json", error_log
        )


NODES = [
    pytest.param("anvil", id="anvil", marks=pytest.mark.anvil),
    pytest.param("ganache", id="ganache", marks=pytest.mark.ganache),
]


@pytest.fixture(params=NODES)
def real_node(request: pytest.FixtureRequest) -> Harness:
    """The same test on a real Anvil and a real Ganache (the embedded chain runs the same scenarios,
    and more, in test_lifecycle_*.py)."""
    return request.getfixturevalue(request.param)
