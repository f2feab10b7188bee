"""Bad input through the real commands: each ends with one ``error:`` line and its exit code, and
no transaction is sent (the sender's nonce does not move). Reverts show the decoded custom error."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from support.escrow_cli import DEV, Chain, Cli, one_error_line

from p2pescrow import accounts
from p2pescrow.config import HOME_ENV
from p2pescrow.networks import Network, Networks
from p2pescrow.node.process import rpc as _nodes_rpc
from p2pescrow.node.process import start_node
from p2pescrow.transport.sync import Call

pytestmark = pytest.mark.anvil

PASSWORD = "correct horse battery staple"
UNKNOWN_ID = "0x" + "5a" * 32


@pytest.fixture(scope="module")
def funded(deployed_anvil: Chain) -> str:
    """A funded trade: dev1 buys from dev2 for 1 ETH."""
    return deployed_anvil.sdk("dev1").create(seller=DEV["dev2"], amount="1").trade_id


@pytest.fixture(scope="module")
def completed(deployed_anvil: Chain) -> str:
    sdk = deployed_anvil.sdk("dev1")
    trade_id = sdk.create(seller=DEV["dev2"], amount="1").trade_id
    sdk.release(trade_id)
    return trade_id


@pytest.fixture(scope="module")
def keystore(anvil_home: Path, deployed_anvil: Chain) -> Iterator[str]:
    """A funded keystore account ``carol`` in the module's home; yields its address."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(HOME_ENV, str(anvil_home))
        address = accounts.create("carol", PASSWORD)
    deployed_anvil.sdk("dev0").tx.send(Call(address, "0x", 10**18, "fund carol"))
    yield address


@pytest.fixture
def password_file(tmp_path: Path) -> Callable[[str], Path]:
    """``password_file("secret")``: a password file holding that text."""
    def write(text: str) -> Path:
        path = tmp_path / "password.txt"
        path.write_text(text + "\n")
        path.chmod(0o600)
        return path
    return write


CHECKSUM_TYPO = DEV["dev2"][:-1] + ("c" if DEV["dev2"][-1] == "C" else "C")  # case flipped: bad EIP-55

