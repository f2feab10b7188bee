"""The CLI's read path, in a fresh process against a real Anvil: `trade show`, `trade list` and
`rep show` answer without importing web3 or eth-account (about a second of imports), and say the
same as the SDK: the same trade document, the same record, the same errors and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from web3 import Web3

from p2pescrow import EscrowClient
from p2pescrow.accounts import DEV_ADDRESSES
from p2pescrow.cli.render import trade_document
from p2pescrow.deployments import Registry
from p2pescrow.node.process import start_node
from p2pescrow.transport.nonces import NONCES

pytestmark = pytest.mark.anvil

#: Runs the CLI in a fresh interpreter, then writes which web3/eth-account modules it loaded.
_RUN = """
import json, os, sys
from p2pescrow.cli.app import main
sys.argv = ["p2pescrow", *sys.argv[1:]]
try:
    main()
    code = 0
except SystemExit as exc:
    code = exc.code if isinstance(exc.code, int) else 1
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("web3", "eth_account"))
with open(os.environ["LOADED_FILE"], "w") as out:
    json.dump(loaded, out)
sys.exit(code)
"""


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    loaded: list[str]

    def json(self) -> dict[str, Any]:
        assert self.code == 0, self.stderr
        document: dict[str, Any] = json.loads(self.stdout)
        return document


@dataclass
class Deployed:
    url: str
    home: Path
    sdk: EscrowClient
    buyer: str
    seller: str
    trade_id: str

    def cli(self, *args: str, tmp: Path) -> Run:
        loaded_file = tmp / "loaded.json"
        env = {**os.environ, "LOADED_FILE": str(loaded_file), "P2PESCROW_HOME": str(self.home)}
        done = subprocess.run([sys.executable, "-c", _RUN, *args], env=env, capture_output=True, text=True,
                              timeout=120, stdin=subprocess.DEVNULL)
        return Run(done.returncode, done.stdout, done.stderr, json.loads(loaded_file.read_text()))


@pytest.fixture
def deployed(home: Path) -> Iterator[Deployed]:
    """An Anvil with the contracts recorded in ``home`` and one funded trade (dev1 buys from dev2)."""
    for address in DEV_ADDRESSES:  # each test's Anvil is a fresh chain 31337: count nonces afresh
        NONCES.release((31337, address))
    with start_node("anvil", chain_id=31337) as node:
        w3 = Web3(Web3.HTTPProvider(node.url))
        deployer = Account.from_key(node.accounts[0].private_key)
        EscrowClient.deploy(w3, deployer, registry=Registry(home / "deployments.json"), platform_fee_bps=25,
                            url=node.url)
        buyer = Account.from_key(node.accounts[1].private_key)
        sdk = EscrowClient.connect(node.url, buyer, registry=Registry(home / "deployments.json"))
        seller = node.accounts[2].address
        created = sdk.create(seller=seller, amount="1.5", terms="one bicycle")
        yield Deployed(node.url, home, sdk, buyer.address, seller, created.trade_id)


def _global(deployed: Deployed, account: str | None = "dev1") -> list[str]:
    return ["--json", "--network", "local", "--rpc-url", deployed.url] + (["--account", account] if account else [])


def test_trade_show_reads_without_web3_and_says_what_the_sdk_says(deployed: Deployed, tmp_path: Path) -> None:
    run = deployed.cli(*_global(deployed), "trade", "show", deployed.trade_id, tmp=tmp_path)

    shown = run.json()["trade"]
    assert run.loaded == []
    expected = json.loads(json.dumps(trade_document(deployed.sdk.trade(deployed.trade_id), deployed.buyer)))
    assert shown == expected
    assert shown["state"] == "FUNDED" and shown["you"]["roles"] == ["buyer"]


def test_a_trade_id_prefix_still_works_on_the_fast_path(deployed: Deployed, tmp_path: Path) -> None:
    run = deployed.cli(*_global(deployed), "trade", "show", deployed.trade_id[:12], tmp=tmp_path)

    assert run.json()["trade"]["id"] == deployed.trade_id and run.loaded == []


def test_trade_list_and_rep_show_read_without_web3(deployed: Deployed, tmp_path: Path) -> None:
    listed = deployed.cli(*_global(deployed), "trade", "list", "--mine", tmp=tmp_path)
    record = deployed.cli(*_global(deployed, None), "rep", "show", deployed.seller, tmp=tmp_path)

    assert [t["id"] for t in listed.json()["trades"]] == [deployed.trade_id] and listed.loaded == []
    expected = deployed.sdk.reputation(deployed.seller)
    document = record.json()["reputation"]
    assert document["address"] == deployed.seller and document["trades"] == expected.trades
    assert document["score"] == str(expected.score()) and record.loaded == []


def test_errors_on_the_fast_path_keep_their_line_and_exit_code(deployed: Deployed, tmp_path: Path) -> None:
    unknown = deployed.cli("--network", "local", "--rpc-url", deployed.url, "trade", "show", "0x" + "ab" * 32,
                           tmp=tmp_path)
    dead = deployed.cli("--network", "local", "--rpc-url", "http://127.0.0.1:1", "rep", "show", deployed.seller,
                        tmp=tmp_path)

    assert unknown.code == 2 and unknown.loaded == []
    assert f"error: no trade 0x{'ab' * 32} on this escrow (chain id 31337)" in unknown.stderr
    assert dead.code == 4 and "error: cannot reach the node at http://127.0.0.1:1" in dead.stderr


def test_the_code_hash_is_still_verified_on_the_fast_path(deployed: Deployed, tmp_path: Path) -> None:
    registry = Registry(deployed.home / "deployments.json")
    recorded = registry.get(31337)
    assert recorded is not None
    registry.put(type(recorded)(**{**recorded.__dict__, "escrow_code_hash": "0x" + "00" * 32}))

    run = deployed.cli("--network", "local", "--rpc-url", deployed.url, "trade", "show", deployed.trade_id,
                       tmp=tmp_path)

    assert run.code == 4 and "holds other code than was deployed there" in run.stderr
