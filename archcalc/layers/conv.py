"""2-D convolution and transposed convolution.

Convolution, input ``Cin x H x W``, ``Cout`` filters of ``kh x kw``, ``groups`` g::

    H_out = floor((H + 2P - d(k - 1) - 1)/S) + 1          (see window.py)
    weights = Cout * (Cin/g) * kh * kw
    biases  = Cout  (when bias is on)
    MACs    = Cout * H_out * W_out * (Cin/g * kh * kw)     (n = Cin/g*kh*kw per output)

The weight tensor is ``(K, Cin/g, kh, kw)`` in torch (OIHW) and ``(kh, kw,
Cin/g, K)`` in Keras (HWIO; a depthwise one ``(kh, kw, Cin, K/Cin)`` as Keras'
``DepthwiseConv2D`` writes it). ``--explain`` also gives the **dense
equivalent**, the parameters of a fully connected layer from the input to the
output, ``(H*W*Cin + 1) * (H_out*W_out*K)``: what weight sharing saves.

Depthwise convolution is ``groups = Cin``. fvcore counts the MACs (bias
ignored; ``fvcore/nn/jit_handles.py: conv_flop_count``); PyTorch's
``torch/utils/flop_counter.py: conv_flop_count`` counts ``2 * MACs``.

Transposed convolution (``torch.nn.ConvTranspose2d``)::

    H_out = (H - 1)S - P_before - P_after + d(k - 1) + output_padding + 1
    weights = Cin * (Cout/g) * kh * kw
    MACs    = Cin * H * W * (Cout/g * kh * kw)             (each input scatters into a kernel)

Torch: ``nn.Conv2d`` / ``nn.ConvTranspose2d``, ``F.conv2d`` /
``F.conv_transpose2d`` and ``aten.convolution`` are captured; the builder
makes ``nn.Conv2d(in_channels, filters, kernel, stride, padding, dilation,
groups, bias)``: symmetric pads become ``padding=(top, left)``, the uneven
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
    REQUIRED,
    Family,
    RFStep,
    Rule,
    ShapeResult,
    SummaryName,
    pair,
    positive_int,
    register_family,
    spatial,
    torch_pair,
    window_step,
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
from archcalc.layers.window import effective_kernel, padding, symmetric_pads, window_output, window_shape_steps


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


def _kernel_formula(kh: int, kw: int) -> str:
    return "F*F" if kh == kw else "F_h*F_w"


def dense_equivalent(in_shape, out_shape) -> Derived:
    """Parameters of a dense layer from the whole input to the whole output:
    ``(H*W*Cin + 1) * (H_out*W_out*K)`` (what the convolution's weight sharing saves)."""
    inputs = count(in_shape, "H*W*Cin")
    outputs = count(out_shape, "H_out*W_out*K")
    params = (inputs + 1).grouped() * outputs.grouped()
    return params.step(
        "dense_equivalent", "dense equivalent",
        f"a fully connected layer {format_hwc(in_shape)} -> {format_hwc(out_shape)} instead: "
        f"about {power_of_ten(params.value)} parameters",
    )


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
    aliases = ("conv2d", "convolution")
    category = "dot"
    keys = _CONV_KEYS
    key_aliases = _CONV_ALIASES
    summary = "2-D convolution (groups, depthwise, dilation, pad int/pair/same/valid)"
    gpu_library = "cudnn"

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

    def weight_shape(self, attrs, in_shapes):
        """torch ``(K, Cin/g, kh, kw)`` (OIHW); Keras ``(kh, kw, Cin/g, K)`` (HWIO), a depthwise
        convolution ``(kh, kw, Cin, K/Cin)`` (``DepthwiseConv2D``)."""
        kh, kw = attrs["kernel"]
        cin, g, filters = attrs["in_channels"], attrs["groups"], attrs["filters"]
        f = ("F", "F") if kh == kw else ("F_h", "F_w")
        c_f = "Cin" if g == 1 else "Cin/g"
        if g == cin and g > 1:
            return WeightShape((filters, 1, kh, kw), (kh, kw, cin, filters // cin), ("K", "1", *f),
                               (*f, "Cin", "K/Cin"), ("OIHW", "DepthwiseConv2D"))
        return WeightShape((filters, cin // g, kh, kw), (kh, kw, cin // g, filters), ("K", c_f, *f),
                           (*f, c_f, "K"), ("OIHW", "HWIO"))

    def derive(self, attrs, in_shapes, out_shape):
        """``weights = F*F*Cin/g * K``, ``params = (F*F*Cin/g + 1) * K``,
        ``MACs = H_out*W_out*K * (F*F*Cin/g)``; the weight tensor's shape and the
        dense equivalent ``(H*W*Cin + 1) * (H_out*W_out*K)``."""
        kh, kw = attrs["kernel"]
        cin, g, filters = attrs["in_channels"], attrs["groups"], attrs["filters"]
        steps = window_shape_steps(
            in_shapes[0], out_shape, attrs["kernel"], attrs["stride"], attrs["pad"], attrs["dilation"], False, "K"
        )
        c_f, c_s = ("Cin", str(cin)) if g == 1 else ("Cin/g", f"{cin}/{g}")
        per = Term((cin // g) * kh * kw, f"{_kernel_formula(kh, kw)}*{c_f}", f"{kh}*{kw}*{c_s}")
        k = atom(filters, "K")
        weights = per * k
        depthwise = "depthwise: each filter sees one channel" if g == cin and g > 1 else ""
        steps.append(self.weight_shape(attrs, in_shapes).step())
        steps.append(weights.step("weights", "weights", depthwise))
        steps += _bias_steps(weights, per, k, attrs["bias"], filters)
        steps.append(dense_equivalent(in_shapes[0], out_shape))
        _, ho, wo = out_shape
        outputs = factors("H_out*W_out*K", ho, wo, filters)
        macs = outputs * per.grouped()
        steps.append(macs.step("macs", "MACs", "each output is a dot product of length F*F*Cin/g"))
        steps += [
            hidden("dot_outputs", outputs.value),
            hidden("bias_adds", outputs.value if attrs["bias"] else 0),
            hidden("fvcore", macs.value),
            hidden("torch", 2 * macs.value),
        ]
        return steps

    def rf_step(self, attrs, in_shapes):
        return window_step(attrs["kernel"], attrs["stride"], (attrs["pad"][0][0], attrs["pad"][1][0]), attrs["dilation"])

    def to_torch(self, node, factory):
        from torch import nn

        a = node.attrs
        pads: Any = symmetric_pads(a["pad"])
        if pads is None:
            # PyTorch's padding="same" puts total // 2 before and the rest after,
            # which is how the rule resolves `pad: same` (stride 1 only).
            same = tuple(
                (d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2) for k, d in zip(a["kernel"], a["dilation"])
            )
            if tuple(a["stride"]) != (1, 1) or tuple(map(tuple, a["pad"])) != same:
                raise LayerError(
                    f"torch's Conv2d cannot pad {a['pad']} (top, bottom), (left, right) unevenly "
                    "except as padding='same' with stride 1",
                    layer=node.name,
                    op=node.op,
                )
            pads = "same"
        return nn.Conv2d(
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


def transposed_length(size: int, k: int, s: int, pb: int, pa: int, d: int, output_padding: int) -> int:
    """``(H - 1)S - P_before - P_after + d(k - 1) + output_padding + 1``."""
    return (size - 1) * s - pb - pa + d * (k - 1) + output_padding + 1


class ConvTransposeRule(Rule):
    op = "convtranspose"
    aliases = ("conv_transpose", "convtranspose2d", "deconv", "transposed_conv")
    category = "dot"
    keys = {**_CONV_KEYS, "output_padding": 0}
    key_aliases = _CONV_ALIASES
    summary = "2-D transposed convolution"
    short = "convT"
    profiled = False  # torch.profiler reports no FLOPs for its kernels
    gpu_library = "cudnn"

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
            length = transposed_length(size, k, s, pb, pa, d, op_)
            if length < 1:
                raise LayerError(
                    f"output size (H - 1)S - 2P + d(k - 1) + output_padding + 1 = "
                    f"({size} - 1)*{s} - {pb + pa} + {d}*({k} - 1) + {op_} + 1 = {length} is not positive"
                )
            out.append(length)
        return ShapeResult((attrs["filters"], out[0], out[1]))

    def weight_shape(self, attrs, in_shapes):
        """torch ``(Cin, K/g, kh, kw)``; Keras ``Conv2DTranspose`` ``(kh, kw, K/g, Cin)``."""
        kh, kw = attrs["kernel"]
        cin, g, filters = in_shapes[0][0], attrs["groups"], attrs["filters"]
        f = ("F", "F") if kh == kw else ("F_h", "F_w")
        k_f = "K" if g == 1 else "K/g"
        return WeightShape((cin, filters // g, kh, kw), (kh, kw, filters // g, cin), ("Cin", k_f, *f),
                           (*f, k_f, "Cin"), ("IOHW", "HWOI"))

    def derive(self, attrs, in_shapes, out_shape):
        """``weights = Cin * K/g * F*F``, ``MACs = H*W*Cin * (K/g*F*F)``; the weight tensor's
        shape and the dense equivalent."""
        cin, h, w = in_shapes[0]
        kh, kw = attrs["kernel"]
        g, filters = attrs["groups"], attrs["filters"]
        axes = []
        for letter, size, k, s, (pb, pa), d, op_ in zip(
            ("H", "W"), (h, w), attrs["kernel"], attrs["stride"], attrs["pad"], attrs["dilation"],
            attrs["output_padding"],
        ):
            p_f, p_s = ("2P", f"2*{pb}") if pb == pa else ("P_before - P_after", f"{pb} - {pa}")
            d_f, d_s = ("(F - 1)", f"({k} - 1)") if d == 1 else ("d(F - 1)", f"{d}*({k} - 1)")
            formula = f"({letter} - 1)*S - {p_f} + {d_f} + output_padding + 1"
            text = f"({size} - 1)*{s} - {p_s} + {d_s} + {op_} + 1"
            axes.append((formula, text, transposed_length(size, k, s, pb, pa, d, op_)))
        if axes[0][1] == axes[1][1]:
            steps = [Derived("output_size", "output height = width", *axes[1])]
        else:
            steps = [
                Derived(f"output_{name}", f"output {name}", *axis) for axis, name in zip(axes, ("height", "width"))
            ]
        steps.append(shape_step(out_shape, "H_out x W_out x K"))
        k_f = _kernel_formula(kh, kw)
        kg_f, kg_s = ("K", str(filters)) if g == 1 else ("K/g", f"{filters}/{g}")
        per = Term((filters // g) * kh * kw, f"{kg_f}*{k_f}", f"{kg_s}*{kh}*{kw}")
        weights = Term(cin * per.value, f"Cin * {kg_f} * {k_f}", f"{cin} * {kg_s} * {kh}*{kw}")
        steps.append(self.weight_shape(attrs, in_shapes).step())
        steps.append(weights.step("weights", "weights"))
        if attrs["bias"]:
            steps.append(atom(filters, "K").step("biases", "biases"))
            params = Term(weights.value + filters, "weights + biases", f"{num(weights.value)} + {filters}")
            steps.append(params.step("params", "params"))
        steps.append(dense_equivalent(in_shapes[0], out_shape))
        macs = factors("H*W*Cin", h, w, cin) * per.grouped()
        steps.append(macs.step("macs", "MACs", "each input value is scattered through one kernel"))
        outputs = out_shape[0] * out_shape[1] * out_shape[2]
        steps += [
            hidden("dot_outputs", min(outputs, macs.value)),
            hidden("bias_adds", outputs if attrs["bias"] else 0),
            hidden("fvcore", macs.value),
            hidden("torch", 2 * macs.value),
        ]
        return steps

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

    def to_torch(self, node, factory):
        from torch import nn

        a = node.attrs
        pads = symmetric_pads(a["pad"])
        if pads is None:
            raise LayerError(f"torch's ConvTranspose2d cannot pad {a['pad']} unevenly", layer=node.name, op=node.op)
        return nn.ConvTranspose2d(
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


def _conv2d_fn(call):
    x, weight = call.arg(0, "input"), call.arg(1, "weight")
    bias = call.arg(2, "bias")
    if not (call.is_constant(weight) and weight.dim() == 4) or (bias is not None and not call.is_constant(bias)):
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


def _conv_transpose2d_fn(call):
    x, weight, bias = call.arg(0, "input"), call.arg(1, "weight"), call.arg(2, "bias")
    if not (call.is_constant(weight) and weight.dim() == 4):
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
    if not (call.is_constant(weight) and weight.dim() == 4) or not call.is_active(x):
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
        torch_modules={"Conv2d": _conv_module, "ConvTranspose2d": _conv_transpose_module},
        torch_functions={"conv2d": _conv2d_fn, "conv_transpose2d": _conv_transpose2d_fn},
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
    )
)
