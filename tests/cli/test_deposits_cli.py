"""Escrow v2 on the command line, on a real Anvil: a seller's bond (`bond deposit|withdraw|show`),
trades with deposits from both sides (`trade create --buyer-deposit/--seller-deposit`, `trade
accept`), who gets each deposit when a party vanishes or concedes (`trade timeout`, `trade concede`),
the to-do list (`trade list --due`), the risks said before creating, and the offer board (`offer
publish`). Every outcome is read from the chain: balances, states, events."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from support.escrow_cli import DEV, ETHER, PLATFORM_FEE_BPS, Chain, Cli, one_error_line

from p2pescrow import SignedOffer
from p2pescrow.core.offers import terms_document

pytestmark = pytest.mark.anvil

FEE = PLATFORM_FEE_BPS
TENTH = ETHER // 10


def escrow_balance(chain: Chain) -> int:
    return chain.balance(chain.deployment.escrow)


def gas_of(document: dict) -> int:
    return int(document["tx"]["gas_cost"]["base_units"])


def fee(units: int) -> int:
    return (units * FEE + 9_999) // 10_000  # rounded up, as the contract does


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the confirmation believe it talks to a terminal (CliRunner's stdin is not one)."""
    import p2pescrow.cli.confirm as confirm

    monkeypatch.setattr(confirm, "sys", SimpleNamespace(stdin=SimpleNamespace(isatty=lambda: True)))


def free_bond(cli: Cli, who: str) -> int:
    return int(cli.json("bond", "show", DEV[who], account=None)["bond"]["free"]["base_units"])


def a_deposit_trade(cli: Cli, *options: str) -> str:
    """dev1 buys 1 ETH from dev2 with dev3 arbitrating, 0.1 ETH deposit each; dev2 tops its bond up
    and accepts, so the trade is live."""
    if free_bond(cli, "dev2") < TENTH:
        cli.ok("bond", "deposit", "0.1", account="dev2")
    trade_id = cli.create("dev2", "1", "--arbiter", DEV["dev3"], "--arbiter-fee", "2%", "--buyer-deposit", "0.1",
                          "--seller-deposit", "0.1", *options)
    assert cli.json("trade", "accept", trade_id, account="dev2")["trade"]["state"] == "FUNDED"
    return trade_id


# -- the bond ---------------------------------------------------------------------------------------------
def test_bond_deposit_show_and_withdraw_move_the_sellers_money(cli: Cli, deployed_anvil: Chain) -> None:
    escrow, seller = escrow_balance(deployed_anvil), deployed_anvil.balance(DEV["dev5"])

    deposited = cli.json("bond", "deposit", "0.3 ETH", account="dev5")

    assert deposited["free"]["base_units"] == str(3 * TENTH)
    assert escrow_balance(deployed_anvil) - escrow == 3 * TENTH
    assert seller - deployed_anvil.balance(DEV["dev5"]) == 3 * TENTH + gas_of(deposited)
    shown = cli.ok("bond", "show", account="dev5").stdout
    assert f"Bond of {DEV['dev5']} in ETH" in shown and "free    0.3 ETH" in shown
    assert "locked  0 ETH in 0 live trades" in shown

    receiver = deployed_anvil.balance(DEV["dev6"])
    withdrawn = cli.ok("bond", "withdraw", "0.1", "--to", DEV["dev6"], account="dev5")

    assert f"Withdrew 0.1 ETH from your bond to {DEV['dev6']}; free bond 0.2 ETH." in withdrawn.stdout
    assert deployed_anvil.balance(DEV["dev6"]) - receiver == TENTH
    assert free_bond(cli, "dev5") == 2 * TENTH

    everything = cli.json("bond", "withdraw", "all", account="dev5")
    assert everything["amount"]["base_units"] == str(2 * TENTH) and free_bond(cli, "dev5") == 0


