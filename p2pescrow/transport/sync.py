"""The one transaction path over ``Web3``: build -> check -> price -> sign -> send -> wait -> decode.

Every operation of the client goes through :meth:`Transactor.send`. A revert is raised as its
typed error when the call is checked (the gas estimate), before anything is signed or spent. Keys
stay in the process: a local account signs here and only the signed bytes leave.

Every decision lives in :mod:`._base` (shared with the asyncio path, :mod:`.aio`); this module
only performs the requests it asks for, blocking.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

from web3 import Web3

from ..bindings import Event, decode_events
from ..errors import WrongChain
from ._base import (
    DEFAULT_TIMEOUT,
    DEFAULT_TIP,
    GAS_MARGIN,
    NONCE_CONFLICT_RETRIES,
    SEND_RETRIES,
    BaseTransactor,
    Call,
    Locked,
    NodeId,
    Preview,
    Rpc,
    Signer,
    Sleep,
    Steps,
    TxResult,
    check_max_cost,
    check_value,
    deep_enough,
    priced,
    signer_address,
)
from .journal import Entry
from .reverts import translate


class Transactor(BaseTransactor):
    """Sends calls for one signer on one node. Thread-safe (nonces are reserved under a lock)."""

    w3: Web3

    @classmethod
    def connect(cls, url: str, signer: Signer | None = None, *, expected_chain_id: int | None = None,
                **options: Any) -> Transactor:
        """A transactor on the node at ``url`` (see :func:`p2pescrow.chains.web3_for`). Without a
        signer it can only look journaled transactions up and rebroadcast them. Raises
        :class:`WrongChain` unless the node serves ``expected_chain_id`` (when given)."""
        from ..chains import web3_for

        t = cls(web3_for(url), signer, url=url, **options)
        t.node_id()
        if expected_chain_id is not None and t.node.chain_id != expected_chain_id:
            raise WrongChain(expected_chain_id, t.node.chain_id)
        return t

    # -- running the steps -------------------------------------------------------------------------
    def _run(self, steps: Steps) -> Any:
        answer: Any = None
        error: BaseException | None = None
        while True:
            try:
                step = steps.send(answer) if error is None else steps.throw(error)
            except StopIteration as done:
                return done.value
            answer = error = None
            try:
                answer = self._perform(step)
            except Exception as exc:  # noqa: BLE001 - thrown back into the step that asked
                error = exc

    def _perform(self, step: Any) -> Any:
        if type(step) is Rpc:
            try:
                target = getattr(self.w3.eth, step.method)
                return target if step.prop else target(*step.args)
            except Exception as exc:
                if step.raw:
                    raise
                raise translate(exc, self.url) from None
        if type(step) is Sleep:
            time.sleep(step.seconds)
            return None
        if type(step) is Locked:
            with self.nonces.lock(self._nonce_key), self._journal_lock():
                return self._run(step.steps)
        raise TypeError(f"unknown step {step!r}")

    def _journal_lock(self) -> Any:
        if self.journal is None:
            return contextlib.nullcontext()
        return self.journal.lock(int(self._chain_id or 0), self.address, self.genesis or "")

    # -- the node ------------------------------------------------------------------------------------
    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = int(self._run(iter_one(Rpc("chain_id", prop=True))))
        return self._chain_id

    def check_chain(self, expected: int) -> None:
        actual = int(self._run(iter_one(Rpc("chain_id", prop=True))))
        if actual != expected:
            raise WrongChain(expected, actual)

    def node_id(self) -> NodeId:
        """The node's identity (chain id and genesis block hash; asked once)."""
        self._run(self._node_steps())
        return self.node

    # -- the pipeline --------------------------------------------------------------------------------
    def simulate(self, call: Call) -> bytes:
        """eth_call the transaction: a revert raises its typed error, and nothing is spent."""
        return self._run(self._simulate_steps(call))  # type: ignore[no-any-return]

    def preview(self, call: Call) -> Preview:
        """Check (estimate gas: a revert raises its typed error, an unpayable value
        :class:`~p2pescrow.errors.InsufficientFunds`) and price a call without sending it."""
        return self._run(self._preview_steps(call))  # type: ignore[no-any-return]

    def send(self, call: Call, preview: Preview | None = None, *,
             before_send: Callable[[Call, Preview], None] | None = None,
             on_sent: Callable[[str], None] | None = None) -> TxResult:
        """Run the whole pipeline and return the mined result (or raise a typed error).

        ``before_send(call, preview)`` runs after the check and pricing, before anything is
        signed: a CLI shows what will happen there and may raise to stop. With it set, the
        sender's balance is read first and must cover value + max gas cost
        (:class:`~p2pescrow.errors.InsufficientFunds`: nobody is asked to confirm a transaction the
        node would refuse). ``on_sent(tx_hash)`` runs
        as soon as the node accepted the transaction, before waiting for the receipt.
        """
        return self._run(self._send_steps(call, preview, before_send, on_sent))  # type: ignore[no-any-return]

    def _broadcast(self, tx: dict[str, Any], *, description: str = "") -> str:
        """Sign and broadcast ``tx`` (no nonce: one is taken here); returns the hash."""
        return self._run(self._broadcast_steps(tx, description))  # type: ignore[no-any-return]

    def wait(self, tx_hash: str, decoders: tuple[Any, ...] = (), *, nonce: int | None = None) -> TxResult:
        """Wait for the receipt (and confirmations) up to the timeout; decode the events.

        When the time is up: :class:`~p2pescrow.errors.TransactionTimeout` if the node still has
        the transaction, :class:`~p2pescrow.errors.TransactionReplaced` if another one used its
        nonce, else :class:`~p2pescrow.errors.TransactionDropped` (all carry the hash)."""
        return self._run(self._wait_steps(tx_hash, decoders, nonce))  # type: ignore[no-any-return]

    # -- the journal ----------------------------------------------------------------------------------
    def journaled(self, account: str | None = None) -> list[Entry]:
        """Transactions journaled for this node (every account unless ``account``), not seen mined."""
        self.node_id()
        return self._journal_entries(account)

    def find(self, tx_hash: str) -> Entry | None:
        """The journal entry of ``tx_hash`` on this node, if any."""
        self.node_id()
        return self._journal_find(tx_hash)

    def status(self, entry: Entry) -> str:
        """What became of a journaled transaction: ``mined``, ``pending``, ``replaced`` (its nonce
        was used by another one) or ``dropped`` (the node lost it; the nonce is free)."""
        return self._run(self._status_steps(entry))  # type: ignore[no-any-return]

    def resend(self, entry: Entry) -> str:
        """Broadcast a journaled transaction's raw bytes again (same hash, same nonce)."""
        return self._run(self._resend_steps(entry))  # type: ignore[no-any-return]

    def replace(self, entry: Entry, *, before_send: Callable[[Call, Preview], None] | None = None,
                on_sent: Callable[[str], None] | None = None) -> TxResult:
        """Unstick a journaled transaction: the same call with the same nonce and fees raised by at
        least 12.5 %, signed by this transactor's (local) account, journaled, sent and waited for;
        the original entry is then closed. Raises :class:`~p2pescrow.errors.InputError` if the
        original was already mined or replaced, or was sent by another account."""
        return self._run(self._replace_steps(entry, before_send, on_sent))  # type: ignore[no-any-return]

    def resolve_journal(self) -> None:
        """Settle what an earlier run left in the journal for this (node, account) (see
        :meth:`~._base.BaseTransactor._resolve_steps`)."""
        self._run(self._node_steps())
        self._run(self._resolve_steps())


def iter_one(step: Any) -> Steps:
    """The steps of a single request: its answer."""
    return (yield step)


__all__ = ["DEFAULT_TIMEOUT", "DEFAULT_TIP", "GAS_MARGIN", "NONCE_CONFLICT_RETRIES", "SEND_RETRIES", "Call",
           "Event", "NodeId", "Preview", "Signer", "Transactor", "TxResult", "check_max_cost", "check_value",
           "decode_events", "deep_enough", "priced", "signer_address"]
