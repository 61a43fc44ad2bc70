"""Root-mean-square normalisation over the last ``dims`` axes (Zhang and Sennrich, "Root Mean
Square Layer Normalization", NeurIPS 2019; ``torch.nn.RMSNorm``).

With ``n`` elements per normalised group and ``G = elements / n`` groups per sample
(``torch.nn.RMSNorm`` docs: ``y = x / sqrt(mean(x^2) + eps) * gamma``)::

    weights = n (gamma)                        when affine (``elementwise_affine``); no bias
    ops     = per element 1 mul (square), 1 add (the sum), 1 div (x / rms),
              + 1 mul (* gamma) with affine; per group 1 div (the mean), 1 add (+ eps), 1 sqrt

No centring, unlike layer norm. fvcore has no handle for ``aten::rms_norm`` and
PyTorch's flop counter no formula: both count 0.

Torch: ``nn.RMSNorm`` and ``F.rms_norm`` (built as ``nn.RMSNorm(normalized_shape,
eps, elementwise_affine)``; ``eps`` None is torch's default, the dtype's epsilon).
"""

from __future__ import annotations

from archcalc.layers.base import Family, Rule, SummaryName, keeps_field, prod, register_family, same_shape
from archcalc.layers.normalization import last_axes
from archcalc.layers.terms import Term, count, hidden, shape_step


class RMSNormRule(Rule):
    op = "rmsnorm"
    aliases = ("rms_norm",)
    category = "norm"
    keys = {"dims": 1, "affine": True, "eps": None}
    key_aliases = {"elementwise_affine": "affine"}
    summary = "RMS normalisation over the last `dims` axes (no centring, no bias)"
    rf_step = staticmethod(keeps_field)
    output_shape = staticmethod(same_shape)

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        last_axes(attrs, in_shapes[0], "RMS norm")
        return attrs

    def derive(self, attrs, in_shapes, out_shape):
        """``n`` weights with affine; per element 1 mul, 1 add, 1 div (+ 1 mul with affine); per
        group 1 div, 1 add and 1 sqrt."""
        norm, affine = attrs["normalized_shape"], attrs["affine"]
        steps = [shape_step(out_shape, "same as the input")]
        if affine:
            n = Term(prod(norm), "n (gamma, one per normalised element)", "*".join(str(v) for v in norm))
            steps += [n.step("weights", "weights"), n.named("n (no bias)").step("params", "params")]
        else:
            steps.append(Term(0, "no weights (affine off)", "0").step("params", "params"))
        elements = count(in_shapes[0], "elements")
        groups = prod(in_shapes[0]) // prod(norm)
        g = Term(groups, "groups", str(groups))
        steps += [
            (elements * (2 if affine else 1)).step("muls", "multiplications", "squares" + (", * gamma" if affine else "")),
            (elements + g).step("adds", "additions", "sum of squares; + eps per group"),
            (elements + g).step("divs", "divisions", "x / rms per element; the mean per group"),
            g.step("exps", "square roots", "sqrt(mean + eps), one per group"),
            hidden("fvcore", 0),
            hidden("torch", 0),
        ]
        return steps

    def to_torch(self, node, factory):
        from torch import nn

        a = node.attrs
        return nn.RMSNorm(tuple(a["normalized_shape"]), eps=a["eps"], elementwise_affine=a["affine"], **factory)


def _rmsnorm_module(m, leaf):
    return "rmsnorm", {"dims": len(m.normalized_shape), "affine": m.elementwise_affine, "eps": m.eps}


def _rms_norm_fn(call):
    x, shape, weight = call.arg(0, "input"), call.arg(1, "normalized_shape"), call.arg(2, "weight")
    if weight is not None and not call.is_constant(weight):
        return None
    dims = 1 if isinstance(shape, int) else len(shape)
    args = {"dims": dims, "affine": weight is not None, "eps": call.arg(3, "eps")}
    return [call.spec("rmsnorm", args, [x], params=call.params(weight))]


FAMILY = register_family(
    Family(
        name="rmsnorm",
        rules=(RMSNormRule,),
        torch_modules={"RMSNorm": _rmsnorm_module},
        torch_functions={"rms_norm": _rms_norm_fn},
        names=(SummaryName(r"rmsnorm|rms_norm", "rmsnorm", precedence=35),),
        examples={
            "rmsnorm_sequence": ("6x10", "- rmsnorm\n- rmsnorm: {dims: 2, affine: false, eps: 0.001}"),
            "rmsnorm_image": ("5x5x4", "- rmsnorm: {dims: 3}"),
        },
    )
)
