"""InstanceNorm (archcalc/layers/instancenorm.py): against a real forward pass, numel() and fvcore.

fvcore counts ``aten::instance_norm`` as input elements * (5 if affine else 4)
(``norm_flop_counter(1)``), with or without running statistics; torch's flop counter counts 0.
"""

from __future__ import annotations

import logging
import warnings

import pytest

torch = pytest.importorskip("torch")
fvcore_nn = pytest.importorskip("fvcore.nn")

from torch import nn  # noqa: E402

from archcalc.frontends import analyze_module  # noqa: E402


def fvcore_total(module, x) -> int:
    logging.getLogger("fvcore").setLevel(logging.ERROR)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        return fvcore_nn.FlopCountAnalysis(module, x).unsupported_ops_warnings(False).total()


CASES = [
    (nn.InstanceNorm1d, (5, 9), False, False),
    (nn.InstanceNorm2d, (4, 6, 7), False, False),
    (nn.InstanceNorm2d, (4, 6, 7), True, False),
    (nn.InstanceNorm2d, (4, 6, 7), True, True),
    (nn.InstanceNorm3d, (3, 4, 5, 6), True, False),
]


@pytest.mark.parametrize("cls, shape, affine, running", CASES)
def test_live_module_matches_torch_and_fvcore(cls, shape, affine, running):
    module = cls(shape[0], affine=affine, track_running_stats=running).eval()
    batch = 2
    x = torch.randn(batch, *shape)
    report = analyze_module(module, shape, batch=batch, convention="fvcore")
    (row,) = report.rows
    assert row.op == "instancenorm" and report.counts_status == "complete"
    assert tuple(module(x).shape[1:]) == row.output_shape
    assert row.params == sum(p.numel() for p in module.parameters())
    assert row.buffers == sum(b.numel() for b in module.buffers())
    assert row.flops == fvcore_total(module, x) == x.numel() * (5 if affine else 4)
    n, c = x.numel(), shape[0] * batch
    if running:  # eval with running statistics: normalised as batch norm is
        assert (row.ops.adds, row.ops.divs, row.ops.exps) == (n * (2 if affine else 1), n, c)
    else:  # each channel of each sample: its own mean and variance
        assert (row.ops.adds, row.ops.muls) == (n * (4 if affine else 3), n * (2 if affine else 1))
        assert (row.ops.divs, row.ops.exps) == (n + 2 * c, c)


def test_a_vector_is_refused_with_the_reason():
    from archcalc.errors import LayerError
    from archcalc.spec import load_spec_text

    with pytest.raises(LayerError, match="instance norm needs a channel axis and 1 to 3 spatial axes"):
        load_spec_text("name: bad\ninput: 16\nlayers:\n  - instancenorm\n")
