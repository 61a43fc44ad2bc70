"""The quiz page agrees with ``archcalc check``, cell for cell, in Chromium (issue 18, section 3).

Random variants of every kind, one page; for every answer cell a battery of typed
answers: the key's text, rounded with a suffix, rounded and written out in full, in
each byte unit (B, KiB, KB both ways, MB, kB), weights only (biases forgotten), the MACs
in the FLOPs column, off by 1000, one more, a blank. ``check`` grades them on returned
sheets (``grade_sheet``, the command's own path); the page's script, running in
headless Chromium, judges the same texts; the two verdicts must be equal for every one.
Also: variant 7's 12,800 for 12,816 parameters is wrong on both (weights only), and
12.25 KiB right on both. The layout is checked at 1280 and at 390 pixels.
"""

from __future__ import annotations

import math
from collections import Counter

import pytest

from archcalc.grading import Status, grade_sheet, read_answers_text
from archcalc.quiz import QuizOptions, make_quiz
from archcalc.quiz.markdown import render
from archcalc.quiz.webpage import render_page
from tests.chromium import browser  # noqa: F401  (the shared Chromium fixture)

PLAN = [("conv", QuizOptions()), ("pool", QuizOptions()), ("dense", QuizOptions()), ("depthwise", QuizOptions()),
        ("separable", QuizOptions(convention="textbook")), ("dilated", QuizOptions()), ("transposed", QuizOptions()),
        ("table", QuizOptions()), ("rf", QuizOptions()), ("compare", QuizOptions()), ("find-error", QuizOptions()),
        ("table", QuizOptions(model="lenet5", style="keras"))]
SUFFIX = {1: "K", 2: "M", 3: "G"}


def weights_of(report, row) -> int | None:
    if row.label == "total":
        return report.totals.weights
    if row.block:
        return sum(report.row(n).weights for n in row.block)
    if row.layer:
        return report.row(row.layer).weights
    return None


