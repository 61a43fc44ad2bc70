"""Every activation module of torch.nn (archcalc/layers/activation.py): the output shape of a
real forward pass, numel() of the parameters (PReLU's slopes), fvcore and FlopCounterMode
(which count none of them), and the per-element counts written out here from the formulas
of the PyTorch docs. Before, nn.ELU and most of these had no rule."""

from __future__ import annotations

import math

import pytest

from tests.torch_truth import fvcore_total, numel, output_shape, torch, torch_total

from archcalc.frontends import analyze_module  # noqa: E402

nn = torch.nn
F = torch.nn.functional
BATCH = 2
SHAPE = (4, 3, 6)  # (C, H, W): 72 elements per sample
N = 4 * 3 * 6

# (module, op, primitive operations per element written from the formula, parameters)
CASES = [
    (nn.ELU(0.5), "elu", dict(cmps=1, exps=1, adds=1, muls=1)),  # x > 0 ? x : a (e^x - 1)
    (nn.SELU(), "selu", dict(cmps=2, exps=1, adds=2, muls=2)),  # s (max(0,x) + min(0, a (e^x - 1)))
    (nn.CELU(2.0), "celu", dict(cmps=2, divs=1, exps=1, adds=2, muls=1)),  # max(0,x) + min(0, a (e^(x/a) - 1))
    (nn.GELU(), "gelu", dict(exps=1, adds=1, muls=3)),  # x/2 (1 + erf(x/sqrt2))
    (nn.GELU(approximate="tanh"), "gelu_tanh", dict(exps=1, adds=2, muls=6)),  # x x x, 2 constants, x/2, product
    (nn.Mish(), "mish", dict(exps=3, adds=1, muls=1)),  # x tanh(log(1 + e^x))
    (nn.Softplus(2, 5), "softplus", dict(muls=1, exps=2, adds=1, divs=1, cmps=1)),  # log(1 + e^(bx)) / b
    (nn.Softsign(), "softsign", dict(cmps=1, adds=1, divs=1)),  # x / (1 + |x|)
    (nn.Hardsigmoid(), "hardsigmoid", dict(adds=1, cmps=2, divs=1)),  # relu6(x + 3) / 6
    (nn.Hardswish(), "hardswish", dict(adds=1, cmps=2, muls=1, divs=1)),
    (nn.Hardtanh(-2.0, 3.0), "hardtanh", dict(cmps=2)),
    (nn.ReLU6(), "relu6", dict(cmps=2)),
    (nn.Hardshrink(0.3), "hardshrink", dict(cmps=2)),  # |x| > l: x > l, x < -l
    (nn.Softshrink(), "softshrink", dict(cmps=2, adds=1)),
    (nn.Tanhshrink(), "tanhshrink", dict(exps=1, adds=1)),  # x - tanh(x)
    (nn.Threshold(0.1, 2.0), "threshold", dict(cmps=1)),
    (nn.LogSigmoid(), "logsigmoid", dict(exps=2, adds=1, divs=1)),  # log(1 / (1 + e^-x))
    (nn.PReLU(), "prelu", dict(cmps=1, muls=1)),
    (nn.PReLU(4), "prelu", dict(cmps=1, muls=1)),
    (nn.RReLU(0.1, 0.3), "rrelu", dict(cmps=1, muls=1)),  # eval: leaky with (lower + upper)/2
    (nn.SiLU(), "silu", dict(exps=1, adds=1, divs=1, muls=1)),
    (nn.LeakyReLU(0.2), "leakyrelu", dict(cmps=1, muls=1)),
    (nn.ReLU(), "relu", dict(cmps=1)),
    (nn.Sigmoid(), "sigmoid", dict(exps=1, adds=1, divs=1)),
    (nn.Tanh(), "tanh", dict(exps=1)),
    (nn.Softmax(dim=1), "softmax", dict(exps=1, adds=1, divs=1)),
    (nn.Softmax2d(), "softmax", dict(exps=1, adds=1, divs=1)),
    (nn.Softmin(dim=-1), "softmin", dict(muls=1, exps=1, adds=1, divs=1)),  # softmax(-x)
]


@pytest.mark.parametrize("module, op, per_element", CASES, ids=[f"{type(m).__name__}-{i}" for i, (m, _, _) in enumerate(CASES)])
def test_activation_module(module, op, per_element):
    x = torch.randn(BATCH, *SHAPE)
    report = analyze_module(module, SHAPE, batch=BATCH, convention="exact")
    (row,) = report.rows
    assert row.op == op and report.counts_status == "complete"
    assert row.output_shape == output_shape(module, x) == SHAPE
    assert row.params == numel(module)
    for kind in ("adds", "muls", "divs", "cmps", "exps"):
        assert getattr(row.ops, kind) == BATCH * N * per_element.get(kind, 0), kind
    # the exact convention counts every primitive operation of an activation
    assert row.flops == BATCH * N * sum(per_element.values())
    assert analyze_module(module, SHAPE, batch=BATCH, convention="fvcore").totals.flops == fvcore_total(module, x) == 0
    assert analyze_module(module, SHAPE, batch=BATCH, convention="torch").totals.flops == torch_total(module, x) == 0


