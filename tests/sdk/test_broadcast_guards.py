"""The last checks before signed bytes leave: the signature recovers to the sender, and the node
serves the chain the transaction is signed for (eth_chainId, once per transactor)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import AsyncWeb3

from p2pescrow.errors import SignerMismatch, WrongChain
from p2pescrow.transport import guards
from p2pescrow.transport.aio import AsyncTransactor
from p2pescrow.transport.nonces import NonceManager
from p2pescrow.transport.sync import Call, Transactor


class Impostor(LocalAccount):
    """Claims one account's address, but signs with another key."""

    def __init__(self, claimed: LocalAccount, actual: LocalAccount) -> None:
        super().__init__(claimed._key_obj, Account)
        self._actual = actual

    def sign_transaction(self, transaction_dict: Any, blobs: Any = None) -> Any:
        return self._actual.sign_transaction({k: v for k, v in transaction_dict.items() if k != "from"})


def pay(to: str, wei: int = 1) -> Call:
    return Call(to, "0x", wei, "pay")


# -- signer recovered from the signed transaction -------------------------------------------------
def test_a_signature_by_another_key_is_refused_before_broadcasting(embedded):
    claimed, actual = embedded.account(1), embedded.account(1)
    log_key = claimed.key  # the impostor's keys are registered by e.account (leak check)
    nonces = NonceManager()
    tx = Transactor(embedded.w3, Impostor(claimed, actual), url="embedded", chain_id=embedded.base.deployment.chain_id,
                    poll_interval=0.01, nonces=nonces)

    with embedded.no_tx(claimed.address, actual.address), pytest.raises(SignerMismatch) as raised:
        tx.send(pay(embedded.funder_address))

    assert raised.value.sender == claimed.address and raised.value.recovered == actual.address
    assert log_key.hex() not in str(raised.value)
    # the reserved nonce was given back: the honest account then sends with nonce 0
    honest = Transactor(embedded.w3, claimed, url="embedded", chain_id=embedded.base.deployment.chain_id,
                        poll_interval=0.01, nonces=nonces)
    honest.send(pay(embedded.funder_address))
    assert embedded.nonce(claimed.address) == 1


def test_check_signed_accepts_the_sender_and_names_the_real_signer():
    sender, other = Account.create(), Account.create()
    tx = {"to": other.address, "value": 1, "gas": 21_000, "maxFeePerGas": 10**9,
          "maxPriorityFeePerGas": 10**9, "nonce": 0, "chainId": 1, "type": 2}
    guards.check_signed(sender.sign_transaction(tx).raw_transaction, sender.address)
    guards.check_signed(sender.sign_transaction(tx).raw_transaction, sender.address.lower())
    with pytest.raises(SignerMismatch, match=other.address):
        guards.check_signed(other.sign_transaction(tx).raw_transaction, sender.address)
    with pytest.raises(SignerMismatch, match="unrecoverable"):
        guards.check_signed(b"\x02not a transaction", sender.address)


# -- eth_chainId against the configured chain id ---------------------------------------------------
def test_a_transactor_configured_for_another_chain_refuses_to_broadcast(embedded):
    acct = embedded.account(1)
    tx = Transactor(embedded.w3, acct, url="embedded", chain_id=1, poll_interval=0.01, nonces=NonceManager())

    with embedded.no_tx(acct.address), pytest.raises(WrongChain) as raised:
        tx.send(pay(embedded.funder_address))

    assert raised.value.expected == 1 and raised.value.actual == embedded.base.deployment.chain_id


def test_a_node_managed_signer_is_checked_too(embedded):
    dev = embedded.base.dev_accounts[5]
    tx = Transactor(embedded.w3, dev, url="embedded", chain_id=5, poll_interval=0.01)

    with embedded.no_tx(dev), pytest.raises(WrongChain):
        tx.send(pay(embedded.funder_address))


def test_the_chain_is_asked_once_per_transactor(embedded, monkeypatch):
    calls = []
    real = guards.check_node_chain
    monkeypatch.setattr(guards, "check_node_chain", lambda *a: (calls.append(a), real(*a))[1])
    acct = embedded.account(1)
    tx = Transactor(embedded.w3, acct, url="embedded", chain_id=embedded.base.deployment.chain_id, poll_interval=0.01)

    for _ in range(3):
        tx.send(pay(embedded.funder_address))

    assert len(calls) == 1 and embedded.nonce(acct.address) == 3


def test_check_node_chain_reads_hex_and_ints():
    guards.check_node_chain(31337, "0x7a69")
    guards.check_node_chain(31337, 31337)
    with pytest.raises(WrongChain, match="expected chain id 1, but the node serves chain id 31337"):
        guards.check_node_chain(1, "0x7a69")


# -- on a real node, sync and async ----------------------------------------------------------------
@pytest.mark.anvil
def test_on_anvil_wrong_chain_and_impostor_are_refused_sync_and_async(anvil):
    h = anvil
    chain_id = h.base.deployment.chain_id
    acct, other = h.account(1), h.account(1)

    with h.no_tx(acct.address, other.address):
        with pytest.raises(WrongChain):
            Transactor(h.w3, acct, url=h.node.url, chain_id=chain_id + 1, nonces=NonceManager()).send(
                pay(h.funder_address))
        with pytest.raises(SignerMismatch):
            Transactor(h.w3, Impostor(acct, other), url=h.node.url, chain_id=chain_id,
                       nonces=NonceManager()).send(pay(h.funder_address))

        async def run(signer: Any, configured: int) -> None:
            w3 = AsyncWeb3(AsyncWeb3.AsyncHTTPProvider(h.node.url))
            await AsyncTransactor(w3, signer, chain_id=configured, url=h.node.url,
                                  nonces=NonceManager()).send(pay(h.funder_address))

        with pytest.raises(WrongChain):
            asyncio.run(run(acct, chain_id + 1))
        with pytest.raises(SignerMismatch):
            asyncio.run(run(Impostor(acct, other), chain_id))

    async def honest() -> None:
        w3 = AsyncWeb3(AsyncWeb3.AsyncHTTPProvider(h.node.url))
        await AsyncTransactor(w3, acct, chain_id=chain_id, url=h.node.url, poll_interval=0.01,
                              nonces=NonceManager()).send(pay(h.funder_address))

    asyncio.run(honest())
    assert h.nonce(acct.address) == 1
