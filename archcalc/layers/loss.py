"""Loss functions that torch computes in one kernel (``nn.MSELoss``, ``nn.CrossEntropyLoss``...).

A loss compares the model's output ``x`` with a target ``y`` (a second input,
or a constant). Per element of ``x`` (element-wise losses) or per row of
``C`` classes (class losses, the class axis first per sample), the arithmetic
of the formulas in the PyTorch docs (``torch.nn.<Name>Loss``)::

    mse                  (x - y)^2                                    1 add, 1 mul
    l1                   |x - y|                                      1 add, 1 cmp
    smooth_l1 (beta)     |d| < beta ? d^2/(2 beta) : |d| - beta/2     2 adds, 2 cmps, 2 muls, 1 div
    huber (delta)        |d| < delta ? d^2/2 : delta (|d| - delta/2)  2 adds, 2 cmps, 3 muls
    bce                  -(y log x + (1 - y) log(1 - x)), logs >= -100
                                                                      2 logs, 2 cmps, 3 adds, 3 muls
    bce_with_logits      bce of sigmoid(x)                            3 exps (exp, 2 logs), 4 adds,
                                                                      1 div, 3 muls
    soft_margin          log(1 + exp(-y x))                           2 exps, 1 add, 2 muls
    multilabel_soft_margin  bce_with_logits per class, averaged       per element the same; per row
                                                                      C - 1 adds, 1 div
    per row of C classes:
    cross_entropy        -log_softmax(x)[y]                           C + 1 exps (C exp, 1 log),
                                                                      2C adds, 1 mul
    nll                  -x[y]                                        1 mul
    multi_margin (p=1)   sum_i max(0, margin - x_y + x_i) / C         3C - 1 adds, C cmps, 1 div
                                                                      (p = 2: + C muls)
    multilabel_margin    sum over (target j, other i) of max(0, 1 - (x_j - x_i)) / C
                         upper bound, every pair: 3C^2 - 1 adds, C^2 cmps, 1 div

The class axis is torch's dim 1 (``axis`` per sample, 0 unless the model is
analysed as a whole batch). A class weight or ``pos_weight`` adds 1 mul per
element (row). ``reduction``
``none`` keeps one value per element (row); ``mean`` and ``sum`` add them all:
one add per value (the mean's single division for the whole batch is not a
per-sample count). ``linear_cross_entropy`` (``nn.LinearCrossEntropyLoss``)
is a linear layer of ``C`` outputs fused with the cross entropy: ``F * C``
weights and MACs per row, then the cross entropy's counts.

Losses written from point-wise torch ops (``nn.MarginRankingLoss``,
``HingeEmbeddingLoss``, ``KLDivLoss``, ``TripletMarginLoss``...) are captured
op by op instead. fvcore (no handle for these aten ops) and torch's flop
counter count 0, except the fused linear of ``linear_cross_entropy``, whose
``mm`` both see (fvcore: the MACs, torch: ``2 * MACs``).
"""

from __future__ import annotations

from archcalc.errors import LayerError, SpecError
from archcalc.layers.base import REQUIRED, Absent, Family, Rule, ShapeResult, prod, register_family
from archcalc.layers.terms import Term, atom, count, hidden, no_params, shape_step

#: element-wise losses: primitive operations per element
ELEMENTWISE = {
    "mse": {"adds": 1, "muls": 1},
    "l1": {"adds": 1, "cmps": 1},
    "smooth_l1": {"adds": 2, "cmps": 2, "muls": 2, "divs": 1},
    "huber": {"adds": 2, "cmps": 2, "muls": 3},
    "bce": {"exps": 2, "cmps": 2, "adds": 3, "muls": 3},
    "bce_with_logits": {"exps": 3, "adds": 4, "divs": 1, "muls": 3},
    "soft_margin": {"exps": 2, "adds": 1, "muls": 2},
    "multilabel_soft_margin": {"exps": 3, "adds": 4, "divs": 1, "muls": 3},
}
#: class losses (the class axis is reduced): primitive operations per row of C classes
CLASSWISE = {
    "cross_entropy": lambda c, p: {"exps": c + 1, "adds": 2 * c, "muls": 1},
    "nll": lambda c, p: {"muls": 1},
    "multi_margin": lambda c, p: {"adds": 3 * c - 1, "cmps": c, "divs": 1, **({"muls": c} if p == 2 else {})},
    "multilabel_margin": lambda c, p: {"adds": 3 * c * c - 1, "cmps": c * c, "divs": 1},
    "multilabel_soft_margin": lambda c, p: {"adds": c - 1, "divs": 1},
}
_WORDS = {"adds": "additions", "muls": "multiplications", "divs": "divisions", "cmps": "comparisons",
          "exps": "exp/sqrt/pow"}
KINDS = sorted(set(ELEMENTWISE) | set(CLASSWISE))