def test_log_softmax_counts_a_log_per_row():
    module = nn.LogSoftmax(dim=1)
    report = analyze_module(module, (5, 7), batch=BATCH)
    (row,) = report.rows
    assert row.op == "logsoftmax" and row.output_shape == output_shape(module, torch.randn(BATCH, 5, 7))
    # per element an exp, the sum's add and x - log-sum; one log per row: 7 rows of 5 along dim 1
    assert row.ops.adds == BATCH * 35 * 2
    assert row.ops.exps == BATCH * (35 + 7)


def test_glu_halves_its_axis():
    module = nn.GLU(dim=1)
    x = torch.randn(BATCH, 6, 5)
    report = analyze_module(module, (6, 5), batch=BATCH)
    (row,) = report.rows
    assert row.op == "glu" and row.output_shape == output_shape(module, x) == (3, 5)
    # per output: the sigmoid (exp, add, div) and the product
    assert (row.ops.exps, row.ops.adds, row.ops.divs, row.ops.muls) == (BATCH * 15,) * 4


def test_functional_forms_map_to_the_same_rules():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.slope = nn.Parameter(torch.full((4,), 0.25))

        def forward(self, x):
            x = F.elu(x, 0.3)
            x = F.selu(x)
            x = F.celu(x, 1.5)
            x = F.gelu(x, approximate="tanh")
            x = F.mish(x)
            x = F.softplus(x, beta=2)
            x = F.hardtanh(x, -1.0, 2.0)
            x = F.relu6(x)
            x = F.threshold(x, 0.1, 0.0)
            x = F.logsigmoid(x)
            x = F.prelu(x, self.slope)
            x = F.rrelu(x)
            x = F.glu(x, dim=1)
            x = F.softmin(x, dim=1)
            return F.log_softmax(x, dim=-1)

    net = Net()
    report = analyze_module(net, SHAPE, batch=BATCH)
    assert [row.op for row in report.rows] == [
        "elu", "selu", "celu", "gelu_tanh", "mish", "softplus", "hardtanh", "relu6", "threshold", "logsigmoid",
        "prelu", "rrelu", "glu", "softmin", "logsoftmax",
    ]
    assert report.counts_status == "complete" and report.totals.params == numel(net) == 4
    assert report.rows[-1].output_shape == output_shape(net, torch.randn(BATCH, *SHAPE)) == (2, 3, 6)


def test_prelu_slopes_must_match_the_channels():
    from archcalc.errors import LayerError
    from archcalc.spec import load_spec_text

    with pytest.raises(LayerError, match="one per channel \\(3\\)"):
        load_spec_text("name: bad\ninput: 4x4x3\nlayers:\n  - prelu: 5\n")


class NewGELU(nn.Module):
    """GPT-2's ``gelu_new``, written out (as Hugging Face's ``NewGELUActivation``)."""

    def forward(self, x):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class CubedGELU(nn.Module):
    """The same with ``x * x * x`` for the cube."""

    def forward(self, x):
        return 0.5 * x * (1.0 + torch.tanh(0.7978845608 * (x + 0.044715 * x * x * x)))


class MLP(nn.Module):
    def __init__(self, act):
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(8, 16), act, nn.Linear(16, 8)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


@pytest.mark.parametrize("act", [NewGELU(), CubedGELU(), nn.GELU(approximate="tanh")], ids=type)
def test_tanh_gelu_written_out_is_one_row(act):
    """nn.GELU(approximate="tanh") and a gelu_new written out in Python: one row, one count."""
    model = MLP(act)
    x = torch.randn(BATCH, 5, 8)
    report = analyze_module(model, (5, 8), batch=BATCH)
    assert [(row.name, row.op) for row in report.rows] == [("fc1", "linear"), ("act", "gelu_tanh"), ("fc2", "linear")]
    elements = BATCH * 5 * 16
    row = report.row("act")
    # x*x*x (2), the two constants (2), x/2 and the product (2); 1 + tanh and x + ...; the tanh
    assert (row.ops.muls, row.ops.adds, row.ops.exps) == (6 * elements, 2 * elements, elements)
    assert report.rows[-1].output_shape == output_shape(model, x)
    assert analyze_module(model, (5, 8), batch=BATCH, convention="torch").totals.flops == torch_total(model, x)
