"""Pooling: max and average (padding, ceil_mode), adaptive and global, over 1, 2 or 3 spatial axes.

Window pooling, kernel ``k x k``, stride ``S`` (default ``k``), padding ``P``::

    H_out = floor((H + 2P - d(k - 1) - 1)/S) + 1     (ceil with ceil_mode; see window.py)
    max pooling:     k*k - 1 comparisons per output
    average pooling: k*k - 1 adds and 1 division per output

Adaptive pooling to ``(oh, ow)`` uses PyTorch's windows
``[floor(i H/oh), ceil((i+1) H/oh))``; operations are summed over the real
window sizes. fvcore counts ``adaptive_avg_pool2d`` as one flop per input
element (``elementwise_flop_counter(1, 0)``) and ignores the other pools;
PyTorch's flop counter counts no pooling.

The number of spatial axes follows the input's rank: ``(C, L)`` pools a
sequence with windows of ``F`` (``F - 1`` comparisons or adds per output),
``(C, D, H, W)`` a volume with windows of ``F*F*F`` (``nn.MaxPool1d`` /
``nn.MaxPool3d``...). fvcore's ``adaptive_avg_pool2d`` handle has no 1-D or
3-D sibling: it counts ``adaptive_avg_pool1d`` / ``3d`` as 0 (unsupported).

Torch: ``nn.MaxPool1d/2d/3d`` / ``nn.AvgPool1d/2d/3d`` / ``nn.Adaptive*Pool1d/2d/3d``,
their ``F.`` functions and ``aten.max_pool2d_with_indices`` /
``max_pool3d_with_indices`` are captured (a pooling that returns its indices
too is counted as the pooling, the indices being a second output); global
pooling is built as ``nn.AdaptiveAvgPool2d(1)`` / ``nn.AdaptiveMaxPool2d(1)``
(1d / 3d by the input's rank).
"""

from __future__ import annotations

from fractions import Fraction
from math import ceil, floor

from archcalc.errors import LayerError, SpecError
from archcalc.layers.base import (
    AXIS_LETTERS,
    REQUIRED,
    register_family,
    Family,
    RFStep,
    Rule,
    ShapeResult,
    SummaryName,
    ntuple,
    positive_int,
    spatial_axes,
    spatial_window_step,
    torch_pair,
    whole_input_step,
)
from archcalc.layers.terms import Derived, Term, atom, count, elements_text, hidden, no_params, shape_step
from archcalc.layers.window import effective_kernel, padding, symmetric_pads, window_output, window_shape_steps

#: the torch pooling classes by kind, then by the number of spatial axes
_CLASSES = {
    kind: {n: f"{kind}{n}d" for n in (1, 2, 3)}
    for kind in ("MaxPool", "AvgPool", "AdaptiveAvgPool", "AdaptiveMaxPool")
}


def _torch_class(kind: str, n: int):
    from torch import nn

    return getattr(nn, _CLASSES[kind][n])


def _window_formula(n: int) -> str:
    """The elements of a window: ``F`` (1-D), ``F*F`` (2-D), ``F*F*F`` (3-D)."""
    return "*".join("F" * n)


def _outputs_formula(n: int) -> str:
    """The outputs of a pooling, as the counts write them (``H_out*W_out*C`` for an image)."""
    if n == 2:
        return "H_out*W_out*C"
    return "C*" + "*".join(f"{letter}_out" for letter in AXIS_LETTERS[n])


def _whole_step(in_shape) -> RFStep:
    """Global pooling sees every position of the height and width axes (a sequence: the width
    axis; a volume's depth is not tracked)."""
    sizes = tuple(in_shape[1:])
    if len(sizes) == 1:
        return whole_input_step((in_shape[0], 1, sizes[0]))
    return whole_input_step((in_shape[0], sizes[-2], sizes[-1]))


