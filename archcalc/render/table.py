"""The terminal table: layers in their block tree, shares as bars, a totals panel.

Takes a finished Report (and the entries of :mod:`archcalc.breakdown`);
computes nothing. The table is laid out by hand as styled lines
(:mod:`archcalc.render.styled`: a rich ``Table`` cost more time than the whole
analysis), printed by a light terminal or a rich Console.

One layout for every width, richer as the console widens, and never poorer:
the features of :data:`LADDER` are added in order while the table still fits,
so a wider console shows everything a narrower one does, and more:

1. the base table: layer, type (op, kernel, stride), output, parameters,
   activation memory, the convention's FLOPs and the receptive field (names
   and types are cut with an ellipsis only when even this does not fit);
2. after each number a 3-cell bar of its share;
3. the other hyper-parameters after the type (``conv 3x3/2 f64 p3 no bias``);
4. the output's layout in its header (``Output (HxWxC)``);
5. MACs beside the FLOPs of a convention that is not MACs;
6. each share as a percentage;
7. longer bars, up to :data:`MAX_BAR` cells;
8. wider gaps between the columns.

Bars show a row's share of the network total, scaled so that the largest row
of the column fills the bar.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, Callable, Mapping

from archcalc.breakdown import BLOCK, HEADER, Entry, is_view, table_entries
from archcalc.layers import lookup
from archcalc.render import units
from archcalc.render.styled import Line, print_lines, to_rich
from archcalc.render.terminal_text import visible_line
from archcalc.render.warnings import intended_line
from archcalc.report import Report, describe_attrs

MIN_BAR = 3
MAX_BAR = 10
#: width of a percentage after a bar (`` 12.3%``)
PERCENT = 6

PARAM_STYLE = "green"
MEMORY_STYLE = "magenta"
FLOPS_STYLE = "cyan"
TYPE_STYLE = "cyan"

_ATTR_ORDER = ("filters", "units", "kernel", "stride", "pad", "dilation", "groups", "output")
#: hyper-parameters the short type text already shows (``conv 3x3/2 dw``), or the output column does
_IN_SHORT = ("kernel", "stride", "groups", "units")


def ordered_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Hyper-parameters in reading order: filters, kernel, stride, pad, dilation, groups, the rest."""
    first = {k: attrs[k] for k in _ATTR_ORDER if k in attrs}
    return {**first, **{k: v for k, v in attrs.items() if k not in first}}


def short_type(op: str, attrs: Mapping[str, Any]) -> str:
    """``conv 3x3/2``, ``conv 3x3 dw``, ``maxpool 2x2/2``: the op, its kernel and stride."""
    rule = lookup(op)
    text = rule.short_text(attrs) if rule is not None else op  # attention: "attn causal" / "attn full"
    if "kernel" in attrs and isinstance(attrs["kernel"], tuple):
        text += " " + "x".join(str(k) for k in attrs["kernel"])  # 3x3, or 5 / 3x3x3 (1-D, 3-D)
        stride = attrs.get("stride")
        if isinstance(stride, tuple) and set(stride) != {1}:
            text += f"/{stride[0]}" if len(set(stride)) == 1 else "/" + "x".join(str(s) for s in stride)
        groups = attrs.get("groups", 1)
        if groups > 1:
            text += " dw" if groups == attrs.get("in_channels") else f" g{groups}"
    return text


def _no_padding(value: Any) -> bool:
    """``0``, ``(0, 0)`` or ``((0, 0), (0, 0))``."""
    if isinstance(value, (tuple, list)):
        return all(_no_padding(v) for v in value)
    return value == 0


