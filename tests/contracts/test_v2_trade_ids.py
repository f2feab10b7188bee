"""A trade's id is keccak256(abi.encode(terms)), whatever path computes it. The escrow hashes the terms
straight from calldata (cheaper than re-encoding them), which is the same only while the calldata is
the canonical encoding: a terms word with bits beyond its type must be refused, or a trade would get
an id that no client computing it from the decoded terms (TradeCreated) could ever act on."""

from __future__ import annotations

from typing import Any

import pytest
from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector
from support.escrow import TERMS_FIELDS, TERMS_TYPES, Deployment, trade_id
from support.offers import tx
from support.reverts import decode_revert, revert_data
from support.v2 import ONE, live

# Terms words whose type is narrower than 256 bits (salt and termsHash use every bit).
NARROW_FIELDS = [f for f in TERMS_FIELDS if f not in ("salt", "termsHash")]


def calldata(function: str, terms: dict[str, Any], *rest: tuple[str, Any]) -> bytes:
    types = [TERMS_TYPES, *(typ for typ, _ in rest)]
    selector = function_signature_to_4byte_selector(f"{function}({','.join(types)})")
    return selector + encode(types, [tuple(terms[f] for f in TERMS_FIELDS), *(value for _, value in rest)])


def with_dirty_bits(data: bytes, field: str) -> bytes:
    """`data` with the top bit of the terms word `field` set (beyond every narrow type)."""
    raw = bytearray(data)
    raw[4 + 32 * TERMS_FIELDS.index(field)] |= 0x80
    return bytes(raw)


def refused(d: Deployment, sender: str, data: bytes, value: int = 0) -> bool:
    try:
        d.chain.w3.eth.call({"from": sender, "to": d.escrow.address, "data": data, "value": value})
    except Exception as exc:  # noqa: BLE001 - the provider's own error type
        return decode_revert(revert_data(exc)).name == "Unknown"  # the ABI decoder's bare revert
    return False


def test_the_id_the_escrow_gives_a_trade_is_the_hash_of_its_encoded_terms(deployed: Deployment) -> None:
    d = deployed
    t = d.terms()
    returned = d.chain.w3.eth.call({"from": d.buyer, "to": d.escrow.address, "value": ONE,
                                    "data": calldata("createAndFund", t)})
    assert returned == trade_id(t) == d.escrow.functions.tradeId(t).call()


@pytest.mark.parametrize("field", NARROW_FIELDS)
def test_creating_with_terms_not_canonically_encoded_is_refused(deployed: Deployment, field: str) -> None:
    d = deployed
    t = d.terms()
    assert refused(d, d.buyer, with_dirty_bits(calldata("createAndFund", t), field), ONE)


@pytest.mark.parametrize("field", ["buyer", "amount", "flags"])
def test_acting_with_terms_not_canonically_encoded_is_refused(deployed: Deployment, field: str) -> None:
    d = deployed
    t = live(d)
    clean = calldata("release", t, ("uint256", ONE))
    d.chain.w3.eth.call({"from": d.buyer, "to": d.escrow.address, "data": clean})  # would succeed
    assert refused(d, d.buyer, with_dirty_bits(clean, field))
    tx(d, d.escrow.functions.release(t, ONE), d.buyer)  # the trade itself is untouched
    assert d.state_of(t) == "Completed"
