"""Layers of two inputs: a bilinear form (``torch.nn.Bilinear``), cosine similarity and pairwise
distance (``torch.nn.CosineSimilarity``, ``torch.nn.PairwiseDistance``).

Bilinear, inputs ``x1 (..., N1)`` and ``x2 (..., N2)``, ``K`` outputs,
``y_k = x1^T A_k x2 + b_k``::

    output  = (..., K)
    weights = K * N1 * N2, biases = K
    MACs    = positions * K * N1 * N2      (every weight once per position)
    muls    = positions * N1 * N2          (the outer product x1 x2^T, shared by the K outputs)

Cosine similarity along ``axis`` (``n`` elements), as ATen computes it,
``x1.x2 / sqrt(max(|x1|^2 |x2|^2, eps^2))``, per output::

    3n + 1 muls (x1 x2, x1^2, x2^2, the product of the norms), 3(n - 1) adds,
    1 cmp (eps), 1 sqrt, 1 div

Pairwise distance ``|x1 - x2 + eps|_p`` over the last axis (``n``), per output::

    2n adds (difference, + eps) + n - 1 adds (the sum)
    p = 2: n muls (squares), 1 sqrt;  other p: n cmps (abs), n + 1 pows

Neither fvcore (``aten::bilinear``, ``cosine_similarity``, ``pairwise_distance``
unsupported) nor torch's flop counter (no formula for ``_trilinear``) counts
these. Cosine similarity and pairwise distance have no MACs: their dot
products are written as primitive operations (as a norm is).

In a spec the two inputs are two paths (``- bilinear: {units: 5, paths: [[...],
[...]]}``); from torch ``nn.Bilinear``, ``F.bilinear``, ``nn.CosineSimilarity``,
``F.cosine_similarity``, ``nn.PairwiseDistance``, ``F.pairwise_distance``.
"""

from __future__ import annotations

from archcalc.errors import LayerError, SpecError
from archcalc.layers.base import (
    REQUIRED,
    Absent,
    Family,
    Rule,
    ShapeResult,
    format_shape,
    keeps_field,
    positive_int,
    prod,
    register_family,
)
from archcalc.layers.merge import broadcast
from archcalc.layers.terms import Term, atom, hidden, no_params, shape_step


class BilinearRule(Rule):
    op = "bilinear"
    mixes_positions = True
    aliases = ("bilinear_form",)
    primary = "units"
    category = "dot"
    arity = 2
    joins_branches = True
    keys = {"units": REQUIRED, "bias": True}
    key_aliases = {"out_features": "units"}
    summary = "bilinear layer of two inputs: y_k = x1^T A_k x2 + b_k"
    rf_step = staticmethod(keeps_field)

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        a, b = in_shapes
        if not a or not b or a[:-1] != b[:-1]:
            raise LayerError(f"bilinear takes (..., N1) and (..., N2) with the same leading axes, got "
                             f"{format_shape(a)} and {format_shape(b)}")
        attrs["units"] = positive_int(attrs["units"], "units")
        attrs["in1"], attrs["in2"] = a[-1], b[-1]
        attrs["bias"] = bool(attrs["bias"])
        return attrs

    def output_shape(self, attrs, in_shapes):
        return ShapeResult(tuple(in_shapes[0][:-1]) + (attrs["units"],))

    def derive(self, attrs, in_shapes, out_shape):
        """``K*N1*N2`` weights, ``K`` biases; ``MACs = positions * K*N1*N2``, the outer product's
        ``N1*N2`` muls per position."""
        k, n1, n2 = atom(attrs["units"], "K"), atom(attrs["in1"], "N1"), atom(attrs["in2"], "N2")
        positions = prod(in_shapes[0][:-1])
        steps = [shape_step(out_shape, "(..., K)")]
        weights = k * n1 * n2
        steps.append(weights.step("weights", "weights"))
        if attrs["bias"]:
            steps.append(k.step("biases", "biases"))
            steps.append((weights + k).step("params", "params"))
        else:
            steps.append(weights.named("K * N1 * N2 (no bias)").step("params", "params"))
        pos = Term(positions, "positions", str(positions))
        macs = pos * weights.grouped() if positions > 1 else weights.named("K * N1 * N2")
        steps.append(macs.step("macs", "MACs", "every weight once: A_k[i, j] * (x1_i x2_j)"))
        outer = pos * (n1 * n2).grouped() if positions > 1 else (n1 * n2)
        steps.append(outer.step("muls", "multiplications", "the outer product x1 x2^T, shared by the K outputs"))
        outputs = positions * attrs["units"]
        steps += [
            hidden("dot_outputs", outputs),
            hidden("bias_adds", outputs if attrs["bias"] else 0),
            hidden("fvcore", 0),
            hidden("torch", 0),
        ]
        return steps

    def to_torch(self, node, factory):
        from torch import nn

        a = node.attrs
        return nn.Bilinear(a["in1"], a["in2"], a["units"], bias=a["bias"], **factory)


