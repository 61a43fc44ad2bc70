"""Training memory per GPU: the ZeRO paper's Figure 1, the bytes of a real optimizer step, and the
activations autograd saves, each against a formula written out here and a real CPU run.

The activations are measured on meta tensors (archcalc.llm.saved_tensors); the truth is a
real training-mode forward on the CPU of the same tiny model, counting the distinct storages
autograd saves, and a formula derived op by op for GPT-2's layers below.
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from archcalc.llm.memory_plans import TrainingPlan, model_states

GB = 10**9


@pytest.mark.parametrize("zero, gigabytes", [(0, 120), (1, 31.4), (2, 16.6), (3, 1.88)])
def test_zero_paper_figure_1(zero, gigabytes):
    """Rajbhandari et al. 2020, Figure 1: Psi = 7.5B parameters, N_d = 64 GPUs, K = 12 (mixed-precision
    Adam): (2 + 2 + K) Psi = 120 GB; 2 Psi + 2 Psi + K Psi / N_d = 31.4 GB; 2 Psi + (2 + K) Psi / N_d
    = 16.6 GB; (2 + 2 + K) Psi / N_d = 1.88 GB."""
    psi, n, k = 7_500_000_000, 64, 12
    formula = {
        0: (2 + 2 + k) * psi,
        1: 2 * psi + 2 * psi + Fraction(k * psi, n),
        2: 2 * psi + Fraction((2 + k) * psi, n),
        3: Fraction((2 + 2 + k) * psi, n),
    }[zero]
    plan = TrainingPlan("mixed", "adam", zero, n)
    assert plan.optimizer_bytes == k
    states = model_states(psi, plan)
    assert states.total == formula
    assert round(float(states.total) / GB, 3 if zero == 3 else 1) == round(gigabytes, 3 if zero == 3 else 1) or \
        abs(float(states.total) / GB - gigabytes) / gigabytes < 0.005


@pytest.mark.parametrize("precision, optimizer, per_param", [
    ("fp32", "sgd", 8), ("fp32", "momentum", 12), ("fp32", "adam", 16),
    ("bf16", "adam", 8), ("mixed", "sgd", 8), ("mixed", "adam", 16),
])
def test_bytes_per_parameter(precision, optimizer, per_param):
    """fp32: 4 + 4 + 4 x moments; bf16: 2 + 2 + 2 x moments; mixed: 2 + 2 + 4 master + 4 x moments."""
    assert model_states(1, TrainingPlan(precision, optimizer)).total == per_param


def test_frozen_parameters_keep_only_weights():
    states = model_states(100, TrainingPlan("fp32", "adam"), trainable=40)
    assert (states.weights, states.gradients, states.optimizer) == (400, 160, 320)


torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")


def _tiny_gpt2(layers=2, width=24, heads=3, vocab=40, positions=32, **settings):
    config = transformers.GPT2Config(n_layer=layers, n_embd=width, n_head=heads, vocab_size=vocab,
                                     n_positions=positions, bos_token_id=0, eos_token_id=0, **settings)
    torch.manual_seed(0)
    return transformers.GPT2LMHeadModel(config), config


def _cpu_saved_bytes(model, ids, backend=None) -> int:
    """A real training-mode forward on the CPU: the bytes of the distinct storages autograd saves,
    parameters left out."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    weights = {p.untyped_storage()._cdata for p in model.parameters()}
    seen: dict[int, int] = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        if storage._cdata not in weights:
            seen[storage._cdata] = storage.nbytes()
        return tensor

    model.train()
    with sdpa_kernel([backend or SDPBackend.MATH]), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = model(ids).logits.sum()
    loss.backward()  # the saved tensors were really used
    return sum(seen.values())


def gpt2_saved_formula(batch: int, tokens: int, width: int, heads: int, layers: int) -> int:
    """What GPT-2 (transformers' GPT2LMHeadModel, dropout on, fp32, SDPA's math path, CPU kernels)
    saves for backward, op by op, with B = batch, T = tokens, h = width, a = heads:

    per layer (4 bytes each):
      ln_1: its input (B T h), mean and rstd (2 B T)
      c_attn: its input (B T h)
      SDPA math: Q and K scaled (2 B T h), softmax output, dropout mask and dropped weights
                 (3 B a T^2), V made contiguous (B T h)
      c_proj: its input (B T h); resid dropout mask (B T h)
      ln_2: its input (B T h), mean and rstd (2 B T); c_fc: its input (B T h)
      gelu_new on B T 4h: x, tanh(...), 0.5 x, 1 + tanh(...) (4 x 4 B T h)
      mlp c_proj: its input (4 B T h); mlp dropout mask (B T h)
      = 4 (30 B T h + 4 B T + 3 B a T^2)
    outside the layers: token ids (8 B T) and position ids (8 T), int64; embedding dropout
      mask (4 B T h); ln_f input, mean and rstd (4 B T h + 8 B T); lm_head input (4 B T h)
    """
    b, t, h, a = batch, tokens, width, heads
    per_layer = 4 * (30 * b * t * h + 4 * b * t + 3 * b * a * t * t)
    outside = 8 * b * t + 8 * t + 4 * b * t * h + 4 * b * t * h + 8 * b * t + 4 * b * t * h
    return layers * per_layer + outside


