"""The terminal table (rich): layers in their block tree, shares as bars, a totals panel.

Takes a finished Report (and the entries of :mod:`archcalc.breakdown`) and a
rich Console; computes nothing. Two layouts, picked by the console's width:

* narrow (under :data:`WIDE_AT` columns, 80 included): layer, type (op and
  kernel), output, parameters, activation memory and the convention's FLOPs,
  each number followed by a short bar of its share, and the receptive field;
* wide: the full hyper-parameters, MACs and FLOPs side by side, longer bars
  with percentages.

Bars show a row's share of the network total, scaled so that the largest row
of the column fills the bar.
"""

from __future__ import annotations

from typing import Any, Mapping

from rich import box
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from archcalc.layers import lookup
from archcalc.breakdown import BLOCK, HEADER, Entry, table_entries
from archcalc.render import units
from archcalc.report import Report, describe_attrs

#: console width from which the wide layout is used
WIDE_AT = 120
NARROW_BAR = 3
WIDE_BAR = 10

PARAM_STYLE = "green"
MEMORY_STYLE = "magenta"
FLOPS_STYLE = "cyan"

_ATTR_ORDER = ("filters", "units", "kernel", "stride", "pad", "dilation", "groups", "output")


def ordered_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Hyper-parameters in reading order: filters, kernel, stride, pad, dilation, groups, the rest."""
    first = {k: attrs[k] for k in _ATTR_ORDER if k in attrs}
    return {**first, **{k: v for k, v in attrs.items() if k not in first}}


def type_text(entry: Entry, wide: bool) -> str:
    """``conv 3x3/2`` (narrow) or ``conv f64 k3 s2 p1`` (wide); ``13 layers`` for a block."""
    if entry.kind != "layer":
        if not wide:
            return f"{len(entry.rows)} layers"
        return ", ".join(f"{n} {op}" if n > 1 else op for op, n in entry.op_counts)
    row = entry.rows[0]
    if wide:
        attrs = describe_attrs(row.op, ordered_attrs(row.attrs))
        return f"{row.op} {attrs}".strip()
    rule = lookup(row.op)
    text = (rule.short if rule is not None else None) or row.op
    attrs = row.attrs
    if "kernel" in attrs and isinstance(attrs["kernel"], tuple):
        text += " " + "x".join(str(k) for k in attrs["kernel"])  # 3x3, or 5 / 3x3x3 (1-D, 3-D)
        stride = attrs.get("stride")
        if isinstance(stride, tuple) and set(stride) != {1}:
            text += f"/{stride[0]}" if len(set(stride)) == 1 else "/" + "x".join(str(s) for s in stride)
        groups = attrs.get("groups", 1)
        if groups > 1:
            text += " dw" if groups == attrs.get("in_channels") else f" g{groups}"
    return text


def _number_with_bar(number: str, width: int, share: float, scale: float, bar_width: int, style: str,
                     with_percent: bool) -> Text:
    text = Text(number.rjust(width))
    if bar_width:
        fraction = share / scale if scale else 0.0
        text.append(" ")
        text.append(units.bar(fraction, bar_width), style=style)
    if with_percent and bar_width:
        text.append(" " + units.percent(share).rjust(5), style="dim")
    return text


def layer_table(
    report: Report,
    exact: bool = False,
    layout: str = "hwc",
    depth: int | None = None,
    width: int = 80,
) -> Table:
    """The per-layer table for a console ``width`` columns wide."""
    wide = width >= WIDE_AT
    entries = table_entries(report, depth)
    numbered = [e for e in entries if e.kind != HEADER]
    convention = report.convention
    show_flops = convention.name != "macs"
    bar_width = WIDE_BAR if wide else NARROW_BAR
    count = units.count_short
    memory = units.nbytes_short

    columns: list[tuple[str, str, Any]] = [  # header, key, (value, share, style)
        ("Params", "params", (lambda e: e.params, lambda e: e.param_share, PARAM_STYLE, count)),
        ("Act. mem", "memory", (lambda e: e.activation_bytes, lambda e: e.memory_share, MEMORY_STYLE, memory)),
    ]
    if wide and show_flops:
        columns.append(("MACs", "macs", (lambda e: e.macs, None, None, count)))
        columns.append((f"FLOPs [{convention.name}]", "flops",
                        (lambda e: e.flops, lambda e: e.flops_share, FLOPS_STYLE, count)))
    else:
        head = "FLOPs" if show_flops else "MACs"
        columns.append((head, "flops", (lambda e: e.flops, lambda e: e.flops_share, FLOPS_STYLE, count)))

    shape_head = "Output" if not wide else ("Output (HxWxC)" if layout == "hwc" else "Output (CxHxW)")

    # every cell's text first, so that the columns can be sized to fit the console
    labels = ["  " * e.level + e.label for e in entries]
    types = ["" if e.kind == HEADER else type_text(e, wide) for e in entries]
    shapes = ["" if e.kind == HEADER else units.shape(e.output_shape, layout) for e in entries]
    fields = ["" if e.kind == HEADER or e.rf is None else units.pair_short(e.rf.size) for e in entries]
    formatted: dict[str, list[str]] = {}
    scales: dict[str, float] = {}
    for head, key, (value, share, style, fmt) in columns:
        formatted[key] = [fmt(value(e), exact) if value(e) else "-" for e in numbered]
        scales[key] = max((share(e) for e in numbered), default=0.0) if share else 0.0
    widths = {key: max([len(t) for t in texts] + [1]) for key, texts in formatted.items()}
    cell_widths = {}
    for head, key, (_, share, _, _) in columns:
        extra = (1 + bar_width if share else 0) + (6 if wide and share else 0)
        cell_widths[key] = max(widths[key] + extra, len(head))
    shape_width = max([len(t) for t in shapes] + [len(shape_head)])
    rf_width = max([len(t) for t in fields] + [2])
    gap = 2 if wide else 1
    n_columns = 5 + len(columns)
    fixed = shape_width + sum(cell_widths.values()) + rf_width + gap * (n_columns - 1)
    layer_width = max([len(t) for t in labels] + [5])
    type_width = max([len(t) for t in types] + [4])
    spare = width - fixed
    while layer_width + type_width > spare and max(layer_width, type_width) > 8:
        # shrink the wider of names and types, one column at a time; an ellipsis marks the cut
        if layer_width >= type_width:
            layer_width -= 1
        else:
            type_width -= 1

    table = Table(
        header_style="bold",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 1) if wide else 0,
        collapse_padding=True,
        expand=False,
    )
    table.add_column("Layer", no_wrap=True, overflow="ellipsis", width=layer_width)
    table.add_column("Type", no_wrap=True, overflow="ellipsis", style="cyan", width=type_width)
    table.add_column(shape_head, justify="right", no_wrap=True, width=shape_width)
    for head, key, (_, share, _, _) in columns:
        table.add_column(Text(head), justify="right" if not share else "left", no_wrap=True, width=cell_widths[key])
    table.add_column("RF", justify="right", no_wrap=True, width=rf_width)

    index = 0
    for position, entry in enumerate(entries):
        if entry.kind == HEADER:
            table.add_row(Text(labels[position], style="bold"), *[""] * (n_columns - 1))
            continue
        label = Text(labels[position], style="bold" if entry.kind == BLOCK else "")
        cells: list[Any] = [label, Text(types[position]), Text(shapes[position])]
        for head, key, (value, share, style, _) in columns:
            text = formatted[key][index]
            if share is None:
                cells.append(Text(text.rjust(cell_widths[key])))
            else:
                cells.append(_number_with_bar(text, widths[key], share(entry), scales[key],
                                              bar_width if value(entry) else 0, style, wide))
        cells.append(Text(fields[position]))
        table.add_row(*cells)
        index += 1
    return table


def table_title(report: Report, layout: str = "hwc", depth: int | None = None) -> Text:
    """``vgg16: input 224x224x3, batch 1, float32`` (and the folding depth)."""
    title = f"{report.model}: input {units.shape(report.input_shape, layout)}, batch {report.batch}, {report.dtype}"
    if depth is not None:
        title += f", blocks folded to depth {depth}"
    return Text(title, style="bold")


def table_caption(report: Report) -> Text:
    """What the compute column counts, and what the bars mean."""
    convention = report.convention
    if convention.name != "macs":
        first = f"FLOPs [{convention.name}]: {convention.label}"
    else:
        first = "MACs: multiply-accumulates"
    return Text(f"{first}\nbars: share of the total, the largest row fills the bar", style="dim")


def totals_table(report: Report, exact: bool = False) -> Table:
    """The totals: parameters, parameter memory, activations (sum, peak), training memory, MACs, FLOPs."""
    t = report.totals
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(justify="right", no_wrap=True)
    grid.add_column(style="dim")
    nbytes = units.nbytes_short
    grid.add_row(
        "Parameters",
        units.count(t.params, True),
        f"{units.count_short(t.params)}; trainable {units.count_short(t.trainable_params, exact)}, "
        f"buffers {units.count_short(t.buffers, exact)}",
    )
    grid.add_row("Parameter memory", nbytes(t.param_bytes, exact), f"{report.dtype}, {report.bytes_per_element} B each")
    grid.add_row("Activations (sum)", nbytes(t.activation_bytes, exact), f"all layer outputs, batch {report.batch}")
    grid.add_row("Activations (peak)", nbytes(t.peak_activation_bytes, exact), "live tensors, one inference pass")
    notes = {
        "sgd": "params + grads + kept activations",
        "momentum": "+ 1 momentum buffer",
        "adam": "+ 2 moment buffers",
    }
    for optimizer, value in t.training_bytes.items():
        grid.add_row(f"Training ({optimizer})", nbytes(value, exact), notes.get(optimizer, ""))
    grid.add_row("MACs", units.count(t.macs, True), f"{units.count_short(t.macs)} multiply-accumulates")
    if report.convention.name != "macs":
        grid.add_row(Text(f"FLOPs [{report.convention.name}]"), units.count(t.flops, True),
                     Text(report.convention.label))
    if report.not_counted:
        listed = ", ".join(f"{op} x{n}" for op, n in sorted(report.not_counted.items()))
        grid.add_row("Not counted", str(sum(report.not_counted.values())), listed)
    return grid


def totals_panel(report: Report, exact: bool = False) -> Panel:
    return Panel(totals_table(report, exact), title="Totals", title_align="left", expand=False, box=box.ROUNDED)


def render_report(
    report: Report,
    console: Console,
    exact: bool = False,
    layout: str = "hwc",
    depth: int | None = None,
) -> None:
    console.print(table_title(report, layout, depth))
    console.print(layer_table(report, exact, layout, depth, width=console.width))
    console.print(table_caption(report))
    console.print(totals_panel(report, exact))


def layer_answer(report: Report, exact: bool = False, layout: str = "hwc") -> Group:
    """A single-layer question's answer: each layer's numbers as a short list (and totals if several)."""
    convention = report.convention
    parts: list[Any] = []
    for row in report.rows:
        attrs = describe_attrs(row.op, ordered_attrs(row.attrs))
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column()
        in_shape = " + ".join(units.shape(s, layout) for s in row.input_shapes)
        rule = lookup(row.op)
        reading = rule.reading(row.attrs, row.input_shapes) if rule is not None else ""  # dense layer on an image
        grid.add_row("input", f"{in_shape}, {reading}" if reading else in_shape)
        grid.add_row("output shape", units.shape(row.output_shape, layout))
        params = units.count(row.params, True)
        if row.params:
            params += f" ({units.count(row.weights, True)} weights + {units.count(row.biases, True)} biases)"
        grid.add_row("parameters", params)
        if row.buffers:
            grid.add_row("buffers", units.count(row.buffers, True) + " (not trained)")
        grid.add_row(
            "activation memory",
            f"{units.count(row.activation_bytes, True)} B ({units.nbytes(row.activation_bytes)}), "
            f"{units.count(row.activation_elements, True)} values x {report.bytes_per_element} B",
        )
        grid.add_row("MACs", units.count(row.macs, True))
        if convention.name != "macs":
            grid.add_row(Text(f"FLOPs [{convention.name}]"), Text(f"{units.count(row.flops, True)}  ({convention.label})"))
        grid.add_row(
            "receptive field",
            f"{units.pair(row.rf.size)} (jump {units.pair(row.rf.jump)}, start {units.pair(row.rf.start)})",
        )
        title = f"{row.name}: {row.op} {attrs}".strip()
        parts.append(Panel(grid, title=Text(title), title_align="left", expand=False, box=box.ROUNDED))
    if len(report.rows) > 1:
        parts.append(totals_panel(report, exact))
    return Group(*parts)