# (arguments, exit code, words in the one error line); {trade}: a funded trade of dev1's.
CORPUS = [
    pytest.param(["trade", "create", "--seller", "0x1234", "--amount", "1"], 2,
                 "invalid address '0x1234': not a 20-byte hex seller address", id="malformed-address"),
    pytest.param(["trade", "create", "--seller", "bob", "--amount", "1"], 2, "invalid address 'bob'", id="a-name"),
    pytest.param(["trade", "create", "--seller", CHECKSUM_TYPO, "--amount", "1"], 2, "wrong EIP-55 checksum",
                 id="bad-checksum"),
    pytest.param(["trade", "create", "--seller", DEV["dev2"], "--amount", "1", "--arbiter", "0xzz"], 2,
                 "invalid address '0xzz'", id="malformed-arbiter"),
    pytest.param(["trade", "create", "--amount", "1"], 2, "name the counterparty", id="no-counterparty"),
    pytest.param(["trade", "create", "--seller", DEV["dev2"], "--buyer", DEV["dev3"], "--amount", "1"], 2,
                 "name the counterparty", id="two-counterparties"),
    pytest.param(["trade", "create", "--seller", DEV["dev2"], "--amount", "1.0000000000000000001"], 2,
                 "has 19 decimals, the token has 18", id="too-many-decimals"),
    pytest.param(["trade", "create", "--seller", DEV["dev2"], "--amount", "-1"], 2, "must be greater than zero",
                 id="negative"),
    pytest.param(["trade", "create", "--seller", DEV["dev2"], "--amount", "0"], 2, "must be greater than zero",
                 id="zero"),
    pytest.param(["trade", "create", "--seller", DEV["dev2"], "--amount", "5 USDC"], 2,
                 "this trade is in ETH, not USDC", id="wrong-symbol-on-create"),
    pytest.param(["trade", "create", "--seller", DEV["dev2"], "--amount", "one"], 2, "not a number",
                 id="not-a-number"),
    pytest.param(["trade", "create", "--seller", DEV["dev2"], "--amount", "1", "--arbiter-fee", "1%"], 2,
                 "--arbiter-fee needs an --arbiter", id="fee-without-arbiter"),
    pytest.param(["trade", "create", "--seller", DEV["dev2"], "--amount", "1", "--release-window", "3x"], 2,
                 "invalid duration '3x'", id="bad-duration"),
    pytest.param(["trade", "create", "--seller", DEV["dev2"], "--amount", "100000"], 3,
                 "insufficient ETH balance", id="not-enough-eth"),
    pytest.param(["trade", "create", "--seller", DEV["dev1"], "--amount", "1"], 2, "is your own account",
                 id="trade-with-yourself"),
    pytest.param(["trade", "create", "--seller", DEV["dev2"], "--amount", "1", "--arbiter", DEV["dev2"]], 3,
                 "ArbiterIsParty", id="arbiter-is-a-party-reverts"),
    pytest.param(["trade", "release", "{trade}", "--amount", "5 USDC"], 2, "this trade is in ETH, not USDC",
                 id="wrong-symbol"),
    pytest.param(["trade", "release", "{trade}", "--amount", "0.0000000000000000001"], 2,
                 "has 19 decimals", id="release-too-many-decimals"),
    pytest.param(["trade", "release", "{trade}", "--amount", "-0.5"], 2, "must be greater than zero",
                 id="release-negative"),
    pytest.param(["trade", "release", "{trade}", "--amount", "0"], 2, "must be greater than zero",
                 id="release-zero"),
    pytest.param(["trade", "release", "{trade}", "--amount", "2"], 3, "InvalidPart", id="more-than-held"),
    pytest.param(["trade", "release", UNKNOWN_ID], 2, f"no trade {UNKNOWN_ID} on this escrow", id="unknown-id"),
    pytest.param(["trade", "release", "0x5a5a5a5a5a"], 2, "no trade id starts with", id="unknown-prefix"),
    pytest.param(["trade", "show", "0x1234"], 2, "too short", id="short-prefix"),
    pytest.param(["trade", "show", "0xnothex"], 2, "not a trade id", id="not-hex"),
    pytest.param(["trade", "settle", "{trade}", "--buyer-share", "150%"], 2, "between 0% and 100%",
                 id="share-over-100"),
    pytest.param(["trade", "settle", "{trade}", "--buyer-share", "half"], 2, "invalid share 'half'",
                 id="share-not-a-number"),
    pytest.param(["trade", "rule", "{trade}", "--buyer-share", "50%"], 3, "Unauthorized",
                 id="only-the-arbiter-rules"),
    pytest.param(["trade", "evidence", "{trade}", "https://x", "--hash", "0x12"], 2, "invalid --hash",
                 id="bad-evidence-hash"),
    pytest.param(["trade", "list", "--party", "0xnope"], 2, "invalid address '0xnope'", id="bad-party"),
    pytest.param(["rep", "show", "0x1234"], 2, "invalid address", id="rep-bad-address"),
    pytest.param(["offer", "revoke", "many"], 2, "invalid nonce 'many'", id="bad-nonce"),
    # issue 11: constant bounds before any request, usage errors in one line, the new options
    pytest.param(["trade", "create", "--seller", DEV["dev2"], "--amount", "1", "--arbiter", DEV["dev3"],
                  "--arbiter-fee", "50%"], 2, "above the contract's cap of 20% (2000 bps)", id="arbiter-fee-cap"),
    pytest.param(["offer", "create", "--amount", "1", "--arbiter", DEV["dev3"], "--arbiter-fee", "25%"], 2,
                 "above the contract's cap of 20%", id="offer-arbiter-fee-cap"),
    pytest.param(["trade", "create", "--seller", DEV["dev2"], "--amount", "1", "--release-window", "400d"], 2,
                 "at most a year", id="window-over-a-year"),
    pytest.param(["trade", "create", "--seller", DEV["dev2"], "--amont", "1"], 2, "No such option: --amont",
                 id="usage-unknown-option"),
    pytest.param(["trade", "show"], 2, "Missing argument 'TRADE'", id="usage-missing-argument"),
    pytest.param(["trade", "frobnicate"], 2, "No such command 'frobnicate'", id="usage-unknown-command"),
    pytest.param(["rep", "rate", "{trade}", "9"], 2, "invalid score 9", id="positional-score-out-of-range"),
    pytest.param(["rep", "rate", "{trade}", "3", "--score", "4"], 2, "two scores given", id="two-scores"),
    pytest.param(["rep", "rate", "{trade}"], 2, "no score given", id="no-score"),
    pytest.param(["trade", "evidence", "{trade}", "https://x", "--file", "/nonexistent/photo.jpg"], 2,
                 "cannot read the evidence file /nonexistent/photo.jpg", id="evidence-file-missing"),
    pytest.param(["trade", "evidence", "{trade}", "https://x", "--file", "x.jpg", "--hash", "0x" + "ab" * 32], 2,
                 "give --file or --hash, not both", id="evidence-file-and-hash"),
    pytest.param(["trade", "create", "--seller", DEV["dev2"], "--amount", "1", "--token", "DUSD"], 2,
                 "unknown token 'DUSD'", id="dev-token-symbol-on-a-chain-without-them"),
    pytest.param(["trade", "create", "--seller", DEV["dev2"], "--amount", "1", "--token", "0xdead"], 2,
                 "invalid address '0xdead'", id="bad-token-address"),
    pytest.param(["accounts", "default", "nobody"], 2, "no keystore named 'nobody'", id="default-account-missing"),
    pytest.param(["accounts", "default", "dev1", "--clear"], 2, "give a NAME or --clear, not both",
                 id="default-and-clear"),
]


