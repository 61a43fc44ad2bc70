"""DeepSpeed's own model-state estimators, as a named convention beside the ZeRO paper.

Users compare archcalc with ``deepspeed.runtime.zero.stage_1_and_2.
estimate_zero2_model_states_mem_needs`` and ``deepspeed.runtime.zero.stage3.
estimate_zero3_model_states_mem_needs`` (DeepSpeed's "Memory Requirements" docs). Without
offload, with ``Psi`` parameters over ``N`` GPUs, their GPU figures are::

    ZeRO-2   4 Psi + 16 Psi / N
    ZeRO-3   4 x largest_layer_params + 18 Psi / N

(``largest_layer_params``: the most parameters one module holds itself, the embedding or LM
head of a Llama). With offload of the optimizer (``cpu_offload``) ZeRO-2 keeps ``2 Psi`` on
the GPU, and ZeRO-3 with parameters offloaded keeps ``4 x largest_layer_params``.

**Why they differ from the ZeRO paper's** ``2 Psi + 14 Psi / N`` (ZeRO-2) and ``16 Psi / N``
(ZeRO-3) for mixed-precision Adam: DeepSpeed counts 16 partitioned bytes per parameter (fp32
master weights 4, two fp32 moments 8, and an fp32 gradient copy 4, where the paper's K = 12
has no fp32 gradient), keeps 4 unpartitioned bytes at ZeRO-2 (the fp16 weights and a full fp16
gradient buffer, where the paper partitions the gradients), and at ZeRO-3 adds 2 B of fp16
weights (18 = 16 + 2) and the gathered largest layer's fp16 weights and gradients (4 B per
parameter). Neither counts activations. For Llama-3-8B on 8 GPUs: DeepSpeed 48.18 GB (ZeRO-2)
and 20.17 GB (ZeRO-3) against the paper's 30.11 GB and 16.06 GB.

DeepSpeed prints these as ``bytes / 2**30`` under the label "GB" (44.87 and 18.78 for
Llama-3-8B); archcalc shows GB as 10^9 B and GiB as 2^30 B.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DeepSpeedEstimate:
    """One DeepSpeed estimator's GPU bytes per GPU, and the function it reproduces."""

    function: str
    gpu_bytes: int
    formula: str

    def to_dict(self) -> dict[str, Any]:
        return {"function": self.function, "gpu_bytes": self.gpu_bytes, "formula": self.formula}


def estimate_zero2(total_params: int, gpus: int, cpu_offload: bool = False) -> DeepSpeedEstimate:
    """``estimate_zero2_model_states_mem_needs(total_params, num_gpus_per_node=gpus,
    cpu_offload=...)``'s GPU figure."""
    name = "deepspeed.runtime.zero.stage_1_and_2.estimate_zero2_model_states_mem_needs"
    if cpu_offload:
        return DeepSpeedEstimate(name, 2 * total_params, "2 Psi (optimizer offloaded)")
    return DeepSpeedEstimate(name, 4 * total_params + int(16 * total_params / gpus), "4 Psi + 16 Psi / N")


def estimate_zero3(total_params: int, largest_layer_params: int, gpus: int, cpu_offload: bool = False,
                   cpu_offload_params: bool = False) -> DeepSpeedEstimate:
    """``estimate_zero3_model_states_mem_needs(total_params, largest_layer_params,
    num_gpus_per_node=gpus, cpu_offload=..., cpu_offload_params=...)``'s GPU figure."""
    name = "deepspeed.runtime.zero.stage3.estimate_zero3_model_states_mem_needs"
    largest = 4 * largest_layer_params
    if cpu_offload and cpu_offload_params:
        return DeepSpeedEstimate(name, largest, "4 x largest layer (optimizer and parameters offloaded)")
    if cpu_offload:
        return DeepSpeedEstimate(name, largest + int(2 * total_params / gpus),
                                 "4 x largest layer + 2 Psi / N (optimizer offloaded)")
    return DeepSpeedEstimate(name, largest + int(18 * total_params / gpus), "4 x largest layer + 18 Psi / N")


def deepspeed_estimate(zero: int, total_params: int, gpus: int, largest_layer_params: int | None,
                       offload: str | None = None) -> DeepSpeedEstimate | None:
    """The DeepSpeed estimate matching a ZeRO stage (2 or 3; None for the others, which DeepSpeed
    has no estimator for, or ZeRO-3 without the largest layer)."""
    optimizer_off = offload in ("optimizer", "all")
    if zero == 2:
        return estimate_zero2(total_params, gpus, optimizer_off)
    if zero == 3 and largest_layer_params is not None:
        return estimate_zero3(total_params, largest_layer_params, gpus, optimizer_off, offload == "all")
    return None
