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

Torch: ``nn.BatchNorm1d`` / ``2d`` / ``3d`` and ``F.batch_norm``; the builder
picks the class by the input's rank (``(C,)`` and ``(C, L)`` -> 1d,
``(C, H, W)`` -> 2d). Keras lists the moving mean and variance among the
non-trainable parameters (:meth:`BatchNormRule.moving_statistics`).
"""

from __future__ import annotations

from archcalc.errors import LayerError
from archcalc.layers.base import Family, Rule, SummaryName, keeps_field, same_shape, register_family
from archcalc.layers.terms import Term, atom, count, hidden, shape_step


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
        c = attrs["channels"]
        affine = attrs["affine"]
        batch_stats = not attrs["track_running_stats"]
        steps = [shape_step(out_shape, "same as the input")]
        channels = atom(c, "C")
        if affine:
            steps += [
                atom(c, "C (gamma, one per channel)").step("weights", "weights"),
                atom(c, "C (beta, one per channel)").step("biases", "biases"),
                (2 * channels).step("params", "params"),
            ]
        else:
            steps.append(Term(0, "no weights (affine off)", "0").step("params", "params"))
        if attrs["track_running_stats"]:
            steps.append((2 * channels + 1).step("buffers", "buffers",
                                                 "running mean, running variance, num_batches_tracked"))
        elements = count(in_shapes[0], "elements")
        adds = (2 if affine else 1) + (2 if batch_stats else 0)
        muls = (1 if affine else 0) + (1 if batch_stats else 0)
        words = ("(x - mean) + beta" if affine else "(x - mean)") + (
            "; sums for the batch's mean and variance" if batch_stats else ""
        )
        steps.append((elements if adds == 1 else elements * adds).step("adds", "additions", words))
        steps.append(elements.step("divs", "divisions", "/ sqrt(var + eps)"))
        if muls:
            product = elements if muls == 1 else elements * muls
            steps.append(product.step("muls", "multiplications",
                                      ("* gamma" if affine else "") + ("; squares" if batch_stats else "")))
        steps.append(channels.step("exps", "square roots", "sqrt(var + eps), one per channel"))
        per = (5 if affine else 4) if batch_stats else (2 if affine else 1)
        fvcore = elements * per
        steps.append(hidden("fvcore", fvcore.value, f"input elements * {per}", fvcore.text,
                            suffix=" (fvcore's batchnorm handle)"))
        return steps

    def moving_statistics(self, attrs) -> int:
        """Running mean and variance, which Keras lists as non-trainable parameters."""
        return 2 * int(attrs.get("channels", 0)) if attrs.get("track_running_stats", True) else 0

    def to_torch(self, node, factory):
        from torch import nn

        classes = {1: nn.BatchNorm1d, 2: nn.BatchNorm1d, 3: nn.BatchNorm2d, 4: nn.BatchNorm3d}
        a = node.attrs
        rank = len(node.input_shapes[0])
        if rank not in classes:
            raise LayerError(f"no torch batch norm for a {rank}-axis input", layer=node.name, op=node.op)
        return classes[rank](
            a["channels"],
            eps=a["eps"],
            momentum=a["momentum"],
            affine=a["affine"],
            track_running_stats=a["track_running_stats"],
            **factory,
        )


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


FAMILY = register_family(
    Family(
        name="batchnorm",
        rules=(BatchNormRule,),
        torch_modules={name: _batchnorm_module for name in ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d")},
        torch_functions={"batch_norm": _batch_norm_fn},
        names=(
            SummaryName(r"batchnorm|batch_norm|batchnormalization|^bn\d*$|_bn$", "batchnorm", precedence=40),
            SummaryName(r"norm", "batchnorm", precedence=45),
        ),
        roles={"projection_norm": "batchnorm"},
        meta_shortcuts=("batch_norm",),
    )
)
