"""Merging branches: element-wise add (residual), multiply (squeeze-excitation), concat.

With ``m`` inputs broadcast to an output of ``N`` elements (NumPy / PyTorch
broadcasting rules)::

    add:    (m - 1) * N adds
    mul:    (m - 1) * N muls
    concat: no operations; all axes but ``axis`` (channels by default) must agree

Neither fvcore (``aten::add`` unsupported, ``aten::cat`` ignored) nor PyTorch's
flop counter counts these.

Torch: ``a + b``, ``out += identity``, ``a * b`` between two activations and
``torch.cat`` of activations; built as small modules (``Add``, ``Mul``,
``Concat(dim=axis + 1)``). In a spec these are the keys that join branches
(``add: [[...], [...]]``); a residual block joins its body and shortcut with
``add``.
"""

from __future__ import annotations

from functools import cache

from archcalc.errors import LayerError, SpecError
from archcalc.layers.base import Absent, Family, Rule, ShapeResult, SummaryName, format_shape, keeps_field, register_family
from archcalc.layers.terms import Derived, count, no_params, shape_step


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


@cache
def _modules() -> dict[str, type]:
    """The small torch modules of the merges (made on first use: torch is imported here)."""
    import torch
    from torch import nn

    class Add(nn.Module):
        """Element-wise sum of two or more tensors (broadcasting)."""

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            out = inputs[0]
            for other in inputs[1:]:
                out = out + other
            return out

    class Mul(nn.Module):
        """Element-wise product of two or more tensors (broadcasting)."""

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            out = inputs[0]
            for other in inputs[1:]:
                out = out * other
            return out

    class Concat(nn.Module):
        """``torch.cat`` along ``dim`` (a batch-inclusive axis)."""

        def __init__(self, dim: int = 1) -> None:
            super().__init__()
            self.dim = dim

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            return torch.cat(inputs, dim=self.dim)

        def extra_repr(self) -> str:
            return f"dim={self.dim}"

    return {"Add": Add, "Mul": Mul, "Concat": Concat}


class _Elementwise(Rule):
    category = "elementwise"
    arity = None
    associative = True
    joins_branches = True
    kind = "adds"
    module = "Add"
    rf_step = staticmethod(keeps_field)

    def output_shape(self, attrs, in_shapes):
        return ShapeResult(broadcast(in_shapes))

    def derive(self, attrs, in_shapes, out_shape):
        """``(m - 1) * elements`` operations for ``m`` inputs."""
        m = len(in_shapes)
        merged = count(out_shape, "elements")
        operations = Derived(self.kind, {"adds": "additions", "muls": "multiplications"}[self.kind],
                             "(m - 1) * elements", f"({m} - 1) * {merged.text}", (m - 1) * merged.value,
                             f"{m} inputs")
        return [shape_step(out_shape, "the inputs' (broadcast) shape"), no_params(), operations]

    def to_torch(self, node, factory):
        return _modules()[self.module]()


class AddRule(_Elementwise):
    op = "add"
    aliases = ("sum", "residual_add")
    kind = "adds"
    summary = "element-wise sum of branches (residual connection)"


class MulRule(_Elementwise):
    op = "mul"
    aliases = ("multiply",)
    kind = "muls"
    module = "Mul"
    summary = "element-wise product of branches, broadcasting (squeeze-excitation)"


class ConcatRule(Rule):
    op = "concat"
    aliases = ("cat", "concatenate")
    primary = "axis"
    category = "elementwise"
    arity = None
    joins_branches = True
    keys = {"axis": 0}
    key_aliases = {"dim": "axis"}
    summary = "concatenation of branches along channels"
    rf_step = staticmethod(keeps_field)

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

    def derive(self, attrs, in_shapes, out_shape):
        """The concatenated axis is the sum of the inputs'; no operations."""
        axis = attrs["axis"]
        sizes = [s[axis] for s in in_shapes]
        what = "channels" if axis == 0 and len(out_shape) == 3 else f"axis {axis}"
        return [
            Derived("output_channels" if axis == 0 else f"output_axis{axis}", f"output {what}",
                    f"sum of the inputs' {what}", " + ".join(str(v) for v in sizes), out_shape[axis]),
            shape_step(out_shape, f"the inputs' shape, {what} summed"),
            no_params(),
        ]

    def to_torch(self, node, factory):
        return _modules()["Concat"](node.attrs["axis"] + 1)


# -- from torch ------------------------------------------------------------------------


def _merge_fn(op: str):
    """``a + b`` / ``a * b`` of two activations (``alpha`` 1): a merge; anything else is
    left to the generic point-wise handler."""

    def handler(call):
        a, b = call.arg(0, "input"), call.arg(1, "other")
        active = [t for t in (a, b) if call.is_active(t)]
        if len(active) == 2 and call.arg(2, "alpha", 1) == 1:
            return [call.spec(op, {}, active)]
        return None

    return handler


def _cat_fn(call):
    tensors = list(call.arg(0, "tensors"))
    if len(tensors) >= 2 and all(call.is_active(t) for t in tensors):
        dim = call.arg(1, "dim", 0)
        axis = call.axis(tensors[0], dim)
        if axis is not None:
            return [call.spec("concat", {"axis": axis, "torch_dim": dim}, tensors, base="concat")]
    return None


def _aten_merge(call):
    active = call.active_tensors()
    if len(active) == 2 and (call.name == "mul" or (call.name == "add" and call.kwargs.get("alpha", 1) == 1)):
        return [call.spec(call.name, {}, active)]
    return None


def _aten_cat(call):
    tensors = list(call.args[0])
    dim = call.args[1] if len(call.args) > 1 else call.kwargs.get("dim", 0)
    if len(tensors) >= 2 and all(call.is_active(t) for t in tensors):
        axis = call.axis(tensors[0], dim)
        if axis is not None:
            return [call.spec("concat", {"axis": axis, "torch_dim": dim}, tensors)]
    return None


FAMILY = register_family(
    Family(
        name="merge",
        rules=(AddRule, MulRule, ConcatRule),
        torch_modules=Absent("merges are written with +, * and torch.cat, not with torch.nn modules"),
        torch_functions={"add": _merge_fn("add"), "mul": _merge_fn("mul"), "cat": _cat_fn},
        spellings={
            **dict.fromkeys(("__add__", "__radd__", "__iadd__", "add_"), "add"),
            **dict.fromkeys(("__mul__", "__rmul__", "__imul__", "mul_", "multiply"), "mul"),
            "concat": "cat",
            "concatenate": "cat",
        },
        aten_ops={"add": _aten_merge, "mul": _aten_merge, "cat": _aten_cat},
        names=(
            SummaryName(r"concat|^cat$", "concat", precedence=80),
            SummaryName(r"^add$|^add[_-]|residual|^sum$", "add", precedence=80),
            SummaryName(r"multiply|^mul$", "mul", precedence=80),
        ),
        roles={"residual": "add"},
    )
)
