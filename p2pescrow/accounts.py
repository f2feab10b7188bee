"""Signers: encrypted keystores (eth-account keystore v3) in the user's config folder, and the
well-known dev accounts of local chains.

Keystore files are written mode 0600 in a 0700 folder and refused if others can read them. A
keystore's key-derivation parameters are checked before its password is tried (:func:`check_kdf`:
scrypt n >= 2^18 and r >= 8, pbkdf2 c >= 10^6; at most scrypt n = 2^22 / 1 GiB / p = 16, pbkdf2
c = 10^7), and its address field is checked against the decrypted key. Keys never leave the process
and never appear in a message: errors name the keystore, not its content.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .config import config_dir
from .errors import AccountError, InputError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_KEY_LIKE = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")
DEV_MNEMONIC = "test test test test test test test test test test test junk"
DEV_NAMES = tuple(f"dev{i}" for i in range(10))
#: The addresses of dev0..dev9 (derived from DEV_MNEMONIC; listed so that showing them needs no
#: key derivation, which costs a second of imports).
DEV_ADDRESSES = (
    "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
    "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65", "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc",
    "0x976EA74026E726554dB657fA54763abd0C3a0aa9", "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955",
    "0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f", "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720",
)


#: Where a keystore password may come from besides a hidden prompt (never a command-line argument:
#: it would land in shell history and in the process list).
PASSWORD_ENV = "P2PESCROW_PASSWORD"
PASSWORD_FILE_ENV = "P2PESCROW_PASSWORD_FILE"


def password(name: str, password_file: str | None = None, *,
             prompt: Callable[[str], str] | None = None) -> str:
    """The password of keystore ``name``, from the first source that has one: ``password_file``
    (else ``$P2PESCROW_PASSWORD_FILE``), ``$P2PESCROW_PASSWORD``, else a hidden prompt when there
    is a terminal (``prompt(text)``; default ``getpass``). The CLI and the scripts both ask here,
    so they take the same sources in the same order."""
    path_text = password_file or os.environ.get(PASSWORD_FILE_ENV)
    if path_text:
        path = Path(path_text).expanduser()
        try:
            _check_private(path, "password file")
            return path.read_text().rstrip("\r\n")
        except OSError as exc:
            raise InputError(f"cannot read the password file {path}: {exc.strerror}") from None
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV]
    if not sys.stdin.isatty():
        raise AccountError(f"a password is needed for {name!r} and there is no terminal to ask",
                           hint=f"use --password-file or set ${PASSWORD_ENV}")
    if prompt is None:
        import getpass

        return getpass.getpass(f"Password for {name}: ")
    return prompt(f"Password for {name}")


class WrongPassword(AccountError):
    def __init__(self, name: str) -> None:
        super().__init__(f"wrong password for keystore {name!r}")


class WeakKeystore(AccountError):
    """A keystore whose key derivation is too cheap to resist guessing, or too costly to run."""


#: Key-derivation bounds a keystore must meet before its password is even tried. The floors are
#: the usual defaults (geth and eth-account: scrypt n = 2^18, r = 8, p = 1; pbkdf2 c = 10^6); the
#: ceilings stop a crafted file from making the process burn minutes or gigabytes.
SCRYPT_MIN_N, SCRYPT_MAX_N = 2**18, 2**22
SCRYPT_MIN_R, SCRYPT_MAX_P = 8, 16
SCRYPT_MAX_MEMORY = 2**30  # 128 * n * r bytes
PBKDF2_MIN_C, PBKDF2_MAX_C = 1_000_000, 10_000_000


def check_kdf(keystore: Any, label: str) -> None:
    """Refuse a keystore whose KDF parameters are weak, huge or malformed (WeakKeystore), before
    anything is derived from the password. ``label`` names the keystore in the message."""
    crypto = keystore.get("crypto", keystore.get("Crypto")) if isinstance(keystore, dict) else None
    if not isinstance(crypto, dict) or not isinstance(crypto.get("kdfparams"), dict):
        raise WeakKeystore(f"keystore {label} is not a version 3 keystore (no crypto.kdfparams)")
    kdf, params = crypto.get("kdf"), crypto["kdfparams"]

    def number(field: str) -> int:
        value = params.get(field)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise WeakKeystore(f"keystore {label}: {kdf} parameter {field} is missing or not a positive integer")
        return value

    if number("dklen") != 32:
        raise WeakKeystore(f"keystore {label}: {kdf} dklen must be 32")
    if kdf == "scrypt":
        n, r, p = number("n"), number("r"), number("p")
        if n & (n - 1):
            raise WeakKeystore(f"keystore {label}: scrypt n={n} is not a power of two")
        if n < SCRYPT_MIN_N or r < SCRYPT_MIN_R:
            raise WeakKeystore(
                f"keystore {label} uses weak scrypt parameters (n={n}, r={r}; at least n=2^18, r=8 are required)",
                hint="re-encrypt the key with standard parameters (e.g. import it with `accounts import NAME "
                     "--private-key`)")
        if n > SCRYPT_MAX_N or p > SCRYPT_MAX_P or 128 * n * r > SCRYPT_MAX_MEMORY:
            raise WeakKeystore(f"keystore {label} asks for excessive scrypt work (n={n}, r={r}, p={p}; at most "
                               f"n=2^22, p={SCRYPT_MAX_P} and 1 GiB of memory)")
    elif kdf == "pbkdf2":
        c = number("c")
        if params.get("prf") != "hmac-sha256":
            raise WeakKeystore(f"keystore {label}: pbkdf2 prf must be hmac-sha256")
        if c < PBKDF2_MIN_C:
            raise WeakKeystore(
                f"keystore {label} uses weak pbkdf2 parameters (c={c}; at least 1,000,000 is required)",
                hint="re-encrypt the key with standard parameters (e.g. import it with `accounts import NAME "
                     "--private-key`)")
        if c > PBKDF2_MAX_C:
            raise WeakKeystore(f"keystore {label} asks for excessive pbkdf2 work (c={c}; at most 10,000,000)")
    else:
        raise WeakKeystore(f"keystore {label} uses an unsupported key derivation {str(kdf)[:20]!r}: "
                           "scrypt or pbkdf2 only")


class KeystoreNotFound(AccountError):
    def __init__(self, name: str, folder: Path) -> None:
        super().__init__(f"no keystore named {name!r} in {folder}",
                         hint="list them with `p2pescrow accounts list`, or create one with `p2pescrow accounts new`")


def keystore_dir() -> Path:
    return config_dir() / "keystores"


def _path(name: str) -> Path:
    if not _NAME.match(name):
        raise InputError(f"invalid account name {name!r}: letters, digits, . _ - (at most 64)")
    return keystore_dir() / f"{name}.json"


def check_new_name(name: str) -> None:
    """Refuse a name that is malformed, taken, or one of the dev accounts (which would shadow it)."""
    if _KEY_LIKE.match(name):  # a key pasted in the wrong place: never echo it
        raise InputError("that account name looks like a private key (not shown); keys are only read "
                         "from the hidden prompt", hint="e.g. `p2pescrow accounts import alice --private-key`")
    if name in DEV_NAMES:
        raise InputError(f"{name!r} is the name of a built-in dev account; choose another name")
    if _path(name).exists():
        raise InputError(f"an account named {name!r} already exists",
                         hint=f"pick another name, or remove it with `p2pescrow accounts delete {name}`")


def _write(name: str, keystore: dict[str, Any]) -> Path:
    check_kdf(keystore, repr(name))
    folder = keystore_dir()
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    path = _path(name)
    if path.exists():
        raise InputError(f"an account named {name!r} already exists")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(keystore, handle)
    return path


def _encrypt(key: bytes, password: str) -> dict[str, Any]:
    from eth_account import Account

    return dict(Account.encrypt(key, password))  # scrypt, n = 2^18 (eth-account's default)


def create(name: str, password: str) -> str:
    """Create a new random key, store it encrypted, return its address."""
    from eth_account import Account

    check_new_name(name)
    account = Account.create()
    keystore = _encrypt(bytes(account.key), password)
    _write(name, keystore)
    return str(account.address)


def _from_key(private_key: str) -> Any:
    from eth_account import Account

    try:
        return Account.from_key(private_key.strip())
    except Exception:
        raise InputError("that is not a valid private key (expected 32 bytes of hex)") from None


def _from_mnemonic(mnemonic: str, index: int) -> Any:
    from eth_account import Account

    if index < 0:
        raise InputError(f"invalid account index {index}: must be 0 or more")
    Account.enable_unaudited_hdwallet_features()
    try:
        return Account.from_mnemonic(" ".join(mnemonic.split()), account_path=f"m/44'/60'/0'/0/{index}")
    except Exception:
        raise InputError("that is not a valid BIP-39 mnemonic") from None


def key_address(private_key: str) -> str:
    """The address of a private key (to show before importing it); InputError if malformed."""
    return str(_from_key(private_key).address)


def mnemonic_address(mnemonic: str, index: int = 0) -> str:
    """The address at m/44'/60'/0'/0/``index`` of a mnemonic; InputError if it is not BIP-39."""
    return str(_from_mnemonic(mnemonic, index).address)


