"""A teacher's grading day: returned sheets graded against the issued keys, by student.

* :func:`sheet_identity` reads who handed a sheet in and which variant it is (the
  ``- Student:`` and ``- Quiz: conv, variant 3, seed 7`` lines ``archcalc quiz`` writes).
* :func:`read_keys` reads the quiz folder (``quiz.json`` and ``key-<k>.json``);
  :func:`keyed_sheet` puts a student's answers into the issued key's cells: every cell
  the sheet asked is graded (one left out is blank: 0 of 1), under the key's model,
  input and convention, whatever the sheet's ``Model:`` line now says (an edited one is
  flagged).
* :func:`gradebook_csv` writes one row per student for a learning platform's grade import;
  :func:`feedback_markdown` one file per student with the derivation of each wrong cell.

The gradebook's first columns are those of a Canvas gradebook export (``Student``, ``ID``,
``SIS User ID``, ``SIS Login ID``, ``Section``), which Canvas's "Import" matches students
by; Moodle's CSV grade import ("Import grades > CSV file") maps any column to a user
field (``Email address``, ``ID number``) and any numeric column to a grade item, so the
same file serves both. Grades are plain numbers with a decimal point; one header row;
UTF-8. Formatting only: nothing here computes a verdict.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archcalc.errors import InputError
from archcalc.grading.answers import AnswerCell, AnswerRow, AnswerSheet
from archcalc.grading.sheets import column_quantity
from archcalc.grading.verdicts import GradeResult, Status

_STUDENT = re.compile(r"^[\s>*_`-]*(?:student|student name|[ée]tudiant|[ée]tudiante|estudiante|studentin)\s*:\s*(?P<name>.*?)\s*$",
                      re.IGNORECASE | re.MULTILINE)
_QUIZ = re.compile(r"^[\s>*_`-]*quiz\s*:\s*(?P<kind>[\w-]+)\s*,\s*variant\s+(?P<variant>\d+)"
                   r"(?:\s*,\s*seed\s+(?P<seed>-?\d+))?", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class SheetIdentity:
    """Who handed a sheet in and which variant it is (None where the sheet does not say)."""

    student: str | None = None
    kind: str | None = None
    variant: int | None = None
    seed: int | None = None


def sheet_identity(text: str) -> SheetIdentity:
    """The ``- Student: Ann Lee`` and ``- Quiz: conv, variant 3, seed 7`` lines of a sheet; a
    student line left as the sheet's blank (``____``) names nobody."""
    student = None
    match = _STUDENT.search(text)
    if match:
        name = match["name"].strip().strip("`*_").strip()
        student = name if name and not set(name) <= {"_", " ", "."} else None
    quiz = _QUIZ.search(text)
    if quiz is None:
        return SheetIdentity(student)
    return SheetIdentity(student, quiz["kind"], int(quiz["variant"]), int(quiz["seed"]) if quiz["seed"] else None)


# -- the issued keys -------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyRow:
    """One row of an issued key: its label, and the quantities the sheet asked in it."""

    label: str
    asked: tuple[str, ...]


@dataclass(frozen=True)
class IssuedKey:
    """One variant as issued (``key-<k>.json``): what its sheet asked and what it is graded against."""

    variant: int
    student: str | None
    kind: str
    title: str
    model: str
    input: str
    convention: str
    dtype: str
    batch: int
    rows: tuple[KeyRow, ...]
    #: the unit of each quantity's column (``B`` of ``Memory (bytes)``), for the cells left blank
    units: dict[str, str] = field(default_factory=dict)

    @property
    def cells(self) -> int:
        return sum(len(r.asked) for r in self.rows)


@dataclass(frozen=True)
class IssuedQuiz:
    """A quiz folder: its title and kind, and every variant's key by number."""

    title: str
    kind: str
    keys: dict[int, IssuedKey] = field(default_factory=dict)

    def by_student(self, name: str) -> IssuedKey | None:
        wanted = name.strip().lower()
        return next((k for k in self.keys.values() if k.student and k.student.strip().lower() == wanted), None)


