"""The LLM figures of the zoo's transformer specs, on the YAML path (no torch): KV cache and training
FLOPs against their formulas, the estimate the activations are said to be, comparisons."""

from __future__ import annotations

import archcalc
from archcalc.comparison import compare
from archcalc.llm.compute import training_compute


def test_gpt2_spec_kv_cache_and_megatron():
    report = archcalc.analyze("gpt2", tokens=256, batch=2, dtype="bfloat16")
    b, s, l, h, v = 2, 256, 12, 768, 50257
    assert report.llm.kv.total_bytes == 2 * b * s * l * h * 2  # keys and values, bf16
    assert report.llm.kv.kinds == "MHA"
    # Megatron's 72 B s l h^2 (1 + s/6h + V/12lh), multiplied out
    assert training_compute(report).training == 72 * b * s * l * h**2 + 12 * b * s**2 * l * h + 6 * b * s * h * v
    assert not report.llm.activations.measured
    assert report.llm.activations.source.startswith("estimate")


def test_llama_spec_decode_and_gqa_variant():
    report = archcalc.analyze("llama2_7b", tokens=1024, dtype="bfloat16")
    assert report.totals.params == 6_738_415_616
    assert report.llm.kv.total_bytes == 2 * 1024 * 32 * 32 * 128 * 2
    h100 = report.llm.serving[0]
    assert h100.gpu.name == "NVIDIA H100 SXM"
    floor = (2 * report.totals.params + float(report.llm.kv.total_bytes)) / 3350e9
    assert floor * 0.97 < h100.decode.seconds < floor * 1.03


def test_encoder_spec_has_no_cache_and_compares():
    bert = archcalc.analyze("bert_base", tokens=128)
    gpt2 = archcalc.analyze("gpt2", tokens=128)
    assert bert.llm.kv is None and bert.llm.attention_label == "12 full (encoder)"
    assert gpt2.llm.attention_label == "12 causal (decoder)"
    keys = [m.key for m in compare([gpt2, bert]).metrics]
    assert "llm.training_flops" in keys and "llm.kv_cache_bytes" not in keys