def type_text(entry: Entry, full: bool = False) -> str:
    """The type column: ``conv 3x3/2``, with ``full`` the other hyper-parameters after it
    (``conv 3x3/2 f64 p3 no bias``); ``13 layers`` for a folded block, with ``full`` its ops
    (``13 layers: 10 conv, 3 relu``). The short text is always a prefix of the full one."""
    if entry.kind != "layer":
        text = f"{len(entry.rows)} layers"
        if full:
            text += ": " + ", ".join(f"{n} {op}" if n > 1 else op for op, n in entry.op_counts)
        return text
    row = entry.rows[0]
    text = short_type(row.op, row.attrs)
    windowed = "kernel" in row.attrs and isinstance(row.attrs["kernel"], tuple)
    shown = _IN_SHORT if windowed else ("units",)
    attrs = {k: v for k, v in row.attrs.items() if k not in shown and not (k == "pad" and _no_padding(v))}
    rest = describe_attrs(row.op, attrs) if full else ""
    return f"{text} {rest}" if rest else text


@dataclass(frozen=True)
class Layout:
    """What the table shows (see the module docstring for the order features are added)."""

    full_types: bool = False
    shape_layout: bool = False
    macs_column: bool = False
    percents: bool = False
    bar: int = 0
    gap: int = 1


def ladder(with_macs: bool) -> list[Layout]:
    """The layouts from the plainest to the richest; each shows all that the previous one does."""
    steps = [Layout()]
    steps.append(replace(steps[-1], bar=MIN_BAR))
    steps.append(replace(steps[-1], full_types=True))
    steps.append(replace(steps[-1], shape_layout=True))
    if with_macs:
        steps.append(replace(steps[-1], macs_column=True))
    steps.append(replace(steps[-1], percents=True))
    for bar in range(MIN_BAR + 1, MAX_BAR + 1):
        steps.append(replace(steps[-1], bar=bar))
    steps.append(replace(steps[-1], gap=2))
    return steps


def _type_texts(entries: list[Entry]) -> tuple[list[str], list[str]]:
    """The short and full type texts of ``entries``, each computed once per distinct layer (a
    repeated block, a 100,000-layer ``repeat:``), control characters shown as escapes."""
    known: dict[tuple, tuple[str, str]] = {}
    short, full = [], []
    for entry in entries:
        key = None
        if entry.kind == "layer":
            row = entry.rows[0]
            try:
                key = (row.op, tuple(row.attrs.items()))
                hash(key)
            except TypeError:
                key = None
        texts = known.get(key) if key is not None else None
        if texts is None:
            texts = (visible_line(type_text(entry)), visible_line(type_text(entry, full=True)))
            if key is not None:
                known[key] = texts
        short.append(texts[0])
        full.append(texts[1])
    return short, full


@dataclass(frozen=True)
class _Numbers:
    """One numeric column: header, formatted values, bar lengths (None: no bar), the shares
    of the total the percentages show, and the bar style."""

    head: str
    texts: list[str]
    shares: list[float] | None
    percents: list[float] | None
    style: str

    @cached_property
    def number_width(self) -> int:
        """The widest number (computed once: the table asks per row, and 100,000 rows made it quadratic)."""
        return max([len(t) for t in self.texts] + [1])

    def width(self, layout: Layout) -> int:
        extra = 0 if self.shares is None or not layout.bar else 1 + layout.bar + (PERCENT if layout.percents else 0)
        return max(self.number_width + extra, len(self.head))


def _bars(shares: list[float]) -> list[float]:
    """Bar lengths: each share scaled so that the largest fills the bar."""
    top = max(shares, default=0.0)
    return [v / top if top else 0.0 for v in shares]


def _formatted(values: list, fmt: Callable[[Any], str]) -> list[str]:
    """``[fmt(v) for v in values]``, each distinct value formatted once (its type part of the key:
    ``1`` and ``1.0`` print differently). A table repeats its numbers and shapes."""
    known: dict[tuple, str] = {}
    out = []
    for value in values:
        key = (type(value), value)
        text = known.get(key)
        if text is None:
            text = known[key] = fmt(value)
        out.append(text)
    return out


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


