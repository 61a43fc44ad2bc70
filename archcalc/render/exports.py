"""Exports of a Report: JSON (the stable contract), CSV and GitHub Markdown.

Tabular exports come from ``Report.to_dataframe()`` and start with a header
line naming model, input, dtype, batch and convention.
"""

from __future__ import annotations

import json

from archcalc.report import Report

FORMATS = ("table", "json", "csv", "md")
EXTENSIONS = {".json": "json", ".csv": "csv", ".md": "md", ".markdown": "md"}


def header_line(report: Report) -> str:
    shape = "x".join(str(v) for v in report.input_shape)
    return (
        f"archcalc: model {report.model}, input {shape} (CxHxW), batch {report.batch}, "
        f"dtype {report.dtype}, convention {report.convention.name} ({report.convention.label})"
    )


def to_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2)


def to_csv(report: Report) -> str:
    frame = report.to_dataframe()
    return f"# {header_line(report)}\n" + frame.to_csv(index=False)


def to_markdown(report: Report) -> str:
    frame = report.to_dataframe()
    columns = list(frame.columns)
    lines = [f"<!-- {header_line(report)} -->", "", f"**{header_line(report)}**", ""]
    lines.append("| " + " | ".join(columns) + " |")
    lines.append("| " + " | ".join("---" for _ in columns) + " |")
    for record in frame.itertuples(index=False):
        lines.append("| " + " | ".join(_md_cell(v) for v in record) + " |")
    return "\n".join(lines) + "\n"


def _md_cell(value) -> str:
    if value is None or value != value:  # NaN
        return ""
    return str(value).replace("|", "\\|")


EXPORTERS = {"json": to_json, "csv": to_csv, "md": to_markdown}
