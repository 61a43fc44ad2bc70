"""Convolution and pooling over 1 and 3 spatial axes (archcalc/layers/conv.py, pool.py,
window.py): live nn.Conv1d/3d, ConvTranspose1d/3d and the pooling modules against a real
forward pass, numel(), fvcore and FlopCounterMode, with the arithmetic written out here.

Before, Conv1d and Conv3d gave 0 MACs, marked "partial"; the issue's truths:
nn.Conv1d(4, 8, 5, stride=2, padding=1) on (4, 31): 2,400 MACs; nn.Conv3d(2, 4, 3,
stride=(1, 2, 2), padding=1) on (2, 5, 9, 9): 27,000 MACs.
"""

from __future__ import annotations

import pytest

from tests.torch_truth import fvcore_total, numel, output_shape, torch, torch_total

from archcalc.derivation import explain_row  # noqa: E402
from archcalc.frontends import analyze_module  # noqa: E402
from archcalc.spec import load_spec_text  # noqa: E402
from archcalc.analysis import analyze_graph  # noqa: E402

nn = torch.nn
F = torch.nn.functional
BATCH = 2


def check(module, shape, macs: int, fvcore: bool = True):
    """Shape, parameters and MACs against torch; ``macs`` is the arithmetic of the test.
    ``fvcore`` False: a conv with string padding traces to ``aten::_convolution_mode``,
    which fvcore 0.1.5 has no handle for (it counts 0)."""
    x = torch.randn(BATCH, *shape)
    report = analyze_module(module, shape, batch=BATCH)
    assert report.counts_status == "complete", report.not_counted
    assert report.rows[-1].output_shape == output_shape(module, x)
    assert report.totals.params == numel(module)
    assert report.totals.macs == BATCH * macs
    if fvcore:
        assert analyze_module(module, shape, batch=BATCH, convention="fvcore").totals.flops == fvcore_total(module, x)
    assert analyze_module(module, shape, batch=BATCH, convention="torch").totals.flops == torch_total(module, x)
    return report


def test_issue_truth_conv1d():
    module = nn.Conv1d(4, 8, 5, stride=2, padding=1)
    # L_out = (31 - 5 + 2*1)/2 + 1 = 15; 15 outputs x 8 filters, each a dot product of 5*4
    report = check(module, (4, 31), 15 * 8 * 5 * 4)
    assert 15 * 8 * 5 * 4 == 2_400
    assert fvcore_total(module, torch.randn(1, 4, 31)) == 2_400
    assert torch_total(module, torch.randn(1, 4, 31)) == 2 * 2_400
    row = report.rows[0]
    assert row.output_shape == (8, 15)
    steps = {s.key: s for s in explain_row(row, report)}
    assert steps["output_length"].quantity == "output length"
    assert steps["output_length"].formula == "(L - F + 2P)/S + 1"
    assert steps["output_length"].substituted == "(31 - 5 + 2*1)/2 + 1" and steps["output_length"].value == 15
    assert steps["weights"].formula == "F*Cin * K" and steps["weights"].substituted == "5*4 * 8"
    assert steps["macs"].formula == "N*L_out*K * (F*Cin)" and steps["macs"].substituted == f"{BATCH}*15*8 * (5*4)"
    assert steps["output_shape"].formula == "K x L_out" and steps["output_shape"].value == "8x15"


def test_issue_truth_conv3d():
    module = nn.Conv3d(2, 4, 3, stride=(1, 2, 2), padding=1)
    # D_out = (5 - 3 + 2)/1 + 1 = 5; H_out = W_out = (9 - 3 + 2)/2 + 1 = 5
    report = check(module, (2, 5, 9, 9), 5 * 5 * 5 * 4 * (3 * 3 * 3 * 2))
    assert 5 * 5 * 5 * 4 * (3 * 3 * 3 * 2) == 27_000
    assert fvcore_total(module, torch.randn(1, 2, 5, 9, 9)) == 27_000
    steps = {s.key: s for s in explain_row(report.rows[0], report)}
    assert steps["output_depth"].substituted == "(5 - 3 + 2*1)/1 + 1"
    assert steps["output_size"].quantity == "output height = width"
    assert steps["output_size"].substituted == "(9 - 3 + 2*1)/2 + 1"
    assert steps["macs"].formula == "N*D_out*H_out*W_out*K * (F*F*F*Cin)"


