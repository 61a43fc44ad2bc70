"""Layers that move no data: flatten, reshape, dropout (at inference), identity.

They have no parameters and no operations. Their output is a view of the
input (no new activation memory in the peak-memory pass). ``flatten`` makes the
next layers see the whole input: its receptive-field step is a window as large
as the input (``grow = H - 1``, ``shift = (H - 1)/2``).

Torch: ``nn.Flatten`` / ``nn.Unflatten``, ``x.reshape`` / ``view`` /
``flatten``, the dropouts (``nn.Dropout`` ... ``nn.AlphaDropout``,
``F.dropout``) and ``nn.Identity``; ``aten.view`` / ``_unsafe_view`` /
``reshape`` of an activation. A reshape is built as a small module
(``x.reshape(batch, *shape)``).
"""

from __future__ import annotations

from functools import cache

from archcalc.errors import LayerError, SpecError
from archcalc.layers.base import (
    IDENTITY_STEP,
    REQUIRED,
    Family,
    Rule,
    ShapeResult,
    SummaryName,
    keeps_field,
    prod,
    register_family,
    same_shape,
    whole_input_step,
)
from archcalc.layers.terms import Derived, count, no_params, shape_step


@cache
def _reshape_module() -> type:
    """A module that reshapes every sample to ``shape`` (made on first use: torch is imported here)."""
    import torch
    from torch import nn

    class Reshape(nn.Module):
        """Reshape every sample to ``shape`` (the batch axis is kept)."""

        def __init__(self, shape: tuple[int, ...]) -> None:
            super().__init__()
            self.shape = tuple(shape)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.reshape(x.shape[0], *self.shape)

        def extra_repr(self) -> str:
            return f"shape={self.shape}"

    return Reshape


class _View(Rule):
    category = "reshape"
    aliases_input = True
    #: how --explain describes the output shape
    shape_words = "same as the input"

    def derive(self, attrs, in_shapes, out_shape):
        """No parameters, no operations."""
        return [shape_step(out_shape, self.shape_words), no_params()]


class FlattenRule(_View):
    op = "flatten"
    summary = "flatten C x H x W to one vector"

    def output_shape(self, attrs, in_shapes):
        return ShapeResult((prod(in_shapes[0]),))

    def derive(self, attrs, in_shapes, out_shape):
        """One vector of ``H*W*C`` elements."""
        length = count(in_shapes[0], "H*W*C")
        return [
            Derived("output_channels", "output length", length.formula, length.text, out_shape[0]),
            shape_step(out_shape, "one vector"),
            no_params(),
        ]

    def rf_step(self, attrs, in_shapes):
        return whole_input_step(in_shapes[0])

    def to_torch(self, node, factory):
        from torch import nn

        return nn.Flatten()


class ReshapeRule(_View):
    op = "reshape"
    aliases = ("view",)
    primary = "shape"
    keys = {"shape": REQUIRED}
    summary = "reshape to a per-sample shape (one -1 allowed)"
    shape_words = "the given shape (same number of elements)"

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        shape = attrs["shape"]
        if isinstance(shape, int):
            shape = [shape]
        if not isinstance(shape, (list, tuple)) or not all(isinstance(v, int) for v in shape):
            raise SpecError(f"reshape needs shape as a list of whole numbers, got {shape!r}")
        total = prod(in_shapes[0])
        if list(shape).count(-1) > 1:
            raise SpecError("reshape takes at most one -1")
        if -1 in shape:
            known = prod([v for v in shape if v != -1])
            if known == 0 or total % known:
                raise LayerError(f"cannot reshape {total} elements into {list(shape)}")
            shape = [total // known if v == -1 else v for v in shape]
        if prod(shape) != total:
            raise LayerError(f"cannot reshape {total} elements into {list(shape)} ({prod(shape)} elements)")
        attrs["shape"] = tuple(shape)
        return attrs

    def output_shape(self, attrs, in_shapes):
        return ShapeResult(attrs["shape"])

    def rf_step(self, attrs, in_shapes):
        if len(attrs["shape"]) == 3 and len(in_shapes[0]) == 3:
            return IDENTITY_STEP
        return whole_input_step(in_shapes[0])

    def to_torch(self, node, factory):
        return _reshape_module()(node.attrs["shape"])


class DropoutRule(_View):
    op = "dropout"
    primary = "p"
    keys = {"p": 0.5}
    summary = "dropout (the identity at inference)"
    output_shape = staticmethod(same_shape)
    rf_step = staticmethod(keeps_field)

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        p = attrs["p"]
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
            raise SpecError(f"dropout p must be a number between 0 and 1, got {p!r}")
        return attrs

    def to_torch(self, node, factory):
        from torch import nn

        return nn.Dropout(float(node.attrs["p"]))


class IdentityRule(_View):
    op = "identity"
    summary = "identity (passes the input on)"
    output_shape = staticmethod(same_shape)
    rf_step = staticmethod(keeps_field)

    def to_torch(self, node, factory):
        from torch import nn

        return nn.Identity()


# -- from torch ------------------------------------------------------------------------


def _flatten_module(m, leaf):
    if len(leaf.out_shape) == 1:
        return "flatten", {}
    return "reshape", {"shape": list(leaf.out_shape)}


def _unflatten_module(m, leaf):
    return "reshape", {"shape": list(leaf.out_shape)}


def _dropout_module(m, leaf):
    return "dropout", {"p": m.p}


def _identity_module(m, leaf):
    return "identity", {}


def _reshape_fn(call):
    x = call.self_tensor()
    out_shape = call.out_shape()
    if call.name == "flatten" and len(out_shape) == 1 and len(call.shape(x)) > 1:
        return [call.spec("flatten", {}, [x])]
    return [call.spec("reshape", {"shape": list(out_shape)}, [x], base=call.name if call.name != "view_as" else "view")]


def _dropout_fn(call):
    return [call.spec("dropout", {"p": float(call.arg(1, "p", 0.5))}, [call.arg(0, "input")])]


def _aten_reshape(call):
    x = call.tensor_args()[0]
    if not call.is_active(x):
        return None
    if call.out_shape() == call.shape(x):
        return call.pass_through(x)
    return [call.spec("reshape", {"shape": list(call.out_shape())}, [x], base="view")]


FAMILY = register_family(
    Family(
        name="reshape",
        rules=(FlattenRule, ReshapeRule, DropoutRule, IdentityRule),
        torch_modules={
            "Flatten": _flatten_module,
            "Unflatten": _unflatten_module,
            **dict.fromkeys(("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout"), _dropout_module),
            "Identity": _identity_module,
        },
        torch_functions={
            **dict.fromkeys(("reshape", "view", "view_as", "flatten", "unflatten"), _reshape_fn),
            "dropout": _dropout_fn,
        },
        spellings=dict.fromkeys(
            ("dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"), "dropout"
        ),
        aten_ops=dict.fromkeys(("view", "_unsafe_view", "reshape"), _aten_reshape),
        names=(
            SummaryName(r"flatten", "flatten", precedence=70),
            SummaryName(r"dropout|^drop", "dropout", precedence=70),
            SummaryName(r"reshape|^view$", "reshape", precedence=70),
            SummaryName(r"identity", "identity", precedence=70),
        ),
        roles={"alias": "identity"},
    )
)
