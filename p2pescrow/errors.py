"""Every error p2pescrow raises, under one root: :class:`P2PEscrowError`.

Domain bases say what kind of thing went wrong (:class:`InputError`, :class:`NetworkError`,
:class:`TransactionError`, ...). Reverts are :class:`ContractError`: each Solidity custom error of
every shipped artifact (our contracts, the interfaces and libraries they use, OpenZeppelin's
errors) becomes one subclass, created from ``artifacts/errors.json``, with the decoded arguments as
attributes and a human message taken from the contract's NatSpec::

    try:
        client.release(trade_id)
    except errors.WrongState as exc:
        print(exc.state, exc)      # 4, 'WrongState: the trade is not in a state that allows this ...'
    except errors.ContractError as exc:
        print(exc.data)            # the raw revert data, for anything else

:func:`decode_revert` turns raw revert data into the matching exception; unknown data falls back to
:class:`UnknownRevert` carrying the hex. Messages never contain keys or passwords: no exception
here is ever built from one.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any, ClassVar

from .states import TradeState

__all__ = [
    "AccountError",
    "ConfigError",
    "ContractError",
    "InputError",
    "InsufficientFunds",
    "InvalidAddress",
    "InvalidAmount",
    "MissingExtra",
    "NetworkError",
    "NodeUnreachable",
    "NonceConflict",
    "P2PEscrowError",
    "Panic",
    "PendingTransaction",
    "RevertReason",
    "SignerMismatch",
    "TransactionDropped",
    "TransactionError",
    "TransactionReplaced",
    "TransactionTimeout",
    "UnknownRevert",
    "WrongChain",
    "decode_revert",
    "error_class",
    "exit_code_for",
]


# Exit codes, documented in `p2pescrow --help`; each error class carries its own (``exit_code``).
EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_INPUT = 2  # usage, input, configuration and account errors (nothing was sent)
EXIT_REVERT = 3  # the chain would refuse it: a revert, or not enough funds (nothing was sent)
EXIT_NETWORK = 4  # the node is unreachable, on another chain, or has no/other contracts
# a transaction situation, nothing lost: sent but no receipt in time (or dropped, replaced, or an
# earlier one is pending: the hash is printed), or another transaction took its nonce (nothing sent)
EXIT_TIMEOUT = 5


def exit_code_for(exc: BaseException) -> int:
    """The exit code for ``exc``: its class's, or 1 (unexpected) for anything that is not ours."""
    return exc.exit_code if isinstance(exc, P2PEscrowError) else EXIT_INTERNAL


class P2PEscrowError(Exception):
    """Root of every error the package raises. ``hint`` says what to do, when there is something."""

    hint: str | None = None
    #: The process exit code for this kind of error (the CLI's and the scripts' one mapping):
    #: 1 unexpected, 2 input (nothing sent), 3 refused (nothing sent), 4 network, 5 a transaction
    #: situation (sent but not seen mined, or its nonce taken).
    exit_code: ClassVar[int] = EXIT_INTERNAL

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint


# -- input ---------------------------------------------------------------------------------------
class InputError(P2PEscrowError, ValueError):
    """Something the caller passed is malformed: caught before anything is sent."""

    exit_code = EXIT_INPUT


class InvalidAddress(InputError):
    """Not an address, or an address with a wrong EIP-55 checksum."""

    def __init__(self, value: str, reason: str) -> None:
        self.value = value
        super().__init__(f"invalid address {value!r}: {reason}")


class InvalidAmount(InputError):
    """An amount that cannot be converted exactly into the token's units."""

    def __init__(self, value: object, reason: str) -> None:
        self.value = value
        super().__init__(f"invalid amount {value!r}: {reason}")


class ConfigError(P2PEscrowError):
    """The user's configuration (networks, deployments) is missing or inconsistent."""

    exit_code = EXIT_INPUT


class MissingExtra(ConfigError):
    """A feature needs an optional part of the package that is not installed (an extra of
    ``pip install 'p2pescrow[...]'``): the message names the install command."""

    def __init__(self, feature: str, extra: str, missing: str) -> None:
        self.feature, self.extra, self.missing = feature, extra, missing
        self.command = f"pip install 'p2pescrow[{extra}]'"
        super().__init__(f"{feature} needs the '{extra}' extra (missing: {missing}): {self.command}")


