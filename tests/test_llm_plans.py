"""Training plans beyond full fine-tuning with Adam (archcalc/llm/memory_plans.py, lora.py,
parallel.py, deepspeed_estimates.py): optimizers against the state real torch / transformers
optimizers keep after a step on CPU; LoRA's trainable count against a LoRA-wrapped tiny model
and PEFT's published Llama-2-7B figure; QLoRA's 4.127 bits from the paper; DeepSpeed's
estimators against the issue's published 48.18 / 20.17 GB for Llama-3-8B on 8 GPUs; tensor and
sequence parallel activations against Korthikanti et al.'s formulas; precision shown as used."""

from __future__ import annotations

from fractions import Fraction

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import archcalc  # noqa: E402
from archcalc.llm.deepspeed_estimates import estimate_zero2, estimate_zero3  # noqa: E402
from archcalc.llm.hf import build_hf_model  # noqa: E402
from archcalc.llm.lora import BASE_BYTES, LoRASpec, lora_plan, parse_lora  # noqa: E402
from archcalc.llm.memory_plans import TrainingPlan, planned_states  # noqa: E402
from archcalc.llm.parallel import ParallelPlan  # noqa: E402
from archcalc.llm.parameter_layout import read_layout  # noqa: E402

GB = 10**9
LLAMA3_8B = 8_030_261_248


@pytest.fixture(scope="module")
def llama3_layout():
    return read_layout(build_hf_model("hf:meta-llama/Meta-Llama-3-8B").module)


def test_deepspeed_estimators_for_llama3_8b_on_8_gpus(llama3_layout):
    """The issue's published figures from DeepSpeed's estimators: ZeRO-2 48.18 GB, ZeRO-3 20.17 GB
    (largest layer: the 128,256 x 4,096 embedding); the ZeRO paper's 30.11 and 16.06 GB."""
    assert llama3_layout.total_params == LLAMA3_8B
    assert llama3_layout.largest_module_params == 128_256 * 4096
    assert round(estimate_zero2(LLAMA3_8B, 8).gpu_bytes / GB, 2) == 48.18
    assert round(estimate_zero3(LLAMA3_8B, llama3_layout.largest_module_params, 8).gpu_bytes / GB, 2) == 20.17
    paper2 = planned_states(LLAMA3_8B, TrainingPlan("mixed", "adam", 2, 8))
    paper3 = planned_states(LLAMA3_8B, TrainingPlan("mixed", "adam", 3, 8))
    assert round(float(paper2.total) / GB, 2) == 30.11 and round(float(paper3.total) / GB, 2) == 16.06
    with_buffers = planned_states(LLAMA3_8B, TrainingPlan("mixed", "adam", 3, 8), layout=llama3_layout)
    assert with_buffers.gather == 2 * 128_256 * 4096 * 2  # gathered + prefetched embedding, bf16


def tiny_llama():
    config = transformers.LlamaConfig(hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=2, vocab_size=64,
                                      max_position_embeddings=32)
    torch.manual_seed(0)
    return transformers.LlamaForCausalLM(config)


def state_bytes(optimizer) -> int:
    return sum(t.numel() * t.element_size() for state in optimizer.state.values() for t in state.values()
               if isinstance(t, torch.Tensor) and t.dim() > 0)


@pytest.mark.parametrize("name, make", [
    ("sgd", lambda p: torch.optim.SGD(p, lr=0.1)),
    ("momentum", lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)),
    ("adamw", lambda p: torch.optim.AdamW(p)),
    ("adafactor", lambda p: transformers.optimization.Adafactor(p, lr=1e-3, relative_step=False)),
])
def test_optimizer_state_equals_a_real_step(name, make):
    """fp32 plan (no master copy, 4 B moments): the state a real optimizer holds after one CPU step."""
    model = tiny_llama()
    optimizer = make([p for p in model.parameters() if p.requires_grad])
    model(torch.tensor([[1, 2, 3, 4]]), labels=torch.tensor([[1, 2, 3, 4]])).loss.backward()
    optimizer.step()
    params = sum(p.numel() for p in model.parameters())
    states = planned_states(params, TrainingPlan("fp32", name), layout=read_layout(model))
    assert states.optimizer == state_bytes(optimizer)