class _Reduced(Rule):
    """Two inputs broadcast together, one axis reduced."""

    category = "elementwise"
    arity = 2
    joins_branches = True
    rf_step = staticmethod(keeps_field)

    def reduced_axis(self, attrs, shape) -> int:
        raise NotImplementedError

    def output_shape(self, attrs, in_shapes):
        shape = list(broadcast(in_shapes))
        axis = self.reduced_axis(attrs, shape)
        if attrs.get("keepdim"):
            shape[axis] = 1
        else:
            del shape[axis]
        return ShapeResult(tuple(shape))

    def setup(self, attrs, in_shapes) -> None:
        shape = broadcast(in_shapes)
        if not shape:
            raise LayerError(f"{self.op} needs inputs with at least one axis per sample")
        attrs["length"] = shape[self.reduced_axis(attrs, list(shape))]


class CosineSimilarityRule(_Reduced):
    op = "cosine_similarity"
    aliases = ("cosine",)
    primary = "axis"
    keys = {"axis": 0, "eps": 1e-8}
    key_aliases = {"dim": "axis"}
    summary = "cosine similarity of two inputs along an axis"

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        rank = len(broadcast(in_shapes))
        if not isinstance(attrs["axis"], int) or not -rank <= attrs["axis"] < rank:
            raise SpecError(f"cosine_similarity axis must be in [{-rank}, {rank - 1}], got {attrs['axis']!r}")
        attrs["axis"] %= rank
        self.setup(attrs, in_shapes)
        return attrs

    def reduced_axis(self, attrs, shape):
        return attrs["axis"] % len(shape)

    def derive(self, attrs, in_shapes, out_shape):
        """Per output ``3n + 1`` muls, ``3(n - 1)`` adds, 1 cmp, 1 sqrt, 1 div."""
        n = attrs["length"]
        outputs = Term(prod(out_shape), "outputs", "*".join(map(str, out_shape)) or "1")
        return [
            shape_step(out_shape, f"the inputs' broadcast shape without axis {attrs['axis']}"),
            no_params(),
            (outputs * Term(3 * n + 1, "(3n + 1)", f"(3*{n} + 1)")).step(
                "muls", "multiplications", "x1 x2, x1^2, x2^2, |x1|^2 |x2|^2"),
            (outputs * Term(3 * (n - 1), "3(n - 1)", f"3*({n} - 1)")).step("adds", "additions", "three sums"),
            outputs.step("cmps", "comparisons", "max(., eps^2)"),
            outputs.step("exps", "exp/sqrt/pow", "the square root"),
            outputs.step("divs", "divisions"),
        ]

    def to_torch(self, node, factory):
        from torch import nn

        return nn.CosineSimilarity(dim=node.attrs["axis"] + 1, eps=node.attrs["eps"])


