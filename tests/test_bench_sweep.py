"""``benchmarks/bench_sweep.py``'s floor: the bare meta forward it times is the whole forward.

The benchmark quotes, beside archcalc and torchinfo, the time of the model's forward on meta
tensors with torch alone (:func:`bench_sweep.bare_meta_forward`), the floor of any meta-device
analysis. That figure means something only if the call runs the complete forward: its outputs
must have the shapes of a real forward's, output for output.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import torch  # noqa: E402
from bench_sweep import bare_meta_forward  # noqa: E402

from tests import hf_sweep  # noqa: E402


@pytest.mark.parametrize("model_type", ["bert", "llama", "t5"])
def test_the_bare_meta_forward_gives_every_output_of_the_real_forward(model_type):
    built = hf_sweep.build(model_type)
    with torch.no_grad():
        real = built.model(**built.inputs, **built.options)
    meta = bare_meta_forward(built.model, built.inputs, built.options)()
    shapes = hf_sweep.flatten_outputs(meta)
    assert shapes == hf_sweep.flatten_outputs(real)
    assert shapes  # forward returned tensors
    assert all(t.is_meta for t in torch.utils._pytree.tree_leaves(meta) if isinstance(t, torch.Tensor))
    # the model is left on its own device
    assert all(not p.is_meta for p in built.model.parameters())