@pytest.mark.parametrize("precision, optimizer, per_param", [
    ("mixed", "adamw", 16),     # 2 + 2 + 4 master + 2 x 4 (ZeRO paper)
    ("mixed", "adam8bit", 10),  # 2 + 2 + 4 master + 2 x 1 (bitsandbytes 8-bit moments)
    ("mixed", "lion", 12),      # 2 + 2 + 4 master + 1 x 4 (one momentum)
    ("bf16", "adam8bit", 6),    # 2 + 2 + 2 x 1
])
def test_bytes_per_parameter(precision, optimizer, per_param):
    states = planned_states(1000, TrainingPlan(precision, optimizer))
    assert states.total == 1000 * per_param


def test_lora_trainable_count_equals_a_wrapped_model():
    """Wrap a tiny Llama's q_proj and v_proj with rank-4 adapters A (r x in), B (out x r), freeze
    the rest, and count requires_grad parameters."""
    model = tiny_llama()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    adapters = []
    for name, module in model.named_modules():
        if name.rsplit(".", 1)[-1] in ("q_proj", "v_proj"):
            adapters.append(torch.nn.Parameter(torch.zeros(4, module.in_features)))
            adapters.append(torch.nn.Parameter(torch.zeros(module.out_features, 4)))
    trainable = sum(p.numel() for p in adapters if p.requires_grad)
    plan = lora_plan(read_layout(model), parse_lora("r=4,targets=q_proj,v_proj"))
    assert plan.adapter_params == trainable and plan.adapted_layers == 4


def test_lora_llama2_7b_matches_peft():
    """PEFT's print_trainable_parameters for Llama-2-7B, r=8 on q_proj, v_proj: 4,194,304 trainable."""
    layout = read_layout(build_hf_model("hf:meta-llama/Llama-2-7b-hf").module)
    assert lora_plan(layout, LoRASpec(8, ("q_proj", "v_proj"))).adapter_params == 4_194_304
    everything = lora_plan(layout, LoRASpec(16))  # all-linear: q, k, v, o, gate, up, down of 32 layers
    assert everything.adapted_layers == 32 * 7
    assert everything.adapter_params == 32 * 16 * (4 * (4096 + 4096) + 3 * (4096 + 11008))


def test_qlora_base_bytes():
    """QLoRA section 3: NF4 with double quantisation is 4 + 8/64 + 32/(64 x 256) = 4.127 bits."""
    assert round(float(BASE_BYTES["nf4"] * 8), 3) == 4.127
    layout = read_layout(tiny_llama())
    plan = lora_plan(layout, parse_lora("r=8,base=nf4"))
    head_and_rest = layout.total_params - layout.linear_params
    nf4 = Fraction(4, 8) + Fraction(8, 64) / 8 + Fraction(32, 64 * 256) / 8  # bytes per weight
    assert plan.base_bytes(2) == layout.linear_params * nf4 + head_and_rest * 2  # head, embedding, norms in bf16


def test_parse_lora_errors():
    from archcalc.errors import InputError

    for text in ("targets=q_proj", "r=0", "r=8,alpha=16", "r=8,base=int3"):
        with pytest.raises(InputError):
            parse_lora(text)


def test_tensor_and_sequence_parallel_activations():
    """Korthikanti et al. 2022, eq. 2-4, GPT-3 175B (a = 96, h = 12,288, s = 2,048)."""
    a, h, s, t = 96, 12288, 2048, 8
    whole = 34 + 5 * a * s / h
    assert float(ParallelPlan(tp=t).activation_ratio(a, s, h)) == pytest.approx((10 + 24 / t + 5 * a * s / (h * t))
                                                                                / whole)
    assert float(ParallelPlan(tp=t, sp=True).activation_ratio(a, s, h)) == pytest.approx(1 / t)


