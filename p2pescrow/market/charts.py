"""The market's charts and an address's chart, drawn by matplotlib: for the server's pages (SVG inline in
the HTML) and for the command line (``market stats --plot FILE``, ``rep show --plot FILE``: PNG or SVG).

    from p2pescrow.market import charts

    chart = charts.market_chart(stats, tokens)          # every figure of MarketStats, one image
    charts.save(chart, "market.png")                    # format from the suffix: .png or .svg
    for part in charts.market_charts(stats, tokens):    # the same, one chart per figure (the page)
        print(part.name, part.title, part.figures)
        html = charts.inline_svg(part, prefix=part.name)
    charts.address_chart(timeline, tokens)              # ratings and volume over time

A :class:`Chart` is a matplotlib :class:`~matplotlib.figure.Figure` and the numbers it draws
(``figures``, JSON-ready): the pages print them in a table under the chart, a PNG carries them as
JSON in a text chunk (key :data:`PNG_KEY`) and an SVG in its description, so a reader (or a test)
can check that the picture shows exactly the figures ``market stats --json`` gives.

Text stays text in SVG (``svg.fonttype = 'none'``): screen readers, search and tests read the numbers.
:func:`inline_svg` turns an SVG (a chart's, or the trade-state diagram's) into markup a page can carry
under a Content-Security-Policy without ``'unsafe-inline'`` styles: every ``style`` attribute and
``<style>`` rule becomes a presentation attribute, ids are prefixed so several charts share a page.

Amounts are drawn in the token's units when ``tokens`` (address -> :class:`~p2pescrow.models.TokenInfo`)
knows it, else in base units. Token symbols come from the chain (anyone can deploy a token with any
symbol): labels are drawn as plain text, never as mathtext. matplotlib (the ``charts`` extra) is
imported on first use only, with the Agg backend; drawing holds one lock (matplotlib's settings are
process-wide).
"""

from __future__ import annotations

import io
import json
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO
from xml.etree import ElementTree

if TYPE_CHECKING:
    from matplotlib.figure import Figure, FigureBase

    from ..models import TokenInfo
    from .queries import MarketStats
    from .timeline import Timeline

__all__ = [
    "CHARTS_MODULES",
    "PNG_KEY",
    "Chart",
    "address_chart",
    "address_figure",
    "check_charts",
    "inline_svg",
    "market_chart",
    "market_charts",
    "market_figure",
    "png_figures",
    "save",
]

#: The score of an account never rated (:meth:`p2pescrow.models.ReputationRecord.score` with no ratings).
PRIOR = Decimal("3.00")
#: Modules of the ``charts`` extra, by distribution.
CHARTS_MODULES = {"matplotlib": "matplotlib"}
#: The PNG text chunk's key holding a chart's figures (JSON).
PNG_KEY = "p2pescrow-figures"
#: The most periods a volume chart draws per asset (the newest): beyond 60 days, ISO weeks are drawn.
MAX_PERIODS = 60
FORMATS = ("png", "svg")
#: Inches: the width of every chart (narrow enough that its text stays readable on a phone).
WIDTH = 6.4

_LOCK = threading.RLock()
_RC = {
    "svg.fonttype": "none",  # text as text
    "svg.hashsalt": "p2pescrow",  # the same ids for the same chart
    "text.parse_math": False,  # a token symbol with $...$ is text, not mathtext
    "font.size": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlelocation": "left",
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
}
#: Colours with enough contrast on white (WCAG AA for large graphics), one per series.
COLOURS = ("#1f5fa8", "#b35900", "#2e7d32", "#8e24aa", "#c62828", "#00838f", "#5d4037", "#455a64")
_OUTCOME_ORDER = ("released", "refunded", "timed_out", "settled", "ruled", "conceded", "expired", "cancelled", "open")


