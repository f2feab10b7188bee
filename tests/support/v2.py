"""Helpers for the v2 behaviour tests (tests/contracts/test_v2_*.py): live trades that both parties
entered, exact balance changes (ETH net of the gas each party paid), storage roots, and every escrow
log of a trade decoded from the ABI alone.

Built on :mod:`support.escrow` (the deployment) and :mod:`support.offers` (sending and signing).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from eth_utils import keccak
from web3.contract import Contract

from .escrow import ETH, FLAG_CREATED_BY_SELLER, Deployment
from .offers import balance_of, gas_paid, tx

ONE = 10**18
BUYER_DEPOSIT = 10**17  # 0.1 of the asset
SELLER_DEPOSIT = 2 * 10**17  # 0.2: not equal to the buyer's, so a balance shows which deposit went where
DEPOSITS = {"buyerDeposit": BUYER_DEPOSIT, "sellerDeposit": SELLER_DEPOSIT}

Receipt = dict[str, Any]


# -- trades both parties entered -------------------------------------------------------------------
def seller_created(d: Deployment, **overrides: Any) -> dict[str, Any]:
    """Terms of a trade the seller creates (locking its deposit from a bond posted for it), not funded."""
    t = d.terms(**overrides)
    t["flags"] |= FLAG_CREATED_BY_SELLER
    d.bond_for(t)
    tx(d, d.escrow.functions.create(t), t["seller"])
    return t


def live(d: Deployment, **overrides: Any) -> dict[str, Any]:
    """A Funded trade both parties entered: the seller created it (deposit locked from its bond) and
    the buyer funded it (price and deposit)."""
    t = seller_created(d, **overrides)
    fund(d, t)
    assert d.state_of(t) == "Funded"
    return t


def fund(d: Deployment, t: dict[str, Any], sender: str | None = None) -> Receipt:
    """The buyer funds `t` (tokens approved first), with a fixed gas limit."""
    if t["token"] != ETH:
        d.approve(t["token"], t["buyer"], d.pay_in(t))
    return tx(d, d.escrow.functions.fund(t), sender or t["buyer"], d.value_for(t))


def create_and_fund(d: Deployment, t: dict[str, Any]) -> Receipt:
    """The buyer creates and funds `t` (tokens approved first), with a fixed gas limit."""
    if t["token"] != ETH:
        d.approve(t["token"], t["buyer"], d.pay_in(t))
    return tx(d, d.escrow.functions.createAndFund(t), t["buyer"], d.value_for(t))


def at_deadline(d: Deployment, t: dict[str, Any]) -> None:
    """Make the next transaction's block carry the trade's current deadline."""
    d.chain.set_next_timestamp(d.escrow_of(t)["deadline"])


# -- exact balance changes -------------------------------------------------------------------------
def balance_changes(
    d: Deployment, token: str, accounts: Mapping[str, str], act: Callable[[], Receipt | Iterable[Receipt] | None]
) -> dict[str, int]:
    """How `act` changed each named account's balance of `token`. For ETH, the gas an account paid for
    the transactions `act` returns is added back, so the figure is what the escrow paid it."""
    before = {name: balance_of(d, token, address) for name, address in accounts.items()}
    result = act()
    receipts: list[Receipt] = [] if result is None else [result] if isinstance(result, Mapping) else list(result)
    after = {name: balance_of(d, token, address) for name, address in accounts.items()}
    changes = {name: after[name] - before[name] for name in accounts}
    if token == ETH:
        for receipt in receipts:
            for name, address in accounts.items():
                if receipt["from"].lower() == address.lower():
                    changes[name] += gas_paid(receipt)
    return changes


def changes_and_receipt(
    d: Deployment, token: str, accounts: Mapping[str, str], act: Callable[[], Receipt]
) -> tuple[dict[str, int], Receipt]:
    """`balance_changes` of one transaction `act` sends, and its receipt."""
    receipts: list[Receipt] = []

    def send() -> list[Receipt]:
        receipts.append(act())
        return receipts

    return balance_changes(d, token, accounts, send), receipts[0]


def parties(d: Deployment) -> dict[str, str]:
    """The accounts money may reach, and the escrow itself."""
    return {"buyer": d.buyer, "seller": d.seller, "arbiter": d.arbiter, "fee_recipient": d.fee_recipient,
            "owner": d.owner, "escrow": d.escrow.address}


# -- state beyond the ABI --------------------------------------------------------------------------
def storage_root(d: Deployment, address: str) -> bytes:
    """The storage root of `address` at the latest block (py-evm): equal roots, equal storage."""
    backend = d.chain.tester.backend
    header = backend.chain.get_canonical_head()
    state = backend.chain.get_vm(header).state
    return bytes(state._account_db._get_storage_root(bytes.fromhex(address[2:])))


# -- logs ------------------------------------------------------------------------------------------
def decode_logs(contract: Contract, receipts: Iterable[Receipt]) -> list[tuple[str, dict[str, Any]]]:
    """Every log `contract` emitted in `receipts`, in order, as (event name, arguments)."""
    logs = [log for receipt in receipts for log in receipt["logs"]]
    return [(name, args) for name, args, _ in decode_entries(contract, logs)]


def decode_entries(contract: Contract, logs: Iterable[Any]) -> list[tuple[str, dict[str, Any], Any]]:
    """Each of `logs` that `contract` emitted, in order, as (event name, arguments, the raw log), decoded
    with its ABI alone (topic0 picks the event)."""
    by_topic = {}
    for entry in contract.abi:
        if entry["type"] == "event":
            by_topic[bytes(keccak(text=_event_signature(entry)))] = getattr(contract.events, entry["name"])()
    decoded: list[tuple[str, dict[str, Any], Any]] = []
    for log in logs:
        if log["address"].lower() != contract.address.lower():
            continue
        event = by_topic[bytes(log["topics"][0])]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            decoded.append((event.event_name, dict(event.process_log(log)["args"]), log))
    return decoded


def _event_signature(entry: dict[str, Any]) -> str:
    def typ(item: dict[str, Any]) -> str:
        if item["type"].startswith("tuple"):
            return "(" + ",".join(typ(c) for c in item["components"]) + ")" + item["type"][5:]
        return item["type"]

    return f"{entry['name']}({','.join(typ(i) for i in entry['inputs'])})"


# -- terms documents -------------------------------------------------------------------------------
def canonical_json(document: Mapping[str, Any]) -> bytes:
    """RFC 8785 canonical JSON for documents of strings, integers, lists and objects with ASCII keys
    (sorted keys, no whitespace, UTF-8): the subset a terms document uses."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# -- who gets the deposits, from the ending's event (the table in IP2PEscrow) ------------------------------
