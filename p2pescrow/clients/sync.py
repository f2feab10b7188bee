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
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from eth_account.messages import encode_typed_data
from eth_utils import keccak, to_checksum_address
from web3 import Web3
from web3.contract import Contract

from .._artifacts import load_artifact
from ..core import offers as offer_core
from ..core.terms import DAY, bytes32, checksum, new_terms, normalise_id, offer_terms
from ..core.trades import trade_from_slot, trade_id
from ..deployments import Deployment, NoDeployment, Registry, verify
from ..deployments import deploy as deploy_contracts
from ..errors import InputError, InsufficientFunds, P2PEscrowError
from ..models import (
    ETH_TOKEN,
    FLAG_RECORD_REPUTATION,
    FLAG_TIMEOUT_RELEASES,
    ZERO_ADDRESS,
    ReputationRecord,
    Terms,
    TokenInfo,
    Trade,
    TradeState,
    to_base_units,
)
from ..transport.logs import get_logs
from ..transport.reverts import translate
from ..transport.sync import Call, Event, Preview, Signer, Transactor, TxResult

_TRADE_CREATED = "0x" + keccak(text=f"TradeCreated(bytes32,address,address,{Terms.ABI_TYPE},uint256,uint256)").hex()
_ERC20_ABI = [
    {"type": "function", "name": n, "stateMutability": "view", "inputs": i, "outputs": [{"type": o, "name": ""}]}
    for n, i, o in (
        ("symbol", [], "string"), ("decimals", [], "uint8"),
        ("balanceOf", [{"type": "address", "name": "a"}], "uint256"),
        ("allowance", [{"type": "address", "name": "o"}, {"type": "address", "name": "s"}], "uint256"),
        ("nonces", [{"type": "address", "name": "o"}], "uint256"),
        ("name", [], "string"),
    )
] + [
    {"type": "function", "name": "approve", "stateMutability": "nonpayable",
     "inputs": [{"type": "address", "name": "s"}, {"type": "uint256", "name": "v"}], "outputs": []},
    {"type": "function", "name": "eip712Domain", "stateMutability": "view", "inputs": [], "outputs": [
        {"type": "bytes1", "name": "fields"}, {"type": "string", "name": "name"},
        {"type": "string", "name": "version"}, {"type": "uint256", "name": "chainId"},
        {"type": "address", "name": "verifyingContract"}, {"type": "bytes32", "name": "salt"},
        {"type": "uint256[]", "name": "extensions"}]},
]


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