class AccountError(P2PEscrowError):
    """A signer cannot be loaded: missing keystore, wrong password, bad key or mnemonic."""

    exit_code = EXIT_INPUT


# -- network -------------------------------------------------------------------------------------
class NetworkError(P2PEscrowError):
    """The node cannot be used: unreachable, wrong chain, or the contracts are not where expected."""

    exit_code = EXIT_NETWORK


class NodeUnreachable(NetworkError):
    """No answer from the node at ``url``."""

    def __init__(self, url: str, reason: str = "", *, tx_hash: str | None = None) -> None:
        self.url = url
        self.tx_hash = tx_hash  # set when a transaction was already sent: it may still be mined
        message = f"cannot reach the node at {url}" + (f": {reason}" if reason else "")
        if tx_hash:
            message += f" (transaction {tx_hash} was sent and may still be mined)"
        super().__init__(message, hint="check the URL, or start a local node with `p2pescrow node start`"
                         + ("; then look the transaction up by its hash" if tx_hash else ""))


class WrongChain(NetworkError):
    """The node serves another chain than the one expected."""

    def __init__(self, expected: int, actual: int) -> None:
        self.expected, self.actual = expected, actual
        super().__init__(f"expected chain id {expected}, but the node serves chain id {actual}")


# -- transactions --------------------------------------------------------------------------------
class TransactionError(P2PEscrowError):
    """A transaction could not be completed."""


class InsufficientFunds(TransactionError):
    """The sender's balance (or allowance) does not cover what the transaction needs."""

    exit_code = EXIT_REVERT

    def __init__(self, what: str, needed: str, available: str) -> None:
        self.what, self.needed, self.available = what, needed, available
        super().__init__(f"insufficient {what}: needs {needed}, has {available}")


class SignerMismatch(TransactionError):
    """The signed transaction recovers to another address than the sender's: the signer signed with
    another key than the one it claims. Caught before broadcasting: nothing was sent."""

    def __init__(self, sender: str, recovered: str) -> None:
        self.sender, self.recovered = sender, recovered
        super().__init__(f"the transaction for {sender} was signed by {recovered}: not broadcast",
                         hint="check the account (keystore or signer object) used to sign")


class TransactionTimeout(TransactionError):
    """The transaction was sent but no receipt arrived in time. ``tx_hash`` lets you resume."""

    exit_code = EXIT_TIMEOUT

    def __init__(self, tx_hash: str, seconds: float, *, nonce: int | None = None) -> None:
        self.tx_hash, self.nonce = tx_hash, nonce
        super().__init__(f"no receipt for {tx_hash} after {seconds:g} s (the node still has it: pending)",
                         hint="the transaction may still be mined; look it up by its hash "
                              "(`p2pescrow tx pending`)")


class TransactionDropped(TransactionError):
    """The node no longer knows the transaction and its nonce is still unused: it was dropped from
    the pool (or the node restarted without it). Nothing was spent; ``tx_hash`` and ``nonce`` say
    which one. Sending it again (``p2pescrow tx resend``) cannot pay twice: same nonce."""

    exit_code = EXIT_TIMEOUT

    def __init__(self, tx_hash: str, nonce: int | None = None) -> None:
        self.tx_hash, self.nonce = tx_hash, nonce
        at = f" (nonce {nonce})" if nonce is not None else ""
        super().__init__(f"transaction {tx_hash}{at} was dropped: the node no longer knows it and "
                         "its nonce is unused", hint=f"rebroadcast it with `p2pescrow tx resend {tx_hash}`")


class TransactionReplaced(TransactionError):
    """Another transaction of the same account used this transaction's nonce: this one will never
    be mined."""

    exit_code = EXIT_TIMEOUT

    def __init__(self, tx_hash: str, nonce: int | None = None) -> None:
        self.tx_hash, self.nonce = tx_hash, nonce
        at = f" (nonce {nonce})" if nonce is not None else ""
        super().__init__(f"transaction {tx_hash}{at} was replaced: another transaction of the account "
                         "used its nonce", hint="check the account's latest transactions before sending again")


