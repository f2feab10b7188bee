"""The behaviours the async client once lost, run on BOTH clients (parametrized sync/async), on the
embedded chain (the async client over web3's AsyncEthereumTesterProvider) and on Anvil:

- an ERC-20 create with an EIP-2612 token uses a permit: one transaction, no approval;
- fill_offer verifies everything (digest, expiry, nonce, fee, reserved buyer) before sending;
- terms() reads logs through the paginator (a provider refusing large block ranges still answers);
- accept_settlement(trade_id) takes the proposal on chain; create returns a TradeResult;
- bytes32 values come out as the same 0x-hex strings as trade ids, in errors and in events;
- v2: deposits, accept, concede, bonds, sweep_fees, reputation assets and records, due(), risks and
  the offer board, each driven on both clients.

The async client is driven through a small blocking proxy (one event loop per module), so each
test body is written once and reads as the story on either client.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from typing import Any, ClassVar

import pytest
from eth_account import Account
from web3.middleware import Web3Middleware

from p2pescrow import ReputationRole, TradeState, errors
from p2pescrow.build import load_artifact
from p2pescrow.chains import async_web3_for, embedded_async_web3, embedded_web3, web3_for
from p2pescrow.clients._base import TradeResult
from p2pescrow.clients.aio import AsyncEscrowClient
from p2pescrow.clients.sync import EscrowClient
from p2pescrow.core.codec import erc20_codec, escrow_codec
from p2pescrow.core.offers import OfferError, sign_offer
from p2pescrow.deployments import DeploymentMismatch, Registry, deploy_data
from p2pescrow.transport.logs import async_get_logs, get_logs
from p2pescrow.transport.sync import Call, Transactor

ETHER = 10**18


class Blocking:
    """Calls an async client's operations to completion on one event loop; sync clients pass
    through unchanged. Clients it returns (``as_account``) are wrapped too."""

    def __init__(self, client: Any, runner: asyncio.Runner) -> None:
        self._client, self._runner = client, runner

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            out = attr(*args, **kwargs)
            if inspect.iscoroutine(out):
                out = self._runner.run(out)
            return Blocking(out, self._runner) if isinstance(out, AsyncEscrowClient) else out

        return call

    @property
    def raw(self) -> Any:
        return self._client


class Chain:
    """A chain (embedded or Anvil) and a client of the kind under test, with helpers that go around
    the client (funding, test tokens, nonces: plain web3 and a funder on the same chain)."""

    def __init__(self, kind: str, client: Any, w3: Any, funder: Transactor, log: Any, url: str,
                 runner: asyncio.Runner) -> None:
        self.kind, self.client, self.w3, self.funder, self.log = kind, client, w3, funder, log
        self.url, self.runner = url, runner

    @property
    def is_async(self) -> bool:
        return self.kind.startswith("async")

    def party(self, eth: int = 100) -> tuple[Any, Any]:
        acct = Account.create()
        self.log.add_key(acct.key)
        if eth:
            self.funder.send(Call(acct.address, "0x", eth * ETHER, "fund"))
        return acct, self.client.as_account(acct)

    def deploy(self, name: str, *args: Any) -> Any:
        artifact = load_artifact(name, test=True)
        result = self.funder.send(Call(None, deploy_data(artifact, *args), description=f"deploy {name}"))
        return self.w3.eth.contract(address=result.contract_address, abi=artifact["abi"])

    def mint(self, token: Any, to: str, amount: int) -> None:
        self.funder.send(Call(token.address, token.encode_abi("mint", [to, amount]), description="mint"))

    def nonce(self, address: str) -> int:
        return int(self.w3.eth.get_transaction_count(address))

    def fresh_client(self, middleware: type[Web3Middleware]) -> Any:
        """A new client of the same kind, on its own connection with ``middleware`` (nothing cached)."""
        base = self.client.raw if self.is_async else self.client
        tester = base._chain
        if self.is_async:
            w3 = embedded_async_web3(tester) if tester is not None else self.runner.run(async_web3_for(self.url))
            w3.middleware_onion.add(middleware)
            client = self.runner.run(AsyncEscrowClient.from_web3(w3, base.tx.signer, deployment=base.deployment,
                                                                 url=self.url))
            return Blocking(client, self.runner)
        w3 = embedded_web3(tester) if tester is not None else web3_for(self.url)
        w3.middleware_onion.add(middleware)
        return EscrowClient.from_web3(w3, base.tx.signer, deployment=base.deployment, url=self.url)


@pytest.fixture(scope="module")
def runner() -> Iterator[asyncio.Runner]:
    with asyncio.Runner() as loop:
        yield loop


def embedded_chain(kind: str, client: Any, raw: Any, log: Any, runner: asyncio.Runner) -> Chain:
    w3 = embedded_web3(raw._chain)
    funder = Transactor(w3, raw.dev_accounts[0], url="embedded", poll_interval=0)
    return Chain(kind, client, w3, funder, log, "embedded", runner)


@pytest.fixture(scope="module")
def sync_chain(error_log: Any, runner: asyncio.Runner) -> Chain:
    client = EscrowClient.embedded(platform_fee_bps=25)
    return embedded_chain("sync", client, client, error_log, runner)


@pytest.fixture(scope="module")
def async_chain(error_log: Any, runner: asyncio.Runner) -> Chain:
    client = runner.run(AsyncEscrowClient.embedded(platform_fee_bps=25))
    return embedded_chain("async", Blocking(client, runner), client, error_log, runner)


@pytest.fixture(scope="module")
def sync_anvil_chain(anvil: Any, runner: asyncio.Runner) -> Chain:
    return Chain("sync-anvil", anvil.base, anvil.w3, anvil.funder, anvil.log, anvil.base.url, runner)


@pytest.fixture(scope="module")
def async_anvil_chain(anvil: Any, runner: asyncio.Runner) -> Chain:
    client = runner.run(AsyncEscrowClient.connect(anvil.base.url, anvil.base.tx.signer,
                                                  deployment=anvil.base.deployment, poll_interval=0.01))
    return Chain("async-anvil", Blocking(client, runner), anvil.w3, anvil.funder, anvil.log, anvil.base.url, runner)


@pytest.fixture(params=["sync", "async", pytest.param("sync_anvil", marks=pytest.mark.anvil),
                        pytest.param("async_anvil", marks=pytest.mark.anvil)])
def each_client(request: pytest.FixtureRequest) -> Chain:
    """The same story on the sync and the async client, on the embedded chain and on Anvil."""
    return request.getfixturevalue(f"{request.param}_chain")


def hook(client: Any, name: str, function: Any) -> None:
    """Set a client's hook (``on_plan``, ``on_risks``): on the async client itself, not its proxy."""
    setattr(client.raw if isinstance(client, Blocking) else client, name, function)


