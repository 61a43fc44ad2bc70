"""A class summary of a folder of graded answers: how each question went across the class.

A question is a row of the answer table and a quantity (``conv1, params``; ``total, MACs``):
the layer (or block) the row was matched to, else the row's label, so every variant of a
quiz asks the same questions with its own numbers. A sheet asks a question when it has the
row and, in some row, the column: a blank cell there counts as asked and not answered (a
sheet's headings are not kept, so a column blank in every row is not known). For each question:

* ``success rate = right / sheets that ask it`` (a blank or unreadable cell is not a success);
* the most common wrong answer, as written, and how many wrote it;
* the most common mistake: what the wrong answers matched instead (``weights only (biases
  not counted)``, ``the layer's input shape``), from the verdicts' notes;
* the conventions the wrong FLOP and MAC answers were right under instead (``torch``,
  ``textbook``), with their counts; the same over the whole class.

Computing only; the CLI and :func:`summary_markdown`, :func:`summary_csv`,
:func:`summary_json` render it.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from dataclasses import dataclass

from archcalc.grading.verdicts import CellVerdict, GradeResult, Status
from archcalc.render.csv_cells import neutral_record

#: "matches <what> [<convention>, ...]; expected ..." (archcalc.grading.cells.grade_number's notes)
_MATCHES = re.compile(r"^matches (?P<what>.+?)(?: \[(?P<names>[^\]]+)\])?(?:, (?:rounded|read as)[^;]*)?; expected")


@dataclass(frozen=True)
class QuestionSummary:
    """How one question went: counts, the success rate, the common wrong answer and mistake."""

    row: str
    quantity: str
    sheets: int
    right: int
    wrong: int
    not_checkable: int
    common_wrong: str | None = None
    common_wrong_count: int = 0
    common_mistake: str | None = None
    common_mistake_count: int = 0
    conventions: tuple[tuple[str, int], ...] = ()

    @property
    def unanswered(self) -> int:
        return self.sheets - self.right - self.wrong - self.not_checkable

    @property
    def success_rate(self) -> float:
        return self.right / self.sheets if self.sheets else 0.0

    def to_dict(self) -> dict:
        return {
            "row": self.row,
            "quantity": self.quantity,
            "sheets": self.sheets,
            "right": self.right,
            "wrong": self.wrong,
            "not_checkable": self.not_checkable,
            "unanswered": self.unanswered,
            "success_rate": self.success_rate,
            "most_common_wrong_answer": self.common_wrong,
            "most_common_wrong_answer_count": self.common_wrong_count,
            "most_common_mistake": self.common_mistake,
            "most_common_mistake_count": self.common_mistake_count,
            "conventions_used_instead": dict(self.conventions),
        }


@dataclass(frozen=True)
class ClassSummary:
    """Every question of a folder of answers, and the conventions used instead over the class."""

    sheets: int
    unreadable: int
    questions: tuple[QuestionSummary, ...]
    conventions: tuple[tuple[str, int], ...] = ()

    def to_dict(self) -> dict:
        return {
            "sheets": self.sheets,
            "unreadable": self.unreadable,
            "conventions_used_instead": dict(self.conventions),
            "questions": [q.to_dict() for q in self.questions],
        }


def mistake_of(cell: CellVerdict) -> tuple[str | None, str | None]:
    """What a wrong cell matched instead, and the conventions it was right under (``flops/torch``:
    the first two ``archcalc check`` names), or None."""
    match = _MATCHES.match(cell.note)
    if not match:
        if cell.note and not cell.note.startswith("expected"):
            return cell.note.removeprefix("matches "), None
        return None, None
    names = [n.strip() for n in (match["names"] or "").split(",") if n.strip() and n.strip() != "..."]
    return match["what"], ("/".join(names) if names else None)


def _row_id(row) -> str:
    """A row as the class's sheets share it: the layer (or block) it was matched to, else its label."""
    return row.layer if row.layer and row.matched_by != "input" else row.label


def _questions(result: GradeResult) -> tuple[list[tuple[str, CellVerdict]], set[tuple[str, str]]]:
    """The graded cells of one sheet by question, and every question the sheet asks: a row it
    has, in a column it has (a blank cell of a present row and column counts as asked)."""
    cells = [(_row_id(row), cell) for row in result.rows for cell in row.cells]
    cells += [("total", cell) for cell in result.totals]
    columns = {cell.quantity for row in result.rows for cell in row.cells}
    asked = {(_row_id(row), quantity) for row in result.rows for quantity in columns}
    asked |= {("total", cell.quantity) for cell in result.totals}
    return cells, asked