class NonceConflict(TransactionError):
    """Another transaction of the same account took the nonce this one was signed with (another
    program or wallet sending from the account at the same time), so the node refused this one:
    nothing was sent. Sending the call again checks it again and takes the next nonce."""

    exit_code = EXIT_TIMEOUT

    def __init__(self, account: str, nonce: int) -> None:
        self.account, self.nonce = account, nonce
        super().__init__(f"nonce {nonce} of {account} was used by another transaction from this account "
                         "(another program or wallet sending at the same time): this one was not sent",
                         hint="run the command again: it checks the call again and takes the next nonce")


class PendingTransaction(TransactionError):
    """A transaction of this account, journaled by an earlier run, is still unresolved (pending, or
    just rebroadcast): a new one is refused so that nothing is paid twice."""

    exit_code = EXIT_TIMEOUT

    def __init__(self, tx_hash: str, nonce: int | None = None, *, rebroadcast: bool = False) -> None:
        self.tx_hash, self.nonce, self.rebroadcast = tx_hash, nonce, rebroadcast
        what = "was lost by the node and has been rebroadcast" if rebroadcast else "is still pending"
        super().__init__(f"an earlier transaction of this account, {tx_hash} (nonce {nonce}), {what}; "
                         "not sending another one until it is mined",
                         hint="see `p2pescrow tx pending`; wait for it, or `p2pescrow tx replace` it")


class ContractError(TransactionError):
    """A contract call reverted. Subclasses exist for every custom error in the artifacts.

    Attributes: ``data`` (the raw revert data, ``0x``-hex), ``args`` (decoded arguments by name;
    each is also an attribute of the exception).
    """

    exit_code = EXIT_REVERT

    #: The Solidity signature, e.g. ``WrongState(bytes32,uint8)``; empty for the generic classes.
    signature: ClassVar[str] = ""
    selector: ClassVar[str] = ""
    notice: ClassVar[str] = ""
    _arg_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, data: str = "0x", /, **args: Any) -> None:
        self.data = data
        self.args_by_name = args
        for name, value in args.items():
            if name not in ("data", "args", "args_by_name"):
                setattr(self, name, value)
        super().__init__(self._message())

    def explain(self, hint: str | None, message: str | None = None) -> None:
        """Add what this refusal means for the trade at hand (the client computes it from the
        trade): a ``hint``, and a ``message`` that replaces the raw one (amounts in token units)."""
        if hint:
            self.hint = hint
        if message:
            self.args = (message,)

    def _message(self) -> str:
        name = type(self).__name__
        internal = dict(zip(self._arg_names, getattr(self, "_arg_internal_types", ()), strict=False))
        shown = ", ".join(f"{k}={_show(v, k, internal.get(k, ''))}" for k, v in self.args_by_name.items())
        text = f"{name}({shown})" if shown else name
        return f"{text}: {self.notice}" if self.notice else text


class UnknownRevert(ContractError):
    """Revert data that matches no known error; ``data`` has it raw."""

    def _message(self) -> str:
        return f"the call reverted with unrecognised data {self.data}" if self.data != "0x" \
            else "the call reverted without a reason"


class RevertReason(ContractError):
    """A plain ``require(..., "reason")`` / ``revert("reason")``: ``Error(string)``."""

    signature = "Error(string)"
    selector = "0x08c379a0"

    def _message(self) -> str:
        return f"the call reverted: {self.args_by_name.get('message', '')}"


class Panic(ContractError):
    """A Solidity panic (``Panic(uint256)``): an assertion, overflow or division by zero."""

    signature = "Panic(uint256)"
    selector = "0x4e487b71"

    def _message(self) -> str:
        return f"the contract panicked with code {self.args_by_name.get('code')}"


#: Arguments that are unix times in the escrow's errors (deadlines, offer expiry): shown with a date.
_TIME_ARGUMENTS = frozenset({"deadline", "expiry"})
_STATE_ENUM = "enum IP2PEscrow.State"


