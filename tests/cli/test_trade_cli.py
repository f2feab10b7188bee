"""``p2pescrow trade ...`` on a real Anvil: each command does its one SDK operation, shows what it
will do before sending, and reports gas and the new state; reads need no password."""

from __future__ import annotations

import re
import threading
import time
from types import SimpleNamespace

import pytest
from support.escrow_cli import DEV, ETHER, Chain, Cli, one_error_line

from p2pescrow.build import load_artifact
from p2pescrow.deployments import deploy_data
from p2pescrow.transport.sync import Call

pytestmark = pytest.mark.anvil

FEE = 25  # platform fee, bps


def held_by_escrow(deployed_anvil: Chain) -> int:
    return deployed_anvil.balance(deployed_anvil.deployment.escrow)


# -- create and fund ----------------------------------------------------------------------------------
def test_create_as_buyer_funds_at_once_and_says_what_happened(cli: Cli, deployed_anvil: Chain) -> None:
    before, nonce = held_by_escrow(deployed_anvil), deployed_anvil.nonce(DEV["dev1"])

    result = cli.ok("trade", "create", "--seller", DEV["dev2"], "--amount", "1.5 ETH", "--arbiter", DEV["dev3"],
                    "--arbiter-fee", "1%", "--terms", "a camera, as pictured")

    assert held_by_escrow(deployed_anvil) - before == 15 * ETHER // 10
    assert deployed_anvil.nonce(DEV["dev1"]) == nonce + 1
    out = result.stdout
    assert "Created trade 0x" in out and "paid 1.5 ETH into escrow" in out
    assert "gas used" in out and "state     FUNDED, holding 1.5 ETH" in out
    assert "you may   trade release, trade dispute, trade settle" in out
    assert "sent 0x" in result.stderr  # the hash, as soon as it is known