class LossRule(Rule):
    op = "loss"
    primary = "fn"
    category = "elementwise"
    arity = None
    keys = {"fn": REQUIRED, "reduction": "mean", "weighted": False, "p": 1, "linear": 0, "bias": False, "axis": 0}
    key_aliases = {"kind": "fn"}
    summary = "a loss computed in one kernel (mse, cross_entropy, bce, nll...): its element-wise arithmetic"
    absent = {
        "rf": "a loss compares an output with its target: no spatial receptive field",
        "to_torch": "a loss takes a target (a second input): the torch builder makes single-input chains",
    }

    def check_arity(self, in_shapes):
        if not 1 <= len(in_shapes) <= 3:
            raise LayerError(f"a loss takes its input and up to 2 more (target, variance), got {len(in_shapes)}")

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        if attrs["fn"] not in KINDS:
            raise SpecError(f"loss fn must be one of {', '.join(KINDS)}, got {attrs['fn']!r}")
        if attrs["reduction"] not in ("none", "mean", "sum"):
            raise SpecError(f"loss reduction must be none, mean or sum, got {attrs['reduction']!r}")
        x = in_shapes[0]
        if attrs["fn"] in CLASSWISE and not x:
            raise LayerError(f"{attrs['fn']} needs a class axis per sample, got shape {x}")
        if not isinstance(attrs["axis"], int) or not 0 <= attrs["axis"] < max(len(x), 1):
            raise SpecError(f"loss axis (of the classes) must be an axis of {x}, got {attrs['axis']!r}")
        if attrs["linear"]:
            attrs["in_features"] = x[-1]
        return attrs

    def _rows(self, attrs, x) -> tuple[int, int, tuple[int, ...]]:
        """(values the loss keeps per sample, classes per row, the kept shape)."""
        fn = attrs["fn"]
        if attrs["linear"]:
            return prod(x[:-1]), attrs["linear"], tuple(x[:-1])
        if fn in CLASSWISE:
            axis = attrs["axis"]
            kept = tuple(x[:axis]) + tuple(x[axis + 1:])
            return prod(kept), x[axis], kept
        return prod(x), 1, tuple(x)

    def output_shape(self, attrs, in_shapes):
        _, _, kept = self._rows(attrs, in_shapes[0])
        return ShapeResult(kept if attrs["reduction"] == "none" else ())

    def derive(self, attrs, in_shapes, out_shape):
        """Per element (row) the loss's arithmetic (module docstring); the reduction's adds."""
        x = in_shapes[0]
        fn = attrs["fn"]
        rows, classes, kept = self._rows(attrs, x)
        steps = [shape_step(out_shape, "one value per element" if attrs["reduction"] == "none" else
                            f"a scalar ({attrs['reduction']} over the values)")]
        counts: dict[str, list[Term]] = {}
        if attrs["linear"]:
            f, c = attrs["in_features"], attrs["linear"]
            weights = atom(f, "F") * atom(c, "C")
            steps.append(weights.step("weights", "weights", "the fused linear head"))
            if attrs["bias"]:
                steps.append(atom(c, "C").step("biases", "biases"))
            steps.append(Term(f * c + (c if attrs["bias"] else 0), "weights + biases" if attrs["bias"] else "F * C",
                              f"{f}*{c} + {c}" if attrs["bias"] else f"{f}*{c}").step("params", "params"))
            macs = Term(rows * f * c, "rows*F*C", f"{rows}*{f}*{c}")
            steps.append(macs.step("macs", "MACs", "the logits of the fused linear head"))
            steps += [hidden("dot_outputs", rows * c), hidden("bias_adds", rows * c if attrs["bias"] else 0),
                      hidden("torch", 2 * macs.value), hidden("fvcore", macs.value)]
        else:
            steps.append(no_params())
        elements = count(x, "elements")
        if fn in ELEMENTWISE:
            for kind, per in ELEMENTWISE[fn].items():
                counts.setdefault(kind, []).append(elements * per)
        if fn in CLASSWISE or attrs["linear"]:
            row_term = Term(rows, "rows", "*".join(str(v) for v in kept) or "1")
            per_row = CLASSWISE["cross_entropy" if attrs["linear"] else fn](classes, attrs["p"])
            for kind, per in per_row.items():
                counts.setdefault(kind, []).append(row_term * Term(per, "per row", str(per)))
        if attrs["weighted"]:
            counts.setdefault("muls", []).append(Term(rows if fn in CLASSWISE else elements.value,
                                                      "values (* weight)", str(rows if fn in CLASSWISE else elements.value)))
        if attrs["reduction"] != "none":
            kept_values = prod(kept) if kept else 1
            counts.setdefault("adds", []).append(Term(kept_values, "values (the reduction)", str(kept_values)))
        for kind, terms in counts.items():
            total = terms[0]
            for term in terms[1:]:
                total = total + term
            steps.append(total.step(kind, _WORDS[kind], f"{fn} loss"))
        if not attrs["linear"]:
            steps += [hidden("fvcore", 0), hidden("torch", 0)]
        return steps


def _reduction(call, index: int) -> str:
    value = call.arg(index, "reduction", "mean")
    return value if value in ("none", "mean", "sum") else "mean"


