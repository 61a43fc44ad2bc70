"""Layer normalisation over the last ``dims`` axes (``torch.nn.LayerNorm``).

With ``n`` elements per normalised group and ``G = elements / n`` groups per sample::

    weights = n, biases = n                     when affine (no biases with ``bias: false``)
    ops     = per element 3 adds (mean sum, centre, variance sum) + 1 mul (square) + 1 div,
              + 1 mul (gamma) with affine, + 1 add (beta) with its bias; per group 2 divs and 1 sqrt
    fvcore  = elements * (5 if affine else 4)   (``norm_flop_counter(2)``: 5 when a weight is
                                                 given, with or without a bias)

Torch: ``nn.LayerNorm`` (``bias=False`` too) and ``F.layer_norm`` (a weight and a
bias, a weight alone, or neither); ``aten.native_layer_norm`` too, so a layer norm of a learned
tensor (DeBERTa-v2's and SEW-D's relative position embeddings) is counted once per forward, as
fvcore counts it.
"""

from __future__ import annotations

from archcalc.layers.base import Family, Rule, SummaryName, keeps_field, same_shape, prod, register_family
from archcalc.layers.normalization import fvcore_norm, last_axes, statistics_ops
from archcalc.layers.terms import Term, count, shape_step


class LayerNormRule(Rule):
    op = "layernorm"
    aliases = ("ln", "layer_norm")
    category = "norm"
    keys = {"dims": 1, "affine": True, "eps": 1e-5, "bias": True}
    key_aliases = {"elementwise_affine": "affine"}
    summary = "layer normalisation over the last `dims` axes"
    rf_step = staticmethod(keeps_field)
    output_shape = staticmethod(same_shape)

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        last_axes(attrs, in_shapes[0], "layer norm")
        if attrs["bias"] or not attrs["affine"]:
            del attrs["bias"]  # kept only when it says something: an affine norm without a bias
        else:
            attrs["bias"] = False
        return attrs

    def derive(self, attrs, in_shapes, out_shape):
        """``2n`` parameters (``n`` without a bias); per element 3 adds, 1 mul, 1 div (+ 1 mul
        with affine, + 1 add with its bias); per group 2 divs and 1 sqrt."""
        norm = attrs["normalized_shape"]
        affine = attrs["affine"]
        bias = affine and attrs.get("bias", True)
        steps = [shape_step(out_shape, "same as the input")]
        if affine:
            n = Term(prod(norm), "n (normalised elements)", "*".join(str(v) for v in norm))
            steps.append(n.step("weights", "weights"))
            if bias:
                steps += [n.named("n").step("biases", "biases"), (2 * n.named("n")).step("params", "params")]
            else:
                steps.append(n.named("n (gamma only: bias=False)").step("params", "params"))
        elements = count(in_shapes[0], "elements")
        groups = Term(prod(in_shapes[0]) // prod(norm), "groups", str(prod(in_shapes[0]) // prod(norm)))
        steps += statistics_ops(elements, groups, bias, affine, "group")
        steps.append(fvcore_norm(elements, 5 if affine else 4, "layernorm"))
        return steps

    def to_torch(self, node, factory):
        from torch import nn

        a = node.attrs
        return nn.LayerNorm(tuple(a["normalized_shape"]), eps=a["eps"], elementwise_affine=a["affine"],
                            bias=a.get("bias", True), **factory)


def _layernorm_module(m, leaf):
    args = {"dims": len(m.normalized_shape), "affine": m.elementwise_affine, "eps": m.eps}
    if m.elementwise_affine and m.bias is None:
        args["bias"] = False
    return "layernorm", args


def _layer_norm_fn(call):
    x, shape, weight, bias = (
        call.arg(0, "input"),
        call.arg(1, "normalized_shape"),
        call.arg(2, "weight"),
        call.arg(3, "bias"),
    )
    if (weight is None and bias is not None) or any(t is not None and not call.is_constant(t) for t in (weight, bias)):
        return None
    dims = 1 if isinstance(shape, int) else len(shape)
    args = {"dims": dims, "affine": weight is not None, "eps": call.arg(4, "eps", 1e-5)}
    if weight is not None and bias is None:
        args["bias"] = False
    return [call.spec("layernorm", args, [x], params=call.params(weight, bias))]


def _aten_layer_norm(call):
    """``aten.native_layer_norm(input, normalized_shape, weight, bias, eps)``: reached when no
    module or function call above it was mapped, as for a norm of a learned tensor."""
    x, shape, weight, bias = call.args[:4]
    if (weight is None and bias is not None) or not call.is_active(x):
        return None
    args = {"dims": len(shape), "affine": weight is not None, "eps": call.args[4] if len(call.args) > 4 else 1e-5}
    if weight is not None and bias is None:
        args["bias"] = False
    spec = call.spec("layernorm", args, [x], params=call.params(weight, bias))
    if spec.batched and any(t is not None and not call.is_constant(t) for t in (weight, bias)):
        return None  # an activation as its weight: no layer norm of the rule's kind
    return [spec]


FAMILY = register_family(
    Family(
        name="layernorm",
        rules=(LayerNormRule,),
        torch_modules={"LayerNorm": _layernorm_module},
        torch_functions={"layer_norm": _layer_norm_fn},
        aten_ops={"native_layer_norm": _aten_layer_norm},
        meta_shortcuts=("layer_norm",),
        names=(SummaryName(r"layernorm|layer_norm|layernormalization", "layernorm", precedence=40),),
        examples={
            "layernorm_no_bias": ("6x10", "- layernorm: {bias: false}\n- layernorm: {dims: 2, bias: false, eps: 0.001}"),
        },
    )
)
