"""SDK throughput on Anvil, next to the same transactions sent with bare web3.py.

Part of ``python -m tools.bench`` (``--only sdk``). One Anvil (automine, no step tracing),
the contracts deployed into a throwaway registry, then:

* sequential: full ETH happy-path trades (createAndFund, then release; each receipt awaited)
  through :class:`~p2pescrow.clients.sync.EscrowClient` and through bare web3.py the idiomatic
  way, with NO middleware (``Web3(provider, middleware=[])``): ``contract.functions.f(...)
  .build_transaction(...)`` (it estimates the gas and fills the fees and chain id), the nonce from
  ``get_transaction_count``, ``eth_account`` signing, ``send_raw_transaction``,
  ``wait_for_transaction_receipt``; interleaved, warm-ups first, median of the repeats;
* pipelined: ``createAndFund`` sends without waiting in between, then all receipts: the async
  client under ``asyncio.gather``, and bare web3.py building (estimate and fees), signing and
  sending each transaction with consecutive local nonces.

Both paths send the same calls (same terms but the salt) from their own dev account, so the
difference is what the SDK does per transaction (its checks, nonce bookkeeping, journal, event
decoding) against what web3.py asks the node for. Every figure is wall time on this machine. The
targets (issue 10): the SDK at least :data:`TARGET_RATIO` of the bare path's transactions per
second, sequential and pipelined.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

AMOUNT_ETH = "0.01"
AMOUNT_WEI = 10**16
PLATFORM_FEE_BPS = 25
DAY = 86_400
FLAG_RECORD_REPUTATION = 2  # what EscrowClient.create sets by default
ZERO = "0x" + "00" * 20
#: Receipt poll interval for both paths: Anvil automines, so waiting longer only measures sleep.
POLL = 0.002
#: SDK transactions per second over the bare path's, sequential and pipelined (issue 10, item 7).
TARGET_RATIO = 0.9


@dataclass(frozen=True)
class SpeedConfig:
    trades: int = 30
    warmup: int = 3
    repeats: int = 3
    pipelined: int = 200


# -------------------------------------------------------------------------------------------------
# A chain with the contracts deployed
# -------------------------------------------------------------------------------------------------


@dataclass
class Chain:
    url: str
    accounts: list[Any]  # LocalAccount, dev accounts 0..9
    registry: Any  # p2pescrow.deployments.Registry (in a temporary P2PESCROW_HOME)
    w3: Any


def deploy_chain(url: str, dev_keys: list[Any], home: Path) -> Chain:
    """Deploy the escrow (and its reputation contract) with dev account 0 into ``home/deployments.json``."""
    from eth_account import Account
    from web3 import Web3

    from p2pescrow.clients.sync import EscrowClient
    from p2pescrow.deployments import Registry

    accounts = [Account.from_key(k.private_key) for k in dev_keys]
    registry = Registry(home / "deployments.json")
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 60}))
    EscrowClient.deploy(w3, accounts[0], platform_fee_bps=PLATFORM_FEE_BPS, registry=registry,
                        url=url)
    return Chain(url, accounts, registry, w3)


def bare_web3(url: str, provider: Any = None) -> Any:
    """web3.py as the bare path uses it: an HTTP provider and no middleware at all."""
    from web3 import Web3

    return Web3(provider or Web3.HTTPProvider(url, request_kwargs={"timeout": 60}), middleware=[])


def _counting_provider(url: str) -> tuple[Any, list[int]]:
    """An HTTP provider that counts JSON-RPC requests (for the rpc/trade column)."""
    from web3 import Web3

    count = [0]

    class Counting(Web3.HTTPProvider):  # type: ignore[name-defined,misc]
        def make_request(self, method: Any, params: Any) -> Any:
            count[0] += 1
            return super().make_request(method, params)

    return Counting(url, request_kwargs={"timeout": 60}), count


# -------------------------------------------------------------------------------------------------
# The two paths
# -------------------------------------------------------------------------------------------------


def _sdk_client(chain: Chain, account: Any, w3: Any = None) -> Any:
    from p2pescrow.clients.sync import EscrowClient

    if w3 is None:
        return EscrowClient.connect(chain.url, account, registry=chain.registry, poll_interval=POLL)
    return EscrowClient.from_web3(w3, account, registry=chain.registry, url=chain.url, poll_interval=POLL)


def bench_salt() -> int:
    """A fresh 64-bit trade salt with no zero byte. Calldata costs 4 gas per zero byte and 16 per
    other byte, so random salts would make the two paths' gas differ by chance (one trade in ~16)."""
    return int.from_bytes(bytes(1 + secrets.randbelow(255) for _ in range(8)), "big")


