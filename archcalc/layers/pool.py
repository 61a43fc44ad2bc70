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

Torch: ``nn.MaxPool2d`` / ``nn.AvgPool2d`` / ``nn.Adaptive*Pool2d``, their
``F.`` functions and ``aten.max_pool2d_with_indices`` are captured; global
pooling is built as ``nn.AdaptiveAvgPool2d(1)`` / ``nn.AdaptiveMaxPool2d(1)``.
"""

from __future__ import annotations

from fractions import Fraction
from math import ceil, floor

from archcalc.errors import LayerError
from archcalc.layers.base import (
    REQUIRED,
    register_family,
    Family,
    RFStep,
    Rule,
    ShapeResult,
    SummaryName,
    pair,
    positive_int,
    spatial,
    torch_pair,
    whole_input_step,
    window_step,
)
from archcalc.layers.terms import Derived, Term, atom, count, elements_text, hidden, no_params, shape_step
from archcalc.layers.window import effective_kernel, padding, symmetric_pads, window_output, window_shape_steps


def _torch_padding(node) -> tuple[int, int]:
    pads = symmetric_pads(node.attrs["pad"])
    if pads is None:
        raise LayerError(
            f"torch's pooling cannot pad {node.attrs['pad']} (top, bottom), (left, right) unevenly; "
            "give the padding as a number",
            layer=node.name,
            op=node.op,
        )
    return pads


class _WindowPool(Rule):
    primary = "kernel"
    category = "pool"
    keys = {"kernel": REQUIRED, "stride": None, "pad": 0, "dilation": 1, "ceil_mode": False}
    key_aliases = {"padding": "pad", "kernel_size": "kernel", "size": "kernel", "pool": "kernel"}

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        spatial(in_shapes[0], self.op)
        attrs["kernel"] = pair(attrs["kernel"], "kernel", minimum=1)
        attrs["stride"] = attrs["kernel"] if attrs["stride"] is None else pair(attrs["stride"], "stride", minimum=1)
        attrs["dilation"] = pair(attrs.get("dilation", 1), "dilation", minimum=1)
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
        return window_step(attrs["kernel"], attrs["stride"], (attrs["pad"][0][0], attrs["pad"][1][0]), attrs["dilation"])

    def derive(self, attrs, in_shapes, out_shape):
        """``H_out*W_out*C * (F*F - 1)`` comparisons (max) or additions (average), and one
        division per output (average)."""
        kh, kw = attrs["kernel"]
        steps = window_shape_steps(
            in_shapes[0], out_shape, attrs["kernel"], attrs["stride"], attrs["pad"], attrs["dilation"],
            attrs["ceil_mode"],
        )
        if attrs["stride"] == attrs["kernel"]:
            first = steps[0]
            steps[0] = Derived(first.key, first.quantity, first.formula, first.text, first.value,
                               (first.note + " (stride defaults to the kernel)").strip())
        steps.append(no_params())
        outputs = count(out_shape, "H_out*W_out*C")
        window = Term(kh * kw - 1, "(F*F - 1)", f"({kh}*{kw} - 1)")
        return steps + self.window_ops(outputs, window)

    def window_ops(self, outputs: Term, window: Term) -> list[Derived]:
        raise NotImplementedError


class MaxPoolRule(_WindowPool):
    op = "maxpool"
    aliases = ("maxpool2d", "max_pool", "max_pool2d")
    summary = "max pooling (k*k - 1 comparisons per output)"

    def window_ops(self, outputs, window):
        return [(outputs * window).step("cmps", "comparisons", "F*F - 1 comparisons find each maximum")]

    def to_torch(self, node, factory):
        from torch import nn

        a = node.attrs
        return nn.MaxPool2d(
            kernel_size=tuple(a["kernel"]),
            stride=tuple(a["stride"]),
            padding=_torch_padding(node),
            dilation=tuple(a["dilation"]),
            ceil_mode=a["ceil_mode"],
        )


class AvgPoolRule(_WindowPool):
    op = "avgpool"
    aliases = ("avgpool2d", "avg_pool", "avg_pool2d", "averagepool")
    keys = {"kernel": REQUIRED, "stride": None, "pad": 0, "ceil_mode": False, "count_include_pad": True}
    summary = "average pooling (k*k - 1 adds and 1 division per output)"

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        attrs["count_include_pad"] = bool(attrs["count_include_pad"])
        return attrs

    def window_ops(self, outputs, window):
        return [
            (outputs * window).step("adds", "additions", "F*F - 1 adds sum each window"),
            outputs.step("divs", "divisions", "one division per output"),
        ]

    def to_torch(self, node, factory):
        from torch import nn

        a = node.attrs
        if tuple(a.get("dilation", (1, 1))) != (1, 1):
            raise LayerError("torch's AvgPool2d has no dilation", layer=node.name, op=node.op)
        return nn.AvgPool2d(
            kernel_size=tuple(a["kernel"]),
            stride=tuple(a["stride"]),
            padding=_torch_padding(node),
            ceil_mode=a["ceil_mode"],
            count_include_pad=a["count_include_pad"],
        )


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

    def derive(self, attrs, in_shapes, out_shape):
        """Over PyTorch's windows: ``C*sum(window heights)*sum(window widths) - outputs``
        comparisons (max) or additions and one division per output (average)."""
        c, h, w = in_shapes[0]
        oh, ow = attrs["output"]
        steps = [shape_step(out_shape, "output_size x output_size x C (given)"), no_params()]
        win_h, win_w = adaptive_windows(h, oh), adaptive_windows(w, ow)
        sum_h, sum_w = sum(win_h), sum(win_w)
        note = ""
        if sum_h != h or sum_w != w:
            note = f"the windows overlap: heights {win_h}, widths {win_w} (PyTorch's floor/ceil bounds)"
        combined = Term(
            c * sum_h * sum_w - oh * ow * c,
            "(C*sum(window heights)*sum(window widths) - outputs)",
            f"({c}*{sum_h}*{sum_w} - {oh}*{ow}*{c})",
        )
        outputs = Term(oh * ow * c, "outputs", f"{oh}*{ow}*{c}")
        return steps + self.window_ops(combined, outputs, note, in_shapes[0])

    def window_ops(self, combined: Term, outputs: Term, note: str, in_shape) -> list[Derived]:
        raise NotImplementedError

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


def _fvcore_per_input(in_shape) -> Derived:
    """fvcore's ``adaptive_avg_pool2d`` handle: one flop per input element."""
    value = 1
    for n in in_shape:
        value *= n
    return hidden("fvcore", value, "input elements", elements_text(in_shape),
                  suffix=" (fvcore: one flop per input element)")


