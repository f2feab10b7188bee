"""Deployment and trade-terms helpers for the contract suite (escrow version 2).

- :class:`Deployment`: the chain, the escrow and the reputation contract it created, named accounts
  and test tokens, with helpers to build terms, send, fund, post a seller's bond, list reputation
  assets, sweep fees and read slots, records and balances.
- :func:`deploy_all`: deploys the escrow (0.25% fee), lists ETH and every test token as reputation
  assets (minimum 1 unit: any trade that asks to record does), mints the tokens.
- :func:`trade_id` and :func:`split` recompute in Python what the contract computes (cross-checks).
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from eth_abi import encode
from eth_utils import keccak
from web3.contract import Contract

from .chain import Chain

ETH = "0x" + "00" * 20
BPS = 10_000
PLATFORM_FEE_BPS = 25  # 0.25%, the fee the suite runs with unless a test changes it
FLAG_TIMEOUT_RELEASES = 1
FLAG_RECORD_REPUTATION = 2
FLAG_CREATED_BY_SELLER = 4
LISTED_MIN_AMOUNT = 1  # deploy_all lists every asset with this minimum

# State enum of IP2PEscrow, by name (enum order).
STATE = {name: i for i, name in enumerate(
    ["None", "AwaitingFunding", "AwaitingDeposit", "Funded", "Disputed", "Completed", "Refunded", "Settled",
     "Resolved", "Cancelled"])}
TERMINAL = frozenset(("Completed", "Refunded", "Settled", "Resolved", "Cancelled"))
ENDED = frozenset(("Completed", "Refunded", "Settled", "Resolved"))  # terminal and rateable (not Cancelled)
OUTCOME = {name: i for i, name in enumerate(
    ["Completed", "Refunded", "Settled", "BuyerWon", "SellerWon", "Split"])}
ROLE = {"Buyer": 0, "Seller": 1}

# Escrow.marks bits (uint16).
MARK_DELIVERED = 1
MARK_SELLER_PAID = 2
MARK_PROPOSED_BY_BUYER = 4
MARK_PROPOSED_BY_SELLER = 8
MARK_BUYER_RATED = 16
MARK_SELLER_RATED = 32
MARK_SELLER_ACTED = 64
MARK_SELLER_DEPOSITED = 128
MARK_RECORDS = 256

TERMS_FIELDS = ("buyer", "seller", "token", "arbiter", "amount", "buyerDeposit", "sellerDeposit", "arbiterFeeBps",
                "platformFeeBps", "fundingWindow", "releaseWindow", "arbitrationWindow", "flags", "termsHash", "salt")
TERMS_TYPES = ("(address,address,address,address,uint128,uint128,uint128,uint16,uint16,uint32,uint32,uint32,uint8,"
               "bytes32,uint256)")

RECORD_FIELDS = ("volume", "completed", "refunded", "settled", "disputesWon", "disputesLost", "disputesSplit")
RATINGS_FIELDS = ("ratedVolume", "weightedScore", "count")

_salts = itertools.count(1)


def trade_id(terms: dict[str, Any]) -> bytes:
    """keccak256(abi.encode(terms)), computed in Python: cross-checks the contract's tradeId."""
    return keccak(encode([TERMS_TYPES], [tuple(terms[f] for f in TERMS_FIELDS)]))


def fee_up(amount: int, bps: int) -> int:
    """The platform fee on `amount`: rounded up, so paying in parts never pays less than the whole."""
    return (amount * bps + BPS - 1) // BPS


def split(held: int, buyer_bps: int, arbiter_fee_bps: int, platform_fee_bps: int) -> dict[str, int]:
    """The documented split arithmetic: the shares round down with the remainders on the seller's side,
    the platform fee on the seller's gross share rounds up; the four parts sum to `held`."""
    arbiter_fee = held * arbiter_fee_bps // BPS
    pool = held - arbiter_fee
    to_buyer = pool * buyer_bps // BPS
    seller_gross = pool - to_buyer
    platform_fee = fee_up(seller_gross, platform_fee_bps)
    return {"toBuyer": to_buyer, "toSeller": seller_gross - platform_fee, "arbiterFee": arbiter_fee,
            "platformFee": platform_fee}


def role_number(role: str | int) -> int:
    return ROLE[role] if isinstance(role, str) else int(role)