def test_withdrawing_more_than_the_free_bond_is_refused_before_sending(cli: Cli, deployed_anvil: Chain) -> None:
    cli.ok("bond", "deposit", "0.05", account="dev7")
    nonce = deployed_anvil.nonce(DEV["dev7"])

    too_much = cli("bond", "withdraw", "1", account="dev7")

    assert too_much.exit_code == 2
    assert "at most your free bond, 0.05 ETH; asked for 1 ETH" in one_error_line(too_much)
    assert deployed_anvil.nonce(DEV["dev7"]) == nonce
    wrong_token = cli("bond", "deposit", "1 DUSD", account="dev7")
    assert wrong_token.exit_code == 2 and "this trade is in ETH, not DUSD" in one_error_line(wrong_token)


# -- a trade with deposits ------------------------------------------------------------------------------------
def test_a_buyer_created_trade_goes_live_when_the_seller_accepts_with_its_bond(
        cli: Cli, deployed_anvil: Chain) -> None:
    escrow = escrow_balance(deployed_anvil)
    created = cli.json("trade", "create", "--seller", DEV["dev8"], "--amount", "1", "--arbiter", DEV["dev3"],
                       "--buyer-deposit", "0.1", "--seller-deposit", "0.2")
    trade_id = created["trade_id"]
    trade = created["trade"]

    assert trade["state"] == "AWAITING_DEPOSIT"
    assert escrow_balance(deployed_anvil) - escrow == ETHER + TENTH  # the price and the buyer's deposit
    assert trade["deposits"]["buyer"]["in"] is True and trade["deposits"]["seller"]["in"] is False
    shown = cli.ok("trade", "show", trade_id, account="dev8").stdout
    assert "deposits    buyer 0.1 ETH, in" in shown
    assert "seller 0.2 ETH, not in yet: locked from the seller's bond when the seller accepts" in shown
    assert "the seller must accept (lock its deposit) by then" in shown and "trade accept" in shown

    (due,) = [d for d in cli.json("trade", "list", "--due", account="dev8")["due"] if d["trade_id"] == trade_id]
    assert due["role"] == "seller" and due["actions"] == ["trade accept"] and "the sale is lost" in due["if_not"]
    assert cli.json("trade", "list", "--due", "--party", DEV["dev8"], account=None)["due"] == \
        cli.json("trade", "list", "--due", account="dev8")["due"]  # anyone may read anyone's to-do list

    no_bond = cli("trade", "accept", trade_id, account="dev8")
    assert no_bond.exit_code == 3 and "InsufficientBond" in one_error_line(no_bond)
    assert "(hint: the seller adds to its bond with `p2pescrow bond deposit AMOUNT`" in one_error_line(no_bond)

    cli.ok("bond", "deposit", "0.25", account="dev8")
    accepted = cli.ok("trade", "accept", trade_id, account="dev8")

    assert f"Accepted trade {trade_id}: your 0.2 ETH deposit is locked." in accepted.stdout
    assert "state     FUNDED, holding 1 ETH" in accepted.stdout
    assert free_bond(cli, "dev8") == TENTH // 2
    bond = cli.json("bond", "show", DEV["dev8"], account=None)["bond"]
    assert bond["locked"]["base_units"] == str(2 * TENTH) and bond["locked_in"][0]["trade_id"] == trade_id
    again = cli("trade", "accept", trade_id, account="dev8")
    assert again.exit_code == 2 and "already accepted it" in one_error_line(again)


