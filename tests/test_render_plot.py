"""``--plot``: the three per-layer charts are valid images of a sensible size."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET

import pytest

import archcalc
from archcalc.errors import InputError
from archcalc.render.plot import plot_report

matplotlib = pytest.importorskip("matplotlib")


@pytest.mark.parametrize("model, depth", [("vgg16", None), ("resnet50", 2)])
def test_png(tmp_path, model, depth):
    import matplotlib.image as mpimg

    path = plot_report(archcalc.analyze(model), tmp_path / "chart.png", depth=depth)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    height, width = mpimg.imread(path).shape[:2]
    assert 600 <= height <= 2000 and 800 <= width <= 6000
    assert path.stat().st_size > 20_000


def test_svg(tmp_path):
    path = plot_report(archcalc.analyze("vgg16", convention="flops"), tmp_path / "chart.svg")
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    text = path.read_text()
    assert "vgg16" in text and "convention flops" in text


def test_missing_matplotlib_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(InputError, match="pip install 'archcalc\\[plot\\]'"):
        plot_report(archcalc.analyze("vgg16"), tmp_path / "chart.png")
