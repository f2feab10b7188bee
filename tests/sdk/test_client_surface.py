"""The sync and the asyncio client offer one surface: the same public operations, with the same
parameters and defaults, so that they cannot drift apart again.

Deliberate differences, each with its reason, are listed here and nowhere else:
- every operation of AsyncEscrowClient that talks to the node is a coroutine function (awaited);
  the sync client's are plain methods;
- ``as_account`` is a plain method on both: it builds a client on the same connection, no I/O;
- ``address`` is a property on both (no I/O);
- ``watch`` is awaited on the async client (it reads the head, as the sync one does when called)
  and gives an async iterator: ``async for event in await client.watch()``.
``embedded()`` exists on both: web3 has an async eth-tester provider (AsyncEthereumTesterProvider).
"""

from __future__ import annotations

import inspect
import subprocess
import sys

from p2pescrow.clients.aio import AsyncEscrowClient
from p2pescrow.clients.sync import EscrowClient

NOT_AWAITED = {"as_account", "address"}


def public(cls: type) -> dict[str, object]:
    return {name: inspect.getattr_static(cls, name) for name in dir(cls)
            if not name.startswith("_") and name not in dir(object)}


def parameters(function: object) -> list[tuple[str, object, object]]:
    target = function.__func__ if isinstance(function, (classmethod, staticmethod)) else function
    return [(p.name, p.kind, p.default) for p in inspect.signature(target).parameters.values()]


def test_both_clients_have_the_same_public_operations():
    sync, aio = public(EscrowClient), public(AsyncEscrowClient)
    assert sorted(sync) == sorted(aio), (
        f"only sync: {sorted(set(sync) - set(aio))}; only async: {sorted(set(aio) - set(sync))}")
    # the whole surface, not a sample: offers, owner settings, listings, deploy included
    for name in ("create", "create_from_terms", "fund", "fill_offer", "verify_offer", "create_offer", "revoke_offer",
                 "set_platform_fee", "set_fee_recipient", "pause", "unpause", "trades", "history", "watch",
                 "credits", "balance", "now", "sleep", "sweep_fees", "build_terms", "preview", "as_account",
                 "deploy", "from_network", "embedded", "connect", "from_web3", "accept_settlement", "reputation",
                 # v2: deposits, bonds, concessions, the offer board, reputation assets, deadlines, risks
                 "accept", "concede", "deposit_bond", "withdraw_bond", "bond", "publish_offer",
                 "set_reputation_asset", "reputation_assets", "due", "risks"):
        assert name in sync, name
    assert "withdraw_fees" not in sync  # v1's: the contract sweeps fees kept in ended trades now


def test_every_operation_takes_the_same_parameters_with_the_same_defaults():
    sync, aio = public(EscrowClient), public(AsyncEscrowClient)
    for name, member in sync.items():
        other = aio[name]
        assert type(member) is type(other), f"{name}: {type(member).__name__} vs {type(other).__name__}"
        if isinstance(member, property):
            continue
        assert parameters(member) == parameters(other), name
    assert parameters(EscrowClient.__init__) == parameters(AsyncEscrowClient.__init__)


def test_the_async_client_awaits_every_operation_that_talks_to_the_node():
    for name, member in public(AsyncEscrowClient).items():
        function = member.__func__ if isinstance(member, (classmethod, staticmethod)) else member
        if name in NOT_AWAITED:
            assert not inspect.iscoroutinefunction(function), name
        else:
            assert inspect.iscoroutinefunction(function), f"AsyncEscrowClient.{name} is not awaitable"
    for name, member in public(EscrowClient).items():
        function = member.__func__ if isinstance(member, (classmethod, staticmethod)) else member
        assert not inspect.iscoroutinefunction(function), name


def test_create_is_typed_as_returning_a_trade_result_on_both():
    assert inspect.signature(EscrowClient.create).return_annotation == "TradeResult"
    assert inspect.signature(AsyncEscrowClient.create).return_annotation == "TradeResult"
    assert inspect.signature(AsyncEscrowClient.fill_offer).return_annotation == "TradeResult"


def test_importing_the_sdk_loads_neither_the_build_nor_the_cli_nor_the_tooling():
    code = ("import p2pescrow.client, p2pescrow.aio, sys; "
            "print('\\n'.join(m for m in sys.modules if m.startswith(('p2pescrow', 'tools'))))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert "p2pescrow.clients.sync" in loaded and "p2pescrow.clients.aio" in loaded
    assert not [m for m in loaded if m.startswith(("p2pescrow.build", "p2pescrow.cli.", "tools"))
                or m == "p2pescrow.cli"], loaded


def test_both_clients_take_deposits_where_terms_are_made():
    for cls in (EscrowClient, AsyncEscrowClient):
        for name in ("build_terms", "create_offer"):
            names = [p[0] for p in parameters(getattr(cls, name))]
            assert {"buyer_deposit", "seller_deposit"} <= set(names), (cls.__name__, name)
        assert [p[0] for p in parameters(cls.set_reputation_asset)][:2] == ["self", "token"]
