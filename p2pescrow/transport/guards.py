"""Checks on the last step of the transaction path, just before signed bytes leave the process:

- the signer recovered from the signed transaction must be the sender (a signer object that signs
  with another key than the one it claims, e.g. a wrapped or misconfigured account, is caught
  before anything is broadcast);
- the node must serve the chain id the transaction is signed for (``eth_chainId``, checked once per
  transactor before its first broadcast).
"""

from __future__ import annotations

from typing import Any

from ..errors import SignerMismatch, WrongChain


def check_signed(raw_transaction: Any, sender: str) -> None:
    """Raise :class:`SignerMismatch` unless ``raw_transaction`` was signed by ``sender``."""
    from eth_account import Account

    try:
        recovered = str(Account.recover_transaction(bytes(raw_transaction)))
    except Exception:
        recovered = "an unrecoverable signature"
    if recovered.lower() != str(sender).lower():
        raise SignerMismatch(str(sender), recovered)


def check_node_chain(expected: int, answered: Any) -> None:
    """Raise :class:`WrongChain` unless the node's ``eth_chainId`` answer is ``expected``."""
    actual = int(answered, 16) if isinstance(answered, str) else int(answered)
    if actual != int(expected):
        raise WrongChain(int(expected), actual)
