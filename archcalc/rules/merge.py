"""Merging branches: element-wise add (residual), multiply (squeeze-excitation), concat.

With ``m`` inputs broadcast to an output of ``N`` elements (NumPy / PyTorch
broadcasting rules)::

    add:    (m - 1) * N adds
    mul:    (m - 1) * N muls
    concat: no operations; all axes but ``axis`` (channels by default) must agree

Neither fvcore (``aten::add`` unsupported, ``aten::cat`` ignored) nor PyTorch's
flop counter counts these.
"""

from __future__ import annotations

from archcalc.errors import LayerError, SpecError
from archcalc.rules.base import OpCounts, Rule, ShapeResult, format_shape, prod, register


def broadcast(shapes) -> tuple[int, ...]:
    """Broadcast per-sample shapes right-aligned, as PyTorch does; LayerError if impossible."""
    rank = max(len(s) for s in shapes)
    padded = [(1,) * (rank - len(s)) + tuple(s) for s in shapes]
    out = []
    for axis in range(rank):
        sizes = {p[axis] for p in padded} - {1}
        if len(sizes) > 1:
            listed = " and ".join(format_shape(s) for s in shapes)
            raise LayerError(
                f"cannot combine shapes {listed}: axis {axis} has sizes {sorted(sizes)}",
                hint="the branches must produce the same shape (or broadcastable ones)",
            )
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


class _Elementwise(Rule):
    category = "elementwise"
    arity = None
    kind = "adds"

    def output_shape(self, attrs, in_shapes):
        return ShapeResult(broadcast(in_shapes))

    def ops(self, attrs, in_shapes, out_shape):
        return OpCounts(**{self.kind: (len(in_shapes) - 1) * prod(out_shape)})


@register
class AddRule(_Elementwise):
    op = "add"
    aliases = ("sum", "residual_add")
    kind = "adds"
    summary = "element-wise sum of branches (residual connection)"


@register
class MulRule(_Elementwise):
    op = "mul"
    aliases = ("multiply",)
    kind = "muls"
    summary = "element-wise product of branches, broadcasting (squeeze-excitation)"


@register
class ConcatRule(Rule):
    op = "concat"
    aliases = ("cat", "concatenate")
    primary = "axis"
    category = "elementwise"
    arity = None
    keys = {"axis": 0}
    key_aliases = {"dim": "axis"}
    summary = "concatenation of branches along channels"

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        rank = len(in_shapes[0])
        if not isinstance(attrs["axis"], int) or not -rank <= attrs["axis"] < rank:
            raise SpecError(f"concat axis must be in [{-rank}, {rank - 1}], got {attrs['axis']!r}")
        attrs["axis"] = attrs["axis"] % rank
        return attrs

    def output_shape(self, attrs, in_shapes):
        axis = attrs["axis"]
        first = in_shapes[0]
        for shape in in_shapes[1:]:
            if len(shape) != len(first) or any(
                a != b for i, (a, b) in enumerate(zip(shape, first)) if i != axis
            ):
                listed = ", ".join(format_shape(s) for s in in_shapes)
                raise LayerError(
                    f"concat along axis {axis} needs all other axes equal, got {listed}",
                    hint="check the strides and paddings of the branches",
                )
        size = sum(s[axis] for s in in_shapes)
        return ShapeResult(first[:axis] + (size,) + first[axis + 1 :])
