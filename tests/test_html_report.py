"""The HTML report, read as text and seen in a real browser engine at 1280 x 800.

The browser tests drive a system Chromium through playwright (the ``[browser]``
extra; CI installs both) and skip when either is missing. Each saves a
screenshot under pytest's tmp dir, or under ``$ARCHCALC_SCREENSHOTS`` when set,
for a person to look at.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

import archcalc
from archcalc.render.exports import to_html
from archcalc.render.svg import axis_ticks

VIEWPORT = {"width": 1280, "height": 800}
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium_path() -> str | None:
    for candidate in (os.environ.get("ARCHCALC_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser"), shutil.which("google-chrome")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


# -- the page as text ----------------------------------------------------------------------


def test_totals_name_macs_once_and_flops_only_when_they_differ():
    macs = to_html(archcalc.analyze("lenet5"))
    totals = macs.split('<table class="totals">')[1].split("</table>")[0]
    assert totals.count("<td>MACs</td>") == 1 and "FLOPs" not in totals
    flops = to_html(archcalc.analyze("lenet5", convention="textbook"))
    totals = flops.split('<table class="totals">')[1].split("</table>")[0]
    assert totals.count("<td>MACs</td>") == 1 and totals.count("FLOPs [textbook]") == 1


def test_headers_are_words_and_shapes_hwc():
    text = to_html(archcalc.analyze("lenet5"))
    heads = re.findall(r"<th[^>]*>([^<]*)</th>", text)
    assert heads == ["Layer", "Type", "Output (HxWxC)", "Params", "Act. mem (B)", "MACs", "RF"]
    assert "28x28x6" in text and "6x28x28" not in text
    assert "input 32x32x1 (H x W x C)" in text


def test_chart_units_follow_the_numbers():
    # LeNet-5: 48,120 parameters in fc1 -> an axis in K from 0 to 50, never 0.00005 G
    text = to_html(archcalc.analyze("lenet5"))
    assert "Parameters (K)" in text and "Activation memory (KiB)" in text and "MACs (K)" in text
    ticks = re.findall(r'text-anchor="end" fill="#555">([^<]*)<', text)
    assert ticks and all(len(t) <= 5 for t in ticks), ticks
    assert axis_ticks(48.12) == [0, 10, 20, 30, 40, 50]
    assert re.findall(r'font-weight="bold">([^<]*)<', to_html(archcalc.analyze("vgg16"))) == [
        "Activation memory (MiB)", "Parameters (M)", "MACs (G)"]


def test_intended_roundings_are_not_listed_at_the_top():
    text = to_html(archcalc.analyze("resnet50"))
    assert "<h2>Warnings</h2>" not in text
    assert text.index("as the network intends") > text.index('<table class="layers">')
    assert "site-packages" not in text


def test_a_real_warning_is_listed_after_the_table():
    text = to_html(archcalc.analyze("vgg16", "225x225x3"))
    assert text.index("<h2>Warnings</h2>") > text.index('<table class="layers">')


def test_large_networks_fold_their_charts():
    text = to_html(archcalc.analyze("resnet50"))
    assert "charts fold blocks to depth" in text
    for svg in re.findall(r"<svg.*?</svg>", text, re.S):
        assert svg.count("<rect") <= 40
    table = text.split('<table class="layers">')[1].split("</table>")[0]
    assert table.count("<tr") == len(archcalc.analyze("resnet50").rows) + 2  # header and totals


def test_standalone_without_scripts_or_network():
    text = to_html(archcalc.analyze("resnet18"))
    assert "<script" not in text and "<link" not in text
    assert set(re.findall(r"https?://[^\s\"'<>]+", text)) <= {"http://www.w3.org/2000/svg"}


# -- the page in a browser -------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api", reason="the [browser] extra is not installed")
    executable = chromium_path()
    if executable is None:
        pytest.skip("no Chromium (apt-get install chromium, or set ARCHCALC_CHROMIUM)")
    with playwright.sync_playwright() as driver:
        engine = driver.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield engine
        engine.close()


def screenshot_path(tmp_path: Path, name: str) -> Path:
    folder = Path(os.environ.get("ARCHCALC_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


@pytest.mark.parametrize("model, convention", [("lenet5", "textbook"), ("resnet18", "macs"),
                                               ("resnet50", "flops"), ("vgg16", "macs")])
def test_page_fits_1280_by_800(browser, tmp_path, model, convention):
    path = tmp_path / f"{model}.html"
    path.write_text(to_html(archcalc.analyze(model, convention=convention)), encoding="utf-8")
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(path.as_uri())
    # nothing wider than the window: no horizontal scrolling
    assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORT["width"]
    charts = page.locator(".charts svg")
    assert charts.count() == 3
    for index in range(3):
        box = charts.nth(index).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= VIEWPORT["width"] and box["height"] > 100
    # the first chart starts in the first screen, under the totals
    assert charts.nth(0).bounding_box()["y"] < VIEWPORT["height"]
    table = page.locator("table.layers")
    box = table.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= VIEWPORT["width"]
    assert table.is_visible() and page.locator("table.layers th").first.is_visible()
    # chart labels as drawn on screen: at least 9 px tall, and none overlapping the next one
    heights = page.evaluate(
        "[...document.querySelectorAll('.charts svg text')].map(t => t.getBoundingClientRect().height)")
    assert min(heights) >= 9, min(heights)
    overlaps = page.evaluate("""() => {
        const svg = document.querySelector('.charts svg');
        const labels = [...svg.querySelectorAll('text')].filter(t => t.getAttribute('transform') ||
                                                                   t.getAttribute('text-anchor') === 'middle');
        let bad = 0;
        for (let i = 1; i < labels.length; i++) {
            const a = labels[i - 1].getBoundingClientRect(), b = labels[i].getBoundingClientRect();
            const horizontal = !labels[i].getAttribute('transform');
            if (horizontal && a.right > b.left + 1) bad++;
        }
        return bad;
    }""")
    assert overlaps == 0
    # no label leaves its chart (a rotated one reaches left of its bar)
    clipped = page.evaluate("""() => [...document.querySelectorAll('.charts svg')].map(svg => {
        const box = svg.getBoundingClientRect();
        return [...svg.querySelectorAll('text')].filter(t => {
            const r = t.getBoundingClientRect();
            return r.left < box.left - 0.5 || r.right > box.right + 0.5 || r.bottom > box.bottom + 0.5;
        }).length;
    }).reduce((a, b) => a + b, 0)""")
    assert clipped == 0
    shot = screenshot_path(tmp_path, f"report_{model}.png")
    page.screenshot(path=str(shot))
    page.screenshot(path=str(shot.with_name(f"report_{model}_full.png")), full_page=True)
    assert shot.stat().st_size > 10_000
    page.close()
