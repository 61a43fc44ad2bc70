"""A teacher's grading day (issue 18, section 4), through the command line.

A quiz for a roster of five, four sheets returned (one right, one blank, one with an
edited ``Model:`` line and a missing row, one with planted mistakes), a scanned PDF, and
one student who returned nothing. What each student should score is counted here from
the issued key (``key-<k>.json``): the cells it asks.
"""

from __future__ import annotations

import collections
import csv
import io
import json
import re

import pytest

ROSTER = "name,email,id,section\nAnn Lee,ann@uni.edu,101,A\nBo Chen,bo@uni.edu,102,A\nCy Diaz,cy@uni.edu,103,B\n" \
         "Dee Ek,dee@uni.edu,104,B\nEli Fox,eli@uni.edu,105,B\n"


def asked(key: dict) -> int:
    return sum(1 for row in key["rows"] for a in row["answers"] if a["shown"] is None)


@pytest.fixture(scope="module")
def day(tmp_path_factory):
    from typer.testing import CliRunner

    from archcalc.cli import app, normalize_argv

    root = tmp_path_factory.mktemp("day")
    runner = CliRunner()

    def run(*args):
        return runner.invoke(app, normalize_argv([str(a) for a in args]))

    (root / "class.csv").write_text(ROSTER)
    made = run("quiz", "table", "--roster", root / "class.csv", "--seed", "5", "-o", root / "quiz")
    assert made.exit_code == 0, made.output
    keys = {k: json.loads((root / "quiz" / f"key-{k}.json").read_text()) for k in range(1, 6)}
    returned = root / "returned"
    returned.mkdir()
    # Ann: the key, all right
    (returned / "ann.md").write_text((root / "quiz" / "key-1.md").read_text())
    # Bo: the sheet as handed out, blank
    (returned / "bo.md").write_text((root / "quiz" / "sheet-2.md").read_text())
    # Cy: the key's answers, with the Model: line edited and the first layer's row deleted
    text = (root / "quiz" / "key-3.md").read_text()
    text = re.sub(r"(- Model: `\{name: \S+, input: )(\d+)", lambda m: m[1] + str(int(m[2]) + 2), text, count=1)
    first = keys[3]["rows"][0]["label"]
    text = "\n".join(line for line in text.splitlines() if not line.startswith(f"| {first} |")) + "\n"
    (returned / "cy.md").write_text(text)
    # Dee: the key with two parameter counts one too many
    lines = (root / "quiz" / "key-4.md").read_text().splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("| Layer |"))
    params = [c.strip() for c in lines[head].strip("|").split("|")].index("Params")
    spoiled = 0
    for i in range(head + 2, len(lines)):
        cells = [c.strip() for c in lines[i].strip().strip("|").split("|")]
        if not lines[i].startswith("|"):
            break
        value = int(cells[params].replace(",", "")) if cells[params] else 0
        if value and spoiled < 2:
            wrong = value + 1 if (value + 1) % 10 else value + 2
            cells[params] = f"{wrong:,}"
            lines[i] = "| " + " | ".join(cells) + " |"
            spoiled += 1
    (returned / "dee.md").write_text("\n".join(lines) + "\n")
    # Eli: a scan
    (returned / "eli-scan.pdf").write_bytes(b"%PDF-1.4\n")
    result = run("check", returned, "--keys", root / "quiz", "--roster", root / "class.csv",
                 "--gradebook", root / "grades.csv", "--feedback", root / "feedback")
    return root, keys, result, first


def test_results_name_the_student_and_variant(day):
    root, keys, result, _ = day
    records = {r["file"]: r for r in csv.DictReader(io.StringIO(result.stdout))}
    assert {f: (r["student"], r["variant"]) for f, r in records.items()} == {
        "ann.md": ("Ann Lee", "1"), "bo.md": ("Bo Chen", "2"), "cy.md": ("Cy Diaz", "3"), "dee.md": ("Dee Ek", "4")}


def test_a_blank_sheet_scores_0_of_its_cells(day):
    root, keys, result, _ = day
    records = {r["file"]: r for r in csv.DictReader(io.StringIO(result.stdout))}
    assert records["bo.md"]["cells right"] == "0"
    assert int(records["bo.md"]["cells wrong"]) == asked(keys[2])
    assert result.exit_code == 1


