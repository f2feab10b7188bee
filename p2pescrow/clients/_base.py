"""What the sync and the asyncio client share: everything that does no I/O.

:class:`ClientBase` holds the state of a client (deployment, contract objects, caches, hooks) and
every step of an operation that is not a request: which contract call an operation sends, the
arguments built from the caller's input, the log queries a read needs, and the decisions taken on
values already read (in :mod:`p2pescrow.core.checks`). :class:`~.sync.EscrowClient` and
:class:`~.aio.AsyncEscrowClient` subclass it and only read and send, one plainly, one awaited
(the way web3.py's ``BaseContract`` carries what ``Contract`` and ``AsyncContract`` only wrap).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from eth_utils import keccak

from .. import bindings
from ..core import offers as offer_core
from ..core import queries
from ..core.codec import Codec, erc20_codec, escrow_codec
from ..core.funding import ALLOWANCE, APPROVE, PERMIT, FundingPlan, allowance_override, refused_anyway
from ..core.hints import (
    check_term_bounds,
    invalid_part_message,
    not_rateable_hint,
    state_hint,
    unauthorized_hint,
)
from ..core.permit import PERMIT_LIFETIME, sign_permit
from ..core.terms import DAY, bytes32, checksum, new_terms
from ..core.trades import trade_from_slot, trade_id
from ..deployments import Deployment
from ..errors import ContractError, InputError, P2PEscrowError, error_class
from ..models import (
    ETH_TOKEN,
    FLAG_RECORD_REPUTATION,
    FLAG_TIMEOUT_RELEASES,
    ZERO_ADDRESS,
    Terms,
    TokenInfo,
    Trade,
    to_base_units,
)
from ..transport._base import Call, Preview, Signer, TxResult

#: How a buyer pays when creating or filling: nothing (create only), ETH as the value, tokens.
CREATE_ONLY, PAY_ETH, PAY_TOKEN = "create", "eth", "token"


@dataclass(frozen=True)
class TradeResult:
    """A transaction that created a trade: its id and the mined transaction."""

    trade_id: str
    tx: TxResult


@dataclass(frozen=True)
class HistoryEntry:
    """One event in a trade's history."""

    block: int
    tx_hash: str
    name: str
    args: dict[str, Any]


