"""``archcalc quiz``: every key equals archcalc's analysis of the network its header names, every
key grades all right with ``archcalc check``, every planted error is detected, and the same
command writes the same files.

The analysis here is run again from the sheet's own header (``Model:``, ``Input:``,
``Convention:``), as ``archcalc check`` does with a returned sheet, not taken from the quiz.
"""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import pytest

import archcalc
from archcalc.grading import Status, grade_sheet, read_answers, read_answers_text
from archcalc.quiz import QuizOptions, make_quiz
from archcalc.quiz.markdown import render

#: (kind, options) covering every kind and every table style
CASES = [
    ("conv", QuizOptions()),
    ("pool", QuizOptions()),
    ("dense", QuizOptions()),
    ("depthwise", QuizOptions()),
    ("separable", QuizOptions(convention="textbook")),
    ("dilated", QuizOptions(convention="exact")),
    ("transposed", QuizOptions(dtype="float16")),
    ("layer", QuizOptions(convention="macs", batch=4)),
    ("table", QuizOptions()),
    ("table", QuizOptions(model="lenet5", style="plain")),
    ("table", QuizOptions(model="vgg16", style="cs231n", classic=True)),
    ("table", QuizOptions(model="vgg16", style="keras", input="224x224x3")),
    ("table", QuizOptions(model="alexnet", style="eecs498", input="227x227x3", allow_floor=True)),
    ("table", QuizOptions(model="resnet18", rows=("conv", "linear"), columns=("shape", "params", "macs"))),
    ("rf", QuizOptions()),
    ("rf", QuizOptions(model="resnet18")),
    ("compare", QuizOptions()),
    ("compare", QuizOptions(model="7x7")),
    ("compare", QuizOptions(model="separable", convention="torch")),
    ("find-error", QuizOptions()),
    ("find-error", QuizOptions(model="vgg16", style="cs231n")),
    ("find-error", QuizOptions(model="mobilenet_v2", errors=5)),
]
IDS = [f"{kind}-{i}" for i, (kind, _) in enumerate(CASES)]


@pytest.fixture(scope="module")
def quizzes():
    return {case_id: make_quiz(kind, options, students=4, seed=11) for case_id, (kind, options) in zip(IDS, CASES)}


def shape_of(row) -> tuple:
    return tuple(row.output_shape)


def truth(report, row, quantity, column_unit):
    """The value archcalc's analysis gives for one cell of the key (sums for blocks and totals)."""
    if row.label == "input":
        layers = []
    elif row.label == "total":
        layers = list(report.rows)
    elif row.block:
        layers = [report.row(name) for name in row.block]
    else:
        layers = [report.row(row.layer)]
    if row.label == "input":
        elements = report.batch
        for v in report.input_shape:
            elements *= v
        return {"shape": tuple(report.input_shape), "memory": elements if column_unit == "elements"
                else elements * report.bytes_per_element}.get(quantity, 0)
    last = layers[-1]
    owned = [r for r in layers if r.shares_params_with is None]
    if quantity == "shape":
        return shape_of(last)
    if quantity == "rf":
        return tuple(last.rf.size)
    if quantity == "memory":
        return sum(r.activation_elements if column_unit == "elements" else r.activation_bytes for r in layers)
    if quantity in ("weights", "biases", "params"):
        return sum(getattr(r, quantity) for r in owned)
    return sum(getattr(r, quantity) for r in layers)


@pytest.mark.parametrize("case_id", IDS)
def test_every_key_equals_the_analysis_of_its_header(quizzes, case_id):
    for variant in quizzes[case_id]:
        sheet = read_answers_text(render(variant, key=True), "key.md", ".md")
        assert (sheet.model, sheet.input, sheet.convention) == (variant.model, variant.input, variant.convention)
        report = archcalc.analyze(sheet.model, sheet.input, convention=sheet.convention,
                                  dtype=sheet.dtype or "float32", batch=sheet.batch or 1)
        units = {c.quantity: c.unit for c in variant.columns}
        checked = 0
        for row, answer in variant.answers:
            expected = truth(report, row, answer.quantity, units[answer.quantity])
            value = answer.value
            if answer.quantity == "rf":
                assert tuple(Fraction(v) for v in value) == tuple(Fraction(v) for v in expected)
            else:
                assert value == expected, (case_id, variant.number, row.label, answer.quantity)
            checked += 1
        assert checked > 0


