"""Convolution and transposed convolution over 1, 2 or 3 spatial axes.

Convolution, input ``Cin x H x W``, ``Cout`` filters of ``kh x kw``, ``groups`` g::

    H_out = floor((H + 2P - d(k - 1) - 1)/S) + 1          (see window.py)
    weights = Cout * (Cin/g) * kh * kw
    biases  = Cout  (when bias is on)
    MACs    = Cout * H_out * W_out * (Cin/g * kh * kw)     (n = Cin/g*kh*kw per output)

The number of spatial axes follows the input's rank, as ``nn.Conv1d`` /
``nn.Conv2d`` / ``nn.Conv3d`` do: ``(Cin, L)`` convolves a sequence with a
kernel ``F`` (``MACs = Cout * L_out * (Cin/g * F)``), ``(Cin, D, H, W)`` a
volume with a kernel ``kd x kh x kw`` (``MACs = Cout * D_out * H_out * W_out *
(Cin/g * kd * kh * kw)``). A spec gives ``kernel``, ``stride``, ``pad``,
``dilation`` as one number or one per axis. For instance (the issue's truths,
checked against fvcore and torch's counter in the tests):
``nn.Conv1d(4, 8, 5, stride=2, padding=1)`` on ``(4, 31)``: ``L_out =
floor((31 - 5 + 2*1)/2) + 1 = 15``, ``MACs = 15*8 * (5*4) = 2,400``;
``nn.Conv3d(2, 4, 3, stride=(1, 2, 2), padding=1)`` on ``(2, 5, 9, 9)``:
``5 x 5 x 5`` outputs, ``MACs = 5*5*5*4 * (3*3*3*2) = 27,000``.

The weight tensor is ``(K, Cin/g, kh, kw)`` in torch (OIHW) and ``(kh, kw,
Cin/g, K)`` in Keras (HWIO; a depthwise one ``(kh, kw, Cin, K/Cin)`` as Keras'
``DepthwiseConv2D`` writes it); a sequence's ``(K, Cin/g, F)`` / ``(F, Cin/g,
K)``, a volume's ``(K, Cin/g, kd, kh, kw)`` / ``(kd, kh, kw, Cin/g, K)``.
``--explain`` also gives the **dense equivalent**, the parameters of a fully
connected layer from the input to the output, ``(H*W*Cin + 1) *
(H_out*W_out*K)``: what weight sharing saves.

Depthwise convolution is ``groups = Cin``. fvcore counts the MACs (bias
ignored; ``fvcore/nn/jit_handles.py: conv_flop_count``); PyTorch's
``torch/utils/flop_counter.py: conv_flop_count`` counts ``2 * MACs``.

Transposed convolution (``torch.nn.ConvTranspose2d``)::

    H_out = (H - 1)S - P_before - P_after + d(k - 1) + output_padding + 1
    weights = Cin * (Cout/g) * kh * kw
    MACs    = Cin * H * W * (Cout/g * kh * kw)             (each input scatters into a kernel)

Torch: ``nn.Conv1d/2d/3d`` / ``nn.ConvTranspose1d/2d/3d``, ``F.conv1d/2d/3d`` /
``F.conv_transpose1d/2d/3d`` and ``aten.convolution`` (3-, 4- and 5-D weights)
are captured; the builder makes ``nn.Conv2d(in_channels, filters, kernel,
stride, padding, dilation, groups, bias)`` (``Conv1d`` / ``Conv3d`` by the
input's rank): symmetric pads become ``padding=(top, left)``, the uneven
split of ``pad: same`` (even kernel, stride 1) becomes ``padding="same"``,
which pads the same way (fvcore 0.1.5 has no handle for the
``aten::_convolution_mode`` that string padding traces to, and counts such a
conv as 0).
"""

from __future__ import annotations

from fractions import Fraction
from math import ceil
from typing import Any

