"""Deploy escrow + reputation, wired together, and the registry of deployments by chain id.

The registry is a JSON file (``<config dir>/deployments.json``) written by deploy and read by the
client, so a trader never types contract addresses. Each record keeps the keccak of the deployed
code: connecting to a chain where the recorded address holds other code is refused.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from eth_abi import encode
from eth_utils import keccak, to_checksum_address
from web3 import Web3

from .build import load_artifact
from .config import config_dir
from .errors import ConfigError, NetworkError
from .transport.pipeline import Call, Transactor


@dataclass(frozen=True)
class Deployment:
    """Where the contracts of one chain are, and how they were set up."""

    chain_id: int
    escrow: str
    reputation: str
    block: int  # deployment block: event scans start here
    owner: str
    fee_recipient: str
    platform_fee_bps: int
    escrow_code_hash: str
    reputation_code_hash: str


class DeploymentMismatch(NetworkError):
    """The registry's address on this chain holds other code (a reset chain, or a wrong registry)."""


class NoDeployment(ConfigError):
    """No deployment recorded for the chain, and none given."""

    def __init__(self, chain_id: int) -> None:
        super().__init__(f"no p2pescrow deployment is recorded for chain id {chain_id}",
                         hint="deploy with `p2pescrow deploy`, or pass the contract addresses")


class Registry:
    """The deployments registry file (atomic writes; one record per chain id)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or config_dir() / "deployments.json"

    def _read(self) -> dict[str, Any]:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text())
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{self.path} is not valid JSON: {exc}") from None
        return data if isinstance(data, dict) else {}

    def get(self, chain_id: int) -> Deployment | None:
        record = self._read().get(str(chain_id))
        return Deployment(**record) if record else None

    def put(self, deployment: Deployment) -> None:
        data = self._read()
        data[str(deployment.chain_id)] = asdict(deployment)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".deployments.")
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
        os.replace(tmp, self.path)

    def remove(self, chain_id: int) -> None:
        data = self._read()
        if data.pop(str(chain_id), None) is not None:
            self.path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def deploy_data(artifact: dict[str, Any], *args: Any) -> str:
    """Creation bytecode followed by the ABI-encoded constructor arguments."""
    constructor = next((e for e in artifact["abi"] if e["type"] == "constructor"), {"inputs": []})
    types = [i["type"] for i in constructor["inputs"]]
    return artifact["bytecode"] + encode(types, list(args)).hex()


def code_hash(w3: Web3, address: str) -> str:
    return "0x" + keccak(bytes(w3.eth.get_code(to_checksum_address(address)))).hex()


def verify(w3: Web3, deployment: Deployment) -> None:
    """Refuse a deployment whose addresses hold other code than was deployed there."""
    for name, address, expected in (("escrow", deployment.escrow, deployment.escrow_code_hash),
                                    ("reputation", deployment.reputation, deployment.reputation_code_hash)):
        actual = code_hash(w3, address)
        if actual != expected:
            raise DeploymentMismatch(
                f"the recorded {name} address {address} on chain {deployment.chain_id} holds other code "
                f"than was deployed there (was the chain reset?)",
                hint="redeploy with `p2pescrow deploy --force`, or point at the right network")


def deploy(transactor: Transactor, *, fee_recipient: str | None = None, platform_fee_bps: int = 0,
           owner: str | None = None) -> Deployment:
    """Deploy Reputation and P2PEscrow, authorise the escrow on the reputation contract."""
    w3 = transactor.w3
    owner = to_checksum_address(owner or transactor.address)
    fee_recipient = to_checksum_address(fee_recipient or owner)
    rep_artifact, esc_artifact = load_artifact("Reputation"), load_artifact("P2PEscrow")
    deployer = transactor.address
    # Reputation is owned by the deployer until the escrow is authorised, then handed over.
    rep = transactor.send(Call(None, deploy_data(rep_artifact, deployer), description="deploy Reputation"))
    assert rep.contract_address is not None
    esc = transactor.send(Call(None, deploy_data(esc_artifact, owner, fee_recipient, platform_fee_bps,
                                                 rep.contract_address), description="deploy P2PEscrow"))
    assert esc.contract_address is not None
    reputation = w3.eth.contract(address=rep.contract_address, abi=rep_artifact["abi"])
    transactor.send(Call(rep.contract_address, reputation.encode_abi("setEscrow", [esc.contract_address, True]),
                         description="authorise the escrow"))
    if owner != deployer:
        transactor.send(Call(rep.contract_address, reputation.encode_abi("transferOwnership", [owner]),
                             description="hand the reputation contract to the owner"))
    return Deployment(
        chain_id=transactor.chain_id, escrow=to_checksum_address(esc.contract_address),
        reputation=to_checksum_address(rep.contract_address), block=rep.block_number, owner=owner,
        fee_recipient=fee_recipient, platform_fee_bps=platform_fee_bps,
        escrow_code_hash=code_hash(w3, esc.contract_address),
        reputation_code_hash=code_hash(w3, rep.contract_address),
    )