CONVS = [
    # (module, per-sample input, MACs written out)
    (nn.Conv1d(6, 4, 3, dilation=2, groups=2, bias=False), (6, 20), 16 * 4 * 3 * 3),  # L_out = 20 - 4 = 16
    (nn.Conv1d(4, 4, 1), (4, 7), 7 * 4 * 4),
    (nn.Conv3d(3, 6, (1, 3, 3), padding=(0, 1, 1), groups=3), (3, 4, 6, 6), 4 * 6 * 6 * 6 * 9),
    (nn.Conv3d(2, 2, 2, stride=2, dilation=(1, 1, 2)), (2, 6, 7, 8), 3 * 3 * 3 * 2 * 8 * 2),  # W: (8-3)//2+1 = 3
    # transposed: every input value scatters through Cout/g * kernel weights
    (nn.ConvTranspose1d(4, 6, 3, stride=2, padding=1, output_padding=1), (4, 7), 7 * 4 * 6 * 3),
    (nn.ConvTranspose3d(4, 2, (2, 3, 3), stride=2, groups=2), (4, 3, 4, 5), 3 * 4 * 5 * 4 * 1 * 18),
]


@pytest.mark.parametrize("module, shape, macs", CONVS, ids=lambda v: type(v).__name__ if isinstance(v, nn.Module) else None)
def test_conv_modules(module, shape, macs):
    check(module, shape, macs)


def test_conv1d_same_padding():
    # pads 3 = d(k - 1) in total, 1 before and 2 after: L_out = L
    module = nn.Conv1d(3, 5, 4, padding="same")
    report = check(module, (3, 10), 10 * 5 * 4 * 3, fvcore=False)
    assert report.rows[0].attrs["pad"] == ((1, 2),)


def test_functional_convs_in_a_module():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.w1 = nn.Parameter(torch.randn(8, 3, 5))
            self.w3 = nn.Parameter(torch.randn(2, 8, 1, 1, 1))

        def forward(self, x):
            y = F.conv1d(x, self.w1, stride=2)  # (8, 8): floor((20 - 5)/2) + 1
            return F.conv3d(y.reshape(-1, 8, 2, 2, 2), self.w3)

    net = Net()
    x = torch.randn(BATCH, 3, 20)
    report = analyze_module(net, (3, 20), batch=BATCH)
    assert [row.op for row in report.rows] == ["conv", "reshape", "conv"]
    assert report.totals.macs == BATCH * (8 * 8 * 5 * 3 + 8 * 2 * 8)
    assert report.totals.params == numel(net)
    assert analyze_module(net, (3, 20), batch=BATCH, convention="torch").totals.flops == torch_total(net, x)


POOLS = [
    # (module, per-sample input, primitive ops per sample written out)
    (nn.MaxPool1d(3, 2, padding=1, ceil_mode=True), (4, 23), {"cmps": 4 * 12 * 2}),  # ceil(22/2) + 1 = 12
    (nn.AvgPool1d(2), (4, 9), {"adds": 4 * 4 * 1, "divs": 4 * 4}),
    (nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)), (2, 6, 9, 9), {"cmps": 2 * 6 * 5 * 5 * 8}),
    (nn.AvgPool3d(2, ceil_mode=True), (3, 5, 4, 4), {"adds": 3 * 3 * 2 * 2 * 7, "divs": 3 * 3 * 2 * 2}),
    (nn.AvgPool3d(2, divisor_override=3), (1, 4, 4, 4), {"adds": 8 * 7, "divs": 8}),
    # adaptive, PyTorch's windows [floor(i L/o), ceil((i + 1) L/o)): 10 -> 3 gives lengths 4, 4, 4
    (nn.AdaptiveAvgPool1d(3), (4, 10), {"adds": 4 * 12 - 4 * 3, "divs": 4 * 3}),
    (nn.AdaptiveMaxPool1d(4), (2, 10), {"cmps": 2 * (3 + 3 + 3 + 3) - 2 * 4}),  # 10 -> 4: [0, 3), [2, 5), [5, 8), [7, 10)
    (nn.AdaptiveAvgPool3d((1, 2, 3)), (2, 3, 4, 6), {"adds": 2 * 3 * 4 * 6 - 2 * 6, "divs": 2 * 6}),
    (nn.AdaptiveMaxPool3d(1), (5, 2, 3, 4), {"cmps": 5 * (24 - 1)}),
]


@pytest.mark.parametrize("module, shape, ops", POOLS, ids=lambda v: type(v).__name__ if isinstance(v, nn.Module) else None)
def test_pool_modules(module, shape, ops):
    report = check(module, shape, 0)
    for kind, value in ops.items():
        assert getattr(report.rows[0].ops, kind) == BATCH * value, kind
    # neither fvcore (no 1-D or 3-D pooling handle) nor torch's counter counts these
    assert fvcore_total(module, torch.randn(1, *shape)) == 0


