"""Mixture-of-experts models from transformers (archcalc/llm/moe.py): they build in bf16 and are
counted; total and active parameters per token against Mistral AI's published Mixtral-8x7B
figures and a formula written from its config.json, and against a tiny Mixtral run on CPU whose
forward hooks record the experts each token really used; decode bytes read only the experts a
step's tokens are routed to (expected count checked by simulating uniform routing)."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import archcalc  # noqa: E402
from archcalc.llm.moe import expected_experts_touched, read_experts  # noqa: E402
from archcalc.llm.published_configs import find_published  # noqa: E402

MIXTRAL = find_published("mistralai/Mixtral-8x7B-v0.1")
TINY = {"hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 2, "vocab_size": 128, "max_position_embeddings": 256}


def mixtral_formula(c: dict) -> tuple[int, int]:
    """(total, active) from Mixtral's config.json: per layer q, o (h x h), k, v (h x kv x d),
    E experts of three h x I matrices, a router h x E, two RMSNorms; embedding and LM head
    (untied) and the final norm. Active: k experts per layer instead of E."""
    h, inter, layers, vocab = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"], c["vocab_size"]
    heads, kv, experts, k = (c["num_attention_heads"], c["num_key_value_heads"], c["num_local_experts"],
                             c["num_experts_per_tok"])
    d = h // heads
    attention = 2 * h * h + 2 * h * kv * d
    expert = 3 * h * inter
    other = attention + h * experts + 2 * h
    outside = 2 * vocab * h + h
    return outside + layers * (other + experts * expert), outside + layers * (other + k * expert)


def test_mixtral_published_totals_from_its_config():
    """Mistral AI: 46.7B total, 12.9B active (https://mistral.ai/news/mixtral-of-experts/);
    the exact counts are those of the published config's formula."""
    total, active = mixtral_formula(MIXTRAL.fields())
    assert (total, active) == (46_702_792_704, 12_879_925_248)
    from archcalc.llm.hf import build_hf_model

    built = build_hf_model("hf:mistralai/Mixtral-8x7B-v0.1", dtype="bfloat16")  # 32 layers on meta, no capture
    moe = read_experts(built.module, built.config)
    assert sum(p.numel() for p in built.module.parameters()) == moe.total_params == total
    assert moe.active_params == active
    assert (moe.experts, moe.top_k, len(moe.groups)) == (8, 2, 32)


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory):
    path = tmp_path_factory.mktemp("moe") / "config.json"
    path.write_text(json.dumps({**MIXTRAL.fields(), **TINY}), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tiny_report(tiny_config):
    return archcalc.analyze(f"hf:{tiny_config}", tokens=8, dtype="bfloat16")


def test_tiny_mixtral_active_parameters_equal_what_a_cpu_forward_uses(tiny_config, tiny_report):
    """One token through a real tiny Mixtral on CPU: hooks on every experts module record the
    experts the router picked; the parameters that token used are every non-expert parameter
    plus the picked experts' slices."""
    config = transformers.MixtralConfig(**{**MIXTRAL.fields(), **TINY})
    torch.manual_seed(0)
    model = transformers.MixtralForCausalLM(config).eval()
    experts_modules = {name: m for name, m in model.named_modules() if name.endswith("mlp.experts")}
    picked: dict[str, set[int]] = {}

    def record(name):
        def hook(module, args, output):
            picked[name] = set(args[1].flatten().tolist())  # top_k_index of the one token
        return hook

    handles = [m.register_forward_hook(record(n)) for n, m in experts_modules.items()]
    with torch.no_grad():
        model(torch.tensor([[5]]))
    for handle in handles:
        handle.remove()
    expert_ids = {id(p) for m in experts_modules.values() for p in m.parameters()}
    used = sum(p.numel() for p in model.parameters() if id(p) not in expert_ids)
    for name, module in experts_modules.items():
        per_expert = sum(p[0].numel() for p in module.parameters())
        used += len(picked[name]) * per_expert
    assert all(len(ids) == config.num_experts_per_tok for ids in picked.values())
    moe = tiny_report.llm.moe
    assert tiny_report.totals.params == sum(p.numel() for p in model.parameters())
    assert moe.active_params == used
    assert moe.total_params == tiny_report.totals.params


def test_expected_experts_touched_matches_simulated_uniform_routing():
    """E (1 - (1 - k/E)^b) against 4,000 simulated steps of b tokens each picking k distinct
    experts uniformly (Mixtral: E = 8, k = 2)."""
    generator = torch.Generator().manual_seed(0)
    for batch in (1, 4, 16):
        steps = 4000
        scores = torch.rand(steps, batch, 8, generator=generator)
        chosen = scores.topk(2, dim=-1).indices  # k distinct experts per token, uniform
        hit = torch.zeros(steps, 8).scatter_(1, chosen.reshape(steps, -1), 1.0)
        simulated = hit.sum(1).mean().item()
        assert simulated == pytest.approx(expected_experts_touched(8, 2, batch), rel=0.02)
    assert expected_experts_touched(8, 2, 1) == 2


def test_decode_reads_only_the_routed_experts(tiny_report):
    """Decode at batch 1 reads k/E of each experts module's weights; prefill of 8 tokens
    E (1 - (1 - k/E)^8) / E of them (bf16: 2 B per weight)."""
    moe = tiny_report.llm.moe
    run = tiny_report.llm.serving[0]
    expert_rows = [row for row in tiny_report.rows if moe.group_of(row.name) is not None and row.params]
    weights = sum(row.params for row in expert_rows)
    assert weights == moe.expert_params
    decode = {t.name: t.bytes for t in run.decode.layers}
    prefill = {t.name: t.bytes for t in run.prefill.layers}
    from archcalc.layers.base import prod

    for row in expert_rows:
        moved = sum(prod(s) for s in row.input_shapes) + prod(row.output_shape)
        assert prefill[row.name] == pytest.approx((moved + row.params * (1 - (1 - 2 / 8) ** 8)) * 2)
        # decode: the weights of 2 experts of 8, and this step's share of the activations
        assert decode[row.name] == pytest.approx(row.params * 2 / 8 * 2 + moved * 2 / 8)


def test_cli_shows_total_and_active(tiny_config):
    from typer.testing import CliRunner

    from archcalc.cli import app, normalize_argv

    result = CliRunner().invoke(app, normalize_argv(["llm", f"hf:{tiny_config}", "--tokens", "8", "--dtype",
                                                     "bfloat16"]), env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert "Mixture of experts" in result.stdout and "Active per token" in result.stdout
    assert "8 tokens, batch 1, bfloat16" in result.stdout


def test_qwen_moe_total_and_active_match_the_model_card():
    """Qwen1.5-MoE-A2.7B's card: 14.3B parameters, 2.7B activated; 60 experts, 4 per token, and a
    shared expert every token runs (a dense module here, so active)."""
    from archcalc.llm.hf import build_hf_model

    built = build_hf_model("hf:Qwen/Qwen1.5-MoE-A2.7B")
    moe = read_experts(built.module, built.config)
    assert (moe.experts, moe.top_k) == (60, 4)
    assert round(moe.total_params / 1e9, 1) == 14.3 and round(moe.active_params / 1e9, 1) == 2.7
    shared = sum(p.numel() for n, p in built.module.named_parameters() if ".shared_expert." in n)
    assert shared == 24 * 3 * 2048 * 5632  # counted whole in the active figure


def test_float32_analysis_of_experts_runs(tiny_config):
    """--dtype float32: the meta kernel of transformers' grouped_mm takes bf16 only; the capture runs
    that one op in bf16 for its shape, so the model is built and analysed in float32 as asked."""
    report = archcalc.analyze(f"hf:{tiny_config}", tokens=8, dtype="float32")
    assert report.totals.params == mixtral_formula({**MIXTRAL.fields(), **TINY})[0] and report.bytes_per_element == 4
    assert report.totals.macs > 0
    assert not any("bfloat16" in str(w) for w in report.warnings)  # built as asked, nothing to explain
