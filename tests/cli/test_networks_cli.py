"""``p2pescrow networks``: built-ins, the user's own networks file, and recorded deployments."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from support.clitools import as_json, invoke, one_error_line

from p2pescrow.deployments import Deployment, Registry

INFURA_KEY = "0123456789abcdef0123456789abcdef"
SEPOLIA = ["networks", "add", "sepolia", "--rpc-url", f"https://sepolia.infura.io/v3/{INFURA_KEY}",
           "--chain-id", "11155111", "--explorer", "https://sepolia.etherscan.io"]


def record_deployment(chain_id: int, escrow: str = "0x" + "11" * 20) -> None:
    Registry().put(Deployment(chain_id, escrow, "0x" + "22" * 20, 1, "0x" + "33" * 20, "0x" + "33" * 20, 25,
                              "0x" + "00" * 32, "0x" + "00" * 32))


def test_list_shows_the_built_in_networks() -> None:
    result = invoke("networks", "list")
    document = as_json(invoke("--json", "networks", "list"))

    assert result.exit_code == 0
    for name, url in (("local", "http://127.0.0.1:8545"), ("ganache", "http://127.0.0.1:8546"),
                      ("embedded", "(in-process)")):
        assert any(line.startswith(name) and url in line for line in result.stdout.splitlines())
    by_name = {n["name"]: n for n in document["networks"]}
    assert by_name["local"]["chain_id"] == 31337 and by_name["ganache"]["chain_id"] == 1337
    assert by_name["embedded"]["rpc_url"] is None
    assert all(n["builtin"] and n["dev"] for n in by_name.values())


def test_list_marks_the_networks_with_a_recorded_deployment() -> None:
    record_deployment(1337)

    document = as_json(invoke("--json", "networks", "list"))
    text = invoke("networks", "list").stdout

    by_name = {n["name"]: n for n in document["networks"]}
    assert by_name["ganache"]["escrow"] == "0x" + "11" * 20
    assert by_name["local"]["escrow"] is None
    assert "0x" + "11" * 20 in next(line for line in text.splitlines() if line.startswith("ganache"))


def test_add_writes_a_private_file_and_lists_the_network_with_its_key_hidden(home: Path) -> None:
    added = invoke(*SEPOLIA)
    record_deployment(11155111, "0x" + "44" * 20)
    text = invoke("networks", "list")
    document = as_json(invoke("--json", "networks", "list"))

    assert added.exit_code == 0, added.stderr
    path = home / "networks.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["sepolia"]["rpc_url"].endswith(INFURA_KEY)  # the file has it all
    for output in (added.stdout, text.stdout, json.dumps(document)):
        assert INFURA_KEY not in output
    sepolia = next(n for n in document["networks"] if n["name"] == "sepolia")
    assert sepolia == {"name": "sepolia", "rpc_url": "https://sepolia.infura.io/v3/0123…", "chain_id": 11155111,
                       "explorer": "https://sepolia.etherscan.io", "builtin": False, "dev": False,
                       "escrow": "0x" + "44" * 20, "reputation": "0x" + "22" * 20}


def test_add_again_replaces() -> None:
    invoke(*SEPOLIA)

    result = invoke("--json", "networks", "add", "sepolia", "--rpc-url", "https://rpc.example.org",
                    "--chain-id", "11155111")

    assert as_json(result)["replaced"] is True
    sepolia = next(n for n in as_json(invoke("--json", "networks", "list"))["networks"] if n["name"] == "sepolia")
    assert sepolia["rpc_url"] == "https://rpc.example.org" and sepolia["explorer"] is None


@pytest.mark.parametrize(("args", "words"), [
    (["local", "--rpc-url", "http://x", "--chain-id", "1"], "built-in network"),
    (["mine", "--rpc-url", "localhost:8545", "--chain-id", "1"], "invalid RPC URL"),
    (["bad name", "--rpc-url", "http://x", "--chain-id", "1"], "invalid network name"),
    (["mine", "--rpc-url", "http://x", "--chain-id", "1", "--explorer", "etherscan"], "invalid explorer URL"),
])
def test_add_refuses_bad_input_with_exit_2(args: list[str], words: str, home: Path) -> None:
    result = invoke("networks", "add", *args)

    assert result.exit_code == 2
    assert words in one_error_line(result.stderr)
    assert not (home / "networks.json").exists()


@pytest.mark.parametrize("args", [
    ["mine", "--rpc-url", "http://x"],  # no chain id
    ["mine", "--chain-id", "1"],  # no URL
    ["mine", "--rpc-url", "http://x", "--chain-id", "0"],
    ["mine", "--rpc-url", "http://x", "--chain-id", "one"],
])
def test_add_usage_errors_exit_2(args: list[str]) -> None:
    assert invoke("networks", "add", *args).exit_code == 2


def test_remove() -> None:
    invoke(*SEPOLIA)

    result = invoke("--json", "networks", "remove", "sepolia")

    assert as_json(result) == {"ok": True, "name": "sepolia", "removed": True}
    assert "sepolia" not in [n["name"] for n in as_json(invoke("--json", "networks", "list"))["networks"]]


@pytest.mark.parametrize(("name", "words"), [("local", "built in"), ("nowhere", "unknown network")])
def test_remove_refuses_built_ins_and_unknown_names(name: str, words: str) -> None:
    result = invoke("networks", "remove", name)

    assert result.exit_code == 2
    assert words in one_error_line(result.stderr)


def test_an_added_network_is_used_by_name() -> None:
    invoke("networks", "add", "mine", "--rpc-url", "http://127.0.0.1:1", "--chain-id", "5")

    result = invoke("--json", "--yes", "--network", "mine", "deploy")

    assert result.exit_code == 4  # it tried that URL: nobody there
    assert "http://127.0.0.1:1" in as_json(result)["error"]["message"]


def test_a_corrupt_networks_file_is_a_config_error(home: Path) -> None:
    home.mkdir(parents=True)
    (home / "networks.json").write_text("{not json")

    result = invoke("networks", "list")

    assert result.exit_code == 2
    assert "not a valid networks file" in one_error_line(result.stderr)
