"""One reading of an input's three numbers for every command (issue 18, section 1).

``archcalc layer conv --input 3x32x32 --filters 10 --kernel 5 --pad 2`` once read H = 3,
W = 32, C = 32 and answered 3x32x10 with 8,010 parameters. Every command now reads
through :func:`archcalc.inputs.read_input`, and says so in one line where the order
is a guess. Each command runs on both orders and must give the same numbers.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from archcalc.cli import app, normalize_argv
from archcalc.errors import InputError
from archcalc.inputs import read_input

runner = CliRunner()


def cli(*args: str):
    return runner.invoke(app, normalize_argv(list(args)))


@pytest.mark.parametrize(
    "text, layout, shape, guessed",
    [
        ("32x32x3", None, (3, 32, 32), False),  # a square image and its channels: evident
        ("3x32x32", None, (3, 32, 32), True),  # C x H x W, said so
        ("32x64x3", None, (3, 32, 64), True),  # no square side: the smaller end is C, a guess
        ("3x32x64", None, (3, 32, 64), True),
        ("8x8x8", None, (8, 8, 8), False),  # both orders give one shape
        ("3x32x32", "hwc", (32, 3, 32), False),  # --layout decides, no note
        ("32x32x3", "chw", (32, 32, 3), False),
    ],
)
def test_read_input_without_a_network(text, layout, shape, guessed):
    reading = read_input(text, layout=layout)
    assert reading.shape == shape
    assert (reading.note is not None) == guessed
    if reading.note and reading.layout == "chw":
        assert "read as C x H x W" in reading.note.replace(f"read {text} as", "read as")
        assert f"{shape[0]} channels" in reading.note


def test_read_input_with_the_network_channels():
    assert read_input("224x224x3", 3).shape == (3, 224, 224) and read_input("224x224x3", 3).note is None
    reading = read_input("3x224x224", 3)
    assert reading.shape == (3, 224, 224) and "C x H x W" in reading.note and "takes 3 input channels" in reading.note
    with pytest.raises(InputError):
        read_input("224x224x5", 3)


def test_layer_reads_both_orders_the_same():
    # 10 filters of 5x5 over 3 channels, pad 2: (32 - 5 + 2*2)/1 + 1 = 32; 5*5*3*10 + 10 = 760
    params = 5 * 5 * 3 * 10 + 10
    outputs = {}
    for text in ("32x32x3", "3x32x32"):
        result = cli("layer", "conv", "--input", text, "--filters", "10", "--kernel", "5", "--pad", "2",
                     "--answer", "shape=32x32x10", "--answer", f"params={params}")
        assert result.exit_code == 0, result.output
        assert "Score: 2/2" in result.output
        outputs[text] = result.output
    assert "read 3x32x32 as C x H x W: 3 channels" in outputs["3x32x32"]
    assert "read 32x32x3" not in outputs["32x32x3"]


def _params(*args: str) -> int:
    result = cli(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output[result.output.index("{"):])["totals"]["params"]


def test_zoo_reads_both_orders_the_same():
    # LeNet-5 on one channel: 156 + 2,416 + 48,120 + 10,164 + 850 = 61,706 parameters either way
    lenet = 156 + 2416 + 48120 + 10164 + 850
    assert _params("lenet5", "--input", "32x32x1") == lenet
    assert _params("lenet5", "--input", "1x32x32") == lenet
    note = cli("vgg16", "--input", "3x224x224")
    assert note.exit_code == 0 and "read 3x224x224 as C x H x W: 3 channels" in note.output


def test_spec_reads_both_orders_the_same(tmp_path):
    spec = tmp_path / "small.yaml"
    spec.write_text("input: 32x32x3\nlayers:\n  - conv: {filters: 8, kernel: 3}\n  - flatten\n"
                    "  - linear: {units: 10}\n")
    # 3x3x3x8 + 8 = 224; at 16x16: (16 - 3) + 1 = 14 -> 14*14*8 = 1,568 inputs to 10 units
    expected = 3 * 3 * 3 * 8 + 8 + 14 * 14 * 8 * 10 + 10
    assert _params(str(spec), "--input", "16x16x3") == expected
    assert _params(str(spec), "--input", "3x16x16") == expected


def test_quiz_input_and_set_read_both_orders_the_same():
    keys = {}
    for args in (("--input", "32x32x3"), ("--input", "3x32x32"), ("--set", "input=3x32x32")):
        result = cli("quiz", "conv", *args, "--brief")
        assert result.exit_code == 0, result.output
        keys[args] = result.output[result.output.index("# "):]
        assert "- Input: 32x32x3" in keys[args]
    assert len(set(keys.values())) == 1


def test_sheet_input_line_reads_both_orders_the_same(tmp_path):
    # conv 10 filters 5x5 pad 2 on 32x32x3: 760 params, output 32x32x10
    model = "{name: q, input: 32x32x3, layers: [{conv: {name: conv1, filters: 10, kernel: 5, pad: 2}}]}"
    for text in ("32x32x3", "3x32x32"):
        sheet = tmp_path / f"sheet-{text}.md"
        sheet.write_text(f"- Model: `{model}`\n- Input: {text}\n\n| Layer | Output shape | Params |\n"
                         "| --- | --- | --- |\n| conv1 | 32x32x10 | 760 |\n")
        result = cli("check", str(sheet))
        assert result.exit_code == 0, result.output
        assert "Score: 2/2" in result.output


def test_sweep_reads_the_base_input_both_orders_the_same():
    from archcalc.sweep import input_text

    # the swept side takes the base input's channels: 3 either way (once 3x224x224 gave 224)
    assert input_text("112", "224x224x3") == input_text("112", "3x224x224") == "112x112x3"
    params = {}
    for base in ("32x32x1", "1x32x32"):
        result = cli("lenet5", "--sweep", "input=32,36", "--input", base, "--format", "json")
        assert result.exit_code == 0, result.output
        data = json.loads(result.output[result.output.index("{"):])
        params[base] = next(m for m in data["metrics"] if m["key"] == "macs")["values"]
    assert params["32x32x1"] == params["1x32x32"]
