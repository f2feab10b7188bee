"""Helpers of the market index suite (tests/market): a real Anvil with the v2 escrow deployed, and a market history
made on it through the contracts (trades that end every way, offers filled, revoked and open, a
rating, bonds, listings).

- ``market_chain`` (module): :class:`MarketChain`: a fresh Anvil (its own chain id), the escrow
  deployed by ``support.escrow.deploy_all`` (0.25% fee, ETH and the test tokens listed), the
  contract suite's :class:`~support.escrow.Deployment` helpers working over HTTP, and the
  :class:`IndexedDeployment` an :class:`~p2pescrow.market.sync.Indexer` needs.
- ``db_url`` (from ``support/postgres.py``, registered by tests/conftest.py): a fresh database,
  parametrized over SQLite and PostgreSQL.

:func:`make_history` and :func:`publish` make the chain's history; :func:`domain_rows` reads the
domain tables in a comparable form (bookkeeping columns aside).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from eth_account import Account
from eth_utils import keccak
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from web3 import Web3

from p2pescrow.core.offers import terms_document
from p2pescrow.market import schema
from p2pescrow.node.process import Node, start_node
from support.chain import Chain
from support.escrow import ETH, Deployment, deploy_all, fee_up
from support.harness import node_chain_id
from support.offers import offer, sign_offer, tx
from support.v2 import SELLER_DEPOSIT, live

#: Columns that say how the index stores a row, not what the chain says.
BOOKKEEPING_COLUMNS = {"offers": {"pk"}}


class _Key:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def to_bytes(self) -> bytes:
        return self._key


class _Tester:
    """What the contract suite's helpers ask of eth-tester, answered by Anvil."""

    def __init__(self, chain: AnvilChain, keys: list[bytes]) -> None:
        self.chain = chain
        self.backend = type("Backend", (), {"account_keys": [_Key(k) for k in keys]})()

    def get_block_by_number(self, which: str) -> dict[str, Any]:
        assert which == "pending"
        return {"timestamp": self.chain.next_timestamp()}


class AnvilChain(Chain):
    """support.chain.Chain over an Anvil's HTTP endpoint: its unlocked dev accounts, evm snapshots."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.w3 = Web3(Web3.HTTPProvider(node.url, request_kwargs={"timeout": 30}))
        self.accounts = [Web3.to_checksum_address(a.address) for a in node.accounts]
        self.tester = _Tester(self, [bytes.fromhex(a.private_key.removeprefix("0x")) for a in node.accounts])
        self._pinned: int | None = None

    def rpc(self, method: str, *params: Any) -> Any:
        return self.w3.provider.make_request(method, list(params))["result"]  # type: ignore[arg-type]

    def next_timestamp(self) -> int:
        if self._pinned is not None:
            return self._pinned
        return max(self.now() + 1, int(time.time()))

    def set_next_timestamp(self, timestamp: int) -> None:
        self.rpc("evm_setNextBlockTimestamp", timestamp)
        self._pinned = timestamp

    def mine(self) -> None:
        self.rpc("evm_mine")
        self._pinned = None

    def snapshot(self) -> Any:
        return self.rpc("evm_snapshot")

    def revert(self, snapshot: Any) -> None:
        assert self.rpc("evm_revert", snapshot) is True
        self._pinned = None


@dataclass(frozen=True)
class IndexedDeployment:
    """What the Indexer reads of a deployment record."""

    chain_id: int
    escrow: str
    reputation: str
    block: int
    platform_fee_bps: int


@dataclass
class MarketChain:
    node: Node
    chain: AnvilChain
    d: Deployment
    deployment: IndexedDeployment

    @property
    def url(self) -> str:
        return self.node.url

    def send(self, fn: Any, sender: str, value: int = 0) -> dict[str, Any]:
        receipt = tx(self.d, fn, sender, value)
        self.chain._pinned = None
        return receipt


@pytest.fixture(scope="module")
def market_chain() -> Iterator[MarketChain]:
    with start_node("anvil", chain_id=node_chain_id()) as node:
        chain = AnvilChain(node)
        start = chain.w3.eth.block_number + 1
        d = deploy_all(chain)
        deployment = IndexedDeployment(chain.w3.eth.chain_id, d.escrow.address, d.reputation.address, start, 25)
        yield MarketChain(node, chain, d, deployment)


@pytest.fixture
def another_db(db_url: str, tmp_path: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A factory of further empty databases on the engine of ``db_url`` (for comparisons)."""
    made: list[str] = []
    server = request.getfixturevalue("postgres_server") if not db_url.startswith("sqlite") else None

    def make(hint: str) -> str:
        if server is None:
            return f"sqlite:///{tmp_path / (hint + '.sqlite')}"
        name = server.create_database(hint)
        made.append(name)
        return server.url(name)

    yield make
    for name in made:
        with contextlib.suppress(Exception):
            server.drop_database(name)


