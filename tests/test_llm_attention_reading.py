"""Attention read from the model's modules and config (archcalc/llm/attention_reading.py), not
from the kernel call: Mistral's sliding window stays causal GQA and caps the cache, Falcon-7B is
multi-query with an explicit mask, T5's decoder self-attention is causal and its cross-attention
caches the encoder, DeepSeek-V2's MLA caches the latent. Expected values: the formula
``2 x layers x kv_heads x head_dim x bytes`` written from each published config.json, and real
caches of tiny models generated on CPU."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import archcalc  # noqa: E402
from archcalc.llm.attention_reading import read_attention_modules  # noqa: E402
from archcalc.llm.hf import build_hf_model  # noqa: E402
from archcalc.llm.published_configs import find_published  # noqa: E402

BF16 = 2


def per_token(report) -> int:
    return int(report.llm.kv.per_token_bytes)


def test_falcon_7b_is_multi_query_8192_bytes_per_token():
    """Falcon-7B (config: 32 layers, 71 heads of 4544 / 71 = 64, multi_query): one key/value head,
    2 x 32 x 1 x 64 x 2 B = 8,192 B per token in bf16; read from the 32-layer model on meta."""
    fields = find_published("tiiuae/falcon-7b").fields()
    head_dim = fields["hidden_size"] // fields["num_attention_heads"]
    expected = 2 * fields["num_hidden_layers"] * 1 * head_dim * BF16
    assert expected == 8192
    built = build_hf_model("hf:tiiuae/falcon-7b", dtype="bfloat16")
    modules = read_attention_modules(built.module)
    assert len(modules) == 32 and all(m.causal and m.kv_heads == 1 and m.query_heads == 71 for m in modules)
    assert sum(m.kv_heads * (m.key_width + m.value_width) * BF16 for m in modules) == expected
    report = archcalc.analyze("hf:tiiuae/falcon-7b", tokens=16, dtype="bfloat16", args={"num_hidden_layers": 2})
    assert report.llm.attention_label == "2 causal (decoder)"
    assert per_token(report) == 2 * 2 * 1 * head_dim * BF16 and report.llm.kv.kinds == "MQA"


@pytest.mark.parametrize("tokens, positions", [(4095, 4095), (4096, 4096), (8192, 4096)])
def test_mistral_window_stays_causal_gqa_and_caps_the_cache(tokens, positions):
    """Mistral-7B: 8 key/value heads of 128, a 4,096-token window (config.json). Per layer the
    cache is min(tokens, 4096) x 8 x (128 + 128) x 2 B; 536,739,840 B for 32 layers at 4,095."""
    layers = 2
    report = archcalc.analyze("hf:mistralai/Mistral-7B-v0.1", tokens=tokens, dtype="bfloat16",
                              args={"num_hidden_layers": layers})
    kv = report.llm.kv
    assert report.llm.attention_layers[0].causal and kv.kinds == "GQA"
    assert kv.total_bytes == layers * positions * 8 * 256 * BF16
    assert 32 * 4095 * 8 * 256 * BF16 == 536_739_840
    assert bool(kv.windowed) == (tokens > 4096)


def test_sliding_window_cache_of_a_real_generation():
    """A tiny Mistral with a 4-token window generates on CPU: transformers keeps the last
    W - 1 = 3 positions between steps and attends over W = 4 (those and the new token), the
    figure archcalc gives at any longer context; without a window it keeps every token fed."""
    config = transformers.MistralConfig(hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                                        num_attention_heads=4, num_key_value_heads=2, vocab_size=100,
                                        sliding_window=4, max_position_embeddings=64)
    torch.manual_seed(0)
    model = transformers.MistralForCausalLM(config).eval()
    out = model.generate(torch.tensor([[1, 2, 3]]), max_new_tokens=7, do_sample=False, use_cache=True,
                         return_dict_in_generate=True, pad_token_id=0)
    kept = {tuple(layer.keys.shape) for layer in out.past_key_values.layers}
    assert kept == {(1, 2, 3, 16)}
    report = archcalc.analyze(model, tokens=9, dtype="float32")
    layer = report.llm.kv.layers[0]
    assert layer.window == 4 and layer.cached_positions(9) == 3 + 1
    assert report.llm.kv.layer_bytes(layer) == (3 + 1) * 2 * (16 + 16) * 4


def test_t5_decoder_self_attention_is_causal_and_cross_attention_is_cached():
    """T5-base: 12 encoder (full), 12 decoder self (causal), 12 cross layers; the decoder cache is
    12 x 12 heads x (64 + 64) x 2 B = 36,864 B per token in bf16; a default decoder input."""
    fields = find_published("google-t5/t5-base").fields()
    expected = fields["num_decoder_layers"] * fields["num_heads"] * 2 * fields["d_kv"] * BF16
    assert expected == 36_864
    modules = read_attention_modules(build_hf_model("hf:google-t5/t5-base").module)  # all 36, on meta
    causal = [m for m in modules if m.causal]
    assert (len(causal), sum(m.cross for m in modules), len(modules)) == (12, 12, 36)
    assert sum(m.kv_heads * (m.key_width + m.value_width) * BF16 for m in causal) == expected
    report = archcalc.analyze("hf:google-t5/t5-base", tokens=32, dtype="bfloat16",
                              args={"num_layers": 2, "num_decoder_layers": 2})
    assert report.llm.attention_label == "2 causal (decoder), 2 full (encoder), 2 cross (decoder to encoder)"
    assert per_token(report) == expected * 2 // 12
    cross = [layer for layer in report.llm.kv.layers if layer.cross]
    assert len(cross) == 2 and sum(report.llm.kv.layer_bytes(c) for c in cross) == 32 * expected * 2 // 12
    assert any("decoder input not given: 32 decoder token ids" in str(w) for w in report.warnings)


def test_t5_caches_of_a_real_generation():
    """A tiny T5 generates 6 tokens from 5 on CPU: each decoder layer's self-attention cache holds
    the decoder tokens fed, its cross-attention cache the encoder's 5 tokens."""
    config = transformers.T5Config(d_model=32, d_ff=64, d_kv=8, num_heads=4, num_layers=2, num_decoder_layers=2,
                                   vocab_size=100, decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)
    torch.manual_seed(0)
    model = transformers.T5ForConditionalGeneration(config).eval()
    out = model.generate(torch.tensor([[5, 6, 7, 8, 9]]), max_new_tokens=6, min_new_tokens=6, do_sample=False,
                         return_dict_in_generate=True)
    cache = out.past_key_values
    own = sum(layer.keys.numel() + layer.values.numel() for layer in cache.self_attention_cache.layers)
    cross = sum(layer.keys.numel() + layer.values.numel() for layer in cache.cross_attention_cache.layers)
    fed = out.sequences.shape[1] - 1
    report = archcalc.analyze(model, tokens=5, kwargs={"decoder_input_ids": "5:int64"})
    kv = report.llm.kv
    assert own * 4 == fed * kv.per_token_bytes
    assert cross * 4 == sum(kv.layer_bytes(layer) for layer in kv.layers if layer.cross)


