"""The sync and the asyncio market client offer one surface: the same public operations, with the same
parameters and defaults, so that they cannot drift apart (as tests/sdk/test_client_surface.py holds
EscrowClient and AsyncEscrowClient together).

Deliberate differences, each with its reason, are listed here and nowhere else:
- every operation of AsyncMarketClient that talks to the node or the database is a coroutine function
  (awaited); the sync client's are plain methods;
- ``close`` is a plain method on both: it only drops the pooled database connections.
"""

from __future__ import annotations

import inspect
import subprocess
import sys

from p2pescrow.market.client import AsyncMarketClient, MarketClient

NOT_AWAITED = {"close"}


def public(cls: type) -> dict[str, object]:
    return {name: inspect.getattr_static(cls, name) for name in dir(cls)
            if not name.startswith("_") and name not in dir(object)}


def parameters(function: object) -> list[tuple[str, object, object]]:
    target = function.__func__ if isinstance(function, (classmethod, staticmethod)) else function
    return [(p.name, p.kind, p.default) for p in inspect.signature(target).parameters.values()]


def test_both_market_clients_have_the_same_public_operations():
    sync, aio = public(MarketClient), public(AsyncMarketClient)
    assert sorted(sync) == sorted(aio), (
        f"only sync: {sorted(set(sync) - set(aio))}; only async: {sorted(set(aio) - set(sync))}")
    for name in ("connect", "publish", "sync", "search", "offer", "screening", "stats", "close"):
        assert name in sync, name


def test_every_operation_takes_the_same_parameters_with_the_same_defaults():
    sync, aio = public(MarketClient), public(AsyncMarketClient)
    for name, member in sync.items():
        other = aio[name]
        assert type(member) is type(other), f"{name}: {type(member).__name__} vs {type(other).__name__}"
        if isinstance(member, property):
            continue
        assert parameters(member) == parameters(other), name
    assert parameters(MarketClient.__init__) == parameters(AsyncMarketClient.__init__)
    assert [p[0] for p in parameters(MarketClient.__init__)] == ["self", "escrow_client", "db"]
    assert parameters(MarketClient.search)[1][:3] == ("sync", inspect.Parameter.KEYWORD_ONLY, True)


def test_the_async_market_client_awaits_every_operation_that_does_io():
    for name, member in public(AsyncMarketClient).items():
        function = member.__func__ if isinstance(member, (classmethod, staticmethod)) else member
        if name in NOT_AWAITED:
            assert not inspect.iscoroutinefunction(function), name
        else:
            assert inspect.iscoroutinefunction(function), f"AsyncMarketClient.{name} is not awaitable"
    for name, member in public(MarketClient).items():
        function = member.__func__ if isinstance(member, (classmethod, staticmethod)) else member
        assert not inspect.iscoroutinefunction(function), name


def test_both_return_the_same_types():
    for name in ("publish", "sync", "search", "offer", "screening", "stats"):
        sync = inspect.signature(getattr(MarketClient, name)).return_annotation
        aio = inspect.signature(getattr(AsyncMarketClient, name)).return_annotation
        assert sync == aio, name
    assert inspect.signature(MarketClient.search).return_annotation == "list[OfferHit]"
    assert inspect.signature(MarketClient.sync).return_annotation == "SyncReport"


def test_the_package_exports_both_without_importing_sqlalchemy():
    code = ("import sys, p2pescrow; assert 'MarketClient' in p2pescrow.__all__ and 'AsyncMarketClient' in "
            "p2pescrow.__all__; print('sqlalchemy' in sys.modules); "
            "from p2pescrow import MarketClient, AsyncMarketClient; "
            "from p2pescrow.market.client import MarketClient as M, AsyncMarketClient as A; "
            "assert (MarketClient, AsyncMarketClient) == (M, A); print('sqlalchemy' in sys.modules)")
    lines = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    # import p2pescrow loads no SQLAlchemy; nor does the market client's module until a client is made
    assert lines == ["False", "False"]