@dataclass
class Deployment:
    """Everything a contract test needs: the chain, the contracts, named accounts and tokens."""

    chain: Chain
    escrow: Contract
    reputation: Contract
    owner: str
    buyer: str
    seller: str
    arbiter: str
    stranger: str
    fee_recipient: str
    tokens: dict[str, Contract] = field(default_factory=dict)

    # -- terms --------------------------------------------------------------------------------
    def terms(self, **overrides: Any) -> dict[str, Any]:
        """Terms of a fresh trade: 1 ETH, no deposits, arbiter with a 1% fee, 1 h / 1 day / 1 day
        windows, timeout refunds the buyer, reputation recorded. Override any field by name
        (`buyer_deposit=` / `seller_deposit=` are accepted for buyerDeposit / sellerDeposit)."""
        terms: dict[str, Any] = {
            "buyer": self.buyer, "seller": self.seller, "token": ETH, "arbiter": self.arbiter,
            "amount": 10**18, "buyerDeposit": 0, "sellerDeposit": 0, "arbiterFeeBps": 100,
            "platformFeeBps": PLATFORM_FEE_BPS, "fundingWindow": 3600, "releaseWindow": 86400,
            "arbitrationWindow": 86400, "flags": FLAG_RECORD_REPUTATION, "termsHash": b"\x11" * 32,
            "salt": next(_salts),
        }
        if "buyer_deposit" in overrides:
            overrides["buyerDeposit"] = overrides.pop("buyer_deposit")
        if "seller_deposit" in overrides:
            overrides["sellerDeposit"] = overrides.pop("seller_deposit")
        terms.update(overrides)
        return terms

    # -- transactions -------------------------------------------------------------------------
    def send(self, fn: Any, sender: str, value: int = 0, gas: int | None = None) -> dict[str, Any]:
        """Send a contract call and return its receipt (which must have succeeded)."""
        tx: dict[str, Any] = {"from": sender, "value": value}
        if gas is not None:
            tx["gas"] = gas
        receipt = self.chain.w3.eth.wait_for_transaction_receipt(fn.transact(tx))
        assert receipt["status"] == 1
        return receipt

    def value_for(self, terms: dict[str, Any]) -> int:
        """msg.value that funding `terms` needs: price + buyer's deposit for ETH, 0 for a token."""
        return terms["amount"] + terms["buyerDeposit"] if terms["token"] == ETH else 0

    def pay_in(self, terms: dict[str, Any]) -> int:
        """What the buyer pays when funding: price + buyer's deposit (in the trade's asset)."""
        return terms["amount"] + terms["buyerDeposit"]

    def create_and_fund(self, terms: dict[str, Any]) -> dict[str, Any]:
        """The buyer creates and funds (approving tokens first if needed)."""
        if terms["token"] != ETH:
            self.approve(terms["token"], terms["buyer"], self.pay_in(terms))
        return self.send(self.escrow.functions.createAndFund(terms), terms["buyer"], self.value_for(terms))

    def fund(self, terms: dict[str, Any]) -> dict[str, Any]:
        """The buyer funds a trade created earlier (approving tokens first if needed)."""
        if terms["token"] != ETH:
            self.approve(terms["token"], terms["buyer"], self.pay_in(terms))
        return self.send(self.escrow.functions.fund(terms), terms["buyer"], self.value_for(terms))

    def approve(self, token: str, owner: str, amount: int) -> None:
        contract = self.token_at(token)
        self.send(contract.functions.approve(self.escrow.address, amount), owner)

    def token_at(self, address: str) -> Contract:
        for contract in self.tokens.values():
            if contract.address == address:
                return contract
        raise KeyError(address)

    def deposit_bond(self, amount: int, token: str = ETH, seller: str | None = None) -> dict[str, Any]:
        """`seller` (default: the suite's seller) adds `amount` to its bond in `token` (approving first)."""
        seller = seller or self.seller
        if token != ETH:
            self.approve(token, seller, amount)
        return self.send(self.escrow.functions.depositBond(token, amount), seller,
                         amount if token == ETH else 0)

    def bond_for(self, terms: dict[str, Any]) -> dict[str, Any] | None:
        """Post exactly the seller's deposit `terms` need to its bond (nothing if it is zero)."""
        if not terms["sellerDeposit"]:
            return None
        return self.deposit_bond(terms["sellerDeposit"], terms["token"], terms["seller"])

    def list_asset(self, token: str = ETH, min_amount: int = LISTED_MIN_AMOUNT,
                   listed: bool = True) -> dict[str, Any]:
        """The owner lists (or, with listed=False, delists) `token` as a reputation asset."""
        return self.send(self.escrow.functions.setReputationAsset(token, listed, min_amount), self.owner)

    def sweep_fees(self, token: str, trades: Iterable[dict[str, Any]] = (),
                   sender: str | None = None) -> dict[str, Any]:
        """Pay `token`'s accrued fees and the fees kept in `trades`' slots to the fee recipient."""
        return self.send(self.escrow.functions.sweepFees(token, list(trades)), sender or self.stranger)

    # -- reads --------------------------------------------------------------------------------
    def escrow_of(self, terms: dict[str, Any]) -> dict[str, Any]:
        held, deadline, state, marks, settlement_bps = self.escrow.functions.escrowOf(trade_id(terms)).call()
        return {"held": held, "deadline": deadline, "state": state, "marks": marks,
                "settlementBps": settlement_bps}

    def state_of(self, terms: dict[str, Any]) -> str:
        number = self.escrow_of(terms)["state"]
        return next(name for name, value in STATE.items() if value == number)

    def marks_of(self, terms: dict[str, Any]) -> int:
        return int(self.escrow_of(terms)["marks"])

    def unswept_fee(self, terms: dict[str, Any]) -> int:
        """The platform fee an ended trade keeps in its slot until swept (its `held`)."""
        assert self.state_of(terms) in TERMINAL, self.state_of(terms)
        return int(self.escrow_of(terms)["held"])

    def fees_accrued(self, token: str = ETH) -> int:
        """Fees of partial releases in `token`, not yet swept."""
        return int(self.escrow.functions.feesAccrued(token).call())

    def bond(self, seller: str | None = None, token: str = ETH) -> int:
        """`seller`'s free bond in `token`."""
        return int(self.escrow.functions.bonds(seller or self.seller, token).call())

    def credit(self, account: str, token: str = ETH) -> int:
        return int(self.escrow.functions.credits(account, token).call())

    def balance(self, token: str, account: str) -> int:
        if token == ETH:
            return self.chain.balance(account)
        return int(self.token_at(token).functions.balanceOf(account).call())

    def record(self, account: str, asset: str = ETH, role: str | int = "Seller") -> dict[str, int]:
        """Reputation.recordOf(account, asset, role), flattened: the Record fields (volume, completed,
        refunded, settled, disputesWon, disputesLost, disputesSplit) and the Ratings fields
        (ratedVolume, weightedScore, count)."""
        record, ratings = self.reputation.functions.recordOf(account, asset, role_number(role)).call()
        return {**dict(zip(RECORD_FIELDS, record, strict=True)), **dict(zip(RATINGS_FIELDS, ratings, strict=True))}

    def events(self, receipt: dict[str, Any], name: str, contract: Contract | None = None) -> list[Any]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return [e["args"] for e in getattr((contract or self.escrow).events, name)().process_receipt(receipt)]


