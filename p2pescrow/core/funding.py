"""Paying a trade in tokens: what is checked before anything is sent, and the plan the user is shown.

An ERC-20 funding call needs the escrow's allowance. When the buyer's allowance falls short, an
``approve`` must be mined first, and a funding call that the chain will refuse anyway (a buyer the
token blocks, a trade in the wrong state) would only be found after it: gas paid and an allowance
left behind. So the funding call is simulated *before* the approve, with a state override (the
third parameter of ``eth_call``) that gives the escrow the allowance it will have: the token's
storage slot of ``allowance[buyer][escrow]``, computed for OpenZeppelin's ERC-20 layout
(:data:`OZ_ALLOWANCES_SLOT`). Anvil and Ganache 7.9 take state overrides; the embedded chain
(py-evm) does not. Whether the override took effect is checked by reading the allowance under the
same override (a token with another layout reads 0 there), and when it did not, or the node takes
no override, only refusals that come from the escrow itself are final (:func:`refused_anyway`); the
plan then says the approval comes first and the funding call is checked after it.

No I/O here: the clients read and call, and hand the answers to these functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from eth_utils import keccak

from ..models import TokenInfo

#: Storage slot of the ``_allowances`` mapping in OpenZeppelin's ERC20 (4.x and 5.x): ``_balances``
#: is slot 0, ``_allowances`` slot 1. A token that inherits ERC20 before its own state keeps it.
OZ_ALLOWANCES_SLOT = 1

#: How a token payment is made.
PERMIT, ALLOWANCE, APPROVE = "permit", "allowance", "approve"

#: Escrow errors that come from the token transfer itself (so the allowance may change them).
_TRANSFER_ERRORS = frozenset({"SafeERC20FailedOperation", "NothingArrived"})


def _word(value: int | str) -> bytes:
    return (int(value, 16) if isinstance(value, str) else value).to_bytes(32, "big")


def allowance_slot(owner: str, spender: str, mapping_slot: int = OZ_ALLOWANCES_SLOT) -> str:
    """The storage slot of ``allowance[owner][spender]`` in a ``mapping(address => mapping(address
    => uint256))`` declared at ``mapping_slot``: ``keccak(spender . keccak(owner . slot))``."""
    inner = keccak(_word(owner) + _word(mapping_slot))
    return "0x" + keccak(_word(spender) + inner).hex()


def allowance_override(token: str, owner: str, spender: str, amount: int) -> dict[str, dict[str, dict[str, str]]]:
    """The ``eth_call`` state override under which ``spender`` may take ``amount`` of ``owner``'s
    ``token`` (only that slot changes: ``stateDiff``)."""
    return {token: {"stateDiff": {allowance_slot(owner, spender): "0x" + _word(amount).hex()}}}


@cache
def escrow_error_names() -> frozenset[str]:
    """Names of the errors the escrow contract itself declares (its ABI)."""
    from .. import bindings

    return frozenset(e["name"] for e in bindings.escrow_abi() if e.get("type") == "error")


def refused_anyway(error_name: str, override_took: bool) -> bool:
    """Whether a funding call simulated before the approval reverted with ``error_name`` for a
    reason the approval will not change: any refusal when the allowance was in place (the override
    took effect), else only the escrow's own refusals that happen before the tokens move."""
    if override_took:
        return True
    return error_name in escrow_error_names() and error_name not in _TRANSFER_ERRORS


@dataclass(frozen=True)
class FundingPlan:
    """How a token payment will be made, decided before anything is sent.

    ``method``: :data:`PERMIT` (an EIP-2612 permit signed here, in the funding transaction),
    :data:`ALLOWANCE` (the escrow's allowance already covers it) or :data:`APPROVE` (an approval of
    exactly ``amount`` is sent first: two transactions). ``checked``: the funding call was
    simulated with the allowance it will have and passes (else, with :data:`APPROVE`, this node
    cannot simulate it before the approval is mined, and it is checked after)."""

    token: TokenInfo
    amount: int
    allowance: int
    method: str
    checked: bool

    @property
    def approve_first(self) -> bool:
        return self.method == APPROVE

    @property
    def amount_text(self) -> str:
        return f"{self.token.human(self.amount)} {self.token.symbol}"

    def describe(self) -> str:
        """One line for a preview, e.g. "an approval of 100 DUSD is sent first ..."."""
        if self.method == PERMIT:
            return f"{self.amount_text} is paid with an EIP-2612 permit signed here: one transaction, no approval"
        if self.method == ALLOWANCE:
            return f"the escrow's allowance covers {self.amount_text}: no approval needed"
        if self.checked:
            return (f"an approval of {self.amount_text} is sent first, then the funding call "
                    "(checked now with that allowance: the escrow accepts it)")
        return (f"an approval of {self.amount_text} is sent first, then the funding call; this node "
                "cannot check the funding call before the approval is mined")


__all__ = ["ALLOWANCE", "APPROVE", "OZ_ALLOWANCES_SLOT", "PERMIT", "FundingPlan", "allowance_override",
           "allowance_slot", "escrow_error_names", "refused_anyway"]
