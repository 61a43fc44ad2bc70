"""What the quiz page accepts for a number, generated from ``archcalc check``'s own grading.

The page (``web/page.js``) cannot run Python: it turns what the student typed into a
canonical string (:func:`page_canonical`, which the script mirrors line for line) and
looks for its hash among the cell's. The canonical keeps everything ``check``'s verdict
on a number depends on (:mod:`archcalc.grading.values`):

* the value as written, ``k x 10^j`` at the precision written (``j``: the last
  significant digit; the trailing zeros of a whole number are not significant, except
  below 1,000 without a unit, which is exact), in base units (count suffixes ``K``,
  ``M``, ``G``, ``T`` shift ``j``; a plain number takes the column's unit, as
  ``Memory (MB)`` gives it to a bare ``0.0``);
* for bytes, the unit as read (``kb`` is 10^3 **or** 2^10 B, ``kib`` 2^10 only, ``skb``
  the SI ``kB``, 10^3 only; ``b`` bytes);
* ``:w``, a whole number written out without a unit (``12,800``): ``check`` compares it
  exactly first, so that 12,800 for 12,816 parameters is "weights only", wrong, while
  ``12.8K`` is right, rounded.

So ``n:128e2:w`` is ``12,800`` and ``n:128e2`` is ``12.8K``; ``b:1225e-2:kib`` is
``12.25 KiB``. :func:`accepted` writes, for one cell, a battery of answers near the
truth (every precision from one significant digit to a few decimals, with and without
a suffix, in every byte unit) and keeps the canonical strings of those ``check``
grades right.

What the page does not read, and ``check`` does: arithmetic (``224*224*64``, ``... = 1,728``),
exponents (``1.2e3``), a decimal comma (``0,42 M``; ``1,833 M`` is read as thousands only),
French octets (``Ko``). Such an answer is wrong on the page; ``check`` grades it on the sheet.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Any

#: count suffixes and the power of ten they shift (as archcalc.grading.values.COUNT_SUFFIXES)
COUNT_SHIFT = {"": 0, "k": 3, "thousand": 3, "m": 6, "mil": 6, "million": 6, "millions": 6, "g": 9, "bn": 9,
               "billion": 9, "billions": 9, "t": 12, "trillion": 12}
#: byte units as the canonical names them (``kB``, SI, is apart: ``skb``)
BYTE_KEYS = {"b": "b", "byte": "b", "bytes": "b", "kb": "kb", "mb": "mb", "gb": "gb", "tb": "tb", "kib": "kib",
             "mib": "mib", "gib": "gib", "tib": "tib"}
#: words after a count that say what is counted (``1.2GFLOPs``), as archcalc.grading.values reads them
COUNT_WORDS = re.compile(r"(flops?|macs?|mult-?adds?|madds?|ops|operations|params|parameters|param|weights|"
                         r"elements|values|floats|activations)$")
_SEPARATORS = re.compile(r"[\s,_'\u2019\u00a0\u202f\u2009]")
_NUMBER = re.compile(r"\+?(\d*)(?:\.(\d*))?([A-Za-z-]*)")
#: column units that mean a plain count (Memory (elements))
_PLAIN_UNITS = ("", "elements", "element", "count", "values", "floats")


def page_canonical(text: str, column_unit: str = "") -> str | None:
    """The canonical string of a typed number (see the module docstring), or None.
    ``web/page.js`` ``numberCanonical`` is this function, line for line."""
    cleaned = _SEPARATORS.sub("", str(text))
    match = _NUMBER.fullmatch(cleaned)
    if match is None or not (match[1] or match[2]):
        return None
    whole, decimals = match[1] or "0", match[2] or ""
    point = match[2] is not None
    word = match[3] or ("" if column_unit.lower() in _PLAIN_UNITS else column_unit)
    if word == "kB":
        key, scaled = "skb", True
    elif word.lower() in BYTE_KEYS:
        key = BYTE_KEYS[word.lower()]
        scaled = key != "b"
    else:
        key = None
        suffix = COUNT_WORDS.sub("", word.lower()).rstrip("-")
        if suffix not in COUNT_SHIFT:
            return None
        shift = COUNT_SHIFT[suffix]
        scaled = shift > 0
    digits = (whole + decimals).lstrip("0") or "0"
    exponent = -len(decimals) + (shift if key is None else 0)
    if not point and (scaled or int(whole) >= 1000):
        while len(digits) > 1 and digits.endswith("0"):  # trailing zeros of a whole number: not significant
            digits, exponent = digits[:-1], exponent + 1
    out = not point and not scaled
    if key is None:
        return f"n:{digits}e{exponent}" + (":w" if out else "")
    return f"b:{digits}e{exponent}:{key}" + (":w" if out and key == "b" else "")


# -- the battery of answers near the truth ------------------------------------------------------

_BYTE_UNITS = (("B", (1,)), ("KiB", (2**10,)), ("MiB", (2**20,)), ("GiB", (2**30,)), ("KB", (10**3, 2**10)),
               ("MB", (10**6, 2**20)), ("GB", (10**9, 2**30)), ("kB", (10**3,)))
_COUNT_SUFFIXES = (("K", 10**3), ("M", 10**6), ("G", 10**9))


def _written(value: Fraction, j: int) -> list[str]:
    """``value`` rounded to a multiple of 10^j (both neighbours at a tie), as text."""
    unit = Fraction(10) ** j
    scaled = value / unit
    texts = []
    for k in {math.floor(scaled + Fraction(1, 2)), math.ceil(scaled - Fraction(1, 2))}:
        if k < 0:
            continue
        if j >= 0:
            texts.append(str(k * 10**j))
        else:
            digits = str(k).rjust(1 - j, "0")
            texts.append(f"{digits[:j]}.{digits[j:]}")
    return texts


def _exact_decimals(value: Fraction) -> int:
    """How many decimals ``value`` needs (12.816 -> 3), at most 6."""
    places = 0
    while (value * 10**places).denominator != 1 and places < 6:
        places += 1
    return places


#: the finest precision tried: four decimals, and at most seven significant digits, besides the
#: exact value (a student who writes more digits writes the exact value)
MOST_DECIMALS = 4
MOST_DIGITS = 7


def _near(value: Fraction, decimals: int = 2) -> list[str]:
    """``value`` at every precision from one significant digit (and from rounding to 0) to
    ``decimals`` decimals or one past its exact value (at most :data:`MOST_DECIMALS`, and
    :data:`MOST_DIGITS` significant digits), and its exact value where it has few decimals."""
    if value == 0:
        return ["0", "0.0"]
    top = math.floor(math.log10(value))
    exact = _exact_decimals(value)
    lowest = max(-max(decimals, min(exact + 1, MOST_DECIMALS)), top + 1 - MOST_DIGITS)
    levels = set(range(min(lowest, top), max(top, 0) + 1))
    if exact <= MOST_DECIMALS:
        levels |= {-exact, -exact - 1, -exact - 2}  # the exact value, and padded: 338,688.00 B
    return [text for j in sorted(levels) for text in _written(value, j)]


def battery(truth: int, column_unit: str = "", memory: bool = False) -> list[str]:
    """Answers near ``truth`` (a count, or bytes for ``memory``) as a student may type them."""
    truth_fraction = Fraction(truth)
    plain_scale = 1
    from archcalc.grading.values import parse_number

    column = parse_number("1", column_unit) if column_unit.lower() not in _PLAIN_UNITS else None
    if column is not None:
        plain_scale = column.scales[0][0]
    texts = list(_near(truth_fraction / plain_scale))
    for suffix, scale in _COUNT_SUFFIXES:
        texts += [t + suffix for t in _near(truth_fraction / scale)]
    if memory:
        for unit, scales in _BYTE_UNITS:
            for scale in scales:
                texts += [f"{t} {unit}" for t in _near(truth_fraction / scale)]
    return list(dict.fromkeys(texts))


def accepted(truth: int, column_unit: str, memory: bool, verdict) -> list[str]:
    """The canonical strings of the battery's answers that ``verdict(text)`` (``check``'s grading of
    the cell) says are right. The canonical string keeps what the verdict depends on, so one
    answer per canonical string is graded (tests/test_quiz_page_agrees.py types many more)."""
    right: set[str] = set()
    seen: set[str] = set()
    for text in battery(truth, column_unit, memory):
        canonical = page_canonical(text, column_unit)
        if canonical is None or canonical in seen:
            continue
        seen.add(canonical)
        if verdict(text):
            right.add(canonical)
    return sorted(right)


def cell_verdict(variant: Any) -> Any:
    """A function ``(row, quantity, text, unit) -> bool``: ``check``'s verdict on one cell of
    ``variant`` (:mod:`archcalc.grading.grade`, the code ``archcalc check`` runs)."""
    from archcalc.grading.answers import AnswerCell
    from archcalc.grading.grade import grade_block_cell, grade_row_cell, grade_total_cell, input_row
    from archcalc.grading.truths import Truths, parse_convention
    from archcalc.grading.verdicts import Status

    report = variant.report
    truths = Truths(report, parse_convention(variant.convention), None, variant.convention)
    listed = [report.row(r.layer) for r in variant.rows if r.layer and not r.block]

    def judge(row, quantity: str, text: str, unit: str) -> bool:
        cell = AnswerCell(quantity, text, unit)
        if row.label == "total":
            verdict = grade_total_cell(cell, truths, listed)
        elif row.label == "input":
            verdict = grade_row_cell(cell, input_row(report), truths)
        elif row.block:
            verdict = grade_block_cell(cell, tuple(report.row(name) for name in row.block), truths)
        else:
            verdict = grade_row_cell(cell, report.row(row.layer), truths)
        return verdict.status is Status.RIGHT

    return judge


__all__ = ["accepted", "battery", "cell_verdict", "page_canonical"]
