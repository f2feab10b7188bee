"""The scripts' runtime without a node: options under brownie, .env files, secrets kept out."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from p2pescrow.errors import AccountError
from p2pescrow.ops.runtime import Script, _redact, load_account, load_env_file

ROOT = Path(__file__).resolve().parents[2]


def test_brownie_words_become_the_same_options() -> None:
    script = Script("x.py", "test", ROOT)
    script.parser.add_argument("action", choices=["pause", "unpause"])
    script.parser.add_argument("--fee-bps", type=int)
    script.parser.add_argument("--dry-run", action="store_true")
    argv = script.words_to_argv(["pause", "fee_bps=50", "dry_run", "account=deployer"])
    assert argv == ["pause", "--fee-bps", "50", "--dry-run", "--account", "deployer"]
    args = script.parser.parse_args(argv)
    assert (args.action, args.fee_bps, args.dry_run, args.account) == ("pause", 50, True, "deployer")


def test_env_file_never_overrides_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = tmp_path / ".env"
    env.write_text("# comment\nexport P2P_T_A='quoted # not a comment'\nP2P_T_B=2 # trailing\n"
                   "P2P_T_C=from-file\nnot a line\n")
    monkeypatch.setenv("P2P_T_C", "from-shell")
    for name in ("P2P_T_A", "P2P_T_B"):
        monkeypatch.delenv(name, raising=False)
    values = load_env_file(env)
    assert values["P2P_T_A"] == "quoted # not a comment" and os.environ["P2P_T_B"] == "2"
    assert os.environ["P2P_T_C"] == "from-shell"


def test_dev_keys_only_on_dev_chains_and_urls_redacted() -> None:
    assert load_account("dev1", 31337).address == "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    with pytest.raises(AccountError, match="public dev key"):
        load_account("dev1", 11155111)
    assert _redact("https://user:pw@sepolia.infura.io/v3/SECRETKEY") == "https://sepolia.infura.io/..."
    assert _redact("http://127.0.0.1:8545") == "http://127.0.0.1:8545"


def test_scripts_answer_help_without_a_node() -> None:
    import subprocess
    import sys

    for script in ("deploy.py", "verify_deployment.py", "export_abi.py", "set_fee.py", "pause.py",
                   "transfer_ownership.py", "list_reputation_asset.py"):
        proc = subprocess.run([sys.executable, str(ROOT / "scripts" / script), "--help"],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0 and "--rpc-url" in proc.stdout, script
        assert "--password" not in proc.stdout.replace("--password-file", ""), script  # never an argument


def test_list_reputation_asset_takes_the_same_options_under_brownie() -> None:
    import importlib.util

    path = ROOT / "scripts" / "list_reputation_asset.py"
    spec = importlib.util.spec_from_file_location("list_reputation_asset", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    argv = module.SCRIPT.words_to_argv(["ETH", "min_amount=0.01", "dry_run"])
    assert argv == ["ETH", "--min-amount", "0.01", "--dry-run"]
    args = module.SCRIPT.parser.parse_args(argv)
    assert (args.asset, args.min_amount, args.delist, args.dry_run) == ("ETH", "0.01", False, True)
    assert module.SCRIPT.parser.parse_args(module.SCRIPT.words_to_argv(["0x" + "ab" * 20, "delist"])).delist
