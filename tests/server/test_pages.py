"""The five pages over real HTTP against `p2pescrow serve` (tests/support/server.py): each answers 200
with what the index holds (compared with MarketClient over the same index, never hard-coded), the
hostile listings are text wherever they appear, nothing runs inline (no inline script, no event
handler attribute, no style attribute: the CSP's `script-src 'self'; style-src 'self'` holds), every
form field has its label, unknown ids are 404 pages and malformed ones 400 pages, never a traceback."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.clitools import COMMAND
from support.html_tree import Element, parse
from support.server import LONG_DESCRIPTION, RTL_TITLE, SCRIPT_TITLE, ServedMarket, server_env

from p2pescrow.core.offers import SignedOffer, terms_hash
from p2pescrow.models import ZERO_ADDRESS
from p2pescrow.states import TradeState


@pytest.fixture(scope="module")
def market(served_market: ServedMarket) -> Any:
    client = served_market.market()
    yield client
    client.close()


def page(served_market: ServedMarket, path: str, status: int = 200, **params: Any) -> Element:
    answer = served_market.get(path, **params)
    assert answer.status_code == status, f"{path}: {answer.status_code}\n{answer.text[:2000]}"
    assert answer.headers["content-type"].startswith("text/html"), answer.headers["content-type"]
    assert "Traceback" not in answer.text
    return parse(answer.text)


def pages(served_market: ServedMarket) -> dict[str, str]:
    """Each page's path on the served history."""
    seller = served_market.history.released["seller"]  # type: ignore[union-attr]
    return {"offers": "/", "offer": f"/offers/{served_market.offers['bicycle']}", "address": f"/addresses/{seller}",
            "trade": f"/trades/{served_market.trades['ruled']}", "market": "/market"}


# -- every page ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["offers", "offer", "address", "trade", "market"])
def test_every_page_answers_with_its_layout_and_the_security_headers(served_market: ServedMarket, name: str) -> None:
    path = pages(served_market)[name]
    answer = served_market.get(path)
    assert answer.status_code == 200, answer.text[:2000]
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy and "unsafe" not in policy
    document = parse(answer.text)
    assert document.find("html").attrs["lang"] == "en"
    skip = document.find("a", class_="skip-link")
    assert skip.attrs["href"] == "#main" and document.by_id("main").tag == "main"
    nav = document.find("nav", aria_label="Main")
    assert nav.parent is not None and nav.parent.tag == "header"
    assert document.by_id("index-status").tag == "footer"
    assert str(served_market.record.escrow) in document.by_id("index-status").text()


@pytest.mark.parametrize("name", ["offers", "offer", "address", "trade", "market"])
def test_no_inline_script_handler_or_style_anywhere(served_market: ServedMarket, name: str) -> None:
    html = served_market.get(pages(served_market)[name]).text
    document = parse(html)
    scripts = document.find_all("script")
    assert scripts and all(s.attrs.get("src") == "/static/copy.js" and not s.text() for s in scripts)
    assert not document.find_all("style")
    for tag, attribute, value in document.all_attributes():
        assert not attribute.startswith("on"), f"<{tag} {attribute}={value!r}>"
        assert attribute != "style", f"<{tag} style={value!r}>"
        assert not (value or "").lower().lstrip().startswith("javascript:"), f"<{tag} {attribute}={value!r}>"
    assert "<style" not in html.lower()


@pytest.mark.parametrize("name", ["offers", "offer", "address", "trade", "market"])
def test_every_table_header_has_a_scope_and_every_field_a_label(served_market: ServedMarket, name: str) -> None:
    document = page(served_market, pages(served_market)[name])
    for th in document.find_all("th"):
        assert th.attrs.get("scope") in ("col", "row"), th.text()
    labels = {label.attrs.get("for") for label in document.find_all("label")}
    for field in document.find_all("input") + document.find_all("select") + document.find_all("textarea"):
        assert field.attrs.get("id") in labels, f"{field.tag} {field.attrs} has no <label for>"


