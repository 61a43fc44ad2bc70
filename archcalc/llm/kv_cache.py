"""The key/value cache of autoregressive decoding, per attention layer and in total.

While a decoder generates, each attention layer keeps the keys and values of every
token seen so far, for every sequence of the batch. For one layer with ``g``
key/value heads of widths ``E`` (keys) and ``Ev`` (values)::

    KV bytes = batch x tokens x g x (E + Ev) x bytes per element

which is the usual ``2 x batch x tokens x g x d x bytes`` when ``E = Ev = d``. The
number of key/value heads tells the kind of attention (Shazeer 2019, "Fast Transformer
Decoding: One Write-Head is All You Need"; Ainslie et al. 2023, "GQA"): ``g`` equal
to the query heads is multi-head attention (MHA), ``g = 1`` multi-query (MQA),
anything between grouped-query (GQA). Heads and widths are read off each attention
layer of the analysed graph (its K and V operands), so the model itself says what
it caches. Only causal (decoder) attention layers decode token by token; an
encoder's full attention has no cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from archcalc.errors import InputError

#: bytes per cached element by the dtype names ``--kv-dtype`` takes
KV_DTYPE_BYTES: dict[str, Fraction] = {
    "float32": Fraction(4),
    "float16": Fraction(2),
    "bfloat16": Fraction(2),
    "float8": Fraction(1),
    "int8": Fraction(1),
    "int4": Fraction(1, 2),
}
#: the registry role of the attention op
ATTENTION_ROLE = "scaled_dot_product"
_KV_ALIASES = {"fp32": "float32", "fp16": "float16", "half": "float16", "bf16": "bfloat16", "fp8": "float8"}


def kv_dtype_bytes(dtype: str) -> tuple[str, Fraction]:
    name = _KV_ALIASES.get(dtype.lower(), dtype.lower())
    if name not in KV_DTYPE_BYTES:
        raise InputError(f"unknown KV cache dtype {dtype!r} (choose from {', '.join(KV_DTYPE_BYTES)})")
    return name, KV_DTYPE_BYTES[name]


def token_axes(report) -> tuple[int, int, int]:
    """(sequences, tokens per sequence, the batch multiplier of the report's per-sample shapes).

    A token model's report is per sequence (input ``(T,)``, shapes times ``batch``), unless its
    forward mixes the sequences (a mixture-of-experts router sorts every token of the batch
    together): then it was analysed as a whole batch, its input is ``(batch, T)`` and its shapes
    hold the batch already (multiplier 1).
    """
    shape = tuple(report.input_shape or (1,))
    whole = any(getattr(w, "kind", None) == "whole batch" for w in report.warnings)
    if whole and len(shape) >= 2:
        return shape[0], shape[1], 1
    return report.batch, shape[0], report.batch


@dataclass(frozen=True)
class AttentionLayer:
    """One attention layer as a cache sees it."""

    name: str
    causal: bool
    query_heads: int
    kv_heads: int
    key_width: int
    value_width: int
    #: MACs of the row (the full L x S products) and how many of them form the scores Q K^T
    macs: int
    score_macs: int

    @property
    def kind(self) -> str:
        """MHA, GQA or MQA, from the key/value heads."""
        if self.kv_heads == self.query_heads:
            return "MHA"
        return "MQA" if self.kv_heads == 1 else "GQA"

    @property
    def values_per_token(self) -> int:
        """Cached values per token and sequence: ``g x (E + Ev)``."""
        return self.kv_heads * (self.key_width + self.value_width)

    @property
    def label(self) -> str:
        return "causal" if self.causal else "full"


def attention_layers(report) -> list[AttentionLayer]:
    """Every attention row of a Report, with its heads (read by the attention rule itself)."""
    from archcalc.layers import get_rule, role

    op = role(ATTENTION_ROLE)
    rule = get_rule(op)
    layers = []
    for row in report.rows:
        if row.op != op:
            continue
        query_heads, kv_heads, e, ev, source = rule.kv_heads(row.attrs, row.input_shapes)
        per_sample = row.macs // token_axes(report)[0]
        layers.append(AttentionLayer(row.name, bool(row.attrs.get("causal")), query_heads, kv_heads, e, ev,
                                     per_sample, per_sample * e // (e + ev)))
    return layers


@dataclass(frozen=True)
class KVCache:
    """The cache of ``tokens`` tokens for ``batch`` sequences, per causal attention layer."""

    tokens: int
    batch: int
    dtype: str
    bytes_per_element: Fraction
    layers: tuple[AttentionLayer, ...]

    def layer_bytes(self, layer: AttentionLayer) -> Fraction:
        """``batch x tokens x g x (E + Ev) x bytes``."""
        return self.batch * self.tokens * layer.values_per_token * self.bytes_per_element

    @property
    def total_bytes(self) -> Fraction:
        return sum((self.layer_bytes(layer) for layer in self.layers), Fraction(0))

    @property
    def per_token_bytes(self) -> Fraction:
        """Bytes one more token adds to one sequence's cache, all layers."""
        return sum((layer.values_per_token * self.bytes_per_element for layer in self.layers), Fraction(0))

    @property
    def kinds(self) -> str:
        found = sorted({layer.kind for layer in self.layers})
        return "/".join(found) if found else "none"

    def to_dict(self) -> dict[str, Any]:
        return {
            "tokens": self.tokens,
            "batch": self.batch,
            "dtype": self.dtype,
            "bytes_per_element": float(self.bytes_per_element),
            "total_bytes": float(self.total_bytes),
            "per_token_bytes": float(self.per_token_bytes),
            "layers": [
                {"name": layer.name, "masking": layer.label, "kind": layer.kind, "query_heads": layer.query_heads,
                 "kv_heads": layer.kv_heads, "key_width": layer.key_width, "value_width": layer.value_width,
                 "bytes": float(self.layer_bytes(layer))}
                for layer in self.layers
            ],
        }


def kv_cache(report, tokens: int, batch: int, dtype: str) -> KVCache:
    """The KV cache of the report's causal attention layers at ``tokens`` of context."""
    name, per = kv_dtype_bytes(dtype)
    causal = tuple(layer for layer in attention_layers(report) if layer.causal)
    return KVCache(tokens, batch, name, per, causal)