def test_a_seller_creating_with_a_deposit_locks_it_at_once_and_the_buyer_funding_makes_it_live(
        cli: Cli, deployed_anvil: Chain, terminal: None) -> None:
    nonce = deployed_anvil.nonce(DEV["dev9"])
    short = cli("trade", "create", "--buyer", DEV["dev1"], "--amount", "0.5", "--seller-deposit", "0.05",
                "--arbiter", DEV["dev3"], account="dev9")
    assert short.exit_code == 3 and "InsufficientBond" in one_error_line(short)
    assert deployed_anvil.nonce(DEV["dev9"]) == nonce

    cli.ok("bond", "deposit", "0.05", account="dev9")
    created = cli.json("trade", "create", "--buyer", DEV["dev1"], "--amount", "0.5", "--buyer-deposit", "0.02",
                       "--seller-deposit", "0.05", "--arbiter", DEV["dev3"], account="dev9")
    trade_id = created["trade_id"]
    assert created["trade"]["state"] == "AWAITING_FUNDING" and created["trade"]["deposits"]["seller"]["in"] is True
    assert free_bond(cli, "dev9") == 0

    asked = cli("trade", "fund", trade_id, yes=False, input="n\n")
    assert asked.exit_code == 6
    assert "pay 0.52 ETH into escrow (the price 0.5 ETH and your deposit 0.02 ETH)" in asked.stderr
    assert "value: 0.52 ETH" in asked.stderr
    escrow = escrow_balance(deployed_anvil)
    funded = cli.json("trade", "fund", trade_id)

    assert funded["trade"]["state"] == "FUNDED"  # the seller's deposit was in already: live at once
    assert escrow_balance(deployed_anvil) - escrow == 52 * ETHER // 100


def test_the_buyer_who_vanishes_forfeits_its_deposit_to_the_seller(cli: Cli, deployed_anvil: Chain) -> None:
    trade_id = a_deposit_trade(cli, "--release-window", "1d")
    cli.ok("trade", "deliver", trade_id, account="dev2")

    due = cli.json("trade", "list", "--due")["due"]
    mine = next(d for d in due if d["trade_id"] == trade_id)
    assert mine["role"] == "buyer" and mine["actions"] == ["trade release", "trade dispute"]
    assert mine["amount_lost"]["base_units"] == str(ETHER) and mine["deposit_lost"]["base_units"] == str(TENTH)
    table = cli.ok("trade", "list", "--due").stdout
    assert trade_id[:10] in table and "trade release or trade dispute" in table and "1.1 ETH" in table

    deployed_anvil.sleep(86_400)
    seller = deployed_anvil.balance(DEV["dev2"])
    preview_lines = cli.ok("trade", "timeout", trade_id, account="dev4")

    assert "Timed out: release to the seller." in preview_lines.stdout
    # the price less the fee, the buyer's deposit (forfeited) and the seller's own deposit back
    assert deployed_anvil.balance(DEV["dev2"]) - seller == ETHER - fee(ETHER) + TENTH + TENTH
    assert cli.json("trade", "show", trade_id)["trade"]["state"] == "COMPLETED"
    history = cli.ok("trade", "history", trade_id).stdout  # no deposit event: told from the ending, by the table
    assert ("deposits (by the contract's table, from the ending above): the buyer's 0.1 ETH to the seller "
            "(forfeited), the seller's 0.1 ETH back to the seller") in history


def test_marking_delivery_says_the_buyers_deposit_is_at_stake(cli: Cli, deployed_anvil: Chain,
                                                              terminal: None) -> None:
    trade_id = a_deposit_trade(cli)

    declined = cli("trade", "deliver", trade_id, account="dev2", yes=False, input="n\n")

    assert declined.exit_code == 6
    assert "from now on the timeout releases 1 ETH to you" in declined.stderr
    assert "if it does neither, its deposit of 0.1 ETH goes to you too" in declined.stderr


def test_the_timeout_preview_says_who_gets_each_deposit(cli: Cli, deployed_anvil: Chain, terminal: None) -> None:
    trade_id = a_deposit_trade(cli, "--release-window", "1d")
    deployed_anvil.sleep(86_400)

    declined = cli("trade", "timeout", trade_id, account="dev4", yes=False, input="n\n")

    assert declined.exit_code == 6
    assert "apply the timeout to trade" in declined.stderr and "refund the buyer" in declined.stderr
    assert "the buyer's deposit of 0.1 ETH goes back to the buyer" in declined.stderr
    assert "the seller's deposit of 0.1 ETH goes to the buyer (forfeited)" in declined.stderr


