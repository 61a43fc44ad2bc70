"""One static HTML page for a whole quiz: the student picks their variant, types the answers and
the page checks them in the browser against the key, embedded hashed (:mod:`archcalc.quiz.hashing`).

The page is a single file (``web/page.html`` with ``web/page.css`` and ``web/page.js``
inlined): no server, no network, no library. ``?variant=3`` in its address opens variant 3.
"""

from __future__ import annotations

import hashlib
import html
import json
from pathlib import Path
from string import Template

from archcalc.errors import InputError
from archcalc.quiz.hashing import HEX, ITERATIONS, cell_hashes, digest
from archcalc.quiz.markdown import header_lines
from archcalc.quiz.sheet import Variant
from archcalc.quiz.styles import BYTE_UNITS, COUNT_UNITS

WEB = Path(__file__).parent / "web"


#: the most answer cells one page hashes: each takes ITERATIONS rounds of SHA-256 per accepted form
#: (about 3 ms a cell), so 1,000 students of a 6-cell conv exercise take seconds, and the page stays
#: a few MB; 1,000 students of a VGG-16 table (40,000 cells) would take minutes
MAX_PAGE_CELLS = 12_000


def page_cells(variants: list[Variant]) -> int:
    """How many answer cells the page of ``variants`` hashes."""
    return sum(1 for v in variants for row in v.rows for c in v.columns if row.answers.get(c.quantity) is not None)


def check_page_size(variants: list[Variant]) -> None:
    """An InputError, before anything is written, when the page would hash more than
    :data:`MAX_PAGE_CELLS` cells."""
    cells = page_cells(variants)
    if cells > MAX_PAGE_CELLS:
        per = cells // max(len(variants), 1)
        raise InputError(f"--html: {len(variants):,} variants of {per:,} answer cells make {cells:,} cells to hash; "
                         f"a page holds at most {MAX_PAGE_CELLS:,}",
                         hint=f"at most {max(MAX_PAGE_CELLS // max(per, 1), 1):,} students of this exercise per "
                              "page, or fewer rows (--rows conv,linear)")


def _salt(variant: Variant) -> str:
    seed = f"archcalc-quiz-salt:{variant.kind}:{variant.seed}:{variant.number}"
    return hashlib.sha256(seed.encode()).hexdigest()[:16]


def _factor(unit: str) -> int:
    return COUNT_UNITS.get(unit) or BYTE_UNITS.get(unit) or 1


def variant_data(variant: Variant) -> dict:
    """What the page knows of one variant: the exercise, and per asked cell its hashes only."""
    from archcalc.grading.sheets import column_quantity
    from archcalc.quiz.page_rules import accepted, cell_verdict

    salt = _salt(variant)
    judge = cell_verdict(variant)
    rows = []
    for r, row in enumerate(variant.rows):
        cells = []
        for column in variant.columns:
            answer = row.answers.get(column.quantity)
            if answer is None:
                cells.append(None)
                continue
            cell = f"{variant.number}:{r}:{column.quantity}"
            unit = column_quantity(column.heading)[1]  # the unit check reads in the heading
            if column.quantity in ("shape", "rf"):
                hashes = cell_hashes(salt, cell, column.quantity, answer.value, _factor(column.unit))
            else:  # the numbers check grades right, as the page canonicalises them (archcalc.quiz.page_rules)
                memory = column.quantity == "memory" and column.unit != "elements"
                rules = accepted(int(answer.value), unit, memory,
                                 lambda text, row=row, q=column.quantity, u=unit: judge(row, q, text, u))
                hashes = sorted({digest(salt, cell, canonical) for canonical in rules})
            cells.append({
                "id": cell,
                "kind": column.quantity if column.quantity in ("shape", "rf") else "number",
                "unit": unit,
                "shown": answer.shown,
                "hashes": hashes,
            })
        rows.append({"label": row.label, "kind": row.kind, "cells": cells})
    planted = any(a.shown is not None for _, a in variant.answers)
    return {
        "number": variant.number,
        "student": variant.student,
        "title": f"{variant.title}: variant {variant.number}",
        "header": [line.removeprefix("- ").replace("`", "") for line in header_lines(variant)[1:]],
        "statement": variant.statement,
        "instructions": list(variant.instructions),
        "task": ("Some cells of this table are wrong: correct them." if planted
                 else "Type your answer in each box."),
        "columns": [c.heading for c in variant.columns],
        "salt": salt,
        "rows": rows,
    }


#: characters written as JSON escapes inside the page's <script>: ``<!--`` and ``<script`` change how
#: the HTML parser ends a script block (HTML spec, "script data escaped state"), ``</`` ends it, ``&``
#: and ``>`` for good measure, U+2028 and U+2029 end a line in older JavaScript (as Django's
#: json_script and Rails' json_escape do)
_INLINE_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def inline_json(data) -> str:
    """``data`` as JSON that is safe inside an HTML ``<script>`` element: no ``<``, ``>``, ``&``,
    U+2028 or U+2029 (written as ``\\u003c`` ..., which JSON.parse reads back as they were)."""
    text = json.dumps(data, separators=(",", ":"))
    return "".join(_INLINE_ESCAPES.get(char, char) for char in text)


def render_page(variants: list[Variant], title: str) -> str:
    """The whole page, one file."""
    data = {"iterations": ITERATIONS, "hex": HEX, "variants": [variant_data(v) for v in variants]}
    text = inline_json(data)
    template = Template((WEB / "page.html").read_text(encoding="utf-8"))
    return template.substitute(
        title=html.escape(title),
        css=(WEB / "page.css").read_text(encoding="utf-8"),
        data=text,
        script=(WEB / "page.js").read_text(encoding="utf-8"),
    )


__all__ = ["render_page", "variant_data"]