def typed_battery(variant, row, answer, unit: str) -> list[str]:
    """The typed answers tried for one cell (the test's own arithmetic on the key's value)."""
    value, quantity = answer.value, answer.quantity
    if quantity == "shape":
        dims = list(value)
        texts = [answer.text, "x".join(map(str, dims)), "?"]
        if len(dims) == 3:
            c, h, w = dims
            texts += [f"(None, {h}, {w}, {c})", f"{h + 1}x{w}x{c}", f"{h}x{w}"]
        return texts
    if quantity == "rf":
        h, w = (int(v) for v in value)
        return [answer.text, f"{h}x{w}", str(h + 2), "?"]
    value = int(value)
    texts = [answer.text, f"{value:,}", f"{value + 1:,}", "?"]
    if value >= 1000:
        k = min(3, int(math.log10(value)) // 3)
        texts += [f"{value / 1000 ** k:.3g}{SUFFIX[k]}", f"{value / 1000 ** k:.2f}{SUFFIX[k]}",
                  f"{value / 1000 ** min(3, k + 1):.4g}{SUFFIX[min(3, k + 1)]}",  # off by 1000
                  f"{round(value, -2):,}", f"{round(value, 1 - len(str(value))):,}"]  # rounded, written out
    if quantity == "memory" and unit.lower() in ("bytes", "b"):
        for scale, name in ((1024, "KiB"), (1000, "KB"), (1024, "KB"), (10**6, "MB"), (1000, "kB"), (1, "B")):
            texts += [f"{value / scale:.2f} {name}", f"{value / scale:.1f} {name}"]
    if quantity == "params":
        weights = weights_of(variant.report, row)
        if weights is not None and weights != value:
            texts += [f"{weights:,}", str(weights)]  # biases forgotten
    macs = row.answers.get("macs")
    if quantity == "flops" and macs is not None:
        texts += [macs.text, f"{2 * int(macs.value):,}"]
    return list(dict.fromkeys(texts))


def key_table(variant) -> tuple[list[str], int]:
    """The key's lines and the index of its table's heading line."""
    lines = render(variant, key=True, derivations=False).splitlines()
    return lines, next(i for i, line in enumerate(lines) if line.startswith("| Layer |"))


def check_verdicts(variant, cases: list[tuple[int, int, str]]) -> list[bool]:
    """``check``'s verdicts on (row, column, text) cases: each case typed on a returned sheet."""
    lines, head = key_table(variant)
    headings = [c.strip() for c in lines[head].strip().strip("|").split("|")]
    verdicts: list[bool | None] = [None] * len(cases)
    pending = list(range(len(cases)))
    while pending:  # one sheet per round, each cell typed at most once a round
        taken, this_round = set(), []
        for index in pending:
            r, c, _ = cases[index]
            if (r, c) not in taken:
                taken.add((r, c))
                this_round.append(index)
        sheet = list(lines)
        for index in this_round:
            r, c, typed = cases[index]
            cells = [x.strip() for x in sheet[head + 2 + r].strip().strip("|").split("|")]
            cells[2 + c] = typed.replace("|", "")
            sheet[head + 2 + r] = "| " + " | ".join(cells) + " |"
        result = grade_sheet(read_answers_text("\n".join(sheet) + "\n", "returned.md", ".md"), variant.report)
        by_place = {}
        for row in result.rows:
            for cell in row.cells:
                by_place[(cell.line, cell.quantity)] = cell
        for cell in result.totals:
            by_place[(cell.line, cell.quantity)] = cell
        for index in this_round:
            r, c, _ = cases[index]
            quantity = variant.columns[c].quantity
            verdicts[index] = by_place[(head + 3 + r, quantity)].status is Status.RIGHT
        pending = [i for i in pending if i not in this_round]
    assert headings[2:] == [c.heading for c in variant.columns]
    return verdicts  # type: ignore[return-value]


@pytest.fixture(scope="module")
def quiz_page(tmp_path_factory):
    from archcalc.grading.sheets import column_quantity

    variants = []
    for index, (kind, options) in enumerate(PLAN):
        variants += make_quiz(kind, options, students=1, seed=40 + index)
    variants += make_quiz("conv", QuizOptions(), students=7, seed=0)[6:]  # the variant 7
    path = tmp_path_factory.mktemp("agree") / "quiz.html"
    path.write_text(render_page(variants, "Every kind"), encoding="utf-8")
    cases = []
    for v, variant in enumerate(variants):
        for r, row in enumerate(variant.rows):
            for c, column in enumerate(variant.columns):
                answer = row.answers.get(column.quantity)
                if answer is None or answer.shown is not None and variant.kind != "find-error":
                    continue
                unit = column_quantity(column.heading)[1]
                for typed in typed_battery(variant, row, answer, unit):
                    cases.append((v, r, c, typed))
    return path, variants, cases


def page_verdicts(browser, path, cases) -> list[bool | None]:
    browser.get(path.as_uri())
    browser.set_script_timeout(300)
    return browser.execute_async_script(
        "const cases = arguments[0], done = arguments[arguments.length - 1];"
        "const quiz = JSON.parse(document.getElementById('quiz-data').textContent);"
        "done(cases.map(([v, r, c, text]) => { const variant = quiz.variants[v];"
        " return judge(quiz, variant, variant.rows[r].cells[c], text); }));",
        [list(case) for case in cases])


def test_the_page_and_check_agree_on_every_typed_answer(browser, quiz_page):  # noqa: F811
    path, variants, cases = quiz_page
    page = page_verdicts(browser, path, cases)
    by_variant: dict[int, list] = {}
    for index, (v, r, c, typed) in enumerate(cases):
        by_variant.setdefault(v, []).append(index)
    checked = [None] * len(cases)
    for v, indices in by_variant.items():
        verdicts = check_verdicts(variants[v], [cases[i][1:] for i in indices])
        for i, verdict in zip(indices, verdicts):
            checked[i] = verdict
    disagree = [(variants[v].kind, variants[v].number, variants[v].rows[r].label, variants[v].columns[c].quantity,
                 typed, page[i], checked[i])
                for i, (v, r, c, typed) in enumerate(cases) if bool(page[i]) != checked[i]]
    assert not disagree, (len(disagree), disagree[:40])
    tally = Counter(checked)
    assert len(cases) > 500 and tally[True] > 150 and tally[False] > 150, tally
    assert {v.kind for v in variants} >= {"conv", "pool", "dense", "depthwise", "separable", "dilated", "transposed",
                                          "table", "rf", "compare", "find-error"}


def test_variant_7_weights_only_and_kib_as_check_says(browser, quiz_page):  # noqa: F811
    path, variants, cases = quiz_page
    variant = variants[-1]
    assert variant.number == 7
    columns = [c.quantity for c in variant.columns]
    row = variant.rows[0]
    params = int(row.answers["params"].value)
    weights = weights_of(variant.report, row)
    memory = int(row.answers["memory"].value)
    tried = [(len(variants) - 1, 0, columns.index("params"), f"{weights:,}"),
             (len(variants) - 1, 0, columns.index("params"), f"{params / 1000:.1f}K"),
             (len(variants) - 1, 0, columns.index("memory"), f"{memory / 1024:.2f} KiB")]
    page = page_verdicts(browser, path, tried)
    assert page == check_verdicts(variant, [t[1:] for t in tried])
    assert page[0] is False and page[2] is True  # biases forgotten: wrong; the output in KiB: right
    if params == 12_816:  # the numbers: 12,800 is weights only, 12.25 KiB is the output
        assert weights == 12_800


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("kind", ["conv", "table", "compare"])
def test_the_answer_table_fits_the_window(browser, quiz_page, width, kind):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    path, variants, _ = quiz_page
    index = next(i for i, v in enumerate(variants) if v.kind == kind)
    browser.set_window_size(width, 900)
    browser.get(path.as_uri())
    try:
        Select(browser.find_element(By.ID, "variant")).select_by_index(index)
        page_width = browser.execute_script("return document.documentElement.scrollWidth")
        inner = browser.execute_script("return document.documentElement.clientWidth")
        assert page_width <= inner + 1, (width, page_width, inner)  # the page itself never scrolls sideways
        table = browser.find_element(By.ID, "answers")
        last = table.find_elements(By.CSS_SELECTOR, "thead th")[-1]
        right = browser.execute_script("return arguments[0].getBoundingClientRect().right", last)
        if width >= 1280:  # wide: the whole table shows, its last (receptive-field) column included
            assert right <= inner, (right, inner)
        else:  # a phone: the table scrolls in its own box, every column reachable
            box = table.find_element(By.XPATH, "..")
            assert browser.execute_script("return getComputedStyle(arguments[0]).overflowX", box) in ("auto", "scroll")
            assert browser.execute_script("return arguments[0].scrollWidth >= arguments[0].clientWidth", box)
    finally:
        browser.set_window_size(1400, 1100)
