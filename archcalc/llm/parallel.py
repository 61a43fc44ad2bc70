"""Tensor, pipeline, sequence and expert parallelism: what one GPU holds (Megatron-LM's layout).

With tensor parallelism ``t`` (Shoeybi et al. 2019, "Megatron-LM"), each GPU holds ``1/t`` of
every attention and MLP matrix; with pipeline parallelism ``p`` (Narayanan et al. 2021) ``1/p``
of the layers. Model states per GPU are therefore ``states / (t x p)`` (the embedding and LM
head sit on the first and last stages and are split ``t`` ways; archcalc spreads them evenly,
as the paper's per-GPU parameter count does). With expert parallelism ``e`` (GShard, Lepikhin
et al. 2020) each GPU holds ``1/e`` of every MoE layer's experts.

Activations per transformer layer (Korthikanti et al. 2022, "Reducing Activation Recomputation
in Large Transformer Models", equations 2-4; ``s`` tokens, ``b`` batch, ``h`` width, ``a`` heads)::

    no parallelism        s b h (34 + 5 a s / h)
    tensor parallel t     s b h (10 + 24 / t + 5 a s / (h t))
    + sequence parallel   s b h (34 / t + 5 a s / (h t))

(and with selective or full recompute, Table 2's other rows: :mod:`archcalc.llm.recompute`).

archcalc keeps its measured per-block activations (what the model's own code saves) and scales
them by the ratio of the matching line to the first. Pipeline parallelism does not shrink them:
under the 1F1B schedule the first stage keeps ``p`` micro-batches of its ``L / p`` layers, the
activations of ``L`` layers of one micro-batch (the paper's section 4.2.3).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from archcalc.errors import InputError


@dataclass(frozen=True)
class ParallelPlan:
    """Tensor (``tp``), pipeline (``pp``) and expert (``ep``) parallel degrees, and sequence
    parallelism (``sp``, with tensor parallelism)."""

    tp: int = 1
    pp: int = 1
    sp: bool = False
    ep: int = 1

    def __post_init__(self) -> None:
        for name, value in (("--tp", self.tp), ("--pp", self.pp), ("--ep", self.ep)):
            if not isinstance(value, int) or value < 1:
                raise InputError(f"{name} must be a whole number >= 1, got {value!r}")
        if self.sp and self.tp < 2:
            raise InputError("--sp (sequence parallelism) splits along the tensor-parallel group: give --tp 2 or more")

    @property
    def model_split(self) -> int:
        """GPUs one copy of the model's dense states is spread over: ``t x p``."""
        return self.tp * self.pp

    @property
    def active(self) -> bool:
        return self.tp > 1 or self.pp > 1 or self.ep > 1

    def activation_ratio(self, heads: int, tokens: int, hidden: int, recompute: str = "none") -> Fraction:
        """Per-layer activations under this plan over those without it, for the same recompute plan
        (Korthikanti et al. 2022, Table 2: :func:`archcalc.llm.recompute.parallel_ratio`)."""
        from archcalc.llm.recompute import parallel_ratio

        return parallel_ratio(heads, tokens, hidden, self.tp, self.sp, recompute)

    @property
    def label(self) -> str:
        parts = []
        if self.tp > 1:
            parts.append(f"TP {self.tp}" + (" + SP" if self.sp else ""))
        if self.pp > 1:
            parts.append(f"PP {self.pp}")
        if self.ep > 1:
            parts.append(f"EP {self.ep}")
        return ", ".join(parts)
