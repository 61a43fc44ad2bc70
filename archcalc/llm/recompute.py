"""Activation recompute plans and the per-layer activation formulas of Korthikanti et al. 2022.

Korthikanti, Casper, Lym, McAfee, Andersch, Shoeybi and Catanzaro, "Reducing Activation
Recomputation in Large Transformer Models" (MLSys 2023, arXiv:2205.05198), Table 2: the bytes
of activations one transformer layer keeps for backward, in 16-bit floats with 1-byte dropout
masks, for ``s`` tokens, micro-batch ``b``, width ``h``, ``a`` heads and tensor-parallel size
``t``::

    no parallelism                          s b h (34 + 5 a s / h)
    tensor parallel                         s b h (10 + 24 / t + 5 a s / (h t))
    tensor + sequence parallel              s b h (34 / t + 5 a s / (h t))
    tensor parallel + selective recompute   s b h (10 + 24 / t)
    tensor + sequence + selective recompute s b h (34 / t)
    full recompute                          s b h (2)          (each layer's input only)

``5 a s^2 b`` is the attention core: the softmax (2 a s^2 b), its dropout mask (a s^2 b) and
the dropped probabilities (2 a s^2 b). *Selective* recompute keeps the inputs of the core
(Q, K and V) and recomputes ``Q K^T``, the softmax, its dropout and the product with V in
backward; *full* recompute keeps each layer's input and recomputes the whole layer (Chen et
al. 2016). The ``34 s b h`` that remains: layer norms' inputs 4, the QKV input 2, Q and K 4,
V 2, the projection's input 2, two dropout masks 2, the MLP's first input 2, the GELU's input
8, the MLP's second input 8 (section 4.1).

archcalc measures what a model's own code saves (:mod:`archcalc.llm.saved_tensors`) and uses
these formulas only as ratios: tensor / sequence parallelism scales the measured per-block
activations by ``row(plan, t) / row(plan, 1)`` of the matching recompute plan.
"""

from __future__ import annotations

from fractions import Fraction

from archcalc.errors import InputError

#: --recompute: what a training step keeps of each repeated block
RECOMPUTE = {
    "none": "no recompute: every saved tensor kept",
    "selective": "selective recompute (Korthikanti et al. 2022): the attention core (Q K^T, softmax, its dropout, "
                 "the product with V) recomputed in backward, its inputs Q, K, V kept",
    "full": "full recompute per block (activation checkpointing): each block's input kept, one block recomputed "
            "at a time",
}


def check_recompute(name: str) -> str:
    key = str(name).strip().lower()
    if key not in RECOMPUTE:
        raise InputError(f"--recompute must be one of {', '.join(RECOMPUTE)}, got {name!r}")
    return key


def layer_activation_bytes(s: int, b: int, h: int, a: int, *, t: int = 1, sp: bool = False,
                           recompute: str = "none") -> Fraction:
    """Bytes one transformer layer keeps for backward (Korthikanti et al. 2022, Table 2; see the
    module docstring). ``sp`` (sequence parallelism) needs ``t > 1`` to change anything."""
    recompute = check_recompute(recompute)
    sbh = Fraction(s * b * h)
    core = Fraction(5 * a * s, h * t)
    if recompute == "full":
        return 2 * sbh
    if t > 1 and sp:
        linear = Fraction(34, t)
    elif t > 1:
        linear = 10 + Fraction(24, t)
    else:
        linear = Fraction(34)
    return sbh * (linear if recompute == "selective" else linear + core)


def parallel_ratio(heads: int, tokens: int, hidden: int, t: int, sp: bool, recompute: str = "none") -> Fraction:
    """Per-layer activations with tensor (and sequence) parallelism ``t`` over those without, under the
    same recompute plan (``layer_activation_bytes(..., t) / layer_activation_bytes(..., 1)``). Full
    recompute keeps each layer's input: split along the sequence with ``sp`` (``1 / t``), whole without."""
    if t == 1:
        return Fraction(1)
    if recompute == "full":
        return Fraction(1, t) if sp else Fraction(1)
    split = layer_activation_bytes(tokens, 1, hidden, heads, t=t, sp=sp, recompute=recompute)
    return split / layer_activation_bytes(tokens, 1, hidden, heads, recompute=recompute)