def check_charts() -> None:
    """Raise :class:`~p2pescrow.errors.MissingExtra` (one line naming ``pip install 'p2pescrow[charts]'``)
    unless matplotlib can be imported."""
    from importlib.util import find_spec

    from ..errors import MissingExtra

    missing = [dist for module, dist in CHARTS_MODULES.items() if find_spec(module) is None]
    if missing:
        raise MissingExtra("drawing charts", "charts", ", ".join(missing))


@dataclass
class Chart:
    """A figure and the numbers it shows (``figures``: JSON-ready, amounts as decimal strings)."""

    name: str
    title: str
    figure: Figure
    figures: dict[str, Any] = field(default_factory=dict)
    #: One sentence saying what the chart shows (the SVG's description, an image's alternative text).
    summary: str = ""


# --------------------------------------------------------------------------------------------------
# Drawing
# --------------------------------------------------------------------------------------------------


@contextmanager
def _drawing() -> Iterator[None]:
    check_charts()
    import matplotlib

    with _LOCK, matplotlib.rc_context(_RC):
        yield


def _new_figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _symbol(token: str, tokens: Mapping[str, TokenInfo] | None) -> str:
    info = _info(token, tokens)
    return info.symbol if info is not None else f"token {token[:10]}…"


def _info(token: str, tokens: Mapping[str, TokenInfo] | None) -> TokenInfo | None:
    if not tokens:
        return None
    return tokens.get(token) or next((v for k, v in tokens.items() if k.lower() == token.lower()), None)


def _human(units: int, token: str, tokens: Mapping[str, TokenInfo] | None) -> Decimal:
    info = _info(token, tokens)
    return info.human(units) if info is not None else Decimal(units)


def _unit_label(token: str, tokens: Mapping[str, TokenInfo] | None) -> str:
    info = _info(token, tokens)
    return info.symbol if info is not None else f"base units of {token}"


def _plain_decimal(value: Decimal) -> str:
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _empty(ax: Any, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="#444444")
    ax.set_xticks([])
    ax.set_yticks([])


def _whole_numbers(axis: Any) -> None:
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def _volume_points(stats: MarketStats) -> tuple[str, list[Any]]:
    """The volume series to draw: per day, or per ISO week when there are more days than MAX_PERIODS."""
    days = {p.period for p in stats.volume_by_day}
    if len(days) > MAX_PERIODS:
        return "week", list(stats.volume_by_week)
    return "day", list(stats.volume_by_day)


