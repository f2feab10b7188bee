"""The transaction path, written once: every decision of build -> check -> price -> sign -> send ->
wait -> decode, with no I/O.

Each step is a generator that *yields* what it needs from the outside world and gets the answer
back (or the exception, thrown in at the ``yield``):

- :class:`Rpc` - one JSON-RPC request, through ``w3.eth`` (a method, or a property such as
  ``chain_id``); its failure comes back translated to the package's errors unless ``raw``;
- :class:`Sleep` - let time pass (a receipt poll, a retry's back-off);
- :class:`Locked` - run other steps holding the account's nonce lock and journal lock.

:class:`~.sync.Transactor` (over ``Web3``) and :class:`~.aio.AsyncTransactor` (over ``AsyncWeb3``)
only run these steps: a loop that performs what is yielded, blocking or awaited. So both paths ask
the same requests in the same order, settle every answer the same way and raise the same errors
(the "sans-I/O" pattern of h11 and httpcore).

Requests per transaction once warm (sequential, one confirmation): ``eth_estimateGas`` (the gas,
and the typed-revert check before signing: a revert in the estimate carries the same data as in
``eth_call`` on Anvil, Ganache and py-evm), ``eth_getBlockByNumber`` (base fee and gas limit),
``eth_sendRawTransaction`` and ``eth_getTransactionReceipt``. The tip is cached for
:data:`TIP_SECONDS`, the nonce comes from the nonce manager, the chain id and genesis hash are
asked once per transactor, and the balance only when the node says the sender cannot pay (to say
so with the numbers) or before a front end's ``before_send`` confirmation (not to ask for a
transaction the node would refuse).
"""

from __future__ import annotations

import itertools
import time
import weakref
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount

from ..bindings import Event, decode_events
from ..errors import (
    InputError,
    InsufficientFunds,
    NodeUnreachable,
    NonceConflict,
    P2PEscrowError,
    PendingTransaction,
    TransactionDropped,
    TransactionError,
    TransactionReplaced,
    TransactionTimeout,
)
from ..models import ETH_TOKEN
from . import guards
from .journal import JOURNAL, Entry, Journal, entry_for
from .nonces import NONCES, NonceManager
from .reverts import NONCE_TAKEN, is_connection_failure, refusal_error, send_refusal, translate

#: How often a failed eth_sendRawTransaction is retried (a connection failure, not a refusal). Each
#: retry first looks the signed transaction's hash up: it is never sent twice if the node has it.
SEND_RETRIES = 3
#: How often a call whose nonce another transaction of the account took first (NonceConflict: nothing
#: was sent) is checked again and broadcast with the next nonce, before the conflict is raised.
NONCE_CONFLICT_RETRIES = 1

#: Multiplier on the node's gas estimate: estimates can fall short when state moves in between.
GAS_MARGIN = 1.2
#: The priority fee (tip) when the node has no eth_maxPriorityFeePerGas answer.
DEFAULT_TIP = 10**9
#: How long the node's suggested tip is reused before it is asked again (about one mainnet slot).
#: The base fee, which moves every block, is read from the latest block on every transaction.
TIP_SECONDS = 12.0
DEFAULT_TIMEOUT = 120.0
#: Replacement fees: at least this much more than the original (nodes want >= 10 %, often 12.5 %).
BUMP_NUM, BUMP_DEN = 9, 8

Signer = LocalAccount | str  # a local account, or the address of a node-managed (unlocked) account


def signer_address(signer: Signer) -> str:
    return signer if isinstance(signer, str) else signer.address


@dataclass(frozen=True)
class Call:
    """A contract call to send: target, calldata, value, and the contracts whose events to decode."""

    to: str | None  # None deploys a contract
    data: str
    value: int = 0
    description: str = ""
    decoders: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Preview:
    """What a call will cost, known before sending: estimated gas and fees."""

    gas: int
    max_fee_per_gas: int
    max_priority_fee_per_gas: int | None  # None on chains without EIP-1559 (legacy gas price)
    value: int

    @property
    def max_cost(self) -> int:
        """The most the sender can pay: value + gas limit x max fee."""
        return self.value + self.gas * self.max_fee_per_gas