@pytest.mark.parametrize(("args", "code", "words"), CORPUS)
def test_bad_input_is_one_line_an_exit_code_and_nothing_sent(
        cli: Cli, deployed_anvil: Chain, funded: str, args: list[str], code: int, words: str) -> None:
    nonce = deployed_anvil.nonce(DEV["dev1"])

    result = cli(*[a.replace("{trade}", funded) for a in args])

    assert result.exit_code == code, result.stderr
    assert words in one_error_line(result)
    assert deployed_anvil.nonce(DEV["dev1"]) == nonce


def test_a_revert_shows_the_decoded_custom_error_with_exit_3(cli: Cli, deployed_anvil: Chain, completed: str) -> None:
    nonce = deployed_anvil.nonce(DEV["dev1"])

    result = cli("trade", "release", completed)

    assert result.exit_code == 3
    line = one_error_line(result)
    assert line.startswith(f"error: WrongState(id={completed}, state=5 (COMPLETED)): ")
    assert deployed_anvil.nonce(DEV["dev1"]) == nonce


def test_contract_refusals_print_their_hint(cli: Cli, deployed_anvil: Chain, funded: str) -> None:
    nonce = deployed_anvil.nonce(DEV["dev2"])

    by_seller = cli("trade", "release", funded, account="dev2")
    too_much = cli("trade", "release", funded, "--amount", "2")
    as_json = cli("trade", "release", funded, account="dev2", json_output=True)

    assert by_seller.exit_code == 3
    assert one_error_line(by_seller).endswith(
        f"(hint: only the buyer {DEV['dev1']} may release; this account is {DEV['dev2']})")
    assert too_much.exit_code == 3
    line = one_error_line(too_much)
    assert "InvalidPart(requested=2 ETH, held=1 ETH)" in line and "at most 1 ETH" in line  # token units, not wei
    error = json.loads(as_json.stdout)["error"]
    assert error["type"] == "Unauthorized" and error["hint"].startswith(f"only the buyer {DEV['dev1']} may release")
    assert deployed_anvil.nonce(DEV["dev2"]) == nonce


def test_errors_with_json_are_also_one_document_on_stdout(cli: Cli) -> None:
    result = cli("trade", "show", UNKNOWN_ID, json_output=True)

    assert result.exit_code == 2
    document = json.loads(result.stdout)
    assert document["ok"] is False and document["error"]["type"] == "InputError"
    assert document["error"]["exit_code"] == 2 and UNKNOWN_ID in document["error"]["message"]


# -- accounts -----------------------------------------------------------------------------------------
def test_a_wrong_password_is_exit_2_and_nothing_is_sent(cli: Cli, deployed_anvil: Chain, funded: str, keystore: str,
                                                         password_file: Callable[[str], Path]) -> None:
    nonce = deployed_anvil.nonce(keystore)

    result = cli("--password-file", str(password_file("not it")), "trade", "create", "--seller", DEV["dev2"],
                 "--amount", "0.1", account="carol")

    assert result.exit_code == 2 and "wrong password for keystore 'carol'" in one_error_line(result)
    assert deployed_anvil.nonce(keystore) == nonce


def test_a_password_file_others_can_read_is_exit_2_and_nothing_is_sent(
        cli: Cli, deployed_anvil: Chain, funded: str, keystore: str, password_file: Callable[[str], Path]) -> None:
    shared = password_file(PASSWORD)
    shared.chmod(0o644)  # the right password, in a file anyone on the machine can read
    nonce = deployed_anvil.nonce(keystore)

    result = cli("--password-file", str(shared), "trade", "create", "--seller", DEV["dev2"], "--amount", "0.1",
                 account="carol")

    assert result.exit_code == 2
    assert f"password file {shared} is readable by others (mode 644)" in one_error_line(result)
    assert deployed_anvil.nonce(keystore) == nonce


