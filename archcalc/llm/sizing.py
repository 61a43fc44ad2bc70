"""A transformer's sizing questions answered for one Report: attention, training memory
and FLOPs per GPU, KV cache, prefill and decode on named GPUs.

:func:`llm_sizing` puts together :mod:`memory_plans`, :mod:`saved_tensors`,
:mod:`compute`, :mod:`kv_cache` and :mod:`serving`; renderers show the result
(:mod:`archcalc.render.llm`), ``--format json`` writes it under ``"llm"``. Every figure
carries the plan and convention that produced it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from archcalc.llm.compute import ATTENTION_CONVENTIONS, TrainingCompute, check_attention_convention, training_compute
from archcalc.llm.kv_cache import AttentionLayer, KVCache, attention_layers, kv_cache, token_axes
from archcalc.llm.memory_plans import TrainingMemory, TrainingPlan, planned_states
from archcalc.llm.serving import Serving, serving_on


@dataclass(frozen=True)
class LLMOptions:
    """What the user asked: a training plan, the attention convention, FlashAttention's recompute,
    the KV cache dtype (None: the analysis dtype) and the GPUs (None: the default five)."""

    precision: str | None = None
    optimizer: str = "adam"
    zero: int = 0
    gpus: int = 1
    checkpoint: bool = False
    attention: str = "full"
    flash: bool = False
    kv_dtype: str | None = None
    gpu_names: tuple[str, ...] | None = None
    lora: Any = None  # LoRASpec
    offload: str = "none"
    tp: int = 1
    pp: int = 1
    sp: bool = False
    ep: int = 1
    #: serving: quantised weight format (None: the analysis dtype), vLLM's memory fraction, and a
    #: decode efficiency against the roofline (None: the roofline alone)
    weights: str | None = None
    utilization: float = 0.9
    efficiency: float | None = None
    #: --recompute none|selective|full (--checkpoint is full); the kernels the activation figure is for
    #: (cpu: measured on CPU / meta kernels; cuda: the CUDA kernel profile); the CUDA context and
    #: allocator reserve per GPU in bytes (None: archcalc.llm.overheads' default estimate)
    recompute: str = "none"
    kernels: str = "cpu"
    cuda_overhead: int | None = None

    def plan(self, dtype: str) -> TrainingPlan:
        from archcalc.llm.parallel import ParallelPlan

        precision = self.precision or ("fp32" if dtype in ("float32", "float64") else "bf16")
        return TrainingPlan(precision, self.optimizer, self.zero, self.gpus, self.checkpoint, self.lora, self.offload,
                            ParallelPlan(self.tp, self.pp, self.sp, self.ep), self.recompute)


@dataclass(frozen=True)
class ActivationFigures:
    """Activations kept for backward: measured on CPU / meta kernels (math and fused attention), the
    CUDA kernel profile derived from them, each under every recompute plan, for live modules; or
    the sum of layer outputs for specs."""

    measured: bool
    #: the figure the plan uses (under its recompute plan)
    bytes: int
    source: str
    math: Any = None  # SavedActivations
    fused: Any = None  # SavedActivations
    #: the plan's figure is the fused one (--flash)
    flash: bool = False
    cuda: Any = None  # SavedActivations, the CUDA kernel profile
    #: the kernels the plan's figure is for: cpu (measured) or cuda (the profile); and its recompute plan
    kernels: str = "cpu"
    recompute: str = "none"

    @property
    def used(self) -> Any:
        """The SavedActivations the plan's figure comes from (None for a spec)."""
        if self.kernels == "cuda" and self.cuda is not None:
            return self.cuda
        return self.fused if self.flash else self.math

    def to_dict(self) -> dict[str, Any]:
        used = self.used
        data: dict[str, Any] = {"measured": self.measured, "bytes": self.bytes, "source": self.source,
                                "recompute": self.recompute,
                                "profile": used.profile if used is not None else "estimate",
                                "profile_label": used.profile_label if used is not None else self.source}
        if self.math is not None:
            data["math_attention"] = self.math.to_dict()
        if self.fused is not None:
            data["fused_attention"] = self.fused.to_dict()
        if self.cuda is not None:
            data["cuda_profile"] = self.cuda.to_dict()
        return data