def _torch_padding(node) -> tuple[int, ...]:
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
        _, sizes = spatial_axes(in_shapes[0], self.op)
        n = len(sizes)
        attrs["kernel"] = ntuple(attrs["kernel"], n, "kernel", minimum=1)
        attrs["stride"] = attrs["kernel"] if attrs["stride"] is None else ntuple(attrs["stride"], n, "stride", minimum=1)
        attrs["dilation"] = ntuple(attrs.get("dilation", 1), n, "dilation", minimum=1)
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
        sizes, notes = window_output(
            tuple(in_shapes[0][1:]), attrs["kernel"], attrs["stride"], attrs["pad"], attrs["dilation"],
            attrs["ceil_mode"],
        )
        return ShapeResult((in_shapes[0][0], *sizes), notes)

    def rf_step(self, attrs, in_shapes):
        """The window's step on the height and width axes (a sequence: width only; a volume's
        depth is not tracked)."""
        return spatial_window_step(
            attrs["kernel"], attrs["stride"], tuple(before for before, _ in attrs["pad"]), attrs["dilation"]
        )

    def derive(self, attrs, in_shapes, out_shape):
        """``H_out*W_out*C * (F*F - 1)`` comparisons (max) or additions (average), and one
        division per output (average); ``F - 1`` per output on a sequence, ``F*F*F - 1`` on a
        volume."""
        kernel = attrs["kernel"]
        n = len(kernel)
        steps = window_shape_steps(
            in_shapes[0], out_shape, kernel, attrs["stride"], attrs["pad"], attrs["dilation"],
            attrs["ceil_mode"],
        )
        if attrs["stride"] == attrs["kernel"]:
            first = steps[0]
            steps[0] = Derived(first.key, first.quantity, first.formula, first.text, first.value,
                               (first.note + " (stride defaults to the kernel)").strip())
        steps.append(no_params())
        outputs = count(out_shape, _outputs_formula(n))
        size = 1
        for k in kernel:
            size *= k
        window = Term(size - 1, f"({_window_formula(n)} - 1)", f"({'*'.join(str(k) for k in kernel)} - 1)")
        return steps + self.window_ops(outputs, window, _window_formula(n))

    def window_ops(self, outputs: Term, window: Term, per_window: str) -> list[Derived]:
        raise NotImplementedError


class MaxPoolRule(_WindowPool):
    op = "maxpool"
    aliases = ("maxpool2d", "max_pool", "max_pool2d", "maxpool1d", "maxpool3d", "max_pool1d", "max_pool3d")
    summary = "max pooling (k*k - 1 comparisons per output), 1-D, 2-D or 3-D by the input"

    def window_ops(self, outputs, window, per_window):
        return [(outputs * window).step("cmps", "comparisons", f"{per_window} - 1 comparisons find each maximum")]

    def to_torch(self, node, factory):
        a = node.attrs
        return _torch_class("MaxPool", len(a["kernel"]))(
            kernel_size=tuple(a["kernel"]),
            stride=tuple(a["stride"]),
            padding=_torch_padding(node),
            dilation=tuple(a["dilation"]),
            ceil_mode=a["ceil_mode"],
        )


class AvgPoolRule(_WindowPool):
    op = "avgpool"
    aliases = ("avgpool2d", "avg_pool", "avg_pool2d", "averagepool", "avgpool1d", "avgpool3d", "avg_pool1d",
               "avg_pool3d")
    keys = {"kernel": REQUIRED, "stride": None, "pad": 0, "ceil_mode": False, "count_include_pad": True,
            "divisor_override": None}
    summary = "average pooling (k*k - 1 adds and 1 division per output), 1-D, 2-D or 3-D by the input"

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        attrs["count_include_pad"] = bool(attrs["count_include_pad"])
        if attrs["divisor_override"] is None:
            del attrs["divisor_override"]  # (kept only when given: a sum divided by it, same counts)
        else:
            attrs["divisor_override"] = positive_int(attrs["divisor_override"], "divisor_override")
            if len(attrs["kernel"]) == 1:
                raise LayerError("torch's avg_pool1d takes no divisor_override")
        return attrs

    def window_ops(self, outputs, window, per_window):
        return [
            (outputs * window).step("adds", "additions", f"{per_window} - 1 adds sum each window"),
            outputs.step("divs", "divisions", "one division per output"),
        ]

    def to_torch(self, node, factory):
        a = node.attrs
        n = len(a["kernel"])
        if any(d != 1 for d in a.get("dilation", (1,) * n)):
            raise LayerError(f"torch's AvgPool{n}d has no dilation", layer=node.name, op=node.op)
        extra = {"divisor_override": a["divisor_override"]} if a.get("divisor_override") else {}
        return _torch_class("AvgPool", n)(
            kernel_size=tuple(a["kernel"]),
            stride=tuple(a["stride"]),
            padding=_torch_padding(node),
            ceil_mode=a["ceil_mode"],
            count_include_pad=a["count_include_pad"],
            **extra,
        )


