"""Issue 11 ("the first hour"), the command line as a newcomer meets it, against a real Anvil: no
silent signer (dev chains and the embedded chain included), the account shown first, declining is
exit 6 and says what stays, usage errors in one line (and JSON), event arguments by ABI type,
``rep rate ID SCORE``, ``trade evidence --file``, ``--token DUSD`` and one relative-time rule."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from eth_utils import keccak
from support.escrow_cli import DEV, Chain, Cli, one_error_line

from p2pescrow.build import load_artifact
from p2pescrow.cli.render import clock, relative, when
from p2pescrow.deployments import Registry, deploy_data
from p2pescrow.transport.sync import Call

pytestmark = pytest.mark.anvil


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the confirmation believe it talks to a terminal (CliRunner's stdin is not one)."""
    import p2pescrow.cli.confirm as confirm

    monkeypatch.setattr(confirm, "sys", SimpleNamespace(stdin=SimpleNamespace(isatty=lambda: True)))


@pytest.fixture
def no_default(cli: Cli) -> Iterator[None]:
    """The module's config folder has no default account before and after the test."""
    cli.ok("accounts", "default", "--clear", account=None)
    yield
    cli.ok("accounts", "default", "--clear", account=None)


def test_sending_without_an_account_exits_2_and_sends_nothing_on_a_dev_chain(
        cli: Cli, deployed_anvil: Chain, no_default: None) -> None:
    before = {name: (deployed_anvil.nonce(DEV[name]), deployed_anvil.balance(DEV[name])) for name in ("dev0", "dev1")}

    result = cli("trade", "create", "--seller", DEV["dev2"], "--amount", "0.1", account=None)  # --yes, `local`

    assert result.exit_code == 2
    line = one_error_line(result)
    assert "no account selected" in line
    assert "--account NAME" in line and "$P2PESCROW_ACCOUNT" in line and "`p2pescrow accounts default NAME`" in line
    after = {name: (deployed_anvil.nonce(DEV[name]), deployed_anvil.balance(DEV[name])) for name in ("dev0", "dev1")}
    assert after == before  # dev0 (owner and fee recipient) did not sign, nor anyone else


def test_reads_work_without_an_account(cli: Cli, no_default: None) -> None:
    trade_id = cli.create("dev2", "0.2")

    shown = cli.ok("trade", "show", trade_id, account=None).stdout

    assert "FUNDED" in shown and "(you)" not in shown and "you may" not in shown


