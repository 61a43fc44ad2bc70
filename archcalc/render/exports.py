"""Exports of a Report: JSON (the stable contract), CSV, GitHub Markdown, LaTeX and HTML.

Tabular exports come from ``Report.to_dataframe()`` (the same columns in every
format) and start with a header line naming model, input, dtype, batch and
convention. The HTML report is one standalone file: the header, the totals,
three inline SVG charts (activation memory, parameters, FLOPs per layer) and
the table; it needs no network to view.

Comparisons and sweeps (:class:`archcalc.comparison.Comparison`) export as
JSON, CSV, Markdown and LaTeX.
"""

from __future__ import annotations

import html
import json
from typing import Any, Callable

from archcalc.report import Report

FORMATS = ("table", "json", "csv", "md", "latex", "html")
EXTENSIONS = {
    ".json": "json",
    ".csv": "csv",
    ".md": "md",
    ".markdown": "md",
    ".tex": "latex",
    ".latex": "latex",
    ".html": "html",
    ".htm": "html",
    ".txt": "table",
}


def header_line(report: Report) -> str:
    shape = "x".join(str(v) for v in report.input_shape)
    return (
        f"archcalc: model {report.model}, input {shape} (CxHxW), batch {report.batch}, "
        f"dtype {report.dtype}, convention {report.convention.name} ({report.convention.label})"
    )


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
    return json.dumps(report_dict(report, derivations, totals), indent=2)


def to_csv(report: Report) -> str:
    frame = report.to_dataframe()
    return f"# {header_line(report)}\n" + frame.to_csv(index=False)


def _md_cell(value) -> str:
    if value is None or value != value:  # NaN
        return ""
    return str(value).replace("|", "\\|")


def markdown_table(columns: list[str], records: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(columns) + " |", "| " + " | ".join("---" for _ in columns) + " |"]
    for record in records:
        lines.append("| " + " | ".join(_md_cell(v) for v in record) + " |")
    return lines


def to_markdown(report: Report) -> str:
    frame = report.to_dataframe()
    lines = [f"<!-- {header_line(report)} -->", "", f"**{header_line(report)}**", ""]
    lines += markdown_table(list(frame.columns), [list(r) for r in frame.itertuples(index=False)])
    return "\n".join(lines) + "\n"


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
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


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


def to_latex(report: Report) -> str:
    """A booktabs table (needs ``\\usepackage{booktabs}`` and ``graphicx``) with the CSV's columns."""
    frame = report.to_dataframe()
    columns = list(frame.columns)
    numeric = [str(frame[c].dtype).startswith(("int", "Int", "float")) for c in columns]
    lines = [
        f"% {header_line(report)}",
        r"% needs \usepackage{booktabs} and \usepackage{graphicx}",
        r"\begin{table}[htbp]",
        r"\centering",
        rf"\caption{{{latex_escape(header_line(report))}}}",
        r"\resizebox{\textwidth}{!}{%",
    ]
    lines += latex_tabular(columns, [list(r) for r in frame.itertuples(index=False)], numeric)
    lines += ["}", r"\end{table}"]
    return "\n".join(lines) + "\n"