class LayerTable:
    """The per-layer table of a report, laid out for a console ``width`` columns wide."""

    def __init__(self, report: Report, exact: bool = False, layout: str = "hwc", depth: int | None = None,
                 width: int = 80, views: bool = True) -> None:
        self.report = report
        self.entries = list(table_entries(report, depth, views))
        numbered = [e for e in self.entries if e.kind != HEADER]
        self.numbered = numbered
        show_flops = report.convention.name != "macs"
        count, memory = units.count_short, units.nbytes_short

        def texts(value: Callable[[Entry], int], fmt) -> list[str]:
            return _formatted([value(e) for e in numbered], lambda v: fmt(v, exact) if v else "-")

        def column(head: str, value: Callable[[Entry], int], fmt, share: Callable[[Entry], float] | None,
                   style: str = "") -> _Numbers:
            shares = None if share is None else [share(e) for e in numbered]
            return _Numbers(head, texts(value, fmt), None if shares is None else _bars(shares), shares, style)

        self.params = column("Params", lambda e: e.params, count, lambda e: e.param_share, PARAM_STYLE)
        self.memory = column("Act. mem", lambda e: e.activation_bytes, memory, lambda e: e.memory_share,
                             MEMORY_STYLE)
        self.macs = column("MACs", lambda e: e.macs, count, None)
        self.flops = column(f"FLOPs [{report.convention.name}]" if show_flops else "MACs", lambda e: e.flops,
                            count, lambda e: e.flops_share, FLOPS_STYLE)
        self.short_flops_head = "FLOPs" if show_flops else "MACs"
        # names come from files: their control characters shown as escapes, and measured as shown
        self.labels = ["  " * e.level + visible_line(e.label) for e in self.entries]
        self.short_types, self.full_types = _type_texts(numbered)
        # H x W x C for image feature maps only: a live module's tokens, attention scores and
        # channels-last maps (no receptive field) keep PyTorch's order
        self.shapes = _formatted([(e.output_shape, layout if e.rf is not None else "chw") for e in numbered],
                                 lambda key: units.shape(*key))
        # a token sequence has no spatial receptive field (attention mixes every position): left blank
        self.fields = ["" if e.rf is None or report.llm is not None else units.pair_short(e.rf.size)
                       for e in numbered]
        self.layout_name = "HxWxC" if layout == "hwc" else "CxHxW"
        self.image = any(len(e.output_shape) == 3 and e.rf is not None for e in numbered)
        self.layout, self.name_width, self.type_width = self._fit(width, ladder(show_flops))

    # -- sizing ---------------------------------------------------------------
    def _columns(self, layout: Layout) -> list[_Numbers]:
        flops = self.flops if layout.macs_column else self._short_flops
        return [self.params, self.memory, *([self.macs] if layout.macs_column else []), flops]

    @cached_property
    def _short_flops(self) -> _Numbers:
        """The FLOPs column under its short head (made once: each layout tried asks for it, and a copy
        would measure its numbers again)."""
        short = replace(self.flops, head=self.short_flops_head)
        short.__dict__["number_width"] = self.flops.number_width
        return short

    def _shape_head(self, layout: Layout) -> str:
        return f"Output ({self.layout_name})" if layout.shape_layout and self.image else "Output"

    @cached_property
    def _widest(self) -> dict[str, int]:
        """The widest shape, receptive field, short and full type (measured once, not per layout)."""
        return {name: max([len(t) for t in texts] + [0]) for name, texts in
                (("shapes", self.shapes), ("fields", self.fields), ("short", self.short_types),
                 ("full", self.full_types))}

    def _shape_width(self, layout: Layout) -> int:
        return max(self._widest["shapes"], len(self._shape_head(layout)))

    def _field_width(self) -> int:
        return max(self._widest["fields"], 2)

    def _fixed_width(self, layout: Layout) -> int:
        """Columns other than layer and type, with the gaps between all columns."""
        numbers = self._columns(layout)
        return (self._shape_width(layout) + sum(c.width(layout) for c in numbers) + self._field_width()
                + layout.gap * (len(numbers) + 3))

    def _type_width(self, layout: Layout) -> int:
        return max(self._widest["full" if layout.full_types else "short"], 4)

    def _fit(self, width: int, steps: list[Layout]) -> tuple[Layout, int, int]:
        name_width = max([len(t) for t in self.labels] + [5])
        chosen = steps[0]
        for step in steps[1:]:
            if name_width + self._type_width(step) + self._fixed_width(step) > width:
                break
            chosen = step
        type_width = self._type_width(chosen)
        spare = width - self._fixed_width(chosen)
        while name_width + type_width > spare and max(name_width, type_width) > 8:
            # shrink the wider of names and types, one column at a time; an ellipsis marks the cut
            if name_width >= type_width:
                name_width -= 1
            else:
                type_width -= 1
        return chosen, name_width, type_width

    # -- drawing --------------------------------------------------------------
    def lines(self) -> list[Line]:
        layout = self.layout
        gap = " " * layout.gap
        columns = self._columns(layout)
        shape_head = self._shape_head(layout)
        shape_width = self._shape_width(layout)
        rf_width = self._field_width()
        widths = [c.width(layout) for c in columns]

        head = Line()
        head.append("Layer".ljust(self.name_width) + gap + "Type".ljust(self.type_width) + gap)
        head.append(shape_head.rjust(shape_width) + gap)
        for column, cell_width in zip(columns, widths):
            barred = column.shares is not None and layout.bar
            text = column.head.ljust(cell_width) if barred else column.head.rjust(cell_width)
            head.append(text + gap)
        head.append("RF".rjust(rf_width))
        head.runs = [(text, "bold") for text, _ in head.runs]
        total_width = self.name_width + self.type_width + shape_width + sum(widths) + rf_width + layout.gap * (
            len(columns) + 3)
        out = [head, Line("─" * total_width)]
        types = self.full_types if layout.full_types else self.short_types
        cells: dict[tuple, list[tuple[str, str]]] = {}
        # what the runs between a row's label and its field depend on (a row's key in ``cells``)
        nothing = [None] * len(self.numbered)
        keys = list(zip(types, self.shapes, *[c.texts for c in columns], *[c.shares or nothing for c in columns],
                        *[c.percents or nothing for c in columns]))
        index = 0
        name_width, fields = self.name_width, self.fields
        for label, entry in zip(self.labels, self.entries):
            if len(label) > name_width:
                label = _cut(label, name_width)
            kind = entry.kind
            if kind == HEADER:
                out.append(Line(label, "bold"))
                continue
            key = keys[index]
            middle = cells.get(key)
            if middle is None:
                middle = cells[key] = self._middle(index, types, columns, widths, shape_width)
            line = Line(label.ljust(name_width), "bold" if kind == BLOCK else "")
            line.runs += middle
            field = gap + fields[index].rjust(rf_width)
            line.runs.append((field, ""))
            if field[-1] == " ":  # no receptive field: the padding before it goes too
                line.rstrip()
            out.append(line)
            index += 1
        return out

    def _middle(self, index: int, types: list[str], columns: list[_Numbers], widths: list[int],
                shape_width: int) -> list[tuple[str, str]]:
        """The runs of numbered row ``index`` between its label and its receptive field: type, output
        and the numbers (the same for every row with the same texts and shares: :meth:`lines` keeps
        one per distinct row)."""
        layout = self.layout
        gap = " " * layout.gap
        line = Line()
        line.append(gap)
        line.append(_cut(types[index], self.type_width).ljust(self.type_width), style=TYPE_STYLE)
        line.append(gap + self.shapes[index].rjust(shape_width))
        for column, cell_width in zip(columns, widths):
            line.append(gap)
            number = column.texts[index]
            if column.shares is None or not layout.bar:
                line.append(number.rjust(cell_width))
                continue
            # number and bar right-aligned in the cell (a header may be wider than they are)
            content = column.number_width + 1 + layout.bar + (PERCENT if layout.percents else 0)
            line.append(" " * (cell_width - content) + number.rjust(column.number_width))
            if number != "-":
                line.append(" ")
                line.append(units.bar(column.shares[index], layout.bar), style=column.style)
                if layout.percents:
                    line.append(" " + units.percent(column.percents[index]).rjust(PERCENT - 1), style="dim")
            else:
                line.append(" " * (content - column.number_width))
        return line.runs


