"""Signing and accounting helpers for tests/contracts: EIP-712 offers, EIP-2612 permits, fast sends.

- `Signer` finds the private key of an eth-tester account, so tests can sign as the named parties.
- `offer(d, **overrides)` builds a seller offer; `sign_offer` signs it (EIP-712, P2PEscrow/2);
  `offer_digest` computes the digest in Python (tests compare it with the contract's `offerDigest`);
  `terms_of_offer` rebuilds the trade terms a fill creates.
- `sign_permit` signs an EIP-2612 permit for the PermitToken.
- `tx` sends a transaction with a fixed gas limit (no estimation round-trip: the suite stays fast)
  and, if it failed, re-runs it as a call to report why.
- `gas_paid`, `deploy_raw` (deploy hand-written bytecode: tokens no Solidity double provides).
- `reverts`: support.reverts.reverts, but addresses compare case-insensitively (the decoder returns
  them lower-case, tests name them checksummed).
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from typing import Any

from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_typed_data
from eth_utils import keccak

from .escrow import ETH, FLAG_CREATED_BY_SELLER, PLATFORM_FEE_BPS, Deployment
from .reverts import Revert, decode_revert, revert_data
from .reverts import reverts as _reverts

TX_GAS = 3_000_000

OFFER_FIELDS = (
    ("seller", "address"),
    ("buyer", "address"),
    ("token", "address"),
    ("arbiter", "address"),
    ("amount", "uint128"),
    ("buyerDeposit", "uint128"),
    ("sellerDeposit", "uint128"),
    ("arbiterFeeBps", "uint16"),
    ("platformFeeBps", "uint16"),
    ("releaseWindow", "uint32"),
    ("arbitrationWindow", "uint32"),
    ("flags", "uint8"),
    ("termsHash", "bytes32"),
    ("nonce", "uint256"),
    ("expiry", "uint64"),
)
OFFER_TYPE = "Offer(" + ",".join(f"{t} {n}" for n, t in OFFER_FIELDS) + ")"

_nonces = itertools.count(1_000)


# -- keys ------------------------------------------------------------------------------------------
def private_key(d: Deployment, address: str) -> bytes:
    """The private key of one of the chain's node-managed accounts."""
    keys = d.chain.tester.backend.account_keys
    for key in keys:
        if Account.from_key(key.to_bytes()).address == address:
            return key.to_bytes()
    raise KeyError(address)


# -- reverts --------------------------------------------------------------------------------------
def _norm(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return value.lower()
    return value


@contextlib.contextmanager
def reverts(name: str, **expected: Any) -> Iterator[Revert]:
    """Expect the block to revert with custom error `name` and these argument values."""
    with _reverts(name) as got:
        yield got
    for key, value in expected.items():
        assert _norm(got.args[key]) == _norm(value), (
            f"{name}.{key}: expected {value!r}, got {got.args[key]!r}"
        )


# -- transactions ----------------------------------------------------------------------------------
def tx(d: Deployment, fn: Any, sender: str, value: int = 0, gas: int = TX_GAS) -> dict[str, Any]:
    """Send with a fixed gas limit; on failure, replay as a call to say which error it was."""
    receipt = d.chain.w3.eth.wait_for_transaction_receipt(
        fn.transact({"from": sender, "value": value, "gas": gas})
    )
    if receipt["status"] != 1:
        try:
            fn.call(
                {"from": sender, "value": value, "gas": gas},
                block_identifier=receipt["blockNumber"] - 1,
            )
        except Exception as exc:
            try:
                reason = decode_revert(revert_data(exc))
            except AssertionError:
                reason = exc
            raise AssertionError(f"transaction failed: {reason}") from exc
        raise AssertionError("transaction failed")
    return receipt


def next_time(d: Deployment) -> int:
    """Timestamp the next transaction's block will carry (eth-tester follows the wall clock when it
    is ahead of the chain, so this can be well past the latest block's timestamp)."""
    return int(d.chain.tester.get_block_by_number("pending")["timestamp"])


def balance_of(d: Deployment, token: str, account: str) -> int:
    """Like Deployment.balance, but straight from eth-tester (several times faster than web3)."""
    if token == ETH:
        return int(d.chain.tester.get_balance(account))
    data = "0x70a08231" + "00" * 12 + account[2:].lower()
    return int(d.chain.tester.call({"from": d.owner, "to": token, "data": data}), 16)


def approve(d: Deployment, token: str, owner: str, amount: int) -> None:
    """Deployment.approve without the gas estimation round-trip."""
    tx(d, d.token_at(token).functions.approve(d.escrow.address, amount), owner)


def gas_paid(receipt: dict[str, Any]) -> int:
    return int(receipt["gasUsed"]) * int(receipt["effectiveGasPrice"])


def deploy_raw(d: Deployment, runtime: bytes) -> str:
    """Deploy `runtime` (at most 32 bytes) as a contract's code and return its address."""
    assert len(runtime) <= 32
    n = len(runtime)
    # PUSHn runtime; PUSH1 0; MSTORE; PUSH1 n; PUSH1 32-n; RETURN
    init = bytes([0x5F + n]) + runtime + bytes([0x60, 0x00, 0x52, 0x60, n, 0x60, 32 - n, 0xF3])
    w3 = d.chain.w3
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_transaction({"from": d.owner, "data": init, "gas": 200_000})
    )
    assert receipt["status"] == 1
    assert w3.eth.get_code(receipt["contractAddress"]) == runtime
    return receipt["contractAddress"]


