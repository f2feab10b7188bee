"""The first hour of a trader, as the installed command runs it (issue 11), on Anvil and on Ganache:
no silent signer on a fresh `node start` chain; a keystore account with a 0600 password file, funded
with `node fund`; an ERC-20 trade in the dev token DUSD, named by its symbol, delivered and released;
and, at a real terminal, declining the payment after its approval was mined.

README's walkthrough runs these steps too; test_readme_walkthrough_e2e.py runs that README block
word for word. This file keeps what a script cannot show there: the refusal without an account and
the terminal's prompts."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.clitools import (
    free_port,
    needs_binary,
    ok,
    one_error_line,
    run,
    run_in_terminal,
)

from p2pescrow.node import process as _nodes

pytestmark = pytest.mark.slow

DEV0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
DEV2 = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
NETWORK = {"anvil": "local", "ganache": "ganache"}
PASSWORD = "correct horse battery staple"




def nonce(url: str, address: str) -> int:
    return int(str(_nodes.rpc(url, "eth_getTransactionCount", [address, "latest"], timeout=10)), 16)


def balance(url: str, address: str) -> int:
    return int(str(_nodes.rpc(url, "eth_getBalance", [address, "latest"], timeout=10)), 16)


@pytest.mark.parametrize("engine", [pytest.param("anvil", marks=pytest.mark.anvil),
                                    pytest.param("ganache", marks=pytest.mark.ganache)])
def test_a_keystore_account_funded_on_the_local_chain_runs_an_erc20_trade(
        home: Path, tmp_path: Path, engine: str) -> None:
    needs_binary(engine)
    net = ["--network", NETWORK[engine]]
    started = ok(run("--json", "node", "start", "--engine", engine, "--port", str(free_port()), home=home))
    url = started["url"]

    # No account selected: refused, and dev0 (owner, fee recipient) signed nothing.
    before = (nonce(url, DEV0), balance(url, DEV0))
    refused = run(*net, "--yes", "trade", "create", "--seller", DEV2, "--amount", "0.1", home=home)
    assert refused.exit_code == 2 and "no account selected" in one_error_line(refused.stderr)
    assert (nonce(url, DEV0), balance(url, DEV0)) == before

    # A keystore whose password file only its owner reads, funded from the dev accounts.
    password = tmp_path / "alice.pw"
    password.write_text(PASSWORD + "\n")
    password.chmod(0o600)
    alice = ok(run("--json", "--password-file", str(password), "accounts", "new", "alice", home=home))["address"]
    ok(run(*net, "node", "fund", "alice", home=home))
    shown = ok(run(*net, "--json", "accounts", "show", "alice", home=home))
    assert shown["balance_eth"] == "10"
    assert {t["symbol"]: t["balance"] for t in shown["tokens"]} == {"DUSD": "10000", "DEUR": "10000"}

    as_alice = [*net, "--account", "alice", "--password-file", str(password)]
    created = ok(run(*as_alice, "--yes", "--json", "trade", "create", "--seller", DEV2, "--token", "DUSD",
                     "--amount", "250 DUSD", home=home))
    trade_id = created["trade_id"]
    assert created["trade"]["state"] == "FUNDED" and created["trade"]["buyer"] == alice
    assert created["trade"]["amount"] == {"value": "250", "base_units": str(250 * 10**6), "symbol": "DUSD"}
    ok(run(*net, "--account", "dev2", "--yes", "trade", "deliver", trade_id, home=home))
    released = ok(run(*as_alice, "--yes", "--json", "trade", "release", trade_id, home=home))
    assert released["trade"]["state"] == "COMPLETED"
    history = run(*net, "trade", "history", trade_id, home=home)
    assert history.exit_code == 0, history.stderr
    assert "Released: toSeller 249.375 DUSD, platformFee 0.625 DUSD" in history.stdout
    after = ok(run(*net, "--json", "accounts", "show", "alice", home=home))
    assert {t["symbol"]: t["balance"] for t in after["tokens"]}["DUSD"] == "9750"

    # At a terminal: yes to the approval, no to the payment. It exits 6 and says the approval stays.
    code, screen = run_in_terminal(*as_alice, "trade", "create", "--seller", DEV2, "--token", "DUSD",
                                   "--amount", "40 DUSD", home=home,
                                   answers=[("Send it?", "y"), ("Send it?", "n")])
    assert code == 6, screen
    assert f"From: alice {alice}" in screen.splitlines()[0]
    assert "an approval of 40 DUSD is sent first" in screen
    assert "declined: nothing sent" in screen and "the approval sent before stays" in screen
    again = ok(run(*as_alice, "--yes", "--json", "trade", "create", "--seller", DEV2, "--token", "DUSD",
                   "--amount", "40 DUSD", home=home))
    assert again["trade"]["state"] == "FUNDED"