@dataclass(frozen=True)
class LLMSizing:
    """Every LLM figure of one Report."""

    attention_layers: tuple[AttentionLayer, ...]
    attention_convention: str
    memory: TrainingMemory
    activations: ActivationFigures
    compute: TrainingCompute
    tokens: int
    kv: KVCache | None
    serving: tuple[Serving, ...] = field(default_factory=tuple)
    batch: int = 1
    #: inference: weights and buffers in the analysis dtype, and the peak of live activations of one pass
    weight_bytes: int = 0
    peak_activation_bytes: int = 0
    #: the experts of a mixture-of-experts model (None: dense, or a spec)
    moe: Any = None  # MixtureOfExperts
    #: DeepSpeed's own estimate of the model states per GPU (ZeRO-2 and ZeRO-3), beside the paper's
    deepspeed: Any = None  # DeepSpeedEstimate
    #: serving: concurrent sequences per GPU kind (vLLM's paged blocks), the weight format, and the
    #: efficiency the user gave with its source
    capacity: tuple[Any, ...] = ()
    weight_format: Any = None  # WeightFormat
    efficiency: tuple[float, str] | None = None

    @property
    def inference_bytes(self) -> float:
        """Inference memory: ``weights + KV cache + peak live activations`` (DESIGN.md, Memory)."""
        return self.weight_bytes + (float(self.kv.total_bytes) if self.kv else 0) + self.peak_activation_bytes

    @property
    def causal(self) -> bool:
        return any(layer.causal for layer in self.attention_layers)

    @property
    def attention_label(self) -> str:
        layers = self.attention_layers
        causal = sum(layer.causal for layer in layers)
        cross = sum(layer.cross for layer in layers)
        full = len(layers) - causal - cross
        windowed = sorted({layer.window for layer in layers if layer.causal and layer.window})
        parts = []
        if causal:
            parts.append(f"{causal} causal (decoder)" + (
                f", {sum(1 for layer in layers if layer.causal and layer.window)} of them in a sliding window of "
                + "/".join(f"{w:,}" for w in windowed) + " tokens" if windowed else ""))
        if full:
            parts.append(f"{full} full (encoder)")
        if cross:
            parts.append(f"{cross} cross (decoder to encoder)")
        return ", ".join(parts) or "none"

    def metric(self, key: str) -> float:
        """A figure by key, for sweeps: ``training_bytes``, ``kv_cache_bytes``, ``activation_bytes``,
        ``training_flops``, ``prefill_s``, ``decode_tokens_per_s`` (of the first GPU)."""
        values = {
            "training_bytes": float(self.memory.total),
            "activation_bytes": self.memory.activation_bytes,
            "training_flops": self.compute.training,
            "kv_cache_bytes": float(self.kv.total_bytes) if self.kv else 0,
            "inference_bytes": self.inference_bytes,
        }
        if self.serving:
            values["prefill_s"] = self.serving[0].prefill.seconds
            values["decode_tokens_per_s"] = self.serving[0].decode.tokens_per_s
        return values[key]

    def to_dict(self) -> dict[str, Any]:
        return {
            "attention_layers": {
                "convention": self.attention_convention,
                "convention_label": ATTENTION_CONVENTIONS[self.attention_convention],
                "summary": self.attention_label,
                "layers": [{"name": a.name, "masking": a.label, "kind": a.kind, "query_heads": a.query_heads,
                            "kv_heads": a.kv_heads} for a in self.attention_layers],
            },
            "training_memory": self.memory.to_dict(),
            "activations": self.activations.to_dict(),
            "training_compute": self.compute.to_dict(),
            "kv_cache": self.kv.to_dict() if self.kv else None,
            "inference_bytes": self.inference_bytes,
            "inference_label": "weights + KV cache + peak live activations of one pass",
            "serving": [s.to_dict(layers=index == 0) for index, s in enumerate(self.serving)],
            "mixture_of_experts": self.moe.to_dict(self.batch) if self.moe is not None else None,
            "deepspeed_estimate": self.deepspeed.to_dict() if self.deepspeed is not None else None,
            "weight_format": self.weight_format.name if self.weight_format is not None else None,
            "capacity": [c.to_dict() for c in self.capacity],
            "decode_efficiency": {"factor": self.efficiency[0], "source": self.efficiency[1]}
            if self.efficiency else None,
        }


