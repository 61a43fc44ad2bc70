"""A class roster: one student per line, or a CSV whose ``name`` (or ``student``) column, else
its first column, names the students. Blank lines and ``#`` comments are skipped."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from archcalc.errors import InputError

_NAME_COLUMNS = ("name", "student", "students", "full name", "nom", "étudiant", "etudiant")


def read_roster(path: str | Path) -> list[str]:
    """The students' names, in the file's order."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise InputError(f"cannot read the roster {path}: {error.strerror}") from None
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise InputError(f"the roster {path} names no student")
    rows = list(csv.reader(io.StringIO("\n".join(lines))))
    header = [cell.strip().lower() for cell in rows[0]]
    column = next((header.index(h) for h in _NAME_COLUMNS if h in header), None)
    if column is not None:
        rows = rows[1:]
    else:
        column = 0
    names = [row[column].strip() for row in rows if len(row) > column and row[column].strip()]
    if not names:
        raise InputError(f"the roster {path} names no student")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InputError(f"the roster {path} names {repeated[0]!r} twice: one variant per student")
    return names


__all__ = ["read_roster"]
