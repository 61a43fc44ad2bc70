"""Recognising the files ``archcalc check`` wrote, so that a folder run skips them.

``archcalc check answers/ -o answers/grades.csv`` leaves the grades beside the
sheets; the next run must not grade them as a student's sheet. The exports
stay as their readers want them (a CSV with one heading row loads as it is in
pandas and Excel), so the marker is the heading itself: the first line of a
file that check wrote is one of the headings below, which no answer sheet
uses (a sheet's columns are quantities: shape, params, flops, ...).
"""

from __future__ import annotations

from pathlib import Path

from archcalc.grading.class_summary import SUMMARY_COLUMNS
from archcalc.grading.exports import CELL_COLUMNS, FOLDER_COLUMNS, FOLDER_TABLE_HEADS

#: the terminal table of a folder (``-o grades.txt``), words of its heading line
_FOLDER_TABLE_WORDS = " ".join(FOLDER_TABLE_HEADS).split()


def _headings() -> set[str]:
    lines = set()
    for columns in (FOLDER_COLUMNS, CELL_COLUMNS, SUMMARY_COLUMNS):
        lines.add(",".join(columns))
        lines.add("| " + " | ".join(columns) + " |")
    return lines


def written_by_check(path: Path) -> bool:
    """True when ``path`` starts like a file ``archcalc check`` writes (grades, cells, class summary)."""
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    lines = [line.strip() for line in head.splitlines() if line.strip()][:4]
    if not lines:
        return False
    if lines[0].startswith(("# Class summary:", "**Class summary:")):
        return True
    if lines[0].split() == _FOLDER_TABLE_WORDS:
        return True
    headings = _headings()
    cell_md = "| " + " | ".join(("row", "layer", "quantity", "written", "verdict", "expected", "note")) + " |"
    return lines[0] in headings or (lines[0].startswith("**") and cell_md in lines)


__all__ = ["written_by_check"]
