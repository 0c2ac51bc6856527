"""Inline SVG charts for the HTML report: pie, horizontal bars, line, gauge.

Plain strings, no JavaScript and no external assets, so the page renders the same in a
browser, in headless Chromium's PDF printer, and offline. Each chart draws its data in a
colour no other chart uses (``SIGNATURE``), which lets a test find it in a screenshot.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape
from typing import Final

PALETTE: Final = (
    "#4e79a7", "#f28e2b", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
)  # fmt: skip
BAR_COLOUR: Final = "#3b5bdb"
LINE_COLOUR: Final = "#d62728"
GAUGE_COLOUR: Final = "#2ca02c"
TRACK_COLOUR: Final = "#e6e6e6"
INK: Final = "#333333"
#: chart id -> the colour its data is drawn in.
SIGNATURE: Final = {
    "chart-cost-pie": PALETTE[0],
    "chart-time-bars": BAR_COLOUR,
    "chart-error-trend": LINE_COLOUR,
    "chart-success-gauge": GAUGE_COLOUR,
}
_MAX_SLICES: Final = len(PALETTE)


def _svg(chart_id: str, width: int, height: int, title: str, body: str) -> str:
    return (
        f'<svg id="{chart_id}" class="chart" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>{body}</svg>'
    )


def _text(x: float, y: float, text: str, *, size: int = 12, anchor: str = "start") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" fill="{INK}" '
        f'text-anchor="{anchor}">{escape(text)}</text>'
    )


def _empty(chart_id: str, width: int, height: int, title: str, message: str) -> str:
    return _svg(
        chart_id, width, height, title, _text(width / 2, height / 2, message, anchor="middle")
    )


def pie(chart_id: str, values: dict[str, float], fmt: Callable[[float], str], title: str) -> str:
    """A pie with a legend; slices past the palette fold into 'other'."""
    items = [(k, v) for k, v in values.items() if v > 0]
    if len(items) > _MAX_SLICES:
        items = [*items[: _MAX_SLICES - 1], ("other", sum(v for _, v in items[_MAX_SLICES - 1 :]))]
    total = sum(v for _, v in items)
    width, height, r, cx, cy = 560, 240, 100, 115, 120
    if total <= 0:
        return _empty(chart_id, width, height, title, "No cost recorded in this range")
    body, angle = [], -math.pi / 2
    for i, (label, value) in enumerate(items):
        colour = PALETTE[i]
        sweep = 2 * math.pi * value / total
        if sweep >= 2 * math.pi - 1e-9:
            body.append(f'<circle cx="{cx}" cy="{cy}" r="{r}" fill="{colour}"/>')
        else:
            x1, y1 = cx + r * math.cos(angle), cy + r * math.sin(angle)
            x2, y2 = cx + r * math.cos(angle + sweep), cy + r * math.sin(angle + sweep)
            large = 1 if sweep > math.pi else 0
            body.append(
                f'<path d="M{cx},{cy} L{x1:.2f},{y1:.2f} A{r},{r} 0 {large} 1 {x2:.2f},{y2:.2f} Z" '
                f'fill="{colour}" stroke="#ffffff" stroke-width="1"/>'
            )
        angle += sweep
        y = 30 + i * 24
        body.append(f'<rect x="250" y="{y - 11}" width="14" height="14" fill="{colour}"/>')
        share = 100 * value / total
        body.append(_text(272, y, f"{label}  {fmt(value)} ({share:.1f}%)"))
    return _svg(chart_id, width, height, title, "".join(body))


def bars(chart_id: str, values: dict[str, float], fmt: Callable[[float], str], title: str) -> str:
    """Horizontal bars, largest first, labelled with their value."""
    items = [(k, v) for k, v in values.items() if v > 0]
    width, row = 640, 26
    height = 20 + row * max(len(items), 1)
    if not items:
        return _empty(chart_id, width, 60, title, "No operations in this range")
    top = max(v for _, v in items)
    left, room = 170, 330
    body = []
    for i, (label, value) in enumerate(items):
        y = 10 + i * row
        length = max(room * value / top, 2)
        body.append(_text(left - 8, y + 14, label, anchor="end"))
        body.append(
            f'<rect x="{left}" y="{y + 2}" width="{length:.1f}" height="{row - 8}" '
            f'fill="{BAR_COLOUR}"/>'
        )
        body.append(_text(left + length + 6, y + 14, fmt(value)))
    return _svg(chart_id, width, height, title, "".join(body))


def line(chart_id: str, points: Sequence[tuple[str, float]], title: str, y_label: str) -> str:
    """A line over evenly spaced bins (label, value), with a zero-based y axis."""
    width, height = 640, 230
    if not points:
        return _empty(chart_id, width, height, title, "No data in this range")
    left, right, top, bottom = 50, 20, 20, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max(max(v for _, v in points), 1.0)
    n = len(points)

    def xy(i: int, v: float) -> tuple[float, float]:
        x = left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)
        return x, top + plot_h * (1 - v / peak)

    body = [
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="{INK}"/>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        f'stroke="{INK}"/>',
        _text(left - 6, top + 4, f"{peak:g}", size=11, anchor="end"),
        _text(left - 6, top + plot_h + 4, "0", size=11, anchor="end"),
        _text(left, height - 8, points[0][0], size=11),
        _text(left + plot_w, height - 8, points[-1][0], size=11, anchor="end"),
        _text(left + plot_w / 2, height - 8, y_label, size=11, anchor="middle"),
    ]
    coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(i, v) for i, (_, v) in enumerate(points)))
    body.append(
        f'<polyline points="{coords}" fill="none" stroke="{LINE_COLOUR}" stroke-width="3" '
        'stroke-linejoin="round"/>'
    )
    for i, (_, v) in enumerate(points):
        if v > 0:
            x, y = xy(i, v)
            body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{LINE_COLOUR}"/>')
    return _svg(chart_id, width, height, title, "".join(body))


def gauge(chart_id: str, value_pct: float | None, title: str) -> str:
    """A half-circle gauge from 0 to 100 %."""
    width, height, r, cx, cy = 260, 160, 100, 130, 125
    track = (
        f'<path d="M{cx - r},{cy} A{r},{r} 0 0 1 {cx + r},{cy}" fill="none" '
        f'stroke="{TRACK_COLOUR}" stroke-width="22"/>'
    )
    if value_pct is None:
        return _svg(
            chart_id,
            width,
            height,
            title,
            track + _text(cx, cy - 10, "n/a", size=28, anchor="middle"),
        )
    share = min(max(value_pct, 0.0), 100.0) / 100.0
    angle = math.pi * (1 - share)
    x, y = cx + r * math.cos(angle), cy - r * math.sin(angle)
    arc = (
        f'<path d="M{cx - r},{cy} A{r},{r} 0 0 1 {x:.2f},{y:.2f}" fill="none" '
        f'stroke="{GAUGE_COLOUR}" stroke-width="22"/>'
        if share > 0
        else ""
    )
    label = _text(cx, cy - 12, f"{value_pct:.1f}%", size=28, anchor="middle")
    scale = _text(cx - r, cy + 24, "0%", size=11, anchor="middle") + _text(
        cx + r, cy + 24, "100%", size=11, anchor="middle"
    )
    return _svg(chart_id, width, height, title, track + arc + label + scale)
