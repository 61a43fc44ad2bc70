"""The round trip over 200 random variants of every quiz kind (issue 18, "must show").

Each variant's key is filled in by a "student" whose every cell is drawn from a battery:
the right answer as the key writes it, the same rounded to three significant digits with a
K/M/G suffix, in another unit (KiB, decimal KB, MB; a Keras shape with its batch axis;
a receptive field as h x w), or a planted mistake (one more, one pixel too tall, two too
wide, the MACs in the FLOPs column, off by 1000, a blank). What each cell should get is
decided here, from how it was made, with the test's own arithmetic on the key's values:
right for the first group, wrong for the second. Every sheet is graded in-process by
``grade_sheet`` (what ``archcalc check`` runs); every cell's verdict must be the planted
one, and the gradebook's points must be the count of right cells planted, per question.
"""

from __future__ import annotations

import csv
import io
import math
import random
from collections import Counter

import pytest

from archcalc.grading import Status, grade_sheet, read_answers_text
from archcalc.grading.gradebook import StudentGrade, gradebook_csv
from archcalc.quiz import QuizOptions, make_quiz
from archcalc.quiz.markdown import render

#: (kind, options, variants): 200 variants in all, every kind
PLAN = [
    ("conv", QuizOptions(), 20),
    ("pool", QuizOptions(), 15),
    ("dense", QuizOptions(), 15),
    ("depthwise", QuizOptions(), 15),
    ("separable", QuizOptions(convention="textbook"), 15),
    ("dilated", QuizOptions(), 15),
    ("transposed", QuizOptions(), 15),
    ("layer", QuizOptions(), 21),
    ("table", QuizOptions(), 20),
    ("rf", QuizOptions(), 15),
    ("compare", QuizOptions(), 12),
    ("find-error", QuizOptions(), 12),
    ("table", QuizOptions(model="lenet5"), 10),
]
SUFFIX = {1: "K", 2: "M", 3: "G", 4: "T"}


def test_the_plan_covers_every_kind_with_200_variants():
    from archcalc.quiz import quiz_kinds

    assert {kind for kind, _, _ in PLAN} == set(quiz_kinds())
    assert sum(n for _, _, n in PLAN) == 200