def _loss_fn(fn: str, reduction_index: int, weight_index: int | None = None, extra=None):
    """``F.<fn>_loss(input, target, ...)``: one loss row; the target is an input when the model
    computed (or was given) it."""

    def handler(call):
        x, target = call.arg(0, "input"), call.arg(1, "target")
        if not call.is_active(x):
            return None
        weight = call.arg(weight_index, "weight") if weight_index is not None else None
        pos_weight = call.kwargs.get("pos_weight")
        args = {"fn": fn, "reduction": _reduction(call, reduction_index),
                "weighted": weight is not None or pos_weight is not None}
        if extra:
            args.update(extra(call))
        if fn in CLASSWISE:  # torch's class axis is dim 1 (dim 0 of an unbatched input)
            axis = call.axis(x, 1 if x.dim() > 1 else 0)
            if axis is None:
                return None
            args["axis"] = axis
        inputs = [x] + ([target] if call.is_active(target) else [])
        return [call.spec("loss", args, inputs, params=call.params(weight, pos_weight), base=f"{fn}_loss")]

    return handler


def _linear_cross_entropy_fn(call):
    x, weight, target = call.arg(0, "input"), call.arg(1, "linear_weight"), call.arg(2, "target")
    bias = call.kwargs.get("linear_bias")
    if not (call.is_active(x) and call.is_constant(weight) and weight.dim() == 2):
        return None
    args = {"fn": "cross_entropy", "reduction": _reduction(call, 99), "linear": weight.shape[0],
            "bias": bias is not None, "weighted": call.kwargs.get("weight") is not None}
    inputs = [x] + ([target] if call.is_active(target) else [])
    return [call.spec("loss", args, inputs, params=call.params(weight, bias, call.kwargs.get("weight")),
                      base="cross_entropy")]


_REDUCTIONS = {"none": 0, "mean": 1, "sum": 2}  # at the aten level reduction is an enum (at::Reduction)


def _aten_loss(fn: str, reduction_index: int, weight_index: int | None = None):
    """The loss kernels seen at the aten level (inside Python functions the capture does not map)."""

    def handler(call):
        x = call.args[0]
        target = call.args[1] if len(call.args) > 1 else None
        code = call.args[reduction_index] if len(call.args) > reduction_index else call.kwargs.get("reduction", 1)
        reduction = {value: key for key, value in _REDUCTIONS.items()}.get(code, "mean")
        weight = call.args[weight_index] if weight_index is not None and len(call.args) > weight_index else None
        args = {"fn": fn, "reduction": reduction, "weighted": call.is_tensor(weight)}
        if fn in CLASSWISE:
            axis = call.axis(x, 1 if x.dim() > 1 else 0)
            if axis is None:
                return None
            args["axis"] = axis
        inputs = [x] + ([target] if call.is_active(target) else [])
        return [call.spec("loss", args, inputs, out=call.outputs()[0], params=call.params(weight))]

    return handler


FAMILY = register_family(
    Family(
        name="loss",
        rules=(LossRule,),
        torch_modules=Absent("losses are mapped at their F. function, which sees the target"),
        torch_functions={
            "mse_loss": _loss_fn("mse", 4),
            "l1_loss": _loss_fn("l1", 4),
            "smooth_l1_loss": _loss_fn("smooth_l1", 4),
            "huber_loss": _loss_fn("huber", 2, weight_index=4),
            "binary_cross_entropy": _loss_fn("bce", 5, weight_index=2),
            "binary_cross_entropy_with_logits": _loss_fn("bce_with_logits", 5, weight_index=2),
            "soft_margin_loss": _loss_fn("soft_margin", 4),
            "multilabel_soft_margin_loss": _loss_fn("multilabel_soft_margin", 5, weight_index=2),
            "cross_entropy": _loss_fn("cross_entropy", 6, weight_index=2),
            "nll_loss": _loss_fn("nll", 6, weight_index=2),
            "multi_margin_loss": _loss_fn("multi_margin", 7, weight_index=4, extra=lambda call: {"p": call.arg(2, "p", 1)}),
            "multilabel_margin_loss": _loss_fn("multilabel_margin", 4),
            "linear_cross_entropy": _linear_cross_entropy_fn,
        },
        aten_ops={
            "mse_loss": _aten_loss("mse", 2),
            "smooth_l1_loss": _aten_loss("smooth_l1", 2),
            "huber_loss": _aten_loss("huber", 2),
            "binary_cross_entropy": _aten_loss("bce", 3, weight_index=2),
            "binary_cross_entropy_with_logits": _aten_loss("bce_with_logits", 4, weight_index=2),
            "soft_margin_loss": _aten_loss("soft_margin", 2),
            "nll_loss_forward": _aten_loss("nll", 3, weight_index=2),
            "nll_loss2d_forward": _aten_loss("nll", 3, weight_index=2),
            "multi_margin_loss": _aten_loss("multi_margin", 5, weight_index=4),
            "multilabel_margin_loss_forward": _aten_loss("multilabel_margin", 2),
        },
        names=Absent("pasted summaries list the layers of a model, not its loss"),
    )
)
