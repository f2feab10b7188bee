"""Deploy the escrow (which creates its reputation contract), and the registry of deployments by chain id.

The registry is a JSON file (``<config dir>/deployments.json``) written by deploy and read by the
client, so a trader never types contract addresses. Each record keeps the keccak of the deployed
code: connecting to a chain where the recorded address holds other code is refused.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import config_dir
from .errors import ConfigError, NetworkError, WrongChain

if TYPE_CHECKING:
    from web3 import Web3

    from .transport.sync import Transactor

# web3, eth-abi and the artifacts are imported where used: reading the registry (the CLI's
# `node status`, `networks list`) should not pay a second for web3.


#: The contracts' version this SDK deploys and speaks to (the escrow's ``VERSION()``).
CONTRACT_VERSION = 2
#: ``VERSION()``'s selector as the escrow's dispatcher pushes it (``PUSH4 0xffa1ad74``): code without it
#: is an escrow from before version 2, which had no ``VERSION()``.
_VERSION_SELECTOR_PUSH = bytes.fromhex("63ffa1ad74")


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
    #: Dev tokens on a local chain (symbol -> address), deployed by `p2pescrow node start`.
    dev_tokens: dict[str, str] = field(default_factory=dict, hash=False)
    #: The contracts' version (the escrow's ``VERSION()``). A registry record written before version 2
    #: has none and reads as 1 (:meth:`Registry.get`); :func:`deployment_for` refuses any but
    #: :data:`CONTRACT_VERSION`.
    version: int = CONTRACT_VERSION


class DeploymentMismatch(NetworkError):
    """The registry's address on this chain holds other code (a reset chain, or a wrong registry)."""


class OutdatedDeployment(NetworkError):
    """The deployment is of contracts older than this SDK speaks (escrow v1, which has no ``VERSION()``),
    or of a newer version: its trades can be neither read nor made with this version. Exit 4, like the
    other deployment refusals; the hint says to deploy version 2 (or, for a newer one, to upgrade)."""

    def __init__(self, chain_id: int, escrow: str, version: int | None) -> None:
        self.chain_id, self.escrow, self.version = chain_id, escrow, version
        found = f"version {version}" if version is not None else "version 1 (it has no VERSION())"
        newer = version is not None and version > CONTRACT_VERSION
        super().__init__(
            f"the escrow {escrow} on chain {chain_id} is {found}; this p2pescrow speaks only version "
            f"{CONTRACT_VERSION}",
            hint=f"upgrade p2pescrow to a release that speaks version {version}" if newer else
                 "deploy version 2 with `p2pescrow deploy` (on a local chain: `p2pescrow node start`); "
                 "trades of the old escrow stay there, readable with the p2pescrow release that made them")


class NoDeployment(ConfigError):
    """No deployment recorded for the chain, and none given."""

    def __init__(self, chain_id: int) -> None:
        super().__init__(f"no p2pescrow deployment is recorded for chain id {chain_id}",
                         hint="deploy with `p2pescrow deploy`, or pass the contract addresses")


@dataclass
class DeployProgress:
    """A deployment under way on one chain: its settings and what is done, recorded when its
    transaction is sent and again when it is mined, so that a run that died (a killed process, a
    lost connection) is continued by the next one instead of deploying twice. ``escrow_tx`` is the
    hash of the deployment sent whose receipt was not seen yet."""

    chain_id: int
    deployer: str
    owner: str
    fee_recipient: str
    platform_fee_bps: int
    escrow: str | None = None
    escrow_tx: str | None = None
    block: int | None = None  # the block of the deployment: event scans start there

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> DeployProgress | None:
        """The progress a pending record describes; None for a version-1 record (Reputation deployed
        apart, then wired: nothing of it is reused)."""
        if "reputation" in record or "authorised" in record:
            return None
        return cls(**record)

    def settings(self) -> tuple[str, str, str, int]:
        return (self.deployer, self.owner, self.fee_recipient, self.platform_fee_bps)

    def done(self) -> list[str]:
        """The steps done so far, in order (for messages)."""
        return ["P2PEscrow deployed (with its Reputation)"] if self.escrow else []


