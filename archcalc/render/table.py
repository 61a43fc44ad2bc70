"""The terminal table (rich): one row per layer and a totals panel.

Takes a finished Report and a rich Console; computes nothing.
"""

from __future__ import annotations

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from archcalc.render import units
from archcalc.report import Report, describe_attrs


def layer_table(report: Report, exact: bool = False, layout: str = "hwc") -> Table:
    convention = report.convention
    shape_head = "Output (HxWxC)" if layout == "hwc" else "Output (CxHxW)"
    table = Table(
        title=f"{report.model}: input {units.shape(report.input_shape, layout)}, batch {report.batch}, {report.dtype}",
        caption=f"FLOPs column: {convention.label}",
        header_style="bold",
        show_lines=False,
        pad_edge=False,
        expand=False,
    )
    table.add_column("Layer", overflow="fold", ratio=3)
    table.add_column("Type", overflow="fold", ratio=2)
    table.add_column(shape_head, justify="right", no_wrap=True)
    table.add_column("Params", justify="right", no_wrap=True)
    table.add_column("Act. mem", justify="right", no_wrap=True)
    table.add_column("MACs", justify="right", no_wrap=True)
    if convention.name != "macs":
        table.add_column(f"FLOPs [{convention.name}]", justify="right", no_wrap=True)
    table.add_column("RF", justify="right", no_wrap=True)
    for row in report.rows:
        attrs = describe_attrs(row.op, row.attrs)
        cells = [
            Text(row.name),
            Text(row.op + (f" {attrs}" if attrs else ""), style="cyan"),
            units.shape(row.output_shape, layout),
            units.count(row.params, exact) if row.params else "-",
            units.nbytes(row.activation_bytes, exact),
            units.count(row.macs, exact) if row.macs else "-",
        ]
        if convention.name != "macs":
            cells.append(units.count(row.flops, exact) if row.flops else "-")
        cells.append(units.pair(row.rf.size))
        table.add_row(*cells)
    return table


def totals_table(report: Report, exact: bool = False) -> Table:
    t = report.totals
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(justify="right")
    grid.add_column(style="dim")
    grid.add_row("Parameters", units.count(t.params, True), f"{units.count(t.params)}; trainable {units.count(t.trainable_params, exact)}, buffers {units.count(t.buffers, exact)}")
    grid.add_row("Parameter memory", units.nbytes(t.param_bytes, exact), f"{report.dtype}, {report.bytes_per_element} B each")
    grid.add_row("Activations (sum)", units.nbytes(t.activation_bytes, exact), f"all layer outputs, batch {report.batch}")
    grid.add_row("Activations (peak)", units.nbytes(t.peak_activation_bytes, exact), "live tensors of one inference pass")
    for optimizer, nbytes in t.training_bytes.items():
        grid.add_row(f"Training ({optimizer})", units.nbytes(nbytes, exact), "params, grads, state, kept activations")
    grid.add_row("MACs", units.count(t.macs, True), units.count(t.macs) + " multiply-accumulates")
    if report.convention.name != "macs":
        grid.add_row(f"FLOPs [{report.convention.name}]", units.count(t.flops, True), report.convention.label)
    if report.not_counted:
        listed = ", ".join(f"{op} x{n}" for op, n in sorted(report.not_counted.items()))
        grid.add_row("Not counted", str(sum(report.not_counted.values())), listed)
    return grid


def render_report(report: Report, console: Console, exact: bool = False, layout: str = "hwc") -> None:
    console.print(layer_table(report, exact, layout))
    console.print(Panel(totals_table(report, exact), title="Totals", expand=False))
