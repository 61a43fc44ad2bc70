"""Upsampling by an integer factor or to a size (``torch.nn.Upsample``).

Nearest: a copy, no operations. Bilinear: each output is a weighted sum of 4
neighbours: 4 muls + 3 adds per output. fvcore counts 1 (nearest) or 4
(bilinear) flops per output element (``elementwise_flop_counter(0, 1|4)``).

Receptive field (align_corners false): output ``o`` sits at input coordinate
``(o + 1/2)/s - 1/2``, so ``jump = 1/s``, ``shift = (1/s - 1)/2``; bilinear
reads 2 neighbours per axis (``grow = 1``).

Torch: ``nn.Upsample`` and ``F.interpolate`` (nearest or bilinear, integer
factors or sizes); built as ``nn.Upsample(scale_factor | size, mode)``
(``align_corners=False`` for bilinear).
"""

from __future__ import annotations

from fractions import Fraction

from archcalc.errors import SpecError
from archcalc.layers.base import Family, RFStep, Rule, ShapeResult, SummaryName, pair, register_family, spatial, torch_pair
from archcalc.layers.terms import Derived, count, hidden, no_params, shape_step


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
            attrs["size"] = pair(attrs["size"], "size", minimum=1)
        else:
            attrs["scale"] = pair(attrs["scale"], "scale", minimum=1)
            attrs["size"] = (h * attrs["scale"][0], w * attrs["scale"][1])
        if attrs["mode"] not in ("nearest", "bilinear"):
            raise SpecError(f"upsample mode must be nearest or bilinear, got {attrs['mode']!r}")
        return attrs

    def output_shape(self, attrs, in_shapes):
        return ShapeResult((in_shapes[0][0], *attrs["size"]))

    def derive(self, attrs, in_shapes, out_shape):
        """``H * scale``; bilinear: 4 muls and 3 adds per output."""
        _, h, w = in_shapes[0]
        steps = []
        if attrs.get("scale") is not None:
            sh, sw = attrs["scale"]
            if (h, sh) == (w, sw):
                steps.append(Derived("output_size", "output height = width", "W * scale", f"{w}*{sw}", out_shape[2]))
            else:
                steps.append(Derived("output_height", "output height", "H * scale", f"{h}*{sh}", out_shape[1]))
                steps.append(Derived("output_width", "output width", "W * scale", f"{w}*{sw}", out_shape[2]))
        steps += [shape_step(out_shape, "H_out x W_out x C"), no_params()]
        outputs = count(out_shape, "outputs")
        per = 1
        if attrs["mode"] == "bilinear":
            per = 4
            steps.append((outputs * 4).step("muls", "multiplications", "each output weighs 4 neighbours"))
            steps.append((outputs * 3).step("adds", "additions", "each output weighs 4 neighbours"))
        fvcore = outputs * per
        steps.append(hidden("fvcore", fvcore.value, f"outputs * {per}", fvcore.text,
                            suffix=" (fvcore's upsample handle)"))
        return steps

    def rf_step(self, attrs, in_shapes):
        _, h, w = in_shapes[0]
        grow = Fraction(1 if attrs["mode"] == "bilinear" else 0)
        jumps = tuple(Fraction(i, o) for i, o in zip((h, w), attrs["size"]))
        return RFStep((grow, grow), jumps, tuple((j - 1) / 2 for j in jumps))

    def to_torch(self, node, factory):
        from torch import nn

        a = node.attrs
        align = False if a["mode"] == "bilinear" else None
        if a.get("scale") is not None:
            return nn.Upsample(scale_factor=tuple(float(s) for s in a["scale"]), mode=a["mode"], align_corners=align)
        return nn.Upsample(size=tuple(a["size"]), mode=a["mode"], align_corners=align)


def _upsample_args(size, scale, mode):
    if mode not in ("nearest", "bilinear"):
        return None
    if size is not None:
        return "upsample", {"size": torch_pair(size), "mode": mode}
    if scale is None:
        return None
    scales = scale if isinstance(scale, (list, tuple)) else (scale, scale)
    if not all(float(s).is_integer() for s in scales):
        return None
    return "upsample", {"scale": torch_pair([int(s) for s in scales]), "mode": mode}


def _upsample_module(m, leaf):
    return _upsample_args(m.size, m.scale_factor, m.mode)


def _interpolate_fn(call):
    mapped = _upsample_args(call.arg(1, "size"), call.arg(2, "scale_factor"), call.arg(3, "mode", "nearest"))
    if mapped is None:
        return None
    return [call.spec(mapped[0], mapped[1], [call.arg(0, "input")])]


FAMILY = register_family(
    Family(
        name="upsample",
        rules=(UpsampleRule,),
        torch_modules={"Upsample": _upsample_module},
        torch_functions={"interpolate": _interpolate_fn},
        spellings={"upsample": "interpolate"},
        names=(SummaryName(r"upsampl|interpolate", "upsample", precedence=90),),
    )
)
