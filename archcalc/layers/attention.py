"""Scaled dot-product attention (``torch.nn.functional.scaled_dot_product_attention``).

``Q (..., L, E)``, ``K (..., S, E)``, ``V (..., S, Ev)``, ``P = prod(Q[:-2])``
(batch and heads per sample; keys and values may have fewer heads, GQA)::

    output  = Q[:-1] + (Ev,)
    MACs    = P * L * S * E  (scores Q K^T)  +  P * L * S * Ev  (weights x V)
    scale   = P * L * S muls, softmax = P * L * S (1 exp + 1 add + 1 div)
    fvcore  = 0                                    (``aten::scaled_dot_product_attention``
                                                    has no handle in fvcore: unsupported)
    torch   = 2 * MACs                             (``flop_counter.sdpa_flop_count``, the formula of
                                                    torch's CUDA kernels and of its math path; on the
                                                    CPU the fused ``_scaled_dot_product_flash_attention_for_cpu``
                                                    has no formula and FlopCounterMode counts 0)

With ``heads: h`` (specs), Q, K and V are token-shaped ``(L, h * E)``, ``(S, g * E)``,
``(S, g * Ev)`` and split into heads inside the layer (``g`` key/value heads: ``g = h``
multi-head, ``1 < g < h`` grouped-query, ``g = 1`` multi-query attention); the output is
``(L, h * Ev)`` and the counts are those of the per-head form.

``causal`` marks decoder (masked) attention: every output says causal or full. The
counts above are the full ``L x S`` products, as torch's counter and Megatron-LM count
them; :mod:`archcalc.llm.compute` gives the causal-halved convention (MaxText) and
FlashAttention's recompute.

Attention is a dot-product layer (category ``dot``): conventions count its
MACs; the scale and softmax operations appear in the primitive counts. Torch:
``F.scaled_dot_product_attention`` and the aten attention kernels; built as a
small module calling it (``enable_gqa`` when K and V have fewer heads).
"""

from __future__ import annotations

from functools import cache

from archcalc.errors import LayerError
from archcalc.layers.base import Absent, Family, OpCounts, Rule, ShapeResult, format_shape, prod, register_family
from archcalc.layers.matmul import matrix_operands


@cache
def _attention_module() -> type:
    import torch
    from torch import nn

    class Attention(nn.Module):
        """``F.scaled_dot_product_attention(q, k, v)``; fewer key/value heads than query heads is GQA."""

        def __init__(self, causal: bool = False, scale: float | None = None, heads: int | None = None) -> None:
            super().__init__()
            self.causal = causal
            self.scale = scale
            self.heads = heads

        def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
            if self.heads is not None:  # token-shaped (N, L, h * E): split the heads, attend, merge them
                groups = k.shape[-1] // (q.shape[-1] // self.heads)
                q = q.unflatten(-1, (self.heads, -1)).transpose(1, 2)
                k, v = (t.unflatten(-1, (groups, -1)).transpose(1, 2) for t in (k, v))
                out = self._attend(q, k, v)
                return out.transpose(1, 2).flatten(2)
            return self._attend(q, k, v)

        def _attend(self, q, k, v):
            extra = {}
            if q.dim() > 3 and k.shape[-3] != q.shape[-3]:
                extra["enable_gqa"] = True
            return nn.functional.scaled_dot_product_attention(
                q, k, v, is_causal=self.causal, scale=self.scale, **extra
            )

        def extra_repr(self) -> str:
            return f"causal={self.causal}, scale={self.scale}, heads={self.heads}"

    return Attention