def test_the_stylesheet_and_the_script_are_served_from_the_server(served_market: ServedMarket) -> None:
    css = served_market.get("/static/style.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert ":focus-visible" in css.text and ".table-scroll" in css.text
    script = served_market.get("/static/copy.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert "fill-command" not in script.text or "data-copy" in script.text
    assert served_market.get("/static/../app.py").status_code == 404
    assert served_market.get("/static/secrets.txt").status_code == 404


# -- the offers ------------------------------------------------------------------------------------
def listed_ids(document: Element) -> list[str]:
    return [str(row.attrs["data-offer-id"]) for row in document.find_all("tr", class_="offer")]


def test_offers_page_lists_what_the_search_finds_with_links_to_offer_and_seller(
        served_market: ServedMarket, market: Any) -> None:
    document = page(served_market, "/")
    expected = market.search(sync=False, limit=20)
    assert listed_ids(document) == [hit.id for hit in expected] and expected
    for hit in expected:
        row = document.find("tr", class_="offer", data_offer_id=hit.id)
        assert row.find("a", class_="offer-link").attrs["href"] == f"/offers/{hit.id}"
        assert row.find("a", class_="seller-link").attrs["href"] == f"/addresses/{hit.seller}"
        assert (hit.title or "(untitled)") in row.text()
        assert str(hit.screening.score) in row.text()
    # the filled and the revoked offers are not listed
    assert served_market.offers["camera"] not in listed_ids(document)
    assert served_market.offers["phone"] not in listed_ids(document)


def test_the_search_form_filters_like_the_market_search(served_market: ServedMarket, market: Any) -> None:
    by_text = page(served_market, "/", text="bicycle")
    assert listed_ids(by_text) == [hit.id for hit in market.search(sync=False, text="bicycle")] == [
        served_market.offers["bicycle"]]
    assert by_text.by_id("f-text").attrs["value"] == "bicycle"
    tusd = market.offer(served_market.offers["tusd"])
    by_token = page(served_market, "/", token=tusd.token, min_amount="100", max_amount="300")
    assert listed_ids(by_token) == [served_market.offers["tusd"]]
    assert listed_ids(page(served_market, "/", token=tusd.token, max_amount="249")) == []
    by_category = page(served_market, "/", category="bikes")
    assert listed_ids(by_category) == [hit.id for hit in market.search(sync=False, category="bikes")]
    assert by_category.has_id("result-count")
    nothing = page(served_market, "/", text="no such thing anywhere")
    assert listed_ids(nothing) == [] and "No offer" in nothing.by_id("no-offers").text()
    by_price = page(served_market, "/", sort="-amount")
    assert listed_ids(by_price) == [hit.id for hit in market.search(sync=False, sort="-amount", limit=20)]


def test_the_pages_of_offers_follow_each_other_with_the_same_filters(served_market: ServedMarket, market: Any) -> None:
    everything = [hit.id for hit in market.search(sync=False, sort="amount")]
    assert len(everything) >= 3
    first = page(served_market, "/", sort="amount", limit="2")
    assert listed_ids(first) == everything[:2]
    nav = first.by_id("pagination")
    assert not nav.find_all("a", rel="prev")
    following = nav.find("a", rel="next").attrs["href"]
    assert "sort=amount" in following and "limit=2" in following and "offset=2" in following
    second = parse(httpx.get(served_market.url + str(following)).text)
    assert listed_ids(second) == everything[2:4]
    back = second.by_id("pagination").find("a", rel="prev").attrs["href"]
    assert listed_ids(parse(httpx.get(served_market.url + str(back)).text)) == everything[:2]


def test_the_column_headers_sort_the_same_search(served_market: ServedMarket, market: Any) -> None:
    document = page(served_market, "/", category="electronics")
    price = next(a for a in document.find_all("a", class_="sort-link") if a.text() == "Price")
    link = str(price.attrs["href"])
    assert "category=electronics" in link and "sort=amount" in link
    by_price = parse(httpx.get(served_market.url + link).text)
    assert listed_ids(by_price) == [h.id for h in market.search(sync=False, category="electronics", sort="amount",
                                                                limit=20)]
    header = by_price.find("th", aria_sort="ascending")
    assert header.text() == "Price"
    descending = header.find("a", class_="sort-link").attrs["href"]
    assert "sort=-amount" in str(descending)


@pytest.mark.parametrize(("params", "said"), [
    ({"seller": "0x1234"}, "not an seller address"),
    ({"min_amount": "5"}, "needs a token"),
    ({"token": "0x" + "00" * 20, "min_amount": "1.2.3"}, "min amount"),
    ({"min_score": "9"}, "min score"),
    ({"sort": "cheapest"}, "unknown sort"),
    ({"limit": "0"}, "limit"),
    ({"text": "x" * 201}, "at most 200"),
    ({"max_arbiter_fee": "lots"}, "not a percentage"),
])
def test_a_malformed_filter_is_said_on_the_form_with_status_400(served_market: ServedMarket, params: dict[str, str],
                                                                said: str) -> None:
    document = page(served_market, "/", 400, **params)
    error = document.by_id("form-error")
    assert error.attrs["role"] == "alert" and said in error.text()
    assert document.by_id("search").tag == "form" and listed_ids(document) == []


# -- the hostile listings --------------------------------------------------------------------------
HOSTILE_MARKUP = ["<script>alert(1)</script>", "<img src=x onerror=alert(2)>", "<b>bold</b>", "<i>tools</i>"]


def assert_escaped(html: str) -> None:
    for raw in HOSTILE_MARKUP:
        assert raw not in html, f"{raw} is in the page unescaped"


def test_hostile_listings_are_text_on_the_offers_page(served_market: ServedMarket) -> None:
    answer = served_market.get("/", limit="100")
    assert_escaped(answer.text)
    document = parse(answer.text)
    script_row = document.find("tr", class_="offer", data_offer_id=served_market.offers["script"])
    assert SCRIPT_TITLE in script_row.text() and "<i>tools</i>" in script_row.text()
    rtl_row = document.find("tr", class_="offer", data_offer_id=served_market.offers["rtl"])
    assert RTL_TITLE in rtl_row.find("a", class_="offer-link").text()
    assert rtl_row.find("a", class_="offer-link").find("bdi")  # isolated: its direction stays inside


@pytest.mark.parametrize("name", ["script", "rtl", "long"])
def test_hostile_listings_are_text_on_their_offer_page(served_market: ServedMarket, market: Any, name: str) -> None:
    answer = served_market.get(f"/offers/{served_market.offers[name]}")
    assert answer.status_code == 200
    assert_escaped(answer.text)
    document = parse(answer.text)
    hit = market.offer(served_market.offers[name])
    assert document.by_id("offer-title").text() == " ".join(hit.title.split())
    assert document.by_id("offer-description").text() == " ".join(hit.description.split())
    if name == "long":
        assert len(hit.description) == 2000 and document.by_id("offer-description").text() == " ".join(
            LONG_DESCRIPTION.split())
    if name == "script":
        assert SCRIPT_TITLE in document.by_id("terms-document").text()
    assert document.by_id("offer-title").attrs.get("dir") == "auto"


def test_hostile_listings_are_text_on_their_sellers_page(served_market: ServedMarket, market: Any) -> None:
    hit = market.offer(served_market.offers["script"])
    answer = served_market.get(f"/addresses/{hit.seller}")
    assert answer.status_code == 200
    assert_escaped(answer.text)
    listed = parse(answer.text).by_id("open-offers")
    titles = {li.attrs["data-offer-id"]: li.find("a", class_="offer-link").text() for li in listed.find_all("li")}
    assert titles[served_market.offers["script"]] == SCRIPT_TITLE
    assert titles[served_market.offers["rtl"]] == " ".join(RTL_TITLE.split())
    assert set(titles) == {h.id for h in market.search(sync=False, seller=hit.seller, limit=10)}


# -- an offer --------------------------------------------------------------------------------------
def test_offer_page_says_the_terms_in_words_and_how_to_fill(served_market: ServedMarket, market: Any) -> None:
    offer_id = served_market.offers["tusd"]
    hit = market.offer(offer_id)
    document = page(served_market, f"/offers/{offer_id}")
    assert document.by_id("fill-command").tag == "code"
    assert document.by_id("fill-command").text() == f"p2pescrow offer fill {hit.id}"
    button = document.by_id("copy-fill-command")
    assert button.tag == "button" and button.attrs["data-copy"] == "fill-command" and "hidden" in button.attrs
    assert document.by_id("fillable").attrs["data-fillable"] == "true"
    words = document.by_id("terms-in-words")
    topics = [dt.text() for dt in words.find_all("dt")]
    for topic in ("Who may fill it", "Price", "Seller's deposit", "Buyer's deposit", "Deposits' rules",
                  "While it is live", "Timeout", "Arbiter", "Platform fee"):
        assert topic in topics, topics
    text = words.text()
    assert "250 TUSD" in text and "10 TUSD" in text and "5 TUSD" in text  # price, seller's and buyer's deposits
    assert "refunds the buyer" in text or "releases the price to the seller" in text
    timeout = "releases the price to the seller" if hit.timeout_releases else "refunds the buyer"
    assert timeout in text
    assert hit.arbiter in text and "forfeits its deposit" in text
    assert document.by_id("download-offer").attrs["href"] == f"/offers/{hit.id}.json"
    screening = document.by_id("screening")
    assert str(hit.screening.score) in screening.text()
    assert screening.find("a", class_="seller-link").attrs["href"] == f"/addresses/{hit.seller}"


def test_the_offer_download_is_the_signed_offer_offer_fill_reads(served_market: ServedMarket, market: Any) -> None:
    offer_id = served_market.offers["bicycle"]
    answer = served_market.get(f"/offers/{offer_id}.json")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    assert answer.headers["content-disposition"].startswith("attachment")
    signed = SignedOffer.from_json(answer.text)
    hit = market.offer(offer_id)
    assert signed == hit.signed_offer(served_market.record.escrow)
    assert signed.signer() == hit.seller
    terms = json.loads(answer.text)["terms"]
    assert terms_hash(terms) == bytes(signed.offer.termsHash) and terms["title"] == hit.title


def test_the_downloaded_offer_is_what_offer_verify_checks_as_fillable(served_market: ServedMarket,
                                                                       tmp_path: Path) -> None:
    """`offer verify FILE` reads a file as `offer fill FILE` does (signature, terms document, chain): the
    download passes it, against the served chain."""
    path = tmp_path / "bicycle.json"
    path.write_bytes(served_market.get(f"/offers/{served_market.offers['bicycle']}.json").content)
    done = subprocess.run([*COMMAND, "--rpc-url", served_market.chain.url, "--json", "offer", "verify", str(path)],
                          env=server_env(served_market.home), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    verified = json.loads(done.stdout)
    assert verified["valid"] is True and verified["offer"]["terms_document_matches"] is True


def test_an_offer_by_a_prefix_of_its_id_redirects_to_its_page(served_market: ServedMarket) -> None:
    offer_id = served_market.offers["bicycle"]
    answer = httpx.get(f"{served_market.url}/offers/{offer_id[:12]}")
    assert answer.status_code == 308 and answer.headers["location"] == f"/offers/{offer_id}"
    assert httpx.get(f"{served_market.url}/offers/{offer_id.upper().replace('0X', '0x')}").headers[
        "location"] == f"/offers/{offer_id}"


def test_a_filled_offer_says_it_cannot_be_filled_and_why(served_market: ServedMarket, market: Any) -> None:
    hit = market.offer(served_market.offers["camera"])
    document = page(served_market, f"/offers/{hit.id}")
    assert document.by_id("fillable").attrs["data-fillable"] == "false"
    reasons = document.by_id("not-fillable-reasons").text()
    assert "filled" in reasons and hit.trade_id in reasons
    revoked = page(served_market, f"/offers/{served_market.offers['phone']}")
    assert "revoked" in revoked.by_id("not-fillable-reasons").text()


# -- an address ------------------------------------------------------------------------------------
def test_address_page_shows_records_score_chart_and_recent_trades(served_market: ServedMarket, market: Any) -> None:
    seller = served_market.history.released["seller"]  # type: ignore[union-attr]
    screening = market.screening(seller)
    line = market.timeline(seller)
    document = page(served_market, f"/addresses/{seller}")
    assert document.by_id("address").text() == seller
    assert str(screening.score) in document.by_id("score").text()
    rows = document.by_id("records").find_all("tr")[1:]
    assert [(r.attrs["data-asset"], r.attrs["data-role"]) for r in rows] == [
        (rec.asset, rec.role.name.lower()) for rec in screening.records] and rows
    for row, rec in zip(rows, screening.records, strict=True):
        assert row.find_all("td")[2].text() == str(rec.trades)
    chart = document.by_id("address-chart")
    svg = chart.find("svg")
    assert svg.attrs["role"] == "img" and svg.attrs.get("aria-label")
    assert chart.find("details", class_="numbers").find("summary").text() == "Numbers"
    recent = document.by_id("recent-trades")
    links = [a.attrs["href"] for a in recent.find_all("a", class_="trade-link")]
    assert links == [f"/trades/{e.trade_id}" for e in line.recent(25)] and links
    rated = [e for e in line.entries if e.rating is not None]
    assert rated and f"{rated[0].rating}/5" in recent.find("tr", data_trade_id=rated[0].trade_id).text()


def test_an_address_with_no_trades_has_a_page_saying_so(served_market: ServedMarket) -> None:
    nobody = "0x" + "12" * 20
    document = page(served_market, f"/addresses/{nobody}")
    assert document.has_id("no-trades") and "3.00" in document.by_id("score").text()


# -- a trade ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["released", "refunded", "ruled", "cancelled", "live", "filled"])
def test_trade_page_shows_state_timeline_and_the_diagram_marked(served_market: ServedMarket, market: Any,
                                                                 name: str) -> None:
    trade_id = served_market.trades[name]
    events = market.history(trade_id, sync=False)
    document = page(served_market, f"/trades/{trade_id}")
    [trade] = [t for t in market.trades(sync=False) if t.id == trade_id]
    state = document.by_id("trade-state")
    assert state.attrs["data-state"] == trade.state.name
    timeline = document.by_id("timeline")
    assert [li.attrs["data-event"] for li in timeline.find_all("li", class_="event")] == [e.name for e in events]
    assert events[0].name == "TradeCreated"
    diagram = document.by_id("state-diagram").find("svg")
    marked = [g.attrs["data-state"] for g in diagram.find_all("g", class_="state")
              if g.find_all("rect", class_="current")]
    assert marked == [trade.state.name]
    assert trade.buyer in document.by_id("trade-terms").text() and trade.seller in document.by_id("trade-terms").text()


def test_the_ruled_trade_says_the_dispute_and_the_ruling_in_words(served_market: ServedMarket) -> None:
    document = page(served_market, f"/trades/{served_market.trades['ruled']}")
    events = {li.attrs["data-event"]: li.text() for li in document.by_id("timeline").find_all("li", class_="event")}
    assert "Disputed by" in events["Disputed"] and "Ruled by the arbiter: 50% to the buyer" in events["Ruled"]
    assert document.by_id("trade-state").attrs["data-state"] == TradeState.RESOLVED.name


# -- the market ------------------------------------------------------------------------------------
def test_market_page_draws_each_figure_with_its_numbers_one_click_away(served_market: ServedMarket,
                                                                       market: Any) -> None:
    stats = market.stats()
    document = page(served_market, "/market")
    for name in ("volume", "outcomes", "disputes", "release", "arbiters"):
        figure = document.by_id(f"chart-{name}")
        assert figure.tag == "figure" and figure.find("svg").attrs["role"] == "img"
        details = figure.find("details", class_="numbers")
        assert details.find("summary").text() == "Numbers" and details.find("table")
    outcomes = document.by_id("chart-outcomes").find("table")
    shown = {row.find("th").text(): row.find("td").text() for row in outcomes.find("tbody").find_all("tr")}
    assert shown == {k: str(v) for k, v in stats.outcomes.items()}
    svg_text = document.by_id("chart-outcomes").find("svg").text()
    for count in stats.outcomes.values():
        assert str(count) in svg_text  # the bars' labels are text in the SVG
    disputes = document.by_id("chart-disputes").text()
    assert f"{stats.dispute_rate * 100:.1f}%" in disputes
    arbiters = document.by_id("arbiters")
    assert [r.attrs["data-arbiter"] for r in arbiters.find("tbody").find_all("tr")] == [
        a.arbiter for a in stats.arbiters] and stats.arbiters
    volume = document.by_id("chart-volume").find("table")
    periods = [row.find("th").text() for row in volume.find("tbody").find_all("tr")]
    assert periods == [p.period for p in sorted(stats.volume_by_day, key=lambda p: (p.token != ZERO_ADDRESS,
                                                                                     p.token, p.period))]


def test_the_charts_ids_do_not_collide_between_charts(served_market: ServedMarket) -> None:
    document = page(served_market, "/market")
    ids = [e.attrs["id"] for e in document.iter() if e.attrs.get("id")]
    assert len(ids) == len(set(ids))
    references = re.findall(r'url\(#([^)]+)\)', served_market.get("/market").text)
    assert references and set(references) <= set(ids)


# -- errors ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("path", "status"), [
    ("/offers/0x" + "ab" * 32, 404),
    ("/offers/not-an-id", 400),
    ("/offers/0x12", 400),
    ("/offers/0x" + "ab" * 32 + ".json", 404),
    ("/trades/0x" + "cd" * 32, 404),
    ("/trades/0x1234", 400),
    ("/trades/<script>", 400),
    ("/addresses/0x1234", 400),
    ("/addresses/0x" + "aB" * 20, 400),  # mixed case with a wrong checksum
    ("/no/such/page", 404),
])
def test_unknown_ids_are_404_pages_and_malformed_ones_400_pages(served_market: ServedMarket, path: str,
                                                                status: int) -> None:
    answer = httpx.get(served_market.url + path.replace("<", "%3C").replace(">", "%3E"))
    assert answer.status_code == status, answer.text[:500]
    assert answer.headers["content-type"].startswith("text/html")
    assert "<script>" not in answer.text and "Traceback" not in answer.text
    document = parse(answer.text)
    assert document.by_id("error").tag == "h1" and str(status) in document.by_id("error").text()
    assert answer.headers["content-security-policy"]


def test_an_index_that_cannot_be_read_is_a_503_page_not_a_traceback(served_market: ServedMarket,
                                                                     tmp_path: Path) -> None:
    """A server of its own (in process, no background sync) over a copy of the index, which then goes."""
    import shutil

    from fastapi.testclient import TestClient

    from p2pescrow.reader import EscrowReader
    from p2pescrow.server import ServedMarket as Served
    from p2pescrow.server import ServerSettings, create_app

    copy = tmp_path / "market.sqlite"
    shutil.copy(served_market.db_url.removeprefix("sqlite:///"), copy)
    reader = EscrowReader.connect(served_market.chain.url, deployment=served_market.record)
    served = Served.open(ServerSettings(db=f"sqlite:///{copy}"), reader)
    with TestClient(create_app(served, background_sync=False)) as client:
        assert client.get("/market").status_code == 200
        served.close()
        copy.unlink()
        copy.write_bytes(b"not a database")
        for path in ("/", "/market", f"/offers/{served_market.offers['bicycle']}",
                     f"/trades/{served_market.trades['released']}", f"/addresses/{served_market.record.owner}"):
            answer = client.get(path)
            assert answer.status_code == 503, (path, answer.text[:300])
            document = parse(answer.text)
            assert "cannot be read" in document.by_id("error-message").text()
            assert "Traceback" not in answer.text