# -- offers ----------------------------------------------------------------------------------------
def offer(d: Deployment, **overrides: Any) -> dict[str, Any]:
    """A fresh open offer by `d.seller`: 1 ETH, no deposits, the suite's arbiter with a 1% fee, 1-day
    windows, reputation recorded, valid for an hour. A seller's deposit is locked from the seller's bond
    when the offer is filled (post it first: `d.deposit_bond`)."""
    o: dict[str, Any] = {
        "seller": d.seller,
        "buyer": ETH,
        "token": ETH,
        "arbiter": d.arbiter,
        "amount": 10**18,
        "buyerDeposit": 0,
        "sellerDeposit": 0,
        "arbiterFeeBps": 100,
        "platformFeeBps": PLATFORM_FEE_BPS,
        "releaseWindow": 86400,
        "arbitrationWindow": 86400,
        "flags": 2,
        "termsHash": b"\x22" * 32,
        "nonce": next(_nonces),
        "expiry": next_time(d) + 3600,
    }
    o.update(overrides)
    return o


def _domain(d: Deployment, chain_id: int | None, verifying_contract: str | None) -> dict[str, Any]:
    return {
        "name": "P2PEscrow",
        "version": "2",
        "chainId": chain_id if chain_id is not None else d.chain.w3.eth.chain_id,
        "verifyingContract": verifying_contract or d.escrow.address,
    }


def _typed_offer(
    d: Deployment, o: dict[str, Any], chain_id: int | None, verifying_contract: str | None
) -> Any:
    return encode_typed_data(
        full_message={
            "types": {
                "EIP712Domain": [
                    {"name": "name", "type": "string"},
                    {"name": "version", "type": "string"},
                    {"name": "chainId", "type": "uint256"},
                    {"name": "verifyingContract", "type": "address"},
                ],
                "Offer": [{"name": n, "type": t} for n, t in OFFER_FIELDS],
            },
            "primaryType": "Offer",
            "domain": _domain(d, chain_id, verifying_contract),
            "message": o,
        }
    )


def offer_digest(
    d: Deployment,
    o: dict[str, Any],
    *,
    chain_id: int | None = None,
    verifying_contract: str | None = None,
) -> bytes:
    return bytes(_hash_eip191_message(_typed_offer(d, o, chain_id, verifying_contract)))


def sign_offer(
    d: Deployment,
    o: dict[str, Any],
    *,
    signer: str | None = None,
    chain_id: int | None = None,
    verifying_contract: str | None = None,
) -> bytes:
    """The seller's (or `signer`'s) EIP-712 signature of `o` for this chain and escrow, r||s||v."""
    signed = Account.sign_message(
        _typed_offer(d, o, chain_id, verifying_contract), private_key(d, signer or o["seller"])
    )
    return bytes(signed.signature)


def terms_of_offer(o: dict[str, Any], buyer: str) -> dict[str, Any]:
    """The terms of the trade that filling `o` as `buyer` creates (see P2PEscrow._fill)."""
    return {
        "buyer": buyer,
        "seller": o["seller"],
        "token": o["token"],
        "arbiter": o["arbiter"],
        "amount": o["amount"],
        "buyerDeposit": o["buyerDeposit"],
        "sellerDeposit": o["sellerDeposit"],
        "arbiterFeeBps": o["arbiterFeeBps"],
        "platformFeeBps": o["platformFeeBps"],
        "fundingWindow": 0,
        "releaseWindow": o["releaseWindow"],
        "arbitrationWindow": o["arbitrationWindow"],
        "flags": o["flags"] | FLAG_CREATED_BY_SELLER,
        "termsHash": o["termsHash"],
        "salt": o["nonce"],
    }


# -- permits ---------------------------------------------------------------------------------------
def sign_permit(
    d: Deployment, token: Any, owner: str, spender: str, value: int, deadline: int
) -> dict[str, Any]:
    """An EIP-2612 permit signed by `owner` for the PermitToken `token`, as the Permit struct."""
    nonce = token.functions.nonces(owner).call()
    signable = encode_typed_data(
        full_message={
            "types": {
                "EIP712Domain": [
                    {"name": "name", "type": "string"},
                    {"name": "version", "type": "string"},
                    {"name": "chainId", "type": "uint256"},
                    {"name": "verifyingContract", "type": "address"},
                ],
                "Permit": [
                    {"name": "owner", "type": "address"},
                    {"name": "spender", "type": "address"},
                    {"name": "value", "type": "uint256"},
                    {"name": "nonce", "type": "uint256"},
                    {"name": "deadline", "type": "uint256"},
                ],
            },
            "primaryType": "Permit",
            "domain": {
                "name": token.functions.name().call(),
                "version": "1",
                "chainId": d.chain.w3.eth.chain_id,
                "verifyingContract": token.address,
            },
            "message": {
                "owner": owner,
                "spender": spender,
                "value": value,
                "nonce": nonce,
                "deadline": deadline,
            },
        }
    )
    signed = Account.sign_message(signable, private_key(d, owner))
    return {
        "deadline": deadline,
        "v": signed.v,
        "r": signed.r.to_bytes(32, "big"),
        "s": signed.s.to_bytes(32, "big"),
    }


def offer_typehash() -> bytes:
    return keccak(text=OFFER_TYPE)
