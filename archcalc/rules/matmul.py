"""Matrix products of two activations (``matmul``, ``@``, ``bmm``) and attention.

Shapes are per sample (the batch axis is implied, as everywhere in archcalc),
so both operands of ``matmul`` carry at least two axes: ``A (..., m, k)`` and
``B (..., k, n)``, leading (batch, head) axes broadcast as in ``torch.matmul``::

    output = broadcast(A[:-2], B[:-2]) + (m, n)
    MACs   = prod(output) * k                      (n_dot = k per output element)
    fvcore = prod(A) * B[-1]                       (``matmul_flop_jit`` / ``bmm_flop_jit``:
                                                    MACs, without broadcasting A)
    torch  = 2 * MACs                              (``torch/utils/flop_counter.py: bmm_flop``)

A product with a learned matrix (``x @ self.weight``) is a ``linear`` layer
without bias, not a ``matmul``.

Scaled dot-product attention (``torch.nn.functional.scaled_dot_product_attention``),
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
MACs; the scale and softmax operations appear in the primitive counts.
"""

from __future__ import annotations

from archcalc.errors import LayerError
from archcalc.rules.base import OpCounts, Rule, ShapeResult, format_shape, prod, register
from archcalc.rules.merge import broadcast


def _matrix_operands(op: str, in_shapes) -> None:
    for shape in in_shapes:
        if len(shape) < 2:
            raise LayerError(
                f"{op} needs operands with at least two axes per sample (..., rows, cols), got {format_shape(shape)}"
            )


@register
class MatmulRule(Rule):
    op = "matmul"
    aliases = ("bmm", "mm", "batched_matmul")
    category = "dot"
    arity = 2
    summary = "matrix product of two activations (..., m, k) @ (..., k, n)"

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        _matrix_operands(self.op, in_shapes)
        a, b = in_shapes
        if a[-1] != b[-2]:
            raise LayerError(
                f"matmul needs A's columns to equal B's rows: {format_shape(a)} @ {format_shape(b)} "
                f"({a[-1]} != {b[-2]})"
            )
        return attrs

    def output_shape(self, attrs, in_shapes):
        a, b = in_shapes
        lead = broadcast([a[:-2], b[:-2]])
        return ShapeResult(tuple(lead) + (a[-2], b[-1]))

    def ops(self, attrs, in_shapes, out_shape):
        a, b = in_shapes
        outputs = prod(out_shape)
        macs = outputs * a[-1]
        return OpCounts(macs=macs, dot_outputs=outputs, fvcore=prod(a) * b[-1], torch=2 * macs)


@register
class AttentionRule(Rule):
    op = "attention"
    aliases = ("sdpa", "scaled_dot_product_attention")
    category = "dot"
    arity = 3
    keys = {"causal": False, "scale": None}
    key_aliases = {"is_causal": "causal"}
    summary = "scaled dot-product attention softmax(Q K^T * scale) V"

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        _matrix_operands(self.op, in_shapes)
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
