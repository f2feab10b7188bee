"""The offer board is open to anyone: ``publishOffer`` checks nothing. Each kind of bad post is
recorded in ``rejected_posts`` with the reason, never indexed as an offer and never a crash, while
the good post beside them is indexed (SQLite and PostgreSQL).
"""

from __future__ import annotations

import pytest
from eth_utils import keccak
from sqlalchemy import select
from sqlalchemy.orm import Session
from support.market import document, publish

from p2pescrow.core.offers import terms_document
from p2pescrow.market import schema as s
from p2pescrow.market.board import MAX_DOCUMENT
from p2pescrow.market.db import open_database
from p2pescrow.market.sync import Indexer

pytestmark = pytest.mark.anvil

OTHER_ESCROW = "0x" + "5e" * 20


@pytest.fixture(scope="module")
def posts(market_chain):
    """One good post and one of each bad kind, published on the board: tx hash -> expected reason."""
    m = market_chain
    good = publish(m, document("Good guitar"))
    bad = {
        "bad signature": publish(m, document("Forged"), sign={"signer": m.d.stranger}),
        "garbage bytes": publish(m, b"\xff\xfe\x00garbage\x80"),
        "huge payload": publish(m, terms_document({"title": "Huge", "description": "x" * (MAX_DOCUMENT + 1)})),
        "other chain": publish(m, document("Elsewhere"), sign={"chain_id": 999}),
        "other escrow": publish(m, document("Other escrow"), sign={"verifying_contract": OTHER_ESCROW}),
        "not the hashed document": publish(m, document("Swapped"), terms_hash=keccak(document("Original"))),
        "non-canonical JSON": publish(m, b'{"title": "Spaced out"}'),
        "not an object": publish(m, b"[1,2,3]"),
        "NUL character": publish(m, terms_document({"title": "nul\u0000byte"})),
        "tags not strings": publish(m, terms_document({"title": "Tagged", "tags": [1, 2]})),
        "category too long": publish(m, terms_document({"title": "Long", "category": "c" * 65})),
    }
    repost = m.send(m.d.escrow.functions.publishOffer(good["offer"], good["signature"], good["terms"]),
                    m.d.seller)
    bad["repost"] = {"tx_hash": "0x" + bytes(repost["transactionHash"]).hex()}
    return good, bad


REASONS = {
    "bad signature": "bad signature: it is not the seller's",
    "garbage bytes": "not UTF-8 text",
    "huge payload": f"more than the {MAX_DOCUMENT} indexed",
    "other chain": "signed for another chain or escrow",
    "other escrow": "signed for another chain or escrow",
    "not the hashed document": "does not hash to the offer's termsHash",
    "non-canonical JSON": "not canonical JSON",
    "not an object": "is a JSON list, not an object",
    "NUL character": "holds a NUL character",
    "tags not strings": "'tags' is not a list of strings",
    "category too long": "'category' is longer than 64 characters",
    "repost": "a repost of offer",
}


def test_each_bad_post_is_rejected_with_its_reason_and_the_good_one_indexed(market_chain, posts, db_url):
    m = market_chain
    good, bad = posts
    engine = open_database(db_url)
    report = Indexer(engine, m.url, m.deployment, page=7).sync()

    assert report.rejected == len(bad)
    with Session(engine) as session:
        rejected = {r.tx_hash: r.reason for r in session.scalars(select(s.RejectedPost))}
        offers = {o.tx_hash: o for o in session.scalars(select(s.Offer))}
    for kind, post in bad.items():
        assert post["tx_hash"] in rejected, kind
        assert REASONS[kind] in rejected[post["tx_hash"]], (kind, rejected[post["tx_hash"]])
        assert post["tx_hash"] not in offers, kind
    indexed = offers[good["tx_hash"]]
    assert (indexed.title, indexed.status, indexed.seller) == ("Good guitar", "open", m.d.seller)
    assert indexed.document == good["terms"].decode()
    assert list(offers) == [good["tx_hash"]]


def test_bad_posts_are_rejected_again_identically_by_a_second_index(market_chain, posts, db_url, another_db):
    m = market_chain
    first, second = open_database(db_url), open_database(another_db("again"))
    Indexer(first, m.url, m.deployment).sync()
    Indexer(second, m.url, m.deployment, page=1).sync()
    with Session(first) as a, Session(second) as b:
        def rows(session):
            return sorted((r.block_number, r.log_index, r.reason) for r in session.scalars(select(s.RejectedPost)))

        assert rows(a) == rows(b) and len(rows(a)) == len(posts[1])