def import_private_key(name: str, private_key: str, password: str) -> str:
    check_new_name(name)
    account = _from_key(private_key)
    _write(name, _encrypt(bytes(account.key), password))
    return str(account.address)


def import_mnemonic(name: str, mnemonic: str, password: str, index: int = 0) -> str:
    check_new_name(name)
    account = _from_mnemonic(mnemonic, index)
    _write(name, _encrypt(bytes(account.key), password))
    return str(account.address)


def read_keystore_file(path: Path) -> dict[str, Any]:
    """A v3 keystore file to import: parsed and its KDF checked (no password needed)."""
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise InputError(f"cannot read the keystore file {path}: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InputError(f"{path} is not a JSON keystore file") from None
    if not isinstance(data, dict) or data.get("version") != 3:
        raise InputError(f"{path} is not a version 3 keystore file")
    check_kdf(data, str(path))
    return data


def import_keystore(name: str, path: Path, password: str) -> str:
    """Copy an existing v3 keystore file in as ``name`` (mode 0600), after checking its KDF and
    that ``password`` opens it; the file is stored as it is (not re-encrypted)."""
    check_new_name(name)
    data = read_keystore_file(path)
    account = _decrypt(data, password, str(path))
    _write(name, data)
    return str(account.address)


def names() -> list[str]:
    folder = keystore_dir()
    return sorted(p.stem for p in folder.glob("*.json")) if folder.exists() else []


def address_of(name: str) -> str:
    """The address of a keystore (read from the file: no password needed)."""
    data = _read(name)
    address = data.get("address")
    if not address:
        raise AccountError(f"keystore {name!r} has no address field")
    from eth_utils import to_checksum_address

    return str(to_checksum_address("0x" + str(address).removeprefix("0x")))


def _check_private(path: Path, what: str) -> None:
    """A secret's file must be the owner's alone: a keystore or a password file that others can
    read is refused (and said how to fix), never used. Raises OSError if it cannot be read."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise AccountError(f"{what} {path} is readable by others (mode {mode:o}); run `chmod 600 {path}`")


def _read(name: str) -> dict[str, Any]:
    path = _path(name)
    if not path.exists():
        raise KeystoreNotFound(name, keystore_dir())
    _check_private(path, "keystore")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError:
        raise AccountError(f"keystore {path} is not valid JSON") from None
    return data if isinstance(data, dict) else {}


def _decrypt(data: dict[str, Any], password: str, label: str) -> Any:
    """KDF check, decryption, and the stored address checked against the key (the address field is
    not covered by the keystore's MAC)."""
    from eth_account import Account

    check_kdf(data, label)
    try:
        key = Account.decrypt(data, password)
    except ValueError:
        raise WrongPassword(label) from None
    account = Account.from_key(key)
    stored = str(data.get("address") or "").lower().removeprefix("0x")
    if stored and stored != account.address.lower().removeprefix("0x"):
        raise AccountError(f"keystore {label}: its address field does not match its key (the file was altered)")
    return account


def load(name: str, password: str) -> Any:
    """Decrypt a keystore into a ``LocalAccount`` (weak or huge KDF parameters are refused first)."""
    return _decrypt(_read(name), password, name)


def delete(name: str) -> None:
    path = _path(name)
    if not path.exists():
        raise KeystoreNotFound(name, keystore_dir())
    path.unlink()


def dev_account(name: str) -> Any:
    """``dev0``..``dev9``: the funded accounts of local dev chains (public keys: never for real money)."""
    from eth_account import Account

    if name not in DEV_NAMES:
        raise InputError(f"unknown dev account {name!r}: dev0 to dev9")
    Account.enable_unaudited_hdwallet_features()
    return Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{DEV_NAMES.index(name)}")
