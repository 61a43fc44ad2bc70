"""Markdown, LaTeX and CSV exports: what each says about the run, their columns, and totals
that equal the report's."""

from __future__ import annotations

import io
import re

import pytest

import archcalc
from archcalc.render.exports import EXPORTERS, comparison_csv, to_csv, to_latex, to_markdown


@pytest.fixture(scope="module")
def report():
    return archcalc.analyze("resnet50", convention="flops", batch=2)


@pytest.mark.parametrize("fmt", ["md", "latex", "html"])
def test_human_exports_name_model_input_dtype_batch_convention(report, fmt):
    text = EXPORTERS[fmt](report).replace("&amp;", "&")
    for fragment in ("resnet50", "input 224x224x3 (H x W x C)", "batch 2", "float32", "FLOPs [flops]",
                     "FLOPs = 2 x MACs"):
        assert fragment in text, (fmt, fragment)
    assert "3x224x224" not in text and "64x112x112" not in text  # shapes as people write them


def test_csv_is_data_only(report):
    text = to_csv(report)
    assert not text.startswith("#") and text.endswith("\n")
    pd = pytest.importorskip("pandas")
    frame = pd.read_csv(io.StringIO(text))
    assert len(frame) == len(report.rows)
    assert int(frame["params"].sum()) == report.totals.params
    assert frame["output_hwc"][0] == "112x112x64"


def test_markdown_has_the_terminal_columns_and_a_totals_row(report):
    lines = [line for line in to_markdown(report).splitlines() if line.startswith("|")]
    head = [cell.strip() for cell in lines[0].strip("|").split("|")]
    assert head == ["Layer", "Type", "Output (HxWxC)", "Params", "Act. mem (B)", "MACs", "FLOPs [flops]", "RF"]
    assert len(lines) == 2 + len(report.rows) + 1
    total = [cell.strip() for cell in lines[-1].strip("|").split("|")]
    assert total[0] == "Total"
    assert total[3] == f"{report.totals.params:,}" == "25,557,032"
    assert total[6] == f"{report.totals.flops:,}"
    conv1 = [cell.strip() for cell in lines[2].strip("|").split("|")]
    # conv1: 7*7*3*64 = 9,408 weights; 112*112*64 * 2 samples * 4 B = 6,422,528 B
    assert conv1[:5] == ["conv1", "conv 7x7/2 f64 p3 no bias", "112x112x64", "9,408", "6,422,528"]


def test_latex_is_booktabs_with_a_caption_and_a_totals_rule(report):
    text = to_latex(report)
    assert text.count(r"\begin{tabular}") == text.count(r"\end{tabular}") == 1
    assert r"\toprule" in text and r"\bottomrule" in text and r"\caption{resnet50: input 224x224x3" in text
    assert r"\label{tab:archcalc-resnet50}" in text
    body = text.split(r"\midrule", 1)[1].split(r"\bottomrule")[0]
    rows = [line for line in body.strip().splitlines() if line != r"\midrule"]
    assert len(rows) == len(report.rows) + 1
    assert all(row.count("&") == 7 for row in rows)
    assert rows[-1].startswith("Total &") and body.strip().splitlines()[-2] == r"\midrule"
    assert "25,557,032" in rows[-1]
    header = text.split(r"\toprule")[1].split(r"\midrule")[0]
    assert "Output (HxWxC)" in header and "_" not in header


def test_latex_escapes_names():
    text = to_latex(archcalc.analyze("mobilenet_v1"))
    assert r"dw\_separable2" in text and "dw_separable2" not in text.replace(r"\_", "")


def test_comparison_csv_loads_as_it_is():
    pd = pytest.importorskip("pandas")
    comparison = archcalc.compare([archcalc.analyze("lenet5"), archcalc.analyze("alexnet")])
    text = comparison_csv(comparison)
    assert not text.startswith("#")
    frame = pd.read_csv(io.StringIO(text))
    assert list(frame["metric"])[0] == "Parameters" and re.match(r"alexnet / lenet5", frame.columns[-1])