class ClientBase:
    """State and I/O-free steps of a client of one chain's p2pescrow deployment, as one account."""

    w3: Any
    tx: Any  # the transaction path: a Transactor or an AsyncTransactor

    def _setup(self, w3: Any, deployment: Deployment, *, url: str, dev_accounts: list[str] | None,
               chain: Any) -> None:
        self.w3 = w3
        self.deployment = deployment
        self.url = url
        self.escrow = bindings.escrow_contract(w3, deployment.escrow)
        self.reputation_contract = bindings.reputation_contract(w3, deployment.reputation)
        self.dev_accounts = dev_accounts or []
        self._chain = chain  # the embedded chain (EthereumTester), if any
        #: Hooks for interactive front ends (the CLI): ``before_send(call, preview)`` runs once a
        #: call is simulated and priced, before signing (raise to stop); ``on_sent(tx_hash)`` once
        #: the node took it.
        self.before_send: Callable[[Call, Preview], None] | None = None
        self.on_sent: Callable[[str], None] | None = None
        #: ``on_plan(plan)`` runs once a token payment is decided and checked, before anything is
        #: sent (the approval included): a :class:`~p2pescrow.core.funding.FundingPlan` saying
        #: whether an approval goes first (the CLI's preview says so; raise to stop).
        self.on_plan: Callable[[FundingPlan], None] | None = None
        #: Whether the node takes eth_call state overrides (the embedded chain does not; a node that
        #: refuses the parameter once is not asked again).
        self._overrides = chain is None
        self._terms_cache: dict[str, Terms] = {}
        self._tokens: dict[str, TokenInfo] = {ZERO_ADDRESS: ETH_TOKEN}

    def _share_caches(self, other: ClientBase) -> None:
        """``as_account`` clones share what never changes: terms and token metadata."""
        other._terms_cache = self._terms_cache
        other._tokens = self._tokens

    def _clone_options(self) -> dict[str, Any]:
        return {"url": self.url, "timeout": self.tx.timeout, "confirmations": self.tx.confirmations,
                "poll_interval": self.tx.poll_interval, "dev_accounts": self.dev_accounts, "chain": self._chain}

    @property
    def address(self) -> str:
        """The account this client acts as."""
        return str(self.tx.address)

    # -- connecting: decisions on what the node said ------------------------------------------
    @staticmethod
    def _default_signer(account: Signer | None, node_accounts: list[str]) -> Signer:
        signer = account if account is not None else (node_accounts[0] if node_accounts else None)
        if signer is None:
            raise P2PEscrowError("no account given and the node manages none")
        return signer

    # -- tokens ----------------------------------------------------------------------------------
    def _who(self, account: str | None) -> str:
        return checksum(account) if account else self.address

    # -- calls -------------------------------------------------------------------------------------
    def _call(self, fn: str, args: list[Any], *, value: int = 0, description: str = "") -> Call:
        """A call to the escrow, encoded by the codec; its events decoded with the escrow's and the
        reputation contract's ABIs."""
        return Call(self.deployment.escrow, escrow_codec().encode_call(fn, *args), value,
                    description or fn, (self.escrow, self.reputation_contract))

    def _approve_call(self, token: str, amount: int) -> Call:
        """Approve exactly ``amount`` to the escrow, never more."""
        return Call(token, erc20_codec().encode_call("approve", self.deployment.escrow, amount),
                    description="approve")

    @staticmethod
    def _view_tx(to: str, codec: Codec, fn: str, *args: Any) -> dict[str, Any]:
        """The eth_call of a view: ``fn(*args)`` on the contract at ``to``."""
        return {"to": to, "data": codec.encode_call(fn, *args)}

    #: The platform fee this client last read: :meth:`create` builds terms with it (no request per
    #: trade); the contract refuses terms with another fee (PlatformFeeMismatch, nothing sent), which
    #: tells the fee in force, and the trade is created again with it.
    _fee_seen: int | None = None

    def _terms_at(self, info: TokenInfo, fee: int, options: dict[str, Any]) -> Terms:
        """``create``'s terms (options as ``build_terms``) at ``fee``."""
        return new_terms(self.address, info, fee, **{k: v for k, v in options.items() if k != "token"})

    def _fee_in_force(self, exc: BaseException) -> int | None:
        """The fee the contract named if ``exc`` is its PlatformFeeMismatch (remembered), else None."""
        if not isinstance(exc, error_class("PlatformFeeMismatch")):
            return None
        self._fee_seen = int(exc.current)  # type: ignore[attr-defined]
        return self._fee_seen

    def _remember(self, terms: Terms) -> str:
        key = trade_id(terms)
        self._terms_cache[key] = terms
        return key

    def _payment(self, terms: Terms, fund: bool = True) -> str:
        """How this account pays when sending ``terms``: not at all (it is the seller, or does not
        fund now), ETH as the transaction's value, or tokens (a permit or an approval first)."""
        if terms.buyer != self.address or not fund:
            return CREATE_ONLY
        return PAY_ETH if terms.is_eth else PAY_TOKEN

    def _may_permit(self, wanted: bool | None) -> bool:
        """Whether to try a permit: not when refused, nor for a node-managed account (it cannot
        sign typed data here)."""
        return wanted is not False and not isinstance(self.tx.signer, str)

    @staticmethod
    def _no_permit(token: str, wanted: bool | None) -> bool:
        """The token answered neither ``nonces`` nor ``eip712Domain``: approve instead, unless a
        permit was asked for."""
        if wanted:
            raise InputError(f"token {token} does not support EIP-2612 permits")
        return False

    # -- token payments: checked before the approval ------------------------------------------------
    def _planned(self, info: TokenInfo, amount: int, allowance: int, method: str, checked: bool) -> FundingPlan:
        plan = FundingPlan(info, amount, allowance, method, checked)
        if self.on_plan is not None:
            self.on_plan(plan)
        return plan

    def _permit_plan(self, info: TokenInfo, amount: int) -> FundingPlan:
        return self._planned(info, amount, 0, PERMIT, True)

    def _approval_plan(self, info: TokenInfo, amount: int, allowance: int, checked: bool) -> FundingPlan:
        return self._planned(info, amount, allowance, ALLOWANCE if allowance >= amount else APPROVE, checked)

    def _eth_call_tx(self, call: Call) -> dict[str, Any]:
        return {"from": self.address, "to": call.to, "data": call.data, "value": call.value}

    def _allowance_override(self, token: str, amount: int) -> dict[str, Any] | None:
        """The state override giving the escrow ``amount`` of this account's ``token``, or None
        when the node takes no overrides."""
        return allowance_override(token, self.address, self.deployment.escrow, amount) if self._overrides else None

    @staticmethod
    def _refused_anyway(exc: BaseException, override_took: bool) -> bool:
        """A funding call simulated before the approval reverted with ``exc``: whether the approval
        would not change that (see :func:`p2pescrow.core.funding.refused_anyway`)."""
        return refused_anyway(type(exc).__name__, override_took)

    # -- refusals explained, bounds known without asking ----------------------------------------------
    @staticmethod
    def _check_bounds(options: dict[str, Any]) -> None:
        """A create call's options against the contract's constant limits, before any request."""
        check_term_bounds(**{"funding_window": DAY, **options})

    #: Refusals explained from the trade as it is now (one more read, on failure only).
    _ABOUT_THE_TRADE_NOW = frozenset({"NotRateable", "WrongState", "DeadlinePassed", "DeadlineNotReached"})

    @classmethod
    def _needs_trade(cls, exc: ContractError) -> bool:
        """Whether explaining ``exc`` needs the trade as it is now."""
        return type(exc).__name__ in cls._ABOUT_THE_TRADE_NOW

    def _explain(self, exc: ContractError, fn: str, terms: Terms, info: TokenInfo, trade: Trade | None) -> None:
        """Add to a refusal of ``fn`` on the trade with ``terms`` what it means here: who may act
        (``Unauthorized``), the amounts in token units (``InvalidPart``), the cause (``NotRateable``),
        the trade's state and who may do what now (``WrongState`` and the deadline refusals)."""
        name = type(exc).__name__
        if name == "Unauthorized":
            exc.explain(unauthorized_hint(fn, terms, self.address))
        elif name == "InvalidPart":
            message, hint = invalid_part_message(int(exc.requested), int(exc.held), info,  # type: ignore[attr-defined]
                                                 exc.notice)
            exc.explain(hint, message)
        elif name == "NotRateable" and trade is not None:
            exc.explain(not_rateable_hint(trade, self.address))
        elif trade is not None:
            exc.explain(state_hint(trade))

    def _permit_arg(self, domain: tuple[Any, ...], nonce: int, amount: int, now: int) -> tuple[int, int, bytes, bytes]:
        return sign_permit(self.tx.signer, domain, owner=self.address, spender=self.deployment.escrow,
                           value=amount, nonce=nonce, deadline=now + PERMIT_LIFETIME)

    def _part(self, amount: Decimal | str | int, info: TokenInfo) -> int:
        return to_base_units(amount, info.decimals)

    @staticmethod
    def _accepted_bps(trade: Trade) -> int:
        if trade.settlement_bps is None:
            raise InputError("there is no settlement proposal to accept")
        return int(trade.settlement_bps)

    @staticmethod
    def _check_score(score: int) -> None:
        if not 1 <= score <= 5:
            raise InputError(f"a rating is 1 to 5, not {score}")

    @staticmethod
    def _evidence_digest(uri: str, content_hash: bytes | str | None) -> bytes:
        return bytes32(content_hash) if content_hash is not None else keccak(text=uri)

    def _offer(self, info: TokenInfo, platform_fee_bps: int, now: int, *, amount: Decimal | str | int,
               buyer: str | None, arbiter: str | None, arbiter_fee_bps: int, release_window: int,
               arbitration_window: int, timeout_releases: bool, record_reputation: bool,
               terms: str | bytes | None, expires_in: int, nonce: int | None) -> offer_core.SignedOffer:
        """A signed offer of this account as the seller (local signing, no I/O)."""
        offer = offer_core.Offer(
            seller=self.address, buyer=checksum(buyer) if buyer else ZERO_ADDRESS, token=info.address,
            arbiter=checksum(arbiter) if arbiter else ZERO_ADDRESS,
            amount=to_base_units(amount, info.decimals), arbiterFeeBps=arbiter_fee_bps,
            platformFeeBps=platform_fee_bps, releaseWindow=release_window, arbitrationWindow=arbitration_window,
            flags=(FLAG_TIMEOUT_RELEASES if timeout_releases else 0)
            | (FLAG_RECORD_REPUTATION if record_reputation else 0),
            termsHash=bytes32(terms), nonce=nonce if nonce is not None else secrets.randbits(64),
            expiry=now + expires_in)
        return offer_core.sign_offer(offer, self.deployment.chain_id, self.deployment.escrow, self.tx.signer)

    def _check_local_signer(self) -> None:
        if isinstance(self.tx.signer, str):
            raise InputError("signing offers needs a local account (key or keystore), not a node account")

    # -- reads: queries and decoding ---------------------------------------------------------------
    def _terms_query(self, key: str) -> dict[str, Any]:
        return queries.terms_query(self.deployment.escrow, key)

    def _no_trade(self, key: str) -> InputError:
        return queries.no_trade(self.deployment.chain_id, key)

    def _learn_terms(self, log: Any) -> str | None:
        """Cache the terms a TradeCreated ``log`` carries; its trade id (None: not TradeCreated)."""
        found = bindings.trade_created(log, self.escrow.abi)
        if found is None:
            return None
        self._terms_cache[found[0]] = found[1]
        return found[0]

    def _trades_queries(self, party: str | None) -> list[dict[str, Any]]:
        """The TradeCreated log queries of :meth:`trades`: all, or the party as buyer and as seller."""
        return queries.trades_queries(self.deployment.escrow, party)

    def _history_queries(self, key: str) -> list[tuple[Any, dict[str, Any]]]:
        """(contract, log query) pairs of :meth:`history`: the escrow's events with the id first,
        the reputation's Rated (id first) and OutcomeRecorded (id second)."""
        return [(contract, {"address": contract.address, "topics": topics})
                for contract, topics in ((self.escrow, [None, key]), (self.reputation_contract, [None, None, key]),
                                         (self.reputation_contract, [None, key]))]

    @staticmethod
    def _history_entry(log: Any, contract: Any) -> HistoryEntry | None:
        event = bindings.decode_log(log, contract.abi)
        if event is None:
            return None
        return HistoryEntry(int(log["blockNumber"]), "0x" + bytes(log["transactionHash"]).hex(), event.name,
                            event.args)

    @staticmethod
    def _watched(log: Any, contract: Any) -> bindings.Event | None:
        return bindings.decode_log(log, contract.abi)

    def _keep(self, key: str, token_address: str | None) -> bool:
        """:meth:`trades` with a token filter: the terms came with the event, no state read needed."""
        return token_address is None or self._terms_cache[key].token == token_address

    @staticmethod
    def _trade(terms: Terms, info: TokenInfo, slot: tuple[int, ...], now: int) -> Trade:
        return trade_from_slot(terms, info, slot, now)  # type: ignore[arg-type]


__all__ = ["DAY", "ClientBase", "HistoryEntry", "TradeResult"]
