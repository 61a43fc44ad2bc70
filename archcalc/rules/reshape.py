"""Layers that move no data: flatten, reshape, dropout (at inference), identity.

They have no parameters and no operations. Their output is a view of the
input (no new activation memory in the peak-memory pass). ``flatten`` makes the
next layers see the whole input: its receptive-field step is a window as large
as the input (``grow = H - 1``, ``shift = (H - 1)/2``).
"""

from __future__ import annotations

from fractions import Fraction

from archcalc.errors import LayerError, SpecError
from archcalc.rules.base import IDENTITY_STEP, REQUIRED, RFStep, Rule, ShapeResult, prod, register


def whole_input_step(shape) -> RFStep:
    """Receptive-field step of an op that reads the whole spatial extent of ``shape``."""
    if len(shape) != 3:
        return IDENTITY_STEP
    _, h, w = shape
    return RFStep(
        grow=(Fraction(h - 1), Fraction(w - 1)),
        jump=(Fraction(1), Fraction(1)),
        shift=(Fraction(h - 1, 2), Fraction(w - 1, 2)),
    )


@register
class FlattenRule(Rule):
    op = "flatten"
    category = "reshape"
    aliases_input = True
    summary = "flatten C x H x W to one vector"

    def output_shape(self, attrs, in_shapes):
        return ShapeResult((prod(in_shapes[0]),))

    def rf_step(self, attrs, in_shapes):
        return whole_input_step(in_shapes[0])


@register
class ReshapeRule(Rule):
    op = "reshape"
    aliases = ("view",)
    primary = "shape"
    category = "reshape"
    keys = {"shape": REQUIRED}
    aliases_input = True
    summary = "reshape to a per-sample shape (one -1 allowed)"

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


@register
class DropoutRule(Rule):
    op = "dropout"
    primary = "p"
    category = "reshape"
    keys = {"p": 0.5}
    aliases_input = True
    summary = "dropout (the identity at inference)"

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        if not 0 <= float(attrs["p"]) <= 1:
            raise SpecError(f"dropout p must be between 0 and 1, got {attrs['p']}")
        return attrs


@register
class IdentityRule(Rule):
    op = "identity"
    category = "reshape"
    aliases_input = True
    summary = "identity (passes the input on)"
