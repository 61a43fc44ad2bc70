"""Derivations (``--explain``): every step's value is the Report's number, and its
arithmetic, evaluated, gives that value -- for every layer of several zoo models and
of a spec that uses every layer family, under every convention."""

from __future__ import annotations

import re
import textwrap
from fractions import Fraction
from math import ceil, floor, prod

import pytest

import archcalc
from archcalc.analysis import analyze_graph
from archcalc.conventions import PRESETS, get_convention
from archcalc.derivation import KEYS, Step, explain_row, explain_totals
from archcalc.inputs import format_hwc

from archcalc.ir import INPUT, GraphBuilder
from archcalc.layers import all_families
from archcalc.report import plain_number
from archcalc.single_layer import analyze_layer
from archcalc.spec import load_spec_text
from archcalc.zoo import zoo_names

#: one layer of every family the rules know, with the less common cases: dilation, groups,
#: asymmetric kernels and strides, ceil_mode, padding in average pooling, broadcast
#: multiply (squeeze-excitation), concat, transposed conv, bilinear upsampling, adaptive
#: pooling with overlapping windows, layer norm and linear on a sequence
FAMILIES = textwrap.dedent(
    """
    name: families
    input: 33x33x3
    layers:
      - conv: {name: c1, filters: 8, kernel: 3, stride: 2, pad: 1}
      - batchnorm: {name: bn}
      - relu6
      - conv: {name: dw, filters: 8, kernel: 3, pad: 2, dilation: 2, groups: 8, bias: false}
      - conv: {name: asym, filters: 8, kernel: [3, 1], stride: [2, 1], pad: [1, 0]}
      - lrn: {size: 5}
      - maxpool: {name: mp, kernel: 3, stride: 2, ceil_mode: true}
      - avgpool: {name: ap, kernel: 2, stride: 1, pad: 1}
      - mul:
          - []
          - [global_avgpool, conv: {filters: 8, kernel: 1}, sigmoid]
      - concat:
          - [conv: {filters: 4, kernel: 1}]
          - [maxpool: {kernel: 3, stride: 1, pad: 1}]
      - add:
          - [conv: {filters: 12, kernel: 3, pad: 1}, leakyrelu]
          - []
      - convtranspose: {name: up, filters: 6, kernel: 4, stride: 2, pad: 1}
      - upsample: {name: bil, scale: 2, mode: bilinear}
      - upsample: {name: near, size: [20, 30]}
      - adaptive_avgpool: {name: aap, output: 7}
      - adaptive_maxpool: {name: amp, output: [3, 2]}
      - global_maxpool
      - reshape: {shape: [3, 2]}
      - layernorm: {name: ln}
      - linear: {name: seq, units: 5}
      - gelu
      - flatten
      - dropout: 0.2
      - linear: {name: fc, units: 10, bias: false}
      - softmax
    """
)

#: every zoo model (the issue "a layer family is one file" asks for all of them, under every convention)
ZOO = zoo_names()

CONVENTIONS = [get_convention(name) for name in PRESETS] + [
    get_convention("flops", include=("bias", "pool", "activation", "norm", "elementwise")),
    get_convention("exact", exclude=("pool",)),
]


def evaluate(text: str):
    """The arithmetic of a step: + - * / ( ), floor, ceil, max, thousands separators."""
    cleaned = re.sub(r"(?<=\d),(?=\d{3})", "", text)
    assert re.fullmatch(r"[0-9+\-*/(). ,a-z_]*", cleaned), text
    return eval(cleaned, {"__builtins__": {}}, {"floor": floor, "ceil": ceil, "max": max})