class AttentionRule(Rule):
    op = "attention"
    mixes_positions = True
    aliases = ("sdpa", "scaled_dot_product_attention")
    category = "dot"
    arity = 3
    keys = {"causal": False, "scale": None, "heads": None}
    key_aliases = {"is_causal": "causal", "num_heads": "heads"}
    joins_branches = True
    summary = "scaled dot-product attention softmax(Q K^T * scale) V"
    profiled = False  # the fused kernels report no FLOPs to torch.profiler
    absent = {
        "rf": "attention mixes tokens, not pixels: it has no spatial receptive field (passed on unchanged)",
        "explain": "explained from its counts (MACs = heads * L * S * (E + Ev))",
    }

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        matrix_operands(self.op, in_shapes)
        if attrs["heads"] is not None:
            heads = attrs["heads"]
            if isinstance(heads, bool) or not isinstance(heads, int) or heads < 1:
                raise LayerError(f"attention heads must be a whole number >= 1, got {heads!r}")
            q, k, v = in_shapes
            if len(q) != 2 or len(k) != 2 or len(v) != 2:
                raise LayerError(f"attention with heads takes token-shaped Q, K, V (L, h * E); got "
                                 f"{format_shape(q)}, {format_shape(k)}, {format_shape(v)}")
            width = q[-1] // heads
            if q[-1] % heads or k[-1] % max(width, 1) or v[-1] % max(k[-1] // max(width, 1), 1):
                raise LayerError(f"attention: Q width {q[-1]} does not split into {heads} heads that K "
                                 f"{format_shape(k)} and V {format_shape(v)} share")
        attrs["causal"] = bool(attrs["causal"])
        q, k, v = self.per_head(attrs, in_shapes)
        if q[-1] != k[-1] or k[-2] != v[-2] or (len(k) > 2 and q[-3] % k[-3]):
            raise LayerError(
                f"attention needs Q (..., L, E), K (..., S, E), V (..., S, Ev); got Q {format_shape(q)}, "
                f"K {format_shape(k)}, V {format_shape(v)}"
            )
        return attrs

    def per_head(self, attrs, in_shapes):
        """Q, K, V as ``(heads, L, E)``: the token-shaped form (``heads`` given) split into its heads."""
        q, k, v = in_shapes
        heads = attrs.get("heads")
        if heads is None:
            return q, k, v
        width = q[-1] // heads
        groups = k[-1] // width
        return (heads, q[0], width), (groups, k[0], width), (groups, v[0], v[-1] // groups)

    def kv_heads(self, attrs, in_shapes) -> tuple[int, int, int, int, int]:
        """(query heads, key/value heads, key width E, value width Ev, keys S) of one call:
        what a KV cache of this layer holds per token is ``kv heads * (E + Ev)`` values."""
        q, k, v = self.per_head(attrs, in_shapes)
        query_heads = prod(q[:-2])
        kv = prod(k[:-2]) if len(k) > 2 else query_heads
        return query_heads, kv, k[-1], v[-1], k[-2]

    def short_text(self, attrs) -> str:
        return "attn causal" if attrs.get("causal") else "attn full"

    def output_shape(self, attrs, in_shapes):
        q, _, v = in_shapes
        if attrs.get("heads") is not None:
            _, _, (groups, _, ev) = self.per_head(attrs, in_shapes)
            return ShapeResult((q[0], attrs["heads"] * ev))
        return ShapeResult(tuple(q[:-1]) + (v[-1],))

    def ops(self, attrs, in_shapes, out_shape):
        q, k, v = self.per_head(attrs, in_shapes)
        heads = prod(q[:-2])
        length, source, e, ev = q[-2], k[-2], q[-1], v[-1]
        scores = heads * length * source
        macs = scores * (e + ev)
        return OpCounts(
            macs=macs,
            dot_outputs=scores + heads * length * ev,
            muls=scores,
            exps=scores,
            adds=scores,
            divs=scores,
            fvcore=0,
            torch=2 * macs,
        )

    def to_torch(self, node, factory):
        return _attention_module()(causal=node.attrs["causal"], scale=node.attrs.get("scale"),
                                   heads=node.attrs.get("heads"))


def _sdpa_fn(call):
    q, k, v = call.arg(0, "query"), call.arg(1, "key"), call.arg(2, "value")
    if not all(call.is_active(t) for t in (q, k, v)):
        return None
    args = {"causal": bool(call.arg(5, "is_causal", False)), "scale": call.arg(6, "scale", None)}
    return [call.spec("attention", args, [q, k, v])]


def _aten_sdpa(call):
    q, k, v = call.args[:3]
    if not all(call.is_active(t) for t in (q, k, v)):
        return None
    return [call.spec("attention", {}, [q, k, v], out=call.outputs()[0])]


FAMILY = register_family(
    Family(
        name="attention",
        rules=(AttentionRule,),
        torch_modules=Absent("nn.MultiheadAttention is captured op by op (its projections, matmuls and softmax)"),
        torch_functions={"scaled_dot_product_attention": _sdpa_fn},
        aten_ops=dict.fromkeys(
            (
                "_scaled_dot_product_flash_attention_for_cpu",
                "_scaled_dot_product_efficient_attention",
                "_scaled_dot_product_flash_attention",
                "_scaled_dot_product_cudnn_attention",
            ),
            _aten_sdpa,
        ),
        names=Absent("pasted summaries name attention modules, whose rows hold projections archcalc splits"),
        roles={"scaled_dot_product": "attention"},
    )
)
