"""The injection corpus: hostile names in every input position, every output read by its real
consumer (issue 20, section 1).

Positions: a layer's name and a model's name (analyze, compare), an answer row's name and a
written answer (check), an answer file's name (check on a folder). Formats: CSV (read back by
the csv module and by pandas: no cell a spreadsheet runs, no payload moved to another cell or
row), Markdown (every table line has the same columns), LaTeX (no blank line or control
character inside a tabular, the rows all there), JSON (the name round-trips exactly), HTML
(no script element, the name shown as text) and the terminal (no control character reaches it).
The quiz keys, the quiz page in Chromium and the expected-value side are in
tests/test_hostile_quiz.py. Expected values come from the payloads and the formats' own rules
(tests/hostile_payloads.py), not from archcalc's escaping functions.
"""

from __future__ import annotations

import csv
import io
import json
import re
from html.parser import HTMLParser

import pandas as pd
import pytest

from tests.hostile_payloads import PAYLOADS, TERMINAL_CONTROL, file_name, runs_in_a_spreadsheet
from tests.tex_engine import assert_compiles, needs_pdflatex

IDS = list(PAYLOADS)


def spec(name: str, model: str = "m") -> str:
    """An inline spec: a conv named ``name`` and a relu, the model named ``model`` (JSON strings are
    YAML double-quoted strings)."""
    return (f"{{name: {json.dumps(model)}, input: 8x8x3, layers: [conv: {{name: {json.dumps(name)}, filters: 4, "
            f"kernel: 3}}, relu: {{}}]}}")


def assert_terminal_safe(text: str) -> None:
    found = TERMINAL_CONTROL.search(text)
    assert found is None, f"{found.group()!r} reaches the terminal in {text[max(found.start() - 40, 0):found.end() + 20]!r}"


def read_csv_both(path, rows: int) -> list[list[str]]:
    """The CSV as the csv module reads it, checked against pandas; every cell safe for a spreadsheet."""
    text = path.read_bytes().decode("utf-8")  # as written: no newline translation
    records = [r for r in csv.reader(io.StringIO(text, newline="")) if not (r and r[0].startswith("# "))]
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, comment=None,
                        skiprows=1 if text.startswith("# ") else 0)
    assert len(records) == rows + 1 and len(frame) == rows, (len(records), len(frame))
    assert list(frame.columns) == records[0]
    assert frame.values.tolist() == records[1:]
    for record in records:
        assert len(record) == len(records[0])
        for cell in record:
            assert not runs_in_a_spreadsheet(cell), cell
    return records


def unquoted(cell: str, payload: str) -> str:
    """The cell as the spreadsheet shows it: a leading ``'`` is hidden when the payload would run;
    a carriage return is written as a line feed (docs/json-format.md, "CSV and spreadsheets")."""
    return cell[1:] if runs_in_a_spreadsheet(payload) and cell.startswith("'") else cell


def in_csv(payload: str) -> str:
    return payload.replace("\r\n", "\n").replace("\r", "\n")


def table_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("|")]


def assert_markdown_table(text: str, rows: int) -> None:
    """GitHub's table: header, rule, ``rows`` lines, each with the same number of unescaped ``|``."""
    lines = table_lines(text)
    assert len(lines) == rows + 2, lines
    counts = {len(re.findall(r"(?<!\\)\|", line)) for line in lines}
    assert len(counts) == 1, lines
    assert TERMINAL_CONTROL.search(text) is None and "\r" not in text


def assert_latex_table(text: str, rows: int) -> None:
    code = "\n".join(line for line in text.splitlines() if not line.startswith("%"))  # what TeX reads
    body = code[code.index(r"\begin{tabular}"):code.index(r"\end{tabular}")]
    assert all(line.strip() for line in body.splitlines()), "a blank line inside the tabular"
    assert re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f]", text) is None
    assert len(re.findall(r"\\\\\s*$", body, re.M)) == rows + 1  # the heading and the rows


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scripts = 0
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.scripts += tag == "script"

    def handle_data(self, data):
        self.text.append(data)


# -- analyze: a layer name and a model name ------------------------------------------------


@pytest.mark.parametrize("key", IDS)
def test_analyze_csv(run_cli, tmp_path, key):
    payload = PAYLOADS[key]
    out = tmp_path / "layers.csv"
    result = run_cli(spec(payload, payload), "-o", str(out))
    assert result.exit_code == 0, result.output
    records = read_csv_both(out, rows=2)
    column = records[0].index("name")
    assert unquoted(records[1][column], payload) == in_csv(payload)
    assert records[2][column] == "relu1"