ENDINGS = ("Released", "Refunded", "Settled", "Ruled", "Conceded", "DisputeExpired", "TimedOut", "Cancelled")


def deposit_receivers(t: Mapping[str, Any], ending: str, args: Mapping[str, Any],
                      *, buyer_in: bool = True, seller_in: bool = True) -> tuple[str, str]:
    """Who receives the buyer's and the seller's deposit when trade `t` ends with event `ending`, by the
    table in IP2PEscrow, as an indexer reads it: (buyer's deposit to, seller's deposit to), address(0)
    for a deposit that is zero or was never in (`buyer_in`/`seller_in`, which matter for Cancelled)."""
    buyer, seller = t["buyer"], t["seller"]
    forfeit = None  # the party whose deposit goes to the other
    if ending == "TimedOut" and t["arbiter"] != ETH:
        forfeit = "buyer" if args["toSeller"] else "seller"
    elif ending == "Ruled" and args["buyerBps"] != 5000:
        forfeit = "buyer" if args["buyerBps"] < 5000 else "seller"
    elif ending == "Conceded":
        forfeit = "buyer" if args["by"].lower() == buyer.lower() else "seller"
    elif ending not in ENDINGS:
        raise ValueError(f"{ending} does not end a trade")
    winner = {"buyer": seller, "seller": buyer, None: None}[forfeit]
    buyer_to = (winner if forfeit == "buyer" else buyer) if t["buyerDeposit"] and buyer_in else ETH
    seller_to = (winner if forfeit == "seller" else seller) if t["sellerDeposit"] and seller_in else ETH
    return buyer_to, seller_to
