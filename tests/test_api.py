"""Everything the CLI does is reachable from `import archcalc`."""

from __future__ import annotations

import pytest

import archcalc


def test_analyze_a_zoo_model():
    report = archcalc.analyze("resnet18", "224x224x3", convention="flops")
    # torchvision docs: resnet18 has 11,689,512 parameters
    assert report.totals.params == 11_689_512
    assert report.totals.flops == 2 * report.totals.macs


def test_analyze_a_live_module_matches_numel():
    torch = pytest.importorskip("torch")
    module = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(8 * 30 * 30, 10))
    report = archcalc.analyze(module, (3, 32, 32))
    assert report.totals.params == sum(p.numel() for p in module.parameters())
    assert report.output_shape == tuple(module(torch.zeros(1, 3, 32, 32)).shape[1:])


def test_lazy_entry_points():
    layer = archcalc.analyze_layer("conv2d", "32x32x3", {"filters": 10, "kernel": 5, "pad": 2})
    assert layer.totals.params == (5 * 5 * 3 + 1) * 10
    steps = archcalc.explain_row(layer.rows[0], layer)
    assert any(step.value == 760 for step in steps)
    with pytest.raises(AttributeError):
        archcalc.no_such_thing  # noqa: B018
