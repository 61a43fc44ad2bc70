"""A class roster: one student per line, or a CSV whose ``name`` (or ``student``) column, else
its first column, names the students. Blank lines and ``#`` comments are skipped."""

from __future__ import annotations

import csv
import io
from collections import Counter
from pathlib import Path

from archcalc.errors import InputError

#: the largest roster read (a class of 1,000 with long names is some 50 KiB)
MAX_ROSTER_BYTES = 1024 * 1024
_NAME_COLUMNS = ("name", "student", "students", "full name", "nom", "étudiant", "etudiant")


def read_roster(path: str | Path) -> list[str]:
    """The students' names, in the file's order."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_ROSTER_BYTES + 1)
    except OSError as error:
        raise InputError(f"cannot read the roster {path}: {error.strerror}") from None
    if len(data) > MAX_ROSTER_BYTES:
        raise InputError(f"the roster {path} is larger than {MAX_ROSTER_BYTES // 1024} KiB; a roster is one name a line")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"the roster {path} is not UTF-8 text", hint="save it as UTF-8 (one name a line, "
                         "or a CSV with a name column)") from None
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise InputError(f"the roster {path} names no student")
    try:
        rows = list(csv.reader(io.StringIO("\n".join(lines))))
    except csv.Error as error:
        raise InputError(f"cannot read the roster {path}: {error}") from None
    header = [cell.strip().lower() for cell in rows[0]]
    column = next((header.index(h) for h in _NAME_COLUMNS if h in header), None)
    if column is not None:
        rows = rows[1:]
    else:
        column = 0
    names = [row[column].strip() for row in rows if len(row) > column and row[column].strip()]
    if not names:
        raise InputError(f"the roster {path} names no student")
    repeated = sorted(n for n, times in Counter(names).items() if times > 1)
    if repeated:
        raise InputError(f"the roster {path} names {repeated[0]!r} twice: one variant per student")
    return names


__all__ = ["read_roster"]