@dataclass(frozen=True)
class TxResult:
    """A mined transaction: hash, gas, effective price and decoded events."""

    tx_hash: str
    block_number: int
    gas_used: int
    effective_gas_price: int
    events: tuple[Event, ...] = field(default_factory=tuple)
    contract_address: str | None = None

    @property
    def fee(self) -> int:
        return self.gas_used * self.effective_gas_price

    def event(self, name: str) -> Event:
        for event in self.events:
            if event.name == name:
                return event
        raise KeyError(f"no {name} event in {self.tx_hash}")


@dataclass(frozen=True)
class NodeId:
    """Who a node is: its chain id and genesis block hash. Two Anvils both serve chain 31337; their
    genesis blocks differ (their timestamps do), so their journals and nonces are kept apart."""

    chain_id: int
    genesis: str


# -- what a step asks of the outside world ------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Rpc:
    """One request: ``w3.eth.<method>(*args)``, or the property ``w3.eth.<method>`` when ``prop``.
    A failure is thrown back translated (:func:`~.reverts.translate`), or as raised when ``raw``."""

    method: str
    args: tuple[Any, ...] = ()
    prop: bool = False
    raw: bool = False


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float


@dataclass(frozen=True, slots=True)
class Locked:
    """Run ``steps`` holding the nonce lock and the journal lock of this transactor's account."""

    steps: Generator[Any, Any, Any]


Steps = Generator[Any, Any, Any]


# -- I/O-free checks and arithmetic ---------------------------------------------------------------------
def check_value(balance: int, value: int) -> None:
    """Raise :class:`InsufficientFunds` (in ETH) unless ``balance`` covers the ``value`` sent."""
    if balance < value:
        raise InsufficientFunds("ETH balance", f"{ETH_TOKEN.human(value)} ETH", f"{ETH_TOKEN.human(balance)} ETH")


def check_max_cost(balance: int, preview: Preview) -> None:
    """Raise :class:`InsufficientFunds` unless ``balance`` covers value + gas limit x max fee: what
    the node asks the sender to hold before it takes the transaction."""
    if balance < preview.max_cost:
        raise InsufficientFunds("ETH balance", f"{preview.max_cost} wei (value + max gas cost)",
                                f"{balance} wei")


def priced(call: Call, estimate: int, block: Any, fee: int) -> Preview:
    """The preview from the node's answers: the gas estimate with :data:`GAS_MARGIN`, at most the
    latest block's gas limit; ``fee`` is the tip when the block has a base fee (max fee = twice the
    base fee + tip: room for the base fee to rise while the transaction waits), else the gas price."""
    gas = min(int(estimate * GAS_MARGIN), int(block["gasLimit"]))
    base_fee = block.get("baseFeePerGas")
    if base_fee is None:
        return Preview(gas, fee, None, call.value)
    return Preview(gas, 2 * int(base_fee) + fee, fee, call.value)


def fee_fields(preview: Preview) -> dict[str, int]:
    """A transaction's fee fields for ``preview``: the legacy gas price, or the EIP-1559 pair."""
    if preview.max_priority_fee_per_gas is None:
        return {"gasPrice": preview.max_fee_per_gas}
    return {"maxFeePerGas": preview.max_fee_per_gas, "maxPriorityFeePerGas": preview.max_priority_fee_per_gas}