def _show(value: Any, name: str = "", internal_type: str = "") -> str:
    """An argument as a reader wants it: hex for bytes, and the number kept but explained for a
    trade state (``4 (COMPLETED)``) and a unix time (``1767225600 (2026-01-01 00:00:00 UTC)``)."""
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, int) and internal_type == _STATE_ENUM:
        try:
            return f"{value} ({TradeState(value).name})"
        except ValueError:
            return str(value)
    if isinstance(value, int) and name in _TIME_ARGUMENTS and 0 < value < 2**40:
        from datetime import UTC, datetime

        return f"{value} ({datetime.fromtimestamp(value, UTC):%Y-%m-%d %H:%M:%S} UTC)"
    return str(value)


# -- the generated classes -----------------------------------------------------------------------
#: What to do about each escrow and reputation error (the NatSpec notice says what is wrong); the
#: clients replace it with a hint about the trade at hand when they know more (``explain``).
HINTS: dict[str, str] = {
    "AlreadyAccepted": "nothing to do: the seller is already in this trade",
    "AlreadyMarked": "nothing to do: the delivery mark is already recorded",
    "AlreadyRated": "nothing to do: each party rates a trade once",
    "AmountTooLarge": "use a smaller amount: a trade holds at most 2^128 - 1 base units, and ETH's reputation "
                      "minimum is at most 2^64 - 1 wei",
    "ArbiterIsParty": "name an arbiter who is neither the buyer nor the seller",
    "BpsTooHigh": "give a value at or below the maximum in the message",
    "DeadlineNotReached": "wait until the deadline shown, then try again",
    "DeadlinePassed": "too late for this: see the trade's next actions (`p2pescrow trade show`)",
    "EnforcedPause": "the escrow is paused: no new money goes in; ending trades and withdrawals still work",
    "ExpectedPause": "nothing to do: the escrow is not paused",
    "FeeWithoutArbiter": "name an arbiter, or set the arbiter fee to 0",
    "InsufficientBond": "the seller must add to its bond in this asset (deposit_bond) or agree a smaller deposit",
    "InvalidFlags": "build the terms with the SDK, which sets the creator flag from who sends the call",
    "InvalidPart": "give an amount above 0 and at most what the trade holds",
    "InvalidReceiver": "send to another address: not the zero address, not the escrow",
    "InvalidScore": "give a score from 1 to 5",
    "InvalidSignature": "ask the seller for an offer signed for this chain and this escrow",
    "InvalidWindow": "give a window of at least 1 second and at most a year",
    "NoArbiter": "a trade without an arbiter cannot be disputed: settle, or let the timeout decide",
    "NonceUsed": "this offer was filled or revoked: ask the seller for a new one",
    "NotEnded": "wait until the trade ends (completed, refunded, settled or resolved); a cancelled trade never ends so",
    "NotOfferBuyer": "only the buyer the offer names can fill it: ask the seller for an offer to you",
    "NotRecorded": "nothing to do: this trade cannot be rated",
    "NothingArrived": "the token delivered nothing to the escrow: check the token and your balance",
    "NothingToWithdraw": "nothing to do: there is nothing here to withdraw",
    "OfferExpired": "ask the seller for a new offer",
    "OwnableUnauthorizedAccount": "only the escrow's owner may do this: use the owner's account",
    "PlatformFeeMismatch": "the platform fee changed: build the terms again (the SDK reads the fee in force)",
    "SameParty": "buyer and seller must be two different addresses",
    "SettlementMismatch": "accept exactly the share the counterparty proposed (see `p2pescrow trade show`)",
    "TradeExists": "these exact terms were already used: create the trade with another salt",
    "Unauthorized": "use the account of the party that may do this",
    "UnknownTrade": "check the trade id and the network",
    "UriTooLong": "shorten the evidence URI to at most 512 bytes (the content hash pins the content)",
    "WithdrawFailed": "withdraw to an address that accepts ETH",
    "WrongAsset": "sweep one asset at a time: pass only trades in the token being swept",
    "WrongState": "see what the trade allows now: `p2pescrow trade show`",
    "WrongValue": "send exactly the price plus the buyer's deposit (the SDK computes it)",
    "ZeroAmount": "give an amount above 0",
    "ZeroFeeRecipient": "name a fee recipient other than the zero address",
    "ZeroParty": "name both the buyer and the seller",
    "NotEscrow": "only the escrow writes reputation: act through the escrow",
}


