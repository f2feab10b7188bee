"""``--market-url``: the commands that read the market (``market search``, ``market stats``, ``rep show``'s
screening, ``offer fill ID``) read a market server instead of a local index.

:class:`RemoteMarket` answers what those commands ask of :class:`p2pescrow.cli.commands.market.Market`
(``sync``, ``search``, ``offer``, ``screening``, ``stats``, ``token``, ``now``, ``reads.deployment``)
through :class:`p2pescrow.market.remote.RemoteMarketClient`. The server's index is already in sync,
so ``sync`` only reports how far it is. Token symbols and decimals (to show amounts in ETH or DUSD
rather than base units) come from the selected network's node when it serves the server's chain and
escrow; without one, amounts are shown in base units.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import InputError

if TYPE_CHECKING:
    from ..models import TokenInfo
    from .context import Options


@dataclass(frozen=True)
class ServerSync:
    """What ``sync`` reports for a server: the last block its index holds."""

    from_block: int | None
    to_block: int | None


@dataclass
class RemoteDeployment:
    """The server's chain and escrow (and the dev tokens' symbols, from the node when there is one)."""

    chain_id: int
    escrow: str
    dev_tokens: dict[str, str] = field(default_factory=dict)


class RemoteReads:
    """The little of a reader the market commands use: the deployment and token lookups."""

    def __init__(self, market: RemoteMarket) -> None:
        self.market = market

    @property
    def deployment(self) -> RemoteDeployment:
        self.market.node()  # its dev tokens' symbols (--token DUSD), when the node serves this market
        return self.market.deployment

    def token(self, address: str) -> TokenInfo:
        return self.market.token(address)


class RemoteMarket:
    """The market of the server at ``options.market_url`` (see the module's docstring)."""

    def __init__(self, options: Options) -> None:
        from ..market.remote import RemoteMarketClient

        assert options.market_url is not None
        self.options = options
        self.client = RemoteMarketClient(options.market_url)
        health = self.client.health()
        self.url: str = self.client.url
        self.chain_id = int(health["chain_id"])
        self.escrow = str(health["escrow"])
        self.head: int | None = health.get("head_indexed")
        #: The chain's time as the server's index knows it (its newest block's), if it says.
        self.head_time: int | None = health.get("head_time")
        self.deployment = RemoteDeployment(self.chain_id, self.escrow)
        self.reads = RemoteReads(self)
        self._node: Any = None
        self._node_tried = False

    def sync(self, *, show: bool = True) -> ServerSync:
        """Nothing to do (the server syncs its index): how far its index is."""
        return ServerSync(None, self.head)

    def search(self, **filters: Any) -> list[Any]:
        return self.client.search(**filters)

    def offer(self, offer_id: str) -> Any:
        return self.client.offer(offer_id)

    def screening(self, address: str) -> Any:
        return self.client.screening(address)

    def stats(self) -> Any:
        return self.client.stats()

    def now(self) -> int:
        """The chain's time (the server's newest block), or the wall clock when that is later."""
        return int(max(time.time(), self.head_time or 0))

    # -- token symbols, from the node when it serves the same market ---------------------------------
    def node(self) -> Any:
        """The selected network's reader if it serves the server's chain and escrow, else None (tried once)."""
        if not self._node_tried:
            self._node_tried = True
            try:
                from .context import reader

                reads = reader(self.options)
                if int(reads.deployment.chain_id) == self.chain_id and \
                        reads.deployment.escrow.lower() == self.escrow.lower():
                    self._node = reads
                    self.deployment.dev_tokens = dict(getattr(reads.deployment, "dev_tokens", {}) or {})
            except Exception:  # noqa: BLE001 - no node, or another chain: amounts shown in base units
                self._node = None
        return self._node

    def token(self, address: str) -> TokenInfo:
        from ..models import ETH_TOKEN

        if int(address, 16) == 0:
            return ETH_TOKEN
        node = self.node()
        if node is None:
            raise InputError(f"token {address}: no node of chain {self.chain_id} to read its symbol from")
        info: TokenInfo = node.token(address)
        return info


def open_remote(options: Options) -> RemoteMarket | None:
    """The server's market when ``--market-url`` (or ``$P2PESCROW_MARKET_URL``) names one, else None."""
    if not options.market_url:
        return None
    return RemoteMarket(options)