def llm_sizing(report, options: LLMOptions | None = None, saved: tuple[Any, Any] | None = None,
               moe: Any = None, modules: Any = None, layout: Any = None) -> LLMSizing | None:
    """The sizing of a Report with attention layers (None for a network without attention).

    ``saved``: (math, fused) :class:`~archcalc.llm.saved_tensors.SavedActivations` measured
    on a live module at the report's batch in the plan's dtype; without them (specs) the
    activations are the estimate "every layer output kept", said as such. ``moe``: the
    :class:`~archcalc.llm.moe.MixtureOfExperts` of a live module (decode reads the routed experts only);
    ``modules``: its attention modules (:mod:`archcalc.llm.attention_reading`), which say the
    heads, masking, window and cross-attention of each layer; ``layout``: its
    :class:`~archcalc.llm.parameter_layout.ParameterLayout` (LoRA, Adafactor, ZeRO-3 buffers).
    """
    from archcalc.verify.peaks import SERVING_GPUS, gpu_by_name

    options = options or LLMOptions()
    layers = tuple(attention_layers(report, modules))
    if not layers:
        return None
    convention = check_attention_convention(options.attention)
    plan = options.plan(report.dtype)
    totals = report.totals
    if saved is not None and saved[0] is not None:
        activations = _measured_activations(saved, options, plan, layers, report)
    else:
        per_element = 2 if plan.precision_info.activation_dtype == "bfloat16" else 4
        estimate = totals.activation_elements * per_element + totals.input_bytes
        ratio = _parallel_ratio(plan, layers, report)
        activations = ActivationFigures(False, int(estimate * ratio), "estimate: every layer output and the input "
                                        "kept (a spec is not run; analyse the model as a live module to measure)")
    expert_params = moe.expert_params if moe is not None else 0
    states = planned_states(totals.params, plan, totals.trainable_params, layout, expert_params)
    from archcalc.llm.overheads import CUDA_OVERHEAD_SOURCE, DEFAULT_CUDA_OVERHEAD

    overhead = DEFAULT_CUDA_OVERHEAD if options.cuda_overhead is None else options.cuda_overhead
    memory = TrainingMemory(plan, states, activations.bytes, activations.source, overhead,
                            CUDA_OVERHEAD_SOURCE if options.cuda_overhead is None else "given with --cuda-overhead")
    from archcalc.llm.deepspeed_estimates import deepspeed_estimate

    deepspeed = None
    if plan.lora is None and not plan.parallel.active and plan.precision == "mixed" and plan.optimizer in ("adam",
                                                                                                         "adamw"):
        deepspeed = deepspeed_estimate(plan.zero, totals.params, plan.gpus,
                                       layout.largest_module_params if layout is not None else None, plan.offload)
    flash = options.flash or (options.kernels == "cuda" and activations.measured)
    compute = training_compute(report, convention, flash, plan.checkpoint, plan.recompute == "selective")
    sequences, tokens, _ = token_axes(report)
    kv = None
    runs: tuple[Serving, ...] = ()
    weight_bytes = totals.param_bytes + totals.buffer_bytes
    rates = None
    fmt = None
    if options.weights:
        from archcalc.llm.weight_formats import quantised_rates, quantised_weight_bytes, weight_format

        fmt = weight_format(options.weights)
        if layout is None:
            from archcalc.errors import InputError

            raise InputError("--weights needs a live model (hf:NAME or a module): a spec has no linear layers to "
                             "quantise")
        rates = quantised_rates(layout, fmt, report.bytes_per_element)
        weight_bytes = int(quantised_weight_bytes(layout, fmt, report.bytes_per_element)) + totals.buffer_bytes
    capacities: tuple[Any, ...] = ()
    if any(layer.causal for layer in layers):
        from archcalc.llm.capacity import capacity

        encoder = tokens if any(layer.cross for layer in layers) else None
        kv = kv_cache(report, tokens, sequences, options.kv_dtype or report.dtype, layers, encoder)
        names = options.gpu_names or SERVING_GPUS
        runs = serving_on(report, [gpu_by_name(name) for name in names], kv, convention, moe, layers, rates)
        one_sequence = totals.peak_activation_bytes / max(sequences, 1)  # a pass of one sequence at --tokens
        capacities = tuple(capacity(kv, run.gpu, options.tp, weight_bytes, one_sequence, tokens, options.utilization)
                           for run in runs if run.gpu.memory_gb)
    efficiency = None
    if options.efficiency is not None:
        from archcalc.llm.capacity import DECODE_EFFICIENCY

        source = DECODE_EFFICIENCY[1] if options.efficiency == DECODE_EFFICIENCY[0] else "given with --efficiency"
        efficiency = (options.efficiency, source)
    return LLMSizing(layers, convention, memory, activations, compute, tokens, kv, runs, sequences,
                     weight_bytes, totals.peak_activation_bytes, moe, deepspeed, capacities, fmt, efficiency)


