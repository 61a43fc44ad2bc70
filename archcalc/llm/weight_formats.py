"""Quantised weights for serving: bytes per weight of each format, scales and zeros counted.

``--weights FORMAT`` stores the linear layers (all but the output head, as GPTQ, AWQ and
bitsandbytes leave it) in a smaller format; embeddings, norms and the head keep the analysis
dtype. Bytes per weight of a linear layer ``out x in``::

    fp8    1                          one scale per tensor (4 B, counted per layer)
    int8   1 + 2 / in                 one fp16 scale per output row (LLM.int8() / per-channel)
    int4   1/2 + (2 + 1/2) / g        group-wise, g = 128: an fp16 scale and a 4-bit zero per group
                                      (GPTQ's qzeros and AWQ's zeros pack 8 per int32)
    nf4    4.127 / 8                  QLoRA's NF4 with double quantisation (Dettmers et al. 2023)

accelerate's ``estimate-memory`` prices int8 at 1 B and int4 at 0.5 B per parameter of the whole
model, without scales or zeros and with the head and embeddings quantised too; archcalc's
figures are larger by those (Frantar et al. 2023, "GPTQ"; Lin et al. 2024, "AWQ").
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from archcalc.errors import InputError

#: int4's group size (GPTQ and AWQ default)
GROUP = 128


@dataclass(frozen=True)
class WeightFormat:
    name: str
    label: str

    def linear_bytes(self, in_features: int, out_features: int) -> Fraction:
        """Bytes of one ``out x in`` weight matrix in this format, scales and zeros included."""
        weights = in_features * out_features
        if self.name == "fp8":
            return Fraction(weights) + 4
        if self.name == "int8":
            return Fraction(weights) + 2 * out_features
        if self.name == "int4":
            groups = out_features * -(-in_features // GROUP)
            return Fraction(weights, 2) + groups * Fraction(5, 2)
        if self.name == "nf4":
            return weights * (Fraction(4, 8) + Fraction(8, 64 * 8) + Fraction(32, 64 * 256 * 8))
        raise AssertionError(self.name)


WEIGHT_FORMATS = {
    "fp8": WeightFormat("fp8", "fp8 (E4M3), a scale per tensor"),
    "int8": WeightFormat("int8", "int8, an fp16 scale per output row"),
    "int4": WeightFormat("int4", f"int4 in groups of {GROUP}, an fp16 scale and a 4-bit zero per group (GPTQ/AWQ)"),
    "nf4": WeightFormat("nf4", "NF4 with double quantisation (bitsandbytes, QLoRA)"),
}


def weight_format(name: str) -> WeightFormat:
    key = name.lower()
    if key not in WEIGHT_FORMATS:
        raise InputError(f"--weights must be one of {', '.join(WEIGHT_FORMATS)}, got {name!r}")
    return WEIGHT_FORMATS[key]


def _stored(linear, fmt: WeightFormat, bytes_per_element: int) -> Fraction:
    one = fmt.linear_bytes(linear.in_features, linear.out_features)
    if linear.bias:
        one += linear.out_features * bytes_per_element
    return linear.count * one


def quantised_rates(layout, fmt: WeightFormat, bytes_per_element: int) -> dict[str, Fraction]:
    """Module name -> bytes per parameter of its quantised weights in ``fmt`` (a bias stays in the
    analysis dtype; a mixture-of-experts module's stacked experts are quantised too); the output
    head is not quantised. Keys are the linear module's name (and an experts module's)."""
    stored: dict[str, Fraction] = {}
    params: dict[str, int] = {}
    for linear in layout.linears:
        if linear.head:
            continue
        owner = linear.name.rsplit(".", 1)[0] if linear.count > 1 else linear.name
        stored[owner] = stored.get(owner, Fraction(0)) + _stored(linear, fmt, bytes_per_element)
        params[owner] = params.get(owner, 0) + linear.params
    return {name: stored[name] / params[name] for name in stored}


def rate_of(row_name: str, rates: dict[str, Fraction]) -> Fraction | None:
    """The quantised bytes per parameter of a report row: its own module's, or the module it lies under."""
    name = row_name
    while name:
        if name in rates:
            return rates[name]
        if "." not in name:
            return None
        name = name.rsplit(".", 1)[0]
    return None


def quantised_weight_bytes(layout, fmt: WeightFormat, bytes_per_element: int) -> Fraction:
    """All parameters: the quantised linear layers plus the rest in the analysis dtype."""
    quantised = [linear for linear in layout.linears if not linear.head]
    total = sum((_stored(linear, fmt, bytes_per_element) for linear in quantised), Fraction(0))
    return total + (layout.total_params - sum(linear.params for linear in quantised)) * bytes_per_element
