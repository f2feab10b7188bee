# ruff: noqa: F811 - the session and rows fixtures are imported from support.market_rows
"""market.charts and market.timeline: the charts show the figures they are drawn from (the numbers they
carry are the stats' and the timeline's, and an SVG's labels are text), a hostile token symbol is drawn
as text, the SVG a page inlines keeps its look with no style attribute or element (CSS precedence kept)
and ids of its own; an address's timeline lists its trades with the ratings it received, and its score
after each rating ends at the screening's score. Index rows written straight into SQLite and PostgreSQL."""

from __future__ import annotations

import io
import re
from decimal import Decimal
from xml.etree import ElementTree

import pytest
from support.market_rows import (  # noqa: F401 - fixtures
    ALICE,
    ARBITER,
    BOB,
    CAROL,
    DAY,
    ETH,
    NOW,
    USDC,
    USDC_MIN,
    WEI,
    Rows,
    rows,
    session,
)

from p2pescrow import diagram
from p2pescrow.market import charts
from p2pescrow.market.queries import screening, stats
from p2pescrow.market.timeline import timeline
from p2pescrow.models import TokenInfo
from p2pescrow.states import TradeState

TOKENS = {ETH: TokenInfo(ETH, "ETH", 18), USDC: TokenInfo(USDC, "USDC", 6)}
SVG = "{http://www.w3.org/2000/svg}"


