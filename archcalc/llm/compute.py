"""Forward and training FLOPs of a transformer, attention under a named convention.

FLOPs here are 2 per multiply-accumulate of the dot-product layers (linear, matmul,
attention, convolution), the unit of peak FLOP/s, of Megatron-LM's formula and of
``6 x params x tokens``; element-wise work is left out, as those formulas leave it.

Attention conventions (``--attention``), for a layer with ``P`` heads, ``L`` queries,
``S`` keys and widths ``E``, ``Ev``:

* ``full``: every query x key pair, ``P L S (E + Ev)`` MACs: Megatron-LM (Narayanan
  et al. 2021) and ``torch.utils.flop_counter`` count attention so, causal or not;
* ``causal``: a causal layer counts half of that, as MaxText does
  (``causal_attention_flops = noncausal_attention_flops / 2`` in
  ``maxtext_utils.calculate_tflops_training_per_device``); full-attention layers
  (encoders) are counted whole.

Training FLOPs of a layer (forward + backward + recompute)::

    backward   = 2 x forward                  (the gradients of the input and of the
                                               weights: two products per product)
    flash      + score MACs of each attention  (FlashAttention recomputes Q K^T in the
                 layer, once more               backward pass: its backward is 2.5 x the
                                               forward with E = Ev; Dao 2023, FlashAttention-2 s. 4)
    checkpoint + forward of every layer inside (full recompute per block: Chen et al. 2016;
                 a repeated block               Megatron's "96 B s l h^2" with recompute)
    selective  + forward of every attention     (selective recompute: Q K^T and the product with V
                 layer's core, once more        again in backward; Korthikanti et al. 2022, section 5)

For a GPT with ``l`` layers, width ``h``, sequence ``s``, vocabulary ``V`` and batch
``B``, full attention and no recompute, the sum is Megatron's
``72 B s l h^2 (1 + s / 6h + V / 12 l h)`` (Korthikanti et al. 2022, eq. for training
FLOPs without recomputation), and close to ``6 x params x tokens`` (Kaplan et al. 2020).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from archcalc.errors import InputError

ATTENTION_CONVENTIONS = {
    "full": "full: every query x key pair (Megatron-LM, torch's flop counter)",
    "causal": "causal-halved: causal layers count half the pairs (MaxText)",
}


def check_attention_convention(name: str) -> str:
    key = name.strip().lower()
    if key not in ATTENTION_CONVENTIONS:
        raise InputError(f"--attention must be one of {', '.join(ATTENTION_CONVENTIONS)}, got {name!r}")
    return key


@dataclass(frozen=True)
class LayerCompute:
    """FLOPs of one layer in one training step (batch included)."""

    name: str
    forward: int
    backward: int
    recompute: int

    @property
    def training(self) -> int:
        return self.forward + self.backward + self.recompute


@dataclass(frozen=True)
class TrainingCompute:
    """FLOPs of one step under an attention convention, with flash recompute and checkpointing as asked."""

    attention: str
    flash: bool
    checkpoint: bool
    layers: tuple[LayerCompute, ...]
    selective: bool = False

    @property
    def forward(self) -> int:
        return sum(layer.forward for layer in self.layers)

    @property
    def backward(self) -> int:
        return sum(layer.backward for layer in self.layers)

    @property
    def recompute(self) -> int:
        return sum(layer.recompute for layer in self.layers)

    @property
    def training(self) -> int:
        return self.forward + self.backward + self.recompute

    @property
    def label(self) -> str:
        parts = [ATTENTION_CONVENTIONS[self.attention], "backward = 2 x forward"]
        if self.flash:
            parts.append("FlashAttention recomputes Q K^T in backward")
        if self.checkpoint:
            parts.append("checkpointing recomputes each block's forward")
        if self.selective:
            parts.append("selective recompute repeats each attention core's forward")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "attention_convention": self.attention,
            "flash_recompute": self.flash,
            "checkpoint": self.checkpoint,
            "selective_recompute": self.selective,
            "label": self.label,
            "forward_flops": self.forward,
            "backward_flops": self.backward,
            "recompute_flops": self.recompute,
            "training_flops": self.training,
            "layers": [{"name": layer.name, "forward_flops": layer.forward, "backward_flops": layer.backward,
                        "recompute_flops": layer.recompute} for layer in self.layers],
        }


def training_compute(report, attention: str = "full", flash: bool = False, checkpoint: bool = False,
                     selective: bool = False) -> TrainingCompute:
    """Per-layer forward, backward and recompute FLOPs of a Report (2 FLOPs per MAC, dot layers)."""
    from archcalc.breakdown import block_of, repeated_block_container
    from archcalc.llm.kv_cache import attention_layers

    attention = check_attention_convention(attention)
    heads = {layer.name: layer for layer in attention_layers(report)}
    container = repeated_block_container([row.name for row in report.rows]) if checkpoint else None
    layers = []
    for row in report.rows:
        if not row.macs:
            continue
        forward = 2 * row.macs
        extra = 0
        layer = heads.get(row.name)
        if layer is not None:
            halve = attention == "causal" and layer.causal
            forward = forward // 2 if halve else forward
            if flash:
                scores = 2 * layer.score_macs * report.batch
                extra += scores // 2 if halve else scores
            if selective and not checkpoint:
                extra += forward
        if checkpoint and block_of(row.name, container) is not None:
            extra += forward
        layers.append(LayerCompute(row.name, forward, 2 * forward, extra))
    return TrainingCompute(attention, flash, checkpoint, tuple(layers), selective and not checkpoint)
