"""``p2pescrow accounts``: keystores on disk, secrets kept off the screen, errors as one line."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from support.clitools import (
    DEV1,
    DEV1_KEY,
    TEST_PASSWORD,
    as_json,
    invoke,
    one_error_line,
    run_in_terminal,
)

from p2pescrow import accounts
from p2pescrow.errors import AccountError

DEV3 = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
MNEMONIC = "test test test test test test test test test test test junk"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def never_shown(result: object, *secrets: str) -> None:
    for secret in secrets:
        for stream in (result.stdout, result.stderr):  # type: ignore[attr-defined]
            assert secret not in stream
            assert secret.removeprefix("0x") not in stream


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "password.txt"
    path.write_text(TEST_PASSWORD + "\n")
    path.chmod(0o600)
    return path


# -- new ---------------------------------------------------------------------------------------
def test_new_writes_an_encrypted_keystore_0600_in_a_0700_folder(home: Path, password_file: Path) -> None:
    result = invoke("--password-file", str(password_file), "accounts", "new", "alice")

    assert result.exit_code == 0, result.stderr
    keystore = home / "keystores" / "alice.json"
    assert mode(keystore) == 0o600
    assert mode(keystore.parent) == 0o700
    address = accounts.load("alice", TEST_PASSWORD).address
    assert address in result.stdout
    assert json.loads(keystore.read_text())["crypto"]["kdf"] == "scrypt"
    never_shown(result, TEST_PASSWORD)


def test_new_takes_the_password_from_the_environment_and_speaks_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("P2PESCROW_PASSWORD", TEST_PASSWORD)

    document = as_json(invoke("--json", "accounts", "new", "bob"))

    assert document["ok"] is True and document["name"] == "bob"
    assert accounts.load("bob", TEST_PASSWORD).address == document["address"]
    assert document["keystore"].endswith("keystores/bob.json")


def test_new_refuses_a_taken_name_before_asking_for_a_password(password_file: Path) -> None:
    assert invoke("--password-file", str(password_file), "accounts", "new", "alice").exit_code == 0

    result = invoke("accounts", "new", "alice")  # no password source: it must not get that far

    assert result.exit_code == 2
    assert "already exists" in one_error_line(result.stderr)


@pytest.mark.parametrize(("name", "words"), [
    ("dev3", "built-in dev account"),
    ("../escape", "invalid account name"),
    ("-dash", "invalid account name"),
])
def test_new_refuses_bad_names(password_file: Path, name: str, words: str) -> None:
    result = invoke("--password-file", str(password_file), "accounts", "new", "--", name)

    assert result.exit_code == 2
    assert words in one_error_line(result.stderr)


def test_new_without_a_terminal_or_password_source_says_how_to_give_one() -> None:
    result = invoke("accounts", "new", "alice")

    assert result.exit_code == 2
    line = one_error_line(result.stderr)
    assert "no terminal" in line and "--password-file" in line


def test_new_refuses_an_empty_password(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    empty.chmod(0o600)

    result = invoke("--password-file", str(empty), "accounts", "new", "alice")

    assert result.exit_code == 2
    assert "cannot be empty" in one_error_line(result.stderr)
    assert accounts.names() == []


def test_a_missing_password_file_is_an_input_error() -> None:
    result = invoke("--password-file", "/nonexistent/pw", "accounts", "new", "alice")

    assert result.exit_code == 2
    assert "cannot read the password file" in one_error_line(result.stderr)


# -- import --------------------------------------------------------------------------------------
def test_import_private_key_from_stdin_never_prints_the_key(home: Path, password_file: Path) -> None:
    result = invoke("--password-file", str(password_file), "accounts", "import", "bob", "--private-key",
                    input=DEV1_KEY + "\n")

    assert result.exit_code == 0, result.stderr
    assert DEV1 in result.stdout
    assert accounts.load("bob", TEST_PASSWORD).address == DEV1
    assert mode(home / "keystores" / "bob.json") == 0o600
    never_shown(result, DEV1_KEY, TEST_PASSWORD)


def test_import_mnemonic_at_an_index(password_file: Path) -> None:
    result = invoke("--json", "--password-file", str(password_file), "accounts", "import", "carol",
                    "--mnemonic", "--index", "3", input=MNEMONIC + "\n")

    assert result.exit_code == 0, result.stderr
    assert as_json(result)["address"] == DEV3
    never_shown(result, MNEMONIC)


def test_import_refuses_the_key_as_an_argument_without_echoing_it(password_file: Path) -> None:
    result = invoke("--password-file", str(password_file), "accounts", "import", "bob", "--private-key", DEV1_KEY)

    assert result.exit_code == 2
    assert "hidden prompt" in one_error_line(result.stderr)
    never_shown(result, DEV1_KEY)
    assert accounts.names() == []


def test_import_refuses_a_key_typed_as_the_name_without_echoing_it(password_file: Path) -> None:
    result = invoke("--password-file", str(password_file), "accounts", "import", DEV1_KEY, "--private-key")

    assert result.exit_code == 2
    assert "looks like a private key" in one_error_line(result.stderr)
    never_shown(result, DEV1_KEY)


def test_import_refuses_a_malformed_key_without_echoing_it(password_file: Path) -> None:
    bad = "0x" + "zz" * 32
    result = invoke("--password-file", str(password_file), "accounts", "import", "bob", "--private-key",
                    input=bad + "\n")

    assert result.exit_code == 2
    assert "not a valid private key" in one_error_line(result.stderr)
    never_shown(result, bad)


def test_import_refuses_a_bad_mnemonic_without_echoing_it(password_file: Path) -> None:
    bad = "apple banana cherry dog elephant fig grape hat ice jam kite lemon"
    result = invoke("--password-file", str(password_file), "accounts", "import", "bob", "--mnemonic",
                    input=bad + "\n")

    assert result.exit_code == 2
    assert "not a valid BIP-39 mnemonic" in one_error_line(result.stderr)
    never_shown(result, bad)


@pytest.mark.parametrize("flags", [[], ["--private-key", "--mnemonic"]])
def test_import_needs_exactly_one_source(flags: list[str]) -> None:
    result = invoke("accounts", "import", "bob", *flags)

    assert result.exit_code == 2
    assert "choose one of --private-key, --mnemonic or --keystore FILE" in one_error_line(result.stderr)


def test_import_index_only_with_a_mnemonic() -> None:
    result = invoke("accounts", "import", "bob", "--private-key", "--index", "2", input=DEV1_KEY + "\n")

    assert result.exit_code == 2
    assert "--index only applies with --mnemonic" in one_error_line(result.stderr)


def test_import_with_nothing_on_stdin(password_file: Path) -> None:
    result = invoke("--password-file", str(password_file), "accounts", "import", "bob", "--private-key", input="")

    assert result.exit_code == 2
    assert "no private key given" in one_error_line(result.stderr)


def test_negative_index_is_a_usage_error() -> None:
    result = invoke("accounts", "import", "bob", "--mnemonic", "--index", "-1")

    assert result.exit_code == 2


# -- list / show -----------------------------------------------------------------------------------
def test_list_shows_keystores_and_the_dev_accounts_as_dev_only(password_file: Path) -> None:
    invoke("--password-file", str(password_file), "accounts", "import", "bob", "--private-key", input=DEV1_KEY)

    text = invoke("accounts", "list")
    document = as_json(invoke("--json", "accounts", "list"))

    assert text.exit_code == 0
    bob_line = next(line for line in text.stdout.splitlines() if line.startswith("bob "))
    assert DEV1 in bob_line
    dev_lines = [line for line in text.stdout.splitlines() if line.startswith("dev")]
    assert len(dev_lines) == 10 and all("dev chains only" in line for line in dev_lines)
    by_name = {e["name"]: e for e in document["accounts"]}
    assert by_name["bob"] == {"name": "bob", "address": DEV1, "kind": "keystore",
                              "keystore": by_name["bob"]["keystore"], "problem": None}
    assert [by_name[f"dev{i}"]["address"] for i in range(10)] == list(accounts.DEV_ADDRESSES)


def test_the_listed_dev_addresses_are_those_of_the_test_mnemonic() -> None:
    assert [accounts.dev_account(n).address for n in accounts.DEV_NAMES] == list(accounts.DEV_ADDRESSES)


def test_list_with_no_keystores_says_how_to_make_one() -> None:
    result = invoke("accounts", "list")

    assert result.exit_code == 0
    assert "accounts new" in result.stdout


def test_list_reports_a_keystore_others_can_read_without_failing(home: Path, password_file: Path) -> None:
    invoke("--password-file", str(password_file), "accounts", "new", "alice")
    (home / "keystores" / "alice.json").chmod(0o644)

    result = invoke("--json", "accounts", "list")

    assert result.exit_code == 0
    alice = next(e for e in as_json(result)["accounts"] if e["name"] == "alice")
    assert alice["address"] is None and "readable by others" in alice["problem"]


def test_a_keystore_others_can_read_is_refused(home: Path, password_file: Path) -> None:
    invoke("--password-file", str(password_file), "accounts", "new", "alice")
    (home / "keystores" / "alice.json").chmod(0o640)

    result = invoke("accounts", "show", "alice")

    assert result.exit_code == 2
    assert "chmod 600" in one_error_line(result.stderr)


def test_show_a_keystore_when_no_node_answers(password_file: Path) -> None:
    invoke("--password-file", str(password_file), "accounts", "import", "bob", "--private-key", input=DEV1_KEY)

    result = invoke("--rpc-url", "http://127.0.0.1:1", "accounts", "show", "bob")
    document = as_json(invoke("--json", "--rpc-url", "http://127.0.0.1:1", "accounts", "show", "bob"))

    assert result.exit_code == 0
    assert DEV1 in result.stdout and "balance:  unknown (no node answers at http://127.0.0.1:1)" in result.stdout
    assert document["address"] == DEV1 and document["balance_wei"] is None and document["kind"] == "keystore"


def test_show_a_dev_account_on_the_embedded_network() -> None:
    result = invoke("--network", "embedded", "accounts", "show", "dev1")

    assert result.exit_code == 0
    assert DEV1 in result.stdout and "dev chains only" in result.stdout


def test_show_a_missing_keystore_exits_2_with_a_hint() -> None:
    result = invoke("accounts", "show", "nobody")

    assert result.exit_code == 2
    line = one_error_line(result.stderr)
    assert "no keystore named 'nobody'" in line and "hint: list them with `p2pescrow accounts list`" in line


def test_show_on_an_unknown_network_exits_2_with_a_hint() -> None:
    result = invoke("--network", "nowhere", "accounts", "show", "dev0")

    assert result.exit_code == 2
    assert "networks add" in one_error_line(result.stderr)


# -- delete ----------------------------------------------------------------------------------------
def test_delete_asks_first_and_without_a_terminal_needs_yes(home: Path, password_file: Path) -> None:
    invoke("--password-file", str(password_file), "accounts", "new", "alice")

    refused = invoke("accounts", "delete", "alice")
    deleted = invoke("--yes", "--json", "accounts", "delete", "alice")

    assert refused.exit_code == 2 and "pass --yes" in one_error_line(refused.stderr)
    assert deleted.exit_code == 0 and as_json(deleted)["deleted"] is True
    assert not (home / "keystores" / "alice.json").exists()
    assert accounts.names() == []


def test_declining_a_delete_keeps_the_keystore_and_exits_6(home: Path, password_file: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    import p2pescrow.cli.confirm as confirm

    invoke("--password-file", str(password_file), "accounts", "new", "alice")
    monkeypatch.setattr(confirm, "sys", types.SimpleNamespace(stdin=types.SimpleNamespace(isatty=lambda: True)))

    declined = invoke("accounts", "delete", "alice", input="n\n")

    assert declined.exit_code == 6
    assert declined.stderr.rstrip().endswith("declined: nothing deleted") and "Aborted" not in declined.stderr
    assert (home / "keystores" / "alice.json").exists()


def test_the_default_account_is_chosen_shown_and_forgotten_with_its_keystore(home: Path,
                                                                            password_file: Path) -> None:
    address = as_json(invoke("--json", "--password-file", str(password_file), "accounts", "new", "alice"))["address"]

    chosen = invoke("accounts", "default", "alice")
    shown = invoke("--json", "accounts", "default")
    deleted = invoke("--yes", "--json", "accounts", "delete", "alice")
    after = invoke("--json", "accounts", "default")

    assert chosen.exit_code == 0 and chosen.stdout.startswith(f"default account: alice {address};")
    assert as_json(shown) == {"ok": True, "default": "alice", "address": address}
    assert as_json(deleted)["default_cleared"] is True
    assert as_json(after)["default"] is None and not (home / "default-account").exists()


def test_delete_a_missing_or_dev_account_exits_2() -> None:
    missing = invoke("--yes", "accounts", "delete", "nobody")
    dev = invoke("--yes", "accounts", "delete", "dev0")

    assert missing.exit_code == 2 and "no keystore named" in one_error_line(missing.stderr)
    assert dev.exit_code == 2 and "built-in dev account" in one_error_line(dev.stderr)


# -- at a real terminal: hidden prompts ------------------------------------------------------------
@pytest.mark.slow
def test_new_at_a_terminal_asks_twice_and_never_echoes_the_password(home: Path) -> None:
    code, screen = run_in_terminal(
        "accounts", "new", "alice", home=home,
        answers=[("Password for alice", TEST_PASSWORD), ("Repeat for confirmation", "a typo"),
                 ("Password for alice", TEST_PASSWORD), ("Repeat for confirmation", TEST_PASSWORD)])

    assert code == 0, screen
    assert "do not match" in screen
    assert TEST_PASSWORD not in screen and "a typo" not in screen
    keystore = home / "keystores" / "alice.json"
    assert mode(keystore) == 0o600
    assert json.loads(keystore.read_text())["address"].lower() in screen.lower()


@pytest.mark.slow
def test_import_at_a_terminal_hides_the_key_and_the_password(home: Path) -> None:
    code, screen = run_in_terminal(
        "accounts", "import", "bob", "--private-key", home=home,
        answers=[("Private key", DEV1_KEY), ("Password for bob", TEST_PASSWORD),
                 ("Repeat for confirmation", TEST_PASSWORD)])

    assert code == 0, screen
    assert f"imported bob: {DEV1}" in screen
    assert DEV1_KEY.removeprefix("0x") not in screen and TEST_PASSWORD not in screen


def test_password_sources_are_taken_in_one_order_for_cli_and_scripts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``accounts.password`` is the one lookup (the CLI's context and the scripts call it): a file
    given, then $P2PESCROW_PASSWORD_FILE, then $P2PESCROW_PASSWORD, then a prompt at a terminal."""
    given, from_env = tmp_path / "given", tmp_path / "env"
    given.write_text("from-the-file\n")
    from_env.write_text("from-the-env-file\r\n")
    given.chmod(0o600)
    from_env.chmod(0o600)
    monkeypatch.setenv("P2PESCROW_PASSWORD_FILE", str(from_env))
    monkeypatch.setenv("P2PESCROW_PASSWORD", "from-the-variable")
    assert accounts.password("alice", str(given)) == "from-the-file"
    assert accounts.password("alice") == "from-the-env-file"
    monkeypatch.delenv("P2PESCROW_PASSWORD_FILE")
    assert accounts.password("alice") == "from-the-variable"
    monkeypatch.delenv("P2PESCROW_PASSWORD")
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    assert accounts.password("alice", prompt=lambda text: f"typed at: {text}") == "typed at: Password for alice"
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    with pytest.raises(AccountError, match="no terminal to ask"):
        accounts.password("alice")