def report_value(row, key: str):
    """The Report's number that a step with ``key`` derives (KEYS documents the mapping)."""
    shape = row.output_shape
    if key == "output_size":
        assert shape[-2] == shape[-1], shape
        return shape[-1]
    if key == "output_size_dhw":
        assert len(shape) == 4 and shape[1] == shape[2] == shape[3], shape
        return shape[-1]
    simple = {
        "output_height": lambda: shape[-2],
        "output_width": lambda: shape[-1],
        "output_length": lambda: shape[1] if len(shape) == 2 else None,
        "output_depth": lambda: shape[1] if len(shape) == 4 else None,
        "output_channels": lambda: shape[0],
        "output_shape": lambda: format_hwc(shape),
        "in_features": lambda: prod(row.input_shapes[0]),  # flattened: every input element
        "weight_shape": lambda: f"torch {tuple(row.weight_shape.torch)}, Keras {tuple(row.weight_shape.keras)}",
        # a dense layer from the whole input to the whole output: (inputs + 1) * outputs
        "dense_equivalent": lambda: (prod(row.input_shapes[0]) + 1) * prod(row.output_shape),
        "weights": lambda: row.weights,
        "biases": lambda: row.biases,
        "params": lambda: row.params,
        "buffers": lambda: row.buffers,
        "activation_bytes": lambda: row.activation_bytes,
        "macs": lambda: row.macs,
        "flops": lambda: row.flops,
        "rf_size_h": lambda: plain_number(row.rf.size[0]),
        "rf_size_w": lambda: plain_number(row.rf.size[1]),
        "rf_jump_h": lambda: plain_number(row.rf.jump[0]),
        "rf_jump_w": lambda: plain_number(row.rf.jump[1]),
    }
    if key in simple:
        return simple[key]()
    if key in ("rf_size", "rf_jump"):
        values = row.rf.size if key == "rf_size" else row.rf.jump
        assert values[0] == values[1]
        return plain_number(values[0])
    if key in ("adds", "muls", "divs", "cmps", "exps"):
        return getattr(row.ops, key)
    if key.startswith("output_axis"):
        return shape[int(key[len("output_axis"):])]
    raise AssertionError(f"unknown step key {key!r}")


def total_value(report, key: str):
    name = key.removeprefix("totals.")
    head, _, optimizer = name.partition(".")
    value = getattr(report.totals, head)
    return value[optimizer] if optimizer else value


def check_step(step: Step, expected) -> None:
    assert step.value == expected, step
    if isinstance(step.value, str):
        return
    got = evaluate(step.substituted)
    assert got == pytest.approx(step.value, rel=1e-12, abs=1e-9), step


def family_examples():
    """Every family's own example specs (``Family.examples``)."""
    for name, family in all_families().items():
        for case, (input_text, layers) in family.examples.items():
            body = textwrap.indent(layers, "  ")
            yield load_spec_text(f"name: {case}\ninput: {input_text}\nlayers:\n{body}\n", f"{name}.yaml")


#: a course's fully connected layer on an image (the input flattened inside the layer)
DENSE_ON_IMAGE = "name: dense\ninput: 6x5x3\nlayers:\n  - linear: {units: 4, flatten: true}\n  - linear: 3\n"


def reports(convention):
    graph = load_spec_text(FAMILIES, "families.yaml")
    yield analyze_graph(graph, batch=1, convention=convention)
    yield analyze_graph(load_spec_text(DENSE_ON_IMAGE, "dense.yaml"), batch=2, convention=convention)
    yield analyze_graph(graph, batch=3, dtype="float16", convention=convention)
    for example in family_examples():
        yield analyze_graph(example, batch=2, convention=convention)
    for model in ZOO:
        yield archcalc.analyze(model, convention=convention)


@pytest.mark.parametrize("convention", CONVENTIONS, ids=lambda c: c.name)
def test_every_step_equals_the_report_and_its_arithmetic(convention):
    for report in reports(convention):
        for row in report.rows:
            steps = explain_row(row, report)
            keys = {s.key for s in steps}
            assert "output_shape" in keys and "params" in keys and "activation_bytes" in keys, row.name
            assert keys & {"rf_size", "rf_size_h"} and keys & {"rf_jump", "rf_jump_h"}, row.name
            if row.macs:
                assert "macs" in keys, row.name
            assert ("flops" in keys) == (convention.name != "macs"), row.name
            for step in steps:
                assert step.key in KEYS or step.key.startswith("output_axis"), step
                check_step(step, report_value(row, step.key))
        for step in explain_totals(report):
            assert step.key.startswith("totals.")
            check_step(step, total_value(report, step.key))
            assert "peak-memory pass" not in step.formula, "the peak's live tensors were not found"


def by_key(steps):
    return {s.key: s for s in steps}


def test_course_example_conv():
    """32x32x3 input, ten 5x5 filters, stride 1, pad 2 (CS231n's worked example numbers)."""
    report = analyze_layer("conv2d", "32x32x3", {"filters": 10, "kernel": 5, "stride": 1, "pad": 2},
                           convention="flops")
    steps = by_key(explain_row(report.rows[0], report))
    assert steps["output_size"].formula == "(W - F + 2P)/S + 1"
    assert steps["output_size"].substituted == "(32 - 5 + 2*2)/1 + 1"
    assert steps["output_size"].value == 32
    assert steps["output_shape"].value == "32x32x10"
    assert steps["params"].substituted == "(5*5*3 + 1) * 10" and steps["params"].value == 760
    assert steps["weights"].value == 750 and steps["biases"].value == 10
    assert steps["macs"].substituted == "32*32*10 * (5*5*3)" and steps["macs"].value == 32 * 32 * 10 * 75
    assert steps["flops"].substituted == "2 * 768,000" and steps["flops"].value == 1_536_000
    assert steps["activation_bytes"].value == 32 * 32 * 10 * 4
    assert steps["rf_size"].substituted == "1 + (5 - 1)*1" and steps["rf_size"].value == 5


