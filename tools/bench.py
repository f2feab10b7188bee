"""Benchmarks: the gas of every trade path and operation (and where it goes), SDK and CLI speed.

``python -m tools.bench`` (``make bench``) starts one Anvil (see :mod:`p2pescrow.node.process`),
deploys P2PEscrow (which creates its Reputation) with a 0.25% platform fee and the test tokens,
lists ETH as a reputation asset, and measures ``gasUsed`` from the receipts. Every scenario runs
twice on the same deployment and the SECOND run is the one reported: the first warms the storage a
live deployment has already written (``feesAccrued``, token balances, reputation records, nonce
words, bonds). Then it attributes the gas of
every path to buckets with Anvil's ``debug_traceTransaction`` (struct logger, per-opcode gas).

Options: ``--json PATH`` (``-`` for stdout) writes every figure as JSON; ``--readme`` prints README's
Gas table from the run (:func:`readme_table`); ``--update-snapshot``
rewrites ``tests/gas_snapshot.json``, which ``tests/tooling/test_gas_snapshot.py`` holds the contracts to.
``--only gas,sdk,cli,market`` picks sections (default: all): besides gas, SDK throughput against bare
web3.py (:mod:`tools.bench_speed`, JSON key ``sdk``), import / CLI start-up times
(:mod:`tools.bench_cli`, JSON key ``cli``) and the market index on a busy escrow (sync, search,
``trade list --mine``: :mod:`tools.bench_market`, JSON key ``market``); ``--only market-search``
runs the market's searches alone on a cached synced index (JSON key ``market_search``, ``--postgres``
for PostgreSQL too); the gas figures stay at the top level of the JSON.

The measurement itself (:func:`measure`) only needs a web3 instance, the dev accounts (address and
private key; the node must manage them, so ``transact({"from": ...})`` works) and a way to let time
pass, so the test suite runs exactly the same code on the embedded py-evm chain.

Trades: 1 ETH (or 1 token of 18 decimals), an arbiter with a 1% fee, 1 h / 1 day / 1 day windows,
no deposits and reputation off unless the name says ``_with_deposits`` (0.1 ETH each side, the
seller's bond posted beforehand, not counted) or ``_with_reputation`` (a listed asset, a seller who
consented). Callers are the party a real trade would have call: the buyer releases, the seller
refunds, the seller claims a timeout that pays it, the arbiter rules. (The caller is warm as
tx.origin: paying it costs 2,500 gas less than paying a cold account.)

The bounds (:data:`BOUNDS`, :data:`REPUTATION_ADDON_BOUND`) are those of the v2 issue (issue 12,
item 7); ``tests/tooling/test_gas_snapshot.py`` fails when a figure exceeds its bound.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

ETH = "0x" + "00" * 20
PLATFORM_FEE_BPS = 25
AMOUNT = 10**18
FLAG_TIMEOUT_RELEASES = 1
FLAG_RECORD_REPUTATION = 2
FLAG_CREATED_BY_SELLER = 4
#: Gas limit of every benchmark transaction (gasUsed does not depend on it).
TX_GAS = 2_000_000
#: Offer expiry and permit deadline: a fixed value, so that calldata is identical on every chain.
FAR_FUTURE = 4_102_444_800  # 2100-01-01
RELEASE_WINDOW = 86_400
ARBITRATION_WINDOW = 86_400
EVIDENCE_URI = "ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"

SNAPSHOT_PATH = Path(__file__).resolve().parent.parent / "tests" / "gas_snapshot.json"

#: Deposits of the ``_with_deposits`` paths (each side), and the minimum of the listed ETH asset.
DEPOSIT = AMOUNT // 10
REPUTATION_MIN = AMOUNT // 100

#: Upper bounds from the v2 issue (issue 12, item 7), per path.
BOUNDS: dict[str, int] = {
    "eth_happy_path": 107_000,
    "eth_refund_path": 106_000,
    "eth_timeout_path": 105_000,
    "eth_dispute_path": 160_000,
    "erc20_happy_path": 136_000,
    "erc20_permit_happy_path": 153_000,
    "eth_offer_happy_path": 127_000,
    "eth_offer_happy_path_with_deposits": 140_000,
}
#: What recording reputation may add to a path (``eth_offer_happy_path_with_reputation`` <=
#: ``eth_offer_happy_path`` + this).
REPUTATION_ADDON_BOUND = 15_000
#: The path the add-on bound applies to.
REPUTATION_BOUND_PATH = "eth_offer_happy_path"
#: Stated, without a bound: publishing a typical offer (~300 bytes of terms document).
STATED = ("offer_publish",)
#: Figures of comparable escrows for the same paths, and where they come from.
PEERS: dict[str, dict[str, int]] = {
    "LocalEthereum": {"eth_happy_path": 99_877, "eth_refund_path": 96_724,
                      "eth_dispute_path": 138_569, "eth_timeout_path": 94_354},
    "Kleros": {"eth_happy_path": 110_631, "eth_refund_path": 110_629, "eth_dispute_path": 465_919,
               "eth_timeout_path": 107_590, "erc20_happy_path": 150_288},
}
PEER_SOURCES: dict[str, str] = {
    "LocalEthereum": "our peer rig on the same Anvil, with its 0.25% fee (97,065 on the happy path "
                     "without a fee)",
    "Kleros": "escrow-contracts, as published in README since the first gas table",
}
#: LocalEthereum's happy path without a fee (our peer rig, same Anvil).
LOCALETHEREUM_HAPPY_NO_FEE = 97_065

#: The paths with a reputation twin (``<name>_with_reputation``): a trade records only when the seller
#: consented, which a signed offer is (a refund is not: giving the money back never makes a trade count).
REPUTATION_PATHS = ("eth_offer_happy_path",)


def bound(name: str, figures: dict[str, int]) -> int | None:
    """The issue's upper bound for path ``name`` given the measured ``figures`` (None: no bound)."""
    if name == f"{REPUTATION_BOUND_PATH}_with_reputation" and REPUTATION_BOUND_PATH in figures:
        return figures[REPUTATION_BOUND_PATH] + REPUTATION_ADDON_BOUND
    return BOUNDS.get(name)


