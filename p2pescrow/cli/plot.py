"""``--plot FILE``: the charts of ``market stats`` and ``rep show`` written to a PNG or an SVG file (the
format from the file's suffix), drawn by :mod:`p2pescrow.market.charts` (matplotlib, the ``charts``
extra: ``pip install 'p2pescrow[charts]'``; without it, one line naming that command, exit 2).

The file is checked before any work (its suffix, its folder, matplotlib), so a typo costs no sync. A
PNG carries the figures it draws as JSON in a text chunk, an SVG in its description: the same numbers
``--json`` prints.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..errors import InputError

if TYPE_CHECKING:
    from ..models import TokenInfo

__all__ = ["PlotOption", "check_plot", "write_address_chart", "write_market_chart"]

PlotOption = Annotated[Path | None, typer.Option(
    "--plot", metavar="FILE", help="Also draw the figures as a chart into FILE: .png or .svg (needs the charts extra: "
    "pip install 'p2pescrow[charts]').", show_default=False)]


def check_plot(path: Path) -> Path:
    """The file to write, checked: a .png or .svg name in a folder that exists, and matplotlib installed
    (:class:`~p2pescrow.errors.MissingExtra` naming the install command otherwise)."""
    from ..market.charts import check_charts, format_of

    target = path.expanduser()
    try:
        format_of(target)
    except ValueError as exc:
        raise InputError(str(exc), hint="e.g. --plot market.png or --plot market.svg") from None
    if not target.parent.is_dir():
        raise InputError(f"cannot write the chart to {path}: no folder {target.parent}")
    if target.is_dir():
        raise InputError(f"cannot write the chart to {path}: it is a folder")
    check_charts()
    return target


def _tokens(addresses: Iterable[str], lookup: Callable[[str], TokenInfo | None]) -> dict[str, TokenInfo]:
    out = {}
    for address in set(addresses):
        info = lookup(address)
        if info is not None:
            out[address] = info
    return out


def _write(chart: Any, target: Path) -> None:
    from ..market.charts import save

    try:
        save(chart, target)
    except OSError as exc:
        raise InputError(f"cannot write the chart to {target}: {exc.strerror or exc}") from None


def write_market_chart(target: Path, stats: Any, lookup: Callable[[str], TokenInfo | None]) -> str:
    """Draw ``stats`` (:class:`~p2pescrow.market.queries.MarketStats`) into ``target``; the line to print."""
    from ..market.charts import market_chart

    assets = [p.token for p in stats.volume_by_day] + [p.token for p in stats.volume_by_week]
    _write(market_chart(stats, _tokens(assets, lookup)), target)
    return f"Chart of the market's figures written to {target}."


def write_address_chart(target: Path, line: Any, lookup: Callable[[str], TokenInfo | None]) -> str:
    """Draw an address's timeline (:class:`~p2pescrow.market.timeline.Timeline`) into ``target``; the line to print."""
    from ..market.charts import address_chart

    _write(address_chart(line, _tokens([e.token for e in line.entries], lookup)), target)
    return f"Chart of {line.address}'s ratings and volume over time written to {target}."
