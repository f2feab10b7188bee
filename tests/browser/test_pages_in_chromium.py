"""The market's pages in a real browser: headless Chromium (Debian's ``/usr/bin/chromium``, driven by
Playwright: tests/support/browser.py) against ``p2pescrow serve`` on a free localhost port over an index
synced from Anvil trades (the served-market fixture, tests/support/server.py).

Every test runs at desktop (1280x800) and phone (375x740) width (a narrow window, not an emulated phone: the
pages' ``<meta name=viewport>`` is checked so that a real phone lays them out at its width too), and on every
page it arrives at checks what no page may do: log a console error (Chromium logs failed loads and
Content-Security-Policy violations there), throw, open a dialog, or scroll sideways. A missing Chromium
fails these tests with one line naming the package; they never skip.

Screenshots are kept as test output: ``.build/screenshots/<test>-<width>-<n>-<page>.png`` (one per page
each test arrives at, full page; .build/ is git-ignored).

Tests that change the chain (filling offers with the CLI) come last in the file.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from support import secrets
from support.browser import DESKTOP, PHONE, Tour
from support.clitools import COMMAND
from support.server import SCRIPT_TITLE, ServedMarket, register_deployment, server_env
from support.workspace import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.anvil, pytest.mark.slow]

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page


def sound(tour: Tour) -> None:
    """Assert now (inside the test) that no page so far misbehaved."""
    assert tour.problems() == []


# -- reading the pages -----------------------------------------------------------------------------
def listed_ids(page: Page) -> list[str]:
    """The offers the offers page lists, in its order."""
    return [str(i) for i in page.locator("table#offers tr.offer").evaluate_all(
        "rows => rows.map(r => r.dataset.offerId)")]


def api_ids(served: ServedMarket, **filters: Any) -> list[str]:
    answer = served.get("/api/offers", **filters)
    assert answer.status_code == 200, answer.text
    return [o["id"] for o in answer.json()["offers"]]


def search_form_submitted(tour: Tour, **fields: str) -> Page:
    """Fill the search form's fields (named as the API's query parameters; each has a label, a test checks),
    unfolding the filters when a field is folded away, then click Search; the page of results."""
    page = tour.page
    form = page.locator("form#search")
    for name, value in fields.items():
        control = form.locator(f"[name={name}]")
        if not control.is_visible():  # the filters are folded away until their summary is clicked
            summary = form.locator("details.filters > summary")
            summary.click()
            assert control.is_visible(), f"opening {summary.inner_text()!r} did not show the field {name}"
        if control.evaluate("e => e.tagName") == "SELECT":
            control.select_option(value)
        else:
            control.fill(value)
    return tour.follow(page.locator("button#search-submit"), "search")


def open_details_count(page: Page) -> int:
    return int(page.locator("details.numbers[open]").count())


# -- the offers page -------------------------------------------------------------------------------
def test_offers_page_lists_what_the_api_finds_and_every_field_has_a_label(tour: Tour,
                                                                         served_market: ServedMarket) -> None:
    page = tour.go("/")
    listed = listed_ids(page)
    assert listed == api_ids(served_market)
    assert served_market.offers["bicycle"] in listed and served_market.offers["camera"] not in listed
    controls = page.locator("form#search").locator("input:not([type=hidden]), select")
    assert controls.count() >= 8
    for i in range(controls.count()):
        control = controls.nth(i)
        name = control.get_attribute("name")
        labelled = control.evaluate("e => Array.from(e.labels || []).map(l => l.textContent.trim()).join(' ')")
        assert labelled, f"the search field {name} has no label"
        assert page.get_by_label(labelled, exact=True).first.get_attribute("name") == name
    sound(tour)


def test_search_and_filters_change_the_results(tour: Tour, served_market: ServedMarket) -> None:
    offers = served_market.offers
    page = tour.go("/")
    everything = listed_ids(page)

    page = search_form_submitted(tour, text="Garden")
    assert "text=Garden" in tour.path()
    assert listed_ids(page) == [offers["chair"]] == api_ids(served_market, text="Garden")
    assert page.locator("tr.offer").first.get_by_role("link", name=re.compile("Garden chair")).is_visible()

    page = tour.go("/")
    page = search_form_submitted(tour, category="bikes")
    assert listed_ids(page) == api_ids(served_market, category="bikes")
    assert offers["rtl"] in listed_ids(page) and offers["chair"] not in listed_ids(page)
    assert listed_ids(page) != everything

    page = tour.go("/")
    page = search_form_submitted(tour, timeout="releases")
    assert listed_ids(page) == [offers["chair"]] == api_ids(served_market, timeout="releases")

    page = tour.go("/")
    page = search_form_submitted(tour, sort="-amount")
    by_price = api_ids(served_market, sort="-amount")
    assert listed_ids(page) == by_price and sorted(by_price) == sorted(everything) and by_price != everything

    page = tour.go("/")
    page = search_form_submitted(tour, text="no such thing anywhere")
    assert listed_ids(page) == [] and page.locator("#no-offers").is_visible()
    sound(tour)


def test_the_pages_of_results_link_to_each_other(tour: Tour, served_market: ServedMarket) -> None:
    everything = api_ids(served_market)
    assert len(everything) >= 3
    page = tour.go("/?limit=2")
    assert listed_ids(page) == everything[:2]
    page = tour.follow(page.locator("nav#pagination a[rel=next]"), "next")
    assert listed_ids(page) == everything[2:4]
    page = tour.follow(page.locator("nav#pagination a[rel=prev]"), "prev")
    assert listed_ids(page) == everything[:2]
    sound(tour)


def test_listing_and_search_work_without_javascript(tour: Tour, served_market: ServedMarket) -> None:
    tour.without_javascript()
    page = tour.go("/")
    assert page.evaluate("1 + 1") == 2  # Playwright's own evaluation still works; the page's scripts do not
    assert listed_ids(page) == api_ids(served_market)
    page = search_form_submitted(tour, text="Garden")
    assert listed_ids(page) == [served_market.offers["chair"]]
    page = tour.go("/")
    page = search_form_submitted(tour, category="bikes", sort="-amount")
    assert listed_ids(page) == api_ids(served_market, category="bikes", sort="-amount")
    page = tour.follow(page.locator("tr.offer a.offer-link").first, "offer")
    # The command is there to select and copy by hand; the copy button, which needs copy.js, stays hidden.
    assert page.locator("code#fill-command").inner_text().startswith("p2pescrow offer fill 0x")
    assert not page.locator("button#copy-fill-command").is_visible()
    sound(tour)


def test_a_malformed_filter_is_one_alert_and_the_form_keeps_what_was_typed(tour: Tour) -> None:
    page = tour.go("/")
    form = page.locator("form#search")
    form.locator("details.filters > summary").click()
    form.locator("[name=min_score]").fill("excellent")
    form.locator("[name=text]").fill("chair")
    with page.expect_navigation() as navigation:
        page.locator("button#search-submit").click()
    assert navigation.value is not None and navigation.value.status == 400
    tour.arrived("bad-filter")
    alert = page.get_by_role("alert")
    assert alert.count() == 1 and alert.is_visible()
    assert page.locator("p#form-error").inner_text().count("\n") == 0 and "score" in alert.inner_text().lower()
    assert form.locator("[name=min_score]").input_value() == "excellent"  # to correct, not to type again
    assert form.locator("[name=text]").input_value() == "chair"
    assert form.locator("[name=min_score]").is_visible()  # the filters unfolded to show the culprit
    # Chromium logs the 400 answer itself as a failed load: expected here, and nothing else.
    assert [e for e in tour.watch.console_errors if "400" not in e] == []
    tour.watch.console_errors.clear()
    sound(tour)


def test_a_column_header_sorts_by_it_and_a_second_click_reverses(tour: Tour, served_market: ServedMarket) -> None:
    page = tour.go("/?limit=10")
    price = page.locator("table#offers thead th").filter(has=page.get_by_role("link", name="Price"))
    assert price.get_attribute("aria-sort") is None
    for sort, order in (("amount", "ascending"), ("-amount", "descending")):
        page = tour.follow(price.get_by_role("link", name="Price"), sort)
        assert f"sort={sort}" in tour.path() and "limit=10" in tour.path()  # the rest of the query is kept
        assert listed_ids(page) == api_ids(served_market, limit=10, sort=sort)
        assert price.get_attribute("aria-sort") == order
    amounts = [int(o["amount"]) for o in served_market.get("/api/offers", sort="-amount").json()["offers"]]
    assert amounts == sorted(amounts, reverse=True) and len(set(amounts)) > 1
    sound(tour)


def test_tab_reaches_the_search_fields_and_enter_submits(tour: Tour, served_market: ServedMarket) -> None:
    page = tour.go("/")
    fields = page.locator("form#search").locator("input:not([type=hidden]), select, button")
    wanted = set(fields.evaluate_all("es => es.map(e => e.name || e.id)"))
    reached: list[str] = []
    for _ in range(60):  # the skip link, the navigation, then the form: well under 60 stops
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.closest('form#search') ? "
                                "(document.activeElement.name || document.activeElement.id) : null")
        if focused:
            reached.append(focused)
        if page.evaluate("document.activeElement.matches('details.filters:not([open]) > summary')"):
            page.keyboard.press("Enter")  # unfold the filters, as a keyboard user does
        if wanted <= set(reached):
            break
    assert wanted <= set(reached), f"Tab never reached {sorted(wanted - set(reached))}"
    # Back to the text field (Shift+Tab, the keyboard only), type, Enter submits.
    for _ in range(len(reached) + 5):
        if page.evaluate("document.activeElement.name") == "text":
            break
        page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.activeElement.name") == "text"
    page.keyboard.type("Garden")
    page = tour.follow(page.locator("form#search [name=text]"), "entered", key="Enter")
    assert "text=Garden" in tour.path()
    assert listed_ids(page) == [served_market.offers["chair"]]
    sound(tour)


# -- an offer, its seller, a trade, the market ----------------------------------------------------
def test_an_offer_shows_its_terms_and_the_exact_fill_command_which_copies(
        tour: Tour, browser: BrowserContext, served_market: ServedMarket, tmp_path: Path) -> None:
    """The command copies by click and from the keyboard; the offer's JSON downloads, and `p2pescrow offer
    verify` accepts the downloaded file."""
    offer_id = served_market.offers["bicycle"]
    command = f"p2pescrow offer fill {offer_id}"
    browser.grant_permissions(["clipboard-read", "clipboard-write"], origin=served_market.url)
    page = tour.go("/")
    page = tour.follow(page.locator(f"tr.offer[data-offer-id='{offer_id}'] a.offer-link"), "offer")
    assert tour.path() == f"/offers/{offer_id}"
    assert page.locator("h1#offer-title").inner_text() == "Bicycle"
    assert page.locator("p#fillable").get_attribute("data-fillable") == "true"
    assert page.locator("dl#terms-in-words dt").count() >= 5
    assert page.locator("code#fill-command").inner_text() == command
    button = page.locator("button#copy-fill-command")
    assert button.is_visible(), "copy.js did not show the copy button"

    page.evaluate("navigator.clipboard.writeText('nothing copied yet')")
    button.click()
    assert clipboard_after_copy(page) == command
    assert page.locator("#copy-status").inner_text().strip()

    page.evaluate("navigator.clipboard.writeText('nothing copied yet')")
    page.locator("body").focus()
    for _ in range(100):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "copy-fill-command":
            break
    assert page.evaluate("document.activeElement.id") == "copy-fill-command", "Tab never reached the copy button"
    page.keyboard.press("Enter")
    assert clipboard_after_copy(page) == command

    link = page.locator("a#download-offer")
    assert link.get_attribute("href") == f"/offers/{offer_id}.json"
    with page.expect_download() as downloading:
        link.click()
    saved = tmp_path / downloading.value.suggested_filename
    downloading.value.save_as(saved)
    assert saved.suffix == ".json" and json.loads(saved.read_text())["offer"]["seller"] == served_market.chain.d.seller
    verified = CliUser.make(served_market, tmp_path, funded=False).run("offer", "verify", str(saved))
    assert verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout)["valid"] is True
    sound(tour)


def clipboard_after_copy(page: Page, timeout: float = 5.0) -> str:
    """The clipboard's text once a copy replaced the placeholder the test put there (the copy is asynchronous)."""
    deadline = time.monotonic() + timeout
    while True:
        text = str(page.evaluate("navigator.clipboard.readText()"))
        if text != "nothing copied yet" or time.monotonic() > deadline:
            return text
        page.wait_for_timeout(50)


def test_the_seller_link_leads_to_a_record_and_a_chart(tour: Tour, served_market: ServedMarket) -> None:
    seller = served_market.chain.d.seller
    page = tour.go(f"/offers/{served_market.offers['bicycle']}")
    page = tour.follow(page.locator("section#screening a.seller-link").first, "seller")
    assert tour.path().lower() == f"/addresses/{seller}".lower()
    record = served_market.get(f"/api/addresses/{seller}").json()
    assert page.locator("h1").inner_text().lower().find(seller.lower()) >= 0
    assert page.locator("#address").inner_text().lower() == seller.lower()
    score = record["screening"]["score"]
    assert score != "3.00" and f"{score}/5" in page.locator("p#score").inner_text()  # rated: not the prior
    assert page.locator("table#records tbody tr").count() >= 1
    chart_drawn(page, "figure#address-chart")
    trades = page.locator("table#recent-trades a.trade-link")
    assert trades.count() == len(record["recent_trades"]) > 0
    sound(tour)


def test_a_trade_shows_its_timeline_and_marks_its_state_in_the_diagram(tour: Tour,
                                                                       served_market: ServedMarket) -> None:
    """A ruled trade and a live one: each page lists the trade's events, oldest first, and marks its own state
    (and only it) in the diagram."""
    marked_states = set()
    for name, last_event in (("ruled", "Ruled"), ("live", "TradeFunded")):
        trade_id = served_market.trades[name]
        page = tour.go(f"/trades/{trade_id}")
        answer = served_market.get(f"/api/trades/{trade_id}").json()
        state = answer["state"].upper()
        assert page.locator("p#trade-state").get_attribute("data-state") == state
        events = page.locator("ol#timeline li.event").evaluate_all("es => es.map(e => e.dataset.event)")
        assert events == [e["name"] for e in answer["history"]]
        assert events[0] == "TradeCreated" and events[-1] == last_event, events
        assert ("Disputed" in events) == (name == "ruled")
        for time_element in page.locator("ol#timeline li.event time").all():
            assert time_element.get_attribute("datetime")
        diagram = page.locator("figure#state-diagram svg[role=img]")
        assert diagram.is_visible()
        marked = diagram.locator("rect.current").evaluate_all(
            "rs => rs.map(r => r.closest('g.state').dataset.state)")
        assert marked == [state]
        marked_states.add(state)
    assert len(marked_states) == 2
    sound(tour)


def test_a_trade_is_reached_from_its_sellers_recent_trades(tour: Tour, served_market: ServedMarket) -> None:
    page = tour.go(f"/addresses/{served_market.chain.d.seller}")
    link = page.locator("table#recent-trades a.trade-link").first
    href = link.get_attribute("href")
    page = tour.follow(link, "trade")
    assert tour.path() == href and page.locator("ol#timeline li.event").count() >= 1
    sound(tour)


def chart_drawn(page: Page, figure: str) -> None:
    """The figure's chart is drawn: an ``img`` loaded (naturalWidth > 0) or an inline SVG with a size and marks."""
    images = page.locator(f"{figure} img")
    svgs = page.locator(f"{figure} svg")
    assert images.count() + svgs.count() >= 1, f"{figure} holds no chart"
    for image in images.all():
        assert image.evaluate("i => i.complete && i.naturalWidth > 0"), f"{figure}: an image did not load"
    for svg in svgs.all():
        box = svg.bounding_box()
        assert box is not None and box["width"] > 0 and box["height"] > 0, f"{figure}: an empty SVG"
        assert svg.locator("path, rect, line, polyline").count() > 0, f"{figure}: nothing drawn"


def test_the_market_charts_draw_and_their_numbers_open_by_click_and_keyboard(tour: Tour) -> None:
    page = tour.go("/market")
    for chart in ("chart-volume", "chart-outcomes", "chart-disputes", "chart-release", "chart-arbiters"):
        chart_drawn(page, f"figure#{chart}")
    summaries = page.locator("details.numbers > summary")
    assert summaries.count() >= 5
    assert open_details_count(page) == 0
    assert not page.locator("details.numbers table").first.is_visible()

    summaries.nth(0).click()
    assert open_details_count(page) == 1
    assert page.locator("figure#chart-volume details.numbers table").is_visible()

    # By keyboard: Tab from the top of the page to the second summary, then Enter; Space on the third.
    page.locator("body").focus()
    for key, index in (("Enter", 1), ("Space", 2)):
        for _ in range(80):
            page.keyboard.press("Tab")
            if summaries.nth(index).evaluate("s => s === document.activeElement"):
                break
        assert summaries.nth(index).evaluate("s => s === document.activeElement"), f"Tab never reached summary {index}"
        page.keyboard.press(key)
        assert summaries.nth(index).evaluate("s => s.parentElement.open"), f"{key} did not open summary {index}"
    assert open_details_count(page) == 3
    tour.arrived("numbers-open")
    sound(tour)


# -- hostile listings --------------------------------------------------------------------------------
def test_a_title_holding_a_script_tag_shows_as_text_and_runs_nothing(tour: Tour,
                                                                   served_market: ServedMarket) -> None:
    offer_id = served_market.offers["script"]
    page = tour.go(f"/offers/{offer_id}")
    assert page.locator("h1#offer-title").inner_text() == SCRIPT_TITLE
    assert page.get_by_text(SCRIPT_TITLE, exact=True).first.is_visible()
    description = page.locator("p#offer-description").inner_text()
    assert "<img src=x onerror=alert(2)>" in description and "<b>bold</b>" in description
    # Nothing of the listing became markup: the only scripts are the site's, no image "x", no bold.
    scripts = page.locator("script").evaluate_all("ss => ss.map(s => s.getAttribute('src'))")
    assert scripts == ["/static/copy.js"] or all(s and s.startswith("/static/") for s in scripts), scripts
    assert page.locator("img[src=x], main b, main i").count() == 0

    page = tour.go("/?text=alert")
    row = page.locator(f"tr.offer[data-offer-id='{offer_id}']")
    assert row.get_by_text(SCRIPT_TITLE, exact=True).is_visible()
    assert tour.watch.dialogs == [] and tour.watch.page_errors == []
    sound(tour)


def test_right_to_left_and_long_listings_stay_within_the_width(tour: Tour, served_market: ServedMarket) -> None:
    for name in ("rtl", "long"):
        tour.go(f"/offers/{served_market.offers[name]}")
    page = tour.go("/")
    assert page.locator(f"tr.offer[data-offer-id='{served_market.offers['rtl']}']").is_visible()
    sound(tour)


def test_every_page_is_sound_at_both_widths(tour: Tour, served_market: ServedMarket) -> None:
    """The five pages (and an error page): a title, a main landmark, the skip link first, no console error,
    no CSP violation, no dialog, no horizontal scroll; photographed."""
    paths = ["/", f"/offers/{served_market.offers['tusd']}", f"/offers/{served_market.offers['camera']}",
             f"/addresses/{served_market.chain.d.seller}", f"/trades/{served_market.trades['live']}",
             f"/trades/{served_market.trades['filled']}", "/market"]
    for path in paths:
        page = tour.go(path)
        assert page.title().strip()
        assert page.locator("main#main").count() == 1 and page.locator("h1").count() == 1
        assert page.evaluate("document.documentElement.lang")
        # The phone width here is a narrow window, not a phone emulated: a real phone lays the page out at its width
        # only when the page asks so.
        assert "width=device-width" in (page.locator("meta[name=viewport]").get_attribute("content") or "")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.classList.contains('skip-link')"), f"{path}: skip link"
    response = tour.page.goto(served_market.url + "/offers/0x" + "ab" * 32)
    assert response is not None and response.status == 404
    tour.arrived("not-found")
    assert tour.page.locator("h1#error").is_visible()
    # A 404 answer is logged by Chromium as a failed load: that one is expected here.
    tour.watch.console_errors = [e for e in tour.watch.console_errors if "404" not in e]
    sound(tour)


def test_the_policy_blocks_injected_script_and_the_watch_sees_it(tour: Tour) -> None:
    """What the other tests rely on: the served Content-Security-Policy stops an inline script and a foreign
    image, and the watch reports both (so "no CSP violation" elsewhere means something)."""
    page = tour.go("/market")
    page.evaluate("""() => {
        const script = document.createElement("script");
        script.textContent = "window.injected = true";
        document.body.append(script);
        const image = document.createElement("img");
        image.src = "https://example.invalid/pixel.png";
        document.body.append(image);
    }""")
    page.wait_for_function("document.querySelectorAll('img').length > 0")
    page.wait_for_timeout(200)
    assert page.evaluate("window.injected") is None
    violations = tour.watch.csp_violations
    assert any("script-src" in v for v in violations), tour.watch.console_errors
    assert any("img-src" in v for v in violations), tour.watch.console_errors
    tour.watch.console_errors.clear()  # expected here, and only here


def test_a_relayed_offer_shows_marked_relayed_beside_on_chain_ones(tour: Tour, served_market: ServedMarket) -> None:
    """A seller relays a signed offer (POST /api/relay, no gas): the offers page lists it with the "relayed"
    mark, on-chain offers without it, and its page says it is not on the board yet."""
    title = f"Relayed teapot seen at {tour.viewport.name} width"
    answer = served_market.post("/api/relay", json=relayed_offer(served_market, title))
    assert answer.status_code == 201, answer.text
    offer_id = answer.json()["offer_id"]
    served_market.wait_synced()
    page = tour.go("/?text=teapot")
    row = page.locator(f"tr.offer[data-offer-id='{offer_id}']")
    assert row.get_by_role("link", name=title).is_visible()
    assert row.locator("span.relayed").is_visible()
    page = tour.go("/")
    on_chain = page.locator(f"tr.offer[data-offer-id='{served_market.offers['chair']}']")
    assert on_chain.is_visible() and on_chain.locator("span.relayed").count() == 0
    page = tour.follow(page.locator(f"tr.offer[data-offer-id='{offer_id}'] a.offer-link"), "relayed-offer")
    assert page.locator("h1#offer-title").inner_text() == title
    assert page.locator("span.relayed").first.is_visible()
    assert page.locator("code#fill-command").inner_text() == f"p2pescrow offer fill {offer_id}"
    sound(tour)


def relayed_offer(served: ServedMarket, title: str) -> dict[str, Any]:
    """What a seller posts to the relay: its signed offer as `offer create --out` writes it, and the terms."""
    from eth_utils import keccak, to_checksum_address
    from support.market import document
    from support.offers import offer, sign_offer

    from p2pescrow.core.offers import Offer, SignedOffer

    m = served.chain
    terms = document(title, category="kitchen")
    o = offer(m.d, termsHash=keccak(terms), amount=3 * 10**17)
    signed = SignedOffer(Offer(**o), sign_offer(m.d, o), m.deployment.chain_id, to_checksum_address(m.d.escrow.address))
    return {"offer": {**json.loads(signed.to_json()), "terms": json.loads(terms)}, "document": json.loads(terms)}


# -- copying the command and running it: changes the chain, so last ------------------------------
#: Each width fills its own open offer.
TO_FILL = {DESKTOP.name: "bicycle", PHONE.name: "long"}


def test_the_copied_fill_command_fills_the_offer_when_run(tour: Tour, browser: BrowserContext,
                                                          served_market: ServedMarket, tmp_path: Path) -> None:
    """Copy the command from the page, run exactly those words with the CLI (a buyer's own config folder and
    index, a keystore account), and see the offer filled on chain, then no longer fillable on the page."""
    offer_id = served_market.offers[TO_FILL[tour.viewport.name]]
    browser.grant_permissions(["clipboard-read", "clipboard-write"], origin=served_market.url)
    page = tour.go(f"/offers/{offer_id}")
    page.locator("button#copy-fill-command").click()
    page.wait_for_function("document.querySelector('#copy-status').textContent.trim() !== ''")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == f"p2pescrow offer fill {offer_id}"

    buyer = CliUser.make(served_market, tmp_path)
    run = buyer.run(*copied.split()[1:])
    assert run.returncode == 0, f"{copied!r} failed:\n{run.stdout}\n{run.stderr}"
    filled = json.loads(run.stdout)
    trade_id = filled["trade_id"]
    assert filled["trade"]["buyer"].lower() == buyer.address.lower()
    offer = served_market.get(f"/api/offers/{offer_id}").json()
    escrow = served_market.chain.d.escrow
    assert escrow.functions.isNonceUsed(offer["seller"], int(offer["nonce"])).call()  # on chain: filled
    served_market.wait_synced()
    assert offer_id not in api_ids(served_market)
    page = tour.go(f"/offers/{offer_id}")
    assert page.locator("p#fillable").get_attribute("data-fillable") == "false"
    page = tour.go(f"/trades/{trade_id}")
    assert page.locator("p#trade-state").get_attribute("data-state") in {"FUNDED", "LIVE", "ACCEPTED"}
    sound(tour)


class CliUser:
    """A user's own machine: a config folder with the escrow's deployment registered and, when ``funded``, a
    keystore account ("buyer") holding 10 ETH from one of the node's accounts (its password in a file); the
    CLI run as a subprocess."""

    def __init__(self, home: Path, env: dict[str, str], served: ServedMarket, address: str | None) -> None:
        self.home, self.env, self.served, self.address = home, env, served, address

    @classmethod
    def make(cls, served: ServedMarket, folder: Path, *, funded: bool = True) -> CliUser:
        from eth_account import Account

        from p2pescrow import accounts

        home = folder / "cli-home"
        register_deployment(served.chain, home)
        if not funded:
            return cls(home, server_env(home), served, None)
        account = Account.create()
        secrets.register(account.key, label="browser buyer key")
        password_file = folder / "password"
        password_file.write_text(PASSWORD + "\n")
        password_file.chmod(0o600)
        env = server_env(home, {"P2PESCROW_PASSWORD_FILE": str(password_file)})
        previous = os.environ.get("P2PESCROW_HOME")
        os.environ["P2PESCROW_HOME"] = str(home)
        try:
            accounts._write("buyer", dict(Account.encrypt(account.key, PASSWORD)))
        finally:
            if previous is not None:
                os.environ["P2PESCROW_HOME"] = previous
        w3 = served.chain.chain.w3
        funder = served.chain.chain.accounts[-1]
        w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction(
            {"from": funder, "to": account.address, "value": 10 * 10**18}))
        return cls(home, env, served, account.address)

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``p2pescrow --rpc-url <the node> [--account buyer --yes] --json *args``."""
        signer = ["--account", "buyer", "--yes"] if self.address else []
        command = [*COMMAND, "--rpc-url", self.served.chain.url, *signer, "--json", *args]
        run = subprocess.run(command, capture_output=True, text=True, env=self.env, cwd=self.home,
                             stdin=subprocess.DEVNULL, timeout=180)
        secrets.observe(run.stdout, run.stderr)
        return run