def over_bound(figures: dict[str, int]) -> dict[str, tuple[int, int]]:
    """name -> (gas, bound) for every path above its bound."""
    out = {}
    for name, gas in figures.items():
        limit = bound(name, figures)
        if limit is not None and gas > limit:
            out[name] = (gas, limit)
    return out


# -------------------------------------------------------------------------------------------------
# What a measurement runs on, and what it returns
# -------------------------------------------------------------------------------------------------


class DevKey(Protocol):
    """A funded account the node manages, with its private key (for EIP-712 / EIP-2612 signing)."""

    @property
    def address(self) -> str: ...

    @property
    def private_key(self) -> str: ...


@dataclass
class BenchTarget:
    """A chain to measure on: web3, >= 10 managed dev accounts, and a way to let time pass."""

    w3: Any  # web3.Web3 (not imported at module level: keeps `--help` fast)
    accounts: Sequence[DevKey]
    increase_time: Callable[[int], None]
    name: str = "chain"


@dataclass(frozen=True)
class Step:
    """One transaction of a scenario's measured run."""

    label: str
    gas: int
    tx_hash: str
    counted: bool = True  # part of the path total (approve is reported, not counted)


@dataclass
class Measurement:
    """Per path: the measured run's steps. Per operation: the step it was measured on."""

    chain: str
    paths: dict[str, list[Step]] = field(default_factory=dict)
    ops: dict[str, Step] = field(default_factory=dict)

    def path_total(self, name: str) -> int:
        return sum(s.gas for s in self.paths[name] if s.counted)

    def reputation_addon(self) -> dict[str, int]:
        return {p: self.path_total(f"{p}_with_reputation") - self.path_total(p)
                for p in REPUTATION_PATHS if f"{p}_with_reputation" in self.paths}

    def flat(self) -> dict[str, int]:
        """name -> gas, as in the snapshot: paths by name, operations as ``op.<name>``."""
        figures = {name: self.path_total(name) for name in self.paths}
        figures.update({f"op.{name}": step.gas for name, step in self.ops.items()})
        return dict(sorted(figures.items()))


# -------------------------------------------------------------------------------------------------
# Deployment and scenarios
# -------------------------------------------------------------------------------------------------


@dataclass
class _Ctx:
    target: BenchTarget
    escrow: Any
    reputation: Any
    tokens: dict[str, Any]
    owner: DevKey
    buyer: DevKey
    seller: DevKey
    arbiter: DevKey
    stranger: DevKey
    fee_recipient: DevKey
    salts: Iterator[int]

    def terms(self, salt: int, *, flags: int = 0, token: str = ETH, **overrides: Any
              ) -> dict[str, Any]:
        terms: dict[str, Any] = {
            "buyer": self.buyer.address, "seller": self.seller.address, "token": token,
            "arbiter": self.arbiter.address, "amount": AMOUNT, "buyerDeposit": 0, "sellerDeposit": 0,
            "arbiterFeeBps": 100, "platformFeeBps": PLATFORM_FEE_BPS, "fundingWindow": 3600,
            "releaseWindow": RELEASE_WINDOW, "arbitrationWindow": ARBITRATION_WINDOW,
            "flags": flags, "termsHash": b"\x11" * 32, "salt": salt,
        }
        terms.update(overrides)
        return terms

    def send(self, fn: Any, sender: DevKey, value: int = 0) -> dict[str, Any]:
        w3 = self.target.w3
        tx_hash = fn.transact({"from": sender.address, "value": value, "gas": TX_GAS})
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
        if receipt["status"] != 1:
            raise RuntimeError(f"benchmark transaction {fn.fn_name} failed on {self.target.name}")
        return dict(receipt)


class _Recorder:
    """Sends a scenario's transactions, keeping what the measured run needs."""

    def __init__(self, ctx: _Ctx) -> None:
        self.ctx = ctx
        self.steps: list[Step] = []
        self.ops: dict[str, Step] = {}

    def tx(self, label: str, fn: Any, sender: DevKey, value: int = 0, *, op: str | None = None,
           counted: bool = True) -> dict[str, Any]:
        receipt = self.ctx.send(fn, sender, value)
        tx_hash = receipt["transactionHash"]
        step = Step(label, int(receipt["gasUsed"]),
                    tx_hash if isinstance(tx_hash, str) else "0x" + bytes(tx_hash).hex(), counted)
        self.steps.append(step)
        if op is not None:
            self.ops[op] = step
        return receipt


def _deploy(target: BenchTarget) -> _Ctx:
    from p2pescrow.build import load_artifact

    w3 = target.w3
    a = list(target.accounts)
    if len(a) < 10:
        raise ValueError("the benchmark needs 10 dev accounts")
    owner, buyer, seller, arbiter, stranger, fee_recipient = a[0], a[1], a[2], a[3], a[4], a[9]

    def deploy(name: str, *args: Any, test: bool = False) -> Any:
        artifact = load_artifact(name, test=test)
        factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
        tx_hash = factory.constructor(*args).transact({"from": owner.address, "gas": 8_000_000})
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
        if receipt["status"] != 1:
            raise RuntimeError(f"deploying {name} failed on {target.name}")
        return w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])

    escrow = deploy("P2PEscrow", owner.address, fee_recipient.address, PLATFORM_FEE_BPS)
    reputation = w3.eth.contract(address=escrow.functions.reputation().call(),
                                 abi=load_artifact("Reputation")["abi"])
    tokens = {
        "standard": deploy("TestToken", "Test Dollar", "TUSD", 18, test=True),
        "permit": deploy("PermitToken", test=True),
        "blacklist": deploy("BlacklistToken", test=True),
    }
    ctx = _Ctx(target, escrow, reputation, tokens, owner, buyer, seller, arbiter, stranger,
               fee_recipient, iter(range(1, 1_000_000)))
    ctx.send(escrow.functions.setReputationAsset(ETH, True, REPUTATION_MIN), owner)
    for token in tokens.values():
        ctx.send(token.functions.mint(buyer.address, 10**24), owner)
    return ctx


