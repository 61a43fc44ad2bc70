"""Fully connected (dense) layer, applied to the last axis as ``torch.nn.Linear`` does.

Input ``(..., N_in)``, ``N_out`` units::

    output  = (..., N_out)
    weights = N_in * N_out
    biases  = N_out (when bias is on)
    MACs    = prod(leading dims) * N_in * N_out      (n = N_in per output)

On a 3-D input ``C x H x W`` the layer acts on ``W`` (PyTorch semantics): add a
``flatten`` first to get the classic dense layer, or give ``flatten: true``,
which flattens the input inside the layer (``N_in = H*W*C``)::

    output  = (N_out,)
    weights = H*W*C * N_out,   MACs = H*W*C * N_out

A course's "fully connected layer of 256 units on a 28x28x1 input" means the
latter: ``archcalc layer fc`` flattens an image first (:meth:`LinearRule.question_args`;
``--per-position`` keeps torch's semantics), and a spec that applies ``linear``
straight to an image is warned once (:meth:`LinearRule.image_advice`; ``flatten:
false`` says it is meant). fvcore counts the MACs (``linear_flop_jit``);
PyTorch's flop counter counts ``2 * MACs`` (``addmm``).

Torch: ``nn.Linear``, ``F.linear``, a product with a learned matrix
(``x @ self.weight``, ``torch.mm``) and ``aten.addmm`` / ``aten.mm`` with a
parameter operand are captured as this layer.
"""

from __future__ import annotations

from fractions import Fraction

from functools import cache

from archcalc.errors import LayerError, SpecError
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
    whole_input_step,
)
from archcalc.layers.terms import Derived, Term, WeightShape, atom, count, hidden, shape_step


@cache
def _flattening_linear() -> type:
    """``nn.Linear`` on the flattened sample (made on first use: torch is imported here).
    A subclass, so that its weight and bias stay its own parameters."""
    from torch import nn

    class FlatteningLinear(nn.Linear):
        """Flatten every sample, then ``nn.Linear`` (a fully connected layer on an image)."""

        def forward(self, x):
            return super().forward(x.flatten(1))

    return FlatteningLinear


class LinearRule(Rule):
    op = "linear"
    aliases = ("fc", "dense", "fully_connected")
    primary = "units"
    category = "dot"
    #: flatten: None acts on the last axis (torch) and warns on an image; True flattens the
    #: input first (a course's fully connected layer); False acts on the last axis, as meant
    keys = {"units": REQUIRED, "bias": True, "flatten": None}
    key_aliases = {"out_features": "units", "features": "units", "out": "units", "outputs": "units"}
    summary = "fully connected (dense) layer: on the last axis, or on the flattened input (flatten: true)"

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        attrs["units"] = positive_int(attrs["units"], "units")
        if not in_shapes[0]:
            raise LayerError("linear needs an input with at least one axis")
        if attrs["flatten"] is not None and not isinstance(attrs["flatten"], bool):
            raise SpecError(f"flatten must be true or false, got {attrs['flatten']!r}")
        attrs["in_features"] = prod(in_shapes[0]) if self.flattens(attrs, in_shapes) else in_shapes[0][-1]
        attrs["bias"] = bool(attrs["bias"])
        return attrs

    @staticmethod
    def flattens(attrs, in_shapes) -> bool:
        """Whether the layer flattens a multi-axis input first (``flatten: true``)."""
        return bool(attrs.get("flatten")) and len(in_shapes[0]) > 1

    def output_shape(self, attrs, in_shapes):
        if self.flattens(attrs, in_shapes):
            return ShapeResult((attrs["units"],))
        return ShapeResult(tuple(in_shapes[0][:-1]) + (attrs["units"],))

    def question_args(self, in_shape, per_position=False):
        """A course's dense layer on an image connects every input to every unit: flatten first.
        ``per_position``: torch's ``nn.Linear`` on the last axis."""
        if per_position:
            return {"flatten": False}
        return {"flatten": True} if len(in_shape) == 3 else {}

    def image_advice(self, attrs, in_shape):
        """Applied straight to an image without saying how: torch's semantics, and a warning."""
        if attrs.get("flatten") is None:
            return f"linear acts on the last axis (W = {in_shape[-1]}); add flatten for a fully connected layer"
        return None

    def reading(self, attrs, in_shapes):
        """How the layer reads an image: flattened, or along its last axis."""
        shape = in_shapes[0]
        if len(shape) != 3:
            return ""
        if self.flattens(attrs, in_shapes):
            return (f"flattened to {attrs['in_features']:,} inputs: every input is connected to every unit "
                    "(--per-position: on the last axis, as torch.nn.Linear)")
        return f"read along its last axis (W = {shape[-1]}), as torch.nn.Linear does"

    def weight_shape(self, attrs, in_shapes):
        """torch ``(N_out, N_in)``; Keras ``Dense`` ``(N_in, N_out)``."""
        n_in, n_out = attrs["in_features"], attrs["units"]
        return WeightShape((n_out, n_in), (n_in, n_out), ("N_out", "N_in"), ("N_in", "N_out"))

    def derive(self, attrs, in_shapes, out_shape):
        """``weights = N_in * N_out``, ``params = (N_in + 1) * N_out``,
        ``MACs = positions * N_out * N_in``; flattening an image, ``N_in = H*W*C``."""
        n_in, n_out = attrs["in_features"], attrs["units"]
        flattened = self.flattens(attrs, in_shapes)
        lead = () if flattened else in_shapes[0][:-1]
        steps = []
        if flattened:
            inputs = count(in_shapes[0], "H*W*C" if len(in_shapes[0]) == 3 else "prod(input shape)")
            steps.append(inputs.step(
                "in_features", "inputs (flattened)",
                f"the {format_hwc(in_shapes[0])} input is flattened first: every input is connected to every unit",
            ))
        if lead:
            steps.append(shape_step(out_shape, "(..., N_out): the layer acts on the last axis"))
        else:
            steps.append(Derived("output_shape", "output shape", "N_out", str(n_out), format_hwc(out_shape)))
        inputs = atom(n_in, "N_in")
        units = atom(n_out, "N_out")
        steps.append(self.weight_shape(attrs, in_shapes).step())
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
        """On an image the layer mixes the whole width axis (or, flattening it, the whole
        input); on a vector it changes nothing."""
        shape = in_shapes[0]
        if self.flattens(attrs, in_shapes):
            return whole_input_step(shape)
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
        layer = _flattening_linear() if self.flattens(a, node.input_shapes) else nn.Linear
        return layer(a["in_features"], a["units"], bias=a["bias"], **factory)


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
