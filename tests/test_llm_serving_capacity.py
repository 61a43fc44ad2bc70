"""Serving: quantised weights (archcalc/llm/weight_formats.py) with scales and zeros counted,
capacity in vLLM's paged 16-token blocks at a memory fraction (archcalc/llm/capacity.py), and
the roofline with an optional published efficiency. Expected values are the formulas written out
here from GPTQ's / vLLM's storage layouts, and gpt-fast's published tokens/s."""

from __future__ import annotations

from fractions import Fraction
from math import ceil

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

import archcalc  # noqa: E402
from archcalc.llm.capacity import DECODE_EFFICIENCY, sequence_bytes  # noqa: E402
from archcalc.llm.sizing import LLMOptions  # noqa: E402
from archcalc.llm.weight_formats import WEIGHT_FORMATS  # noqa: E402

SMALL = {"num_hidden_layers": 2}


def test_int4_counts_scales_and_zeros():
    """GPTQ / AWQ, group 128: 4 bits per weight, an fp16 scale and a 4-bit zero per group of a row."""
    int4 = WEIGHT_FORMATS["int4"]
    assert int4.linear_bytes(4096, 4096) == 4096 * 4096 // 2 + 4096 * (4096 // 128) * Fraction(5, 2)
    assert WEIGHT_FORMATS["int8"].linear_bytes(4096, 11008) == 4096 * 11008 + 2 * 11008
    assert WEIGHT_FORMATS["fp8"].linear_bytes(4096, 4096) == 4096 * 4096 + 4


@pytest.fixture(scope="module")
def llama_fp8():
    options = LLMOptions(weights="fp8", gpu_names=("h100",), tp=2)
    return archcalc.analyze("hf:meta-llama/Meta-Llama-3-8B", tokens=4096, dtype="bfloat16", args=SMALL, llm=options)


def test_fp8_weights_and_decode_bytes(llama_fp8):
    """Two layers of Llama-3-8B: q, k, v, o, gate, up, down in fp8 (1 B + a 4 B scale each); the
    128,256 x 4,096 embedding and LM head, and the norms, in bf16."""
    h, kv, inter, vocab = 4096, 1024, 14336, 128256
    linear = 2 * (2 * h * h + 2 * h * kv + 3 * h * inter)
    expected = linear + 2 * 7 * 4 + (2 * vocab * h + 5 * h) * 2
    sizing = llama_fp8.llm
    assert sizing.weight_bytes == expected + llama_fp8.totals.buffer_bytes
    decode = {t.name: t.bytes for t in sizing.serving[0].decode.layers}
    q = next(r for r in llama_fp8.rows if r.name.endswith("layers.0.self_attn.q_proj"))
    activations = (h + h) * 2  # one token's input and output, bf16
    assert decode[q.name] == pytest.approx(h * h * (1 + Fraction(4, h * h)) + activations)


def test_capacity_in_16_token_blocks(llama_fp8):
    """vLLM: 0.9 x 2 x 80 GB - weights - activations, over whole 16-token blocks per sequence
    (Llama-3: 8 kv heads x (128 + 128) x 2 B per token and layer)."""
    sizing = llama_fp8.llm
    cap = sizing.capacity[0]
    per_sequence = 2 * ceil(4096 / 16) * 16 * 8 * 256 * 2
    free = 0.9 * 2 * 80e9 - sizing.weight_bytes - sizing.peak_activation_bytes
    assert cap.sequence_bytes == per_sequence
    assert cap.sequences == int(free // per_sequence)
    assert cap.longest_context == int(free // (2 * 8 * 256 * 2)) // 16 * 16


def test_sliding_window_caps_a_sequence():
    report = archcalc.analyze("hf:mistralai/Mistral-7B-v0.1", tokens=64, dtype="bfloat16", args=SMALL,
                              llm=LLMOptions(gpu_names=("h100",)))
    kv = report.llm.kv
    assert sequence_bytes(kv, 100_000) == sequence_bytes(kv, 4096) == 2 * 4096 * 8 * 256 * 2
    assert report.llm.capacity[0].longest_context is None


def test_published_decode_efficiency():
    """gpt-fast: 104.9 tokens/s for Llama-2-7B at batch 1 in bf16 on an A100, roofline 153.5."""
    assert DECODE_EFFICIENCY[0] == round(104.9 / 153.5, 2)


def test_cli_capacity_and_efficiency():
    from typer.testing import CliRunner

    from archcalc.cli import app, normalize_argv

    result = CliRunner().invoke(app, normalize_argv([
        "llm", "hf:meta-llama/Meta-Llama-3-8B", "--arg", "num_hidden_layers=1", "--tokens", "256", "--dtype",
        "bfloat16", "--weights", "int4", "--efficiency", "0.68", "--gpu", "a100"]), env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert "Capacity: concurrent sequences of 256 tokens" in result.stdout and "at 0.68" in result.stdout
    bad = CliRunner().invoke(app, normalize_argv(["llm", "hf:gpt2", "--weights", "int3"]))
    assert bad.exit_code == 2 and "--weights must be one of" in bad.stderr


def test_each_gpu_phase_totals_its_layers_on_the_roofline():
    """A phase's totals are kept apart from its layers (made only when asked for): on every GPU of
    the table, each layer takes max(F / P, B / W) with the GPU's datasheet peaks (the dtype's
    tensor-core rate for matrix products, FP32 for the rest), and the phase's seconds, FLOPs,
    bytes and bound are those of its layers added up."""
    from archcalc.layers import get_rule
    from archcalc.llm.sizing import LLMOptions

    report = archcalc.analyze("hf:meta-llama/Meta-Llama-3-8B", tokens=256, dtype="bfloat16", args=SMALL,
                              llm=LLMOptions(gpu_names=("h100", "a100", "rtx4090")))
    dot = {row.name: get_rule(row.op).category == "dot" for row in report.rows}
    assert len(report.llm.serving) == 3
    for run in report.llm.serving:
        for phase in (run.prefill, run.decode):
            assert len(phase.layers) == len(report.rows)
            for layer in phase.layers:
                peak = run.gpu.flops_per_s("bfloat16", dot=dot[layer.name])
                compute, memory = layer.flops / peak, float(layer.bytes) / run.gpu.bandwidth
                assert layer.seconds == max(compute, memory)
                assert layer.bound == ("compute" if compute >= memory else "memory")
            assert phase.seconds == sum(layer.seconds for layer in phase.layers)
            assert phase.flops == sum(layer.flops for layer in phase.layers)
            assert phase.bytes == sum(layer.bytes for layer in phase.layers)
            memory = sum(layer.seconds for layer in phase.layers if layer.bound == "memory")
            assert phase.bound == ("memory" if memory * 2 >= phase.seconds else "compute")
        assert run.prefill.flops > run.decode.flops > 0
