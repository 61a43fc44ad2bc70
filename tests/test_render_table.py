"""The terminal table and what it shows: block tree, folding to a depth, shares, units."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

import archcalc
from archcalc.breakdown import BLOCK, HEADER, LAYER, leaf_entries, table_entries
from archcalc.render import units
from archcalc.render.table import render_report
from archcalc.zoo import zoo_names

ZOO = [m for m in ("vgg16", "resnet50", "resnet18", "googlenet", "densenet121", "mobilenet_v2") if m in zoo_names()]


def rendered(report, width: int, **kwargs) -> str:
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    render_report(report, console, **kwargs)
    return console.export_text()


@pytest.mark.parametrize("model", ZOO)
@pytest.mark.parametrize("width", [80, 200])
def test_no_line_longer_than_the_console(model, width):
    text = rendered(archcalc.analyze(model, convention="flops"), width)
    assert max(len(line) for line in text.splitlines()) <= width


@pytest.mark.parametrize("model", ZOO)
def test_tree_shows_every_layer_once_under_its_blocks(model):
    report = archcalc.analyze(model)
    entries = table_entries(report)
    layers = [e for e in entries if e.kind == LAYER]
    assert [e.name for e in layers] == [r.name for r in report.rows]
    for entry in entries:
        assert entry.level == entry.name.count(".")
        assert entry.label == entry.name.rsplit(".", 1)[-1]
    headers = {e.name for e in entries if e.kind == HEADER}
    for row in report.rows:
        parts = row.name.split(".")
        assert {".".join(parts[:i]) for i in range(1, len(parts))} <= headers


@pytest.mark.parametrize("model", ZOO)
@pytest.mark.parametrize("depth", [1, 2])
def test_folded_blocks_sum_to_the_totals(model, depth):
    report = archcalc.analyze(model, convention="exact")
    leaves = leaf_entries(report, depth)
    t = report.totals
    assert sum(e.params for e in leaves) == t.params
    assert sum(e.activation_bytes for e in leaves) == t.activation_bytes
    assert sum(e.macs for e in leaves) == t.macs
    assert sum(e.flops for e in leaves) == t.flops
    assert sum(len(e.rows) for e in leaves) == len(report.rows)
    assert sum(e.param_share for e in leaves) == pytest.approx(1.0)
    for entry in leaves:
        assert entry.name.count(".") < depth
        assert entry.output_shape == entry.rows[-1].output_shape and entry.rf == entry.rows[-1].rf
        if entry.kind == BLOCK:
            assert all(r.name.startswith(entry.name + ".") for r in entry.rows)


def test_vgg16_depth_one_rows():
    report = archcalc.analyze("vgg16")
    names = [e.name for e in leaf_entries(report, 1)]
    assert names == ["features", "avgpool", "flatten1", "classifier"]
    classifier = leaf_entries(report, 1)[-1]
    # the three dense layers: 25088*4096 + 4096, 4096*4096 + 4096, 4096*1000 + 1000
    assert classifier.params == 25088 * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * 1000 + 1000
    text = rendered(report, 80, depth=1)
    assert "features" in text and "31 layers" in text and "stage1" not in text


def test_totals_panel_names_the_convention():
    text = rendered(archcalc.analyze("vgg16", convention="textbook"), 80)
    assert "FLOPs [textbook]" in text and "Training (adam)" in text and "Activations (peak)" in text
    assert "138,357,544" in text
    exact = rendered(archcalc.analyze("vgg16"), 200, exact=True)
    assert "15,470,264,320" in exact and "553,430,176 B" in exact


def test_units():
    assert units.count_short(138_357_544) == "138M"
    assert units.count_short(9_408) == "9.41K"
    assert units.count_short(12_845_056) == "12.8M"
    assert units.count_short(999_999) == "1.00M"
    assert units.count_short(760) == "760"
    assert units.count_short(768_000, exact=True) == "768,000"
    assert units.nbytes_short(802_816) == "784 KiB"
    assert units.nbytes_short(3_211_264) == "3.06 MiB"
    assert units.nbytes_short(1000) == "1000 B"
    assert units.bar(1.0, 3) == "███" and units.bar(0.0, 3) == "   " and units.bar(1e-6, 3) == "▏  "
    assert units.bar(0.5, 2) == "█ "
    assert units.percent(0.1234) == "12.3%" and units.percent(0) == "-"
    assert units.ratio(25.94) == "25.9x" and units.ratio(None) == "-"