def _draw_volume(fig: FigureBase, stats: MarketStats, tokens: Mapping[str, TokenInfo] | None) -> dict[str, Any]:
    period, points = _volume_points(stats)
    assets = sorted({p.token for p in points}, key=lambda t: (_symbol(t, tokens), t))
    series = []
    if not assets:
        _empty(fig.add_subplot(), "No trade has gone live yet")
        fig.suptitle("Volume per asset", x=0.01, ha="left", fontweight="bold", fontsize=11)
        return {"period": period, "series": series}
    axes = fig.subplots(len(assets), 1, squeeze=False)[:, 0]
    for i, (ax, token) in enumerate(zip(axes, assets, strict=True)):
        mine = [p for p in points if p.token == token][-MAX_PERIODS:]
        labels = [p.period for p in mine]
        values = [_human(p.volume, token, tokens) for p in mine]
        bars = ax.bar(labels, [float(v) for v in values], color=COLOURS[i % len(COLOURS)])
        ax.bar_label(bars, labels=[_plain_decimal(v) for v in values], padding=2, fontsize=8)
        ax.set_title(f"Volume in {_symbol(token, tokens)} per {'day' if period == 'day' else 'ISO week'}")
        ax.set_ylabel(_unit_label(token, tokens))
        ax.margins(y=0.2)
        ax.set_xlim(-0.75, max(len(labels), 6) - 0.25)  # a lone bar stays a bar, not a wall
        step = max(1, len(labels) // 10)
        ax.set_xticks(range(0, len(labels), step), labels[::step], rotation=30, ha="right", fontsize=8)
        series.append({"token": token, "symbol": _symbol(token, tokens), "unit": _unit_label(token, tokens),
                       "points": [{"period": p.period, "volume": _plain_decimal(v), "volume_base_units": str(p.volume),
                                   "trades": p.trades} for p, v in zip(mine, values, strict=True)]})
    return {"period": period, "series": series}


def _draw_outcomes(fig: FigureBase, stats: MarketStats) -> dict[str, Any]:
    ax = fig.add_subplot()
    names = sorted(stats.outcomes, key=lambda o: (_OUTCOME_ORDER.index(o) if o in _OUTCOME_ORDER else 99, o))
    counts = [int(stats.outcomes[n]) for n in names]
    ax.set_title(f"Trades by outcome ({stats.trades} in all)")
    if not names:
        _empty(ax, "No trades yet")
        return {"outcomes": {}}
    bars = ax.barh([n.replace("_", " ") for n in names], counts, color=COLOURS[0])
    ax.bar_label(bars, labels=[str(c) for c in counts], padding=3)
    ax.invert_yaxis()
    _whole_numbers(ax.xaxis)
    ax.set_xlabel("trades")
    ax.margins(x=0.15)
    return {"outcomes": dict(zip(names, counts, strict=True))}


def _draw_disputes(fig: FigureBase, stats: MarketStats) -> dict[str, Any]:
    ax = fig.add_subplot()
    rate = stats.dispute_rate
    ax.set_title("Dispute rate: " + (f"{rate * 100:.1f}% of the trades that went live" if rate is not None else "-"))
    figures = {"funded": stats.funded, "disputed": stats.disputed, "dispute_rate": rate}
    if not stats.funded:
        _empty(ax, "No trade has gone live yet")
        return figures
    calm = stats.funded - stats.disputed
    bars = ax.barh(["not disputed", "disputed"], [calm, stats.disputed], color=[COLOURS[2], COLOURS[4]])
    ax.bar_label(bars, labels=[str(calm), str(stats.disputed)], padding=3)
    ax.invert_yaxis()
    ax.set_xlim(0, stats.funded * 1.15)
    _whole_numbers(ax.xaxis)
    ax.set_xlabel("trades that went live")
    return figures


def _draw_release(fig: FigureBase, stats: MarketStats) -> dict[str, Any]:
    ax = fig.add_subplot()
    ax.set_title("Time from going live to release (released trades)")
    figures = {"release_seconds_median": stats.release_seconds_median,
               "release_seconds_p90": stats.release_seconds_p90}
    if stats.release_seconds_median is None:
        _empty(ax, "No trade released yet")
        return figures
    values = [float(stats.release_seconds_median), float(stats.release_seconds_p90 or 0)]
    unit, size = next((u, n) for u, n in (("days", 86_400), ("hours", 3_600), ("minutes", 60), ("seconds", 1))
                      if max(values) >= 2 * n or n == 1)
    bars = ax.barh(["median", "90th percentile"], [v / size for v in values], color=[COLOURS[0], COLOURS[1]])
    ax.bar_label(bars, labels=[_duration(v) for v in values], padding=3)
    ax.invert_yaxis()
    ax.set_xlabel(unit)
    ax.set_xlim(0, max(max(values) / size * 1.25, 1))
    return figures


def _draw_arbiters(fig: FigureBase, stats: MarketStats) -> dict[str, Any]:
    ax = fig.add_subplot()
    ax.set_title("Arbiters: disputes brought and rulings made")
    rows = list(stats.arbiters)[:12]
    figures = {"arbiters": [{"arbiter": a.arbiter, "cases": a.cases, "rulings": a.rulings,
                             "median_seconds_to_rule": a.median_seconds_to_rule,
                             "even_split_share": a.even_split_share,
                             "fees": {t: str(v) for t, v in a.fees.items()}} for a in stats.arbiters]}
    if not rows:
        _empty(ax, "No dispute yet")
        return figures
    import numpy as np

    names = [f"{a.arbiter[:8]}…{a.arbiter[-4:]}" for a in rows]
    y = np.arange(len(rows))
    cases = ax.barh(y - 0.2, [a.cases for a in rows], height=0.4, color=COLOURS[1], label="disputes")
    rulings = ax.barh(y + 0.2, [a.rulings for a in rows], height=0.4, color=COLOURS[0], label="rulings")
    ax.bar_label(cases, labels=[str(a.cases) for a in rows], padding=3, fontsize=8)
    ax.bar_label(rulings, labels=[str(a.rulings) for a in rows], padding=3, fontsize=8)
    ax.set_yticks(y, names, fontfamily="monospace")
    ax.invert_yaxis()
    _whole_numbers(ax.xaxis)
    ax.set_xlabel("trades")
    ax.margins(x=0.15)
    fig.legend(loc="outside lower center", ncols=2, frameon=False)
    return figures


#: The market's charts: name, title, drawing function, height in inches (volume: per asset).
_MARKET: tuple[tuple[str, str, Callable[..., dict[str, Any]], float], ...] = (
    ("volume", "Volume per asset over time", _draw_volume, 2.6),
    ("outcomes", "Trades by outcome", _draw_outcomes, 2.8),
    ("disputes", "Dispute rate", _draw_disputes, 1.9),
    ("release", "Time to release", _draw_release, 1.8),
    ("arbiters", "Arbiters", _draw_arbiters, 2.8),
)


def _market_summary(stats: MarketStats) -> str:
    rate = f"{stats.dispute_rate * 100:.1f}%" if stats.dispute_rate is not None else "none yet"
    return (f"{_plural(stats.trades, 'trade')}, {stats.funded} went live, dispute rate {rate}, "
            f"median time to release {_duration(stats.release_seconds_median)}, "
            f"{_plural(len(stats.arbiters), 'arbiter')}.")


def _height(name: str, base: float, stats: MarketStats) -> float:
    if name == "volume":
        return base * max(1, len({p.token for p in _volume_points(stats)[1]}))
    if name == "arbiters":
        return max(base, 0.9 + 0.45 * min(len(stats.arbiters), 12))
    return base


def market_charts(stats: MarketStats, tokens: Mapping[str, TokenInfo] | None = None) -> list[Chart]:
    """One chart per figure of ``stats``: volume per asset over time, trades by outcome, the dispute
    rate, the time to release, the arbiters (the market page draws each with its numbers under it)."""
    out = []
    with _drawing():
        for name, title, draw, height in _MARKET:
            fig = _new_figure(WIDTH, _height(name, height, stats))
            figures = draw(fig, stats, tokens) if name == "volume" else draw(fig, stats)
            out.append(Chart(name, title, fig, figures, summary=title + ": " + _market_summary(stats)))
    return out


def market_chart(stats: MarketStats, tokens: Mapping[str, TokenInfo] | None = None) -> Chart:
    """Every figure of ``stats`` in one image (``market stats --plot``); ``figures`` holds each part's
    numbers under its name, with the chain and the time the figures are as of."""
    with _drawing():
        heights = [_height(name, height, stats) for name, _, _, height in _MARKET]
        fig = _new_figure(WIDTH, sum(heights) + 0.4)
        fig.suptitle(f"The market on chain {stats.chain_id}, as of "
                     f"{datetime.fromtimestamp(stats.as_of, UTC):%Y-%m-%d %H:%M} UTC", fontweight="bold")
        parts = fig.subfigures(len(_MARKET), 1, height_ratios=heights)
        figures: dict[str, Any] = {"chain_id": stats.chain_id, "as_of": stats.as_of, "trades": stats.trades}
        for part, (name, _, draw, _) in zip(parts, _MARKET, strict=True):
            figures[name] = draw(part, stats, tokens) if name == "volume" else draw(part, stats)
    return Chart("market", "The market's figures", fig, figures, summary=_market_summary(stats))


def market_figure(stats: MarketStats, tokens: Mapping[str, TokenInfo] | None = None) -> Figure:
    """:func:`market_chart`'s figure."""
    return market_chart(stats, tokens).figure


def address_chart(line: Timeline, tokens: Mapping[str, TokenInfo] | None = None) -> Chart:
    """An address's ratings and volume over time: the score after each rating it received (and the
    ratings themselves), and per asset the cumulative volume of the trades it bought or sold that went
    live (at most four assets: those with the most trades)."""
    volumes = line.volume_history()
    assets = sorted(volumes, key=lambda t: (-len(volumes[t]), _symbol(t, tokens), t))[:4]
    with _drawing():
        fig = _new_figure(WIDTH, 2.4 * (1 + max(1, len(assets))))
        axes = fig.subplots(1 + max(1, len(assets)), 1, squeeze=False)[:, 0]
        ratings = [(e.rated_at, e.rating) for e in line.entries if e.rating is not None and e.rated_at is not None]
        ratings.sort(key=lambda r: r[0])  # stable: trades rated in one block stay in the order they were made
        ax = axes[0]
        ax.set_title("Score over time (value-weighted, 1 to 5)")
        figures: dict[str, Any] = {"address": line.address, "score": str(line.screening.score),
                                   "score_history": [{"at": at, "score": str(s)} for at, s in line.score_history],
                                   "ratings": [{"at": at, "rating": r} for at, r in ratings], "volume": []}
        if ratings or line.score_history:
            if line.score_history:
                # from the prior (3.00, an account never rated) at its first trade, then after each rating
                start = min([e.created_at for e in line.entries] + [line.score_history[0][0]])
                steps = [(start, PRIOR), *line.score_history]
                ax.step([_date(at) for at, _ in steps], [float(s) for _, s in steps], where="post",
                        color=COLOURS[0], label="score")
                ax.plot([_date(at) for at, _ in line.score_history], [float(s) for _, s in line.score_history],
                        linestyle="none", marker="o", color=COLOURS[0])
                figures["prior"] = {"at": start, "score": str(PRIOR)}
            if ratings:
                ax.scatter([_date(at) for at, _ in ratings], [r for _, r in ratings], color=COLOURS[1],
                           marker="D", label="rating received", zorder=3)
            ax.set_ylim(0.8, 5.2)
            ax.set_yticks([1, 2, 3, 4, 5])
            ax.legend(loc="lower left", frameon=False, ncols=2)
            _date_axis(ax, [at for at, _ in line.score_history] + [at for at, _ in ratings]
                       + ([int(figures["prior"]["at"])] if "prior" in figures else []))
        else:
            _empty(ax, "Never rated: the score is the prior, 3.00")
        for i, token in enumerate(assets):
            ax = axes[1 + i]
            points = volumes[token]
            values = [_human(v, token, tokens) for _, v in points]
            ax.step([_date(at) for at, _ in points], [float(v) for v in values], where="post",
                    color=COLOURS[(i + 2) % len(COLOURS)], marker="o")
            ax.set_title(f"Volume in {_symbol(token, tokens)}, cumulative (trades that went live)")
            ax.set_ylabel(_unit_label(token, tokens))
            ax.annotate(_plain_decimal(values[-1]), (_date(points[-1][0]), float(values[-1])),
                        textcoords="offset points", xytext=(4, 4), fontsize=8)
            ax.set_ylim(bottom=0)
            ax.margins(y=0.25)
            _date_axis(ax, [at for at, _ in points])
            figures["volume"].append({"token": token, "symbol": _symbol(token, tokens),
                                      "unit": _unit_label(token, tokens),
                                      "points": [{"at": at, "volume": _plain_decimal(v), "volume_base_units": str(u)}
                                                 for (at, u), v in zip(points, values, strict=True)]})
        if not assets:
            _empty(axes[1], "No trade went live yet")
            axes[1].set_title("Volume")
    summary = (f"Score {line.screening.score} after {_plural(len(line.score_history), 'rating')}; "
               f"{_plural(len(line.entries), 'trade')}" + (" (the newest)" if line.truncated else "") + ".")
    return Chart("address", f"Ratings and volume of {line.address}", fig, figures, summary=summary)


def address_figure(line: Timeline, tokens: Mapping[str, TokenInfo] | None = None) -> Figure:
    """:func:`address_chart`'s figure."""
    return address_chart(line, tokens).figure


def _date(at: int) -> datetime:
    return datetime.fromtimestamp(at, UTC)


def _date_axis(ax: Any, times: list[int]) -> None:
    from datetime import timedelta

    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    if times and max(times) - min(times) < 2 * 86_400:  # a few points close together: a few days around them
        ax.set_xlim(_date(min(times)) - timedelta(days=1), _date(max(times)) + timedelta(days=1))
    locator = AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))


