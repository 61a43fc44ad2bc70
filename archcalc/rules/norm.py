"""Normalisation: batch norm, layer norm, local response norm.

Batch norm at inference, per element ``y = (x - mean) / sqrt(var + eps) * gamma + beta``::

    weights = C (gamma), biases = C (beta)      when affine
    buffers = 2C + 1 (running mean, running var, num_batches_tracked, as torch counts them)
    ops     = 1 add + 1 div per element, + 1 mul + 1 add with affine; 1 sqrt per channel
    fvcore  = elements * (2 if affine else 1)   (``batchnorm_flop_jit``, eval mode)

Without running statistics (``track_running_stats: false``) torch normalises with
the batch's own mean and variance even at inference: + 2 adds (sums for mean and
variance) and 1 mul (square) per element, and fvcore counts it as in training,
``elements * (5 if affine else 4)`` (``norm_flop_counter(1)``).

Layer norm over the last ``dims`` axes (``torch.nn.LayerNorm``), ``n`` elements per group::

    weights = n, biases = n                     when affine
    ops     = per element 3 adds (mean sum, centre, variance sum) + 1 mul (square) + 1 div,
              + 1 mul + 1 add with affine; per group 2 divs and 1 sqrt
    fvcore  = elements * (5 if affine else 4)   (``norm_flop_counter``)

Local response norm across ``size`` channels (``torch.nn.LocalResponseNorm``;
Krizhevsky et al. 2012, section 3.3), ``b = a / (k + alpha/n * sum a^2)^beta``::

    ops = per element size muls + (size - 1) adds (sum of squares), 1 mul + 1 add,
          1 pow, 1 div
"""

from __future__ import annotations

from archcalc.errors import LayerError, SpecError
from archcalc.rules.base import REQUIRED, OpCounts, ParamCounts, Rule, positive_int, prod, register


@register
class BatchNormRule(Rule):
    op = "batchnorm"
    aliases = ("bn", "batch_norm", "batchnorm2d", "batchnorm1d")
    category = "norm"
    keys = {"affine": True, "eps": 1e-5, "momentum": 0.1, "track_running_stats": True}
    summary = "batch normalisation (inference: running statistics)"

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        if not in_shapes[0]:
            raise LayerError("batch norm needs an input with a channel axis")
        attrs["channels"] = in_shapes[0][0]
        attrs["affine"] = bool(attrs["affine"])
        return attrs

    def params(self, attrs, in_shapes, out_shape):
        c = attrs["channels"]
        affine = c if attrs["affine"] else 0
        return ParamCounts(weights=affine, biases=affine, buffers=2 * c + 1 if attrs["track_running_stats"] else 0)

    def ops(self, attrs, in_shapes, out_shape):
        n = prod(in_shapes[0])
        affine = attrs["affine"]
        batch_stats = not attrs["track_running_stats"]
        return OpCounts(
            adds=n * (2 if affine else 1) + (2 * n if batch_stats else 0),
            divs=n,
            muls=(n if affine else 0) + (n if batch_stats else 0),
            exps=attrs["channels"],
            fvcore=n * ((5 if affine else 4) if batch_stats else (2 if affine else 1)),
        )


@register
class LayerNormRule(Rule):
    op = "layernorm"
    aliases = ("ln", "layer_norm")
    category = "norm"
    keys = {"dims": 1, "affine": True, "eps": 1e-5}
    key_aliases = {"elementwise_affine": "affine"}
    summary = "layer normalisation over the last `dims` axes"

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        dims = positive_int(attrs["dims"], "dims")
        if dims > len(in_shapes[0]):
            raise LayerError(f"layer norm over {dims} axes of a {len(in_shapes[0])}-axis input")
        attrs["normalized_shape"] = tuple(in_shapes[0][-dims:])
        attrs["affine"] = bool(attrs["affine"])
        return attrs

    def params(self, attrs, in_shapes, out_shape):
        n = prod(attrs["normalized_shape"]) if attrs["affine"] else 0
        return ParamCounts(weights=n, biases=n)

    def ops(self, attrs, in_shapes, out_shape):
        n = prod(in_shapes[0])
        groups = n // prod(attrs["normalized_shape"])
        affine = attrs["affine"]
        return OpCounts(
            adds=n * (4 if affine else 3),
            muls=n * (2 if affine else 1),
            divs=n + 2 * groups,
            exps=groups,
            fvcore=n * (5 if affine else 4),
        )


@register
class LocalResponseNormRule(Rule):
    op = "lrn"
    aliases = ("localresponsenorm", "local_response_norm")
    primary = "size"
    category = "norm"
    keys = {"size": REQUIRED, "alpha": 1e-4, "beta": 0.75, "k": 1.0}
    summary = "local response normalisation across channels (AlexNet)"

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        attrs["size"] = positive_int(attrs["size"], "size")
        for key in ("alpha", "beta", "k"):
            if not isinstance(attrs[key], (int, float)) or isinstance(attrs[key], bool):
                raise SpecError(f"lrn {key} must be a number, got {attrs[key]!r}")
        return attrs

    def ops(self, attrs, in_shapes, out_shape):
        n = prod(in_shapes[0])
        size = attrs["size"]
        return OpCounts(muls=n * (size + 1), adds=n * size, exps=n, divs=n)
