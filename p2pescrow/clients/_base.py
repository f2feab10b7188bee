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
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from eth_utils import keccak

from .. import bindings
from ..core import offers as offer_core
from ..core import queries
from ..core.checks import check_offer_target
from ..core.codec import Codec, erc20_codec, escrow_codec, reputation_from_output
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
from ..core.trades import split, trade_from_slot, trade_id
from ..deployments import Deployment
from ..errors import ContractError, InputError, P2PEscrowError, error_class
from ..models import (
    ETH_TOKEN,
    FLAG_RECORD_REPUTATION,
    FLAG_TIMEOUT_RELEASES,
    ZERO_ADDRESS,
    ReputationRecord,
    ReputationRole,
    Role,
    Terms,
    TokenInfo,
    Trade,
    TradeState,
    to_base_units,
)
from ..transport._base import Call, Preview, Signer, TxResult

#: How a buyer pays when creating or filling: nothing (create only), ETH as the value, tokens.
CREATE_ONLY, PAY_ETH, PAY_TOKEN = "create", "eth", "token"

#: The most ended trades one ``sweep_fees`` transaction collects (about 5,000 gas each: well inside a
#: block); what is left is swept by calling again.
SWEEP_BATCH = 200


#: The kinds of :class:`TradeRisk`.
SELLER_BEARS_RISK = "no-arbiter-refund-on-timeout"
BUYER_BEARS_RISK = "no-arbiter-release-on-timeout"
NO_REPUTATION = "no-reputation"


@dataclass(frozen=True)
class TradeRisk:
    """A fact about a trade's terms that whoever enters it must know first: who bears the risk of a
    trade without an arbiter, or that the trade will record no reputation. ``str()`` is the sentence
    to show (the CLI prints them before asking to confirm)."""

    kind: str
    message: str

    def __str__(self) -> str:
        return self.message


def trade_risks(*, has_arbiter: bool, timeout_releases: bool, record_reputation: bool, token: TokenInfo,
                amount: int, listing: tuple[bool, int] | None) -> tuple[TradeRisk, ...]:
    """The :class:`TradeRisk` of terms with these fields (no I/O). ``listing`` is the asset's
    ``(listed, minimum)`` as the escrow has it (read only when the terms ask to record reputation)."""
    risks = []
    if not has_arbiter and timeout_releases:
        risks.append(TradeRisk(BUYER_BEARS_RISK, (
            "no arbiter, and the timeout releases to the seller: the buyer bears the risk of a seller who never "
            "delivers (no one can dispute; at the deadline the seller is paid whatever happened)")))
    elif not has_arbiter:
        risks.append(TradeRisk(SELLER_BEARS_RISK, (
            "no arbiter, and the timeout refunds the buyer: the seller bears the risk of a buyer who keeps the "
            "goods (no one can dispute, and marking delivery does not change the outcome: at the deadline the "
            "buyer gets its money back unless it released)")))
    if record_reputation and listing is not None:
        listed, minimum = listing
        if not listed:
            risks.append(TradeRisk(NO_REPUTATION, (
                f"{token.symbol} is not a reputation asset of this escrow: the trade records no reputation "
                "and cannot be rated")))
        elif amount < minimum:
            risks.append(TradeRisk(NO_REPUTATION, (
                f"{token.human(amount)} {token.symbol} is below the {token.human(minimum)} {token.symbol} a "
                "trade needs to count for reputation: the trade records no reputation and cannot be rated")))
    return tuple(risks)


@dataclass(frozen=True)
class TradeResult:
    """A transaction that created a trade: its id, the mined transaction, and the risks its terms
    carried (the ones :attr:`ClientBase.on_risks` was shown before sending)."""

    trade_id: str
    tx: TxResult
    risks: tuple[TradeRisk, ...] = ()


@dataclass(frozen=True)
class DueAction:
    """A trade on which an account must act before a deadline, and what it loses if it does not:
    ``amount_lost`` of the price (what the timeout pays away from it, or the arbiter's fee) and
    ``deposit_lost`` (the deposit it forfeits), both in base units of the trade's asset."""

    trade: Trade
    role: Role
    actions: tuple[str, ...]
    deadline: datetime
    consequence: str
    amount_lost: int = 0
    deposit_lost: int = 0

    @property
    def trade_id(self) -> str:
        return self.trade.id

    @property
    def lost(self) -> int:
        """Everything at stake, base units: the amount and the deposit."""
        return self.amount_lost + self.deposit_lost