# -- (a) ERC-20 create with a permit ------------------------------------------------------------------
def test_erc20_create_with_a_permit_token_is_one_transaction(each_client):
    buyer_acct, buyer = each_client.party()
    seller_acct, _ = each_client.party(0)
    token = each_client.deploy("PermitToken")
    each_client.mint(token, buyer_acct.address, 5 * ETHER)
    before = each_client.nonce(buyer_acct.address)

    created = buyer.create(seller=seller_acct.address, amount="2", token=token.address)

    assert isinstance(created, TradeResult)
    assert each_client.nonce(buyer_acct.address) == before + 1  # createAndFundWithPermit: no approve
    assert token.functions.allowance(buyer_acct.address, buyer.deployment.escrow).call() == 0
    assert token.functions.balanceOf(buyer_acct.address).call() == 3 * ETHER
    assert buyer.trade(created.trade_id).state is TradeState.FUNDED


class CallRecorder(Web3Middleware):
    """Records the selector of every eth_call the client makes, and every method it asks."""

    selectors: ClassVar[list[str]] = []
    methods: ClassVar[list[str]] = []

    def wrap_make_request(self, make_request: Any) -> Any:
        def middleware(method: str, params: Any) -> Any:
            CallRecorder.methods.append(method)
            if method == "eth_call":
                CallRecorder.selectors.append(str(params[0]["data"])[:10])
            return make_request(method, params)
        return middleware

    async def async_wrap_make_request(self, make_request: Any) -> Any:
        async def middleware(method: str, params: Any) -> Any:
            CallRecorder.methods.append(method)
            if method == "eth_call":
                CallRecorder.selectors.append(str(params[0]["data"])[:10])
            return await make_request(method, params)
        return middleware


