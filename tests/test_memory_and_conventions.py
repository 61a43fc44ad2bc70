"""Memory definitions and counting conventions, worked by hand on small layers."""

from __future__ import annotations

import pytest

from archcalc.conventions import PRESETS, get_convention
from archcalc.errors import InputError
from tests.conftest import spec_report

CONV = """
input: 32x32x3
layers:
  - conv: {filters: 10, kernel: 5, pad: 2}
"""


@pytest.mark.parametrize(
    "convention, expected",
    [
        # 32x32x10 outputs, n = 5*5*3 = 75 per output, 10,240 outputs
        ("macs", 10_240 * 75),  # 768,000
        ("flops", 2 * 10_240 * 75),  # 1,536,000
        ("exact", 10_240 * (75 + 74 + 1)),  # n mul + (n - 1) add + bias
        ("textbook", 10_240 * (2 * 75 + 1)),
        ("fvcore", 10_240 * 75),  # fvcore: MACs, bias ignored
        ("torch", 2 * 10_240 * 75),  # torch.utils.flop_counter: 2 per MAC, bias ignored
    ],
)
def test_conv_under_every_convention(convention, expected):
    report = spec_report(CONV, convention=convention)
    row = report.rows[0]
    assert row.output_shape == (10, 32, 32)
    assert row.params == (5 * 5 * 3 + 1) * 10 == 760
    assert row.macs == 768_000
    assert row.flops == expected
    assert report.totals.flops == expected


def test_switches_add_categories():
    text = """
    input: 4x4x2
    layers:
      - conv: {filters: 2, kernel: 1}
      - relu
      - maxpool: 2
    """
    base = spec_report(text, convention="flops")
    # conv 1x1, 2 in -> 2 out on 4x4: 32 outputs x n = 2 -> 64 MACs -> 128 FLOPs
    assert base.totals.flops == 128
    with_more = spec_report(text, convention=get_convention("flops", include=("bias", "activation", "pool")))
    # + 32 bias adds + 32 relu comparisons + maxpool 2x2: 8 outputs x 3 comparisons
    assert with_more.totals.flops == 128 + 32 + 32 + 24
    assert with_more.convention.name == "flops+bias+pool+activation"


def test_peer_presets_take_no_switches():
    with pytest.raises(InputError, match="reproduces fvcore"):
        get_convention("fvcore", include=("pool",))
    with pytest.raises(InputError, match="unknown convention"):
        get_convention("gflops")


def test_every_preset_names_its_unit():
    assert PRESETS["macs"].unit == "MACs"
    assert all(PRESETS[name].unit == "FLOPs" for name in ("flops", "exact", "textbook", "torch", "fvcore"))


def test_activation_memory_follows_batch_and_dtype():
    fp32 = spec_report(CONV, batch=1, dtype="float32")
    half = spec_report(CONV, batch=8, dtype="float16")
    assert fp32.rows[0].activation_elements == 10 * 32 * 32
    assert fp32.rows[0].activation_bytes == 10 * 32 * 32 * 4
    assert half.rows[0].activation_bytes == 8 * 10 * 32 * 32 * 2
    assert half.totals.param_bytes == 760 * 2
    assert half.rows[0].macs == 8 * 768_000


def test_peak_live_memory_by_hand():
    # input 1x8x8 = 64 elements; conv a -> 4x8x8 = 256; relu -> 256; flatten is a view;
    # linear -> 10. While relu runs: conv output (256) + relu output (256) = 512 live
    # (the input died after conv). Peak = 512 elements = 2048 bytes in float32.
    report = spec_report(
        """
        input: 8x8x1
        layers:
          - conv: {filters: 4, kernel: 3, pad: 1}
          - relu
          - flatten
          - linear: 10
        """
    )
    assert report.totals.peak_activation_bytes == 512 * 4
    assert report.totals.activation_bytes == (256 + 256 + 256 + 10) * 4


def test_peak_live_memory_keeps_a_residual_input_alive():
    # x (4x4x4 = 64) feeds conv1 and the add: while conv2 runs, x, conv1's and conv2's outputs live: 3 x 64
    report = spec_report(
        """
        input: 4x4x4
        layers:
          - residual:
              body: [conv: {filters: 4, kernel: 3, pad: 1}, conv: {filters: 4, kernel: 3, pad: 1}]
        """
    )
    assert report.totals.peak_activation_bytes == 3 * 64 * 4


def test_training_memory_per_optimizer():
    report = spec_report(CONV)
    t = report.totals
    params = 760 * 4
    kept = (10 * 32 * 32 + 3 * 32 * 32) * 4  # conv output + input
    assert t.training_bytes == {"sgd": 2 * params + kept, "momentum": 3 * params + kept, "adam": 4 * params + kept}


def test_batchnorm_buffers_and_params():
    report = spec_report("input: 4x4x16\nlayers: [batchnorm]")
    row = report.rows[0]
    # gamma, beta: 16 each; running mean, running var: 16 each, num_batches_tracked: 1 (torch counts it)
    assert (row.weights, row.biases, row.buffers) == (16, 16, 33)