def test_gas_the_account_cannot_pay_is_refused_before_the_confirmation(
        cli: Cli, deployed_anvil: Chain, anvil_home: Path, password_file: Callable[[str], Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A nearly empty account (a millionth of an ETH): the payment itself passes the node's check,
    the gas does not. Said before the confirmation, on a terminal a trader would answer: exit 3,
    one line, nothing asked, nothing sent."""
    import p2pescrow.cli.confirm as confirm

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(HOME_ENV, str(anvil_home))
        poor = accounts.create("dan", PASSWORD)
    deployed_anvil.sdk("dev0").tx.send(Call(poor, "0x", 10**12, "fund dan"))
    monkeypatch.setattr(confirm, "sys", SimpleNamespace(stdin=SimpleNamespace(isatty=lambda: True)))

    result = cli("--password-file", str(password_file(PASSWORD)), "trade", "create", "--seller", DEV["dev2"],
                 "--amount", "0.0000001", account="dan", yes=False, input="y\n")

    assert result.exit_code == 3, result.stderr
    line = one_error_line(result)  # no "From: ..." lines, no "Send it?"
    assert line.startswith("error: insufficient ETH balance: needs ") and "(value + max gas cost), has " in line
    assert f"has {10**12} wei" in line
    assert deployed_anvil.nonce(poor) == 0


def test_the_right_password_sends_and_reads_need_none(cli: Cli, deployed_anvil: Chain, keystore: str,
                                                      password_file: Callable[[str], Path]) -> None:
    nonce = deployed_anvil.nonce(keystore)
    document = cli.json("trade", "create", "--seller", DEV["dev2"], "--amount", "0.1",
                        extra=("--password-file", str(password_file(PASSWORD))), account="carol")
    assert document["trade"]["buyer"] == keystore and deployed_anvil.nonce(keystore) == nonce + 1

    shown = cli.ok("trade", "show", document["trade_id"], account="carol")  # no password asked
    assert f"buyer       {keystore}  (you)" in shown.stdout


def test_a_missing_keystore_is_exit_2(cli: Cli, funded: str) -> None:
    result = cli("trade", "release", funded, account="nobody")

    assert result.exit_code == 2 and "no keystore named 'nobody'" in one_error_line(result)


def test_sending_needs_an_account_off_dev_chains(cli: Cli, deployed_anvil: Chain, funded: str) -> None:
    nonce = deployed_anvil.nonce(DEV["dev1"])
    without = cli("trade", "release", funded, network=None, account=None)  # plain --rpc-url

    assert without.exit_code == 2 and "no account selected" in one_error_line(without)
    assert deployed_anvil.nonce(DEV["dev1"]) == nonce
    mine = cli("trade", "list", "--mine", network=None, account=None)
    assert mine.exit_code == 2 and "--mine needs an account" in one_error_line(mine)


def test_a_dev_key_is_refused_on_a_chain_that_is_not_a_local_dev_chain(cli: Cli) -> None:
    """Chain id 11155111 (Sepolia's) on this computer, not started by `p2pescrow node`: the public
    dev keys are refused before anything is signed, whatever the chain's accounts hold."""
    with start_node("anvil", chain_id=11155111) as sepolia_like:
        refused = cli("trade", "create", "--seller", DEV["dev2"], "--amount", "0.1", network=None,
                      rpc_url=sepolia_like.url, account="dev1")

        assert refused.exit_code == 2
        assert "only allowed on local dev chains" in one_error_line(refused)
        assert _nodes_rpc(sepolia_like.url, "eth_blockNumber") == "0x0"


def test_chain_31337_on_this_computer_is_a_dev_chain_by_plain_url(cli: Cli, deployed_anvil: Chain) -> None:
    """The one rule: chain id 31337 or 1337 on a loopback URL is a local dev chain, named by a plain
    --rpc-url as well as by the `local` network, so dev1 may act there."""
    listed = cli("trade", "list", "--mine", network=None, account="dev1", json_output=True)

    assert listed.exit_code == 0, listed.stderr


NO_ACCOUNT = [
    pytest.param(["trade", "create", "--seller", DEV["dev2"], "--amount", "0.1"], id="create"),
    pytest.param(["trade", "release", "{trade}"], id="release"),
    pytest.param(["trade", "evidence", "{trade}", "https://x"], id="evidence"),
    pytest.param(["offer", "create", "--amount", "1"], id="offer-create"),
    pytest.param(["offer", "revoke", "7"], id="offer-revoke"),
    pytest.param(["trade", "withdraw"], id="withdraw"),
]


@pytest.mark.parametrize("args", NO_ACCOUNT)
def test_no_account_selected_is_exit_2_on_a_dev_chain_too(cli: Cli, deployed_anvil: Chain, funded: str,
                                                          args: list[str]) -> None:
    """No silent signer: dev0 (the owner and fee recipient) is never used for want of an account."""
    nonces = [deployed_anvil.nonce(DEV[name]) for name in ("dev0", "dev1")]

    result = cli(*[a.replace("{trade}", funded) for a in args], account=None)  # network `local`: a dev chain

    assert result.exit_code == 2, result.stderr
    line = one_error_line(result)
    assert "no account selected" in line and "accounts default NAME" in line
    assert [deployed_anvil.nonce(DEV[name]) for name in ("dev0", "dev1")] == nonces


def test_no_account_on_the_embedded_chain_says_how_to_choose(cli: Cli) -> None:
    result = cli("trade", "create", "--seller", DEV["dev2"], "--amount", "0.1", account=None, network="embedded",
                 rpc_url=None)

    assert result.exit_code == 2 and "pass --account dev0 .. --account dev9" in one_error_line(result)


# -- network ------------------------------------------------------------------------------------------
def test_a_dead_rpc_url_is_exit_4(cli: Cli, funded: str) -> None:
    read = cli("trade", "show", funded, network=None, rpc_url="http://127.0.0.1:1", account=None, yes=False)
    send = cli("trade", "release", funded, rpc_url="http://127.0.0.1:1")

    for result in (read, send):
        assert result.exit_code == 4 and "cannot reach the node at http://127.0.0.1:1" in one_error_line(result)


def test_a_network_on_another_chain_is_exit_4(cli: Cli, deployed_anvil: Chain, funded: str) -> None:
    Networks().add(Network("elsewhere", deployed_anvil.url, 11155111))
    nonce = deployed_anvil.nonce(DEV["dev1"])

    result = cli("trade", "show", funded, network="elsewhere", rpc_url=None, account=None)

    assert result.exit_code == 4
    assert "expected chain id 11155111, but the node serves chain id 31337" in one_error_line(result)
    assert deployed_anvil.nonce(DEV["dev1"]) == nonce


def test_an_unknown_network_is_exit_2(cli: Cli, funded: str) -> None:
    result = cli("trade", "show", funded, network="nowhere", rpc_url=None)

    assert result.exit_code == 2 and "unknown network 'nowhere'" in one_error_line(result)


# -- offer documents ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("content", "words"), [
    ("{not json", "not an offer document: invalid JSON"),
    ('{"kind": "something-else"}', "expected kind 'p2pescrow-offer/2'"),
    ('{"kind": "p2pescrow-offer/2", "offer": {}}', "malformed offer document"),
    ('{"kind": "p2pescrow-offer/1", "offer": {}}', "signed for an escrow v1 contract"),
    ("", "the offer document is empty"),
])
def test_a_malformed_offer_file_is_exit_2(cli: Cli, deployed_anvil: Chain, tmp_path: Path, content: str,
                                          words: str) -> None:
    path = tmp_path / "offer.json"
    path.write_text(content)
    nonce = deployed_anvil.nonce(DEV["dev1"])

    for command in ("show", "verify", "fill"):
        result = cli("offer", command, str(path))
        assert result.exit_code == 2 and words in one_error_line(result), command
    assert deployed_anvil.nonce(DEV["dev1"]) == nonce


def test_a_missing_offer_file_is_exit_2(cli: Cli, tmp_path: Path) -> None:
    result = cli("offer", "fill", str(tmp_path / "nope.json"))

    assert result.exit_code == 2 and "cannot read the offer file" in one_error_line(result)


def test_an_expired_offer_is_refused_before_sending(cli: Cli, deployed_anvil: Chain, tmp_path: Path) -> None:
    path = tmp_path / "offer.json"
    path.write_text(deployed_anvil.sdk("dev5").create_offer(amount="0.1", expires_in=-60).to_json())
    nonce = deployed_anvil.nonce(DEV["dev1"])

    for command in ("verify", "fill"):
        result = cli("offer", command, str(path))
        assert result.exit_code == 2 and "the offer expired at" in one_error_line(result)
    assert deployed_anvil.nonce(DEV["dev1"]) == nonce
    assert "ago)" in cli.ok("offer", "show", str(path)).stdout