@pytest.mark.parametrize("key", IDS)
def test_analyze_markdown(run_cli, tmp_path, key):
    payload = PAYLOADS[key]
    out = tmp_path / "layers.md"
    assert run_cli(spec(payload, payload), "-o", str(out)).exit_code == 0
    text = out.read_text(encoding="utf-8")
    assert_markdown_table(text, rows=3)  # two layers and the totals
    assert not text.splitlines()[1].strip()  # the model line stayed one line


@pytest.mark.parametrize("key", IDS)
def test_analyze_latex(run_cli, tmp_path, key):
    payload = PAYLOADS[key]
    out = tmp_path / "layers.tex"
    assert run_cli(spec(payload, payload), "-o", str(out)).exit_code == 0
    assert_latex_table(out.read_text(encoding="utf-8"), rows=3)


@needs_pdflatex
@pytest.mark.parametrize("key", IDS)
def test_analyze_latex_compiles(run_cli, tmp_path, key):
    """pdflatex, where installed, reads the table with the hostile name in it."""
    out = tmp_path / "layers.tex"
    assert run_cli(spec(PAYLOADS[key], PAYLOADS[key]), "-o", str(out)).exit_code == 0
    assert_compiles(out.read_text(encoding="utf-8"), tmp_path / "tex")


@needs_pdflatex
@pytest.mark.parametrize("key", IDS)
def test_compare_latex_compiles(run_cli, tmp_path, key):
    out = tmp_path / "compare.tex"
    assert run_cli("compare", spec("c", PAYLOADS[key]), spec("c", "plain"), "-o", str(out)).exit_code == 0
    assert_compiles(out.read_text(encoding="utf-8"), tmp_path / "tex")


def test_the_latex_check_runs_the_pdflatex_on_the_path(tmp_path, monkeypatch):
    """The check above is real where pdflatex is: a stand-in on the PATH is run on the wrapped
    document, and its error (a line starting with ``!``) fails the check."""
    from tests.tex_engine import document

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    engine = bin_dir / "pdflatex"
    engine.write_text("#!/bin/sh\nfor a; do f=$a; done\n"
                      "if grep -q 'FAIL' \"$f\"; then echo '! Undefined control sequence.'; exit 1; fi\n"
                      "grep -q 'usepackage{booktabs}' \"$f\" && grep -q 'end{document}' \"$f\" && "
                      "printf '%%PDF-1.4 stand-in' > \"${f%.tex}.pdf\"\n")
    engine.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    fragment = "\\begin{tabular}{l}\na \\\\\n\\end{tabular}"
    assert assert_compiles(fragment, tmp_path / "ok").read_bytes().startswith(b"%PDF")
    assert document(document(fragment)) == document(fragment)  # a complete document is kept as it is
    with pytest.raises(AssertionError, match="Undefined control sequence"):
        assert_compiles(fragment + "\nFAIL", tmp_path / "fails")


@pytest.mark.parametrize("key", IDS)
def test_analyze_json(run_cli, tmp_path, key):
    payload = PAYLOADS[key]
    out = tmp_path / "layers.json"
    assert run_cli(spec(payload, payload), "-o", str(out)).exit_code == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["model"] == payload and [layer["name"] for layer in data["layers"]] == [payload, "relu1"]


@pytest.mark.parametrize("key", IDS)
def test_analyze_html(run_cli, tmp_path, key):
    payload = PAYLOADS[key]
    out = tmp_path / "layers.html"
    assert run_cli(spec(payload, payload), "-o", str(out)).exit_code == 0
    page = _Page()
    page.feed(out.read_text(encoding="utf-8"))
    assert page.scripts == 0
    shown = "".join(page.text)  # the HTML parser turns CR and CR LF into LF, as browsers do
    assert in_csv(payload) in shown or "\x00" in payload


@pytest.mark.parametrize("key", IDS)
def test_analyze_terminal(run_cli, key):
    payload = PAYLOADS[key]
    for extra in ([], ["--explain"], ["-f", "csv"], ["-f", "md"], ["-f", "latex"]):
        result = run_cli(spec(payload, payload), *extra)
        assert result.exit_code == 0, result.output
        assert_terminal_safe(result.output)


# -- compare: model names become column labels ------------------------------------------------


@pytest.mark.parametrize("key", IDS)
def test_compare_csv(run_cli, tmp_path, key):
    payload = PAYLOADS[key]
    out = tmp_path / "compare.csv"
    result = run_cli("compare", spec("c", payload), spec("c", "plain"), "-o", str(out))
    assert result.exit_code == 0, result.output
    records = read_csv_both(out, rows=len(list(csv.reader(io.StringIO(out.read_bytes().decode(), newline="")))) - 1)
    assert any(unquoted(cell, payload) == in_csv(payload) for cell in records[0])