def test_a_seller_who_concedes_refunds_the_buyer_and_forfeits_its_deposit(cli: Cli, deployed_anvil: Chain) -> None:
    trade_id = a_deposit_trade(cli)
    cli.ok("trade", "dispute", trade_id)
    assert "trade concede" in cli.json("trade", "show", trade_id, account="dev2")["trade"]["you"]["may"]
    buyer, arbiter = deployed_anvil.balance(DEV["dev1"]), deployed_anvil.balance(DEV["dev3"])

    conceded = cli.json("trade", "concede", trade_id, account="dev2")

    half_fee = ETHER * 100 // 10_000  # half the 2% fee
    assert conceded["trade"]["state"] == "RESOLVED"
    assert deployed_anvil.balance(DEV["dev3"]) - arbiter == half_fee
    # everything held less the arbiter's half fee, the buyer's deposit back and the seller's forfeited
    assert deployed_anvil.balance(DEV["dev1"]) - buyer == ETHER - half_fee + TENTH + TENTH
    event = next(e for e in conceded["tx"]["events"] if e["name"] == "Conceded")["args"]
    assert event["by"] == DEV["dev2"] and event["arbiterFee"] == half_fee
    paid = cli.json("trade", "history", trade_id)["deposits_paid"]
    assert [(p["deposit"], p["to"]) for p in paid] == [("buyer", "buyer"), ("seller", "buyer")]


def test_only_a_party_in_a_dispute_concedes(cli: Cli, deployed_anvil: Chain) -> None:
    trade_id = a_deposit_trade(cli)
    nonce = deployed_anvil.nonce(DEV["dev3"])

    arbiter = cli("trade", "concede", trade_id, account="dev3")
    live = cli("trade", "concede", trade_id)

    assert arbiter.exit_code == 2 and "only the buyer or the seller" in one_error_line(arbiter)
    assert deployed_anvil.nonce(DEV["dev3"]) == nonce
    assert live.exit_code == 3 and "WrongState" in one_error_line(live)


def test_a_ruling_against_the_buyer_gives_its_deposit_to_the_seller(cli: Cli, deployed_anvil: Chain) -> None:
    trade_id = a_deposit_trade(cli)
    cli.ok("trade", "dispute", trade_id, account="dev2")
    seller, buyer = deployed_anvil.balance(DEV["dev2"]), deployed_anvil.balance(DEV["dev1"])

    ruled = cli.ok("trade", "rule", trade_id, "--buyer-share", "30%", account="dev3")

    assert "Ruled: 30% to the buyer." in ruled.stdout
    pool = ETHER - ETHER * 200 // 10_000  # after the arbiter's 2%
    to_buyer = pool * 3_000 // 10_000
    assert deployed_anvil.balance(DEV["dev1"]) - buyer == to_buyer  # its deposit forfeited
    assert deployed_anvil.balance(DEV["dev2"]) - seller == pool - to_buyer - fee(pool - to_buyer) + 2 * TENTH


def test_the_buyer_cancels_a_trade_the_seller_never_accepted_and_gets_everything_back(
        cli: Cli, deployed_anvil: Chain) -> None:
    trade_id = cli.create("dev2", "1", "--buyer-deposit", "0.1", "--seller-deposit", "0.1")
    buyer = deployed_anvil.balance(DEV["dev1"])

    cancelled = cli.json("trade", "cancel", trade_id)

    assert cancelled["trade"]["state"] == "CANCELLED"
    assert deployed_anvil.balance(DEV["dev1"]) - buyer == ETHER + TENTH - gas_of(cancelled)


def test_trade_accept_still_accepts_the_other_sides_settlement(cli: Cli, deployed_anvil: Chain) -> None:
    trade_id = a_deposit_trade(cli)
    cli.ok("trade", "settle", trade_id, "--buyer-share", "50%")
    buyer = deployed_anvil.balance(DEV["dev1"])
    seller = deployed_anvil.balance(DEV["dev2"])

    settled = cli.json("trade", "accept", trade_id, "--buyer-share", "50%", account="dev2")

    assert settled["trade"]["state"] == "SETTLED"
    assert deployed_anvil.balance(DEV["dev1"]) - buyer == ETHER // 2 + TENTH  # half, and its deposit back
    assert deployed_anvil.balance(DEV["dev2"]) - seller == ETHER // 2 - fee(ETHER // 2) + TENTH - gas_of(settled)