class AdaptiveAvgPoolRule(_AdaptivePool):
    op = "adaptive_avgpool"
    aliases = ("adaptiveavgpool", "adaptive_avg_pool2d", "adaptiveavgpool2d")
    summary = "adaptive average pooling to a fixed output size"
    short = "adapt. avg"

    def window_ops(self, combined, outputs, note, in_shape):
        return [
            combined.step("adds", "additions", note),
            outputs.step("divs", "divisions"),
            _fvcore_per_input(in_shape),
        ]

    def to_torch(self, node, factory):
        from torch import nn

        return nn.AdaptiveAvgPool2d(tuple(node.attrs["output"]))


class AdaptiveMaxPoolRule(_AdaptivePool):
    op = "adaptive_maxpool"
    aliases = ("adaptivemaxpool", "adaptive_max_pool2d", "adaptivemaxpool2d")
    summary = "adaptive max pooling to a fixed output size"
    short = "adapt. max"

    def window_ops(self, combined, outputs, note, in_shape):
        return [combined.step("cmps", "comparisons", note)]

    def to_torch(self, node, factory):
        from torch import nn

        return nn.AdaptiveMaxPool2d(tuple(node.attrs["output"]))


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

    def derive(self, attrs, in_shapes, out_shape):
        """``C*(H*W - 1)`` comparisons (max) or additions and ``C`` divisions (average)."""
        c, h, w = in_shapes[0]
        combined = Term(c * (h * w - 1), "C*(H*W - 1)", f"{c}*({h}*{w} - 1)")
        return [shape_step(out_shape, "1 x 1 x C"), no_params()] + self.window_ops(combined, c, in_shapes[0])

    def window_ops(self, combined: Term, channels: int, in_shape) -> list[Derived]:
        raise NotImplementedError


class GlobalAvgPoolRule(_GlobalPool):
    op = "global_avgpool"
    aliases = ("globalavgpool", "gap", "global_average_pooling")
    summary = "global average pooling to C x 1 x 1 (H*W - 1 adds, 1 division per channel)"
    short = "global avg"

    def window_ops(self, combined, channels, in_shape):
        return [
            combined.step("adds", "additions"),
            atom(channels, "C").step("divs", "divisions"),
            _fvcore_per_input(in_shape),
        ]

    def to_torch(self, node, factory):
        from torch import nn

        return nn.AdaptiveAvgPool2d(1)


