"""LaTeX and standalone HTML exports, and the header line every tabular export carries."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

import archcalc
from archcalc.render.exports import EXPORTERS, to_html, to_latex


@pytest.fixture(scope="module")
def report():
    return archcalc.analyze("resnet50", convention="flops", batch=2)


def test_every_tabular_export_names_model_input_dtype_batch_convention(report):
    for fmt in ("csv", "md", "latex", "html"):
        text = EXPORTERS[fmt](report)
        for fragment in ("model resnet50", "input 3x224x224", "batch 2", "dtype float32", "convention flops"):
            assert fragment in text.replace("&amp;", "&"), (fmt, fragment)


def test_latex_table(report):
    text = to_latex(report)
    assert text.count(r"\begin{tabular}") == text.count(r"\end{tabular}") == 1
    assert r"\toprule" in text and r"\bottomrule" in text
    body = text.split(r"\midrule")[1].split(r"\bottomrule")[0]
    rows = [line for line in body.strip().splitlines()]
    assert len(rows) == len(report.rows)
    header = text.split(r"\toprule")[1].split(r"\midrule")[0]
    columns = list(report.to_dataframe().columns)
    assert header.count("&") == len(columns) - 1
    assert all(row.count("&") == len(columns) - 1 for row in rows)
    # underscores escaped; thousands separated by thin spaces
    assert r"output\_shape" in header and "_" not in header.replace(r"\_", "")
    first = report.rows[0]
    assert f"{first.macs:,}".replace(",", r"\,") in rows[0]


def test_html_is_standalone_with_three_svg_charts(report):
    text = to_html(report)
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    # nothing to fetch: no scripts, stylesheets or images from elsewhere
    urls = set(re.findall(r"https?://[^\s\"'<>]+", text))
    assert urls <= {"http://www.w3.org/2000/svg"}
    assert "<script" not in text and "<link" not in text
    svgs = re.findall(r"<svg.*?</svg>", text, re.DOTALL)
    assert len(svgs) == 3
    for svg in svgs:
        root = ET.fromstring(svg)
        assert root.tag.endswith("svg")
        bars = [e for e in root.iter() if e.tag.endswith("rect")]
        assert len(bars) == len(report.rows)
    assert f"{report.totals.params:,}" in text
    assert text.count("<tr>") >= len(report.rows)
