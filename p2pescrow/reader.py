"""EscrowReader: the read operations of :class:`~p2pescrow.clients.sync.EscrowClient` (a trade,
the trades, a reputation record, a token, the chain's time) without web3 or eth-account.

Importing web3 costs about a second; a command that only reads (``p2pescrow trade show``) should
answer in a fraction of that. The reader speaks JSON-RPC with the standard library
(:mod:`p2pescrow.transport.rpc`), batches what it can, and decodes with the same I/O-free codec the
SDK uses (:mod:`p2pescrow.core.codec`), so both give the same :class:`~p2pescrow.models.Trade`.
It checks what the SDK checks on connecting: the chain id, the registry's deployment, and the code
hashes at its addresses.

    reader = EscrowReader.connect("http://127.0.0.1:8545")
    trade = reader.trade("0x1f2e...")
    print(trade.state, reader.reputation(trade.seller).score)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from .bindings import trade_created
from .core import queries
from .core.codec import (
    erc20_codec,
    escrow_codec,
    reputation_codec,
    reputation_from_output,
    slot_from_output,
)
from .core.terms import NOT_A_TOKEN, checksum, normalise_id, not_a_token, token_key
from .core.trades import trade_from_slot
from .deployments import Deployment, Registry, check_code, deployment_for
from .models import ETH_TOKEN, ZERO_ADDRESS, ReputationRecord, ReputationRole, Terms, TokenInfo, Trade, TradeState
from .transport.rpc import RpcClient

__all__ = ["EscrowReader", "Reads"]


class Reads(Protocol):
    """What a read-only command needs; both :class:`EscrowReader` and ``EscrowClient`` have it."""

    @property
    def address(self) -> str: ...

    @property
    def deployment(self) -> Deployment: ...

    def trade(self, trade_id_: str) -> Trade: ...

    def trades(self, *, party: str | None = None, state: TradeState | None = None,
               token: str | None = None) -> list[Trade]: ...

    def reputation(self, address: str) -> ReputationRecord: ...

    def reputation_assets(self) -> dict[str, tuple[bool, int]]: ...

    def now(self) -> datetime: ...


#: Requests per JSON-RPC batch (hosted providers refuse larger ones; 100 is within every cap seen).
BATCH = 100


class EscrowReader:
    """Read-only access to one chain's p2pescrow deployment over JSON-RPC, on behalf of ``address``
    (whose roles the CLI shows; nothing is ever signed)."""

    def __init__(self, rpc: RpcClient, deployment: Deployment, address: str = ZERO_ADDRESS) -> None:
        self.rpc = rpc
        self.deployment = deployment
        self.address = address
        self.url = rpc.url
        self._escrow = escrow_codec()
        self._reputation = reputation_codec()
        self._erc20 = erc20_codec()
        self._terms: dict[str, Terms] = {}
        self._tokens: dict[str, TokenInfo] = {ZERO_ADDRESS: ETH_TOKEN}

    @classmethod
    def connect(cls, rpc_url: str, address: str | None = None, *, deployment: Deployment | None = None,
                registry: Registry | None = None, expected_chain_id: int | None = None,
                timeout: float = 30.0) -> EscrowReader:
        """Connect by HTTP(S) URL: the chain id is checked against ``expected_chain_id``, the
        deployment comes from the registry for the node's chain id unless given, and the code at
        its addresses must be the code recorded at deployment (as ``EscrowClient.connect``)."""
        rpc = RpcClient(rpc_url, timeout=timeout)
        chain_id = int(rpc.request("eth_chainId"), 16)
        deployment = deployment_for(chain_id, expected_chain_id=expected_chain_id, deployment=deployment,
                                    registry=registry)
        escrow_code, reputation_code = rpc.batch([("eth_getCode", [deployment.escrow, "latest"]),
                                                  ("eth_getCode", [deployment.reputation, "latest"])])
        check_code(deployment, escrow_code, reputation_code)
        return cls(rpc, deployment, checksum(address) if address else ZERO_ADDRESS)

    # -- the chain ------------------------------------------------------------------------------------
    def _head(self) -> tuple[int, int]:
        """The latest block's number and timestamp."""
        block = self.rpc.request("eth_getBlockByNumber", ["latest", False])
        return int(block["number"], 16), int(block["timestamp"], 16)

    def now(self) -> datetime:
        """The chain's time (the latest block's timestamp), as ``EscrowClient.now``."""
        return datetime.fromtimestamp(self._head()[1], UTC)

    # -- tokens ---------------------------------------------------------------------------------------
    def token(self, address: str | None) -> TokenInfo:
        """Symbol and decimals of a token (cached, also under the spelling asked: checksumming costs a
        keccak, and a listing asks once per trade); None or the zero address is ETH."""
        if address is not None and address in self._tokens:
            return self._tokens[address]
        asked, address = address, token_key(address)
        if address in self._tokens:
            if asked is not None:
                self._tokens[asked] = self._tokens[address]
            return self._tokens[address]
        try:
            symbol, decimals = self.rpc.batch([
                ("eth_call", [{"to": address, "data": self._erc20.encode_call("symbol")}, "latest"]),
                ("eth_call", [{"to": address, "data": self._erc20.encode_call("decimals")}, "latest"])])
            info = TokenInfo(address, str(self._erc20.decode_output("symbol", symbol)),
                             int(self._erc20.decode_output("decimals", decimals)))
        except NOT_A_TOKEN as exc:  # a revert, or an answer that does not decode (the node's failures go through)
            raise not_a_token(address, exc) from None
        self._tokens[address] = info
        if asked is not None:
            self._tokens[asked] = info
        return info

    # -- trades ---------------------------------------------------------------------------------------
    def _created(self, query: dict[str, Any], head: int) -> Iterable[tuple[str, Terms]]:
        """(trade id, terms) of each TradeCreated log ``query`` finds, oldest first (cached)."""
        for log in self.rpc.get_logs(query, self.deployment.block, head):
            found = trade_created(log)
            if found is not None:
                yield found[0], self._terms.setdefault(*found)

    def terms(self, trade_id_: str, head: int | None = None) -> Terms:
        """The terms of a trade, from its TradeCreated event (cached: they never change)."""
        key = normalise_id(trade_id_)
        if key in self._terms:
            return self._terms[key]
        query = queries.terms_query(self.deployment.escrow, key)
        for _, terms in self._created(query, self._head()[0] if head is None else head):
            return terms
        raise queries.no_trade(self.deployment.chain_id, key)

    def _slots(self, keys: list[str]) -> tuple[list[tuple[int, int, int, int, int]], int, int]:
        """The escrow slots of ``keys`` and the latest block's number and time: one round trip per
        :data:`BATCH` trades (providers cap the size of a batch)."""
        calls: list[tuple[str, list[Any]]] = [("eth_getBlockByNumber", ["latest", False])]
        calls += [("eth_call", [{"to": self.deployment.escrow, "data": self._escrow.encode_call("escrowOf", k)},
                                "latest"]) for k in keys]
        block, *answers = [answer for start in range(0, len(calls), BATCH)
                           for answer in self.rpc.batch(calls[start:start + BATCH])]
        slots = [slot_from_output(self._escrow.decode_output("escrowOf", a)) for a in answers]
        return slots, int(block["number"], 16), int(block["timestamp"], 16)

    def trade(self, trade_id_: str) -> Trade:
        """A trade's terms, state, amounts, deadline and what each party may do next."""
        key = normalise_id(trade_id_)
        (slot,), head, now = self._slots([key])
        terms = self.terms(key, head)
        return trade_from_slot(terms, self.token(terms.token), slot, now)

    def trades(self, *, party: str | None = None, state: TradeState | None = None,
               token: str | None = None) -> list[Trade]:
        """Trades of this escrow, filtered by party (buyer or seller), state and token (as
        ``EscrowClient.trades``); their states are read in batches (:data:`BATCH` per round trip)."""
        head = self._head()[0]
        found: dict[str, Terms] = {}
        for query in queries.trades_queries(self.deployment.escrow, party):
            found.update(self._created(query, head))
        token_address = self.token(token).address if token else None
        kept = [(k, t) for k, t in found.items() if token_address is None or t.token == token_address]
        return [trade for trade in self.current(kept) if state is None or trade.state is state]

    def current(self, found: Sequence[tuple[str, Terms]]) -> list[Trade]:
        """The trades ``found`` (``(id, terms)`` pairs) as they are now: their escrow slots read in
        batches (:data:`BATCH` per round trip), at one chain time. What ``trades`` does once it has
        found the terms; the market index finds them without a log scan."""
        if not found:
            return []
        for key, t in found:
            self._terms.setdefault(key, t)
        slots, _, now = self._slots([key for key, _ in found])
        return [trade_from_slot(t, self.token(t.token), slot, now, key)
                for (key, t), slot in zip(found, slots, strict=True)]

    # -- reputation -----------------------------------------------------------------------------------
    def reputation_assets(self) -> dict[str, tuple[bool, int]]:
        """The escrow's reputation assets, ``token -> (listed, minimum in base units)`` (ETH is the zero
        address), from the ReputationAssetSet events, as ``EscrowClient.reputation_assets``: delisted
        ones included (their past records stay)."""
        logs = self.rpc.get_logs(queries.reputation_assets_query(self.deployment.escrow), self.deployment.block,
                                 self._head()[0])
        return queries.reputation_assets_from_events(self._escrow.decode_log(log) for log in logs)

    def reputation(self, address: str) -> ReputationRecord:
        """An address's records per reputation asset and role (outcomes, volume, value-weighted ratings),
        with the minimums of the assets listed now that weigh them in :meth:`ReputationRecord.score`: one
        batch of ``recordOf`` calls after the listing is read."""
        who = checksum(address)
        assets = self.reputation_assets()
        keys = [(asset, role) for asset in assets for role in ReputationRole]
        calls: list[tuple[str, list[Any]]] = [
            ("eth_call", [{"to": self.deployment.reputation,
                           "data": self._reputation.encode_call("recordOf", who, asset, int(role))}, "latest"])
            for asset, role in keys]
        answers = [a for start in range(0, len(calls), BATCH) for a in self.rpc.batch(calls[start:start + BATCH])]
        outputs = {(asset, int(role)): self._reputation.decode_output("recordOf", answer)
                   for (asset, role), answer in zip(keys, answers, strict=True)}
        minimums = {asset: minimum for asset, (listed, minimum) in assets.items() if listed}
        return reputation_from_output(who, outputs, minimums)