def _sign_typed(ctx: _Ctx, key: DevKey, contract: Any, name: str, types: dict[str, Any],
                message: dict[str, Any]) -> Any:
    from eth_account import Account

    # The domain as the contract reports it (ERC-5267): right chain id on any backend.
    _, d_name, d_version, chain_id, verifying, _, _ = contract.functions.eip712Domain().call()
    domain = {"name": d_name, "version": d_version, "chainId": chain_id,
              "verifyingContract": verifying}
    return Account.sign_typed_data(key.private_key, domain, {name: types[name]}, message)


_OFFER_TYPES = {"Offer": [
    {"name": "seller", "type": "address"}, {"name": "buyer", "type": "address"},
    {"name": "token", "type": "address"}, {"name": "arbiter", "type": "address"},
    {"name": "amount", "type": "uint128"}, {"name": "buyerDeposit", "type": "uint128"},
    {"name": "sellerDeposit", "type": "uint128"}, {"name": "arbiterFeeBps", "type": "uint16"},
    {"name": "platformFeeBps", "type": "uint16"}, {"name": "releaseWindow", "type": "uint32"},
    {"name": "arbitrationWindow", "type": "uint32"}, {"name": "flags", "type": "uint8"},
    {"name": "termsHash", "type": "bytes32"}, {"name": "nonce", "type": "uint256"},
    {"name": "expiry", "type": "uint64"},
]}
_PERMIT_TYPES = {"Permit": [
    {"name": "owner", "type": "address"}, {"name": "spender", "type": "address"},
    {"name": "value", "type": "uint256"}, {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint256"},
]}

#: A typical listing's terms document for ``offer_publish`` (canonical JSON: sorted keys, no
#: whitespace, integers and ASCII strings only, so ``json.dumps`` below is RFC 8785).
TERMS_DOCUMENT: dict[str, Any] = {
    "asset": "ETH", "contact": "matrix:@seller:example.org", "country": "DE",
    "delivery": "SEPA instant transfer to the IBAN sent in the trade chat within 30 minutes",
    "kind": "p2pescrow-terms/1", "limits": {"max": "2", "min": "0.1"},
    "payment": "EUR", "price": "3150.00 EUR per ETH",
    "rules": "Name on the bank account must match. No third-party payments. Reference: trade id.",
}


def terms_document() -> bytes:
    return json.dumps(TERMS_DOCUMENT, sort_keys=True, separators=(",", ":")).encode()


def sign_offer(ctx: _Ctx, offer: dict[str, Any]) -> bytes:
    """The seller's EIP-712 signature of ``offer`` (checked against the contract's offerDigest)."""
    signed = _sign_typed(ctx, ctx.seller, ctx.escrow, "Offer", _OFFER_TYPES, offer)
    if bytes(signed.message_hash) != bytes(ctx.escrow.functions.offerDigest(offer).call()):
        raise RuntimeError("EIP-712 offer digest differs from the contract's offerDigest")
    return bytes(signed.signature)


def sign_permit(ctx: _Ctx, token: Any, owner: DevKey, value: int) -> dict[str, Any]:
    """An EIP-2612 permit of ``value`` to the escrow, as the contract's Permit struct."""
    message = {"owner": owner.address, "spender": ctx.escrow.address, "value": value,
               "nonce": token.functions.nonces(owner.address).call(), "deadline": FAR_FUTURE}
    signed = _sign_typed(ctx, owner, token, "Permit", _PERMIT_TYPES, message)
    return {"deadline": FAR_FUTURE, "v": signed.v, "r": signed.r.to_bytes(32, "big"),
            "s": signed.s.to_bytes(32, "big")}


def _offer(ctx: _Ctx, nonce: int, token: str, *, flags: int = 0, deposit: int = 0,
           terms_hash: bytes = b"\x11" * 32) -> dict[str, Any]:
    return {"seller": ctx.seller.address, "buyer": ETH, "token": token,
            "arbiter": ctx.arbiter.address, "amount": AMOUNT, "buyerDeposit": deposit,
            "sellerDeposit": deposit, "arbiterFeeBps": 100, "platformFeeBps": PLATFORM_FEE_BPS,
            "releaseWindow": RELEASE_WINDOW, "arbitrationWindow": ARBITRATION_WINDOW, "flags": flags,
            "termsHash": terms_hash, "nonce": nonce, "expiry": FAR_FUTURE}


def _offer_terms(ctx: _Ctx, offer: dict[str, Any]) -> dict[str, Any]:
    """The trade a filled offer becomes (the contract's ``_fill``)."""
    return ctx.terms(offer["nonce"], flags=offer["flags"] | FLAG_CREATED_BY_SELLER, token=offer["token"],
                     buyerDeposit=offer["buyerDeposit"], sellerDeposit=offer["sellerDeposit"],
                     fundingWindow=0, termsHash=offer["termsHash"])


Scenario = Callable[[_Ctx, int, _Recorder], None]


def _happy(flags: int, *, ops: bool = False) -> Scenario:
    def run(c: _Ctx, salt: int, r: _Recorder) -> None:
        t = c.terms(salt, flags=flags)
        f = c.escrow.functions
        r.tx("createAndFund", f.createAndFund(t), c.buyer, AMOUNT,
             op="createAndFund" if ops else None)
        r.tx("release", f.release(t, AMOUNT), c.buyer, op="release" if ops else None)
    return run


def _refund(flags: int, *, ops: bool = False) -> Scenario:
    def run(c: _Ctx, salt: int, r: _Recorder) -> None:
        t = c.terms(salt, flags=flags)
        f = c.escrow.functions
        r.tx("createAndFund", f.createAndFund(t), c.buyer, AMOUNT)
        r.tx("refund", f.refund(t, AMOUNT), c.seller, op="refund" if ops else None)
    return run


def _timeout(flags: int, *, ops: bool = False) -> Scenario:
    def run(c: _Ctx, salt: int, r: _Recorder) -> None:
        t = c.terms(salt, flags=flags | FLAG_TIMEOUT_RELEASES)
        f = c.escrow.functions
        r.tx("createAndFund", f.createAndFund(t), c.buyer, AMOUNT)
        c.target.increase_time(RELEASE_WINDOW)
        r.tx("timeout", f.timeout(t), c.seller, op="timeout" if ops else None)
    return run


def _dispute(flags: int, *, ops: bool = False) -> Scenario:
    def run(c: _Ctx, salt: int, r: _Recorder) -> None:
        t = c.terms(salt, flags=flags)
        f = c.escrow.functions
        r.tx("createAndFund", f.createAndFund(t), c.buyer, AMOUNT)
        r.tx("dispute", f.dispute(t), c.buyer, op="dispute" if ops else None)
        r.tx("rule(50%)", f.rule(t, 5_000), c.arbiter, op="rule" if ops else None)
    return run


def _offer_happy(flags: int = 0, deposit: int = 0, *, ops: bool = False) -> Scenario:
    """fillOffer, release; with ``deposit``, the seller's bond is posted first (not counted)."""
    def run(c: _Ctx, salt: int, r: _Recorder) -> None:
        f = c.escrow.functions
        if deposit:
            r.tx("depositBond (beforehand)", f.depositBond(ETH, deposit), c.seller, deposit, counted=False)
        offer = _offer(c, salt, ETH, flags=flags, deposit=deposit)
        r.tx("fillOffer", f.fillOffer(offer, sign_offer(c, offer)), c.buyer, AMOUNT + deposit,
             op="fillOffer" if ops else None)
        r.tx("release", f.release(_offer_terms(c, offer), AMOUNT), c.buyer,
             op="offer_release" if ops else None)
    return run


def _offer_publish(c: _Ctx, salt: int, r: _Recorder) -> None:
    from eth_utils import keccak

    document = terms_document()
    offer = _offer(c, salt, ETH, terms_hash=keccak(document))
    r.tx("publishOffer", c.escrow.functions.publishOffer(offer, sign_offer(c, offer), document), c.seller,
         op="publishOffer")


def _erc20_happy(c: _Ctx, salt: int, r: _Recorder) -> None:
    token = c.tokens["standard"]
    t = c.terms(salt, token=token.address)
    f = c.escrow.functions
    r.tx("approve", token.functions.approve(c.escrow.address, AMOUNT), c.buyer, op="erc20_approve",
         counted=False)
    r.tx("createAndFund", f.createAndFund(t), c.buyer, op="erc20_createAndFund")
    r.tx("release", f.release(t, AMOUNT), c.buyer, op="erc20_release")


def _permit_happy(c: _Ctx, salt: int, r: _Recorder) -> None:
    token = c.tokens["permit"]
    t = c.terms(salt, token=token.address)
    f = c.escrow.functions
    permit = sign_permit(c, token, c.buyer, AMOUNT)
    r.tx("createAndFundWithPermit", f.createAndFundWithPermit(t, permit), c.buyer,
         op="createAndFundWithPermit")
    r.tx("release", f.release(t, AMOUNT), c.buyer, op="permit_release")


def _create_fund_partial(c: _Ctx, salt: int, r: _Recorder) -> None:
    t = c.terms(salt, flags=FLAG_CREATED_BY_SELLER)
    f = c.escrow.functions
    r.tx("create", f.create(t), c.seller, op="create")
    r.tx("fund", f.fund(t), c.buyer, AMOUNT, op="fund")
    r.tx("release(half)", f.release(t, AMOUNT // 2), c.buyer, op="release_partial")
    r.tx("release(rest)", f.release(t, AMOUNT - AMOUNT // 2), c.buyer)


def _accept(c: _Ctx, salt: int, r: _Recorder) -> None:
    # A buyer-created trade with a seller's deposit waits for the seller; accepting locks the deposit.
    t = c.terms(salt, sellerDeposit=DEPOSIT)
    f = c.escrow.functions
    r.tx("depositBond (beforehand)", f.depositBond(ETH, DEPOSIT), c.seller, DEPOSIT, counted=False)
    r.tx("createAndFund (awaits deposit)", f.createAndFund(t), c.buyer, AMOUNT,
         op="createAndFund_awaiting_deposit")
    r.tx("accept", f.accept(t), c.seller, op="accept")
    r.tx("release", f.release(t, AMOUNT), c.buyer, op="release_with_seller_deposit")


def _cancel(c: _Ctx, salt: int, r: _Recorder) -> None:
    t = c.terms(salt, flags=FLAG_CREATED_BY_SELLER)
    r.tx("create", c.escrow.functions.create(t), c.seller)
    r.tx("cancel", c.escrow.functions.cancel(t), c.seller, op="cancel")


def _delivered(c: _Ctx, salt: int, r: _Recorder) -> None:
    t = c.terms(salt)
    r.tx("createAndFund", c.escrow.functions.createAndFund(t), c.buyer, AMOUNT)
    r.tx("markDelivered", c.escrow.functions.markDelivered(t), c.seller, op="markDelivered")


def _timeout_refund(c: _Ctx, salt: int, r: _Recorder) -> None:
    t = c.terms(salt)
    r.tx("createAndFund", c.escrow.functions.createAndFund(t), c.buyer, AMOUNT)
    c.target.increase_time(RELEASE_WINDOW)
    r.tx("timeout", c.escrow.functions.timeout(t), c.buyer, op="timeout_refund")


def _settlement(c: _Ctx, salt: int, r: _Recorder) -> None:
    t = c.terms(salt)
    f = c.escrow.functions
    r.tx("createAndFund", f.createAndFund(t), c.buyer, AMOUNT)
    r.tx("proposeSettlement", f.proposeSettlement(t, 3_000), c.seller, op="proposeSettlement")
    r.tx("acceptSettlement", f.acceptSettlement(t, 3_000), c.buyer, op="acceptSettlement")


def _concede(c: _Ctx, salt: int, r: _Recorder) -> None:
    t = c.terms(salt)
    f = c.escrow.functions
    r.tx("createAndFund", f.createAndFund(t), c.buyer, AMOUNT)
    r.tx("dispute", f.dispute(t), c.buyer)
    r.tx("concede", f.concede(t), c.seller, op="concede")


def _expired_dispute(c: _Ctx, salt: int, r: _Recorder) -> None:
    t = c.terms(salt)
    f = c.escrow.functions
    r.tx("createAndFund", f.createAndFund(t), c.buyer, AMOUNT)
    r.tx("dispute", f.dispute(t), c.seller)
    r.tx("submitEvidence", f.submitEvidence(t, b"\x22" * 32, EVIDENCE_URI), c.buyer,
         op="submitEvidence")
    c.target.increase_time(ARBITRATION_WINDOW)
    r.tx("resolveExpiredDispute", f.resolveExpiredDispute(t), c.buyer, op="resolveExpiredDispute")


def _offer_permit(c: _Ctx, salt: int, r: _Recorder) -> None:
    token = c.tokens["permit"]
    offer = _offer(c, salt, token.address)
    permit = sign_permit(c, token, c.buyer, AMOUNT)
    r.tx("fillOfferWithPermit",
         c.escrow.functions.fillOfferWithPermit(offer, sign_offer(c, offer), permit), c.buyer,
         op="fillOfferWithPermit")


def _revoke(c: _Ctx, salt: int, r: _Recorder) -> None:
    r.tx("revokeOffer", c.escrow.functions.revokeOffer(10_000 + salt), c.seller, op="revokeOffer")


def _bond(c: _Ctx, salt: int, r: _Recorder) -> None:
    f = c.escrow.functions
    r.tx("depositBond", f.depositBond(ETH, DEPOSIT), c.seller, DEPOSIT, op="depositBond")
    r.tx("withdrawBond", f.withdrawBond(ETH, DEPOSIT, c.seller.address), c.seller, op="withdrawBond")


def _withdraw(c: _Ctx, salt: int, r: _Recorder) -> None:
    # A payout the seller cannot receive (blacklisted) is credited; the seller withdraws elsewhere.
    token = c.tokens["blacklist"]
    t = c.terms(salt, token=token.address)
    f = c.escrow.functions
    r.tx("approve", token.functions.approve(c.escrow.address, AMOUNT), c.buyer, counted=False)
    r.tx("createAndFund", f.createAndFund(t), c.buyer)
    r.tx("blacklist seller", token.functions.setBlacklisted(c.seller.address, True), c.owner,
         counted=False)
    r.tx("release (credited)", f.release(t, AMOUNT), c.buyer, op="release_credited")
    r.tx("withdraw", f.withdraw(token.address, c.stranger.address), c.seller, op="withdraw")
    r.tx("unblacklist seller", token.functions.setBlacklisted(c.seller.address, False), c.owner,
         counted=False)


#: Trades whose kept fees one ``sweepFees`` pays in the ``sweepFees_5`` operation.
SWEEP_BATCH = 5


def _sweep_fees(c: _Ctx, salt: int, r: _Recorder) -> None:
    # The fee of each trade's last payout stays in its slot; the sweep pays them to the recipient.
    trades = []
    for i in range(SWEEP_BATCH):
        t = c.terms(500_000 + salt * SWEEP_BATCH + i)
        c.send(c.escrow.functions.createAndFund(t), c.buyer, AMOUNT)
        c.send(c.escrow.functions.release(t, AMOUNT), c.buyer)
        trades.append(t)
    f = c.escrow.functions
    r.tx("sweepFees(1 trade)", f.sweepFees(ETH, trades[:1]), c.fee_recipient, op="sweepFees")
    r.tx(f"sweepFees({SWEEP_BATCH - 1} trades)", f.sweepFees(ETH, trades[1:]), c.fee_recipient,
         op=f"sweepFees_{SWEEP_BATCH - 1}")


def _rate(c: _Ctx, salt: int, r: _Recorder) -> None:
    offer = _offer(c, salt, ETH, flags=FLAG_RECORD_REPUTATION)
    f = c.escrow.functions
    c.send(f.fillOffer(offer, sign_offer(c, offer)), c.buyer, AMOUNT)
    t = _offer_terms(c, offer)
    c.send(f.release(t, AMOUNT), c.buyer)
    r.tx("rate (buyer)", f.rate(t, 5, b"\x33" * 32), c.buyer, op="rate")
    r.tx("rate (seller)", f.rate(t, 4, b"\x00" * 32), c.seller, op="rate_by_seller")


#: (name, scenario, is_path). Paths are reported as totals; every scenario may designate the
#: steps its operations are measured on.
SCENARIOS: tuple[tuple[str, Scenario, bool], ...] = (
    ("eth_happy_path", _happy(0, ops=True), True),
    ("eth_refund_path", _refund(0, ops=True), True),
    ("eth_timeout_path", _timeout(0, ops=True), True),
    ("eth_dispute_path", _dispute(0, ops=True), True),
    ("erc20_happy_path", _erc20_happy, True),
    ("erc20_permit_happy_path", _permit_happy, True),
    ("eth_offer_happy_path", _offer_happy(ops=True), True),
    ("eth_offer_happy_path_with_reputation", _offer_happy(FLAG_RECORD_REPUTATION), True),
    ("eth_offer_happy_path_with_deposits", _offer_happy(deposit=DEPOSIT), True),
    ("offer_publish", _offer_publish, True),
    ("create_fund_partial", _create_fund_partial, False),
    ("accept", _accept, False),
    ("cancel", _cancel, False),
    ("mark_delivered", _delivered, False),
    ("timeout_refund", _timeout_refund, False),
    ("settlement", _settlement, False),
    ("concede", _concede, False),
    ("expired_dispute", _expired_dispute, False),
    ("offer_permit", _offer_permit, False),
    ("revoke_offer", _revoke, False),
    ("bond", _bond, False),
    ("withdraw", _withdraw, False),
    ("sweep_fees", _sweep_fees, False),
    ("rate", _rate, False),
)


def measure(target: BenchTarget) -> Measurement:
    """Deploy on ``target`` and measure every scenario's second run. Deterministic: the same
    accounts on another chain with the same gas schedule give the same calldata and figures."""
    ctx = _deploy(target)
    result = Measurement(target.name)
    for name, scenario, is_path in SCENARIOS:
        scenario(ctx, next(ctx.salts), _Recorder(ctx))  # warm-up: the first trade of its kind
        recorder = _Recorder(ctx)
        scenario(ctx, next(ctx.salts), recorder)
        if is_path:
            result.paths[name] = recorder.steps
        result.ops.update(recorder.ops)
    return result


# -------------------------------------------------------------------------------------------------
# Where the gas goes (Anvil's debug_traceTransaction)
# -------------------------------------------------------------------------------------------------

BUCKETS = ("intrinsic", "storage", "calls", "events", "other")
_STORAGE_OPS = {"SLOAD", "SSTORE"}
_CALL_OPS = {"CALL", "STATICCALL", "DELEGATECALL", "CALLCODE"}
_ACCOUNT_OPS = {"BALANCE", "EXTCODESIZE", "EXTCODEHASH", "EXTCODECOPY"}
_PRECOMPILE_LIMIT = 0x100


def intrinsic_gas(calldata: bytes) -> int:
    """21,000 + 4 per zero and 16 per non-zero calldata byte (a call, no access list)."""
    zeros = calldata.count(0)
    return 21_000 + 4 * zeros + 16 * (len(calldata) - zeros)


def calldata_floor(calldata: bytes) -> int:
    """EIP-7623's least gas for a transaction with ``calldata``: 21,000 + 10 per calldata token
    (a zero byte is one token, a non-zero byte four)."""
    zeros = calldata.count(0)
    return 21_000 + 10 * (zeros + 4 * (len(calldata) - zeros))


def attribute(struct_logs: Sequence[dict[str, Any]], calldata: bytes, gas_used: int
              ) -> dict[str, int]:
    """Split a transaction's gasUsed into BUCKETS from its struct logs.

    A step's own cost is the drop in gas to the next step of the same frame; for a call, minus
    what its callee's steps used (so the callee's SSTOREs count as storage, not as the call).
    The last step of a frame costs its ``gasCost``. Calls keep account access (cold/warm), value
    transfer and new-account charges; precompiles (ecrecover) go to ``other``. The SSTORE refund
    is ``intrinsic + execution - gasUsed`` and is subtracted from ``storage``; a transaction that
    pays EIP-7623's calldata floor instead has the difference added to ``intrinsic``.
    """
    n = len(struct_logs)
    inclusive = [0] * n
    callee = [0] * n  # gas used by the frame a call step opened
    pending: dict[int, int] = {}  # depth -> last step at that depth whose cost is still unknown
    opener: dict[int, int] = {}  # depth -> the call step that opened the current frame there
    for i, s in enumerate(struct_logs):
        depth = int(s["depth"])
        for deeper in [d for d in pending if d > depth]:
            j = pending.pop(deeper)
            inclusive[j] = int(struct_logs[j]["gasCost"])
        if depth in pending:
            j = pending.pop(depth)
            inclusive[j] = int(struct_logs[j]["gas"]) - int(s["gas"])
        if i > 0 and depth == int(struct_logs[i - 1]["depth"]) + 1:
            opener[depth] = i - 1
        pending[depth] = i
    for j in pending.values():
        inclusive[j] = int(struct_logs[j]["gasCost"])
    top = min((int(s["depth"]) for s in struct_logs), default=1)
    for i, s in enumerate(struct_logs):
        depth = int(s["depth"])
        if depth > top:
            callee[opener[depth]] += inclusive[i]

    buckets = dict.fromkeys(BUCKETS, 0)
    buckets["intrinsic"] = intrinsic_gas(calldata)
    execution = 0
    for i, s in enumerate(struct_logs):
        if int(s["depth"]) == top:
            execution += inclusive[i]
        own = inclusive[i] - callee[i]
        op = s["op"]
        if op in _STORAGE_OPS:
            buckets["storage"] += own
        elif op in _CALL_OPS:
            stack = s.get("stack") or []
            target = int(stack[-2], 16) if len(stack) >= 2 else _PRECOMPILE_LIMIT
            buckets["calls" if target >= _PRECOMPILE_LIMIT or target == 0 else "other"] += own
        elif op in _ACCOUNT_OPS:
            buckets["calls"] += own
        elif op.startswith("LOG"):
            buckets["events"] += own
        else:
            buckets["other"] += own
    refund = buckets["intrinsic"] + execution - gas_used
    floor = calldata_floor(calldata)
    if refund < 0 and gas_used == floor:
        # EIP-7623 (Prague): a calldata-heavy transaction pays the floor price for its calldata.
        buckets["intrinsic"] += floor - (buckets["intrinsic"] + execution)
        refund = 0
    if not 0 <= refund <= (buckets["intrinsic"] + execution) // 5:
        raise RuntimeError(f"trace does not add up: intrinsic + execution - gasUsed = {refund}")
    buckets["storage"] -= refund
    return buckets


def trace_buckets(w3: Any, step: Step) -> dict[str, int]:
    """Buckets of one benchmark transaction, traced on the node (Anvil, geth)."""
    response = w3.provider.make_request(
        "debug_traceTransaction",
        [step.tx_hash, {"disableStorage": True, "enableMemory": False, "disableStack": False}])
    if "result" not in response:
        raise RuntimeError(f"debug_traceTransaction failed: {response.get('error')}")
    tx = w3.eth.get_transaction(step.tx_hash)
    return attribute(response["result"]["structLogs"], bytes(tx["input"]), step.gas)


def attribute_measurement(w3: Any, m: Measurement) -> dict[str, dict[str, int]]:
    """Buckets per path (summed over its counted steps) and per operation."""
    out: dict[str, dict[str, int]] = {}
    for name, steps in m.paths.items():
        total: dict[str, int] = defaultdict(int)
        for step in steps:
            if step.counted:
                for bucket, gas in trace_buckets(w3, step).items():
                    total[bucket] += gas
        out[name] = dict(total)
    for name, step in m.ops.items():
        out[f"op.{name}"] = trace_buckets(w3, step)
    return out


# -------------------------------------------------------------------------------------------------
# Running on Anvil, reporting
# -------------------------------------------------------------------------------------------------


def anvil_target(url: str, accounts: Sequence[DevKey]) -> BenchTarget:
    from web3 import Web3
    from web3.types import RPCEndpoint

    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 60}))

    def increase_time(seconds: int) -> None:
        w3.provider.make_request(RPCEndpoint("evm_increaseTime"), [seconds])
        w3.provider.make_request(RPCEndpoint("evm_mine"), [])

    return BenchTarget(w3, accounts, increase_time, "anvil")


def report(m: Measurement, buckets: dict[str, dict[str, int]] | None) -> dict[str, Any]:
    """Everything as one JSON-able document."""
    figures = m.flat()
    doc: dict[str, Any] = {
        "chain": m.chain,
        "platformFeeBps": PLATFORM_FEE_BPS,
        "figures": figures,
        "paths": {name: {"total": m.path_total(name),
                         "steps": [{"label": s.label, "gas": s.gas, "counted": s.counted}
                                   for s in steps],
                         "bound": bound(name, figures),
                         "peers": {p: f[name] for p, f in PEERS.items() if name in f}}
                  for name, steps in m.paths.items()},
        "overBound": {name: {"gas": gas, "bound": limit} for name, (gas, limit) in over_bound(figures).items()},
        "reputationAddon": m.reputation_addon(),
        "reputationAddonBound": REPUTATION_ADDON_BOUND,
        "peerSources": PEER_SOURCES,
    }
    if buckets is not None:
        doc["buckets"] = buckets
    return doc


def _fmt(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def format_report(m: Measurement, buckets: dict[str, dict[str, int]] | None) -> str:
    lines: list[str] = []
    peers = list(PEERS)
    figures = m.flat()
    head = f"{'path':36} {'gas':>9} {'at most':>9} {'vs bound':>10}" + "".join(
        f" {p:>14}" for p in peers)
    lines += [f"Gas per path on {m.chain} (second trade on the deployment, 1 ETH / 1 token, "
              f"{PLATFORM_FEE_BPS} bps platform fee)", head, "-" * len(head)]
    for name in m.paths:
        gas = m.path_total(name)
        limit = bound(name, figures)
        delta = "" if limit is None else f"{gas - limit:+,}" + (" OVER" if gas > limit else "")
        lines.append(f"{name:36} {gas:>9,} {_fmt(limit):>9} {delta:>10}" + "".join(
            f" {_fmt(PEERS[p].get(name)):>14}" for p in peers))
        for step in m.paths[name]:
            note = "" if step.counted else "  (not counted)"
            lines.append(f"    {step.label:30} {step.gas:>9,}{note}")
    lines += ["Peers: " + "; ".join(f"{p}: {source}" for p, source in PEER_SOURCES.items())]
    lines += ["", "What recording reputation adds "
              f"(at most {REPUTATION_ADDON_BOUND:,} on {REPUTATION_BOUND_PATH})"]
    for name, extra in m.reputation_addon().items():
        lines.append(f"    {name:30} {extra:>+9,}")
    lines += ["", "Single operations", "-" * 44]
    for name, step in sorted(m.ops.items()):
        lines.append(f"    {name:30} {step.gas:>9,}")
    if buckets is not None:
        head = f"{'where the gas goes':34}" + "".join(f" {b:>10}" for b in BUCKETS) + f" {'sum':>9}"
        lines += ["", head, "-" * len(head)]
        for name in [*m.paths, *sorted(f"op.{o}" for o in m.ops)]:
            b = buckets[name]
            lines.append(f"{name:34}" + "".join(f" {b[k]:>10,}" for k in BUCKETS)
                         + f" {sum(b.values()):>9,}")
        lines += ["storage = SLOAD/SSTORE net of the refund; calls = account access, value "
                  "transfer (CALL*, EXTCODE*); events = LOG*; other = the rest (incl. ecrecover)."]
    return "\n".join(lines)


#: README's Gas table: key, what the path is, and the peers' figures (LocalEthereum, Kleros).
README_ROWS: tuple[tuple[str, str, str, str], ...] = (
    ("eth_happy_path", "ETH createAndFund, release", "99,877 (97,065 without its fee)", "110,631"),
    ("eth_refund_path", "ETH createAndFund, refund", "96,724", "110,629"),
    ("eth_timeout_path", "ETH createAndFund, timeout pays the seller", "94,354", "107,590"),
    ("eth_dispute_path", "ETH createAndFund, dispute, ruled 50/50 (three payouts)", "138,569", "465,919"),
    ("erc20_happy_path", "ERC-20 createAndFund, release (approve not counted)", "-", "150,288"),
    ("erc20_permit_happy_path", "ERC-20 with an EIP-2612 permit, no approve", "-", "-"),
    ("eth_offer_happy_path", "ETH fillOffer, release", "-", "-"),
    ("eth_offer_happy_path_with_reputation", "the same, recording reputation (ETH listed, the seller signed)", "-",
     "-"),
    ("eth_offer_happy_path_with_deposits",
     "the same with both deposits (seller's bond posted beforehand, not counted)", "-", "-"),
    ("offer_publish", "publishOffer, a typical listing (~300 bytes of terms)", "-", "-"),
)


def readme_table(figures: dict[str, int]) -> str:
    """README's Gas table for ``figures`` (the snapshot's, or a run's): ``--readme`` prints it, and
    ``tests/tooling/test_gas_snapshot.py`` holds README to the snapshot with it."""
    lines = ["| key | path | gas | at most | LocalEthereum | Kleros escrow-contracts |",
             "|---|---|---|---|---|---|"]
    for key, label, local_ethereum, kleros in README_ROWS:
        gas = f"{figures[key]:,}"
        if key == f"{REPUTATION_BOUND_PATH}_with_reputation":
            gas += f" (+{figures[key] - figures[REPUTATION_BOUND_PATH]:,})"
            limit = f"offer + {REPUTATION_ADDON_BOUND:,} = {bound(key, figures):,}"
        else:
            limit = "stated" if key in STATED else f"{BOUNDS[key]:,}"
        lines.append(f"| `{key}` | {label} | {gas} | {limit} | {local_ethereum} | {kleros} |")
    return "\n".join(lines)


def write_snapshot(figures: dict[str, int], path: Path = SNAPSHOT_PATH) -> None:
    path.write_text(json.dumps(dict(sorted(figures.items())), indent=2) + "\n", encoding="utf-8")


#: ``market-search``: the market section's searches alone, on the cached synced index (seconds, not
#: the full sync's minutes; see :func:`tools.bench_market.run_search`).
SECTIONS = ("gas", "sdk", "cli", "market", "market-search")


def _sections(value: str) -> list[str]:
    chosen = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [v for v in chosen if v not in SECTIONS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(SECTIONS)} (comma-separated)")
    return chosen


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__.split(
        "\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", metavar="PATH", help="write the figures as JSON (- for stdout)")
    parser.add_argument("--readme", action="store_true",
                        help="print README's Gas table from this run's figures (after the report)")
    parser.add_argument("--update-snapshot", action="store_true",
                        help=f"rewrite {SNAPSHOT_PATH.relative_to(SNAPSHOT_PATH.parent.parent)}")
    parser.add_argument("--no-trace", action="store_true",
                        help="skip the per-bucket attribution (debug_traceTransaction)")
    parser.add_argument("--only", type=_sections, metavar="SECTIONS",
                        default=[s for s in SECTIONS if s != "market-search"],
                        help="gas, sdk, cli, market and/or market-search, comma-separated (default: all but "
                             "market-search, which market includes)")
    parser.add_argument("--postgres", action="store_true",
                        help="market-search: PostgreSQL too (the cached index's rows copied into it)")
    args = parser.parse_args(argv)
    if (args.update_snapshot or args.readme) and "gas" not in args.only:
        parser.error("--update-snapshot and --readme need the gas section")

    doc: dict[str, Any] = {}
    texts: list[str] = []
    measurement = None
    if "gas" in args.only:
        from p2pescrow.node.process import start_node

        # --steps-tracing: Anvil records the per-opcode steps debug_traceTransaction returns.
        with start_node("anvil", extra_args=[] if args.no_trace else ["--steps-tracing"]) as node:
            target = anvil_target(node.url, node.accounts)
            measurement = measure(target)
            buckets = None if args.no_trace else attribute_measurement(target.w3, measurement)
        doc.update(report(measurement, buckets))
        texts.append(format_report(measurement, buckets))
    if "sdk" in args.only:
        from tools import bench_speed

        doc["sdk"] = bench_speed.run()
        texts.append(bench_speed.format_report(doc["sdk"]))
    if "cli" in args.only:
        from tools import bench_cli

        doc["cli"] = bench_cli.run()
        texts.append(bench_cli.format_report(doc["cli"]))
    if "market" in args.only:
        from tools import bench_market

        doc["market"] = bench_market.run()
        texts.append(bench_market.format_report(doc["market"]))
    if "market-search" in args.only:
        from tools import bench_market

        doc["market_search"] = bench_market.run_search(postgres=args.postgres)
        texts.append(bench_market.format_search_report(doc["market_search"]))
    if args.json == "-":
        json.dump(doc, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print("\n\n".join(texts))
        if args.json:
            Path(args.json).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
            print(f"\nwrote {args.json}")
    if args.readme and measurement is not None:
        print("\n" + readme_table(measurement.flat()), file=sys.stderr if args.json == "-" else sys.stdout)
    if args.update_snapshot and measurement is not None:
        write_snapshot(measurement.flat())
        print(f"wrote {SNAPSHOT_PATH}", file=sys.stderr if args.json == "-" else sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
