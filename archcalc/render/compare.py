"""Totals side by side (``archcalc compare``, ``--sweep``): values, ratios to the first, and
the sentences lecture slides say ("vgg16 uses 25x the activation memory of alexnet").

Formatting only: the Comparison holds the values and ratios.
"""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from archcalc.comparison import Comparison
from archcalc.render import units

#: metrics named in the summary sentences, with how a sentence calls them
SENTENCE_METRICS = (
    ("params", "the parameters"),
    ("activation_bytes", "the activation memory"),
    ("training_bytes.adam", "the training memory (Adam)"),
    ("macs", "the MACs"),
)


def value_text(kind: str, value: int, exact: bool) -> str:
    if kind == "bytes":
        return units.nbytes_short(int(value), exact)
    if kind == "seconds":
        return f"{value * 1e3:.3g} ms" if value < 1 else f"{value:.3g} s"
    if kind == "rate":
        return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"
    return units.count_short(value, exact)


def comparison_table(comparison: Comparison, exact: bool = False, title: str = "", width: int = 80) -> Table:
    """Metrics down, networks (or sweep points) across; each value with its ratio to the first,
    beside it when the console is wide enough, else under it."""
    first = comparison.reports[0]
    caption = f"batch {first.batch}, {first.dtype}; (ratio to {comparison.labels[0]})"
    if len({r.batch for r in comparison.reports}) > 1 or len({r.dtype for r in comparison.reports}) > 1:
        caption = f"(ratio to {comparison.labels[0]})"
    values = [
        [value_text(m.kind, v, exact) for v in m.values] for m in comparison.metrics
    ]
    ratios = [["" if i == 0 else f"({units.ratio(r)})" for i, r in enumerate(m.ratios)] for m in comparison.metrics]
    heads = []
    for label, report in zip(comparison.labels, comparison.reports):
        heads.append([label] if label.startswith("input") else [label, units.shape(report.input_shape)])
    label_width = max(len(m.label) for m in comparison.metrics)
    beside = [
        max([len(row[i]) + 1 + len(r[i]) for row, r in zip(values, ratios)] + [len(h) for h in heads[i]])
        for i in range(len(heads))
    ]
    stacked = label_width + sum(w + 3 for w in beside) > width  # 3: divider and padding
    table = Table(
        title=Text(title or "Totals compared", style="bold"),
        caption=Text(caption, style="dim"),
        header_style="bold",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=0 if stacked else (0, 1),
        collapse_padding=True,
    )
    table.add_column("", no_wrap=True, style="bold")
    for head in heads:
        table.add_column(Text("\n".join(head)), justify="right", no_wrap=True)
    for metric, row, ratio_row in zip(comparison.metrics, values, ratios):
        cells = [Text(metric.label)]
        for value, ratio in zip(row, ratio_row):
            text = Text(value)
            if ratio:
                text.append(("\n" if stacked else " ") + ratio, style="dim")
            cells.append(text)
        table.add_row(*cells)
    return table


def sentences(comparison: Comparison, sweep: bool = False) -> list[str]:
    """``vgg16 uses 2.26x the parameters, ... of alexnet.``; for a sweep
    ``batch 64: 64.0x the activation memory ... of batch 1`` (unchanged totals left out)."""
    if len(comparison.reports) < 2:
        return []
    first = comparison.labels[0]
    lines = []
    for index in range(1, len(comparison.reports)):
        parts = []
        for key, words in SENTENCE_METRICS:
            try:
                metric = comparison.metric(key)
            except KeyError:
                continue
            ratio = metric.ratios[index]
            if ratio is None or (sweep and metric.values[index] == metric.values[0]):
                continue
            parts.append(f"{units.ratio(ratio)} {words}")
        if parts:
            listed = ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1]
            subject = f"{comparison.labels[index]}:" if sweep else f"{comparison.labels[index]} uses"
            lines.append(f"{subject} {listed} of {first}.")
    return lines


def render_comparison(
    comparison: Comparison, console: Console, exact: bool = False, title: str = "", sweep: bool = False
) -> None:
    console.print(comparison_table(comparison, exact, title, width=console.width))
    for line in sentences(comparison, sweep):
        console.print(Text(line))
