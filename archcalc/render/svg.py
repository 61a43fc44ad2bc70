"""Bar charts as inline SVG (for the standalone HTML report): no matplotlib, no network.

Formatting only: the values come in already computed; this draws them.
"""

from __future__ import annotations

import math
from html import escape

WIDTH = 960
HEIGHT = 300
LEFT = 64
BOTTOM = 110
TOP = 28


def _nice_top(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above ``value`` (the axis top)."""
    if value <= 0:
        return 1.0
    base = 10.0 ** math.floor(math.log10(value))
    for factor in (1, 2, 5):
        if factor * base >= value:
            return factor * base
    return 10 * base


def _tick(value: float) -> str:
    return f"{value:g}"


def bar_chart(title: str, labels: list[str], values: list[float], colour: str, unit: str = "") -> str:
    """A vertical bar chart, one bar per label, with a y axis and each bar's value as a tooltip."""
    n = max(len(values), 1)
    plot_w = WIDTH - LEFT - 10
    plot_h = HEIGHT - TOP - BOTTOM
    top = _nice_top(max(values, default=0.0))
    step = plot_w / n
    bar_w = max(step * 0.8, 0.5)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'font-family="sans-serif" font-size="10" role="img" aria-label="{escape(title)}">',
        f'<text x="{LEFT}" y="16" font-size="13" font-weight="bold">{escape(title)}</text>',
    ]
    for i in range(5):
        value = top * i / 4
        y = TOP + plot_h - plot_h * i / 4
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{LEFT - 4}" y="{y + 3:.1f}" text-anchor="end">{_tick(value)}</text>')
    label_every = max(1, round(n / 80))
    for i, (label, value) in enumerate(zip(labels, values)):
        x = LEFT + i * step + (step - bar_w) / 2
        h = plot_h * value / top if top else 0
        y = TOP + plot_h - h
        parts.append(
            f'<rect x="{x:.2f}" y="{y:.2f}" width="{bar_w:.2f}" height="{h:.2f}" fill="{colour}">'
            f"<title>{escape(label)}: {value:.4g} {escape(unit)}</title></rect>"
        )
        if i % label_every == 0:
            cx = x + bar_w / 2
            ly = TOP + plot_h + 6
            parts.append(
                f'<text x="{cx:.1f}" y="{ly}" font-size="8" text-anchor="end" '
                f'transform="rotate(-60 {cx:.1f} {ly})">{escape(label)}</text>'
            )
    parts.append(
        f'<line x1="{LEFT}" x2="{WIDTH - 10}" y1="{TOP + plot_h}" y2="{TOP + plot_h}" stroke="#444"/>'
    )
    parts.append("</svg>")
    return "\n".join(parts)