# -- what is said before creating ------------------------------------------------------------------------------
def test_creating_without_an_arbiter_says_who_bears_the_risk(cli: Cli, deployed_anvil: Chain, terminal: None) -> None:
    refund = cli("trade", "create", "--seller", DEV["dev2"], "--amount", "1", yes=False, input="n\n")
    release = cli("trade", "create", "--seller", DEV["dev2"], "--amount", "1", "--timeout-releases", yes=False,
                  input="n\n")
    with_arbiter = cli("trade", "create", "--seller", DEV["dev2"], "--amount", "1", "--arbiter", DEV["dev3"],
                       yes=False, input="n\n")

    assert refund.exit_code == release.exit_code == with_arbiter.exit_code == 6
    assert "the seller bears the risk of a buyer who keeps the goods" in refund.stderr
    assert "the buyer bears the risk of a seller who never delivers" in release.stderr
    assert "bears the risk" not in with_arbiter.stderr


def test_creating_says_when_the_trade_will_record_no_reputation(
        cli: Cli, deployed_anvil: Chain, terminal: None) -> None:
    small = cli("trade", "create", "--seller", DEV["dev2"], "--amount", "0.000001", "--arbiter", DEV["dev3"],
                yes=False, input="n\n")
    unasked = cli("trade", "create", "--seller", DEV["dev2"], "--amount", "0.000001", "--arbiter", DEV["dev3"],
                  "--no-reputation", yes=False, input="n\n")

    assert small.exit_code == unasked.exit_code == 6
    assert "trade records no reputation" in small.stderr
    assert "records no reputation" not in unasked.stderr  # not asked for: nothing to warn about


def test_a_deposit_must_be_an_amount_of_the_trades_token(cli: Cli, deployed_anvil: Chain) -> None:
    nonce = deployed_anvil.nonce(DEV["dev1"])

    negative = cli("trade", "create", "--seller", DEV["dev2"], "--amount", "1", "--buyer-deposit", "-1")
    other_token = cli("trade", "create", "--seller", DEV["dev2"], "--amount", "1", "--seller-deposit", "5 DUSD")

    assert negative.exit_code == other_token.exit_code == 2
    assert "--buyer-deposit" in one_error_line(negative)
    assert "this trade is in ETH, not DUSD" in one_error_line(other_token)
    assert deployed_anvil.nonce(DEV["dev1"]) == nonce


# -- signed offers with deposits, and the offer board -------------------------------------------------------------
def test_an_offer_with_deposits_locks_the_sellers_bond_when_filled(cli: Cli, deployed_anvil: Chain,
                                                                    tmp_path: Path) -> None:
    path = tmp_path / "bike.json"
    unbacked = cli.ok("offer", "create", "--amount", "0.8", "--terms", "road bike, size 56", "--buyer-deposit",
                      "0.05", "--seller-deposit", "0.2", "--arbiter", DEV["dev3"], "--out", str(path), account="dev5")
    assert "no buyer can fill this offer until you add 0.2 ETH (`p2pescrow bond deposit`)" in unbacked.stderr
    assert "road bike, size 56  (the document the seller signed)" in unbacked.stdout
    short = cli("offer", "fill", str(path), account="dev6")
    assert short.exit_code == 2 and "free bond is 0 ETH" in one_error_line(short)
    cli.ok("bond", "deposit", "0.2", account="dev5")
    shown = cli.ok("offer", "show", str(path), network=None, rpc_url=None, account=None, yes=False).stdout
    assert "deposits   buyer 0.05 ETH (paid with the price), seller 0.2 ETH" in shown
    escrow = escrow_balance(deployed_anvil)

    filled = cli.json("offer", "fill", str(path), account="dev6")

    assert filled["trade"]["state"] == "FUNDED"  # the seller's deposit came from its bond: live at once
    assert filled["trade"]["deposits"]["seller"]["in"] is True
    assert escrow_balance(deployed_anvil) - escrow == 8 * TENTH + TENTH // 2
    assert free_bond(cli, "dev5") == 0


