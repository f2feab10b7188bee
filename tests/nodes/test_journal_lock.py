"""The asyncio path takes the journal's cross-process lock (a flock in the journal folder), as the
sync path does, without blocking the event loop: checked against another real process holding the
lock, and with two processes sending concurrently from one account to a real Anvil."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from typing import Any

import pytest
from eth_account import Account
from support.harness import funded
from web3 import AsyncWeb3, Web3

from p2pescrow.transport.aio import AsyncTransactor
from p2pescrow.transport.journal import JOURNAL
from p2pescrow.transport.sync import Call

pytestmark = [pytest.mark.anvil, pytest.mark.fault]
ETHER = 10**18

# Another process on the sync path: holds the account's journal lock on the node (argv[1] chain id,
# argv[4] genesis hash) for argv[3] seconds, and prints the time just before letting it go.
HOLD = """
import sys, time
from p2pescrow.transport.journal import JOURNAL
with JOURNAL.lock(int(sys.argv[1]), sys.argv[2], sys.argv[4]):
    print("locked", flush=True)
    time.sleep(float(sys.argv[3]))
    print(repr(time.time()), flush=True)
"""

# Another process on the asyncio path: argv = url, chain id, payee, count; the key comes on stdin,
# then "go" once both processes are ready. Prints the hashes of its payments, as JSON.
SEND = """
import asyncio, json, sys
from eth_account import Account
from web3 import AsyncWeb3
from p2pescrow.transport.aio import AsyncTransactor
from p2pescrow.transport.sync import Call

async def main(url, chain_id, payee, count):
    account = Account.from_key(sys.stdin.readline().strip())
    w3 = AsyncWeb3(AsyncWeb3.AsyncHTTPProvider(url))
    t = AsyncTransactor(w3, account, chain_id=chain_id, url=url, timeout=60, poll_interval=0.01)
    print("ready", flush=True)
    sys.stdin.readline()
    results = await asyncio.gather(*(t.send(Call(payee, "0x", 1000, f"pay {i}")) for i in range(count)))
    print(json.dumps([r.tx_hash for r in results]), flush=True)
    await w3.provider.disconnect()

asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])))
"""


class Timed:
    """A LocalAccount that notes when it signs (inside the locks, just before the broadcast)."""

    def __init__(self, account: Any) -> None:
        self._account = account
        self.signed_at: list[float] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._account, name)

    def sign_transaction(self, tx: dict[str, Any]) -> Any:
        self.signed_at.append(time.time())
        return self._account.sign_transaction(tx)


def test_async_send_waits_for_another_process_holding_the_lock_without_blocking_the_loop(node, error_log):
    acct = funded(node, error_log)
    payee = Account.create().address
    w3 = Web3(Web3.HTTPProvider(node.url))
    chain_id = int(w3.eth.chain_id)
    signer = Timed(acct)
    genesis = "0x" + bytes(w3.eth.get_block(0)["hash"]).hex()
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(chain_id), acct.address, "1.0", genesis],
                              stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        ticks: list[float] = []

        async def run() -> Any:
            aw3 = AsyncWeb3(AsyncWeb3.AsyncHTTPProvider(node.url))
            t = AsyncTransactor(aw3, signer, chain_id=chain_id, url=node.url, timeout=10, poll_interval=0.01)
            sending = asyncio.create_task(t.send(Call(payee, "0x", 1234, "pay")))
            while not sending.done():  # another task of the process, ticking while the send waits
                ticks.append(time.time())
                await asyncio.sleep(0.01)
            await aw3.provider.disconnect()
            return sending.result()

        result = asyncio.run(run())
        released_before = float(holder.stdout.readline())
        assert holder.wait(10) == 0
    finally:
        holder.kill()
    assert len(signer.signed_at) == 1 and signer.signed_at[0] >= released_before  # not before the other process
    waiting = [tick for tick in ticks if tick < released_before]
    assert len(waiting) >= 20, f"the event loop ran {len(waiting)} times while the lock was held elsewhere"
    assert w3.eth.get_transaction(result.tx_hash)["nonce"] == 0 and w3.eth.get_balance(payee) == 1234


def test_two_processes_sending_concurrently_from_one_account_take_turns(node, error_log):
    count = 5
    acct = funded(node, error_log)
    payee = Account.create().address
    w3 = Web3(Web3.HTTPProvider(node.url))
    chain_id = int(w3.eth.chain_id)
    argv = [sys.executable, "-c", SEND, node.url, str(chain_id), payee, str(count)]
    procs = [subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=os.environ.copy()) for _ in range(2)]
    try:
        for proc in procs:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(acct.key.hex() + "\n")
            proc.stdin.flush()
        for proc in procs:
            assert proc.stdout.readline().strip() == "ready", proc.stderr.read()  # type: ignore[union-attr]
        for proc in procs:
            proc.stdin.write("go\n")  # type: ignore[union-attr]
            proc.stdin.flush()  # type: ignore[union-attr]
        outs = [proc.communicate(timeout=120) for proc in procs]
    finally:
        for proc in procs:
            proc.kill()
    for proc, (_, err) in zip(procs, outs, strict=True):
        assert proc.returncode == 0, err
    hashes = [h for out, _ in outs for h in json.loads(out.strip().splitlines()[-1])]
    assert len(hashes) == len(set(hashes)) == 2 * count
    assert all(w3.eth.get_transaction_receipt(h)["status"] == 1 for h in hashes)
    assert sorted(int(w3.eth.get_transaction(h)["nonce"]) for h in hashes) == list(range(2 * count))
    assert w3.eth.get_transaction_count(acct.address) == 2 * count
    assert w3.eth.get_balance(payee) == 2 * count * 1000  # every payment once, none lost or doubled
    assert JOURNAL.entries(chain_id, acct.address) == []


def test_a_stale_local_nonce_after_another_process_sent_the_same_payment_is_not_taken_for_ours(node, error_log):
    """Two processes (here: two transactors with their own nonce counters, as two processes have,
    sharing the journal) pay the same payee the same amount. A has a fresh local hint; B sends at that
    nonce; A's byte-identical payment must go out at the next nonce as a payment of its own, not come
    back "already known" and be taken for B's."""
    from p2pescrow.transport.nonces import NonceManager
    from p2pescrow.transport.sync import Transactor

    acct = funded(node, error_log)
    payee = Account.create().address
    w3 = Web3(Web3.HTTPProvider(node.url))
    chain_id = int(w3.eth.chain_id)
    a = Transactor(w3, acct, chain_id=chain_id, url=node.url, timeout=30, poll_interval=0.01, nonces=NonceManager())
    b = Transactor(w3, acct, chain_id=chain_id, url=node.url, timeout=30, poll_interval=0.01, nonces=NonceManager())
    pay = Call(payee, "0x", 1000, "pay")
    base_fee = hex(10**9)  # every block the same base fee: the same call is priced the same, to the byte

    def steady() -> None:
        w3.provider.make_request("anvil_setNextBlockBaseFeePerGas", [base_fee])

    steady()
    first = a.send(pay)  # A's counter now says: next is nonce 1, without asking the node
    steady()
    second = b.send(pay)  # B asks the node: nonce 1
    steady()
    third = a.send(pay)  # byte-identical to B's if A trusted its counter
    hashes = [first.tx_hash, second.tx_hash, third.tx_hash]
    assert len(set(hashes)) == 3
    assert sorted(int(w3.eth.get_transaction(h)["nonce"]) for h in hashes) == [0, 1, 2]
    assert w3.eth.get_balance(payee) == 3 * 1000  # three payments, none merged
