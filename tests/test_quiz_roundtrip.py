"""The round trip: 30 variants written by ``archcalc quiz``, filled in by "students" (the key, and
the key with known mistakes and blanks), graded by ``archcalc check`` on the folder with no
further arguments: the grades and the class summary are exactly what was planted.

The mistakes are made here, with the test's own arithmetic on the key's text: a number plus
one, a shape one pixel too tall, a receptive field two too wide, a blank (``?``), and, for
the FLOPs column under ``textbook`` (2 x MACs + bias adds), twice the MACs column: the count
of the ``flops`` convention, which the class summary names as the convention used instead
(with ``exact``, equal to it on a layer with biases, or ``torch``).
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
from collections import Counter

import pytest

STUDENTS = 30


def table_lines(text: str) -> tuple[list[str], int]:
    """The lines of the key and the index of the table's heading line."""
    lines = text.splitlines()
    return lines, next(i for i, line in enumerate(lines) if line.startswith("| Layer |"))


def cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def row_line(values: list[str]) -> str:
    return "| " + " | ".join(values) + " |"


def spoil(text: str, rng: random.Random) -> tuple[str, dict[tuple[str, str], str]]:
    """The key with 1 to 4 cells spoiled; what was done to each (row, heading)."""
    lines, head = table_lines(text)
    original = list(lines)
    headings = cells(lines[head])
    rows = []
    index = head + 2
    while index < len(lines) and lines[index].startswith("|"):
        rows.append(index)
        index += 1
    targets = [(i, c) for i in rows for c in range(2, len(headings)) if cells(lines[i])[c]]
    planted: dict[tuple[str, str], str] = {}
    for i, c in rng.sample(targets, rng.randint(1, min(4, len(targets)))):
        values = cells(lines[i])
        heading, written = headings[c], values[c]
        key_macs = cells(original[i])[headings.index("MACs")] if "MACs" in headings else ""
        if heading == "FLOPs" and key_macs:
            macs = int(key_macs.replace(",", ""))
            if 2 * macs != int(written.replace(",", "")):
                values[c], how = f"{2 * macs:,}", "2 x MACs"
            else:
                values[c], how = f"{int(written.replace(',', '')) + 1:,}", "plus one"
        elif rng.random() < 0.2:
            values[c], how = "?", "blank"
        elif heading == "Output shape":
            dims = [int(v) for v in re.findall(r"\d+", written)]
            dims[0] += 1
            values[c], how = "x".join(map(str, dims)), "shape"
        elif heading == "Receptive field":
            values[c], how = str(int(written) + 2), "rf"
        else:
            values[c], how = f"{int(written.replace(',', '')) + 1:,}", "plus one"
        lines[i] = row_line(values)
        planted[(values[0], heading)] = how
    return "\n".join(lines) + "\n", planted


QUANTITY = {"Output shape": "shape", "Params": "params", "Memory (bytes)": "memory", "MACs": "macs",
            "FLOPs": "flops", "Receptive field": "rf"}


@pytest.fixture(scope="module")
def quiz(tmp_path_factory):
    from typer.testing import CliRunner

    from archcalc.cli import app, normalize_argv

    root = tmp_path_factory.mktemp("roundtrip")
    runner = CliRunner()

    def run(*args):
        return runner.invoke(app, normalize_argv(list(args)))

    result = run("quiz", "layer", "--students", str(STUDENTS), "--seed", "31", "--convention", "textbook",
                 "-o", str(root / "quiz"))
    assert result.exit_code == 0, result.output
    right, mixed = root / "right", root / "mixed"
    right.mkdir()
    mixed.mkdir()
    rng = random.Random(7)
    planted = {}
    for k in range(1, STUDENTS + 1):
        key = (root / "quiz" / f"key-{k:02d}.md").read_text()
        (right / f"student-{k:02d}.md").write_text(key)
        spoiled, done = spoil(key, rng)
        (mixed / f"student-{k:02d}.md").write_text(spoiled)
        planted[f"student-{k:02d}.md"] = done
    return root, run, planted


def test_keys_filled_in_grade_all_right(quiz):
    root, run, _ = quiz
    result = run("check", str(root / "right"))
    assert result.exit_code == 0, result.output
    records = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(records) == STUDENTS
    assert all(r["cells wrong"] == "0" and r["not checkable"] == "0" and r["score"] == "1.0000" for r in records)


def test_planted_mistakes_are_exactly_the_grades(quiz):
    root, run, planted = quiz
    summary = root / "summary.json"
    result = run("check", str(root / "mixed"), "--summary", str(summary))
    assert result.exit_code == 1, result.output
    records = {r["file"]: r for r in csv.DictReader(io.StringIO(result.stdout))}
    assert sorted(records) == sorted(planted)
    for name, done in planted.items():
        # a blank scores 0 of its cell (issue 18): it counts as wrong, never as "not checkable"
        wrong = len(done)
        key_cells = int(records[name]["cells right"]) + int(records[name]["cells wrong"])
        assert int(records[name]["cells wrong"]) == wrong, (name, done)
        assert int(records[name]["not checkable"]) == 0, (name, done)
        assert int(records[name]["cells right"]) == key_cells - wrong

    # the class summary counts the same mistakes, question by question
    data = json.loads(summary.read_text())
    assert data["sheets"] == STUDENTS and data["unreadable"] == 0
    expected_wrong: Counter = Counter()
    expected_blank: Counter = Counter()
    doubled: Counter = Counter()
    for done in planted.values():
        for (row, heading), how in done.items():
            question = ("total" if row == "total" else row, QUANTITY[heading])
            if how == "blank":
                expected_blank[question] += 1
            else:
                expected_wrong[question] += 1
            if how == "2 x MACs":
                doubled[question] += 1
    questions = {(q["row"], q["quantity"]): q for q in data["questions"]}
    for question, q in questions.items():
        assert q["wrong"] == expected_wrong[question] + expected_blank[question], question
        assert q["not_checkable"] == 0, question
        assert q["success_rate"] == pytest.approx(q["right"] / q["sheets"])
        assert q["right"] + q["wrong"] + q["not_checkable"] == q["sheets"]
        if doubled[question]:
            # 2 x MACs is the count of `flops` (and of `exact` and `torch` on some layers)
            named = q["conventions_used_instead"]
            assert sum(n for names, n in named.items() if "flops" in names.split("/")) == doubled[question], q
    assert sum(doubled.values()) > 0
    overall = data["conventions_used_instead"]
    assert sum(n for names, n in overall.items() if "flops" in names.split("/")) == sum(doubled.values())
    assert sum(q["wrong"] for q in data["questions"]) == sum(expected_wrong.values()) + sum(expected_blank.values())


def test_the_class_summary_shows_on_the_terminal(quiz):
    root, run, _ = quiz
    result = run("check", str(root / "mixed"), "-f", "table")
    assert "Class summary: 30 sheets graded" in result.stdout
    assert "conventions used instead: flops/" in result.stdout