@pytest.mark.parametrize("case_id", IDS)
def test_every_key_grades_all_right(quizzes, case_id):
    for variant in quizzes[case_id]:
        sheet = read_answers_text(render(variant, key=True), "key.md", ".md")
        report = archcalc.analyze(sheet.model, sheet.input, convention=sheet.convention,
                                  dtype=sheet.dtype or "float32", batch=sheet.batch or 1)
        result = grade_sheet(sheet, report)
        assert result.wrong == 0 and result.not_checkable == 0
        assert result.right == len(variant.answers)


@pytest.mark.parametrize("case_id", IDS)
def test_a_blank_sheet_scores_0_of_its_cells(quizzes, case_id):
    # issue 18: a blank sheet scores 0 of its cells, each shown as blank (it no longer scores 0/0)
    variant = quizzes[case_id][0]
    result = grade_sheet(read_answers_text(render(variant, key=False), "sheet.md", ".md"), variant.report)
    if variant.planted:
        assert result.wrong == len(variant.planted)
    else:
        assert result.right == 0 and result.not_checkable == 0
        assert result.wrong == len(variant.answers)
        assert all(c.note == "blank (not answered)" for c in result.cells)


def test_the_header_is_all_check_reads_and_nothing_after_the_table_is_metadata(quizzes):
    """Only the header lines declare model, input, convention: derivations never look like them."""
    pattern = re.compile(r"^[\s#>*_`-]*(model|input|convention|batch|dtype)[*_`\s]*[:=]", re.I)
    for variants in quizzes.values():
        text = render(variants[0], key=True)
        table_start = text.index("| Layer |")
        assert not [line for line in text[table_start:].splitlines() if pattern.match(line)]


# -- find the error --------------------------------------------------------------------------------


FIND = [("find-error", QuizOptions(errors=n), 40) for n in (1, 3)] + [
    ("find-error", QuizOptions(model="vgg16", style="cs231n", errors=4), 8),
    ("find-error", QuizOptions(model="vgg16", style="keras", errors=3), 8),
    ("find-error", QuizOptions(model="lenet5", errors=6), 8),
    ("find-error", QuizOptions(model="resnet18", errors=4, convention="textbook"), 4),
]


@pytest.mark.parametrize("kind, options, count", FIND, ids=[f"{o.model or 'cnn'}-{o.style}-{o.errors}" for _, o, _ in FIND])
def test_every_planted_error_is_detected_by_check(kind, options, count):
    for variant in make_quiz(kind, options, students=count, seed=5):
        assert len(variant.planted) == options.errors
        sheet = read_answers_text(render(variant, key=False), "sheet.md", ".md")
        report = archcalc.analyze(sheet.model, sheet.input, convention=sheet.convention)
        result = grade_sheet(sheet, report)
        wrong = {(r.layer or r.label, c.quantity, c.written) for r in result.rows for c in r.cells
                 if c.status is Status.WRONG}
        wrong |= {("total", c.quantity, c.written) for c in result.totals if c.status is Status.WRONG}
        planted = set()
        for p in variant.planted:
            row = next(r for r in variant.rows if r.label == p.row)
            planted.add((row.layer or ("total" if p.row == "total" else "(input)"), p.quantity, p.written))
        assert wrong == planted
        assert result.not_checkable == 0


def test_planted_mistakes_are_named_by_checks_notes():
    """A weights-only count, an input shape, a jump and a MAC count in the FLOPs column are
    recognised as such by check's notes."""
    expected = {"weights-only": "weights only", "input-shape": "input shape", "rf-jump": "jump",
                "macs-vs-flops": "matches", "other-dtype": "float16"}
    seen = set()
    for variant in make_quiz("find-error", QuizOptions(errors=4), students=40, seed=8):
        result = grade_sheet(read_answers_text(render(variant, key=False), "s.md", ".md"), variant.report)
        notes = {(r.label.split(" (")[0], c.quantity): c.note for r in result.rows for c in r.cells}
        notes |= {("total", c.quantity): c.note for c in result.totals}
        for p in variant.planted:
            if p.mistake in expected:
                assert expected[p.mistake] in notes[(p.row, p.quantity)], (p, notes[(p.row, p.quantity)])
                seen.add(p.mistake)
    assert seen == set(expected)


# -- reproducible variants --------------------------------------------------------------------------


def test_the_same_command_writes_the_same_files(tmp_path, run_cli):
    for folder in ("a", "b"):
        result = run_cli("quiz", "layer", "--students", "5", "--seed", "3", "-o", str(tmp_path / folder),
                         "--tex", "--html")
        assert result.exit_code == 0, result.output
    a = sorted((tmp_path / "a").iterdir())
    assert [p.name for p in a] == sorted(p.name for p in (tmp_path / "b").iterdir())
    for path in a:
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes(), path.name