def layer_table(report: Report, exact: bool = False, layout: str = "hwc", depth: int | None = None,
                width: int = 80, views: bool = True) -> list[Line]:
    """The per-layer table for a console ``width`` columns wide."""
    return LayerTable(report, exact, layout, depth, width, views).lines()


def inputs_text(report: Report, layout: str = "hwc") -> str:
    """``input 224x224x3``; with several inputs or token ids, each: ``inputs 128 (int64), mask 128 (int64)``."""
    inputs = report.inputs
    if len(inputs) <= 1 and not (inputs and inputs[0].dtype):
        return f"input {units.shape(report.input_shape, layout)}"
    parts = []
    for source in inputs:
        path = source.name.partition(":")[2]
        name = "" if not path or path.replace(".", "").isdigit() else f"{path} "  # keyword and dict inputs
        dtype = f" ({source.dtype})" if source.dtype else ""
        parts.append(f"{name}{units.shape(source.shape, layout)}{dtype}")
    return ("inputs " if len(parts) > 1 else "input ") + ", ".join(parts)


def table_title(report: Report, layout: str = "hwc", depth: int | None = None) -> Line:
    """``vgg16: input 224x224x3, batch 1, float32`` (and the folding depth)."""
    title = f"{report.model}: {inputs_text(report, layout)}, batch {report.batch}, {report.dtype}"
    if depth is not None:
        title += f", blocks folded to depth {depth}"
    return Line(title, "bold")