def _abi_type(entry: dict[str, Any]) -> str:
    if entry["type"].startswith("tuple"):
        return "(" + ",".join(_abi_type(c) for c in entry["components"]) + ")" + entry["type"][5:]
    return str(entry["type"])


@cache
def _notices() -> dict[str, str]:
    """NatSpec notices of errors, by signature, from the shipped artifacts' userdoc/devdoc."""
    notices: dict[str, str] = {}
    folder = resources.files("p2pescrow") / "artifacts"
    for item in folder.iterdir():
        if not item.name.endswith(".json") or item.name == "errors.json":
            continue
        artifact = json.loads(item.read_text())
        for doc_key, field in (("devdoc", "details"), ("userdoc", "notice")):
            for signature, docs in artifact.get(doc_key, {}).get("errors", {}).items():
                text = docs[0].get(field) if docs else None
                if text:
                    notices[signature] = text[0].lower() + text[1:].rstrip(".")
    return notices


@cache
def _registry() -> dict[str, type[ContractError]]:
    """Selector (``0x``-hex) -> exception class, one per error in ``artifacts/errors.json``."""
    raw = json.loads((resources.files("p2pescrow") / "artifacts" / "errors.json").read_text())
    registry: dict[str, type[ContractError]] = {
        RevertReason.selector: RevertReason, Panic.selector: Panic,
    }
    for entry in raw["errors"]:
        name = entry["name"]
        namespace = {
            "signature": entry["signature"],
            "selector": entry["selector"],
            "notice": _notices().get(entry["signature"], ""),
            "hint": HINTS.get(name),
            "_arg_names": tuple(i["name"] for i in entry["abi"]["inputs"]),
            "_arg_types": tuple(_abi_type(i) for i in entry["abi"]["inputs"]),
            "_arg_internal_types": tuple(i.get("internalType", "") for i in entry["abi"]["inputs"]),
            "__doc__": f"Solidity error ``{entry['signature']}`` ({', '.join(entry['definedIn'])}).",
            "__module__": __name__,
        }
        registry[entry["selector"]] = type(name, (ContractError,), namespace)
    return registry


def error_class(name: str) -> type[ContractError]:
    """The exception class of the Solidity error called ``name`` (e.g. ``"WrongState"``)."""
    for cls in _registry().values():
        if cls.__name__ == name:
            return cls
    raise KeyError(name)


def decode_revert(data: bytes | str) -> ContractError:
    """The exception for raw revert data: its error class with decoded arguments, else
    :class:`UnknownRevert`."""
    from eth_abi import decode  # deferred: keeps `import p2pescrow.errors` light

    raw = bytes.fromhex(data[2:] if data.startswith("0x") else data) if isinstance(data, str) else data
    hex_data = "0x" + raw.hex()
    cls = _registry().get("0x" + raw[:4].hex()) if len(raw) >= 4 else None
    if cls is None:
        return UnknownRevert(hex_data)
    if cls is RevertReason:
        types, names = ("string",), ("message",)
    elif cls is Panic:
        types, names = ("uint256",), ("code",)
    else:
        types, names = cls._arg_types, cls._arg_names
    try:
        values = decode(list(types), raw[4:])
    except Exception:  # noqa: BLE001 - malformed payload for a known selector
        return UnknownRevert(hex_data)
    from eth_utils import to_checksum_address

    shown = [_plain(t, v, to_checksum_address) for t, v in zip(types, values, strict=False)]
    return cls(hex_data, **dict(zip(names, shown, strict=False)))


def _plain(abi_type: str, value: Any, to_checksum_address: Any) -> Any:
    """A decoded argument as the SDK hands values out: addresses checksummed, ``bytes32`` as
    lower-case ``0x…`` hex (a trade id's form: ``exc.id == trade.trade_id``)."""
    if abi_type == "address":
        return to_checksum_address(value)
    if abi_type == "bytes32":
        return "0x" + bytes(value).hex()
    return value


def __getattr__(name: str) -> type[ContractError]:
    """``errors.WrongState`` and friends: the generated classes, looked up by name."""
    try:
        return error_class(name)
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