def test_the_environment_or_a_default_account_selects_the_signer(
        cli: Cli, deployed_anvil: Chain, no_default: None, terminal: None, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli.ok("accounts", "default", account=None).stdout.startswith("no default account")

    chosen = cli.json("accounts", "default", "dev3", account=None)
    assert chosen["default"] == "dev3" and chosen["address"] == DEV["dev3"]
    assert Path(chosen["file"]).read_text().strip() == "dev3"
    assert cli.ok("accounts", "default", account=None).stdout.strip() == f"default account: dev3 {DEV['dev3']}"
    nonce = deployed_anvil.nonce(DEV["dev3"])

    declined = cli("trade", "create", "--seller", DEV["dev2"], "--amount", "0.1", account=None, yes=False,
                   input="n\n")
    created = cli.json("trade", "create", "--seller", DEV["dev2"], "--amount", "0.1", account=None)

    assert declined.stderr.splitlines()[0] == f"From: dev3 {DEV['dev3']}"  # the sending account, first
    assert created["trade"]["buyer"] == DEV["dev3"] and deployed_anvil.nonce(DEV["dev3"]) == nonce + 1

    monkeypatch.setenv("P2PESCROW_ACCOUNT", "dev4")  # the environment wins over the default
    from_env = cli.json("trade", "create", "--seller", DEV["dev2"], "--amount", "0.1", account=None)
    assert from_env["trade"]["buyer"] == DEV["dev4"]
    monkeypatch.delenv("P2PESCROW_ACCOUNT")

    cleared = cli.ok("accounts", "default", "--clear", account=None)
    assert cleared.stdout.strip() == "no default account (was dev3)"
    again = cli("trade", "create", "--seller", DEV["dev2"], "--amount", "0.1", account=None)
    assert again.exit_code == 2 and "no account selected" in one_error_line(again)


def test_a_default_account_must_exist(cli: Cli, no_default: None) -> None:
    result = cli("accounts", "default", "nobody", account=None)

    assert result.exit_code == 2 and "no keystore named 'nobody'" in one_error_line(result)
    assert cli.ok("accounts", "default", account=None).stdout.startswith("no default account")


def test_the_embedded_chain_needs_an_account_to_send_too(cli: Cli) -> None:
    refused = cli("trade", "create", "--seller", DEV["dev2"], "--amount", "0.1", account=None, network="embedded",
                  rpc_url=None)
    created = cli.json("trade", "create", "--seller", DEV["dev2"], "--amount", "0.1", account="dev1",
                       network="embedded", rpc_url=None)

    assert refused.exit_code == 2
    line = one_error_line(refused)
    assert "no account selected" in line and "--account dev0" in line
    assert created["trade"]["state"] == "FUNDED"  # as the embedded chain's own dev1


# -- declining ----------------------------------------------------------------------------------------
def _token(deployed_anvil: Chain, symbol: str, holder: str) -> tuple[str, Any]:
    """A fresh 6-decimal test ERC-20 with 1,000 units minted to ``holder``: (address, contract)."""
    dev0 = deployed_anvil.sdk("dev0")
    artifact = load_artifact("TestToken", test=True)
    token = dev0.tx.send(Call(None, deploy_data(artifact, f"Test {symbol}", symbol, 6))).contract_address
    assert token is not None
    erc20 = deployed_anvil.w3.eth.contract(address=token, abi=artifact["abi"])
    dev0.tx.send(Call(token, erc20.encode_abi("mint", [holder, 1_000 * 10**6])))
    return token, erc20


def test_declining_after_the_approval_says_it_stays_and_the_next_create_reuses_it(
        cli: Cli, deployed_anvil: Chain, terminal: None) -> None:
    token, erc20 = _token(deployed_anvil, "TAPP", DEV["dev1"])
    escrow = deployed_anvil.deployment.escrow
    nonce = deployed_anvil.nonce(DEV["dev1"])

    declined = cli("trade", "create", "--seller", DEV["dev2"], "--token", token, "--amount", "250 TAPP", yes=False,
                   input="y\nn\n")  # yes to the approval, no to the trade

    assert declined.exit_code == 6, declined.stderr
    shown = declined.stderr
    assert shown.startswith(f"From: dev1 {DEV['dev1']}\nAbout to send: approve\n")
    assert "an approval of 250 TAPP is sent first, then the funding call" in shown  # the preview says so
    approval = shown.split("Send it?")[0]  # what the approval is for, before it is sent
    assert "for this payment, confirmed next:" in approval and f"you buy from seller {DEV['dev2']}" in approval
    assert "declined: nothing sent" in shown
    assert f"the approval sent before stays: the escrow {escrow} may take 250 TAPP from {DEV['dev1']}" in shown
    assert "reuse it: the next `trade create`, `trade fund` or `offer fill` paying up to 250 TAPP uses it" in shown
    assert f"`cast send {token} 'approve(address,uint256)' {escrow} 0`" in shown
    assert deployed_anvil.nonce(DEV["dev1"]) == nonce + 1  # the approval only
    assert erc20.functions.allowance(DEV["dev1"], escrow).call() == 250 * 10**6

    reused = cli.json("trade", "create", "--seller", DEV["dev2"], "--token", token, "--amount", "250 TAPP")

    assert reused["trade"]["state"] == "FUNDED"
    assert deployed_anvil.nonce(DEV["dev1"]) == nonce + 2  # one transaction: the allowance was reused
    assert erc20.functions.allowance(DEV["dev1"], escrow).call() == 0


def test_declining_the_approval_itself_sends_nothing(cli: Cli, deployed_anvil: Chain, terminal: None) -> None:
    token, erc20 = _token(deployed_anvil, "TDEC", DEV["dev1"])
    nonce = deployed_anvil.nonce(DEV["dev1"])

    declined = cli("trade", "create", "--seller", DEV["dev2"], "--token", token, "--amount", "5 TDEC", yes=False,
                   input="n\n")

    assert declined.exit_code == 6
    assert declined.stderr.rstrip().endswith("declined: nothing sent") and "stays" not in declined.stderr
    assert deployed_anvil.nonce(DEV["dev1"]) == nonce
    assert erc20.functions.allowance(DEV["dev1"], deployed_anvil.deployment.escrow).call() == 0


def test_help_documents_exit_6(cli: Cli) -> None:
    text = " ".join(cli.ok("--help", account=None).stdout.split())

    assert "6 declined: you answered no at a confirmation" in text


# -- usage errors ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("args", "words"), [
    (["trade", "create", "--seller", DEV["dev2"], "--amont", "1"], "No such option: --amont"),
    (["trade", "create", "--seller", DEV["dev2"]], "Missing option '--amount'"),
    (["trade", "show"], "Missing argument 'TRADE'"),
    (["trade", "sho", "0x12345678"], "No such command 'sho'"),
    (["--confirmations", "many", "trade", "show", "0x12345678"], "Invalid value for '--confirmations'"),
])
def test_usage_errors_are_one_line_and_json_under_json(cli: Cli, args: list[str], words: str) -> None:
    text = cli(*args)
    document = cli(*args, json_output=True)

    assert text.exit_code == 2 and document.exit_code == 2
    line = one_error_line(text)
    assert words in line and "--help`)" in line and "Usage:" not in text.stderr
    error = json.loads(document.stdout)
    assert error["ok"] is False
    assert error["error"]["type"] == "UsageError" and error["error"]["exit_code"] == 2
    assert words in error["error"]["message"]


