"""Activation recompute (none / selective / full), the CUDA kernel profile and the CUDA overhead line.

Golden numbers: Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer
Models" (arXiv:2205.05198), Table 2, written out below; and real CPU training steps run with the
kernels the CUDA profile assumes (``native_dropout``'s bool mask, ``F.gelu(approximate="tanh")``,
SDPA's flash kernel), counting the storages autograd saves.
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from archcalc.errors import InputError
from archcalc.llm.recompute import check_recompute, layer_activation_bytes, parallel_ratio

# GPT-3 175B (Brown et al. 2020; Korthikanti et al. 2022, Table 3): 96 heads, width 12,288, 2,048 tokens
S, B, H, A = 2048, 1, 12288, 96


def test_gpt3_175b_per_layer_activations_as_the_paper_writes_them():
    """sbh(34 + 5as/h) = 2048 x 12288 x (34 + 80) bytes = 2.87 GB per layer (issue 17)."""
    none = layer_activation_bytes(S, B, H, A)
    assert none == S * B * H * (34 + Fraction(5 * A * S, H))
    assert round(float(none) / 1e9, 2) == 2.87
    assert layer_activation_bytes(S, B, H, A, recompute="selective") == 34 * S * B * H  # 0.856 GB
    assert layer_activation_bytes(S, B, H, A, recompute="full") == 2 * S * B * H


@pytest.mark.parametrize("t, sp, recompute, formula", [
    (8, False, "none", lambda s, b, h, a, t: s * b * h * (10 + Fraction(24, t) + Fraction(5 * a * s, h * t))),
    (8, True, "none", lambda s, b, h, a, t: s * b * h * (Fraction(34, t) + Fraction(5 * a * s, h * t))),
    (8, False, "selective", lambda s, b, h, a, t: s * b * h * (10 + Fraction(24, t))),
    (8, True, "selective", lambda s, b, h, a, t: s * b * h * Fraction(34, t)),
    (4, True, "full", lambda s, b, h, a, t: 2 * s * b * h),
])
def test_table_2_rows(t, sp, recompute, formula):
    assert layer_activation_bytes(S, B, H, A, t=t, sp=sp, recompute=recompute) == formula(S, B, H, A, t)


def test_parallel_ratios_per_recompute_plan():
    assert parallel_ratio(A, S, H, 8, True, "selective") == Fraction(1, 8)
    assert parallel_ratio(A, S, H, 8, False, "selective") == Fraction(10 + 3, 34)
    assert parallel_ratio(A, S, H, 8, True, "none") == Fraction(1, 8)
    assert parallel_ratio(A, S, H, 8, False, "full") == 1 and parallel_ratio(A, S, H, 8, True, "full") == Fraction(1, 8)
    with pytest.raises(InputError, match="--recompute"):
        check_recompute("some")


torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")


def _gpt(layers: int, width: int, heads: int, tokens: int, meta: bool = False, **drop):
    config = transformers.GPT2Config(n_layer=layers, n_embd=width, n_head=heads, vocab_size=64, n_positions=tokens,
                                     bos_token_id=0, eos_token_id=0, **drop)
    torch.manual_seed(0)
    if meta:
        with torch.device("meta"):
            return transformers.GPT2LMHeadModel(config)
    return transformers.GPT2LMHeadModel(config)


def test_cuda_profile_of_a_gpt3_layer_is_34_sbh():
    """Two GPT-3 175B layers (96 heads of 128, 2,048 tokens, bf16, dropout on), built on meta. The
    CUDA profile of the second layer is the paper's 34 sbh plus what the paper leaves out: the two
    layer norms' fp32 mean and rstd (2 x 2 x 4 s b) and flash attention's fp32 log-sum-exp (4 a s b).
    Selective recompute drops the log-sum-exp; full recompute keeps the layer's input, 2 sbh. (The
    first layer also owns the causal mask all layers share.) transformers' KV cache is off, as a
    training step without one keeps no copies of K and V (docs/transformers.md)."""
    from archcalc.llm.saved_tensors import FUSED, measure_saved_activations

    model = _gpt(2, H, A, S, meta=True)
    fused = measure_saved_activations(model, f"{S}:int64", kwargs={"use_cache": False}, dtype="bfloat16",
                                      attention=FUSED)
    cuda = fused.cuda_profile()
    layer = "transformer.h.1"
    sbh, sb = S * B * H, S * B
    assert cuda.block_bytes[layer] == 34 * sbh + 2 * 2 * 4 * sb + 4 * A * sb
    assert cuda.selective_block_bytes[layer] == 34 * sbh + 2 * 2 * 4 * sb
    assert cuda.block_input_bytes[layer] == 2 * sbh
    # the measured CPU / meta figure keeps 2-byte dropout masks and the written-out GELU's four tensors
    assert fused.block_bytes[layer] - cuda.block_bytes[layer] == 2 * sbh + (4 * 4 * sbh * 2 - 4 * sbh * 2)
    assert cuda.profile == "cuda" and "CUDA kernel profile" in cuda.profile_label
    assert fused.profile == "cpu" and fused.profile_label == "measured: CPU/meta kernels"


def _real_saved_bytes(model, ids, cuda_kernels: bool) -> int:
    """A real CPU training step; with ``cuda_kernels`` the kernels the CUDA profile assumes: dropout through
    ``torch.native_dropout`` (a bool mask, what CUDA runs), the tanh GELU through ``F.gelu(approximate="tanh")``,
    attention through SDPA's flash kernel."""
    from unittest import mock

    from torch.nn.attention import SDPBackend, sdpa_kernel

    weights = {p.untyped_storage()._cdata for p in model.parameters()}
    seen: dict[int, int] = {}
    held = []

    def pack(tensor):
        storage = tensor.untyped_storage()
        if storage._cdata not in weights:
            seen[storage._cdata] = storage.nbytes()
            held.append(tensor)
        return tensor

    def native_dropout(input, p=0.5, training=True, inplace=False):
        return torch.native_dropout(input, p, training)[0] if training and p > 0 else input

    def fused_gelu(self, input):
        return torch.nn.functional.gelu(input, approximate="tanh")

    model.train()
    patches = [mock.patch.object(torch.nn.functional, "dropout", native_dropout),
               mock.patch.object(transformers.activations.NewGELUActivation, "forward", fused_gelu)] \
        if cuda_kernels else []
    backend = SDPBackend.FLASH_ATTENTION if cuda_kernels else SDPBackend.MATH
    with sdpa_kernel([backend]), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        for patch in patches:
            patch.start()
        try:
            loss = model(ids).logits.sum()
        finally:
            for patch in patches:
                patch.stop()
    loss.backward()
    return sum(seen.values())


