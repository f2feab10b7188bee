"""``p2pescrow offer ...``: a seller signs without a transaction, the document travels as a file or
through a pipe, and the buyer verifies it (exit 2 saying what is wrong) before filling it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.escrow_cli import DEV, ETHER, Chain, Cli, one_error_line

from p2pescrow import SignedOffer

pytestmark = pytest.mark.anvil


def sign(cli: Cli, *options: str, account: str = "dev5") -> str:
    """An offer document signed by ``account`` (dev5), as `offer create` prints it."""
    return cli.ok("offer", "create", "--amount", "0.75 ETH", *options, account=account).stdout


def test_create_prints_the_document_and_sends_nothing(cli: Cli, deployed_anvil: Chain) -> None:
    nonce = deployed_anvil.nonce(DEV["dev5"])

    result = cli.ok("offer", "create", "--amount", "0.75", "--terms", "a bike", "--expires-in", "2h",
                    account="dev5")

    assert deployed_anvil.nonce(DEV["dev5"]) == nonce
    document = result.stdout.strip()
    assert "\n" not in document
    signed = SignedOffer.from_json(document)
    assert signed.offer.seller == DEV["dev5"] and signed.offer.amount == 3 * ETHER // 4
    assert signed.signer() == DEV["dev5"] and signed.chain_id == 31337
    assert f"offer revoke {signed.offer.nonce}" in result.stderr


def test_create_to_a_file_and_show_it_offline(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "offer.json"
    created = cli.json("offer", "create", "--amount", "1.25", "--arbiter", DEV["dev3"], "--arbiter-fee", "1%",
                       "--nonce", "424242", "--out", str(path), account="dev5")
    assert created["file"] == str(path) and created["offer"]["nonce"] == "424242"
    assert SignedOffer.from_json(path.read_text()).offer.nonce == 424_242

    # show needs no node and no account
    shown = cli.ok("offer", "show", str(path), network=None, rpc_url=None, account=None, yes=False).stdout
    for words in (f"seller     {DEV['dev5']}", "buyer      anyone", "amount     1.25 ETH",
                  f"arbiter    {DEV['dev3']}, fee 1%", "nonce      424242", "signature  valid, by the seller"):
        assert words in shown, words
    document = cli.json("offer", "show", "-", input=path.read_text(), network=None, rpc_url=None, account=None)
    assert document["offer"]["amount"]["value"] == "1.25" and document["offer"]["signed_by_seller"] is True


def test_verify_then_fill_from_stdin_creates_and_funds_the_trade(cli: Cli, deployed_anvil: Chain) -> None:
    document = sign(cli, "--terms", "a bike")
    verified = cli.ok("offer", "verify", "-", input=document, account="dev6")
    assert verified.stdout.startswith("Offer OK") and "0.75 ETH" in verified.stdout
    assert cli.json("offer", "verify", "-", input=document, account="dev6")["valid"] is True
    nonce = deployed_anvil.nonce(DEV["dev6"])

    filled = cli.json("offer", "fill", "-", input=document, account="dev6")

    assert deployed_anvil.nonce(DEV["dev6"]) == nonce + 1
    trade = filled["trade"]
    assert trade["id"] == filled["trade_id"] and trade["state"] == "FUNDED"
    assert (trade["buyer"], trade["seller"]) == (DEV["dev6"], DEV["dev5"])
    assert trade["held"]["value"] == "0.75" and trade["created_by_seller"] is True
    again = cli("offer", "verify", "-", input=document, account="dev6")
    assert again.exit_code == 2 and "already filled or revoked" in one_error_line(again)


def test_fill_prints_a_summary(cli: Cli) -> None:
    result = cli.ok("offer", "fill", "-", input=sign(cli), account="dev6")

    assert result.stdout.startswith("Filled the offer: trade 0x") and "holds 0.75 ETH" in result.stdout
    assert "state     FUNDED, holding 0.75 ETH" in result.stdout


def test_a_revoked_offer_cannot_be_filled(cli: Cli, deployed_anvil: Chain, tmp_path: Path) -> None:
    path = tmp_path / "offer.json"
    path.write_text(sign(cli))
    nonce = json.loads(path.read_text())["offer"]["nonce"]

    revoked = cli.json("offer", "revoke", nonce, account="dev5")
    assert revoked["nonce"] == nonce and revoked["tx"]["events"][0]["name"] == "OfferRevoked"

    buyer_nonce = deployed_anvil.nonce(DEV["dev6"])
    result = cli("offer", "fill", str(path), account="dev6")
    assert result.exit_code == 2 and "nonce used" in one_error_line(result)
    assert deployed_anvil.nonce(DEV["dev6"]) == buyer_nonce


def test_an_offer_reserved_for_another_buyer_is_refused(cli: Cli) -> None:
    document = sign(cli, "--buyer", DEV["dev7"])

    result = cli("offer", "verify", "-", input=document, account="dev6")

    assert result.exit_code == 2
    assert f"reserved for buyer {DEV['dev7']}" in one_error_line(result)
    assert cli.ok("offer", "verify", "-", input=document, account="dev7").stdout.startswith("Offer OK")


def test_a_tampered_offer_is_caught_offline_and_on_verify(cli: Cli) -> None:
    document = json.loads(sign(cli))
    document["offer"]["amount"] = "1"  # 1 wei instead of 0.75 ETH
    tampered = json.dumps(document)

    shown = cli("offer", "show", "-", input=tampered, account=None)
    assert shown.exit_code == 2  # a bad signature is not an offer to show with exit 0
    assert shown.stderr.startswith("error: the offer's signature is NOT the seller's")  # said first
    assert shown.stdout.startswith("Offer (NOT validly signed)\n") and "NOT the seller's signature" in shown.stdout
    as_json = cli("offer", "show", "-", input=tampered, account=None, json_output=True)
    assert as_json.exit_code == 2 and json.loads(as_json.stdout)["error"]["exit_code"] == 2
    result = cli("offer", "verify", "-", input=tampered, account="dev6")
    assert result.exit_code == 2 and "not the seller's" in one_error_line(result)