def read_keys(folder: str | Path) -> IssuedQuiz:
    """The quiz folder ``archcalc quiz -o`` wrote: ``quiz.json`` and each ``key-<k>.json``."""
    folder = Path(folder)
    manifest = folder / "quiz.json"
    try:
        quiz = json.loads(manifest.read_text(encoding="utf-8"))
    except OSError:
        raise InputError(f"--keys {folder}: no quiz.json there (the folder `archcalc quiz -o` wrote)") from None
    except json.JSONDecodeError as error:
        raise InputError(f"--keys {folder}: quiz.json is not JSON ({error.msg}, line {error.lineno})") from None
    keys = {}
    for entry in quiz.get("variants", []):
        path = folder / entry["files"]["json"]
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            raise InputError(f"--keys {folder}: cannot read the key {path.name}") from None
        every = data["kind"] == "find-error"  # a planted table: every cell is the student's answer
        rows = tuple(
            KeyRow(row["label"], tuple(a["quantity"] for a in row["answers"] if every or a.get("shown") is None))
            for row in data["rows"]
        )
        keys[int(data["variant"])] = IssuedKey(
            int(data["variant"]), data.get("student") or entry.get("student"), data["kind"], data["title"],
            data["model"], data["input"], data["convention"], data.get("dtype", "float32"),
            int(data.get("batch", 1)), tuple(r for r in rows if r.asked),
            {c["quantity"]: column_quantity(c["heading"])[1] for c in data.get("columns", [])})
    return IssuedQuiz(str(quiz.get("title", "")), str(quiz.get("kind", "")), keys)


def _same_model(written: str | None, issued: str) -> bool:
    def plain(text: str) -> str:
        return re.sub(r"\s+", "", text.strip().strip("`"))

    return written is None or plain(written) == plain(issued)


def keyed_sheet(sheet: AnswerSheet, key: IssuedKey) -> tuple[AnswerSheet, tuple[str, ...]]:
    """The student's answers in the cells the issued key asks (a cell left out is ``?``: blank),
    declared with the key's model, input and convention; and the notes for the teacher (an
    edited ``Model:`` line, rows that are not on the issued sheet)."""
    notes = []
    if not _same_model(sheet.model, key.model):
        notes.append(f"the sheet's Model: line was edited: it no longer matches the issued key of variant "
                     f"{key.variant}, which it is graded against")
    written: dict[str, AnswerRow] = {}
    for row in sheet.rows:
        for name in (row.name, row.label):
            if name:
                written.setdefault(name.strip().lower(), row)
    totals = {c.quantity: c for c in sheet.totals}
    rows, total_cells, used = [], [], set()
    for key_row in key.rows:
        label = key_row.label.strip().lower()
        if label == "total":
            total_cells += [totals.get(q) or AnswerCell(q, "?", key.units.get(q, "")) for q in key_row.asked]
            continue
        found = written.get(label)
        used.add(id(found))
        cells = {c.quantity: c for c in found.cells} if found is not None else {}
        line = found.line if found is not None else None
        rows.append(AnswerRow(key_row.label, key_row.label, found.kind if found is not None else None,
                              tuple(cells.get(q) or AnswerCell(q, "?", key.units.get(q, ""), line)
                                    for q in key_row.asked), line))
    extra = [r.label for r in sheet.rows if id(r) not in used and r.cells]
    if extra:
        notes.append(f"not on the issued sheet, not graded: {', '.join(extra)}")
    keyed = AnswerSheet(sheet.source, sheet.format, tuple(rows), tuple(total_cells), convention=key.convention,
                        model=key.model, input=key.input, batch=key.batch, dtype=key.dtype,
                        notes=sheet.notes + tuple(notes))
    return keyed, tuple(notes)


# -- a student's grade -------------------------------------------------------------------------


@dataclass(frozen=True)
class StudentGrade:
    """One returned sheet: who, which variant, the file, the result (or the error), the flags."""

    student: str
    variant: int | None
    file: str
    result: GradeResult | None = None
    flags: tuple[str, ...] = ()
    error: str = ""

    @property
    def points(self) -> int:
        return self.result.right if self.result is not None else 0

    @property
    def out_of(self) -> int:
        return self.result.right + self.result.wrong if self.result is not None else 0

    def question_points(self) -> dict[str, int]:
        """Points per question (a row of the table, and ``total``): its right cells."""
        if self.result is None:
            return {}
        points = {row.label: row.right for row in self.result.rows}
        if self.result.totals:
            points["total"] = sum(1 for c in self.result.totals if c.status is Status.RIGHT)
        return points


