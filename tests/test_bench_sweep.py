"""``benchmarks/bench_sweep.py``'s floors: the forwards it times beside the tools are whole.

The benchmark quotes, beside archcalc and torchinfo, two floors: the model's forward on meta
tensors with torch alone (:func:`bench_sweep.bare_meta_forward`), the least any meta-device
analysis pays, and its real forward under a dispatch mode that only runs each op
(:func:`bench_sweep.bare_ledger_forward`), the least any op-level ledger pays. Those figures
mean something only if each call runs the complete forward: the meta one must give every
output of a real forward at its shape, the ledger one the real outputs themselves.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import torch  # noqa: E402
from bench_sweep import bare_ledger_forward, bare_meta_forward  # noqa: E402

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


def test_the_bare_ledger_forward_gives_the_real_outputs():
    built = hf_sweep.build("bert")
    with torch.no_grad():
        real = built.model(**built.inputs, **built.options)
    ran = bare_ledger_forward(built.model, built.inputs, built.options)()
    assert hf_sweep.flatten_outputs(ran) == hf_sweep.flatten_outputs(real)
    torch.testing.assert_close(ran.last_hidden_state, real.last_hidden_state, rtol=0, atol=0)
