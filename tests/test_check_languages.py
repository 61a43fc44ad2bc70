"""Answer sheets as courses write them: French, German and Spanish headings, thin-space
thousands and decimal commas, octets (Ko, Mo, Kio), LaTeX tabulars, and tables that name
no layer.

The answer files in tests/data/answers are LeNet-5 (PyTorch's tutorial version) worked out
by hand: conv1 28*28*6 outputs * 25 = 117,600 MACs and (25 + 1) * 6 = 156 parameters;
conv2 10*10*16 * 150 = 240,000 MACs, (150 + 1) * 16 = 2,416; fc1 400*120 = 48,000 MACs,
48,120 parameters; fc2 120*84 = 10,080 and 10,164; fc3 84*10 = 840 and 850; in all 61,706
parameters and 416,520 MACs. Memory at 4 bytes: conv1 4,704 * 4 = 18,816 B (18.4 KiB,
18.8 kB), pool1 4,704 B, conv2 6,400 B, pool2 1,600 B, fc1 480 B, fc2 336 B, fc3 40 B.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archcalc.grading import read_answers, read_answers_text
from archcalc.grading.sheets import column_quantity
from archcalc.grading.values import parse_number

DATA = Path(__file__).parent / "data" / "answers"


def check_json(run_cli, *args):
    result = run_cli("check", *args, "--format", "json")
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    ("heading", "quantity", "unit"),
    [
        ("couche", "name", ""),
        ("Sortie", "shape", ""),
        ("forme", "shape", ""),
        ("Paramètres", "params", ""),
        ("poids", "weights", ""),
        ("biais", "biases", ""),
        ("mémoire", "memory", ""),
        ("Mémoire (Ko)", "memory", "Ko"),
        ("opérations", "flops", ""),
        ("champ récepteur", "rf", ""),
        ("Schicht", "name", ""),
        ("Ausgabeform", "shape", ""),
        ("Größe", "shape", ""),
        ("Parameter", "params", ""),
        ("Gewichte", "weights", ""),
        ("Speicher", "memory", ""),
        ("Operationen", "flops", ""),
        ("capa", "name", ""),
        ("salida", "shape", ""),
        ("parámetros", "params", ""),
        ("pesos", "weights", ""),
        ("memoria", "memory", ""),
        ("operaciones", "flops", ""),
    ],
)
def test_french_german_spanish_headings(heading, quantity, unit):
    assert column_quantity(heading)[:2] == (quantity, unit)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("117 600", 117_600),
        ("117\u202f600", 117_600),  # narrow no-break space, French typography
        ("117\u2009600", 117_600),  # thin space
        ("117\u00a0600", 117_600),  # no-break space
        ("1\u00a0234\u00a0567", 1_234_567),
        ("0,4165 M", 416_500),
        ("0,833 M", 833_000),  # a leading 0 is never a thousands group
    ],
)
def test_spaces_and_decimal_commas(text, value):
    assert parse_number(text).value == value


@pytest.mark.parametrize(
    ("text", "truth", "reading"),
    [
        ("18,4 Ko", 18_816, "binary"),  # 18,816 B = 18.375 KiB -> 18.4; 18.816 kB would be 18.8
        ("18,8 Ko", 18_816, "decimal"),
        ("480 o", 480, "octets"),
        ("2,1 Mo", 2_100_000, "decimal"),
        ("2,1 Mo", 2_202_010, "binary"),  # 2.1 MiB = 2,202,009.6 B
        ("6,25 Kio", 6_400, "Kio"),
        ("1,5 Mio", 1_572_864, "Mio"),
    ],
)
def test_french_byte_units_say_which_reading_matched(text, truth, reading):
    written = parse_number(text)
    assert written is not None and written.kind == "bytes"
    assert reading in written.reading(truth)


def test_kio_is_binary_only():
    assert parse_number("6,4 Kio").reading(6_400) is None  # 6,400 B is 6.25 KiB, not 6.4


def test_french_markdown_table_all_right(run_cli):
    """The issue's table: `| couche | sortie | paramètres | MACs |`, narrow no-break spaces,
    `0,4165 M`; graded 2/8 before the French headings were read."""
    data = check_json(run_cli, str(DATA / "lenet5_fr.md"), "--model", "lenet5")
    assert data["wrong"] == 0 and data["not_checkable"] == 0
    assert data["right"] == 7 * 3 + 2
    assert data["ignored_columns"] == []
    assert [r["layer"] for r in data["rows"]] == ["conv1", "pool1", "conv2", "pool2", "fc1", "fc2", "fc3"]


def test_the_same_table_in_english_reads_the_same():
    french = (DATA / "lenet5_fr.md").read_text(encoding="utf-8")
    english = french.replace("| couche | sortie | paramètres | MACs |", "| layer | output | params | MACs |")
    assert english != french
    sheet_fr = read_answers_text(french, "fr.md", ".md")
    sheet_en = read_answers_text(english, "en.md", ".md")
    assert [r.cells for r in sheet_fr.rows] == [r.cells for r in sheet_en.rows]


def test_table_without_a_layer_column_matches_the_layers_it_lists(run_cli):
    data = check_json(run_cli, str(DATA / "lenet5_fr_sans_couche.md"))  # "Modèle : lenet5"
    assert data["model"] == "lenet5"
    assert data["wrong"] == 0 and data["right"] == 7 * 3
    layers = [r["layer"] for r in data["rows"]]
    assert layers == ["conv1", "pool1", "conv2", "pool2", "fc1", "fc2", "fc3"]  # never a relu
    memory = {r["layer"]: next(c for c in r["cells"] if c["quantity"] == "memory") for r in data["rows"]}
    assert "binary Ko" in memory["conv1"]["note"]  # 18,4 Ko: 18,816 / 1024 = 18.375
    assert "decimal Ko" in memory["conv2"]["note"]  # 6,4 Ko: 6,400 / 1000


def test_a_table_that_cannot_be_matched_says_so(tmp_path, run_cli):
    path = tmp_path / "rows.csv"
    path.write_text("shape,params\n30x30x3,1\n29x29x3,2\n7x7x7,3\n")  # no layer of LeNet-5 has these
    result = run_cli("check", str(path), "--model", "lenet5")
    assert result.exit_code == 2
    assert "cannot tell which layers the 3 rows are about" in result.stderr and "rows.csv" in result.stderr
    assert "Traceback" not in result.output


def test_a_partial_table_is_placed_by_its_shapes():
    from archcalc import analyze
    from archcalc.grading import grade_sheet

    sheet = read_answers_text("sortie;paramètres\n28x28x6;156\n14x14x6;0\n", "s.csv", ".csv")
    result = grade_sheet(sheet, analyze("lenet5"))
    assert [r.layer for r in result.rows] == ["conv1", "pool1"] and result.all_right


def test_german_csv_with_semicolons_and_kilobytes(run_cli):
    data = check_json(run_cli, str(DATA / "lenet5_de.csv"))  # "# Modell: lenet5"
    assert data["wrong"] == 0 and data["not_checkable"] == 0 and data["right"] == 7 * 3 + 1


def test_spanish_markdown_declares_its_convention(run_cli):
    data = check_json(run_cli, str(DATA / "lenet5_es.md"))
    assert data["convention"] == "flops" and "declared" in data["convention_from"]
    assert data["wrong"] == 0 and data["right"] == 7 * 3 + 2


def test_latex_tabular(run_cli):
    sheet = read_answers(DATA / "lenet5_fr.tex")
    assert sheet.format == "latex" and sheet.model == "lenet5" and sheet.convention == "textbook"
    assert [r.name for r in sheet.rows] == ["conv1", "pool1", "conv2", "pool2", "fc1", "fc2", "fc3"]
    assert sheet.rows[0].cells[0].text == "28x28x6"
    assert sheet.rows[0].line == 10
    data = check_json(run_cli, str(DATA / "lenet5_fr.tex"))
    # textbook FLOPs: conv1 2 * 117,600 + 4,704 bias adds = 239,904; in all 839,558
    assert data["wrong"] == 0 and data["right"] == 7 * 3 + 2


def test_latex_read_by_its_look_in_a_text_file():
    text = "\\begin{tabular}{lr}\n\\hline\nlayer & params \\\\\n\\hline\nconv1 & 156 \\\\\nfc3 & 850 \\\\\n\\end{tabular}\n"
    sheet = read_answers_text(text, "a.txt", ".txt")
    assert sheet.format == "latex"
    assert [(r.name, r.cells[0].text) for r in sheet.rows] == [("conv1", "156"), ("fc3", "850")]
