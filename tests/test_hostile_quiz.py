"""Hostile names in quizzes: a roster name, a spec's model name, description and layer names.

The keys must still be graded right by ``archcalc check`` (the ``Model:`` line and the table stay
whole), the LaTeX must stay one table, and the page must show every variant and every answer box
in Chromium (skipped without Chromium and chromedriver, as tests/test_quiz_page.py is). The
analyze HTML report is loaded in Chromium with every payload as a layer name too.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.chromium import browser  # noqa: F401  (the shared Chromium fixture)
from tests.hostile_payloads import PAYLOADS, TERMINAL_CONTROL
from tests.tex_engine import assert_compiles, needs_pdflatex

IDS = list(PAYLOADS)


def hostile_spec(folder: Path, payload: str, layers: int = 1) -> Path:
    """A small CNN whose model name, description and first layer name are ``payload`` (YAML
    double-quoted strings, written as JSON strings)."""
    named = json.dumps(payload)
    extra = "".join(f"\n  - conv: {{name: {json.dumps(f'{payload} {i}')}, filters: 4, kernel: 3, pad: 1}}"
                    for i in range(1, layers))
    path = folder / "net.yaml"
    path.write_text(f"name: {named}\ndescription: {named}\ninput: 16x16x3\nlayers:\n"
                    f"  - conv: {{name: {named}, filters: 8, kernel: 3, pad: 1}}{extra}\n"
                    "  - maxpool: {kernel: 2}\n  - flatten: {}\n  - dense: {units: 10}\n", encoding="utf-8")
    return path


def roster(folder: Path, names: list[str]) -> Path:
    path = folder / "roster.txt"
    path.write_text("\n".join(names) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("key", IDS)
def test_keys_with_hostile_names_grade_right(run_cli, tmp_path, key):
    payload = PAYLOADS[key]
    spec = hostile_spec(tmp_path, payload)
    out = tmp_path / "quiz"
    names = roster(tmp_path, [payload.replace("\n", " ").replace("\r", " ") or "x", "plain student"])
    result = run_cli("quiz", "table", str(spec), "--roster", str(names), "--tex", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert TERMINAL_CONTROL.search(result.output) is None
    keys = sorted(out.glob("key-*.md"))
    # a roster is read line by line, and Python's lines also end at U+2028, U+2029, \x1c-\x1e, \x85
    assert len(keys) == len([line for line in names.read_text(encoding="utf-8").splitlines() if line.strip()])
    for key_file in keys:
        text = key_file.read_text(encoding="utf-8")
        model_lines = [line for line in text.splitlines() if line.startswith("- Model: `")]
        assert len(model_lines) == 1 and model_lines[0].endswith("`")
        checked = run_cli("check", str(key_file))
        assert checked.exit_code == 0, checked.output  # every answer of the key is right
        assert TERMINAL_CONTROL.search(checked.output) is None
    for tex in out.glob("*.tex"):
        code = "\n".join(line for line in tex.read_text(encoding="utf-8").splitlines() if not line.startswith("%"))
        assert re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f]", code) is None
        assert code.count(r"\begin{longtable}") == code.count(r"\end{longtable}") == 1 or \
            code.count(r"\begin{tabular}") == code.count(r"\end{tabular}")


@needs_pdflatex
@pytest.mark.parametrize("key", IDS)
def test_quiz_tex_with_hostile_names_compiles(run_cli, tmp_path, key):
    """pdflatex, where installed, compiles every sheet and key with the hostile names in them."""
    payload = PAYLOADS[key]
    out = tmp_path / "quiz"
    names = roster(tmp_path, [payload.replace("\n", " ").replace("\r", " ") or "x"])
    result = run_cli("quiz", "table", str(hostile_spec(tmp_path, payload)), "--roster", str(names), "--tex",
                     "-o", str(out))
    assert result.exit_code == 0, result.output
    sources = sorted(out.glob("*.tex"))
    assert sources
    for tex in sources:
        assert_compiles(tex.read_text(encoding="utf-8"), tmp_path / "pdf", tex.stem)


def test_the_page_inline_json_has_no_markup_characters(tmp_path):
    from archcalc.quiz import QuizOptions, make_quiz
    from archcalc.quiz.webpage import render_page

    names = [p.replace("\n", " ").replace("\r", " ") for p in PAYLOADS.values()]
    variants = make_quiz("conv", QuizOptions(), students=len(names), roster=names)
    text = render_page(variants, "<!--<script>")
    data = re.search(r'<script type="application/json" id="quiz-data">(.*?)</script>', text, re.S)
    assert data is not None
    inline = data.group(1)
    assert not set(inline) & {"<", ">", "&", "\u2028", "\u2029"}
    assert [v["student"] for v in json.loads(inline)["variants"]] == names  # JSON.parse gives them back


def test_quiz_page_with_hostile_names_in_chromium(browser, run_cli, tmp_path):
    """Every payload as a student, and as the model, description and layer names: the page has one
    variant per student and its answer boxes, and no alert ran."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    # one name a line, each distinct once stripped (a roster trims names): the payload, then a number
    names = [f"{p} {i}".replace("\n", " ").replace("\r", " ").replace("\u2028", " ").replace("\u2029", " ")
             for i, p in enumerate(PAYLOADS.values())]
    for index, payload in enumerate(["<!--<script>", "</script><script>alert(1)</script>", "a\u2028b\u2029c"]):
        folder = tmp_path / f"q{index}"
        folder.mkdir()
        spec = hostile_spec(folder, payload)
        students = names if index == 0 else names[:2]  # every name once; then the other model names
        result = run_cli("quiz", "table", str(spec), "--roster", str(roster(folder, students)), "--html",
                         "-o", str(folder / "quiz"))
        assert result.exit_code == 0, result.output
        browser.get((folder / "quiz" / "quiz.html").as_uri())
        options = Select(browser.find_element(By.ID, "variant")).options
        assert len(options) == len(students)
        boxes = browser.find_elements(By.CSS_SELECTOR, "input[id^='cell-']")
        assert len(boxes) >= 4
        assert browser.execute_script("return typeof window.__pwned") == "undefined"
        logs = [entry for entry in browser.get_log("browser") if entry.get("level") == "SEVERE"] \
            if hasattr(browser, "get_log") else []
        assert not logs, logs


def test_html_report_with_every_payload_in_chromium(browser, run_cli, tmp_path):
    """One report whose layers are named by every payload: Chromium shows one table row per layer and
    the totals, and the page holds no script element."""
    from selenium.webdriver.common.by import By

    layers = ", ".join(f"conv: {{name: {json.dumps(p)}, filters: 4, kernel: 3, pad: 1}}"
                       for p in PAYLOADS.values() if "\x00" not in p)
    out = tmp_path / "report.html"
    result = run_cli(f"{{name: \"<!--<script>\", input: 8x8x3, layers: [{layers}]}}", "-o", str(out))
    assert result.exit_code == 0, result.output
    browser.get(out.as_uri())
    assert browser.find_elements(By.TAG_NAME, "script") == []
    rows = browser.find_elements(By.CSS_SELECTOR, "table.layers tbody tr")
    count = sum(1 for p in PAYLOADS.values() if "\x00" not in p)
    assert len(rows) == count + 1  # the layers and the totals