def test_a_variant_does_not_depend_on_the_class_size():
    five = make_quiz("conv", students=5, seed=4)
    thirty = make_quiz("conv", students=30, seed=4)
    assert [render(v, True) for v in five] == [render(v, True) for v in thirty[:5]]
    assert len({v.model for v in thirty}) > 20  # students get their own numbers
    assert make_quiz("conv", students=3, seed=5)[0].model != five[0].model


def test_set_and_classic_fix_the_numbers():
    [variant] = make_quiz("conv", QuizOptions(fixed={"filters": 7, "kernel": 3, "pad": 1, "stride": 1},
                                              input="16x16x4"))
    assert variant.values["filters"] == 7 and variant.input == "16x16x4"
    assert variant.rows[0].answers["params"].value == (3 * 3 * 4 + 1) * 7
    [classic] = make_quiz("conv", QuizOptions(classic=True), seed=123)
    assert classic.input == "32x32x3" and classic.values["filters"] == 10


def test_zoo_tables_draw_an_input_that_fits_for_each_student():
    variants = make_quiz("table", QuizOptions(model="resnet18"), students=4, seed=1)
    assert len({v.input for v in variants}) > 1
    for variant in variants:
        archcalc.analyze("resnet18", variant.input, strict=True)  # every layer fits exactly


# -- the folder and the command --------------------------------------------------------------------


def test_folder_layout_and_check_of_the_keys(tmp_path, run_cli):
    out = tmp_path / "quiz"
    result = run_cli("quiz", "compare", "--students", "12", "--seed", "1", "-o", str(out))
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert names[:3] == ["key-01.json", "key-01.md", "key-02.json"] and "quiz.json" in names
    assert len([n for n in names if n.startswith("sheet-")]) == 12
    keys = sorted(str(p) for p in out.glob("key-*.md"))
    result = run_cli("check", *keys)
    assert result.exit_code == 0, result.output
    assert result.stdout.count(",0,0,1.0000,") == 12


def test_json_key_holds_values_and_derivations(tmp_path, run_cli):
    import json

    run_cli("quiz", "conv", "--classic", "-o", str(tmp_path))
    record = json.loads((tmp_path / "key-1.json").read_text())
    assert record["archcalc_quiz_version"] == 1 and record["kind"] == "conv"
    answers = {a["quantity"]: a for a in record["rows"][0]["answers"]}
    assert answers["params"]["value"] == 760 and answers["shape"]["value"] == [10, 32, 32]
    assert answers["params"]["derivation"][-1]["substituted"] == "(5*5*3 + 1) * 10"
    manifest = json.loads((tmp_path / "quiz.json").read_text())
    assert manifest["variants"][0]["files"]["sheet"] == "sheet-1.md"


def test_roster_names_one_variant_per_student(tmp_path, run_cli):
    roster = tmp_path / "class.csv"
    roster.write_text("name,email\nAda Lovelace,ada@x\nAlan Turing,alan@x\n\n# a comment\nGrace Hopper,g@x\n")
    result = run_cli("quiz", "pool", "--roster", str(roster), "-o", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert "Student: Grace Hopper" in (tmp_path / "out" / "sheet-3.md").read_text()
    roster.write_text("Ada\nAda\n")
    result = run_cli("quiz", "pool", "--roster", str(roster), "-o", str(tmp_path / "out2"))
    assert result.exit_code == 2 and "twice" in result.output


def test_list_names_every_kind(run_cli):
    result = run_cli("quiz", "--list")
    assert result.exit_code == 0
    for kind in ("conv", "pool", "dense", "depthwise", "separable", "dilated", "transposed", "layer", "table",
                 "rf", "compare", "find-error"):
        assert re.search(rf"^{re.escape(kind)}\s", result.stdout, re.M), kind


def test_without_output_the_keys_are_printed(run_cli):
    result = run_cli("quiz", "dense", "--classic")
    assert result.exit_code == 0
    assert "| fc | linear, 256 units | 256 | 200,960 |" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["quiz"], "which kind of exercise"),
        (["quiz", "convolution", "-o", "x"], "unknown quiz kind 'convolution'"),
        (["quiz", "conv", "--set", "colour=3"], "draws no value of that name"),
        (["quiz", "conv", "--set", "filters"], "--set takes name=value"),
        (["quiz", "rf", "--classic"], "no published (--classic) version"),
        (["quiz", "conv", "--input", "32x16x3"], "square"),
        (["quiz", "conv", "--set", "kernel=4", "--set", "stride=3", "--set", "pad=0", "--set", "filters=2",
          "--input", "8x8x1"], "no draw fits"),
        (["quiz", "table", "resnet18", "--input", "224x224x3"], "--allow-floor"),
        (["quiz", "table", "vgg16", "--style", "fancy"], "unknown table style 'fancy'"),
        (["quiz", "table", "vgg16", "--columns", "colour"], "unknown column 'colour'"),
        (["quiz", "table", "vgg16", "--rows", "nothing_here"], "neither a layer kind nor a layer"),
        (["quiz", "compare", "squares"], "no compare template 'squares'"),
        (["quiz", "conv", "vgg16"], "takes no MODEL"),
        (["quiz", "conv", "-c", "bogus"], "unknown convention 'bogus'"),
        (["quiz", "conv", "--html"], "give the folder with -o"),
    ],
)
def test_user_errors_exit_2_in_one_or_two_lines(run_cli, args, message):
    result = run_cli(*args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) <= 2


