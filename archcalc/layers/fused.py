"""A module whose forward is only point-wise ops on one input, as one row.

``transformers``' ``NewGELUActivation`` (``gelu_new``) computes
``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`` in eight torch calls; a live
capture records each of them. When a module call that maps no submodule made only
shape-keeping, parameter-free point-wise records from a single input tensor, the
capture (:mod:`archcalc.frontends.torch_capture`) folds them into one record of these
rules, named after the module, carrying the sum of their counts::

    ops = sum over the module's records of their own counts (adds, muls, divs, cmps,
          exps; fvcore and torch as those tools count the same calls: 0 for point-wise ops)

``fused_activation`` when one of the records was an activation (tanh, sigmoid...), so
conventions that count activations count it; ``fused_elementwise`` otherwise.
"""

from __future__ import annotations

from archcalc.errors import SpecError
from archcalc.layers.base import Absent, Family, OpCounts, REQUIRED, Rule, ShapeResult, keeps_field, register_family

_COUNT_KEYS = ("adds", "muls", "divs", "cmps", "exps", "fvcore", "torch")


class _FusedPointwise(Rule):
    keys = {"fn": REQUIRED, "shape": None, "ops": None}
    primary = "fn"
    rf_step = staticmethod(keeps_field)
    absent = {
        "explain": "recorded from a live module: explained from its summed counts",
        "to_torch": "recorded from a live module: the module's own forward is the torch form",
    }

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        ops = attrs["ops"] or {}
        if not isinstance(ops, dict) or any(k not in _COUNT_KEYS or not isinstance(v, int) or v < 0
                                            for k, v in ops.items()):
            raise SpecError(f"{self.op} ops must map {', '.join(_COUNT_KEYS)} to whole numbers >= 0, got {ops!r}")
        attrs["ops"] = dict(ops)
        attrs["fn"] = str(attrs["fn"])
        if attrs["shape"] is not None:
            attrs["shape"] = tuple(int(v) for v in attrs["shape"])
        return attrs

    def output_shape(self, attrs, in_shapes):
        return ShapeResult(tuple(attrs["shape"]) if attrs["shape"] is not None else in_shapes[0])

    def ops(self, attrs, in_shapes, out_shape):
        return OpCounts(**attrs["ops"])


class FusedActivationRule(_FusedPointwise):
    op = "fused_activation"
    category = "activation"
    summary = "a module of point-wise ops on one input with an activation among them (gelu_new), one row"


class FusedElementwiseRule(_FusedPointwise):
    op = "fused_elementwise"
    category = "elementwise"
    summary = "a module of point-wise ops on one input (x * 0.5 + 1), one row"


FAMILY = register_family(
    Family(
        name="pointwise_modules",
        rules=(FusedActivationRule, FusedElementwiseRule),
        torch_modules=Absent("made by the capture from a module's point-wise records, not from a torch.nn class"),
        torch_functions=Absent("made by the capture from a module's point-wise records, not from a function"),
        names=Absent("pasted summaries name the module's own class, which archcalc cannot know in advance"),
        roles={"module_of_pointwise_ops_with_activation": "fused_activation",
               "module_of_pointwise_ops": "fused_elementwise"},
    )
)
