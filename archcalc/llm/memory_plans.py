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

    moments: sgd 0, momentum 1, adam 2 (first and second moment)

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

#: optimizer -> moment tensors kept per parameter
OPTIMIZER_MOMENTS = {"sgd": 0, "momentum": 1, "adam": 2}


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


@dataclass(frozen=True)
class TrainingPlan:
    """How a model is trained: precision, optimizer, ZeRO stage over ``gpus`` data-parallel GPUs,
    and activation checkpointing (full recompute per block)."""

    precision: str = "fp32"
    optimizer: str = "adam"
    zero: int = 0
    gpus: int = 1
    checkpoint: bool = False

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise InputError(f"--precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.optimizer not in OPTIMIZER_MOMENTS:
            raise InputError(f"--optimizer must be one of {', '.join(OPTIMIZER_MOMENTS)}, got {self.optimizer!r}")
        if self.zero not in ZERO_STAGES:
            raise InputError(f"--zero must be 0, 1, 2 or 3, got {self.zero!r}")
        if not isinstance(self.gpus, int) or self.gpus < 1:
            raise InputError(f"--gpus must be a whole number >= 1, got {self.gpus!r}")

    @property
    def precision_info(self) -> Precision:
        return PRECISIONS[self.precision]

    @property
    def optimizer_bytes(self) -> int:
        """K: optimizer-state bytes per parameter (master weights included)."""
        p = self.precision_info
        return p.master_bytes + p.moment_bytes * OPTIMIZER_MOMENTS[self.optimizer]

    @property
    def label(self) -> str:
        parts = [f"{self.precision} ({self.precision_info.label})", f"{self.optimizer} (K = {self.optimizer_bytes} B "
                 "per parameter)", _STAGE_LABELS[self.zero] + (f" over {self.gpus} GPUs" if self.gpus > 1 else "")]
        if self.checkpoint:
            parts.append("activation checkpointing (full recompute per block)")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {"precision": self.precision, "optimizer": self.optimizer, "zero": self.zero, "gpus": self.gpus,
                "checkpoint": self.checkpoint, "optimizer_bytes_per_param": self.optimizer_bytes,
                "label": self.label}


@dataclass(frozen=True)
class ModelStates:
    """Bytes of the model states one GPU holds (Fractions: a partition need not be whole)."""

    weights: Fraction
    gradients: Fraction
    optimizer: Fraction

    @property
    def total(self) -> Fraction:
        return self.weights + self.gradients + self.optimizer


def model_states(params: int, plan: TrainingPlan, trainable: int | None = None) -> ModelStates:
    """Weights, gradients and optimizer state per GPU (see the module docstring)::

        weights   = params x weight bytes                       (/ N at stage 3)
        gradients = trainable x gradient bytes                  (/ N at stage >= 2)
        optimizer = trainable x K                               (/ N at stage >= 1)
    """
    trainable = params if trainable is None else trainable
    p = plan.precision_info
    n = plan.gpus
    weights = Fraction(params * p.weight_bytes, n if plan.zero >= 3 else 1)
    gradients = Fraction(trainable * p.grad_bytes, n if plan.zero >= 2 else 1)
    optimizer = Fraction(trainable * plan.optimizer_bytes, n if plan.zero >= 1 else 1)
    return ModelStates(weights, gradients, optimizer)


@dataclass(frozen=True)
class TrainingMemory:
    """One GPU's memory for one training step under a plan."""

    plan: TrainingPlan
    states: ModelStates
    #: activations kept for backward (measured saved tensors, or the estimate for specs)
    activation_bytes: int
    #: how the activations were obtained
    activation_source: str

    @property
    def total(self) -> Fraction:
        return self.states.total + self.activation_bytes

    def to_dict(self) -> dict[str, Any]:
        return {
            "plan": self.plan.to_dict(),
            "weights_bytes": float(self.states.weights),
            "gradients_bytes": float(self.states.gradients),
            "optimizer_bytes": float(self.states.optimizer),
            "activations_bytes": self.activation_bytes,
            "activations_source": self.activation_source,
            "total_bytes": float(self.total),
        }