@pytest.mark.parametrize("batch, tokens", [(2, 12), (3, 7)])
def test_saved_activations_meta_equal_cpu_and_formula(batch, tokens):
    from archcalc.llm.saved_tensors import measure_saved_activations

    model, config = _tiny_gpt2()
    ids = torch.randint(0, config.vocab_size, (batch, tokens))
    real = _cpu_saved_bytes(model, ids)
    measured = measure_saved_activations(model, f"{tokens}:int64", batch=batch)
    assert measured.total_bytes == real
    assert real == gpt2_saved_formula(batch, tokens, config.n_embd, config.n_head, config.n_layer)
    assert model.training is False or True  # flags restored below
    assert all(p.device.type == "cpu" for p in model.parameters())


def test_fused_attention_matches_the_cpu_flash_kernel():
    """Without dropout, the CPU's own SDPA dispatch runs the flash kernel: the fused measurement
    equals it; the math path keeps the T x T scores on top."""
    from torch.nn.attention import SDPBackend

    from archcalc.llm.saved_tensors import FUSED, measure_saved_activations

    config = transformers.GPT2Config(n_layer=2, n_embd=24, n_head=3, vocab_size=40, n_positions=32,
                                     attn_pdrop=0.0, resid_pdrop=0.0, embd_pdrop=0.0, bos_token_id=0, eos_token_id=0)
    model = transformers.GPT2LMHeadModel(config)
    ids = torch.randint(0, 40, (2, 16))
    flash = _cpu_saved_bytes(model, ids, SDPBackend.FLASH_ATTENTION)
    assert measure_saved_activations(model, "16:int64", batch=2, attention=FUSED).total_bytes == flash
    math = measure_saved_activations(model, "16:int64", batch=2)
    assert math.total_bytes == _cpu_saved_bytes(model, ids, SDPBackend.MATH)
    assert math.attention_internal_bytes > 0


def test_checkpointing_keeps_block_inputs_and_one_block():
    from archcalc.llm.saved_tensors import measure_saved_activations

    model, config = _tiny_gpt2(layers=3)
    saved = measure_saved_activations(model, "12:int64", batch=2)
    b, t, h, a = 2, 12, config.n_embd, config.n_head
    per_layer = 4 * (30 * b * t * h + 4 * b * t + 3 * b * a * t * t)
    assert set(saved.block_bytes.values()) == {per_layer}
    assert saved.block_input_bytes == {f"transformer.h.{i}": 4 * b * t * h for i in range(3)}
    assert saved.checkpointed_bytes == saved.outside_bytes + 3 * 4 * b * t * h + per_layer
    assert saved.total_bytes == saved.outside_bytes + 3 * per_layer


def test_live_module_training_totals_use_saved_activations():
    """The training totals of a live module add what autograd saves, not every layer output:
    GPT-2 small at 128 tokens saves less than the sum of its outputs (views, splits and
    transposes share storage)."""
    import archcalc

    report = archcalc.analyze("hf:gpt2", tokens=128)
    t = report.totals
    assert t.saved_activation_bytes is not None
    assert t.saved_activation_bytes < t.activation_bytes
    assert t.training_bytes["sgd"] == 2 * t.param_bytes + t.saved_activation_bytes


def test_real_optimizer_step_bytes():
    """A real Adam step on the CPU: parameters, gradients and the two moments, against the fp32 plan."""
    model, _ = _tiny_gpt2()
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.randint(0, 40, (2, 8))).logits.sum().backward()
    optimizer.step()
    params = list(model.parameters())
    weights = sum(p.numel() * p.element_size() for p in params)
    grads = sum(p.grad.numel() * p.grad.element_size() for p in params)
    moments = sum(state[key].numel() * state[key].element_size()
                  for state in optimizer.state.values() for key in ("exp_avg", "exp_avg_sq"))
    states = model_states(sum(p.numel() for p in params), TrainingPlan("fp32", "adam"))
    assert (states.weights, states.gradients, states.optimizer) == (weights, grads, moments)