def table_caption(report: Report) -> list[Line]:
    """What the compute column counts, and what the bars mean."""
    convention = report.convention
    if convention.name != "macs":
        first = f"FLOPs [{convention.name}]: {convention.label}"
    else:
        first = "MACs: multiply-accumulates"
    lines = [Line(first, "dim"), Line("bars: share of the total, the largest row fills the bar", "dim")]
    intended = intended_line(report.warnings)
    return lines + ([intended] if intended is not None else []) + sharing_lines(report)


def sharing_lines(report: Report, shown: int = 3) -> list[Line]:
    """Parameters counted once: layers that use an earlier layer's tensors (tied weights, a module
    called twice), and modules whose parameters ``forward`` never used (in the totals all the same)."""
    lines = []
    shared = [row for row in report.rows if row.shares_params_with is not None]
    if shared:
        pairs = ", ".join(f"{row.name} with {row.shares_params_with}" for row in shared[:shown])
        more = f" and {len(shared) - shown} more" if len(shared) > shown else ""
        lines.append(Line(f"shared parameters: {pairs}{more} (Params counts a tensor where it is first used)",
                          "dim"))
    if report.not_called:
        listed = ", ".join(f"{u.module} ({units.count_short(u.params)})" for u in report.not_called[:shown])
        more = f" and {len(report.not_called) - shown} more" if len(report.not_called) > shown else ""
        total = units.count_short(sum(u.params for u in report.not_called))
        lines.append(Line(f"not called in forward: {listed}{more}; {total} parameters in the totals", "dim"))
    return lines


def peak_words(report: Report) -> str:
    """The note of the peak: the live tensors, and that they include the input where the peak
    is above the sum of the layer outputs (one conv: its input and its output are live at once)."""
    t = report.totals
    if t.peak_activation_bytes > t.activation_bytes:
        return "live tensors incl. the input, one inference pass"
    return "live tensors, one inference pass"


