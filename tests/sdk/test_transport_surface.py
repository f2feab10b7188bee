"""The sync and asyncio transaction paths are one path: both run the steps of transport/_base.py,
and their public surfaces cannot drift apart."""

from __future__ import annotations

import inspect

from p2pescrow.transport._base import BaseTransactor
from p2pescrow.transport.aio import AsyncTransactor
from p2pescrow.transport.sync import Transactor

#: Only on the sync path: building a connection from a URL (the CLI's `tx` commands) and an
#: explicit chain check; the async transactor is always made by a client that checked the chain.
SYNC_ONLY = {"connect", "check_chain"}


def public(cls: type) -> dict[str, inspect.Signature]:
    return {name: inspect.signature(member) for name, member in inspect.getmembers(cls, inspect.isfunction)
            if not name.startswith("_")}


def test_both_paths_offer_the_same_operations_with_the_same_parameters():
    sync, aio = public(Transactor), public(AsyncTransactor)
    assert set(sync) - SYNC_ONLY == set(aio)
    for name, signature in aio.items():
        assert signature == sync[name], name
        assert inspect.iscoroutinefunction(getattr(AsyncTransactor, name)), name


def test_neither_path_decides_anything_itself():
    """Every step (the generators that decide) lives in the base; the twins only define how a
    step is run and the public wrappers around the steps."""
    for cls in (Transactor, AsyncTransactor):
        own = {name for name, member in vars(cls).items() if inspect.isfunction(member)}
        assert not {name for name in own if name.endswith("_steps")}, cls.__name__
    steps = {name for name in vars(BaseTransactor) if name.endswith("_steps")}
    assert {"_send_steps", "_preview_steps", "_wait_steps", "_resolve_steps", "_replace_steps"} <= steps