def bump(old: int) -> int:
    """``old`` raised by 12.5 %, rounded up: what a node takes as a replacement's fee."""
    return -(-old * BUMP_NUM // BUMP_DEN)


def replacement_preview(entry: Entry, block: Any, gas_price: int | None) -> Preview:
    """The fees of a replacement for ``entry``: its own raised by 12.5 %, and at least what the
    latest ``block`` (or the node's ``gas_price`` on a legacy chain) asks of a new transaction."""
    if entry.gas_price is not None:
        return Preview(entry.gas, max(bump(entry.gas_price), int(gas_price or 0)), None, entry.value)
    tip = bump(int(entry.max_priority_fee_per_gas or 0))
    fee = max(bump(int(entry.max_fee_per_gas or 0)), 2 * int(block.get("baseFeePerGas") or 0) + tip)
    return Preview(entry.gas, fee, tip, entry.value)


def deep_enough(receipt: Any, head: int, confirmations: int) -> bool:
    """Whether the receipt's block is ``confirmations`` deep with ``head`` the latest block."""
    return head - int(receipt["blockNumber"]) + 1 >= confirmations


def _conflict_notice(exc: NonceConflict) -> str:
    """The line for the user when a nonce taken by another transaction is retried."""
    return (f"nonce {exc.nonce} of {exc.account} was taken by another transaction from this account "
            "(nothing was sent): checking the call again and sending it with the next nonce")


def _hex(value: Any) -> str:
    return value if isinstance(value, str) else "0x" + bytes(value).hex()


def _not_found(exc: BaseException, what: str) -> bool:
    return type(exc).__name__ == what


# -- the transactor, without I/O ---------------------------------------------------------------------------
class BaseTransactor:
    """What both transactors decide. Subclasses run the steps (``_run``) and nothing else."""

    def __init__(self, w3: Any, signer: Signer | None, *, url: str = "", chain_id: int | None = None,
                 timeout: float = DEFAULT_TIMEOUT, confirmations: int = 1, poll_interval: float = 0.05,
                 nonces: NonceManager = NONCES, journal: Journal | None = JOURNAL) -> None:
        self.w3 = w3
        self.signer = signer
        self.address = "" if signer is None else _checksum(signer_address(signer))
        self.url = url
        self.timeout = timeout
        self.confirmations = confirmations
        self.poll_interval = poll_interval
        self.nonces = nonces
        self._chain_id = chain_id
        #: The node's genesis block hash, read with its chain id before the first broadcast.
        self.genesis: str | None = None
        #: Signed transactions are journaled before broadcast (not for the in-process chain).
        self.journal = journal if url != "embedded" else None
        #: Called with a line for the user when the journal resolves an earlier run's transaction.
        self.on_notice: Callable[[str], None] | None = None
        self._nonce_of: dict[str, int] = {}  # hash -> nonce, of what this transactor sent
        self._journaled: dict[str, Entry] = {}  # hash -> its journal entry, until its receipt is seen
        self._node_checked = False
        self._tip: tuple[int, float] | None = None  # the node's suggested tip, and when it was asked

    # -- identity ----------------------------------------------------------------------------------
    @property
    def node(self) -> NodeId:
        """The node's identity (known once :meth:`_node_steps` ran)."""
        if self._chain_id is None or self.genesis is None:
            raise P2PEscrowError("the node's identity is read before the first broadcast")
        return NodeId(int(self._chain_id), self.genesis)

    @property
    def _nonce_key(self) -> tuple[int, str, str, str]:
        """The nonce manager's key: the node's identity, the endpoint and the account. The endpoint
        is there because identity is not enough for dev chains: two Anvils started in the same
        second with the same settings have the same genesis block, and a test suite starts them
        that fast; a nonce counted on one must never be taken to the other."""
        return (int(self._chain_id or 0), self.genesis or "", _endpoint(self.w3, self.url), self.address)

    def _node_steps(self) -> Steps:
        """eth_chainId (the node must serve the chain the transactions are signed for) and the
        genesis block (the node's identity, for the journal and the nonces): once per transactor."""
        if self._node_checked:
            return
        answered = yield Rpc("chain_id", prop=True)
        if self._chain_id is None:
            self._chain_id = int(answered, 16) if isinstance(answered, str) else int(answered)
        guards.check_node_chain(self._chain_id, answered)
        if self.genesis is None:
            genesis = yield Rpc("get_block", (0,))
            self.genesis = _hex(genesis["hash"]).lower()
        self._node_checked = True

    # -- building ----------------------------------------------------------------------------------
    def _base_tx(self, call: Call) -> dict[str, Any]:
        tx: dict[str, Any] = {"from": self.address, "data": call.data, "value": call.value}
        if call.to is not None:
            tx["to"] = call.to
        return tx

    def _tx_for(self, call: Call, preview: Preview) -> dict[str, Any]:
        """The transaction to sign (the nonce apart)."""
        return {**self._base_tx(call), "gas": preview.gas, "chainId": int(self._chain_id or 0), **fee_fields(preview)}

    def _local_signer(self) -> LocalAccount:
        if self.signer is None or isinstance(self.signer, str):
            raise InputError("this needs a local account (key or keystore) that signs the transaction")
        return self.signer

    # -- checking and pricing ----------------------------------------------------------------------
    def _simulate_steps(self, call: Call) -> Steps:
        """eth_call: a revert raises its typed error, and nothing is spent."""
        return bytes((yield Rpc("call", (self._base_tx(call), "latest"))))

    def _check_steps(self, call: Call, block: str | None = None) -> Steps:
        """eth_estimateGas: the gas the call needs, and the check before signing. A revert raises
        its typed error (the estimate carries the same revert data as eth_call); a value the
        sender cannot pay raises :class:`InsufficientFunds` in ETH (the balance is read then, and
        only then, to say so with the numbers). ``block`` is the block tag (web3's default,
        ``latest``, unless given)."""
        args = (self._base_tx(call),) if block is None else (self._base_tx(call), block)
        try:
            return int((yield Rpc("estimate_gas", args)))
        except InsufficientFunds:
            balance = yield Rpc("get_balance", (self.address,))
            check_value(int(balance), call.value)
            raise

    def _fee_steps(self, block: Any) -> Steps:
        """The tip if ``block`` has a base fee (EIP-1559; asked at most every :data:`TIP_SECONDS`),
        else the legacy gas price (asked every time). eth_feeHistory cannot stand in for the block
        and the tip: it has no gas limit, and its rewards are what recent transactions paid, not the
        node's suggestion."""
        if block.get("baseFeePerGas") is None:
            return int((yield Rpc("gas_price", prop=True)))
        now = time.monotonic()
        if self._tip is not None and now - self._tip[1] < TIP_SECONDS:
            return self._tip[0]
        try:
            tip = int((yield Rpc("max_priority_fee", prop=True, raw=True)))
        except Exception:  # noqa: BLE001 - nodes without eth_maxPriorityFeePerGas (nor eth_feeHistory)
            tip = DEFAULT_TIP
        self._tip = (tip, now)
        return tip

    def _preview_steps(self, call: Call) -> Steps:
        estimate = yield from self._check_steps(call)
        block = yield Rpc("get_block", ("latest",))
        fee = yield from self._fee_steps(block)
        return priced(call, estimate, block, fee)

    # -- sending -----------------------------------------------------------------------------------
    def _send_steps(self, call: Call, preview: Preview | None, before_send: Any, on_sent: Any) -> Steps:
        if preview is None:
            preview = yield from self._preview_steps(call)
        yield from self._ask_steps(call, preview, before_send)
        yield from self._node_steps()
        tx = self._tx_for(call, preview)
        tx_hash = yield from self._broadcast_call_steps(call, tx, preview)
        if on_sent is not None:
            on_sent(tx_hash)
        return (yield from self._wait_steps(tx_hash, call.decoders, None))

    def _ask_steps(self, call: Call, preview: Preview, before_send: Any) -> Steps:
        """Run ``before_send(call, preview)`` if given. Such a hook is an interactive front end asking
        before sending (the CLI's confirmation): whether the sender can pay value + max gas cost is
        checked first (one eth_getBalance, only then), so that a trader is told "insufficient ETH"
        instead of being asked, and then refused. Without a hook the node's refusal says it."""
        if before_send is None:
            return
        if self.address:
            yield from self._can_pay_steps(call, preview)
        before_send(call, preview)

    def _can_pay_steps(self, call: Call, preview: Preview) -> Steps:
        """One eth_getBalance: :class:`InsufficientFunds` unless it covers the value (said in ETH)
        and then value + max gas cost."""
        balance = int((yield Rpc("get_balance", (self.address,))))
        check_value(balance, call.value)
        check_max_cost(balance, preview)

    def _broadcast_call_steps(self, call: Call, tx: dict[str, Any], preview: Preview) -> Steps:
        """Broadcast ``tx``. When another transaction of the account took its nonce first (another
        program or wallet: nothing was sent, the journal entry is gone and the nonce released), the
        call is checked again, so that one the other transaction made invalid raises its typed
        error instead of being sent, and broadcast with the next nonce (NONCE_CONFLICT_RETRIES
        times). The check runs on the ``pending`` block: the other transaction may still wait in
        the node's pool (ours refused as "replacement transaction underpriced"; an automining
        Anvil answers a send before it mines), and the latest block, without it, would pass a call
        that reverts once mined after it. A refusal for lack of ETH is told with the balance."""
        retries = NONCE_CONFLICT_RETRIES
        while True:
            try:
                return (yield from self._broadcast_steps(tx, call.description))
            except NonceConflict as exc:
                if retries <= 0:
                    raise
                retries -= 1
                self._notice(_conflict_notice(exc))
            except InsufficientFunds:
                yield from self._can_pay_steps(call, preview)
                raise
            yield from self._check_steps(call, "pending")

    def _broadcast_steps(self, tx: dict[str, Any], description: str = "") -> Steps:
        yield from self._node_steps()
        if isinstance(self.signer, str):  # node-managed: the node assigns the nonce
            return _hex((yield Rpc("send_transaction", (tx,))))
        self._local_signer()
        return (yield Locked(self._locked_broadcast_steps(tx, description)))

    def _locked_broadcast_steps(self, tx: dict[str, Any], description: str) -> Steps:
        """With the account's locks held: settle an earlier run's leftovers, take a nonce, sign,
        check the signature, journal, send."""
        yield from self._resolve_steps()  # an earlier run's transaction still unresolved: never pay twice
        key = self._nonce_key
        nonce = self.nonces.cached(key)
        if nonce is not None and self._sent_elsewhere(nonce):
            self.nonces.release(key)  # another process sent from the account since: our hint is stale
            nonce = None
        if nonce is None:
            pending = yield Rpc("get_transaction_count", (self.address, "pending"))
            nonce = self.nonces.choose(key, int(pending))
        full = {**tx, "nonce": nonce}
        signed = self._local_signer().sign_transaction(full)
        try:
            guards.check_signed(signed.raw_transaction, self.address)  # signed by the sender, or not sent
            sent = yield from self._send_signed_steps(signed, full, description)
        except Exception as exc:
            self.nonces.release(key)
            if isinstance(exc, P2PEscrowError) and not isinstance(exc, (NodeUnreachable, NonceConflict)):
                self._tip = None  # refused (too cheap?): ask the node's tip again next time
            raise
        self.nonces.commit(key, nonce)
        if self.journal is not None:
            self.journal.note_nonce(int(self._chain_id or 0), self.address, self.genesis or "", nonce)
        return _hex(sent)

    def _sent_elsewhere(self, hint: int) -> bool:
        """Whether another process has sent from this account at or past our local nonce ``hint`` (the
        journal's record, read under the account's lock). Without this check, a process whose hint is
        stale signs a nonce another just used; a byte-identical transaction (same call, same fees) then
        comes back "already known" and would be taken for our own: one payment silently merged into
        the other's."""
        if self.journal is None:
            return False
        used = self.journal.last_nonce(int(self._chain_id or 0), self.address, self.genesis or "")
        return used is not None and used >= hint

    # -- the journal, and sending that never sends twice --------------------------------------------
    def _send_signed_steps(self, signed: Any, tx: dict[str, Any], description: str = "",
                           nonce_is_next: bool = True) -> Steps:
        """Journal ``signed``, then broadcast it. A failed send is resolved by looking the signed
        hash up (a retried send answered "already known" or "nonce too low" included): never by
        sending a second, different transaction. Returns the hash. A refusal (NonceConflict
        included) removes the entry: nothing was broadcast."""
        tx_hash = _hex(signed.hash)
        entry = None
        if self.journal is not None:
            entry = self.journal.record(entry_for(int(self._chain_id or 0), self.address, tx, signed, description,
                                                  genesis=self.genesis or ""))
            self._journaled[tx_hash] = entry
        self._nonce_of[tx_hash] = int(tx["nonce"])
        try:
            return (yield from self._send_raw_steps(signed.raw_transaction, tx_hash,
                                                    int(tx["nonce"]) if nonce_is_next else None))
        except NodeUnreachable:
            if entry is not None and self.journal is not None:
                self.journal.release(tx_hash)  # kept: it may have been sent
            raise
        except Exception:
            if entry is not None and self.journal is not None:
                self._journaled.pop(tx_hash, None)
                self.journal.finish(entry)  # refused: nothing was broadcast
            raise

    def _send_raw_steps(self, raw: bytes, tx_hash: str, nonce: int | None = None) -> Steps:
        """eth_sendRawTransaction, retried while the node does not answer. A refusal that may be
        about this very transaction (already known, nonce taken: :func:`~.reverts.send_refusal`) is
        settled by looking ``tx_hash`` up. ``nonce`` is given when it was the account's next nonce:
        taken by another transaction, it raises :class:`NonceConflict` (nothing was sent)."""
        failure: P2PEscrowError | None = None
        for attempt in range(SEND_RETRIES + 1):
            if attempt:
                known = yield from self._known_steps(tx_hash)
                if known:
                    return tx_hash
                if known is None or isinstance(failure, NodeUnreachable):
                    yield Sleep(min(0.1 * 2 ** attempt, 1.0))  # the node did not answer: try again
                elif failure is not None:
                    raise refusal_error(failure, self.address, nonce)  # refused, and ours is not there
            try:
                return _hex((yield Rpc("send_raw_transaction", (raw,))))
            except NodeUnreachable as exc:
                failure = exc
            except P2PEscrowError as exc:
                refusal = send_refusal(exc)
                if refusal is None:
                    raise  # refused for itself (too cheap, no funds, invalid): nothing was sent
                failure = exc
                known = yield from self._known_steps(tx_hash)
                if known:
                    return tx_hash
                if known is False and refusal == NONCE_TAKEN:
                    raise refusal_error(exc, self.address, nonce) from None
        if isinstance(failure, NodeUnreachable):
            raise NodeUnreachable(self.url, "no answer to eth_sendRawTransaction", tx_hash=tx_hash) from None
        assert failure is not None
        raise failure

    def _known_steps(self, tx_hash: str) -> Steps:
        """Whether the node has ``tx_hash`` (pending or mined); None if it does not answer."""
        try:
            found = yield Rpc("get_transaction", (tx_hash,), raw=True)
        except Exception as exc:  # noqa: BLE001
            if _not_found(exc, "TransactionNotFound"):
                return False
            return None if is_connection_failure(exc) else False
        return found is not None

    def _notice(self, text: str) -> None:
        import logging

        logging.getLogger("p2pescrow").warning(text)
        if self.on_notice is not None:
            self.on_notice(text)

    def _journal_entries(self, account: str | None = None) -> list[Entry]:
        """Journaled transactions of this node (and those written under its chain id alone)."""
        if self.journal is None:
            return []
        return self.journal.entries(self.node.chain_id, account, genesis=self.node.genesis)

    def _journal_find(self, tx_hash: str) -> Entry | None:
        """The journal entry of ``tx_hash`` on this node (or under its chain id alone), if any."""
        if self.journal is None:
            return None
        return self.journal.find(tx_hash, self.node.chain_id, self.node.genesis)

    def _status_steps(self, entry: Entry) -> Steps:
        """``mined``, ``pending``, ``replaced`` (its nonce was used by another one) or ``dropped``
        (the node lost it; the nonce is free)."""
        if (yield from self._receipt_steps(entry.tx_hash)) is not None:
            return "mined"
        known = yield from self._known_steps(entry.tx_hash)
        if known is None:
            raise NodeUnreachable(self.url, "while looking up a journaled transaction", tx_hash=entry.tx_hash)
        if known:
            return "pending"
        mined = int((yield Rpc("get_transaction_count", (entry.account, "latest"))))
        return "replaced" if mined > entry.nonce else "dropped"

    def _resend_steps(self, entry: Entry) -> Steps:
        yield from self._send_raw_steps(bytes.fromhex(entry.raw[2:]), entry.tx_hash)
        return entry.tx_hash

    def _resolve_steps(self) -> Steps:
        """Settle what an earlier run left in the journal for this (node, account) before a new
        send: mined or replaced entries are closed (replaced ones reported); one still pending, or
        lost by the node and rebroadcast here, stops the new send with :class:`PendingTransaction`.
        A lost one the chain cannot take any more (an earlier nonce is missing: a reset dev chain)
        is reported and closed."""
        if self.journal is None:
            return
        entries = self.journal.entries(int(self._chain_id or 0), self.address, genesis=self.genesis or "",
                                       leftovers_only=True)
        for entry in entries:
            state = yield from self._status_steps(entry)
            if state == "mined":
                self.journal.finish(entry)
            elif state == "replaced":
                self.journal.finish(entry)
                self._notice(f"journaled transaction {entry.tx_hash} (nonce {entry.nonce}) was replaced: "
                             "another transaction used its nonce")
            elif state == "pending":
                raise PendingTransaction(entry.tx_hash, entry.nonce)
            else:  # dropped
                pending = int((yield Rpc("get_transaction_count", (self.address, "pending"))))
                if entry.nonce > pending:
                    self.journal.finish(entry)
                    self._notice(f"journaled transaction {entry.tx_hash} (nonce {entry.nonce}) is unknown to "
                                 f"the node, which is at nonce {pending}: abandoned")
                    continue
                try:
                    yield from self._resend_steps(entry)
                except NodeUnreachable:
                    raise
                except P2PEscrowError as exc:
                    self.journal.finish(entry)
                    self._notice(f"journaled transaction {entry.tx_hash} could not be rebroadcast ({exc}): "
                                 "abandoned")
                    continue
                self._notice(f"journaled transaction {entry.tx_hash} (nonce {entry.nonce}) was lost by the "
                             "node: rebroadcast (same hash and nonce)")
                raise PendingTransaction(entry.tx_hash, entry.nonce, rebroadcast=True)

    # -- replacing a stuck transaction -----------------------------------------------------------------
    def _replace_steps(self, entry: Entry, before_send: Any, on_sent: Any) -> Steps:
        """Sign ``entry``'s call again with its nonce and fees raised by at least 12.5 %, journal
        and send it (holding the account's locks), wait for it, and close ``entry``."""
        signer = self._local_signer()
        if signer.address.lower() != entry.account.lower():
            raise InputError(f"transaction {entry.tx_hash} was sent by {entry.account}, not by {signer.address}",
                             hint="pass --account with the sender's keystore")
        yield from self._node_steps()
        status = yield from self._status_steps(entry)
        if status in ("mined", "replaced"):
            if self.journal is not None:
                self.journal.finish(entry)
            raise InputError(f"transaction {entry.tx_hash} was already {status}: nothing to replace")
        block = yield Rpc("get_block", ("latest",))
        gas_price = int((yield Rpc("gas_price", prop=True))) if entry.gas_price is not None else None
        preview = replacement_preview(entry, block, gas_price)
        call = Call(entry.to, entry.data, entry.value, f"replacement of {entry.tx_hash} (nonce {entry.nonce})")
        yield from self._ask_steps(call, preview, before_send)
        tx = {k: v for k, v in entry.fields().items() if k not in ("from", "gasPrice", "maxFeePerGas",
                                                                      "maxPriorityFeePerGas")}
        tx.update(fee_fields(preview))
        tx_hash = yield Locked(self._locked_replace_steps(tx, entry.description))
        if on_sent is not None:
            on_sent(tx_hash)
        result = yield from self._wait_steps(tx_hash, (), entry.nonce)
        if self.journal is not None:
            self.journal.finish(entry)
        return result

    def _locked_replace_steps(self, tx: dict[str, Any], description: str) -> Steps:
        signed = self._local_signer().sign_transaction(tx)
        guards.check_signed(signed.raw_transaction, self.address)
        self.nonces.release(self._nonce_key)  # the nonce was used twice: ask the node next time
        sent = yield from self._send_signed_steps(signed, tx, description, nonce_is_next=False)
        return _hex(sent)

    # -- waiting -------------------------------------------------------------------------------------
    def _wait_steps(self, tx_hash: str, decoders: tuple[Any, ...], nonce: int | None) -> Steps:
        """Wait for the receipt (and confirmations) up to the timeout; decode the events.

        When the time is up: :class:`TransactionTimeout` if the node still has the transaction,
        :class:`TransactionReplaced` if another one used its nonce, else :class:`TransactionDropped`
        (all carry the hash). A receipt that disappears (a reorg) is waited for again. A transaction
        not seen mined makes the nonce manager ask the node at the next send."""
        try:
            return (yield from self._wait_inner(tx_hash, decoders, nonce))
        except (TransactionTimeout, TransactionReplaced, TransactionDropped):
            if self.signer is not None and not isinstance(self.signer, str):
                self.nonces.release(self._nonce_key)
            raise
        finally:
            self._journaled.pop(tx_hash, None)
            if self.journal is not None:
                self.journal.release(tx_hash)

    def _wait_inner(self, tx_hash: str, decoders: tuple[Any, ...], nonce: int | None) -> Steps:
        deadline = time.monotonic() + self.timeout
        while True:
            receipt = yield from self._receipt_steps(tx_hash)
            if receipt is not None:
                if (yield from self._confirmed_steps(receipt, tx_hash)):
                    break
            if time.monotonic() >= deadline:
                raise (yield from self._unmined_steps(tx_hash, nonce))
            yield Sleep(self.poll_interval)
        self._journal_finish(tx_hash)
        self._nonce_of.pop(tx_hash, None)
        if receipt["status"] != 1:
            raise TransactionError(f"transaction {tx_hash} was mined but reverted")
        return TxResult(tx_hash, int(receipt["blockNumber"]), int(receipt["gasUsed"]),
                        int(receipt.get("effectiveGasPrice", 0)), decode_events(receipt, decoders),
                        receipt.get("contractAddress"))

    def _receipt_steps(self, tx_hash: str) -> Steps:
        """The receipt of ``tx_hash`` once mined, else None (not found, or not in a block yet); a
        node failure raises keeping the hash (:meth:`_lost`)."""
        try:
            receipt = yield Rpc("get_transaction_receipt", (tx_hash,), raw=True)
        except Exception as exc:  # noqa: BLE001
            if not _not_found(exc, "TransactionNotFound"):
                raise self._lost(exc, tx_hash) from None
            return None
        return receipt if receipt is not None and receipt.get("blockNumber") is not None else None

    def _confirmed_steps(self, receipt: Any, tx_hash: str) -> Steps:
        """Whether a mined ``receipt`` has the confirmations asked for, in a block still on the
        chain (a reorg in between sends the wait round again). One confirmation is the receipt
        itself: no eth_blockNumber then."""
        if self.confirmations <= 1:
            return True
        try:
            head = int((yield Rpc("block_number", prop=True, raw=True)))
        except Exception as exc:  # noqa: BLE001
            raise self._lost(exc, tx_hash) from None
        if not deep_enough(receipt, head, self.confirmations):
            return False
        if receipt.get("blockHash") is None:
            return True
        try:
            block = yield Rpc("get_block", (int(receipt["blockNumber"]),), raw=True)
        except Exception as exc:  # noqa: BLE001
            if _not_found(exc, "BlockNotFound"):
                return False
            raise self._lost(exc, tx_hash) from None
        return bytes(block["hash"]) == bytes(receipt["blockHash"])

    def _unmined_steps(self, tx_hash: str, nonce: int | None) -> Steps:
        """The error when waiting ends without a receipt: still pending (timeout), replaced, or
        dropped, as far as the node can tell."""
        nonce = self._nonce_of.get(tx_hash, nonce)
        known = yield from self._known_steps(tx_hash)
        if known is not False:
            return TransactionTimeout(tx_hash, self.timeout, nonce=nonce)
        if nonce is None:
            return TransactionDropped(tx_hash)
        try:
            mined = int((yield Rpc("get_transaction_count", (self.address, "latest"), raw=True)))
        except Exception:  # noqa: BLE001
            return TransactionTimeout(tx_hash, self.timeout, nonce=nonce)
        if mined > nonce:
            self._journal_finish(tx_hash)
            return TransactionReplaced(tx_hash, nonce)
        return TransactionDropped(tx_hash, nonce)

    def _journal_finish(self, tx_hash: str) -> None:
        if self.journal is None or self.signer is None or isinstance(self.signer, str):
            return
        entry = self._journaled.pop(tx_hash, None)
        if entry is not None:
            self.journal.finish(entry)  # its file, known: no folder scan
        else:
            self.journal.finish(tx_hash, int(self._chain_id or 0), self.address, self.genesis or "")

    def _lost(self, exc: BaseException, tx_hash: str) -> Exception:
        """The error for a node failure after ``tx_hash`` was broadcast: it keeps the hash, so the
        caller can look the transaction up instead of sending it again."""
        if is_connection_failure(exc):
            return NodeUnreachable(self.url, type(exc).__name__, tx_hash=tx_hash)
        return translate(exc, self.url)


_IN_PROCESS: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
_IN_PROCESS_COUNT = itertools.count(1)


def _endpoint(w3: Any, url: str) -> str:
    """Where requests go: the URL, or for an in-process chain (no URL) one name per ``Web3`` object,
    since every embedded chain has the same genesis block."""
    if url and url != "embedded":
        return url
    try:
        found = _IN_PROCESS.get(w3)
        if found is None:
            found = _IN_PROCESS[w3] = f"in-process-{next(_IN_PROCESS_COUNT)}"
        return found
    except TypeError:  # not weakly referenceable
        return f"in-process-object-{id(w3)}"


def _checksum(address: str) -> str:
    from eth_utils import to_checksum_address

    return str(to_checksum_address(address))


__all__ = ["DEFAULT_TIMEOUT", "DEFAULT_TIP", "GAS_MARGIN", "NONCE_CONFLICT_RETRIES", "SEND_RETRIES",
           "BaseTransactor", "Call", "Event", "Locked", "NodeId", "Preview", "Rpc", "Signer", "Sleep",
           "TxResult", "check_max_cost", "check_value", "deep_enough", "priced", "signer_address"]
