"""Exports of a Report: JSON (the stable contract), CSV, GitHub Markdown, LaTeX and HTML.

* JSON is :meth:`Report.to_dict` (shapes C, H, W, as PyTorch writes them).
* CSV is :meth:`Report.to_dataframe`, one record per layer with machine column
  names, and nothing else: it loads as it is in pandas, Excel and LibreOffice
  (the model, input and convention are in the JSON, and ``-o`` says them).
* Markdown, LaTeX and HTML are for people: the columns of the terminal table
  (layer, type, output H x W x C, parameters, activation memory, MACs, FLOPs,
  receptive field), full integers with thousands separators, and a totals
  row (:func:`human_frame`). Markdown comes from ``DataFrame.to_markdown``
  (tabulate), LaTeX from ``Styler.to_latex`` (booktabs rules and a caption),
  HTML from a jinja2 template (``templates/report.html.j2``): the totals,
  three inline SVG charts and the table in one standalone file.

Comparisons and sweeps (:class:`archcalc.comparison.Comparison`) export as
JSON, CSV, Markdown and LaTeX.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from archcalc.render.formats import EXTENSIONS, FORMATS  # noqa: F401  (re-exported)
from archcalc.report import Report


def layout_words(report: Report) -> str:
    """``input 224x224x3 (H x W x C), batch 1, float32``."""
    from archcalc.render import units

    image = " (H x W x C)" if len(report.input_shape) == 3 else ""
    return f"input {units.shape(report.input_shape)}{image}, batch {report.batch}, {report.dtype}"


def compute_words(report: Report) -> str:
    """What the compute columns count: ``MACs: multiply-accumulates`` and the convention's FLOPs."""
    if report.convention.name == "macs":
        return "MACs: multiply-accumulates"
    return (f"MACs: multiply-accumulates; FLOPs [{report.convention.name}]: {report.convention.label}")


def header_line(report: Report) -> str:
    """One line naming model, input, batch, dtype and convention (Markdown and HTML headers)."""
    return f"{report.model}: {layout_words(report)}; {compute_words(report)}"


# -- per-layer exports ----------------------------------------------------------------


def report_dict(report: Report, derivations: dict[str, list] | None = None, totals: list | None = None) -> dict:
    """``Report.to_dict()``, plus ``derivation`` per layer and ``totals_derivation`` when given."""
    data = report.to_dict()
    if derivations is not None:
        from archcalc.render.explain import step_dict

        for layer in data["layers"]:
            if layer["name"] in derivations:
                layer["derivation"] = [step_dict(s) for s in derivations[layer["name"]]]
        if totals is not None:
            data["totals_derivation"] = [step_dict(s) for s in totals]
    return data


def to_json(report: Report, derivations: dict[str, list] | None = None, totals: list | None = None) -> str:
    """``json.dumps(report_dict(...), indent=2)`` and a newline, written by
    :func:`~archcalc.render.json_text.dumps_indented` (the same bytes, fast for 100,000 layers)."""
    from archcalc.render.json_text import dumps_indented

    return dumps_indented(report_dict(report, derivations, totals)) + "\n"


def to_csv(report: Report) -> str:
    """The data frame as CSV: a header row, one row per layer, a final newline; nothing else.
    Text cells a spreadsheet would run as a formula get a leading ``'`` (:mod:`archcalc.render.csv_cells`)."""
    from archcalc.render.csv_cells import neutral_frame

    return neutral_frame(report.to_dataframe()).to_csv(index=False, lineterminator="\n")


#: the human columns: header -> (alignment, how the exports write it)
def human_columns(report: Report) -> list[str]:
    """The headers of :func:`human_frame` for this report."""
    columns = ["Layer", "Type", "Output (HxWxC)" if len(report.input_shape) == 3 else "Output", "Params",
               "Act. mem (B)", "MACs"]
    if report.convention.name != "macs":
        columns.append(f"FLOPs [{report.convention.name}]")
    return columns + ["RF"]