class LPPoolRule(_WindowPool):
    """Power-average pooling (``torch.nn.LPPool1d/2d/3d``): ``(sum over the window of x^p)^(1/p)``,
    computed by torch as ``avg_pool(x^p) * k`` then a root (``F.lp_pool2d``)::

        per input element  1 pow (x^p)
        per output         F*F - 1 adds and 1 div (the average), 3 cmps (sign, abs, relu),
                           2 muls (sign * relu, * k), 1 pow (the root)

    No padding, no dilation; fvcore and torch's counter count none of it."""

    op = "lppool"
    aliases = ("lp_pool", "lppool1d", "lppool2d", "lppool3d", "lp_pool1d", "lp_pool2d", "lp_pool3d")
    keys = {"norm_type": 2.0, "kernel": REQUIRED, "stride": None, "ceil_mode": False}
    key_aliases = {"p": "norm_type", "kernel_size": "kernel", "size": "kernel"}
    primary = "kernel"
    summary = "power-average pooling (sum x^p)^(1/p) over windows, 1-D, 2-D or 3-D by the input"

    def normalize(self, args, in_shapes):
        attrs = Rule.normalize(self, args, in_shapes)
        _, sizes = spatial_axes(in_shapes[0], self.op)
        n = len(sizes)
        p = attrs["norm_type"]
        if isinstance(p, bool) or not isinstance(p, (int, float)) or p in (float("inf"), float("-inf")) or p == 0:
            raise LayerError(f"lppool takes a finite, non-zero norm_type (p), got {p!r} (p = inf is max pooling)")
        attrs["norm_type"] = float(p)
        attrs["kernel"] = ntuple(attrs["kernel"], n, "kernel", minimum=1)
        attrs["stride"] = attrs["kernel"] if attrs["stride"] is None else ntuple(attrs["stride"], n, "stride", minimum=1)
        attrs["pad"] = ((0, 0),) * n  # torch's LPPool has no padding and no dilation
        attrs["dilation"] = (1,) * n
        attrs["ceil_mode"] = bool(attrs["ceil_mode"])
        return attrs

    def window_ops(self, outputs, window, per_window):
        return [
            (outputs * window).step("adds", "additions", f"{per_window} - 1 adds sum each window"),
            outputs.step("divs", "divisions", "the average (torch computes it, then multiplies by the window)"),
            (outputs * 3).step("cmps", "comparisons", "sign, abs, relu"),
            (outputs * 2).step("muls", "multiplications", "sign * relu, * window size"),
        ]

    def derive(self, attrs, in_shapes, out_shape):
        steps = super().derive(attrs, in_shapes, out_shape)
        inputs = count(in_shapes[0], "input elements")
        outputs = count(out_shape, "outputs")
        steps.append((inputs + outputs).step("exps", "exp/sqrt/pow", "x^p per input element, the root per output"))
        return steps

    def to_torch(self, node, factory):
        a = node.attrs
        from torch import nn

        cls = getattr(nn, f"LPPool{len(a['kernel'])}d")
        kernel, stride = tuple(a["kernel"]), tuple(a["stride"])
        if len(kernel) == 1:  # F.lp_pool1d multiplies by kernel_size: it must be a number
            kernel, stride = kernel[0], stride[0]
        return cls(a["norm_type"], kernel, stride=stride, ceil_mode=a["ceil_mode"])