def test_no_arguments_still_show_the_help(cli: Cli) -> None:
    result = cli("trade", account=None, yes=False, network=None, rpc_url=None)

    assert "Usage: p2pescrow trade" in result.stdout + result.stderr and "create" in result.stdout + result.stderr


# -- events, ratings, evidence --------------------------------------------------------------------------
def test_history_of_a_timed_out_trade_shows_the_bool_as_a_bool(cli: Cli, deployed_anvil: Chain) -> None:
    trade_id = cli.create("dev2", "1", "--release-window", "1h")
    deployed_anvil.sleep(3_601)
    cli.ok("trade", "timeout", trade_id, account="dev5")

    history = cli.ok("trade", "history", trade_id).stdout

    (timed_out,) = [line for line in history.splitlines() if "TimedOut" in line]
    assert "TimedOut: toSeller no, amount 1 ETH, platformFee 0 ETH" in timed_out
    assert "0.000000000000000001" not in history


def test_rep_rate_takes_the_score_as_an_argument_or_an_option(cli: Cli) -> None:
    trade_id = cli.create("dev2", "0.3")
    cli.ok("trade", "deliver", trade_id, account="dev2")  # the seller acted: the trade counts, both may rate
    cli.ok("trade", "release", trade_id)

    by_buyer = cli.json("rep", "rate", trade_id, "5")
    by_seller = cli.json("rep", "rate", trade_id, "--score", "4", account="dev2")
    both = cli("rep", "rate", trade_id, "3", "--score", "4")
    none = cli("rep", "rate", trade_id)

    assert by_buyer["rating"] == {"ratee": DEV["dev2"], "score": 5}
    assert by_seller["rating"] == {"ratee": DEV["dev1"], "score": 4}
    assert both.exit_code == 2 and "two scores given" in one_error_line(both)
    assert none.exit_code == 2 and "no score given" in one_error_line(none)


def test_evidence_file_sends_the_hash_of_its_content(cli: Cli, tmp_path: Path) -> None:
    trade_id = cli.create("dev2", "0.3")
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"\xff\xd8 a broken bike \x00\x01")

    document = cli.json("trade", "evidence", trade_id, "ipfs://bafy/photo.jpg", "--file", str(photo))

    (event,) = [e for e in document["tx"]["events"] if e["name"] == "EvidenceSubmitted"]
    assert event["args"]["uri"] == "ipfs://bafy/photo.jpg"
    assert event["args"]["contentHash"] == "0x" + keccak(photo.read_bytes()).hex()
    assert event["args"]["contentHash"] != "0x" + keccak(b"ipfs://bafy/photo.jpg").hex()


# -- dev tokens by symbol -------------------------------------------------------------------------------
@pytest.fixture
def dusd(deployed_anvil: Chain) -> Iterator[tuple[str, Any]]:
    """A token recorded as the chain's dev token DUSD (as `p2pescrow node start` records them)."""
    token, erc20 = _token(deployed_anvil, "DUSD", DEV["dev1"])
    registry = Registry(deployed_anvil.home / "deployments.json")
    recorded = registry.get(31337)
    assert recorded is not None
    registry.put(replace(recorded, dev_tokens={"DUSD": token}))
    yield token, erc20
    registry.put(recorded)