def rounded(value: int) -> str:
    """``31,710,976`` -> ``31.7M``: three significant digits and a suffix (the value >= 10,000)."""
    k = min(4, int(math.log10(value)) // 3)
    mantissa = value / 1000 ** k
    decimals = max(0, 2 - int(math.log10(mantissa)))
    return f"{mantissa:.{decimals}f}{SUFFIX[k]}"


def off_by_1000(value: int) -> str:
    """``235,200`` -> ``235.2M``: the mantissa of the right unit under the next one (the value >= 1,000)."""
    k = min(3, int(math.log10(value)) // 3)
    return f"{value / 1000 ** k:.4g}{SUFFIX[k + 1]}"


def one_more(value: int) -> str:
    """The value plus one (two, where one more would end in a 0 and read as rounded)."""
    wrong = value + 1 if (value + 1) % 10 or value + 1 < 1000 else value + 2
    return f"{wrong:,}"


def candidate(rng: random.Random, answer, unit: str, row_answers: dict, batch: int) -> tuple[str, bool, str]:
    """(text, right?, how) for one cell of the key."""
    value, text, quantity = answer.value, answer.text, answer.quantity
    pick = rng.random()
    if pick < 0.08:
        return "?", False, "blank"
    if pick < 0.40:
        return text, True, "as the key"
    if quantity == "shape":
        dims = list(value)
        if pick < 0.70 and len(dims) == 3 and batch == 1:
            c, h, w = dims
            return f"(None, {h}, {w}, {c})", True, "keras shape"
        if len(dims) == 3:
            c, h, w = dims
            return f"{h + 1}x{w}x{c}", False, "one pixel too tall"
        return f"{dims[0] + 1}", False, "one more"
    if quantity == "rf":
        h, w = (int(v) for v in value)
        if pick < 0.70:
            return f"{h}x{w}", True, "h x w"
        return f"{h + 2}", False, "two too wide"
    if unit not in ("", "B") and not (quantity == "memory" and unit == "elements"):
        return text, True, "as the key"  # a column in K or MB: the key's text
    if pick < 0.70:
        if quantity == "memory" and unit == "B" and value >= 2048:
            variant = rng.choice(["KiB", "KB", "MB"] if value >= 200_000 else ["KiB", "KB"])
            scale = {"KiB": 1024, "KB": 1000, "MB": 10**6}[variant]
            return f"{value / scale:.2f} {variant}", True, variant
        if value >= 10_000:
            return rounded(value), True, "rounded"
        return text, True, "as the key"
    macs = row_answers.get("macs")
    if quantity == "flops" and macs is not None and macs.value != value and pick < 0.80:
        return macs.text, False, "MACs for FLOPs"
    if value >= 1000 and pick < 0.90:
        return off_by_1000(value), False, "off by 1000"
    return one_more(value), False, "one more"


def fill(variant, rng: random.Random) -> tuple[str, dict[tuple[int, str], tuple[bool, str]]]:
    """The key with every answer cell drawn from the battery; (line, heading) -> (right?, how)."""
    text = render(variant, key=True, derivations=False)
    lines = text.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("| Layer |"))
    headings = [c.strip() for c in lines[head].strip().strip("|").split("|")]
    by_heading = {c.heading: c for c in variant.columns}
    planted: dict[tuple[int, str], tuple[bool, str]] = {}
    for row_index, row in enumerate(variant.rows):
        index = head + 2 + row_index
        cells = [c.strip() for c in lines[index].strip().strip("|").split("|")]
        answers = {a.quantity: a for a in variant.row_answers(row)}
        for position, heading in enumerate(headings[2:], start=2):
            column = by_heading[heading]
            answer = answers.get(column.quantity)
            if answer is None or not cells[position]:
                continue
            written, right, how = candidate(rng, answer, column.unit, answers, variant.batch)
            cells[position] = written
            planted[(index + 1, column.quantity)] = (right, how)
        lines[index] = "| " + " | ".join(cells) + " |"
    return "\n".join(lines) + "\n", planted


@pytest.fixture(scope="module")
def graded():
    rng = random.Random(18)
    out = []
    for plan_index, (kind, options, count) in enumerate(PLAN):
        for variant in make_quiz(kind, options, students=count, seed=100 + plan_index):
            sheet_text, planted = fill(variant, rng)
            result = grade_sheet(read_answers_text(sheet_text, f"{kind}-{variant.number}.md", ".md"),
                                 variant.report)
            out.append((f"{kind}#{plan_index}", variant, planted, result))
    return out


def test_every_cell_gets_the_planted_verdict(graded):
    hows: Counter = Counter()
    for kind, variant, planted, result in graded:
        seen = {}
        for cell in result.cells:
            seen[(cell.line, cell.quantity)] = cell
        assert set(seen) == set(planted), (kind, variant.number)
        for place, (right, how) in planted.items():
            cell = seen[place]
            expected = Status.RIGHT if right else Status.WRONG
            assert cell.status is expected, (kind, variant.number, place, how, cell.written, cell.expected, cell.note)
            hows[how] += 1
            if how == "blank":
                assert cell.note == "blank (not answered)"
            if how == "MACs for FLOPs" and variant.convention == "flops":  # FLOPs = 2 x MACs
                assert "MACs, not FLOPs (half)" in cell.note
            if how == "off by 1000":
                assert "off by 1000" in cell.note, (cell.written, cell.expected, cell.note)
    # the battery was really used: every kind of answer, many times
    for how in ("as the key", "rounded", "KiB", "KB", "keras shape", "h x w", "blank", "one more",
                "one pixel too tall", "two too wide", "MACs for FLOPs", "off by 1000"):
        assert hows[how] >= 10, (how, hows)


def test_the_gradebook_points_are_what_was_planted(graded):
    grades, expected = [], {}
    for kind, variant, planted, result in graded:
        student = f"{kind} student {variant.number}"
        grades.append(StudentGrade(student, variant.number, f"{kind}.md", result))
        per_line = Counter(line for (line, _), (right, _) in planted.items() if right)
        expected[student] = (sum(per_line.values()), len(planted),
                             {row.label: per_line[row.line] for row in result.rows},
                             sum(1 for (line, _), (right, _) in planted.items()
                                 if right and line not in {r.line for r in result.rows}))
    records = list(csv.DictReader(io.StringIO(gradebook_csv(grades, "Quiz"))))
    assert len(records) == len(graded)
    for record in records:
        points, cells, per_row, total_row = expected[record["Student"]]
        assert float(record["Quiz"]) == points and int(record["Out of"]) == cells
        for label, right in per_row.items():
            assert record[f"{label} (points)"] == str(right)
        if record.get("total (points)"):  # the sheets with a total row
            assert record["total (points)"] == str(total_row)
        else:
            assert total_row == 0
