"""The I/O-free codec (p2pescrow.core.codec) against what web3.py encodes and decodes on a real
chain: call data, call results, TradeCreated with its Terms tuple, and revert data."""

from __future__ import annotations

from typing import Any

import pytest

from p2pescrow import EscrowClient, TradeState
from p2pescrow.core.codec import (
    Codec,
    escrow_codec,
    hex_bytes,
    reputation_codec,
    reputation_from_output,
    slot_from_output,
    terms_from_event,
)
from p2pescrow.core.trades import trade_from_slot
from p2pescrow.errors import ContractError, UnknownRevert

ETHER = 10**18


@pytest.fixture(scope="module")
def funded_trade() -> dict[str, Any]:
    """An embedded chain with one funded trade (dev1 buys 1.5 ETH from dev2)."""
    client = EscrowClient.embedded()
    buyer = client.as_account(client.dev_accounts[1])
    created = buyer.create(seller=client.dev_accounts[2], amount="1.5", terms="a bicycle")
    receipt = client.w3.eth.get_transaction_receipt(created.tx.tx_hash)
    return {"client": client, "created": created, "receipt": receipt}


def _rpc_log(log: Any) -> dict[str, Any]:
    """A web3 log as the JSON-RPC answer carries it: hex text everywhere."""
    return {"address": log["address"], "topics": ["0x" + bytes(t).hex() for t in log["topics"]],
            "data": "0x" + bytes(log["data"]).hex(), "blockNumber": hex(log["blockNumber"]),
            "transactionHash": "0x" + bytes(log["transactionHash"]).hex(), "logIndex": hex(log["logIndex"])}


def test_call_data_is_what_web3_encodes(funded_trade):
    client = funded_trade["client"]
    trade_id = funded_trade["created"].trade_id
    codec = escrow_codec()
    assert codec.encode_call("escrowOf", trade_id) == client.escrow.encode_abi("escrowOf", [hex_bytes(trade_id)])
    assert codec.encode_call("escrowOf", hex_bytes(trade_id)) == codec.encode_call("escrowOf", trade_id)
    who = client.dev_accounts[1]
    assert (reputation_codec().encode_call("recordOf", who)
            == client.reputation_contract.encode_abi("recordOf", [who]))
    terms = client.terms(trade_id)
    assert codec.encode_call("tradeId", terms.as_tuple()) == client.escrow.encode_abi("tradeId", [terms.as_tuple()])
    assert codec.selector("escrowOf") == codec.encode_call("escrowOf", trade_id)[:10]


def test_call_results_decode_to_the_trade_the_sdk_reads(funded_trade):
    client = funded_trade["client"]
    trade_id = funded_trade["created"].trade_id
    codec = escrow_codec()
    raw = client.w3.eth.call({"to": client.deployment.escrow, "data": codec.encode_call("escrowOf", trade_id)})
    slot = slot_from_output(codec.decode_output("escrowOf", "0x" + bytes(raw).hex()))
    assert slot == tuple(int(x) for x in client.escrow.functions.escrowOf(hex_bytes(trade_id)).call())
    held, _, state, _, _ = slot
    assert held == 3 * ETHER // 2 and TradeState(state) is TradeState.FUNDED

    now = int(client.w3.eth.get_block("latest")["timestamp"])
    terms = client.terms(trade_id)
    assert trade_from_slot(terms, client.token(None), slot, now) == client.trade(trade_id)
    assert codec.decode_output("platformFeeBps", (25).to_bytes(32, "big")) == 25
    assert codec.decode_output("platformFeeBps", "0x" + (25).to_bytes(32, "big").hex()) == 25


def test_reputation_record_decodes_like_web3(funded_trade):
    client = funded_trade["client"]
    who = client.dev_accounts[1]
    codec = reputation_codec()
    raw = client.w3.eth.call({"to": client.deployment.reputation, "data": codec.encode_call("recordOf", who)})
    record = reputation_from_output(who.lower(), codec.decode_output("recordOf", bytes(raw)))
    assert record == client.reputation(who)
    assert record.address == who


def test_trade_created_decodes_with_its_terms(funded_trade):
    client, created, receipt = funded_trade["client"], funded_trade["created"], funded_trade["receipt"]
    codec = escrow_codec()
    logs = [_rpc_log(log) for log in receipt["logs"] if log["address"] == client.deployment.escrow]
    decoded = [codec.decode_log(log) for log in logs]
    event = next(e for e in decoded if e is not None and e.name == "TradeCreated")

    assert event.args["id"] == created.trade_id  # bytes32 as the same 0x string as trade ids
    assert event.args["buyer"] == client.dev_accounts[1]
    assert event.args["seller"] == client.dev_accounts[2]
    assert event.args["held"] == 3 * ETHER // 2
    assert event.address == client.deployment.escrow
    assert event.block_number == receipt["blockNumber"]
    assert event.tx_hash == created.tx.tx_hash
    assert list(event.args) == ["id", "buyer", "seller", "terms", "held", "deadline"]  # ABI order
    assert terms_from_event(event.args["terms"]) == client.terms(created.trade_id)

    web3_log = next(log for log in receipt["logs"]
                    if "0x" + bytes(log["topics"][0]).hex() == codec.topic("TradeCreated"))
    web3_args = client.escrow.events.TradeCreated().process_log(web3_log)["args"]
    assert terms_from_event(dict(web3_args["terms"])) == terms_from_event(event.args["terms"])
    assert {k: v for k, v in event.args.items() if k not in ("id", "terms")} == \
        {k: v for k, v in web3_args.items() if k not in ("id", "terms")}


def test_logs_of_other_contracts_or_events_are_not_decoded(funded_trade):
    codec = reputation_codec()
    log = _rpc_log(next(log for log in funded_trade["receipt"]["logs"]
                        if log["address"] == funded_trade["client"].deployment.escrow))
    assert codec.decode_log(log) is None
    assert codec.decode_log({"address": log["address"], "topics": [], "data": "0x"}) is None


def test_revert_data_becomes_the_typed_error(funded_trade):
    client = funded_trade["client"]
    trade_id = funded_trade["created"].trade_id
    stranger = client.as_account(client.dev_accounts[5])
    with pytest.raises(ContractError) as raised:
        stranger.release(trade_id)
    error = Codec.decode_error(raised.value.data)
    assert type(error) is type(raised.value)
    assert str(error) == str(raised.value)
    assert isinstance(escrow_codec().decode_error("0xdeadbeef"), UnknownRevert)


def test_unknown_function_and_wrong_argument_count_are_refused():
    codec = escrow_codec()
    with pytest.raises(KeyError):
        codec.encode_call("noSuchFunction")
    with pytest.raises(TypeError):
        codec.encode_call("escrowOf")