def _measured_activations(saved, options: LLMOptions, plan: TrainingPlan, layers, report) -> ActivationFigures:
    """The plan's activations from the measured (math, fused) SavedActivations: the kernels asked
    (measured CPU / meta, or the CUDA profile derived from the fused run), the recompute plan's
    figure, and tensor / sequence parallelism's ratio (Korthikanti et al. 2022) on the blocks::

        none       outside + sum(blocks) x ratio(none)
        selective  outside + sum(blocks, selective) x ratio(selective)
        full       outside + block inputs (/ t with SP) + max(block) x ratio(none)
    """
    from archcalc.llm.saved_tensors import CUDA

    math, fused = saved
    cuda = fused.cuda_profile() if fused is not None else None
    figures = ActivationFigures(True, 0, "", math, fused, options.flash and fused is not None, cuda,
                                CUDA if options.kernels == CUDA and cuda is not None else "cpu", plan.recompute)
    used = figures.used
    recompute = plan.recompute
    chosen = used.recomputed_bytes(recompute)
    ratio = _parallel_ratio(plan, layers, report, "selective" if recompute == "selective" else "none")
    if ratio != 1:
        if recompute == "full":
            blocks = max(used.block_bytes.values(), default=0)
        elif recompute == "selective":
            blocks = sum(used.selective_block_bytes.values())
        else:
            blocks = sum(used.block_bytes.values())
        chosen = int(chosen - blocks + blocks * ratio)
        if recompute == "full" and plan.parallel.sp:  # the kept block inputs are split along the sequence too
            inputs = sum(used.block_input_bytes.values())
            chosen = int(chosen - inputs + inputs / plan.parallel.tp)
    kernel = "fused / flash attention" if used is fused else "math (eager) attention"
    what = used.profile_label if used is cuda else f"{used.profile_label}, {kernel}"
    source = (f"saved for backward ({what}, {used.dtype}, batch {used.batch}"
              + {"none": "", "selective": ", selective recompute", "full": ", full recompute per block"}[recompute]
              + (f"; blocks x {float(ratio):.3g} for {plan.parallel.label} (Korthikanti et al. 2022)"
                 if ratio != 1 else "") + ")")
    from dataclasses import replace

    return replace(figures, bytes=chosen, source=source)


def _parallel_ratio(plan, layers, report, recompute: str = "none"):
    """Korthikanti et al.'s per-layer activation ratio for the plan's tensor / sequence parallelism."""
    from fractions import Fraction

    if plan.parallel.tp == 1 or not layers:
        return Fraction(1)
    first = layers[0]
    _, tokens, _ = token_axes(report)
    return plan.parallel.activation_ratio(first.query_heads, tokens, first.query_heads * first.key_width, recompute)
