"""The global options and what they select: the one way a command reaches ``--network``,
``--rpc-url``, ``--account``, ``--json``, ``--yes``, ... and gets a client, a reader or a signer.

Every command resolves the options the same way, here: ``options(ctx)``, then ``client(options)``
to send, ``reader(options)`` to read (no web3 imported: see :mod:`p2pescrow.reader`), or
``network``/``signer``/``viewer`` for the few commands that need only a part of it.
Imported by ``--help``: the SDK is imported inside the functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import typer

from ..errors import AccountError
from .accounts_default import NO_ACCOUNT_HINT, account_name, address_named

if TYPE_CHECKING:
    from ..clients.sync import EscrowClient
    from ..networks import Network
    from ..reader import Reads
    from ..transport.sync import Transactor

DEFAULT_NETWORK = "local"


@dataclass
class Options:
    """The global options (``p2pescrow --help``), set by the root command for every command."""

    network: str | None = None
    rpc_url: str | None = None
    account: str | None = None
    password_file: str | None = None
    json: bool = False
    yes: bool = False
    #: Blocks a transaction must be buried under (1: its own) before a command reports it done.
    confirmations: int = 1
    #: Seconds to wait for a receipt (and its confirmations) before exiting 5 with the hash.
    timeout: float = 120.0
    #: The market index's database URL (``--db``, ``$P2PESCROW_DB``); None: the SQLite file under the
    #: config folder (:func:`p2pescrow.market.db.resolve_url`).
    db: str | None = None
    #: A market server (``--market-url``, ``$P2PESCROW_MARKET_URL``): market search, market stats,
    #: rep show's screening and offer fill ID read it instead of a local index; offer relay posts to it.
    market_url: str | None = None

    def selected_network(self) -> Network:
        """The network these options select (:func:`network`), e.g. for explorer links."""
        return network(self)


def options(ctx: typer.Context | None) -> Options:
    """The global options of the running command (defaults outside one)."""
    found = ctx.find_object(Options) if ctx is not None else None
    return found if found is not None else Options()


def network(options: Options) -> Network:
    """The network the options name (``--rpc-url`` alone gives an ad-hoc one).

    ``local``/``ganache`` follow the node `p2pescrow node start` runs, whatever its port.
    """
    from ..networks import Network, Networks

    if options.rpc_url and not options.network:
        return Network("custom", options.rpc_url, None)
    chosen = Networks().get(options.network or DEFAULT_NETWORK)
    if options.rpc_url:
        return Network(chosen.name, options.rpc_url, chosen.chain_id, chosen.explorer, dev=chosen.dev)
    from ..node.devchain import resolve

    return resolve(chosen)


def password(options: Options, name: str, *, confirm: bool = False) -> str:
    """A keystore password (:func:`p2pescrow.accounts.password`: ``--password-file``, else
    ``$P2PESCROW_PASSWORD``, else a hidden prompt, typed twice when ``confirm``)."""
    from .. import accounts

    def ask(text: str) -> str:
        return str(typer.prompt(text, hide_input=True, confirmation_prompt=confirm))

    return accounts.password(name, options.password_file, prompt=ask)


def _required_account(options: Options, where: str) -> str:
    name = account_name(options)
    if name is None:
        raise AccountError(f"no account selected: {where} needs one to sign with", hint=NO_ACCOUNT_HINT)
    return name


def _refuse_dev_key_off_dev_chains(name: str, net: Network) -> None:
    """dev0..dev9 are public keys: only for a local dev chain — one `p2pescrow node` started, or chain
    id 31337/1337 on a loopback URL (:func:`p2pescrow.node.devchain.is_local_dev_chain`, the one rule
    the scripts follow too). A network without a known chain id is asked for it (one request)."""
    from ..node.devchain import is_local_dev_chain
    from ..node.process import chain_id_of

    if net.rpc_url is None:
        return  # the embedded chain: in this process
    chain_id = net.chain_id if net.chain_id is not None else chain_id_of(net.rpc_url, timeout=5.0)
    if chain_id is None or not is_local_dev_chain(net.rpc_url, chain_id):
        raise AccountError(f"{name} is a public dev key: it is only allowed on local dev chains "
                           "(one `p2pescrow node` started, or chain id 31337/1337 on this computer)",
                           hint="use a keystore: `p2pescrow accounts new NAME`")


def signer(options: Options, net: Network) -> Any:
    """The LocalAccount the options name (a keystore, or dev0..dev9 on dev chains). There is no
    implicit signer, dev chains included: without an account this is an AccountError (exit 2)."""
    from .. import accounts

    name = _required_account(options, "this command")
    if name in accounts.DEV_NAMES:
        _refuse_dev_key_off_dev_chains(name, net)
        return accounts.dev_account(name)
    accounts.address_of(name)  # a missing or over-shared keystore is reported before the password prompt
    return accounts.load(name, password(options, name))


def viewer(options: Options, net: Network) -> str | None:
    """The address the options name, without unlocking anything (for reads): None if no account.
    No key is derived (eth-account is not even imported): dev addresses are listed, keystores
    carry theirs."""
    from .. import accounts

    name = account_name(options)
    if name is None:
        return None
    if name in accounts.DEV_NAMES:
        _refuse_dev_key_off_dev_chains(name, net)
    return address_named(name)


def _embedded(options: Options, *, read_only: bool = False) -> EscrowClient:
    """A fresh in-process chain for this one invocation, acting as a dev account (dev0 for reads
    without an account; a command that sends needs ``--account devN``, as on any chain)."""
    from .. import accounts
    from ..clients.sync import EscrowClient

    name = account_name(options)
    if name is None:
        if not read_only:
            raise AccountError("no account selected: the embedded chain signs only as its dev accounts",
                               hint="pass --account dev0 .. --account dev9")
        name = "dev0"
    if name not in accounts.DEV_NAMES:
        raise AccountError("the embedded chain has only its dev accounts: use --account dev0..dev9")
    base = EscrowClient.embedded()
    return base.as_account(base.dev_accounts[accounts.DEV_NAMES.index(name)])


def client(options: Options, *, hooks: bool = True, read_only: bool = False) -> EscrowClient:
    """A client for the selected network and account, with confirmation and progress hooks.

    ``read_only``: for commands that only read. No password is asked and no account is needed; the
    client acts as the named account's address (or the zero address when none is named), which
    is enough to say what "you" may do, and it never signs.
    """
    from ..clients.sync import EscrowClient
    from ..models import ZERO_ADDRESS
    from .confirm import confirm_send
    from .render import progress

    net = network(options)
    if net.rpc_url is None:
        result = _embedded(options, read_only=read_only)
    elif read_only:
        result = EscrowClient.connect(net.rpc_url, viewer(options, net) or ZERO_ADDRESS,
                                      expected_chain_id=net.chain_id)
    else:
        result = EscrowClient.connect(net.rpc_url, signer(options, net), expected_chain_id=net.chain_id,
                                      confirmations=options.confirmations, timeout=options.timeout)
    if hooks:
        sender = result.address
        result.before_send = lambda call, preview: confirm_send(options, call, preview, sender=sender)
        waiting = "the receipt" if options.confirmations <= 1 else f"{options.confirmations} confirmations"
        result.on_sent = lambda tx_hash: progress(f"sent {tx_hash}, waiting for {waiting} ...", options)
        result.tx.on_notice = lambda text: progress(text, options)
    return result


def reader(options: Options) -> Reads:
    """What read-only commands read through: an :class:`~p2pescrow.reader.EscrowReader` (plain
    JSON-RPC, no web3: a read answers in a fraction of a second) acting as the viewer's address;
    the SDK client itself on the embedded chain (it exists only in this process), over WebSocket,
    and when a proxy is set for the URL."""
    net = network(options)
    if net.rpc_url is None or not net.rpc_url.startswith(("http://", "https://")) or _proxied(net.rpc_url):
        return client(options, hooks=False, read_only=True)
    from ..reader import EscrowReader

    return EscrowReader.connect(net.rpc_url, viewer(options, net), expected_chain_id=net.chain_id)


def _proxied(url: str) -> bool:
    """Whether the environment names an HTTP proxy for ``url``'s scheme: the SDK's HTTP client
    (requests) goes through it, the reader's plain one would not, so such reads take the SDK."""
    import os

    scheme = url.split(":", 1)[0].lower()
    return any(os.environ.get(name) for name in (f"{scheme}_proxy", f"{scheme.upper()}_PROXY", "all_proxy",
                                                  "ALL_PROXY"))


def transactor(options: Options, account: Any = None, *,
               embedded: str = "the embedded chain lives only inside one command") -> Transactor:
    """The transaction path to the selected node, its chain checked against the network's, signing
    as ``account`` (None: the node only, to look up and rebroadcast; deploy, tx). On the embedded
    chain: an InputError saying ``embedded``."""
    from ..errors import InputError
    from ..transport.sync import Transactor

    net = network(options)
    if net.rpc_url is None:
        raise InputError(embedded, hint="pick a node with --network")
    return Transactor.connect(net.rpc_url, account, expected_chain_id=net.chain_id)
