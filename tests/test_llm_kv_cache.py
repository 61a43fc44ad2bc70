"""KV cache per layer and in total: the formula written out, and the ``past_key_values`` tensors of
real tiny transformers run on the CPU (multi-head, grouped-query, multi-query attention)."""

from __future__ import annotations

from fractions import Fraction

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import archcalc  # noqa: E402
from archcalc.llm.kv_cache import kv_cache  # noqa: E402


def kv_formula(batch, tokens, layers, kv_heads, head_dim, nbytes) -> int:
    """2 (keys and values) x batch x tokens x layers x kv heads x head width x bytes."""
    return 2 * batch * tokens * layers * kv_heads * head_dim * nbytes


def _llama(kv_heads):
    config = transformers.LlamaConfig(hidden_size=64, intermediate_size=96, num_hidden_layers=3,
                                      num_attention_heads=8, num_key_value_heads=kv_heads, vocab_size=100,
                                      bos_token_id=0, eos_token_id=0, pad_token_id=0)
    torch.manual_seed(0)
    return transformers.LlamaForCausalLM(config).eval(), config


def _gpt2():
    config = transformers.GPT2Config(n_layer=2, n_embd=48, n_head=4, vocab_size=100, n_positions=64,
                                     bos_token_id=0, eos_token_id=0)
    return transformers.GPT2LMHeadModel(config).eval(), config


def _past_bytes(model, batch, tokens) -> tuple[int, list[int]]:
    with torch.no_grad():
        out = model(torch.randint(0, 100, (batch, tokens)), use_cache=True)
    layers = out.past_key_values.layers
    per_layer = [layer.keys.numel() * layer.keys.element_size() + layer.values.numel() * layer.values.element_size()
                 for layer in layers]
    return sum(per_layer), per_layer


@pytest.mark.parametrize("kind, kv_heads", [("MHA", 8), ("GQA", 2), ("MQA", 1)])
@pytest.mark.parametrize("batch, tokens", [(1, 16), (3, 10)])
def test_llama_cache_equals_past_key_values(kind, kv_heads, batch, tokens):
    model, config = _llama(kv_heads)
    real, real_layers = _past_bytes(model, batch, tokens)
    report = archcalc.analyze(model, f"{tokens}:int64", batch=batch)
    cache = kv_cache(report, tokens, batch, "float32")
    assert cache.kinds == kind
    head_dim = config.hidden_size // config.num_attention_heads
    assert cache.total_bytes == real == kv_formula(batch, tokens, 3, kv_heads, head_dim, 4)
    assert [cache.layer_bytes(layer) for layer in cache.layers] == real_layers


def test_gpt2_cache_and_dtype():
    model, config = _gpt2()
    real, _ = _past_bytes(model, 2, 20)
    report = archcalc.analyze(model, "20:int64", batch=2)
    assert kv_cache(report, 20, 2, "float32").total_bytes == real == kv_formula(2, 20, 2, 4, 12, 4)
    # any cache dtype and context: bf16 halves it, int4 is half a byte per value
    assert kv_cache(report, 4096, 2, "bfloat16").total_bytes == kv_formula(2, 4096, 2, 4, 12, 2)
    assert kv_cache(report, 4096, 2, "int4").total_bytes == Fraction(kv_formula(2, 4096, 2, 4, 12, 1), 2)


def test_encoder_has_no_cache():
    config = transformers.BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                     intermediate_size=64, vocab_size=100)
    model = transformers.BertModel(config).eval()
    report = archcalc.analyze(model, "8:int64")
    assert report.llm.kv is None
    assert report.llm.attention_label == "2 full (encoder)"


def test_llama2_7b_at_4k_tokens():
    """Llama-2-7B (32 layers, 32 heads of 128, MHA) at 4,096 tokens in bf16: 2 GiB per sequence."""
    report = archcalc.analyze("hf:meta-llama/Llama-2-7b-hf", tokens=4096, dtype="bfloat16")
    assert report.llm.kv.total_bytes == kv_formula(1, 4096, 32, 32, 128, 2) == 2 * 2**30
