"""The I/O-free codec (p2pescrow.core.codec) against what web3.py encodes and decodes on a real
chain: call data, call results, every event of a trade's v2 life (TradeCreated with its Terms tuple,
bonds, acceptance, evidence, a concession, a rating, fees swept, an offer published), and revert data."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from eth_utils import keccak

from p2pescrow import EscrowClient, TradeState
from p2pescrow.bindings import TRADE_CREATED
from p2pescrow.build import load_artifact
from p2pescrow.core.codec import (
    Codec,
    asset_record_from_output,
    escrow_codec,
    hex_bytes,
    reputation_codec,
    reputation_from_output,
    slot_from_output,
    terms_from_event,
)
from p2pescrow.core.offers import terms_document
from p2pescrow.core.trades import split, trade_from_slot, trade_id
from p2pescrow.errors import ContractError, UnknownRevert
from p2pescrow.models import FLAG_RECORD_REPUTATION, ZERO_ADDRESS, ReputationRole, Terms

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
    trade_id_ = funded_trade["created"].trade_id
    codec = escrow_codec()
    assert codec.encode_call("escrowOf", trade_id_) == client.escrow.encode_abi("escrowOf", [hex_bytes(trade_id_)])
    assert codec.encode_call("escrowOf", hex_bytes(trade_id_)) == codec.encode_call("escrowOf", trade_id_)
    who = client.dev_accounts[1]
    assert (reputation_codec().encode_call("recordOf", who, ZERO_ADDRESS, 1)
            == client.reputation_contract.encode_abi("recordOf", [who, ZERO_ADDRESS, 1]))
    terms = client.terms(trade_id_)
    assert codec.encode_call("tradeId", terms.as_tuple()) == client.escrow.encode_abi("tradeId", [terms.as_tuple()])
    assert codec.selector("escrowOf") == codec.encode_call("escrowOf", trade_id_)[:10]


def test_call_results_decode_to_the_trade_the_sdk_reads(funded_trade):
    client = funded_trade["client"]
    trade_id_ = funded_trade["created"].trade_id
    codec = escrow_codec()
    raw = client.w3.eth.call({"to": client.deployment.escrow, "data": codec.encode_call("escrowOf", trade_id_)})
    slot = slot_from_output(codec.decode_output("escrowOf", "0x" + bytes(raw).hex()))
    assert slot == tuple(int(x) for x in client.escrow.functions.escrowOf(hex_bytes(trade_id_)).call())
    held, _, state, _, _ = slot
    assert held == 3 * ETHER // 2 and TradeState(state) is TradeState.FUNDED

    now = int(client.w3.eth.get_block("latest")["timestamp"])
    terms = client.terms(trade_id_)
    assert trade_from_slot(terms, client.token(None), slot, now) == client.trade(trade_id_)
    assert codec.decode_output("platformFeeBps", (25).to_bytes(32, "big")) == 25
    assert codec.decode_output("platformFeeBps", "0x" + (25).to_bytes(32, "big").hex()) == 25


# -- a v2 life, sent with web3 directly, every log decoded both ways ------------------------------------
def _norm(value: Any) -> Any:
    """A decoded value in one comparable form: bytes as hex, structs as dicts, sequences as lists."""
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if isinstance(value, dict) or hasattr(value, "items"):
        return {k: _norm(v) for k, v in dict(value).items()}
    if isinstance(value, (list, tuple)):
        return [_norm(v) for v in value]
    return value


@pytest.fixture(scope="module")
def life() -> dict[str, Any]:
    """On a fresh embedded chain, sent with web3 (not the client): the owner lists ETH for reputation,
    the seller bonds 1 ETH, the buyer creates and funds a 1 ETH trade with an arbiter and deposits of
    0.1 (buyer) and 0.2 (seller), the seller accepts, evidence is submitted, the buyer disputes and
    then concedes, the seller rates, the fees are swept, the seller withdraws its bond and publishes an
    offer. Each receipt's logs, as JSON-RPC gives them."""
    client = EscrowClient.embedded()
    w3, escrow = client.w3, client.escrow
    owner, buyer, seller, arbiter = client.dev_accounts[:4]
    terms = Terms(buyer, seller, ZERO_ADDRESS, arbiter, ETHER, ETHER // 10, ETHER // 5, 200, 25, 3_600, 86_400,
                  86_400, FLAG_RECORD_REPUTATION, keccak(text="a bicycle"), 7)
    t = terms.as_tuple()
    document = terms_document({"item": "a bicycle", "price": "1 ETH"})
    offer = (seller, ZERO_ADDRESS, ZERO_ADDRESS, arbiter, ETHER, 0, 0, 200, 25, 86_400, 86_400, 2,
             keccak(document), 9, 2**40)
    steps = [
        (owner, escrow.functions.setReputationAsset(ZERO_ADDRESS, True, ETHER // 100), 0),
        (seller, escrow.functions.depositBond(ZERO_ADDRESS, ETHER), ETHER),
        (buyer, escrow.functions.createAndFund(t), ETHER + ETHER // 10),
        (seller, escrow.functions.accept(t), 0),
        (arbiter, escrow.functions.submitEvidence(t, keccak(text="photo"), "ipfs://photo"), 0),
        (buyer, escrow.functions.dispute(t), 0),
        (buyer, escrow.functions.concede(t), 0),
        (seller, escrow.functions.rate(t, 4, keccak(text="fine")), 0),
        (arbiter, escrow.functions.sweepFees(ZERO_ADDRESS, [t]), 0),
        (seller, escrow.functions.withdrawBond(ZERO_ADDRESS, ETHER // 2, seller), 0),
        (seller, escrow.functions.publishOffer(offer, b"\x01" * 65, document), 0),
    ]
    # a seller contract that rejects ETH: the release to it is credited (PaymentCredited names the trade)
    artifact = load_artifact("MaliciousParty", test=True)
    rejecting = w3.eth.contract(address=w3.eth.wait_for_transaction_receipt(w3.eth.contract(
        abi=artifact["abi"], bytecode=artifact["bytecode"]).constructor().transact({"from": owner}))["contractAddress"],
        abi=artifact["abi"])
    rejecting.functions.setMode(1).transact({"from": owner})
    unpaid = Terms(buyer, rejecting.address, ZERO_ADDRESS, ZERO_ADDRESS, ETHER, 0, 0, 0, 25, 3_600, 86_400, 86_400,
                   0, keccak(text="a bell"), 8).as_tuple()
    steps += [(buyer, escrow.functions.createAndFund(unpaid), ETHER),
              (buyer, escrow.functions.release(unpaid, ETHER), 0)]
    receipts = []
    for sender, call, value in steps:
        tx = call.transact({"from": sender, "value": value})
        receipts.append(w3.eth.wait_for_transaction_receipt(tx))
    return {"client": client, "terms": terms, "receipts": receipts, "document": document,
            "unpaid": Terms.from_tuple(unpaid)}


def _decoded(life: dict[str, Any]) -> list[tuple[Any, Any]]:
    """(codec's DecodedLog, web3's decoded args) for every log of the escrow and its reputation."""
    client = life["client"]
    contracts = {client.deployment.escrow: (escrow_codec(), client.escrow),
                 client.deployment.reputation: (reputation_codec(), client.reputation_contract)}
    out = []
    for receipt in life["receipts"]:
        for log in receipt["logs"]:
            codec, contract = contracts[log["address"]]
            ours = codec.decode_log(_rpc_log(log))
            event = getattr(contract.events, ours.name)()
            out.append((ours, event.process_log(log)["args"]))
    return out


def test_every_event_of_a_v2_life_decodes_as_web3_decodes_it(life):
    decoded = _decoded(life)
    assert [ours.name for ours, _ in decoded] == [
        "ReputationAssetSet", "BondDeposited", "TradeCreated", "SellerAccepted", "EvidenceSubmitted", "Disputed",
        "Conceded", "Rated", "FeesSwept", "BondWithdrawn", "OfferPublished", "TradeCreated", "Released",
        "PaymentCredited"]
    for ours, theirs in decoded:
        assert _norm(ours.args) == _norm(theirs), ours.name
        assert list(ours.args) == list(theirs), ours.name  # ABI order


def test_the_v2_events_carry_what_happened(life):
    client, terms = life["client"], life["terms"]
    owner, buyer, seller, arbiter = client.dev_accounts[:4]
    events = {ours.name: ours.args for ours, _ in _decoded(life)[:11]}
    id_ = trade_id(terms)

    assert events["ReputationAssetSet"] == {"token": ZERO_ADDRESS, "listed": True, "minAmount": ETHER // 100}
    assert events["BondDeposited"] == {"seller": seller, "token": ZERO_ADDRESS, "amount": ETHER, "free": ETHER}
    assert events["TradeCreated"]["id"] == id_  # the Terms tuple hashes to the contract's id
    assert terms_from_event(events["TradeCreated"]["terms"]) == terms
    assert events["TradeCreated"]["held"] == ETHER
    accepted = events["SellerAccepted"]
    assert (accepted["id"], TradeState(accepted["state"])) == (id_, TradeState.FUNDED)
    assert events["EvidenceSubmitted"] == {"id": id_, "by": arbiter, "contentHash": "0x" + keccak(text="photo").hex(),
                                           "uri": "ipfs://photo"}
    conceded = events["Conceded"]
    expected = split(ETHER, 0, 200 // 2, 25)  # all to the seller, half the arbiter's fee
    assert conceded == {"id": id_, "by": buyer, "toBuyer": 0, "toSeller": expected["to_seller"],
                        "arbiterFee": expected["arbiter_fee"], "platformFee": expected["platform_fee"]}
    assert events["Rated"] == {"tradeId": id_, "rater": seller, "ratee": buyer, "role": int(ReputationRole.BUYER),
                               "asset": ZERO_ADDRESS, "amount": ETHER, "score": 4,
                               "commentHash": "0x" + keccak(text="fine").hex()}
    assert events["FeesSwept"] == {"token": ZERO_ADDRESS, "recipient": owner, "amount": expected["platform_fee"],
                                   "trades": [id_]}
    assert events["BondWithdrawn"] == {"seller": seller, "token": ZERO_ADDRESS, "to": seller, "amount": ETHER // 2,
                                       "free": ETHER - ETHER // 5 - ETHER // 2}  # the deposit was paid out, not
    # returned to the bond: what is free is the bond less the locked deposit less what was withdrawn
    unpaid = life["unpaid"]
    credited = _decoded(life)[-1][0].args
    fee = -(-ETHER * 25 // 10_000)
    assert credited == {"id": trade_id(unpaid), "receiver": unpaid.seller, "token": ZERO_ADDRESS,
                        "amount": ETHER - fee}
    published = events["OfferPublished"]
    assert published["terms"] == life["document"] and published["offer"]["termsHash"] == \
        "0x" + keccak(life["document"]).hex()


def test_reputation_records_decode_like_web3(life):
    client, terms = life["client"], life["terms"]
    codec = reputation_codec()
    for who, role in ((terms.buyer, ReputationRole.BUYER), (terms.seller, ReputationRole.SELLER)):
        call = codec.encode_call("recordOf", who, ZERO_ADDRESS, int(role))
        raw = client.w3.eth.call({"to": client.deployment.reputation, "data": call})
        ours = asset_record_from_output(ZERO_ADDRESS, role, codec.decode_output("recordOf", bytes(raw)))
        record, ratings = client.reputation_contract.functions.recordOf(who, ZERO_ADDRESS, int(role)).call()
        assert (ours.volume, ours.completed, ours.refunded, ours.settled, ours.disputes_won, ours.disputes_lost,
                ours.disputes_split) == tuple(record)
        assert (ours.rated_volume, ours.weighted_score, ours.count) == tuple(ratings)
    seller_side = asset_record_from_output(
        ZERO_ADDRESS, ReputationRole.SELLER,
        codec.decode_output("recordOf", bytes(client.w3.eth.call({"to": client.deployment.reputation, "data":
                                                                 codec.encode_call("recordOf", terms.seller,
                                                                                   ZERO_ADDRESS, 1)}))))
    assert (seller_side.volume, seller_side.disputes_won, seller_side.count) == (ETHER, 1, 0)  # the buyer conceded
    buyer_record = reputation_from_output(terms.buyer.lower(), {
        (ZERO_ADDRESS, 0): client.reputation_contract.functions.recordOf(terms.buyer, ZERO_ADDRESS, 0).call(),
        (ZERO_ADDRESS, 1): client.reputation_contract.functions.recordOf(terms.buyer, ZERO_ADDRESS, 1).call()},
        {ZERO_ADDRESS: ETHER // 100})
    assert buyer_record.address == terms.buyer
    assert [(r.role, r.disputes_lost, r.count, r.weighted_score) for r in buyer_record.records] == \
        [(ReputationRole.BUYER, 1, 1, 4 * ETHER)]  # the empty seller-side record is left out
    assert buyer_record.score() == Decimal("3.95")  # 100 units at 4 and the prior's 5 at 3: 415 / 105


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
    assert list(event.args) == ["id", "buyer", "seller", "terms", "held"]  # ABI order
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


def test_an_offer_with_deposits_hashes_as_the_contract_hashes_it_under_domain_version_2(life):
    from eth_account.messages import _hash_eip191_message, encode_typed_data

    from p2pescrow.core.offers import DOMAIN_VERSION, Offer, typed_data

    client, terms = life["client"], life["terms"]
    offer = Offer(terms.seller, ZERO_ADDRESS, ZERO_ADDRESS, terms.arbiter, ETHER, ETHER // 10, ETHER // 5, 200, 25,
                  86_400, 86_400, FLAG_RECORD_REPUTATION, keccak(life["document"]), 11, 2**40)
    digest = _hash_eip191_message(encode_typed_data(full_message=typed_data(offer, client.deployment.chain_id,
                                                                            client.deployment.escrow)))
    assert DOMAIN_VERSION == "2"
    assert digest == client.escrow.functions.offerDigest(offer.as_tuple()).call()
    changed = Offer(**{**offer.__dict__, "sellerDeposit": ETHER // 5 + 1})  # the deposits are signed too
    assert client.escrow.functions.offerDigest(changed.as_tuple()).call() != digest


def test_the_trade_created_topic_the_log_queries_use_is_the_abis():
    assert TRADE_CREATED == escrow_codec().topic("TradeCreated")


def test_an_offer_read_from_the_board_comes_with_its_checked_terms_document(life):
    from p2pescrow.core.offers import OfferError, published_offer

    client = life["client"]
    args = next(ours.args for ours, _ in _decoded(life) if ours.name == "OfferPublished")
    signed, document = published_offer(args, client.deployment.chain_id, client.deployment.escrow)
    assert document == life["document"] and signed.offer.termsHash == keccak(document)
    assert (signed.offer.seller, signed.offer.nonce, signed.offer.amount) == (life["terms"].seller, 9, ETHER)
    assert signed.escrow == client.deployment.escrow and signed.signature == b"\x01" * 65

    swapped = {**args, "terms": terms_document({"item": "a rusty bicycle", "price": "1 ETH"})}
    with pytest.raises(OfferError, match="not the one the offer commits to"):
        published_offer(swapped, client.deployment.chain_id, client.deployment.escrow)
    spaced = b'{"item": "a bicycle", "price": "1 ETH"}'
    loose = {**args, "terms": spaced, "offer": {**args["offer"], "termsHash": "0x" + keccak(spaced).hex()}}
    with pytest.raises(OfferError, match="not canonical JSON"):
        published_offer(loose, client.deployment.chain_id, client.deployment.escrow)


def test_the_state_and_deadline_at_creation_follow_from_the_event_and_its_block(life, funded_trade):
    from p2pescrow.core.trades import created

    cases = [(life["client"], life["receipts"][2], TradeState.AWAITING_DEPOSIT),  # a seller's deposit to come
             (life["client"], life["receipts"][11], TradeState.FUNDED),
             (funded_trade["client"], funded_trade["receipt"], TradeState.FUNDED)]
    for client, receipt, state in cases:
        event = next(e for e in (escrow_codec().decode_log(_rpc_log(log)) for log in receipt["logs"])
                     if e is not None and e.name == "TradeCreated")
        terms = terms_from_event(event.args["terms"])
        timestamp = client.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
        deadline = terms.funding_window if state is TradeState.AWAITING_DEPOSIT else terms.release_window
        assert created(terms, event.args["held"], timestamp) == (state, timestamp + deadline)
    unfunded = funded_trade["client"].terms(funded_trade["created"].trade_id)
    assert created(unfunded, 0, 1_000) == (TradeState.AWAITING_FUNDING, 1_000 + unfunded.funding_window)


def test_the_offer_board_and_listing_queries_find_their_logs(life):
    from p2pescrow.core import queries

    client, terms = life["client"], life["terms"]
    escrow = client.deployment.escrow

    def logs(query):
        found = client.w3.eth.get_logs({**query, "fromBlock": 0, "toBlock": "latest"})
        return [escrow_codec().decode_log(_rpc_log(log)) for log in found]

    board = logs(queries.offers_query(escrow, terms.seller))
    assert [(e.name, e.args["seller"], e.args["nonce"]) for e in board] == [("OfferPublished", terms.seller, 9)]
    assert logs(queries.offers_query(escrow, terms.buyer)) == []
    assert len(logs(queries.offers_query(escrow))) == 1
    listings = logs(queries.reputation_assets_query(escrow))
    assert queries.reputation_assets_from_events(listings) == {ZERO_ADDRESS: (True, ETHER // 100)}