def test_pdf_without_a_tex_engine_is_refused_before_writing(tmp_path, run_cli, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    result = run_cli("quiz", "conv", "--pdf", "-o", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert "--pdf needs a TeX engine" in result.output
    assert not (tmp_path / "out").exists()


def test_pdf_runs_the_tex_engine_on_every_tex_file(tmp_path, run_cli, monkeypatch):
    """A stand-in pdflatex on PATH: the command runs it on each sheet and key and keeps the PDFs."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    engine = bin_dir / "pdflatex"
    engine.write_text("#!/bin/sh\nfor a; do f=$a; done\ngrep -q 'end{document}' \"$f\" && "
                      "printf '%%PDF-1.4 fake' > \"${f%.tex}.pdf\"\n")
    engine.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    result = run_cli("quiz", "conv", "--students", "2", "--pdf", "-o", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    pdfs = sorted(p.name for p in (tmp_path / "out").glob("*.pdf"))
    assert pdfs == ["key-1.pdf", "key-2.pdf", "sheet-1.pdf", "sheet-2.pdf"]


def test_tex_is_a_complete_document_with_the_answers_in_the_key(tmp_path):
    from archcalc.quiz.latex import render as tex

    [variant] = make_quiz("find-error", QuizOptions(model="lenet5"), seed=2)
    key = tex(variant, key=True)
    sheet = tex(variant, key=False)
    assert key.startswith(r"\documentclass") and key.rstrip().endswith(r"\end{document}")
    assert "planted errors" in key and "planted errors" not in sheet
    for planted in variant.planted:
        assert planted.written.replace("_", r"\_") in sheet
    assert sheet.count("{") == sheet.count("}")


def test_check_reads_a_returned_sheet_from_another_folder(tmp_path, run_cli):
    """The sheet carries its network: a returned sheet is graded with no --model, wherever it is."""
    run_cli("quiz", "rf", "--students", "2", "--seed", "9", "-o", str(tmp_path / "quiz"))
    answers = tmp_path / "answers"
    answers.mkdir()
    for k in (1, 2):
        (answers / f"student{k}.md").write_text((tmp_path / "quiz" / f"key-{k}.md").read_text())
    sheet = read_answers(answers / "student1.md")
    assert sheet.model.startswith("{name: rf-1")
    result = run_cli("check", str(answers))
    assert result.exit_code == 0, result.output


def test_a_spec_file_travels_inside_the_sheet(tmp_path, run_cli):
    """MODEL as a spec file: the sheet carries the spec on one line, so no file is needed beside it."""
    spec = Path(__file__).parent / "data" / "answers" / "specs" / "lenet5.yaml"
    result = run_cli("quiz", "table", str(spec), "--students", "2", "--seed", "3", "-o", str(tmp_path / "q"))
    assert result.exit_code == 0, result.output
    sheet = read_answers(tmp_path / "q" / "key-1.md")
    assert sheet.model.startswith("{") and "lenet5" in sheet.model
    answers = tmp_path / "answers"
    answers.mkdir()
    (answers / "a.md").write_text((tmp_path / "q" / "key-2.md").read_text())
    result = run_cli("check", str(answers))
    assert result.exit_code == 0, result.output


def test_writing_a_quiz_imports_nothing_heavy():
    from tests.test_import_hygiene import heavy_modules

    # the quiz reads its exercise templates (YAML) and prints with rich: only the heavy numeric stack counts
    light = {"yaml", "rich.console"}
    assert set(heavy_modules(["quiz", "table", "vgg16", "--classic", "--brief"])) <= light
    assert set(heavy_modules(["quiz", "compare", "--classic"])) <= light
