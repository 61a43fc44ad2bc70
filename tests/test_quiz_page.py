"""The quiz web page in a real browser engine (Chromium, headless): typed answers are checked
against the hashed key, right ones marked right and wrong ones wrong, and the source holds no answer.

Needs ``selenium`` (``pip install -e ".[browser]"``) and Chromium with its driver
(``apt-get install -y chromium chromium-driver``); skipped cleanly without them. The hashing
itself is checked without a browser too, against Python's ``hashlib``, with Node where it exists.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from archcalc.quiz import QuizOptions, make_quiz
from archcalc.quiz.hashing import ITERATIONS, canonicals, digest
from archcalc.quiz.webpage import WEB, render_page
from tests.chromium import browser  # noqa: F401  (the shared Chromium fixture)



@pytest.fixture(scope="module")
def page(tmp_path_factory):
    folder = tmp_path_factory.mktemp("page")
    variants = make_quiz("conv", QuizOptions(), students=3, seed=5)
    finder = make_quiz("find-error", QuizOptions(model="lenet5", errors=2), students=1, seed=5)
    path = folder / "quiz.html"
    path.write_text(render_page(variants, "Convolution quiz"), encoding="utf-8")
    errors = folder / "errors.html"
    errors.write_text(render_page(finder, "Find the errors"), encoding="utf-8")
    return path, variants, errors, finder


def test_the_source_holds_no_answer(page):
    path, variants, _, _ = page
    text = path.read_text()
    data = json.loads(re.search(r'id="quiz-data">(.*?)</script>', text, re.S).group(1).replace("<\\/", "</"))
    for variant, shown in zip(variants, data["variants"]):
        cells = [c for row in shown["rows"] for c in row["cells"] if c]
        assert cells and all(set(c) == {"id", "kind", "unit", "shown", "hashes"} and c["shown"] is None for c in cells)
        assert all(re.fullmatch(r"[0-9a-f]{24}", h) for c in cells for h in c["hashes"])
    # no count of the key, written either way, is anywhere in the page once the hashes are taken out
    plain = re.sub(r"[0-9a-f]{24}", "", text)
    counts = {a.value for v in variants for _, a in v.answers if isinstance(a.value, int) and a.value >= 1000}
    assert counts
    for value in counts:
        assert f"{value:,}" not in plain and str(value) not in plain, value


#: typed numbers the page and archcalc.quiz.page_rules must read alike, with the column's unit
TYPED = ["760", "3.2M", "1,792", "800K", "0.0", "182.25", "12,800", "12.8K", "12 816", "12.25 KiB", "40KB",
         "40 kB", "1.54 GFLOPs", "0", "0K", "57.6 MiB", "1,536,000", "1.536M", "2.4 G", "96MB", "5e3", "abc",
         "1.2.3", "", "12.816 thousand", "7 params"]


def test_python_and_the_page_script_read_and_hash_alike():
    """The page's SHA-256 and canonical forms, run by Node, give the hashes and canonical strings
    Python computes (archcalc.quiz.page_rules.page_canonical is mirrored by numberCanonical)."""
    from archcalc.quiz.page_rules import page_canonical

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    units = ["", "bytes", "K", "MB", "elements"]
    script = (
        "const p = require(process.argv[1]); const typed = JSON.parse(process.argv[2]);"
        "const units = JSON.parse(process.argv[3]);"
        f"const out = {{hash: p.cellHash('s1', '1:0:params', 'n:760e0:w', {ITERATIONS}, 24),"
        " numbers: units.map((u) => typed.map((t) => p.numberCanonical(t, u))),"
        " shapes: p.shapeCanonicals('(None, 32, 32, 10)')};"
        "console.log(JSON.stringify(out));"
    )
    result = subprocess.run([node, "-e", script, str(WEB / "page.js"), json.dumps(TYPED), json.dumps(units)],
                            capture_output=True, text=True, check=True)
    out = json.loads(result.stdout)
    assert out["hash"] == digest("s1", "1:0:params", "n:760e0:w")
    assert out["numbers"] == [[page_canonical(t, u) for t in TYPED] for u in units]
    # worked by hand: 3.2M is 32 x 10^5; 12,800 written out is 128 x 10^2 and says so; 12.25 KiB keeps its unit
    plain = dict(zip(TYPED, out["numbers"][0]))
    assert plain["3.2M"] == "n:32e5" and plain["12,800"] == "n:128e2:w" and plain["12.8K"] == "n:128e2"
    assert plain["12.25 KiB"] == "b:1225e-2:kib" and plain["760"] == "n:760e0:w" and plain["abc"] is None
    assert "s:32,32,10" in out["shapes"] and canonicals("shape", (10, 32, 32)) == ["s:32,32,10"]


def _type_and_check(browser, answers: dict[str, str]):
    from selenium.webdriver.common.by import By

    for element_id, text in answers.items():
        box = browser.find_element(By.ID, element_id)
        box.clear()
        box.send_keys(text)
    browser.find_element(By.ID, "check").click()
    verdicts = {element_id: browser.find_element(By.ID, element_id).find_element(By.XPATH, "..")
                .get_attribute("data-verdict") for element_id in answers}
    return verdicts, browser.find_element(By.ID, "score").text


def test_right_and_wrong_answers_are_marked_in_the_browser(browser, page, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    path, variants, _, _ = page
    browser.get(path.as_uri() + "?variant=2")
    variant = variants[1]
    assert Select(browser.find_element(By.ID, "variant")).first_selected_option.text == "Variant 2"
    row = variant.rows[0]
    columns = [c.quantity for c in variant.columns]
    key = {q: row.answers[q] for q in columns}
    shape = key["shape"].value
    typed = {
        f"cell-0-{columns.index('shape')}": f"{shape[0]} x {shape[1]} x {shape[2]}",  # C x H x W is right too
        f"cell-0-{columns.index('params')}": key["params"].text,
        f"cell-0-{columns.index('memory')}": str(key["memory"].value + 4),  # wrong
        f"cell-0-{columns.index('macs')}": f"{key['macs'].value * 2:,}",  # wrong: FLOPs
        f"cell-0-{columns.index('flops')}": key["flops"].text.replace(",", ""),
        f"cell-0-{columns.index('rf')}": "",  # not answered
    }
    verdicts, score = _type_and_check(browser, typed)
    assert list(verdicts.values()) == ["right", "right", "wrong", "wrong", "right", "empty"]
    assert score == "3 of 6 right, 2 wrong, 1 not answered"
    browser.save_screenshot(str(tmp_path / "quiz-page.png"))
    if os.environ.get("ARCHCALC_SCREENSHOT"):
        browser.save_screenshot(os.environ["ARCHCALC_SCREENSHOT"])
    assert (tmp_path / "quiz-page.png").stat().st_size > 10_000


def test_rounded_answers_are_accepted_as_check_accepts_them(browser, page):
    from decimal import Decimal

    path, variants, _, _ = page
    browser.get(path.as_uri())
    variant = variants[0]
    columns = [c.quantity for c in variant.columns]
    macs = variant.rows[0].answers["macs"].value
    rounded = f"{Decimal(macs) / Decimal(10**6):.2f}M" if macs >= 10**6 else f"{Decimal(macs) / 1000:.1f}K"
    far = f"{Decimal(macs) * 2 / Decimal(10**6):.2f}M" if macs >= 10**6 else f"{Decimal(macs) * 2 / 1000:.1f}K"
    verdicts, _ = _type_and_check(browser, {f"cell-0-{columns.index('macs')}": rounded})
    assert verdicts[f"cell-0-{columns.index('macs')}"] == "right", rounded
    verdicts, _ = _type_and_check(browser, {f"cell-0-{columns.index('macs')}": far})
    assert verdicts[f"cell-0-{columns.index('macs')}"] == "wrong", far


def test_find_the_error_page_starts_with_the_table_and_marks_corrections(browser, page):
    from selenium.webdriver.common.by import By

    _, _, errors, [variant] = page
    browser.get(errors.as_uri())
    columns = [c.quantity for c in variant.columns]
    planted = variant.planted[0]
    r = next(i for i, row in enumerate(variant.rows) if row.label == planted.row)
    element_id = f"cell-{r}-{columns.index(planted.quantity)}"
    assert browser.find_element(By.ID, element_id).get_attribute("value") == planted.written
    verdicts, _ = _type_and_check(browser, {element_id: planted.written})
    assert verdicts[element_id] == "wrong"
    verdicts, _ = _type_and_check(browser, {element_id: planted.right})
    assert verdicts[element_id] == "right"