from archcalc.errors import InputError, LayerError, SpecError
from archcalc.inputs import format_hwc
from archcalc.layers.base import (
    AXIS_LETTERS,
    AXIS_NAMES,
    REQUIRED,
    Family,
    RFStep,
    Rule,
    ShapeResult,
    SummaryName,
    ntuple,
    positive_int,
    register_family,
    spatial_axes,
    spatial_window_step,
    torch_pair,
)
from archcalc.layers.terms import (
    Derived,
    Term,
    WeightShape,
    atom,
    count,
    factors,
    hidden,
    num,
    power_of_ten,
    shape_step,
)
from archcalc.layers.window import (
    effective_kernel,
    padding,
    shape_formula,
    symmetric_pads,
    window_output,
    window_shape_steps,
)


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


def _kernel_formula(kernel: tuple[int, ...]) -> str:
    """``F`` (1-D), ``F*F`` or ``F_h*F_w`` (2-D), ``F*F*F`` or ``F_d*F_h*F_w`` (3-D)."""
    if len(set(kernel)) == 1:
        return "*".join("F" * len(kernel))
    return "*".join(f"F_{letter.lower()}" for letter in AXIS_LETTERS[len(kernel)])


def _kernel_text(kernel: tuple[int, ...]) -> str:
    return "*".join(str(k) for k in kernel)


def _kernel_letters(kernel: tuple[int, ...]) -> tuple[str, ...]:
    """``("F", "F")`` or ``("F_h", "F_w")`` (and the 1-D and 3-D forms), as weight shapes are written."""
    if len(set(kernel)) == 1:
        return ("F",) * len(kernel)
    return tuple(f"F_{letter.lower()}" for letter in AXIS_LETTERS[len(kernel)])


#: the axis orders of a convolution's weight in torch and Keras, by the number of spatial axes
_ORDERS = {1: ("OIW", "WIO"), 2: ("OIHW", "HWIO"), 3: ("OIDHW", "DHWIO")}
_TRANSPOSED_ORDERS = {1: ("IOW", "WOI"), 2: ("IOHW", "HWOI"), 3: ("IODHW", "DHWOI")}


def dense_equivalent(in_shape, out_shape) -> Derived:
    """Parameters of a dense layer from the whole input to the whole output:
    ``(H*W*Cin + 1) * (H_out*W_out*K)`` (what the convolution's weight sharing saves)."""
    n = len(in_shape) - 1
    if n == 2:
        in_f, out_f = "H*W*Cin", "H_out*W_out*K"
    else:
        in_f = "Cin*" + "*".join(AXIS_LETTERS[n])
        out_f = "K*" + "*".join(f"{letter}_out" for letter in AXIS_LETTERS[n])
    inputs = count(in_shape, in_f)
    outputs = count(out_shape, out_f)
    params = (inputs + 1).grouped() * outputs.grouped()
    return params.step(
        "dense_equivalent", "dense equivalent",
        f"a fully connected layer {format_hwc(in_shape)} -> {format_hwc(out_shape)} instead: "
        f"about {power_of_ten(params.value)} parameters",
    )


#: the torch classes of a convolution by the number of spatial axes
_CONV_CLASSES = {1: "Conv1d", 2: "Conv2d", 3: "Conv3d"}
_TRANSPOSED_CLASSES = {1: "ConvTranspose1d", 2: "ConvTranspose2d", 3: "ConvTranspose3d"}


def _bias_steps(weights: Term, per: Term, k: Term, bias: bool, filters: int) -> list[Derived]:
    """``biases: K``, ``params: (F*F*Cin + 1) * K`` (or ``F*F*Cin * K (no bias)``)."""
    if not bias:
        return [weights.named(f"{weights.formula} (no bias)").step("params", "params")]
    return [
        atom(filters, "K (one per filter)").step("biases", "biases"),
        ((per + 1).grouped() * k).step("params", "params"),
    ]


