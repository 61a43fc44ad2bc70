"""LayerNorm without a bias and RMSNorm (archcalc/layers/layernorm.py, rmsnorm.py) against real
forward passes, numel(), fvcore and FlopCounterMode, with the arithmetic written out here.

Before, nn.LayerNorm(4, bias=False) was counted under no preset; fvcore counts it as it
counts the biased one (``norm_flop_counter(2)``: 5 flops per element when a weight is given).
"""

from __future__ import annotations

import pytest

from tests.torch_truth import fvcore_total, numel, output_shape, torch, torch_total

from archcalc.frontends import analyze_module  # noqa: E402

nn = torch.nn
F = torch.nn.functional
BATCH = 2


@pytest.mark.parametrize("shape, normalized", [((3, 4), 4), ((5, 6, 8), (6, 8))])
def test_layernorm_without_bias(shape, normalized):
    module = nn.LayerNorm(normalized, bias=False)
    x = torch.randn(BATCH, *shape)
    report = analyze_module(module, shape, batch=BATCH, convention="fvcore")
    (row,) = report.rows
    n = x.numel()
    groups = n // module.weight.numel()
    assert row.op == "layernorm" and report.counts_status == "complete"
    assert row.output_shape == output_shape(module, x)
    assert row.params == row.weights == numel(module) and row.biases == 0
    assert row.flops == fvcore_total(module, x) == 5 * n
    assert analyze_module(module, shape, batch=BATCH, convention="torch").totals.flops == torch_total(module, x) == 0
    # mean sum, centring, variance sum (no + beta); square, * gamma; divide; per group mean,
    # variance and a square root
    assert (row.ops.adds, row.ops.muls, row.ops.divs, row.ops.exps) == (3 * n, 2 * n, n + 2 * groups, groups)


def test_functional_layer_norm_with_a_weight_alone():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.gamma = nn.Parameter(torch.ones(6))

        def forward(self, x):
            return F.layer_norm(x, (6,), self.gamma)

    x = torch.randn(BATCH, 4, 6)
    report = analyze_module(Net(), (4, 6), batch=BATCH, convention="fvcore")
    assert [row.op for row in report.rows] == ["layernorm"]
    assert report.totals.params == 6 and report.totals.flops == fvcore_total(Net(), x) == 5 * x.numel()


@pytest.mark.parametrize("normalized, affine", [(8, True), ((4, 8), True), (8, False)])
def test_rmsnorm(normalized, affine):
    module = nn.RMSNorm(normalized, elementwise_affine=affine)
    shape = (5, 4, 8)
    x = torch.randn(BATCH, *shape)
    report = analyze_module(module, shape, batch=BATCH)
    (row,) = report.rows
    n = x.numel()
    groups = n // (8 if normalized == 8 else 32)
    assert row.op == "rmsnorm" and report.counts_status == "complete"
    assert row.output_shape == output_shape(module, x)
    assert row.params == numel(module)
    # y = x / sqrt(mean(x^2) + eps) * gamma: per element square (+ gamma), sum, divide;
    # per group the mean's division, + eps and the root
    assert row.ops.muls == n * (2 if affine else 1)
    assert (row.ops.adds, row.ops.divs, row.ops.exps) == (n + groups, n + groups, groups)
    assert fvcore_total(module, x) == torch_total(module, x) == 0
    assert analyze_module(module, shape, batch=BATCH, convention="fvcore").totals.flops == 0


def test_functional_rms_norm():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.ones(8))

        def forward(self, x):
            return F.rms_norm(x, (8,), self.scale, eps=1e-6)

    report = analyze_module(Net(), (3, 8), batch=BATCH)
    assert [row.op for row in report.rows] == ["rmsnorm"] and report.totals.params == 8