def test_gemma2_alternates_local_and_global_layers():
    """Gemma-2-9B's layer_types: sliding (4,096) and full attention alternate; its soft-capped
    scores run as plain matmuls, yet both layers are read from the modules."""
    report = archcalc.analyze("hf:google/gemma-2-9b", tokens=16, dtype="bfloat16", args={"num_hidden_layers": 2})
    layers = report.llm.attention_layers
    assert [layer.window for layer in layers] == [4096, None]
    assert per_token(report) == 2 * 8 * (256 + 256) * BF16


def test_deepseek_mla_caches_the_latent():
    """DeepSeek-V2-Lite (config: kv_lora_rank 512, qk_rope_head_dim 64): the cache per token and
    layer is 512 + 64 values, shared by all 16 heads (DeepSeek-V2 paper, section 2.1)."""
    fields = find_published("deepseek-ai/DeepSeek-V2-Lite").fields()
    latent = fields["kv_lora_rank"] + fields["qk_rope_head_dim"]
    report = archcalc.analyze("hf:deepseek-ai/DeepSeek-V2-Lite", tokens=16, dtype="bfloat16",
                              args={"num_hidden_layers": 2, "n_routed_experts": 4, "num_experts_per_tok": 2})
    assert report.llm.kv.kinds == "MLA"
    assert per_token(report) == 2 * latent * BF16
    moe = report.llm.moe
    assert moe.shared_experts == 2 and moe.experts == 4 and len(moe.groups) == 1  # first layer dense


def test_phi3_mini_past_its_2047_window():
    """Phi-3-mini-4k (config: sliding_window 2047, 32 heads of 3072 / 32 = 96, fused qkv_proj):
    at 4,096 tokens it stays causal MHA and caches 2,047 positions per layer."""
    report = archcalc.analyze("hf:microsoft/Phi-3-mini-4k-instruct", tokens=4096, dtype="bfloat16",
                              args={"num_hidden_layers": 2})
    kv = report.llm.kv
    assert report.llm.attention_layers[0].causal and kv.kinds == "MHA"
    assert kv.total_bytes == 2 * 2047 * 32 * (96 + 96) * BF16
