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

For a live model the heads, masking, sliding window, cross-attention and multi-head latent
attention come from its modules and config (:mod:`archcalc.llm.attention_reading`): a window
of ``W`` tokens caps a layer's positions at ``min(tokens, W)``; a cross-attention layer caches
the encoder's tokens once; an MLA layer caches its latent (``kv_lora_rank + qk_rope_head_dim``
values per token) instead of ``g x (E + Ev)``.
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
    #: sliding window in tokens: the cache keeps at most this many positions (None: all)
    window: int | None = None
    #: cross-attention: attends to the encoder's tokens, whose keys and values it caches once
    cross: bool = False
    #: cached values per token when they are a latent shared by the heads (MLA), else None
    latent: int | None = None

    @property
    def kind(self) -> str:
        """MHA, GQA or MQA, from the key/value heads (MLA for a latent cache)."""
        if self.latent is not None:
            return "MLA"
        if self.kv_heads == self.query_heads:
            return "MHA"
        return "MQA" if self.kv_heads == 1 else "GQA"

    @property
    def values_per_token(self) -> int:
        """Cached values per token and sequence: ``g x (E + Ev)``, or the latent's width (MLA)."""
        if self.latent is not None:
            return self.latent
        return self.kv_heads * (self.key_width + self.value_width)

    def cached_positions(self, tokens: int, encoder_tokens: int | None = None) -> int:
        """Positions the cache holds at ``tokens`` of context: ``min(tokens, window)``; a
        cross-attention layer holds the encoder's tokens."""
        if self.cross:
            return encoder_tokens if encoder_tokens is not None else tokens
        return min(tokens, self.window) if self.window else tokens

    @property
    def label(self) -> str:
        if self.cross:
            return "cross"
        if self.causal and self.window:
            return f"causal, window {self.window:,}"
        return "causal" if self.causal else "full"


def attention_layers(report, modules=None) -> list[AttentionLayer]:
    """Every attention row of a Report, with its heads (read by the attention rule itself).

    ``modules``: the :class:`~archcalc.llm.attention_reading.AttentionModule` list of a live
    model. Then heads, masking, window and cross-attention are the module's (the kernel call
    can hide them: expanded K/V heads, an explicit mask), and a module that ran no attention
    kernel the capture saw (Gemma-2's soft-capped scores are plain matmuls) is a layer too.
    """
    from archcalc.layers import get_rule, role

    op = role(ATTENTION_ROLE)
    rule = get_rule(op)
    layers = []
    covered = set()
    from_modules = modules or []
    for row in report.rows:
        if row.op != op:
            continue
        query_heads, kv_heads, e, ev, source = rule.kv_heads(row.attrs, row.input_shapes)
        per_sample = row.macs // token_axes(report)[0]
        layer = AttentionLayer(row.name, bool(row.attrs.get("causal")), query_heads, kv_heads, e, ev,
                               per_sample, per_sample * e // (e + ev))
        owner = _owner(row.name, from_modules)
        if owner is not None:
            covered.add(owner.name)
            layer = _as_module(layer, owner)
        layers.append(layer)
    for owner in from_modules:
        if owner.name not in covered:
            layers.append(_as_module(AttentionLayer(owner.name, owner.causal, owner.query_heads, owner.kv_heads,
                                                    owner.key_width, owner.value_width, 0, 0), owner))
    return layers


def _owner(row_name: str, modules):
    from archcalc.llm.attention_reading import module_of

    return module_of(row_name, modules) if modules else None


def _as_module(layer: AttentionLayer, owner) -> AttentionLayer:
    from dataclasses import replace

    return replace(layer, causal=owner.causal, query_heads=owner.query_heads, kv_heads=owner.kv_heads,
                   key_width=owner.key_width, value_width=owner.value_width, window=owner.window, cross=owner.cross,
                   latent=owner.latent)


@dataclass(frozen=True)
class KVCache:
    """The cache of ``tokens`` tokens for ``batch`` sequences, per causal attention layer."""

    tokens: int
    batch: int
    dtype: str
    bytes_per_element: Fraction
    layers: tuple[AttentionLayer, ...]
    #: the encoder's tokens a cross-attention layer caches (encoder-decoder models)
    encoder_tokens: int | None = None

    def layer_bytes(self, layer: AttentionLayer) -> Fraction:
        """``batch x positions x g x (E + Ev) x bytes``: positions = ``min(tokens, window)``, or
        the encoder's tokens for cross-attention."""
        positions = layer.cached_positions(self.tokens, self.encoder_tokens)
        return self.batch * positions * layer.values_per_token * self.bytes_per_element

    @property
    def total_bytes(self) -> Fraction:
        return sum((self.layer_bytes(layer) for layer in self.layers), Fraction(0))

    @property
    def per_token_bytes(self) -> Fraction:
        """Bytes one more token adds to one sequence's self-attention cache, all layers (before any
        sliding window is full)."""
        return sum((layer.values_per_token * self.bytes_per_element for layer in self.layers if not layer.cross),
                   Fraction(0))

    @property
    def windowed(self) -> tuple[AttentionLayer, ...]:
        """The layers whose window caps the cache at this context."""
        return tuple(layer for layer in self.layers if layer.window and not layer.cross and self.tokens > layer.window)

    @property
    def kinds(self) -> str:
        found = sorted({layer.kind for layer in self.layers})
        return "/".join(found) if found else "none"

    def to_dict(self) -> dict[str, Any]:
        return {
            "tokens": self.tokens,
            "encoder_tokens": self.encoder_tokens,
            "batch": self.batch,
            "dtype": self.dtype,
            "bytes_per_element": float(self.bytes_per_element),
            "total_bytes": float(self.total_bytes),
            "per_token_bytes": float(self.per_token_bytes),
            "layers": [
                {"name": layer.name, "masking": layer.label, "kind": layer.kind, "query_heads": layer.query_heads,
                 "kv_heads": layer.kv_heads, "key_width": layer.key_width, "value_width": layer.value_width,
                 "window": layer.window, "cross": layer.cross, "latent": layer.latent,
                 "positions": layer.cached_positions(self.tokens, self.encoder_tokens),
                 "bytes": float(self.layer_bytes(layer))}
                for layer in self.layers
            ],
        }


def kv_cache(report, tokens: int, batch: int, dtype: str, layers=None, encoder_tokens: int | None = None) -> KVCache:
    """The KV cache of the report's causal attention layers at ``tokens`` of context, and of the
    cross-attention layers of an encoder-decoder (``encoder_tokens`` each). ``layers``: the
    :func:`attention_layers` already read (with a live model's modules)."""
    name, per = kv_dtype_bytes(dtype)
    layers = attention_layers(report) if layers is None else layers
    cached = tuple(layer for layer in layers if layer.causal or layer.cross)
    return KVCache(tokens, batch, name, per, cached, encoder_tokens)
