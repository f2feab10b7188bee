"""A busy escrow on Anvil for the market benchmarks: thousands of trades and published offers, made
deterministically and cached under ``.build/`` so that later runs load the chain in seconds.

``python -m tools.market_fixture`` (``--trades``, ``--offers``, ``--refresh``) builds (or loads) it
and prints what it holds; :func:`fixture_chain` is what ``python -m tools.bench --only market``
(:mod:`tools.bench_market`) and its test use.

What is on the chain (the defaults: issue 13, item 8):

* P2PEscrow (and its Reputation) deployed by dev account 0 with a 0.25% platform fee, ETH listed as a
  reputation asset (minimum 0.001 ETH), every seller's ETH bond posted (50 ETH);
* :attr:`FixtureConfig.offers` offers published on the board (``publishOffer``, sent by their seller),
  each with a terms document (title, description, category, tags, payment method, fiat price) whose
  keccak256 is the signed ``termsHash``; :attr:`FixtureConfig.closed_offers` of them (every fifth
  from the start) are closed: half filled by a buyer (``fillOffer``), half revoked by their seller;
* :attr:`FixtureConfig.trades` trades in all (the filled offers are among them, the rest made with
  ``createAndFund``), ending as 60% released, 15% refunded, 10% timed out, 10% disputed and ruled by
  the arbiter, 5% settled (proposed by the seller, accepted by the buyer): trade ``k`` ends per
  :data:`OUTCOMES` ``[k % 20]``.

The work goes in rounds of half a day of chain time: each round publishes its share of the offers,
fills and revokes the previous round's, creates its share of the trades and moves the earlier rounds'
trades one step on (release / refund / dispute / propose one round later, rule / accept two rounds
later, the timeouts once their release window has passed). Every transaction is built and signed
locally (fixed gas and gas price, nonces counted locally), sent raw in JSON-RPC batches without
waiting, and mined with ``evm_mine`` at a fixed timestamp into blocks of at most
:attr:`FixtureConfig.block_txs` transactions (Anvil runs with ``--no-mining``); the receipts are read
after each round (``eth_getBlockReceipts``) and any failed one stops the run. Within a block the gas
price falls by one wei per position, so Anvil's fee ordering keeps the order they were sent in:
the same configuration always gives the same blocks, down to the last block hash.

The cache: ``.build/market-fixture/<key>.state.json`` (Anvil's ``anvil_dumpState``, unzipped: accounts,
storage, blocks, transactions, receipts; Anvil loads it at start with ``--load-state``) and
``<key>.json`` (the deployment, counts, head). The key hashes the
configuration, this generator's version and the contracts' bytecode, so a change to either makes a
new chain. A load is checked against the recorded head block hash.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = ROOT / ".build" / "market-fixture"
#: Bump when the generator makes a different chain for the same configuration.
GENERATOR_VERSION = 2

ETH = "0x" + "00" * 20
ETHER = 10**18
PLATFORM_FEE_BPS = 25
FLAG_TIMEOUT_RELEASES = 1
FLAG_RECORD_REPUTATION = 2
FLAG_CREATED_BY_SELLER = 4
HOUR, DAY = 3_600, 86_400
#: 2026-01-01T00:00:00Z: the genesis block's timestamp.
GENESIS = 1_767_225_600
ROUND_SECONDS = 12 * HOUR
BLOCK_SECONDS = 12
TX_GAS = 1_000_000
GAS_PRICE = 2 * 10**9
#: Anvil's block gas limit: far above any block here, so the base fee only falls.
BLOCK_GAS_LIMIT = 2_000_000_000
BOND = 50 * ETHER
REPUTATION_MIN = ETHER // 1000
#: Accounts: dev 0 deploys and owns; the rest by role (dev 1 is a buyer: ``--account dev1``).
ACCOUNTS = 64
BUYERS = (*range(1, 10), *range(40, 61))
SELLERS = tuple(range(10, 40))
ARBITERS = (61, 62, 63)
#: How trade k ends: OUTCOMES[k % 20] (12 released, 3 refunded, 2 timed out, 2 ruled, 1 settled).
OUTCOMES = ("released",) * 12 + ("refunded",) * 3 + ("timed_out",) * 2 + ("ruled",) * 2 + ("settled",)
#: Rounds a trade waits before its timeout (its release window is at most 7 days; a round is 12 h).
TIMEOUT_ROUNDS = 16
MAX_RELEASE_WINDOW = 7 * DAY

CATEGORIES = ("electronics", "books", "services", "crypto", "gift-cards", "games", "home", "fashion",
              "tickets", "collectibles")
PAYMENT_METHODS = ("SEPA", "bank transfer", "cash in person", "PayPal", "Revolut", "Wise", "gift card")
CURRENCIES = ("EUR", "USD", "GBP", "CHF")
NOUNS = ("laptop", "camera", "bicycle", "phone", "headphones", "monitor", "keyboard", "novel", "lesson",
         "translation", "logo design", "voucher", "console", "watch", "jacket", "ticket", "coin", "stamp",
         "lamp", "chair", "tablet", "drone", "speaker", "guitar", "printer", "router", "card", "poster")
ADJECTIVES = ("used", "new", "refurbished", "vintage", "rare", "boxed", "signed", "compact", "wireless",
              "handmade", "limited", "classic", "portable", "premium", "spare")
WORDS = ("fast", "shipping", "tracked", "pickup", "warranty", "original", "receipt", "mint", "tested",
         "works", "perfectly", "scratch", "free", "delivery", "europe", "worldwide", "invoice", "included",
         "charger", "manual", "case", "remote", "same", "day", "escrow", "only", "negotiable", "bundle")


@dataclass(frozen=True)
class FixtureConfig:
    """What to generate. The defaults are the issue's sizes."""

    trades: int = 10_000
    offers: int = 10_000
    closed_offers: int = 2_000
    #: Trades created per round (half a day of chain time).
    trades_per_round: int = 200
    block_txs: int = 50
    seed: int = 13

    def __post_init__(self) -> None:
        filled = self.closed_offers - self.closed_offers // 2
        if self.closed_offers > (self.offers + 4) // 5:
            raise ValueError("closed_offers: at most every fifth offer can be closed")
        if filled > self.trades:
            raise ValueError("more filled offers than trades")

    @property
    def rounds(self) -> int:
        """Rounds that create trades (more follow, to end them)."""
        return max(1, -(-self.trades // self.trades_per_round))

    @property
    def offers_per_round(self) -> int:
        return max(1, -(-self.offers // self.rounds))

    @property
    def filled_offers(self) -> int:
        """Closed offers that were filled (the rest were revoked)."""
        return self.closed_offers - self.closed_offers // 2

    def key(self, code_hash: str) -> str:
        blob = json.dumps({"config": asdict(self), "version": GENERATOR_VERSION, "code": code_hash},
                          sort_keys=True)
        return f"t{self.trades}-o{self.offers}-" + hashlib.sha256(blob.encode()).hexdigest()[:12]


@dataclass
class Fixture:
    """A running Anvil holding the generated chain."""

    url: str
    config: FixtureConfig
    deployment: Any  # p2pescrow.deployments.Deployment
    head: int
    head_hash: str
    now: int  # the head block's timestamp
    counts: dict[str, int]
    me: str  # dev 1's address: a buyer in many trades
    me_name: str = "dev1"
    loaded: bool = False  # from the cache
    seconds: float = 0.0  # generating, or loading
    state_bytes: int = 0
    accounts: list[Any] = field(default_factory=list, repr=False)


# -------------------------------------------------------------------------------------------------
# Encoding and signing, without web3 (it is the hot loop)
# -------------------------------------------------------------------------------------------------

#: The Terms and Offer structs as ABI tuples (fields in the contract's order).
TERMS_TYPE = ("(address,address,address,address,uint128,uint128,uint128,uint16,uint16,uint32,uint32,uint32,uint8,"
              "bytes32,uint256)")
OFFER_TYPE = ("(address,address,address,address,uint128,uint128,uint128,uint16,uint16,uint32,uint32,uint8,bytes32,"
              "uint256,uint64)")


def _selector(signature: str) -> bytes:
    from eth_utils import keccak

    return keccak(text=signature)[:4]


class Calls:
    """The calldata of the escrow functions the generator sends."""

    def __init__(self) -> None:
        t, o = TERMS_TYPE, OFFER_TYPE
        self.sel = {name: _selector(sig) for name, sig in {
            "createAndFund": f"createAndFund({t})", "release": f"release({t},uint256)",
            "refund": f"refund({t},uint256)", "timeout": f"timeout({t})", "dispute": f"dispute({t})",
            "rule": f"rule({t},uint16)", "proposeSettlement": f"proposeSettlement({t},uint16)",
            "acceptSettlement": f"acceptSettlement({t},uint16)", "fillOffer": f"fillOffer({o},bytes)",
            "revokeOffer": "revokeOffer(uint256)", "publishOffer": f"publishOffer({o},bytes,bytes)",
            "depositBond": "depositBond(address,uint256)",
            "setReputationAsset": "setReputationAsset(address,bool,uint128)"}.items()}

    def data(self, name: str, types: list[str], args: list[Any]) -> bytes:
        from eth_abi import encode

        return self.sel[name] + encode(types, args)

    def on_trade(self, name: str, terms: tuple[Any, ...], *extra: tuple[str, Any]) -> bytes:
        return self.data(name, [TERMS_TYPE, *(t for t, _ in extra)], [terms, *(v for _, v in extra)])


class OfferSigner:
    """EIP-712 digests of offers computed directly (the same bytes as :func:`p2pescrow.core.offers.sign_offer`
    signs, checked by the test), signed with the seller's key."""

    def __init__(self, chain_id: int, escrow: str) -> None:
        from eth_abi import encode
        from eth_utils import keccak

        from p2pescrow.core.offers import DOMAIN_NAME, DOMAIN_VERSION, OFFER_FIELDS

        self._keccak, self._encode = keccak, encode
        domain_type = keccak(text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
        self.domain = keccak(encode(["bytes32", "bytes32", "bytes32", "uint256", "address"], [
            domain_type, keccak(text=DOMAIN_NAME), keccak(text=DOMAIN_VERSION), chain_id, escrow]))
        self.types = [f["type"] for f in OFFER_FIELDS]
        self.typehash = keccak(text="Offer(" + ",".join(f"{f['type']} {f['name']}" for f in OFFER_FIELDS) + ")")

    def digest(self, offer: tuple[Any, ...]) -> bytes:
        struct = self._keccak(self.typehash + self._encode(self.types, list(offer)))
        return self._keccak(b"\x19\x01" + self.domain + struct)

    def sign(self, offer: tuple[Any, ...], account: Any) -> bytes:
        return bytes(account.unsafe_sign_hash(self.digest(offer)).signature)


# -------------------------------------------------------------------------------------------------
# What the chain holds, decided up front (the same for a seed, whatever the node does)
# -------------------------------------------------------------------------------------------------


def round_time(r: int) -> int:
    """When round ``r``'s first block is mined."""
    return GENESIS + HOUR + r * ROUND_SECONDS


def _document(rng: random.Random, i: int) -> dict[str, Any]:
    noun, adjective = rng.choice(NOUNS), rng.choice(ADJECTIVES)
    words = rng.sample(WORDS, 8)
    return {"title": f"{adjective} {noun} #{i}",
            "description": f"{adjective} {noun}: " + " ".join(words),
            "category": rng.choice(CATEGORIES),
            "tags": sorted({noun.split()[0], adjective, rng.choice(WORDS)}),
            "payment_method": rng.choice(PAYMENT_METHODS),
            "fiat_price": f"{rng.randrange(5, 2000)} {rng.choice(CURRENCIES)}"}


@dataclass
class PlannedOffer:
    index: int
    seller: int  # account index
    fields: tuple[Any, ...]  # the Offer struct, in OFFER_FIELDS order
    document: bytes
    closed: str | None  # "filled" | "revoked" | None


@dataclass
class PlannedTrade:
    index: int
    buyer: int
    seller: int
    arbiter: int | None
    terms: tuple[Any, ...]
    outcome: str
    offer: PlannedOffer | None = None  # made by filling this offer


def plan(cfg: FixtureConfig, addresses: list[str], escrow: str) -> tuple[list[PlannedOffer], list[PlannedTrade]]:
    """Every offer and trade: parties, terms, documents, outcomes (no signature yet)."""
    from eth_utils import keccak

    from p2pescrow.core.offers import terms_document

    rng = random.Random(cfg.seed)
    per_round = cfg.offers_per_round
    offers: list[PlannedOffer] = []
    closed = 0
    amounts = [ETHER // 100 * k for k in (1, 2, 5, 10, 20, 25, 50, 75, 100, 150, 200)]
    for i in range(cfg.offers):
        seller = rng.choice(SELLERS)  # not i % 30: every fifth offer is closed, and each seller must have open ones
        document = terms_document(_document(rng, i))
        amount = rng.choice(amounts)
        is_closed = i % 5 == 0 and closed < cfg.closed_offers
        # Closed offers always name an arbiter (a filled one may end in a dispute); 1 in 5 others none.
        arbiter = ARBITERS[i % len(ARBITERS)] if is_closed or i % 5 != 3 else None
        fields_ = (addresses[seller], ETH, ETH, addresses[arbiter] if arbiter is not None else ETH, amount,
                   rng.choice((0, 0, amount // 20)), rng.choice((0, amount // 10)),
                   rng.choice((50, 100, 150, 200)) if arbiter is not None else 0, PLATFORM_FEE_BPS,
                   rng.choice((1, 3, 5, 7)) * DAY, 7 * DAY,
                   FLAG_RECORD_REPUTATION | (FLAG_TIMEOUT_RELEASES if i % 7 == 0 else 0), keccak(document),
                   1_000_000 + i, round_time(i // per_round) + rng.randrange(10, 365) * DAY)
        fields_ = (fields_[0], ETH, *fields_[2:])  # anyone may fill (buyer = zero)
        state = None
        if is_closed:
            state = "filled" if closed % 2 == 0 else "revoked"
            closed += 1
        offers.append(PlannedOffer(i, seller, fields_, document, state))

    trades: list[PlannedTrade] = []
    filled = [o for o in offers if o.closed == "filled"]
    for k in range(cfg.trades):
        buyer = BUYERS[k % len(BUYERS)]
        outcome = OUTCOMES[k % len(OUTCOMES)]
        if k < len(filled):
            o = filled[k]
            f = o.fields
            terms = (addresses[buyer], f[0], f[2], f[3], f[4], f[5], f[6], f[7], f[8], 0, f[9], f[10],
                     f[11] | FLAG_CREATED_BY_SELLER, f[12], f[13])
            arbiter = next(a for a in ARBITERS if addresses[a] == f[3])  # closed offers all name one
            trades.append(PlannedTrade(k, buyer, o.seller, arbiter, terms, outcome, o))
            continue
        seller = SELLERS[(k * 7) % len(SELLERS)]
        needs_arbiter = outcome == "ruled" or k % 3 != 0
        arbiter = ARBITERS[k % len(ARBITERS)] if needs_arbiter else None
        amount = rng.choice(amounts)
        terms = (addresses[buyer], addresses[seller], ETH, addresses[arbiter] if arbiter is not None else ETH,
                 amount, rng.choice((0, 0, amount // 20)), 0, 100 if arbiter is not None else 0, PLATFORM_FEE_BPS,
                 DAY, rng.choice((1, 3, 7)) * DAY, 7 * DAY,
                 FLAG_RECORD_REPUTATION | (FLAG_TIMEOUT_RELEASES if k % 11 == 0 else 0),
                 keccak(text=f"trade {k}"), 2_000_000 + k)
        trades.append(PlannedTrade(k, buyer, seller, arbiter, terms, outcome))
    return offers, trades


# -------------------------------------------------------------------------------------------------
# Sending: signed locally, raw, pipelined; mined at fixed timestamps; receipts after
# -------------------------------------------------------------------------------------------------


class Sender:
    """Builds, signs and sends raw transactions in order; :meth:`mine` puts what was queued into
    blocks (at most ``block_txs`` each) and checks every receipt."""

    def __init__(self, url: str, keys: list[Any], chain_id: int, block_txs: int, start_time: int) -> None:
        from p2pescrow.transport.rpc import RpcClient

        self.rpc = RpcClient(url, timeout=600)
        self.keys = keys
        self.chain_id = chain_id
        self.block_txs = block_txs
        self.nonces: dict[int, int] = defaultdict(int)
        self.queue: list[tuple[int, str, bytes, int, str]] = []  # (account, to, data, value, label)
        self.time = start_time
        self.sent = 0
        self.blocks = 0

    def add(self, account: int, to: str, data: bytes, value: int = 0, label: str = "") -> None:
        self.queue.append((account, to, data, value, label))

    def mine(self, at: int | None = None) -> None:
        """Send the queue in blocks; the first block at ``at`` (default: 12 s after the last)."""
        if at is not None:
            self.time = max(at, self.time + BLOCK_SECONDS)
        else:
            self.time += BLOCK_SECONDS
        queue, self.queue = self.queue, []
        labels: dict[str, str] = {}
        first_block = None
        for start in range(0, len(queue), self.block_txs):
            chunk = queue[start:start + self.block_txs]
            raws = []
            for position, (account, to, data, value, label) in enumerate(chunk):
                tx = {"to": to, "data": data, "value": value, "gas": TX_GAS, "chainId": self.chain_id,
                      # falls by one wei per position: Anvil's fee order is then the order sent
                      "gasPrice": GAS_PRICE + self.block_txs - position, "nonce": self.nonces[account]}
                self.nonces[account] += 1
                signed = self.keys[account].sign_transaction(tx)
                raws.append(("eth_sendRawTransaction", ["0x" + bytes(signed.raw_transaction).hex()]))
                labels["0x" + bytes(signed.hash).hex()] = label
            self.rpc.batch(raws)
            self.rpc.request("evm_mine", [self.time])
            self.blocks += 1
            if first_block is None:
                first_block = int(self.rpc.request("eth_blockNumber"), 16)
            self.time += BLOCK_SECONDS
            self.sent += len(chunk)
        self.time -= BLOCK_SECONDS
        if first_block is not None:
            self._check(first_block, labels)

    def _check(self, first_block: int, labels: dict[str, str]) -> None:
        head = int(self.rpc.request("eth_blockNumber"), 16)
        blocks = self.rpc.batch([("eth_getBlockReceipts", [hex(n)]) for n in range(first_block, head + 1)])
        seen = 0
        for receipts in blocks:
            for r in receipts or []:
                seen += 1
                if int(r["status"], 16) != 1:
                    raise RuntimeError(f"fixture transaction {labels.get(r['transactionHash'], '?')} reverted "
                                       f"(block {int(r['blockNumber'], 16)}, tx {r['transactionHash']})")
        if seen != len(labels):
            raise RuntimeError(f"fixture: {len(labels)} transactions sent, {seen} mined (blocks {first_block}..{head})")

    def deploy(self, account: int, code: bytes) -> None:
        """A contract creation (to = none), mined on its own."""
        tx = {"data": code, "value": 0, "gas": 10_000_000, "gasPrice": GAS_PRICE, "chainId": self.chain_id,
              "nonce": self.nonces[account]}
        self.nonces[account] += 1
        signed = self.keys[account].sign_transaction(tx)
        self.rpc.request("eth_sendRawTransaction", ["0x" + bytes(signed.raw_transaction).hex()])
        self.time += BLOCK_SECONDS
        self.rpc.request("evm_mine", [self.time])
        receipt = self.rpc.request("eth_getTransactionReceipt", ["0x" + bytes(signed.hash).hex()])
        if not receipt or int(receipt["status"], 16) != 1:
            raise RuntimeError("fixture: deploying P2PEscrow failed")


def generate(url: str, cfg: FixtureConfig, dev: list[Any],
             progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Deploy and fill the chain at ``url`` (an Anvil started by :func:`anvil_args`); the record to
    cache: deployment fields and counts."""
    from eth_account import Account
    from eth_utils import to_checksum_address
    from web3.utils.address import get_create_address

    from p2pescrow._artifacts import load_artifact
    from p2pescrow.deployments import deploy_data

    say = progress or (lambda _line: None)
    keys = [Account.from_key(d.private_key) for d in dev]
    addresses = [k.address for k in keys]
    chain_id = 31337
    sender = Sender(url, keys, chain_id, cfg.block_txs, GENESIS)
    owner = addresses[0]
    sender.deploy(0, bytes.fromhex(deploy_data(load_artifact("P2PEscrow"), owner, owner, PLATFORM_FEE_BPS)
                                   .removeprefix("0x")))
    deploy_block = int(sender.rpc.request("eth_blockNumber"), 16)
    escrow = to_checksum_address(get_create_address(owner, 0))
    calls = Calls()
    sender.add(0, escrow, calls.data("setReputationAsset", ["address", "bool", "uint128"], [ETH, True, REPUTATION_MIN]),
               label="setReputationAsset")
    for s in SELLERS:
        sender.add(s, escrow, calls.data("depositBond", ["address", "uint256"], [ETH, BOND]), BOND, "depositBond")
    sender.mine()

    offers, trades = plan(cfg, addresses, escrow)
    signer = OfferSigner(chain_id, escrow)
    rounds, offers_per_round = cfg.rounds, cfg.offers_per_round
    filled_trade = {t.offer.index: t for t in trades if t.offer is not None}
    direct = [t for t in trades if t.offer is None]
    direct_per_round = -(-len(direct) // rounds) if direct else 0
    started: dict[int, list[PlannedTrade]] = defaultdict(list)  # round -> trades that went live in it
    counts: dict[str, int] = defaultdict(int)
    t0 = time.perf_counter()
    last = rounds + TIMEOUT_ROUNDS + 1
    for r in range(last):
        # 1. this round's offers on the board; the previous round's closed ones filled or revoked
        for o in offers[r * offers_per_round:(r + 1) * offers_per_round]:
            signature = signer.sign(o.fields, keys[o.seller])
            sender.add(o.seller, escrow, calls.data("publishOffer", [OFFER_TYPE, "bytes", "bytes"],
                                                    [o.fields, signature, o.document]), label=f"publishOffer {o.index}")
            counts["offers_published"] += 1
        for o in offers[(r - 1) * offers_per_round:r * offers_per_round] if r else []:
            if o.closed == "revoked":
                sender.add(o.seller, escrow, calls.data("revokeOffer", ["uint256"], [o.fields[13]]),
                           label=f"revokeOffer {o.index}")
                counts["offers_revoked"] += 1
            elif o.closed == "filled":
                t = filled_trade[o.index]
                f = o.fields
                signature = signer.sign(f, keys[o.seller])
                sender.add(t.buyer, escrow, calls.data("fillOffer", [OFFER_TYPE, "bytes"], [f, signature]),
                           f[4] + f[5], f"fillOffer {o.index}")
                counts["offers_filled"] += 1
                started[r].append(t)
        # 2. this round's direct trades
        for t in direct[r * direct_per_round:(r + 1) * direct_per_round]:
            sender.add(t.buyer, escrow, calls.on_trade("createAndFund", t.terms), t.terms[4] + t.terms[5],
                       f"createAndFund {t.index}")
            started[r].append(t)
        # 3. earlier rounds' trades, one step on
        for t in started.get(r - 1, []):
            amount = t.terms[4]
            if t.outcome == "released":
                sender.add(t.buyer, escrow, calls.on_trade("release", t.terms, ("uint256", amount)),
                           label=f"release {t.index}")
            elif t.outcome == "refunded":
                sender.add(t.seller, escrow, calls.on_trade("refund", t.terms, ("uint256", amount)),
                           label=f"refund {t.index}")
            elif t.outcome == "ruled":
                sender.add(t.buyer, escrow, calls.on_trade("dispute", t.terms), label=f"dispute {t.index}")
            elif t.outcome == "settled":
                sender.add(t.seller, escrow, calls.on_trade("proposeSettlement", t.terms, ("uint16", 4_000)),
                           label=f"proposeSettlement {t.index}")
        for t in started.get(r - 2, []):
            if t.outcome == "ruled":
                assert t.arbiter is not None
                bps = (0, 2_500, 5_000, 10_000)[t.index % 4]
                sender.add(t.arbiter, escrow, calls.on_trade("rule", t.terms, ("uint16", bps)), label=f"rule {t.index}")
            elif t.outcome == "settled":
                sender.add(t.buyer, escrow, calls.on_trade("acceptSettlement", t.terms, ("uint16", 4_000)),
                           label=f"acceptSettlement {t.index}")
        for t in started.get(r - TIMEOUT_ROUNDS, []):
            if t.outcome == "timed_out":
                sender.add(t.buyer, escrow, calls.on_trade("timeout", t.terms), label=f"timeout {t.index}")
        counts["trades"] += len(started.get(r, []))
        sender.mine(at=round_time(r))
        say(f"round {r + 1}/{last}: {sender.sent:,} transactions in {sender.blocks:,} blocks, "
            f"{time.perf_counter() - t0:.0f} s")
    for t in trades:
        counts[f"trades_{t.outcome}"] += 1
    head = sender.rpc.request("eth_getBlockByNumber", ["latest", False])
    reputation = sender.rpc.request("eth_call", [{"to": escrow, "data": "0x" + _selector("reputation()").hex()},
                                                 "latest"])
    escrow_code = sender.rpc.request("eth_getCode", [escrow, "latest"])
    reputation_address = to_checksum_address("0x" + reputation[-40:])
    reputation_code = sender.rpc.request("eth_getCode", [reputation_address, "latest"])
    from p2pescrow.deployments import hash_of_code

    return {"chain_id": chain_id, "escrow": escrow, "reputation": reputation_address, "block": deploy_block,
            "owner": owner, "fee_recipient": owner, "platform_fee_bps": PLATFORM_FEE_BPS,
            "escrow_code_hash": hash_of_code(escrow_code), "reputation_code_hash": hash_of_code(reputation_code),
            "head": int(head["number"], 16), "head_hash": head["hash"], "now": int(head["timestamp"], 16),
            "transactions": sender.sent, "blocks": int(head["number"], 16), "counts": dict(counts),
            "me": addresses[1]}


# -------------------------------------------------------------------------------------------------
# The node, the cache
# -------------------------------------------------------------------------------------------------


def anvil_args() -> list[str]:
    """What Anvil runs with: blocks mined only on request, genesis at :data:`GENESIS`, a block gas
    limit far above use (the base fee never rises)."""
    return ["--no-mining", "--timestamp", str(GENESIS), "--gas-limit", str(BLOCK_GAS_LIMIT), "--order", "fees"]


def code_hash() -> str:
    from p2pescrow._artifacts import load_artifact

    artifact = load_artifact("P2PEscrow")
    return hashlib.sha256(artifact["bytecode"].encode()).hexdigest()


def _deployment(record: dict[str, Any]) -> Any:
    from p2pescrow.deployments import Deployment

    return Deployment(chain_id=record["chain_id"], escrow=record["escrow"], reputation=record["reputation"],
                      block=record["block"], owner=record["owner"], fee_recipient=record["fee_recipient"],
                      platform_fee_bps=record["platform_fee_bps"], escrow_code_hash=record["escrow_code_hash"],
                      reputation_code_hash=record["reputation_code_hash"])


@contextmanager
def fixture_chain(cfg: FixtureConfig | None = None, *, cache_dir: Path | None = CACHE_DIR, refresh: bool = False,
                  progress: Callable[[str], None] | None = None) -> Iterator[Fixture]:
    """An Anvil holding the chain of ``cfg``: loaded from ``cache_dir`` when it is there (and
    ``refresh`` is false), else generated (and saved there, unless ``cache_dir`` is None)."""
    import gzip

    from p2pescrow.node.process import dev_accounts, start_node
    from p2pescrow.transport.rpc import RpcClient

    cfg = cfg or FixtureConfig()
    say = progress or (lambda _line: None)
    key = cfg.key(code_hash())
    state_path = meta_path = None
    if cache_dir is not None:
        state_path, meta_path = cache_dir / f"{key}.state.json", cache_dir / f"{key}.json"
    cached = (not refresh and state_path is not None and meta_path is not None and state_path.is_file()
              and meta_path.is_file())
    dev = dev_accounts(count=ACCOUNTS)
    # A cached chain is loaded at start-up (--load-state reads the file itself: a big state is no
    # JSON-RPC request).
    load = ["--load-state", str(state_path)] if cached else []
    start = time.perf_counter()
    with start_node("anvil", accounts=ACCOUNTS, balance_eth=1_000_000, extra_args=[*anvil_args(), *load],
                    startup_timeout=600) as node:
        rpc = RpcClient(node.url, timeout=600)
        if cached:
            assert state_path is not None and meta_path is not None
            record = json.loads(meta_path.read_text(encoding="utf-8"))
            head = rpc.request("eth_getBlockByNumber", ["latest", False])
            if head is None or head["hash"] != record["head_hash"]:
                raise RuntimeError(f"the cached chain {state_path} loads with head "
                                   f"{head and head['hash']}, recorded {record['head_hash']}: delete it")
            say(f"loaded {state_path.name} ({state_path.stat().st_size / 1e6:.1f} MB)")
        else:
            record = generate(node.url, cfg, dev, say)
            if state_path is not None and meta_path is not None:
                state_path.parent.mkdir(parents=True, exist_ok=True)
                dump = str(rpc.request("anvil_dumpState"))  # 0x-hex of gzipped JSON
                tmp = state_path.with_suffix(".tmp")
                tmp.write_bytes(gzip.decompress(bytes.fromhex(dump.removeprefix("0x"))))
                tmp.replace(state_path)
                for stale in state_path.parent.glob(f"t{cfg.trades}-o{cfg.offers}-*"):
                    if not stale.name.startswith(key + "."):  # an older generator's or contracts' chain
                        stale.unlink()
                meta_path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
                say(f"saved {state_path} ({state_path.stat().st_size / 1e6:.1f} MB)")
        seconds = time.perf_counter() - start
        rpc.request("evm_setAutomine", [True])  # reads and any later transaction behave as usual
        rpc.close()
        yield Fixture(node.url, cfg, _deployment(record), record["head"], record["head_hash"], record["now"],
                      record["counts"], record["me"], loaded=cached, seconds=seconds,
                      state_bytes=state_path.stat().st_size if state_path is not None and state_path.exists() else 0,
                      accounts=dev)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.market_fixture", description=__doc__.split("\n\n")[0])
    parser.add_argument("--trades", type=int, default=FixtureConfig.trades)
    parser.add_argument("--offers", type=int, default=FixtureConfig.offers)
    parser.add_argument("--closed-offers", type=int, default=None,
                        help="offers filled or revoked (default: a fifth of --offers)")
    parser.add_argument("--refresh", action="store_true", help="generate again even if cached")
    args = parser.parse_args(argv)
    closed = args.closed_offers if args.closed_offers is not None else args.offers // 5
    cfg = FixtureConfig(trades=args.trades, offers=args.offers, closed_offers=closed)
    with fixture_chain(cfg, refresh=args.refresh, progress=lambda line: print(line, file=sys.stderr)) as fx:
        how = "loaded from the cache" if fx.loaded else "generated"
        print(f"{how} in {fx.seconds:.1f} s: head block {fx.head} ({fx.head_hash}), escrow {fx.deployment.escrow}")
        print(json.dumps(fx.counts, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
