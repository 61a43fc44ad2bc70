"""Which cells of a variant's sheet ``archcalc check`` marks wrong: the sheet is rendered as
Markdown, read back by the same reader ``archcalc check`` uses, and graded against the
variant's network. "Find the error" tables keep only the mistakes found this way."""

from __future__ import annotations

from archcalc.grading import Status, grade_sheet, read_answers_text
from archcalc.quiz.markdown import render
from archcalc.quiz.sheet import Variant


def graded(variant: Variant, key: bool = False):
    """The GradeResult of the variant's sheet (``key``: of its key) as ``archcalc check`` grades it."""
    text = render(variant, key)
    sheet = read_answers_text(text, f"variant {variant.number}", ".md")
    return grade_sheet(sheet, variant.report)


def wrong_cells(variant: Variant, key: bool = False) -> set[tuple[int, str]]:
    """(row index, quantity) of every cell graded wrong."""
    result = graded(variant, key)
    table_rows = [i for i, row in enumerate(variant.rows) if row.label != "total"]
    totals = [i for i, row in enumerate(variant.rows) if row.label == "total"]
    wrong = set()
    for index, row in zip(table_rows, result.rows):
        wrong |= {(index, cell.quantity) for cell in row.cells if cell.status is Status.WRONG}
    if totals:
        wrong |= {(totals[0], cell.quantity) for cell in result.totals if cell.status is Status.WRONG}
    return wrong


def planted_cells_detected(variant: Variant) -> set[tuple[int, str]]:
    return wrong_cells(variant)


__all__ = ["graded", "planted_cells_detected", "wrong_cells"]
