"""``check`` grades what a course means (issue 18, section 2).

Hand arithmetic used below:

* ``conv 10 filters 5x5 pad 2`` on 32x32x3: output 32x32x10 = 10,240 values,
  MACs 10,240 * 5*5*3 = 768,000, FLOPs (2 per MAC) 1,536,000,
  memory 10,240 * 4 B = 40,960 B = exactly 40 KiB.
* CS231n's VGG-16 table (tests/data/answers/cs231n_vgg16.md) lists the input, the
  13 convs, the 5 pools and the 3 FCs; the sum of the listed rows is worked out
  from their shapes below.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import archcalc
from archcalc.grading import Status, grade_answers, grade_sheet, read_answers, read_answers_text
from archcalc.single_layer import analyze_layer

DATA = Path(__file__).parent / "data" / "answers"

MACS = 32 * 32 * 10 * 5 * 5 * 3
FLOPS = 2 * MACS


@pytest.fixture(scope="module")
def conv():
    return analyze_layer("conv", "32x32x3", {"filters": 10, "kernel": 5, "pad": 2})


def one(report, quantity, text, convention=None):
    return grade_answers(report, {quantity: text}, convention).cells[0]


# -- FLOPs: a column named FLOPs is graded as FLOPs ------------------------------------


def test_a_flops_answer_is_graded_as_flops_by_default(conv):
    assert MACS == 768_000 and FLOPS == 1_536_000
    assert one(conv, "flops", "1.536M").status is Status.RIGHT
    assert one(conv, "flops", f"{FLOPS:,}").status is Status.RIGHT
    half = one(conv, "flops", f"{MACS:,}")
    assert half.status is Status.WRONG and half.note.startswith("matches MACs, not FLOPs (half)")
    double = one(conv, "macs", f"{FLOPS:,}")
    assert double.status is Status.WRONG and "FLOPs (2 x MACs), not MACs (double)" in double.note
    # a declared convention still wins: under macs the MACs are the FLOPs
    assert one(conv, "flops", f"{MACS:,}", "macs").status is Status.RIGHT


def test_layer_answer_defaults_to_flops_like_check_and_quiz(run_cli):
    result = run_cli("layer", "conv", "--input", "32x32x3", "--filters", "10", "--kernel", "5", "--pad", "2",
                     "--answer", "flops=1.536M")
    assert result.exit_code == 0, result.output
    from archcalc.grading.grade import DEFAULT_FLOPS
    from archcalc.quiz.kinds import QuizOptions

    assert QuizOptions().convention == DEFAULT_FLOPS == "flops"


def test_a_sheet_without_convention_line_grades_its_flops_column_as_flops(tmp_path):
    lenet = archcalc.analyze(str(DATA / "specs" / "lenet5.yaml"))
    # conv1: MACs 28*28*6 * 5*5 = 117,600 -> FLOPs 235,200; conv2: 10*10*16 * 5*5*6 = 240,000 -> 480,000
    sheet = read_answers_text("| Layer | FLOPs |\n| --- | --- |\n| conv1 | 235,200 |\n| conv2 | 240,000 |\n",
                              "flops.md")
    result = grade_sheet(sheet, lenet)
    first, second = (row.cells[0] for row in result.rows)
    assert first.status is Status.RIGHT
    assert second.status is Status.WRONG and "MACs, not FLOPs (half)" in second.note


# -- units ------------------------------------------------------------------------------


def test_zero_point_zero_in_a_megabyte_column_is_right_like_the_german_comma():
    lenet = archcalc.analyze(str(DATA / "specs" / "lenet5.yaml"))
    # fc3: 10 outputs x 4 B = 40 B = 0.00004 MB, which is 0.0 MB at one decimal
    for text in ("0.0", "0,0"):
        sheet = read_answers_text(f"| Layer | Memory (MB) |\n| --- | --- |\n| fc3 | {text} |\n", "mb.md")
        cell = grade_sheet(sheet, lenet).rows[0].cells[0]
        assert cell.status is Status.RIGHT, (text, cell.note)


def test_kb_is_read_as_1000_or_1024_and_the_note_says_which(conv):
    assert 40 * 1024 == 32 * 32 * 10 * 4
    binary = one(conv, "memory", "40KB")
    assert binary.status is Status.RIGHT and "binary KB" in binary.note and "rounded" not in binary.note
    decimal = one(conv, "memory", "40.96 KB")  # 40,960 B / 1000
    assert decimal.status is Status.RIGHT and "decimal KB" in decimal.note


@pytest.mark.parametrize("text, hint", [("1.54 GFLOPs", "off by 1000 (G for M)"),
                                        ("1536 MFLOPs", "off by 1000 (M for K)"),
                                        ("1.536K", "off by 1000 (K for M)")])
def test_off_by_1000_is_named(conv, text, hint):
    cell = one(conv, "flops", text)
    assert cell.status is Status.WRONG and hint in cell.note, cell.note


def test_a_spelled_out_unit_keeps_its_space(conv):
    # 768,000 MACs written "800 thousand" is right to the nearest hundred thousand;
    # the expected value is shown as "768 thousand", with its space
    cell = one(conv, "macs", "700 thousand")
    assert cell.status is Status.WRONG and "768 thousand" in cell.expected and "768thousand" not in cell.expected


# -- the CS231n total memory ------------------------------------------------------------


@pytest.fixture(scope="module")
def vgg16():
    return archcalc.analyze("vgg16")


def _cs231n_listed() -> tuple[int, int]:
    """(sum of the listed rows' outputs without the input, the input) from the table's shapes."""
    text = (DATA / "cs231n_vgg16.md").read_text()
    shapes = re.findall(r"\| \[(\d+)x(\d+)x(\d+)\] \|", text)
    sizes = [int(h) * int(w) * int(c) for h, w, c in shapes]
    return sum(sizes[1:]), sizes[0]


@pytest.mark.parametrize("written, reading", [
    ("15,237,608", "the listed rows' outputs and the input"),
    ("15.2M", "the listed rows' outputs and the input"),
    ("57.6 MiB", "the listed rows' outputs x 4 bytes"),
])
def test_cs231n_total_memory_is_right_as_the_sum_of_the_listed_rows(tmp_path, vgg16, written, reading):
    outputs, image = _cs231n_listed()
    assert image == 150_528 and outputs + image == 15_237_608  # the hand sum
    assert abs(outputs * 4 / 2**20 - 57.6) < 0.05
    text = (DATA / "cs231n_vgg16.md").read_text()
    text = re.sub(r"\| TOTAL \| \| [^|]+\|", f"| TOTAL | | {written} |", text)
    sheet = tmp_path / "cs231n.md"
    sheet.write_text(text)
    result = grade_sheet(read_answers(sheet), vgg16)
    memory = next(c for c in result.totals if c.quantity == "memory")
    assert memory.status is Status.RIGHT and reading in memory.note, memory.note
    # every ReLU, dropout and flatten output as well is the other reading, still right
    all_outputs = vgg16.totals.activation_elements
    assert all_outputs == 28_701_160


# -- small things -------------------------------------------------------------------------


def test_a_receptive_field_larger_than_the_image_says_it_runs_past_the_border(vgg16):
    # VGG-16's classifier sees 404 pixels per side (DESIGN.md: nominal field, reported as it is)
    # of a 224-pixel image; the first conv sees 3
    sheet = read_answers_text("| Layer | RF |\n| --- | --- |\n| classifier.linear3 | 404 |\n"
                              "| features.stage1.conv1 | 3 |\n", "rf.md")
    last, first = (row.cells[0] for row in grade_sheet(sheet, vgg16).rows)
    assert last.status is Status.RIGHT and "224-pixel input" in last.note and "past its border" in last.note
    assert first.status is Status.RIGHT and first.note == ""


def test_peak_above_sum_says_it_includes_the_input(conv):
    from archcalc.render.table import totals_rows

    # one conv: the sum is its output, 40,960 B; the peak holds input 32*32*3*4 = 12,288 B too
    assert conv.totals.activation_bytes == 40_960
    assert conv.totals.peak_activation_bytes == 40_960 + 12_288
    peak = next(note for what, _, note in totals_rows(conv) if what == "Activations (peak)")
    assert "incl. the input" in peak
    vgg = next(note for what, _, note in totals_rows(archcalc.analyze("lenet5")) if what == "Activations (peak)")
    assert "input" not in vgg


def test_every_markdown_table_is_graded_or_skipped_with_a_reason():
    lenet = archcalc.analyze(str(DATA / "specs" / "lenet5.yaml"))
    text = ("## Question 1\n\n| Layer | Output shape | Params |\n| --- | --- | --- |\n| conv1 | 28x28x6 | 156 |\n\n"
            "## Question 2\n\n| Layer | Params |\n| --- | --- |\n| conv2 | 2,416 |\n\n"
            "| Student | Date |\n| --- | --- |\n| Ann | Monday |\n")
    result = grade_sheet(read_answers_text(text, "two.md"), lenet)
    # conv1: 5*5*1*6 + 6 = 156; conv2: 5*5*6*16 + 16 = 2,416; shape (32 - 5) + 1 = 28
    assert result.right == 3 and result.wrong == 0
    assert any("skipped" in note and "Student" in note for note in result.notes)


def test_every_latex_tabular_is_graded_too():
    lenet = archcalc.analyze(str(DATA / "specs" / "lenet5.yaml"))
    text = ("\\begin{tabular}{ll}\\toprule\nLayer & Params \\\\\n\\midrule\nconv1 & 156 \\\\\n\\bottomrule\n"
            "\\end{tabular}\n\nQuestion 2:\n\\begin{tabular}{ll}\nLayer & Params \\\\\nconv2 & 2\\,416 \\\\\n"
            "\\end{tabular}\n\\begin{tabular}{ll}\nName & Date \\\\\nAnn & Monday \\\\\n\\end{tabular}\n")
    result = grade_sheet(read_answers_text(text, "two.tex", ".tex"), lenet)
    # conv1: 5*5*1*6 + 6 = 156; conv2: 5*5*6*16 + 16 = 2,416
    assert result.right == 2 and result.wrong == 0
    assert any("skipped" in note for note in result.notes)
