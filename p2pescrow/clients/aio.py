"""AsyncEscrowClient: the escrow operations for asyncio code, over ``AsyncWeb3``.

    client = await AsyncEscrowClient.connect("http://127.0.0.1:8545", account)
    result = await client.create(seller=bob, amount="1.5")
    await client.release(result.trade_id)

Every public operation of :class:`p2pescrow.clients.sync.EscrowClient`, with the same names,
parameters, behaviour and errors, awaited. Both subclass
:class:`~p2pescrow.clients._base.ClientBase`, which holds every step that is not I/O; this class
only reads and sends, through the asyncio transaction path (:mod:`p2pescrow.transport.aio`).
``tests/sdk/test_client_surface.py`` keeps the two surfaces equal.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from web3 import AsyncWeb3

from .. import chains
from ..bindings import Event
from ..core import offers as offer_core
from ..core.checks import check_can_pay, check_offer_state, check_offer_target
from ..core.codec import (
    Codec,
    erc20_codec,
    escrow_codec,
    reputation_codec,
    slot_from_output,
)
from ..core.hints import check_bps, check_platform_fee, check_term_bounds
from ..core.terms import (
    DAY,
    NOT_A_TOKEN,
    bytes32,
    checksum,
    new_terms,
    normalise_id,
    not_a_token,
    offer_terms,
    token_key,
)
from ..deployments import Deployment, Registry, check_code, deployment_for
from ..deployments import deploy as deploy_contracts
from ..errors import ContractError, NetworkError, P2PEscrowError
from ..models import ReputationRecord, ReputationRole, Terms, TokenInfo, Trade, TradeState
from ..transport.aio import AsyncTransactor
from ..transport.logs import async_get_logs
from ..transport.reverts import translate
from ..transport.sync import Call, Preview, Signer, Transactor, TxResult
from ._base import CREATE_ONLY, PAY_ETH, SWEEP_BATCH, ClientBase, DueAction, HistoryEntry, TradeResult, TradeRisk

#: How many trades :meth:`AsyncEscrowClient.trades` reads at once (the sync client reads one by one).
CONCURRENT_READS = 16


class AsyncEscrowClient(ClientBase):
    """A connection to one chain's p2pescrow deployment, acting as one account, for asyncio."""

    def __init__(self, w3: AsyncWeb3, deployment: Deployment, signer: Signer, *, url: str = "",
                 timeout: float = 120.0, confirmations: int = 1, poll_interval: float = 0.05,
                 dev_accounts: list[str] | None = None,
                 chain: Any = None) -> None:
        self.tx = AsyncTransactor(w3, signer, chain_id=deployment.chain_id, url=url, timeout=timeout,
                                  confirmations=confirmations, poll_interval=poll_interval)
        self._setup(w3, deployment, url=url, dev_accounts=dev_accounts, chain=chain)

    # -- connecting ----------------------------------------------------------------------------
    @classmethod
    async def connect(cls, rpc_url: str, account: Signer | None = None, *, deployment: Deployment | None = None,
                      registry: Registry | None = None, expected_chain_id: int | None = None,
                      **options: Any) -> AsyncEscrowClient:
        """Connect by URL (http(s):// or ws(s)://); addresses from the registry for the node's chain
        id unless ``deployment`` is given; their code is verified."""
        return await cls.from_web3(await chains.async_web3_for(rpc_url), account, deployment=deployment,
                                   registry=registry, expected_chain_id=expected_chain_id, url=rpc_url,
                                   **options)

    @classmethod
    async def from_web3(cls, w3: AsyncWeb3, account: Signer | None = None, *, deployment: Deployment | None = None,
                        registry: Registry | None = None, expected_chain_id: int | None = None,
                        url: str = "", **options: Any) -> AsyncEscrowClient:
        """Use an existing ``AsyncWeb3`` instance."""
        url = url or chains.provider_url(w3)
        try:
            chain_id = int(await w3.eth.chain_id)
        except Exception as exc:  # noqa: BLE001
            raise translate(exc, url) from None
        deployment = deployment_for(chain_id, expected_chain_id=expected_chain_id, deployment=deployment,
                                    registry=registry)
        escrow_code, reputation_code = await asyncio.gather(w3.eth.get_code(deployment.escrow),  # type: ignore[arg-type]
                                                            w3.eth.get_code(deployment.reputation))  # type: ignore[arg-type]
        check_code(deployment, bytes(escrow_code), bytes(reputation_code))
        signer = cls._default_signer(account, list(await w3.eth.accounts) if account is None else [])
        return cls(w3, deployment, signer, url=url, **options)

    @classmethod
    async def from_network(cls, name: str, account: Signer | None = None, **options: Any) -> AsyncEscrowClient:
        """Connect to a named network (as :meth:`EscrowClient.from_network`)."""
        network = chains.network(name)
        if network.rpc_url is None:
            client = await cls.embedded(**options)
            return client.as_account(account) if account is not None else client
        return await cls.connect(network.rpc_url, account, expected_chain_id=network.chain_id, **options)

    @classmethod
    async def embedded(cls, *, platform_fee_bps: int = 25, **options: Any) -> AsyncEscrowClient:
        """An in-process py-evm chain with ten funded dev accounts and the contracts deployed, over
        web3's AsyncEthereumTesterProvider (as :meth:`EscrowClient.embedded`; the deployment itself
        runs on the sync path, in-process). Needs the ``embedded`` extra, as the sync one does."""
        tester = chains.embedded_tester()
        sync_w3 = chains.embedded_web3(tester)
        accounts = [checksum(a) for a in sync_w3.eth.accounts]
        deployment = deploy_contracts(Transactor(sync_w3, accounts[0], url="embedded", poll_interval=0),
                                      platform_fee_bps=platform_fee_bps)
        return cls(chains.embedded_async_web3(tester), deployment, accounts[0], url="embedded",
                   dev_accounts=accounts, chain=tester, **options)

    def as_account(self, signer: Signer) -> AsyncEscrowClient:
        """The same connection and deployment, acting as another account."""
        clone = AsyncEscrowClient(self.w3, self.deployment, signer, **self._clone_options())
        self._share_caches(clone)
        return clone

    # -- embedded-chain helpers -------------------------------------------------------------------
    async def sleep(self, seconds: int) -> None:
        """Let chain time pass (embedded chain, Anvil and Ganache)."""
        if self._chain is not None:
            pending = int(self._chain.get_block_by_number("pending")["timestamp"])
            self._chain.time_travel(pending + seconds)
            return
        await self.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
        await self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]

    # -- tokens and amounts ----------------------------------------------------------------------
    async def token(self, address: str | None) -> TokenInfo:
        """Symbol and decimals of a token (cached); None or the zero address is ETH."""
        key = token_key(address)
        if key not in self._tokens:
            codec = erc20_codec()
            try:  # each read translated: a revert is a ContractError, no answer NodeUnreachable
                symbol, decimals = await asyncio.gather(*(self._eth_call(self._view_tx(key, codec, fn))
                                                          for fn in ("symbol", "decimals")))
                info = TokenInfo(key, str(codec.decode_output("symbol", symbol)),
                                 int(codec.decode_output("decimals", decimals)))
            except NOT_A_TOKEN as exc:
                raise not_a_token(key, exc) from None
            self._tokens[key] = info
        return self._tokens[key]

    async def balance(self, token: str | None = None, account: str | None = None) -> int:
        """Balance in base units of ETH (default) or a token."""
        who = self._who(account)
        info = await self.token(token)
        if info.is_eth:
            return int(await self.w3.eth.get_balance(who))  # type: ignore[arg-type]
        return int(await self._view(info.address, erc20_codec(), "balanceOf", who))

    async def _balance(self, token: TokenInfo) -> int:
        """This account's balance of ``token`` (kept for code written against the earlier client)."""
        return await self.balance(token.address)

    # -- reading: eth_call, decoded by the one codec --------------------------------------------------
    async def _view(self, to: str, codec: Codec, fn: str, *args: Any) -> Any:
        """``fn(*args)`` of the contract at ``to``, encoded and decoded by ``codec`` (no web3 ABI layer)."""
        return codec.decode_output(fn, await self.w3.eth.call(self._view_tx(to, codec, fn, *args), "latest"))  # type: ignore[arg-type]

    async def _escrow_view(self, fn: str, *args: Any) -> Any:
        return await self._view(self.deployment.escrow, escrow_codec(), fn, *args)

    # -- sending -----------------------------------------------------------------------------------
    async def _send(self, call: Call) -> TxResult:
        return await self.tx.send(call, before_send=self.before_send, on_sent=self.on_sent)

    async def preview(self, call: Call) -> Preview:
        """Simulate and price a call without sending it."""
        return await self.tx.preview(call)

    async def _act(self, fn: str, *args: Any, value: int = 0) -> TxResult:
        return await self._send(self._call(fn, list(args), value=value))

    # -- creating and funding ----------------------------------------------------------------------
    async def build_terms(self, *, amount: Decimal | str | int, buyer: str | None = None,
                          seller: str | None = None, token: str | None = None,
                          buyer_deposit: Decimal | str | int = 0, seller_deposit: Decimal | str | int = 0,
                          arbiter: str | None = None, arbiter_fee_bps: int = 0, funding_window: int = DAY,
                          release_window: int = 3 * DAY, arbitration_window: int = 7 * DAY,
                          timeout_releases: bool = False, record_reputation: bool = True,
                          terms: str | bytes | dict[str, Any] | None = None, salt: int | None = None) -> Terms:
        """The terms of a new trade, deposits included (as :meth:`EscrowClient.build_terms`)."""
        self._check_bounds({"arbiter": arbiter, "arbiter_fee_bps": arbiter_fee_bps, "funding_window": funding_window,
                            "release_window": release_window, "arbitration_window": arbitration_window})
        info, fee = await asyncio.gather(self.token(token), self._platform_fee())
        return new_terms(self.address, info, fee, amount=amount, buyer=buyer, seller=seller,
                         buyer_deposit=buyer_deposit, seller_deposit=seller_deposit,
                         arbiter=arbiter, arbiter_fee_bps=arbiter_fee_bps,
                         funding_window=funding_window, release_window=release_window,
                         arbitration_window=arbitration_window, timeout_releases=timeout_releases,
                         record_reputation=record_reputation, terms=terms, salt=salt)

    async def _platform_fee(self) -> int:
        self._fee_seen = int(await self._escrow_view("platformFeeBps"))
        return self._fee_seen

    async def create(self, *, fund: bool = True, permit: bool | None = None, **terms_options: Any) -> TradeResult:
        """Create (and, as buyer, fund) a trade: as :meth:`EscrowClient.create`, ERC-20 funding
        with an EIP-2612 permit when the token has one (one transaction), else an exact approval.
        The platform fee is the one last read, refreshed when the contract says it changed; the
        contract's constant limits are checked before any request."""
        self._check_bounds(terms_options)
        info = await self.token(terms_options.get("token"))
        fee = self._fee_seen if self._fee_seen is not None else await self._platform_fee()
        terms = self._terms_at(info, fee, terms_options)
        risks = self._risks(terms, info, await self._listing_for(terms.token, terms.flags))  # shown once
        try:
            return await self._create(terms, fund, permit, risks)
        except ContractError as exc:
            fee = self._fee_in_force(exc)
            if fee is None:
                raise
        return await self._create(self._terms_at(info, fee, terms_options), fund, permit, risks)

    async def create_from_terms(self, terms: Terms, *, fund: bool = True,
                                permit: bool | None = None) -> TradeResult:
        """Create a trade with these terms (funded as in :meth:`create`; risks to ``on_risks`` first)."""
        info, listing = await asyncio.gather(self.token(terms.token), self._listing_for(terms.token, terms.flags))
        return await self._create(terms, fund, permit, self._risks(terms, info, listing))

    async def _create(self, terms: Terms, fund: bool, permit: bool | None,
                      risks: tuple[TradeRisk, ...]) -> TradeResult:
        key = self._remember(terms)
        payment = self._payment(terms, fund)
        if payment == CREATE_ONLY:
            return TradeResult(key, await self._act("create", terms.as_tuple()), risks)
        await self._check_can_pay(terms)
        if payment == PAY_ETH:
            return TradeResult(key, await self._act("createAndFund", terms.as_tuple(), value=self._eth_value(terms)),
                               risks)
        return TradeResult(key, await self._pay_tokens(terms, "createAndFund", [terms.as_tuple()],
                                                       "createAndFundWithPermit", permit), risks)

    async def fund(self, trade_id_: str) -> TxResult:
        """Fund a trade created earlier (buyer only): the price and the buyer's deposit."""
        terms = await self.terms(trade_id_)
        try:
            await self._check_can_pay(terms)
            if terms.is_eth:
                return await self._act("fund", terms.as_tuple(), value=self._eth_value(terms))
            return await self._pay_tokens(terms, "fund", [terms.as_tuple()], None, False)
        except ContractError as exc:
            await self._explain_refusal(exc, "fund", trade_id_, terms)
            raise

    async def risks(self, terms: Terms | offer_core.Offer | offer_core.SignedOffer) -> tuple[TradeRisk, ...]:
        """What whoever enters a trade with these terms (or this offer) must know first (as
        :meth:`EscrowClient.risks`)."""
        source = self._risk_source(terms)
        info, listing = await asyncio.gather(self.token(source.token), self._listing_for(source.token, source.flags))
        return self._risks_of(source, info, listing)

    async def _listing_for(self, token: str, flags: int) -> tuple[bool, int] | None:
        """The asset's listing when the flags ask to record reputation (cached), else None (not read)."""
        if not self._asks_to_record(flags):
            return None
        known = self._listing_known(token)
        return known if known is not None else self._learn_listing(
            token, await self._escrow_view("reputationAssets", token))

    async def _pay_tokens(self, terms: Terms, fn: str, args: list[Any], permit_fn: str | None,
                          permit: bool | None) -> TxResult:
        """Pay the price and the buyer's deposit in tokens with ``fn(*args)``: as the sync twin."""
        info = await self.token(terms.token)
        total = self._pays_in(terms)
        permit_arg = await self._permit(terms.token, total, permit) if permit_fn else None
        if permit_fn and permit_arg is not None:
            self._permit_plan(info, total)
            return await self._act(permit_fn, *args, permit_arg)
        return await self._pay_with_allowance(info, total, self._call(fn, args))

    async def _pay_with_allowance(self, info: TokenInfo, amount: int, call: Call) -> TxResult:
        """Send ``call``, approving exactly ``amount`` first when the allowance falls short (everything
        checked before the approval, as the sync twin)."""
        allowance = await self._allowance(info.address)
        checked = allowance >= amount or await self._check_funding(call, info.address, amount)
        if self._approval_plan(info, amount, allowance, checked).approve_first:
            await self._send(self._approve_call(info.address, amount))
        return await self._send(call)

    async def _allowance(self, token: str, override: dict[str, Any] | None = None) -> int:
        """The escrow's allowance from this account (under a state override, when given)."""
        tx = self._view_tx(token, erc20_codec(), "allowance", self.address, self.deployment.escrow)
        return int(erc20_codec().decode_output("allowance", await self._eth_call(tx, override)))

    async def _eth_call(self, tx: dict[str, Any], override: dict[str, Any] | None = None) -> bytes:
        try:
            if override is None:
                return bytes(await self.w3.eth.call(tx, "latest"))  # type: ignore[arg-type]
            return bytes(await self.w3.eth.call(tx, "latest", override))  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001
            raise translate(exc, self.url) from None

    async def _check_funding(self, call: Call, token: str, amount: int) -> bool:
        """The funding ``call`` simulated before the approval (see the sync twin)."""
        override = self._allowance_override(token, amount)
        try:
            await self._eth_call(self._eth_call_tx(call), override)
            return True
        except ContractError as exc:
            took = override is not None and await self._allowance(token, override) == amount
            if self._refused_anyway(exc, took):
                raise
            return False
        except NetworkError:
            raise
        except P2PEscrowError:
            if override is None:
                raise
            self._overrides = False  # the node refused the override parameter: simulate without it
            return await self._check_funding(call, token, amount)

    async def _check_can_pay(self, terms: Terms) -> None:
        """The buyer holds the trade's tokens (ETH: checked by the transaction path, see the sync twin)."""
        if terms.is_eth:
            return
        info, balance = await asyncio.gather(self.token(terms.token), self.balance(terms.token))
        check_can_pay(info, self._pays_in(terms), balance)

    async def _permit(self, token: str, amount: int, wanted: bool | None) -> tuple[int, int, bytes, bytes] | None:
        """A signed permit, or None to approve instead (``nonces`` and ``eip712Domain`` read once each)."""
        if not self._may_permit(wanted):
            return None
        try:
            nonce, domain = await asyncio.gather(self._view(token, erc20_codec(), "nonces", self.address),
                                                 self._view(token, erc20_codec(), "eip712Domain"))
        except Exception:  # noqa: BLE001 - no EIP-2612 / ERC-5267 on this token
            self._no_permit(token, wanted)
            return None
        return self._permit_arg(tuple(domain), int(nonce), amount, await self._now())

    # -- acting on a trade -------------------------------------------------------------------------
    async def _amount(self, trade_id_: str, terms: Terms, amount: Decimal | str | int | None) -> int:
        if amount is None:
            return await self._held(trade_id_)
        return self._part(amount, await self.token(terms.token))

    async def release(self, trade_id_: str, amount: Decimal | str | int | None = None) -> TxResult:
        """Buyer: release everything held (default) or ``amount`` to the seller."""
        terms = await self.terms(trade_id_)
        return await self._on_trade("release", trade_id_, await self._amount(trade_id_, terms, amount), terms=terms)

    async def refund(self, trade_id_: str, amount: Decimal | str | int | None = None) -> TxResult:
        """Seller: refund everything held (default) or ``amount`` to the buyer."""
        terms = await self.terms(trade_id_)
        return await self._on_trade("refund", trade_id_, await self._amount(trade_id_, terms, amount), terms=terms)

    async def _on_trade(self, fn: str, trade_id_: str, *args: Any, terms: Terms | None = None) -> TxResult:
        """``fn(terms, *args)`` on a trade; a refusal is explained from the trade (see the sync twin)."""
        terms = terms if terms is not None else await self.terms(trade_id_)
        try:
            return await self._act(fn, terms.as_tuple(), *args)
        except ContractError as exc:
            await self._explain_refusal(exc, fn, trade_id_, terms)
            raise

    async def _explain_refusal(self, exc: ContractError, fn: str, trade_id_: str, terms: Terms) -> None:
        try:
            info = await self.token(terms.token)
            trade = await self.trade(trade_id_) if self._needs_trade(exc) else None
        except P2PEscrowError:
            return  # the refusal stands as the contract put it
        self._explain(exc, fn, terms, info, trade)

    async def cancel(self, trade_id_: str) -> TxResult:
        """Cancel a trade that never went live: unfunded (its creator), or funded but without the
        seller's deposit (the buyer); anyone after the funding deadline. Whatever is in goes back."""
        return await self._on_trade("cancel", trade_id_)

    async def mark_delivered(self, trade_id_: str) -> TxResult:
        """Seller: mark delivered/paid (moves the timeout only with an arbiter; see the sync twin)."""
        return await self._on_trade("markDelivered", trade_id_)

    async def propose_settlement(self, trade_id_: str, buyer_bps: int) -> TxResult:
        """Propose a split: ``buyer_bps`` basis points of what is held to the buyer."""
        return await self._on_trade("proposeSettlement", trade_id_, check_bps(buyer_bps))

    async def accept_settlement(self, trade_id_: str, buyer_bps: int | None = None) -> TxResult:
        """Accept the counterparty's proposal (``buyer_bps`` defaults to the one on chain)."""
        if buyer_bps is None:
            buyer_bps = self._accepted_bps(await self.trade(trade_id_))
        return await self._on_trade("acceptSettlement", trade_id_, check_bps(buyer_bps))

    async def accept(self, trade_id_: str) -> TxResult:
        """Seller: accept a trade a buyer created (locks its deposit from the bond; see the sync twin)."""
        return await self._on_trade("accept", trade_id_)

    async def dispute(self, trade_id_: str) -> TxResult:
        """Open a dispute (buyer or seller, before the deadline, on a trade with an arbiter)."""
        return await self._on_trade("dispute", trade_id_)

    async def concede(self, trade_id_: str) -> TxResult:
        """Buyer or seller, in a dispute: give everything held to the other side (see the sync twin)."""
        return await self._on_trade("concede", trade_id_)

    async def rule(self, trade_id_: str, buyer_bps: int) -> TxResult:
        """Arbiter: rule ``buyer_bps`` basis points (after the arbiter's fee) to the buyer."""
        return await self._on_trade("rule", trade_id_, check_bps(buyer_bps))

    async def timeout(self, trade_id_: str) -> TxResult:
        """Anyone, from the deadline on: apply the timeout outcome fixed at creation."""
        return await self._on_trade("timeout", trade_id_)

    async def resolve_expired_dispute(self, trade_id_: str) -> TxResult:
        """Anyone, from the arbitration deadline on: end a dispute the arbiter did not rule (50/50)."""
        return await self._on_trade("resolveExpiredDispute", trade_id_)

    async def submit_evidence(self, trade_id_: str, uri: str, content_hash: bytes | str | None = None) -> TxResult:
        """Attach evidence (a URI and the hash of its content) to a trade."""
        return await self._on_trade("submitEvidence", trade_id_, self._evidence_digest(uri, content_hash), uri)

    async def withdraw(self, token: str | None = None, to: str | None = None) -> TxResult:
        """Withdraw this account's credits to ``to``."""
        return await self._act("withdraw", (await self.token(token)).address, self._who(to))

    async def sweep_fees(self, token: str | None = None) -> TxResult:
        """Pay the platform fees earned in ``token`` to the fee recipient (as :meth:`EscrowClient.sweep_fees`)."""
        info = await self.token(token)
        ended = self._unswept(await self.trades(token=info.address))
        return await self._act("sweepFees", info.address, [terms.as_tuple() for terms in ended[:SWEEP_BATCH]])

    # -- bonds -------------------------------------------------------------------------------------
    async def deposit_bond(self, amount: Decimal | str | int, token: str | None = None) -> TxResult:
        """Seller: add ``amount`` to this account's bond (ETH as the value; a token approved first)."""
        info = await self.token(token)
        units = self._part(amount, info)
        if info.is_eth:
            return await self._act("depositBond", info.address, units, value=units)
        check_can_pay(info, units, await self.balance(info.address))
        return await self._pay_with_allowance(info, units, self._call("depositBond", [info.address, units]))

    async def withdraw_bond(self, amount: Decimal | str | int, token: str | None = None,
                            to: str | None = None) -> TxResult:
        """Seller: take ``amount`` of the free bond to ``to``."""
        info = await self.token(token)
        return await self._act("withdrawBond", info.address, self._part(amount, info), self._who(to))

    async def bond(self, token: str | None = None, account: str | None = None) -> int:
        """The free bond of ``account`` (default: this one) in ``token`` (default ETH), base units."""
        info = await self.token(token)
        return int(await self._escrow_view("bonds", self._who(account), info.address))

    async def rate(self, trade_id_: str, score: int, comment: str | bytes | None = None) -> TxResult:
        """Rate the counterparty 1-5 of an ended trade that records reputation (once per party)."""
        self._check_score(score)
        return await self._on_trade("rate", trade_id_, score, bytes32(comment))

    # -- owner settings ----------------------------------------------------------------------------
    async def set_platform_fee(self, bps: int) -> TxResult:
        """Owner: the platform fee of new trades, in basis points (at most the contract's 5%)."""
        return await self._act("setPlatformFee", check_platform_fee(bps))

    async def set_fee_recipient(self, recipient: str) -> TxResult:
        """Owner: where platform fees are paid."""
        return await self._act("setFeeRecipient", checksum(recipient))

    async def set_reputation_asset(self, token: str | None, *, listed: bool = True,
                                   min_amount: Decimal | str | int) -> TxResult:
        """Owner: list or delist a reputation asset (as :meth:`EscrowClient.set_reputation_asset`)."""
        info = await self.token(token)
        minimum = self._units_or_zero(min_amount, info)
        result = await self._act("setReputationAsset", info.address, listed, minimum)
        self._learn_listing(info.address, (listed, minimum))
        return result

    async def pause(self) -> TxResult:
        """Owner: stop new money (create, fund, accept, fill, bond top-ups); every way out stays open."""
        return await self._act("pause")

    async def unpause(self) -> TxResult:
        """Owner: end a pause."""
        return await self._act("unpause")

    # -- signed offers -----------------------------------------------------------------------------
    async def create_offer(self, *, amount: Decimal | str | int, token: str | None = None,
                           buyer_deposit: Decimal | str | int = 0, seller_deposit: Decimal | str | int = 0,
                           buyer: str | None = None, arbiter: str | None = None, arbiter_fee_bps: int = 0,
                           release_window: int = 3 * DAY, arbitration_window: int = 7 * DAY,
                           timeout_releases: bool = False, record_reputation: bool = True,
                           terms: str | bytes | dict[str, Any] | None = None, expires_in: int = DAY,
                           nonce: int | None = None) -> offer_core.SignedOffer:
        """Sign an offer locally as the seller (as :meth:`EscrowClient.create_offer`)."""
        self._check_local_signer()
        check_term_bounds(arbiter=arbiter, arbiter_fee_bps=arbiter_fee_bps, release_window=release_window,
                          arbitration_window=arbitration_window)
        info, fee, now = await asyncio.gather(self.token(token), self._platform_fee(), self._now())
        signed = self._offer(info, fee, now, amount=amount, buyer_deposit=buyer_deposit,
                             seller_deposit=seller_deposit, buyer=buyer, arbiter=arbiter,
                             arbiter_fee_bps=arbiter_fee_bps, release_window=release_window,
                             arbitration_window=arbitration_window, timeout_releases=timeout_releases,
                             record_reputation=record_reputation, terms=terms, expires_in=expires_in, nonce=nonce)
        self._risks(signed.offer, info, await self._listing_for(info.address, signed.offer.flags))
        return signed

    async def verify_offer(self, signed: offer_core.SignedOffer) -> None:
        """Check an offer before spending gas: chain, contract, signer, digest, expiry, nonce, fee,
        buyer (the four reads run concurrently)."""
        check_offer_target(signed, self.deployment.chain_id, self.deployment.escrow)
        offer = signed.offer
        digest, now, used, fee = await asyncio.gather(
            self._escrow_view("offerDigest", offer.as_tuple()), self._now(),
            self._escrow_view("isNonceUsed", offer.seller, offer.nonce), self._platform_fee())
        check_offer_state(signed, contract_digest=digest, latest_time=now, nonce_used=bool(used),
                          platform_fee_bps=fee, buyer=self.address)
        if offer.sellerDeposit:
            free, info = await asyncio.gather(self.bond(offer.token, offer.seller), self.token(offer.token))
            self._bond_short(offer, free, info)

    async def fill_offer(self, signed: offer_core.SignedOffer, *, permit: bool | None = None) -> TradeResult:
        """Verify, then fill an offer as the buyer: creates and funds the trade in one transaction."""
        await self.verify_offer(signed)
        offer = signed.offer
        terms = offer_terms(offer, self.address)
        key = self._remember(terms)
        info, listing = await asyncio.gather(self.token(terms.token), self._listing_for(terms.token, terms.flags))
        risks = self._risks(terms, info, listing)
        await self._check_can_pay(terms)
        if terms.is_eth:
            return TradeResult(key, await self._act("fillOffer", offer.as_tuple(), signed.signature,
                                                    value=self._eth_value(terms)), risks)
        return TradeResult(key, await self._pay_tokens(terms, "fillOffer", [offer.as_tuple(), signed.signature],
                                                       "fillOfferWithPermit", permit), risks)

    async def revoke_offer(self, nonce: int) -> TxResult:
        """Revoke an offer nonce: no offer signed with it can be filled any more."""
        return await self._act("revokeOffer", nonce)

    async def publish_offer(self, signed: offer_core.SignedOffer,
                            document: bytes | str | dict[str, Any]) -> TxResult:
        """Put a signed offer and its terms document on the offer board (as :meth:`EscrowClient.publish_offer`)."""
        canonical = self._publishable(signed, document)
        return await self._act("publishOffer", signed.offer.as_tuple(), signed.signature, canonical)

    # -- reads -------------------------------------------------------------------------------------
    async def _now(self) -> int:
        return int((await self.w3.eth.get_block("latest"))["timestamp"])

    async def now(self) -> datetime:
        """The chain's time (the latest block's timestamp)."""
        return datetime.fromtimestamp(await self._now(), UTC)

    async def credits(self, token: str | None = None, account: str | None = None) -> int:
        """Payouts credited to ``account`` (default: this one) in ``token`` (default ETH)."""
        info = await self.token(token)
        return int(await self._escrow_view("credits", self._who(account), info.address))

    async def _held(self, trade_id_: str) -> int:
        return (await self._slot(trade_id_))[0]

    async def _slot(self, trade_id_: str) -> tuple[int, ...]:
        return slot_from_output(await self._escrow_view("escrowOf", normalise_id(trade_id_)))

    async def terms(self, trade_id_: str) -> Terms:
        """The terms of a trade, from its TradeCreated event (cached), read through the log
        paginator (providers that limit eth_getLogs ranges included)."""
        key = normalise_id(trade_id_)
        if key not in self._terms_cache:
            head = int(await self.w3.eth.block_number)
            async for log in async_get_logs(self.w3, self._terms_query(key), self.deployment.block, head):
                if self._learn_terms(log) == key:
                    break
            else:
                raise self._no_trade(key)
        return self._terms_cache[key]

    async def trade(self, trade_id_: str) -> Trade:
        """A trade's terms, state, amounts, deadline and what each party may do next."""
        terms = await self.terms(trade_id_)
        info, slot, now = await asyncio.gather(self.token(terms.token), self._slot(trade_id_), self._now())
        return self._trade(terms, info, slot, now)

    async def trades(self, *, party: str | None = None, state: TradeState | None = None,
                     token: str | None = None) -> list[Trade]:
        """Trades of this escrow, filtered by party (buyer or seller), state and token."""
        head = int(await self.w3.eth.block_number)
        ids: dict[str, None] = {}
        for query in self._trades_queries(party):
            async for log in async_get_logs(self.w3, query, self.deployment.block, head):
                key = self._learn_terms(log)
                if key is not None:
                    ids[key] = None
        token_address = (await self.token(token)).address if token else None
        kept = [key for key in ids if self._keep(key, token_address)]
        gate = asyncio.Semaphore(CONCURRENT_READS)
        now = await self._now()  # one chain time for all of them, not a block read per trade

        async def read(key: str) -> Trade:
            async with gate:
                terms = self._terms_cache[key]
                info, slot = await asyncio.gather(self.token(terms.token), self._slot(key))
                return self._trade(terms, info, slot, now)

        trades = await asyncio.gather(*(read(key) for key in kept))  # in the order the events came
        return [t for t in trades if state is None or t.state is state]

    async def history(self, trade_id_: str) -> list[HistoryEntry]:
        """Every event of a trade (escrow and reputation), oldest first."""
        key = normalise_id(trade_id_)
        head = int(await self.w3.eth.block_number)
        entries: list[HistoryEntry] = []
        for contract, query in self._history_queries(key):
            async for log in async_get_logs(self.w3, query, self.deployment.block, head):
                entry = self._history_entry(log, contract)
                if entry is not None:
                    entries.append(entry)
        entries.sort(key=lambda e: e.block)
        return entries

    async def watch(self, *, from_block: int | None = None, poll_interval: float = 1.0,
                    stop_after: float | None = None) -> AsyncIterator[Event]:
        """New escrow and reputation events as blocks arrive (polling): ``async for event in await
        client.watch()``. "New" means after the head when ``watch`` is awaited."""
        start = int(await self.w3.eth.block_number) + 1 if from_block is None else from_block
        ends = None if stop_after is None else time.monotonic() + stop_after
        return self._watch(start, ends, poll_interval)

    async def _watch(self, start: int, ends: float | None, poll_interval: float) -> AsyncIterator[Event]:
        while True:  # poll, then check the time: the last poll covers everything up to the end
            head = int(await self.w3.eth.block_number)
            if head >= start:
                for contract in (self.escrow, self.reputation_contract):
                    async for log in async_get_logs(self.w3, {"address": contract.address}, start, head):
                        event = self._watched(log, contract)
                        if event is not None:
                            yield event
                start = head + 1
            if ends is not None and time.monotonic() >= ends:
                return
            await asyncio.sleep(poll_interval)

    async def reputation_assets(self) -> dict[str, tuple[bool, int]]:
        """The escrow's reputation assets, ``token -> (listed, minimum)``, delisted ones included."""
        head = int(await self.w3.eth.block_number)
        return self._learn_listings([log async for log in async_get_logs(self.w3, self._listing_logs_query(),
                                                                          self.deployment.block, head)])

    async def reputation(self, address: str) -> ReputationRecord:
        """An address's records per reputation asset and role (as :meth:`EscrowClient.reputation`;
        the records read concurrently)."""
        who = checksum(address)
        assets = await self.reputation_assets()
        keys = [(asset, role) for asset in assets for role in ReputationRole]
        answers = await asyncio.gather(*(self._view(self.deployment.reputation, reputation_codec(), "recordOf", who,
                                                    asset, int(role)) for asset, role in keys))
        return self._reputation_record(who, assets, dict(zip(keys, answers, strict=True)))

    async def due(self, account: str | None = None) -> list[DueAction]:
        """The trades where ``account`` must act before a deadline (as :meth:`EscrowClient.due`)."""
        who = self._who(account)
        head = int(await self.w3.eth.block_number)
        ids: dict[str, None] = {}
        for query in self._trades_queries(None):  # the arbiter is not an indexed topic: every trade
            async for log in async_get_logs(self.w3, query, self.deployment.block, head):
                key = self._learn_terms(log)
                if key is not None and self._involves(key, who):
                    ids[key] = None
        now = await self._now()
        gate = asyncio.Semaphore(CONCURRENT_READS)

        async def read(key: str) -> Trade:
            async with gate:
                terms = self._terms_cache[key]
                info, slot = await asyncio.gather(self.token(terms.token), self._slot(key))
                return self._trade(terms, info, slot, now)

        return self._due(await asyncio.gather(*(read(key) for key in ids)), who, now)

    # -- deploying -----------------------------------------------------------------------------------
    @staticmethod
    async def deploy(w3: AsyncWeb3, account: Signer, *, fee_recipient: str | None = None,
                     platform_fee_bps: int = 0, owner: str | None = None, registry: Registry | None = None,
                     url: str = "") -> Deployment:
        """Deploy escrow + reputation and record the deployment (as :meth:`EscrowClient.deploy`,
        recoverable). The recoverable deployment exists on the sync path only: it runs in a worker
        thread, on a ``Web3`` to the same node (:func:`p2pescrow.chains.sync_twin`)."""
        sync_w3 = chains.sync_twin(w3)
        transactor = Transactor(sync_w3, account, url=url or chains.provider_url(w3))
        return await asyncio.to_thread(deploy_contracts, transactor, fee_recipient=fee_recipient,
                                       platform_fee_bps=platform_fee_bps, owner=owner,
                                       registry=registry or Registry())


__all__ = ["AsyncEscrowClient", "HistoryEntry", "TradeResult"]
