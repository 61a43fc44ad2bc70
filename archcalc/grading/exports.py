"""Text exports of verdicts: JSON (GradeResult.to_dict), CSV and Markdown, one line per cell;
and the one-row-per-file summary of a folder of answers. Formatting only.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass

from archcalc.grading.verdicts import CellVerdict, GradeResult
from archcalc.render.csv_cells import neutral_record

CHECK_FORMATS = ("table", "json", "csv", "md")
CELL_COLUMNS = ("row", "layer", "matched_by", "quantity", "written", "verdict", "expected", "note", "derivation", "line")
#: the heading of the folder table on a terminal (and in ``-o grades.txt``)
FOLDER_TABLE_HEADS = ("Student", "Variant", "File", "Right", "Wrong", "Not checkable", "Score", "Error")
FOLDER_COLUMNS = ("file", "student", "variant", "cells right", "cells wrong", "not checkable", "score", "error")


#: how quantities are headed in tables (the JSON and CSV keep the quantity names)
QUANTITY_LABELS = {
    "shape": "shape",
    "rf": "receptive field",
    "trainable_params": "trainable params",
    "non_trainable_params": "non-trainable params",
    "peak_memory": "peak memory",
    "param_memory": "param memory",
    "input_memory": "input memory",
    "pass_memory": "fwd/bwd memory",
    "total_memory": "total memory",
    "macs": "MACs",
    "flops": "FLOPs",
}


def quantity_label(quantity: str) -> str:
    return QUANTITY_LABELS.get(quantity, quantity)


def score_text(right: int, wrong: int, not_checkable: int, score: float | None) -> str:
    """``15/17 cells right (88%), 2 wrong, 1 not checkable``."""
    percent = f" ({score:.0%})" if score is not None else ""
    text = f"{right}/{right + wrong} cells right{percent}, {wrong} wrong"
    if not_checkable:
        text += f", {not_checkable} not checkable"
    return text


def header_line(result: GradeResult) -> str:
    if result.format == "answers":
        return layer_answers_header(result)
    from archcalc.render.units import shape as shape_text

    shape = shape_text(tuple(result.input_shape)) + (" (HxWxC)" if len(result.input_shape) == 3 else "")
    return (
        f"archcalc check: {result.source} ({result.format}) vs {result.model}, input {shape}, "
        f"batch {result.batch}, {result.dtype}, convention {result.convention.name} "
        f"({result.convention.label}; {result.convention_from})"
    )


def layer_answers_header(result: GradeResult) -> str:
    """The title of ``archcalc layer ... --answer``: the question, not an answers file."""
    from archcalc.inputs import format_hwc

    return (
        f"Answers about {result.model} on a {format_hwc(result.input_shape)} input "
        f"(batch {result.batch}, {result.dtype}), convention {result.convention.name} "
        f"({result.convention.label}; {result.convention_from})"
    )


def derivation_text(cell: CellVerdict) -> str:
    """``params: (F*F*Cin/g + 1) * K = (5*5*6 + 1) * 16 = 2,416`` for each step, joined by ``; ``."""
    parts = []
    for step in cell.derivation:
        value = f"{step.value:,}" if isinstance(step.value, int) else str(step.value)
        chain = [str(step.formula)] if step.formula else []
        if step.substituted and str(step.substituted) not in chain:
            chain.append(str(step.substituted))
        if value not in chain and str(step.value) not in chain:
            chain.append(value)
        parts.append(f"{step.quantity}: {' = '.join(chain)}")
    return "; ".join(parts)


def cell_records(result: GradeResult) -> Iterable[dict[str, object]]:
    for row in result.rows:
        for cell in row.cells:
            yield {
                "row": row.label,
                "layer": row.layer or "",
                "matched_by": row.matched_by,
                "quantity": cell.quantity,
                "written": cell.written,
                "verdict": cell.status.value,
                "expected": cell.expected,
                "note": cell.note,
                "derivation": derivation_text(cell),
                "line": cell.line if cell.line is not None else "",
            }
    for cell in result.totals:
        yield {
            "row": "total",
            "layer": "",
            "matched_by": "",
            "quantity": cell.quantity,
            "written": cell.written,
            "verdict": cell.status.value,
            "expected": cell.expected,
            "note": cell.note,
            "derivation": derivation_text(cell),
            "line": cell.line if cell.line is not None else "",
        }


def to_json(result: GradeResult) -> str:
    return json.dumps(result.to_dict(), indent=2)


def to_csv(result: GradeResult) -> str:
    """One record per cell, loadable as it is (pandas, Excel): no comment lines; the model,
    input and convention are in ``--format json``."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CELL_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(neutral_record(r) for r in cell_records(result))  # no cell a spreadsheet runs
    return buffer.getvalue()