def market_history(rows: Rows) -> None:
    """Bob buys from Alice: two USDC trades released (rated 5 and 2), one ETH trade refunded, one ruled
    after a dispute, one still awaiting funding; Carol sells to Alice once in USDC."""
    rows.sync_state()
    rows.listing(USDC, USDC_MIN)
    rows.listing(ETH, WEI // 100)
    first = rows.trade(amount=100 * 10**6, live_at=NOW - 5 * DAY)
    second = rows.trade(amount=40 * 10**6, live_at=NOW - 3 * DAY)
    rows.rating(first, BOB, 5)
    rows.rating(second, BOB, 2)
    rows.trade(token=ETH, amount=3 * WEI // 2, live_at=NOW - 2 * DAY, state=int(TradeState.REFUNDED),
               outcome="refunded")
    rows.trade(amount=70 * 10**6, live_at=NOW - 2 * DAY, disputed_at=NOW - DAY - 3600, ended_at=NOW - DAY,
               state=int(TradeState.RESOLVED), outcome="ruled", buyer_bps=5000, arbiter_fee=7 * 10**5)
    rows.trade(live_at=None, state=int(TradeState.AWAITING_FUNDING), outcome=None, ended_at=None)
    rows.trade(seller=CAROL, buyer=ALICE, amount=20 * 10**6, live_at=NOW - DAY)


# -- the market's charts ---------------------------------------------------------------------------
def test_each_market_chart_carries_the_figures_it_draws(session, rows: Rows) -> None:
    market_history(rows)
    figures = stats(session, 31337, NOW)
    parts = {chart.name: chart for chart in charts.market_charts(figures, TOKENS)}
    assert list(parts) == ["volume", "outcomes", "disputes", "release", "arbiters"]
    assert parts["outcomes"].figures["outcomes"] == figures.outcomes
    assert parts["disputes"].figures == {"funded": figures.funded, "disputed": figures.disputed,
                                         "dispute_rate": figures.dispute_rate}
    assert figures.dispute_rate == Decimal(1) / 5 or figures.dispute_rate == pytest.approx(0.2)
    drawn = sorted((s["token"], p["period"], int(p["volume_base_units"]), p["trades"])
                   for s in parts["volume"].figures["series"] for p in s["points"])
    assert drawn == sorted((p.token, p.period, p.volume, p.trades) for p in figures.volume_by_day)
    usdc = next(s for s in parts["volume"].figures["series"] if s["token"] == USDC)
    assert usdc["symbol"] == "USDC" and usdc["unit"] == "USDC"
    assert {p["volume"] for p in usdc["points"]} >= {"100", "40"}
    assert parts["arbiters"].figures["arbiters"][0]["arbiter"] == ARBITER
    assert parts["arbiters"].figures["arbiters"][0]["rulings"] == 1


def test_the_svg_labels_are_text_with_the_numbers(session, rows: Rows) -> None:
    market_history(rows)
    figures = stats(session, 31337, NOW)
    outcomes = next(c for c in charts.market_charts(figures, TOKENS) if c.name == "outcomes")
    root = ElementTree.fromstring(charts.svg_text(outcomes))
    texts = [("".join(t.itertext())).strip() for t in root.iter(f"{SVG}text")]
    for name, count in figures.outcomes.items():
        assert name.replace("_", " ") in texts and str(count) in texts
    assert not root.findall(f".//{SVG}path[@id]") or "DejaVuSans" not in charts.svg_text(outcomes)  # no glyph paths


def test_the_combined_png_carries_every_figure_as_json(session, rows: Rows) -> None:
    market_history(rows)
    figures = stats(session, 31337, NOW)
    chart = charts.market_chart(figures, TOKENS)
    buffer = io.BytesIO()
    charts.save(chart, buffer, "png")
    carried = charts.png_figures(buffer.getvalue())
    assert carried["chart"] == "market"
    assert carried["figures"]["outcomes"]["outcomes"] == figures.outcomes
    assert carried["figures"]["trades"] == figures.trades and carried["figures"]["as_of"] == NOW
    assert carried["figures"]["release"]["release_seconds_median"] == figures.release_seconds_median


def test_an_empty_market_draws_charts_that_say_so(session, rows: Rows) -> None:
    rows.sync_state()
    parts = charts.market_charts(stats(session, 31337, NOW), TOKENS)
    texts = " ".join(charts.svg_text(c) for c in parts)
    assert "No trade has gone live yet" in texts and "No trades yet" in texts and "No dispute yet" in texts


def test_a_hostile_token_symbol_is_drawn_as_text(session, rows: Rows) -> None:
    market_history(rows)
    hostile = {USDC: TokenInfo(USDC, "$\\mathrm{USDC}$ <script>alert(1)</script>", 6), ETH: TOKENS[ETH]}
    volume = charts.market_charts(stats(session, 31337, NOW), hostile)[0]
    inline = charts.inline_svg(volume, prefix="volume")
    assert "<script>" not in inline and "&lt;script&gt;" in inline
    assert "$\\mathrm{USDC}$" in inline  # as typed: not turned into mathtext


def test_format_comes_from_the_suffix(tmp_path) -> None:
    assert charts.format_of("a.PNG") == "png" and charts.format_of(tmp_path / "b.svg") == "svg"
    with pytest.raises(ValueError, match=r"png or \.svg"):
        charts.format_of("chart.jpg")
    with pytest.raises(ValueError, match="not a PNG"):
        charts.png_figures(b"GIF89a")


# -- SVG a page can carry under style-src 'self' ---------------------------------------------------
def test_inline_svg_turns_styles_into_attributes_with_css_precedence() -> None:
    source = ('<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="10" '
              'height="10" viewBox="0 0 10 10"><style>*{stroke:blue} rect{fill:gray} .a{fill:red}</style>'
              '<defs><clipPath id="c"><rect width="5" height="5"/></clipPath><path id="p" d="M0 0"/></defs>'
              '<rect class="a" fill="green" style="stroke: black" clip-path="url(#c)" width="1" height="1"/>'
              '<rect fill="green" width="1" height="1"/><use xlink:href="#p"/></svg>')
    out = charts.inline_svg(source, prefix="x", title="A box", label="a red box")
    assert "style" not in out
    root = ElementTree.fromstring(out)
    first, second = root.findall(f"{SVG}rect")
    assert first.get("fill") == "red" and first.get("stroke") == "black"  # class rule > attribute; inline > rule
    assert second.get("fill") == "gray" and second.get("stroke") == "blue"  # type rule > attribute
    assert first.get("clip-path") == "url(#x-c)"
    assert root.find(f".//{SVG}clipPath").get("id") == "x-c"
    assert root.find(f"{SVG}use").get("{http://www.w3.org/1999/xlink}href") == "#x-p"
    assert root.get("role") == "img" and root.get("aria-label") == "a red box"
    assert root.find(f"{SVG}title").text == "A box"
    assert root.get("width") is None and root.get("viewBox") == "0 0 10 10"


def test_inline_svg_refuses_a_style_rule_it_cannot_apply() -> None:
    with pytest.raises(ValueError, match="cannot carry"):
        charts.inline_svg('<svg xmlns="http://www.w3.org/2000/svg"><style>g > rect{fill:red}</style></svg>',
                          prefix="x")


def test_the_state_diagram_inlined_keeps_the_current_state_marked() -> None:
    out = charts.inline_svg(diagram.render(highlight=TradeState.DISPUTED), prefix="d")
    assert "<style" not in out and "style=" not in out
    root = ElementTree.fromstring(out)
    marked = [g.get("data-state") for g in root.iter(f"{SVG}g")
              if any("current" in (r.get("class") or "") for r in g.findall(f"{SVG}rect"))]
    assert marked == ["DISPUTED"]
    current = next(r for r in root.iter(f"{SVG}rect") if "current" in (r.get("class") or ""))
    assert current.get("fill") == "#ffe9a8"  # the .current rule applied over .box's
    assert root.get("aria-labelledby") == "d-title d-desc"
    assert {e.get("id") for e in root.iter() if e.get("id")} >= {"d-title", "d-desc", "d-head"}
    assert re.findall(r"url\(#([^)]+)\)", out) and set(re.findall(r"url\(#([^)]+)\)", out)) == {"d-head"}


# -- an address's timeline and chart ---------------------------------------------------------------
def test_timeline_lists_the_trades_with_role_and_rating_received(session, rows: Rows) -> None:
    market_history(rows)
    line = timeline(session, 31337, ALICE)
    assert [e.role for e in line.entries] == ["seller"] * 5 + ["buyer"]
    assert [e.rating for e in line.entries][:2] == [5, 2]
    assert line.entries[-1].counterparty == CAROL
    assert line.recent(2) == [line.entries[-1], line.entries[-2]]
    arbiter = timeline(session, 31337, ARBITER)
    assert {e.role for e in arbiter.entries} == {"arbiter"}
    assert timeline(session, 31337, BOB).entries[0].rating is None  # Bob was not rated


def test_the_score_after_each_rating_ends_at_the_screening_score(session, rows: Rows) -> None:
    market_history(rows)
    line = timeline(session, 31337, ALICE)
    assert len(line.score_history) == 2
    after_five, after_two = (score for _, score in line.score_history)
    assert after_five == Decimal("4.33")  # (5 x 10 units + 3 x 5) / 15 units, 100 USDC at 10 USDC a unit
    assert after_two == screening(session, 31337, ALICE).score == line.screening.score
    assert after_two < after_five


def test_volume_history_is_cumulative_per_asset(session, rows: Rows) -> None:
    market_history(rows)
    volumes = timeline(session, 31337, ALICE).volume_history()
    usdc = [v for _, v in volumes[USDC]]
    assert usdc == [100 * 10**6, 140 * 10**6, 210 * 10**6, 230 * 10**6]
    assert [v for _, v in volumes[ETH]] == [3 * WEI // 2]


def test_a_long_history_is_cut_to_the_newest_trades(session, rows: Rows) -> None:
    rows.sync_state()
    for day in range(5):
        rows.trade(live_at=NOW - (10 - day) * DAY)
    line = timeline(session, 31337, ALICE, limit=3)
    assert line.truncated and len(line.entries) == 3
    assert line.entries[-1].live_at == NOW - 6 * DAY


def test_the_address_chart_draws_the_score_ratings_and_volume(session, rows: Rows) -> None:
    market_history(rows)
    line = timeline(session, 31337, ALICE)
    chart = charts.address_chart(line, TOKENS)
    assert chart.figures["score"] == str(line.screening.score)
    assert [p["score"] for p in chart.figures["score_history"]] == [str(s) for _, s in line.score_history]
    assert [r["rating"] for r in chart.figures["ratings"]] == [5, 2]
    assert chart.figures["prior"] == {"at": min(e.created_at for e in line.entries), "score": "3.00"}  # its start
    usdc = next(v for v in chart.figures["volume"] if v["token"] == USDC)
    assert [p["volume"] for p in usdc["points"]] == ["100", "140", "210", "230"]
    svg = charts.svg_text(chart)
    assert "Score over time" in svg and "Volume in USDC" in svg and ">230<" in svg


def test_an_address_never_rated_gets_a_chart_saying_so(session, rows: Rows) -> None:
    rows.sync_state()
    line = timeline(session, 31337, CAROL)
    svg = charts.svg_text(charts.address_chart(line, TOKENS))
    assert "Never rated" in svg and "No trade went live yet" in svg


def test_past_sixty_days_the_volume_is_drawn_per_iso_week(session, rows: Rows) -> None:
    rows.sync_state()
    for day in range(70):
        rows.trade(amount=10**6, live_at=NOW - day * DAY)
    figures = stats(session, 31337, NOW)
    assert len(figures.volume_by_day) == 70
    volume = charts.market_charts(figures, TOKENS)[0]
    assert volume.figures["period"] == "week"
    [usdc] = volume.figures["series"]
    weeks = [(p.period, p.trades) for p in figures.volume_by_week]
    assert [(p["period"], p["trades"]) for p in usdc["points"]] == weeks
    assert sum(p["trades"] for p in usdc["points"]) == 70
    assert "per ISO week" in charts.svg_text(volume)
