"""2-D convolution and transposed convolution.

Convolution, input ``Cin x H x W``, ``Cout`` filters of ``kh x kw``, ``groups`` g::

    H_out = floor((H + 2P - d(k - 1) - 1)/S) + 1          (see window.py)
    weights = Cout * (Cin/g) * kh * kw
    biases  = Cout  (when bias is on)
    MACs    = Cout * H_out * W_out * (Cin/g * kh * kw)     (n = Cin/g*kh*kw per output)

Depthwise convolution is ``groups = Cin``. fvcore counts the MACs (bias
ignored; ``fvcore/nn/jit_handles.py: conv_flop_count``); PyTorch's
``torch/utils/flop_counter.py: conv_flop_count`` counts ``2 * MACs``.

Transposed convolution (``torch.nn.ConvTranspose2d``)::

    H_out = (H - 1)S - P_before - P_after + d(k - 1) + output_padding + 1
    weights = Cin * (Cout/g) * kh * kw
    MACs    = Cin * H * W * (Cout/g * kh * kw)             (each input scatters into a kernel)
"""

from __future__ import annotations

from fractions import Fraction
from math import ceil
from typing import Any

from archcalc.errors import LayerError, SpecError
from archcalc.rules.base import (
    REQUIRED,
    OpCounts,
    ParamCounts,
    RFStep,
    Rule,
    ShapeResult,
    pair,
    positive_int,
    register,
    spatial,
    window_step,
)
from archcalc.rules.window import effective_kernel, padding, window_output


def _channels(attrs: dict[str, Any], cin: int, op: str) -> None:
    """Resolve depthwise / filters / groups and check divisibility."""
    if attrs.pop("depthwise"):
        if attrs["groups"] not in (1, cin):
            raise SpecError(f"depthwise sets groups = Cin = {cin}; do not also give groups = {attrs['groups']}")
        attrs["groups"] = cin
        if attrs["filters"] is None:
            attrs["filters"] = cin * positive_int(attrs.pop("multiplier"), "multiplier")
        else:
            attrs.pop("multiplier")
    else:
        attrs.pop("multiplier")
    if attrs["filters"] is None:
        raise SpecError(f"{op} needs the argument 'filters' (the number of output channels)")
    attrs["filters"] = positive_int(attrs["filters"], "filters")
    groups = attrs["groups"] = positive_int(attrs["groups"], "groups")
    if cin % groups or attrs["filters"] % groups:
        raise LayerError(
            f"groups = {groups} must divide both input channels ({cin}) and filters ({attrs['filters']})"
        )
    attrs["in_channels"] = cin


_CONV_KEYS = {
    "filters": None,
    "kernel": REQUIRED,
    "stride": 1,
    "pad": 0,
    "dilation": 1,
    "groups": 1,
    "bias": True,
    "depthwise": False,
    "multiplier": 1,
}
_CONV_ALIASES = {
    "padding": "pad",
    "out_channels": "filters",
    "channels": "filters",
    "kernel_size": "kernel",
    "size": "kernel",
}


