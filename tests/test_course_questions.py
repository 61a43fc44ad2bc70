"""Questions as a course asks them: a dense layer on an image, weight shapes in both orders,
the dense equivalent of a convolution, AlexNet at 227, several answers in one --answer.

Expected values are the courses' own arithmetic (written out below) or torch's."""

from __future__ import annotations

import json

import pytest

import archcalc
from archcalc.analysis import analyze_graph
from archcalc.derivation import explain_row
from archcalc.single_layer import analyze_layer
from archcalc.spec import load_spec_text


def layer_json(run_cli, *args):
    result = run_cli("layer", *args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# -- a fully connected layer on an image -------------------------------------------


@pytest.mark.parametrize("word", ["fc", "dense", "linear"])
def test_fully_connected_layer_on_an_image_flattens_it_first(word, run_cli):
    data = layer_json(run_cli, word, "--input", "28x28x1", "--units", "256", "-c", "textbook")
    (layer,) = data["layers"]
    assert layer["output_shape"] == [256]
    assert layer["params"] == 784 * 256 + 256 == 200_960
    # textbook: 2 FLOPs per multiply-accumulate, 1 per bias add
    assert layer["flops"] == 2 * 784 * 256 + 256 == 401_664
    assert layer["rf_size"] == [28, 28]


def test_dense_layer_of_1000_units_on_a_640x480x3_image(run_cli):
    data = layer_json(run_cli, "dense", "--input", "640x480x3", "--units", "1000")
    assert data["totals"]["params"] == 640 * 480 * 3 * 1000 + 1000
    assert data["totals"]["macs"] == 640 * 480 * 3 * 1000


def test_the_answer_and_the_derivation_say_the_input_is_flattened(run_cli):
    answer = run_cli("layer", "fc", "--input", "28x28x1", "--units", "256")
    assert answer.exit_code == 0
    assert "flattened to 784 inputs" in " ".join(answer.stdout.split())
    explained = run_cli("layer", "fc", "--input", "28x28x1", "--units", "256", "--explain", "-c", "textbook")
    text = " ".join(explained.stdout.split())
    assert "H*W*C = 28*28*1 = 784" in text and "flattened first" in text
    assert "(784 + 1) * 256 = 200,960" in text and "2 * 200,704 + 256 = 401,664" in text


def test_per_position_keeps_torch_semantics(run_cli):
    data = layer_json(run_cli, "fc", "--input", "28x28x1", "--units", "256", "--per-position")
    (layer,) = data["layers"]
    assert layer["output_shape"] == [1, 28, 256]  # C, H, units: nn.Linear on the last axis (W = 28)
    assert layer["params"] == 28 * 256 + 256
    refused = run_cli("layer", "conv", "--input", "8x8x3", "--filters", "4", "--kernel", "3", "--per-position")
    assert refused.exit_code == 2 and "dense layers" in refused.stderr


def test_a_vector_input_is_the_same_either_way():
    assert analyze_layer("fc", "784", {"units": 10}).totals.params == 7_850
    assert analyze_layer("fc", "784", {"units": 10}, per_position=True).totals.params == 7_850


ON_IMAGE = "name: s\ninput: 28x28x1\nlayers:\n  - linear: 256\n  - linear: 10\n"
WARNING = "linear acts on the last axis (W = 28); add flatten for a fully connected layer"


def test_a_spec_applying_linear_to_an_image_keeps_torch_semantics_and_warns_once(tmp_path, run_cli):
    graph = load_spec_text(ON_IMAGE, "s.yaml")
    assert graph.nodes[0].output_shape == (1, 28, 256)
    assert [w.message for w in graph.warnings] == [WARNING]
    path = tmp_path / "s.yaml"
    path.write_text(ON_IMAGE)
    result = run_cli(str(path))
    assert result.exit_code == 0
    assert result.stderr.count("linear acts on the last axis") == 1 and "s.yaml:4" in result.stderr


@pytest.mark.parametrize("flatten, warned", [("true", False), ("false", False)])
def test_saying_how_silences_the_warning(flatten, warned):
    graph = load_spec_text(f"input: 28x28x1\nlayers:\n  - linear: {{units: 256, flatten: {flatten}}}\n", "s.yaml")
    assert bool(graph.warnings) == warned
    assert graph.nodes[0].output_shape == ((256,) if flatten == "true" else (1, 28, 256))


def test_a_live_module_warns_on_an_image_but_not_on_channels_last():
    torch = pytest.importorskip("torch")
    from torch import nn

    class OnImage(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3)
            self.fc = nn.Linear(26, 10)

        def forward(self, x):
            return self.fc(torch.relu(self.conv(x)))

    class ChannelsLast(nn.Module):  # ConvNeXt's pattern: permute to H x W x C, norm, linear
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3)
            self.norm = nn.LayerNorm(4)
            self.fc = nn.Linear(4, 8)

        def forward(self, x):
            return self.fc(self.norm(self.conv(x).permute(0, 2, 3, 1)))

    warned = archcalc.analyze(OnImage(), "28x28x1").warnings
    assert [w.message for w in warned] == ["linear acts on the last axis (W = 26); add flatten for a fully "
                                           "connected layer"]
    assert not archcalc.analyze(ChannelsLast(), "28x28x1").warnings


