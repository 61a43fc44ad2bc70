"""Element-wise activations and softmax: every activation module of ``torch.nn``.

Each activation is one rule whose operation counts are a fixed number of
primitive operations per element (``per_element``), counted on every element
as the formula of the PyTorch docs (``torch.nn.<Name>``) is written, both
branches of a piecewise formula being priced as one path (a comparison picks
it); exp, log, erf, tanh and pow count as one transcendental (``exps``) each:

===========  ==============================================  ====================================
op           formula (PyTorch docs)                          per element
===========  ==============================================  ====================================
relu         max(0, x)                                       1 cmp
relu6        min(max(0, x), 6)                               2 cmp
leakyrelu    x if x > 0 else a x                             1 cmp, 1 mul
rrelu        leaky ReLU with a = (lower + upper)/2 (eval)    1 cmp, 1 mul
prelu        x if x >= 0 else a_c x (a learned per channel)  1 cmp, 1 mul
sigmoid      1 / (1 + exp(-x))                               1 exp, 1 add, 1 div
tanh         tanh(x)                                         1 exp
gelu         x/2 (1 + erf(x / sqrt 2))                       1 exp, 1 add, 3 mul
gelu_tanh    x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))   1 exp, 2 add, 6 mul (x*x*x: 2, the
                                                             two constants: 2, x/2 and the product: 2)
silu         x sigmoid(x)                                    1 exp, 1 add, 1 div, 1 mul
mish         x tanh(softplus(x)) = x tanh(log(1 + exp(x)))   3 exp (exp, log, tanh), 1 add, 1 mul
hardswish    x relu6(x + 3) / 6                              1 add, 2 cmp, 1 mul, 1 div
hardsigmoid  relu6(x + 3) / 6                                1 add, 2 cmp, 1 div
hardtanh     min(max(x, min_val), max_val)                   2 cmp
elu          x if x > 0 else alpha (exp(x) - 1)              1 cmp, 1 exp, 1 add, 1 mul
selu         scale (max(0, x) + min(0, alpha (exp(x) - 1)))  2 cmp, 1 exp, 2 add, 2 mul
celu         max(0, x) + min(0, alpha (exp(x/alpha) - 1))    2 cmp, 1 div, 1 exp, 2 add, 1 mul
softplus     log(1 + exp(beta x)) / beta; x if beta x >      1 mul, 2 exp, 1 add, 1 div, 1 cmp
             threshold
softsign     x / (1 + |x|)                                   1 cmp (abs), 1 add, 1 div
hardshrink   x if |x| > lambda else 0                        2 cmp
softshrink   x - lambda if x > lambda, x + lambda if         2 cmp, 1 add
             x < -lambda, else 0
tanhshrink   x - tanh(x)                                     1 exp, 1 add
threshold    x if x > threshold else value                   1 cmp
logsigmoid   log(1 / (1 + exp(-x)))                          2 exp, 1 add, 1 div
glu          a sigmoid(b), (a, b) the halves of the input    per output: 1 exp, 1 add, 1 div, 1 mul
softmax      exp(x_i) / sum_j exp(x_j)                       1 exp, 1 add, 1 div
softmin      softmax(-x)                                     1 mul, 1 exp, 1 add, 1 div
logsoftmax   x_i - log(sum_j exp(x_j))                       1 exp, 2 add; 1 log per row
===========  ==============================================  ====================================

Neither fvcore nor PyTorch's flop counter counts activations (fvcore ignores
``aten::relu`` and reports the others as unsupported; no formula in
``torch/utils/flop_counter.py``).

``gelu_tanh`` is its own op (not ``gelu`` with an argument), so that
``nn.GELU(approximate="tanh")`` and a tanh GELU written out in Python
(``0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * torch.pow(x, 3))))``,
the ``gelu_new`` of GPT-2 code) are the same row with the same count: the
capture recognises the written-out form (:data:`TANH_GELU_PATTERN`).

Torch: the ``nn`` modules of the same names, their functions (``F.relu``,
``torch.tanh``, ``x.relu_()``...) and aten ops; ``aten.hardtanh(x, 0, 6)`` is
ReLU6. ``nn.Softmax(dim)`` is built with ``dim = axis + 1`` (attrs count axes
per sample). ``nn.RReLU`` is counted as in eval mode (analysis runs in eval
mode): a leaky ReLU with the mean slope.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from archcalc.errors import LayerError, SpecError
from archcalc.layers.base import Family, Rule, ShapeResult, SummaryName, keeps_field, register_family, same_shape
from archcalc.layers.terms import OP_WORDS, Term, atom, count, no_params, shape_step


class _Activation(Rule):
    category = "activation"
    #: primitive operations per element: adds, muls, divs, cmps, exps
    per_element: dict[str, int] = {}
    #: the torch module of this activation, from the normalised attrs
    module: Callable[[Mapping[str, Any]], Any]
    rf_step = staticmethod(keeps_field)
    output_shape = staticmethod(same_shape)

    def normalize(self, args, in_shapes):
        """Check arity and keys; an argument whose default is a number must be one (``slope: 0.2``)."""
        attrs = super().normalize(args, in_shapes)
        for key, default in self.keys.items():
            value = attrs[key]
            numeric = isinstance(default, (int, float)) and not isinstance(default, bool)
            if numeric and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise SpecError(f"{self.op} {key} must be a number, got {value!r}")
        return attrs

    def derive(self, attrs, in_shapes, out_shape):
        """``elements * count`` operations of each kind in ``per_element``."""
        elements = count(out_shape, "elements")
        steps = [shape_step(out_shape, "same as the input"), no_params()]
        for kind, per in self.per_element.items():
            steps.append((elements * per).step(kind, OP_WORDS.get(kind, kind), self.summary))
        return steps

    def to_torch(self, node, factory):
        return self.module(node.attrs)


def _activation(op, per_element, summary, module, aliases=(), keys=None):
    return type(
        f"{op.capitalize()}Rule",
        (_Activation,),
        {
            "op": op,
            "aliases": aliases,
            "per_element": per_element,
            "summary": summary,
            "keys": keys or {},
            "primary": next(iter(keys)) if keys else None,
            "module": staticmethod(module),
            "__doc__": f"{summary}; per element: {per_element}",
        },
    )


def _nn(name: str, *keys: str):
    """A builder of ``torch.nn.<name>(*attrs[keys])``."""

    def build(attrs):
        from torch import nn

        return getattr(nn, name)(*(attrs[key] for key in keys))

    return build


ReluRule = _activation("relu", {"cmps": 1}, "ReLU: max(0, x)", _nn("ReLU"))
Relu6Rule = _activation("relu6", {"cmps": 2}, "ReLU6: min(max(0, x), 6)", _nn("ReLU6"))
LeakyReluRule = _activation(
    "leakyrelu", {"cmps": 1, "muls": 1}, "leaky ReLU: x if x > 0 else slope * x", _nn("LeakyReLU", "slope"),
    aliases=("leaky_relu", "lrelu"), keys={"slope": 0.01},
)
SigmoidRule = _activation("sigmoid", {"exps": 1, "adds": 1, "divs": 1}, "sigmoid: 1 / (1 + exp(-x))", _nn("Sigmoid"))
TanhRule = _activation("tanh", {"exps": 1}, "tanh", _nn("Tanh"))
GeluRule = _activation("gelu", {"exps": 1, "adds": 1, "muls": 3}, "GELU: x/2 (1 + erf(x / sqrt 2))", _nn("GELU"))
SiluRule = _activation(
    "silu", {"exps": 1, "adds": 1, "divs": 1, "muls": 1}, "SiLU (swish): x sigmoid(x)", _nn("SiLU"), aliases=("swish",)
)
HardswishRule = _activation(
    "hardswish", {"adds": 1, "cmps": 2, "muls": 1, "divs": 1}, "hard swish: x relu6(x + 3) / 6", _nn("Hardswish"),
    aliases=("hard_swish",),
)



def _gelu_tanh_module(attrs):
    from torch import nn

    return nn.GELU(approximate="tanh")


GeluTanhRule = _activation(
    "gelu_tanh", {"exps": 1, "adds": 2, "muls": 6}, "tanh GELU: x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))",
    _gelu_tanh_module, aliases=("gelu_new", "gelu_approx", "gelu_pytorch_tanh"),
)
MishRule = _activation("mish", {"exps": 3, "adds": 1, "muls": 1}, "Mish: x tanh(log(1 + exp(x)))", _nn("Mish"))
HardsigmoidRule = _activation(
    "hardsigmoid", {"adds": 1, "cmps": 2, "divs": 1}, "hard sigmoid: relu6(x + 3) / 6", _nn("Hardsigmoid"),
    aliases=("hard_sigmoid",),
)
HardtanhRule = _activation(
    "hardtanh", {"cmps": 2}, "hard tanh: min(max(x, min_val), max_val)", _nn("Hardtanh", "min_val", "max_val"),
    keys={"min_val": -1.0, "max_val": 1.0},
)
EluRule = _activation(
    "elu", {"cmps": 1, "exps": 1, "adds": 1, "muls": 1}, "ELU: x if x > 0 else alpha (exp(x) - 1)",
    _nn("ELU", "alpha"), keys={"alpha": 1.0},
)
SeluRule = _activation(
    "selu", {"cmps": 2, "exps": 1, "adds": 2, "muls": 2}, "SELU: scale (max(0, x) + min(0, alpha (exp(x) - 1)))",
    _nn("SELU"),
)
CeluRule = _activation(
    "celu", {"cmps": 2, "divs": 1, "exps": 1, "adds": 2, "muls": 1},
    "CELU: max(0, x) + min(0, alpha (exp(x/alpha) - 1))", _nn("CELU", "alpha"), keys={"alpha": 1.0},
)
SoftplusRule = _activation(
    "softplus", {"muls": 1, "exps": 2, "adds": 1, "divs": 1, "cmps": 1},
    "softplus: log(1 + exp(beta x)) / beta (x above the threshold)", _nn("Softplus", "beta", "threshold"),
    keys={"beta": 1.0, "threshold": 20.0},
)
SoftsignRule = _activation("softsign", {"cmps": 1, "adds": 1, "divs": 1}, "softsign: x / (1 + |x|)", _nn("Softsign"))
HardshrinkRule = _activation(
    "hardshrink", {"cmps": 2}, "hard shrink: x if |x| > lambda else 0", _nn("Hardshrink", "lambd"),
    keys={"lambd": 0.5},
)
SoftshrinkRule = _activation(
    "softshrink", {"cmps": 2, "adds": 1}, "soft shrink: x -/+ lambda outside [-lambda, lambda], else 0",
    _nn("Softshrink", "lambd"), keys={"lambd": 0.5},
)
TanhshrinkRule = _activation("tanhshrink", {"exps": 1, "adds": 1}, "tanh shrink: x - tanh(x)", _nn("Tanhshrink"))
ThresholdRule = _activation(
    "threshold", {"cmps": 1}, "threshold: x if x > threshold else value", _nn("Threshold", "threshold", "value"),
    keys={"threshold": 0.0, "value": 0.0},
)
LogSigmoidRule = _activation(
    "logsigmoid", {"exps": 2, "adds": 1, "divs": 1}, "log sigmoid: log(1 / (1 + exp(-x)))", _nn("LogSigmoid"),
    aliases=("log_sigmoid",),
)
RreluRule = _activation(
    "rrelu", {"cmps": 1, "muls": 1}, "randomized leaky ReLU, at inference x if x >= 0 else (lower + upper)/2 * x",
    _nn("RReLU", "lower", "upper"), keys={"lower": 1 / 8, "upper": 1 / 3},
)


class PReluRule(_Activation):
    """PReLU: ``x if x >= 0 else a_c x`` with ``a`` learned, one slope or one per channel
    (``torch.nn.PReLU(num_parameters)``): ``num_parameters`` weights; 1 cmp and 1 mul per element."""

    op = "prelu"
    primary = "num_parameters"
    keys = {"num_parameters": 1, "init": 0.25}
    key_aliases = {"parameters": "num_parameters"}
    per_element = {"cmps": 1, "muls": 1}
    summary = "PReLU: x if x >= 0 else a * x, a learned (one slope, or one per channel)"

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        n = attrs["num_parameters"]
        channels = in_shapes[0][0] if in_shapes[0] else 1
        if n == "channels":
            n = channels
        if not isinstance(n, int) or isinstance(n, bool) or n not in (1, channels):
            raise LayerError(f"PReLU takes one slope or one per channel ({channels}), got num_parameters = {n!r}")
        attrs["num_parameters"] = n
        return attrs

    def derive(self, attrs, in_shapes, out_shape):
        """``num_parameters`` weights (1, or C); per element 1 cmp and 1 mul."""
        steps = super().derive(attrs, in_shapes, out_shape)
        n = attrs["num_parameters"]
        slopes = atom(n, "C (one slope per channel)" if n > 1 else "1 (one shared slope)")
        steps[1:2] = [slopes.step("weights", "weights"), slopes.named("weights").step("params", "params")]
        return steps

    def to_torch(self, node, factory):
        from torch import nn

        return nn.PReLU(node.attrs["num_parameters"], init=node.attrs["init"], **factory)


class _AxisActivation(_Activation):
    """An activation along one axis of the sample (softmax and its kin): ``axis`` counts axes
    per sample (0 = channels / features), as torch's ``dim`` minus the batch axis."""

    primary = "axis"
    keys = {"axis": 0}
    key_aliases = {"dim": "axis"}

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        rank = len(in_shapes[0])
        axis = attrs["axis"]
        if not isinstance(axis, int) or isinstance(axis, bool) or not -rank <= axis < rank:
            raise SpecError(f"{self.op} axis must be a whole number in [{-rank}, {rank - 1}], got {axis!r}")
        attrs["axis"] = axis % rank
        return attrs


