"""The account a command signs with when none is named: ``--account`` or ``$P2PESCROW_ACCOUNT``,
else the default chosen once with ``p2pescrow accounts default NAME`` (a file in the config
folder), else none: there is no implicit signer, dev chains included. No SDK imports here."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .context import Options

#: The file in the config folder naming the account commands use when neither ``--account`` nor
#: ``$P2PESCROW_ACCOUNT`` names one (``p2pescrow accounts default NAME``).
DEFAULT_ACCOUNT_FILE = "default-account"
NO_ACCOUNT_HINT = ("pass --account NAME (or set $P2PESCROW_ACCOUNT), or choose one once with "
                   "`p2pescrow accounts default NAME`; `p2pescrow accounts list` shows the names")


def default_account() -> str | None:
    """The account chosen once with ``p2pescrow accounts default NAME``, if any."""
    from ..config import config_dir

    try:
        name = (config_dir() / DEFAULT_ACCOUNT_FILE).read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return name or None


def set_default_account(name: str | None) -> None:
    """Choose (or, with None, forget) the default account."""
    from ..config import config_dir

    path = config_dir() / DEFAULT_ACCOUNT_FILE
    if name is None:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(name + "\n", encoding="utf-8")


def account_name(options: Options) -> str | None:
    """The account the options select: ``--account``/``$P2PESCROW_ACCOUNT``, else the default
    account, else None (reads work without one; a command that sends or signs refuses)."""
    return options.account or default_account()


def address_named(name: str) -> str:
    """The address ``name`` selects, nothing unlocked and no key derived (eth-account is not
    imported): dev0..dev9's listed address, a keystore's own (a missing or over-shared keystore is
    refused: :func:`p2pescrow.accounts.address_of`)."""
    from .. import accounts

    if name in accounts.DEV_NAMES:
        return accounts.DEV_ADDRESSES[accounts.DEV_NAMES.index(name)]
    return accounts.address_of(name)
