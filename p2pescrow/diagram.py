"""The picture of a trade's life: :data:`p2pescrow.states.TRANSITIONS` drawn as an SVG.

Pure text, no I/O and no drawing library: README shows it (``docs/trade-states.svg``, written by
``make diagram``), and a page that shows one trade draws it with that trade's state marked
(``render(highlight=TradeState.FUNDED)``). The boxes are placed by hand (:data:`PLACES`); the arrows
and their labels come from the table, so a transition added there appears here.
"""

from __future__ import annotations

import textwrap
from collections import defaultdict
from html import escape

from .states import TRANSITIONS, TradeState, Transition

WIDTH, HEIGHT = 1300, 820
BOX_W, BOX_H = 150, 44
START = (40, 300)
#: Where each state's box is centred.
PLACES: dict[TradeState, tuple[int, int]] = {
    TradeState.AWAITING_FUNDING: (200, 300),
    TradeState.AWAITING_DEPOSIT: (420, 480),
    TradeState.FUNDED: (640, 300),
    TradeState.DISPUTED: (1000, 300),
    TradeState.COMPLETED: (330, 80),
    TradeState.REFUNDED: (880, 80),
    TradeState.CANCELLED: (150, 650),
    TradeState.SETTLED: (860, 650),
    TradeState.RESOLVED: (1130, 650),
}
#: Which side of its box a state's own loop (a call that leaves the trade where it is) is drawn on.
LOOPS: dict[TradeState, str] = {TradeState.AWAITING_FUNDING: "top", TradeState.FUNDED: "bottom"}
#: Where each arrow's label goes: (x, y of its first line, text anchor); None shares another's label
#: (both settlement arrows say the same).
LABELS: dict[tuple[TradeState | None, TradeState], tuple[int, int, str] | None] = {
    (None, TradeState.AWAITING_FUNDING): (85, 340, "middle"),
    (None, TradeState.AWAITING_DEPOSIT): (170, 400, "middle"),
    (None, TradeState.FUNDED): (130, 100, "middle"),
    (TradeState.AWAITING_FUNDING, TradeState.AWAITING_FUNDING): (290, 205, "start"),
    (TradeState.AWAITING_FUNDING, TradeState.AWAITING_DEPOSIT): (350, 343, "start"),
    (TradeState.AWAITING_FUNDING, TradeState.FUNDED): (440, 250, "middle"),
    (TradeState.AWAITING_FUNDING, TradeState.CANCELLED): (30, 480, "start"),
    (TradeState.AWAITING_DEPOSIT, TradeState.FUNDED): (455, 418, "end"),
    (TradeState.AWAITING_DEPOSIT, TradeState.CANCELLED): (300, 640, "start"),
    (TradeState.FUNDED, TradeState.FUNDED): (590, 425, "start"),
    (TradeState.FUNDED, TradeState.COMPLETED): (500, 130, "start"),
    (TradeState.FUNDED, TradeState.REFUNDED): (790, 150, "start"),
    (TradeState.FUNDED, TradeState.DISPUTED): (830, 264, "middle"),
    (TradeState.FUNDED, TradeState.SETTLED): (860, 692, "middle"),
    (TradeState.DISPUTED, TradeState.SETTLED): None,
    (TradeState.DISPUTED, TradeState.RESOLVED): (1085, 390, "start"),
}
WRAP = 27  # characters per line of a label's "who/when" text
_NAMES = {state: state.name.replace("_", " ").title() for state in TradeState}


def label(state: TradeState) -> str:
    """A state as people read it: ``AwaitingFunding`` -> ``Awaiting Funding``."""
    return _NAMES[state]


def render(highlight: TradeState | None = None) -> str:
    """The diagram as SVG text; ``highlight`` marks one state as the current one."""
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
        f'height="{HEIGHT}" role="img" aria-labelledby="title desc" font-family="sans-serif" font-size="12">',
        '<title id="title">The life of a p2pescrow trade</title>',
        '<desc id="desc">States of a trade, the calls that move it between them and who may make each call.'
        "</desc>",
        "<style>.box{fill:#f4f6fb;stroke:#34495e;stroke-width:1.5}.end{fill:#eef7ee}"
        ".current{fill:#ffe9a8;stroke:#b7791f;stroke-width:3}.arrow{fill:none;stroke:#34495e;stroke-width:1.3}"
        ".act{font-family:monospace;fill:#1a3d7c}.who{fill:#555}"
        ".act,.who{paint-order:stroke;stroke:#fff;stroke-width:4px;stroke-linejoin:round}"
        ".name{font-weight:bold;font-size:14px}</style>",
        '<defs><marker id="head" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#34495e"/></marker></defs>',
        f'<circle cx="{START[0]}" cy="{START[1]}" r="9" fill="#34495e"/>',
    ]
    for (source, target), group in _grouped().items():
        parts.append(_arrow(source, target, group))
    for state, (x, y) in PLACES.items():
        kind = "current" if state is highlight else ("end" if state.is_terminal else "")
        parts.append(f'<g class="state" data-state="{state.name}"><rect class="box {kind}" x="{x - BOX_W // 2}" '
                     f'y="{y - BOX_H // 2}" width="{BOX_W}" height="{BOX_H}" rx="10"/>'
                     f'<text class="name" x="{x}" y="{y + 5}" text-anchor="middle">{label(state)}</text></g>')
    parts.append(_legend())
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _grouped() -> dict[tuple[TradeState | None, TradeState], list[Transition]]:
    groups: dict[tuple[TradeState | None, TradeState], list[Transition]] = defaultdict(list)
    for transition in TRANSITIONS:
        groups[(transition.source, transition.target)].append(transition)
    return groups