def sdk_trade(client: Any, seller: str) -> int:
    """One happy path through the SDK; returns the gas it used."""
    created = client.create(seller=seller, amount=AMOUNT_ETH, salt=bench_salt())
    released = client.release(created.trade_id)
    return int(created.tx.gas_used) + int(released.gas_used)


def bare_terms(buyer: str, seller: str) -> dict[str, Any]:
    """The terms EscrowClient.create builds for the same trade (a fresh salt)."""
    return {"buyer": buyer, "seller": seller, "token": ZERO, "arbiter": ZERO, "amount": AMOUNT_WEI,
            "buyerDeposit": 0, "sellerDeposit": 0, "arbiterFeeBps": 0, "platformFeeBps": PLATFORM_FEE_BPS,
            "fundingWindow": DAY,
            "releaseWindow": 3 * DAY, "arbitrationWindow": 7 * DAY, "flags": FLAG_RECORD_REPUTATION,
            "termsHash": b"\0" * 32, "salt": bench_salt()}


class BareTrader:
    """The same trade with bare web3.py (no middleware): build_transaction, sign locally, send
    raw, wait for the receipt."""

    def __init__(self, w3: Any, chain: Chain, account: Any, seller: str) -> None:
        from p2pescrow._artifacts import load_artifact

        deployment = chain.registry.get(int(w3.eth.chain_id))
        self.w3 = w3
        self.account = account
        self.seller = seller
        self.escrow = w3.eth.contract(address=deployment.escrow,
                                      abi=load_artifact("P2PEscrow")["abi"])

    def terms(self) -> dict[str, Any]:
        return bare_terms(self.account.address, self.seller)

    def send(self, fn: Any, value: int = 0) -> int:
        w3, me = self.w3, self.account.address
        tx = fn.build_transaction({"from": me, "value": value,
                                   "nonce": w3.eth.get_transaction_count(me, "pending")})
        signed = self.account.sign_transaction(tx)
        tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash, poll_latency=POLL)
        if receipt["status"] != 1:
            raise RuntimeError(f"bare web3 benchmark transaction {fn.fn_name} reverted")
        return int(receipt["gasUsed"])

    def trade(self) -> int:
        t = self.terms()
        f = self.escrow.functions
        return self.send(f.createAndFund(t), AMOUNT_WEI) + self.send(f.release(t, AMOUNT_WEI))


# -------------------------------------------------------------------------------------------------
# Sequential trades
# -------------------------------------------------------------------------------------------------


def _timed(n: int, trade: Callable[[], int]) -> float:
    start = time.perf_counter()
    for _ in range(n):
        trade()
    return time.perf_counter() - start


def _rpc_per_trade(chain: Chain, sdk_account: Any, bare_account: Any, seller: str,
                   trades: int = 3) -> dict[str, Any]:
    """JSON-RPC requests per trade (mean of ``trades``) and gas of a trade, per path (not timed)."""
    out: dict[str, Any] = {}
    from web3 import Web3

    for path in ("sdk", "web3"):
        provider, count = _counting_provider(chain.url)
        if path == "sdk":
            # Count what the timed client sends: it comes from EscrowClient.connect, which drops
            # web3's validation middleware (two eth_chainId around every eth_call and estimate).
            w3 = Web3(provider)
            w3.middleware_onion.remove("validation")
            client = _sdk_client(chain, sdk_account, w3)
            trade: Callable[[], int] = partial(sdk_trade, client, seller)
        else:
            trade = BareTrader(bare_web3(chain.url, provider), chain, bare_account, seller).trade
        trade()  # the first trade fills the caches (the SDK's fee and token lookups)
        count[0] = 0
        gas = [trade() for _ in range(trades)]
        out[path] = {"rpc": round(count[0] / trades, 1), "gas": gas[-1]}
    return out