class ConvRule(Rule):
    op = "conv"
    aliases = ("conv2d", "convolution", "conv1d", "conv3d")
    category = "dot"
    keys = _CONV_KEYS
    key_aliases = _CONV_ALIASES
    summary = "convolution, 1-D, 2-D or 3-D by the input (groups, depthwise, dilation, pad int/pair/same/valid)"
    gpu_library = "cudnn"

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        cin, sizes = spatial_axes(in_shapes[0], self.op)
        n = len(sizes)
        _channels(attrs, cin, self.op)
        attrs["kernel"] = ntuple(attrs["kernel"], n, "kernel")
        attrs["stride"] = ntuple(attrs["stride"], n, "stride")
        attrs["dilation"] = ntuple(attrs["dilation"], n, "dilation")
        for name in ("kernel", "stride", "dilation"):
            if min(attrs[name]) < 1:
                raise SpecError(f"{name} must be >= 1, got {attrs[name]}")
        attrs["pad"] = padding(attrs["pad"], attrs["kernel"], attrs["dilation"], attrs["stride"])
        attrs["bias"] = bool(attrs["bias"])
        return attrs

    def output_shape(self, attrs, in_shapes):
        sizes, notes = window_output(
            tuple(in_shapes[0][1:]), attrs["kernel"], attrs["stride"], attrs["pad"], attrs["dilation"]
        )
        return ShapeResult((attrs["filters"], *sizes), notes)

    def weight_shape(self, attrs, in_shapes):
        """torch ``(K, Cin/g, kh, kw)`` (OIHW); Keras ``(kh, kw, Cin/g, K)`` (HWIO), a depthwise
        convolution ``(kh, kw, Cin, K/Cin)`` (``DepthwiseConv2D``); one kernel axis per spatial axis."""
        kernel = tuple(attrs["kernel"])
        cin, g, filters = attrs["in_channels"], attrs["groups"], attrs["filters"]
        f = _kernel_letters(kernel)
        c_f = "Cin" if g == 1 else "Cin/g"
        if g == cin and g > 1 and len(kernel) == 2:
            return WeightShape((filters, 1, *kernel), (*kernel, cin, filters // cin), ("K", "1", *f),
                               (*f, "Cin", "K/Cin"), ("OIHW", "DepthwiseConv2D"))
        return WeightShape((filters, cin // g, *kernel), (*kernel, cin // g, filters), ("K", c_f, *f),
                           (*f, c_f, "K"), _ORDERS[len(kernel)])

    def derive(self, attrs, in_shapes, out_shape):
        """``weights = F*F*Cin/g * K``, ``params = (F*F*Cin/g + 1) * K``,
        ``MACs = H_out*W_out*K * (F*F*Cin/g)`` (``L_out*K * (F*Cin/g)`` on a sequence,
        ``D_out*H_out*W_out*K * (F*F*F*Cin/g)`` on a volume); the weight tensor's shape and the
        dense equivalent ``(H*W*Cin + 1) * (H_out*W_out*K)``."""
        kernel = attrs["kernel"]
        cin, g, filters = attrs["in_channels"], attrs["groups"], attrs["filters"]
        steps = window_shape_steps(
            in_shapes[0], out_shape, kernel, attrs["stride"], attrs["pad"], attrs["dilation"], False, "K"
        )
        c_f, c_s = ("Cin", str(cin)) if g == 1 else ("Cin/g", f"{cin}/{g}")
        kernel_f = _kernel_formula(kernel)
        per_value = cin // g
        for k in kernel:
            per_value *= k
        per = Term(per_value, f"{kernel_f}*{c_f}", f"{_kernel_text(kernel)}*{c_s}")
        k = atom(filters, "K")
        weights = per * k
        depthwise = "depthwise: each filter sees one channel" if g == cin and g > 1 else ""
        steps.append(self.weight_shape(attrs, in_shapes).step())
        steps.append(weights.step("weights", "weights", depthwise))
        steps += _bias_steps(weights, per, k, attrs["bias"], filters)
        steps.append(dense_equivalent(in_shapes[0], out_shape))
        letters = "*".join(f"{letter}_out" for letter in AXIS_LETTERS[len(kernel)])
        outputs = factors(f"{letters}*K", *out_shape[1:], filters)
        macs = outputs * per.grouped()
        window = "*".join("F" * len(kernel))
        steps.append(macs.step("macs", "MACs", f"each output is a dot product of length {window}*Cin/g"))
        steps += [
            hidden("dot_outputs", outputs.value),
            hidden("bias_adds", outputs.value if attrs["bias"] else 0),
            hidden("fvcore", macs.value),
            hidden("torch", 2 * macs.value),
        ]
        return steps

    def rf_step(self, attrs, in_shapes):
        """The window's step on the height and width axes (a sequence: width only; a volume's
        depth is not tracked)."""
        return spatial_window_step(
            attrs["kernel"], attrs["stride"], tuple(before for before, _ in attrs["pad"]), attrs["dilation"]
        )

    def to_torch(self, node, factory):
        from torch import nn

        a = node.attrs
        cls = getattr(nn, _CONV_CLASSES[len(a["kernel"])])
        pads: Any = symmetric_pads(a["pad"])
        if pads is None:
            # PyTorch's padding="same" puts total // 2 before and the rest after,
            # which is how the rule resolves `pad: same` (stride 1 only).
            same = tuple(
                (d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2) for k, d in zip(a["kernel"], a["dilation"])
            )
            if any(s != 1 for s in a["stride"]) or tuple(map(tuple, a["pad"])) != same:
                raise LayerError(
                    f"torch's {cls.__name__} cannot pad {a['pad']} {_pad_words(len(a['kernel']))} unevenly "
                    "except as padding='same' with stride 1",
                    layer=node.name,
                    op=node.op,
                )
            pads = "same"
        return cls(
            a["in_channels"],
            a["filters"],
            kernel_size=tuple(a["kernel"]),
            stride=tuple(a["stride"]),
            padding=pads,
            dilation=tuple(a["dilation"]),
            groups=a["groups"],
            bias=a["bias"],
            **factory,
        )


def _pad_words(n: int) -> str:
    """How a pad of ``n`` axes is read: ``(top, bottom), (left, right)`` for an image."""
    return {1: "(left, right)", 2: "(top, bottom), (left, right)", 3: "(front, back), (top, bottom), (left, right)"}[n]


def transposed_length(size: int, k: int, s: int, pb: int, pa: int, d: int, output_padding: int) -> int:
    """``(H - 1)S - P_before - P_after + d(k - 1) + output_padding + 1``."""
    return (size - 1) * s - pb - pa + d * (k - 1) + output_padding + 1


class ConvTransposeRule(Rule):
    op = "convtranspose"
    aliases = ("conv_transpose", "convtranspose2d", "deconv", "transposed_conv", "convtranspose1d", "convtranspose3d")
    category = "dot"
    keys = {**_CONV_KEYS, "output_padding": 0}
    key_aliases = _CONV_ALIASES
    summary = "transposed convolution, 1-D, 2-D or 3-D by the input"
    short = "convT"
    profiled = False  # torch.profiler reports no FLOPs for its kernels
    gpu_library = "cudnn"

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        cin, sizes = spatial_axes(in_shapes[0], self.op)
        n = len(sizes)
        _channels(attrs, cin, self.op)
        for name in ("kernel", "stride", "dilation", "output_padding"):
            attrs[name] = ntuple(attrs[name], n, name)
        if isinstance(attrs["pad"], str):
            raise SpecError("a transposed convolution takes pad as a number or a pair")
        attrs["pad"] = tuple((p, p) for p in ntuple(attrs["pad"], n, "pad"))
        for (op_, s, d) in zip(attrs["output_padding"], attrs["stride"], attrs["dilation"]):
            if op_ >= max(s, d):
                raise LayerError(
                    f"output_padding ({op_}) must be smaller than stride ({s}) or dilation ({d})"
                )
        attrs["bias"] = bool(attrs["bias"])
        return attrs

    def output_shape(self, attrs, in_shapes):
        out = []
        for size, k, s, (pb, pa), d, op_ in zip(
            in_shapes[0][1:], attrs["kernel"], attrs["stride"], attrs["pad"], attrs["dilation"], attrs["output_padding"]
        ):
            length = transposed_length(size, k, s, pb, pa, d, op_)
            if length < 1:
                raise LayerError(
                    f"output size (H - 1)S - 2P + d(k - 1) + output_padding + 1 = "
                    f"({size} - 1)*{s} - {pb + pa} + {d}*({k} - 1) + {op_} + 1 = {length} is not positive"
                )
            out.append(length)
        return ShapeResult((attrs["filters"], *out))

    def weight_shape(self, attrs, in_shapes):
        """torch ``(Cin, K/g, kh, kw)``; Keras ``Conv2DTranspose`` ``(kh, kw, K/g, Cin)``."""
        kernel = tuple(attrs["kernel"])
        cin, g, filters = in_shapes[0][0], attrs["groups"], attrs["filters"]
        f = _kernel_letters(kernel)
        k_f = "K" if g == 1 else "K/g"
        return WeightShape((cin, filters // g, *kernel), (*kernel, filters // g, cin), ("Cin", k_f, *f),
                           (*f, k_f, "Cin"), _TRANSPOSED_ORDERS[len(kernel)])

    def derive(self, attrs, in_shapes, out_shape):
        """``weights = Cin * K/g * F*F``, ``MACs = H*W*Cin * (K/g*F*F)`` (``L*Cin * (K/g*F)`` on a
        sequence, ``D*H*W*Cin * (K/g*F*F*F)`` on a volume); the weight tensor's shape and the dense
        equivalent."""
        cin, sizes = in_shapes[0][0], tuple(in_shapes[0][1:])
        kernel = attrs["kernel"]
        n = len(kernel)
        g, filters = attrs["groups"], attrs["filters"]
        axes = []
        for letter, size, k, s, (pb, pa), d, op_ in zip(
            AXIS_LETTERS[n], sizes, kernel, attrs["stride"], attrs["pad"], attrs["dilation"],
            attrs["output_padding"],
        ):
            p_f, p_s = ("2P", f"2*{pb}") if pb == pa else ("P_before - P_after", f"{pb} - {pa}")
            d_f, d_s = ("(F - 1)", f"({k} - 1)") if d == 1 else ("d(F - 1)", f"{d}*({k} - 1)")
            formula = f"({letter} - 1)*S - {p_f} + {d_f} + output_padding + 1"
            text = f"({size} - 1)*{s} - {p_s} + {d_s} + {op_} + 1"
            axes.append((formula, text, transposed_length(size, k, s, pb, pa, d, op_)))
        names = AXIS_NAMES[n]
        if n >= 2 and axes[-2][1] == axes[-1][1]:
            if n == 3 and axes[0][1] == axes[-1][1]:
                steps = [Derived("output_size_dhw", "output depth = height = width", *axes[-1])]
            else:
                steps = [Derived(f"output_{name}", f"output {name}", *axis) for axis, name in zip(axes[:-2], names)]
                steps.append(Derived("output_size", "output height = width", *axes[-1]))
        else:
            steps = [Derived(f"output_{name}", f"output {name}", *axis) for axis, name in zip(axes, names)]
        steps.append(shape_step(out_shape, shape_formula(n, "K")))
        k_f = _kernel_formula(kernel)
        kg_f, kg_s = ("K", str(filters)) if g == 1 else ("K/g", f"{filters}/{g}")
        per_value = filters // g
        for k in kernel:
            per_value *= k
        per = Term(per_value, f"{kg_f}*{k_f}", f"{kg_s}*{_kernel_text(kernel)}")
        weights = Term(cin * per.value, f"Cin * {kg_f} * {k_f}", f"{cin} * {kg_s} * {_kernel_text(kernel)}")
        steps.append(self.weight_shape(attrs, in_shapes).step())
        steps.append(weights.step("weights", "weights"))
        if attrs["bias"]:
            steps.append(atom(filters, "K").step("biases", "biases"))
            params = Term(weights.value + filters, "weights + biases", f"{num(weights.value)} + {filters}")
            steps.append(params.step("params", "params"))
        steps.append(dense_equivalent(in_shapes[0], out_shape))
        letters = "*".join(AXIS_LETTERS[n])
        macs = factors(f"{letters}*Cin", *sizes, cin) * per.grouped()
        steps.append(macs.step("macs", "MACs", "each input value is scattered through one kernel"))
        outputs = 1
        for size in out_shape:
            outputs *= size
        steps += [
            hidden("dot_outputs", min(outputs, macs.value)),
            hidden("bias_adds", outputs if attrs["bias"] else 0),
            hidden("fvcore", macs.value),
            hidden("torch", 2 * macs.value),
        ]
        return steps

    def rf_step(self, attrs, in_shapes) -> RFStep:
        """Output ``o`` gathers from inputs ``i`` with ``o = iS - P + t d``: about
        ``ceil(k'/S)`` inputs around ``(o + P - (k' - 1)/2)/S`` (height and width; a sequence
        moves the width only, a volume's depth is not tracked)."""
        grow, jump, shift = [], [], []
        for k, s, d, (pb, _) in zip(attrs["kernel"], attrs["stride"], attrs["dilation"], attrs["pad"]):
            k_eff = effective_kernel(k, d)
            grow.append(Fraction(ceil(k_eff / s) - 1))
            jump.append(Fraction(1, s))
            shift.append((Fraction(pb) - Fraction(k_eff - 1, 2)) / s)
        if len(grow) == 1:
            grow, jump, shift = [Fraction(0)] + grow, [Fraction(1)] + jump, [Fraction(0)] + shift
        return RFStep(tuple(grow[-2:]), tuple(jump[-2:]), tuple(shift[-2:]))

    def to_torch(self, node, factory):
        from torch import nn

        a = node.attrs
        cls = getattr(nn, _TRANSPOSED_CLASSES[len(a["kernel"])])
        pads = symmetric_pads(a["pad"])
        if pads is None:
            raise LayerError(f"torch's {cls.__name__} cannot pad {a['pad']} unevenly", layer=node.name, op=node.op)
        return cls(
            a["in_channels"],
            a["filters"],
            kernel_size=tuple(a["kernel"]),
            stride=tuple(a["stride"]),
            padding=pads,
            output_padding=tuple(a["output_padding"]),
            groups=a["groups"],
            bias=a["bias"],
            dilation=tuple(a["dilation"]),
            **factory,
        )


# -- from torch ------------------------------------------------------------------------


def _conv_module(m, leaf):
    return "conv", {
        "filters": m.out_channels,
        "kernel": tuple(m.kernel_size),
        "stride": tuple(m.stride),
        "pad": m.padding if isinstance(m.padding, str) else tuple(m.padding),
        "dilation": tuple(m.dilation),
        "groups": m.groups,
        "bias": m.bias is not None,
    }


def _conv_transpose_module(m, leaf):
    return "convtranspose", {
        "filters": m.out_channels,
        "kernel": tuple(m.kernel_size),
        "stride": tuple(m.stride),
        "pad": tuple(m.padding),
        "output_padding": tuple(m.output_padding),
        "dilation": tuple(m.dilation),
        "groups": m.groups,
        "bias": m.bias is not None,
    }


def _conv_fn(call):
    """``F.conv1d`` / ``conv2d`` / ``conv3d`` with a learned weight of 3, 4 or 5 axes."""
    x, weight = call.arg(0, "input"), call.arg(1, "weight")
    bias = call.arg(2, "bias")
    if not (call.is_constant(weight) and weight.dim() in (3, 4, 5)) or (bias is not None and not call.is_constant(bias)):
        return None
    stride, pads, dilation, groups = (
        call.arg(3, "stride", 1),
        call.arg(4, "padding", 0),
        call.arg(5, "dilation", 1),
        call.arg(6, "groups", 1),
    )
    args = {
        "filters": weight.shape[0],
        "kernel": tuple(weight.shape[2:]),
        "stride": torch_pair(stride),
        "pad": pads if isinstance(pads, str) else torch_pair(pads),
        "dilation": torch_pair(dilation),
        "groups": groups,
        "bias": bias is not None,
    }
    return [call.spec("conv", args, [x], params=call.params(weight, bias))]


def _conv_transpose_fn(call):
    """``F.conv_transpose1d`` / ``2d`` / ``3d`` with a learned weight."""
    x, weight, bias = call.arg(0, "input"), call.arg(1, "weight"), call.arg(2, "bias")
    if not (call.is_constant(weight) and weight.dim() in (3, 4, 5)):
        return None
    groups = call.arg(6, "groups", 1)
    args = {
        "filters": weight.shape[1] * groups,
        "kernel": tuple(weight.shape[2:]),
        "stride": torch_pair(call.arg(3, "stride", 1)),
        "pad": torch_pair(call.arg(4, "padding", 0)),
        "output_padding": torch_pair(call.arg(5, "output_padding", 0)),
        "groups": groups,
        "dilation": torch_pair(call.arg(7, "dilation", 1)),
        "bias": bias is not None,
    }
    return [call.spec("convtranspose", args, [x], params=call.params(weight, bias))]


def _aten_convolution(call):
    x, weight, bias, stride, pads, dilation, transposed, output_padding, groups = call.args[:9]
    if not (call.is_constant(weight) and weight.dim() in (3, 4, 5)) or not call.is_active(x):
        return None
    common = {
        "kernel": tuple(weight.shape[2:]),
        "stride": torch_pair(stride),
        "pad": torch_pair(pads),
        "dilation": torch_pair(dilation),
        "groups": groups,
        "bias": bias is not None,
    }
    if transposed:
        args = {**common, "filters": weight.shape[1] * groups, "output_padding": torch_pair(output_padding)}
        return [call.spec("convtranspose", args, [x], params=call.params(weight, bias))]
    return [call.spec("conv", {**common, "filters": weight.shape[0]}, [x], params=call.params(weight, bias))]


# -- single-layer questions ------------------------------------------------------------

#: arguments of a separable convolution that go to its pointwise half (bias goes to both)
_POINTWISE_KEYS = ("filters", "out_channels", "channels")


def _separable(builder, args: dict[str, Any], source: str) -> None:
    """Depthwise k x k, then pointwise 1 x 1 to ``filters``."""
    pointwise = {k: v for k, v in args.items() if k in _POINTWISE_KEYS}
    depthwise = {k: v for k, v in args.items() if k not in _POINTWISE_KEYS}
    if "bias" in args:
        pointwise["bias"] = args["bias"]
    if not pointwise:
        raise InputError("a separable convolution needs --filters (the channels of its pointwise half)")
    depthwise["depthwise"] = True
    first = builder.add("depthwise", "conv", depthwise, [source])
    builder.add("pointwise", "conv", {**pointwise, "kernel": 1}, [first])


FAMILY = register_family(
    Family(
        name="conv",
        rules=(ConvRule, ConvTransposeRule),
        torch_modules={
            **dict.fromkeys(_CONV_CLASSES.values(), _conv_module),
            **dict.fromkeys(_TRANSPOSED_CLASSES.values(), _conv_transpose_module),
        },
        torch_functions={
            **dict.fromkeys(("conv1d", "conv2d", "conv3d"), _conv_fn),
            **dict.fromkeys(("conv_transpose1d", "conv_transpose2d", "conv_transpose3d"), _conv_transpose_fn),
        },
        aten_ops={"convolution": _aten_convolution},
        names=(
            SummaryName(r"transpose|deconv|upconv", "convtranspose", precedence=10),
            SummaryName(r"conv", "conv", precedence=20),
        ),
        shorthands={
            "depthwise": ("conv", {"depthwise": True}, "depthwise convolution (groups = Cin, one filter per channel)"),
            "pointwise_conv": ("conv", {"kernel": 1}, "pointwise 1 x 1 convolution"),
            "dilated": ("conv", {"dilation": 2}, "dilated (atrous) convolution, dilation 2 unless --dilation"),
            "transposed": ("convtranspose", {}, "transposed convolution"),
        },
        composites={
            "separable": (
                _separable,
                ("depthwise_separable",),
                "depthwise-separable convolution: depthwise k x k, then pointwise 1 x 1 to --filters",
            ),
        },
        roles={"projection": "conv"},
        examples={
            "conv1d_issue": ("4x31", "- conv: {filters: 8, kernel: 5, stride: 2, pad: 1}"),
            "conv1d_groups_dilation": ("6x20", "- conv: {filters: 4, kernel: 3, dilation: 2, groups: 2, pad: same}\n"
                                       "- conv: {filters: 4, kernel: 4, bias: false}"),
            "conv3d_issue": ("5x9x9x2", "- conv: {filters: 4, kernel: 3, stride: [1, 2, 2], pad: 1}"),
            "conv3d_mixed": ("6x7x8x3", "- conv: {filters: 6, kernel: [1, 3, 3], pad: [0, 1, 1], groups: 3}\n"
                                        "- conv: {filters: 2, kernel: 2, stride: 2, dilation: [1, 1, 2]}"),
            "convtranspose1d": ("4x7", "- convtranspose: {filters: 6, kernel: 3, stride: 2, pad: 1, output_padding: 1}"),
            "convtranspose3d": ("3x4x5x4", "- convtranspose: {filters: 2, kernel: [2, 3, 3], stride: 2, groups: 2}"),
        },
    )
)
