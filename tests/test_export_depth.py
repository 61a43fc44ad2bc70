"""Exports follow the view (issue 18, section 5): Markdown, LaTeX and HTML fold blocks to
``--depth`` as the terminal table does, and end with the totals row."""

from __future__ import annotations

import archcalc
from archcalc.render.exports import to_html, to_latex, to_markdown


def _md_rows(text: str) -> list[list[str]]:
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    return [[c.strip() for c in row.strip("|").split("|")] for row in rows[1:]]


def test_markdown_export_folds_to_depth_with_totals():
    report = archcalc.analyze("resnet18")
    rows = _md_rows(to_markdown(report, depth=1))
    names = [r[0] for r in rows]
    # depth 1: the stem (conv1, bn1, relu1, maxpool), the four stages, avgpool, flatten, fc, then Total
    assert names == ["conv1", "bn1", "relu1", "maxpool", "layer1", "layer2", "layer3", "layer4",
                     "avgpool", "flatten1", "fc", "Total"]
    by_name = {r[0]: r for r in rows}
    # layer1: two basic blocks of two 3x3 convs, 64 -> 64, no bias, and their batch norms:
    # 4 * 3*3*64*64 + 4 * 2*64 = 147,968
    assert by_name["layer1"][3] == f"{4 * 3 * 3 * 64 * 64 + 4 * 2 * 64:,}"
    # the totals row holds every parameter: torchvision's resnet18 has 11,689,512
    assert by_name["Total"][3] == "11,689,512"
    assert "blocks folded to depth 1" in to_markdown(report, depth=1)
    assert len(_md_rows(to_markdown(report))) == len(report.rows) + 1  # no depth: every layer


def test_latex_and_html_follow_the_depth_too():
    report = archcalc.analyze("resnet18")
    latex = to_latex(report, depth=1)
    assert "layer1 &" in latex and "layer1.0.conv1" not in latex.replace("\\_", "_")
    html = to_html(report, depth=1)
    assert "layer1.0.conv1" not in html.split("<table")[-1]


def test_the_cli_passes_depth_to_the_markdown_export(run_cli):
    result = run_cli("resnet18", "--depth", "1", "--format", "md")
    assert result.exit_code == 0, result.output
    assert "| layer1 " in result.output and "layer1.0.conv1" not in result.output
    assert "| Total " in result.output
