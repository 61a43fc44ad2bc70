"""Fully connected (dense) layer, applied to the last axis as ``torch.nn.Linear`` does.

Input ``(..., N_in)``, ``N_out`` units::

    output  = (..., N_out)
    weights = N_in * N_out
    biases  = N_out (when bias is on)
    MACs    = prod(leading dims) * N_in * N_out      (n = N_in per output)

On a 3-D input ``C x H x W`` the layer acts on ``W`` (PyTorch semantics): add a
``flatten`` first to get the classic dense layer. fvcore counts the MACs
(``linear_flop_jit``); PyTorch's flop counter counts ``2 * MACs`` (``addmm``).
"""

from __future__ import annotations

from fractions import Fraction

from archcalc.errors import LayerError
from archcalc.rules.base import (
    IDENTITY_STEP,
    REQUIRED,
    OpCounts,
    ParamCounts,
    RFStep,
    Rule,
    ShapeResult,
    positive_int,
    prod,
    register,
)


@register
class LinearRule(Rule):
    op = "linear"
    aliases = ("fc", "dense", "fully_connected")
    primary = "units"
    category = "dot"
    keys = {"units": REQUIRED, "bias": True}
    key_aliases = {"out_features": "units", "features": "units", "out": "units", "outputs": "units"}
    summary = "fully connected layer on the last axis"

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        attrs["units"] = positive_int(attrs["units"], "units")
        if not in_shapes[0]:
            raise LayerError("linear needs an input with at least one axis")
        attrs["in_features"] = in_shapes[0][-1]
        attrs["bias"] = bool(attrs["bias"])
        return attrs

    def output_shape(self, attrs, in_shapes):
        return ShapeResult(tuple(in_shapes[0][:-1]) + (attrs["units"],))

    def params(self, attrs, in_shapes, out_shape):
        return ParamCounts(
            weights=attrs["in_features"] * attrs["units"],
            biases=attrs["units"] if attrs["bias"] else 0,
        )

    def ops(self, attrs, in_shapes, out_shape):
        outputs = prod(out_shape)
        macs = outputs * attrs["in_features"]
        return OpCounts(
            macs=macs,
            dot_outputs=outputs,
            bias_adds=outputs if attrs["bias"] else 0,
            fvcore=macs,
            torch=2 * macs,
        )

    def rf_step(self, attrs, in_shapes):
        """On an image the layer mixes the whole width axis; on a vector it changes nothing."""
        shape = in_shapes[0]
        if len(shape) != 3:
            return IDENTITY_STEP
        w = shape[2]
        return RFStep(
            grow=(Fraction(0), Fraction(w - 1)),
            jump=(Fraction(1), Fraction(1)),
            shift=(Fraction(0), Fraction(w - 1, 2)),
        )