class FractionalMaxPoolRule(Rule):
    """Fractional max pooling (Graham 2014; ``torch.nn.FractionalMaxPool2d/3d``): windows of
    ``k x k`` at pseudo-random positions, as many as ``output`` (or ``floor(H * ratio)``) asks::

        cmps = outputs * (F*F - 1)

    The window positions are random: the receptive field takes the average jump ``H / H_out``."""

    op = "fractional_maxpool"
    aliases = ("fractionalmaxpool", "fractional_max_pool2d", "fractional_max_pool3d")
    primary = "kernel"
    category = "pool"
    keys = {"kernel": REQUIRED, "output": None, "ratio": None}
    key_aliases = {"kernel_size": "kernel", "output_size": "output", "output_ratio": "ratio"}
    summary = "fractional max pooling: k x k windows at random positions to an output size or ratio"

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        _, sizes = spatial_axes(in_shapes[0], self.op)
        n = len(sizes)
        if n == 1:
            raise LayerError("fractional max pooling is 2-D or 3-D (torch has no FractionalMaxPool1d)")
        attrs["kernel"] = ntuple(attrs["kernel"], n, "kernel")
        if (attrs["output"] is None) == (attrs["ratio"] is None):
            raise SpecError("fractional_maxpool needs exactly one of 'output' and 'ratio'")
        if attrs["output"] is None:
            ratio = attrs["ratio"]
            ratios = tuple(ratio) if isinstance(ratio, (list, tuple)) else (ratio,) * n
            if len(ratios) != n or not all(0 < float(r) < 1 for r in ratios):
                raise SpecError(f"fractional_maxpool ratio must be in (0, 1) per axis, got {ratio!r}")
            attrs["output"] = tuple(int(size * float(r)) for size, r in zip(sizes, ratios))
        else:
            attrs["output"] = ntuple(attrs["output"], n, "output")
        for size, out, k in zip(sizes, attrs["output"], attrs["kernel"]):
            if out < 1 or out + k - 1 > size:
                raise LayerError(f"fractional max pooling to {out} with kernel {k} needs an axis of at least "
                                 f"{out + k - 1}, got {size}")
        return attrs

    def output_shape(self, attrs, in_shapes):
        return ShapeResult((in_shapes[0][0], *attrs["output"]))

    def derive(self, attrs, in_shapes, out_shape):
        """``outputs * (F*F - 1)`` comparisons."""
        kernel = attrs["kernel"]
        n = len(kernel)
        steps = [shape_step(out_shape, "output_size (given)" if n == 2 else "C x D_out x H_out x W_out (given)"),
                 no_params()]
        outputs = count(out_shape, _outputs_formula(n))
        window = Term(_product(kernel) - 1, f"({_window_formula(n)} - 1)", f"({'*'.join(map(str, kernel))} - 1)")
        steps.append((outputs * window).step("cmps", "comparisons", "windows at random positions"))
        return steps

    def rf_step(self, attrs, in_shapes):
        sizes = tuple(in_shapes[0][1:])
        k = attrs["kernel"][-2:]
        jumps = [Fraction(size, out) for size, out in zip(sizes[-2:], attrs["output"][-2:])]
        return RFStep(tuple(Fraction(v - 1) for v in k), tuple(jumps), tuple(Fraction(v - 1, 2) for v in k))

    def to_torch(self, node, factory):
        from torch import nn

        a = node.attrs
        cls = getattr(nn, f"FractionalMaxPool{len(a['kernel'])}d")
        return cls(tuple(a["kernel"]), output_size=tuple(a["output"]))


