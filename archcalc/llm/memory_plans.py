"""Memory of one training step per GPU: weights, gradients, optimizer state, activations.

Pure arithmetic, no torch. A :class:`TrainingPlan` names a precision, an optimizer, a
ZeRO stage and a number of data-parallel GPUs; :func:`model_states` gives the bytes of
the model states each GPU holds.

Bytes per parameter (Rajbhandari et al., "ZeRO: Memory Optimizations Toward Training
Trillion Parameter Models", SC 2020, section 3.1)::

    precision  weights  gradients  optimizer state K                     (Adam: total)
    fp32       4        4          4 x moments                            (16)
    bf16       2        2          2 x moments (all state in bf16)        (8)
    mixed      2        2          4 (fp32 master copy) + 4 x moments     (16, K = 12)

    moments: sgd 0, momentum 1, lion 1, adam / adamw 2 (first and second moment);
             adam8bit 2 of 1 B each whatever the precision (bitsandbytes);
             adafactor: sum over matrices of (rows + columns), vectors whole (factored second moment)

ZeRO partitions the model states over the ``N`` data-parallel GPUs (the paper's Figure 1,
with ``Psi`` parameters)::

    stage 0 (plain data parallel)      (2 + 2 + K) Psi
    stage 1 (optimizer states, P_os)   2 Psi + 2 Psi + K Psi / N
    stage 2 (+ gradients, P_os+g)      2 Psi + (2 + K) Psi / N
    stage 3 (+ parameters, P_os+g+p)   (2 + 2 + K) Psi / N

(written for mixed precision, with 2-byte weights and gradients; the other precisions
replace 2 by their bytes). Frozen parameters keep only their weights. Activations are
not partitioned by ZeRO: each GPU keeps those of its own micro-batch (``--batch``).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from archcalc.errors import InputError



@dataclass(frozen=True)
class Optimizer:
    """What an optimizer keeps per parameter: ``moments`` state tensors of ``moment_bytes`` each
    (None: the precision's moment bytes), or a factored second moment."""

    name: str
    moments: int
    moment_bytes: int | None
    factored: bool
    label: str


OPTIMIZERS: dict[str, Optimizer] = {
    "sgd": Optimizer("sgd", 0, None, False, "SGD without momentum: no state"),
    "momentum": Optimizer("momentum", 1, None, False, "SGD with momentum: one buffer"),
    "adam": Optimizer("adam", 2, None, False, "Adam: first and second moments (Kingma and Ba 2015)"),
    "adamw": Optimizer("adamw", 2, None, False, "AdamW: Adam's two moments, decoupled weight decay "
                       "(Loshchilov and Hutter 2019)"),
    "adam8bit": Optimizer("adam8bit", 2, 1, False, "8-bit Adam (bitsandbytes, Dettmers et al. 2022): two moments "
                          "of 1 B each, block-wise quantised (one fp32 absmax per 2,048 values, 0.2%, not counted)"),
    "lion": Optimizer("lion", 1, None, False, "Lion: one momentum buffer (Chen et al. 2023)"),
    "adafactor": Optimizer("adafactor", 1, None, True, "Adafactor (Shazeer and Stern 2018) as transformers runs it "
                           "(beta1=None): no first moment; the second moment of an r x c matrix factored into r + c "
                           "row and column values, a vector's kept whole"),
}
#: optimizer -> moment tensors kept per parameter (Adafactor: 1, factored)
OPTIMIZER_MOMENTS = {name: rule.moments for name, rule in OPTIMIZERS.items()}


@dataclass(frozen=True)
class Precision:
    """Bytes per parameter of each model state, and the dtype activations are measured in."""

    name: str
    weight_bytes: int
    grad_bytes: int
    master_bytes: int
    moment_bytes: int
    activation_dtype: str
    label: str


PRECISIONS = {
    "fp32": Precision("fp32", 4, 4, 0, 4, "float32", "fp32 weights, gradients and optimizer state"),
    "bf16": Precision("bf16", 2, 2, 0, 2, "bfloat16", "bf16 weights, gradients and optimizer state"),
    "mixed": Precision("mixed", 2, 2, 4, 4, "bfloat16",
                       "bf16 weights and gradients, fp32 master weights and optimizer moments (ZeRO paper)"),
}
ZERO_STAGES = (0, 1, 2, 3)
_STAGE_LABELS = {
    0: "ZeRO-0: plain data parallel, every GPU holds every state",
    1: "ZeRO-1: optimizer state partitioned over the GPUs",
    2: "ZeRO-2: optimizer state and gradients partitioned",
    3: "ZeRO-3: optimizer state, gradients and weights partitioned",
}


#: --offload: what ZeRO-Offload / ZeRO-Infinity moves to host memory (CPU RAM or NVMe)
OFFLOADS = {
    "none": "nothing offloaded",
    "optimizer": "ZeRO-Offload (Ren et al. 2021): gradients and optimizer state in host memory, the optimizer "
                 "step on the CPU; weights stay on the GPU",
    "all": "ZeRO-Infinity (Rajbhandari et al. 2021): weights too in host memory (CPU or NVMe); the GPU keeps "
           "ZeRO-3's gather buffers",
}


@dataclass(frozen=True)
class TrainingPlan:
    """How a model is trained: precision, optimizer, ZeRO stage over ``gpus`` data-parallel GPUs,
    activation recompute (``recompute``: none, selective or full; ``checkpoint=True`` is full
    recompute per block, the older spelling), LoRA / QLoRA adapters, offload and
    tensor / pipeline / sequence / expert parallelism."""

    precision: str = "fp32"
    optimizer: str = "adam"
    zero: int = 0
    gpus: int = 1
    checkpoint: bool = False
    lora: Any = None  # LoRASpec
    offload: str = "none"
    parallel: Any = None  # ParallelPlan
    recompute: str = "none"

    def __post_init__(self) -> None:
        from archcalc.llm.recompute import check_recompute

        recompute = check_recompute(self.recompute)
        if self.checkpoint and recompute not in ("none", "full"):
            raise InputError(f"--checkpoint is full recompute per block; it cannot go with --recompute {recompute}")
        object.__setattr__(self, "recompute", "full" if self.checkpoint else recompute)
        object.__setattr__(self, "checkpoint", self.recompute == "full")
        if self.precision not in PRECISIONS:
            raise InputError(f"--precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.optimizer not in OPTIMIZERS:
            raise InputError(f"--optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.zero not in ZERO_STAGES:
            raise InputError(f"--zero must be 0, 1, 2 or 3, got {self.zero!r}")
        if not isinstance(self.gpus, int) or self.gpus < 1:
            raise InputError(f"--gpus must be a whole number >= 1, got {self.gpus!r}")
        if self.offload not in OFFLOADS:
            raise InputError(f"--offload must be one of {', '.join(OFFLOADS)}, got {self.offload!r}")
        if self.offload == "all" and self.zero != 3:
            raise InputError("--offload all (weights in host memory) needs --zero 3: only ZeRO-3 partitions and "
                             "gathers the weights")

    @property
    def precision_info(self) -> Precision:
        return PRECISIONS[self.precision]

    @property
    def optimizer_rule(self) -> Optimizer:
        return OPTIMIZERS[self.optimizer]

    @property
    def moment_bytes(self) -> int:
        rule = self.optimizer_rule
        return rule.moment_bytes if rule.moment_bytes is not None else self.precision_info.moment_bytes

    @property
    def optimizer_bytes(self) -> int:
        """K: optimizer-state bytes per parameter (master weights included; Adafactor: as if
        unfactored, an upper bound; :func:`model_states` takes the factored count)."""
        return self.precision_info.master_bytes + self.moment_bytes * self.optimizer_rule.moments

    @property
    def label(self) -> str:
        parts = [f"{self.precision} ({self.precision_info.label})", f"{self.optimizer} (K = {self.optimizer_bytes} B "
                 "per parameter)", _STAGE_LABELS[self.zero] + (f" over {self.gpus} GPUs" if self.gpus > 1 else "")]
        if self.checkpoint:
            parts.append("activation checkpointing (full recompute per block)")
        elif self.recompute == "selective":
            parts.append("selective recompute of the attention core (Korthikanti et al. 2022)")
        if self.lora is not None:
            parts.append(self.lora.label)
        if self.offload != "none":
            parts.append(OFFLOADS[self.offload])
        if self.parallel is not None and self.parallel.active:
            parts.append(self.parallel.label + " (Megatron-LM layout)")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        parallel = self.parallel
        return {"precision": self.precision, "optimizer": self.optimizer, "zero": self.zero, "gpus": self.gpus,
                "checkpoint": self.checkpoint, "recompute": self.recompute, "optimizer_bytes_per_param": self.optimizer_bytes,
                "lora": self.lora.label if self.lora is not None else None, "offload": self.offload,
                "tp": parallel.tp if parallel else 1, "pp": parallel.pp if parallel else 1,
                "sp": parallel.sp if parallel else False, "ep": parallel.ep if parallel else 1,
                "label": self.label}


@dataclass(frozen=True)
class ModelStates:
    """Bytes of the model states one GPU holds (Fractions: a partition need not be whole), the
    ZeRO-3 gather buffers, and what an offload keeps in host memory instead."""

    weights: Fraction
    gradients: Fraction
    optimizer: Fraction
    gather: Fraction = Fraction(0)
    host: Fraction = Fraction(0)
    #: trainable parameters the states are for (LoRA: the adapters)
    trainable: int | None = None

    @property
    def total(self) -> Fraction:
        return self.weights + self.gradients + self.optimizer + self.gather


def model_states(params: int, plan: TrainingPlan, trainable: int | None = None,
                 factored_elements: int | None = None) -> ModelStates:
    """Weights, gradients and optimizer state per GPU (see the module docstring)::

        weights   = params x weight bytes                       (/ N at stage 3)
        gradients = trainable x gradient bytes                  (/ N at stage >= 2)
        optimizer = trainable x K                               (/ N at stage >= 1)

    Adafactor: ``K x trainable`` becomes ``master x trainable + moment bytes x factored_elements``
    (``factored_elements``: sum of rows + columns of the trainable matrices and the size of the
    vectors; None: unknown, the unfactored upper bound).
    """
    trainable = params if trainable is None else trainable
    p = plan.precision_info
    n = plan.gpus
    weights = Fraction(params * p.weight_bytes, n if plan.zero >= 3 else 1)
    gradients = Fraction(trainable * p.grad_bytes, n if plan.zero >= 2 else 1)
    state = trainable * plan.optimizer_bytes
    if plan.optimizer_rule.factored and factored_elements is not None:
        state = trainable * p.master_bytes + plan.moment_bytes * factored_elements
    optimizer = Fraction(state, n if plan.zero >= 1 else 1)
    return ModelStates(weights, gradients, optimizer)


def factored_elements(shapes) -> int:
    """Adafactor's second-moment values for parameters of these shapes: ``r + c`` for a matrix
    (the last two axes factored, leading axes kept: ``prod(leading) x (r + c)``), the size of a vector."""
    total = 0
    for shape in shapes:
        if len(shape) >= 2:
            lead = 1
            for size in shape[:-2]:
                lead *= size
            total += lead * (shape[-2] + shape[-1])
        else:
            total += shape[0] if shape else 1
    return total


@dataclass(frozen=True)
class TrainingMemory:
    """One GPU's memory for one training step under a plan."""

    plan: TrainingPlan
    states: ModelStates
    #: activations kept for backward (measured saved tensors, or the estimate for specs)
    activation_bytes: int
    #: how the activations were obtained
    activation_source: str
    #: the CUDA context and allocator reserve per GPU (an estimate: archcalc.llm.overheads)
    overhead_bytes: int = 0
    overhead_source: str = ""

    @property
    def total(self) -> Fraction:
        return self.states.total + self.activation_bytes + self.overhead_bytes

    def to_dict(self) -> dict[str, Any]:
        return {
            "plan": self.plan.to_dict(),
            "weights_bytes": float(self.states.weights),
            "gradients_bytes": float(self.states.gradients),
            "optimizer_bytes": float(self.states.optimizer),
            "zero3_gather_bytes": float(self.states.gather),
            "host_bytes": float(self.states.host),
            "trainable_params": self.states.trainable,
            "activations_bytes": self.activation_bytes,
            "activations_source": self.activation_source,
            "cuda_overhead_bytes": self.overhead_bytes,
            "cuda_overhead_source": self.overhead_source,
            "total_bytes": float(self.total),
        }


def planned_states(params: int, plan: TrainingPlan, trainable: int | None = None, layout: Any = None,
                   expert_params: int = 0) -> ModelStates:
    """One GPU's model states under the whole plan:

    * LoRA / QLoRA: the frozen base's bytes (:mod:`archcalc.llm.lora`) plus the adapters' weights,
      gradients and optimizer state (the only trainable parameters);
    * else :func:`model_states` (Adafactor factored when the layout is known);
    * expert parallelism ``e``: ``expert_params x (1 - 1/e)`` fewer parameters per GPU;
    * tensor and pipeline parallelism: ``/ (t x p)`` (:mod:`archcalc.llm.parallel`);
    * ZeRO-3 gather buffers: ``2 x largest module x weight bytes`` (the layer being gathered and
      the one prefetched; DeepSpeed's ``stage3_prefetch_bucket_size`` keeps at least one ahead);
    * offload: ``optimizer`` moves gradients and optimizer state to host memory, ``all`` the
      weights too (Ren et al. 2021; Rajbhandari et al. 2021).
    """
    from archcalc.llm.parallel import ParallelPlan

    parallel = plan.parallel or ParallelPlan()
    p = plan.precision_info
    if expert_params and parallel.ep > 1:
        held = Fraction(expert_params) * (1 - Fraction(1, parallel.ep))
        params = int(params - held)
        trainable = None if trainable is None else int(trainable - held)
    if plan.lora is not None:
        if layout is None:
            raise InputError("--lora needs a live model (hf:NAME or a module): a spec has no linear layers to adapt")
        from archcalc.llm.lora import lora_plan

        adapters_plan = lora_plan(layout, plan.lora)
        adapters = model_states(adapters_plan.adapter_params, plan)
        base = adapters_plan.base_bytes(p.weight_bytes) / (plan.gpus if plan.zero >= 3 else 1)
        states = ModelStates(adapters.weights + base, adapters.gradients, adapters.optimizer,
                             trainable=adapters_plan.adapter_params)
    else:
        factored = layout.factored_elements if layout is not None and plan.optimizer_rule.factored else None
        states = model_states(params, plan, trainable, factored)
        states = ModelStates(states.weights, states.gradients, states.optimizer,
                             trainable=params if trainable is None else trainable)
    split = parallel.model_split
    weights, gradients, optimizer = states.weights / split, states.gradients / split, states.optimizer / split
    gather = Fraction(0)
    if plan.zero >= 3 and layout is not None:
        gather = Fraction(2 * layout.largest_module_params * p.weight_bytes, split)
    host = Fraction(0)
    if plan.offload in ("optimizer", "all"):
        host += gradients + optimizer
        gradients, optimizer = Fraction(0), Fraction(0)
    if plan.offload == "all":
        host += weights
        weights = Fraction(0)
    return ModelStates(weights, gradients, optimizer, gather, host, states.trainable)