def class_summary(results: list[GradeResult], unreadable: int = 0) -> ClassSummary:
    """The summary of ``results`` (one per readable sheet); ``unreadable`` sheets count as such."""
    order: list[tuple[str, str]] = []
    cells: dict[tuple[str, str], list[CellVerdict]] = {}
    asking: Counter[tuple[str, str]] = Counter()
    for result in results:
        found, asked = _questions(result)
        asking.update(asked)
        for row_id, cell in found:
            key = (row_id, cell.quantity)
            if key not in cells:
                order.append(key)
                cells[key] = []
            cells[key].append(cell)
    overall: Counter[str] = Counter()
    questions = []
    for key in order:
        found = cells[key]
        wrong = [c for c in found if c.status is Status.WRONG]
        from archcalc.grading.grade import BLANK_NOTE

        written = Counter(c.written for c in wrong if c.note != BLANK_NOTE)  # a blank is no wrong answer
        mistakes: Counter[str] = Counter()
        conventions: Counter[str] = Counter()
        for cell in wrong:
            what, convention = mistake_of(cell)
            if what:
                mistakes[what] += 1
            if convention:
                conventions[convention] += 1
        overall.update(conventions)
        common_wrong = written.most_common(1)
        common_mistake = mistakes.most_common(1)
        questions.append(QuestionSummary(
            row=key[0], quantity=key[1], sheets=max(asking[key], len(found)),
            right=sum(1 for c in found if c.status is Status.RIGHT), wrong=len(wrong),
            not_checkable=sum(1 for c in found if c.status is Status.NOT_CHECKABLE),
            common_wrong=common_wrong[0][0] if common_wrong else None,
            common_wrong_count=common_wrong[0][1] if common_wrong else 0,
            common_mistake=common_mistake[0][0] if common_mistake else None,
            common_mistake_count=common_mistake[0][1] if common_mistake else 0,
            conventions=tuple(conventions.most_common()),
        ))
    return ClassSummary(len(results), unreadable, tuple(questions), tuple(overall.most_common()))


# -- rendering ------------------------------------------------------------------------------

SUMMARY_COLUMNS = ("question", "sheets", "right", "wrong", "not answered", "success rate", "most common wrong answer",
                   "most common mistake", "conventions used instead")
#: the columns a terminal shows (the counts folded into "right")
SHORT_COLUMNS = ("question", "right", "most common wrong answer", "most common mistake", "conventions used instead")


def _question_label(q: QuestionSummary) -> str:
    from archcalc.grading.exports import quantity_label

    return f"{q.row}, {quantity_label(q.quantity)}"


def summary_records(summary: ClassSummary) -> list[dict[str, object]]:
    """One record per question, the columns of :data:`SUMMARY_COLUMNS`."""
    records = []
    for q in summary.questions:
        records.append({
            "question": _question_label(q),
            "sheets": q.sheets,
            "right": q.right,
            "wrong": q.wrong,
            "not answered": q.unanswered + q.not_checkable,
            "success rate": f"{q.success_rate:.0%}",
            "most common wrong answer": f"{q.common_wrong} ({q.common_wrong_count}x)" if q.common_wrong else "",
            "most common mistake": f"{q.common_mistake} ({q.common_mistake_count}x)" if q.common_mistake else "",
            "conventions used instead": ", ".join(f"{name} ({n}x)" for name, n in q.conventions),
        })
    return records


def short_records(summary: ClassSummary) -> tuple[list[dict[str, object]], int]:
    """:func:`summary_records` for a terminal: the questions not everyone got right, hardest
    first, ``right`` written ``24/30 (80%), 2 blank``; and how many questions everyone got right."""
    records = []
    pairs = sorted(zip(summary_records(summary), summary.questions), key=lambda p: p[1].success_rate)
    for record, q in pairs:
        if q.right < q.sheets:
            blank = q.unanswered + q.not_checkable
            right = f"{q.right}/{q.sheets} ({q.success_rate:.0%})" + (f", {blank} blank" if blank else "")
            records.append({**record, "right": right})
    return records, len(summary.questions) - len(records)


def summary_heading(summary: ClassSummary) -> str:
    text = f"Class summary: {summary.sheets} sheet{'s' if summary.sheets != 1 else ''} graded"
    if summary.unreadable:
        text += f", {summary.unreadable} unreadable"
    if summary.conventions:
        text += "; conventions used instead: " + ", ".join(f"{name} ({n}x)" for name, n in summary.conventions)
    return text


def summary_csv(summary: ClassSummary) -> str:
    buffer = io.StringIO()
    buffer.write(f"# {summary_heading(summary)}\n")
    writer = csv.DictWriter(buffer, fieldnames=SUMMARY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(neutral_record(r) for r in summary_records(summary))  # answers are the students' text
    return buffer.getvalue()


def summary_markdown(summary: ClassSummary) -> str:
    lines = [f"**{summary_heading(summary)}**", "", "| " + " | ".join(SUMMARY_COLUMNS) + " |",
             "|" + "|".join(" --- " for _ in SUMMARY_COLUMNS) + "|"]
    for record in summary_records(summary):
        lines.append("| " + " | ".join(str(record[c]).replace("|", "\\|") for c in SUMMARY_COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def summary_json(summary: ClassSummary) -> str:
    return json.dumps(summary.to_dict(), indent=2) + "\n"


SUMMARY_EXPORTERS = {"csv": summary_csv, "md": summary_markdown, "json": summary_json}


__all__ = ["SHORT_COLUMNS", "SUMMARY_COLUMNS", "SUMMARY_EXPORTERS", "ClassSummary", "QuestionSummary", "class_summary",
           "mistake_of", "short_records",
           "summary_csv", "summary_heading", "summary_json", "summary_markdown", "summary_records"]
