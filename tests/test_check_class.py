"""``archcalc check`` for a class: rows about whole blocks, several files at once, and the class
summary of a folder (success rate per question, common wrong answers, conventions used instead)."""

from __future__ import annotations

import json
from pathlib import Path

import archcalc
from archcalc.grading import grade_sheet, read_answers_text
from archcalc.grading.class_summary import class_summary, mistake_of
from archcalc.grading.verdicts import CellVerdict, Status

DATA = Path(__file__).parent / "data" / "answers"
LENET = str(DATA / "specs" / "lenet5.yaml")


def test_a_row_named_after_a_block_is_graded_as_the_block():
    """VGG-16's stage1: two 3x3 convolutions of 64 filters (and their ReLUs) and a 2x2 pooling."""
    stage1_params = (3 * 3 * 3 + 1) * 64 + (3 * 3 * 64 + 1) * 64
    stage1_macs = 224 * 224 * 64 * (3 * 3 * 3) + 224 * 224 * 64 * (3 * 3 * 64)
    text = (
        "| layer | params | MACs | shape | rf |\n| --- | --- | --- | --- | --- |\n"
        f"| stage1 | {stage1_params:,} | {stage1_macs:,} | 112x112x64 | 6 |\n"
        f"| features.stage2 | {stage1_params:,} | 1 | 56x56x128 | 16 |\n"
    )
    result = grade_sheet(read_answers_text(text, "blocks.md", ".md"), archcalc.analyze("vgg16"))
    first, second = result.rows
    assert (first.layer, first.matched_by) == ("features.stage1", "block")
    assert [c.status for c in first.cells] == [Status.RIGHT] * 4
    assert second.layer == "features.stage2"
    assert [c.status for c in second.cells] == [Status.WRONG, Status.WRONG, Status.RIGHT, Status.RIGHT]
    assert second.cells[0].expected == f"{(3 * 3 * 64 + 1) * 128 + (3 * 3 * 128 + 1) * 128:,}"
    assert "sum over layers" in second.cells[0].derivation[0].formula


def test_only_a_whole_group_of_layers_is_a_block():
    from archcalc.grading.matching import block_rows

    report = archcalc.analyze("vgg16")
    assert [r.name for r in block_rows("stage1", report)] == [
        "features.stage1.conv1", "features.stage1.relu1", "features.stage1.conv2", "features.stage1.relu2",
        "features.stage1.maxpool1"]
    assert block_rows("stage9", report) == ()
    assert block_rows("conv1", report) == ()  # a layer's name, and in five stages: no one block
    assert len(block_rows("features", report)) == 31


def test_several_files_are_graded_like_a_folder(run_cli):
    files = [str(DATA / "class" / name) for name in ("alice.yaml", "bob.csv")]
    result = run_cli("check", *files, "-m", LENET)
    assert result.exit_code == 1
    assert result.stdout.splitlines()[1].startswith("alice.yaml,Alice,,5,0,0,")  # the student is named
    assert "Class summary: 2 sheets graded" in result.output


def test_class_summary_to_a_file(tmp_path, run_cli):
    for suffix in (".json", ".md", ".csv"):
        out = tmp_path / f"summary{suffix}"
        result = run_cli("check", str(DATA / "class"), "-m", LENET, "--summary", str(out))
        assert result.exit_code == 2  # carol.md cannot be read
        text = out.read_text()
        if suffix == ".json":
            data = json.loads(text)
            assert data["sheets"] == 3 and data["unreadable"] == 1
            params = next(q for q in data["questions"] if (q["row"], q["quantity"]) == ("conv1", "params"))
            # bob wrote 150 for conv1's parameters: 5*5*1*6 weights, without the 6 biases
            assert params["wrong"] >= 1 and params["most_common_wrong_answer"] == "150"
            assert params["most_common_mistake"] == "weights only (biases not counted)"
        else:
            assert "most common wrong answer" in text


def test_mistake_and_convention_of_a_wrong_cell():
    def cell(note):
        return CellVerdict("flops", "1", Status.WRONG, "2", note)

    assert mistake_of(cell("matches 2 x MACs [flops, torch, ...]; expected 2 x MACs + bias adds [textbook]")) == \
        ("2 x MACs", "flops/torch")
    assert mistake_of(cell("matches weights only (biases not counted); expected weights + biases")) == \
        ("weights only (biases not counted)", None)
    assert mistake_of(cell("matches the layer's input shape")) == ("the layer's input shape", None)
    assert mistake_of(cell("expected MACs (multiply-accumulates)")) == (None, None)


def test_success_rate_counts_blank_cells_of_the_sheets_that_ask():
    report = archcalc.analyze(LENET)
    head = "| layer | params | MACs |\n| --- | --- | --- |\n"
    fc3 = "| fc3 | 850 | 840 |\n"
    sheets = [head + "| conv1 | 156 | 117,600 |\n" + fc3, head + "| conv1 | 150 | ? |\n" + fc3,
              head + "| conv1 | 156 |  |\n" + fc3]
    results = [grade_sheet(read_answers_text(t, f"s{i}.md", ".md"), report) for i, t in enumerate(sheets)]
    summary = class_summary(results)
    params, macs = summary.questions[:2]
    assert (params.right, params.wrong, params.sheets) == (2, 1, 3)
    # "?" is a blank: it scores 0 of its cell (issue 18), so it counts as wrong
    assert (macs.right, macs.wrong, macs.sheets, macs.unanswered) == (1, 1, 3, 1)
    assert macs.common_wrong is None
    assert macs.success_rate == 1 / 3
