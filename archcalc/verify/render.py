"""Renderers of a VerifyReport: terminal (rich), Markdown, HTML, CSV and JSON.

Formatting only: every number shown is in the report already. The layout is
built once as :class:`Section` objects (a title, lines, an optional table of
strings); each format lays those out.
"""

from __future__ import annotations

import csv
import html
import io
import json
from dataclasses import dataclass, field

from archcalc.render.csv_cells import neutral_record
from archcalc.render.units import count, nbytes
from archcalc.render.units import shape as units_shape
from archcalc.verify.report import LayerComparison, Status, VerifyReport

FORMATS = ("table", "json", "md", "csv", "html")
EXTENSIONS = {".json": "json", ".md": "md", ".markdown": "md", ".csv": "csv", ".html": "html", ".htm": "html",
              ".txt": "table"}

MARKS = {Status.PASS: "✓", Status.FAIL: "✗", Status.SKIP: "–", Status.INFO: "≈"}
LEGEND = "✓ holds, ✗ differs, ≈ measured (no pass/fail), – skipped"


@dataclass
class Section:
    title: str
    lines: list[str] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    #: (line, its nested lines) for check details
    nested: list[tuple[str, list[str]]] = field(default_factory=list)


def seconds(value: float | None) -> str:
    if value is None:
        return ""
    if value >= 1:
        return f"{value:.3g} s"
    if value >= 1e-3:
        return f"{value * 1e3:.3g} ms"
    return f"{value * 1e6:.3g} µs"


def rate(value: float | None, unit: str) -> str:
    """``3.2e11`` FLOP/s -> ``320 G``."""
    if value is None:
        return ""
    for size, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if value >= size:
            return f"{value / size:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}"


def times(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}x"


def mark(ok: bool | None) -> str:
    return "" if ok is None else ("✓" if ok else "✗")


def _quantity(value, unit: str) -> str:
    if value is None:
        return ""
    if unit == "bytes":
        return nbytes(int(value))
    if unit == "seconds":
        return seconds(value)
    if isinstance(value, int):
        return count(value)
    return f"{value:.3g}"


def batched_shape(shape) -> str:
    """A tensor shape with its batch, as a person reads it: ``(1, 64, 56, 56)`` -> ``56x56x64``
    (per sample, H x W x C; the batch is in the header), ``(8, 1000)`` -> ``1000``."""
    return units_shape(tuple(shape)[1:])


def header(report: VerifyReport) -> str:
    env = report.environment
    shape = units_shape(tuple(report.input_shape)) + (" (HxWxC)" if len(report.input_shape) == 3 else "")
    device = f"{env.device} ({env.device_name})"
    if env.device == "cpu":
        device += f", {env.cpu_count} logical CPUs, {env.threads} torch threads"
    fvcore = f", fvcore {env.fvcore_version}" if env.fvcore_version else ""
    return (
        f"archcalc verify: model {report.model}, input {shape}, batch {report.batch}, "
        f"{report.dtype}, device {device}, torch {env.torch_version}{fvcore}"
    )


def sections(report: VerifyReport, all_details: bool = False) -> list[Section]:
    out = [_checks_section(report, all_details)]
    if report.memory is not None:
        memory = report.memory
        section = Section("Memory", [
            f"method: {memory.method}",
            f"peak, parameters included: predicted {nbytes(memory.predicted_bytes)}, measured "
            f"{nbytes(memory.measured_bytes)}, measured / predicted {times(memory.ratio)}",
            f"activations alone: predicted {nbytes(memory.predicted_activation_bytes)}, measured "
            f"{nbytes(memory.measured_activation_bytes)}, {times(memory.activation_ratio)}",
        ])
        section.nested.append(("why they differ:", list(memory.notes)))
        out.append(section)
    if report.timing is not None:
        out.append(_timing_section(report))
    out.append(_layers_section(report))
    if report.notes:
        out.append(Section("Notes", list(report.notes)))
    return out


def _checks_section(report: VerifyReport, all_details: bool) -> Section:
    section = Section("Checks", headers=["", "kind", "check", "predicted", "measured", "ratio", "summary"])
    for check in report.checks:
        section.rows.append([
            MARKS[check.status],
            check.kind,
            check.name,
            _quantity(check.predicted, check.unit),
            _quantity(check.measured, check.unit),
            times(check.ratio) if check.status is not Status.PASS else "",
            check.summary,
        ])
        if check.details and (all_details or check.status is Status.FAIL):
            section.nested.append((f"{MARKS[check.status]} {check.name}:", list(check.details)))
    section.lines.append(LEGEND)
    return section


