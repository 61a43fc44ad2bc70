"""``archcalc check``: exit status, formats, folders, stdin, and user errors in one or two lines."""

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from archcalc.cli import app

DATA = Path(__file__).parent / "data" / "answers"
LENET = str(DATA / "specs" / "lenet5.yaml")

runner = CliRunner()


def check(*args: str, input: str | None = None):
    return runner.invoke(app, ["check", *args], input=input)


def test_all_right_exits_0_and_prints_the_score():
    result = check(str(DATA / "lenet5_correct.yaml"), "--model", LENET)
    assert result.exit_code == 0, result.output
    assert "Score: 46/46 cells right (100%)" in result.output


def test_model_declared_in_the_answers_is_found_next_to_them():
    # lenet5_correct.yaml says "model: specs/lenet5.yaml", relative to itself
    result = check(str(DATA / "lenet5_correct.yaml"))
    assert result.exit_code == 0, result.output


def test_something_wrong_exits_1_with_derivations():
    result = check(str(DATA / "lenet5_typos.csv"), "-m", LENET)
    assert result.exit_code == 1
    assert "wrong" in result.output
    assert "Derivations of the wrong cells" in result.output
    assert "10x10x16" in result.output  # conv2: (14 - 5)/1 + 1 = 10, 16 filters


def test_json_format_is_the_documented_contract():
    result = check(str(DATA / "lenet5_typos.csv"), "-m", LENET, "--format", "json")
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["archcalc_check_version"] == 1
    assert (data["right"], data["wrong"], data["not_checkable"]) == (27, 3, 0)
    assert data["convention"] == "flops" and data["convention_from"] == "default"
    conv2 = next(r for r in data["rows"] if r["label"] == "conv2 (conv)")
    shape = next(c for c in conv2["cells"] if c["quantity"] == "shape")
    assert shape["verdict"] == "wrong" and shape["written"] == "10x10x6"
    assert shape["derivation"] and {"formula", "substituted", "value"} <= set(shape["derivation"][0])


def test_csv_and_markdown_formats():
    result = check(str(DATA / "lenet5_typos.csv"), "-m", LENET, "-f", "csv")
    lines = [ln for ln in result.output.splitlines() if not ln.startswith("#")]
    records = list(csv.DictReader(io.StringIO("\n".join(lines))))
    assert len(records) == 30
    assert sum(r["verdict"] == "wrong" for r in records) == 3
    result = check(str(DATA / "lenet5_typos.csv"), "-m", LENET, "-f", "md")
    assert "| row | layer | quantity |" in result.output and "Score: 27/30" in result.output


def test_convention_option_overrides_the_declared_one():
    path = str(DATA / "conventions" / "lenet5_torch.yaml")
    assert check(path).exit_code == 0
    result = check(path, "--convention", "textbook", "-f", "json")
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["convention"] == "textbook" and data["convention_from"] == "given"
    assert "PyTorch's counter" in data["totals"][0]["note"]


def test_include_switch_builds_a_convention():
    # LeNet MACs + bias adds = 416,520 + 6,518 = 423,038 (torchinfo's mult-adds)
    answers = "layer,flops\ntotal,\"423,038\"\n"
    result = check("-", "-m", LENET, "--include", "bias", "-f", "json", input=answers)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["convention"] == "macs+bias"


def test_pasted_summary_from_stdin():
    text = (DATA / "keras_lenet5.txt").read_text()
    result = check("-", "-m", LENET, "-f", "json", input=text)
    assert result.exit_code == 0
    assert json.loads(result.output)["format"] == "keras"


def test_folder_gives_one_csv_row_per_file():
    result = check(str(DATA / "class"), "-m", LENET)
    assert result.exit_code == 2  # carol.md cannot be read
    records = {r["file"]: r for r in csv.DictReader(io.StringIO(result.stdout))}
    assert list(records) == ["alice.yaml", "bob.csv", "carol.md", "dave.txt"]
    assert (records["alice.yaml"]["cells right"], records["alice.yaml"]["cells wrong"]) == ("5", "0")
    # bob: conv1 params 150 (weights only; 5*5*1*6 + 6 = 156) and total 61,470 (weights only)
    assert (records["bob.csv"]["cells right"], records["bob.csv"]["cells wrong"]) == ("3", "2")
    assert records["bob.csv"]["score"] == "0.6000"
    assert "no Markdown table" in records["carol.md"]["error"]
    assert records["dave.txt"]["cells wrong"] == "0"


def test_folder_without_unreadable_files_exits_1_when_something_is_wrong(tmp_path):
    for name in ("alice.yaml", "bob.csv"):
        (tmp_path / name).write_text((DATA / "class" / name).read_text())
    result = check(str(tmp_path), "-m", LENET, "-f", "json")
    assert result.exit_code == 1
    assert [g["file"] for g in json.loads(result.stdout)] == ["alice.yaml", "bob.csv"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.csv", "-m", "vgg16"], "no such answers file"),
        ([str(DATA / "lenet5_typos.csv")], "which model?"),
        ([str(DATA / "lenet5_typos.csv"), "-m", "vgg16", "-c", "bogus"], "unknown convention 'bogus'"),
        ([str(DATA / "class" / "carol.md"), "-m", "vgg16"], "no Markdown table found"),
        ([str(DATA / "lenet5_typos.csv"), "-m", "vgg16", "-f", "xml"], "unknown format 'xml'"),
    ],
)
def test_user_errors_exit_2_in_one_or_two_lines(args, message):
    result = check(*args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) <= 2


def test_bad_declared_convention_names_the_line(tmp_path):
    sheet = tmp_path / "answers.yaml"
    sheet.write_text("convention: quadruple\nlayers:\n  - {name: conv1, params: 156}\n")
    result = check(str(sheet), "-m", LENET)
    assert result.exit_code == 2
    assert f"{sheet}:1" in result.output and "quadruple" in result.output


def test_csv_row_with_unquoted_thousands_is_reported_with_its_line(tmp_path):
    sheet = tmp_path / "answers.csv"
    sheet.write_text("layer,params\nconv1,1,792\n")
    result = check(str(sheet), "-m", "vgg16")
    assert result.exit_code == 2
    assert f"{sheet}:2" in result.output and "quote" in result.output


def test_checking_against_a_yaml_spec_imports_nothing_heavy():
    import subprocess
    import sys

    code = (
        "import sys\nfrom archcalc.cli import main\n"
        f"try:\n    main(['check', {str(DATA / 'keras_lenet5.txt')!r}, '-m', {LENET!r}])\n"
        "except SystemExit as exit:\n    assert exit.code in (0, None), exit.code\n"
        "print('HEAVY=' + ','.join(m for m in ('torch', 'pandas', 'numpy') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "HEAVY="