def test_token_accepts_a_dev_token_symbol(cli: Cli, deployed_anvil: Chain, dusd: tuple[str, Any]) -> None:
    token, erc20 = dusd

    document = cli.json("trade", "create", "--seller", DEV["dev2"], "--token", "dusd", "--amount", "7 DUSD")
    unknown = cli("trade", "create", "--seller", DEV["dev2"], "--token", "DEUR", "--amount", "7")
    listed = cli.json("trade", "list", "--token", "DUSD", account=None)

    assert document["trade"]["token"]["address"] == token and document["trade"]["amount"]["symbol"] == "DUSD"
    assert erc20.functions.balanceOf(deployed_anvil.deployment.escrow).call() == 7 * 10**6
    assert unknown.exit_code == 2
    assert "unknown token 'DEUR'" in one_error_line(unknown) and "dev token of this chain: DUSD" in \
        one_error_line(unknown)
    assert [t["id"] for t in listed["trades"]] == [document["trade_id"]]


def test_accounts_show_lists_dev_token_balances(cli: Cli, dusd: tuple[str, Any]) -> None:
    document = cli.json("accounts", "show", "dev1", account=None)
    text = cli.ok("accounts", "show", "dev1", account=None).stdout

    assert document["tokens"] == [{"symbol": "DUSD", "address": dusd[0], "balance": "1000"}]
    assert "DUSD:     1000" in text


# -- one relative-time rule ------------------------------------------------------------------------------
@pytest.mark.parametrize(("seconds", "words"), [
    (3 * 86_400, "in 3 days"),
    (3 * 86_400 - 3_600, "in 2 days 23 hours"),
    (86_400, "in 1 day"),
    (86_399, "in 23 hours 59 minutes"),
    (90_061, "in 1 day 1 hour"),
    (3_600, "in 1 hour"),
    (125, "in 2 minutes 5 seconds"),
    (59, "in 59 seconds"),
    (0, "in 0 seconds"),
    (-300, "5 minutes ago"),
    (-(2 * 86_400 + 7_200), "2 days 2 hours ago"),
])
def test_relative_times_floor_to_two_units(seconds: int, words: str) -> None:
    assert relative(seconds) == words


def test_an_hour_later_a_deadline_reads_an_hour_less() -> None:
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    deadline = now + timedelta(days=3)

    assert when(deadline, now).endswith("(in 3 days)")
    assert when(deadline, now + timedelta(hours=1)).endswith("(in 2 days 23 hours)")
    assert when(deadline, now + timedelta(days=2, seconds=1)).endswith("(in 23 hours 59 minutes)")


def test_trade_list_and_show_say_the_same_deadline(cli: Cli) -> None:
    trade_id = cli.create("dev2", "0.1", "--release-window", "4830m")  # 3 days 8 hours 30 minutes

    shown = cli.ok("trade", "show", trade_id).stdout
    listed = cli.ok("trade", "list", "--mine").stdout

    (row,) = [line for line in listed.splitlines() if line.startswith(trade_id[:10])]
    words = row.split("  ")[-1].strip()
    assert words == "in 3 days 8 hours" and f"({words})" in shown


def test_now_is_the_chain_time_or_the_computer_clock_whichever_is_later() -> None:
    wall = datetime.now(UTC)
    stale = SimpleNamespace(now=lambda: wall - timedelta(minutes=7))  # an idle dev chain's last block
    ahead = SimpleNamespace(now=lambda: wall + timedelta(days=2))  # after evm_increaseTime

    assert wall <= clock(stale) <= datetime.now(UTC)  # type: ignore[arg-type]
    assert clock(ahead) == wall + timedelta(days=2)  # type: ignore[arg-type]


def test_offer_create_says_which_account_signed(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "offer.json"

    to_stdout = cli("offer", "create", "--amount", "0.5", account="dev2")
    to_file = cli.ok("offer", "create", "--amount", "0.5", "--out", str(out), account="dev2")

    assert to_stdout.exit_code == 0 and f"Signed an offer of 0.5 ETH as dev2 {DEV['dev2']}" in to_stdout.stderr
    assert to_file.stdout.startswith(f"Signed offer written to {out} as dev2 {DEV['dev2']} (no transaction")