def test_non_integer_size_says_what_pytorch_does():
    report = analyze_layer("conv", "7x7x1", {"filters": 1, "kernel": 3, "stride": 3})
    step = by_key(explain_row(report.rows[0], report))["output_size"]
    assert step.substituted == "floor((7 - 3 + 2*0)/3) + 1" and step.value == 2
    assert "(7 - 3 + 2*0)/3 + 1 = 2.33333 is not an integer; PyTorch floors it to 2" in step.note
    # ceil_mode: rounds up, and drops a window that would start in the right padding
    # torch.nn.MaxPool2d(3, 2, ceil_mode=True) on 6x6 gives 3x3: ceil(3/2) + 1
    report = analyze_layer("maxpool", "6x6x1", {"kernel": 3, "stride": 2, "ceil_mode": True})
    step = by_key(explain_row(report.rows[0], report))["output_size"]
    assert step.substituted == "ceil((6 - 3 + 2*0)/2) + 1" and step.value == 3 and "rounds up to 3" in step.note
    # torch.nn.MaxPool2d(2, 2, 1, ceil_mode=True) on 5x5 gives 3x3: ceil(5/2) + 1 = 4, and the
    # fourth window would start in the right padding
    report = analyze_layer("maxpool", "5x5x1", {"kernel": 2, "stride": 2, "pad": 1, "ceil_mode": True})
    step = by_key(explain_row(report.rows[0], report))["output_size"]
    assert step.substituted == "ceil((5 - 2 + 2*1)/2) + 1 - 1" and step.value == 3
    assert "drops the last window" in step.note


def test_textbook_and_exact_conventions_spell_out_bias_and_adds():
    args = {"filters": 10, "kernel": 5, "pad": 2}
    report = analyze_layer("conv", "32x32x3", args, convention="textbook")
    step = by_key(explain_row(report.rows[0], report))["flops"]
    assert step.formula == "2 * MACs + bias adds" and step.value == 2 * 768_000 + 10_240
    report = analyze_layer("conv", "32x32x3", args, convention="exact")
    step = by_key(explain_row(report.rows[0], report))["flops"]
    # n multiplies and n - 1 adds per output, + 1 bias add: 75 + 74 + 1 = 150 per output
    assert step.value == 10_240 * 150


def test_pooling_counted_only_when_the_convention_says_so():
    report = analyze_layer("maxpool", "4x4x2", {"kernel": 2})
    steps = by_key(explain_row(report.rows[0], report))
    assert steps["cmps"].value == 2 * 2 * 2 * 3 and "flops" not in steps
    report = analyze_layer("maxpool", "4x4x2", {"kernel": 2}, convention="flops")
    assert by_key(explain_row(report.rows[0], report))["flops"].value == 0
    assert "--include pool" in by_key(explain_row(report.rows[0], report))["flops"].note


def test_generic_fallback_for_ops_without_a_written_derivation():
    builder = GraphBuilder(name="mm", input_shape=(8, 8))
    lin = builder.add("proj", "linear", {"units": 8, "bias": False}, [INPUT])
    builder.add("scores", "matmul", {}, [lin, INPUT])
    report = analyze_graph(builder.build(), convention="flops")
    row = report.row("scores")
    for step in explain_row(row, report):
        check_step(step, report_value(row, step.key))


def test_totals_derivation_names_the_peak_moment():
    report = archcalc.analyze("vgg16")
    steps = by_key(explain_totals(report))
    assert steps["totals.params"].value == 138_357_544
    assert "runs" in steps["totals.peak_activation_bytes"].note
    assert set(k for k in steps if k.startswith("totals.training_bytes.")) == {
        f"totals.training_bytes.{o}" for o in report.totals.training_bytes
    }


def test_fraction_text():
    from archcalc.derivation import num

    assert num(Fraction(1, 2)) == "(1/2)" and num(Fraction(4, 2)) == "2" and num(768000) == "768,000"
