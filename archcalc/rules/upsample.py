"""Upsampling by an integer factor or to a size (``torch.nn.Upsample``).

Nearest: a copy, no operations. Bilinear: each output is a weighted sum of 4
neighbours: 4 muls + 3 adds per output. fvcore counts 1 (nearest) or 4
(bilinear) flops per output element (``elementwise_flop_counter(0, 1|4)``).

Receptive field (align_corners false): output ``o`` sits at input coordinate
``(o + 1/2)/s - 1/2``, so ``jump = 1/s``, ``shift = (1/s - 1)/2``; bilinear
reads 2 neighbours per axis (``grow = 1``).
"""

from __future__ import annotations

from fractions import Fraction

from archcalc.errors import SpecError
from archcalc.rules.base import OpCounts, RFStep, Rule, ShapeResult, pair, prod, register, spatial


@register
class UpsampleRule(Rule):
    op = "upsample"
    aliases = ("upsampling", "interpolate")
    primary = "scale"
    category = "elementwise"
    keys = {"scale": None, "size": None, "mode": "nearest"}
    key_aliases = {"scale_factor": "scale", "factor": "scale"}
    summary = "upsampling (nearest or bilinear) by a factor or to a size"

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        _, h, w = spatial(in_shapes[0], self.op)
        if (attrs["scale"] is None) == (attrs["size"] is None):
            raise SpecError("upsample needs exactly one of 'scale' and 'size'")
        if attrs["size"] is not None:
            attrs["size"] = pair(attrs["size"], "size")
        else:
            attrs["scale"] = pair(attrs["scale"], "scale")
            attrs["size"] = (h * attrs["scale"][0], w * attrs["scale"][1])
        if attrs["mode"] not in ("nearest", "bilinear"):
            raise SpecError(f"upsample mode must be nearest or bilinear, got {attrs['mode']!r}")
        return attrs

    def output_shape(self, attrs, in_shapes):
        return ShapeResult((in_shapes[0][0], *attrs["size"]))

    def ops(self, attrs, in_shapes, out_shape):
        n = prod(out_shape)
        if attrs["mode"] == "bilinear":
            return OpCounts(muls=4 * n, adds=3 * n, fvcore=4 * n)
        return OpCounts(fvcore=n)

    def rf_step(self, attrs, in_shapes):
        _, h, w = in_shapes[0]
        grow = Fraction(1 if attrs["mode"] == "bilinear" else 0)
        jumps = tuple(Fraction(i, o) for i, o in zip((h, w), attrs["size"]))
        return RFStep((grow, grow), jumps, tuple((j - 1) / 2 for j in jumps))
