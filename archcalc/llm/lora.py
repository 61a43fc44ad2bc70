"""LoRA and QLoRA fine-tuning: trainable adapter parameters and the frozen base's bytes.

LoRA (Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models") freezes the base
weights and adds to each targeted linear layer ``W (out x in)`` two trainable matrices
``A (r x in)`` and ``B (out x r)``::

    adapter parameters = sum over targeted layers of r x (in + out)

Targets name the layers by the last part of their name (``q_proj``, ``v_proj``), or
``all-linear``: every linear layer but the output head, as PEFT's ``target_modules="all-linear"``.

QLoRA (Dettmers et al. 2023, "QLoRA: Efficient Finetuning of Quantized LLMs", section 3) keeps
the frozen base's linear layers in 4-bit NormalFloat (NF4) with double quantisation: one 8-bit
absmax per block of 64 weights, and one fp32 constant per 256 of those::

    bits per weight = 4 + 8/64 + 32/(64 x 256) = 4.127

The output head, embeddings and norms stay in bf16 (bitsandbytes quantises the linear layers).
The adapters are trained in the plan's precision; only they have gradients and optimizer state.

``--lora r=16,targets=q_proj,v_proj`` (default ``targets=all-linear``), ``base=nf4`` for QLoRA.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from archcalc.errors import InputError

#: bytes per weight of a frozen base in each format (NF4: QLoRA's double-quantised 4.127 bits)
BASE_BYTES: dict[str, Fraction] = {
    "nf4": Fraction(4, 8) + Fraction(8, 64 * 8) + Fraction(32, 64 * 256 * 8),
    "int8": Fraction(1),
    "bf16": Fraction(2),
    "fp16": Fraction(2),
    "fp32": Fraction(4),
}


@dataclass(frozen=True)
class LoRASpec:
    """What ``--lora`` asked: the rank, the targets and the base weights' format (None: the plan's)."""

    rank: int
    targets: tuple[str, ...] = ("all-linear",)
    base: str | None = None

    @property
    def label(self) -> str:
        kind = "QLoRA" if self.base == "nf4" else "LoRA"
        return f"{kind} r={self.rank}, targets {','.join(self.targets)}" + (f", base {self.base}" if self.base else "")


def parse_lora(text: str) -> LoRASpec:
    """``r=16,targets=q_proj,v_proj,base=nf4``: a name after ``targets=`` and before the next
    ``key=`` is one more target."""
    rank, targets, base = None, [], None
    current = None
    for part in [p.strip() for p in text.split(",") if p.strip()]:
        key, sep, value = part.partition("=")
        if sep:
            current = key.strip().lower()
            value = value.strip()
            if current == "r":
                if not value.isdigit() or int(value) < 1:
                    raise InputError(f"--lora r must be a whole number >= 1, got {value!r}")
                rank = int(value)
            elif current == "targets":
                targets.append(value)
            elif current == "base":
                if value.lower() not in BASE_BYTES:
                    raise InputError(f"--lora base must be one of {', '.join(BASE_BYTES)}, got {value!r}")
                base = value.lower()
            else:
                raise InputError(f"--lora takes r=, targets= and base=, not {key!r}",
                                 hint="e.g. --lora r=16,targets=q_proj,v_proj or --lora r=64,base=nf4 (QLoRA)")
        elif current == "targets":
            targets.append(part)
        else:
            raise InputError(f"--lora: {part!r} has no key (r=, targets= or base=)")
    if rank is None:
        raise InputError("--lora needs a rank: r=16")
    return LoRASpec(rank, tuple(targets) or ("all-linear",), base)


@dataclass(frozen=True)
class LoRAPlan:
    """The adapters of a spec on a model: their parameters and the frozen base's bytes."""

    spec: LoRASpec
    adapted_layers: int
    adapter_params: int
    #: frozen base parameters: in quantisable linear layers, and the rest (head, embeddings, norms)
    base_linear_params: int
    base_other_params: int

    def base_bytes(self, plan_weight_bytes: int) -> Fraction:
        """The frozen base: its linear layers in the spec's format (or the plan's weight bytes),
        the rest in the plan's weight bytes (QLoRA keeps them in bf16: 2 B)."""
        if self.spec.base is None:
            return Fraction((self.base_linear_params + self.base_other_params) * plan_weight_bytes)
        other = 2 if self.spec.base == "nf4" else plan_weight_bytes
        return self.base_linear_params * BASE_BYTES[self.spec.base] + self.base_other_params * other


def lora_plan(layout, spec: LoRASpec) -> LoRAPlan:
    """Adapters on the targeted linear layers of a :class:`~archcalc.llm.parameter_layout.ParameterLayout`."""
    everything = "all-linear" in spec.targets
    chosen = [linear for linear in layout.linears if not linear.head and linear.count == 1 and (
        everything or linear.name.rsplit(".", 1)[-1] in spec.targets)]
    if not chosen:
        names = sorted({linear.name.rsplit(".", 1)[-1] for linear in layout.linears if not linear.head})
        raise InputError(f"--lora targets {','.join(spec.targets)} match no linear layer",
                         hint=f"this model's linear layers: {', '.join(names[:12])} (or all-linear)")
    adapters = sum(spec.rank * (linear.in_features + linear.out_features) for linear in chosen)
    linear = layout.linear_params
    return LoRAPlan(spec, len(chosen), adapters, linear, layout.total_params - linear)