def measure_sequential(chain: Chain, cfg: SpeedConfig) -> dict[str, Any]:
    sdk_account, bare_account = chain.accounts[1], chain.accounts[3]
    seller = chain.accounts[2].address
    client = _sdk_client(chain, sdk_account)
    bare = BareTrader(bare_web3(chain.url), chain, bare_account, seller)
    _timed(cfg.warmup, lambda: sdk_trade(client, seller))
    _timed(cfg.warmup, bare.trade)
    sdk_times, bare_times = [], []
    for _ in range(cfg.repeats):  # interleaved, so drift in the node hits both paths alike
        sdk_times.append(_timed(cfg.trades, lambda: sdk_trade(client, seller)))
        bare_times.append(_timed(cfg.trades, bare.trade))
    counted = _rpc_per_trade(chain, sdk_account, bare_account, seller)
    sdk_s, bare_s = statistics.median(sdk_times), statistics.median(bare_times)
    txs = 2 * cfg.trades

    def row(seconds: float, runs: list[float], path: str) -> dict[str, Any]:
        return {"trades_per_s": round(cfg.trades / seconds, 2), "tx_per_s": round(txs / seconds, 2),
                "ms_per_tx": round(1000 * seconds / txs, 3),
                "runs_s": [round(r, 4) for r in runs],
                "rpc_per_trade": counted[path]["rpc"], "gas_per_trade": counted[path]["gas"]}

    return {"trades": cfg.trades, "warmup": cfg.warmup, "repeats": cfg.repeats,
            "sdk": row(sdk_s, sdk_times, "sdk"), "web3": row(bare_s, bare_times, "web3"),
            "ratio": round(bare_s / sdk_s, 3), "target": TARGET_RATIO,
            "overhead_pct": round(100 * (sdk_s - bare_s) / bare_s, 1),
            "overhead_ms_per_tx": round(1000 * (sdk_s - bare_s) / txs, 3)}


# -------------------------------------------------------------------------------------------------
# Pipelined sends
# -------------------------------------------------------------------------------------------------


async def _async_sdk_runs(chain: Chain, account: Any, seller: str, cfg: SpeedConfig) -> list[float]:
    from p2pescrow.clients.aio import AsyncEscrowClient

    client = await AsyncEscrowClient.connect(chain.url, account, registry=chain.registry,
                                             poll_interval=POLL)
    try:
        async def batch(n: int) -> float:
            start = time.perf_counter()
            await asyncio.gather(*(client.create(seller=seller, amount=AMOUNT_ETH)
                                   for _ in range(n)))
            return time.perf_counter() - start

        await batch(min(10, cfg.pipelined))  # warm-up
        return [await batch(cfg.pipelined) for _ in range(cfg.repeats)]
    finally:
        await client.w3.provider.disconnect()


def _bare_pipelined(bare: BareTrader, n: int) -> float:
    """Build (estimate and fees), sign and send ``n`` createAndFund with consecutive local nonces,
    back to back, then wait for every receipt."""
    w3, me = bare.w3, bare.account.address
    start = time.perf_counter()
    fn = bare.escrow.functions.createAndFund
    nonce = w3.eth.get_transaction_count(me, "pending")
    hashes = []
    for i in range(n):
        tx = fn(bare.terms()).build_transaction({"from": me, "value": AMOUNT_WEI, "nonce": nonce + i})
        hashes.append(w3.eth.send_raw_transaction(bare.account.sign_transaction(tx).raw_transaction))
    for tx_hash in hashes:
        if w3.eth.wait_for_transaction_receipt(tx_hash, poll_latency=POLL)["status"] != 1:
            raise RuntimeError("bare web3 pipelined createAndFund reverted")
    return time.perf_counter() - start


async def _bare_async_runs(chain: Chain, account: Any, seller: str, cfg: SpeedConfig) -> list[float]:
    """The bare path with AsyncWeb3 (no middleware) under ``asyncio.gather``, as the async client
    runs: each task builds (estimate and fees), signs and sends one createAndFund with its own
    consecutive nonce, then waits for its receipt."""
    from web3 import AsyncWeb3

    from p2pescrow._artifacts import load_artifact

    w3 = AsyncWeb3(AsyncWeb3.AsyncHTTPProvider(chain.url, request_kwargs={"timeout": 60}), middleware=[])
    deployment = chain.registry.get(int(await w3.eth.chain_id))
    escrow = w3.eth.contract(address=deployment.escrow, abi=load_artifact("P2PEscrow")["abi"])
    me = account.address

    async def one(nonce: int) -> None:
        tx = await escrow.functions.createAndFund(bare_terms(me, seller)).build_transaction(
            {"from": me, "value": AMOUNT_WEI, "nonce": nonce})
        tx_hash = await w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)
        if (await w3.eth.wait_for_transaction_receipt(tx_hash, poll_latency=POLL))["status"] != 1:
            raise RuntimeError("bare AsyncWeb3 pipelined createAndFund reverted")

    async def batch(n: int) -> float:
        start = time.perf_counter()
        nonce = await w3.eth.get_transaction_count(me, "pending")
        await asyncio.gather(*(one(nonce + i) for i in range(n)))
        return time.perf_counter() - start

    try:
        await batch(min(10, cfg.pipelined))  # warm-up
        return [await batch(cfg.pipelined) for _ in range(cfg.repeats)]
    finally:
        await w3.provider.disconnect()


