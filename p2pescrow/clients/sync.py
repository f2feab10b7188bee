"""EscrowClient: one method per escrow and reputation operation, on any EVM node.

    from p2pescrow import EscrowClient

    client = EscrowClient.embedded()                 # in-process chain, contracts deployed
    alice, bob = client.dev_accounts[1:3]
    buyer = client.as_account(alice)
    trade = buyer.create(seller=bob, amount="1.5")   # creates and funds: 1.5 ETH held
    buyer.release(trade.trade_id)                    # Bob is paid, less the platform fee
    print(client.trade(trade.trade_id).state)        # TradeState.COMPLETED

Every write goes through the one transaction path (:mod:`p2pescrow.transport.sync`): it is
simulated first, so a revert raises its typed error (:mod:`p2pescrow.errors`) before any gas is
spent, and balances and allowances are checked with the numbers before anything is sent.

This class only reads and sends; what to read and send, and every decision on what was read, is
in :class:`~p2pescrow.clients._base.ClientBase`, shared with the asyncio twin
:class:`~p2pescrow.clients.aio.AsyncEscrowClient`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from web3 import Web3

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
from ..transport.logs import get_logs
from ..transport.reverts import translate
from ..transport.sync import Call, Preview, Signer, Transactor, TxResult
from ._base import CREATE_ONLY, PAY_ETH, SWEEP_BATCH, ClientBase, DueAction, HistoryEntry, TradeResult, TradeRisk


class EscrowClient(ClientBase):
    """A connection to one chain's p2pescrow deployment, acting as one account."""

    def __init__(self, w3: Web3, deployment: Deployment, signer: Signer, *, url: str = "",
                 timeout: float = 120.0, confirmations: int = 1, poll_interval: float = 0.05,
                 dev_accounts: list[str] | None = None,
                 chain: Any = None) -> None:
        self.tx = Transactor(w3, signer, url=url, chain_id=deployment.chain_id, timeout=timeout,
                             confirmations=confirmations, poll_interval=poll_interval)
        self._setup(w3, deployment, url=url, dev_accounts=dev_accounts, chain=chain)

    # -- connecting ----------------------------------------------------------------------------
    @classmethod
    def connect(cls, rpc_url: str, account: Signer | None = None, *, deployment: Deployment | None = None,
                registry: Registry | None = None, expected_chain_id: int | None = None,
                **options: Any) -> EscrowClient:
        """Connect to a node by URL (http(s):// or ws(s)://). Contract addresses come from the
        registry for the node's chain id unless ``deployment`` is given; their code is verified."""
        return cls.from_web3(chains.web3_for(rpc_url), account, deployment=deployment, registry=registry,
                             expected_chain_id=expected_chain_id, url=rpc_url, **options)

    @classmethod
    def from_web3(cls, w3: Web3, account: Signer | None = None, *, deployment: Deployment | None = None,
                  registry: Registry | None = None, expected_chain_id: int | None = None,
                  url: str = "", **options: Any) -> EscrowClient:
        """Use an existing ``Web3`` instance."""
        url = url or chains.provider_url(w3)
        try:
            chain_id = int(w3.eth.chain_id)
        except Exception as exc:  # noqa: BLE001
            raise translate(exc, url) from None
        deployment = deployment_for(chain_id, expected_chain_id=expected_chain_id, deployment=deployment,
                                    registry=registry)
        check_code(deployment, bytes(w3.eth.get_code(deployment.escrow)),  # type: ignore[arg-type]
                   bytes(w3.eth.get_code(deployment.reputation)))  # type: ignore[arg-type]
        signer = cls._default_signer(account, list(w3.eth.accounts) if account is None else [])
        return cls(w3, deployment, signer, url=url, **options)

    @classmethod
    def from_network(cls, name: str, account: Signer | None = None, **options: Any) -> EscrowClient:
        """Connect to a named network: ``local``, ``ganache``, ``embedded`` or one the user added
        (``p2pescrow networks add``). The node must serve the network's chain id."""
        network = chains.network(name)
        if network.rpc_url is None:
            client = cls.embedded(**options)
            return client.as_account(account) if account is not None else client
        return cls.connect(network.rpc_url, account, expected_chain_id=network.chain_id, **options)

    @classmethod
    def embedded(cls, *, platform_fee_bps: int = 25, **options: Any) -> EscrowClient:
        """An in-process py-evm chain with ten funded dev accounts and the contracts deployed.

        Account 0 deploys and owns the contracts and receives platform fees; the client acts as
        account 0 until :meth:`as_account`. Needs the ``embedded`` extra (``pip install 'p2pescrow[embedded]'``):
        without it, :class:`~p2pescrow.errors.MissingExtra` names that command."""
        tester = chains.embedded_tester()
        w3 = chains.embedded_web3(tester)
        accounts = [checksum(a) for a in w3.eth.accounts]
        transactor = Transactor(w3, accounts[0], url="embedded", poll_interval=0)
        deployment = deploy_contracts(transactor, platform_fee_bps=platform_fee_bps)
        return cls(w3, deployment, accounts[0], url="embedded", dev_accounts=accounts, chain=tester,
                   **options)

    def as_account(self, signer: Signer) -> EscrowClient:
        """The same connection and deployment, acting as another account."""
        clone = EscrowClient(self.w3, self.deployment, signer, **self._clone_options())
        self._share_caches(clone)
        return clone

    # -- embedded-chain helpers -------------------------------------------------------------------
    def sleep(self, seconds: int) -> None:
        """Let chain time pass (embedded chain, Anvil and Ganache)."""
        if self._chain is not None:
            pending = int(self._chain.get_block_by_number("pending")["timestamp"])
            self._chain.time_travel(pending + seconds)
            return
        self.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
        self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]

    # -- tokens and amounts ----------------------------------------------------------------------
    def token(self, address: str | None) -> TokenInfo:
        """Symbol and decimals of a token (cached); None or the zero address is ETH."""
        key = token_key(address)
        if key not in self._tokens:
            codec = erc20_codec()
            try:  # each read translated: a revert is a ContractError, no answer NodeUnreachable
                symbol, decimals = (self._eth_call(self._view_tx(key, codec, fn)) for fn in ("symbol", "decimals"))
                info = TokenInfo(key, str(codec.decode_output("symbol", symbol)),
                                 int(codec.decode_output("decimals", decimals)))
            except NOT_A_TOKEN as exc:
                raise not_a_token(key, exc) from None
            self._tokens[key] = info
        return self._tokens[key]

    def balance(self, token: str | None = None, account: str | None = None) -> int:
        """Balance in base units of ETH (default) or a token."""
        who = self._who(account)
        info = self.token(token)
        if info.is_eth:
            return int(self.w3.eth.get_balance(who))
        return int(self._view(info.address, erc20_codec(), "balanceOf", who))

    # -- reading: eth_call, decoded by the one codec --------------------------------------------------
    def _view(self, to: str, codec: Codec, fn: str, *args: Any) -> Any:
        """``fn(*args)`` of the contract at ``to``, encoded and decoded by ``codec`` (no web3 ABI layer)."""
        return codec.decode_output(fn, self.w3.eth.call(self._view_tx(to, codec, fn, *args), "latest"))  # type: ignore[arg-type]

    def _escrow_view(self, fn: str, *args: Any) -> Any:
        return self._view(self.deployment.escrow, escrow_codec(), fn, *args)

    # -- sending -----------------------------------------------------------------------------------
    def _send(self, call: Call) -> TxResult:
        return self.tx.send(call, before_send=self.before_send, on_sent=self.on_sent)

    def preview(self, call: Call) -> Preview:
        """Simulate and price a call without sending it (the CLI shows this before asking)."""
        return self.tx.preview(call)

    def _act(self, fn: str, *args: Any, value: int = 0) -> TxResult:
        return self._send(self._call(fn, list(args), value=value))

    def _act_on(self, fn: str, trade_id_: str, *args: Any, terms: Terms | None = None) -> TxResult:
        """``fn(terms, *args)`` on a trade; a refusal is explained from the trade (:meth:`_explain`)."""
        terms = terms if terms is not None else self.terms(trade_id_)
        try:
            return self._act(fn, terms.as_tuple(), *args)
        except ContractError as exc:
            self._explain_refusal(exc, fn, trade_id_, terms)
            raise

    def _explain_refusal(self, exc: ContractError, fn: str, trade_id_: str, terms: Terms) -> None:
        try:
            info = self.token(terms.token)
            trade = self.trade(trade_id_) if self._needs_trade(exc) else None
        except P2PEscrowError:
            return  # the refusal stands as the contract put it
        self._explain(exc, fn, terms, info, trade)

    # -- creating and funding ----------------------------------------------------------------------
    def build_terms(self, *, amount: Decimal | str | int, buyer: str | None = None, seller: str | None = None,
                    token: str | None = None, buyer_deposit: Decimal | str | int = 0,
                    seller_deposit: Decimal | str | int = 0, arbiter: str | None = None, arbiter_fee_bps: int = 0,
                    funding_window: int = DAY, release_window: int = 3 * DAY,
                    arbitration_window: int = 7 * DAY, timeout_releases: bool = False,
                    record_reputation: bool = True, terms: str | bytes | dict[str, Any] | None = None,
                    salt: int | None = None) -> Terms:
        """The terms of a new trade in which this account is the buyer (give ``seller``) or the
        seller (give ``buyer``). The platform fee in force is filled in. ``buyer_deposit`` and
        ``seller_deposit`` are in the trade's asset and units, like ``amount`` (0: none): the buyer
        pays its deposit with the price, the seller's is locked from its bond (:meth:`deposit_bond`)."""
        self._check_bounds({"arbiter": arbiter, "arbiter_fee_bps": arbiter_fee_bps, "funding_window": funding_window,
                            "release_window": release_window, "arbitration_window": arbitration_window})
        return new_terms(self.address, self.token(token), self._platform_fee(), amount=amount, buyer=buyer,
                         seller=seller, buyer_deposit=buyer_deposit, seller_deposit=seller_deposit,
                         arbiter=arbiter, arbiter_fee_bps=arbiter_fee_bps,
                         funding_window=funding_window, release_window=release_window,
                         arbitration_window=arbitration_window, timeout_releases=timeout_releases,
                         record_reputation=record_reputation, terms=terms, salt=salt)

    def _platform_fee(self) -> int:
        self._fee_seen = int(self._escrow_view("platformFeeBps"))
        return self._fee_seen

    def create(self, *, fund: bool = True, permit: bool | None = None, **terms_options: Any) -> TradeResult:
        """Create a trade (see :meth:`build_terms` for the options). As buyer, it is funded in the same
        transaction unless ``fund=False``; ERC-20 funding uses an EIP-2612 permit when the token has
        one and this account signs locally (``permit=False`` to approve instead), else an approval of
        exactly the amount.

        The platform fee is the one last read (no request per trade); if it changed since, the
        contract refuses the terms (PlatformFeeMismatch, before anything is signed) and the trade is
        created once more with the fee the contract names. The contract's constant limits (arbiter
        fee at most 20%, windows of 1 s to a year) are checked before any request (:class:`InputError`)."""
        self._check_bounds(terms_options)
        info = self.token(terms_options.get("token"))
        fee = self._fee_seen if self._fee_seen is not None else self._platform_fee()
        terms = self._terms_at(info, fee, terms_options)
        risks = self._risks(terms, info, self._listing_for(terms.token, terms.flags))  # shown once, retry or not
        try:
            return self._create(terms, fund, permit, risks)
        except ContractError as exc:
            fee = self._fee_in_force(exc)
            if fee is None:
                raise
        return self._create(self._terms_at(info, fee, terms_options), fund, permit, risks)

    def create_from_terms(self, terms: Terms, *, fund: bool = True, permit: bool | None = None) -> TradeResult:
        """Create a trade with these terms (funded as in :meth:`create`). Its risks (:meth:`risks`)
        go to ``on_risks`` before anything is sent, and come back on the result."""
        risks = self._risks(terms, self.token(terms.token), self._listing_for(terms.token, terms.flags))
        return self._create(terms, fund, permit, risks)

    def _create(self, terms: Terms, fund: bool, permit: bool | None, risks: tuple[TradeRisk, ...]) -> TradeResult:
        key = self._remember(terms)
        payment = self._payment(terms, fund)
        if payment == CREATE_ONLY:
            return TradeResult(key, self._act("create", terms.as_tuple()), risks)
        self._check_can_pay(terms)
        if payment == PAY_ETH:
            return TradeResult(key, self._act("createAndFund", terms.as_tuple(), value=self._eth_value(terms)), risks)
        return TradeResult(key, self._pay_tokens(terms, "createAndFund", [terms.as_tuple()],
                                                 "createAndFundWithPermit", permit), risks)

    def fund(self, trade_id_: str) -> TxResult:
        """Fund a trade created earlier (buyer only): the price and the buyer's deposit (ERC-20: an
        approval of exactly that first, when the allowance falls short)."""
        terms = self.terms(trade_id_)
        try:
            self._check_can_pay(terms)
            if terms.is_eth:
                return self._act("fund", terms.as_tuple(), value=self._eth_value(terms))
            return self._pay_tokens(terms, "fund", [terms.as_tuple()], None, False)
        except ContractError as exc:
            self._explain_refusal(exc, "fund", trade_id_, terms)
            raise

    def risks(self, terms: Terms | offer_core.Offer | offer_core.SignedOffer) -> tuple[TradeRisk, ...]:
        """What whoever enters a trade with these terms (or this offer) must know first: who bears
        the risk without an arbiter, and whether it records no reputation (its asset not listed, or
        the price below the listed minimum: one read of the listing, cached, when the terms ask to
        record reputation). :meth:`create` and :meth:`fill_offer` hand the same to ``on_risks``."""
        source = self._risk_source(terms)
        return self._risks_of(source, self.token(source.token), self._listing_for(source.token, source.flags))

    def _listing_for(self, token: str, flags: int) -> tuple[bool, int] | None:
        """The asset's listing when the flags ask to record reputation (cached), else None (not read)."""
        if not self._asks_to_record(flags):
            return None
        known = self._listing_known(token)
        return known if known is not None else self._learn_listing(token, self._escrow_view("reputationAssets", token))

    def _pay_tokens(self, terms: Terms, fn: str, args: list[Any], permit_fn: str | None,
                    permit: bool | None) -> TxResult:
        """Send the escrow call ``fn(*args)`` that takes the price and the buyer's deposit in tokens
        from this account: with a permit (``permit_fn``, when there is one and the token has
        EIP-2612), else with the allowance, approving exactly that first when it falls short."""
        info = self.token(terms.token)
        total = self._pays_in(terms)
        permit_arg = self._permit(terms.token, total, permit) if permit_fn else None
        if permit_fn and permit_arg is not None:
            self._permit_plan(info, total)
            return self._act(permit_fn, *args, permit_arg)
        return self._pay_with_allowance(info, total, self._call(fn, args))

    def _pay_with_allowance(self, info: TokenInfo, amount: int, call: Call) -> TxResult:
        """Send ``call``, which takes ``amount`` of ``info`` from this account, approving exactly the
        amount first when the allowance falls short. Everything that can be checked is checked before
        the approval (:meth:`_check_funding`); the plan goes to ``on_plan``."""
        allowance = self._allowance(info.address)
        checked = allowance >= amount or self._check_funding(call, info.address, amount)
        if self._approval_plan(info, amount, allowance, checked).approve_first:
            self._send(self._approve_call(info.address, amount))
        return self._send(call)

    def _allowance(self, token: str, override: dict[str, Any] | None = None) -> int:
        """The escrow's allowance from this account (under a state override, when given)."""
        tx = self._view_tx(token, erc20_codec(), "allowance", self.address, self.deployment.escrow)
        return int(erc20_codec().decode_output("allowance", self._eth_call(tx, override)))

    def _eth_call(self, tx: dict[str, Any], override: dict[str, Any] | None = None) -> bytes:
        try:
            if override is None:
                return bytes(self.w3.eth.call(tx, "latest"))  # type: ignore[arg-type]
            return bytes(self.w3.eth.call(tx, "latest", override))  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001
            raise translate(exc, self.url) from None

    def _check_funding(self, call: Call, token: str, amount: int) -> bool:
        """Simulate the funding ``call`` before the approval, the escrow given the allowance by a
        state override where the node takes one. A refusal the approval would not change raises its
        typed error (nothing sent); True when the call passes, False when the node cannot tell
        before the approval is mined (see :mod:`p2pescrow.core.funding`)."""
        override = self._allowance_override(token, amount)
        try:
            self._eth_call(self._eth_call_tx(call), override)
            return True
        except ContractError as exc:
            took = override is not None and self._allowance(token, override) == amount
            if self._refused_anyway(exc, took):
                raise
            return False
        except NetworkError:
            raise
        except P2PEscrowError:
            if override is None:
                raise
            self._overrides = False  # the node refused the override parameter: simulate without it
            return self._check_funding(call, token, amount)

    def _check_can_pay(self, terms: Terms) -> None:
        """The buyer holds the trade's tokens (price and deposit), or :class:`InsufficientFunds` before
        anything is sent. An ETH payment is the transaction's value: the transaction path checks it
        against the balance it reads anyway (in ETH, before simulating), so it is not read twice."""
        if terms.is_eth:
            return
        check_can_pay(self.token(terms.token), self._pays_in(terms), self.balance(terms.token))

    def _permit(self, token: str, amount: int, wanted: bool | None) -> tuple[int, int, bytes, bytes] | None:
        """A signed EIP-2612 permit for ``amount``, or None to approve instead. The token's
        ``nonces`` and ``eip712Domain`` are read once each: they are both the support check and the
        message's inputs."""
        if not self._may_permit(wanted):
            return None
        try:
            nonce = int(self._view(token, erc20_codec(), "nonces", self.address))
            domain = tuple(self._view(token, erc20_codec(), "eip712Domain"))
        except Exception:  # noqa: BLE001 - no EIP-2612 / ERC-5267 on this token
            self._no_permit(token, wanted)
            return None
        return self._permit_arg(domain, nonce, amount, self._now())

    # -- acting on a trade -------------------------------------------------------------------------
    def _amount(self, trade_id_: str, terms: Terms, amount: Decimal | str | int | None) -> int:
        if amount is None:
            return self._held(trade_id_)
        return self._part(amount, self.token(terms.token))

    def release(self, trade_id_: str, amount: Decimal | str | int | None = None) -> TxResult:
        """Buyer: release everything held (default) or ``amount`` to the seller."""
        terms = self.terms(trade_id_)
        return self._act_on("release", trade_id_, self._amount(trade_id_, terms, amount), terms=terms)

    def refund(self, trade_id_: str, amount: Decimal | str | int | None = None) -> TxResult:
        """Seller: refund everything held (default) or ``amount`` to the buyer."""
        terms = self.terms(trade_id_)
        return self._act_on("refund", trade_id_, self._amount(trade_id_, terms, amount), terms=terms)

    def cancel(self, trade_id_: str) -> TxResult:
        """Cancel a trade that never went live: unfunded (its creator), or funded but without the
        seller's deposit (the buyer); anyone after the funding deadline. Whatever is in goes back."""
        return self._act_on("cancel", trade_id_)

    def mark_delivered(self, trade_id_: str) -> TxResult:
        """Seller: mark delivered/paid. With an arbiter the timeout then releases, after a fresh release
        window; without one the mark is recorded but changes neither the outcome nor the deadline."""
        return self._act_on("markDelivered", trade_id_)

    def propose_settlement(self, trade_id_: str, buyer_bps: int) -> TxResult:
        """Propose a split: ``buyer_bps`` basis points of what is held to the buyer, the rest to the seller."""
        return self._act_on("proposeSettlement", trade_id_, check_bps(buyer_bps))

    def accept_settlement(self, trade_id_: str, buyer_bps: int | None = None) -> TxResult:
        """Accept the counterparty's proposal (``buyer_bps`` defaults to the one on chain)."""
        if buyer_bps is None:
            buyer_bps = self._accepted_bps(self.trade(trade_id_))
        return self._act_on("acceptSettlement", trade_id_, check_bps(buyer_bps))

    def accept(self, trade_id_: str) -> TxResult:
        """Seller: accept a trade a buyer created, before the funding deadline: its deposit is locked
        from the free bond (:meth:`deposit_bond`) and a funded trade goes live. On a live trade it only
        records that the seller entered it knowingly (which reputation needs)."""
        return self._act_on("accept", trade_id_)

    def dispute(self, trade_id_: str) -> TxResult:
        """Open a dispute (buyer or seller, before the deadline, on a trade with an arbiter)."""
        return self._act_on("dispute", trade_id_)

    def concede(self, trade_id_: str) -> TxResult:
        """Buyer or seller, in a dispute: end it by giving everything held to the other side. The
        conceder forfeits its deposit (what losing the ruling would cost); the arbiter gets half its fee."""
        return self._act_on("concede", trade_id_)

    def rule(self, trade_id_: str, buyer_bps: int) -> TxResult:
        """Arbiter: rule ``buyer_bps`` basis points (after the arbiter's fee) to the buyer."""
        return self._act_on("rule", trade_id_, check_bps(buyer_bps))

    def timeout(self, trade_id_: str) -> TxResult:
        """Anyone, from the deadline on: apply the timeout outcome fixed at creation."""
        return self._act_on("timeout", trade_id_)

    def resolve_expired_dispute(self, trade_id_: str) -> TxResult:
        """Anyone, from the arbitration deadline on: end a dispute the arbiter did not rule (50/50)."""
        return self._act_on("resolveExpiredDispute", trade_id_)

    def submit_evidence(self, trade_id_: str, uri: str, content_hash: bytes | str | None = None) -> TxResult:
        """Attach evidence (a URI and the hash of its content) to a trade."""
        digest = self._evidence_digest(uri, content_hash)
        return self._act_on("submitEvidence", trade_id_, digest, uri)

    def withdraw(self, token: str | None = None, to: str | None = None) -> TxResult:
        """Withdraw this account's credits (payouts that could not be delivered) to ``to``."""
        return self._act("withdraw", self.token(token).address, self._who(to))

    def sweep_fees(self, token: str | None = None) -> TxResult:
        """Pay the platform fees earned in ``token`` (default ETH) to the fee recipient (anyone may
        call): those of partial releases and those kept in the slots of ended trades, found from the
        TradeCreated logs (the trades in ``token``, then their slots): at most :data:`SWEEP_BATCH`
        trades per transaction (call again for the rest)."""
        info = self.token(token)
        ended = self._unswept(self.trades(token=info.address))
        return self._act("sweepFees", info.address, [terms.as_tuple() for terms in ended[:SWEEP_BATCH]])

    # -- bonds -------------------------------------------------------------------------------------
    def deposit_bond(self, amount: Decimal | str | int, token: str | None = None) -> TxResult:
        """Seller: add ``amount`` (token units) to this account's bond in ``token`` (default ETH), from
        which its trades lock their seller deposits. ETH is the value; a token is approved first
        (exactly the amount, when the allowance falls short), as :meth:`create` does."""
        info = self.token(token)
        units = self._part(amount, info)
        if info.is_eth:
            return self._act("depositBond", info.address, units, value=units)
        check_can_pay(info, units, self.balance(info.address))
        return self._pay_with_allowance(info, units, self._call("depositBond", [info.address, units]))

    def withdraw_bond(self, amount: Decimal | str | int, token: str | None = None, to: str | None = None) -> TxResult:
        """Seller: take ``amount`` (token units) of the free bond (what no trade has locked) to ``to``."""
        info = self.token(token)
        return self._act("withdrawBond", info.address, self._part(amount, info), self._who(to))

    def bond(self, token: str | None = None, account: str | None = None) -> int:
        """The free bond of ``account`` (default: this one) in ``token`` (default ETH), base units."""
        return int(self._escrow_view("bonds", self._who(account), self.token(token).address))

    def rate(self, trade_id_: str, score: int, comment: str | bytes | None = None) -> TxResult:
        """Rate the counterparty 1-5 of an ended trade that records reputation (losers too; once per
        party; the comment is stored as its hash). Refusals say which cause applies (``NotEnded``,
        ``NotRecorded``, ``AlreadyRated``)."""
        self._check_score(score)
        return self._act_on("rate", trade_id_, score, bytes32(comment))

    # -- owner settings ----------------------------------------------------------------------------
    def set_platform_fee(self, bps: int) -> TxResult:
        """Owner: the platform fee of new trades, in basis points (at most the contract's 5%)."""
        return self._act("setPlatformFee", check_platform_fee(bps))

    def set_fee_recipient(self, recipient: str) -> TxResult:
        """Owner: where platform fees are paid."""
        return self._act("setFeeRecipient", checksum(recipient))

    def set_reputation_asset(self, token: str | None, *, listed: bool = True,
                             min_amount: Decimal | str | int) -> TxResult:
        """Owner: list (or delist, ``listed=False``) ``token`` (None: ETH) as a reputation asset, trades
        of at least ``min_amount`` (token units) recording reputation. Applies to trades created from
        now on; records already made stay."""
        info = self.token(token)
        minimum = self._units_or_zero(min_amount, info)
        result = self._act("setReputationAsset", info.address, listed, minimum)
        self._learn_listing(info.address, (listed, minimum))
        return result

    def pause(self) -> TxResult:
        """Owner: stop new money (create, fund, accept, fill, bond top-ups); every way out stays open."""
        return self._act("pause")

    def unpause(self) -> TxResult:
        """Owner: end a pause."""
        return self._act("unpause")

    # -- signed offers -----------------------------------------------------------------------------
    def create_offer(self, *, amount: Decimal | str | int, token: str | None = None,
                     buyer_deposit: Decimal | str | int = 0, seller_deposit: Decimal | str | int = 0,
                     buyer: str | None = None, arbiter: str | None = None, arbiter_fee_bps: int = 0,
                     release_window: int = 3 * DAY, arbitration_window: int = 7 * DAY, timeout_releases: bool = False,
                     record_reputation: bool = True, terms: str | bytes | dict[str, Any] | None = None,
                     expires_in: int = DAY, nonce: int | None = None) -> offer_core.SignedOffer:
        """Sign an offer locally as the seller (no transaction, no gas). Needs a local account. A
        ``seller_deposit`` is locked from this account's free bond when a buyer fills the offer (fill
        it beyond the bond and the fill is refused). Its risks go to ``on_risks`` first."""
        self._check_local_signer()
        check_term_bounds(arbiter=arbiter, arbiter_fee_bps=arbiter_fee_bps, release_window=release_window,
                          arbitration_window=arbitration_window)
        info = self.token(token)
        signed = self._offer(info, self._platform_fee(), self._now(), amount=amount, buyer_deposit=buyer_deposit,
                             seller_deposit=seller_deposit, buyer=buyer, arbiter=arbiter,
                             arbiter_fee_bps=arbiter_fee_bps, release_window=release_window,
                             arbitration_window=arbitration_window, timeout_releases=timeout_releases,
                             record_reputation=record_reputation, terms=terms, expires_in=expires_in, nonce=nonce)
        self._risks(signed.offer, info, self._listing_for(info.address, signed.offer.flags))
        return signed

    def verify_offer(self, signed: offer_core.SignedOffer) -> None:
        """Check an offer before spending gas: chain, contract, signer, expiry, nonce, fee, buyer.
        Raises :class:`~p2pescrow.core.offers.OfferError` saying what is wrong."""
        check_offer_target(signed, self.deployment.chain_id, self.deployment.escrow)
        offer = signed.offer
        check_offer_state(
            signed, contract_digest=self._escrow_view("offerDigest", offer.as_tuple()), latest_time=self._now(),
            nonce_used=bool(self._escrow_view("isNonceUsed", offer.seller, offer.nonce)),
            platform_fee_bps=self._platform_fee(), buyer=self.address)
        if offer.sellerDeposit:
            self._bond_short(offer, self.bond(offer.token, offer.seller), self.token(offer.token))

    def fill_offer(self, signed: offer_core.SignedOffer, *, permit: bool | None = None) -> TradeResult:
        """Verify, then fill an offer as the buyer: creates and funds the trade in one transaction."""
        self.verify_offer(signed)
        offer = signed.offer
        terms = offer_terms(offer, self.address)
        key = self._remember(terms)
        risks = self._risks(terms, self.token(terms.token), self._listing_for(terms.token, terms.flags))
        self._check_can_pay(terms)
        if terms.is_eth:
            return TradeResult(key, self._act("fillOffer", offer.as_tuple(), signed.signature,
                                              value=self._eth_value(terms)), risks)
        return TradeResult(key, self._pay_tokens(terms, "fillOffer", [offer.as_tuple(), signed.signature],
                                                 "fillOfferWithPermit", permit), risks)

    def revoke_offer(self, nonce: int) -> TxResult:
        """Revoke an offer nonce: no offer signed with it can be filled any more."""
        return self._act("revokeOffer", nonce)

    def publish_offer(self, signed: offer_core.SignedOffer, document: bytes | str | dict[str, Any]) -> TxResult:
        """Put a signed offer and its terms document on the offer board (one event, no storage).
        ``document`` (bytes, text or a dict) is canonicalised (RFC 8785); its keccak256 must be the
        offer's ``termsHash`` and the offer must be this escrow's, signed by its seller: checked before
        sending (:class:`~p2pescrow.core.offers.OfferError`)."""
        canonical = self._publishable(signed, document)
        return self._act("publishOffer", signed.offer.as_tuple(), signed.signature, canonical)

    # -- reads -------------------------------------------------------------------------------------
    def _now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def now(self) -> datetime:
        """The chain's time (the latest block's timestamp): what the contract compares deadlines
        with. It runs ahead of the wall clock on dev chains after :meth:`sleep`."""
        return datetime.fromtimestamp(self._now(), UTC)

    def credits(self, token: str | None = None, account: str | None = None) -> int:
        """Payouts credited to ``account`` (default: this one) in ``token`` (default ETH) because
        they could not be delivered; :meth:`withdraw` pays them out. Base units."""
        return int(self._escrow_view("credits", self._who(account), self.token(token).address))

    def _held(self, trade_id_: str) -> int:
        return self._slot(trade_id_)[0]

    def _slot(self, trade_id_: str) -> tuple[int, ...]:
        return slot_from_output(self._escrow_view("escrowOf", normalise_id(trade_id_)))

    def terms(self, trade_id_: str) -> Terms:
        """The terms of a trade, from its TradeCreated event (cached: they never change)."""
        key = normalise_id(trade_id_)
        if key not in self._terms_cache:
            for log in get_logs(self.w3, self._terms_query(key), self.deployment.block, int(self.w3.eth.block_number)):
                if self._learn_terms(log) == key:
                    break
            else:
                raise self._no_trade(key)
        return self._terms_cache[key]

    def trade(self, trade_id_: str) -> Trade:
        """A trade's terms, state, amounts, deadline and what each party may do next."""
        terms = self.terms(trade_id_)
        return self._trade(terms, self.token(terms.token), self._slot(trade_id_), self._now())

    def trades(self, *, party: str | None = None, state: TradeState | None = None,
               token: str | None = None) -> list[Trade]:
        """Trades of this escrow, filtered by party (buyer or seller), state and token."""
        head = int(self.w3.eth.block_number)
        ids: dict[str, None] = {}
        for query in self._trades_queries(party):
            for log in get_logs(self.w3, query, self.deployment.block, head):
                key = self._learn_terms(log)
                if key is not None:
                    ids[key] = None
        token_address = self.token(token).address if token else None
        now = self._now()  # one chain time for all of them, not a block read per trade
        result = []
        for key in ids:
            if not self._keep(key, token_address):
                continue  # the terms came with the event: no need to read this trade's state
            terms = self._terms_cache[key]
            trade = self._trade(terms, self.token(terms.token), self._slot(key), now)
            if state is None or trade.state is state:
                result.append(trade)
        return result

    def history(self, trade_id_: str) -> list[HistoryEntry]:
        """Every event of a trade (escrow and reputation), oldest first."""
        key = normalise_id(trade_id_)
        head = int(self.w3.eth.block_number)
        entries: list[HistoryEntry] = []
        for contract, query in self._history_queries(key):
            for log in get_logs(self.w3, query, self.deployment.block, head):
                entry = self._history_entry(log, contract)
                if entry is not None:
                    entries.append(entry)
        entries.sort(key=lambda e: e.block)
        return entries

    def watch(self, *, from_block: int | None = None, poll_interval: float = 1.0,
              stop_after: float | None = None) -> Iterator[Event]:
        """Yield new escrow and reputation events as blocks arrive (polling). "New" means after the
        block that is the head when ``watch`` is called (not when iteration starts)."""
        start = int(self.w3.eth.block_number) + 1 if from_block is None else from_block
        ends = None if stop_after is None else time.monotonic() + stop_after
        return self._watch(start, ends, poll_interval)

    def _watch(self, start: int, ends: float | None, poll_interval: float) -> Iterator[Event]:
        while True:  # poll, then check the time: the last poll covers everything up to the end
            head = int(self.w3.eth.block_number)
            if head >= start:
                for contract in (self.escrow, self.reputation_contract):
                    for log in get_logs(self.w3, {"address": contract.address}, start, head):
                        event = self._watched(log, contract)
                        if event is not None:
                            yield event
                start = head + 1
            if ends is not None and time.monotonic() >= ends:
                return
            time.sleep(poll_interval)

    def reputation_assets(self) -> dict[str, tuple[bool, int]]:
        """The escrow's reputation assets, ``token -> (listed, minimum in base units)`` (ETH is the zero
        address), from the ReputationAssetSet events: delisted ones included (their past records stay)."""
        head = int(self.w3.eth.block_number)
        return self._learn_listings(list(get_logs(self.w3, self._listing_logs_query(), self.deployment.block, head)))

    def reputation(self, address: str) -> ReputationRecord:
        """An address's records per reputation asset and role (outcomes, volume, value-weighted
        ratings), with the listed minimums that weigh them in :meth:`ReputationRecord.score`."""
        who = checksum(address)
        assets = self.reputation_assets()
        outputs = {(asset, role): self._view(self.deployment.reputation, reputation_codec(), "recordOf", who, asset,
                                             int(role))
                   for asset in assets for role in ReputationRole}
        return self._reputation_record(who, assets, outputs)

    def due(self, account: str | None = None) -> list[DueAction]:
        """The trades where ``account`` (default: this one) must act before a deadline, soonest first,
        each with what it loses if it does not (:func:`~p2pescrow.clients._base.due_actions`): as buyer,
        seller or arbiter."""
        who = self._who(account)
        head = int(self.w3.eth.block_number)
        ids: dict[str, None] = {}
        for query in self._trades_queries(None):  # the arbiter is not an indexed topic: every trade
            for log in get_logs(self.w3, query, self.deployment.block, head):
                key = self._learn_terms(log)
                if key is not None and self._involves(key, who):
                    ids[key] = None
        now = self._now()
        trades = [self._trade(self._terms_cache[key], self.token(self._terms_cache[key].token), self._slot(key), now)
                  for key in ids]
        return self._due(trades, who, now)

    # -- deploying -----------------------------------------------------------------------------------
    @staticmethod
    def deploy(w3: Web3, account: Signer, *, fee_recipient: str | None = None, platform_fee_bps: int = 0,
               owner: str | None = None, registry: Registry | None = None, url: str = "") -> Deployment:
        """Deploy escrow + reputation with ``account`` and record the deployment in the registry.

        Recoverable: progress is recorded step by step, and a deploy that died half-way is continued
        (not restarted) by calling this again (see :func:`p2pescrow.deployments.deploy`)."""
        return deploy_contracts(Transactor(w3, account, url=url), fee_recipient=fee_recipient,
                                platform_fee_bps=platform_fee_bps, owner=owner,
                                registry=registry or Registry())


__all__ = ["EscrowClient", "HistoryEntry", "TradeResult"]
