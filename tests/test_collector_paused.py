"""The cyclic garbage collector is off during a YAML spec's analysis and rendering only, and on
again afterwards; a live module's run keeps it (archcalc.cli.collector_paused)."""

from __future__ import annotations

import gc

import pytest

from archcalc.api import reads_as_spec
from archcalc.cli import collector_paused


@pytest.mark.parametrize("model, spec", [
    ("vgg16", True),
    ("resnet50.yaml", True),
    ("{input: 8x8x1, layers: [conv: {filters: 2, kernel: 3}]}", True),
    ("hf:gpt2", False),
    ("torchvision:resnet18", False),
    ("timm:resnet18", False),
    ("net.py:Net", False),
    ("model.onnx", False),
    ("model.pt", False),
    ("model.safetensors", False),
])
def test_reads_as_spec_follows_load_graph(model, spec):
    assert reads_as_spec(model) is spec


def test_the_collector_is_off_inside_and_on_after():
    assert gc.isenabled()
    with collector_paused(True):
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector_paused(True):
        raise RuntimeError
    assert gc.isenabled()
    with collector_paused(False):
        assert gc.isenabled()


@pytest.mark.parametrize("model, enabled", [("lenet5", False), ("net.py:Net", True)])
def test_the_main_job_pauses_it_for_specs_only(monkeypatch, model, enabled):
    import archcalc.api
    from archcalc.cli.main_job import run
    from archcalc.errors import InputError

    seen = []

    def analyze(*args, **kwargs):
        seen.append(gc.isenabled())
        raise InputError("stop here")

    monkeypatch.setattr(archcalc.api, "analyze", analyze)
    assert run(model) == 2
    assert seen == [enabled]
    assert gc.isenabled()