def _timing_section(report: VerifyReport) -> Section:
    timing = report.timing
    assert timing is not None
    lines = [f"method: {timing.method}; {timing.warmup} warm-up passes, median of {timing.repeat}"]
    if timing.peaks is not None:
        p = timing.peaks
        lines.append(
            f"device peaks: {p.name}: FP32 {p.fp32:.3g}, TF32 {p.tf32:.3g}, BF16 {p.bf16:.3g}, FP16 {p.fp16:.3g} "
            f"TFLOP/s, {p.bandwidth_gbs:.4g} GB/s ({p.source})"
        )
    lines.append(
        f"whole pass: {seconds(timing.wall_median_s)} median (best {seconds(timing.wall_min_s)}); "
        f"sum of layer times {seconds(timing.layers_total_s)}; roofline {seconds(timing.predicted_total_s)}"
    )
    agreement = []
    if timing.spearman is not None:
        agreement.append(f"Spearman rank correlation {timing.spearman:.3f} over {timing.compared_layers} layers")
    if timing.median_ratio is not None:
        agreement.append(f"median measured / roofline {timing.median_ratio:.2f}x")
    if agreement:
        lines.append("agreement: " + "; ".join(agreement))
    if timing.bound_shares:
        lines.append("measured time by bound: " + ", ".join(
            f"{bound} {share:.1%}" for bound, share in timing.bound_shares.items()))
    section = Section("Time", lines, headers=["dominant layer", "type", "share", "measured", "roofline", "ratio",
                                              "bound"])
    for layer in timing.dominant:
        section.rows.append([
            layer.name, layer.op, f"{layer.share:.1%}", seconds(layer.measured_s), seconds(layer.predicted_s),
            times(layer.measured_s / layer.predicted_s) if layer.predicted_s else "", layer.bound,
        ])
    if timing.notes:
        section.nested.append(("notes:", list(timing.notes)))
    return section


def _layers_section(report: VerifyReport) -> Section:
    timed = report.timing is not None
    headers = ["layer", "type", "output", "", "params", "", "fvcore", "", "torch", "", "profiler", "",
               "output mem", "allocated", "workspace"]
    if timed:
        headers += ["time", "roofline", "ratio", "FLOP/B", "bound", "FLOP/s", "B/s"]
    section = Section("Layers", headers=headers)
    for layer in report.layers:
        section.rows.append(_layer_cells(layer, timed))
    section.lines.append(
        "each ✓ / ✗ compares the column before it with the real run; output mem is the predicted allocation "
        "(0 for views), allocated the measured one"
    )
    return section


def _layer_cells(layer: LayerComparison, timed: bool) -> list[str]:
    cells = [
        layer.name,
        layer.op,
        batched_shape(layer.shape),
        mark(layer.shape_ok),
        count(layer.params),
        mark(layer.params_ok),
        count(layer.fvcore_flops),
        mark(layer.fvcore_ok),
        count(layer.torch_flops),
        mark(layer.torch_ok),
        count(layer.profiler_flops) if layer.profiler_flops is not None else "",
        mark(layer.profiler_ok),
        nbytes(layer.output_bytes),
        nbytes(layer.measured_bytes) if layer.measured_bytes is not None else "",
        nbytes(layer.workspace_bytes) if layer.workspace_bytes else "",
    ]
    if timed:
        t = layer.timing
        if t is None:
            cells += [""] * 7
        else:
            cells += [
                seconds(t.measured_s),
                seconds(t.predicted_s),
                times(t.ratio),
                f"{t.intensity:.3g}" if t.intensity is not None else "",
                t.bound,
                rate(t.achieved_flops_per_s, "FLOP/s") if t.flops else "",
                rate(t.achieved_bytes_per_s, "B/s") if t.bytes else "",
            ]
    return cells


# -- formats -------------------------------------------------------------------------


def to_json(report: VerifyReport) -> str:
    return json.dumps(report.to_dict(), indent=2)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def to_markdown(report: VerifyReport, all_details: bool = True) -> str:
    lines = [f"# archcalc verify: {report.model}", "", header(report), "", f"**{report.verdict}**", ""]
    for section in sections(report, all_details):
        lines += [f"## {section.title}", ""]
        if section.rows:
            lines.append("| " + " | ".join(section.headers) + " |")
            lines.append("| " + " | ".join("---" for _ in section.headers) + " |")
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in section.rows]
            lines.append("")
        for text in section.lines:
            lines.append(f"- {text}" if section.title in ("Memory", "Time", "Notes") else text)
        if section.lines:
            lines.append("")
        for title, items in section.nested:
            lines.append(f"- {title}")
            lines += [f"  - {_md_cell(item)}" for item in items]
        if section.nested:
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def to_csv(report: VerifyReport) -> str:
    """One row per layer (every predicted and measured column), loadable as it is (pandas,
    Excel): no comment lines (the header and verdict are in the JSON and Markdown); shapes per
    sample, H x W x C."""
    buffer = io.StringIO()
    records = []
    for layer in report.layers:
        record = layer.to_dict()
        timing = record.pop("timing") or {}
        record.pop("counter_ops")
        record["output_shape"] = batched_shape(record["output_shape"])
        if record["measured_output_shape"] is not None:
            record["measured_output_shape"] = batched_shape(record["measured_output_shape"])
        record.update({f"time_{key}": value for key, value in timing.items()})
        records.append(record)
    if records:
        keys = list(dict.fromkeys(k for record in records for k in record))
        writer = csv.DictWriter(buffer, fieldnames=keys, lineterminator="\n")
        writer.writeheader()
        writer.writerows(neutral_record(r) for r in records)
    return buffer.getvalue()