def test_create_speaks_json(cli: Cli) -> None:
    document = cli.json("trade", "create", "--seller", DEV["dev2"], "--amount", "0.25",
                        "--release-window", "2d", "--timeout-releases")

    trade = document["trade"]
    assert document["action"] == "create" and document["trade_id"] == trade["id"]
    assert trade["state"] == "FUNDED" and trade["buyer"] == DEV["dev1"] and trade["seller"] == DEV["dev2"]
    assert trade["amount"] == {"value": "0.25", "base_units": str(ETHER // 4), "symbol": "ETH"}
    assert trade["windows"]["release"] == 2 * 86_400 and trade["timeout_releases"] is True
    assert trade["fees"] == {"platform_bps": FEE, "arbiter_bps": 0}
    assert trade["you"]["roles"] == ["buyer"] and "trade release" in trade["you"]["may"]
    assert document["tx"]["gas_used"] > 21_000
    assert [e["name"] for e in document["tx"]["events"]] == ["TradeCreated"]


def test_a_seller_creates_and_the_buyer_funds_later(cli: Cli, deployed_anvil: Chain) -> None:
    created = cli.json("trade", "create", "--buyer", DEV["dev1"], "--amount", "0.5", account="dev2")
    trade_id = created["trade_id"]
    assert created["trade"]["state"] == "AWAITING_FUNDING" and created["trade"]["held"]["value"] == "0"
    assert created["trade"]["you"]["may"] == ["trade cancel"]

    before = held_by_escrow(deployed_anvil)
    funded = cli.json("trade", "fund", trade_id)

    assert funded["trade"]["state"] == "FUNDED" and funded["trade"]["held"]["value"] == "0.5"
    assert held_by_escrow(deployed_anvil) - before == ETHER // 2


def test_a_buyer_may_create_without_funding_and_cancel(cli: Cli, deployed_anvil: Chain) -> None:
    before = held_by_escrow(deployed_anvil)
    trade_id = cli.create("dev2", "2", "--no-fund")
    assert held_by_escrow(deployed_anvil) == before

    result = cli.ok("trade", "cancel", trade_id)

    assert f"Cancelled trade {trade_id}" in result.stdout and "CANCELLED" in result.stdout
    assert cli.json("trade", "show", trade_id)["trade"]["state"] == "CANCELLED"


def test_an_erc20_trade_shows_the_token_symbol_and_approves_exactly(cli: Cli, deployed_anvil: Chain) -> None:
    dev0 = deployed_anvil.sdk("dev0")
    artifact = load_artifact("TestToken", test=True)
    token = dev0.tx.send(Call(None, deploy_data(artifact, "Test Dollar", "TUSD", 6))).contract_address
    assert token is not None
    erc20 = deployed_anvil.w3.eth.contract(address=token, abi=artifact["abi"])
    dev0.tx.send(Call(token, erc20.encode_abi("mint", [DEV["dev1"], 1_000 * 10**6])))

    wrong = cli("trade", "create", "--seller", DEV["dev2"], "--token", token, "--amount", "250 ETH")
    assert wrong.exit_code == 2 and "this trade is in TUSD, not ETH" in one_error_line(wrong)

    document = cli.json("trade", "create", "--seller", DEV["dev2"], "--token", token, "--amount", "250 TUSD")

    assert document["trade"]["amount"] == {"value": "250", "base_units": str(250 * 10**6), "symbol": "TUSD"}
    assert erc20.functions.balanceOf(deployed_anvil.deployment.escrow).call() == 250 * 10**6
    assert erc20.functions.allowance(DEV["dev1"], deployed_anvil.deployment.escrow).call() == 0
    shown = cli.ok("trade", "show", document["trade_id"]).stdout
    assert "250 TUSD" in shown and token in shown


# -- paying out ---------------------------------------------------------------------------------------
def test_partial_release_then_the_seller_refunds_the_rest(cli: Cli, deployed_anvil: Chain) -> None:
    trade_id = cli.create("dev2", "1")
    seller = deployed_anvil.balance(DEV["dev2"])

    released = cli.ok("trade", "release", trade_id, "--amount", "0.4 ETH")

    assert "Released 0.4 ETH to the seller." in released.stdout
    assert "FUNDED, holding 0.6 ETH" in released.stdout
    assert deployed_anvil.balance(DEV["dev2"]) - seller == 4 * ETHER // 10 * (10_000 - FEE) // 10_000

    gas_paid = deployed_anvil.balance(DEV["dev1"])
    refunded = cli.json("trade", "refund", trade_id, account="dev2")

    assert refunded["trade"]["state"] == "COMPLETED"  # the seller was paid a part: not a refund
    assert deployed_anvil.balance(DEV["dev1"]) - gas_paid == 6 * ETHER // 10


def test_release_everything_by_default(cli: Cli, deployed_anvil: Chain) -> None:
    trade_id = cli.create("dev2", "1")
    seller = deployed_anvil.balance(DEV["dev2"])

    document = cli.json("trade", "release", trade_id[:12])  # a unique prefix is enough

    assert document["trade"]["state"] == "COMPLETED" and document["trade"]["held"]["value"] == "0"
    assert deployed_anvil.balance(DEV["dev2"]) - seller == ETHER * (10_000 - FEE) // 10_000
    assert [e["name"] for e in document["tx"]["events"]] == ["Released"]  # the seller never acted: no record


@pytest.mark.parametrize("amount", [None, "0.4 ETH"], ids=["everything", "a-part"])
def test_release_parses_the_amount_once_and_reads_the_trade_once_before_sending(
        cli: Cli, deployed_anvil: Chain, monkeypatch: pytest.MonkeyPatch, amount: str | None) -> None:
    from p2pescrow.cli import parse
    from p2pescrow.clients.sync import EscrowClient

    trade_id = cli.create("dev2", "1")
    seen: list[str] = []
    for owner, name, label in ((EscrowClient, "_slot", "read the trade"), (EscrowClient, "_send", "send"),
                               (parse, "amount", "parse the amount")):
        original = getattr(owner, name)

        def spy(*args, _original=original, _label=label, **kwargs):
            seen.append(_label)
            return _original(*args, **kwargs)

        monkeypatch.setattr(owner, name, spy)

    document = cli.json("trade", "release", trade_id, *(["--amount", amount] if amount else []))

    before_sending = seen[:seen.index("send")]
    assert before_sending == ["read the trade"] + (["parse the amount"] if amount else [])
    assert document["trade"]["held"]["value"] == ("0" if amount is None else "0.6")


def test_deliver_then_anyone_applies_the_timeout_which_pays_the_seller(cli: Cli, deployed_anvil: Chain) -> None:
    trade_id = cli.create("dev2", "1", "--release-window", "1d", "--arbiter", DEV["dev3"])  # with an arbiter only
    delivered = cli.ok("trade", "deliver", trade_id, account="dev2")
    assert "Marked delivered." in delivered.stdout

    early = cli("trade", "timeout", trade_id, account="dev4")
    assert early.exit_code == 3 and "DeadlineNotReached" in one_error_line(early)

    deployed_anvil.sleep(86_400)
    shown = cli.ok("trade", "show", trade_id, account="dev4").stdout
    assert "release window ended" in shown and "trade timeout" in shown
    seller = deployed_anvil.balance(DEV["dev2"])
    result = cli.ok("trade", "timeout", trade_id, account="dev4")

    assert "Timed out: release to the seller." in result.stdout and "COMPLETED" in result.stdout
    assert deployed_anvil.balance(DEV["dev2"]) - seller == ETHER * (10_000 - FEE) // 10_000


# -- settling and disputing ---------------------------------------------------------------------------
def test_settle_then_accept_pays_the_split(cli: Cli, deployed_anvil: Chain) -> None:
    trade_id = cli.create("dev2", "2")
    proposed = cli.ok("trade", "settle", trade_id, "--buyer-share", "60%", account="dev2")
    assert "Proposed 60% to the buyer." in proposed.stdout
    assert "seller proposed 60% to the buyer" in cli.ok("trade", "show", trade_id).stdout

    refused = cli("trade", "accept", trade_id, "--buyer-share", "50%")
    assert refused.exit_code == 2 and "gives the buyer 60%, not 50%" in one_error_line(refused)

    buyer = deployed_anvil.balance(DEV["dev1"])
    document = cli.json("trade", "accept", trade_id, "--buyer-share", "6000bps")

    assert document["trade"]["state"] == "SETTLED"
    settled = next(e for e in document["tx"]["events"] if e["name"] == "Settled")
    assert settled["args"]["toBuyer"] == 12 * ETHER // 10
    gas = int(document["tx"]["gas_cost"]["base_units"])
    assert deployed_anvil.balance(DEV["dev1"]) - buyer == 12 * ETHER // 10 - gas


def test_accepting_without_a_proposal_is_refused_before_sending(cli: Cli, deployed_anvil: Chain) -> None:
    trade_id = cli.create("dev2", "1")
    nonce = deployed_anvil.nonce(DEV["dev1"])

    result = cli("trade", "accept", trade_id)

    assert result.exit_code == 2 and "no settlement proposal" in one_error_line(result)
    assert deployed_anvil.nonce(DEV["dev1"]) == nonce


def test_dispute_evidence_and_a_ruling_split(cli: Cli, deployed_anvil: Chain) -> None:
    trade_id = cli.create("dev2", "1", "--arbiter", DEV["dev3"], "--arbiter-fee", "2%")
    assert "Disputed." in cli.ok("trade", "dispute", trade_id).stdout
    cli.ok("trade", "evidence", trade_id, "https://example.com/photo.jpg", account="dev2")
    arbiter = deployed_anvil.balance(DEV["dev3"])

    document = cli.json("trade", "rule", trade_id, "--buyer-share", "60%", account="dev3")

    assert document["trade"]["state"] == "RESOLVED"
    ruled = next(e for e in document["tx"]["events"] if e["name"] == "Ruled")["args"]
    assert ruled["arbiterFee"] == 2 * ETHER // 100
    assert ruled["toBuyer"] == 98 * ETHER // 100 * 6 // 10
    gas = int(document["tx"]["gas_cost"]["base_units"])
    assert deployed_anvil.balance(DEV["dev3"]) - arbiter == 2 * ETHER // 100 - gas
    history = cli.ok("trade", "history", trade_id).stdout
    assert "EvidenceSubmitted" in history and "https://example.com/photo.jpg" in history
    assert "Ruled: buyerBps 60%, toBuyer 0.588 ETH" in history


def test_an_unruled_dispute_is_resolved_50_50_after_the_window(cli: Cli, deployed_anvil: Chain) -> None:
    trade_id = cli.create("dev2", "1", "--arbiter", DEV["dev3"], "--arbitration-window", "2d")
    cli.ok("trade", "dispute", trade_id, account="dev2")
    too_early = cli("trade", "resolve", trade_id, account="dev5")
    assert too_early.exit_code == 3 and "DeadlineNotReached" in one_error_line(too_early)

    deployed_anvil.sleep(2 * 86_400)
    document = cli.json("trade", "resolve", trade_id, account="dev5")

    assert document["trade"]["state"] == "RESOLVED"
    expired = next(e for e in document["tx"]["events"] if e["name"] == "DisputeExpired")["args"]
    assert expired["toBuyer"] == ETHER // 2


def test_withdraw_with_nothing_credited_is_refused_by_the_contract(cli: Cli, deployed_anvil: Chain) -> None:
    nonce = deployed_anvil.nonce(DEV["dev1"])

    result = cli("trade", "withdraw")

    assert result.exit_code == 3 and "NothingToWithdraw" in one_error_line(result)
    assert deployed_anvil.nonce(DEV["dev1"]) == nonce


# -- confirmation -------------------------------------------------------------------------------------
@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the confirmation believe it talks to a terminal (CliRunner's stdin is not one)."""
    import p2pescrow.cli.confirm as confirm

    monkeypatch.setattr(confirm, "sys", SimpleNamespace(stdin=SimpleNamespace(isatty=lambda: True)))


def test_before_sending_it_shows_amounts_fees_counterparty_and_gas_and_asks(
        cli: Cli, deployed_anvil: Chain, terminal: None) -> None:
    trade_id = cli.create("dev2", "1")
    nonce = deployed_anvil.nonce(DEV["dev1"])

    declined = cli("trade", "release", trade_id, yes=False, input="n\n")

    assert declined.exit_code == 6 and deployed_anvil.nonce(DEV["dev1"]) == nonce  # declined: not an error
    shown = declined.stderr
    assert shown.splitlines()[0] == f"From: dev1 {DEV['dev1']}"  # who sends, first
    assert shown.splitlines()[1] == "About to send: release"
    assert shown.rstrip().endswith("declined: nothing sent") and "Aborted" not in shown
    assert f"release 1 ETH of the 1 ETH held to seller {DEV['dev2']}" in shown
    assert "the seller receives 0.9975 ETH after the 0.25% platform fee (0.0025 ETH)" in shown
    assert "gas: up to" in shown and "Send it?" in shown

    accepted = cli("trade", "release", trade_id, yes=False, input="y\n")
    assert accepted.exit_code == 0 and deployed_anvil.nonce(DEV["dev1"]) == nonce + 1


def test_create_shows_the_terms_before_asking(cli: Cli, terminal: None) -> None:
    result = cli("trade", "create", "--seller", DEV["dev2"], "--amount", "3", "--arbiter", DEV["dev3"],
                 "--arbiter-fee", "1.5%", "--release-window", "12h", yes=False, input="n\n")

    assert result.exit_code == 6 and "declined: nothing sent" in result.stderr
    assert result.stderr.startswith(f"From: dev1 {DEV['dev1']}\n")
    for words in (f"you buy from seller {DEV['dev2']}", "amount: 3 ETH, paid into escrow now",
                  f"arbiter: {DEV['dev3']}, fee 1.5% if they rule", "platform fee: 0.25%",
                  "release 12 hours", "value: 3 ETH"):
        assert words in result.stderr


def test_without_yes_and_without_a_terminal_nothing_is_sent(cli: Cli, deployed_anvil: Chain) -> None:
    trade_id = cli.create("dev2", "1")
    nonce = deployed_anvil.nonce(DEV["dev1"])

    result = cli("trade", "release", trade_id, yes=False)

    assert result.exit_code == 2 and "pass --yes" in one_error_line(result)
    assert deployed_anvil.nonce(DEV["dev1"]) == nonce


# -- reading ------------------------------------------------------------------------------------------
def test_show_prints_parties_amounts_deadline_fees_and_your_next_steps(cli: Cli) -> None:
    trade_id = cli.create("dev2", "1.5", "--arbiter", DEV["dev3"], "--arbiter-fee", "1%", "--terms", "bike")

    out = cli.ok("trade", "show", trade_id).stdout

    assert out.startswith(f"Trade {trade_id}\n")
    for words in ("state       FUNDED", f"buyer       {DEV['dev1']}  (you)", f"seller      {DEV['dev2']}",
                  f"arbiter     {DEV['dev3']}", "amount      1.5 ETH", "held        1.5 ETH",
                  "release window ends", "platform 0.25% of what the seller receives; arbiter 1%",
                  "anyone may refund the buyer", "terms       0x",
                  "reputation  counts once the seller acts on the trade",
                  "you may     trade release, trade dispute, trade settle"):
        assert words in out, words
    assert "deposits" not in out  # none in the terms
    assert re.search(r"deadline    \d{4}-\d\d-\d\d \d\d:\d\d \S+ \(in [23] days\)", out)
    as_seller = cli.ok("trade", "show", trade_id, account="dev2").stdout
    assert "(you)" in as_seller and "you may     trade refund, trade accept, trade deliver, trade dispute" in as_seller


def test_show_speaks_json_and_needs_no_account(cli: Cli) -> None:
    trade_id = cli.create("dev2", "1")

    document = cli.json("trade", "show", trade_id, network=None, account=None, yes=False)  # plain --rpc-url

    trade = document["trade"]
    assert trade["id"] == trade_id and trade["state"] == "FUNDED" and trade["you"] is None
    assert trade["held"]["base_units"] == str(ETHER) and trade["deadline"].endswith("+00:00")
    assert trade["next_actions"]["buyer"] == ["release", "propose_settlement"]


def test_list_filters_by_party_state_and_token(cli: Cli) -> None:
    mine = cli.create("dev5", "0.1", account="dev4")
    cli.create("dev2", "0.1")
    cancelled = cli.create("dev5", "0.1", "--no-fund", account="dev4")
    cli.ok("trade", "cancel", cancelled, account="dev4")

    listed = cli.ok("trade", "list", "--mine", account="dev4").stdout
    header, _, *rows = listed.splitlines()
    assert header.split() == ["TRADE", "STATE", "YOU", "AMOUNT", "HELD", "BUYER", "SELLER", "DEADLINE"]
    assert {row.split()[0] for row in rows} == {mine[:10], cancelled[:10]}

    funded = cli.json("trade", "list", "--party", DEV["dev5"], "--state", "funded", "--token", "ETH")
    assert [t["id"] for t in funded["trades"]] == [mine]
    assert funded["trades"][0]["you"]["roles"] == []  # dev1 looks at dev4's trade

    unknown = cli("trade", "list", "--state", "lost")
    assert unknown.exit_code == 2 and "unknown state 'lost'" in one_error_line(unknown)


def test_history_lists_every_event_in_order(cli: Cli) -> None:
    trade_id = cli.create("dev2", "1")
    cli.ok("trade", "accept", trade_id, account="dev2")  # the seller enters the trade: an event of its own
    cli.ok("trade", "release", trade_id, "--amount", "0.5")
    cli.ok("trade", "release", trade_id)

    document = cli.json("trade", "history", trade_id)
    text = cli.ok("trade", "history", trade_id).stdout

    assert [e["name"] for e in document["events"]] == ["TradeCreated", "SellerAccepted", "Released", "Released"]
    assert document["events"][2]["args"]["toSeller"] == ETHER // 2 * (10_000 - FEE) // 10_000
    assert "Released: toSeller 0.49875 ETH, platformFee 0.00125 ETH" in text
    assert "SellerAccepted: state FUNDED" in text


def test_watch_prints_new_events_as_they_come(cli: Cli, deployed_anvil: Chain) -> None:
    def later() -> None:
        time.sleep(1.5)
        deployed_anvil.sdk("dev6").create(seller=DEV["dev7"], amount="0.3")

    threading.Thread(target=later, daemon=True).start()
    text = cli.ok("trade", "watch", "--seconds", "4", "--interval", "0.2", account=None)

    assert "TradeCreated: buyer" in text.stdout and "amount 0.3 ETH" in text.stdout

    threading.Thread(target=later, daemon=True).start()
    document = cli.json("trade", "watch", "--seconds", "4", "--interval", "0.2", account=None)
    created = [e for e in document["events"] if e["name"] == "TradeCreated"]
    assert len(created) == 1 and created[0]["args"]["buyer"] == DEV["dev6"]