def test_cuda_profile_equals_a_real_step_with_those_kernels():
    """The profile derived from the measurement = a real CPU step run with a bool dropout mask
    (native_dropout), the fused tanh GELU and the flash kernel (no attention dropout: the CPU flash
    kernel has none)."""
    from archcalc.llm.saved_tensors import FUSED, measure_saved_activations

    model = _gpt(2, 24, 3, 16, attn_pdrop=0.0)
    ids = torch.randint(0, 64, (2, 16))
    cuda = measure_saved_activations(model, "16:int64", batch=2, attention=FUSED).cuda_profile()
    assert cuda.total_bytes == _real_saved_bytes(model, ids, cuda_kernels=True)
    assert cuda.total_bytes < measure_saved_activations(model, "16:int64", batch=2, attention=FUSED).total_bytes


def test_kernel_rules_against_torch():
    """The two rules the profile applies, each against torch's own autograd: native_dropout saves a bool
    mask (1 B per element); F.gelu(approximate='tanh') saves its input alone."""
    x = torch.randn(4, 8, requires_grad=True)
    for fn, expected in ((lambda t: torch.native_dropout(t, 0.1, True)[0], [(torch.bool, 32)]),
                         (lambda t: torch.nn.functional.gelu(t, approximate="tanh"), [(torch.float32, 32)])):
        saved = []
        with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append((t.dtype, t.numel())) or t,
                                                      lambda t: t):
            fn(x * 1)
        assert saved == expected


