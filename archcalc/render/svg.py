"""Bar charts as inline SVG (for the standalone HTML report): no matplotlib, no network.

Formatting only: the values come in already computed; this draws them. Each
axis picks its unit from the largest value (B, KiB, MiB, GiB for bytes; none,
K, M, G for counts: :func:`archcalc.render.units.axis_unit`), so LeNet's
parameters read 0 to 50 K, not 0 to 0.00005 G. The chart is 1200 units wide
and scales down with the page; labels are 12 px, rotated when the bars are
many, and every bar has its exact value as a tooltip.
"""

from __future__ import annotations

import math
from html import escape

from archcalc.render.units import axis_unit

WIDTH = 1200
TOP = 34
LEFT = 72
RIGHT = 12
PLOT_HEIGHT = 170
FONT = 12


def axis_ticks(value: float) -> list[float]:
    """Ticks from 0 to at least ``value`` in steps of 1, 2, 2.5 or 5 times a power of ten, at
    most 5 steps: 230 -> 0, 50, ..., 250."""
    if value <= 0:
        return [0.0, 1.0]
    base = 10.0 ** math.floor(math.log10(value / 5))
    for factor in (1, 2, 2.5, 5, 10):
        step = factor * base
        if value / step <= 5 * (1 + 1e-9):
            break
    count = max(1, math.ceil(value / step - 1e-9))
    return [step * i for i in range(count + 1)]


def tick_text(value: float) -> str:
    return f"{value:,.6g}"


def bar_chart(title: str, labels: list[str], values: list[int | float], colour: str, kind: str = "count") -> str:
    """A vertical bar chart, one bar per label; ``kind`` ``bytes`` or ``count`` picks the unit."""
    scale, unit = axis_unit(max(values, default=0), kind)
    scaled = [v / scale for v in values]
    n = max(len(values), 1)
    ticks = axis_ticks(max(scaled, default=0.0))
    top = ticks[-1]
    longest = max((len(label) for label in labels), default=1)
    rotate = longest * FONT * 0.6 > (WIDTH - LEFT - RIGHT) / n
    left = LEFT
    if rotate and labels:
        # a label rotated by 45 degrees reaches left of its bar by about 0.6 * 0.71 of its length;
        # the first ones must not leave the chart
        reach = max(min(len(label), 28) * FONT * 0.43 - (i + 0.5) * (WIDTH - LEFT - RIGHT) / n
                    for i, label in enumerate(labels[:8]))
        left = max(LEFT, int(reach) + 6)
    plot_w = WIDTH - left - RIGHT
    step = plot_w / n
    bar_w = max(step * 0.75, 1.0)
    label_room = int(min(longest, 28) * FONT * 0.62 * (0.75 if rotate else 0)) + FONT + 10
    height = TOP + PLOT_HEIGHT + label_room
    axis = f"{title} ({unit})" if unit else title
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'font-family="system-ui, sans-serif" font-size="{FONT}" role="img" aria-label="{escape(axis)}">',
        f'<text x="{left}" y="18" font-size="14" font-weight="bold">{escape(axis)}</text>',
    ]
    for value in ticks:
        y = TOP + PLOT_HEIGHT - PLOT_HEIGHT * value / top
        parts.append(f'<line x1="{left}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e2e2e2"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#555">{tick_text(value)}</text>')
    base = TOP + PLOT_HEIGHT
    for i, (label, value, raw) in enumerate(zip(labels, scaled, values)):
        x = left + i * step + (step - bar_w) / 2
        h = PLOT_HEIGHT * value / top if top else 0
        exact = f"{raw:,} B" if kind == "bytes" else f"{raw:,}"
        parts.append(
            f'<rect x="{x:.2f}" y="{base - h:.2f}" width="{bar_w:.2f}" height="{h:.2f}" fill="{colour}">'
            f"<title>{escape(label)}: {exact}</title></rect>"
        )
        cx = x + bar_w / 2
        shown = label if len(label) <= 28 else "…" + label[-27:]
        if rotate:
            parts.append(f'<text x="{cx:.1f}" y="{base + 12}" text-anchor="end" '
                         f'transform="rotate(-45 {cx:.1f} {base + 12})">{escape(shown)}</text>')
        else:
            parts.append(f'<text x="{cx:.1f}" y="{base + 16}" text-anchor="middle">{escape(shown)}</text>')
    parts.append(f'<line x1="{left}" x2="{WIDTH - RIGHT}" y1="{base}" y2="{base}" stroke="#444"/>')
    parts.append("</svg>")
    return "\n".join(parts)
