"""Keystore assurance: 0600 files in a 0700 folder, refused when others can read them, and weak or
huge key-derivation parameters refused before the password is tried (on load and on import)."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from support.clitools import DEV1, DEV1_KEY, TEST_PASSWORD, as_json, invoke, one_error_line

from p2pescrow import accounts
from p2pescrow.accounts import WeakKeystore


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(scope="module")
def standard_keystore() -> dict[str, Any]:
    """DEV1's key encrypted with eth-account's defaults (scrypt n=2^18, r=8, p=1)."""
    return dict(Account.encrypt(DEV1_KEY, TEST_PASSWORD))


def with_params(keystore: dict[str, Any], kdf: str | None = None, **params: Any) -> dict[str, Any]:
    crafted = json.loads(json.dumps(keystore))
    if kdf is not None:
        crafted["crypto"]["kdf"] = kdf
        crafted["crypto"]["kdfparams"] = {"dklen": 32, "salt": "00" * 16}
    crafted["crypto"]["kdfparams"].update(params)
    return crafted


def plant(home: Path, name: str, keystore: dict[str, Any], file_mode: int = 0o600) -> Path:
    folder = home / "keystores"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(keystore))
    path.chmod(file_mode)
    return path


@pytest.fixture
def no_decrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail if anything tries to derive a key: the checks must come first."""
    def refuse(*_: Any, **__: Any) -> Any:
        raise AssertionError("Account.decrypt was called on a keystore that should have been refused")

    monkeypatch.setattr(Account, "decrypt", refuse)


WEAK_OR_HUGE = [
    pytest.param(dict(n=2**10), "weak scrypt", id="scrypt-n-2^10"),
    pytest.param(dict(n=2**17), "weak scrypt", id="scrypt-n-2^17"),
    pytest.param(dict(r=1), "weak scrypt", id="scrypt-r-1"),
    pytest.param(dict(n=2**30), "excessive scrypt", id="scrypt-n-2^30"),
    pytest.param(dict(n=2**21, r=8), "excessive scrypt", id="scrypt-2GiB"),
    pytest.param(dict(p=1000), "excessive scrypt", id="scrypt-p-1000"),
    pytest.param(dict(n=3 * 2**18), "not a power of two", id="scrypt-n-not-pow2"),
    pytest.param(dict(n="262144"), "not a positive integer", id="scrypt-n-string"),
    pytest.param(dict(kdf="pbkdf2", c=10, prf="hmac-sha256"), "weak pbkdf2", id="pbkdf2-c-10"),
    pytest.param(dict(kdf="pbkdf2", c=999_999, prf="hmac-sha256"), "weak pbkdf2", id="pbkdf2-c-999999"),
    pytest.param(dict(kdf="pbkdf2", c=10**8, prf="hmac-sha256"), "excessive pbkdf2", id="pbkdf2-c-1e8"),
    pytest.param(dict(kdf="pbkdf2", c=10**6, prf="hmac-sha1"), "prf must be hmac-sha256", id="pbkdf2-sha1"),
    pytest.param(dict(kdf="argon2", c=1), "unsupported key derivation", id="unknown-kdf"),
    pytest.param(dict(dklen=16), "dklen must be 32", id="short-dklen"),
]


@pytest.mark.parametrize(("params", "words"), WEAK_OR_HUGE)
def test_load_refuses_weak_or_huge_kdf_before_decrypting(
        home: Path, standard_keystore: dict[str, Any], no_decrypt: None, params: dict[str, Any], words: str) -> None:
    plant(home, "carol", with_params(standard_keystore, **params))

    started = time.monotonic()
    with pytest.raises(WeakKeystore, match=words):
        accounts.load("carol", TEST_PASSWORD)
    assert time.monotonic() - started < 1


def test_the_standard_parameters_pass_and_the_pbkdf2_floor_is_accepted(home: Path) -> None:
    plant(home, "std", dict(Account.encrypt(DEV1_KEY, TEST_PASSWORD)))
    assert accounts.load("std", TEST_PASSWORD).address == DEV1
    accounts.check_kdf(with_params(Account.encrypt(DEV1_KEY, TEST_PASSWORD), kdf="pbkdf2", c=10**6,
                                   prf="hmac-sha256"), "x")


def test_a_keystore_whose_address_field_was_altered_is_refused(home: Path, standard_keystore: dict[str, Any]) -> None:
    altered = {**standard_keystore, "address": "90f79bf6eb2c4f870365e785982e1f101e93b906"}
    plant(home, "carol", altered)

    with pytest.raises(accounts.AccountError, match="does not match its key"):
        accounts.load("carol", TEST_PASSWORD)


@pytest.mark.parametrize("file_mode", [0o640, 0o604, 0o660, 0o644, 0o606])
def test_group_or_world_access_is_refused(home: Path, standard_keystore: dict[str, Any], file_mode: int) -> None:
    plant(home, "carol", standard_keystore, file_mode)

    with pytest.raises(accounts.AccountError, match="readable by others"):
        accounts.load("carol", TEST_PASSWORD)