class SoftminRule(_AxisActivation):
    op = "softmin"
    per_element = {"muls": 1, "exps": 1, "adds": 1, "divs": 1}
    summary = "softmin along an axis: softmax(-x)"

    def to_torch(self, node, factory):
        from torch import nn

        return nn.Softmin(dim=node.attrs["axis"] + 1)


class LogSoftmaxRule(_AxisActivation):
    op = "logsoftmax"
    aliases = ("log_softmax",)
    summary = "log-softmax along an axis: x - log(sum exp(x))"

    def derive(self, attrs, in_shapes, out_shape):
        """Per element 1 exp, 1 add (the sum) and 1 add (``x - log-sum``); 1 log per row."""
        elements = count(out_shape, "elements")
        rows = Term(elements.value // out_shape[attrs["axis"]], "rows", f"{elements.text}/{out_shape[attrs['axis']]}")
        return [
            shape_step(out_shape, "same as the input"),
            no_params(),
            (elements * 2).step("adds", "additions", "sum of exps, x - log-sum"),
            (elements + rows).step("exps", "exp/sqrt/pow", "exp per element, log per row"),
        ]

    def to_torch(self, node, factory):
        from torch import nn

        return nn.LogSoftmax(dim=node.attrs["axis"] + 1)


class GluRule(_AxisActivation):
    """GLU: the input's ``axis`` split in halves ``(a, b)``, output ``a * sigmoid(b)``
    (``torch.nn.GLU``); per output element 1 exp, 1 add, 1 div (the sigmoid) and 1 mul."""

    op = "glu"
    keys = {"axis": -1}
    per_element = {"exps": 1, "adds": 1, "divs": 1, "muls": 1}
    summary = "gated linear unit: first half * sigmoid(second half) along an axis"

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        size = in_shapes[0][attrs["axis"]]
        if size % 2:
            raise LayerError(f"GLU halves axis {attrs['axis']}, which has an odd size {size}")
        return attrs

    def output_shape(self, attrs, in_shapes):
        shape = list(in_shapes[0])
        shape[attrs["axis"]] //= 2
        return ShapeResult(tuple(shape))

    def derive(self, attrs, in_shapes, out_shape):
        steps = super().derive(attrs, in_shapes, out_shape)
        steps[0] = shape_step(out_shape, f"the input with axis {attrs['axis']} halved")
        return steps

    def to_torch(self, node, factory):
        from torch import nn

        return nn.GLU(dim=node.attrs["axis"] + 1)


class SoftmaxRule(_Activation):
    op = "softmax"
    primary = "axis"
    keys = {"axis": 0}
    key_aliases = {"dim": "axis"}
    per_element = {"exps": 1, "adds": 1, "divs": 1}
    summary = "softmax along an axis (per sample; 0 = channels / features)"

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        rank = len(in_shapes[0])
        axis = attrs["axis"]
        if not isinstance(axis, int) or not -rank <= axis < rank:
            raise SpecError(f"softmax axis must be a whole number in [{-rank}, {rank - 1}], got {axis!r}")
        attrs["axis"] = axis % rank
        return attrs

    def to_torch(self, node, factory):
        from torch import nn

        return nn.Softmax(dim=node.attrs["axis"] + 1)


RULES = (
    ReluRule, Relu6Rule, LeakyReluRule, SigmoidRule, TanhRule, GeluRule, SiluRule, HardswishRule, SoftmaxRule,
    GeluTanhRule, MishRule, HardsigmoidRule, HardtanhRule, EluRule, SeluRule, CeluRule, SoftplusRule, SoftsignRule,
    HardshrinkRule, SoftshrinkRule, TanhshrinkRule, ThresholdRule, LogSigmoidRule, RreluRule, PReluRule,
    SoftminRule, LogSoftmaxRule, GluRule,
)

# -- from torch ------------------------------------------------------------------------


def _simple_module(op: str, **args: Callable[[Any], Any]):
    def mapper(m, leaf):
        return op, {key: get(m) for key, get in args.items()}

    return mapper


def _softmax_module(m, leaf):
    if m.dim is None:
        return None
    axis = leaf.axis(m.dim)
    return None if axis is None else ("softmax", {"axis": axis})


def _axis_module(op: str, dim: Callable[[Any], Any]):
    def mapper(m, leaf):
        value = dim(m)
        if value is None:
            return None
        axis = leaf.axis(value)
        return None if axis is None else (op, {"axis": axis})

    return mapper


def _gelu_module(m, leaf):
    return ("gelu_tanh", {}) if m.approximate == "tanh" else ("gelu", {})


def _hardtanh_module(m, leaf):
    if (m.min_val, m.max_val) == (0.0, 6.0):
        return "relu6", {}
    return "hardtanh", {"min_val": m.min_val, "max_val": m.max_val}


def _prelu_module(m, leaf):
    return "prelu", {"num_parameters": m.num_parameters, "init": m.init}


def _activation_fn(op: str, **extra: tuple[int, str, Any]):
    def handler(call):
        args = {key: call.arg(index, name, default) for key, (index, name, default) in extra.items()}
        return [call.spec(op, args, [call.arg(0, "input")])]

    return handler


def _gelu_fn(call):
    op = "gelu_tanh" if call.arg(1, "approximate", "none") == "tanh" else "gelu"
    return [call.spec(op, {}, [call.arg(0, "input")])]


def _hardtanh_fn(call):
    low, high = float(call.arg(1, "min_val", -1.0)), float(call.arg(2, "max_val", 1.0))
    if (low, high) == (0.0, 6.0):
        return [call.spec("relu6", {}, [call.arg(0, "input")])]
    return [call.spec("hardtanh", {"min_val": low, "max_val": high}, [call.arg(0, "input")])]


def _prelu_fn(call):
    x, weight = call.arg(0, "input"), call.arg(1, "weight")
    if not call.is_constant(weight):
        return None
    args = {"num_parameters": weight.numel()}
    return [call.spec("prelu", args, [x], params=call.params(weight))]


def _axis_fn(op: str):
    def handler(call):
        x, dim = call.arg(0, "input"), call.arg(1, "dim", -1 if op == "glu" else None)
        if dim is None:
            return None
        axis = call.axis(x, dim)
        return None if axis is None else [call.spec(op, {"axis": axis, "torch_dim": dim}, [x])]

    return handler


def _softmax_fn(call):
    x, dim = call.arg(0, "input"), call.arg(1, "dim")
    if dim is None:
        return None
    axis = call.axis(x, dim)
    return None if axis is None else [call.spec("softmax", {"axis": axis, "torch_dim": dim}, [x])]


def _aten_activation(op: str):
    def handler(call):
        active = call.active_tensors()
        return [call.spec(op, {}, active)] if len(active) == 1 else None

    return handler


def _aten_leaky_relu(call):
    args = call.args
    return [call.spec("leakyrelu", {"slope": args[1] if len(args) > 1 else 0.01}, call.active_tensors())]


def _aten_hardtanh(call):
    low, high = (list(call.args[1:3]) + [-1.0, 1.0][len(call.args[1:3]):])
    if (float(low), float(high)) == (0.0, 6.0):
        return [call.spec("relu6", {}, call.active_tensors())]
    return [call.spec("hardtanh", {"min_val": float(low), "max_val": float(high)}, call.active_tensors())]


def _aten_gelu(call):
    op = "gelu_tanh" if call.kwargs.get("approximate", call.args[1] if len(call.args) > 1 else "none") == "tanh" else "gelu"
    return [call.spec(op, {}, call.active_tensors())]


def _aten_elu(call):
    """``aten.elu(x, alpha, scale, input_scale)``: ELU (scale 1), SELU (torch's constants), CELU
    (``input_scale = 1/alpha``)."""
    x = call.args[0]
    alpha, scale, input_scale = (list(call.args[1:4]) + [1.0, 1.0, 1.0][len(call.args[1:4]):])
    if float(scale) == 1.0 and float(input_scale) == 1.0:
        return [call.spec("elu", {"alpha": float(alpha)}, [x])]
    if abs(float(scale) - 1.0507009873554805) < 1e-9 and abs(float(alpha) - 1.6732632423543772) < 1e-9:
        return [call.spec("selu", {}, [x])]
    if float(scale) == 1.0 and abs(float(input_scale) * float(alpha) - 1.0) < 1e-9:
        return [call.spec("celu", {"alpha": float(alpha)}, [x])]
    return None


def _aten_prelu(call):
    x, weight = call.args[:2]
    if not call.is_constant(weight):
        return None
    return [call.spec("prelu", {"num_parameters": weight.numel()}, [x], params=call.params(weight))]


def _aten_softmax(call):
    x, dim = call.args[:2]
    axis = call.axis(x, dim)
    return None if axis is None else [call.spec("softmax", {"axis": axis, "torch_dim": dim}, [x])]


def _aten_glu(call):
    x = call.args[0]
    dim = call.args[1] if len(call.args) > 1 else -1
    axis = call.axis(x, dim)
    return None if axis is None else [call.spec("glu", {"axis": axis, "torch_dim": dim}, [x])]


_PLAIN = {"ReLU": "relu", "ReLU6": "relu6", "Sigmoid": "sigmoid", "Tanh": "tanh", "SiLU": "silu",
          "Hardswish": "hardswish", "Mish": "mish", "Hardsigmoid": "hardsigmoid", "SELU": "selu",
          "Softsign": "softsign", "Tanhshrink": "tanhshrink", "LogSigmoid": "logsigmoid"}

#: functions that take the input alone, by name (``F.mish``, ``torch.sigmoid``, ``x.tanh()``)
_PLAIN_FUNCTIONS = {
    **{op: op for op in ("relu", "relu6", "sigmoid", "tanh", "silu", "hardswish", "mish", "hardsigmoid", "selu",
                         "softsign", "tanhshrink")},
    "log_sigmoid": "logsigmoid",
    "logsigmoid": "logsigmoid",
}

FAMILY = register_family(
    Family(
        name="activation",
        rules=RULES,
        torch_modules={
            **{name: _simple_module(op) for name, op in _PLAIN.items()},
            "GELU": _gelu_module,
            "LeakyReLU": _simple_module("leakyrelu", slope=lambda m: m.negative_slope),
            "Softmax": _softmax_module,
            "Softmax2d": _axis_module("softmax", lambda m: -3),
            "Softmin": _axis_module("softmin", lambda m: m.dim),
            "LogSoftmax": _axis_module("logsoftmax", lambda m: m.dim),
            "GLU": _axis_module("glu", lambda m: m.dim),
            "Hardtanh": _hardtanh_module,
            "ELU": _simple_module("elu", alpha=lambda m: m.alpha),
            "CELU": _simple_module("celu", alpha=lambda m: m.alpha),
            "Softplus": _simple_module("softplus", beta=lambda m: m.beta, threshold=lambda m: m.threshold),
            "Hardshrink": _simple_module("hardshrink", lambd=lambda m: m.lambd),
            "Softshrink": _simple_module("softshrink", lambd=lambda m: m.lambd),
            "Threshold": _simple_module("threshold", threshold=lambda m: m.threshold, value=lambda m: m.value),
            "RReLU": _simple_module("rrelu", lower=lambda m: m.lower, upper=lambda m: m.upper),
            "PReLU": _prelu_module,
        },
        torch_functions={
            **{name: _activation_fn(op) for name, op in _PLAIN_FUNCTIONS.items()},
            "gelu": _gelu_fn,
            "leaky_relu": _activation_fn("leakyrelu", slope=(1, "negative_slope", 0.01)),
            "softmax": _softmax_fn,
            "softmin": _axis_fn("softmin"),
            "log_softmax": _axis_fn("logsoftmax"),
            "glu": _axis_fn("glu"),
            "hardtanh": _hardtanh_fn,
            "elu": _activation_fn("elu", alpha=(1, "alpha", 1.0)),
            "celu": _activation_fn("celu", alpha=(1, "alpha", 1.0)),
            "softplus": _activation_fn("softplus", beta=(1, "beta", 1.0), threshold=(2, "threshold", 20.0)),
            "hardshrink": _activation_fn("hardshrink", lambd=(1, "lambd", 0.5)),
            "softshrink": _activation_fn("softshrink", lambd=(1, "lambd", 0.5)),
            "threshold": _activation_fn("threshold", threshold=(1, "threshold", 0.0), value=(2, "value", 0.0)),
            "rrelu": _activation_fn("rrelu", lower=(1, "lower", 1 / 8), upper=(2, "upper", 1 / 3)),
            "prelu": _prelu_fn,
        },
        spellings={
            "relu_": "relu", "sigmoid_": "sigmoid", "tanh_": "tanh", "hardswish_": "hardswish",
            "_threshold": "threshold", "threshold_": "threshold", "elu_": "elu", "selu_": "selu", "celu_": "celu",
            "hardtanh_": "hardtanh", "rrelu_": "rrelu", "leaky_relu_": "leaky_relu", "silu_": "silu",
            "mish_": "mish", "hardsigmoid_": "hardsigmoid",
        },
        aten_ops={
            **{op: _aten_activation(op) for op in ("relu", "tanh", "sigmoid", "silu", "hardswish")},
            **{name: _aten_activation(op) for name, op in (
                ("mish", "mish"), ("hardsigmoid", "hardsigmoid"), ("log_sigmoid_forward", "logsigmoid"),
            )},
            "gelu": _aten_gelu,
            "leaky_relu": _aten_leaky_relu,
            "hardtanh": _aten_hardtanh,
            "elu": _aten_elu,
            "_prelu_kernel": _aten_prelu,
            "glu": _aten_glu,
            "_softmax": _aten_softmax,
            "_safe_softmax": _aten_softmax,
            "softmax": _aten_softmax,
        },
        names=(
            SummaryName(r"relu|sigmoid|tanh|gelu|silu|swish|softmax|elu|activation|hardswish|mish|^act", "relu",
                        precedence=50),
        ),
        patterns={
            # 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * torch.pow(x, 3)))) (GPT-2's gelu_new),
            # and the same with x * x * x for the cube
            "gelu_tanh": ({"mul": 4, "pow": 1, "add": 2, "tanh": 1}, {"mul": 6, "add": 2, "tanh": 1}),
        },
        examples={
            "activations_all": (
                "3x4x6",
                "- elu: 0.5\n- selu\n- celu: 2.0\n- gelu_tanh\n- mish\n- softplus: {beta: 2, threshold: 5}\n"
                "- softsign\n- hardsigmoid\n- hardtanh: {min_val: -2, max_val: 3}\n- hardshrink: 0.3\n"
                "- softshrink\n- tanhshrink\n- threshold: {threshold: 0.1, value: 2}\n- logsigmoid\n"
                "- rrelu\n- prelu\n- prelu: {num_parameters: 6}\n- softmin: 1\n- logsoftmax: 2\n- glu: 2",
            ),
            "glu_sequence": ("5x8", "- glu\n- logsoftmax: 0\n- softmin: -1"),
        },
    )
)
