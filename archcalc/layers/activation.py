"""Element-wise activations and softmax.

Each activation is one rule whose operation counts are a fixed number of
primitive operations per element (``per_element``); exp, erf, tanh and pow
count as one transcendental (``exps``) each:

=========  ===================================  =========================================
op         formula                              per element
=========  ===================================  =========================================
relu       max(0, x)                            1 cmp
relu6      min(max(0, x), 6)                    2 cmp
leakyrelu  x if x > 0 else a x                  1 cmp, 1 mul
sigmoid    1 / (1 + exp(-x))                    1 exp, 1 add, 1 div
tanh       tanh(x)                              1 exp
gelu       x/2 (1 + erf(x / sqrt 2))            1 exp, 1 add, 3 mul
silu       x sigmoid(x)                         1 exp, 1 add, 1 div, 1 mul
hardswish  x relu6(x + 3) / 6                   1 add, 2 cmp, 1 mul, 1 div
softmax    exp(x_i) / sum_j exp(x_j)            1 exp, 1 add, 1 div
=========  ===================================  =========================================

Neither fvcore nor PyTorch's flop counter counts activations (fvcore ignores
``aten::relu`` and reports the others as unsupported).

Torch: the ``nn`` modules of the same names, their functions (``F.relu``,
``torch.tanh``, ``x.relu_()``...) and aten ops; ``aten.hardtanh(x, 0, 6)`` is
ReLU6. ``nn.Softmax(dim)`` is built with ``dim = axis + 1`` (attrs count axes
per sample).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from archcalc.errors import SpecError
from archcalc.layers.base import Family, Rule, SummaryName, keeps_field, register_family, same_shape
from archcalc.layers.terms import OP_WORDS, count, no_params, shape_step


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


RULES = (ReluRule, Relu6Rule, LeakyReluRule, SigmoidRule, TanhRule, GeluRule, SiluRule, HardswishRule, SoftmaxRule)

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


def _activation_fn(op: str, **extra: tuple[int, str, Any]):
    def handler(call):
        args = {key: call.arg(index, name, default) for key, (index, name, default) in extra.items()}
        return [call.spec(op, args, [call.arg(0, "input")])]

    return handler


def _softmax_fn(call):
    x, dim = call.arg(0, "input"), call.arg(1, "dim")
    if dim is None:
        return None
    axis = call.axis(x, dim)
    return None if axis is None else [call.spec("softmax", {"axis": axis}, [x])]


def _aten_activation(op: str):
    def handler(call):
        active = call.active_tensors()
        return [call.spec(op, {}, active)] if len(active) == 1 else None

    return handler


def _aten_leaky_relu(call):
    args = call.args
    return [call.spec("leakyrelu", {"slope": args[1] if len(args) > 1 else 0.01}, call.active_tensors())]


def _aten_hardtanh(call):
    if tuple(call.args[1:3]) != (0.0, 6.0):
        return None
    return [call.spec("relu6", {}, call.active_tensors())]


def _aten_softmax(call):
    x, dim = call.args[:2]
    axis = call.axis(x, dim)
    return None if axis is None else [call.spec("softmax", {"axis": axis}, [x])]


_PLAIN = {"ReLU": "relu", "ReLU6": "relu6", "Sigmoid": "sigmoid", "Tanh": "tanh", "GELU": "gelu", "SiLU": "silu",
          "Hardswish": "hardswish"}

FAMILY = register_family(
    Family(
        name="activation",
        rules=RULES,
        torch_modules={
            **{name: _simple_module(op) for name, op in _PLAIN.items()},
            "LeakyReLU": _simple_module("leakyrelu", slope=lambda m: m.negative_slope),
            "Softmax": _softmax_module,
        },
        torch_functions={
            **{op: _activation_fn(op) for op in ("relu", "relu6", "sigmoid", "tanh", "gelu", "silu", "hardswish")},
            "leaky_relu": _activation_fn("leakyrelu", slope=(1, "negative_slope", 0.01)),
            "softmax": _softmax_fn,
        },
        spellings={"relu_": "relu", "sigmoid_": "sigmoid", "tanh_": "tanh", "hardswish_": "hardswish"},
        aten_ops={
            **{op: _aten_activation(op) for op in ("relu", "tanh", "sigmoid", "gelu", "silu", "hardswish")},
            "leaky_relu": _aten_leaky_relu,
            "hardtanh": _aten_hardtanh,
            "_softmax": _aten_softmax,
            "_safe_softmax": _aten_softmax,
            "softmax": _aten_softmax,
        },
        names=(
            SummaryName(r"relu|sigmoid|tanh|gelu|silu|swish|softmax|elu|activation|hardswish|mish|^act", "relu",
                        precedence=50),
        ),
    )
)