def measure_pipelined(chain: Chain, cfg: SpeedConfig) -> dict[str, Any]:
    seller = chain.accounts[2].address
    sdk_runs = asyncio.run(_async_sdk_runs(chain, chain.accounts[4], seller, cfg))
    bare = BareTrader(bare_web3(chain.url), chain, chain.accounts[5], seller)
    _bare_pipelined(bare, min(10, cfg.pipelined))  # warm-up
    bare_runs = [_bare_pipelined(bare, cfg.pipelined) for _ in range(cfg.repeats)]
    bare_async_runs = asyncio.run(_bare_async_runs(chain, chain.accounts[6], seller, cfg))

    def row(runs: list[float]) -> dict[str, Any]:
        return {"tx_per_s": round(cfg.pipelined / statistics.median(runs), 1),
                "runs_s": [round(r, 4) for r in runs]}

    fastest_bare = min(statistics.median(bare_runs), statistics.median(bare_async_runs))
    return {"txs": cfg.pipelined, "repeats": cfg.repeats, "sdk_async": row(sdk_runs),
            "web3": row(bare_runs), "web3_async": row(bare_async_runs),
            "ratio": round(fastest_bare / statistics.median(sdk_runs), 3),  # against the faster bare path
            "target": TARGET_RATIO}


# -------------------------------------------------------------------------------------------------
# Running and reporting
# -------------------------------------------------------------------------------------------------


def run(cfg: SpeedConfig | None = None) -> dict[str, Any]:
    """Start an Anvil, deploy, measure both sections; the JSON-able figures."""
    from p2pescrow.node.process import start_node

    cfg = cfg or SpeedConfig()
    with tempfile.TemporaryDirectory(prefix="p2pescrow-bench-") as tmp, start_node("anvil") as node:
        # The SDK journals every signed transaction under P2PESCROW_HOME: keep the bench's
        # throwaway chain out of the user's real journal and registry.
        previous = os.environ.get("P2PESCROW_HOME")
        os.environ["P2PESCROW_HOME"] = tmp
        try:
            chain = deploy_chain(node.url, node.accounts, Path(tmp))
            return {"node": "anvil (automine)", "poll_interval_s": POLL,
                    "sequential": measure_sequential(chain, cfg),
                    "pipelined": measure_pipelined(chain, cfg)}
        finally:
            if previous is None:
                os.environ.pop("P2PESCROW_HOME", None)
            else:
                os.environ["P2PESCROW_HOME"] = previous


def _verdict(ratio: float, target: float) -> str:
    return f"{ratio:.2f}x the bare path (target >= {target:.1f}x: {'met' if ratio >= target else 'NOT met'})"


def format_report(doc: dict[str, Any]) -> str:
    seq, pipe = doc["sequential"], doc["pipelined"]
    head = (f"{'path':30} {'trades/s':>9} {'tx/s':>8} {'ms/tx':>8} {'rpc/trade':>10} "
            f"{'gas/trade':>10}")
    lines = [f"SDK vs bare web3.py (no middleware) on {doc['node']}: sequential happy-path trades "
             f"(createAndFund + release, each receipt awaited), median of {seq['repeats']} x "
             f"{seq['trades']} trades after {seq['warmup']} warm-ups", head, "-" * len(head)]
    for key, label in (("sdk", "EscrowClient (LocalAccount)"), ("web3", "bare web3.py")):
        r = seq[key]
        lines.append(f"{label:30} {r['trades_per_s']:>9.1f} {r['tx_per_s']:>8.1f} "
                     f"{r['ms_per_tx']:>8.2f} {r['rpc_per_trade']:>10} {r['gas_per_trade']:>10,}")
    lines.append(f"{'SDK overhead':30} {seq['overhead_pct']:>+8.1f}% {'':>8} "
                 f"{seq['overhead_ms_per_tx']:>+8.2f}  (time per tx)")
    lines.append(f"{'SDK sequential':30} {_verdict(seq['ratio'], seq['target'])}")
    head = f"{'path':30} {'tx/s':>8}"
    lines += ["", f"Pipelined createAndFund on {doc['node']}: {pipe['txs']} sends without waiting, "
              f"then every receipt; median of {pipe['repeats']}", head, "-" * len(head)]
    lines.append(f"{'AsyncEscrowClient + gather':30} {pipe['sdk_async']['tx_per_s']:>8.1f}")
    lines.append(f"{'bare web3.py, a loop':30} {pipe['web3']['tx_per_s']:>8.1f}  (build, sign, send each)")
    if "web3_async" in pipe:
        lines.append(f"{'bare AsyncWeb3 + gather':30} {pipe['web3_async']['tx_per_s']:>8.1f}  (the same, concurrent)")
    lines.append(f"{'SDK pipelined':30} {_verdict(pipe['ratio'], pipe['target'])}, against the faster bare row")
    return "\n".join(lines)