class GlobalMaxPoolRule(_GlobalPool):
    op = "global_maxpool"
    aliases = ("globalmaxpool",)
    summary = "global max pooling to C x 1 x 1 (H*W - 1 comparisons per channel)"
    short = "global max"

    def window_ops(self, combined, channels, in_shape):
        return [combined.step("cmps", "comparisons")]

    def to_torch(self, node, factory):
        from torch import nn

        return nn.AdaptiveMaxPool2d(1)


# -- from torch ------------------------------------------------------------------------


def _maxpool_module(m, leaf):
    if m.return_indices:
        return None
    return "maxpool", {
        "kernel": torch_pair(m.kernel_size),
        "stride": torch_pair(m.stride) if m.stride is not None else None,
        "pad": torch_pair(m.padding),
        "dilation": torch_pair(m.dilation),
        "ceil_mode": m.ceil_mode,
    }


def _avgpool_module(m, leaf):
    if m.divisor_override is not None:
        return None
    return "avgpool", {
        "kernel": torch_pair(m.kernel_size),
        "stride": torch_pair(m.stride) if m.stride is not None else None,
        "pad": torch_pair(m.padding),
        "ceil_mode": m.ceil_mode,
        "count_include_pad": m.count_include_pad,
    }


def _adaptive_module(op: str):
    def mapper(m, leaf):
        if getattr(m, "return_indices", False):
            return None
        out = m.output_size
        return op, {"output": list(out) if isinstance(out, (list, tuple)) else out}

    return mapper


def _max_pool2d_fn(call):
    if call.arg(6, "return_indices", False):
        return None
    stride = call.arg(2, "stride", None)
    args = {
        "kernel": torch_pair(call.arg(1, "kernel_size")),
        "stride": torch_pair(stride) if stride not in (None, [], ()) else None,
        "pad": torch_pair(call.arg(3, "padding", 0)),
        "dilation": torch_pair(call.arg(4, "dilation", 1)),
        "ceil_mode": bool(call.arg(5, "ceil_mode", False)),
    }
    return [call.spec("maxpool", args, [call.arg(0, "input")])]


def _avg_pool2d_fn(call):
    if call.arg(6, "divisor_override", None) is not None:
        return None
    stride = call.arg(2, "stride", None)
    args = {
        "kernel": torch_pair(call.arg(1, "kernel_size")),
        "stride": torch_pair(stride) if stride not in (None, [], ()) else None,
        "pad": torch_pair(call.arg(3, "padding", 0)),
        "ceil_mode": bool(call.arg(4, "ceil_mode", False)),
        "count_include_pad": bool(call.arg(5, "count_include_pad", True)),
    }
    return [call.spec("avgpool", args, [call.arg(0, "input")])]


def _adaptive_fn(op: str):
    def handler(call):
        if call.arg(2, "return_indices", False):
            return None
        out = call.arg(1, "output_size")
        return [call.spec(op, {"output": list(out) if isinstance(out, (list, tuple)) else out}, [call.arg(0, "input")])]

    return handler


def _aten_max_pool(call):
    x, kernel = call.args[:2]
    rest = list(call.args[2:]) + [None] * 4
    stride, pads, dilation, ceil_mode = rest[:4]
    args = {
        "kernel": torch_pair(kernel),
        "stride": torch_pair(stride) if stride not in (None, [], ()) else None,
        "pad": torch_pair(pads if pads is not None else 0),
        "dilation": torch_pair(dilation if dilation is not None else 1),
        "ceil_mode": bool(ceil_mode),
    }
    return [call.spec("maxpool", args, [x], out=call.outputs()[0])]


FAMILY = register_family(
    Family(
        name="pool",
        rules=(MaxPoolRule, AvgPoolRule, AdaptiveAvgPoolRule, AdaptiveMaxPoolRule, GlobalAvgPoolRule, GlobalMaxPoolRule),
        torch_modules={
            "MaxPool2d": _maxpool_module,
            "AvgPool2d": _avgpool_module,
            "AdaptiveAvgPool2d": _adaptive_module("adaptive_avgpool"),
            "AdaptiveMaxPool2d": _adaptive_module("adaptive_maxpool"),
        },
        torch_functions={
            "max_pool2d": _max_pool2d_fn,
            "avg_pool2d": _avg_pool2d_fn,
            "adaptive_avg_pool2d": _adaptive_fn("adaptive_avgpool"),
            "adaptive_max_pool2d": _adaptive_fn("adaptive_maxpool"),
        },
        aten_ops={"max_pool2d_with_indices": _aten_max_pool},
        names=(SummaryName(r"pool|^gap$", "maxpool", precedence=30),),
    )
)