class EscrowClient:
    """A connection to one chain's p2pescrow deployment, acting as one account."""

    def __init__(self, w3: Web3, deployment: Deployment, signer: Signer, *, url: str = "",
                 timeout: float = 120.0, confirmations: int = 1, poll_interval: float = 0.05,
                 dev_accounts: list[str] | None = None,
                 chain: Any = None) -> None:
        self.w3 = w3
        self.deployment = deployment
        self.url = url
        self.tx = Transactor(w3, signer, url=url, chain_id=deployment.chain_id, timeout=timeout,
                             confirmations=confirmations, poll_interval=poll_interval)
        self.escrow: Contract = w3.eth.contract(address=deployment.escrow, abi=load_artifact("P2PEscrow")["abi"])
        self.reputation_contract: Contract = w3.eth.contract(
            address=deployment.reputation, abi=load_artifact("Reputation")["abi"])
        self.dev_accounts = dev_accounts or []
        self._chain = chain  # the embedded chain (EthereumTester), if any
        #: Hooks for interactive front ends (the CLI): see :meth:`Transactor.send`.
        self.before_send: Callable[[Call, Preview], None] | None = None
        self.on_sent: Callable[[str], None] | None = None
        self._terms_cache: dict[str, Terms] = {}
        self._tokens: dict[str, TokenInfo] = {ZERO_ADDRESS: ETH_TOKEN}

    # -- connecting ----------------------------------------------------------------------------
    @classmethod
    def connect(cls, rpc_url: str, account: Signer | None = None, *, deployment: Deployment | None = None,
                registry: Registry | None = None, expected_chain_id: int | None = None,
                **options: Any) -> EscrowClient:
        """Connect to a node by URL (http(s):// or ws(s)://). Contract addresses come from the
        registry for the node's chain id unless ``deployment`` is given; their code is verified."""
        if rpc_url.startswith(("ws://", "wss://")):
            provider: Any = Web3.LegacyWebSocketProvider(rpc_url)
        else:
            provider = Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 30})
        w3 = Web3(provider)
        # web3's validation middleware asks the node for its chain id on every call and estimate;
        # this client checks the chain once on connect and signs with that id, so it is pure cost.
        w3.middleware_onion.remove("validation")
        return cls.from_web3(w3, account, deployment=deployment, registry=registry,
                             expected_chain_id=expected_chain_id, url=rpc_url, **options)

    @classmethod
    def from_web3(cls, w3: Web3, account: Signer | None = None, *, deployment: Deployment | None = None,
                  registry: Registry | None = None, expected_chain_id: int | None = None,
                  url: str = "", **options: Any) -> EscrowClient:
        """Use an existing ``Web3`` instance."""
        url = url or str(getattr(w3.provider, "endpoint_uri", "") or type(w3.provider).__name__)
        try:
            chain_id = int(w3.eth.chain_id)
        except Exception as exc:  # noqa: BLE001
            raise translate(exc, url) from None
        if expected_chain_id is not None and chain_id != expected_chain_id:
            from ..errors import WrongChain

            raise WrongChain(expected_chain_id, chain_id)
        if deployment is None:
            deployment = (registry or Registry()).get(chain_id)
            if deployment is None:
                raise NoDeployment(chain_id)
        verify(w3, deployment)
        signer = account if account is not None else (w3.eth.accounts[0] if w3.eth.accounts else None)
        if signer is None:
            raise P2PEscrowError("no account given and the node manages none")
        return cls(w3, deployment, signer, url=url, **options)

    @classmethod
    def from_network(cls, name: str, account: Signer | None = None, **options: Any) -> EscrowClient:
        """Connect to a named network: ``local``, ``ganache``, ``embedded`` or one the user added
        (``p2pescrow networks add``). The node must serve the network's chain id."""
        from ..networks import Networks

        network = Networks().get(name)
        if network.rpc_url is None:
            client = cls.embedded(**options)
            return client.as_account(account) if account is not None else client
        return cls.connect(network.rpc_url, account, expected_chain_id=network.chain_id, **options)

    @classmethod
    def embedded(cls, *, platform_fee_bps: int = 25, **options: Any) -> EscrowClient:
        """An in-process py-evm chain with ten funded dev accounts and the contracts deployed.

        Account 0 deploys and owns the contracts and receives platform fees; the client acts as
        account 0 until :meth:`as_account`. Needs the ``dev`` extra (eth-tester)."""
        from eth_tester import EthereumTester, PyEVMBackend
        from web3 import EthereumTesterProvider

        tester = EthereumTester(PyEVMBackend())
        chain = getattr(tester.backend, "chain", None)
        if chain is not None and hasattr(chain, "gas_estimator"):
            chain.gas_estimator = _quick_gas_estimate
        w3 = Web3(EthereumTesterProvider(tester))
        accounts = [to_checksum_address(a) for a in w3.eth.accounts]
        transactor = Transactor(w3, accounts[0], url="embedded", poll_interval=0)
        deployment = deploy_contracts(transactor, platform_fee_bps=platform_fee_bps)
        return cls(w3, deployment, accounts[0], url="embedded", dev_accounts=accounts, chain=tester,
                   **options)

    def as_account(self, signer: Signer) -> EscrowClient:
        """The same connection and deployment, acting as another account."""
        clone = EscrowClient(self.w3, self.deployment, signer, url=self.url, timeout=self.tx.timeout,
                             confirmations=self.tx.confirmations, poll_interval=self.tx.poll_interval,
                             dev_accounts=self.dev_accounts, chain=self._chain)
        clone._terms_cache = self._terms_cache
        clone._tokens = self._tokens
        return clone

    @property
    def address(self) -> str:
        """The account this client acts as."""
        return self.tx.address

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
        address = ZERO_ADDRESS if address in (None, "", "ETH", "eth") else checksum(address, "token address")
        if address in self._tokens:
            return self._tokens[address]
        erc20 = self._erc20(address)
        try:
            info = TokenInfo(address, str(erc20.functions.symbol().call()), int(erc20.functions.decimals().call()))
        except Exception as exc:  # noqa: BLE001
            raise InputError(f"{address} does not look like an ERC-20 token ({type(exc).__name__})") from None
        self._tokens[address] = info
        return info

    def _erc20(self, address: str) -> Contract:
        return self.w3.eth.contract(address=to_checksum_address(address), abi=_ERC20_ABI)

    def balance(self, token: str | None = None, account: str | None = None) -> int:
        """Balance in base units of ETH (default) or a token."""
        who = checksum(account) if account else self.address
        info = self.token(token)
        if info.is_eth:
            return int(self.w3.eth.get_balance(who))
        return int(self._erc20(info.address).functions.balanceOf(who).call())

    # -- sending -----------------------------------------------------------------------------------
    def _call(self, fn: str, args: list[Any], *, value: int = 0, description: str = "") -> Call:
        return Call(self.deployment.escrow, self.escrow.encode_abi(fn, args), value,
                    description or fn, (self.escrow, self.reputation_contract))

    def _send(self, call: Call) -> TxResult:
        return self.tx.send(call, before_send=self.before_send, on_sent=self.on_sent)

    def preview(self, call: Call) -> Preview:
        """Simulate and price a call without sending it (the CLI shows this before asking)."""
        return self.tx.preview(call)

    def _act(self, fn: str, *args: Any, value: int = 0) -> TxResult:
        return self._send(self._call(fn, list(args), value=value))

    # -- creating and funding ----------------------------------------------------------------------
    def build_terms(self, *, amount: Decimal | str | int, buyer: str | None = None, seller: str | None = None,
                    token: str | None = None, arbiter: str | None = None, arbiter_fee_bps: int = 0,
                    funding_window: int = DAY, release_window: int = 3 * DAY,
                    arbitration_window: int = 7 * DAY, timeout_releases: bool = False,
                    record_reputation: bool = True, terms: str | bytes | None = None,
                    salt: int | None = None) -> Terms:
        """The terms of a new trade in which this account is the buyer (give ``seller``) or the
        seller (give ``buyer``). The platform fee in force is filled in."""
        return new_terms(self.address, self.token(token),
                         int(self.escrow.functions.platformFeeBps().call()), amount=amount, buyer=buyer,
                         seller=seller, arbiter=arbiter, arbiter_fee_bps=arbiter_fee_bps,
                         funding_window=funding_window, release_window=release_window,
                         arbitration_window=arbitration_window, timeout_releases=timeout_releases,
                         record_reputation=record_reputation, terms=terms, salt=salt)

    def create(self, *, fund: bool = True, permit: bool | None = None, **terms_options: Any) -> TradeResult:
        """Create a trade (see :meth:`build_terms` for the options). As buyer, it is funded in the same
        transaction unless ``fund=False``; ERC-20 funding uses an EIP-2612 permit when the token has
        one and this account signs locally (``permit=False`` to approve instead), else an approval of
        exactly the amount."""
        terms = self.build_terms(**terms_options)
        return self.create_from_terms(terms, fund=fund, permit=permit)

    def create_from_terms(self, terms: Terms, *, fund: bool = True, permit: bool | None = None) -> TradeResult:
        self._terms_cache[trade_id(terms)] = terms
        if terms.buyer != self.address or not fund:
            return TradeResult(trade_id(terms), self._act("create", terms.as_tuple()))
        self._check_can_pay(terms)
        if terms.is_eth:
            tx = self._act("createAndFund", terms.as_tuple(), value=terms.amount)
        elif self._use_permit(terms.token, permit):
            tx = self._act("createAndFundWithPermit", terms.as_tuple(), self._permit(terms.token, terms.amount))
        else:
            self._approve(terms.token, terms.amount)
            tx = self._act("createAndFund", terms.as_tuple())
        return TradeResult(trade_id(terms), tx)

    def fund(self, trade_id_: str) -> TxResult:
        """Fund a trade created earlier (buyer only)."""
        terms = self.terms(trade_id_)
        self._check_can_pay(terms)
        if terms.is_eth:
            return self._act("fund", terms.as_tuple(), value=terms.amount)
        self._approve(terms.token, terms.amount)
        return self._act("fund", terms.as_tuple())

    def _check_can_pay(self, terms: Terms) -> None:
        """The buyer holds the trade's tokens, or :class:`InsufficientFunds` before anything is sent.
        An ETH amount is the transaction's value: the transaction path checks it against the balance
        it reads anyway (in ETH, before simulating), so it is not read twice."""
        if terms.is_eth:
            return
        info = self.token(terms.token)
        balance = self.balance(terms.token)
        if balance < terms.amount:
            raise InsufficientFunds(f"{info.symbol} balance", f"{info.human(terms.amount)} {info.symbol}",
                                    f"{info.human(balance)} {info.symbol}")

    def _approve(self, token: str, amount: int) -> None:
        """Approve exactly what is needed, never more (and nothing if the allowance covers it)."""
        erc20 = self._erc20(token)
        if int(erc20.functions.allowance(self.address, self.deployment.escrow).call()) >= amount:
            return
        self._send(Call(token, erc20.encode_abi("approve", [self.deployment.escrow, amount]),
                        description="approve"))

    def _use_permit(self, token: str, wanted: bool | None) -> bool:
        if wanted is False or isinstance(self.tx.signer, str):
            return False
        try:
            self._erc20(token).functions.nonces(self.address).call()
            self._erc20(token).functions.eip712Domain().call()
            return True
        except Exception:  # noqa: BLE001 - no EIP-2612 / ERC-5267 on this token
            if wanted:
                raise InputError(f"token {token} does not support EIP-2612 permits") from None
            return False

    def _permit(self, token: str, amount: int, lifetime: int = 3600) -> tuple[int, int, bytes, bytes]:
        erc20 = self._erc20(token)
        _, name, version, chain_id, verifying, _, _ = erc20.functions.eip712Domain().call()
        deadline = self._now() + lifetime
        message = {
            "types": {
                "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                                 {"name": "chainId", "type": "uint256"},
                                 {"name": "verifyingContract", "type": "address"}],
                "Permit": [{"name": "owner", "type": "address"}, {"name": "spender", "type": "address"},
                           {"name": "value", "type": "uint256"}, {"name": "nonce", "type": "uint256"},
                           {"name": "deadline", "type": "uint256"}],
            },
            "primaryType": "Permit",
            "domain": {"name": name, "version": version, "chainId": chain_id, "verifyingContract": verifying},
            "message": {"owner": self.address, "spender": self.deployment.escrow, "value": amount,
                        "nonce": int(erc20.functions.nonces(self.address).call()), "deadline": deadline},
        }
        signed = self.tx.signer.sign_message(encode_typed_data(full_message=message))  # type: ignore[union-attr]
        return (deadline, signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big"))

    # -- acting on a trade -------------------------------------------------------------------------
    def _part(self, terms: Terms, amount: Decimal | str | int | None, held: int) -> int:
        if amount is None:
            return held
        return to_base_units(amount, self.token(terms.token).decimals)

    def release(self, trade_id_: str, amount: Decimal | str | int | None = None) -> TxResult:
        """Buyer: release everything held (default) or ``amount`` to the seller."""
        terms = self.terms(trade_id_)
        return self._act("release", terms.as_tuple(), self._part(terms, amount, self._held(trade_id_)))

    def refund(self, trade_id_: str, amount: Decimal | str | int | None = None) -> TxResult:
        """Seller: refund everything held (default) or ``amount`` to the buyer."""
        terms = self.terms(trade_id_)
        return self._act("refund", terms.as_tuple(), self._part(terms, amount, self._held(trade_id_)))

    def cancel(self, trade_id_: str) -> TxResult:
        """Cancel an unfunded trade (its creator; anyone after the funding deadline)."""
        return self._act("cancel", self.terms(trade_id_).as_tuple())

    def mark_delivered(self, trade_id_: str) -> TxResult:
        """Seller: mark delivered/paid; the timeout then releases, after a fresh release window."""
        return self._act("markDelivered", self.terms(trade_id_).as_tuple())

    def propose_settlement(self, trade_id_: str, buyer_bps: int) -> TxResult:
        """Propose a split: ``buyer_bps`` basis points of what is held to the buyer, the rest to the seller."""
        return self._act("proposeSettlement", self.terms(trade_id_).as_tuple(), buyer_bps)

    def accept_settlement(self, trade_id_: str, buyer_bps: int | None = None) -> TxResult:
        """Accept the counterparty's proposal (``buyer_bps`` defaults to the one on chain)."""
        if buyer_bps is None:
            trade = self.trade(trade_id_)
            if trade.settlement_bps is None:
                raise InputError("there is no settlement proposal to accept")
            buyer_bps = trade.settlement_bps
        return self._act("acceptSettlement", self.terms(trade_id_).as_tuple(), buyer_bps)

    def dispute(self, trade_id_: str) -> TxResult:
        """Open a dispute (buyer or seller, before the deadline, on a trade with an arbiter)."""
        return self._act("dispute", self.terms(trade_id_).as_tuple())

    def rule(self, trade_id_: str, buyer_bps: int) -> TxResult:
        """Arbiter: rule ``buyer_bps`` basis points (after the arbiter's fee) to the buyer."""
        return self._act("rule", self.terms(trade_id_).as_tuple(), buyer_bps)

    def timeout(self, trade_id_: str) -> TxResult:
        """Anyone, from the deadline on: apply the timeout outcome fixed at creation."""
        return self._act("timeout", self.terms(trade_id_).as_tuple())

    def resolve_expired_dispute(self, trade_id_: str) -> TxResult:
        """Anyone, from the arbitration deadline on: end a dispute the arbiter did not rule (50/50)."""
        return self._act("resolveExpiredDispute", self.terms(trade_id_).as_tuple())

    def submit_evidence(self, trade_id_: str, uri: str, content_hash: bytes | str | None = None) -> TxResult:
        """Attach evidence (a URI and the hash of its content) to a trade."""
        digest = bytes32(content_hash) if content_hash is not None else keccak(text=uri)
        return self._act("submitEvidence", self.terms(trade_id_).as_tuple(), uri, digest)

    def withdraw(self, token: str | None = None, to: str | None = None) -> TxResult:
        """Withdraw this account's credits (payouts that could not be delivered) to ``to``."""
        return self._act("withdraw", self.token(token).address, checksum(to) if to else self.address)

    def withdraw_fees(self, token: str | None = None) -> TxResult:
        """Pay accrued platform fees in ``token`` to the fee recipient (anyone may call)."""
        return self._act("withdrawFees", self.token(token).address)

    def rate(self, trade_id_: str, score: int, comment: str | bytes | None = None) -> TxResult:
        """Rate the counterparty of a finished trade 1-5 (once; the comment is stored as its hash)."""
        if not 1 <= score <= 5:
            raise InputError(f"a rating is 1 to 5, not {score}")
        return self._act("rate", self.terms(trade_id_).as_tuple(), score, bytes32(comment))

    # -- owner settings ----------------------------------------------------------------------------
    def set_platform_fee(self, bps: int) -> TxResult:
        return self._act("setPlatformFee", bps)

    def set_fee_recipient(self, recipient: str) -> TxResult:
        return self._act("setFeeRecipient", checksum(recipient))

    def pause(self) -> TxResult:
        return self._act("pause")

    def unpause(self) -> TxResult:
        return self._act("unpause")

    # -- signed offers -----------------------------------------------------------------------------
    def create_offer(self, *, amount: Decimal | str | int, token: str | None = None, buyer: str | None = None,
                     arbiter: str | None = None, arbiter_fee_bps: int = 0, release_window: int = 3 * DAY,
                     arbitration_window: int = 7 * DAY, timeout_releases: bool = False,
                     record_reputation: bool = True, terms: str | bytes | None = None,
                     expires_in: int = DAY, nonce: int | None = None) -> offer_core.SignedOffer:
        """Sign an offer locally as the seller (no transaction, no gas). Needs a local account."""
        if isinstance(self.tx.signer, str):
            raise InputError("signing offers needs a local account (key or keystore), not a node account")
        info = self.token(token)
        offer = offer_core.Offer(
            seller=self.address, buyer=checksum(buyer) if buyer else ZERO_ADDRESS, token=info.address,
            arbiter=checksum(arbiter) if arbiter else ZERO_ADDRESS,
            amount=to_base_units(amount, info.decimals), arbiterFeeBps=arbiter_fee_bps,
            platformFeeBps=int(self.escrow.functions.platformFeeBps().call()),
            releaseWindow=release_window, arbitrationWindow=arbitration_window,
            flags=(FLAG_TIMEOUT_RELEASES if timeout_releases else 0)
            | (FLAG_RECORD_REPUTATION if record_reputation else 0),
            termsHash=bytes32(terms), nonce=nonce if nonce is not None else secrets.randbits(64),
            expiry=self._now() + expires_in)
        return offer_core.sign_offer(offer, self.deployment.chain_id, self.deployment.escrow, self.tx.signer)

    def verify_offer(self, signed: offer_core.SignedOffer) -> None:
        """Check an offer before spending gas: chain, contract, signer, expiry, nonce, fee, buyer.
        Raises :class:`~p2pescrow.core.offers.OfferError` saying what is wrong."""
        offer = signed.offer
        if signed.chain_id != self.deployment.chain_id:
            raise offer_core.OfferError(
                f"the offer is for chain id {signed.chain_id}, this network is {self.deployment.chain_id}")
        if signed.escrow != self.deployment.escrow:
            raise offer_core.OfferError(f"the offer is for escrow {signed.escrow}, not {self.deployment.escrow}")
        if signed.signer() != offer.seller:
            raise offer_core.OfferError("the signature is not the seller's (tampered or wrong signer)")
        if not self.escrow.functions.offerDigest(offer.as_tuple()).call() == _digest(signed):
            raise offer_core.OfferError("the contract computes another digest for this offer")
        # The fill lands in a later block, whose timestamp is at least the latest one's + 1: an
        # offer expiring at the latest block's time can no longer be filled.
        if self._now() >= offer.expiry:
            expired = datetime.fromtimestamp(offer.expiry, UTC).isoformat()
            raise offer_core.OfferError(f"the offer expired at {expired} (no block after it can fill it)")
        if self.escrow.functions.isNonceUsed(offer.seller, offer.nonce).call():
            raise offer_core.OfferError("the offer was already filled or revoked (nonce used)")
        fee = int(self.escrow.functions.platformFeeBps().call())
        if fee != offer.platformFeeBps:
            raise offer_core.OfferError(f"the offer names a platform fee of {offer.platformFeeBps} bps; "
                                        f"the fee is now {fee} bps")
        if int(offer.buyer, 16) != 0 and offer.buyer != self.address:
            raise offer_core.OfferError(f"the offer is reserved for buyer {offer.buyer}")

    def fill_offer(self, signed: offer_core.SignedOffer, *, permit: bool | None = None) -> TradeResult:
        """Verify, then fill an offer as the buyer: creates and funds the trade in one transaction."""
        self.verify_offer(signed)
        offer = signed.offer
        terms = offer_terms(offer, self.address)
        self._terms_cache[trade_id(terms)] = terms
        self._check_can_pay(terms)
        if terms.is_eth:
            tx = self._act("fillOffer", offer.as_tuple(), signed.signature, value=terms.amount)
        elif self._use_permit(terms.token, permit):
            tx = self._act("fillOfferWithPermit", offer.as_tuple(), signed.signature,
                           self._permit(terms.token, terms.amount))
        else:
            self._approve(terms.token, terms.amount)
            tx = self._act("fillOffer", offer.as_tuple(), signed.signature)
        return TradeResult(trade_id(terms), tx)

    def revoke_offer(self, nonce: int) -> TxResult:
        """Revoke an offer nonce: no offer signed with it can be filled any more."""
        return self._act("revokeOffer", nonce)

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
        who = checksum(account) if account else self.address
        return int(self.escrow.functions.credits(who, self.token(token).address).call())

    def _held(self, trade_id_: str) -> int:
        return int(self.escrow.functions.escrowOf(_id_bytes(trade_id_)).call()[0])

    def terms(self, trade_id_: str) -> Terms:
        """The terms of a trade, from its TradeCreated event (cached: they never change)."""
        key = normalise_id(trade_id_)
        if key in self._terms_cache:
            return self._terms_cache[key]
        params = {"address": self.deployment.escrow, "topics": [_TRADE_CREATED, key]}
        for log in get_logs(self.w3, params, self.deployment.block, int(self.w3.eth.block_number)):
            terms = _terms_from_event(self.escrow.events.TradeCreated().process_log(log)["args"]["terms"])
            self._terms_cache[key] = terms
            return terms
        raise InputError(f"no trade {key} on this escrow (chain id {self.deployment.chain_id})",
                         hint="check the trade id and the network")

    def trade(self, trade_id_: str) -> Trade:
        """A trade's terms, state, amounts, deadline and what each party may do next."""
        terms = self.terms(trade_id_)
        slot = tuple(int(x) for x in self.escrow.functions.escrowOf(_id_bytes(trade_id_)).call())
        return trade_from_slot(terms, self.token(terms.token), slot, self._now())  # type: ignore[arg-type]

    def trades(self, *, party: str | None = None, state: TradeState | None = None,
               token: str | None = None) -> list[Trade]:
        """Trades of this escrow, filtered by party (buyer or seller), state and token."""
        event = self.escrow.events.TradeCreated()
        head = int(self.w3.eth.block_number)
        queries: list[list[Any]] = [[_TRADE_CREATED]]
        if party:
            topic = "0x" + "00" * 12 + checksum(party)[2:].lower()
            queries = [[_TRADE_CREATED, None, topic], [_TRADE_CREATED, None, None, topic]]
        ids: dict[str, None] = {}
        for topics in queries:
            for log in get_logs(self.w3, {"address": self.deployment.escrow, "topics": topics},
                                self.deployment.block, head):
                args = event.process_log(log)["args"]
                key = "0x" + bytes(args["id"]).hex()
                self._terms_cache[key] = _terms_from_event(args["terms"])
                ids[key] = None
        token_addr = self.token(token).address if token else None
        result = []
        for key in ids:
            if token_addr is not None and self._terms_cache[key].token != token_addr:
                continue  # the terms came with the event: no need to read this trade's state
            trade = self.trade(key)
            if state is not None and trade.state is not state:
                continue
            result.append(trade)
        return result

    def history(self, trade_id_: str) -> list[HistoryEntry]:
        """Every event of a trade (escrow and reputation), oldest first."""
        key = normalise_id(trade_id_)
        head = int(self.w3.eth.block_number)
        entries: list[HistoryEntry] = []
        for contract, topics in ((self.escrow, [None, key]), (self.reputation_contract, [None, None, key]),
                                 (self.reputation_contract, [None, key])):
            for log in get_logs(self.w3, {"address": contract.address, "topics": topics},
                                self.deployment.block, head):
                decoded = _decode_log(contract, log)
                if decoded is not None:
                    entries.append(HistoryEntry(int(log["blockNumber"]), "0x" + bytes(log["transactionHash"]).hex(),
                                                decoded.name, decoded.args))
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
                        decoded = _decode_log(contract, log)
                        if decoded is not None:
                            yield decoded
                start = head + 1
            if ends is not None and time.monotonic() >= ends:
                return
            time.sleep(poll_interval)

    def reputation(self, address: str) -> ReputationRecord:
        """An address's record, with a derived 0-100 score."""
        who = checksum(address)
        record, rating_sum = self.reputation_contract.functions.recordOf(who).call()
        return ReputationRecord(who, *(int(x) for x in record), int(rating_sum))

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


def _quick_gas_estimate(state: Any, transaction: Any) -> int:
    """Gas estimates for the embedded chain in two or three EVM runs, not py-evm's ~13-run binary
    search (which made every embedded transaction ~4x slower): one run at the block gas limit gives
    the gas used; a limit with headroom (the 63/64 rule, the contract's gas-left checks) is then
    confirmed by a second run. Anything unusual falls back to py-evm's own search."""
    from eth.estimators.gas import binary_gas_search_intrinsic_tolerance
    from eth.vm.spoof import SpoofTransaction

    def run(gas: int) -> Any:
        snapshot = state.snapshot()
        try:
            return state.apply_transaction(SpoofTransaction(transaction, gas=gas, gas_price=0))
        finally:
            state.revert(snapshot)

    limit = int(state.gas_limit)
    first = run(limit)
    if not first.is_error:
        used = limit - int(first.get_gas_remaining())
        for candidate in (used * 5 // 4 + 30_000, used * 2 + 150_000):
            candidate = min(candidate, limit)
            if not run(candidate).is_error:
                return candidate
    return int(binary_gas_search_intrinsic_tolerance(state, transaction))


def _terms_from_event(raw: Any) -> Terms:
    """web3 decodes the struct as a mapping of field name to value."""
    return Terms.from_tuple(tuple(raw.values()) if hasattr(raw, "values") else tuple(raw))


def _id_bytes(value: str) -> bytes:
    return bytes.fromhex(normalise_id(value)[2:])


def _digest(signed: offer_core.SignedOffer) -> bytes:
    from eth_account.messages import _hash_eip191_message

    return bytes(_hash_eip191_message(encode_typed_data(full_message=signed.typed_data())))


def _decode_log(contract: Contract, log: Any) -> Event | None:
    from ..transport.sync import decode_events

    events = decode_events({"logs": [log]}, (contract,))
    return events[0] if events else None


__all__ = ["EscrowClient", "HistoryEntry", "TradeResult", "checksum"]
