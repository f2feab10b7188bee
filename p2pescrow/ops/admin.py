"""Operator tasks on a recorded deployment: the export for dApps, and the owner's operations (fee,
pause, two-step ownership transfer) as plans that can be shown (dry run) before they are sent.

Used by ``scripts/*.py`` (under brownie or plain Python); no brownie here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..errors import InputError

if TYPE_CHECKING:
    from ..clients.sync import EscrowClient
    from ..deployments import Deployment, Registry
    from ..transport.sync import Call, TxResult

#: The ``kind`` of the document :func:`export_document` writes.
EXPORT_KIND = "p2pescrow-deployment/1"


# -- the export for dApps ----------------------------------------------------------------------------
def export_document(deployment: Deployment) -> dict[str, Any]:
    """Everything a dApp in any language needs for one chain, as plain JSON: both contracts'
    addresses, ABIs and deployment block, the settings recorded at deployment, the custom errors of
    every artifact (to decode reverts, OpenZeppelin's included), and the EIP-712 domain and types of
    signed offers (``eth_signTypedData_v4`` input, less the message)."""
    from .. import __version__
    from .._artifacts import load_artifact, load_errors
    from ..core.offers import DOMAIN_NAME, DOMAIN_VERSION, OFFER_FIELDS

    contracts = {}
    for name, address, code_hash in (
            ("P2PEscrow", deployment.escrow, deployment.escrow_code_hash),
            ("Reputation", deployment.reputation, deployment.reputation_code_hash)):
        contracts[name] = {"address": address, "deployBlock": deployment.block, "codeHash": code_hash,
                           "abi": load_artifact(name)["abi"]}
    return {
        "kind": EXPORT_KIND,
        "generator": f"p2pescrow {__version__}",
        "chainId": deployment.chain_id,
        "contracts": contracts,
        "settings": {"owner": deployment.owner, "feeRecipient": deployment.fee_recipient,
                     "platformFeeBps": deployment.platform_fee_bps},
        "errors": [{"name": e["name"], "signature": e["signature"], "selector": e["selector"],
                    "abi": e["abi"]} for e in load_errors()["errors"]],
        "eip712": {
            "primaryType": "Offer",
            "domain": {"name": DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": deployment.chain_id,
                       "verifyingContract": deployment.escrow},
            "types": {
                "EIP712Domain": [{"name": "name", "type": "string"},
                                 {"name": "version", "type": "string"},
                                 {"name": "chainId", "type": "uint256"},
                                 {"name": "verifyingContract", "type": "address"}],
                "Offer": [dict(field) for field in OFFER_FIELDS],
            },
        },
    }


# -- owner operations ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Change:
    """One owner transaction: on which contract, which setting, from what to what."""

    contract: str  # "escrow" or "reputation"
    setting: str
    current: Any
    new: Any
    call: Call

    def describe(self) -> str:
        return f"{self.contract}: {self.setting}: {self.current} -> {self.new}"


def _change(client: EscrowClient, contract: str, setting: str, current: Any, new: Any, fn: str,
            *args: Any) -> Change:
    from ..transport.sync import Call

    target = client.escrow if contract == "escrow" else client.reputation_contract
    call = Call(target.address, target.encode_abi(fn, list(args)), description=f"{contract}.{fn}",
                decoders=(client.escrow, client.reputation_contract))
    return Change(contract, setting, current, new, call)


def plan_fee(client: EscrowClient, *, fee_bps: int | None = None,
             recipient: str | None = None) -> list[Change]:
    """The transactions that set the platform fee and/or the fee recipient (none if unchanged)."""
    from ..core.terms import checksum

    if fee_bps is None and recipient is None:
        raise InputError("nothing to change: give a fee in basis points and/or a fee recipient")
    changes = []
    if fee_bps is not None:
        if not 0 <= fee_bps <= 500:
            raise InputError(f"the platform fee is 0 to 500 basis points (5%), not {fee_bps}")
        current = int(client.escrow.functions.platformFeeBps().call())
        if current != fee_bps:
            changes.append(_change(client, "escrow", "platform fee (bps)", current, fee_bps,
                                   "setPlatformFee", fee_bps))
    if recipient is not None:
        wanted = checksum(recipient, "fee recipient")
        current_recipient = checksum(client.escrow.functions.feeRecipient().call())
        if current_recipient != wanted:
            changes.append(_change(client, "escrow", "fee recipient", current_recipient, wanted,
                                   "setFeeRecipient", wanted))
    return changes


def plan_pause(client: EscrowClient, paused: bool) -> list[Change]:
    """Pause (no new trades; open trades go on) or unpause; nothing if already so."""
    current = bool(client.escrow.functions.paused().call())
    if current == paused:
        return []
    return [_change(client, "escrow", "paused", current, paused, "pause" if paused else "unpause")]


def _contracts(client: EscrowClient, which: str) -> list[tuple[str, Any]]:
    pairs = [("escrow", client.escrow), ("reputation", client.reputation_contract)]
    if which == "both":
        return pairs
    if which not in ("escrow", "reputation"):
        raise InputError(f"--contract is escrow, reputation or both, not {which!r}")
    return [p for p in pairs if p[0] == which]


def plan_transfer(client: EscrowClient, new_owner: str, which: str = "both") -> list[Change]:
    """Step one of the two-step transfer: offer ownership to ``new_owner`` (who must accept)."""
    from ..core.terms import checksum

    wanted = checksum(new_owner, "new owner")
    changes = []
    for label, contract in _contracts(client, which):
        owner = checksum(contract.functions.owner().call())
        pending = checksum(contract.functions.pendingOwner().call())
        if owner == wanted or pending == wanted:
            continue
        changes.append(_change(client, label, "pending owner", pending, wanted, "transferOwnership", wanted))
    return changes


def plan_accept(client: EscrowClient, which: str = "both") -> list[Change]:
    """Step two: this account accepts ownership wherever it was offered it."""
    from ..core.terms import checksum

    changes = []
    for label, contract in _contracts(client, which):
        owner = checksum(contract.functions.owner().call())
        pending = checksum(contract.functions.pendingOwner().call())
        if pending == client.address:
            changes.append(_change(client, label, "owner", owner, client.address, "acceptOwnership"))
    return changes


def apply(client: EscrowClient, changes: list[Change]) -> list[TxResult]:
    """Send the changes, in order (each is simulated first: a refusal raises before any gas)."""
    return [client.tx.send(change.call) for change in changes]


def simulate(client: EscrowClient, change: Change) -> str | None:
    """None if ``change`` would go through now when sent by this client's account, else why not."""
    from ..errors import P2PEscrowError

    try:
        client.tx.simulate(change.call)
    except P2PEscrowError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def record(registry: Registry, client: EscrowClient) -> Deployment:
    """Bring the registry's record up to date with the escrow's owner and fee settings."""
    from ..core.terms import checksum

    deployment = client.deployment
    updated = replace(deployment, owner=checksum(client.escrow.functions.owner().call()),
                      fee_recipient=checksum(client.escrow.functions.feeRecipient().call()),
                      platform_fee_bps=int(client.escrow.functions.platformFeeBps().call()))
    if updated != deployment:
        registry.put(updated)
        client.deployment = updated
    return updated
