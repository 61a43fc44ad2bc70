"""Local response normalisation across ``size`` channels (``torch.nn.LocalResponseNorm``).

Krizhevsky et al. 2012, section 3.3: ``b = a / (k + alpha/n * sum a^2)^beta``::

    ops = per element size muls + (size - 1) adds (sum of squares), 1 mul + 1 add,
          1 pow, 1 div

No parameters; neither fvcore nor torch's flop counter counts it. Torch:
``nn.LocalResponseNorm``, ``F.local_response_norm`` and the legacy
``nn.CrossMapLRN2d`` (the same normalisation over the same window, written as
a custom autograd function: counted as this rule).
"""

from __future__ import annotations

from archcalc.errors import SpecError
from archcalc.layers.base import REQUIRED, Family, Rule, SummaryName, keeps_field, same_shape, positive_int, register_family
from archcalc.layers.terms import Term, count, no_params, shape_step


class LocalResponseNormRule(Rule):
    op = "lrn"
    aliases = ("localresponsenorm", "local_response_norm")
    primary = "size"
    category = "norm"
    keys = {"size": REQUIRED, "alpha": 1e-4, "beta": 0.75, "k": 1.0}
    summary = "local response normalisation across channels (AlexNet)"
    rf_step = staticmethod(keeps_field)
    output_shape = staticmethod(same_shape)

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        attrs["size"] = positive_int(attrs["size"], "size")
        for key in ("alpha", "beta", "k"):
            if not isinstance(attrs[key], (int, float)) or isinstance(attrs[key], bool):
                raise SpecError(f"lrn {key} must be a number, got {attrs[key]!r}")
        return attrs

    def derive(self, attrs, in_shapes, out_shape):
        """Per element ``size + 1`` muls, ``size`` adds, 1 pow and 1 div."""
        size = attrs["size"]
        elements = count(in_shapes[0], "elements")
        return [
            shape_step(out_shape, "same as the input"),
            no_params(),
            (elements * Term(size + 1, "(size + 1)", f"({size} + 1)")).step(
                "muls", "multiplications", "squares of the neighbours, * alpha/n"),
            (elements * Term(size, "size", str(size))).step("adds", "additions", "sum of squares, + k"),
            elements.step("exps", "exp/sqrt/pow", "the power beta"),
            elements.step("divs", "divisions"),
        ]

    def to_torch(self, node, factory):
        from torch import nn

        a = node.attrs
        return nn.LocalResponseNorm(a["size"], alpha=a["alpha"], beta=a["beta"], k=a["k"])


def _lrn_module(m, leaf):
    return "lrn", {"size": m.size, "alpha": m.alpha, "beta": m.beta, "k": m.k}


def _lrn_fn(call):
    args = {
        "size": call.arg(1, "size"),
        "alpha": call.arg(2, "alpha", 1e-4),
        "beta": call.arg(3, "beta", 0.75),
        "k": call.arg(4, "k", 1.0),
    }
    return [call.spec("lrn", args, [call.arg(0, "input")])]


FAMILY = register_family(
    Family(
        name="lrn",
        rules=(LocalResponseNormRule,),
        torch_modules={"LocalResponseNorm": _lrn_module, "CrossMapLRN2d": _lrn_module},
        torch_functions={"local_response_norm": _lrn_fn},
        names=(SummaryName(r"lrn|localresponse", "lrn", precedence=40),),
    )
)