#: the first columns, as a Canvas gradebook export has them (Canvas matches students by them)
CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
#: roster columns read into the Canvas and Moodle identifier columns
_ROSTER_FIELDS = {
    "ID": ("id", "canvas id", "user id"),
    "SIS User ID": ("sis user id", "student id", "student number", "matricule", "id number"),
    "SIS Login ID": ("sis login id", "login", "username", "login id"),
    "Section": ("section", "group", "groupe"),
    "Email address": ("email", "email address", "e-mail", "mail"),
}


def roster_records(path: str | Path) -> dict[str, dict[str, str]]:
    """The roster's identifier columns by student name (empty where the roster has only names)."""
    from archcalc.quiz.roster import read_roster

    names = read_roster(path)
    text = Path(path).read_text(encoding="utf-8-sig")
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    rows = list(csv.DictReader(io.StringIO("\n".join(lines))))
    records = {name: {} for name in names}
    if not rows:
        return records
    headers = {h.strip().lower(): h for h in rows[0] if h}
    name_column = next((headers[h] for h in ("name", "student", "students", "full name", "nom") if h in headers),
                       None)
    if name_column is None:
        return records
    for row in rows:
        name = (row.get(name_column) or "").strip()
        if name in records:
            for column, words in _ROSTER_FIELDS.items():
                source = next((headers[w] for w in words if w in headers), None)
                if source is not None:
                    records[name][column] = (row.get(source) or "").strip()
    return records


def _points(value: float) -> str:
    return f"{value:g}"


def gradebook_csv(grades: list[StudentGrade], title: str, missing: list[str] = (),
                  roster: dict[str, dict[str, str]] | None = None) -> str:
    """One row per student: the Canvas identifier columns, ``Email address`` (Moodle), the
    variant, the score (``<title>``: cells right), out of how many, and the points of each
    question. A student who returned nothing has empty grades (both platforms leave an
    empty grade alone)."""
    roster = roster or {}
    questions: list[str] = []
    for grade in grades:
        for question in grade.question_points():
            if question not in questions:
                questions.append(question)
    score_column = title or "Score"
    columns = [*CANVAS_COLUMNS, "Email address", "Variant", score_column, "Out of",
               *(f"{q} (points)" for q in questions)]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for grade in sorted(grades, key=lambda g: g.student.lower()):
        ids = roster.get(grade.student, {})
        points = grade.question_points()
        writer.writerow([grade.student, *(ids.get(c, "") for c in CANVAS_COLUMNS[1:]), ids.get("Email address", ""),
                         grade.variant if grade.variant is not None else "",
                         _points(grade.points) if grade.result is not None else "",
                         grade.out_of if grade.result is not None else "",
                         *(points.get(q, "") for q in questions)])
    for name in missing:
        ids = roster.get(name, {})
        writer.writerow([name, *(ids.get(c, "") for c in CANVAS_COLUMNS[1:]), ids.get("Email address", ""), "", "",
                         "", *("" for _ in questions)])
    return buffer.getvalue()


def feedback_markdown(grade: StudentGrade) -> str:
    """One student's feedback: the score, the flags, every cell's verdict, and the derivation of
    each wrong one."""
    from archcalc.grading.exports import to_markdown

    lines = [f"# Feedback: {grade.student}", ""]
    if grade.variant is not None:
        lines.append(f"- Variant: {grade.variant}")
    lines.append(f"- File: {grade.file}")
    if grade.result is not None:
        lines.append(f"- Score: {grade.points} of {grade.out_of} cells right")
    lines += [f"- Note: {flag}" for flag in grade.flags]
    if grade.error:
        lines.append(f"- Not graded: {grade.error}")
    lines.append("")
    if grade.result is not None:
        lines.append(to_markdown(grade.result))
    return "\n".join(lines).rstrip() + "\n"


def feedback_name(student: str) -> str:
    """A file name for a student's feedback: ``feedback-ann-lee.md``."""
    slug = re.sub(r"[^a-z0-9]+", "-", student.lower()).strip("-") or "student"
    return f"feedback-{slug}.md"


__all__ = ["IssuedKey", "IssuedQuiz", "SheetIdentity", "StudentGrade", "feedback_markdown", "feedback_name",
           "gradebook_csv", "keyed_sheet", "read_keys", "roster_records", "sheet_identity"]