@pytest.mark.parametrize("key", IDS)
def test_compare_markdown_and_latex(run_cli, tmp_path, key):
    payload = PAYLOADS[key]
    md, tex = tmp_path / "compare.md", tmp_path / "compare.tex"
    assert run_cli("compare", spec("c", payload), spec("c", "plain"), "-o", str(md)).exit_code == 0
    assert run_cli("compare", spec("c", payload), spec("c", "plain"), "-o", str(tex)).exit_code == 0
    text = md.read_text(encoding="utf-8")
    assert_markdown_table(text, rows=len(table_lines(text)) - 2)
    assert not text.splitlines()[1].strip()
    latex = tex.read_text(encoding="utf-8")
    assert_latex_table(latex, rows=latex.count("\n", latex.index(r"\midrule"), latex.index(r"\bottomrule")) - 1)
    assert not [line for line in latex.splitlines() if line.startswith("%") and "\r" in line]


@pytest.mark.parametrize("key", IDS)
def test_compare_terminal(run_cli, key):
    result = run_cli("compare", spec("c", PAYLOADS[key]), spec("c", "plain"))
    assert result.exit_code == 0, result.output
    assert_terminal_safe(result.output)


# -- check: an answer row and a written answer --------------------------------------------------


def answers_csv(folder, payload: str, name: str = "answers.csv"):
    """A sheet for lenet5: a hostile row (name and written params), then conv1 answered right
    (conv1: 5x5 kernel, 6 filters on 1 channel: 6 * (5 * 5 * 1) + 6 = 156 parameters)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows([["layer", "shape", "params"], [payload, "14x14x6", payload], ["conv1", "28x28x6", "156"]])
    path = folder / name
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


@pytest.mark.parametrize("key", IDS)
def test_check_csv_json_markdown_and_terminal(run_cli, tmp_path, key):
    """The reader may read a hostile row as it can (a CR ends a line); whatever it read, the cell
    CSV (csv module and pandas), the JSON and the Markdown agree cell for cell, conv1 stays right,
    and nothing runs."""
    payload = PAYLOADS[key]
    sheet = answers_csv(tmp_path, payload)
    out, js, md = tmp_path / "cells.csv", tmp_path / "cells.json", tmp_path / "cells.md"
    for path in (out, js, md):
        result = run_cli("check", str(sheet), "-m", "lenet5", "-o", str(path))
        assert result.exit_code in (0, 1), result.output
    data = json.loads(js.read_text(encoding="utf-8"))
    cells = [(row["label"], cell["quantity"], cell["written"]) for row in data["rows"] for cell in row["cells"]]
    records = read_csv_both(out, rows=len(cells) + len(data.get("totals") or []))
    head = records[0]
    by_row = [dict(zip(head, r)) for r in records[1:]]
    assert [r["verdict"] for r in by_row if r["row"] == "conv1"] == ["right", "right"]
    assert [(unquoted(r["row"], r["row"][1:]), r["quantity"], unquoted(r["written"], r["written"][1:]))
            for r in by_row if r["row"] != "total"] == [(in_csv(a), b, in_csv(c)) for a, b, c in cells]
    assert_markdown_table(md.read_text(encoding="utf-8"), rows=len(records) - 1)
    result = run_cli("check", str(sheet), "-m", "lenet5")
    assert result.exit_code in (0, 1)
    assert_terminal_safe(result.output)


@pytest.mark.parametrize("key", IDS)
def test_check_folder_file_names(run_cli, tmp_path, key):
    """A student names the file: the grades CSV (read back), Markdown and terminal stay intact."""
    payload = PAYLOADS[key]
    folder = tmp_path / "answers"
    folder.mkdir()
    answers_csv(folder, "conv1", name=file_name(payload) + ".csv")
    answers_csv(folder, "conv1", name="bob.csv")
    grades, summary = tmp_path / "grades.csv", tmp_path / "summary.csv"
    result = run_cli("check", str(folder), "-m", "lenet5", "-o", str(grades), "--summary", str(summary))
    assert result.exit_code in (0, 1), result.output
    assert_terminal_safe(result.output)
    records = read_csv_both(grades, rows=2)
    files = sorted(unquoted(r[0], payload) for r in records[1:])
    assert files == sorted([in_csv(file_name(payload)) + ".csv", "bob.csv"])
    read_csv_both(summary, rows=len(list(csv.reader(io.StringIO(summary.read_bytes().decode(), newline="")))) - 2)
    md = tmp_path / "grades.md"
    assert run_cli("check", str(folder), "-m", "lenet5", "-o", str(md)).exit_code in (0, 1)
    assert_markdown_table(md.read_text(encoding="utf-8"), rows=2)
    result = run_cli("check", str(folder), "-m", "lenet5", "-f", "table")
    assert_terminal_safe(result.output)