def test_an_offer_whose_terms_document_was_changed_is_refused(cli: Cli, deployed_anvil: Chain,
                                                               tmp_path: Path) -> None:
    path = tmp_path / "bike.json"
    cli.ok("offer", "create", "--amount", "0.8", "--terms", "road bike, size 56", "--out", str(path), account="dev5")
    shown = cli.ok("offer", "show", str(path), network=None, rpc_url=None, account=None, yes=False).stdout
    assert "road bike, size 56  (the document the seller signed)" in shown
    document = json.loads(path.read_text())
    document["terms"] = {"description": "road bike, size 58"}  # swapped after signing
    swapped = tmp_path / "swapped.json"
    swapped.write_text(json.dumps(document))
    nonce = deployed_anvil.nonce(DEV["dev6"])

    show = cli("offer", "show", str(swapped), network=None, rpc_url=None, account=None, yes=False)
    verify = cli("offer", "verify", str(swapped), account="dev6")
    fill = cli("offer", "fill", str(swapped), account="dev6")

    assert show.exit_code == verify.exit_code == fill.exit_code == 2
    assert "NOT the one the seller signed" in show.stderr
    assert "size 58  (NOT the document the seller signed)" in show.stdout
    assert "NOT the one the seller signed" in one_error_line(verify) and "NOT the one" in one_error_line(fill)
    assert deployed_anvil.nonce(DEV["dev6"]) == nonce


def test_signing_and_filling_an_offer_without_an_arbiter_say_who_bears_the_risk(
        cli: Cli, deployed_anvil: Chain, tmp_path: Path, terminal: None) -> None:
    signed = cli.ok("offer", "create", "--amount", "0.5", "--timeout-releases", account="dev5")
    assert "RISK: no arbiter, and the timeout releases to the seller" in signed.stderr
    path = tmp_path / "offer.json"
    path.write_text(signed.stdout)

    declined = cli("offer", "fill", str(path), account="dev6", yes=False, input="n\n")

    assert declined.exit_code == 6
    assert "RISK: no arbiter, and the timeout releases to the seller: the buyer bears the risk" in declined.stderr
    # the document on standard input leaves no answer for the prompt: one line, nothing sent
    no_answer = cli("offer", "fill", "-", input=signed.stdout, account="dev6", yes=False)
    assert no_answer.exit_code == 1 and no_answer.stderr.rstrip().endswith("error: aborted: no answer at the prompt")
    assert "Traceback" not in no_answer.stderr and "unexpected" not in no_answer.stderr


def test_publish_puts_the_offer_and_its_terms_on_chain_after_saying_it_is_public_forever(
        cli: Cli, deployed_anvil: Chain, tmp_path: Path, terminal: None) -> None:
    path = tmp_path / "lamp.json"
    terms = {"item": "desk lamp", "condition": "working", "ships_within_days": 2}
    (tmp_path / "terms.json").write_text(json.dumps(terms))
    cli.ok("offer", "create", "--amount", "0.3", "--terms-file", str(tmp_path / "terms.json"), "--out", str(path),
           account="dev5")
    signed = SignedOffer.from_json(path.read_text())
    nonce = deployed_anvil.nonce(DEV["dev5"])

    declined = cli("offer", "publish", str(path), account="dev5", yes=False, input="n\n")
    assert declined.exit_code == 6 and deployed_anvil.nonce(DEV["dev5"]) == nonce
    assert "public forever" in declined.stderr.split("Send it?")[0]

    published = cli.json("offer", "publish", str(path), account="dev5")

    event = next(e for e in published["tx"]["events"] if e["name"] == "OfferPublished")["args"]
    assert event["seller"] == DEV["dev5"] and event["nonce"] == signed.offer.nonce
    assert bytes.fromhex(event["terms"].removeprefix("0x")) == terms_document(terms)
    assert published["terms_bytes"] == len(terms_document(terms))


