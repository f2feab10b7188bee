"""From global options to a connected client: network, account, password, confirmation, progress.

The one place where commands meet the SDK's connection logic, so every command resolves
``--network``/``--rpc-url``/``--account`` the same way.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import typer

from ..errors import AccountError, InputError
from .render import Options, progress

if TYPE_CHECKING:
    from ..clients.sync import EscrowClient
    from ..networks import Network
    from ..transport.sync import Call, Preview

DEFAULT_NETWORK = "local"


def network(options: Options) -> Network:
    """The network the options name (``--rpc-url`` alone gives an ad-hoc one).

    ``local``/``ganache`` follow the node `p2pescrow node start` runs, whatever its port.
    """
    from ..networks import Network, Networks
    from ..node.devchain import resolve

    if options.rpc_url and not options.network:
        return Network("custom", options.rpc_url, None)
    chosen = Networks().get(options.network or DEFAULT_NETWORK)
    if options.rpc_url:
        return Network(chosen.name, options.rpc_url, chosen.chain_id, chosen.explorer, dev=chosen.dev)
    return resolve(chosen)


def password(options: Options, name: str, *, confirm: bool = False) -> str:
    """A keystore password (:func:`p2pescrow.accounts.password`: ``--password-file``, else
    ``$P2PESCROW_PASSWORD``, else a hidden prompt, typed twice when ``confirm``)."""
    from .. import accounts

    def ask(text: str) -> str:
        return str(typer.prompt(text, hide_input=True, confirmation_prompt=confirm))

    return accounts.password(name, options.password_file, prompt=ask)


def signer(options: Options, net: Network) -> Any:
    """The LocalAccount the options name (a keystore, or dev0..dev9 on dev chains)."""
    from .. import accounts

    name = options.account
    if name is None:
        if net.dev:
            return accounts.dev_account("dev0")
        raise AccountError("no account selected", hint="pass --account NAME (see `p2pescrow accounts list`)")
    if name in accounts.DEV_NAMES:
        if not net.dev:
            raise AccountError(f"{name} is a public dev key: it is only allowed on local dev chains")
        return accounts.dev_account(name)
    accounts.address_of(name)  # a missing or over-shared keystore is reported before the password prompt
    return accounts.load(name, password(options, name))


def viewer(options: Options, net: Network) -> str | None:
    """The address the options name, without unlocking anything (for reads): None if no account."""
    from .. import accounts

    name = options.account
    if name is None:
        return accounts.dev_account("dev0").address if net.dev else None
    if name in accounts.DEV_NAMES:
        if not net.dev:
            raise AccountError(f"{name} is a public dev key: it is only allowed on local dev chains")
        return str(accounts.dev_account(name).address)
    return accounts.address_of(name)


def client(options: Options, *, hooks: bool = True, read_only: bool = False) -> EscrowClient:
    """A client for the selected network and account, with confirmation and progress hooks.

    ``read_only``: for commands that only read. No password is asked and no account is needed; the
    client acts as the named account's address (or the zero address when none is named), which
    is enough to say what "you" may do, and it never signs.
    """
    from .. import accounts
    from ..clients.sync import EscrowClient
    from ..models import ZERO_ADDRESS

    net = network(options)
    if net.rpc_url is None:  # embedded: a fresh in-process chain for this one invocation
        name = options.account or "dev0"
        if name not in accounts.DEV_NAMES:
            raise AccountError("the embedded chain has only its dev accounts: use --account dev0..dev9")
        base = EscrowClient.embedded()
        result = base.as_account(base.dev_accounts[accounts.DEV_NAMES.index(name)])
    elif read_only:
        result = EscrowClient.connect(net.rpc_url, viewer(options, net) or ZERO_ADDRESS,
                                      expected_chain_id=net.chain_id)
    else:
        result = EscrowClient.connect(net.rpc_url, signer(options, net), expected_chain_id=net.chain_id,
                                      confirmations=options.confirmations, timeout=options.timeout)
    if hooks:
        result.before_send = lambda call, preview: confirm_send(options, call, preview)
        waiting = "the receipt" if options.confirmations <= 1 else f"{options.confirmations} confirmations"
        result.on_sent = lambda tx_hash: progress(f"sent {tx_hash}, waiting for {waiting} ...", options)
        result.tx.on_notice = lambda text: progress(text, options)
    return result


def confirm_send(options: Options, call: Call, preview: Preview, details: list[str] | None = None) -> None:
    """Show what a transaction will do and cost, and ask (unless ``--yes``)."""
    from ..models import from_base_units

    lines = [f"About to send: {call.description}"] + [f"  {d}" for d in details or []]
    if call.value:
        lines.append(f"  value: {from_base_units(call.value, 18)} ETH")
    most = from_base_units(preview.gas * preview.max_fee_per_gas, 18)
    lines.append(f"  gas: up to {preview.gas:,}, at most {most} ETH")
    if options.yes:
        return
    if options.json or not sys.stdin.isatty():
        raise InputError("confirmation needed and there is no terminal to ask", hint="pass --yes")
    typer.echo("\n".join(lines), err=True)
    if not typer.confirm("Send it?", default=False, err=True):
        raise typer.Abort()