class MaxUnpoolRule(Rule):
    """Max unpooling (``torch.nn.MaxUnpool1d/2d/3d``): each value goes back to the position its
    max pooling took it from (the indices, a second input); the rest is zeros::

        L_out = (L - 1) S - 2P + F    (or the given ``output`` size)
        ops   = none (a scatter into zeros)"""

    op = "max_unpool"
    aliases = ("maxunpool", "max_unpool1d", "max_unpool2d", "max_unpool3d", "unpool")
    primary = "kernel"
    category = "reshape"
    arity = 2
    keys = {"kernel": REQUIRED, "stride": None, "pad": 0, "output": None}
    key_aliases = {"kernel_size": "kernel", "padding": "pad", "output_size": "output"}
    summary = "max unpooling: values back to their max pooling's positions, zeros elsewhere"
    absent = {
        "to_torch": "needs the indices of a max pooling, a second input that specs do not make",
        "rf": "a scatter by indices known only at run time: the receptive field is passed on",
    }

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        x, indices = in_shapes
        if x != indices:
            raise LayerError(f"max_unpool takes values and indices of one shape, got {x} and {indices}")
        _, sizes = spatial_axes(x, self.op)
        n = len(sizes)
        attrs["kernel"] = ntuple(attrs["kernel"], n, "kernel")
        attrs["stride"] = attrs["kernel"] if attrs["stride"] is None else ntuple(attrs["stride"], n, "stride")
        attrs["pad"] = ntuple(attrs["pad"], n, "pad")
        if attrs["output"] is not None:
            out = tuple(attrs["output"])[-n:]
            attrs["output"] = ntuple(list(out), n, "output")
        return attrs

    def output_shape(self, attrs, in_shapes):
        c, sizes = in_shapes[0][0], in_shapes[0][1:]
        if attrs["output"] is not None:
            return ShapeResult((c, *attrs["output"]))
        return ShapeResult((c, *((size - 1) * s - 2 * p + k for size, s, p, k in
                                 zip(sizes, attrs["stride"], attrs["pad"], attrs["kernel"]))))

    def derive(self, attrs, in_shapes, out_shape):
        """A scatter: no operations."""
        return [shape_step(out_shape, "(L - 1)*S - 2P + F per axis", note="a scatter into zeros: no arithmetic"),
                no_params()]


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
        _, sizes = spatial_axes(in_shapes[0], self.op)
        out = attrs["output"]
        if isinstance(out, (list, tuple)) and len(out) == len(sizes):
            out = tuple(size if o is None else o for o, size in zip(out, sizes))
        attrs["output"] = ntuple(out, len(sizes), "output")
        for o in attrs["output"]:
            positive_int(o, "output size")
        return attrs

    def output_shape(self, attrs, in_shapes):
        return ShapeResult((in_shapes[0][0], *attrs["output"]))

    def derive(self, attrs, in_shapes, out_shape):
        """Over PyTorch's windows: ``C*sum(window heights)*sum(window widths) - outputs``
        comparisons (max) or additions and one division per output (average); each axis's
        sum of window lengths on sequences and volumes."""
        c, sizes = in_shapes[0][0], tuple(in_shapes[0][1:])
        out = attrs["output"]
        n = len(sizes)
        if n == 2:
            given = "output_size x output_size x C (given)"
        else:
            given = "C x " + " x ".join(f"{letter}_out" for letter in AXIS_LETTERS[n]) + " (given)"
        steps = [shape_step(out_shape, given), no_params()]
        windows = [adaptive_windows(size, o) for size, o in zip(sizes, out)]
        sums = [sum(w) for w in windows]
        outputs_value = c
        for o in out:
            outputs_value *= o
        note = ""
        if any(total != size for total, size in zip(sums, sizes)):
            words = [f"{name}s {w}" for name, w in zip(_WINDOW_WORDS[n], windows)]
            note = f"the windows overlap: {', '.join(words)} (PyTorch's floor/ceil bounds)"
        product = c
        for total in sums:
            product *= total
        sum_f = "*".join(f"sum(window {name}s)" for name in _WINDOW_WORDS[n])
        out_t = "*".join(str(o) for o in out)
        if n == 2:
            outputs = Term(outputs_value, "outputs", f"{out_t}*{c}")
            combined_t = f"({c}*{sums[0]}*{sums[1]} - {out_t}*{c})"
        else:
            outputs = Term(outputs_value, "outputs", f"{c}*{out_t}")
            combined_t = f"({c}*{'*'.join(str(t) for t in sums)} - {c}*{out_t})"
        combined = Term(product - outputs_value, f"(C*{sum_f} - outputs)", combined_t)
        return steps + self.window_ops(combined, outputs, note, in_shapes[0])

    def window_ops(self, combined: Term, outputs: Term, note: str, in_shape) -> list[Derived]:
        raise NotImplementedError

    def rf_step(self, attrs, in_shapes):
        """Largest window as the kernel, ``H/oh`` as the (possibly fractional) jump (height and
        width; a sequence moves the width only, a volume's depth is not tracked)."""
        sizes = tuple(in_shapes[0][1:])
        grow, jump, shift = [], [], []
        for size, out in zip(sizes, attrs["output"]):
            k = max(adaptive_windows(size, out))
            grow.append(Fraction(k - 1))
            jump.append(Fraction(size, out))
            shift.append(Fraction(k - 1, 2))
        if len(grow) == 1:
            grow, jump, shift = [Fraction(0)] + grow, [Fraction(1)] + jump, [Fraction(0)] + shift
        return RFStep(tuple(grow[-2:]), tuple(jump[-2:]), tuple(shift[-2:]))


#: how the window sums of adaptive pooling are named, by the number of spatial axes
_WINDOW_WORDS = {1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}


def _fvcore_per_input(in_shape) -> Derived:
    """fvcore's ``adaptive_avg_pool2d`` handle: one flop per input element (images only:
    fvcore has no handle for ``adaptive_avg_pool1d`` / ``3d``)."""
    if len(in_shape) != 3:
        return hidden("fvcore", 0)
    value = 1
    for n in in_shape:
        value *= n
    return hidden("fvcore", value, "input elements", elements_text(in_shape),
                  suffix=" (fvcore: one flop per input element)")


