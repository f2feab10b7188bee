"""Deployment and trade-terms helpers for the contract suite."""

from __future__ import annotations

import itertools
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

# State enum of IP2PEscrow, by name.
STATE = {name: i for i, name in enumerate(
    ["None", "AwaitingFunding", "Funded", "Disputed", "Completed", "Refunded", "Settled", "Resolved",
     "Cancelled"])}
OUTCOME = {name: i for i, name in enumerate(
    ["Completed", "Refunded", "Settled", "BuyerWon", "SellerWon", "Split"])}

TERMS_FIELDS = ("buyer", "seller", "token", "arbiter", "amount", "arbiterFeeBps", "platformFeeBps",
                "fundingWindow", "releaseWindow", "arbitrationWindow", "flags", "termsHash", "salt")
TERMS_TYPES = "(address,address,address,address,uint128,uint16,uint16,uint32,uint32,uint32,uint8,bytes32,uint256)"

_salts = itertools.count(1)


def trade_id(terms: dict[str, Any]) -> bytes:
    """keccak256(abi.encode(terms)), computed in Python: cross-checks the contract's tradeId."""
    return keccak(encode([TERMS_TYPES], [tuple(terms[f] for f in TERMS_FIELDS)]))


def split(held: int, buyer_bps: int, arbiter_fee_bps: int, platform_fee_bps: int) -> dict[str, int]:
    """The documented split arithmetic (rounding down, remainders to the seller's side)."""
    arbiter_fee = held * arbiter_fee_bps // BPS
    pool = held - arbiter_fee
    to_buyer = pool * buyer_bps // BPS
    seller_gross = pool - to_buyer
    platform_fee = seller_gross * platform_fee_bps // BPS
    return {"toBuyer": to_buyer, "toSeller": seller_gross - platform_fee, "arbiterFee": arbiter_fee,
            "platformFee": platform_fee}


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
        """Terms of a fresh trade: 1 ETH, arbiter with a 1% fee, 1 h / 1 day / 1 day windows, timeout
        refunds the buyer, reputation recorded. Override any field by name."""
        terms: dict[str, Any] = {
            "buyer": self.buyer, "seller": self.seller, "token": ETH, "arbiter": self.arbiter,
            "amount": 10**18, "arbiterFeeBps": 100, "platformFeeBps": PLATFORM_FEE_BPS,
            "fundingWindow": 3600, "releaseWindow": 86400, "arbitrationWindow": 86400,
            "flags": FLAG_RECORD_REPUTATION, "termsHash": b"\x11" * 32, "salt": next(_salts),
        }
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
        return terms["amount"] if terms["token"] == ETH else 0

    def create_and_fund(self, terms: dict[str, Any]) -> dict[str, Any]:
        """The buyer creates and funds (approving tokens first if needed)."""
        if terms["token"] != ETH:
            self.approve(terms["token"], terms["buyer"], terms["amount"])
        return self.send(self.escrow.functions.createAndFund(terms), terms["buyer"], self.value_for(terms))

    def approve(self, token: str, owner: str, amount: int) -> None:
        contract = self.token_at(token)
        self.send(contract.functions.approve(self.escrow.address, amount), owner)

    def token_at(self, address: str) -> Contract:
        for contract in self.tokens.values():
            if contract.address == address:
                return contract
        raise KeyError(address)

    # -- reads --------------------------------------------------------------------------------
    def escrow_of(self, terms: dict[str, Any]) -> dict[str, Any]:
        held, deadline, state, marks, settlement_bps = self.escrow.functions.escrowOf(trade_id(terms)).call()
        return {"held": held, "deadline": deadline, "state": state, "marks": marks,
                "settlementBps": settlement_bps}

    def state_of(self, terms: dict[str, Any]) -> str:
        number = self.escrow_of(terms)["state"]
        return next(name for name, value in STATE.items() if value == number)

    def balance(self, token: str, account: str) -> int:
        if token == ETH:
            return self.chain.balance(account)
        return int(self.token_at(token).functions.balanceOf(account).call())

    def record(self, account: str) -> dict[str, int]:
        (record, rating_sum) = self.reputation.functions.recordOf(account).call()
        names = ("completedAsBuyer", "completedAsSeller", "settled", "refunded", "disputesWon",
                 "disputesLost", "disputesSplit", "ratingCount")
        return {**dict(zip(names, record, strict=False)), "ratingSum": rating_sum}

    def events(self, receipt: dict[str, Any], name: str, contract: Contract | None = None) -> list[Any]:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return [e["args"] for e in getattr((contract or self.escrow).events, name)().process_receipt(receipt)]


def deploy_all(chain: Chain) -> Deployment:
    """Deploy reputation + escrow (0.25% fee), authorise the escrow, deploy and mint every test token."""
    a = chain.accounts
    owner, buyer, seller, arbiter, stranger, fee_recipient = a[0], a[1], a[2], a[3], a[4], a[9]
    reputation = chain.deploy("Reputation", owner)
    escrow = chain.deploy("P2PEscrow", owner, fee_recipient, PLATFORM_FEE_BPS, reputation.address)
    chain.w3.eth.wait_for_transaction_receipt(
        reputation.functions.setEscrow(escrow.address, True).transact({"from": owner}))
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
    return Deployment(chain, escrow, reputation, owner, buyer, seller, arbiter, stranger, fee_recipient, tokens)
