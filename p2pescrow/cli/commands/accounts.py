"""``p2pescrow accounts``: encrypted keystores in the config folder, and the dev accounts.

Keys and mnemonics are only ever read from a hidden prompt (or from standard input when it is not a
terminal), never from an argument: arguments end up in shell history and in ``ps``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ...errors import AccountError, InputError
from .. import context
from ..app import app, command
from ..context import Options
from ..render import emit, progress, table

if TYPE_CHECKING:
    from ...networks import Network

accounts_app = typer.Typer(
    name="accounts", no_args_is_help=True,
    help="Keystores (encrypted, in the config folder) and the dev accounts of local chains.")
app.add_typer(accounts_app)

DEV_NOTE = "dev chains only (public test key)"


def _secret(what: str) -> str:
    """A secret typed at a hidden prompt, or one line piped on standard input."""
    if sys.stdin.isatty():
        value = str(typer.prompt(what, hide_input=True))
    else:
        value = sys.stdin.readline()
    if not value.strip():
        raise InputError(f"no {what.lower()} given",
                         hint="type it at the prompt, or pipe it on standard input")
    return value.strip()


def _new_password(options: Options, name: str) -> str:
    from ..context import password

    value = password(options, name, confirm=True)
    if not value:
        raise InputError("the password cannot be empty")
    return value


def _keystore_path(name: str) -> str:
    from ...accounts import keystore_dir

    return str(keystore_dir() / f"{name}.json")


@command(accounts_app, "new")
def new(ctx: typer.Context,
        name: Annotated[str, typer.Argument(help="A name for the account, e.g. alice.")]) -> None:
    """Create a new key, encrypted with a password you choose (asked twice, hidden).

    \b
    Example:
      p2pescrow accounts new alice
    """
    from ... import accounts

    options = context.options(ctx)
    accounts.check_new_name(name)
    secret = _new_password(options, name)
    address = accounts.create(name, secret)
    emit(options, {"name": name, "address": address, "keystore": _keystore_path(name)},
         [f"created {name}: {address}", f"keystore: {_keystore_path(name)} (keep a backup; "
          "without it and the password the funds are lost)"])


@command(accounts_app, "import", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def import_(ctx: typer.Context,
            name: Annotated[str, typer.Argument(help="A name for the account, e.g. alice.")],
            private_key: Annotated[bool, typer.Option(
                "--private-key", help="Ask for a private key (hidden prompt, or one line on stdin).")] = False,
            mnemonic: Annotated[bool, typer.Option(
                "--mnemonic", help="Ask for a BIP-39 mnemonic (hidden prompt, or one line on stdin).")] = False,
            index: Annotated[int, typer.Option(
                "--index", min=0, help="With --mnemonic: the account index i of m/44'/60'/0'/0/i.")] = 0,
            keystore: Annotated[Path | None, typer.Option(
                "--keystore", metavar="FILE",
                help="Copy in an existing v3 keystore file (its password is asked for, to check it opens).")] = None,
            ) -> None:
    """Import a key you already have and encrypt it. The key is asked for, never passed as an argument.

    With --keystore, an existing encrypted keystore file is checked (key-derivation strength, and
    that its password opens it) and copied in as it is, mode 0600.

    \b
    Examples:
      p2pescrow accounts import alice --private-key
      p2pescrow accounts import bob --keystore ~/backup/UTC--2024-...--bob.json
    """
    from ... import accounts

    options = context.options(ctx)
    if ctx.args:  # refused without echoing them: a pasted key must not reach the terminal log
        raise InputError(f"unexpected arguments after {name} (not shown, in case they hold a key): keys and "
                         "mnemonics are only read from a hidden prompt or standard input",
                         hint=f"run `p2pescrow accounts import {name} --private-key` and paste it at the prompt")
    if [private_key, mnemonic, keystore is not None].count(True) != 1:
        raise InputError("choose one of --private-key, --mnemonic or --keystore FILE",
                         hint="e.g. `p2pescrow accounts import alice --private-key`")
    if index and not mnemonic:
        raise InputError("--index only applies with --mnemonic")
    accounts.check_new_name(name)
    if keystore is not None:
        from ..context import password

        accounts.read_keystore_file(keystore)  # malformed or weak: said before the password prompt
        address = accounts.import_keystore(name, keystore, password(options, name))
        emit(options, {"name": name, "address": address, "keystore": _keystore_path(name)},
             [f"imported {name}: {address}", f"keystore: {_keystore_path(name)}"])
        return
    if private_key:
        key = _secret("Private key")
        address = accounts.key_address(key)
    else:
        phrase = _secret("Mnemonic")
        address = accounts.mnemonic_address(phrase, index)
    secret = _new_password(options, name)
    progress(f"importing {address} as {name}", options)  # the key derivation takes a moment
    if private_key:
        accounts.import_private_key(name, key, secret)
    else:
        accounts.import_mnemonic(name, phrase, secret, index)
    emit(options, {"name": name, "address": address, "keystore": _keystore_path(name)},
         [f"imported {name}: {address}", f"keystore: {_keystore_path(name)}"])


@command(accounts_app, "list")
def list_(ctx: typer.Context) -> None:
    """List your keystores (name and address; no password needed) and the dev accounts.

    \b
    Example:
      p2pescrow accounts list
    """
    from ... import accounts

    options = context.options(ctx)
    entries = []
    for name in accounts.names():
        try:
            address: str | None = accounts.address_of(name)
            problem = None
        except (AccountError, InputError) as exc:
            address, problem = None, str(exc)
        entries.append({"name": name, "address": address, "kind": "keystore",
                        "keystore": _keystore_path(name), "problem": problem})
    for name in accounts.DEV_NAMES:
        entries.append({"name": name, "address": accounts.DEV_ADDRESSES[accounts.DEV_NAMES.index(name)],
                        "kind": "dev",
                        "keystore": None, "problem": None})
    rows = [(e["name"], e["address"] or "?",
             DEV_NOTE if e["kind"] == "dev" else (e["problem"] or "")) for e in entries]
    text = table(rows, ("NAME", "ADDRESS", "NOTE"))
    if not accounts.names():
        text = "no keystores yet: create one with `p2pescrow accounts new NAME`\n\n" + text
    emit(options, {"accounts": entries}, text)


@command(accounts_app, "show")
def show(ctx: typer.Context,
         name: Annotated[str, typer.Argument(help="Keystore name, or dev0..dev9.")]) -> None:
    """Show an account's address and, when the selected network answers, its ETH balance (and its
    dev-token balances on a chain `p2pescrow node start` set up).

    \b
    Example:
      p2pescrow --network ganache accounts show alice
    """
    from ... import accounts

    options = context.options(ctx)
    if name in accounts.DEV_NAMES:
        address, kind, keystore = accounts.DEV_ADDRESSES[accounts.DEV_NAMES.index(name)], "dev", None
    else:
        address, kind, keystore = accounts.address_of(name), "keystore", _keystore_path(name)
    net = context.network(options)
    balance, where, problem, chain_id = _balance(net, address)
    tokens = _dev_token_balances(net.rpc_url, chain_id, address) if net.rpc_url and chain_id is not None else []
    document = {"name": name, "address": address, "kind": kind, "keystore": keystore, "network": where,
                "balance_wei": balance, "balance_eth": _eth(balance) if balance is not None else None,
                "tokens": tokens}
    lines = [f"name:     {name}" + (f" - {DEV_NOTE}" if kind == "dev" else ""),
             f"address:  {address}"]
    if keystore:
        lines.append(f"keystore: {keystore}")
    lines.append(f"balance:  {_eth(balance)} ETH on {where}" if balance is not None
                 else f"balance:  unknown ({problem})")
    lines += [f"{t['symbol'] + ':':<10}{t['balance']} (dev token {t['address']})" for t in tokens]
    emit(options, document, lines)


def _dev_token_balances(url: str, chain_id: int, address: str) -> list[dict[str, str]]:
    """The balances of the dev tokens recorded for chain ``chain_id`` (the node's, as
    :func:`_balance` read it; `p2pescrow node start` deploys DUSD and DEUR): two eth_calls a token;
    none elsewhere."""
    from ...deployments import Registry
    from ...models import from_base_units
    from ...node import process as _nodes

    deployment = Registry().get(chain_id)
    found: list[dict[str, str]] = []
    if deployment is None or not deployment.dev_tokens:
        return found
    from ...core.codec import erc20_codec

    erc20 = erc20_codec()
    for symbol, token in deployment.dev_tokens.items():
        units = _nodes.rpc(url, "eth_call", [{"to": token, "data": erc20.encode_call("balanceOf", address)}, "latest"],
                           timeout=3)
        decimals = _nodes.rpc(url, "eth_call", [{"to": token, "data": erc20.encode_call("decimals")}, "latest"],
                              timeout=3)
        if units is None or decimals is None:
            continue
        balance = from_base_units(int(erc20.decode_output("balanceOf", str(units))),
                                  int(erc20.decode_output("decimals", str(decimals))))
        found.append({"symbol": symbol, "address": token, "balance": f"{balance:f}"})
    return found


def _eth(wei: int) -> str:
    """A balance in ETH as a plain decimal (``0.0000001``, not ``1E-7``), as :func:`render.eth`."""
    from ...models import from_base_units

    return f"{from_base_units(wei, 18):f}"


def _balance(net: Network, address: str) -> tuple[int | None, str | None, str, int | None]:
    """The ETH balance on ``net``, if it answers: (wei, where, why not, the node's chain id)."""
    from ...node import process as _nodes

    if net.rpc_url is None:
        return None, None, "the embedded chain exists only while a command runs", None
    if not net.rpc_url.startswith(("http://", "https://")):
        return None, None, f"balance lookups need an http(s) RPC URL, not {net.rpc_url.split(':')[0]}", None
    answered = _nodes.rpc(net.rpc_url, "eth_chainId", timeout=3)
    if answered is None:
        return None, None, f"no node answers at {net.rpc_url}", None
    chain_id = int(str(answered), 16)
    if net.chain_id is not None and chain_id != net.chain_id:
        return None, None, f"the node at {net.rpc_url} serves chain {chain_id}, not {net.chain_id}", None
    wei = _nodes.rpc(net.rpc_url, "eth_getBalance", [address, "latest"], timeout=3)
    if wei is None:
        return None, None, f"the node at {net.rpc_url} did not return a balance", None
    return int(str(wei), 16), f"{net.name} (chain {chain_id})", "", chain_id


@command(accounts_app, "default")
def default(ctx: typer.Context,
            name: Annotated[str | None, typer.Argument(
                help="Keystore name, or dev0..dev9 (dev chains only).", show_default=False)] = None,
            clear: Annotated[bool, typer.Option("--clear", help="Forget the default account.")] = False,
            ) -> None:
    """Choose the account commands sign with when neither --account nor $P2PESCROW_ACCOUNT names one
    (kept in the config folder); without NAME, show it. There is no other implicit account.

    \b
    Examples:
      p2pescrow accounts default alice
      p2pescrow accounts default
      p2pescrow accounts default --clear
    """
    from ... import accounts
    from ..accounts_default import (
        DEFAULT_ACCOUNT_FILE,
        NO_ACCOUNT_HINT,
        address_named,
        default_account,
        set_default_account,
    )

    options = context.options(ctx)
    if clear:
        if name is not None:
            raise InputError("give a NAME or --clear, not both")
        previous = default_account()
        set_default_account(None)
        emit(options, {"default": None, "cleared": previous},
             f"no default account (was {previous})" if previous else "no default account (none was set)")
        return
    if name is None:
        current = default_account()
        address = _address_or_none(current)
        emit(options, {"default": current, "address": address},
             f"default account: {current} {address or '(keystore missing or unreadable)'}" if current
             else f"no default account: {NO_ACCOUNT_HINT}")
        return
    address = address_named(name)  # a missing or over-shared keystore is refused now
    set_default_account(name)
    from ...config import config_dir

    emit(options, {"default": name, "address": address, "file": str(config_dir() / DEFAULT_ACCOUNT_FILE)},
         f"default account: {name} {address}" + (f" ({DEV_NOTE})" if name in accounts.DEV_NAMES else "")
         + "; --account and $P2PESCROW_ACCOUNT still take precedence")


def _address_or_none(name: str | None) -> str | None:
    from ..accounts_default import address_named

    if name is None:
        return None
    try:
        return address_named(name)
    except (AccountError, InputError):
        return None


@command(accounts_app, "delete")
def delete(ctx: typer.Context,
           name: Annotated[str, typer.Argument(help="Keystore name.")],
           yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask first (as the global --yes).")] = False,
           ) -> None:
    """Delete a keystore file (asks first, unless --yes). Funds stay on chain, reachable only with a backup.

    \b
    Example:
      p2pescrow accounts delete alice
    """
    from ... import accounts
    from ..confirm import ask

    options = context.options(ctx)
    options.yes = options.yes or yes
    if name in accounts.DEV_NAMES:
        raise InputError(f"{name} is a built-in dev account; there is nothing to delete")
    try:
        address = accounts.address_of(name)
    except AccountError as exc:
        if isinstance(exc, accounts.KeystoreNotFound):
            raise
        address = "address unreadable"  # a damaged or over-shared file can still be deleted
    ask(options, [], f"Delete keystore {name} ({address})? Without a backup its funds are lost",
        nothing="nothing deleted")
    accounts.delete(name)
    from ..accounts_default import default_account, set_default_account

    was_default = default_account() == name
    if was_default:
        set_default_account(None)  # it would name a keystore that no longer exists
    emit(options, {"name": name, "address": address, "deleted": True, "default_cleared": was_default},
         f"deleted {name} ({address})" + ("; it was the default account: there is none now" if was_default else ""))