def human_records(report: Report, depth: int | None = None) -> list[list[str]]:
    """One row of text per layer (per block folded to ``depth``, as the terminal shows it with
    ``--depth``), then the totals row: the terminal table's columns, full integers with
    thousands separators, shapes H x W x C, shared parameters counted once."""
    from archcalc.breakdown import leaf_entries
    from archcalc.render import units
    from archcalc.render.table import type_text

    show_flops = report.convention.name != "macs"
    records = []
    for entry in leaf_entries(report, depth):
        record = [entry.name, type_text(entry, full=True),
                  units.shape(entry.output_shape, "hwc" if entry.rf is not None else "chw"),
                  f"{entry.params:,}", f"{entry.activation_bytes:,}", f"{entry.macs:,}"]
        if show_flops:
            record.append(f"{entry.flops:,}")
        records.append(record + [units.pair(entry.rf.size) if entry.rf is not None else ""])
    t = report.totals
    total = ["Total", f"{len(report.rows)} layers", "", f"{t.params:,}", f"{t.activation_bytes:,}", f"{t.macs:,}"]
    if show_flops:
        total.append(f"{t.flops:,}")
    return records + [total + [""]]


def human_frame(report: Report, depth: int | None = None):
    """:func:`human_records` as a pandas DataFrame with :func:`human_columns` (imports pandas)."""
    import pandas as pd

    return pd.DataFrame(human_records(report, depth), columns=human_columns(report))


def depth_words(depth: int | None) -> str:
    """``; blocks folded to depth 2`` as the terminal's title says it; nothing without a depth."""
    return f"; blocks folded to depth {depth}" if depth is not None else ""


#: columns of the human table that hold text (left-aligned); the others are numbers
TEXT_COLUMNS = ("Layer", "Type")


def to_markdown(report: Report, depth: int | None = None) -> str:
    """A GitHub Markdown table of the human columns (blocks folded to ``depth``, as the terminal
    table), then the totals row, under a line naming input and convention."""
    frame = one_line_text(human_frame(report, depth))
    for column in TEXT_COLUMNS:
        frame[column] = frame[column].map(lambda text: text.replace("|", "\\|"))
    align = tuple("left" if c in TEXT_COLUMNS else "right" for c in frame.columns)
    table = frame.to_markdown(index=False, colalign=align, disable_numparse=True)
    lines = [f"**{_md_cell(report.model)}**: {layout_words(report)}; {compute_words(report)}; Act. mem in bytes"
             f"{depth_words(depth)}", "", table]
    return "\n".join(lines) + "\n"


def one_line_text(frame):
    """:func:`human_frame` with its text cells on one line each: newlines and other control
    characters of a name written as their escapes (``\\n``), so a cell never splits a table."""
    from archcalc.render.terminal_text import visible_line

    frame = frame.copy()
    for column in TEXT_COLUMNS:
        frame[column] = frame[column].map(visible_line)
    return frame


def _md_cell(value) -> str:
    """A Markdown table cell: ``|`` escaped, on one line (control characters as their escapes)."""
    from archcalc.render.terminal_text import visible_line

    if value is None or value != value:  # NaN
        return ""
    return visible_line(str(value)).replace("|", "\\|")


def markdown_table(columns: list[str], records: list[list[Any]]) -> list[str]:
    """A plain GitHub Markdown table (comparisons)."""
    lines = ["| " + " | ".join(_md_cell(c) for c in columns) + " |", "| " + " | ".join("---" for _ in columns) + " |"]
    for record in records:
        lines.append("| " + " | ".join(_md_cell(v) for v in record) + " |")
    return lines


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def latex_escape(text: str) -> str:
    """LaTeX's special characters escaped; control characters and newlines written as their
    escapes first (a blank line inside a cell does not compile)."""
    from archcalc.render.terminal_text import visible_line

    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in visible_line(text))


