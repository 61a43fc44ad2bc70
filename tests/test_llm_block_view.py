"""A transformer's table: the block view (embedding, per layer attention / MLP / norms, the head),
``--depth`` down to the ops, and a module of point-wise ops on one input as one row."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

import archcalc  # noqa: E402
from archcalc.breakdown import block_view_depth, repeated_block_container  # noqa: E402
from archcalc.cli import app, normalize_argv  # noqa: E402


class QuickGelu(nn.Module):
    """x * sigmoid(1.702 x): three point-wise calls on one input."""

    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class Scaled(nn.Module):
    """A learned scale: a parameter, so not folded."""

    def __init__(self, width):
        super().__init__()
        self.gain = nn.Parameter(torch.ones(width))

    def forward(self, x):
        return x * self.gain + 1.0


class Gate(nn.Module):
    def forward(self, x, y):
        return x * torch.sigmoid(y)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.act = QuickGelu()
        self.scale = Scaled(8)
        self.gate = Gate()

    def forward(self, x):
        h = self.act(self.fc(x))
        return self.gate(self.scale(h), h)


def test_pointwise_module_is_one_row_with_summed_counts():
    report = archcalc.analyze(Net(), "4x8")
    names = [row.name for row in report.rows]
    act = report.row("act")
    assert act.attrs["fn"] == "QuickGelu" and act.category == "activation"
    assert not [n for n in names if n.startswith("act.")]
    elements = 4 * 8
    # 1.702 x: 1 mul; sigmoid: 1 exp, 1 add, 1 div; x * s: 1 mul
    assert (act.ops.muls, act.ops.exps, act.ops.adds, act.ops.divs) == (2 * elements, elements, elements, elements)
    assert [n for n in names if n.startswith("scale.")], "a module with a parameter is not folded"
    assert [n for n in names if n.startswith("gate.")], "a module of two inputs is not folded"


def test_block_view_of_gpt2():
    pytest.importorskip("transformers")
    report = archcalc.analyze("hf:gpt2", tokens=16)
    assert repeated_block_container([r.name for r in report.rows]) == "transformer.h"
    assert block_view_depth(report) == 4
    env = {"COLUMNS": "100", "NO_COLOR": "1"}
    folded = CliRunner().invoke(app, normalize_argv(["hf:gpt2", "--tokens", "16"]), env=env).stdout
    assert "blocks folded to depth 4" in folded
    lines = [line.split() for line in folded.splitlines()]
    labels = [parts[0] for parts in lines if parts]
    for part in ("wte", "ln_1", "attn", "ln_2", "mlp", "ln_f", "lm_head"):
        assert part in labels, part
    assert "c_fc" not in labels and "attention1" not in labels
    unfolded = CliRunner().invoke(app, normalize_argv(["hf:gpt2", "--tokens", "16", "--depth", "9"]), env=env).stdout
    assert "attn causal" in unfolded  # the attention row says causal
    assert "c_fc" in unfolded