def test_permit_reads_the_domain_and_the_nonce_once_each(each_client):
    buyer_acct, buyer = each_client.party()
    seller_acct, _ = each_client.party(0)
    token = each_client.deploy("PermitToken")
    each_client.mint(token, buyer_acct.address, 5 * ETHER)
    CallRecorder.selectors.clear()
    buyer.w3.middleware_onion.add(CallRecorder, name="call-recorder")
    try:
        buyer.create(seller=seller_acct.address, amount="1", token=token.address)
    finally:
        buyer.w3.middleware_onion.remove("call-recorder")
    asked = CallRecorder.selectors
    assert asked.count(erc20_codec().selector("eip712Domain")) == 1, asked
    assert asked.count(erc20_codec().selector("nonces")) == 1, asked
    assert each_client.nonce(buyer_acct.address) == 1  # and the permit was used: one transaction


def test_a_plain_erc20_token_is_approved_exactly_then_funded(each_client):
    buyer_acct, buyer = each_client.party()
    seller_acct, _ = each_client.party(0)
    token = each_client.deploy("TestToken", "Test Dollar", "TUSD", 6)
    each_client.mint(token, buyer_acct.address, 10 * 10**6)
    before = each_client.nonce(buyer_acct.address)

    created = buyer.create(seller=seller_acct.address, amount="4", token=token.address)

    assert each_client.nonce(buyer_acct.address) == before + 2  # approve + createAndFund
    assert token.functions.allowance(buyer_acct.address, buyer.deployment.escrow).call() == 0
    assert buyer.trade(created.trade_id).held == 4 * 10**6


# -- (b) fill_offer verifies fully before sending --------------------------------------------------------
@pytest.fixture
def offer_parties(each_client):
    seller_acct, seller = each_client.party(0)  # signs only
    buyer_acct, buyer = each_client.party()
    return seller_acct, seller, buyer_acct, buyer


def refused_before_sending(each_client: Chain, buyer_acct: Any, buyer: Any, signed: Any, match: str) -> None:
    before = (each_client.nonce(buyer_acct.address), each_client.w3.eth.get_balance(buyer_acct.address))
    with pytest.raises(OfferError, match=match):
        buyer.fill_offer(signed)
    assert (each_client.nonce(buyer_acct.address), each_client.w3.eth.get_balance(buyer_acct.address)) == before


def test_an_expired_offer_is_refused_before_sending(each_client, offer_parties):
    _seller_acct, seller, buyer_acct, buyer = offer_parties
    signed = seller.create_offer(amount="0.1", expires_in=60)
    buyer.sleep(120)
    refused_before_sending(each_client, buyer_acct, buyer, signed, "expired")


def test_a_used_offer_is_refused_before_sending(each_client, offer_parties):
    _seller_acct, seller, buyer_acct, buyer = offer_parties
    signed = seller.create_offer(amount="0.1")
    buyer.fill_offer(signed)
    refused_before_sending(each_client, buyer_acct, buyer, signed, "nonce used")


def test_an_offer_with_another_fee_is_refused_before_sending(each_client, offer_parties):
    seller_acct, seller, buyer_acct, buyer = offer_parties
    signed = seller.create_offer(amount="0.1")  # names the fee in force, 25 bps
    other_fee = sign_offer(replace(signed.offer, platformFeeBps=30), signed.chain_id, signed.escrow, seller_acct)
    refused_before_sending(each_client, buyer_acct, buyer, other_fee, "platform fee of 30 bps")


def test_an_offer_reserved_for_another_buyer_is_refused_before_sending(each_client, offer_parties):
    _seller_acct, seller, buyer_acct, buyer = offer_parties
    other, _ = each_client.party(0)
    signed = seller.create_offer(amount="0.1", buyer=other.address)
    refused_before_sending(each_client, buyer_acct, buyer, signed, "reserved for buyer")


