"""Operator tasks on a recorded deployment: the export for dApps, and the owner's operations (fee,
pause, reputation assets, two-step ownership transfer) as plans that can be shown (dry run) before
they are sent. Version 2: the escrow is the only contract with an owner (its Reputation has none).

Used by ``scripts/*.py`` (under brownie or plain Python); no brownie here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..errors import InputError

if TYPE_CHECKING:
    from ..clients.sync import EscrowClient
    from ..deployments import Deployment, Registry
    from ..transport.sync import Call, TxResult

#: The ``kind`` of the document :func:`export_document` writes (/2: contracts version 2, offers with
#: deposits, EIP-712 domain version "2").
EXPORT_KIND = "p2pescrow-deployment/2"


# -- the export for dApps ----------------------------------------------------------------------------
def export_document(deployment: Deployment) -> dict[str, Any]:
    """Everything a dApp in any language needs for one chain, as plain JSON: the contracts' version,
    both contracts' addresses, ABIs and deployment block, the settings recorded at deployment, the
    custom errors of every artifact (to decode reverts, OpenZeppelin's included), and the EIP-712
    domain and types of signed offers (``eth_signTypedData_v4`` input, less the message). Reputation
    assets are not in it: they change, and the escrow's ReputationAssetSet events say which they are."""
    from .. import __version__
    from .._artifacts import load_artifact, load_errors
    from ..core.offers import DOMAIN_NAME, DOMAIN_VERSION, OFFER_FIELDS
    from ..errors import ConfigError

    if deployment.version != 2:
        raise ConfigError(f"the deployment recorded for chain {deployment.chain_id} is version {deployment.version}: "
                          "this SDK exports version 2 only", hint="redeploy with scripts/deploy.py")

    contracts = {}
    for name, address, code_hash in (
            ("P2PEscrow", deployment.escrow, deployment.escrow_code_hash),
            ("Reputation", deployment.reputation, deployment.reputation_code_hash)):
        contracts[name] = {"address": address, "deployBlock": deployment.block, "codeHash": code_hash,
                           "abi": load_artifact(name)["abi"]}
    return {
        "kind": EXPORT_KIND,
        "generator": f"p2pescrow {__version__}",
        "contractVersion": deployment.version,
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

    contract: str  # "escrow" (the only contract with an owner)
    setting: str
    current: Any
    new: Any
    call: Call

    def describe(self) -> str:
        return f"{self.contract}: {self.setting}: {self.current} -> {self.new}"


def _change(client: EscrowClient, contract: str, setting: str, current: Any, new: Any, fn: str,
            *args: Any) -> Change:
    from ..transport.sync import Call

    target = client.escrow
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


def plan_transfer(client: EscrowClient, new_owner: str) -> list[Change]:
    """Step one of the two-step transfer of the escrow: offer ownership to ``new_owner`` (who must
    accept). Nothing if it owns it or was offered it already."""
    from ..core.terms import checksum

    wanted = checksum(new_owner, "new owner")
    owner = checksum(client.escrow.functions.owner().call())
    pending = checksum(client.escrow.functions.pendingOwner().call())
    if wanted in (owner, pending):
        return []
    return [_change(client, "escrow", "pending owner", pending, wanted, "transferOwnership", wanted)]


def plan_accept(client: EscrowClient) -> list[Change]:
    """Step two: this account accepts ownership of the escrow, if it was offered it."""
    from ..core.terms import checksum

    owner = checksum(client.escrow.functions.owner().call())
    pending = checksum(client.escrow.functions.pendingOwner().call())
    if pending != client.address:
        return []
    return [_change(client, "escrow", "owner", owner, client.address, "acceptOwnership")]


# -- reputation assets ---------------------------------------------------------------------------------
def asset_label(token: str, symbol: str | None = None) -> str:
    """``ETH`` for the zero address, else ``SYMBOL (0x..)`` or the address."""
    if int(token, 16) == 0:
        return "ETH"
    return f"{symbol} ({token})" if symbol else token


def describe_listing(listed: bool, minimum: int, decimals: int, symbol: str) -> str:
    """``listed, minimum 0.01 ETH`` / ``not listed`` (a delisted asset keeps its minimum on chain)."""
    from ..models import from_base_units

    if not listed:
        return "not listed"
    return f"listed, minimum {from_base_units(minimum, decimals)} {symbol}"


def plan_reputation_asset(client: EscrowClient, token: str | None, *, listed: bool = True,
                          min_amount: Decimal | str | int | None = None) -> list[Change]:
    """List ``token`` (None or ``ETH``: ether) as a reputation asset with a minimum price
    ``min_amount`` (token units: trades of at least that much record reputation), re-price it, or
    delist it (``listed=False``: trades created from then on record nothing; past records stay).
    Nothing if the escrow already says so. Like the platform fee, a listing applies to trades
    created from then on."""
    from ..models import to_base_units

    if token is not None and token.upper() == "ETH":
        token = None
    info = client.token(token)
    raw_listed, raw_min = client.escrow.functions.reputationAssets(info.address).call()
    current_listed, current_min = bool(raw_listed), int(raw_min)
    if listed:
        if min_amount is None:
            raise InputError("listing needs the minimum price of a trade that records (--min-amount), "
                             f"in {info.symbol}")
        minimum = to_base_units(min_amount, info.decimals)  # a positive minimum: 1 wei trades never count
    else:
        if min_amount is not None:
            raise InputError("a delisted asset has no minimum: leave --min-amount out")
        minimum = current_min
    if (current_listed, current_min) == (listed, minimum):
        return []
    label = asset_label(info.address, None if info.is_eth else info.symbol)
    return [_change(client, "escrow", f"reputation asset {label}",
                    describe_listing(current_listed, current_min, info.decimals, info.symbol),
                    describe_listing(listed, minimum, info.decimals, info.symbol),
                    "setReputationAsset", info.address, listed, minimum)]


def reputation_assets(client: EscrowClient) -> list[tuple[str, str, bool, int, int]]:
    """Every asset ever listed (the SDK's :meth:`~p2pescrow.clients.sync.EscrowClient.reputation_assets`):
    (address, symbol, listed, minimum in base units, decimals), ETH first."""
    out = []
    for token, (listed, minimum) in client.reputation_assets().items():
        info = client.token(token)
        out.append((info.address, info.symbol, listed, minimum, info.decimals))
    return sorted(out, key=lambda a: (int(a[0], 16) != 0, a[1]))


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
