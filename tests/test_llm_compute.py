"""Training FLOPs against Megatron-LM's formula and 6 x params x tokens; attention conventions;
the prefill / decode roofline against the datasheets and its formulas written out."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import archcalc  # noqa: E402
from archcalc.llm.compute import training_compute  # noqa: E402
from archcalc.llm.kv_cache import kv_cache  # noqa: E402
from archcalc.llm.serving import serving  # noqa: E402
from archcalc.verify.peaks import gpu_by_name  # noqa: E402

B, S = 2, 256  # batch, sequence


@pytest.fixture(scope="module")
def gpt2():
    return archcalc.analyze("hf:gpt2", tokens=S, batch=B)


def megatron(batch, seq, layers, width, vocab) -> int:
    """Korthikanti et al. 2022 (training without recomputation): 72 B s l h^2 (1 + s/6h + V/12lh)
    = 72 B s l h^2 + 12 B s^2 l h + 6 B s h V."""
    return 72 * batch * seq * layers * width**2 + 12 * batch * seq**2 * layers * width + 6 * batch * seq * width * vocab


def test_training_flops_equal_megatron(gpt2):
    l, h, v = 12, 768, 50257
    exact = megatron(B, S, l, h, v)
    as_written = 72 * B * S * l * h**2 * (1 + S / (6 * h) + v / (12 * l * h))
    assert abs(exact - as_written) < 1e-6 * exact
    compute = training_compute(gpt2)
    assert compute.training == exact
    assert compute.forward == 2 * gpt2.totals.macs  # 6 x forward MACs
    assert compute.backward == 2 * compute.forward and compute.recompute == 0


def test_six_params_tokens(gpt2):
    """Kaplan et al. 2020: C ~ 6 N D. GPT-2 small at 256 tokens: within 5% (attention's s^2 term and
    the position embeddings, which do no multiplication, make the difference)."""
    six = 6 * gpt2.totals.params * B * S
    assert abs(training_compute(gpt2).training - six) / six < 0.05


def test_causal_halves_attention_and_flash_recomputes_scores(gpt2):
    l, h = 12, 768
    attention_forward = 2 * 2 * B * S * S * h * l  # 2 FLOPs x (Q K^T + weights x V) per layer
    full = training_compute(gpt2, "full")
    causal = training_compute(gpt2, "causal")
    assert full.forward - causal.forward == attention_forward // 2  # MaxText: causal = full / 2
    flash = training_compute(gpt2, "full", flash=True)
    assert flash.recompute == attention_forward // 2  # Q K^T once more: backward = 2.5 x forward
    check = training_compute(gpt2, "full", checkpoint=True)
    lm_head = 2 * B * S * h * 50257
    assert check.recompute == full.forward - lm_head  # every layer inside the blocks again, not the head


def test_megatron_with_recompute(gpt2):
    """Narayanan et al. 2021 (full recomputation): 96 B s l h^2 (1 + s/6h + V/16lh)."""
    l, h, v = 12, 768, 50257
    exact = 96 * B * S * l * h**2 + 16 * B * S**2 * l * h + 6 * B * S * h * v
    assert training_compute(gpt2, checkpoint=True).training == exact


#: the datasheets' dense bf16 tensor TFLOPS and bandwidth (GB/s): NVIDIA H100 SXM (1,979 sparse),
#: H200 SXM (1,979 sparse, 4.8 TB/s), A100 80GB SXM (312 dense), L40S (362.05 dense, 864 GB/s),
#: RTX 4090 (165.2 with FP32 accumulate, Ada whitepaper)
DATASHEETS = {"h100": (989.4, 3350), "h200": (989.4, 4800), "a100": (312, 2039), "l40s": (362.05, 864),
              "rtx4090": (165.2, 1008)}


@pytest.mark.parametrize("name", DATASHEETS)
def test_gpu_table(name):
    tflops, bandwidth = DATASHEETS[name]
    gpu = gpu_by_name(name)
    assert gpu.flops_per_s("bfloat16", dot=True) == tflops * 1e12
    assert gpu.bandwidth_gbs == bandwidth


@pytest.fixture(scope="module")
def llama():
    return archcalc.analyze("hf:meta-llama/Llama-2-7b-hf", tokens=2048, dtype="bfloat16")


@pytest.mark.parametrize("name", DATASHEETS)
def test_llama2_decode_is_reading_the_weights_and_cache(llama, name):
    """Decode one token: every weight is read once and the KV cache once; at batch 1 that takes
    (2 bytes x params + KV bytes) / bandwidth, the compute being far below the roof."""
    tflops, bandwidth = DATASHEETS[name]
    cache = kv_cache(llama, 2048, 1, "bfloat16")
    run = serving(llama, gpu_by_name(name), cache)
    floor = (2 * llama.totals.params + float(cache.total_bytes)) / (bandwidth * 1e9)
    assert run.decode.bound == "memory"
    assert floor * 0.97 < run.decode.seconds < floor * 1.03
    assert run.decode.tokens_per_s == pytest.approx(1 / run.decode.seconds)


def test_llama2_prefill_is_compute_bound_on_h100(llama):
    """Prefill of 2,048 tokens: the matrix products take 2 x MACs / peak (each is compute-bound at
    this length); the element-wise ops of eager PyTorch (RMSNorm's six, RoPE's, residual adds)
    are memory-bound rows on top, each its (inputs + output) bytes / bandwidth."""
    cache = kv_cache(llama, 2048, 1, "bfloat16")
    run = serving(llama, gpu_by_name("h100"), cache)
    ideal = 2 * llama.totals.macs / 989.4e12
    dot = {row.name for row in llama.rows if row.macs}
    products = sum(t.seconds for t in run.prefill.layers if t.name in dot)
    assert run.prefill.bound == "compute"
    assert products == pytest.approx(ideal, rel=1e-3)  # + the scale and softmax FLOPs of attention
    rest = [t for t in run.prefill.layers if t.name not in dot and t.seconds]
    assert all(t.bound == "memory" and t.seconds == pytest.approx(t.bytes / 3350e9) for t in rest)
    assert run.prefill.seconds == pytest.approx(products + sum(t.seconds for t in rest))


def test_sweep_tokens_in_the_cli():
    from typer.testing import CliRunner

    from archcalc.cli import app, normalize_argv

    argv = ["hf:gpt2", "--sweep", "tokens=128,256", "--dtype", "bfloat16", "--format", "json"]
    result = CliRunner().invoke(app, normalize_argv(argv))
    assert result.exit_code == 0, result.output
    import json

    data = json.loads(result.stdout)
    kv = next(m for m in data["metrics"] if m["key"] == "llm.kv_cache_bytes")
    assert kv["values"] == [2 * t * 12 * 768 * 2 for t in (128, 256)]
    assert kv["ratios"][1] == 2.0


def test_json_has_per_layer_training_flops_and_roofline():
    import json

    from typer.testing import CliRunner

    from archcalc.cli import app, normalize_argv

    argv = ["llm", "hf:gpt2", "--tokens", "64", "--format", "json", "--gpu", "h100", "--gpu", "l40s"]
    result = CliRunner().invoke(app, normalize_argv(argv))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    layers = data["training_compute"]["layers"]
    assert sum(layer["forward_flops"] for layer in layers) == data["training_compute"]["forward_flops"]
    assert all(layer["backward_flops"] == 2 * layer["forward_flops"] for layer in layers)
    first, second = data["serving"]
    assert sum(t["seconds"] for t in first["prefill"]["layers"]) == pytest.approx(first["prefill"]["seconds"])
    assert "layers" not in second["prefill"]
    assert (first["gpu"], second["gpu"]) == ("NVIDIA H100 SXM", "NVIDIA L40S")
    per_layer = CliRunner().invoke(app, normalize_argv(["llm", "hf:gpt2", "--tokens", "64", "--per-layer"]),
                                   env={"COLUMNS": "120"})
    assert "transformer.h.0.attn" in per_layer.stdout and "transformer.h.1.attn" not in per_layer.stdout