def test_flattening_linear_builds_and_runs_in_torch():
    torch = pytest.importorskip("torch")
    from archcalc.torch_builder import build_module

    graph = load_spec_text("input: 6x5x3\nlayers:\n  - linear: {name: fc, units: 4, flatten: true}\n", "s.yaml")
    module = build_module(graph)
    out = module(torch.randn(2, 3, 6, 5))
    assert tuple(out.shape) == (2, 4)
    fc = dict(module.named_modules())["fc"]
    assert sum(p.numel() for p in fc.parameters()) == 6 * 5 * 3 * 4 + 4


# -- weight tensors in both orders, and the dense equivalent --------------------------


def test_alexnet_first_conv_weight_shape_in_both_orders(run_cli):
    result = run_cli("alexnet_paper", "--format", "json")
    first = json.loads(result.stdout)["layers"][0]
    # the course's "Kernel shape: (11,11,3,96)" is Keras' HWIO; torch writes (96, 3, 11, 11)
    assert first["weight_shape"] == {"torch": [96, 3, 11, 11], "keras": [11, 11, 3, 96]}
    explained = run_cli("alexnet_paper", "--explain", "--only", "features.conv1")
    text = " ".join(explained.stdout.split())
    assert "torch (96, 3, 11, 11), Keras (11, 11, 3, 96)" in text


@pytest.mark.parametrize("model", ["alexnet_paper", "mobilenet_v2", "googlenet", "lenet5"])
def test_torch_weight_shapes_are_torchs(model):
    """Every conv and linear weight of the model, against the module torch builds for it."""
    pytest.importorskip("torch")
    from archcalc.torch_builder import build_leaf

    report = archcalc.analyze(model)
    graph = archcalc.load_graph(model)[0]
    checked = 0
    for row in report.rows:
        if row.weight_shape is None:
            continue
        leaf = build_leaf(graph.node(row.name))
        assert tuple(leaf.weight.shape) == tuple(row.weight_shape.torch), row.name
        assert sorted(row.weight_shape.keras) == sorted(row.weight_shape.torch), row.name
        checked += 1
    assert checked >= 5