# --------------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------------


def format_of(path: str | Path) -> str:
    """``png`` or ``svg`` from a file name's suffix; ValueError otherwise."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise ValueError(f"cannot tell the chart's format from {str(path)!r}: name a .png or .svg file")
    return suffix


def _figures_json(chart: Chart) -> str:
    return json.dumps({"chart": chart.name, "figures": chart.figures}, sort_keys=True, ensure_ascii=True)


def save(chart: Chart, target: str | Path | BinaryIO, format: str | None = None) -> None:
    """Write ``chart`` to a file or a binary buffer as PNG or SVG (``format``, else the file's suffix).
    The figures go with it: a PNG text chunk :data:`PNG_KEY`, an SVG's description (both JSON)."""
    kind = format or format_of(target if isinstance(target, (str, Path)) else "")
    if kind not in FORMATS:
        raise ValueError(f"unknown chart format {kind!r}: png or svg")
    data = _figures_json(chart)
    metadata = ({PNG_KEY: data, "Title": chart.title, "Software": "p2pescrow (matplotlib)"} if kind == "png"
                else {"Title": chart.title, "Description": data, "Date": None, "Creator": "p2pescrow (matplotlib)"})
    with _drawing():
        chart.figure.savefig(target, format=kind, metadata=metadata, dpi=110 if kind == "png" else "figure")


def svg_text(chart: Chart) -> str:
    """The chart as SVG text (what :func:`save` writes for ``svg``)."""
    buffer = io.BytesIO()
    save(chart, buffer, "svg")
    return buffer.getvalue().decode()


def png_figures(data: bytes | str | Path) -> dict[str, Any]:
    """The figures a PNG written by :func:`save` carries (its :data:`PNG_KEY` text chunk), parsed."""
    import struct
    import zlib

    raw = data if isinstance(data, bytes) else Path(data).read_bytes()
    if raw[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    position = 8
    while position + 8 <= len(raw):
        length, kind = struct.unpack(">I4s", raw[position: position + 8])
        body = raw[position + 8: position + 8 + length]
        position += 12 + length
        if kind == b"tEXt":
            key, _, value = body.partition(b"\x00")
        elif kind == b"zTXt":
            key, _, rest = body.partition(b"\x00")
            value = zlib.decompress(rest[1:])
        elif kind == b"iTXt":
            key, _, rest = body.partition(b"\x00")
            compressed = rest[0] == 1
            rest = rest[2:].split(b"\x00", 2)[2]
            value = zlib.decompress(rest) if compressed else rest
        else:
            continue
        if key.decode("latin-1") == PNG_KEY:
            return dict(json.loads(value.decode("utf-8")))
    raise ValueError(f"the PNG carries no {PNG_KEY} text chunk")


# --------------------------------------------------------------------------------------------------
# SVG a strict Content-Security-Policy lets a page carry
# --------------------------------------------------------------------------------------------------

_SVG = "http://www.w3.org/2000/svg"
_XLINK = "http://www.w3.org/1999/xlink"
ElementTree.register_namespace("", _SVG)
ElementTree.register_namespace("xlink", _XLINK)
_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")
_REFERENCE = re.compile(r"url\(#([^)]+)\)")


def _declarations(text: str) -> list[tuple[str, str]]:
    out = []
    for part in text.split(";"):
        name, colon, value = part.partition(":")
        if colon and name.strip() and value.strip():
            out.append((name.strip().lower(), value.strip()))
    return out


def _rules(sheets: list[str]) -> list[tuple[int, int, str, list[tuple[str, str]]]]:
    """(specificity, order, selector, declarations) of simple rules: ``*``, ``tag`` and ``.class``."""
    rules = []
    order = 0
    for sheet in sheets:
        for selectors, body in _RULE.findall(re.sub(r"/\*.*?\*/", "", sheet, flags=re.S)):
            declarations = _declarations(body)
            for selector in (s.strip() for s in selectors.split(",")):
                if selector == "*":
                    specificity = 0
                elif re.fullmatch(r"\.[\w-]+", selector):
                    specificity = 10
                elif re.fullmatch(r"[a-zA-Z][\w-]*", selector):
                    specificity = 1
                else:
                    raise ValueError(f"an SVG style rule this page cannot carry: {selector!r}")
                rules.append((specificity, order, selector, declarations))
                order += 1
    rules.sort(key=lambda r: (r[0], r[1]))
    return rules


def _matches(selector: str, element: ElementTree.Element) -> bool:
    if selector == "*":
        return True
    if selector.startswith("."):
        return selector[1:] in (element.get("class") or "").split()
    return element.tag.rpartition("}")[2] == selector


def inline_svg(source: Chart | str, *, prefix: str, title: str | None = None, label: str | None = None) -> str:
    """SVG markup for a page under ``style-src 'self'``: a chart (drawn to SVG) or SVG text, with every
    ``style`` attribute and ``<style>`` rule made presentation attributes (CSS precedence kept: rules
    over attributes, the ``style`` attribute over rules), no XML prolog or metadata, ids prefixed with
    ``prefix`` (references too), no fixed size (it scales to its box), and ``role="img"`` with a
    ``<title>`` (``title``, else the chart's) and ``aria-label`` (``label``, else the chart's summary)."""
    if isinstance(source, Chart):
        text = svg_text(source)
        title = title or source.title
        label = label or source.summary or source.title
    else:
        text = source
    root = ElementTree.fromstring(text.encode())
    sheets = []
    for parent in list(root.iter()):
        for child in list(parent):
            tag = child.tag.rpartition("}")[2]
            if tag == "style":
                sheets.append(child.text or "")
                parent.remove(child)
            elif tag == "metadata":
                parent.remove(child)
    rules = _rules(sheets)
    for element in root.iter():
        for _, _, selector, declarations in rules:
            if _matches(selector, element):
                for name, value in declarations:
                    element.set(name, value)
        inline = element.attrib.pop("style", None)
        if inline:
            for name, value in _declarations(inline):
                element.set(name, value)
        for key, value in list(element.attrib.items()):
            if key == "id":
                element.set(key, f"{prefix}-{value}")
            elif key in ("href", f"{{{_XLINK}}}href") and value.startswith("#"):
                element.set(key, f"#{prefix}-{value[1:]}")
            elif key == "aria-labelledby":
                element.set(key, " ".join(f"{prefix}-{v}" for v in value.split()))
            elif "url(#" in value:
                element.set(key, _REFERENCE.sub(lambda m: f"url(#{prefix}-{m.group(1)})", value))
    for size in ("width", "height"):
        root.attrib.pop(size, None)
    root.set("role", "img")
    root.set("class", (root.get("class", "") + " chart").strip())
    root.set("focusable", "false")
    if label:
        root.set("aria-label", label)
    if title and not any(child.tag == f"{{{_SVG}}}title" for child in root):
        heading = ElementTree.Element(f"{{{_SVG}}}title")
        heading.text = title
        root.insert(0, heading)
    return ElementTree.tostring(root, encoding="unicode")
