"""GroupNorm (archcalc/layers/groupnorm.py): against a real forward pass, numel() and fvcore,
in specs and in live modules, with the arithmetic written out here.

Before the family existed, a live nn.GroupNorm was counted as 0 under every convention,
fvcore's included, though fvcore counts ``aten::group_norm`` (``norm_flop_counter(2)``:
input elements * (5 if affine else 4)).
"""

from __future__ import annotations

import logging
import warnings

import pytest

from archcalc.analysis import analyze_graph
from archcalc.spec import load_spec_text

torch = pytest.importorskip("torch")
fvcore_nn = pytest.importorskip("fvcore.nn")

from torch import nn  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from archcalc.frontends import analyze_module  # noqa: E402


def fvcore_total(module, x) -> int:
    logging.getLogger("fvcore").setLevel(logging.ERROR)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        return fvcore_nn.FlopCountAnalysis(module, x).unsupported_ops_warnings(False).total()


def torch_total(module, x) -> int:
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        module(x)
    return counter.get_total_flops()


CASES = [
    # (groups, channels, spatial, affine)
    (4, 8, (5, 6), True),
    (1, 6, (7, 7), True),  # one group: layer norm over C, H, W
    (6, 6, (3, 4), False),  # one channel per group: instance norm
    (3, 12, (10,), True),  # (C, L)
    (2, 4, (3, 4, 5), True),  # (C, D, H, W)
]


@pytest.mark.parametrize("groups, channels, spatial, affine", CASES)
def test_live_module_matches_torch_and_fvcore(groups, channels, spatial, affine):
    module = nn.GroupNorm(groups, channels, affine=affine).eval()
    batch = 3
    x = torch.randn(batch, channels, *spatial)
    report = analyze_module(module, (channels, *spatial), batch=batch, convention="fvcore")
    (row,) = report.rows
    assert row.op == "groupnorm" and report.counts_status == "complete"
    assert tuple(module(x).shape[1:]) == row.output_shape
    assert row.params == sum(p.numel() for p in module.parameters())
    assert row.buffers == sum(b.numel() for b in module.buffers()) == 0
    assert row.flops == fvcore_total(module, x)
    n = x.numel()
    assert row.flops == n * (5 if affine else 4)
    torch_report = analyze_module(module, (channels, *spatial), batch=batch, convention="torch")
    assert torch_report.totals.flops == torch_total(module, x) == 0
    # the primitive operations, written out: per element mean sum, centring, variance sum (+ beta),
    # square (* gamma), divide; per group mean and variance divisions and one square root
    assert row.ops.adds == n * (4 if affine else 3)
    assert row.ops.muls == n * (2 if affine else 1)
    assert row.ops.divs == n + 2 * groups * batch
    assert row.ops.exps == groups * batch


def test_functional_group_norm_in_a_module():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3)
            self.gamma = nn.Parameter(torch.ones(8))
            self.beta = nn.Parameter(torch.zeros(8))

        def forward(self, x):
            return torch.nn.functional.group_norm(self.conv(x), 2, self.gamma, self.beta)

    net = Net().eval()
    x = torch.randn(2, 3, 12, 12)
    report = analyze_module(net, (3, 12, 12), batch=2, convention="fvcore")
    assert [row.op for row in report.rows] == ["conv", "groupnorm"]
    assert report.totals.params == sum(p.numel() for p in net.parameters())
    assert report.totals.flops == fvcore_total(net, x)


def test_spec_layer_builds_the_same_module():
    graph = load_spec_text("name: gn\ninput: 16x16x3\nlayers:\n  - conv: {filters: 32, kernel: 3, pad: 1}\n"
                           "  - groupnorm: {groups: 8, eps: 0.001}\n  - relu\n")
    from archcalc.torch_builder import build_module

    module = build_module(graph)
    norm = dict(module.named_modules())["groupnorm1"]
    assert isinstance(norm, nn.GroupNorm) and norm.num_groups == 8 and norm.eps == 0.001
    report = analyze_graph(graph, convention="fvcore")
    assert report.totals.flops == fvcore_total(module, torch.randn(1, 3, 16, 16))


def test_groups_must_divide_the_channels():
    from archcalc.errors import LayerError

    with pytest.raises(LayerError, match="groups = 3 must divide the 8 channels"):
        load_spec_text("name: bad\ninput: 4x4x8\nlayers:\n  - groupnorm: 3\n")


def test_pasted_summary_names():
    from archcalc.grading.matching import answer_family

    for written in ("GroupNorm", "GroupNorm-3", "group_norm_1", "GroupNormalization"):
        assert answer_family(written) == "norm", written
