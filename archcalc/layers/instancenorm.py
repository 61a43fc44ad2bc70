"""Instance normalisation (Ulyanov et al. 2016; ``torch.nn.InstanceNorm1d`` / ``2d`` / ``3d``).

Each channel of each sample is normalised by its own mean and variance over
its spatial positions (group norm with one group per channel)::

    y = (x - mean_c) / sqrt(var_c + eps) * gamma_c + beta_c

    weights = C, biases = C                    when affine (torch's default: off)
    buffers = 2C + 1                           with track_running_stats (running mean,
                                               running var, num_batches_tracked)
    ops     = per element 3 adds + 1 mul (square) + 1 div, + 1 mul + 1 add with affine;
              per channel 2 divs and 1 sqrt
    fvcore  = elements * (5 if affine else 4)  (``aten::instance_norm``: ``norm_flop_counter(1)``)

At inference with ``track_running_stats`` torch normalises with the running
statistics instead, as batch norm does: per element 1 add and 1 div (+ 1 mul
and 1 add with affine), 1 sqrt per channel. PyTorch's flop counter counts 0.
Inputs ``(C, L)``, ``(C, H, W)`` or ``(C, D, H, W)`` (1d, 2d, 3d).
"""

from __future__ import annotations

from archcalc.errors import LayerError
from archcalc.layers.base import Family, Rule, SummaryName, keeps_field, register_family, same_shape
from archcalc.layers.normalization import by_rank, channel_affine, fvcore_norm, running_buffers, running_ops, statistics_ops
from archcalc.layers.terms import atom, count, shape_step


class InstanceNormRule(Rule):
    op = "instancenorm"
    aliases = ("instance_norm", "instancenorm1d", "instancenorm2d", "instancenorm3d")
    category = "norm"
    keys = {"affine": False, "track_running_stats": False, "eps": 1e-5, "momentum": 0.1}
    summary = "instance normalisation: each channel of each sample on its own"
    output_shape = staticmethod(same_shape)
    rf_step = staticmethod(keeps_field)

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        if not 2 <= len(in_shapes[0]) <= 4:
            raise LayerError(
                f"instance norm needs a channel axis and 1 to 3 spatial axes (C x L, C x H x W, C x D x H x W), "
                f"got {len(in_shapes[0])} axes"
            )
        attrs["channels"] = in_shapes[0][0]
        attrs["affine"] = bool(attrs["affine"])
        attrs["track_running_stats"] = bool(attrs["track_running_stats"])
        return attrs

    def derive(self, attrs, in_shapes, out_shape):
        """Each channel its own statistics (or the running ones): see the module docstring."""
        c, affine = attrs["channels"], attrs["affine"]
        elements = count(in_shapes[0], "elements")
        steps = [shape_step(out_shape, "same as the input"), *channel_affine(c, affine)]
        if attrs["track_running_stats"]:
            steps += [running_buffers(c), *running_ops(elements, c, affine)]
        else:
            steps += statistics_ops(elements, atom(c, "C"), affine, affine, "channel", "sqrt(var + eps), one per channel")
        return steps + [fvcore_norm(elements, 5 if affine else 4, "instance_norm")]

    def to_torch(self, node, factory):
        from torch import nn

        a = node.attrs
        classes = {2: nn.InstanceNorm1d, 3: nn.InstanceNorm2d, 4: nn.InstanceNorm3d}
        return by_rank(node, classes, "instance norm", a["channels"], eps=a["eps"], momentum=a["momentum"],
                       affine=a["affine"], track_running_stats=a["track_running_stats"], **factory)


def _instancenorm_module(m, leaf):
    return "instancenorm", {
        "affine": m.affine,
        "track_running_stats": m.track_running_stats,
        "eps": m.eps,
        "momentum": m.momentum,
    }


def _instance_norm_fn(call):
    x, mean, var, weight, bias = (
        call.arg(i, k) for i, k in enumerate(("input", "running_mean", "running_var", "weight", "bias"))
    )
    if (weight is None) != (bias is None) or any(
        t is not None and not call.is_constant(t) for t in (mean, var, weight, bias)
    ):
        return None
    use_input_stats = call.arg(5, "use_input_stats", True)
    args = {
        "affine": weight is not None,
        "track_running_stats": mean is not None and not use_input_stats,
        "eps": call.arg(7, "eps", 1e-5),
    }
    return [call.spec("instancenorm", args, [x], params=call.params(weight, bias, mean, var))]


FAMILY = register_family(
    Family(
        name="instancenorm",
        rules=(InstanceNormRule,),
        torch_modules={name: _instancenorm_module for name in ("InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d")},
        torch_functions={"instance_norm": _instance_norm_fn},
        meta_shortcuts=("instance_norm",),
        names=(SummaryName(r"instancenorm|instance_norm|instancenormalization", "instancenorm", precedence=40),),
        examples={
            "instancenorm_image": ("9x11x3", "- conv: {filters: 8, kernel: 3}\n- instancenorm"),
            "instancenorm_affine": ("9x11x6", "- instancenorm: {affine: true}"),
            "instancenorm_running": ("9x11x6", "- instancenorm: {affine: true, track_running_stats: true}"),
            "instancenorm_sequence": ("7x12", "- instancenorm"),
        },
    )
)
