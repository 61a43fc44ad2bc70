"""Every YAML example in docs/spec-format.md loads, and the numbers the text quotes hold."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from archcalc.analysis import analyze_graph
from archcalc.spec import load_spec_text

DOC = Path(__file__).resolve().parent.parent / "docs" / "spec-format.md"
BLOCKS = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S)


def report_of(name: str):
    for block in BLOCKS:
        if re.search(rf"^name: {name}$", block, re.M):
            return analyze_graph(load_spec_text(block, f"spec-format.md:{name}"))
    raise AssertionError(f"no example named {name}")


@pytest.mark.parametrize("block", BLOCKS, ids=[re.search(r"name: (\w+)", b).group(1) for b in BLOCKS])
def test_every_example_loads(block):
    analyze_graph(load_spec_text(block, "spec-format.md"))


def test_quoted_numbers():
    tiny = report_of("tiny")
    assert tiny.rows[0].output_shape == (10, 32, 32)
    assert tiny.rows[0].params == 760 and tiny.rows[0].macs == 768_000
    assert tiny.rows[2].output_shape == (10, 16, 16)
    assert tiny.rows[-1].params == 25_610

    vgg = report_of("vgg_like")
    assert vgg.totals.params == (
        3 * 3 * 3 * 16 + 16 + 3 * 3 * 16 * 16 + 16 + 3 * 3 * 16 * 32 + 32 + 3 * 3 * 32 * 32 + 32 + 32 * 10 + 10
    ) == 16_986
    assert vgg.row("stage2.maxpool1").output_shape == (32, 8, 8)

    strided = report_of("strided")
    assert [r.name for r in strided.rows][:2] == ["layer.0.conv1", "layer.0.relu1"]
    assert strided.rows[-1].name == "layer.2.relu1"
    assert strided.output_shape == (8, 32, 32)

    assert report_of("inception_like").output_shape == (256, 28, 28)
    assert report_of("se_block").output_shape == (64, 14, 14)

    blocks = report_of("basic_blocks")
    assert blocks.row("block1.add1").inputs[1] == "input"
    assert blocks.row("block2.downsample.0").weights == 64 * 128 == 8_192
    assert blocks.output_shape == (128, 28, 28)

    tagger = report_of("tagger")
    assert tagger.rows[0].params == 1000 * 64 == 64_000 and tagger.rows[0].macs == 0
    assert tagger.rows[0].output_shape == (128, 64)
    assert tagger.rows[1].macs == 2 * 128 * 4 * 32 * (64 + 32) == 3_145_728
    assert tagger.totals.input_bytes == 128 * 8

    decoder = report_of("tiny_decoder")
    attention = next(r for r in decoder.rows if r.attrs.get("causal"))
    assert attention.macs == 4 * 16 * 16 * (16 + 16) == 32_768
    assert decoder.row("lm_head").shares_params_with == "wte" and decoder.row("lm_head").owned_params == 0
    assert decoder.totals.params == 100 * 64 + 32 * 64 + 2 * 64 + (64 * 64 + 64) + 2 * (64 * 16 + 16) \
        + (64 * 64 + 64) + 2 * 64

    floors = report_of("floors_demo")
    assert floors.row("stem").output_shape == (8, 112, 112)
    assert floors.row("stage.0.conv").output_shape == (8, 56, 56)
    assert [w.layer for w in floors.warnings if w.intended] == ["stem", "stage.0.conv"]
    assert not [w for w in floors.warnings if not w.intended]
