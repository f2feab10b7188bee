"""The transaction path over ``AsyncWeb3``: the steps of :mod:`._base`, awaited.

Every decision (what to ask, in which order, how to settle each answer, which error to raise) is
shared with the sync path; this module only performs the requests, without blocking the event
loop. The process-wide nonce manager gives an asyncio lock per account (concurrent tasks sending
from one account get distinct nonces), and the journal's cross-process lock is awaited here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from web3 import AsyncWeb3

from ._base import BaseTransactor, Call, Locked, NodeId, Preview, Rpc, Signer, Sleep, Steps, TxResult
from .journal import Entry
from .reverts import translate


class AsyncTransactor(BaseTransactor):
    """Sends calls for one signer on one node, from asyncio code."""

    w3: AsyncWeb3

    def __init__(self, w3: AsyncWeb3, signer: Signer | None, *, chain_id: int, **options: Any) -> None:
        super().__init__(w3, signer, chain_id=chain_id, **options)

    @property
    def chain_id(self) -> int:
        return int(self._chain_id or 0)

    # -- running the steps -------------------------------------------------------------------------
    async def _run(self, steps: Steps) -> Any:
        answer: Any = None
        error: BaseException | None = None
        while True:
            try:
                step = steps.send(answer) if error is None else steps.throw(error)
            except StopIteration as done:
                return done.value
            answer = error = None
            try:
                answer = await self._perform(step)
            except Exception as exc:  # noqa: BLE001 - thrown back into the step that asked
                error = exc

    async def _perform(self, step: Any) -> Any:
        if type(step) is Rpc:
            try:
                target = getattr(self.w3.eth, step.method)
                return await (target if step.prop else target(*step.args))
            except Exception as exc:
                if step.raw:
                    raise
                raise translate(exc, self.url) from None
        if type(step) is Sleep:
            await asyncio.sleep(step.seconds)
            return None
        if type(step) is Locked:
            async with self.nonces.async_lock(self._nonce_key), self._journal_lock():
                return await self._run(step.steps)
        raise TypeError(f"unknown step {step!r}")

    def _journal_lock(self) -> Any:
        """The journal's cross-process lock of this account, awaited without blocking the loop:
        another process sending from the account takes turns with this one (as on the sync path)."""
        if self.journal is None:
            return contextlib.nullcontext()
        return self.journal.async_lock(self.chain_id, self.address, self.genesis or "")

    # -- the same operations as the sync Transactor, awaited -----------------------------------------
    async def node_id(self) -> NodeId:
        await self._run(self._node_steps())
        return self.node

    async def simulate(self, call: Call) -> bytes:
        return await self._run(self._simulate_steps(call))  # type: ignore[no-any-return]

    async def preview(self, call: Call) -> Preview:
        return await self._run(self._preview_steps(call))  # type: ignore[no-any-return]

    async def send(self, call: Call, preview: Preview | None = None, *,
                   before_send: Callable[[Call, Preview], None] | None = None,
                   on_sent: Callable[[str], None] | None = None) -> TxResult:
        return await self._run(self._send_steps(call, preview, before_send, on_sent))  # type: ignore[no-any-return]

    async def _broadcast(self, tx: dict[str, Any], *, description: str = "") -> str:
        return await self._run(self._broadcast_steps(tx, description))  # type: ignore[no-any-return]

    async def wait(self, tx_hash: str, decoders: tuple[Any, ...] = (), *, nonce: int | None = None) -> TxResult:
        return await self._run(self._wait_steps(tx_hash, decoders, nonce))  # type: ignore[no-any-return]

    async def journaled(self, account: str | None = None) -> list[Entry]:
        await self.node_id()
        return self._journal_entries(account)

    async def find(self, tx_hash: str) -> Entry | None:
        await self.node_id()
        return self._journal_find(tx_hash)

    async def status(self, entry: Entry) -> str:
        return await self._run(self._status_steps(entry))  # type: ignore[no-any-return]

    async def resend(self, entry: Entry) -> str:
        return await self._run(self._resend_steps(entry))  # type: ignore[no-any-return]

    async def replace(self, entry: Entry, *, before_send: Callable[[Call, Preview], None] | None = None,
                      on_sent: Callable[[str], None] | None = None) -> TxResult:
        return await self._run(self._replace_steps(entry, before_send, on_sent))  # type: ignore[no-any-return]

    async def resolve_journal(self) -> None:
        await self._run(self._node_steps())
        await self._run(self._resolve_steps())


__all__ = ["AsyncTransactor"]
