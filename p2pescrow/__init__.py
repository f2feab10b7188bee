"""p2pescrow: peer-to-peer escrow contracts for Ethereum and a Python SDK/CLI to use them.

The public API, re-exported on purpose::

    from p2pescrow import EscrowClient, TradeState, errors
    from p2pescrow import MarketClient      # the market index (the ``market`` extra)

Names are loaded on first use, so ``import p2pescrow`` (and the CLI's ``--help``) does not pay for
web3 until a client is needed.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "EscrowClient": "p2pescrow.clients.sync",
    "TradeResult": "p2pescrow.clients.sync",
    "HistoryEntry": "p2pescrow.clients.sync",
    "DueAction": "p2pescrow.clients._base",
    "TradeRisk": "p2pescrow.clients._base",
    "FundingPlan": "p2pescrow.core.funding",
    "MarketClient": "p2pescrow.market.client",
    "AsyncMarketClient": "p2pescrow.market.client",
    "Deployment": "p2pescrow.deployments",
    "Registry": "p2pescrow.deployments",
    "Offer": "p2pescrow.core.offers",
    "SignedOffer": "p2pescrow.core.offers",
    "OfferError": "p2pescrow.core.offers",
    "AssetRecord": "p2pescrow.models",
    "ReputationRecord": "p2pescrow.models",
    "ReputationRole": "p2pescrow.models",
    "Role": "p2pescrow.models",
    "Terms": "p2pescrow.models",
    "TokenInfo": "p2pescrow.models",
    "Trade": "p2pescrow.models",
    "TradeState": "p2pescrow.models",
    "TxResult": "p2pescrow.transport.sync",
    "P2PEscrowError": "p2pescrow.errors",
    "errors": "p2pescrow.errors",
}

__all__ = ["__version__", *sorted(_EXPORTS)]

if TYPE_CHECKING:
    from . import errors
    from .clients._base import DueAction, TradeRisk
    from .clients.sync import EscrowClient, HistoryEntry, TradeResult
    from .core.funding import FundingPlan
    from .core.offers import Offer, OfferError, SignedOffer
    from .deployments import Deployment, Registry
    from .errors import P2PEscrowError
    from .market.client import AsyncMarketClient, MarketClient
    from .models import AssetRecord, ReputationRecord, ReputationRole, Role, Terms, TokenInfo, Trade, TradeState
    from .transport.sync import TxResult


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'p2pescrow' has no attribute {name!r}")
    value = import_module(module)
    return value if name == "errors" else getattr(value, name)