def due_actions(trade: Trade, account: str, now: int) -> list[DueAction]:
    """What ``account`` must do on ``trade`` before its deadline (no I/O): an empty list when nothing
    (not its trade, no deadline running, the deadline already passed, or nothing it does changes the
    outcome). The rules of the contract:

    - waiting for funding: the buyer funds, and a seller whose deposit the terms name accepts (locks
      it), or anyone may cancel the trade after the deadline (nothing is lost but the trade);
    - waiting for the seller's deposit: the seller accepts, or the buyer may cancel (at once), anyone
      after the deadline;
    - live, with an arbiter: the side the timeout rules against acts (the buyer releases or disputes
      when the timeout would release; the seller marks delivery or disputes when it would refund) or
      the timeout pays the price to the other side and forfeits its deposit; without an arbiter the
      outcome was fixed at creation and both deposits go back: nothing is due;
    - disputed: the arbiter rules, or anyone ends it 50/50 and the arbiter's fee is lost.
    """
    terms, token = trade.terms, trade.token
    if trade.deadline is None or now >= int(trade.deadline.timestamp()):
        return []
    when = trade.deadline
    held = f"{token.human(trade.held)} {token.symbol}"
    out: list[DueAction] = []
    state = trade.state
    if state is TradeState.AWAITING_FUNDING:
        if account == terms.buyer:
            out.append(DueAction(trade, Role.BUYER, ("fund",), when,
                                 "after the funding deadline anyone may cancel the trade"))
        if account == terms.seller and terms.seller_deposit and not trade.seller_deposited:
            out.append(DueAction(trade, Role.SELLER, ("accept",), when,
                                 "without your deposit the trade never goes live: anyone may cancel it after the "
                                 "funding deadline"))
    elif state is TradeState.AWAITING_DEPOSIT:
        if account == terms.seller:
            out.append(DueAction(trade, Role.SELLER, ("accept",), when,
                                 "the buyer funded and waits for your deposit: it may cancel at any time, anyone "
                                 "after the funding deadline, and the sale is lost"))
    elif state is TradeState.FUNDED and terms.has_arbiter:
        if terms.timeout_releases or trade.delivery_marked:
            if account == terms.buyer:
                out.append(DueAction(trade, Role.BUYER, ("release", "dispute"), when,
                                     f"the timeout pays the seller {held} and your deposit", trade.held,
                                     terms.buyer_deposit))
        elif account == terms.seller:
            out.append(DueAction(trade, Role.SELLER, ("mark_delivered", "dispute"), when,
                                 f"the timeout refunds the buyer {held} and gives it your deposit", trade.held,
                                 terms.seller_deposit))
    elif state is TradeState.DISPUTED and account == terms.arbiter:
        fee = split(trade.held, 0, terms.arbiter_fee_bps)["arbiter_fee"]
        out.append(DueAction(trade, Role.ARBITER, ("rule",), when,
                             "after the arbitration deadline anyone may end the dispute 50/50, and you get no fee",
                             fee, 0))
    return out


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
        #: ``on_risks(risks)`` runs before a trade is created, an offer filled or signed, when its
        #: terms carry a :class:`TradeRisk` (no arbiter; no reputation recorded): the CLI prints them
        #: before asking to confirm (raise to stop). They are on the :class:`TradeResult` too.
        self.on_risks: Callable[[tuple[TradeRisk, ...]], None] | None = None
        #: Whether the node takes eth_call state overrides (the embedded chain does not; a node that
        #: refuses the parameter once is not asked again).
        self._overrides = chain is None
        self._terms_cache: dict[str, Terms] = {}
        self._tokens: dict[str, TokenInfo] = {ZERO_ADDRESS: ETH_TOKEN}
        #: The escrow's reputation assets as last read, ``token -> (listed, minimum)``: read once per
        #: asset when a trade asks to record reputation (no request per trade, like the platform fee);
        #: :meth:`reputation_assets` and :meth:`set_reputation_asset` refresh it.
        self._listings: dict[str, tuple[bool, int]] = {}

    def _share_caches(self, other: ClientBase) -> None:
        """``as_account`` clones share what never changes (terms, token metadata) and the listings."""
        other._terms_cache = self._terms_cache
        other._tokens = self._tokens
        other._listings = self._listings

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

    # -- risks stated before creating ----------------------------------------------------------------
    @staticmethod
    def _asks_to_record(flags: int) -> bool:
        return bool(flags & FLAG_RECORD_REPUTATION)

    @staticmethod
    def _risk_source(value: Terms | offer_core.Offer | offer_core.SignedOffer) -> Terms | offer_core.Offer:
        return value.offer if isinstance(value, offer_core.SignedOffer) else value

    def _risks_of(self, source: Terms | offer_core.Offer, info: TokenInfo,
                  listing: tuple[bool, int] | None) -> tuple[TradeRisk, ...]:
        """The risks of ``source`` (terms or an offer; ``listing`` read when it asks to record)."""
        return trade_risks(has_arbiter=int(source.arbiter, 16) != 0,
                           timeout_releases=bool(source.flags & FLAG_TIMEOUT_RELEASES),
                           record_reputation=self._asks_to_record(source.flags), token=info,
                           amount=source.amount, listing=listing)

    def _risks(self, source: Terms | offer_core.Offer, info: TokenInfo,
               listing: tuple[bool, int] | None) -> tuple[TradeRisk, ...]:
        """The risks of ``source``, handed to ``on_risks`` when there are any."""
        risks = self._risks_of(source, info, listing)
        if risks and self.on_risks is not None:
            self.on_risks(risks)
        return risks

    def _listing_known(self, token: str) -> tuple[bool, int] | None:
        return self._listings.get(token)

    def _learn_listing(self, token: str, value: Any) -> tuple[bool, int]:
        listed, minimum = (value.values() if isinstance(value, dict) else value)
        self._listings[token] = (bool(listed), int(minimum))
        return self._listings[token]

    def _listing_logs_query(self) -> dict[str, Any]:
        return queries.reputation_assets_query(self.deployment.escrow)

    def _learn_listings(self, logs: list[Any]) -> dict[str, tuple[bool, int]]:
        """The reputation assets from their ReputationAssetSet logs (chain order), remembered."""
        assets = queries.reputation_assets_from_events(bindings.decode_log(log, self.escrow.abi) for log in logs)
        self._listings.update(assets)
        return assets

    # -- deposits and bonds ----------------------------------------------------------------------------
    @staticmethod
    def _pays_in(terms: Terms) -> int:
        """What the buyer pays when funding: the price and its deposit (the ETH value, or the tokens)."""
        return terms.amount + terms.buyer_deposit

    @staticmethod
    def _eth_value(terms: Terms) -> int:
        return terms.amount + terms.buyer_deposit if terms.is_eth else 0

    @staticmethod
    def _units_or_zero(amount: Decimal | str | int, info: TokenInfo) -> int:
        """A deposit or a minimum in base units: like an amount, but zero is allowed."""
        return to_base_units(amount, info.decimals, allow_zero=True)

    def _bond_short(self, offer: offer_core.Offer, free: int, info: TokenInfo) -> None:
        """An offer asking for more seller deposit than the seller's free bond cannot be filled."""
        if free < offer.sellerDeposit:
            raise offer_core.OfferError(
                f"the seller's free bond is {info.human(free)} {info.symbol}, less than the "
                f"{info.human(offer.sellerDeposit)} {info.symbol} deposit the offer locks from it")

    # -- fees and deadlines ------------------------------------------------------------------------------
    @staticmethod
    def _unswept(trades: Iterable[Trade]) -> list[Terms]:
        """The ended trades whose platform fee is still in their slot (what ``sweepFees`` collects)."""
        return [t.terms for t in trades if t.state.is_ended and t.held > 0]

    def _involves(self, key: str, account: str) -> bool:
        terms = self._terms_cache[key]
        return account in (terms.buyer, terms.seller, terms.arbiter)

    @staticmethod
    def _due(trades: Iterable[Trade], account: str, now: int) -> list[DueAction]:
        found = [item for trade in trades for item in due_actions(trade, account, now)]
        return sorted(found, key=lambda item: item.deadline)

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
    _ABOUT_THE_TRADE_NOW = frozenset({"NotEnded", "NotRecorded", "AlreadyRated", "WrongState", "DeadlinePassed",
                                      "DeadlineNotReached"})

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
        elif name in ("NotEnded", "NotRecorded", "AlreadyRated") and trade is not None:
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
               buyer_deposit: Decimal | str | int, seller_deposit: Decimal | str | int,
               buyer: str | None, arbiter: str | None, arbiter_fee_bps: int, release_window: int,
               arbitration_window: int, timeout_releases: bool, record_reputation: bool,
               terms: str | bytes | dict[str, Any] | None, expires_in: int,
               nonce: int | None) -> offer_core.SignedOffer:
        """A signed offer of this account as the seller (local signing, no I/O)."""
        offer = offer_core.Offer(
            seller=self.address, buyer=checksum(buyer) if buyer else ZERO_ADDRESS, token=info.address,
            arbiter=checksum(arbiter) if arbiter else ZERO_ADDRESS,
            amount=to_base_units(amount, info.decimals), buyerDeposit=self._units_or_zero(buyer_deposit, info),
            sellerDeposit=self._units_or_zero(seller_deposit, info), arbiterFeeBps=arbiter_fee_bps,
            platformFeeBps=platform_fee_bps, releaseWindow=release_window, arbitrationWindow=arbitration_window,
            flags=(FLAG_TIMEOUT_RELEASES if timeout_releases else 0)
            | (FLAG_RECORD_REPUTATION if record_reputation else 0),
            termsHash=bytes32(terms), nonce=nonce if nonce is not None else secrets.randbits(64),
            expiry=now + expires_in)
        return offer_core.sign_offer(offer, self.deployment.chain_id, self.deployment.escrow, self.tx.signer)

    def _publishable(self, signed: offer_core.SignedOffer, document: bytes | str | dict[str, Any]) -> bytes:
        """The terms document in canonical JSON (RFC 8785), after checking what a reader of the offer
        board will check: the offer is this escrow's, signed by its seller, and hashes the document."""
        check_offer_target(signed, self.deployment.chain_id, self.deployment.escrow)
        canonical = offer_core.canonical_document(document)
        if keccak(canonical) != bytes(signed.offer.termsHash):
            raise offer_core.OfferError("the terms document does not hash to the offer's termsHash "
                                        f"(keccak256 of its canonical JSON is 0x{keccak(canonical).hex()})")
        return canonical

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
        """(contract, log query) pairs of :meth:`history`: the escrow's events and the reputation's
        Rated, each with the trade id as its first indexed topic (outcomes are in the escrow's events)."""
        return [(contract, {"address": contract.address, "topics": [None, key]})
                for contract in (self.escrow, self.reputation_contract)]

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
    def _reputation_record(who: str, assets: dict[str, tuple[bool, int]],
                           outputs: dict[tuple[str, ReputationRole], Any]) -> ReputationRecord:
        """An account's :class:`ReputationRecord` from ``recordOf`` per (asset, role): the records that
        hold anything, weighed by the minimums of the assets listed now (a delisted asset's records are
        kept, not trusted by default)."""
        minimums = {asset: minimum for asset, (listed, minimum) in assets.items() if listed}
        return reputation_from_output(who, {(asset, int(role)): out for (asset, role), out in outputs.items()},
                                      minimums)

    @staticmethod
    def _trade(terms: Terms, info: TokenInfo, slot: tuple[int, ...], now: int) -> Trade:
        return trade_from_slot(terms, info, slot, now)  # type: ignore[arg-type]


__all__ = ["BUYER_BEARS_RISK", "DAY", "NO_REPUTATION", "SELLER_BEARS_RISK", "ClientBase", "DueAction", "HistoryEntry",
           "TradeResult", "TradeRisk", "due_actions", "trade_risks"]