def test_publish_refuses_an_offer_without_its_terms_or_with_other_terms(cli: Cli, deployed_anvil: Chain,
                                                                         tmp_path: Path) -> None:
    bare = tmp_path / "bare.json"
    cli.ok("offer", "create", "--amount", "0.3", "--out", str(bare), account="dev5")
    with_terms = tmp_path / "lamp.json"
    cli.ok("offer", "create", "--amount", "0.3", "--terms", "desk lamp", "--out", str(with_terms), account="dev5")
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"description": "a different lamp"}))
    nonce = deployed_anvil.nonce(DEV["dev5"])

    no_terms = cli("offer", "publish", str(bare), account="dev5")
    mismatch = cli("offer", "publish", str(with_terms), "--terms-file", str(other), account="dev5")
    not_yours = cli("offer", "publish", str(with_terms), account="dev6")

    assert no_terms.exit_code == mismatch.exit_code == not_yours.exit_code == 2
    assert "carries no terms document" in one_error_line(no_terms)
    assert "does not hash to the offer's termsHash" in one_error_line(mismatch)
    assert "only its seller publishes it" in one_error_line(not_yours)
    assert deployed_anvil.nonce(DEV["dev5"]) == nonce


# -- fees -------------------------------------------------------------------------------------------------------
def test_anyone_sweeps_the_fees_kept_in_ended_trades_to_the_fee_recipient(cli: Cli, deployed_anvil: Chain) -> None:
    trade_id = cli.create("dev2", "2")
    cli.ok("trade", "release", trade_id)
    kept = int(cli.json("trade", "show", trade_id)["trade"]["unswept_fee"]["base_units"])
    assert kept == fee(2 * ETHER)
    recipient = deployed_anvil.deployment.fee_recipient
    before = deployed_anvil.balance(recipient)

    swept = cli.json("fees", "sweep", account="dev4")

    assert swept["recipient"] == recipient and int(swept["amount"]["base_units"]) >= kept
    assert deployed_anvil.balance(recipient) - before == int(swept["amount"]["base_units"])
    assert cli.json("trade", "show", trade_id)["trade"]["unswept_fee"]["base_units"] == "0"
    nothing = cli("fees", "sweep", account="dev4")
    assert nothing.exit_code == 3 and "NothingToWithdraw" in one_error_line(nothing)


# -- help that teaches ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("words", [("bond", "deposit"), ("bond", "withdraw"), ("bond", "show"), ("trade", "accept"),
                                   ("trade", "concede"), ("offer", "publish"), ("trade", "list"),
                                   ("fees", "sweep"), ("trade", "create"), ("offer", "create")])
def test_every_new_command_has_help_with_an_example(cli: Cli, words: tuple[str, ...]) -> None:
    shown = cli.ok(*words, "--help", network=None, rpc_url=None, account=None, yes=False).stdout
    assert "Example" in shown and "p2pescrow --account" in shown


# -- a v1 deployment ------------------------------------------------------------------------------------------
def test_a_v1_deployment_is_refused_with_one_line_and_exit_4(cli: Cli, deployed_anvil: Chain, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A registry record written for escrow v1 (it has no version): every command that reaches the
    escrow stops before sending, with one line saying to deploy version 2."""
    registry = json.loads((deployed_anvil.home / "deployments.json").read_text())
    for record in registry.values():
        record.pop("version", None)
    home = tmp_path / "v1-home"
    home.mkdir()
    (home / "deployments.json").write_text(json.dumps(registry))
    monkeypatch.setenv("P2PESCROW_HOME", str(home))
    nonce = deployed_anvil.nonce(DEV["dev1"])

    for command in (("trade", "create", "--seller", DEV["dev2"], "--amount", "1"), ("trade", "list"),
                    ("trade", "list", "--due"), ("bond", "deposit", "0.1"), ("bond", "show")):
        result = cli(*command)
        assert result.exit_code == 4, (command, result.stderr)
        line = one_error_line(result)
        assert "is version 1" in line and "speaks only version 2" in line and "deploy version 2" in line, command
    assert deployed_anvil.nonce(DEV["dev1"]) == nonce
    as_json = cli("bond", "show", json_output=True)
    assert json.loads(as_json.stdout)["error"]["type"] == "OutdatedDeployment"