def test_tp8_llama_70b_states_per_gpu():
    """Megatron's layout: every GPU of a TP group holds 1/t of the model states (mixed Adam, 16 B)."""
    params = 70_553_706_496
    states = planned_states(params, TrainingPlan("mixed", "adam", parallel=ParallelPlan(tp=8)))
    assert states.total == Fraction(16 * params, 8)


def test_offload_moves_states_to_host():
    params = 1_000_000
    optimizer = planned_states(params, TrainingPlan("mixed", "adam", 2, 4, offload="optimizer"))
    assert optimizer.weights == 2 * params and optimizer.gradients == optimizer.optimizer == 0
    assert optimizer.host == Fraction(2 * params, 4) + Fraction(12 * params, 4)
    everything = planned_states(params, TrainingPlan("mixed", "adam", 3, 4, offload="all"))
    assert everything.weights == 0 and everything.host == Fraction(16 * params, 4)


def test_expert_parallel_splits_the_experts():
    params, experts = 46_702_792_704, 32 * 8 * 3 * 4096 * 14336  # Mixtral: 32 layers x 8 experts
    states = planned_states(params, TrainingPlan("bf16", "sgd", parallel=ParallelPlan(ep=8)), expert_params=experts)
    assert states.weights == 2 * (params - experts + experts // 8)


def test_precision_shown_as_used():
    """--precision mixed: the header's dtype and the KV cache's are bf16, not fp32."""
    from typer.testing import CliRunner

    from archcalc.cli import app, normalize_argv

    result = CliRunner().invoke(app, normalize_argv(["llm", "hf:gpt2", "--tokens", "16", "--arg", "n_layer=1",
                                                     "--precision", "mixed"]), env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert "16 tokens, batch 1, bfloat16" in result.stdout
    assert "KV cache: 16 tokens of context, batch 1, bfloat16" in result.stdout


def test_lora_plan_through_analyze():
    from archcalc.llm.sizing import LLMOptions

    options = LLMOptions(precision="bf16", lora=parse_lora("r=8,targets=c_attn"))
    report = archcalc.analyze("hf:gpt2", tokens=16, args={"n_layer": 1}, llm=options)
    states = report.llm.memory.states
    assert states.trainable == 8 * (768 + 2304)
    assert states.gradients == 2 * states.trainable


def test_tensor_parallel_scales_the_measured_blocks():
    """TP 2 + SP on a 2-layer GPT-2: the measured block's activations x 1/2 (Korthikanti eq. 4),
    and, checkpointed, the kept block inputs / 2 as well; outside the blocks unchanged."""
    from archcalc.llm.sizing import LLMOptions

    plain = archcalc.analyze("hf:gpt2", tokens=32, args={"n_layer": 2}, llm=LLMOptions(precision="bf16"))
    split = archcalc.analyze("hf:gpt2", tokens=32, args={"n_layer": 2},
                             llm=LLMOptions(precision="bf16", tp=2, sp=True))
    used = plain.llm.activations.math
    blocks = sum(used.block_bytes.values())
    assert split.llm.activations.bytes == int(used.total_bytes - blocks + blocks / 2)
    kept = archcalc.analyze("hf:gpt2", tokens=32, args={"n_layer": 2},
                            llm=LLMOptions(precision="bf16", tp=2, sp=True, checkpoint=True))
    inputs = sum(used.block_input_bytes.values())
    one = max(used.block_bytes.values())
    assert kept.llm.activations.bytes == int(int(used.checkpointed_bytes - one + one / 2) - inputs + inputs / 2)
    assert split.llm.memory.states.total == plain.llm.memory.states.total / 2
