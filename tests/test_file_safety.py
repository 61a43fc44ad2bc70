"""Never destroy a user's file (issue 20, section 3), and the small fixes of section 5.

Every case compares the user's files byte for byte before and after: ``-o`` and ``--summary``
onto an answers file (by any path), ``-o`` onto the spec, grades written into the answers folder
(skipped as sheets next time), ``quiz -o`` into a used folder, ``--force``, concurrent writers of
one ``-o`` file, a write that fails half-way, and ``-o -``.
"""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest

from archcalc.errors import InputError

SHEET = "layer,shape,params\nconv1,28x28x6,156\nconv2,10x10x16,2416\n"  # lenet5: 6*25+6, 16*6*25+16


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def answers(tmp_path):
    folder = tmp_path / "answers"
    folder.mkdir()
    (folder / "ada.csv").write_text(SHEET)
    (folder / "bob.md").write_text("| layer | params |\n| --- | --- |\n| conv1 | 156 |\n")
    return folder


@pytest.mark.parametrize("target", ["ada.csv", "bob.md", "./ada.csv", "../answers/ada.csv"])
def test_check_never_writes_over_the_sheet_it_reads(run_cli, answers, monkeypatch, target):
    monkeypatch.chdir(answers)
    before = snapshot(answers)
    sheet = "bob.md" if "bob" in target else "ada.csv"
    result = run_cli("check", sheet, "-m", "lenet5", "-o", target)
    assert result.exit_code == 2 and "one of the inputs" in result.output
    assert snapshot(answers) == before


def test_check_never_writes_over_a_sheet_through_a_link(run_cli, answers, tmp_path):
    link = tmp_path / "link.csv"
    link.symlink_to(answers / "ada.csv")
    before = snapshot(answers)
    assert run_cli("check", str(answers / "ada.csv"), "-m", "lenet5", "-o", str(link)).exit_code == 2
    assert snapshot(answers) == before


@pytest.mark.parametrize("option", ["-o", "--summary"])
def test_folder_outputs_never_write_over_a_sheet(run_cli, answers, option):
    before = snapshot(answers)
    result = run_cli("check", str(answers), "-m", "lenet5", option, str(answers / "ada.csv"))
    assert result.exit_code == 2 and "one of the inputs" in result.output
    assert snapshot(answers) == before


@pytest.mark.parametrize("name", ["grades.csv", "grades.md", "grades.txt"])
def test_grades_written_into_the_folder_are_not_graded_next_time(run_cli, answers, name):
    sheets = snapshot(answers)
    out = answers / name
    first = run_cli("check", str(answers), "-m", "lenet5", "-o", str(out), "--summary", str(answers / "summary.md"))
    assert first.exit_code in (0, 1), first.output
    written = out.read_bytes()
    second = run_cli("check", str(answers), "-m", "lenet5", "-o", str(out), "--summary", str(answers / "summary.md"))
    assert second.exit_code in (0, 1), second.output
    assert "skipped (written by archcalc check)" in second.output
    assert out.read_bytes() == written  # the same two sheets graded, not four
    assert {k: v for k, v in snapshot(answers).items() if k in sheets} == sheets


def test_one_unreadable_sheet_costs_its_row_only(run_cli, answers, tmp_path):
    (answers / "carol.csv").write_text('layer,params\nconv1,"' + "x" * 200_000 + '"\n')
    out = tmp_path / "grades.csv"
    result = run_cli("check", str(answers), "-m", "lenet5", "-o", str(out))
    assert result.exit_code == 2
    import csv

    rows = {r["file"]: r for r in csv.DictReader(out.open(newline=""))}
    assert set(rows) == {"ada.csv", "bob.md", "carol.csv"}
    assert rows["carol.csv"]["error"] and rows["ada.csv"]["cells right"] == "4"
    assert not rows["ada.csv"]["error"] and not rows["bob.md"]["error"]


def test_analyze_never_writes_over_its_spec(run_cli, tmp_path):
    spec = tmp_path / "net.yaml"
    spec.write_text("name: m\ninput: 8x8x3\nlayers: [relu: {}]\n")
    before = spec.read_bytes()
    for fmt in ("json", "csv", "table"):
        assert run_cli(str(spec), "-f", fmt, "-o", str(spec)).exit_code == 2
    assert run_cli("compare", str(spec), "lenet5", "-f", "csv", "-o", str(spec)).exit_code == 2
    assert spec.read_bytes() == before


