"""`archcalc layer ... --answer`: a single-layer question graded without a model file."""

from __future__ import annotations

import json


def test_right_answers_exit_0(run_cli):
    # 32x32x3, sixteen 3x3 filters, stride 1, no padding: (32 - 3)/1 + 1 = 30; (3*3*3 + 1)*16 = 448
    result = run_cli("layer", "conv2d", "--input", "32x32x3", "--filters", "16", "--kernel", "3",
                     "--answer", "shape=30x30x16", "--answer", "params=448", "--answer", "macs=388,800")
    assert result.exit_code == 0, result.output
    assert "3/3 cells right" in result.stdout


def test_wrong_answer_exits_1_and_names_the_slip(run_cli):
    result = run_cli("layer", "conv2d", "--input", "32x32x3", "--filters", "16", "--kernel", "3",
                     "--answer", "params=432", "--format", "json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["wrong"] == 1
    assert "weights only" in json.dumps(data)


def test_unknown_quantity_is_a_usage_error(run_cli):
    result = run_cli("layer", "conv2d", "--input", "32x32x3", "--filters", "16", "--kernel", "3",
                     "--answer", "colour=blue")
    assert result.exit_code == 2
    assert "Traceback" not in result.output
