"""``archcalc compare`` and ``--sweep``: totals side by side with ratios to the first."""

from __future__ import annotations

import io
import json

import pytest
from typer.testing import CliRunner

import archcalc
from archcalc.cli import app, normalize_argv

runner = CliRunner()

#: a small network written here: conv 3x3 (pad 1) -> relu -> maxpool 2 -> conv 3x3 -> global pool -> fc
SMALL = """\
name: small
input: 32x32x3
layers:
  - conv: {filters: 8, kernel: 3, pad: 1}
  - relu
  - maxpool: 2
  - conv: {filters: 16, kernel: 3, pad: 1}
  - global_avgpool
  - flatten
  - linear: 10
"""
WIDER = SMALL.replace("name: small", "name: wider").replace("filters: 8", "filters: 32")


def run(*args: str, width: int = 80):
    return runner.invoke(app, normalize_argv(list(args)), env={"COLUMNS": str(width)})


@pytest.fixture
def specs(tmp_path):
    small, wider = tmp_path / "small.yaml", tmp_path / "wider.yaml"
    small.write_text(SMALL)
    wider.write_text(WIDER)
    return str(small), str(wider)


def test_compare_json_values_and_ratios(specs):
    small, wider = specs
    result = run("compare", small, wider, "vgg16", "--input", "32x32x3", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    reports = [archcalc.analyze(m, "32x32x3") for m in (small, wider, "vgg16")]
    metrics = {m["key"]: m for m in data["metrics"]}
    for key in ("params", "activation_bytes", "peak_activation_bytes", "macs"):
        values = [getattr(r.totals, key) for r in reports]
        assert metrics[key]["values"] == values
        assert metrics[key]["ratios"] == pytest.approx([v / values[0] for v in values])
    # independent arithmetic: params of the small net
    small_params = (3 * 3 * 3 + 1) * 8 + (3 * 3 * 8 + 1) * 16 + (16 + 1) * 10
    assert metrics["params"]["values"][0] == small_params
    assert data["labels"] == ["small", "wider", "vgg16"]


def test_compare_table_and_sentences(specs):
    small, wider = specs
    result = run("compare", small, wider)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Parameters" in out and "MACs" in out and "(ratio to" in out
    ratio = archcalc.analyze(wider).totals.macs / archcalc.analyze(small).totals.macs
    assert f"{ratio:.2f}x the MACs of small" in " ".join(out.split())
    assert max(len(line) for line in out.splitlines()) <= 80


def test_compare_csv_reads_back(specs):
    pd = pytest.importorskip("pandas")
    small, wider = specs
    result = run("compare", small, wider, "--format", "csv", "-c", "flops")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("metric,unit,")  # loads as it is: no comment line
    frame = pd.read_csv(io.StringIO(result.stdout))
    row = frame.set_index("metric").loc["FLOPs [flops]"]
    assert int(row["wider"]) == archcalc.analyze(wider, convention="flops").totals.flops
    assert float(row["wider / small"]) == pytest.approx(int(row["wider"]) / int(row["small"]), rel=1e-3)


def test_compare_markdown_and_output_file(specs, tmp_path):
    small, wider = specs
    path = tmp_path / "cmp.md"
    result = run("compare", small, wider, "-o", str(path))
    assert result.exit_code == 0, result.output
    text = path.read_text()
    assert "| metric | unit |" in text and "| Parameters | count |" in text


def test_compare_needs_two_models():
    result = run("compare", "vgg16")
    assert result.exit_code == 2 and "two or more" in result.stderr


def test_sweep_batch_scales_activations_not_parameters(specs):
    small, _ = specs
    result = run(small, "--sweep", "batch=1,8,64", "--format", "json")
    assert result.exit_code == 0, result.output
    metrics = {m["key"]: m for m in json.loads(result.stdout)["metrics"]}
    base = archcalc.analyze(small).totals
    assert metrics["params"]["values"] == [base.params] * 3
    assert metrics["activation_bytes"]["values"] == [base.activation_bytes * b for b in (1, 8, 64)]
    assert metrics["macs"]["ratios"] == [1, 8, 64]


def test_sweep_input_grows_with_area(specs):
    small, _ = specs
    result = run(small, "--sweep", "input=32,64", "--format", "json")
    assert result.exit_code == 0, result.output
    metrics = {m["key"]: m for m in json.loads(result.stdout)["metrics"]}
    # convolutions scale with H x W; the classifier (after global pooling) does not
    conv_macs = lambda s: s * s * 8 * 27 + (s // 2) * (s // 2) * 16 * 72  # noqa: E731
    assert metrics["macs"]["values"] == [conv_macs(32) + 160, conv_macs(64) + 160]
    assert metrics["params"]["ratios"] == [1, 1]


def test_sweep_table(specs):
    small, _ = specs
    result = run(small, "--sweep", "batch=1,4")
    assert result.exit_code == 0, result.output
    assert "batch 4" in result.stdout and "4.00x the activation memory" in " ".join(result.stdout.split())


@pytest.mark.parametrize("sweep", ["depth=1,2", "batch=", "batch=0,1", "nonsense"])
def test_bad_sweep(sweep, specs):
    result = run(specs[0], "--sweep", sweep)
    assert result.exit_code == 2, result.output
    assert "--sweep" in result.stderr


def test_sweep_refuses_per_layer_options(specs):
    result = run(specs[0], "--sweep", "batch=1,2", "--explain")
    assert result.exit_code == 2 and "does not combine with --explain" in result.stderr