def test_training_panel_in_the_cli():
    from typer.testing import CliRunner

    from archcalc.cli import app, normalize_argv

    argv = ["hf:gpt2", "--tokens", "64", "--precision", "mixed", "--zero", "2", "--gpus", "8", "--checkpoint"]
    result = CliRunner().invoke(app, normalize_argv(argv), env={"COLUMNS": "120", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    assert "ZeRO-2, 8 GPUs" in result.stdout
    assert "mixed" in result.stdout and "fp32 master" in result.stdout
    assert "full recompute per block" in result.stdout


def test_checkpointed_step_keeps_what_a_real_checkpointed_step_keeps():
    """A real CPU step with transformers' activation checkpointing (reentrant: each block saves its
    inputs) keeps, between forward and backward, exactly the measured outside-the-blocks tensors and
    the block inputs; --checkpoint adds one block's saved tensors, live while it is recomputed."""
    import warnings

    from torch.nn.attention import SDPBackend, sdpa_kernel

    from archcalc.llm.saved_tensors import measure_saved_activations

    model, config = _tiny_gpt2(layers=3)
    measured = measure_saved_activations(model, "12:int64", batch=2)
    with warnings.catch_warnings():  # transformers 5 renames it activation_checkpointing_enable
        warnings.simplefilter("ignore")
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": True})
    model.train()
    weights = {p.untyped_storage()._cdata for p in model.parameters()}
    seen: dict[int, int] = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        if storage._cdata not in weights:
            seen[storage._cdata] = storage.nbytes()
        return tensor

    with sdpa_kernel([SDPBackend.MATH]), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = model(torch.randint(0, config.vocab_size, (2, 12))).logits.sum()
    loss.backward()
    kept = measured.outside_bytes + sum(measured.block_input_bytes.values())
    assert sum(seen.values()) == kept
    assert measured.checkpointed_bytes == kept + max(measured.block_bytes.values())


def test_a_cnn_with_batch_norm_saves_what_a_cpu_step_saves():
    """Batch norm is measured through a stand-in that saves what native_batch_norm saves (the input,
    the per-channel mean and inverse std in float32): the same bytes as a real CPU training step."""
    from torch import nn

    from archcalc.llm.saved_tensors import measure_saved_activations

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(8, 16, 3, bias=False), nn.BatchNorm2d(16), nn.ReLU(), nn.Flatten(),
                          nn.Linear(16 * 14 * 14, 10))
    weights = {t.untyped_storage()._cdata for t in list(model.parameters()) + list(model.buffers())}
    seen: dict[int, int] = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        if storage._cdata not in weights:
            seen[storage._cdata] = storage.nbytes()
        return tensor

    model.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(torch.randn(4, 3, 32, 32)).sum().backward()
    model.eval()
    assert measure_saved_activations(model, (3, 32, 32), batch=4).total_bytes == sum(seen.values())
    assert not model.training


@pytest.mark.parametrize("implementation, calls", [("sdpa", 2), ("eager", 0)])
def test_sdpa_calls_are_counted_and_without_them_fused_equals_math(implementation, calls):
    """archcalc.analyze skips the fused-attention run when the math run made no SDPA call (the two runs
    differ only inside SDPA calls). The premise, checked by running both: GPT-2's two layers make two
    SDPA calls with ``sdpa`` and none with ``eager``; without calls every figure of the fused run equals
    the math run's; with them the fused run keeps less."""
    from dataclasses import asdict

    from archcalc.llm.saved_tensors import FUSED, measure_saved_activations

    model, _ = _tiny_gpt2(attn_implementation=implementation)
    math = measure_saved_activations(model, "16:int64", batch=2)
    fused = measure_saved_activations(model, "16:int64", batch=2, attention=FUSED)
    assert math.sdpa_calls == fused.sdpa_calls == calls
    if calls:
        assert fused.total_bytes < math.total_bytes
    else:
        assert asdict(fused) == {**asdict(math), "attention": FUSED}


def test_analyze_reports_the_fused_figure_of_a_model_without_sdpa_calls():
    """The report's fused-attention activations of an eager-attention model (no fused run made) equal a
    fused measurement run directly."""
    import archcalc
    from archcalc.llm.saved_tensors import FUSED, measure_saved_activations

    model, _ = _tiny_gpt2(attn_implementation="eager")
    report = archcalc.analyze(model, "16:int64", kwargs={"use_cache": False}, batch=2)
    fused = measure_saved_activations(model, "16:int64", kwargs={"use_cache": False}, batch=2, attention=FUSED)
    activations = report.llm.to_dict()["activations"]
    assert activations["fused_attention"] == fused.to_dict()
    assert activations["cuda_profile"] == fused.cuda_profile().to_dict()