# -- making history --------------------------------------------------------------------------------
def document(title: str, **extra: Any) -> bytes:
    """A canonical terms document with listing fields."""
    fields = {"title": title, "description": f"{title}: described", "category": "electronics",
              "tags": ["used", "boxed"], "payment_method": "SEPA", "fiat_price": "120 EUR", **extra}
    return terms_document(fields)


def publish(m: MarketChain, terms: bytes, *, signature: bytes | None = None, terms_hash: bytes | None = None,
            sign: dict[str, Any] | None = None, **overrides: Any) -> dict[str, Any]:
    """The seller publishes an offer committing to ``terms`` (its keccak256 unless ``terms_hash``),
    signed by the seller for this chain and escrow unless ``signature`` is given or ``sign`` says
    otherwise (``signer=``, ``chain_id=``, ``verifying_contract=`` of support.offers.sign_offer)."""
    o = offer(m.d, termsHash=keccak(terms) if terms_hash is None else terms_hash, **overrides)
    sig = sign_offer(m.d, o, **(sign or {})) if signature is None else signature
    receipt = m.send(m.d.escrow.functions.publishOffer(o, sig, terms), o["seller"])
    return {"offer": o, "signature": sig, "terms": terms, "tx_hash": "0x" + bytes(receipt["transactionHash"]).hex()}


@dataclass
class History:
    released: dict[str, Any]
    refunded: dict[str, Any]
    ruled: dict[str, Any]
    cancelled: dict[str, Any]
    live: dict[str, Any]
    filled: dict[str, Any]
    revoked: dict[str, Any]
    open: dict[str, Any]
    bond_deposit: int


def trade_key(terms: dict[str, Any]) -> str:
    from support.escrow import trade_id

    return "0x" + trade_id(terms).hex()


def make_history(m: MarketChain) -> History:
    """Trades ending every main way, three offers (filled, revoked, open), a rating, a bond."""
    d, send = m.d, m.send
    bond = 10**18
    send(d.escrow.functions.depositBond(ETH, bond), d.seller, bond)

    released = live(d, seller_deposit=SELLER_DEPOSIT)
    send(d.escrow.functions.release(released, released["amount"]), d.buyer)
    send(d.escrow.functions.rate(released, 5, b"\x01" * 32), d.buyer)

    refunded = live(d)
    send(d.escrow.functions.refund(refunded, refunded["amount"]), d.seller)

    ruled = live(d)
    send(d.escrow.functions.dispute(ruled), d.buyer)
    send(d.escrow.functions.rule(ruled, 5000), d.arbiter)

    cancelled = d.terms()
    send(d.escrow.functions.create(cancelled), d.buyer)
    send(d.escrow.functions.cancel(cancelled), d.buyer)

    still_live = live(d)

    filled = publish(m, document("Camera"), sellerDeposit=SELLER_DEPOSIT)
    o = filled["offer"]
    send(d.escrow.functions.fillOffer(o, filled["signature"]), d.buyer, o["amount"] + o["buyerDeposit"])
    revoked = publish(m, document("Phone"))
    send(d.escrow.functions.revokeOffer(revoked["offer"]["nonce"]), d.seller)
    still_open = publish(m, document("Bicycle", tags=["outdoor"]))
    return History(released, refunded, ruled, cancelled, still_live, filled, revoked, still_open, bond)


# -- reading the index -----------------------------------------------------------------------------
def domain_rows(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every domain table's rows, sorted, bookkeeping columns aside: equal for equal indexes."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with Session(engine) as session:
        for model in schema.DOMAIN_TABLES:
            table = model.__table__
            skip = BOOKKEEPING_COLUMNS.get(table.name, set())
            columns = [c for c in table.columns if c.name not in skip]
            rows = session.execute(select(*columns)).all()
            out[table.name] = sorted((tuple(r) for r in rows), key=repr)
    return out


def fee(amount: int) -> int:
    return fee_up(amount, 25)


def signer_key(m: MarketChain, address: str) -> Any:
    from support.offers import private_key

    return Account.from_key(private_key(m.d, address))