class AdaptiveAvgPoolRule(_AdaptivePool):
    op = "adaptive_avgpool"
    aliases = ("adaptiveavgpool", "adaptive_avg_pool2d", "adaptiveavgpool2d", "adaptive_avg_pool1d",
               "adaptive_avg_pool3d", "adaptiveavgpool1d", "adaptiveavgpool3d")
    summary = "adaptive average pooling to a fixed output size"
    short = "adapt. avg"

    def window_ops(self, combined, outputs, note, in_shape):
        return [
            combined.step("adds", "additions", note),
            outputs.step("divs", "divisions"),
            _fvcore_per_input(in_shape),
        ]

    def to_torch(self, node, factory):
        return _torch_class("AdaptiveAvgPool", len(node.attrs["output"]))(tuple(node.attrs["output"]))


class AdaptiveMaxPoolRule(_AdaptivePool):
    op = "adaptive_maxpool"
    aliases = ("adaptivemaxpool", "adaptive_max_pool2d", "adaptivemaxpool2d", "adaptive_max_pool1d",
               "adaptive_max_pool3d", "adaptivemaxpool1d", "adaptivemaxpool3d")
    summary = "adaptive max pooling to a fixed output size"
    short = "adapt. max"

    def window_ops(self, combined, outputs, note, in_shape):
        return [combined.step("cmps", "comparisons", note)]

    def to_torch(self, node, factory):
        return _torch_class("AdaptiveMaxPool", len(node.attrs["output"]))(tuple(node.attrs["output"]))


class _GlobalPool(Rule):
    category = "pool"

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        spatial_axes(in_shapes[0], self.op)
        return attrs

    def output_shape(self, attrs, in_shapes):
        return ShapeResult((in_shapes[0][0],) + (1,) * (len(in_shapes[0]) - 1))

    def rf_step(self, attrs, in_shapes):
        return _whole_step(in_shapes[0])

    def derive(self, attrs, in_shapes, out_shape):
        """``C*(H*W - 1)`` comparisons (max) or additions and ``C`` divisions (average)
        (``C*(L - 1)`` on a sequence, ``C*(D*H*W - 1)`` on a volume)."""
        c, sizes = in_shapes[0][0], tuple(in_shapes[0][1:])
        n = len(sizes)
        letters = "*".join(AXIS_LETTERS[n])
        combined = Term(c * (_product(sizes) - 1), f"C*({letters} - 1)",
                        f"{c}*({'*'.join(str(v) for v in sizes)} - 1)")
        shape = "1 x 1 x C" if n == 2 else "C x " + " x ".join("1" * n)
        return [shape_step(out_shape, shape), no_params()] + self.window_ops(combined, c, in_shapes[0])

    def window_ops(self, combined: Term, channels: int, in_shape) -> list[Derived]:
        raise NotImplementedError


def _product(values) -> int:
    result = 1
    for v in values:
        result *= v
    return result


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
        return _torch_class("AdaptiveAvgPool", len(node.input_shapes[0]) - 1)(1)


class GlobalMaxPoolRule(_GlobalPool):
    op = "global_maxpool"
    aliases = ("globalmaxpool",)
    summary = "global max pooling to C x 1 x 1 (H*W - 1 comparisons per channel)"
    short = "global max"

    def window_ops(self, combined, channels, in_shape):
        return [combined.step("cmps", "comparisons")]

    def to_torch(self, node, factory):
        return _torch_class("AdaptiveMaxPool", len(node.input_shapes[0]) - 1)(1)


# -- from torch ------------------------------------------------------------------------


def _maxpool_module(m, leaf):
    return "maxpool", {
        "kernel": torch_pair(m.kernel_size),
        "stride": torch_pair(m.stride) if m.stride is not None else None,
        "pad": torch_pair(m.padding),
        "dilation": torch_pair(m.dilation),
        "ceil_mode": m.ceil_mode,
    }


def _avgpool_module(m, leaf):
    args = {
        "kernel": torch_pair(m.kernel_size),
        "stride": torch_pair(m.stride) if m.stride is not None else None,
        "pad": torch_pair(m.padding),
        "ceil_mode": m.ceil_mode,
        "count_include_pad": m.count_include_pad,
    }
    if getattr(m, "divisor_override", None) is not None:
        args["divisor_override"] = m.divisor_override
    return "avgpool", args


def _adaptive_module(op: str):
    def mapper(m, leaf):
        out = m.output_size
        return op, {"output": list(out) if isinstance(out, (list, tuple)) else out}

    return mapper