def _edge_point(centre: tuple[int, int], towards: tuple[float, float]) -> tuple[float, float]:
    """Where the line from ``centre`` towards ``towards`` leaves the box around ``centre``."""
    cx, cy = centre
    dx, dy = towards[0] - cx, towards[1] - cy
    if dx == 0 and dy == 0:
        return cx, cy
    scale = min((BOX_W / 2) / abs(dx) if dx else float("inf"), (BOX_H / 2) / abs(dy) if dy else float("inf"))
    return cx + dx * scale, cy + dy * scale


def _label_lines(group: list[Transition]) -> list[tuple[str, str]]:
    """(css class, text) lines: the calls, then who may make them and when (wrapped)."""
    lines: list[tuple[str, str]] = []
    for transition in group:
        lines.append(("act", " / ".join(transition.actions)))
        lines += [("who", line) for line in textwrap.wrap(
            transition.who + (f": {transition.when}" if transition.when else ""), WRAP)]
    return lines


def _text_block(x: float, y: float, lines: list[tuple[str, str]], anchor: str = "middle") -> str:
    """Lines of text, the first at ``y``, 14 px apart."""
    spans = "".join(f'<tspan class="{css}" x="{x:.0f}" dy="{0 if i == 0 else 14}">{escape(text)}</tspan>'
                    for i, (css, text) in enumerate(lines))
    return f'<text x="{x:.0f}" y="{y:.0f}" text-anchor="{anchor}">{spans}</text>'


def _arrow(source: TradeState | None, target: TradeState, group: list[Transition]) -> str:
    if source is target:  # a loop on one side of the box: the trade stays where it is
        x, y = PLACES[target]
        side = -1 if LOOPS.get(target) == "top" else 1
        edge = y + side * BOX_H // 2
        bulge = edge + side * 80
        path = (f'<path class="arrow" d="M{x - 30},{edge} C{x - 70},{bulge} {x + 40},{bulge} '
                f'{x + 5},{edge}" marker-end="url(#head)"/>')
    elif source is None and target is TradeState.FUNDED:  # over the Awaiting Funding box and its loop
        x, y = PLACES[target]
        path = (f'<path class="arrow" d="M{START[0] + 5},{START[1] - 8} Q{START[0] + 130},{y - 260} '
                f'{x - BOX_W // 2},{y - 12}" marker-end="url(#head)"/>')
    else:
        begin = (START[0] + 10, START[1]) if source is None else _edge_point(PLACES[source], PLACES[target])
        finish = _edge_point(PLACES[target], START if source is None else PLACES[source])
        path = (f'<path class="arrow" d="M{begin[0]:.0f},{begin[1]:.0f} L{finish[0]:.0f},{finish[1]:.0f}" '
                f'marker-end="url(#head)"/>')
    place = LABELS.get((source, target), (0, 0, "middle"))
    text = "" if place is None else _text_block(place[0], place[1], _label_lines(group), place[2])
    return f'<g class="transition">{path}{text}</g>'


def _legend() -> str:
    lines = [
        ("who", "Green boxes are final: the money has left the escrow (payouts a receiver rejects are credited, "
                "and withdrawn later)."),
        ("who", "The timeout outcome (release or refund) is fixed in the terms when the trade is created; "
                "anyone may apply it from the deadline."),
        ("who", "A settlement splits what is held by the proposed share; a ruling does too, after the arbiter's "
                "fee. Every state has a way out."),
        ("who", "A trade is live (Funded) once the buyer's payment and the seller's deposit are both in."),
        ("who", "Each deposit goes back at the end, unless its side loses a ruling, concedes, or (with an arbiter) "
                "lets the timeout go against it: then it goes to the other side."),
    ]
    return _text_block(20, HEIGHT - 76, lines, anchor="start")


__all__ = ["LABELS", "LOOPS", "PLACES", "label", "render"]