def test_functional_pools_and_indices():
    class Net(nn.Module):
        def forward(self, x):
            y, _ = F.max_pool1d(x, 2, return_indices=True)
            z = F.avg_pool1d(y, 3, stride=1)
            return F.adaptive_max_pool1d(z, 2)

    report = analyze_module(Net(), (3, 16), batch=BATCH)
    assert [row.op for row in report.rows] == ["maxpool", "avgpool", "adaptive_maxpool"]
    assert report.rows[-1].output_shape == output_shape(Net(), torch.randn(BATCH, 3, 16)) == (3, 2)
    # 8 outputs of 1 cmp; 6 outputs of 2 adds + 1 div; 6 -> 2 windows of 3: 2 cmps each, per channel
    assert report.rows[0].ops.cmps == BATCH * 3 * 8
    assert report.rows[1].ops.adds == BATCH * 3 * 6 * 2
    assert report.rows[2].ops.cmps == BATCH * 3 * 2 * 2


def test_receptive_field_of_sequences_and_volumes():
    """A sequence moves the width axis only; a volume its height and width (depth untracked)."""
    graph = load_spec_text(
        "name: seq\ninput: 4x40\nlayers:\n  - conv: {filters: 8, kernel: 5, stride: 2}\n"
        "  - maxpool: 3\n  - conv: {filters: 8, kernel: 3, dilation: 2}\n"
    )
    rows = analyze_graph(graph).rows
    # r = 1 + (5 - 1)*1 = 5, j = 2; r = 5 + (3 - 1)*2 = 9, j = 6; r = 9 + 2*(3 - 1)*6 = 33
    assert [row.rf.size for row in rows] == [(1, 5), (1, 9), (1, 33)]
    assert [row.rf.jump for row in rows] == [(1, 2), (1, 6), (1, 6)]
    graph = load_spec_text(
        "name: vol\ninput: 8x16x16x2\nlayers:\n  - conv: {filters: 4, kernel: [5, 3, 3], stride: [1, 2, 2]}\n"
        "  - global_avgpool\n"
    )
    rows = analyze_graph(graph).rows
    assert rows[0].rf.size == (3, 3) and rows[0].rf.jump == (2, 2)
    # global pooling sees the whole 6 x 6 map at jump 2: 3 + (7 - 1)*2 = 15
    assert rows[0].output_shape == (4, 4, 7, 7) and rows[1].rf.size == (15, 15)


def test_spec_errors_name_the_axes():
    from archcalc.errors import SpecError

    with pytest.raises(SpecError, match=r"kernel must be a whole number or a list \[d, h, w\]"):
        load_spec_text("name: bad\ninput: 4x4x4x2\nlayers:\n  - conv: {filters: 2, kernel: [3, 3]}\n")
    with pytest.raises(SpecError, match=r"kernel must be a whole number or a list \[l\]"):
        load_spec_text("name: bad\ninput: 2x9\nlayers:\n  - maxpool: [2, 2]\n")


def test_cli_single_layer_questions_on_sequences_and_volumes(run_cli):
    result = run_cli("layer", "conv", "--input", "4x31", "--layout", "chw", "--filters", "8", "--kernel", "5",
                     "--stride", "2", "--pad", "1", "--explain")
    assert result.exit_code == 0, result.output
    assert "(31 - 5 + 2*1)/2 + 1 = 15" in result.output and "15*8 * (5*4) = 2,400" in result.output
    result = run_cli("layer", "conv", "--input", "5x9x9x2", "--filters", "4", "--kernel", "3", "--stride", "1x2x2",
                     "--pad", "1")
    assert result.exit_code == 0, result.output
    assert "27,000" in result.output
    # two numbers without a layout are an image missing its channels, as courses write them
    result = run_cli("layer", "conv", "--input", "8x8", "--filters", "4", "--kernel", "3")
    assert result.exit_code == 2 and "--layout chw for a sequence C x L" in result.output


def test_cli_table_of_a_sequence_model(run_cli, tmp_path):
    spec = tmp_path / "seq.yaml"
    spec.write_text("name: seq\ninput: 4x40\nlayers:\n  - padding: [2, 1]\n  - conv: {filters: 8, kernel: 5, stride: 2}\n"
                    "  - maxpool: {kernel: 3, dilation: 1}\n  - global_avgpool\n  - flatten\n  - linear: 3\n")
    result = run_cli(str(spec))
    assert result.exit_code == 0, result.output
    # (43 - 5)/2 + 1 = 20 outputs of 8 filters, each 5*4: 3,200 MACs; the head 8*3
    assert "3,224" in result.output