def test_dash_means_stdout(run_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_cli("lenet5", "-f", "json", "-o", "-")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["model"] == "lenet5"
    sheet = tmp_path / "a.csv"
    sheet.write_text(SHEET)
    checked = run_cli("check", str(sheet), "-m", "lenet5", "-f", "csv", "-o", "-")
    assert checked.exit_code == 0 and checked.stdout.startswith("row,layer")
    assert not (tmp_path / "-").exists()


# -- quiz folders ---------------------------------------------------------------------------


def test_quiz_refuses_a_folder_with_a_returned_sheet(run_cli, tmp_path):
    folder = tmp_path / "quiz"
    folder.mkdir()
    (folder / "sheet-01.md").write_text("my answers: 3072\n")
    before = snapshot(folder)
    result = run_cli("quiz", "conv", "--students", "5", "-o", str(folder))
    assert result.exit_code == 2 and "not empty" in result.output and "--force" in result.output
    assert snapshot(folder) == before


def test_force_replaces_an_older_quiz_and_keeps_other_files(run_cli, tmp_path):
    folder = tmp_path / "quiz"
    assert run_cli("quiz", "conv", "--students", "7", "--seed", "1", "-o", str(folder)).exit_code == 0
    (folder / "notes.odt").write_text("keep me")
    assert run_cli("quiz", "conv", "--students", "5", "--seed", "2", "-o", str(folder)).exit_code == 2
    assert run_cli("quiz", "conv", "--students", "5", "--seed", "2", "-o", str(folder), "--force").exit_code == 0
    assert len(list(folder.glob("sheet-*.md"))) == 5 and len(list(folder.glob("key-*.json"))) == 5
    assert json.loads((folder / "quiz.json").read_text())["seed"] == 2
    assert (folder / "notes.odt").read_text() == "keep me"
    graded = run_cli("check", str(folder), "-f", "json")
    assert graded.exit_code in (0, 1) and len(json.loads(graded.stdout)) == 10  # 5 sheets and 5 keys, no more


# -- atomic writes --------------------------------------------------------------------------


def test_concurrent_writers_leave_one_whole_file(tmp_path):
    from archcalc.output_files import write_text

    target = tmp_path / "out.json"
    texts = [json.dumps({"writer": i, "data": [i] * 50_000}) for i in range(20)]
    for _ in range(3):
        threads = [threading.Thread(target=write_text, args=(target, text)) for text in texts]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert target.read_text() in texts and json.loads(target.read_text())
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # no temporary file left


def test_a_failed_write_keeps_the_old_file(tmp_path):
    from archcalc.output_files import open_for_writing

    target = tmp_path / "grades.csv"
    target.write_text("old grades\n")
    os.chmod(target, 0o640)
    with pytest.raises(RuntimeError):
        with open_for_writing(target) as handle:
            handle.write("half of the new")
            raise RuntimeError("the disk is full")
    assert target.read_text() == "old grades\n"
    assert [p.name for p in tmp_path.iterdir()] == ["grades.csv"]
    with open_for_writing(target) as handle:
        handle.write("new grades\n")
    assert target.read_text() == "new grades\n" and stat.S_IMODE(target.stat().st_mode) == 0o640


def test_writing_into_a_folder_or_a_missing_folder_is_an_error(tmp_path):
    from archcalc.output_files import write_text

    with pytest.raises(InputError, match="it is a folder"):
        write_text(tmp_path, "x")
    with pytest.raises(InputError, match="No such file"):
        write_text(tmp_path / "missing" / "x.json", "x")


# -- section 5 ------------------------------------------------------------------------------


@pytest.mark.parametrize("value, size, suffix", [(250 * 10**30, 10**12, "T"), (8_192_000 * 10**12, 10**12, "T"),
                                                 (3 * 10**25, 10**12, "T")])
def test_short_numbers_of_large_integers_carry_no_float_noise(value, size, suffix):
    from archcalc.render.units import count, count_short

    assert count_short(value) == f"{value // size}{suffix}"  # whole multiples: the quotient, written out
    assert count(value) == f"{value // size}.00{suffix}"


def test_short_numbers_round_large_integers_half_up():
    from archcalc.render.units import count_short

    value = 123_456_789 * 10**12 + 5 * 10**11  # 123,456,789.5T -> 123456790T
    assert count_short(value) == "123456790T"


def test_the_svg_plot_is_the_same_every_run(run_cli, tmp_path):
    pytest.importorskip("matplotlib")
    first, second = tmp_path / "a.svg", tmp_path / "b.svg"
    assert run_cli("lenet5", "--plot", str(first), "-f", "json").exit_code == 0
    assert run_cli("lenet5", "--plot", str(second), "-f", "json").exit_code == 0
    assert first.read_bytes() == second.read_bytes()
    assert b"<dc:date>" not in first.read_bytes()