@register
class ConvRule(Rule):
    op = "conv"
    aliases = ("conv2d", "convolution")
    category = "dot"
    keys = _CONV_KEYS
    key_aliases = _CONV_ALIASES
    summary = "2-D convolution (groups, depthwise, dilation, pad int/pair/same/valid)"

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        cin, _, _ = spatial(in_shapes[0], self.op)
        _channels(attrs, cin, self.op)
        attrs["kernel"] = pair(attrs["kernel"], "kernel")
        attrs["stride"] = pair(attrs["stride"], "stride")
        attrs["dilation"] = pair(attrs["dilation"], "dilation")
        for name in ("kernel", "stride", "dilation"):
            if min(attrs[name]) < 1:
                raise SpecError(f"{name} must be >= 1, got {attrs[name]}")
        attrs["pad"] = padding(attrs["pad"], attrs["kernel"], attrs["dilation"], attrs["stride"])
        attrs["bias"] = bool(attrs["bias"])
        return attrs

    def output_shape(self, attrs, in_shapes):
        _, h, w = in_shapes[0]
        (ho, wo), notes = window_output(h, w, attrs["kernel"], attrs["stride"], attrs["pad"], attrs["dilation"])
        return ShapeResult((attrs["filters"], ho, wo), notes)

    def params(self, attrs, in_shapes, out_shape):
        kh, kw = attrs["kernel"]
        weights = attrs["filters"] * (attrs["in_channels"] // attrs["groups"]) * kh * kw
        return ParamCounts(weights=weights, biases=attrs["filters"] if attrs["bias"] else 0)

    def ops(self, attrs, in_shapes, out_shape):
        kh, kw = attrs["kernel"]
        n = (attrs["in_channels"] // attrs["groups"]) * kh * kw
        outputs = out_shape[0] * out_shape[1] * out_shape[2]
        macs = outputs * n
        return OpCounts(
            macs=macs,
            dot_outputs=outputs,
            bias_adds=outputs if attrs["bias"] else 0,
            fvcore=macs,
            torch=2 * macs,
        )

    def rf_step(self, attrs, in_shapes):
        kernel = tuple(effective_kernel(k, d) for k, d in zip(attrs["kernel"], attrs["dilation"]))
        return window_step(kernel, attrs["stride"], (attrs["pad"][0][0], attrs["pad"][1][0]))


@register
class ConvTransposeRule(Rule):
    op = "convtranspose"
    aliases = ("conv_transpose", "convtranspose2d", "deconv", "transposed_conv")
    category = "dot"
    keys = {**_CONV_KEYS, "output_padding": 0}
    key_aliases = _CONV_ALIASES
    summary = "2-D transposed convolution"

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        cin, _, _ = spatial(in_shapes[0], self.op)
        _channels(attrs, cin, self.op)
        for name in ("kernel", "stride", "dilation", "output_padding"):
            attrs[name] = pair(attrs[name], name)
        if isinstance(attrs["pad"], str):
            raise SpecError("a transposed convolution takes pad as a number or a pair")
        ph, pw = pair(attrs["pad"], "pad")
        attrs["pad"] = ((ph, ph), (pw, pw))
        for (op_, s, d) in zip(attrs["output_padding"], attrs["stride"], attrs["dilation"]):
            if op_ >= max(s, d):
                raise LayerError(
                    f"output_padding ({op_}) must be smaller than stride ({s}) or dilation ({d})"
                )
        attrs["bias"] = bool(attrs["bias"])
        return attrs

    def output_shape(self, attrs, in_shapes):
        _, h, w = in_shapes[0]
        out = []
        for size, k, s, (pb, pa), d, op_ in zip(
            (h, w), attrs["kernel"], attrs["stride"], attrs["pad"], attrs["dilation"], attrs["output_padding"]
        ):
            length = (size - 1) * s - pb - pa + d * (k - 1) + op_ + 1
            if length < 1:
                raise LayerError(
                    f"output size (H - 1)S - 2P + d(k - 1) + output_padding + 1 = "
                    f"({size} - 1)*{s} - {pb + pa} + {d}*({k} - 1) + {op_} + 1 = {length} is not positive"
                )
            out.append(length)
        return ShapeResult((attrs["filters"], out[0], out[1]))

    def params(self, attrs, in_shapes, out_shape):
        kh, kw = attrs["kernel"]
        weights = attrs["in_channels"] * (attrs["filters"] // attrs["groups"]) * kh * kw
        return ParamCounts(weights=weights, biases=attrs["filters"] if attrs["bias"] else 0)

    def ops(self, attrs, in_shapes, out_shape):
        cin, h, w = in_shapes[0]
        kh, kw = attrs["kernel"]
        macs = cin * h * w * (attrs["filters"] // attrs["groups"]) * kh * kw
        outputs = out_shape[0] * out_shape[1] * out_shape[2]
        return OpCounts(
            macs=macs,
            dot_outputs=min(outputs, macs),
            bias_adds=outputs if attrs["bias"] else 0,
            fvcore=macs,
            torch=2 * macs,
        )

    def rf_step(self, attrs, in_shapes) -> RFStep:
        """Output ``o`` gathers from inputs ``i`` with ``o = iS - P + t d``: about
        ``ceil(k'/S)`` inputs around ``(o + P - (k' - 1)/2)/S``."""
        grow, jump, shift = [], [], []
        for k, s, d, (pb, _) in zip(attrs["kernel"], attrs["stride"], attrs["dilation"], attrs["pad"]):
            k_eff = effective_kernel(k, d)
            grow.append(Fraction(ceil(k_eff / s) - 1))
            jump.append(Fraction(1, s))
            shift.append((Fraction(pb) - Fraction(k_eff - 1, 2)) / s)
        return RFStep(tuple(grow), tuple(jump), tuple(shift))
