"""Pooling: max and average (padding, ceil_mode), adaptive and global.

Window pooling, kernel ``k x k``, stride ``S`` (default ``k``), padding ``P``::

    H_out = floor((H + 2P - d(k - 1) - 1)/S) + 1     (ceil with ceil_mode; see window.py)
    max pooling:     k*k - 1 comparisons per output
    average pooling: k*k - 1 adds and 1 division per output

Adaptive pooling to ``(oh, ow)`` uses PyTorch's windows
``[floor(i H/oh), ceil((i+1) H/oh))``; operations are summed over the real
window sizes. fvcore counts ``adaptive_avg_pool2d`` as one flop per input
element (``elementwise_flop_counter(1, 0)``) and ignores the other pools;
PyTorch's flop counter counts no pooling.
"""

from __future__ import annotations

from fractions import Fraction
from math import ceil, floor

from archcalc.errors import LayerError
from archcalc.rules.base import (
    REQUIRED,
    OpCounts,
    RFStep,
    Rule,
    ShapeResult,
    pair,
    positive_int,
    prod,
    register,
    spatial,
    window_step,
)
from archcalc.rules.reshape import whole_input_step
from archcalc.rules.window import effective_kernel, padding, window_output


class _WindowPool(Rule):
    primary = "kernel"
    category = "pool"
    keys = {"kernel": REQUIRED, "stride": None, "pad": 0, "dilation": 1, "ceil_mode": False}
    key_aliases = {"padding": "pad", "kernel_size": "kernel", "size": "kernel", "pool": "kernel"}

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        spatial(in_shapes[0], self.op)
        attrs["kernel"] = pair(attrs["kernel"], "kernel")
        attrs["stride"] = attrs["kernel"] if attrs["stride"] is None else pair(attrs["stride"], "stride")
        attrs["dilation"] = pair(attrs.get("dilation", 1), "dilation")
        attrs["pad"] = padding(attrs["pad"], attrs["kernel"], attrs["dilation"], attrs["stride"])
        attrs["ceil_mode"] = bool(attrs["ceil_mode"])
        for (before, after), k, d in zip(attrs["pad"], attrs["kernel"], attrs["dilation"]):
            if max(before, after) * 2 > effective_kernel(k, d):
                raise LayerError(
                    f"padding {max(before, after)} is more than half the kernel {effective_kernel(k, d)} "
                    "(PyTorch refuses this for pooling)"
                )
        return attrs

    def output_shape(self, attrs, in_shapes):
        c, h, w = in_shapes[0]
        (ho, wo), notes = window_output(
            h, w, attrs["kernel"], attrs["stride"], attrs["pad"], attrs["dilation"], attrs["ceil_mode"]
        )
        return ShapeResult((c, ho, wo), notes)

    def rf_step(self, attrs, in_shapes):
        kernel = tuple(effective_kernel(k, d) for k, d in zip(attrs["kernel"], attrs["dilation"]))
        return window_step(kernel, attrs["stride"], (attrs["pad"][0][0], attrs["pad"][1][0]))


@register
class MaxPoolRule(_WindowPool):
    op = "maxpool"
    aliases = ("maxpool2d", "max_pool", "max_pool2d")
    summary = "max pooling (k*k - 1 comparisons per output)"

    def ops(self, attrs, in_shapes, out_shape):
        kh, kw = attrs["kernel"]
        return OpCounts(cmps=prod(out_shape) * (kh * kw - 1))


@register
class AvgPoolRule(_WindowPool):
    op = "avgpool"
    aliases = ("avgpool2d", "avg_pool", "avg_pool2d", "averagepool")
    keys = {"kernel": REQUIRED, "stride": None, "pad": 0, "ceil_mode": False, "count_include_pad": True}
    summary = "average pooling (k*k - 1 adds and 1 division per output)"

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        attrs["count_include_pad"] = bool(attrs["count_include_pad"])
        return attrs

    def ops(self, attrs, in_shapes, out_shape):
        kh, kw = attrs["kernel"]
        outputs = prod(out_shape)
        return OpCounts(adds=outputs * (kh * kw - 1), divs=outputs)