class PairwiseDistanceRule(_Reduced):
    op = "pairwise_distance"
    aliases = ("pairwisedistance",)
    primary = "p"
    keys = {"p": 2.0, "eps": 1e-6, "keepdim": False}
    key_aliases = {"norm": "p"}
    summary = "p-norm distance of two inputs over the last axis"

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        if isinstance(attrs["p"], bool) or not isinstance(attrs["p"], (int, float)) or attrs["p"] <= 0:
            raise SpecError(f"pairwise_distance p must be a positive number, got {attrs['p']!r}")
        attrs["p"] = float(attrs["p"])
        attrs["keepdim"] = bool(attrs["keepdim"])
        self.setup(attrs, in_shapes)
        return attrs

    def reduced_axis(self, attrs, shape):
        return len(shape) - 1

    def derive(self, attrs, in_shapes, out_shape):
        """Per output ``3n - 1`` adds; p = 2: ``n`` squares and a square root; else ``n`` abs,
        ``n`` powers and a root."""
        n = attrs["length"]
        outputs = Term(prod(out_shape), "outputs", "*".join(map(str, out_shape)) or "1")
        steps = [
            shape_step(out_shape, "the inputs' broadcast shape without the last axis"),
            no_params(),
            (outputs * Term(3 * n - 1, "(3n - 1)", f"(3*{n} - 1)")).step(
                "adds", "additions", "x1 - x2, + eps, the sum"),
        ]
        if attrs["p"] == 2.0:
            steps.append((outputs * atom(n, "n")).step("muls", "multiplications", "squares"))
            steps.append(outputs.step("exps", "exp/sqrt/pow", "the square root"))
        else:
            steps.append((outputs * atom(n, "n")).step("cmps", "comparisons", "|.|"))
            steps.append((outputs * Term(n + 1, "(n + 1)", f"({n} + 1)")).step(
                "exps", "exp/sqrt/pow", "|.|^p, the root"))
        return steps

    def to_torch(self, node, factory):
        from torch import nn

        a = node.attrs
        return nn.PairwiseDistance(p=a["p"], eps=a["eps"], keepdim=a["keepdim"])


# -- from torch ------------------------------------------------------------------------


def _bilinear_module(m, leaf):
    return "bilinear", {"units": m.out_features, "bias": m.bias is not None}


def _bilinear_fn(call):
    a, b, weight, bias = call.arg(0, "input1"), call.arg(1, "input2"), call.arg(2, "weight"), call.arg(3, "bias")
    if not (call.is_active(a) and call.is_active(b) and call.is_constant(weight)):
        return None
    args = {"units": weight.shape[0], "bias": bias is not None}
    return [call.spec("bilinear", args, [a, b], params=call.params(weight, bias))]


def _cosine_fn(call):
    a, b = call.arg(0, "x1"), call.arg(1, "x2")
    if not (call.is_active(a) and call.is_active(b)):
        return None
    axis = call.axis(a, call.arg(2, "dim", 1))
    if axis is None:
        return None
    return [call.spec("cosine_similarity", {"axis": axis, "eps": call.arg(3, "eps", 1e-8)}, [a, b])]


def _pairwise_fn(call):
    a, b = call.arg(0, "x1"), call.arg(1, "x2")
    if not (call.is_active(a) and call.is_active(b)):
        return None
    args = {"p": call.arg(2, "p", 2.0), "eps": call.arg(3, "eps", 1e-6), "keepdim": call.arg(4, "keepdim", False)}
    return [call.spec("pairwise_distance", args, [a, b])]


FAMILY = register_family(
    Family(
        name="similarity",
        rules=(BilinearRule, CosineSimilarityRule, PairwiseDistanceRule),
        torch_modules={"Bilinear": _bilinear_module},
        torch_functions={
            "bilinear": _bilinear_fn,
            "cosine_similarity": _cosine_fn,
            "pairwise_distance": _pairwise_fn,
        },
        names=Absent("pasted summaries of two-input layers are rare and unnamed here"),
        examples={
            "bilinear_paths": ("6x5", "- bilinear: {units: 4, paths: [[linear: 3], [linear: {units: 7, bias: false}]]}"),
            "similarities": ("8x6", "- concat:\n    - [cosine_similarity: {axis: 1, paths: [[linear: 6], [linear: 6]]}]\n"
                                    "    - [pairwise_distance: {paths: [[linear: 6], []]}]\n"
                                    "    - [pairwise_distance: {p: 1.0, paths: [[linear: 6], []]}]"),
        },
    )
)
