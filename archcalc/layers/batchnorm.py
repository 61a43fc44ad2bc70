"""Batch normalisation.

At inference, per element ``y = (x - mean) / sqrt(var + eps) * gamma + beta``::

    weights = C (gamma), biases = C (beta)      when affine
    buffers = 2C + 1 (running mean, running var, num_batches_tracked, as torch counts them)
    ops     = 1 add + 1 div per element, + 1 mul + 1 add with affine; 1 sqrt per channel
    fvcore  = elements * (2 if affine else 1)   (``batchnorm_flop_jit``, eval mode)

Without running statistics (``track_running_stats: false``) torch normalises with
the batch's own mean and variance even at inference: + 2 adds (sums for mean and
variance) and 1 mul (square) per element, and fvcore counts it as in training,
``elements * (5 if affine else 4)`` (``norm_flop_counter(1)``).

Torch: ``nn.BatchNorm1d`` / ``2d`` / ``3d``, ``F.batch_norm`` and the aten ops a
``torch.export`` program calls (``_native_batch_norm_legit_no_training``); the builder
picks the class by the input's rank (``(C,)`` and ``(C, L)`` -> 1d,
``(C, H, W)`` -> 2d). Keras lists the moving mean and variance among the
non-trainable parameters (:meth:`BatchNormRule.moving_statistics`).
"""

from __future__ import annotations

from archcalc.errors import LayerError
from archcalc.layers.base import Family, Rule, SummaryName, keeps_field, same_shape, register_family
from archcalc.layers.normalization import by_rank, channel_affine, fvcore_norm, running_buffers, running_ops
from archcalc.layers.terms import count, shape_step


class BatchNormRule(Rule):
    op = "batchnorm"
    aliases = ("bn", "batch_norm", "batchnorm2d", "batchnorm1d")
    category = "norm"
    keys = {"affine": True, "eps": 1e-5, "momentum": 0.1, "track_running_stats": True}
    summary = "batch normalisation (inference: running statistics)"
    rf_step = staticmethod(keeps_field)
    output_shape = staticmethod(same_shape)

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        if not in_shapes[0]:
            raise LayerError("batch norm needs an input with a channel axis")
        attrs["channels"] = in_shapes[0][0]
        attrs["affine"] = bool(attrs["affine"])
        return attrs

    def derive(self, attrs, in_shapes, out_shape):
        """Parameters ``2C``, buffers ``2C + 1``; per element 1 add and 1 div (+ 1 mul and 1 add
        with affine; + 2 adds and 1 mul with batch statistics); 1 sqrt per channel."""
        c, affine = attrs["channels"], attrs["affine"]
        batch_stats = not attrs["track_running_stats"]
        steps = [shape_step(out_shape, "same as the input"), *channel_affine(c, affine)]
        if attrs["track_running_stats"]:
            steps.append(running_buffers(c))
        elements = count(in_shapes[0], "elements")
        per = (5 if affine else 4) if batch_stats else (2 if affine else 1)
        return steps + running_ops(elements, c, affine, batch_stats) + [fvcore_norm(elements, per, "batchnorm")]

    def moving_statistics(self, attrs) -> int:
        """Running mean and variance, which Keras lists as non-trainable parameters."""
        return 2 * int(attrs.get("channels", 0)) if attrs.get("track_running_stats", True) else 0

    def to_torch(self, node, factory):
        from torch import nn

        a = node.attrs
        classes = {1: nn.BatchNorm1d, 2: nn.BatchNorm1d, 3: nn.BatchNorm2d, 4: nn.BatchNorm3d}
        return by_rank(node, classes, "batch norm", a["channels"], eps=a["eps"], momentum=a["momentum"],
                       affine=a["affine"], track_running_stats=a["track_running_stats"], **factory)


def _batchnorm_module(m, leaf):
    return "batchnorm", {
        "affine": m.affine,
        "eps": m.eps,
        "momentum": m.momentum,
        "track_running_stats": m.track_running_stats,
    }


def _batch_norm_fn(call):
    x, mean, var, weight, bias = (
        call.arg(i, k) for i, k in enumerate(("input", "running_mean", "running_var", "weight", "bias"))
    )
    if any(t is not None and not call.is_constant(t) for t in (mean, var, weight, bias)):
        return None
    args = {"affine": weight is not None, "track_running_stats": mean is not None, "eps": call.arg(7, "eps", 1e-5)}
    return [call.spec("batchnorm", args, [x], params=call.params(weight, bias, mean, var))]


def _aten_batch_norm(call):
    """``aten.native_batch_norm`` and ``aten._native_batch_norm_legit[_no_training]`` (input, weight,
    bias, running_mean, running_var, ..., eps), as a ``torch.export`` program calls them."""
    x, weight, bias, mean, var = call.args[:5]
    if not call.is_active(x) or any(t is not None and not call.is_constant(t) for t in (weight, bias, mean, var)):
        return None
    eps = call.args[-1] if isinstance(call.args[-1], float) else 1e-5
    args = {"affine": weight is not None, "track_running_stats": mean is not None, "eps": eps}
    return [call.spec("batchnorm", args, [x], params=call.params(weight, bias, mean, var))]


FAMILY = register_family(
    Family(
        name="batchnorm",
        rules=(BatchNormRule,),
        torch_modules={name: _batchnorm_module for name in ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d")},
        torch_functions={"batch_norm": _batch_norm_fn},
        aten_ops=dict.fromkeys(("native_batch_norm", "_native_batch_norm_legit", "_native_batch_norm_legit_no_training"),
                               _aten_batch_norm),
        names=(
            SummaryName(r"batchnorm|batch_norm|batchnormalization|^bn\d*$|_bn$", "batchnorm", precedence=40),
            SummaryName(r"norm", "batchnorm", precedence=45),
        ),
        roles={"projection_norm": "batchnorm"},
        meta_shortcuts=("batch_norm",),
    )
)
