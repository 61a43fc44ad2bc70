"""Fully connected (dense) layer, applied to the last axis as ``torch.nn.Linear`` does.

Input ``(..., N_in)``, ``N_out`` units::

    output  = (..., N_out)
    weights = N_in * N_out
    biases  = N_out (when bias is on)
    MACs    = prod(leading dims) * N_in * N_out      (n = N_in per output)

On a 3-D input ``C x H x W`` the layer acts on ``W`` (PyTorch semantics): add a
``flatten`` first to get the classic dense layer. fvcore counts the MACs
(``linear_flop_jit``); PyTorch's flop counter counts ``2 * MACs`` (``addmm``).

Torch: ``nn.Linear``, ``F.linear``, a product with a learned matrix
(``x @ self.weight``, ``torch.mm``) and ``aten.addmm`` / ``aten.mm`` with a
parameter operand are captured as this layer.
"""

from __future__ import annotations

from fractions import Fraction

from archcalc.errors import LayerError
from archcalc.inputs import format_hwc
from archcalc.layers.base import (
    IDENTITY_STEP,
    REQUIRED,
    Family,
    RFStep,
    Rule,
    ShapeResult,
    SummaryName,
    positive_int,
    prod,
    register_family,
)
from archcalc.layers.terms import Derived, Term, atom, hidden, shape_step


class LinearRule(Rule):
    op = "linear"
    aliases = ("fc", "dense", "fully_connected")
    primary = "units"
    category = "dot"
    keys = {"units": REQUIRED, "bias": True}
    key_aliases = {"out_features": "units", "features": "units", "out": "units", "outputs": "units"}
    summary = "fully connected layer on the last axis"

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        attrs["units"] = positive_int(attrs["units"], "units")
        if not in_shapes[0]:
            raise LayerError("linear needs an input with at least one axis")
        attrs["in_features"] = in_shapes[0][-1]
        attrs["bias"] = bool(attrs["bias"])
        return attrs

    def output_shape(self, attrs, in_shapes):
        return ShapeResult(tuple(in_shapes[0][:-1]) + (attrs["units"],))

    def derive(self, attrs, in_shapes, out_shape):
        """``weights = N_in * N_out``, ``params = (N_in + 1) * N_out``,
        ``MACs = positions * N_out * N_in``."""
        n_in, n_out = attrs["in_features"], attrs["units"]
        lead = in_shapes[0][:-1]
        if lead:
            steps = [shape_step(out_shape, "(..., N_out): the layer acts on the last axis")]
        else:
            steps = [Derived("output_shape", "output shape", "N_out", str(n_out), format_hwc(out_shape))]
        inputs, units = atom(n_in, "N_in"), atom(n_out, "N_out")
        weights = inputs * units
        steps.append(weights.step("weights", "weights"))
        if attrs["bias"]:
            steps.append(units.step("biases", "biases"))
            steps.append(((inputs + 1).grouped() * units).step("params", "params"))
        else:
            steps.append(weights.named("N_in * N_out (no bias)").step("params", "params"))
        per_position = units * inputs
        if lead:
            positions = Term(prod(lead), "positions", "*".join(str(v) for v in lead))
            macs = Term(positions.value * per_position.value, f"positions*{per_position.formula}",
                        f"{positions.text}*{per_position.text}")
        else:
            macs = per_position
        outputs = prod(out_shape)
        return steps + [
            macs.step("macs", "MACs"),
            hidden("dot_outputs", outputs),
            hidden("bias_adds", outputs if attrs["bias"] else 0),
            hidden("fvcore", macs.value),
            hidden("torch", 2 * macs.value),
        ]

    def rf_step(self, attrs, in_shapes):
        """On an image the layer mixes the whole width axis; on a vector it changes nothing."""
        shape = in_shapes[0]
        if len(shape) != 3:
            return IDENTITY_STEP
        w = shape[2]
        return RFStep(
            grow=(Fraction(0), Fraction(w - 1)),
            jump=(Fraction(1), Fraction(1)),
            shift=(Fraction(0), Fraction(w - 1, 2)),
            grow_text=(None, ("(W - 1)", f"({w} - 1)", " (sees the whole input)") if w > 1 else None),
        )

    def to_torch(self, node, factory):
        from torch import nn

        a = node.attrs
        return nn.Linear(a["in_features"], a["units"], bias=a["bias"], **factory)


# -- from torch ------------------------------------------------------------------------


def _linear_module(m, leaf):
    return "linear", {"units": m.out_features, "bias": m.bias is not None}


def _linear_fn(call):
    x, weight, bias = call.arg(0, "input"), call.arg(1, "weight"), call.arg(2, "bias")
    if not (call.is_constant(weight) and weight.dim() == 2) or (bias is not None and not call.is_constant(bias)):
        return None
    args = {"units": weight.shape[0], "bias": bias is not None}
    return [call.spec("linear", args, [x], params=call.params(weight, bias))]


def _learned_matmul_fn(call):
    """``x @ W`` with a learned ``W (in, out)``: a linear layer without bias."""
    a, b = call.arg(0, "input"), call.arg(1, "other")
    if call.name == "rmatmul":
        a, b = b, a
    if call.is_active(a) and call.is_constant(b) and b.dim() == 2 and call.params(b):
        return [call.spec("linear", {"units": b.shape[1], "bias": False}, [a], params=call.params(b))]
    return None


def _aten_addmm(call):
    bias, a, b = call.args[:3]
    if call.is_active(a) and call.is_constant(b) and call.is_constant(bias) and call.params(b):
        return [call.spec("linear", {"units": b.shape[1], "bias": True}, [a], params=call.params(b, bias))]
    return None


def _aten_mm(call):
    a, b = call.args[:2]
    if call.is_active(a) and call.is_constant(b) and call.params(b):
        return [call.spec("linear", {"units": b.shape[1], "bias": False}, [a], params=call.params(b))]
    return None


FAMILY = register_family(
    Family(
        name="linear",
        rules=(LinearRule,),
        torch_modules={"Linear": _linear_module},
        torch_functions={
            "linear": _linear_fn,
            **{name: _learned_matmul_fn for name in ("matmul", "rmatmul", "mm", "bmm")},
        },
        aten_ops={"addmm": _aten_addmm, "mm": _aten_mm, "bmm": _aten_mm},
        names=(
            SummaryName(
                r"dense|linear|^fc\d*$|^fc[_-]|fullyconnected|fully_connected|predictions|classifier|logits",
                "linear",
                precedence=60,
            ),
        ),
    )
)