def adaptive_windows(size: int, out: int) -> list[int]:
    """Window lengths of adaptive pooling along one axis (PyTorch's start/end rule)."""
    return [ceil((i + 1) * size / out) - floor(i * size / out) for i in range(out)]


class _AdaptivePool(Rule):
    primary = "output"
    category = "pool"
    keys = {"output": REQUIRED}
    key_aliases = {"output_size": "output", "size": "output"}

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        _, h, w = spatial(in_shapes[0], self.op)
        out = attrs["output"]
        if isinstance(out, (list, tuple)) and len(out) == 2:
            out = tuple(size if o is None else o for o, size in zip(out, (h, w)))
        attrs["output"] = pair(out, "output")
        for o in attrs["output"]:
            positive_int(o, "output size")
        return attrs

    def output_shape(self, attrs, in_shapes):
        return ShapeResult((in_shapes[0][0], *attrs["output"]))

    def _window_elements(self, attrs, in_shapes) -> int:
        c, h, w = in_shapes[0]
        oh, ow = attrs["output"]
        return c * sum(adaptive_windows(h, oh)) * sum(adaptive_windows(w, ow))

    def rf_step(self, attrs, in_shapes):
        """Largest window as the kernel, ``H/oh`` as the (possibly fractional) jump."""
        _, h, w = in_shapes[0]
        grow, jump, shift = [], [], []
        for size, out in zip((h, w), attrs["output"]):
            k = max(adaptive_windows(size, out))
            grow.append(Fraction(k - 1))
            jump.append(Fraction(size, out))
            shift.append(Fraction(k - 1, 2))
        return RFStep(tuple(grow), tuple(jump), tuple(shift))


@register
class AdaptiveAvgPoolRule(_AdaptivePool):
    op = "adaptive_avgpool"
    aliases = ("adaptiveavgpool", "adaptive_avg_pool2d", "adaptiveavgpool2d")
    summary = "adaptive average pooling to a fixed output size"

    def ops(self, attrs, in_shapes, out_shape):
        outputs = prod(out_shape)
        return OpCounts(
            adds=self._window_elements(attrs, in_shapes) - outputs,
            divs=outputs,
            fvcore=prod(in_shapes[0]),
        )


@register
class AdaptiveMaxPoolRule(_AdaptivePool):
    op = "adaptive_maxpool"
    aliases = ("adaptivemaxpool", "adaptive_max_pool2d", "adaptivemaxpool2d")
    summary = "adaptive max pooling to a fixed output size"

    def ops(self, attrs, in_shapes, out_shape):
        return OpCounts(cmps=self._window_elements(attrs, in_shapes) - prod(out_shape))


class _GlobalPool(Rule):
    category = "pool"

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        spatial(in_shapes[0], self.op)
        return attrs

    def output_shape(self, attrs, in_shapes):
        return ShapeResult((in_shapes[0][0], 1, 1))

    def rf_step(self, attrs, in_shapes):
        return whole_input_step(in_shapes[0])


@register
class GlobalAvgPoolRule(_GlobalPool):
    op = "global_avgpool"
    aliases = ("globalavgpool", "gap", "global_average_pooling")
    summary = "global average pooling to C x 1 x 1 (H*W - 1 adds, 1 division per channel)"

    def ops(self, attrs, in_shapes, out_shape):
        c, h, w = in_shapes[0]
        return OpCounts(adds=c * (h * w - 1), divs=c, fvcore=c * h * w)


@register
class GlobalMaxPoolRule(_GlobalPool):
    op = "global_maxpool"
    aliases = ("globalmaxpool",)
    summary = "global max pooling to C x 1 x 1 (H*W - 1 comparisons per channel)"

    def ops(self, attrs, in_shapes, out_shape):
        c, h, w = in_shapes[0]
        return OpCounts(cmps=c * (h * w - 1))
