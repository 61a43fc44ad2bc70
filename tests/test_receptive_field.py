"""Receptive fields: small nets worked by hand, the Distill closed form on a deep chain,
published values, and branches."""

from __future__ import annotations

import random
from fractions import Fraction

from archcalc.analysis import analyze_graph
from archcalc.spec import load_spec
from archcalc.zoo import zoo_path
from tests.conftest import spec_report


def rf(row):
    return tuple(int(v) if Fraction(v).denominator == 1 else float(v) for v in row.rf.size)


def test_two_3x3_convs_see_5x5_and_three_see_7x7():
    # VGG's argument (Simonyan & Zisserman, section 2.3): stacked 3x3 convs see 5x5, then 7x7
    report = spec_report(
        """
        input: 32x32x3
        layers:
          - conv: {filters: 8, kernel: 3, pad: 1}
          - conv: {filters: 8, kernel: 3, pad: 1}
          - conv: {filters: 8, kernel: 3, pad: 1}
        """
    )
    assert [rf(r) for r in report.rows] == [(3, 3), (5, 5), (7, 7)]


def test_stride_and_pool_by_hand():
    # conv 5x5 s1: r = 5, j = 1; pool 2x2 s2: r = 5 + 1*1 = 6, j = 2; conv 3x3: r = 6 + 2*2 = 10, j = 2;
    # dilated 3x3 (d = 2, k' = 5): r = 10 + 4*2 = 18; start s: conv p2 -> 0 + (2 - 2) = 0;
    # pool: 0 + (1/2 - 0)*1 = 0.5; conv p1: 0.5 + (1 - 1)*2 = 0.5; dilated p2: 0.5 + (2 - 2)*2 = 0.5
    report = spec_report(
        """
        input: 32x32x1
        layers:
          - conv: {filters: 4, kernel: 5, pad: 2}
          - maxpool: 2
          - conv: {filters: 4, kernel: 3, pad: 1}
          - conv: {filters: 4, kernel: 3, pad: 2, dilation: 2}
        """
    )
    sizes = [rf(r) for r in report.rows]
    jumps = [tuple(int(v) for v in r.rf.jump) for r in report.rows]
    starts = [tuple(float(v) for v in r.rf.start) for r in report.rows]
    assert sizes == [(5, 5), (6, 6), (10, 10), (18, 18)]
    assert jumps == [(1, 1), (2, 2), (2, 2), (2, 2)]
    assert starts == [(0, 0), (0.5, 0.5), (0.5, 0.5), (0.5, 0.5)]


def test_rectangular_kernels_are_per_axis():
    report = spec_report(
        """
        input: 20x20x1
        layers:
          - conv: {filters: 2, kernel: [1, 7], pad: [0, 3]}
          - conv: {filters: 2, kernel: [7, 1], stride: [2, 1], pad: [3, 0]}
        """
    )
    assert rf(report.rows[0]) == (1, 7)
    assert rf(report.rows[1]) == (7, 7)
    assert tuple(int(v) for v in report.rows[1].rf.jump) == (2, 1)


def test_distill_closed_form_on_a_deep_random_chain():
    """r_0 = sum_l (k_l - 1) prod_{i<l} s_i + 1 (Araujo et al., Distill 2019, eq. 2),
    computed here independently of archcalc's recurrence, layer by layer."""
    rng = random.Random(7)
    layers, size = [], 4096
    for _ in range(30):
        k, s, d = rng.choice([1, 3, 5, 7]), rng.choice([1, 1, 2]), rng.choice([1, 1, 2])
        k_eff = d * (k - 1) + 1
        if (size - k_eff) // s + 1 < 8:
            k, s, d, k_eff = 1, 1, 1, 1
        layers.append((k, s, d))
        size = (size - k_eff) // s + 1
    yaml = "input: 4096x4096x1\nlayers:\n" + "".join(
        f"  - conv: {{filters: 1, kernel: {k}, stride: {s}, dilation: {d}}}\n" for k, s, d in layers
    )
    report = spec_report(yaml)
    expected, product = 1, 1
    for (k, s, d), row in zip(layers, report.rows):
        expected += (d * (k - 1)) * product
        product *= s
        assert rf(row) == (expected, expected)
        assert tuple(int(v) for v in row.rf.jump) == (product, product)


def test_vgg16_pool5_sees_212_pixels():
    # Distill 2019, table of receptive fields: vgg_16 pool5 = 212
    report = analyze_graph(load_spec(zoo_path("vgg16")))
    assert rf(report.row("features.stage5.maxpool1")) == (212, 212)


def test_global_pooling_and_flatten_see_the_whole_input():
    report = spec_report(
        """
        input: 16x16x3
        layers:
          - conv: {filters: 4, kernel: 3}
          - global_avgpool
          - flatten
          - linear: 10
        """
    )
    # conv: 3; the 14x14 map is pooled whole: 3 + 13 = 16, the whole input
    assert [rf(r) for r in report.rows] == [(3, 3), (16, 16), (16, 16), (16, 16)]


def test_branches_merge_to_the_largest_field_and_warn_when_not_aligned():
    aligned = spec_report(
        """
        input: 16x16x4
        layers:
          - concat:
              - [conv: {filters: 4, kernel: 1}]
              - [conv: {filters: 4, kernel: 5, pad: 2}]
        """
    )
    assert rf(aligned.rows[-1]) == (5, 5)
    assert not [w for w in aligned.warnings if w.kind == "rf"]

    shifted = spec_report(
        """
        input: 16x16x4
        layers:
          - add:
              - [conv: {filters: 4, kernel: 3, pad: 1}]
              - [conv: {filters: 4, kernel: 2, pad: same}]
        """
    )
    # pad: same with an even kernel pads (0, 1): the centre moves by half a pixel
    warnings = [w for w in shifted.warnings if w.kind == "rf"]
    assert warnings and "not aligned" in warnings[0].message
    assert "centre 0.5" in warnings[0].message


def test_squeeze_excitation_gate_does_not_trigger_the_alignment_warning():
    report = spec_report(
        """
        input: 8x8x16
        layers:
          - mul:
              - []
              - [global_avgpool, conv: {filters: 4, kernel: 1}, relu, conv: {filters: 16, kernel: 1}, sigmoid]
        """
    )
    assert not [w for w in report.warnings if w.kind == "rf"]
    assert report.rows[-1].output_shape == (16, 8, 8)
