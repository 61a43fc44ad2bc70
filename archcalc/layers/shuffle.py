"""Pixel shuffle, pixel unshuffle and channel shuffle: data movement, no arithmetic.

``torch.nn.PixelShuffle(r)`` (Shi et al., "Real-Time Single Image and Video
Super-Resolution...", CVPR 2016) moves channels into space;
``PixelUnshuffle(r)`` undoes it; ``ChannelShuffle(g)`` (Zhang et al.,
"ShuffleNet", CVPR 2018) interleaves the channels of ``g`` groups::

    pixel_shuffle    C*r*r x H x W  ->  C x H*r x W*r
    pixel_unshuffle  C x H*r x W*r  ->  C*r*r x H x W
    channel_shuffle  C x H x W      ->  the same shape, channels permuted (g divides C)
    ops              none (a copy into a new tensor)

Receptive field: after a pixel shuffle each output pixel comes from one input
pixel, ``r`` outputs per input (``jump = 1/r``, as nearest upsampling); after
an unshuffle the channels at one position hold an ``r x r`` block (``grow = r -
1``, ``jump = r``). Neither fvcore nor torch's counter counts these.

Torch: the three modules, ``F.pixel_shuffle``, ``F.pixel_unshuffle``,
``F.channel_shuffle`` / ``torch.native_channel_shuffle``.
"""

from __future__ import annotations

from fractions import Fraction

from archcalc.errors import LayerError
from archcalc.layers.base import (
    REQUIRED,
    Family,
    RFStep,
    Rule,
    ShapeResult,
    SummaryName,
    keeps_field,
    positive_int,
    register_family,
    same_shape,
)
from archcalc.layers.terms import Derived, no_params, shape_step


def _image(shape, op: str) -> None:
    if len(shape) < 3:
        raise LayerError(f"{op} needs an image input C x H x W, got shape {shape}")


