"""Terms documents in canonical JSON (RFC 8785): the RFC's own examples, the refusals of what has no
canonical form, and the document and hash an offer commits to."""

from __future__ import annotations

import json
import struct

import pytest
from eth_utils import keccak

from p2pescrow.core.jcs import CanonicalJsonError, canonical, canonical_text, parse
from p2pescrow.core.offers import OfferError, canonical_document, is_canonical, terms_document, terms_hash
from p2pescrow.core.terms import bytes32

# RFC 8785, section 3.2.2 and 3.2.3: the input as JSON text, and its canonical form.
RFC_INPUT = r'''{
  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}'''
RFC_OUTPUT = (r'''{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'''
              r'''"string":"€$\u000f\nA'B\"\\\\\"/"}''')


def test_the_rfc_example_canonicalises_to_the_rfc_output():
    assert canonical_text(parse(RFC_INPUT)) == RFC_OUTPUT
    assert canonical(parse(RFC_INPUT)) == RFC_OUTPUT.encode("utf-8")


def test_members_sort_by_utf16_code_units_as_in_the_rfc():
    value = parse(r'''{"\u20ac": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Hebrew Letter Dalet With Dagesh",
                      "1": "One", "\ud83d\ude00": "Emoji: Grinning Face", "\u0080": "Control",
                      "\u00f6": "Latin Small Letter O With Diaeresis"}''')
    names = json.loads(canonical_text(value), object_pairs_hook=lambda pairs: [name for name, _ in pairs])
    assert names == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]
    # the emoji (surrogates D83D DE00) sorts before U+FB33, though its code point is higher
    assert canonical_text({"\ufb33": 1, "\U0001f600": 2}) == '{"\U0001f600":2,"\ufb33":1}'


# RFC 8785, appendix B: IEEE 754 doubles (as hex) and how they are written.
NUMBERS = [
    ("0000000000000000", "0"), ("8000000000000000", "0"), ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"), ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"), ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"), ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"), ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"), ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"), ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"), ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"), ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"), ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"), ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


@pytest.mark.parametrize(("bits", "text"), NUMBERS)
def test_numbers_are_written_as_ecmascript_writes_a_double(bits, text):
    assert canonical_text(struct.unpack(">d", bytes.fromhex(bits))[0]) == text


def test_strings_escape_only_quotes_backslashes_and_control_characters():
    assert canonical_text("\b\t\n\f\r\x00\x1f\x7f\u2028é😀") == r'"\b\t\n\f\r\u0000\u001f' + '\x7f\u2028é😀"'
    assert canonical(["é"]) == b'["\xc3\xa9"]'  # UTF-8, never \u escapes


@pytest.mark.parametrize(("value", "reason"), [
    (float("nan"), "not a JSON number"),
    (float("inf"), "not a JSON number"),
    (2**53 + 1, "beyond 2\\^53"),
    (-(2**60), "beyond 2\\^53"),
    ("\ud800", "lone surrogate"),
    ({1: "x"}, "keys must be strings"),
    ({"\udc00": 1}, "lone surrogate"),
    ({"a": b"bytes"}, "bytes is not a JSON value"),
    ({"a": {1, 2}}, "set is not a JSON value"),
])
def test_what_has_no_canonical_form_is_refused_with_where_it_is(value, reason):
    with pytest.raises(CanonicalJsonError, match=reason):
        canonical(value)


def test_integers_within_2_to_the_53_are_exact_and_larger_ones_are_written_as_strings():
    assert canonical_text([2**53, -(2**53), 0, -0]) == "[9007199254740992,-9007199254740992,0,0]"
    assert canonical_text({"amount": str(2**128 - 1)}) == '{"amount":"340282366920938463463374607431768211455"}'
    assert canonical_text(True) == "true" and canonical_text(None) == "null"


def test_parsing_refuses_duplicate_names_and_reads_numbers_as_doubles():
    with pytest.raises(CanonicalJsonError, match="duplicate member name 'a'"):
        parse('{"a": 1, "a": 2}')
    with pytest.raises(CanonicalJsonError, match="not JSON"):
        parse("{")
    with pytest.raises(CanonicalJsonError, match="NaN is not a JSON number"):
        parse("[NaN]")
    assert canonical_text(parse("[1" + "0" * 35 + "]")) == "[1e+35]"  # an integer in the text is a double


# -- the terms document ------------------------------------------------------------------------------
FIELDS = {"item": "a blue bicycle", "price": "250", "currency": "DUSD", "delivery": {"days": 3, "tracked": True},
          "notes": None, "photos": ["ipfs://bafy1", "ipfs://bafy2"]}


def test_a_terms_document_is_the_canonical_bytes_and_its_hash_their_keccak():
    document = terms_document(FIELDS)
    assert document == (b'{"currency":"DUSD","delivery":{"days":3,"tracked":true},"item":"a blue bicycle",'
                        b'"notes":null,"photos":["ipfs://bafy1","ipfs://bafy2"],"price":"250"}')
    assert terms_hash(document) == terms_hash(FIELDS) == keccak(document)
    assert is_canonical(document)
    # any JSON spelling of the same object gives the same document and hash
    spaced = '{ "price": "250", "photos": ["ipfs://bafy1", "ipfs://bafy2"], "notes": null,\n' \
             '  "item": "a blue \\u0062icycle", "delivery": {"tracked": true, "days": 3.0}, "currency": "DUSD" }'
    assert canonical_document(spaced) == document and terms_hash(spaced) == keccak(document)
    assert not is_canonical(spaced.encode())
    # bytes are the document as published: hashed as they are
    assert terms_hash(spaced.encode()) == keccak(spaced.encode()) != keccak(document)


def test_new_terms_hash_a_fields_document_as_an_offer_does():
    assert bytes32(FIELDS) == terms_hash(FIELDS)


@pytest.mark.parametrize(("document", "reason"), [
    (["not", "an", "object"], "a terms document is a JSON object"),
    ({"price": 2.5e300 * 1e10}, "no canonical JSON form"),
    ({"amount": 10**30}, "beyond 2\\^53"),
    (b"\xff\xfe", "not UTF-8"),
    ("{not json", "not valid JSON"),
])
def test_a_terms_document_that_has_no_canonical_form_is_an_offer_error(document, reason):
    call = canonical_document if isinstance(document, (bytes, str)) else terms_document
    with pytest.raises(OfferError, match=reason) as caught:
        call(document)
    assert caught.value.exit_code == 2
