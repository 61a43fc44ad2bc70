"""Embedding and EmbeddingBag (archcalc/layers/embedding.py): a lookup has parameters and no
MACs; a bag's reduction adds, divides or compares. Against real forward passes, numel(),
fvcore and FlopCounterMode (both count 0: no handle for aten::embedding / embedding_bag),
with the arithmetic written out here; specs take token ids with ``dtype: int64``."""

from __future__ import annotations

import inspect

import pytest

from tests.torch_truth import fvcore_total, numel, output_shape, torch, torch_total

from archcalc.analysis import analyze_graph  # noqa: E402
from archcalc.frontends import analyze_module  # noqa: E402
from archcalc.spec import load_spec_text  # noqa: E402
from archcalc.torch_builder import build_module  # noqa: E402

nn = torch.nn
F = torch.nn.functional
BATCH = 3


def test_spec_of_token_ids():
    graph = load_spec_text(
        "name: lm\ninput: {shape: [12], dtype: int64}\nlayers:\n"
        "  - embedding: {num: 1000, dim: 64, padding_idx: 0}\n  - linear: 1000\n"
    )
    assert graph.input_dtype == "int64"
    report = analyze_graph(graph, batch=BATCH)
    emb, head = report.rows
    assert emb.output_shape == (12, 64) and emb.params == 1000 * 64 and emb.macs == 0
    assert head.macs == BATCH * 12 * 64 * 1000
    # the ids are int64: 8 bytes each, whatever the model's dtype
    assert report.totals.input_bytes == BATCH * 12 * 8
    module = build_module(graph)
    ids = torch.randint(0, 1000, (BATCH, 12))
    assert report.rows[-1].output_shape == output_shape(module, ids)
    assert report.totals.params == numel(module)
    assert analyze_graph(graph, batch=BATCH, convention="torch").totals.flops == torch_total(module, ids)
    assert analyze_graph(graph, batch=BATCH, convention="fvcore").totals.flops == fvcore_total(module, ids)


def test_spec_input_dtype_errors():
    from archcalc.errors import SpecError

    with pytest.raises(SpecError, match="input dtype must be int64 or int32"):
        load_spec_text("name: bad\ninput: {shape: [4], dtype: str}\nlayers: [relu]\n")


def test_max_norm_is_priced_as_its_upper_bound():
    graph = load_spec_text("name: mn\ninput: {shape: [5], dtype: int64}\nlayers:\n"
                           "  - embedding: {num: 20, dim: 6, max_norm: 1.0}\n")
    (row,) = analyze_graph(graph).rows
    # per id: norm D squares + D - 1 adds + root; compare; + 1e-7, divide, D muls to rescale
    assert (row.ops.muls, row.ops.adds, row.ops.exps, row.ops.cmps, row.ops.divs) == (5 * 12, 5 * 6, 5, 5, 5)


@pytest.mark.parametrize("mode, per_sample", [("sum", {"adds": 6 * 4}), ("mean", {"adds": 6 * 4, "divs": 4}),
                                               ("max", {"cmps": 6 * 4})])
def test_embedding_bag_modes(mode, per_sample):
    # one bag of T = 7 ids per sample, D = 4: (T - 1) * D combining ops
    graph = load_spec_text(f"name: bag\ninput: {{shape: [7], dtype: int64}}\nlayers:\n"
                           f"  - embedding_bag: {{num: 30, dim: 4, mode: {mode}}}\n")
    report = analyze_graph(graph, batch=BATCH)
    (row,) = report.rows
    module = build_module(graph)
    ids = torch.randint(0, 30, (BATCH, 7))
    assert row.output_shape == output_shape(module, ids) == (4,)
    assert row.params == numel(module) == 120
    for kind in ("adds", "divs", "cmps", "muls"):
        assert getattr(row.ops, kind) == BATCH * per_sample.get(kind, 0), kind
    assert fvcore_total(module, ids) == torch_total(module, ids) == 0


class CastIds(nn.Module):
    """Token ids arrive as floats and are cast: works with today's single float input."""

    def __init__(self):
        super().__init__()
        self.tok = nn.Embedding(100, 16, padding_idx=1)
        self.bag = nn.EmbeddingBag(100, 8, mode="max")
        self.head = nn.Linear(16, 4)

    def forward(self, x):
        ids = x.long()
        return self.head(self.tok(ids)).sum(-1) + self.bag(ids).mean(-1, keepdim=True)


def test_live_lookup_and_bag():
    model = CastIds()
    report = analyze_module(model, (9,), batch=BATCH)
    ops = {row.op for row in report.rows}
    assert {"embedding", "embedding_bag", "linear"} <= ops
    assert report.totals.params == numel(model) == 100 * 16 + 100 * 8 + 16 * 4 + 4
    assert report.totals.macs == BATCH * 9 * 16 * 4
    bag = next(row for row in report.rows if row.op == "embedding_bag")
    assert bag.output_shape == (8,) and bag.ops.cmps == BATCH * 8 * 8


def typed_inputs_supported() -> bool:
    """Whether ``analyze_module`` takes typed inputs ``(shape, dtype)`` (the capture's integer
    inputs, being built on main)."""
    from archcalc.frontends import torch_module

    return "inputs" in inspect.signature(torch_module.analyze_module).parameters


@pytest.mark.skipif(not typed_inputs_supported(), reason="needs integer inputs in analyze_module (capture work on main)")
@pytest.mark.parametrize("module, ids, per_sample", [
    (nn.Embedding(50, 8), (12,), {}),
    (nn.Embedding(50, 8, padding_idx=0), (3, 4), {}),
    (nn.EmbeddingBag(50, 8, mode="mean"), (6,), {"adds": 5 * 8, "divs": 8}),
])
def test_integer_input_modules(module, ids, per_sample):
    x = torch.randint(0, 50, (BATCH, *ids))
    report = analyze_module(module, [(ids, "int64")], batch=BATCH)
    row = report.rows[0]
    assert row.output_shape == output_shape(module, x)
    assert report.totals.params == numel(module)
    assert report.totals.macs == 0
    for kind, value in per_sample.items():
        assert getattr(row.ops, kind) == BATCH * value
