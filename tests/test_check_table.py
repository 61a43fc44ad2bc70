"""The ``check`` verdict table as a terminal shows it, piped at 80 columns: one line per cell
where it fits, the row -> layer mapping only when the names differ, notes wrapped between
words, and a mark for every verdict that needs no colour."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

import archcalc
from archcalc.grading import grade_sheet, read_answers
from archcalc.render.styled import Terminal
from archcalc.render.verdicts import render_result

DATA = Path(__file__).parent / "data" / "answers"


def graded(name: str, model: str = "lenet5"):
    sheet = read_answers(DATA / name)
    return grade_sheet(sheet, archcalc.analyze(model, sheet.input))


def shown(result, width: int = 80) -> list[str]:
    out = io.StringIO()
    render_result(result, Terminal(file=out, width=width, color=False))
    return out.getvalue().splitlines()


def cell_lines(lines: list[str]) -> list[str]:
    """The table's lines: after the "Row Quantity ..." header, up to the legend."""
    start = next(i for i, line in enumerate(lines) if line.split()[:2] == ["Row", "Quantity"])
    end = next(i for i, line in enumerate(lines) if line.startswith("✓ right"))
    return lines[start + 1:end]


def test_one_line_per_cell_at_80_columns():
    result = graded("lenet5_typos.csv")
    lines = shown(result)
    assert max(len(line) for line in lines) <= 80
    table = cell_lines(lines)
    assert len(result.cells) == 30 and len(table) == 30
    marks = [line[0] for line in table]
    assert marks.count("✗") == result.wrong == 3 and marks.count("✓") == result.right == 27


def test_the_mapping_shows_only_when_names_differ():
    same = "\n".join(shown(graded("lenet5_typos.csv")))
    assert "→" not in same and "-> conv1" not in same and "conv1 (conv)" not in same
    pasted = "\n".join(shown(graded("torchsummary_lenet5_typos.txt"), 120))
    assert "Conv2d-1 → conv1" in pasted
    assert "rows matched to layers by order" in pasted and "(order)" not in pasted


@pytest.mark.parametrize("width", [60, 80, 100])
def test_notes_wrap_between_words(width):
    result = graded("torchsummary_lenet5_typos.txt")
    lines = cell_lines(shown(result, width))
    notes = [cell.note for row in result.rows for cell in row.cells] + [cell.note for cell in result.totals]
    # rebuild each cell's note from its first line and the continuation lines under it
    header = next(line for line in shown(result, width) if line.split()[:2] == ["Row", "Quantity"])
    column = header.index("Note")
    rebuilt, current = [], None
    for line in lines:
        piece = line[column:].strip() if len(line) > column else ""
        if line[0] in "✓✗?":
            if current is not None:
                rebuilt.append(current)
            current = piece
        elif piece:
            current = f"{current} {piece}".strip()
    rebuilt.append(current)
    assert rebuilt == notes
    assert max(len(line) for line in shown(result, width)) <= width


def test_marks_survive_without_colour(run_cli):
    result = run_cli("check", str(DATA / "lenet5_typos.csv"), "--model", "lenet5")
    assert result.exit_code == 1
    assert "\x1b[" not in result.stdout
    wrong = [line for line in result.stdout.splitlines() if line.startswith("✗ ")]
    assert len(wrong) == 3 and any("conv2" in line and "10x10x6" in line for line in wrong)


def test_header_writes_the_input_as_the_table_does():
    text = "\n".join(shown(graded("lenet5_typos.csv")))
    assert "input 32x32x1 (HxWxC)" in text and "1x32x32" not in text and "CxHxW" not in text