_CSS = (
    "body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse;font-size:13px}"
    "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}td:first-child,th:first-child{text-align:left}"
    ".pass{color:#080}.fail{color:#c00;font-weight:bold}"
)


def to_html(report: VerifyReport) -> str:
    esc = html.escape
    verdict_class = "pass" if report.passed else "fail"
    parts = [
        "<!DOCTYPE html>",
        f"<html><head><meta charset='utf-8'><title>archcalc verify: {esc(report.model)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>archcalc verify: {esc(report.model)}</h1>",
        f"<p>{esc(header(report))}</p>",
        f"<p class='{verdict_class}'>{esc(report.verdict)}</p>",
    ]
    for section in sections(report, all_details=True):
        parts.append(f"<h2>{esc(section.title)}</h2>")
        if section.rows:
            parts.append("<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in section.headers) + "</tr>")
            for row in section.rows:
                parts.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>")
            parts.append("</table>")
        if section.lines:
            parts.append("<ul>" + "".join(f"<li>{esc(line)}</li>" for line in section.lines) + "</ul>")
        for title, items in section.nested:
            parts.append(f"<p>{esc(title)}</p><ul>" + "".join(f"<li>{esc(i)}</li>" for i in items) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


#: console width from which the terminal shows the full layer table (as Markdown does)
WIDE_AT = 180
LAYER_MARKS = "shape, params, fvcore, torch, profiler"


def _check_lines(cells: list[str]) -> tuple[str, str]:
    """The check's mark, kind, name and numbers; and its summary (printed below, indented)."""
    mark_, kind, name, predicted, measured, ratio_, summary = cells
    numbers = f"{predicted} vs {measured}" if predicted or measured else ""
    if ratio_:
        numbers += f" ({ratio_})"
    return f"{mark_} {kind:<9} {name:<31} {numbers}".rstrip(), f"    {summary}"


def _compact_layer_cells(layer: LayerComparison) -> list[str]:
    marks = "".join(
        "·" if ok is None else ("✓" if ok else "✗")
        for ok in (layer.shape_ok, layer.params_ok, layer.fvcore_ok, layer.torch_ok, layer.profiler_ok)
    )
    cells = [layer.name, layer.op, marks]
    t = layer.timing
    if t is not None:
        cells += [seconds(t.measured_s), seconds(t.predicted_s), t.bound]
    return cells


def render_console(report: VerifyReport, console, all_details: bool = False) -> None:
    """The terminal layout: header, checks, memory, time, layers, notes, verdict last.

    Below :data:`WIDE_AT` columns the layer table is compact: one mark per
    check (shape, params, fvcore, torch, profiler) and the times.
    """
    from rich import box
    from rich.table import Table
    from rich.text import Text

    console.print(header(report), markup=False, highlight=False)
    wide = console.width >= WIDE_AT
    for section in sections(report, all_details):
        console.print()
        console.print(Text(section.title, style="bold"))
        if section.title == "Checks":
            for row in section.rows:
                first, summary = _check_lines(row)
                console.print(Text(first, style={"✓": "green", "✗": "bold red"}.get(row[0], "")))
                console.print(summary, markup=False, highlight=False, style="dim")
        elif section.title == "Layers" and not wide:
            headers = ["layer", "type", "checks"]
            if report.timing is not None:
                headers += ["time", "roofline", "bound"]
            section = Section(section.title, [f"checks: {LAYER_MARKS} (✓ holds, ✗ differs, · not measured)"],
                              headers, [_compact_layer_cells(layer) for layer in report.layers])
        if section.rows and section.title != "Checks":
            table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, padding=(0, 1))
            natural = [max([len(name)] + [len(row[i]) for row in section.rows])
                       for i, name in enumerate(section.headers)]
            first = max(12, console.width - sum(w + 1 for w in natural[1:]) - 1)
            for index, name in enumerate(section.headers):
                left = index < 2 or name in ("", "bound", "checks", "type")
                table.add_column(name, justify="left" if left else "right", no_wrap=True, overflow="ellipsis",
                                 width=min(natural[0], first) if index == 0 else natural[index])
            for row in section.rows:
                table.add_row(*[_styled(cell) for cell in row])
            console.print(table)
        for line in section.lines:
            console.print(f"  {line}", markup=False, highlight=False)
        for title, items in section.nested:
            console.print(f"  {title}", markup=False, highlight=False)
            for item in items:
                console.print(f"    - {item}", markup=False, highlight=False)
    console.print()
    style = "bold green" if report.passed else "bold red"
    console.print(Text(report.verdict, style=style), soft_wrap=True)


def _styled(cell: str):
    from rich.text import Text

    if "✗" in cell:
        return Text(cell, style="bold red")
    if cell and set(cell) <= {"✓", "·"}:
        return Text(cell, style="green")
    return Text(cell)


RENDERERS = {"json": to_json, "md": to_markdown, "csv": to_csv, "html": to_html}

