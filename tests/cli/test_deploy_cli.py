"""``p2pescrow deploy`` against a real Anvil: once per chain, recorded, refused twice, asked first."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.clitools import DEV1_KEY, TEST_PASSWORD, as_json, invoke, one_error_line

from p2pescrow.deployments import Deployment, Registry
from p2pescrow.node import process as _nodes
from p2pescrow.transport.nonces import NONCES

pytestmark = pytest.mark.anvil
DEV0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
DEV1 = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


@pytest.fixture(scope="module")
def anvil() -> Iterator[_nodes.Node]:
    try:
        _nodes.find_binary("anvil")
    except _nodes.NodeBinaryNotFound as exc:
        pytest.skip(str(exc))
    with _nodes.start_node("anvil") as node:  # a free port: never a developer's node
        yield node


@pytest.fixture(autouse=True)
def fresh_nonces() -> Iterator[None]:
    """Forget this process's nonce hints for the dev accounts after each test: other modules run
    chain 31337 with the same accounts on other Anvils, which must not inherit our counts."""
    yield
    for address in (DEV0, DEV1):
        NONCES.release((31337, address))


def on(node: _nodes.Node, account: str = "dev0") -> list[str]:
    """Global options pointing the CLI at the test node as the dev network ``local``, deploying
    as ``account`` (a command that sends always names its account, dev chains included)."""
    return ["--network", "local", "--rpc-url", node.url, "--account", account]


def code_at(node: _nodes.Node, address: str) -> str:
    return str(_nodes.rpc(node.url, "eth_getCode", [address, "latest"]))


def nonce(node: _nodes.Node, address: str) -> int:
    return int(str(_nodes.rpc(node.url, "eth_getTransactionCount", [address, "latest"])), 16)


def test_deploy_records_the_contracts_and_prints_them(anvil: _nodes.Node) -> None:
    result = invoke(*on(anvil), "--yes", "--json", "deploy", "--fee-bps", "25")

    assert result.exit_code == 0, result.stderr
    document = as_json(result)
    recorded = Registry().get(31337)
    assert recorded is not None
    assert document["escrow"] == recorded.escrow and document["reputation"] == recorded.reputation
    assert document["platform_fee_bps"] == 25 and document["fee_recipient"] == DEV0 and document["owner"] == DEV0
    assert len(code_at(anvil, recorded.escrow)) > 2 and len(code_at(anvil, recorded.reputation)) > 2
    assert document["replaced"] is None


def test_deploy_text_output_and_progress_on_stderr(anvil: _nodes.Node) -> None:
    result = invoke(*on(anvil), "--yes", "deploy")

    assert result.exit_code == 0, result.stderr
    recorded = Registry().get(31337)
    assert recorded is not None
    assert f"escrow:        {recorded.escrow}" in result.stdout
    assert "reputation assets: none listed yet" in result.stdout  # what the owner does next
    assert "deploy P2PEscrow: sent 0x" in result.stderr and "deploy Reputation" not in result.stderr  # one transaction
    assert f"its Reputation contract is at {recorded.reputation}" in result.stderr


def test_a_second_deploy_is_nothing_to_do_unless_forced(anvil: _nodes.Node) -> None:
    first = as_json(invoke(*on(anvil), "--yes", "--json", "deploy"))
    before = nonce(anvil, DEV0)

    again = invoke(*on(anvil), "--yes", "deploy")
    again_json = invoke(*on(anvil), "--yes", "--json", "deploy")
    sent = nonce(anvil, DEV0) - before
    forced = invoke(*on(anvil), "--yes", "--json", "deploy", "--force", "--fee-bps", "30")

    assert again.exit_code == 0, again.stderr  # nothing failed: exit 0, as scripts/deploy.py
    assert again.stdout.strip() == (f"already deployed on chain 31337 at {first['escrow']} (reputation "
                                    f"{first['reputation']}): nothing to do; --force deploys a new pair")
    assert again_json.exit_code == 0 and as_json(again_json)["status"] == "existing"
    assert as_json(again_json)["escrow"] == first["escrow"]
    assert sent == 0
    assert forced.exit_code == 0, forced.stderr
    second = as_json(forced)
    assert second["escrow"] != first["escrow"] and second["replaced"] == first["escrow"]
    recorded = Registry().get(31337)
    assert recorded is not None and recorded.escrow == second["escrow"] and recorded.platform_fee_bps == 30


def test_a_v1_deployment_recorded_is_replaced_by_a_v2_one_without_force(anvil: _nodes.Node) -> None:
    first = as_json(invoke(*on(anvil), "--yes", "--json", "deploy"))
    registry = Registry()
    record = json.loads(registry.path.read_text())
    del record["31337"]["version"]  # as escrow v1 wrote it: no version
    registry.path.write_text(json.dumps(record))
    refused = invoke(*on(anvil), "trade", "list")
    assert refused.exit_code == 4 and "is version 1" in one_error_line(refused.stderr)

    result = invoke(*on(anvil), "--yes", "--json", "deploy")

    assert result.exit_code == 0, result.stderr
    document = as_json(result)
    assert document["escrow"] != first["escrow"] and document["replaced"] == first["escrow"]
    recorded = registry.get(31337)
    assert recorded is not None and recorded.version == 2 and recorded.escrow == document["escrow"]
    assert invoke(*on(anvil), "trade", "list").exit_code == 0


def test_deploy_without_an_account_is_refused_on_a_dev_chain_too(anvil: _nodes.Node) -> None:
    before = nonce(anvil, DEV0)

    result = invoke("--network", "local", "--rpc-url", anvil.url, "--yes", "deploy")

    assert result.exit_code == 2
    line = one_error_line(result.stderr)
    assert "no account selected" in line and "--account" in line and "accounts default" in line
    assert nonce(anvil, DEV0) == before and Registry().get(31337) is None


def test_a_recorded_deployment_without_code_does_not_block(anvil: _nodes.Node) -> None:
    Registry().put(Deployment(31337, "0x" + "11" * 20, "0x" + "22" * 20, 1, DEV0, DEV0, 0,
                              "0x" + "00" * 32, "0x" + "00" * 32, version=2))

    result = invoke(*on(anvil), "--yes", "deploy")

    assert result.exit_code == 0, result.stderr
    assert "deploying anew" in result.stderr
    assert Registry().get(31337).escrow != "0x" + "11" * 20  # type: ignore[union-attr]


def test_without_yes_and_no_terminal_nothing_is_sent(anvil: _nodes.Node) -> None:
    before = nonce(anvil, DEV0)

    result = invoke(*on(anvil), "deploy")

    assert result.exit_code == 2
    assert "pass --yes" in one_error_line(result.stderr)
    assert nonce(anvil, DEV0) == before and Registry().get(31337) is None


def test_fee_recipient_and_fee_are_checked_before_anything_is_sent(anvil: _nodes.Node) -> None:
    too_high = invoke(*on(anvil), "--yes", "deploy", "--fee-bps", "501")
    bad_address = invoke(*on(anvil), "--yes", "deploy", "--fee-recipient", "0x1234")
    custom = invoke(*on(anvil), "--yes", "--json", "deploy", "--fee-recipient", "0x" + "ab" * 20)

    assert too_high.exit_code == 2
    assert bad_address.exit_code == 2 and "invalid address" in one_error_line(bad_address.stderr)
    fee_recipient = as_json(custom)["fee_recipient"]
    assert fee_recipient == "0x" + "Ab" * 20 or fee_recipient.lower() == "0x" + "ab" * 20


def test_deploy_to_a_dead_node_exits_4_with_a_hint() -> None:
    result = invoke("--network", "local", "--rpc-url", "http://127.0.0.1:1", "--yes", "deploy")

    assert result.exit_code == 4
    line = one_error_line(result.stderr)
    assert "cannot reach the node at http://127.0.0.1:1" in line and "p2pescrow node start" in line


def test_deploy_on_the_wrong_chain_exits_4(anvil: _nodes.Node) -> None:
    result = invoke("--network", "ganache", "--rpc-url", anvil.url, "--yes", "deploy")  # ganache is 1337

    assert result.exit_code == 4
    assert "expected chain id 1337, but the node serves chain id 31337" in one_error_line(result.stderr)


def test_deploy_to_the_embedded_chain_is_an_input_error() -> None:
    result = invoke("--network", "embedded", "--yes", "deploy")

    assert result.exit_code == 2
    assert "nothing to deploy to" in one_error_line(result.stderr)


def test_dev_accounts_are_refused_off_dev_chains() -> None:
    """Chain id 11155111 on this computer, by an ad-hoc URL: not a local dev chain (that is one
    `p2pescrow node` started, or chain id 31337/1337 on a loopback URL), so no dev key deploys."""
    with _nodes.start_node("anvil", chain_id=11155111) as sepolia_like:
        result = invoke("--rpc-url", sepolia_like.url, "--account", "dev0", "--yes", "deploy")

        assert result.exit_code == 2
        assert "only allowed on local dev chains" in one_error_line(result.stderr)
        assert _nodes.rpc(sepolia_like.url, "eth_blockNumber") == "0x0"


def test_a_dev_key_deploys_on_chain_31337_named_by_a_plain_url(anvil: _nodes.Node) -> None:
    """The same rule the other way: a loopback Anvil on chain 31337 is a dev chain by URL alone."""
    result = invoke("--rpc-url", anvil.url, "--account", "dev0", "--yes", "--json", "deploy")

    assert result.exit_code == 0, result.stderr


@pytest.fixture
def bob(tmp_path: Path) -> Path:
    """A keystore 'bob' (dev1's key) and the file holding its password."""
    password_file = tmp_path / "pw"
    password_file.write_text(TEST_PASSWORD)
    password_file.chmod(0o600)
    imported = invoke("--password-file", str(password_file), "accounts", "import", "bob", "--private-key",
                      input=DEV1_KEY)
    assert imported.exit_code == 0, imported.stderr
    return password_file


def test_deploy_with_a_keystore(anvil: _nodes.Node, bob: Path) -> None:
    result = invoke(*on(anvil, "bob"), "--password-file", str(bob), "--yes", "--json", "deploy")

    assert result.exit_code == 0, result.stderr
    assert as_json(result)["owner"] == "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    assert TEST_PASSWORD not in result.stdout + result.stderr


def test_a_wrong_password_is_one_line_and_exit_2(anvil: _nodes.Node, bob: Path, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong"
    wrong.write_text("not the password")
    wrong.chmod(0o600)

    result = invoke(*on(anvil, "bob"), "--password-file", str(wrong), "--yes", "deploy")
    document = invoke(*on(anvil, "bob"), "--password-file", str(wrong), "--yes", "--json", "deploy")

    assert result.exit_code == 2
    assert one_error_line(result.stderr) == "error: wrong password for keystore 'bob'"
    assert "not the password" not in result.stdout + result.stderr
    assert as_json(document)["error"]["type"] == "WrongPassword"
    assert Registry().get(31337) is None


def test_a_missing_keystore_is_exit_2_with_a_hint(anvil: _nodes.Node) -> None:
    result = invoke(*on(anvil, "nobody"), "--yes", "deploy")

    assert result.exit_code == 2
    line = one_error_line(result.stderr)
    assert "no keystore named 'nobody'" in line and "accounts new" in line


def test_an_account_without_ether_is_refused_with_exit_3(anvil: _nodes.Node, tmp_path: Path) -> None:
    password_file = tmp_path / "pw"
    password_file.write_text(TEST_PASSWORD)
    password_file.chmod(0o600)
    assert invoke("--password-file", str(password_file), "accounts", "new", "pauper").exit_code == 0

    result = invoke(*on(anvil, "pauper"), "--password-file", str(password_file), "--yes", "deploy")

    assert result.exit_code == 3
    assert "insufficient" in one_error_line(result.stderr)


def test_show_gives_the_balance_on_a_live_node(anvil: _nodes.Node) -> None:
    document = as_json(invoke(*on(anvil), "--json", "accounts", "show", "dev9"))

    assert document["balance_eth"] == "10000" and document["balance_wei"] == 10_000 * 10**18
    assert document["network"] == "local (chain 31337)"


def test_show_gives_a_dust_balance_as_a_plain_decimal(anvil: _nodes.Node, tmp_path: Path) -> None:
    password_file = tmp_path / "pw"
    password_file.write_text(TEST_PASSWORD)
    password_file.chmod(0o600)
    created = as_json(invoke("--json", "--password-file", str(password_file), "accounts", "new", "dust"))
    _nodes.rpc(anvil.url, "anvil_setBalance", [created["address"], hex(10**11)])

    document = as_json(invoke(*on(anvil, "dust"), "--json", "accounts", "show", "dust"))
    text = invoke(*on(anvil, "dust"), "accounts", "show", "dust").stdout

    assert document["balance_wei"] == 10**11 and document["balance_eth"] == "0.0000001"
    assert "balance:  0.0000001 ETH on local" in text and "E-7" not in text