def test_a_shared_keystore_folder_is_tightened_to_0700_on_write(home: Path, password_file: Path) -> None:
    (home / "keystores").mkdir(parents=True)
    (home / "keystores").chmod(0o755)

    result = invoke("--password-file", str(password_file), "accounts", "import", "bob", "--private-key",
                    input=DEV1_KEY)

    assert result.exit_code == 0, result.stderr
    assert mode(home / "keystores") == 0o700
    assert mode(home / "keystores" / "bob.json") == 0o600


@pytest.mark.parametrize("file_mode", [0o640, 0o604, 0o644])
def test_a_password_file_others_can_read_is_refused_like_a_keystore(
        home: Path, tmp_path: Path, file_mode: int) -> None:
    shared = tmp_path / "shared-password.txt"
    shared.write_text(TEST_PASSWORD + "\n")
    shared.chmod(file_mode)

    result = invoke("--password-file", str(shared), "accounts", "import", "bob", "--private-key", input=DEV1_KEY)

    assert result.exit_code == 2
    line = one_error_line(result.stderr)
    assert f"password file {shared} is readable by others (mode {file_mode:o})" in line
    assert f"chmod 600 {shared}" in line
    assert not (home / "keystores" / "bob.json").exists()
    assert TEST_PASSWORD not in result.stdout + result.stderr


# -- accounts import --keystore ----------------------------------------------------------------------
@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "password.txt"
    path.write_text(TEST_PASSWORD + "\n")
    path.chmod(0o600)
    return path


def test_import_keystore_copies_it_0600_unchanged(
        home: Path, tmp_path: Path, password_file: Path, standard_keystore: dict[str, Any]) -> None:
    source = tmp_path / "UTC--backup.json"
    source.write_text(json.dumps(standard_keystore))
    source.chmod(0o644)  # a downloaded backup: the copy is what must be private

    result = invoke("--json", "--password-file", str(password_file), "accounts", "import", "bob",
                    "--keystore", str(source))

    assert result.exit_code == 0, result.stderr
    assert as_json(result)["address"] == DEV1
    stored = home / "keystores" / "bob.json"
    assert mode(stored) == 0o600 and mode(stored.parent) == 0o700
    assert json.loads(stored.read_text()) == standard_keystore
    assert accounts.load("bob", TEST_PASSWORD).address == DEV1
    assert TEST_PASSWORD not in result.stdout + result.stderr


@pytest.mark.parametrize(("params", "words"), [WEAK_OR_HUGE[0], WEAK_OR_HUGE[3], WEAK_OR_HUGE[8], WEAK_OR_HUGE[10]])
def test_import_keystore_refuses_weak_or_huge_kdf(
        home: Path, tmp_path: Path, password_file: Path, standard_keystore: dict[str, Any], no_decrypt: None,
        params: dict[str, Any], words: str) -> None:
    source = tmp_path / "weak.json"
    source.write_text(json.dumps(with_params(standard_keystore, **params)))

    result = invoke("--password-file", str(password_file), "accounts", "import", "bob", "--keystore", str(source))

    assert result.exit_code == 2
    assert words in one_error_line(result.stderr)
    assert not (home / "keystores" / "bob.json").exists()


def test_import_keystore_with_the_wrong_password_stores_nothing(
        home: Path, tmp_path: Path, standard_keystore: dict[str, Any]) -> None:
    source = tmp_path / "k.json"
    source.write_text(json.dumps(standard_keystore))
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("not the password\n")
    wrong.chmod(0o600)

    result = invoke("--password-file", str(wrong), "accounts", "import", "bob", "--keystore", str(source))

    assert result.exit_code == 2
    assert "wrong password" in one_error_line(result.stderr)
    assert not (home / "keystores" / "bob.json").exists()


@pytest.mark.parametrize("content", ["not json", "[1, 2]", '{"version": 1}', '{"version": 3}'])
def test_import_keystore_refuses_files_that_are_not_v3_keystores(
        home: Path, tmp_path: Path, password_file: Path, content: str) -> None:
    source = tmp_path / "k.json"
    source.write_text(content)

    result = invoke("--password-file", str(password_file), "accounts", "import", "bob", "--keystore", str(source))

    assert result.exit_code == 2
    one_error_line(result.stderr)
    assert not (home / "keystores" / "bob.json").exists()


def test_import_keystore_and_private_key_together_are_refused(tmp_path: Path) -> None:
    result = invoke("accounts", "import", "bob", "--private-key", "--keystore", str(tmp_path / "k.json"))

    assert result.exit_code == 2
    assert "choose one of" in one_error_line(result.stderr)


def test_new_and_imported_keystores_meet_the_floor(home: Path, password_file: Path) -> None:
    invoke("--password-file", str(password_file), "accounts", "import", "bob", "--private-key", input=DEV1_KEY)
    accounts.check_kdf(json.loads((home / "keystores" / "bob.json").read_text()), "bob")
