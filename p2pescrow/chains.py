"""Reaching a chain: a ``Web3`` / ``AsyncWeb3`` for a URL or a named network, and the embedded chain.

The clients connect through here, so both connect the same way: HTTP or WebSocket by the URL's
scheme, and without web3's validation middleware (it asks the node for its chain id on every call
and estimate; the clients check the chain once on connect and sign with that id, so it is pure
cost). The embedded chain is an in-process py-evm (eth-tester) with a faster gas estimator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from web3 import AsyncWeb3, Web3

    from .networks import Network

#: How long one HTTP request to the node may take.
HTTP_TIMEOUT = 30


def is_websocket(url: str) -> bool:
    return url.startswith(("ws://", "wss://"))


def web3_for(url: str) -> Web3:
    """A ``Web3`` for ``url`` (http(s):// or ws(s)://), validation middleware removed."""
    from web3 import Web3

    provider: Any = (Web3.LegacyWebSocketProvider(url) if is_websocket(url)
                     else Web3.HTTPProvider(url, request_kwargs={"timeout": HTTP_TIMEOUT}))
    w3 = Web3(provider)
    w3.middleware_onion.remove("validation")
    return w3


async def async_web3_for(url: str) -> AsyncWeb3:
    """An ``AsyncWeb3`` for ``url``, validation middleware removed (a WebSocket is connected)."""
    from web3 import AsyncWeb3

    provider: Any = (AsyncWeb3.WebSocketProvider(url) if is_websocket(url)
                     else AsyncWeb3.AsyncHTTPProvider(url, request_kwargs={"timeout": HTTP_TIMEOUT}))
    w3 = AsyncWeb3(provider)
    w3.middleware_onion.remove("validation")
    if is_websocket(url):
        await provider.connect()
    return w3


def provider_url(w3: Any) -> str:
    """What to call the node ``w3`` talks to in messages: its URL, else its provider's name."""
    return str(getattr(w3.provider, "endpoint_uri", "") or type(w3.provider).__name__)


def network(name: str) -> Network:
    """The named network (``local``, ``ganache``, ``embedded`` or one the user added); its
    ``rpc_url`` is None for the embedded chain."""
    from .networks import Networks

    return Networks().get(name)


# -- the embedded chain -----------------------------------------------------------------------------
#: The distributions the embedded chain needs, by the module they provide: the ``embedded`` extra.
EMBEDDED_MODULES = {"eth_tester": "eth-tester", "eth": "py-evm"}


def check_embedded() -> None:
    """Raise :class:`~p2pescrow.errors.MissingExtra` (one line naming ``pip install
    'p2pescrow[embedded]'``) unless the embedded chain's packages are installed."""
    from importlib.util import find_spec

    missing = [dist for module, dist in EMBEDDED_MODULES.items() if find_spec(module) is None]
    if missing:
        from .errors import MissingExtra

        raise MissingExtra("the embedded chain", "embedded", ", ".join(missing))


def embedded_tester() -> Any:
    """A fresh in-process py-evm chain (``EthereumTester``) with ten funded accounts, its gas
    estimator replaced by :func:`_quick_gas_estimate`. Needs the ``embedded`` extra
    (``eth-tester[py-evm]``): without it, :class:`~p2pescrow.errors.MissingExtra`."""
    check_embedded()
    from eth_tester import EthereumTester, PyEVMBackend

    tester = EthereumTester(PyEVMBackend())
    chain = getattr(tester.backend, "chain", None)
    if chain is not None and hasattr(chain, "gas_estimator"):
        chain.gas_estimator = _quick_gas_estimate
    return tester


def embedded_web3(tester: Any) -> Web3:
    """A ``Web3`` over the embedded chain ``tester``."""
    from web3 import EthereumTesterProvider, Web3

    return Web3(EthereumTesterProvider(tester))


def embedded_async_web3(tester: Any) -> AsyncWeb3:
    """An ``AsyncWeb3`` over the same embedded chain ``tester`` (web3's AsyncEthereumTesterProvider)."""
    from web3 import AsyncWeb3
    from web3.providers.eth_tester import AsyncEthereumTesterProvider

    provider = AsyncEthereumTesterProvider()
    provider.ethereum_tester = tester  # its own default chain is replaced by ours
    return AsyncWeb3(provider)


def tester_of(w3: Any) -> Any:
    """The embedded chain (``EthereumTester``) behind ``w3``, or None for a real node."""
    return getattr(w3.provider, "ethereum_tester", None)


def sync_twin(w3: AsyncWeb3) -> Web3:
    """A ``Web3`` on the node an ``AsyncWeb3`` talks to (the same URL, or the same embedded chain):
    for the few steps that exist only on the sync path (the recoverable deployment)."""
    tester = tester_of(w3)
    if tester is not None:
        return embedded_web3(tester)
    url = getattr(w3.provider, "endpoint_uri", None)
    if not url:
        from .errors import NetworkError

        raise NetworkError(f"cannot reach the node of {type(w3.provider).__name__} from synchronous code")
    return web3_for(str(url))


def _quick_gas_estimate(state: Any, transaction: Any) -> int:
    """Gas estimates for the embedded chain in two or three EVM runs, not py-evm's ~13-run binary
    search (which made every embedded transaction ~4x slower): one run at the block gas limit gives
    the gas used; a limit with headroom (the 63/64 rule, the contract's gas-left checks) is then
    confirmed by a second run. Anything unusual falls back to py-evm's own search."""
    from eth.estimators.gas import binary_gas_search_intrinsic_tolerance
    from eth.vm.spoof import SpoofTransaction

    def run(gas: int) -> Any:
        snapshot = state.snapshot()
        try:
            return state.apply_transaction(SpoofTransaction(transaction, gas=gas, gas_price=0))
        finally:
            state.revert(snapshot)

    limit = int(state.gas_limit)
    first = run(limit)
    if not first.is_error:
        used = limit - int(first.get_gas_remaining())
        for candidate in (used * 5 // 4 + 30_000, used * 2 + 150_000):
            candidate = min(candidate, limit)
            if not run(candidate).is_error:
                return candidate
    return int(binary_gas_search_intrinsic_tolerance(state, transaction))


__all__ = [
    "EMBEDDED_MODULES", "async_web3_for", "check_embedded", "embedded_async_web3", "embedded_tester", "embedded_web3",
    "is_websocket", "network", "provider_url", "sync_twin", "tester_of", "web3_for",
]