def _is_int(value) -> bool:
    """A Python or NumPy integer (not a bool)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or str(getattr(value, "dtype", "")).startswith("int")


def _latex_cell(value) -> str:
    if value is None or value != value:
        return ""
    if _is_int(value):
        return f"{int(value):,}".replace(",", r"\,")
    return latex_escape(str(value))


def latex_tabular(columns: list[str], records: list[list[Any]], numeric: list[bool]) -> list[str]:
    spec = "".join("r" if n else "l" for n in numeric)
    lines = [rf"\begin{{tabular}}{{{spec}}}", r"\toprule"]
    lines.append(" & ".join(latex_escape(c) for c in columns) + r" \\")
    lines.append(r"\midrule")
    for record in records:
        lines.append(" & ".join(_latex_cell(v) for v in record) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return lines


def to_latex(report: Report, depth: int | None = None) -> str:
    """A booktabs table of the human columns with a caption (``Styler.to_latex``; needs
    ``\\usepackage{booktabs}``), blocks folded to ``depth``, the totals row under its own rule."""
    frame = one_line_text(human_frame(report, depth))
    caption = latex_escape(f"{report.model}: {layout_words(report)}; {compute_words(report)}; "
                           f"activation memory in bytes{depth_words(depth)}")
    styler = frame.style.hide(axis="index").format(escape="latex").format_index(escape="latex", axis=1)
    text = styler.to_latex(
        hrules=True,
        caption=caption,
        label=f"tab:archcalc-{''.join(ch if ch.isalnum() else '-' for ch in report.model)}",
        position="htbp",
        position_float="centering",
        column_format="".join("l" if c in TEXT_COLUMNS else "r" for c in frame.columns),
    )
    lines = text.splitlines()
    last = max(i for i, line in enumerate(lines) if line.startswith("Total &"))
    lines.insert(last, r"\midrule")
    return "% archcalc: needs \\usepackage{booktabs}\n" + "\n".join(lines) + "\n"


#: chart colours, as in the terminal table's bars
BAR_COLOURS = {"params": "#2e9d57", "memory": "#b0479b", "flops": "#2b8cbe"}
#: most bars a chart draws before it folds blocks (labels stay readable at 1280 px)
CHART_BARS = 40


def html_context(report: Report, table_depth: int | None = None) -> dict[str, Any]:
    """Everything the HTML template shows, as text (formatting only)."""
    from archcalc.breakdown import leaf_entries, readable_depth
    from archcalc.render import units
    from archcalc.render.svg import bar_chart
    from archcalc.render.warnings import intended_line

    t = report.totals
    totals = [
        ("Parameters", f"{t.params:,}",
         f"{units.count_short(t.params)}; trainable {units.count_short(t.trainable_params)}, "
         f"buffers {units.count_short(t.buffers)}"),
        ("Parameter memory", units.nbytes_short(t.param_bytes), f"{t.param_bytes:,} B ({report.dtype})"),
        ("Activations (sum)", units.nbytes_short(t.activation_bytes), f"{t.activation_bytes:,} B, all layer outputs"),
        ("Activations (peak)", units.nbytes_short(t.peak_activation_bytes),
         f"{t.peak_activation_bytes:,} B, "
         + ("live tensors (the input included) of one inference pass"
            if t.peak_activation_bytes > t.activation_bytes else "live tensors of one inference pass")),
        *[(f"Training ({name})", units.nbytes_short(value), f"{value:,} B")
          for name, value in t.training_bytes.items()],
        ("MACs", f"{t.macs:,}", f"{units.count_short(t.macs)} multiply-accumulates"),
    ]
    if report.convention.name != "macs":
        totals.append((f"FLOPs [{report.convention.name}]", f"{t.flops:,}", report.convention.label))
    depth = readable_depth(report, CHART_BARS)
    entries = leaf_entries(report, depth)
    names = [e.name for e in entries]
    flops_title = "MACs" if report.convention.name == "macs" else f"FLOPs [{report.convention.name}]"
    charts = [
        bar_chart("Activation memory", names, [e.activation_bytes for e in entries], BAR_COLOURS["memory"], "bytes"),
        bar_chart("Parameters", names, [e.params for e in entries], BAR_COLOURS["params"], "count"),
        bar_chart(flops_title, names, [e.flops for e in entries], BAR_COLOURS["flops"], "count"),
    ]
    leaves = leaf_entries(report, table_depth)
    shares = [{"Params": e.param_share, "Act. mem (B)": e.memory_share,
               (f"FLOPs [{report.convention.name}]" if report.convention.name != "macs" else "MACs"): e.flops_share}
              for e in leaves]
    columns = human_columns(report)
    records = human_records(report, table_depth)
    bar_columns = set(shares[0]) if shares else set()

    def rows_done(index: int) -> bool:  # the totals row has no bars
        return index >= len(shares)

    rows = []
    for index, record in enumerate(records):
        share = shares[index] if index < len(shares) else {}
        cells = []
        for column, value in zip(columns, record):
            fraction = share.get(column)
            colour = {"Params": BAR_COLOURS["params"], "Act. mem (B)": BAR_COLOURS["memory"]}.get(
                column, BAR_COLOURS["flops"])
            cells.append({
                "text": value,
                "numeric": column not in TEXT_COLUMNS,
                "bars": column in bar_columns and not rows_done(index),
                "bar": max(1, round(fraction * 60)) if fraction else 0,
                "colour": colour,
                "title": f"{fraction:.1%} of the total" if fraction else "",
            })
        rows.append({"cells": cells, "total": index == len(records) - 1})
    intended = intended_line(report.warnings)
    return {
        "model": report.model,
        "description": report.description,
        "header": f"{layout_words(report)}; {compute_words(report)}{depth_words(table_depth)}",
        "totals": totals,
        "charts": charts,
        "chart_note": (f"charts fold blocks to depth {depth} ({len(entries)} bars for {len(report.rows)} layers)"
                       if depth is not None else ""),
        "columns": columns,
        "text_columns": TEXT_COLUMNS,
        "rows": rows,
        "warnings": [str(w) for w in report.warnings if not w.intended],
        "intended": intended.plain.replace(" (-v lists them)", "") if intended is not None else "",
        "intended_list": [str(w) for w in report.warnings if w.intended],
        "not_counted": ", ".join(f"{op} x{n}" for op, n in sorted(report.not_counted.items())),
    }


def to_html(report: Report, depth: int | None = None) -> str:
    """One standalone HTML file (no script, no network): header, totals, three SVG charts and
    the per-layer table (blocks folded to ``depth``), rendered from the package's jinja2 template."""
    from archcalc.render.templates import render

    return render("report.html.j2", html_context(report, depth))


