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

        def __init__(self, causal: bool = False, scale: float | None = None) -> None:
            super().__init__()
            self.causal = causal
            self.scale = scale

        def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
            extra = {}
            if q.dim() > 3 and k.shape[-3] != q.shape[-3]:
                extra["enable_gqa"] = True
            return nn.functional.scaled_dot_product_attention(
                q, k, v, is_causal=self.causal, scale=self.scale, **extra
            )

        def extra_repr(self) -> str:
            return f"causal={self.causal}, scale={self.scale}"

    return Attention


class AttentionRule(Rule):
    op = "attention"
    aliases = ("sdpa", "scaled_dot_product_attention")
    category = "dot"
    arity = 3
    keys = {"causal": False, "scale": None}
    key_aliases = {"is_causal": "causal"}
    summary = "scaled dot-product attention softmax(Q K^T * scale) V"
    profiled = False  # the fused kernels report no FLOPs to torch.profiler
    absent = {
        "rf": "attention mixes tokens, not pixels: it has no spatial receptive field (passed on unchanged)",
        "explain": "explained from its counts (MACs = heads * L * S * (E + Ev))",
    }

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        matrix_operands(self.op, in_shapes)
        q, k, v = in_shapes
        if q[-1] != k[-1] or k[-2] != v[-2]:
            raise LayerError(
                f"attention needs Q (..., L, E), K (..., S, E), V (..., S, Ev); got Q {format_shape(q)}, "
                f"K {format_shape(k)}, V {format_shape(v)}"
            )
        attrs["causal"] = bool(attrs["causal"])
        return attrs

    def output_shape(self, attrs, in_shapes):
        q, _, v = in_shapes
        return ShapeResult(tuple(q[:-1]) + (v[-1],))

    def ops(self, attrs, in_shapes, out_shape):
        q, k, v = in_shapes
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
        return _attention_module()(causal=node.attrs["causal"], scale=node.attrs.get("scale"))


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
    )
)