def test_keras_orders():
    # Keras: Conv2D kernel (kh, kw, Cin/groups, filters); DepthwiseConv2D (kh, kw, Cin, multiplier);
    # Dense (in, out); Conv2DTranspose (kh, kw, filters, Cin)
    rows = analyze_graph(load_graph_text("""
        input: 9x9x4
        layers:
          - conv: {filters: 6, kernel: [3, 5], groups: 2}
          - conv: {kernel: 3, depthwise: true, multiplier: 2}
          - convtranspose: {filters: 5, kernel: 2}
          - flatten
          - linear: 7
    """)).rows
    shapes = [r.weight_shape.keras for r in rows if r.weight_shape is not None]
    assert shapes == [(3, 5, 2, 6), (3, 3, 6, 2), (2, 2, 5, 12), (6 * 4 * 5, 7)]  # 9x9 -> 7x5 -> 5x3 -> 6x4


def load_graph_text(text):
    import textwrap

    return load_spec_text(textwrap.dedent(text), "t.yaml")


def test_dense_equivalent_of_a_conv_layer(run_cli):
    # AlexNet's conv1 as the course writes it: 224x224x3 -> 55x55x96 (pad 2), about 43.7x10^9
    result = run_cli("layer", "conv", "--input", "224x224x3", "--filters", "96", "--kernel", "11", "--stride", "4",
                     "--pad", "2", "--explain")
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    expected = (224 * 224 * 3 + 1) * (55 * 55 * 96)
    assert f"= {expected:,}" in text and "43.7x10^9" in text
    report = analyze_layer("conv", "224x224x3", {"filters": 96, "kernel": 11, "stride": 4, "pad": 2})
    steps = {s.key: s for s in explain_row(report.rows[0], report)}
    assert steps["dense_equivalent"].value == expected


# -- the zoo's AlexNet at 227 ---------------------------------------------------------


def test_alexnet_at_227_points_to_alexnet_paper(run_cli):
    result = run_cli("alexnet", "--input", "227x227x3")
    assert result.exit_code == 0
    assert "note:" in result.stderr and "alexnet_paper" in result.stderr and "55x55x96" in result.stderr
    paper = json.loads(run_cli("alexnet_paper", "--input", "227x227x3", "--format", "json").stdout)
    assert paper["layers"][0]["output_shape"] == [96, 55, 55]
    assert "alexnet_paper" not in run_cli("alexnet", "--input", "224x224x3").stderr


# -- several answers in one --answer ------------------------------------------------------

CONV = ("layer", "conv", "--input", "32x32x3", "--filters", "10", "--kernel", "5", "--pad", "2")


def test_answers_separated_by_commas(run_cli):
    result = run_cli(*CONV, "--answer", "shape=32x32x10,params=760", "--format", "json")
    assert result.exit_code == 0, result.output
    cells = json.loads(result.stdout)["totals"] or json.loads(result.stdout)["rows"][0]["cells"]
    assert [(c["quantity"], c["written"], c["verdict"]) for c in cells] == [
        ("shape", "32x32x10", "right"), ("params", "760", "right")]


def test_a_comma_inside_a_number_does_not_split(run_cli):
    # conv 64 3x3 on 224x224x3: (3*3*3 + 1) * 64 = 1,792 parameters
    result = run_cli("layer", "conv", "--input", "224x224x3", "--filters", "64", "--kernel", "3", "--pad", "1",
                     "--answer", "params=1,792, shape=224x224x64", "--format", "json")
    assert result.exit_code == 0, result.output
    cells = json.loads(result.stdout)["rows"][0]["cells"]
    assert [(c["quantity"], c["written"]) for c in cells] == [("params", "1,792"), ("shape", "224x224x64")]


def test_an_answer_without_a_name_is_refused_with_a_hint(run_cli):
    result = run_cli(*CONV, "--answer", "32x32x10")
    assert result.exit_code == 2
    assert "quantity=value" in result.stderr and "hint" in result.stderr


def test_layer_answer_header_is_not_a_check_of_a_file(run_cli):
    result = run_cli(*CONV, "--answer", "params=760")
    header = " ".join(result.stdout.split())
    assert "archcalc check" not in header and "given" not in header
    assert "the default" in header
    given = run_cli(*CONV, "--answer", "params=760", "-c", "flops")
    assert "--convention" in " ".join(given.stdout.split())