class PendingDeploymentConflict(ConfigError):
    """An unfinished deployment on this chain was started with another account or other settings."""


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
        if not record:
            return None
        return Deployment(**{"version": 1, **record})  # no version: written before version 2

    def put(self, deployment: Deployment) -> None:
        data = self._read()
        data[str(deployment.chain_id)] = asdict(deployment)
        _write_json(self.path, data)

    def remove(self, chain_id: int) -> None:
        data = self._read()
        if data.pop(str(chain_id), None) is not None:
            _write_json(self.path, data)

    # -- deployments under way ---------------------------------------------------------------------
    @property
    def pending_path(self) -> Path:
        """``deployments.pending.json`` beside the registry: deployments started and not finished."""
        return self.path.with_name(self.path.stem + ".pending.json")

    def _read_pending(self) -> dict[str, Any]:
        if not self.pending_path.exists():
            return {}
        try:
            data = json.loads(self.pending_path.read_text())
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{self.pending_path} is not valid JSON: {exc}") from None
        return data if isinstance(data, dict) else {}

    def get_pending(self, chain_id: int) -> DeployProgress | None:
        """The unfinished deployment on ``chain_id`` (what is done so far), if any."""
        record = self._read_pending().get(str(chain_id))
        return DeployProgress.from_record(record) if record else None

    def put_pending(self, progress: DeployProgress) -> None:
        data = self._read_pending()
        data[str(progress.chain_id)] = asdict(progress)
        _write_json(self.pending_path, data)

    def clear_pending(self, chain_id: int) -> None:
        data = self._read_pending()
        if data.pop(str(chain_id), None) is None:
            return
        if data:
            _write_json(self.pending_path, data)
        else:
            self.pending_path.unlink(missing_ok=True)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` to ``path`` atomically (a reader sees the old file or the new one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def deploy_data(artifact: dict[str, Any], *args: Any) -> str:
    """Creation bytecode followed by the ABI-encoded constructor arguments."""
    from eth_abi import encode

    constructor = next((e for e in artifact["abi"] if e["type"] == "constructor"), {"inputs": []})
    types = [i["type"] for i in constructor["inputs"]]
    return artifact["bytecode"] + encode(types, list(args)).hex()


def hash_of_code(code: bytes | str) -> str:
    """The keccak of contract code as ``eth_getCode`` gives it (bytes, or ``0x``-hex as JSON-RPC
    carries it), ``0x``-hex: what a record's ``*_code_hash`` holds."""
    from eth_utils import keccak

    return "0x" + (keccak(hexstr=code or "0x") if isinstance(code, str) else keccak(bytes(code))).hex()


def code_hash(w3: Web3, address: str) -> str:
    from eth_utils import to_checksum_address

    return hash_of_code(bytes(w3.eth.get_code(to_checksum_address(address))))


def verify(w3: Web3, deployment: Deployment) -> None:
    """Refuse a deployment whose addresses hold other code than was deployed there (or an escrow v1)."""
    from eth_utils import to_checksum_address

    check_code(deployment, bytes(w3.eth.get_code(to_checksum_address(deployment.escrow))),
               bytes(w3.eth.get_code(to_checksum_address(deployment.reputation))))


def deployment_for(chain_id: int, *, expected_chain_id: int | None = None, deployment: Deployment | None = None,
                   registry: Registry | None = None) -> Deployment:
    """The deployment to use on a node serving ``chain_id``: ``deployment`` when given, else the
    registry's for that chain id (:class:`NoDeployment` when none); :class:`WrongChain` when the node
    is not on ``expected_chain_id``; :class:`OutdatedDeployment` when it is not of
    :data:`CONTRACT_VERSION`. What the clients and the reader decide on connecting."""
    if expected_chain_id is not None and chain_id != expected_chain_id:
        raise WrongChain(expected_chain_id, chain_id)
    if deployment is None:
        deployment = (registry or Registry()).get(chain_id)
        if deployment is None:
            raise NoDeployment(chain_id)
    if deployment.version != CONTRACT_VERSION:
        raise OutdatedDeployment(deployment.chain_id, deployment.escrow, deployment.version)
    return deployment


def check_code(deployment: Deployment, escrow_code: bytes | str, reputation_code: bytes | str) -> None:
    """:func:`verify` once the code at the two addresses is read (bytes or ``0x``-hex); an escrow whose
    code has no ``VERSION()`` is refused as version 1 (:class:`OutdatedDeployment`) first, whatever the
    record says (a deployment given by hand, or a record edited)."""
    check_version_in_code(deployment, escrow_code)
    check_code_hashes(deployment, hash_of_code(escrow_code), hash_of_code(reputation_code))


def check_version_in_code(deployment: Deployment, escrow_code: bytes | str) -> None:
    """:class:`OutdatedDeployment` when the escrow's code (bytes or ``0x``-hex) has no ``VERSION()``
    function: an escrow v1. No code at all is left to the code hash check (a reset chain)."""
    code = bytes.fromhex(escrow_code.removeprefix("0x")) if isinstance(escrow_code, str) else bytes(escrow_code)
    if code and _VERSION_SELECTOR_PUSH not in code:
        raise OutdatedDeployment(deployment.chain_id, deployment.escrow, None)


def check_code_hashes(deployment: Deployment, escrow_hash: str, reputation_hash: str) -> None:
    """:func:`verify` once the code hashes at the two addresses are known (``0x``-hex keccak), for
    callers that read the code without web3."""
    for name, address, expected, actual in (
            ("escrow", deployment.escrow, deployment.escrow_code_hash, escrow_hash),
            ("reputation", deployment.reputation, deployment.reputation_code_hash, reputation_hash)):
        if actual != expected:
            raise DeploymentMismatch(
                f"the recorded {name} address {address} on chain {deployment.chain_id} holds other code "
                f"than was deployed there (was the chain reset?)",
                hint="redeploy with `p2pescrow deploy --force`, or point at the right network")


#: The steps of a deployment, in order; ``after_step`` hooks receive these names. One transaction:
#: the escrow's constructor creates its Reputation (the only writer there, bound for good).
DEPLOY_STEPS = ("escrow",)


def deploy(transactor: Transactor, *, fee_recipient: str | None = None, platform_fee_bps: int = 0,
           owner: str | None = None, registry: Registry | None = None,
           report: Callable[[str], None] | None = None,
           after_step: Callable[[str], None] | None = None) -> Deployment:
    """Deploy P2PEscrow (owner, fee recipient, platform fee) in one transaction: its constructor
    creates the Reputation contract whose only writer it is. ``owner`` owns the escrow from the
    start (the reputation contract has no owner).

    Without ``registry`` this sends the transactions and returns the :class:`Deployment`.

    With ``registry`` it is recoverable: progress is recorded there as a pending record (see
    :meth:`Registry.get_pending`) as soon as the transaction is sent and again when it is mined,
    and a deployment left unfinished on this chain is continued (the transaction sent is waited
    for, the code at the recorded address and its reputation contract checked) rather than sent
    again.
    Unfinished work with another account or other settings raises
    :class:`PendingDeploymentConflict`; :func:`discard_pending` starts afresh. The finished
    deployment is recorded in the registry and the pending record removed.

    ``report(line)`` receives a line per transaction sent and step done; ``after_step(name)`` runs
    after each step of :data:`DEPLOY_STEPS` is recorded (the recovery tests fail there).
    """
    from eth_utils import to_checksum_address

    deployer = transactor.address
    owner = to_checksum_address(owner or deployer)
    fee_recipient = to_checksum_address(fee_recipient or owner)
    wanted = DeployProgress(transactor.chain_id, deployer, owner, fee_recipient, platform_fee_bps)
    progress = registry.get_pending(wanted.chain_id) if registry is not None else None
    if progress is not None:
        if progress.settings() != wanted.settings():
            raise PendingDeploymentConflict(
                f"an unfinished deployment on chain {wanted.chain_id} was started by {progress.deployer} "
                f"with owner {progress.owner}, fee {progress.platform_fee_bps} bps to "
                f"{progress.fee_recipient}; this run asks for {deployer}, owner {owner}, fee "
                f"{platform_fee_bps} bps to {fee_recipient}",
                hint="re-run with the same account and settings to finish it, or force a fresh "
                     "deployment (deploy --force)")
        if not _still_there(transactor.w3, progress):
            if report:
                report(f"the unfinished deployment recorded for chain {wanted.chain_id} has no code "
                       "there any more (was the chain reset?): starting afresh")
            progress = None
        elif report:
            report(f"continuing the unfinished deployment on chain {wanted.chain_id} "
                   f"(done: {', '.join(progress.done()) or 'nothing mined yet'})")
    return _Deployer(transactor, progress or wanted, registry, report, after_step).run()


def discard_pending(registry: Registry, chain_id: int) -> DeployProgress | None:
    """Forget the unfinished deployment on ``chain_id`` (its contracts stay on chain, unused)."""
    progress = registry.get_pending(chain_id)
    registry.clear_pending(chain_id)
    return progress


def _still_there(w3: Web3, progress: DeployProgress) -> bool:
    """False when the contract recorded by ``progress`` has no code (a dev chain that was reset)."""
    return progress.escrow is None or len(bytes(w3.eth.get_code(progress.escrow))) > 0


class _Deployer:
    """The steps of :func:`deploy`, each skipped when already done, each recorded when done."""

    def __init__(self, transactor: Transactor, progress: DeployProgress, registry: Registry | None,
                 report: Callable[[str], None] | None, after_step: Callable[[str], None] | None) -> None:
        from ._artifacts import load_artifact

        self.tx = transactor
        self.w3 = transactor.w3
        self.p = progress
        self.registry = registry
        self.narrate = report is not None
        self.report = report or (lambda line: None)
        self.after_step = after_step or (lambda step: None)
        self.artifacts = {name: load_artifact(name) for name in ("Reputation", "P2PEscrow")}

    def run(self) -> Deployment:
        from eth_utils import to_checksum_address

        p = self.p
        self._save()
        if p.escrow is None:
            p.escrow, p.block = self._create("P2PEscrow", "escrow_tx", p.owner, p.fee_recipient, p.platform_fee_bps)
            self._done("escrow", f"P2PEscrow deployed at {p.escrow}")
        else:
            self._check_code("P2PEscrow", p.escrow)
        reputation = to_checksum_address(self._contract("P2PEscrow", p.escrow).functions.reputation().call())
        self._check_code("Reputation", reputation)
        self.report(f"its Reputation contract is at {reputation} (written only by the escrow)")
        assert p.block is not None
        deployment = Deployment(
            chain_id=p.chain_id, escrow=p.escrow, reputation=reputation, block=p.block,
            owner=p.owner, fee_recipient=p.fee_recipient, platform_fee_bps=p.platform_fee_bps,
            escrow_code_hash=code_hash(self.w3, p.escrow),
            reputation_code_hash=code_hash(self.w3, reputation), version=CONTRACT_VERSION)
        if self.registry is not None:
            self.registry.put(deployment)
            self.registry.clear_pending(p.chain_id)
        return deployment

    # -- helpers ----------------------------------------------------------------------------------
    def _save(self) -> None:
        if self.registry is not None:
            self.registry.put_pending(self.p)

    def _done(self, step: str, line: str) -> None:
        self._save()
        self.report(line)
        self.after_step(step)

    def _contract(self, name: str, address: str) -> Any:
        return self.w3.eth.contract(address=address, abi=self.artifacts[name]["abi"])

    def _check_code(self, name: str, address: str) -> None:
        if not code_matches_artifact(bytes(self.w3.eth.get_code(address)), self.artifacts[name]):
            raise DeploymentMismatch(
                f"the {name} contract at {address} (deployment on chain {self.p.chain_id}) holds other code "
                "than this SDK's artifact", hint="force a fresh deployment")

    def _create(self, name: str, tx_field: str, *args: Any) -> tuple[str, int]:
        """Deploy ``name`` (or pick up the receipt of the deployment sent by an earlier run)."""
        from eth_utils import to_checksum_address

        earlier = getattr(self.p, tx_field)
        if earlier:
            found = self._earlier_receipt(earlier)
            if found is not None:
                address, block = found
                self._check_code(name, address)
                setattr(self.p, tx_field, None)
                return address, block
        result = self._send(None, deploy_data(self.artifacts[name], *args), f"deploy {name}", tx_field)
        assert result.contract_address is not None
        setattr(self.p, tx_field, None)
        return to_checksum_address(result.contract_address), result.block_number

    def _earlier_receipt(self, tx_hash: str) -> tuple[str, int] | None:
        """The contract created by ``tx_hash`` (sent by a run that died before its receipt), waiting
        for it while the node still knows the transaction; None if it was dropped or reverted."""
        from eth_utils import to_checksum_address

        from .errors import TransactionError

        try:
            self.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
        except Exception:
            self.report(f"the transaction {tx_hash} sent by the earlier run is unknown to the node: "
                        "sending it again")
            return None
        self.report(f"waiting for the transaction {tx_hash} sent by the earlier run")
        try:
            result = self.tx.wait(tx_hash)
        except TransactionError:  # mined and reverted
            return None
        if result.contract_address is None:
            return None
        return to_checksum_address(result.contract_address), result.block_number

    def _send(self, to: str | None, data: str, description: str, tx_field: str | None = None) -> Any:
        from .transport._base import Call

        def sent(tx_hash: str) -> None:
            if tx_field is not None:
                setattr(self.p, tx_field, tx_hash)
                self._save()
            self.report(f"{description}: sent {tx_hash}")

        if self.registry is None and not self.narrate:  # the plain path: the caller's hooks stay
            return self.tx.send(Call(to, data, description=description))
        return self.tx.send(Call(to, data, description=description), on_sent=sent)


# -- checking a deployment against the artifacts ----------------------------------------------------
def code_matches_artifact(code: bytes, artifact: dict[str, Any]) -> bool:
    """True when deployed ``code`` is the artifact's runtime code.

    Byte for byte, metadata hash included (it pins the exact sources and compiler settings),
    except inside the 32-byte slots that solc leaves zero in the runtime code for immutables and
    the constructor fills (the escrow's reputation address and its EIP-712 domain): a difference
    is accepted only within a run of at least 32 zero bytes of the artifact.
    """
    expected = bytes.fromhex(artifact["deployedBytecode"].removeprefix("0x"))
    if len(code) != len(expected):
        return False
    i, n = 0, len(expected)
    while i < n:
        if code[i] == expected[i]:
            i += 1
            continue
        if expected[i] != 0:
            return False
        lo, hi = i, i
        while lo > 0 and expected[lo - 1] == 0:
            lo -= 1
        while hi < n and expected[hi] == 0:
            hi += 1
        if hi - lo < 32:
            return False
        i = hi
    return True


@dataclass(frozen=True)
class Check:
    """One check of :func:`check_deployment`: ``ok`` None is information, not a verdict."""

    name: str
    ok: bool | None
    detail: str


def check_deployment(w3: Web3, deployment: Deployment, *, owner: str | None = None,
                     fee_recipient: str | None = None, platform_fee_bps: int | None = None) -> list[Check]:
    """Check a recorded deployment on its chain: the code at both addresses against the shipped
    artifacts, the version, the wiring (the escrow's reputation contract, written by that escrow
    only), the escrow's owner and fee settings; the listed reputation assets are information.
    Expected values are the record's unless given."""
    from eth_utils import to_checksum_address

    from ._artifacts import load_artifact

    owner = to_checksum_address(owner or deployment.owner)
    fee_recipient = to_checksum_address(fee_recipient or deployment.fee_recipient)
    fee = deployment.platform_fee_bps if platform_fee_bps is None else platform_fee_bps
    checks: list[Check] = []
    chain_id = int(w3.eth.chain_id)
    checks.append(Check("chain id", chain_id == deployment.chain_id,
                        f"{chain_id}" + ("" if chain_id == deployment.chain_id
                                         else f", the record is for {deployment.chain_id}")))
    live = {}
    for name, address, recorded in (("P2PEscrow", deployment.escrow, deployment.escrow_code_hash),
                                    ("Reputation", deployment.reputation, deployment.reputation_code_hash)):
        code = bytes(w3.eth.get_code(address))
        if not code:
            checks.append(Check(f"{name} code", False, f"no contract at {address}"))
            continue
        matches = code_matches_artifact(code, load_artifact(name))
        checks.append(Check(f"{name} code", matches, f"{address} " + (
            "matches the artifact" if matches else "holds other code than the artifact")))
        unchanged = code_hash(w3, address) == recorded
        checks.append(Check(f"{name} code hash", unchanged,
                            "as recorded at deployment" if unchanged else "differs from the recorded hash"))
        live[name] = w3.eth.contract(address=address, abi=load_artifact(name)["abi"])
    if len(live) < 2 or not all(c.ok for c in checks if c.name.endswith(" code")):
        return checks
    escrow, reputation = live["P2PEscrow"], live["Reputation"]

    def expect(name: str, actual: Any, wanted: Any) -> None:
        ok = actual == wanted
        checks.append(Check(name, ok, f"{actual}" + ("" if ok else f", expected {wanted}")))

    expect("contract version", int(escrow.functions.VERSION().call()), CONTRACT_VERSION)
    expect("escrow's reputation contract", to_checksum_address(escrow.functions.reputation().call()),
           deployment.reputation)
    expect("reputation's only writer", to_checksum_address(reputation.functions.escrow().call()), deployment.escrow)
    actual = to_checksum_address(escrow.functions.owner().call())
    pending = to_checksum_address(escrow.functions.pendingOwner().call())
    if actual != owner and pending == owner:
        checks.append(Check("escrow owner", False, f"{actual}; offered to {owner}, who has not "
                            "accepted yet (transfer_ownership.py accept)"))
    else:
        expect("escrow owner", actual, owner)
        if int(pending, 16):
            checks.append(Check("escrow ownership transfer", None, f"offered to {pending}, not accepted"))
    expect("fee recipient", to_checksum_address(escrow.functions.feeRecipient().call()), fee_recipient)
    expect("platform fee (bps)", int(escrow.functions.platformFeeBps().call()), fee)
    paused = bool(escrow.functions.paused().call())
    checks.append(Check("paused", None, "yes: no new money in (exits stay open)" if paused else "no"))
    assets = listed_reputation_assets(w3, escrow, deployment.block)
    if not assets:
        checks.append(Check("reputation assets", None, "none listed: no trade records reputation "
                            "(scripts/list_reputation_asset.py)"))
    for token, (listed, minimum) in assets.items():
        label = "ETH" if int(token, 16) == 0 else token
        checks.append(Check(f"reputation asset {label}", None,
                            f"listed, minimum {minimum} base units" if listed
                            else "delisted (its past records stay)"))
    return checks


def listed_reputation_assets(w3: Web3, escrow: Any, from_block: int) -> dict[str, tuple[bool, int]]:
    """Every asset the escrow's owner ever listed, ``token -> (listed, minimum in base units)`` as the
    escrow says now (address(0) is ETH), found from the ReputationAssetSet events."""
    from eth_utils import to_checksum_address

    from .core.queries import reputation_assets_query
    from .transport.logs import get_logs

    tokens: dict[str, None] = {}
    for log in get_logs(w3, reputation_assets_query(escrow.address), from_block, int(w3.eth.block_number)):
        tokens[to_checksum_address("0x" + bytes(log["topics"][1])[-20:].hex())] = None
    out = {}
    for token in tokens:
        listed, minimum = escrow.functions.reputationAssets(token).call()
        out[token] = (bool(listed), int(minimum))
    return out


# -- deploying once per chain ------------------------------------------------------------------------
@dataclass(frozen=True)
class DeployOutcome:
    """What :func:`ensure_deployed` did: ``status`` is ``existing`` (a working deployment was
    recorded: nothing sent), ``deployed`` or ``resumed`` (an unfinished one was completed);
    ``replaced`` is the record this one replaced (forced, or its chain was reset)."""

    deployment: Deployment
    status: str
    replaced: Deployment | None = None


def ensure_deployed(transactor: Transactor, registry: Registry, *, fee_recipient: str | None = None,
                    platform_fee_bps: int = 0, owner: str | None = None, force: bool = False,
                    report: Callable[[str], None] | None = None,
                    after_step: Callable[[str], None] | None = None) -> DeployOutcome:
    """The one deployment of this chain: the recorded one if its code is still there and it is of
    this SDK's version (nothing is sent; the settings asked for are not compared), else a new one,
    continuing an unfinished one with the same settings. ``force`` deploys anew, abandoning both."""
    chain_id = transactor.chain_id
    existing = registry.get(chain_id)
    if existing is not None and existing.version != CONTRACT_VERSION and not force:
        if report:
            report(f"the deployment recorded for chain {chain_id} ({existing.escrow}) is version {existing.version}: "
                   f"deploying version {CONTRACT_VERSION} (no v1 trade or reputation is carried over)")
    elif existing is not None and not force:
        try:
            verify(transactor.w3, existing)
        except (DeploymentMismatch, OutdatedDeployment):
            if report:
                report(f"the deployment recorded for chain {chain_id} ({existing.escrow}) has no "
                       "matching code there any more (was the chain reset?): deploying anew")
        else:
            return DeployOutcome(existing, "existing")
    if force:
        abandoned = discard_pending(registry, chain_id)
        if abandoned is not None and report:
            report(f"--force: abandoning the unfinished deployment on chain {chain_id} "
                   f"(done: {', '.join(abandoned.done()) or 'nothing'})")
    resuming = registry.get_pending(chain_id) is not None
    deployment = deploy(transactor, fee_recipient=fee_recipient, platform_fee_bps=platform_fee_bps,
                        owner=owner, registry=registry, report=report, after_step=after_step)
    return DeployOutcome(deployment, "resumed" if resuming else "deployed", existing)
