"""CSV cells that a spreadsheet will not run (OWASP "CSV injection").

Excel, LibreOffice and Google Sheets read a cell that starts with ``=``, ``+``,
``-`` or ``@`` as a formula, and one that starts with a tab or a carriage
return is read the same way after the spreadsheet trims it. A layer name,
an answer or a file name chosen by a student such as
``=HYPERLINK("http://evil","x")`` would then run in the teacher's sheet.

OWASP's advice (https://owasp.org/www-community/attacks/CSV_Injection) is to
prefix such a cell with a single quote, which spreadsheets show as text and
hide. A plain number (``-3``, ``+1.5e3``, ``-1,024``) and a lone sign (a
placeholder) are left as they are: a spreadsheet reads them as a number or as
text, and they run nothing. A carriage return inside a cell is written as a
line feed (the csv writer of Python 3.11 does not quote a field holding a lone
CR, and every reader would split the row there). Every CSV archcalc writes passes its cells through
:func:`neutral_cell`; docs/json-format.md says so.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

#: first characters a spreadsheet reads as the start of a formula
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: a plain signed number, as written in a cell: sign, digits (with , groups), decimals, exponent
_PLAIN_NUMBER = re.compile(r"[+-](\d[\d,]*)?(\.\d+)?([eE][+-]?\d+)?")


def neutral_cell(value: Any) -> Any:
    """``value``, with a leading ``'`` when it is text a spreadsheet would read as a formula.

    >>> neutral_cell('=1+1'), neutral_cell('-3'), neutral_cell(-3), neutral_cell('conv1')
    ("'=1+1", '-3', -3, 'conv1')
    """
    if not isinstance(value, str):
        return value
    if "\r" in value:  # Python 3.11's csv writer leaves a field with a lone CR unquoted when lines end in
        value = value.replace("\r\n", "\n").replace("\r", "\n")  # LF, and readers split the row there
    if not value.startswith(FORMULA_STARTS):
        return value
    if value in ("+", "-") or (_PLAIN_NUMBER.fullmatch(value) and any(c.isdigit() for c in value)):
        return value  # a lone sign (a placeholder) or a number: nothing to run
    return "'" + value


def neutral_record(record: dict) -> dict:
    """A CSV record (``csv.DictWriter``) with every cell passed through :func:`neutral_cell`."""
    return {key: neutral_cell(value) for key, value in record.items()}


def neutral_row(row: Iterable[Any]) -> list[Any]:
    """A CSV row (``csv.writer``) with every cell passed through :func:`neutral_cell`."""
    return [neutral_cell(value) for value in row]


def neutral_frame(frame):
    """A pandas DataFrame whose text cells and column names pass through :func:`neutral_cell`
    (numbers are left as they are)."""
    frame = frame.copy()
    for column in frame.columns:
        if frame[column].dtype == object or str(frame[column].dtype).startswith(("string", "str")):
            frame[column] = frame[column].map(neutral_cell)
    frame.columns = [neutral_cell(c) for c in frame.columns]
    return frame


__all__ = ["FORMULA_STARTS", "neutral_cell", "neutral_frame", "neutral_record", "neutral_row"]