def deploy_all(chain: Chain) -> Deployment:
    """Deploy the escrow (0.25% fee; it creates its reputation contract), list ETH and every test token
    as reputation assets (minimum LISTED_MIN_AMOUNT), deploy and mint every test token."""
    a = chain.accounts
    owner, buyer, seller, arbiter, stranger, fee_recipient = a[0], a[1], a[2], a[3], a[4], a[9]
    escrow = chain.deploy("P2PEscrow", owner, fee_recipient, PLATFORM_FEE_BPS)
    reputation = chain.at("Reputation", escrow.functions.reputation().call())
    tokens = {
        "standard": chain.deploy("TestToken", "Test Dollar", "TUSD", 18, test=True),
        "six_decimals": chain.deploy("TestToken", "Six", "SIX", 6, test=True),
        "no_return": chain.deploy("NoReturnToken", test=True),
        "fee_on_transfer": chain.deploy("FeeOnTransferToken", test=True),
        "permit": chain.deploy("PermitToken", test=True),
        "blacklist": chain.deploy("BlacklistToken", test=True),
    }
    for token in tokens.values():
        for account in (buyer, seller, stranger):
            chain.w3.eth.wait_for_transaction_receipt(
                token.functions.mint(account, 10**30).transact({"from": owner}))
    for asset in (ETH, *(token.address for token in tokens.values())):
        chain.w3.eth.wait_for_transaction_receipt(
            escrow.functions.setReputationAsset(asset, True, LISTED_MIN_AMOUNT).transact({"from": owner}))
    return Deployment(chain, escrow, reputation, owner, buyer, seller, arbiter, stranger, fee_recipient, tokens)
