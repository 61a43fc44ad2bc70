"""``archcalc MODEL`` with the views added for readers: every export format read back and
compared with the library's numbers, --explain against the table's numbers, --depth,
--plot, and the terminal table at 80 and 200 columns."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

import archcalc
from archcalc.cli import app, normalize_argv

runner = CliRunner()

SMALL = """\
name: small
input: 32x32x3
layers:
  - name: features
    layers:
      - conv: {name: conv1, filters: 8, kernel: 3, pad: 1}
      - relu
      - maxpool: {name: pool1, kernel: 2}
      - conv: {name: conv2, filters: 16, kernel: 3, pad: 1}
      - relu
  - global_avgpool: {name: gap}
  - flatten
  - name: head
    layers:
      - linear: {name: fc, units: 10}
"""


def run(*args: str, width: int = 80):
    return runner.invoke(app, normalize_argv(list(args)), env={"COLUMNS": str(width)})


@pytest.fixture
def small(tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text(SMALL)
    return str(path)


LAYER_COLUMNS = ["name", "type", "output_hwc", "weights", "biases", "params", "activation_bytes", "macs", "flops"]


def check_frame(frame, report):
    assert list(frame["name"]) == [r.name for r in report.rows]
    for column in ("weights", "biases", "params", "activation_bytes", "macs", "flops"):
        assert [int(v) for v in frame[column]] == [getattr(r, column) for r in report.rows], column


def test_csv_reads_back_as_it_is(small, tmp_path):
    """pandas.read_csv with no options (as Excel and LibreOffice open it): the first line is the
    header, the file ends with a newline, shapes are H x W x C."""
    pd = pytest.importorskip("pandas")
    path = tmp_path / "layers.csv"
    result = run(small, "-o", str(path), "-c", "textbook", "--batch", "2")
    assert result.exit_code == 0, result.output
    text = path.read_text()
    assert text.endswith("\n") and not text.startswith("#") and text.splitlines()[0].startswith("name,type,")
    frame = pd.read_csv(path)
    assert set(LAYER_COLUMNS) <= set(frame.columns)
    check_frame(frame, archcalc.analyze(small, convention="textbook", batch=2))
    assert list(frame["output_hwc"])[:2] == ["32x32x8", "32x32x8"]
    assert f"csv written to {path}" in result.stderr


def test_markdown_reads_back(small, tmp_path):
    pd = pytest.importorskip("pandas")
    path = tmp_path / "out.md"
    result = run(small, "-o", str(path))
    assert result.exit_code == 0, result.output
    lines = [line for line in path.read_text().splitlines() if line.startswith("|")]
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    frame = pd.DataFrame(rows[2:], columns=rows[0])
    assert rows[1][0].startswith(":--") and rows[1][3].endswith("--:")  # text left, numbers right
    report = archcalc.analyze(small)
    assert list(frame["Layer"]) == [r.name for r in report.rows] + ["Total"]
    for column, key in (("Params", "params"), ("Act. mem (B)", "activation_bytes"), ("MACs", "macs")):
        values = [int(v.replace(",", "")) for v in frame[column]]
        assert values[:-1] == [getattr(r, key) for r in report.rows], column
        assert values[-1] == sum(values[:-1])  # the totals row
    assert list(frame["Output (HxWxC)"])[:3] == ["32x32x8", "32x32x8", "16x16x8"]
    assert re.search(r"\|\s*32,768\s*\|", path.read_text())  # conv1: 32*32*8 * 4 B, thousands separated


def test_json_is_the_report_contract(small, tmp_path):
    path = tmp_path / "out.json"
    result = run(small, "-o", str(path), "-c", "flops")
    assert result.exit_code == 0, result.output
    assert json.loads(path.read_text()) == json.loads(json.dumps(archcalc.analyze(small, convention="flops").to_dict()))


def test_explain_json_only_adds_keys_and_equals_the_numbers(small):
    plain = json.loads(run(small, "-f", "json", "-c", "exact").stdout)
    result = run(small, "-f", "json", "-c", "exact", "--explain")
    assert result.exit_code == 0, result.output
    explained = json.loads(result.stdout)
    for before, after in zip(plain["layers"], explained["layers"]):
        steps = {s["key"]: s["value"] for s in after.pop("derivation")}
        assert after == before
        for key in ("params", "activation_bytes", "flops", "weights", "biases", "macs"):
            if key in steps:
                assert steps[key] == before[key], (before["name"], key)
        if "rf_size" in steps:
            assert [steps["rf_size"]] * 2 == before["rf_size"]
    totals = {s["key"]: s["value"] for s in explained.pop("totals_derivation")}
    assert totals["totals.params"] == plain["totals"]["params"]
    assert totals["totals.peak_activation_bytes"] == plain["totals"]["peak_activation_bytes"]
    assert totals["totals.training_bytes.adam"] == plain["totals"]["training_bytes"]["adam"]
    assert explained == plain


def test_explain_text_shows_the_table_numbers(small):
    table = run(small, "--exact", width=200)
    explained = run(small, "--explain", "--only", "features.conv1", width=200)
    assert explained.exit_code == 0, explained.output
    report = archcalc.analyze(small)
    conv = report.row("features.conv1")
    assert f"{conv.params:,}" in table.stdout and f"{conv.macs:,}" in table.stdout
    text = explained.stdout
    assert "(3*3*3 + 1) * 8 = 224" in text and f"= {conv.macs:,}" in text
    assert "features.conv2:" not in text  # --only
    assert "totals:" in text and f"{report.totals.params:,}" in text
    assert "(32 - 3 + 2*1)/1 + 1 = 32" in text


def test_explain_markdown_and_unsupported_format(small):
    result = run(small, "-f", "md", "--explain")
    assert result.exit_code == 0 and "## Derivations" in result.stdout and "(3*3*3 + 1) * 8" in result.stdout
    result = run(small, "-f", "csv", "--explain")
    assert result.exit_code == 2 and "--explain works with" in result.stderr
    result = run(small, "--explain", "--only", "nothing*")
    assert result.exit_code == 2 and "matches no layer" in result.stderr


def test_depth_folds_blocks_into_sums(small):
    result = run(small, "--depth", "1", "--exact", width=200)
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    features = (3 * 3 * 3 + 1) * 8 + (3 * 3 * 8 + 1) * 16
    assert f"{features:,}" in lines["features"] and "16x16x16" in lines["features"]
    assert "conv1" not in result.stdout.split("Totals")[0]
    assert "head" in lines and f"{(16 + 1) * 10:,}" in lines["head"]


@pytest.mark.parametrize("model", ["vgg16", "resnet50"])
def test_80_columns(model):
    result = run(model, width=80)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    report = archcalc.analyze(model)
    table = result.stdout.split("Totals")[0]
    # names are shown whole (indented under their blocks), never folded or cut
    assert "…" not in table
    for row in report.rows:
        assert re.search(rf"^\s*{re.escape(row.name.rsplit('.', 1)[-1])} ", table, re.MULTILINE), row.name
    assert "138,357,544" in result.stdout or model != "vgg16"


def test_wide_table_shows_percentages_and_hyperparameters():
    result = run("vgg16", "-c", "flops", width=200)
    assert result.exit_code == 0
    assert "%" in result.stdout and "conv 3x3 f64 p1" in result.stdout and "FLOPs [flops]" in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 200


def test_table_to_text_file(small, tmp_path):
    path = tmp_path / "table.txt"
    result = run(small, "-o", str(path))
    assert result.exit_code == 0
    text = path.read_text()
    assert "Totals" in text and "\x1b[" not in text


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_plot(small, tmp_path, suffix):
    pytest.importorskip("matplotlib")
    path = tmp_path / f"plot{suffix}"
    result = run(small, "--plot", str(path))
    assert result.exit_code == 0, result.output
    assert path.stat().st_size > 5_000
    assert "plot written to" in result.stderr


def test_plot_bad_suffix(small, tmp_path):
    result = run(small, "--plot", str(tmp_path / "plot.bmp"))
    assert result.exit_code == 2 and "--plot writes" in result.stderr
