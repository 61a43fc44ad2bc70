"""The transformer zoo specs against the ``transformers`` models built from their configs (``hf:``):
parameters and MACs per layer (each repeated block summed), in total, and the published counts."""

from __future__ import annotations

import pytest

import archcalc
from archcalc.breakdown import block_of, repeated_block_container
from archcalc.zoo import zoo_names

pytest.importorskip("torch")
pytest.importorskip("transformers")

#: zoo spec -> (hf: model, the published parameter count, tokens of the comparison or None for images)
PAIRS = {
    "vit_b_16": ("hf:google/vit-base-patch16-224", 86_567_656, None),
    "gpt2": ("hf:gpt2", 124_439_808, 64),
    "bert_base": ("hf:bert-base-uncased", 109_482_240, 64),
    "llama2_7b": ("hf:meta-llama/Llama-2-7b-hf", 6_738_415_616, 64),
}
PRESENT = {name: pair for name, pair in PAIRS.items() if name in zoo_names()}


def per_block(report) -> list[tuple[int, int]]:
    """(parameters, MACs) of each repeated block, in order."""
    container = repeated_block_container([row.name for row in report.rows])
    sums: dict[str, list[int]] = {}
    for row in report.rows:
        block = block_of(row.name, container)
        if block is not None:
            entry = sums.setdefault(block, [0, 0])
            entry[0] += row.owned_params
            entry[1] += row.macs
    return [tuple(v) for v in sums.values()]


@pytest.mark.parametrize("name", sorted(PRESENT))
def test_spec_equals_hf_build(name):
    model, published, tokens = PRESENT[name]
    spec = archcalc.analyze(name, tokens=tokens)
    live = archcalc.analyze(model, tokens=tokens)
    assert spec.totals.params == live.totals.params == published
    assert spec.totals.macs == live.totals.macs
    assert per_block(spec) == per_block(live)
    assert len(per_block(spec)) == {"llama2_7b": 32}.get(name, 12)
    layers = {(a.name.count("."), a.causal) for a in spec.llm.attention_layers}
    assert {causal for _, causal in layers} == {name in ("gpt2", "llama2_7b")}