EXPORTERS: dict[str, Callable[[Report], str]] = {
    "json": to_json,
    "csv": to_csv,
    "md": to_markdown,
    "latex": to_latex,
    "html": to_html,
}


# -- comparisons and sweeps -------------------------------------------------------------


def comparison_records(comparison) -> tuple[list[str], list[list[Any]]]:
    """Columns and rows of a comparison: one row per metric, each value then its ratio to the first."""
    columns = ["metric", "unit"]
    for index, label in enumerate(comparison.labels):
        columns.append(label)
        if index:
            columns.append(f"{label} / {comparison.labels[0]}")
    records = []
    for metric in comparison.metrics:
        record: list[Any] = [metric.label, "bytes" if metric.kind == "bytes" else "count"]
        for index, (value, ratio) in enumerate(zip(metric.values, metric.ratios)):
            record.append(value)
            if index:
                record.append(None if ratio is None else round(ratio, 4))
        records.append(record)
    return columns, records


def comparison_header(comparison) -> str:
    first = comparison.reports[0]
    return (
        f"archcalc: {', '.join(comparison.labels)}; batch {first.batch}, dtype {first.dtype}, "
        f"convention {first.convention.name} ({first.convention.label}); ratios to {comparison.labels[0]}"
    )


def comparison_json(comparison) -> str:
    return json.dumps(comparison.to_dict(), indent=2)


def comparison_csv(comparison) -> str:
    import csv
    import io

    from archcalc.render.csv_cells import neutral_row

    columns, records = comparison_records(comparison)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(neutral_row(columns))
    for record in records:
        writer.writerow(neutral_row("" if v is None else v for v in record))
    return out.getvalue()


def comparison_markdown(comparison) -> str:
    columns, records = comparison_records(comparison)
    lines = [f"**{_md_cell(comparison_header(comparison))}**", ""]
    lines += markdown_table(columns, records)
    return "\n".join(lines) + "\n"


def comparison_latex(comparison) -> str:
    columns, records = comparison_records(comparison)
    numeric = [False, False] + [True] * (len(columns) - 2)
    from archcalc.render.terminal_text import visible_line

    lines = [f"% {visible_line(comparison_header(comparison))}", r"% needs \usepackage{booktabs}"]
    lines += latex_tabular(columns, records, numeric)
    return "\n".join(lines) + "\n"


COMPARISON_EXPORTERS = {
    "json": comparison_json,
    "csv": comparison_csv,
    "md": comparison_markdown,
    "latex": comparison_latex,
}
