"""Matrix products of two activations (``matmul``, ``@``, ``bmm``).

Shapes are per sample (the batch axis is implied, as everywhere in archcalc),
so both operands carry at least two axes: ``A (..., m, k)`` and
``B (..., k, n)``, leading (batch, head) axes broadcast as in ``torch.matmul``::

    output = broadcast(A[:-2], B[:-2]) + (m, n)
    MACs   = prod(output) * k                      (n_dot = k per output element)
    fvcore = prod(A) * B[-1]                       (``matmul_flop_jit`` / ``bmm_flop_jit``:
                                                    MACs, without broadcasting A)
    torch  = 2 * MACs                              (``torch/utils/flop_counter.py: bmm_flop``)

``aten.baddbmm(C, A, B)`` and ``aten.addmm(C, A, B)`` of two activations are this
product; the ``beta * C`` added to it is not counted (torch's ``baddbmm_flop`` counts
the product alone).

A product with a learned matrix (``x @ self.weight``) is a ``linear`` layer
without bias (see linear.py), not a ``matmul``. Torch: ``a @ b``,
``torch.matmul`` / ``mm`` / ``bmm`` and ``aten.mm`` / ``bmm`` of two
activations; built as a small module calling ``torch.matmul``.
"""

from __future__ import annotations

from functools import cache

from archcalc.errors import LayerError
from archcalc.layers.base import Absent, Family, OpCounts, Rule, ShapeResult, format_shape, keeps_field, prod, register_family
from archcalc.layers.merge import broadcast


def matrix_operands(op: str, in_shapes) -> None:
    """Every operand has at least two axes per sample, or a LayerError."""
    for shape in in_shapes:
        if len(shape) < 2:
            raise LayerError(
                f"{op} needs operands with at least two axes per sample (..., rows, cols), got {format_shape(shape)}"
            )


@cache
def _matmul_module() -> type:
    import torch
    from torch import nn

    class MatMul(nn.Module):
        """``torch.matmul`` of two activations (leading axes broadcast)."""

        def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            return torch.matmul(a, b)

    return MatMul


class MatmulRule(Rule):
    op = "matmul"
    mixes_positions = True
    aliases = ("bmm", "mm", "batched_matmul")
    category = "dot"
    arity = 2
    summary = "matrix product of two activations (..., m, k) @ (..., k, n)"
    rf_step = staticmethod(keeps_field)
    absent = {"explain": "explained from its counts (MACs = output elements * k)"}

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        matrix_operands(self.op, in_shapes)
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

    def to_torch(self, node, factory):
        return _matmul_module()()


def _matmul_fn(call):
    a, b = call.arg(0, "input"), call.arg(1, "other")
    if call.name == "rmatmul":
        a, b = b, a
    if call.is_active(a) and call.is_active(b):
        return [call.spec("matmul", {}, [a, b])]
    return None


def _aten_mm(call):
    a, b = call.args[:2] if call.name in ("mm", "bmm") else call.args[1:3]  # baddbmm, addmm: (C, A, B)
    if call.is_active(a) and call.is_active(b) and len(call.shape(a)) >= 2 and len(call.shape(b)) >= 2:
        return [call.spec("matmul", {}, [a, b])]
    return None


FAMILY = register_family(
    Family(
        name="matmul",
        rules=(MatmulRule,),
        torch_modules=Absent("a product of two activations is written with @ or torch.matmul, not a module"),
        torch_functions=dict.fromkeys(("matmul", "rmatmul", "mm", "bmm"), _matmul_fn),
        spellings={"__matmul__": "matmul", "__rmatmul__": "rmatmul"},
        aten_ops=dict.fromkeys(("mm", "bmm", "baddbmm", "addmm"), _aten_mm),
        names=Absent("pasted summaries list modules; a product of two activations is none"),
    )
)
