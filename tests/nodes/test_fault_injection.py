"""Faults injected for real: Anvil killed (-9) between send and receipt and restarted from its
--state file, a loopback proxy that loses or delays the answer to eth_sendRawTransaction, two CLI
processes sending from one account at once, and a reorg under a wait for 2 confirmations.
Nothing may be paid twice (checked on balances and nonces)."""

from __future__ import annotations

import asyncio
import http.server
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from support.harness import node_chain_id
from web3 import AsyncWeb3, Web3
from web3.middleware import Web3Middleware

from p2pescrow import EscrowClient, errors
from p2pescrow.deployments import Registry
from p2pescrow.node.process import start_node
from p2pescrow.transport.aio import AsyncTransactor
from p2pescrow.transport.journal import JOURNAL
from p2pescrow.transport.nonces import NONCES
from p2pescrow.transport.sync import Call, Transactor

pytestmark = [pytest.mark.anvil, pytest.mark.fault]
ETHER = 10**18


def fund(url: str, dev_key: str, to: str, wei: int) -> None:
    Transactor(Web3(Web3.HTTPProvider(url)), Account.from_key(dev_key), url=url, poll_interval=0.01).send(
        Call(to, "0x", wei, "fund"))


# -- the node dies between send and receipt ---------------------------------------------------------
def test_anvil_killed_after_send_the_next_call_rebroadcasts_from_the_journal(tmp_path, error_log):
    chain_id = node_chain_id()
    state = tmp_path / "anvil-state.json"
    args = ["--state", str(state), "--state-interval", "1"]
    payer = Account.create()
    error_log.add_key(payer.key)
    payee = Account.create().address
    with start_node("anvil", chain_id=chain_id, extra_args=args) as node:
        error_log.add_key(node.accounts[0].private_key)
        fund(node.url, node.accounts[0].private_key, payer.address, ETHER)
        deadline = time.monotonic() + 30  # the funding is in the state file (dumped every second)
        while payer.address.lower()[2:] not in (state.read_text().lower() if state.exists() else ""):
            assert time.monotonic() < deadline, "anvil never dumped its state"
            time.sleep(0.1)
        time.sleep(1.5)  # and a dump after it completed, so the kill below cannot cut the file short
        w3 = Web3(Web3.HTTPProvider(node.url))
        w3.provider.make_request("evm_setAutomine", [False])
        t = Transactor(w3, payer, url=node.url, timeout=0.3, poll_interval=0.01)
        with pytest.raises(errors.TransactionTimeout) as info:
            t.send(Call(payee, "0x", ETHER // 10, "pay"))
        tx_hash = info.value.tx_hash
        node.process.kill()  # kill -9: no state dump on exit, the pool is lost
        node.process.wait(10)
    assert [e.tx_hash for e in JOURNAL.entries(chain_id, payer.address)] == [tx_hash]

    with start_node("anvil", chain_id=chain_id, extra_args=args) as node:  # the next command
        w3 = Web3(Web3.HTTPProvider(node.url))
        assert w3.eth.get_balance(payer.address) == ETHER  # restored from --state, without the payment
        with pytest.raises(errors.TransactionNotFound if hasattr(errors, "TransactionNotFound") else Exception):
            w3.eth.get_transaction(tx_hash)
        again = Transactor(w3, payer, url=node.url, timeout=10, poll_interval=0.01)
        notices: list[str] = []
        again.on_notice = notices.append
        with pytest.raises(errors.PendingTransaction) as refused:
            again.send(Call(payee, "0x", ETHER // 10, "pay (the user retries)"))
        assert refused.value.rebroadcast and refused.value.tx_hash == tx_hash
        assert any("rebroadcast" in n for n in notices)
        again.wait(tx_hash)  # automine is on after the restart: the rebroadcast one is mined
        assert w3.eth.get_balance(payee) == ETHER // 10  # paid once
        assert w3.eth.get_transaction_count(payer.address) == 1
        again.send(Call(payee, "0x", 1, "next"))  # resolved: the account sends again
        assert w3.eth.get_transaction_count(payer.address) == 2
        assert JOURNAL.entries(chain_id, payer.address) == []


# -- a proxy that loses answers -------------------------------------------------------------------
class Proxy:
    """An HTTP JSON-RPC proxy on 127.0.0.1 that forwards everything to ``upstream``; the answers
    to the next ``drop`` eth_sendRawTransaction calls are lost (the connection closes) or, with
    ``delay``, come ``delay`` seconds late. Counts the sends that reached the node."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.drop = 0
        self.delay = 0.0
        self.sends = 0
        self.raws: set[str] = set()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                request = urllib.request.Request(proxy.upstream, body, {"Content-Type": "application/json"})
                with urllib.request.urlopen(request, timeout=10) as response:
                    answer = response.read()
                if b"eth_sendRawTransaction" in body:
                    proxy.sends += 1
                    proxy.raws.add(json.loads(body)["params"][0])
                    if proxy.drop > 0:
                        proxy.drop -= 1
                        if proxy.delay:
                            time.sleep(proxy.delay)
                        else:
                            self.close_connection = True
                            self.connection.shutdown(2)
                            return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                try:
                    self.wfile.write(answer)
                except OSError:
                    pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Proxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.mark.parametrize("fault", ["lost", "late"])
def test_lost_send_answer_is_resolved_by_hash_not_by_sending_again(node, error_log, fault):
    payer = Account.create()
    error_log.add_key(payer.key)
    payee = Account.create().address
    fund(node.url, node.accounts[0].private_key, payer.address, ETHER)
    with Proxy(node.url) as proxy:
        w3 = Web3(Web3.HTTPProvider(proxy.url, request_kwargs={"timeout": 1}))
        t = Transactor(w3, payer, url=proxy.url, timeout=10, poll_interval=0.01)
        proxy.drop, proxy.delay = 1, (3.0 if fault == "late" else 0.0)
        result = t.send(Call(payee, "0x", ETHER // 10, "pay"))
        # web3 itself retries a timed-out eth_sendRawTransaction (same bytes; the node then says
        # "nonce too low" or "already known"): resolved by the hash, never by a new transaction
        assert len(proxy.raws) == 1 and proxy.sends == (2 if fault == "late" else 1)
    direct = Web3(Web3.HTTPProvider(node.url))
    assert direct.eth.get_balance(payee) == ETHER // 10
    assert direct.eth.get_transaction_count(payer.address) == 1
    assert direct.eth.get_transaction(result.tx_hash)["nonce"] == 0


def test_already_known_after_a_retry_is_resolved_by_hash(node, error_log):
    """The first answer is lost and the node misses the lookup too (it fails): the retried send
    gets "already known", which is resolved by the hash."""
    payer = Account.create()
    error_log.add_key(payer.key)
    fund(node.url, node.accounts[0].private_key, payer.address, ETHER)
    w3 = Web3(Web3.HTTPProvider(node.url))
    t = Transactor(w3, payer, url=node.url, timeout=10, poll_interval=0.01)
    w3.provider.make_request("evm_setAutomine", [False])
    real_known, calls = t._known_steps, []

    def known_once_unreachable(tx_hash):  # the lookup step: the first one gets no answer
        calls.append(tx_hash)
        if len(calls) == 1:
            return None
        return (yield from real_known(tx_hash))

    t._known_steps = known_once_unreachable  # type: ignore[method-assign]
    real_send = w3.eth.send_raw_transaction
    sends: list[bytes] = []

    def send_then_lose_the_answer(raw):
        sends.append(raw)
        answer = real_send(raw)
        if len(sends) == 1:
            raise ConnectionError("connection reset by peer")
        return answer

    w3.eth.send_raw_transaction = send_then_lose_the_answer  # type: ignore[method-assign]
    try:
        tx_hash = t._broadcast({"from": payer.address, "to": payer.address, "value": 0, "data": "0x",
                                "gas": 21_000, "chainId": t.chain_id, "gasPrice": 2 * 10**9})
    finally:
        w3.provider.make_request("evm_setAutomine", [True])
    assert len(sends) == 2 and sends[0] == sends[1]  # the retry sent the same bytes: same hash
    t.wait(tx_hash)
    assert w3.eth.get_transaction_count(payer.address) == 1


# -- two CLI processes, one account -----------------------------------------------------------------
def test_two_cli_processes_sending_from_one_account(tmp_path, error_log):
    with start_node("anvil", chain_id=31337) as node:  # the built-in `local` network's chain
        for account in node.accounts:
            error_log.add_key(account.private_key)
            NONCES.release((31337, account.address))
        try:
            two_cli_processes(tmp_path, node)
        finally:  # other modules start their own chain 31337: no nonce hint may outlive this one
            for account in node.accounts:
                NONCES.release((31337, account.address))


def two_cli_processes(tmp_path, node):
    home = tmp_path / "home"
    home.mkdir()
    registry = Registry(home / "deployments.json")
    dev = Account.from_key(node.accounts[0].private_key)
    deployment = EscrowClient.deploy(Web3(Web3.HTTPProvider(node.url)), dev, registry=registry, url=node.url)
    exe = Path(sys.executable).parent / "p2pescrow"
    env = {k: v for k, v in os.environ.items() if not k.startswith("P2PESCROW_") and k != "ETH_RPC_URL"}
    env.update(P2PESCROW_HOME=str(home), P2PESCROW_NODE_MODULES=os.environ.get("P2PESCROW_NODE_MODULES", ""))
    if not env["P2PESCROW_NODE_MODULES"]:
        env.pop("P2PESCROW_NODE_MODULES")
    seller = node.accounts[2].address
    w3 = Web3(Web3.HTTPProvider(node.url))
    sender = node.accounts[1].address
    nonce_before = w3.eth.get_transaction_count(sender)
    held_before = w3.eth.get_balance(deployment.escrow)
    argv = [str(exe), "--rpc-url", node.url, "--account", "dev1", "--yes", "--json",
            "trade", "create", "--seller", seller, "--amount", "0.5"]
    env["P2PESCROW_NETWORK"] = "local"
    procs = [subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    codes = [p.returncode for p in procs]
    ok = [json.loads(out) for (out, _), code in zip(outs, codes, strict=True) if code == 0]
    for (_, err), code in zip(outs, codes, strict=True):
        if code != 0:  # the other one must say clearly why
            lines = [line for line in err.splitlines() if line.startswith("error:")]
            assert code == 5 and len(lines) == 1 and "pending" in lines[0], err
    assert ok, outs
    hashes = {d["tx"]["hash"] for d in ok}
    assert len(hashes) == len(ok)
    nonces = sorted(int(w3.eth.get_transaction(h)["nonce"]) for h in hashes)
    assert nonces == list(range(nonce_before, nonce_before + len(ok)))
    assert w3.eth.get_transaction_count(sender) == nonce_before + len(ok)
    assert w3.eth.get_balance(deployment.escrow) - held_before == len(ok) * ETHER // 2


# -- a reorg under a wait for confirmations ----------------------------------------------------------
class LaggingReplica:
    """What a load-balanced RPC does when one replica has not seen a reorg yet: while ``stale`` is
    set, eth_getTransactionReceipt answers with that old receipt (its block no longer on the chain)."""

    def __init__(self) -> None:
        self.stale: Any = None

    def middleware(self) -> type[Web3Middleware]:
        replica = self

        def answer(method: str, params: Any) -> Any:
            if method == "eth_getTransactionReceipt" and replica.stale is not None:
                return {"jsonrpc": "2.0", "id": 0, "result": replica.stale}
            return None

        class Lagging(Web3Middleware):
            def wrap_make_request(self, make_request: Any) -> Any:
                return lambda method, params: answer(method, params) or make_request(method, params)

            async def async_wrap_make_request(self, make_request: Any) -> Any:
                async def middleware(method: str, params: Any) -> Any:
                    return answer(method, params) or await make_request(method, params)

                return middleware

        return Lagging


@pytest.mark.parametrize("lagging", [False, True], ids=["node", "lagging-replica"])
@pytest.mark.parametrize("path", ["sync", "asyncio"])
def test_reorg_after_the_receipt_is_waited_out(node, error_log, path, lagging):
    """2 confirmations asked; the block holding the transaction is reorged away. The wait goes on
    until the transaction is mined again and buried, also when the RPC keeps serving the old
    receipt while the new chain grows (it is then the receipt's block hash that gives it away)."""
    payer = Account.create()
    error_log.add_key(payer.key)
    payee = Account.create().address
    fund(node.url, node.accounts[0].private_key, payer.address, ETHER)
    control = Web3(Web3.HTTPProvider(node.url))
    chain_id = int(control.eth.chain_id)
    control.provider.make_request("evm_setAutomine", [False])
    replica = LaggingReplica()
    results: list = []
    errs: list = []

    def send() -> None:
        call = Call(payee, "0x", ETHER // 10, "pay")
        try:
            if path == "sync":
                w3 = Web3(Web3.HTTPProvider(node.url))
                w3.middleware_onion.add(replica.middleware())
                t = Transactor(w3, payer, url=node.url, timeout=30, confirmations=2, poll_interval=0.01)
                results.append(t.send(call))
            else:
                aw3 = AsyncWeb3(AsyncWeb3.AsyncHTTPProvider(node.url))
                aw3.middleware_onion.add(replica.middleware())
                t = AsyncTransactor(aw3, payer, url=node.url, chain_id=chain_id, timeout=30, confirmations=2,
                                    poll_interval=0.01)
                results.append(asyncio.run(t.send(call)))
        except Exception as exc:  # noqa: BLE001
            errs.append(exc)

    sender = threading.Thread(target=send, daemon=True)
    try:
        snapshot = control.provider.make_request("evm_snapshot", [])["result"]
        sender.start()
        deadline = time.monotonic() + 10
        while control.eth.get_transaction_count(payer.address, "pending") == 0:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        tx_hash = "0x" + JOURNAL.entries(chain_id, payer.address)[0].tx_hash[2:]
        raw = JOURNAL.entries(chain_id, payer.address)[0].raw
        control.provider.make_request("evm_mine", [])  # mined: 1 confirmation of the 2 asked for
        first_block = control.eth.get_transaction_receipt(tx_hash)["blockNumber"]
        if lagging:
            replica.stale = control.provider.make_request("eth_getTransactionReceipt", [tx_hash])["result"]
        time.sleep(0.3)  # the waiter sees the receipt
        assert not results and not errs
        control.provider.make_request("evm_revert", [snapshot])  # the block is gone
        control.provider.make_request("evm_mine", [])  # another block at that height
        if lagging:
            control.provider.make_request("evm_mine", [])  # the old receipt now looks 2 deep
        time.sleep(0.3)
        assert not results and not errs  # waiting again, not done on the stale receipt
        replica.stale = None
        control.eth.send_raw_transaction(raw)  # the transaction comes back in a later block
        control.provider.make_request("evm_mine", [])
        control.provider.make_request("evm_mine", [])
        sender.join(15)
    finally:
        control.provider.make_request("evm_setAutomine", [True])
    assert not errs, errs
    mined_again = control.eth.get_transaction_receipt(tx_hash)["blockNumber"]
    assert mined_again > first_block
    assert results[0].tx_hash == tx_hash and results[0].block_number == mined_again
    assert control.eth.get_balance(payee) == ETHER // 10
