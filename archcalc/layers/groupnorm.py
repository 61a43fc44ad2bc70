"""Group normalisation (Wu and He, "Group Normalization", ECCV 2018; ``torch.nn.GroupNorm``).

The ``C`` channels of each sample are split into ``G`` groups; each group of
``n = (C/G) * H * W`` elements is normalised by its own mean and variance,
then scaled and shifted per channel::

    y = (x - mean_g) / sqrt(var_g + eps) * gamma_c + beta_c

    weights = C (gamma), biases = C (beta)     when affine; no buffers
    ops     = per element 3 adds (mean sum, centre, variance sum) + 1 mul (square)
              + 1 div, + 1 mul + 1 add with affine; per group 2 divs (mean,
              variance) and 1 sqrt
    fvcore  = elements * (5 if affine else 4)  (``aten::group_norm``: ``norm_flop_counter(2)``)

PyTorch's flop counter has no formula for ``native_group_norm`` and counts 0.
Any input with a channel axis first works: ``(C,)``, ``(C, L)``, ``(C, H, W)``,
``(C, D, H, W)``. In a spec: ``groupnorm: {groups: 32}`` (``groups`` must
divide the channels).
"""

from __future__ import annotations

from archcalc.errors import LayerError
from archcalc.layers.base import REQUIRED, Family, Rule, SummaryName, keeps_field, positive_int, register_family, same_shape
from archcalc.layers.normalization import channel_affine, fvcore_norm, statistics_ops
from archcalc.layers.terms import atom, count, shape_step


class GroupNormRule(Rule):
    op = "groupnorm"
    aliases = ("group_norm", "gn")
    primary = "groups"
    category = "norm"
    keys = {"groups": REQUIRED, "affine": True, "eps": 1e-5}
    key_aliases = {"num_groups": "groups"}
    summary = "group normalisation: channels in `groups` groups, each normalised on its own"
    output_shape = staticmethod(same_shape)
    rf_step = staticmethod(keeps_field)

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        if not in_shapes[0]:
            raise LayerError("group norm needs an input with a channel axis")
        channels = in_shapes[0][0]
        groups = positive_int(attrs["groups"], "groups")
        if channels % groups:
            raise LayerError(f"groups = {groups} must divide the {channels} channels")
        attrs["groups"] = groups
        attrs["channels"] = channels
        attrs["affine"] = bool(attrs["affine"])
        return attrs

    def derive(self, attrs, in_shapes, out_shape):
        """``2C`` parameters; per element 3 adds, 1 mul, 1 div (+ 1 add and 1 mul with affine);
        per group 2 divs and 1 sqrt."""
        c, g, affine = attrs["channels"], attrs["groups"], attrs["affine"]
        elements = count(in_shapes[0], "elements")
        return [
            shape_step(out_shape, "same as the input"),
            *channel_affine(c, affine),
            *statistics_ops(elements, atom(g, "G"), affine, affine, "group", "sqrt(var + eps), one per group"),
            fvcore_norm(elements, 5 if affine else 4, "group_norm"),
        ]

    def to_torch(self, node, factory):
        from torch import nn

        a = node.attrs
        return nn.GroupNorm(a["groups"], a["channels"], eps=a["eps"], affine=a["affine"], **factory)


def _groupnorm_module(m, leaf):
    return "groupnorm", {"groups": m.num_groups, "affine": m.affine, "eps": m.eps}


def _group_norm_fn(call):
    x, groups, weight, bias = call.arg(0, "input"), call.arg(1, "num_groups"), call.arg(2, "weight"), call.arg(3, "bias")
    if (weight is None) != (bias is None) or any(t is not None and not call.is_constant(t) for t in (weight, bias)):
        return None
    args = {"groups": groups, "affine": weight is not None, "eps": call.arg(4, "eps", 1e-5)}
    return [call.spec("groupnorm", args, [x], params=call.params(weight, bias))]


FAMILY = register_family(
    Family(
        name="groupnorm",
        rules=(GroupNormRule,),
        torch_modules={"GroupNorm": _groupnorm_module},
        torch_functions={"group_norm": _group_norm_fn},
        meta_shortcuts=("group_norm",),
        names=(SummaryName(r"groupnorm|group_norm|groupnormalization", "groupnorm", precedence=40),),
        examples={
            "groupnorm_image": ("9x11x3", "- conv: {filters: 8, kernel: 3}\n- groupnorm: 4"),
            "groupnorm_plain": ("9x11x6", "- groupnorm: {groups: 2, affine: false, eps: 0.001}"),
            "groupnorm_sequence": ("6x12", "- groupnorm: {groups: 3}"),
        },
    )
)