def test_a_tampered_offer_is_refused_before_sending(each_client, offer_parties):
    _seller_acct, seller, buyer_acct, buyer = offer_parties
    signed = seller.create_offer(amount="0.1")
    tampered = replace(signed, offer=replace(signed.offer, amount=signed.offer.amount // 2))
    refused_before_sending(each_client, buyer_acct, buyer, tampered, "not the seller's")


def test_a_good_offer_is_filled(each_client, offer_parties):
    _seller_acct, seller, _buyer_acct, buyer = offer_parties
    signed = seller.create_offer(amount="0.1")
    filled = buyer.fill_offer(signed)
    assert isinstance(filled, TradeResult)
    assert buyer.trade(filled.trade_id).state is TradeState.FUNDED


# -- (c) terms() through the paginator -----------------------------------------------------------------
class RangeLimit(Web3Middleware):
    """A provider that refuses eth_getLogs over more than 2 blocks (as hosted RPCs cap ranges)."""

    refused: ClassVar[list[tuple[int, int]]] = []

    @staticmethod
    def _check(method: str, params: Any) -> None:
        if method == "eth_getLogs":
            span = [int(str(params[0][k]), 0) for k in ("fromBlock", "toBlock")]
            if span[1] - span[0] + 1 > 2:
                RangeLimit.refused.append((span[0], span[1]))
                raise ValueError({"code": -32005, "message": "query exceeds max block range 2"})

    def wrap_make_request(self, make_request: Any) -> Any:
        def middleware(method: str, params: Any) -> Any:
            self._check(method, params)
            return make_request(method, params)
        return middleware

    async def async_wrap_make_request(self, make_request: Any) -> Any:
        async def middleware(method: str, params: Any) -> Any:
            self._check(method, params)
            return await make_request(method, params)
        return middleware


def test_terms_are_read_through_the_paginator_on_a_range_limited_provider(each_client):
    buyer_acct, buyer = each_client.party()
    seller_acct, _ = each_client.party(0)
    created = buyer.create(seller=seller_acct.address, amount="0.5")
    for _ in range(4):  # a few more blocks after the trade
        each_client.party(1)
    fresh = each_client.fresh_client(RangeLimit)  # its own connection: nothing cached
    RangeLimit.refused.clear()

    terms = fresh.terms(created.trade_id)

    assert RangeLimit.refused, "the provider never refused a range: the test proves nothing"
    assert terms.buyer == buyer_acct.address and terms.amount == ETHER // 2
    assert fresh.trade(created.trade_id).state is TradeState.FUNDED


class _RangeLimitedNode:
    """An AsyncWeb3 stand-in refusing eth_getLogs ranges wider than ``limit`` blocks."""

    def __init__(self, limit: int, logs_at: list[int]) -> None:
        self.limit, self.logs_at, self.calls = limit, logs_at, []
        self.eth = self

    async def get_logs(self, params: dict[str, int]) -> list[dict[str, int]]:
        start, end = params["fromBlock"], params["toBlock"]
        self.calls.append((start, end))
        if end - start + 1 > self.limit:
            raise ValueError({"code": -32005, "message": f"query exceeds max block range {self.limit}"})
        return [{"blockNumber": b} for b in self.logs_at if start <= b <= end]


def test_async_log_pages_shrink_like_the_sync_ones_and_miss_nothing():
    logs_at = [5, 999, 1_000, 1_001, 25_000, 49_999]
    node = _RangeLimitedNode(limit=1_000, logs_at=logs_at)

    async def scan() -> list[int]:
        return [log["blockNumber"] async for log in async_get_logs(node, {}, 0, 50_000, page=10_000)]

    assert asyncio.run(scan()) == logs_at
    assert all(end - start + 1 <= 1_000 for start, end in node.calls[-5:])

    class SyncNode(_RangeLimitedNode):
        def get_logs(self, params):  # type: ignore[override]
            start, end = params["fromBlock"], params["toBlock"]
            self.calls.append((start, end))
            if end - start + 1 > self.limit:
                raise ValueError(f"query exceeds max block range {self.limit}")
            return [{"blockNumber": b} for b in self.logs_at if start <= b <= end]

    twin = SyncNode(limit=1_000, logs_at=logs_at)
    assert [log["blockNumber"] for log in get_logs(twin, {}, 0, 50_000, page=10_000)] == logs_at
    assert twin.calls == node.calls  # the same pages, asked in the same order


def test_async_log_pages_do_not_mistake_other_errors_for_range_limits():
    class Broken(_RangeLimitedNode):
        async def get_logs(self, params):  # type: ignore[override]
            raise ValueError("method not found")

    async def scan() -> list[Any]:
        return [log async for log in async_get_logs(Broken(10, []), {}, 0, 100)]

    with pytest.raises(ValueError, match="method not found"):
        asyncio.run(scan())


# -- (d) accept_settlement with the proposal on chain; typed results ------------------------------------
def test_accept_settlement_takes_the_proposal_on_chain(each_client):
    _buyer_acct, buyer = each_client.party()
    seller_acct, seller = each_client.party(1)
    created = buyer.create(seller=seller_acct.address, amount="1")
    buyer.propose_settlement(created.trade_id, 4_000)

    settled = seller.accept_settlement(created.trade_id)

    assert settled.event("Settled").args["buyerBps"] == 4_000
    assert buyer.trade(created.trade_id).state is TradeState.SETTLED


def test_accept_settlement_without_a_proposal_says_so_before_sending(each_client):
    _buyer_acct, buyer = each_client.party()
    seller_acct, seller = each_client.party(1)
    created = buyer.create(seller=seller_acct.address, amount="1")
    before = each_client.nonce(seller_acct.address)
    with pytest.raises(errors.InputError, match="no settlement proposal"):
        seller.accept_settlement(created.trade_id)
    assert each_client.nonce(seller_acct.address) == before


# -- bytes32 as 0x-hex, in errors and in events -------------------------------------------------------------
def test_a_typed_errors_trade_id_equals_the_trades_id(each_client):
    _buyer_acct, buyer = each_client.party()
    seller_acct, _ = each_client.party(0)
    created = buyer.create(seller=seller_acct.address, amount="0.2")
    buyer.release(created.trade_id)
    trade = buyer.trade(created.trade_id)

    with pytest.raises(errors.WrongState) as info:
        buyer.cancel(created.trade_id)

    assert info.value.id == trade.id == created.trade_id
    assert isinstance(info.value.id, str) and info.value.id == info.value.id.lower()


def test_event_ids_and_hashes_are_0x_hex_like_trade_ids(each_client):
    _buyer_acct, buyer = each_client.party()
    seller_acct, _ = each_client.party(0)
    created = buyer.create(seller=seller_acct.address, amount="0.2", terms="two tickets")

    event = created.tx.event("TradeCreated")
    assert event.args["id"] == created.trade_id
    assert event.args["terms"]["termsHash"] == "0x" + buyer.trade(created.trade_id).terms.terms_hash.hex()
    history = buyer.history(created.trade_id)
    assert [h.name for h in history] == ["TradeCreated"] and history[0].args["id"] == created.trade_id


# -- the rest of the surface, driven on both clients ---------------------------------------------------
def events_of(each_client: Chain, stream: Any) -> list[Any]:
    """The events a finite ``watch`` stream yields (an async iterator on the async client)."""
    if not each_client.is_async:
        return list(stream)

    async def collect() -> list[Any]:
        return [event async for event in stream]

    return each_client.runner.run(collect())


def test_trades_history_and_watch_list_a_trade_by_party_and_state(each_client):
    buyer_acct, buyer = each_client.party()
    seller_acct, _ = each_client.party(0)
    created = buyer.create(seller=seller_acct.address, amount="0.3")
    released = buyer.release(created.trade_id)

    mine = buyer.trades(party=buyer_acct.address)
    assert [t.id for t in mine] == [created.trade_id] and mine[0].state is TradeState.COMPLETED
    assert buyer.trades(party=seller_acct.address, state=TradeState.FUNDED) == []
    assert [h.name for h in buyer.history(created.trade_id)] == ["TradeCreated", "Released"]
    replay = events_of(each_client, buyer.watch(from_block=created.tx.block_number, poll_interval=0.01, stop_after=0))
    ours = [e.name for e in replay if e.args.get("id", e.args.get("tradeId")) == created.trade_id]
    assert ours == ["TradeCreated", "Released"]
    assert released.block_number >= created.tx.block_number


def test_trades_read_the_chain_time_once_and_each_state_once(each_client):
    buyer_acct, buyer = each_client.party()
    seller_acct, _ = each_client.party(0)
    ids = [buyer.create(seller=seller_acct.address, amount="0.1").trade_id for _ in range(3)]
    buyer.release(ids[0])
    CallRecorder.selectors.clear()
    CallRecorder.methods.clear()
    buyer.w3.middleware_onion.add(CallRecorder, name="call-recorder")
    try:
        mine = buyer.trades(party=buyer_acct.address)
    finally:
        buyer.w3.middleware_onion.remove("call-recorder")
    assert [t.id for t in mine] == ids
    assert [t.state for t in mine] == [TradeState.COMPLETED, TradeState.FUNDED, TradeState.FUNDED]
    assert CallRecorder.methods.count("eth_getBlockByNumber") == 1, CallRecorder.methods
    assert CallRecorder.selectors.count(escrow_codec().selector("escrowOf")) == 3, CallRecorder.selectors


def test_owner_settings_pause_and_fee(each_client):
    owner = each_client.client
    buyer_acct, buyer = each_client.party()
    seller_acct, _ = each_client.party(0)
    owner.pause()
    try:
        before = each_client.nonce(buyer_acct.address)
        with pytest.raises(errors.error_class("EnforcedPause")):
            buyer.create(seller=seller_acct.address, amount="0.1")
        assert each_client.nonce(buyer_acct.address) == before  # refused before sending
    finally:
        owner.unpause()
    buyer.create(seller=seller_acct.address, amount="0.1")  # the buyer's client has now seen 25 bps
    owner.set_platform_fee(40)
    shown = []
    hook(buyer, "on_risks", shown.append)
    try:
        created = buyer.create(seller=seller_acct.address, amount="0.1")  # refused at 25, made at 40
        assert buyer.trade(created.trade_id).terms.platform_fee_bps == 40
        assert shown == [created.risks] and created.risks  # no arbiter: said once, not once per attempt
    finally:
        owner.set_platform_fee(25)
    owner.set_fee_recipient(owner.address)


def test_a_revoked_offer_cannot_be_filled(each_client):
    _seller_acct, seller = each_client.party(1)
    buyer_acct, buyer = each_client.party()
    signed = seller.create_offer(amount="0.1")
    revoked = seller.revoke_offer(signed.offer.nonce)
    assert revoked.event("OfferRevoked").args["nonce"] == signed.offer.nonce
    refused_before_sending(each_client, buyer_acct, buyer, signed, "nonce used")


def test_fees_are_swept_to_the_recipient_and_credits_read(each_client):
    _buyer_acct, buyer = each_client.party()
    seller_acct, _ = each_client.party(0)
    created = buyer.create(seller=seller_acct.address, amount="1")
    buyer.release(created.trade_id)
    fee = ETHER * 25 // 10_000
    assert buyer.trade(created.trade_id).held == fee  # kept in the trade's slot

    swept = buyer.sweep_fees()  # anyone may call: paid to the recipient

    event = swept.event("FeesSwept")
    assert event.args["recipient"] == each_client.client.address and event.args["amount"] >= fee
    assert buyer.trade(created.trade_id).held == 0
    assert buyer.credits() == 0 and buyer.credits(account=seller_acct.address) == 0
    assert buyer.balance(account=seller_acct.address) == ETHER - fee


def test_time_passes_on_the_chain(each_client):
    _, client = each_client.party(0)
    before = client.now()
    client.sleep(3_600)
    assert (client.now() - before).total_seconds() >= 3_600


def test_deploy_then_connect_to_the_new_contracts(each_client, tmp_path):
    deployer_acct, _ = each_client.party(10)
    client = each_client.client
    deployment = client.deploy(client.w3, deployer_acct, platform_fee_bps=10,
                               registry=Registry(tmp_path / "deployments.json"), url=client.url)
    assert Registry(tmp_path / "deployments.json").get(deployment.chain_id) == deployment
    fresh = client.from_web3(client.w3, deployer_acct, deployment=deployment, url=client.url)
    seller_acct, _ = each_client.party(0)
    created = fresh.create(seller=seller_acct.address, amount="0.1")
    assert fresh.trade(created.trade_id).terms.platform_fee_bps == 10
    assert created.tx.event("TradeCreated").address == deployment.escrow


def test_the_embedded_network_by_name(each_client):
    client = each_client.client.from_network("embedded")
    buyer = client.as_account(client.dev_accounts[1])
    created = buyer.create(seller=client.dev_accounts[2], amount="0.1")
    assert client.trade(created.trade_id).state is TradeState.FUNDED


def test_connecting_checks_the_chain_and_the_code_at_the_recorded_addresses(each_client):
    client = each_client.client
    other_code = replace(client.deployment, escrow_code_hash="0x" + "00" * 32)
    with pytest.raises(DeploymentMismatch, match="holds other code"):
        client.from_web3(client.w3, client.address, deployment=other_code, url=client.url)
    with pytest.raises(errors.WrongChain):
        client.from_web3(client.w3, client.address, expected_chain_id=client.deployment.chain_id + 1,
                         deployment=client.deployment, url=client.url)


# -- v2 operations, on both clients -------------------------------------------------------------------------
def test_deposits_bonds_and_accept(each_client):
    buyer_acct, buyer = each_client.party()
    seller_acct, seller = each_client.party(5)
    created = buyer.create(seller=seller_acct.address, amount="1", buyer_deposit="0.1", seller_deposit="0.2")
    assert buyer.trade(created.trade_id).state is TradeState.AWAITING_DEPOSIT
    [due] = seller.due()
    assert (due.trade_id, due.actions) == (created.trade_id, ("accept",))
    with pytest.raises(errors.InsufficientBond):
        seller.accept(created.trade_id)

    seller.deposit_bond("0.5")
    assert seller.bond() == buyer.bond(account=seller_acct.address) == ETHER // 2
    seller.accept(created.trade_id)
    assert buyer.trade(created.trade_id).state is TradeState.FUNDED and seller.bond() == 3 * ETHER // 10
    withdrawn = seller.withdraw_bond("0.3", to=buyer_acct.address)
    assert withdrawn.event("BondWithdrawn").args["to"] == buyer_acct.address and seller.bond() == 0
    assert seller.due() == []


def test_a_concession_ends_the_dispute(each_client):
    _buyer_acct, buyer = each_client.party()
    seller_acct, seller = each_client.party(1)
    arbiter_acct, _ = each_client.party(0)
    created = buyer.create(seller=seller_acct.address, amount="1", arbiter=arbiter_acct.address, arbiter_fee_bps=100)
    seller.dispute(created.trade_id)
    [due] = each_client.client.due(arbiter_acct.address)
    assert due.actions == ("rule",) and due.amount_lost == ETHER // 100
    conceded = buyer.concede(created.trade_id)
    assert conceded.event("Conceded").args["arbiterFee"] == ETHER // 200
    assert buyer.trade(created.trade_id).state is TradeState.RESOLVED


def test_reputation_assets_records_and_risks(each_client):
    owner = each_client.client
    token = each_client.deploy("TestToken", "Test Dollar", "TUSD", 6)
    owner.set_reputation_asset(token.address, min_amount="5")
    assert owner.reputation_assets()[token.address] == (True, 5 * 10**6)
    buyer_acct, buyer = each_client.party()
    seller_acct, seller = each_client.party(1)
    each_client.mint(token, buyer_acct.address, 100 * 10**6)
    shown = []
    hook(buyer, "on_risks", shown.append)

    small = buyer.build_terms(seller=seller_acct.address, token=token.address, amount="1", arbiter=owner.address)
    assert [r.kind for r in buyer.risks(small)] == ["no-reputation"]
    created = buyer.create(seller=seller_acct.address, token=token.address, amount="10", arbiter=owner.address)
    assert created.risks == () and shown == []  # listed, above the minimum, an arbiter: nothing to say
    buyer.create(seller=seller_acct.address, token=token.address, amount="1", arbiter=owner.address)
    assert [[r.kind for r in risks] for risks in shown] == [["no-reputation"]]
    seller.accept(created.trade_id)
    buyer.release(created.trade_id)
    buyer.rate(created.trade_id, 5)
    record = buyer.reputation(seller_acct.address)
    assert record.record(token.address, ReputationRole.SELLER).completed == 1
    assert record.score([token.address]) == Decimal("3.57")  # 2 units (10 / 5) rated 5, the prior 3.0 x 5 units
    assert "below the 5 TUSD" in str(buyer.risks(small)[0])
    owner.set_reputation_asset(token.address, listed=False, min_amount=0)
    assert "TUSD is not a reputation asset" in str(buyer.risks(small)[0])


def test_offers_with_deposits_are_published_and_filled(each_client):
    _seller_acct, seller = each_client.party(2)
    _buyer_acct, buyer = each_client.party()
    document = {"item": "a bicycle"}
    signed = seller.create_offer(amount="0.5", seller_deposit="0.1", terms=document)
    with pytest.raises(OfferError, match="free bond"):
        buyer.verify_offer(signed)
    published = seller.publish_offer(signed, document)
    assert published.event("OfferPublished").args["nonce"] == signed.offer.nonce
    seller.deposit_bond("0.1")
    filled = buyer.fill_offer(signed)
    assert buyer.trade(filled.trade_id).state is TradeState.FUNDED and seller.bond() == 0


def test_the_listing_is_read_once_per_asset_and_only_when_the_trade_asks_to_record(each_client):
    """The hot path stays within its request budget: the reputation listing behind a trade's risks
    is read once per asset (cached like the platform fee), never for a trade that records nothing,
    and the seller's bond is never read to create (the contract's own refusal covers it)."""
    _buyer_acct, buyer = each_client.party()
    seller_acct, _ = each_client.party(0)
    token = each_client.deploy("TestToken", "Test Dollar", "TUSD", 6)
    each_client.mint(token, buyer.address, 10 * 10**6)
    listing, bonds = escrow_codec().selector("reputationAssets"), escrow_codec().selector("bonds")
    CallRecorder.selectors.clear()
    buyer.w3.middleware_onion.add(CallRecorder, name="call-recorder")
    try:
        buyer.create(seller=seller_acct.address, token=token.address, amount="1", record_reputation=False)
        assert listing not in CallRecorder.selectors
        buyer.create(seller=seller_acct.address, token=token.address, amount="1", seller_deposit="1")
        buyer.create(seller=seller_acct.address, token=token.address, amount="1")
    finally:
        buyer.w3.middleware_onion.remove("call-recorder")
    assert CallRecorder.selectors.count(listing) == 1, CallRecorder.selectors
    assert bonds not in CallRecorder.selectors


def test_a_token_bond_is_approved_exactly_and_checked_before_the_approval(each_client):
    seller_acct, seller = each_client.party()
    token = each_client.deploy("TestToken", "Test Dollar", "TUSD", 6)
    each_client.mint(token, seller_acct.address, 30 * 10**6)
    plans = []
    hook(seller, "on_plan", plans.append)
    before = each_client.nonce(seller_acct.address)
    seller.deposit_bond("30", token=token.address)
    assert each_client.nonce(seller_acct.address) == before + 2  # approve + depositBond
    [plan] = plans
    assert (plan.amount, plan.approve_first) == (30 * 10**6, True)
    assert plan.checked is (each_client.kind.endswith("anvil"))  # simulated under a state override on Anvil
    assert token.functions.allowance(seller_acct.address, seller.deployment.escrow).call() == 0
    assert seller.bond(token.address) == 30 * 10**6