_HTML_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.4em; margin-bottom: 0.2em; }
p.header { color: #555; margin-top: 0; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { padding: 2px 8px; border-bottom: 1px solid #e4e4e4; text-align: right; white-space: nowrap; }
th { background: #f4f4f4; position: sticky; top: 0; }
td.text, th.text { text-align: left; }
.totals td { border: none; }
.bar { display: inline-block; height: 0.7em; vertical-align: middle; margin-left: 4px; }
.charts svg { display: block; margin: 1em 0; max-width: 100%; height: auto; }
"""

_BAR_COLOURS = {"params": "#2e9d57", "activation_bytes": "#b0479b", "flops": "#2b8cbe"}


def to_html(report: Report) -> str:
    """One standalone HTML file: header, totals, three SVG charts and the per-layer table."""
    from archcalc.breakdown import leaf_entries
    from archcalc.render import units
    from archcalc.render.svg import bar_chart

    esc = html.escape
    frame = report.to_dataframe()
    columns = list(frame.columns)
    t = report.totals
    unit = report.convention.unit
    totals = [
        ("Parameters", f"{t.params:,}", units.count_short(t.params)),
        ("Parameter memory", f"{t.param_bytes:,} B", units.nbytes_short(t.param_bytes)),
        ("Activations (sum)", f"{t.activation_bytes:,} B", units.nbytes_short(t.activation_bytes)),
        ("Activations (peak)", f"{t.peak_activation_bytes:,} B", units.nbytes_short(t.peak_activation_bytes)),
        *[
            (f"Training memory ({name})", f"{value:,} B", units.nbytes_short(value))
            for name, value in t.training_bytes.items()
        ],
        ("MACs", f"{t.macs:,}", units.count_short(t.macs)),
        (f"{unit} [{report.convention.name}]", f"{t.flops:,}", report.convention.label),
    ]
    entries = leaf_entries(report)
    names = [e.name for e in entries]
    charts = [
        bar_chart("Activation memory per layer (MiB)", names, [e.activation_bytes / 2**20 for e in entries],
                  _BAR_COLOURS["activation_bytes"], "MiB"),
        bar_chart("Parameters per layer (millions)", names, [e.params / 1e6 for e in entries],
                  _BAR_COLOURS["params"], "M"),
        bar_chart(f"{unit} [{report.convention.name}] per layer (G)", names, [e.flops / 1e9 for e in entries],
                  _BAR_COLOURS["flops"], "G"),
    ]
    share = {entry.name: entry for entry in entries}
    head_cells = "".join(
        f'<th class="{"text" if c in ("name", "type", "hyperparameters", "output_shape", "shares_params_with") else ""}">'
        f"{esc(c)}</th>"
        for c in columns
    )
    body = []
    for record in frame.itertuples(index=False):
        cells = []
        for column, value in zip(columns, record):
            text = "" if value is None or value != value else (f"{int(value):,}" if _is_int(value) else str(value))
            klass = "text" if column in ("name", "type", "hyperparameters", "output_shape", "shares_params_with") else ""
            extra = ""
            entry = share.get(record[0])
            if entry is not None and column in ("params", "activation_bytes", "flops"):
                fraction = {"params": entry.param_share, "activation_bytes": entry.memory_share,
                            "flops": entry.flops_share}[column]
                if fraction:
                    extra = (f'<span class="bar" style="width:{max(1, round(fraction * 60))}px;'
                             f'background:{_BAR_COLOURS[column]}" title="{fraction:.1%}"></span>')
            cells.append(f'<td class="{klass}">{esc(text)}{extra}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    totals_rows = "".join(
        f'<tr><td class="text"><b>{esc(a)}</b></td><td>{esc(b)}</td><td class="text">{esc(c)}</td></tr>'
        for a, b, c in totals
    )
    warnings = "".join(f"<li>{esc(str(w))}</li>" for w in report.warnings)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>archcalc: {esc(report.model)}</title>
<style>{_HTML_STYLE}</style>
</head>
<body>
<h1>{esc(report.model)}</h1>
<p class="header">{esc(header_line(report))}</p>
{f"<p>{esc(report.description)}</p>" if report.description else ""}
<h2>Totals</h2>
<table class="totals">{totals_rows}</table>
{f"<h2>Warnings</h2><ul>{warnings}</ul>" if warnings else ""}
<h2>Per layer</h2>
<div class="charts">
{"".join(charts)}
</div>
<table>
<thead><tr>{head_cells}</tr></thead>
<tbody>
{chr(10).join(body)}
</tbody>
</table>
<p class="header">Bars: share of the network total. Memory in bytes (KiB = 1024 B).</p>
</body>
</html>
"""


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

    columns, records = comparison_records(comparison)
    out = io.StringIO()
    out.write(f"# {comparison_header(comparison)}\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for record in records:
        writer.writerow(["" if v is None else v for v in record])
    return out.getvalue()


def comparison_markdown(comparison) -> str:
    columns, records = comparison_records(comparison)
    lines = [f"**{comparison_header(comparison)}**", ""]
    lines += markdown_table(columns, records)
    return "\n".join(lines) + "\n"


def comparison_latex(comparison) -> str:
    columns, records = comparison_records(comparison)
    numeric = [False, False] + [True] * (len(columns) - 2)
    lines = [f"% {comparison_header(comparison)}", r"% needs \usepackage{booktabs}"]
    lines += latex_tabular(columns, records, numeric)
    return "\n".join(lines) + "\n"


COMPARISON_EXPORTERS = {
    "json": comparison_json,
    "csv": comparison_csv,
    "md": comparison_markdown,
    "latex": comparison_latex,
}