def totals_rows(report: Report, exact: bool = False) -> list[tuple[str, str, str]]:
    """The totals as (what, value, note): parameters, parameter memory, activations (sum, peak),
    training memory, MACs, FLOPs, what was not counted."""
    t = report.totals
    nbytes = units.nbytes_short
    rows = [
        ("Parameters", units.count(t.params, True),
         f"{units.count_short(t.params)}; trainable {units.count_short(t.trainable_params, exact)}, "
         f"buffers {units.count_short(t.buffers, exact)}"),
        ("Parameter memory", nbytes(t.param_bytes, exact), f"{report.dtype}, {report.bytes_per_element} B each"),
        ("Activations (sum)", nbytes(t.activation_bytes, exact), f"all layer outputs, batch {report.batch}"),
        ("Activations (peak)", nbytes(t.peak_activation_bytes, exact), peak_words(report)),
    ]
    kept = "saved activations (measured)" if t.saved_activation_bytes is not None else "kept activations"
    notes = {
        "sgd": f"params + grads + {kept}",
        "momentum": "+ 1 momentum buffer",
        "adam": "+ 2 moment buffers",
    }
    for optimizer, value in t.training_bytes.items():
        rows.append((f"Training ({optimizer})", nbytes(value, exact), notes.get(optimizer, "")))
    rows.append(("MACs", units.count(t.macs, True), f"{units.count_short(t.macs)} multiply-accumulates"))
    if report.convention.name != "macs":
        rows.append((f"FLOPs [{report.convention.name}]", units.count(t.flops, True), report.convention.label))
    if report.not_counted:
        listed = ", ".join(f"{op} x{n}" for op, n in sorted(report.not_counted.items()))
        rows.append(("Not counted", str(sum(report.not_counted.values())), listed))
    return rows


def boxed_grid(title: str, rows: list[tuple[str, str, str]], width: int = 80) -> list[Line]:
    """Rows of (bold label, right-aligned value, dim note) in a rounded box titled ``title``;
    notes wrap (at spaces) when the box would be wider than ``width``."""
    import textwrap

    w1 = max(len(r[0]) for r in rows)
    w2 = max(len(r[1]) for r in rows)
    w3 = max(len(r[2]) for r in rows)
    w3 = max(min(w3, width - 4 - w1 - w2 - 4), 12)
    inner = w1 + 2 + w2 + 2 + w3
    lines = [Line("╭─ " + title + " " + "─" * max(inner - len(title) - 1, 0) + "╮")]
    for label, value, note in rows:
        pieces = textwrap.wrap(note, w3) if len(note) > w3 else [note]
        for index, piece in enumerate(pieces):
            line = Line("│ ")
            line.append((label if index == 0 else "").ljust(w1), style="bold")
            line.append("  " + (value if index == 0 else "").rjust(w2) + "  ")
            line.append(piece.ljust(w3), style="dim")
            line.append(" │")
            lines.append(line)
    lines.append(Line("╰" + "─" * (inner + 2) + "╯"))
    return lines


def totals_panel(report: Report, exact: bool = False, width: int = 80) -> list[Line]:
    return boxed_grid("Totals", totals_rows(report, exact), width)


def report_lines(report: Report, width: int, exact: bool = False, layout: str = "hwc",
                 depth: int | None = None, views: bool = False) -> list[Line]:
    """Title, the per-layer table, its caption and the totals. The views of a live module
    (permute, reshape, slicing) are left out unless ``views``, and one dim line says so."""
    hidden = 0 if views else sum(1 for row in report.rows if is_view(row))
    note = [Line(f"{hidden} views (permute, reshape, slicing: no work, no new memory) not shown; --all shows them",
                 "dim")] if hidden else []
    return [
        table_title(report, layout, depth),
        *layer_table(report, exact, layout, depth, width=width, views=views),
        *table_caption(report),
        *note,
        *totals_panel(report, exact, width),
    ]


def render_report(report: Report, console: Any, exact: bool = False, layout: str = "hwc",
                  depth: int | None = None, views: bool = False) -> None:
    """Print the report's table to a :class:`~archcalc.render.styled.Terminal` or a rich Console."""
    print_lines(console, report_lines(report, console.width, exact, layout, depth, views))


def layer_answer(report: Report, exact: bool = False, layout: str = "hwc"):
    """A single-layer question's answer: each layer's numbers as a short list (and totals if several)."""
    from rich import box
    from rich.console import Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

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
        parts.append(to_rich(totals_panel(report, exact)))
    return Group(*parts)