class PixelShuffleRule(Rule):
    op = "pixel_shuffle"
    aliases = ("pixelshuffle", "depth_to_space")
    primary = "factor"
    category = "reshape"
    keys = {"factor": REQUIRED}
    key_aliases = {"upscale_factor": "factor", "r": "factor"}
    summary = "pixel shuffle: C*r*r x H x W -> C x H*r x W*r (data movement)"

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        _image(in_shapes[0], self.op)
        r = attrs["factor"] = positive_int(attrs["factor"], "factor")
        if in_shapes[0][-3] % (r * r):
            raise LayerError(f"pixel shuffle by {r} needs channels divisible by r*r = {r * r}, got {in_shapes[0][-3]}")
        return attrs

    def output_shape(self, attrs, in_shapes):
        *lead, c, h, w = in_shapes[0]
        r = attrs["factor"]
        return ShapeResult((*lead, c // (r * r), h * r, w * r))

    def derive(self, attrs, in_shapes, out_shape):
        """``C/(r*r)`` channels, ``H*r x W*r``: a copy."""
        r = attrs["factor"]
        c = in_shapes[0][-3]
        return [
            Derived("output_channels", "output channels", "C / (r*r)", f"{c} / ({r}*{r})", out_shape[-3]),
            shape_step(out_shape, "H*r x W*r x C/(r*r)", note="a copy: no arithmetic"),
            no_params(),
        ]

    def rf_step(self, attrs, in_shapes):
        j = Fraction(1, attrs["factor"])
        return RFStep((Fraction(0), Fraction(0)), (j, j), ((j - 1) / 2, (j - 1) / 2))

    def to_torch(self, node, factory):
        from torch import nn

        return nn.PixelShuffle(node.attrs["factor"])


class PixelUnshuffleRule(Rule):
    op = "pixel_unshuffle"
    aliases = ("pixelunshuffle", "space_to_depth")
    primary = "factor"
    category = "reshape"
    keys = {"factor": REQUIRED}
    key_aliases = {"downscale_factor": "factor", "r": "factor"}
    summary = "pixel unshuffle: C x H*r x W*r -> C*r*r x H x W (data movement)"

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        _image(in_shapes[0], self.op)
        r = attrs["factor"] = positive_int(attrs["factor"], "factor")
        h, w = in_shapes[0][-2:]
        if h % r or w % r:
            raise LayerError(f"pixel unshuffle by {r} needs height and width divisible by {r}, got {h} x {w}")
        return attrs

    def output_shape(self, attrs, in_shapes):
        *lead, c, h, w = in_shapes[0]
        r = attrs["factor"]
        return ShapeResult((*lead, c * r * r, h // r, w // r))

    def derive(self, attrs, in_shapes, out_shape):
        """``C*r*r`` channels, ``H/r x W/r``: a copy."""
        r = attrs["factor"]
        c = in_shapes[0][-3]
        return [
            Derived("output_channels", "output channels", "C*r*r", f"{c}*{r}*{r}", out_shape[-3]),
            shape_step(out_shape, "H/r x W/r x C*r*r", note="a copy: no arithmetic"),
            no_params(),
        ]

    def rf_step(self, attrs, in_shapes):
        r = attrs["factor"]
        grow, jump, shift = Fraction(r - 1), Fraction(r), Fraction(r - 1, 2)
        return RFStep((grow, grow), (jump, jump), (shift, shift))

    def to_torch(self, node, factory):
        from torch import nn

        return nn.PixelUnshuffle(node.attrs["factor"])


class ChannelShuffleRule(Rule):
    op = "channel_shuffle"
    aliases = ("channelshuffle",)
    primary = "groups"
    category = "reshape"
    keys = {"groups": REQUIRED}
    summary = "channel shuffle: the channels of g groups interleaved (data movement)"
    output_shape = staticmethod(same_shape)
    rf_step = staticmethod(keeps_field)

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        if len(in_shapes[0]) < 2:
            raise LayerError(f"channel shuffle needs a channel axis and at least one more, got shape {in_shapes[0]}")
        g = attrs["groups"] = positive_int(attrs["groups"], "groups")
        if in_shapes[0][0] % g:
            raise LayerError(f"groups = {g} must divide the {in_shapes[0][0]} channels")
        return attrs

    def derive(self, attrs, in_shapes, out_shape):
        """The same shape: a copy."""
        return [shape_step(out_shape, "same as the input (channels permuted)", note="a copy: no arithmetic"), no_params()]

    def to_torch(self, node, factory):
        from torch import nn

        return nn.ChannelShuffle(node.attrs["groups"])


def _factor_module(op: str, attribute: str):
    def mapper(m, leaf):
        return op, {"factor": getattr(m, attribute)}

    return mapper


def _factor_fn(op: str):
    def handler(call):
        return [call.spec(op, {"factor": call.arg(1, "upscale_factor" if op == "pixel_shuffle" else "downscale_factor")},
                          [call.arg(0, "input")])]

    return handler


def _channel_shuffle_fn(call):
    return [call.spec("channel_shuffle", {"groups": call.arg(1, "groups")}, [call.arg(0, "input")])]


FAMILY = register_family(
    Family(
        name="shuffle",
        rules=(PixelShuffleRule, PixelUnshuffleRule, ChannelShuffleRule),
        torch_modules={
            "PixelShuffle": _factor_module("pixel_shuffle", "upscale_factor"),
            "PixelUnshuffle": _factor_module("pixel_unshuffle", "downscale_factor"),
            "ChannelShuffle": lambda m, leaf: ("channel_shuffle", {"groups": m.groups}),
        },
        torch_functions={
            "pixel_shuffle": _factor_fn("pixel_shuffle"),
            "pixel_unshuffle": _factor_fn("pixel_unshuffle"),
            "channel_shuffle": _channel_shuffle_fn,
            "native_channel_shuffle": _channel_shuffle_fn,
        },
        aten_ops={
            "pixel_shuffle": _factor_fn("pixel_shuffle"),
            "pixel_unshuffle": _factor_fn("pixel_unshuffle"),
            "channel_shuffle": _channel_shuffle_fn,
            "native_channel_shuffle": _channel_shuffle_fn,
        },
        names=(
            SummaryName(r"pixelunshuffle|pixel_unshuffle", "pixel_unshuffle", precedence=12),
            SummaryName(r"pixelshuffle|pixel_shuffle", "pixel_shuffle", precedence=13),
            SummaryName(r"channelshuffle|channel_shuffle", "channel_shuffle", precedence=13),
        ),
        examples={
            "pixel_shuffle": ("5x6x12", "- pixel_shuffle: 2\n- pixel_unshuffle: 2\n- channel_shuffle: 4"),
        },
    )
)
