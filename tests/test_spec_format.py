"""The YAML spec format: blocks, repeat, arithmetic, merges, residuals, names."""

from __future__ import annotations

import pytest

from archcalc.errors import LayerError, SpecError
from tests.conftest import spec_report


def names(report):
    return [r.name for r in report.rows]


def test_block_with_arguments_and_arithmetic():
    report = spec_report(
        """
        input: 8x8x3
        vars: {base: 4}
        blocks:
          unit:
            args: {width: null, k: 3}
            layers:
              - conv: {filters: $width * $base, kernel: $k, pad: ($k - 1) // 2}
              - relu
        layers:
          - unit: {width: 2}
          - unit: {width: 3, k: 5, name: wide}
        """
    )
    assert names(report) == ["unit1.conv1", "unit1.relu1", "wide.conv1", "wide.relu1"]
    assert report.row("unit1.conv1").output_shape == (8, 8, 8)
    assert report.row("wide.conv1").output_shape == (12, 8, 8)
    # params by hand: 3*3*3*8 + 8 = 224; 5*5*8*12 + 12 = 2412
    assert report.row("unit1.conv1").params == 224
    assert report.row("wide.conv1").params == 2412


def test_repeat_names_copies_by_index_and_exposes_i():
    report = spec_report(
        """
        input: 16x16x4
        blocks:
          down:
            args: {stride: 1}
            layers: [conv: {filters: 4, kernel: 3, stride: $stride, pad: 1}]
        layers:
          - repeat: 3
            name: stage
            layers: [down: {stride: "2 if $i == 0 else 1"}]
          - repeat: 2
            layers: [relu]
        """
    )
    assert names(report) == ["stage.0.conv1", "stage.1.conv1", "stage.2.conv1", "relu1", "relu2"]
    assert [r.output_shape[1] for r in report.rows[:3]] == [8, 8, 8]


def test_conditional_group_and_in_channels_variable():
    report = spec_report(
        """
        input: 8x8x6
        blocks:
          maybe_expand:
            args: {t: 1}
            layers:
              - {if: "$t != 1", layers: [conv: {name: expand, filters: $in_channels * $t, kernel: 1}]}
              - conv: {name: project, filters: $in_channels // 2, kernel: 1}
        layers:
          - maybe_expand: {t: 1, name: a}
          - maybe_expand: {t: 4, name: b}
        """
    )
    assert names(report) == ["a.project", "b.expand", "b.project"]
    assert report.row("a.project").output_shape[0] == 3
    assert report.row("b.expand").output_shape[0] == 12
    assert report.row("b.project").output_shape[0] == 6


def test_residual_shortcuts():
    report = spec_report(
        """
        input: 8x8x4
        layers:
          - residual:
              name: same
              body: [conv: {filters: 4, kernel: 3, pad: 1}]
          - residual:
              name: down
              body: [conv: {filters: 8, kernel: 3, stride: 2, pad: 1}]
          - residual:
              name: custom
              body: [conv: {filters: 8, kernel: 3, pad: 1}]
              shortcut: [conv: {filters: 8, kernel: 1}]
          - residual:
              name: plain
              body: [relu]
              shortcut: none
        """
    )
    assert names(report) == [
        "same.conv1", "same.add1",
        "down.conv1", "down.downsample.0", "down.downsample.1", "down.add1",
        "custom.conv1", "custom.shortcut.conv1", "custom.add1",
        "plain.relu1",
    ]
    projection = report.row("down.downsample.0")
    assert projection.attrs["stride"] == (2, 2) and projection.attrs["kernel"] == (1, 1)
    assert projection.params == 4 * 8  # 1x1 conv, no bias
    assert report.row("same.add1").inputs == ("same.conv1", "input")


def test_merges_concat_add_mul():
    report = spec_report(
        """
        input: 8x8x16
        layers:
          - concat:
              name: inception
              paths:
                - [conv: {filters: 8, kernel: 1}]
                - [conv: {filters: 4, kernel: 1}, conv: {filters: 12, kernel: 3, pad: 1}]
                - [maxpool: {kernel: 3, stride: 1, pad: 1}, conv: {filters: 4, kernel: 1}]
        """
    )
    assert report.rows[-1].name == "inception.concat1"
    assert report.rows[-1].output_shape == (24, 8, 8)
    assert "inception.branch2.conv2" in names(report)


def test_shorthand_values_and_aliases():
    report = spec_report(
        """
        input: 784
        layers:
          - fc: {out_features: 100}
          - dropout: 0.2
          - dense: 10
          - softmax
        """
    )
    assert [r.output_shape for r in report.rows] == [(100,), (100,), (10,), (10,)]
    assert report.rows[0].params == 784 * 100 + 100


def test_input_layouts():
    assert spec_report("input: {shape: [3, 32, 40], layout: chw}\nlayers: [relu]").input_shape == (3, 32, 40)
    assert spec_report("input: 32x40x3\nlayers: [relu]").input_shape == (3, 32, 40)


@pytest.mark.parametrize(
    "text, error, pattern",
    [
        ("input: 8x8x3\nlayers: [conv: {filters: 4}]", SpecError, "conv needs the argument 'kernel'"),
        ("input: 8x8x3\nlayers: [conv: {filters: 4, kernel: 3, strde: 2}]", SpecError, "unknown argument 'strde'"),
        ("input: 8x8x3\nlayers: [convv: {filters: 4}]", SpecError, "unknown layer type 'convv'"),
        ("input: 8x8x3\nlayers: [conv: {filters: 4, kernel: 11}]", LayerError, "kernel 11 is larger"),
        ("input: 8x8x3\nlayers: [conv: {filters: 4, kernel: 3, groups: 2}]", LayerError, "groups = 2 must divide"),
        ("input: 8x8x3\nlayers: [flatten, conv: {filters: 1, kernel: 1}]", LayerError, "needs an image input"),
        ("input: 8x8x3\nlayer: []", SpecError, "unknown top-level key 'layer'"),
        ("input: 8x8x3\nlayers: [conv: {filters: $x, kernel: 1}]", SpecError, r"unknown variable \$x"),
    ],
)
def test_errors_name_the_problem(text, error, pattern):
    with pytest.raises(error, match=pattern):
        spec_report(text)


def test_errors_carry_file_line_and_layer():
    with pytest.raises(LayerError) as info:
        spec_report(
            """
            input: 8x8x3
            layers:
              - conv: {filters: 4, kernel: 3}
              - concat:
                  - [conv: {filters: 4, kernel: 3, name: a}]
                  - [conv: {filters: 4, kernel: 1, name: b}]
            """
        )
    text = str(info.value)
    assert text.startswith("inline.yaml:5: layer 'concat1' (concat)")
    assert "(4, 4, 4), (4, 6, 6)" in text


def test_strict_turns_non_integer_sizes_into_errors():
    text = "input: 7x7x1\nlayers: [conv: {filters: 1, kernel: 3, stride: 3}]"
    report = spec_report(text)
    assert report.rows[0].output_shape == (1, 2, 2)
    assert "2.33333" in str(report.warnings[0])
    with pytest.raises(LayerError, match="--strict"):
        spec_report(text, strict=True)


def test_duplicate_names_are_refused():
    with pytest.raises(SpecError, match="used twice"):
        spec_report("input: 4x4x1\nlayers: [relu: {name: a}, relu: {name: a}]")
