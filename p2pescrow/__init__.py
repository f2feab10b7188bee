"""p2pescrow: peer-to-peer escrow contracts for Ethereum and a Python SDK/CLI to use them."""

__version__ = "0.1.0"