def _max_pool_fn(call):
    """``F.max_pool1d/2d/3d`` (and ``*_with_indices``: the pooled values are the layer, the
    indices a second output)."""
    stride = call.arg(2, "stride", None)
    args = {
        "kernel": torch_pair(call.arg(1, "kernel_size")),
        "stride": torch_pair(stride) if stride not in (None, [], ()) else None,
        "pad": torch_pair(call.arg(3, "padding", 0)),
        "dilation": torch_pair(call.arg(4, "dilation", 1)),
        "ceil_mode": bool(call.arg(5, "ceil_mode", False)),
    }
    return [call.spec("maxpool", args, [call.arg(0, "input")], out=call.outputs()[0])]


def _avg_pool_fn(call):
    """``F.avg_pool1d/2d/3d`` (``divisor_override``: 2d and 3d only)."""
    stride = call.arg(2, "stride", None)
    args = {
        "kernel": torch_pair(call.arg(1, "kernel_size")),
        "stride": torch_pair(stride) if stride not in (None, [], ()) else None,
        "pad": torch_pair(call.arg(3, "padding", 0)),
        "ceil_mode": bool(call.arg(4, "ceil_mode", False)),
        "count_include_pad": bool(call.arg(5, "count_include_pad", True)),
    }
    divisor = call.arg(6, "divisor_override", None)
    if divisor is not None:
        args["divisor_override"] = divisor
    return [call.spec("avgpool", args, [call.arg(0, "input")])]


def _adaptive_fn(op: str):
    def handler(call):
        out = call.arg(1, "output_size")
        args = {"output": list(out) if isinstance(out, (list, tuple)) else out}
        return [call.spec(op, args, [call.arg(0, "input")], out=call.outputs()[0])]

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


def _lppool_module(m, leaf):
    return "lppool", {
        "norm_type": float(m.norm_type),
        "kernel": torch_pair(m.kernel_size),
        "stride": torch_pair(m.stride) if m.stride is not None else None,
        "ceil_mode": m.ceil_mode,
    }


def _lp_pool_fn(call):
    stride = call.arg(3, "stride", None)
    args = {
        "norm_type": float(call.arg(1, "norm_type")),
        "kernel": torch_pair(call.arg(2, "kernel_size")),
        "stride": torch_pair(stride) if stride not in (None, [], ()) else None,
        "ceil_mode": bool(call.arg(4, "ceil_mode", False)),
    }
    return [call.spec("lppool", args, [call.arg(0, "input")])]


def _fractional_module(m, leaf):
    args = {"kernel": torch_pair(m.kernel_size)}
    if m.output_size is not None:
        args["output"] = torch_pair(m.output_size)
    else:
        args["ratio"] = list(m.output_ratio)
    return "fractional_maxpool", args


def _fractional_fn(call):
    out = call.out_shape(call.outputs()[0])
    args = {"kernel": torch_pair(call.arg(1, "kernel_size")), "output": list(out[1:])}
    return [call.spec("fractional_maxpool", args, [call.arg(0, "input")], out=call.outputs()[0])]


def _max_unpool_fn(call):
    """``F.max_unpool1d/2d/3d(input, indices, kernel_size, stride, padding, output_size)``."""
    x, indices = call.arg(0, "input"), call.arg(1, "indices")
    if not (call.is_active(x) and call.is_active(indices)):
        return None
    stride = call.arg(3, "stride", None)
    args = {
        "kernel": torch_pair(call.arg(2, "kernel_size")),
        "stride": torch_pair(stride) if stride not in (None, [], ()) else None,
        "pad": torch_pair(call.arg(4, "padding", 0)),
        "output": list(call.out_shape()[1:]),
    }
    return [call.spec("max_unpool", args, [x, indices])]


def _aten_avg_pool(call):
    """``aten.avg_pool2d/3d(x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override)``
    (inside Python functions the capture sees at the aten level only)."""
    x, kernel = call.args[:2]
    rest = list(call.args[2:]) + [None] * 5
    stride, pads, ceil_mode, include, divisor = rest[:5]
    args = {
        "kernel": torch_pair(kernel),
        "stride": torch_pair(stride) if stride not in (None, [], ()) else None,
        "pad": torch_pair(pads if pads is not None else 0),
        "ceil_mode": bool(ceil_mode),
        "count_include_pad": True if include is None else bool(include),
    }
    if divisor is not None:
        args["divisor_override"] = divisor
    return [call.spec("avgpool", args, [x])]