def test_selective_recompute_keeps_q_k_v_instead_of_the_core():
    """Math attention on a tiny GPT-2 (fp32): selective = total - what each SDPA call saved + its Q, K, V
    storages. Q is a view of c_attn's output (3 B T h); K and V are the cache's copies (B T h each):
    per layer 4 (30 B T h + 4 B T + 3 B a T^2) - core + 4 x 5 B T h (tests/test_llm_training_memory.py's formula),
    the core being scaled Q and K, contiguous V (3 B T h) and softmax, mask, dropped weights (3 B a T^2)."""
    from archcalc.llm.saved_tensors import measure_saved_activations

    b, t, h, a = 2, 12, 24, 3
    model = _gpt(3, h, a, 32)
    saved = measure_saved_activations(model, f"{t}:int64", batch=b)
    per_layer = 4 * (30 * b * t * h + 4 * b * t + 3 * b * a * t * t)
    selective = per_layer - 4 * (3 * b * t * h + 3 * b * a * t * t) + 4 * 5 * b * t * h
    assert set(saved.selective_block_bytes.values()) == {selective}
    assert saved.selective_bytes == saved.outside_bytes + 3 * selective
    assert saved.recomputed_bytes("full") == saved.checkpointed_bytes


def test_selective_recompute_flops_repeat_the_attention_core():
    """One more forward of each attention core: 2 x B a T^2 (E + Ev) FLOPs per layer (full convention)."""
    import archcalc
    from archcalc.llm.sizing import LLMOptions

    report = archcalc.analyze("hf:gpt2", tokens=64, args={"n_layer": 2}, llm=LLMOptions(recompute="selective"))
    compute = report.llm.compute
    assert compute.selective and not compute.checkpoint
    assert compute.recompute == 2 * 2 * (12 * 64 * 64 * (64 + 64))
    assert report.llm.memory.plan.recompute == "selective"


def _cli(*argv):
    from typer.testing import CliRunner

    from archcalc.cli import app, normalize_argv

    return CliRunner().invoke(app, normalize_argv(["llm", "hf:gpt2", "--tokens", "32", "--arg", "n_layer=2",
                                                   *argv]), env={"COLUMNS": "140", "NO_COLOR": "1"})


def test_cli_labels_every_figure_and_the_overhead_line():
    import json

    result = _cli("--recompute", "selective", "--kernels", "cuda", "--cuda-overhead", "300MB", "--format", "json")
    assert result.exit_code == 0, result.output
    llm = json.loads(result.stdout)
    activations, memory = llm["activations"], llm["training_memory"]
    assert activations["profile"] == "cuda" and activations["recompute"] == "selective"
    assert activations["cuda_profile"]["profile_label"].startswith("CUDA kernel profile")
    assert activations["math_attention"]["profile_label"] == "measured: CPU/meta kernels"
    assert activations["bytes"] == activations["cuda_profile"]["selective_recompute_bytes"]
    assert memory["cuda_overhead_bytes"] == 300 * 10**6
    assert memory["total_bytes"] == pytest.approx(memory["weights_bytes"] + memory["gradients_bytes"]
                                                  + memory["optimizer_bytes"] + activations["bytes"] + 300 * 10**6)
    table = _cli("--checkpoint")
    assert table.exit_code == 0, table.output
    for words in ("measured: CPU/meta kernels", "CUDA kernel profile (--kernels cuda)", "CUDA context", "512 MiB",
                  "--recompute none", "full recompute per block"):
        assert words in table.stdout, words


@pytest.mark.parametrize("argv, words", [
    (("--checkpoint", "--recompute", "selective"), "--checkpoint is full recompute"),
    (("--recompute", "half"), "--recompute must be one of"),
    (("--kernels", "tpu"), "--kernels must be cpu or cuda"),
    (("--cuda-overhead", "lots"), "--cuda-overhead takes a size"),
])
def test_cli_refuses_bad_plans(argv, words):
    result = _cli(*argv)
    assert result.exit_code == 2 and words in result.output