def test_missing_and_skipped_sheets_are_listed(day):
    _, _, result, _ = day
    assert "skipped: eli-scan.pdf (a scan or a PDF is not read" in result.output
    assert "not returned (1): Eli Fox" in result.output


def test_sheets_are_graded_against_the_issued_keys_and_an_edited_model_is_flagged(day):
    root, keys, result, first = day
    records = {r["file"]: r for r in csv.DictReader(io.StringIO(result.stdout))}
    assert "cy.md: the sheet's Model: line was edited" in result.output
    # Cy's answers are the key's: right against the issued network, except the deleted row's cells
    deleted = sum(1 for a in keys[3]["rows"][0]["answers"] if a["shown"] is None)
    assert int(records["cy.md"]["cells right"]) == asked(keys[3]) - deleted
    assert int(records["cy.md"]["cells wrong"]) == deleted
    feedback = (root / "feedback" / "feedback-cy-diaz.md").read_text()
    assert "Model: line was edited" in feedback and f"| {first} |" in feedback and "blank (not answered)" in feedback


def test_the_gradebook_imports_into_canvas_and_moodle(day):
    root, keys, _, _ = day
    text = (root / "grades.csv").read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    header = rows[0]
    # Canvas's gradebook export begins Student, ID, SIS User ID, SIS Login ID, Section
    assert header[:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert "Email address" in header  # Moodle maps it to the user's email
    records = {r["Student"]: r for r in csv.DictReader(io.StringIO(text))}
    assert set(records) == {"Ann Lee", "Bo Chen", "Cy Diaz", "Dee Ek", "Eli Fox"}
    title = json.loads((root / "quiz" / "quiz.json").read_text())["title"]
    score = records["Ann Lee"][title]
    assert float(score) == asked(keys[1]) and records["Ann Lee"]["Out of"] == str(asked(keys[1]))
    assert records["Ann Lee"]["ID"] == "101" and records["Ann Lee"]["Email address"] == "ann@uni.edu"
    assert records["Ann Lee"]["Section"] == "A" and records["Ann Lee"]["Variant"] == "1"
    assert float(records["Bo Chen"][title]) == 0
    assert float(records["Dee Ek"][title]) == asked(keys[4]) - 2
    assert records["Eli Fox"][title] == ""  # returned nothing: no grade, which both platforms leave alone
    for record in records.values():  # every grade a plain number with a decimal point, or empty
        for column, value in record.items():
            if column.endswith("(points)") or column in (title, "Out of"):
                assert value == "" or re.fullmatch(r"\d+(\.\d+)?", value), (column, value)


def test_one_feedback_file_per_student_with_the_derivations(day):
    root, _, _, _ = day
    files = sorted(p.name for p in (root / "feedback").iterdir())
    assert files == ["feedback-ann-lee.md", "feedback-bo-chen.md", "feedback-cy-diaz.md", "feedback-dee-ek.md"]
    dee = (root / "feedback" / "feedback-dee-ek.md").read_text()
    assert "Derivations of the wrong cells" in dee and "Score: " in dee
    assert "(F*F*Cin + 1) * K" in dee or "(N_in + 1) * N_out" in dee  # the formula of the wrong params


def test_quiz_layer_deals_the_kinds_round_robin(tmp_path, run_cli):
    from archcalc.quiz.templates import templates

    kinds = list(templates("layers"))
    result = run_cli("quiz", "layer", "-n", "30", "--seed", "4", "-o", str(tmp_path / "q"))
    assert result.exit_code == 0, result.output
    dealt = collections.Counter(json.loads(p.read_text())["values"]["layer"]
                                for p in (tmp_path / "q").glob("key-*.json"))
    # 30 students, 7 kinds: 30 = 4*7 + 2, so two kinds 5 times and five 4 times
    assert sorted(dealt.values()) == [4] * 5 + [5] * 2 and set(dealt) == set(kinds)
    title = json.loads((tmp_path / "q" / "quiz.json").read_text())["title"]
    assert "mixed" in title.lower() and "Depthwise convolution" in title and "Pooling" in title


def test_labels_read_as_words_not_as_dtypes(run_cli):
    result = run_cli("quiz", "table", "lenet5", "--brief")
    assert result.exit_code == 0
    assert "conv 5x5, 6 filters" in result.stdout
    assert not re.search(r"\bf\d+ k\d+\b", result.stdout)  # "conv f16 k3" read like float16
