"""Element-wise activations and softmax.

Each activation is one rule whose operation counts are a fixed number of
primitive operations per element (``PER_ELEMENT``); exp, erf, tanh and pow
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
"""

from __future__ import annotations

from archcalc.errors import SpecError
from archcalc.rules.base import OpCounts, Rule, prod, register


class _Activation(Rule):
    category = "activation"
    #: primitive operations per element: adds, muls, divs, cmps, exps
    per_element: dict[str, int] = {}

    def ops(self, attrs, in_shapes, out_shape):
        n = prod(out_shape)
        return OpCounts(**{kind: n * count for kind, count in self.per_element.items()})


def _activation(op: str, per_element: dict[str, int], summary: str, aliases: tuple[str, ...] = (), keys=None):
    cls = type(
        f"{op.capitalize()}Rule",
        (_Activation,),
        {
            "op": op,
            "aliases": aliases,
            "per_element": per_element,
            "summary": summary,
            "keys": keys or {},
            "primary": next(iter(keys)) if keys else None,
            "__doc__": f"{summary}; per element: {per_element}",
        },
    )
    return register(cls)


ReluRule = _activation("relu", {"cmps": 1}, "ReLU: max(0, x)")
Relu6Rule = _activation("relu6", {"cmps": 2}, "ReLU6: min(max(0, x), 6)")
LeakyReluRule = _activation(
    "leakyrelu", {"cmps": 1, "muls": 1}, "leaky ReLU: x if x > 0 else slope * x",
    aliases=("leaky_relu", "lrelu"), keys={"slope": 0.01},
)
SigmoidRule = _activation("sigmoid", {"exps": 1, "adds": 1, "divs": 1}, "sigmoid: 1 / (1 + exp(-x))")
TanhRule = _activation("tanh", {"exps": 1}, "tanh")
GeluRule = _activation("gelu", {"exps": 1, "adds": 1, "muls": 3}, "GELU: x/2 (1 + erf(x / sqrt 2))")
SiluRule = _activation("silu", {"exps": 1, "adds": 1, "divs": 1, "muls": 1}, "SiLU (swish): x sigmoid(x)", aliases=("swish",))
HardswishRule = _activation(
    "hardswish", {"adds": 1, "cmps": 2, "muls": 1, "divs": 1}, "hard swish: x relu6(x + 3) / 6", aliases=("hard_swish",)
)


@register
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
