"""Line charts as inline SVG, drawn by fastpipe: axes, ticks, a legend, a colour per series.

No charting library and no script: the SVG is plain markup that any browser shows offline.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

PALETTE = (
    "#2f6fdb",
    "#e8743b",
    "#19a979",
    "#c94c8c",
    "#945ecf",
    "#d4a017",
    "#13a4b4",
    "#6c8893",
)
WIDTH, HEIGHT = 520, 300  # the plot area; a legend adds rows below it
_LEGEND_ITEM = 150  # the width of one legend entry
_LEFT, _RIGHT, _TOP, _BOTTOM = 58, 16, 14, 40


@dataclass(frozen=True)
class Series:
    """One line: a label for the legend and its points (x, y)."""

    label: str
    points: tuple[tuple[float, float], ...]


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About `count` round tick values covering [low, high] (1, 2, 2.5 or 5 times 10^k)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0]
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / max(1, count)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.floor(low / step + 1e-9) * step  # 0.3 / 0.1 is 2.9999...
    ticks: list[float] = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 12))
    return ticks


def tick_label(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1e5 or abs(value) < 1e-3:
        return f"{value:.2g}"
    return f"{value:.6g}"


def line_chart(series: Sequence[Series], *, x_label: str = "", y_label: str = "") -> str:
    """An SVG line chart of `series`; a legend when there is more than one."""
    xs = [x for s in series for x, _ in s.points]
    ys = [y for s in series for _, y in s.points]
    x_ticks = nice_ticks(min(xs, default=0.0), max(xs, default=1.0))
    y_ticks = nice_ticks(min(ys, default=0.0), max(ys, default=1.0))
    x0, x1, y0, y1 = x_ticks[0], x_ticks[-1], y_ticks[0], y_ticks[-1]
    plot_w, plot_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM

    def px(x: float) -> float:
        return _LEFT + (x - x0) / ((x1 - x0) or 1) * plot_w

    def py(y: float) -> float:
        return _TOP + plot_h - (y - y0) / ((y1 - y0) or 1) * plot_h

    legend_rows = (
        0 if len(series) < 2 else -(-len(series) // max(1, (WIDTH - _LEFT) // _LEGEND_ITEM))
    )
    height = HEIGHT + 16 * legend_rows + (10 if legend_rows else 0)
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" style="width:100%;height:auto" role="img">'
    ]
    for y in y_ticks:
        parts.append(
            f'<line x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{py(y):.1f}" y2="{py(y):.1f}" '
            'stroke="#eceff3"/>'
            f'<text x="{_LEFT - 6}" y="{py(y) + 4:.1f}" font-size="11" fill="#616e7c" '
            f'text-anchor="end">{tick_label(y)}</text>'
        )
    for x in x_ticks:
        parts.append(
            f'<line x1="{px(x):.1f}" x2="{px(x):.1f}" y1="{_TOP + plot_h}" y2="{_TOP + plot_h + 4}"'
            ' stroke="#9aa5b1"/>'
            f'<text x="{px(x):.1f}" y="{_TOP + plot_h + 17}" font-size="11" fill="#616e7c" '
            f'text-anchor="middle">{tick_label(x)}</text>'
        )
    parts.append(
        f'<line x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{_TOP + plot_h}" y2="{_TOP + plot_h}" '
        'stroke="#9aa5b1"/>'
        f'<line x1="{_LEFT}" x2="{_LEFT}" y1="{_TOP}" y2="{_TOP + plot_h}" stroke="#9aa5b1"/>'
    )
    if x_label:
        parts.append(
            f'<text x="{_LEFT + plot_w / 2:.1f}" y="{HEIGHT - 4}" font-size="12" fill="#3e4c59" '
            f'text-anchor="middle">{escape(x_label)}</text>'
        )
    if y_label:
        parts.append(
            f'<text x="12" y="{_TOP + plot_h / 2:.1f}" font-size="12" fill="#3e4c59" '
            f'text-anchor="middle" transform="rotate(-90 12 {_TOP + plot_h / 2:.1f})">'
            f"{escape(y_label)}</text>"
        )
    for i, s in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        points = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in s.points)
        parts.append(
            f'<polyline class="series" data-label="{escape(s.label)}" fill="none" '
            f'stroke="{colour}" stroke-width="2" stroke-linejoin="round" points="{points}">'
            f"<title>{escape(s.label)}</title></polyline>"
        )
        if len(s.points) == 1:
            x, y = s.points[0]
            parts.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{colour}"/>')
    if legend_rows:
        parts.append(_legend(series, HEIGHT + 16))
    parts.append("</svg>")
    return "".join(parts)


def _legend(series: Sequence[Series], top: float) -> str:
    """The labels in rows under the chart, so that they never hide a line."""
    per_row = max(1, (WIDTH - _LEFT) // _LEGEND_ITEM)
    parts = ['<g class="legend">']
    for i, s in enumerate(series):
        x = _LEFT + (i % per_row) * _LEGEND_ITEM
        y = top + 16 * (i // per_row)
        colour = PALETTE[i % len(PALETTE)]
        parts.append(
            f'<line x1="{x}" x2="{x + 14}" y1="{y - 4}" y2="{y - 4}" stroke="{colour}" '
            f'stroke-width="3"/><text x="{x + 19}" y="{y}" font-size="11" fill="#1f2933">'
            f"{escape(s.label)}</text>"
        )
    parts.append("</g>")
    return "".join(parts)
