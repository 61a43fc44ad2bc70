"""``archcalc layer``: single-layer answers checked against arithmetic written out here
and against torch (``numel()`` and the shape of a real forward pass)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from archcalc.cli import app, normalize_argv

runner = CliRunner()


def run(*args: str, env: dict | None = None):
    return runner.invoke(app, normalize_argv(list(args)), env=env or {"COLUMNS": "80"})


def run_json(*args: str) -> dict:
    result = run(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


COURSE = ("layer", "conv2d", "--input", "32x32x3", "--filters", "10", "--kernel", "5", "--stride", "1", "--pad", "2")


def test_course_example_numbers():
    """32x32x3 input, ten 5x5 filters, stride 1, pad 2."""
    data = run_json(*COURSE, "-c", "flops")
    layer = data["layers"][0]
    out = (32 - 5 + 2 * 2) // 1 + 1
    assert layer["output_shape"] == [10, out, out] == [10, 32, 32]
    assert layer["weights"] == 5 * 5 * 3 * 10 and layer["biases"] == 10 and layer["params"] == 760
    assert layer["macs"] == 32 * 32 * 10 * (5 * 5 * 3) == 768_000
    assert layer["flops"] == 2 * 768_000
    assert layer["activation_bytes"] == 32 * 32 * 10 * 4
    assert layer["rf_size"] == [5, 5] and layer["rf_jump"] == [1, 1]
    assert data["totals"]["params"] == 760


def test_course_example_answer_and_derivation_text():
    result = run(*COURSE)
    assert result.exit_code == 0, result.output
    for fragment in ("32x32x10", "760 (750 weights + 10 biases)", "768,000", "40,960 B"):
        assert fragment in result.stdout, fragment
    result = run(*COURSE, "--explain")
    assert result.exit_code == 0, result.output
    for fragment in ("(32 - 5 + 2*2)/1 + 1 = 32", "(5*5*3 + 1) * 10 = 760", "32*32*10 * (5*5*3)", "768,000"):
        assert fragment in result.stdout, (fragment, result.stdout)
    assert max(len(line) for line in result.stdout.splitlines()) <= 80


def test_explain_json_matches_the_layer_numbers():
    data = run_json(*COURSE, "--explain", "-c", "textbook")
    layer = data["layers"][0]
    steps = {s["key"]: s["value"] for s in layer["derivation"]}
    assert steps["params"] == layer["params"] and steps["macs"] == layer["macs"]
    assert steps["flops"] == layer["flops"] == 2 * 768_000 + 32 * 32 * 10


def test_no_bias_and_set():
    assert run_json(*COURSE, "--no-bias")["layers"][0]["params"] == 750
    # --set reaches any argument: a transposed conv's output_padding
    data = run_json("layer", "convtranspose", "-i", "8x8x4", "-k", "2", "-F", "3", "-s", "2", "-p", "1",
                    "--set", "output_padding=1")
    assert data["layers"][0]["output_shape"] == [2, (8 - 1) * 2 - 2 * 1 + 3 + 1, 16]


def test_vector_input_linear():
    data = run_json("layer", "linear", "--input", "4096", "--units", "1000")
    layer = data["layers"][0]
    assert layer["output_shape"] == [1000]
    assert layer["params"] == (4096 + 1) * 1000 and layer["macs"] == 4096 * 1000


def test_separable_is_depthwise_then_pointwise():
    data = run_json("layer", "separable", "-i", "56x56x32", "-k", "64", "-F", "3", "-p", "1", "--no-bias")
    names = [layer["name"] for layer in data["layers"]]
    assert names == ["depthwise", "pointwise"]
    depthwise, pointwise = data["layers"]
    assert depthwise["params"] == 3 * 3 * 32 and depthwise["output_shape"] == [32, 56, 56]
    assert pointwise["params"] == 32 * 64 and pointwise["output_shape"] == [64, 56, 56]
    assert data["totals"]["macs"] == 56 * 56 * 32 * 9 + 56 * 56 * 64 * 32


def test_help_lists_the_layer_types():
    result = run("layer", "--help")
    assert result.exit_code == 0
    for name in ("conv", "maxpool", "linear", "batchnorm", "separable", "depthwise", "convtranspose", "dilated"):
        assert f"  {name} " in result.stdout, name


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["layer", "conv2d", "--filters", "3", "--kernel", "3"], "needs --input"),
        (["layer", "convolve", "-i", "8x8x3"], "unknown layer type 'convolve'"),
        (["layer", "maxpool", "-i", "8x8x3", "--kernel", "2", "--filters", "3"], "unknown argument 'filters'"),
        (["layer", "conv", "-i", "4x4x3", "-k", "2", "-F", "7"], "larger than the padded input"),
        (["layer", "conv", "-i", "8x8x3", "-k", "2", "-F", "3", "--set", "nonsense"], "--set takes key=value"),
        (["layer", "separable", "-i", "8x8x3", "-F", "3"], "needs --filters"),
    ],
)
def test_user_errors(args, fragment):
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert fragment in result.stderr and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) <= 2


# -- against torch ----------------------------------------------------------------------

TORCH_CASES = [
    # (archcalc layer arguments, input H x W x C, torch module factory)
    (["conv", "-k", "10", "-F", "5", "-s", "1", "-p", "2"], (32, 32, 3), lambda nn: nn.Conv2d(3, 10, 5, 1, 2)),
    (["conv", "-k", "16", "-F", "3", "-s", "2", "-p", "1", "--no-bias"], (31, 29, 8),
     lambda nn: nn.Conv2d(8, 16, 3, 2, 1, bias=False)),
    (["dilated", "-k", "4", "-F", "3", "-p", "2"], (20, 20, 4), lambda nn: nn.Conv2d(4, 4, 3, padding=2, dilation=2)),
    (["conv", "-k", "12", "-F", "3", "--groups", "4"], (10, 10, 8), lambda nn: nn.Conv2d(8, 12, 3, groups=4)),
    (["depthwise", "-F", "3", "-p", "1"], (14, 14, 6), lambda nn: nn.Conv2d(6, 6, 3, padding=1, groups=6)),
    (["convtranspose", "-k", "5", "-F", "4", "-s", "2", "-p", "1"], (7, 9, 3),
     lambda nn: nn.ConvTranspose2d(3, 5, 4, 2, 1)),
    (["maxpool", "-F", "3", "-s", "2", "--set", "ceil_mode=true"], (12, 12, 2),
     lambda nn: nn.MaxPool2d(3, 2, ceil_mode=True)),
    (["maxpool", "-F", "2", "-s", "2", "-p", "1", "--set", "ceil_mode=true"], (5, 5, 2),
     lambda nn: nn.MaxPool2d(2, 2, 1, ceil_mode=True)),
    (["avgpool", "-F", "3", "-s", "2", "-p", "1"], (9, 9, 2), lambda nn: nn.AvgPool2d(3, 2, 1)),
    (["batchnorm"], (6, 6, 5), lambda nn: nn.BatchNorm2d(5)),
    (["adaptive_avgpool", "--set", "output=3"], (7, 7, 4), lambda nn: nn.AdaptiveAvgPool2d(3)),
]


@pytest.mark.parametrize("args, hwc, factory", TORCH_CASES, ids=lambda v: v[0] if isinstance(v, list) else "")
def test_layer_against_torch(args, hwc, factory):
    torch = pytest.importorskip("torch")
    module = factory(torch.nn).eval()
    h, w, c = hwc
    data = run_json("layer", args[0], "--input", f"{h}x{w}x{c}", *args[1:])
    with torch.no_grad():
        out = module(torch.zeros(1, c, h, w))
    trainable = sum(p.numel() for p in module.parameters())
    assert data["output_shape"] == list(out.shape[1:])
    assert data["totals"]["params"] == trainable
    assert data["totals"]["activation_elements"] == out.numel()


LIGHT = """
import sys
from archcalc.cli import main
try:
    main({argv!r})
except SystemExit as exit:
    assert exit.code in (0, None), exit.code
print("HEAVY=" + ",".join(m for m in ("torch", "fvcore", "pandas", "matplotlib", "numpy") if m in sys.modules))
"""


@pytest.mark.parametrize(
    "argv",
    [
        ["layer", "conv2d", "-i", "32x32x3", "-k", "10", "-F", "5", "-p", "2", "--explain"],
        ["compare", "vgg16", "resnet50"],
        ["vgg16", "--sweep", "batch=1,8"],
        ["vgg16", "--explain", "--depth", "1"],
    ],
    ids=lambda argv: " ".join(argv[:3]),
)
def test_new_commands_stay_light(argv):
    """Single-layer questions, comparisons, sweeps and derivations import no torch, pandas or matplotlib."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", LIGHT.format(argv=argv)], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip().splitlines()[-1] == "HEAVY="
