"""Upsampling by an integer factor or to a size (``torch.nn.Upsample``, ``F.interpolate``), over
1, 2 or 3 spatial axes by the input's rank.

Each output is a weighted sum of its neighbours in the input: ``m`` neighbours
cost ``m`` muls and ``m - 1`` adds per output (the weights, one per output row
and column, are computed once per axis and not counted)::

    nearest, nearest-exact   a copy of one input value       no operations
    linear   (1-D)           2 neighbours                     2 muls, 1 add
    bilinear (2-D)           2 x 2                            4 muls, 3 adds
    bicubic  (2-D)           4 x 4                            16 muls, 15 adds
    trilinear (3-D)          2 x 2 x 2                        8 muls, 7 adds
    area                     adaptive average pooling (counted as adaptive_avgpool)

fvcore counts 1 (``upsample_nearest2d``) or 4 (``upsample_bilinear2d``) flops per
output element (``elementwise_flop_counter(0, 1|4)``) and has no handle for the
other modes (1-D and 3-D, bicubic: 0); PyTorch's flop counter counts none.

Receptive field (align_corners false): output ``o`` sits at input coordinate
``(o + 1/2)/s - 1/2``, so ``jump = 1/s``, ``shift = (1/s - 1)/2``; a mode that
reads ``m`` neighbours per axis grows the field by ``m - 1`` (height and width;
a sequence moves the width only, a volume's depth is not tracked).

Torch: ``nn.Upsample``, ``nn.UpsamplingNearest2d``, ``nn.UpsamplingBilinear2d``
(``align_corners=True``: the same counts) and ``F.interpolate`` (integer factors or
sizes); the aten kernels (``upsample_bilinear2d``, ``upsample_nearest2d``, ...) too, by
their output size: an interpolation that reads no input (DPT resizing its learned
position embeddings on every forward) or a fractional scale factor runs the kernel,
which fvcore prices as it prices any other call. Built as ``nn.Upsample(scale_factor |
size, mode, align_corners)``.
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

from archcalc.errors import SpecError
from archcalc.layers.base import (
    AXIS_LETTERS,
    AXIS_NAMES,
    Family,
    RFStep,
    Rule,
    ShapeResult,
    SummaryName,
    ntuple,
    register_family,
    spatial_axes,
    torch_pair,
)
from archcalc.layers.terms import Derived, count, hidden, no_params, shape_step

#: mode -> (spatial axes it takes, None for any; neighbours read per axis)
MODES = {
    "nearest": (None, 1),
    "nearest-exact": (None, 1),
    "linear": (1, 2),
    "bilinear": (2, 2),
    "bicubic": (2, 4),
    "trilinear": (3, 2),
}
#: fvcore's handles: flops per output element (``fvcore/nn/flop_count.py``), images only
_FVCORE = {"nearest": 1, "bilinear": 4}


class UpsampleRule(Rule):
    op = "upsample"
    aliases = ("upsampling", "interpolate")
    primary = "scale"
    category = "elementwise"
    keys = {"scale": None, "size": None, "mode": "nearest", "align_corners": None}
    key_aliases = {"scale_factor": "scale", "factor": "scale"}
    summary = "upsampling (nearest, linear, bilinear, bicubic, trilinear) by a factor or to a size"

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        _, sizes = spatial_axes(in_shapes[0], self.op)
        n = len(sizes)
        if (attrs["scale"] is None) == (attrs["size"] is None):
            raise SpecError("upsample needs exactly one of 'scale' and 'size'")
        if attrs["size"] is not None:
            attrs["size"] = ntuple(attrs["size"], n, "size", minimum=1)
        else:
            attrs["scale"] = ntuple(attrs["scale"], n, "scale", minimum=1)
            attrs["size"] = tuple(size * s for size, s in zip(sizes, attrs["scale"]))
        mode = attrs["mode"]
        if mode not in MODES:
            raise SpecError(f"upsample mode must be one of {', '.join(MODES)}, got {mode!r}")
        axes = MODES[mode][0]
        if axes is not None and axes != n:
            raise SpecError(
                f"upsample mode {mode} works on {axes} spatial axes, the input has {n} "
                f"({' x '.join(AXIS_NAMES[n])})"
            )
        if attrs["align_corners"] is None:
            del attrs["align_corners"]  # kept only when given (the interpolating modes)
        else:
            attrs["align_corners"] = bool(attrs["align_corners"])
        return attrs

    def output_shape(self, attrs, in_shapes):
        return ShapeResult((in_shapes[0][0], *attrs["size"]))

    def derive(self, attrs, in_shapes, out_shape):
        """``H * scale``; ``m`` neighbours: ``m`` muls and ``m - 1`` adds per output."""
        sizes = tuple(in_shapes[0][1:])
        n = len(sizes)
        steps = []
        if attrs.get("scale") is not None:
            scales = attrs["scale"]
            if n == 2 and (sizes[0], scales[0]) == (sizes[1], scales[1]):
                steps.append(Derived("output_size", "output height = width", "W * scale", f"{sizes[1]}*{scales[1]}",
                                     out_shape[2]))
            else:
                for letter, name, size, s, value in zip(AXIS_LETTERS[n], AXIS_NAMES[n], sizes, scales, out_shape[1:]):
                    steps.append(Derived(f"output_{name}", f"output {name}", f"{letter} * scale", f"{size}*{s}", value))
        shape = "H_out x W_out x C" if n == 2 else " x ".join(("C", *(f"{letter}_out" for letter in AXIS_LETTERS[n])))
        steps += [shape_step(out_shape, shape), no_params()]
        outputs = count(out_shape, "outputs")
        mode = attrs["mode"]
        neighbours = MODES[mode][1] ** n
        if neighbours > 1:
            words = f"each output weighs {neighbours} neighbours"
            steps.append((outputs * neighbours).step("muls", "multiplications", words))
            steps.append((outputs * (neighbours - 1)).step("adds", "additions", words))
        per = _FVCORE.get(mode, 0) if n == 2 else 0
        if per:
            fvcore = outputs * per
            steps.append(hidden("fvcore", fvcore.value, f"outputs * {per}", fvcore.text,
                                suffix=" (fvcore's upsample handle)"))
        else:
            steps.append(hidden("fvcore", 0))
        return steps

    def rf_step(self, attrs, in_shapes):
        sizes = tuple(in_shapes[0][1:])
        grow = Fraction(MODES[attrs["mode"]][1] - 1)
        jumps = [Fraction(i, o) for i, o in zip(sizes, attrs["size"])]
        if len(jumps) == 1:
            return RFStep((Fraction(0), grow), (Fraction(1), jumps[0]), (Fraction(0), (jumps[0] - 1) / 2))
        jumps = jumps[-2:]
        return RFStep((grow, grow), tuple(jumps), tuple((j - 1) / 2 for j in jumps))

    def to_torch(self, node, factory):
        from torch import nn

        a = node.attrs
        align = a.get("align_corners", False if MODES[a["mode"]][1] > 1 else None)
        if a.get("scale") is not None:
            return nn.Upsample(scale_factor=tuple(float(s) for s in a["scale"]), mode=a["mode"], align_corners=align)
        return nn.Upsample(size=tuple(a["size"]), mode=a["mode"], align_corners=align)


def _upsample_args(size, scale, mode, align_corners=None):
    if mode not in MODES:
        return None
    args = {"mode": mode}
    if align_corners:
        args["align_corners"] = True
    if size is not None:
        return "upsample", {"size": torch_pair(size), **args}
    if scale is None:
        return None
    scales = scale if isinstance(scale, (list, tuple)) else (scale,)
    if not all(float(s).is_integer() for s in scales):
        return None
    return "upsample", {"scale": torch_pair([int(s) for s in scales]), **args}


def _upsample_module(m, leaf):
    return _upsample_args(m.size, m.scale_factor, m.mode, m.align_corners)


def _interpolate_fn(call):
    x, size, mode = call.arg(0, "input"), call.arg(1, "size"), call.arg(3, "mode", "nearest")
    if mode == "area":  # F.interpolate's area mode is adaptive average pooling to the output size
        out = call.out_shape()
        return [call.spec("adaptive_avgpool", {"output": list(out[1:])}, [x])]
    mapped = _upsample_args(size, call.arg(2, "scale_factor"), mode, call.arg(4, "align_corners"))
    if mapped is None:
        return None
    return [call.spec(mapped[0], mapped[1], [x])]


#: aten kernel -> mode (the linear modes take ``align_corners`` as their third argument)
_ATEN_MODES = {
    **{f"upsample_nearest{n}d": "nearest" for n in (1, 2, 3)},
    **{f"_upsample_nearest_exact{n}d": "nearest-exact" for n in (1, 2, 3)},
    "upsample_linear1d": "linear",
    "upsample_bilinear2d": "bilinear",
    "upsample_bicubic2d": "bicubic",
    "upsample_trilinear3d": "trilinear",
}


def _aten_upsample(call):
    """An upsampling kernel by its output size (the sizes after the channels)."""
    x = call.arg(0, "input")
    mode = _ATEN_MODES[call.name]
    spatial = x.dim() - 2
    align = bool(call.arg(2, "align_corners", False)) if MODES[mode][1] > 1 else None
    out = call.outputs()[0]
    mapped = _upsample_args(list(out.shape[-spatial:]), None, mode, align)
    if mapped is None:
        return None
    spec = call.spec(mapped[0], mapped[1], [x])
    if spec.batched:
        return [spec]
    # no batch axis: input-independent (a learned tensor resized on every forward): its N images of C channels
    # as N * C channels, the rule's per-sample layout; the same outputs, counted once per forward
    return [replace(spec, in_shapes=((x.shape[0] * x.shape[1], *x.shape[2:]),),
                    shape=(out.shape[0] * out.shape[1], *out.shape[2:]))]


FAMILY = register_family(
    Family(
        name="upsample",
        rules=(UpsampleRule,),
        torch_modules=dict.fromkeys(("Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d"), _upsample_module),
        torch_functions={"interpolate": _interpolate_fn},
        aten_ops=dict.fromkeys(_ATEN_MODES, _aten_upsample),
        spellings={"upsample": "interpolate"},
        names=(SummaryName(r"upsampl|interpolate", "upsample", precedence=90),),
        examples={
            "upsample_1d": ("4x6", "- upsample: {scale: 2, mode: linear}\n- upsample: {size: 15}"),
            "upsample_bicubic": ("5x7x3", "- upsample: {scale: [2, 3], mode: bicubic}"),
            "upsample_3d": ("3x4x5x2", "- upsample: {scale: 2, mode: trilinear, align_corners: true}\n"
                                       "- upsample: {size: [7, 9, 11], mode: nearest-exact}"),
        },
    )
)