def _md(value: object) -> str:
    from archcalc.render.terminal_text import visible_line

    return visible_line(str(value).replace("\n", " ")).replace("|", "\\|")


def to_markdown(result: GradeResult) -> str:
    lines = [f"**{_md(header_line(result))}**", ""]
    columns = ("row", "layer", "quantity", "written", "verdict", "expected", "note")
    lines.append("| " + " | ".join(columns) + " |")
    lines.append("| " + " | ".join("---" for _ in columns) + " |")
    for record in cell_records(result):
        record = {**record, "quantity": quantity_label(str(record["quantity"]))}
        lines.append("| " + " | ".join(_md(record[c]) for c in columns) + " |")
    lines.append("")
    lines.append(f"Score: {score_text(result.right, result.wrong, result.not_checkable, result.score)}")
    wrong = [r for r in cell_records(result) if r["verdict"] == "wrong" and r["derivation"]]
    if wrong:
        lines.append("")
        lines.append("Derivations of the wrong cells:")
        lines.append("")
        for record in wrong:
            lines.append(f"- {_md(record['row'])}, {quantity_label(str(record['quantity']))}: "
                         f"{_md(record['derivation'])}")
    return "\n".join(lines) + "\n"


CHECK_EXPORTERS = {"json": to_json, "csv": to_csv, "md": to_markdown}


# -- a folder of answers ----------------------------------------------------------------


@dataclass(frozen=True)
class FileGrade:
    """One file of a folder: its counts, or why it could not be read."""

    file: str
    right: int = 0
    wrong: int = 0
    not_checkable: int = 0
    score: float | None = None
    error: str = ""
    student: str = ""
    variant: int | None = None

    @classmethod
    def of(cls, file: str, result: GradeResult, student: str = "", variant: int | None = None) -> FileGrade:
        return cls(file, result.right, result.wrong, result.not_checkable, result.score, student=student,
                   variant=variant)

    def record(self) -> dict[str, object]:
        return {
            "file": self.file,
            "student": self.student,
            "variant": "" if self.variant is None else self.variant,
            "cells right": self.right if not self.error else "",
            "cells wrong": self.wrong if not self.error else "",
            "not checkable": self.not_checkable if not self.error else "",
            "score": "" if self.score is None else f"{self.score:.4f}",
            "error": self.error,
        }


def folder_to_csv(grades: list[FileGrade]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FOLDER_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(neutral_record(g.record()) for g in grades)  # file names are the students' choice
    return buffer.getvalue()


def folder_to_json(grades: list[FileGrade]) -> str:
    return json.dumps(
        [
            {"file": g.file, "student": g.student or None, "variant": g.variant, "right": g.right, "wrong": g.wrong, "not_checkable": g.not_checkable,
             "score": g.score, "error": g.error or None}
            for g in grades
        ],
        indent=2,
    )


def folder_to_markdown(grades: list[FileGrade]) -> str:
    lines = ["| " + " | ".join(FOLDER_COLUMNS) + " |", "| " + " | ".join("---" for _ in FOLDER_COLUMNS) + " |"]
    for grade in grades:
        record = grade.record()
        lines.append("| " + " | ".join(_md(record[c]) for c in FOLDER_COLUMNS) + " |")
    return "\n".join(lines) + "\n"


FOLDER_EXPORTERS = {"csv": folder_to_csv, "json": folder_to_json, "md": folder_to_markdown}
