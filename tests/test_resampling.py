"""Padding, pixel and channel shuffles, fold/unfold, upsampling in every mode, power-average
and fractional max pooling (archcalc/layers/padding.py, shuffle.py, sliding_blocks.py,
upsample.py, pool.py): live modules against a real forward pass, numel(), fvcore and
FlopCounterMode, with the arithmetic written out here."""

from __future__ import annotations

import pytest

from tests.torch_truth import fvcore_total, output_shape, torch, torch_total

from archcalc.frontends import analyze_module  # noqa: E402

nn = torch.nn
F = torch.nn.functional
BATCH = 3


def analysed(module, shape, convention="macs"):
    return analyze_module(module, shape, batch=BATCH, convention=convention)


@pytest.mark.parametrize("module, shape, out", [
    (nn.ZeroPad1d((2, 1)), (3, 8), (3, 11)),
    (nn.ConstantPad2d((1, 2, 0, 3), 0.5), (2, 4, 5), (2, 7, 8)),
    (nn.ReflectionPad2d(2), (2, 4, 5), (2, 8, 9)),
    (nn.ReplicationPad3d((1, 0, 0, 1, 2, 2)), (2, 3, 4, 4), (2, 7, 5, 5)),
    (nn.CircularPad1d(3), (2, 5), (2, 11)),
])
def test_padding_moves_data(module, shape, out):
    x = torch.randn(BATCH, *shape)
    report = analysed(module, shape)
    (row,) = report.rows
    assert row.op == "padding" and row.output_shape == output_shape(module, x) == out
    assert row.ops.elementary == 0 and report.totals.params == 0
    assert analysed(module, shape, "torch").totals.flops == torch_total(module, x) == 0


def test_padding_shifts_the_receptive_field():
    class PadConv(nn.Module):
        def __init__(self):
            super().__init__()
            self.pad, self.conv = nn.ZeroPad2d((2, 0, 1, 0)), nn.Conv2d(1, 1, 3)

        def forward(self, x):
            return self.conv(self.pad(x))

    rows = analysed(PadConv(), (1, 8, 8)).rows
    # the window of the conv starts P_before earlier: centre (3 - 1)/2 - P = 1 - 1 (top), 1 - 2 (left)
    assert rows[1].rf.start == (0, -1) and rows[1].rf.size == (3, 3)


def test_shuffles():
    x = torch.randn(BATCH, 12, 3, 4)
    for module, out in [(nn.PixelShuffle(2), (3, 6, 8)), (nn.ChannelShuffle(3), (12, 3, 4))]:
        (row,) = analysed(module, (12, 3, 4)).rows
        assert row.output_shape == output_shape(module, x) == out and row.ops.elementary == 0
    (row,) = analysed(nn.PixelUnshuffle(2), (3, 6, 8)).rows
    assert row.output_shape == output_shape(nn.PixelUnshuffle(2), torch.randn(BATCH, 3, 6, 8)) == (12, 3, 4)
    # after an unshuffle by r, one position holds an r x r block of the input
    assert row.rf.size == (2, 2) and row.rf.jump == (2, 2)


def test_fold_adds_the_overlaps():
    unfold, fold = nn.Unfold(3, padding=1, stride=2), nn.Fold((6, 7), 3, padding=1, stride=2)
    x = torch.randn(BATCH, 2, 6, 7)
    (row,) = analysed(unfold, (2, 6, 7)).rows
    # 2*3*3 rows; blocks: (6 + 2 - 3)//2 + 1 = 3 by (7 + 2 - 3)//2 + 1 = 4
    assert row.output_shape == output_shape(unfold, x) == (18, 12)
    cols = unfold(x)
    (row,) = analysed(fold, (18, 12)).rows
    assert row.output_shape == output_shape(fold, cols) == (2, 6, 7)
    # per axis, (block, tap) pairs inside the image and the positions they hit: height 3 blocks at
    # -1, 1, 3 with taps 0..2 -> 8 inside of 9, covering rows 0..5 (6); width 4 blocks at -1, 1, 3,
    # 5 -> 2 + 3 + 3 + 2 = 10 inside of 12, covering 0..6 (7). adds = C * (8*10 - 6*7)
    assert row.ops.adds == BATCH * 2 * (8 * 10 - 6 * 7)


@pytest.mark.parametrize("module, shape, per_output, fvcore_per_output", [
    (nn.Upsample(scale_factor=2, mode="nearest"), (3, 4, 5), {}, 1),
    (nn.Upsample(scale_factor=2, mode="bilinear"), (3, 4, 5), {"muls": 4, "adds": 3}, 4),
    (nn.Upsample(scale_factor=3, mode="linear"), (3, 5), {"muls": 2, "adds": 1}, 0),
    (nn.Upsample(size=(7, 9), mode="bicubic"), (3, 4, 5), {"muls": 16, "adds": 15}, 0),
    (nn.Upsample(scale_factor=2, mode="trilinear"), (2, 3, 4, 4), {"muls": 8, "adds": 7}, 0),
    (nn.Upsample(scale_factor=2, mode="nearest"), (2, 3, 4, 4), {}, 0),
    (nn.UpsamplingBilinear2d(scale_factor=2), (3, 4, 5), {"muls": 4, "adds": 3}, 4),
])
def test_upsample_modes(module, shape, per_output, fvcore_per_output):
    x = torch.randn(BATCH, *shape)
    report = analysed(module, shape)
    (row,) = report.rows
    out = output_shape(module, x)
    assert row.output_shape == out
    outputs = BATCH
    for size in out:
        outputs *= size
    for kind in ("muls", "adds"):
        assert getattr(row.ops, kind) == outputs * per_output.get(kind, 0), kind
    # fvcore: nearest2d 1, bilinear2d 4 flops per output; no handle for the other modes
    assert fvcore_total(module, x) == outputs * fvcore_per_output
    assert analysed(module, shape, "fvcore").totals.flops == fvcore_total(module, x)


def test_interpolate_area_is_adaptive_average_pooling():
    class Area(nn.Module):
        def forward(self, x):
            return F.interpolate(x, size=(3, 2), mode="area")

    (row,) = analysed(Area(), (2, 7, 5)).rows
    assert row.op == "adaptive_avgpool" and row.output_shape == (2, 3, 2)


def test_lppool():
    module = nn.LPPool2d(2, 3, stride=2)
    x = torch.randn(BATCH, 2, 9, 9)
    (row,) = analysed(module, (2, 9, 9)).rows
    assert row.output_shape == output_shape(module, x) == (2, 4, 4)
    inputs, outputs = BATCH * 2 * 81, BATCH * 2 * 16
    # x^p per input; per output 3*3 - 1 adds and a division (the average), sign, abs, relu,
    # sign * relu and * 9, the root
    assert (row.ops.exps, row.ops.adds, row.ops.divs, row.ops.cmps, row.ops.muls) == (
        inputs + outputs, outputs * 8, outputs, outputs * 3, outputs * 2)


def test_fractional_max_pool():
    module = nn.FractionalMaxPool2d(2, output_ratio=0.5)
    x = torch.randn(BATCH, 3, 10, 9)
    (row,) = analysed(module, (3, 10, 9)).rows
    assert row.output_shape == output_shape(module, x) == (3, 5, 4)
    assert row.ops.cmps == BATCH * 3 * 5 * 4 * (2 * 2 - 1)