_ADAPTIVE_FUNCTIONS = {
    **{f"adaptive_avg_pool{n}d": "adaptive_avgpool" for n in (1, 2, 3)},
    **{f"adaptive_max_pool{n}d": "adaptive_maxpool" for n in (1, 2, 3)},
    **{f"adaptive_max_pool{n}d_with_indices": "adaptive_maxpool" for n in (1, 2, 3)},
}

FAMILY = register_family(
    Family(
        name="pool",
        rules=(MaxPoolRule, AvgPoolRule, AdaptiveAvgPoolRule, AdaptiveMaxPoolRule, GlobalAvgPoolRule, GlobalMaxPoolRule,
               LPPoolRule, FractionalMaxPoolRule, MaxUnpoolRule),
        torch_modules={
            **dict.fromkeys(_CLASSES["MaxPool"].values(), _maxpool_module),
            **dict.fromkeys(_CLASSES["AvgPool"].values(), _avgpool_module),
            **dict.fromkeys(_CLASSES["AdaptiveAvgPool"].values(), _adaptive_module("adaptive_avgpool")),
            **dict.fromkeys(_CLASSES["AdaptiveMaxPool"].values(), _adaptive_module("adaptive_maxpool")),
            **{f"LPPool{n}d": _lppool_module for n in (1, 2, 3)},
            **{f"FractionalMaxPool{n}d": _fractional_module for n in (2, 3)},
        },
        torch_functions={
            **{f"max_pool{n}d": _max_pool_fn for n in (1, 2, 3)},
            **{f"max_pool{n}d_with_indices": _max_pool_fn for n in (1, 2, 3)},
            **{f"avg_pool{n}d": _avg_pool_fn for n in (1, 2, 3)},
            **{name: _adaptive_fn(op) for name, op in _ADAPTIVE_FUNCTIONS.items()},
            **{f"lp_pool{n}d": _lp_pool_fn for n in (1, 2, 3)},
            **{f"max_unpool{n}d": _max_unpool_fn for n in (1, 2, 3)},
            **{f"fractional_max_pool{n}d": _fractional_fn for n in (2, 3)},
            **{f"fractional_max_pool{n}d_with_indices": _fractional_fn for n in (2, 3)},
        },
        aten_ops={
            **dict.fromkeys(("max_pool2d_with_indices", "max_pool3d_with_indices"), _aten_max_pool),
            **dict.fromkeys(("avg_pool2d", "avg_pool3d"), _aten_avg_pool),
        },
        names=(SummaryName(r"pool|^gap$", "maxpool", precedence=30),),
        examples={
            "pool1d": ("4x23", "- maxpool: {kernel: 3, stride: 2, pad: 1, ceil_mode: true}\n"
                               "- avgpool: {kernel: 2, count_include_pad: false}\n"
                               "- maxpool: {kernel: 2, stride: 1, dilation: 2}"),
            "adaptive1d": ("4x10", "- concat: [[adaptive_avgpool: 3], [adaptive_maxpool: 3]]"),
            "global1d": ("4x10", "- concat: [[global_avgpool], [global_maxpool]]"),
            "pool3d": ("6x9x9x2", "- maxpool: {kernel: [1, 3, 3], stride: [1, 2, 2], pad: [0, 1, 1]}\n"
                                  "- avgpool: {kernel: 2, ceil_mode: true}\n"
                                  "- avgpool: {kernel: [1, 2, 2], divisor_override: 3}"),
            "adaptive3d": ("5x7x9x2", "- concat: [[adaptive_avgpool: [2, 3, 4]], [adaptive_maxpool: [2, 3, 4]]]"),
            "global3d": ("3x4x5x2", "- concat: [[global_avgpool], [global_maxpool]]"),
            "lppool": ("9x9x3", "- lppool: {norm_type: 2, kernel: 2}\n- lppool: {norm_type: 3, kernel: [2, 1], "
                                "stride: 1, ceil_mode: true}"),
            "lppool_1d": ("4x9", "- lppool: {norm_type: 1.5, kernel: 3, stride: 2}"),
            "fractional_maxpool": ("9x9x3", "- fractional_maxpool: {kernel: 2, output: 5}\n"
                                            "- fractional_maxpool: {kernel: [2, 1], ratio: 0.5}"),
        },
    )
)
