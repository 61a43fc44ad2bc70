"""Embeddings: a table lookup per integer id (``torch.nn.Embedding``), and bags of ids reduced
to one vector (``torch.nn.EmbeddingBag``).

Embedding, a table of ``V`` rows of ``D`` features, input ids of any shape ``S``
per sample (a sequence of ``T`` token ids: ``(T,)``)::

    output  = S + (D,)                 (T,) -> (T, D)
    weights = V * D                    (``padding_idx`` names a row kept at zeros; it is a row all the same)
    ops     = none: a lookup copies rows, it multiplies nothing

With ``max_norm`` torch renormalises, before the lookup and in place, every
row it looks up whose norm exceeds ``max_norm`` (``torch.embedding_renorm_``).
Priced as its upper bound, every looked-up id's row renormalised (torch does
each distinct id once, and only rows above the norm; the ids are not known
from shapes)::

    per id: norm  D muls (squares; pow for other norm_type), D - 1 adds, 1 sqrt/pow
            scale 1 cmp (norm > max_norm), 1 add (norm + 1e-7), 1 div, D muls

EmbeddingBag, one bag of ``T`` ids per sample ``(T,)`` reduced to ``(D,)``::

    sum:  (T - 1) * D adds        mean: the same + D divs        max: (T - 1) * D cmps
    per_sample_weights (sum only): + T * D muls

fvcore (``aten::embedding``, ``aten::embedding_bag`` have no handle) and
PyTorch's flop counter count 0.

Integer inputs: a spec says its input is token ids with ``input: {shape: [128],
dtype: int64}`` (docs/spec-format.md); a live module is given its ids by the
capture (its integer inputs). The builder makes ``nn.Embedding(V, D,
padding_idx, max_norm, norm_type)`` / ``nn.EmbeddingBag(V, D, mode=...)``.
Torch: ``nn.Embedding``, ``nn.EmbeddingBag`` (2-D ids, one bag per row; the
1-D ids + offsets form is not mapped), ``F.embedding``, ``F.embedding_bag``,
``aten.embedding``.
"""

from __future__ import annotations

from archcalc.errors import LayerError, SpecError
from archcalc.layers.base import REQUIRED, Family, Rule, ShapeResult, SummaryName, positive_int, register_family
from archcalc.layers.terms import Term, atom, count, hidden, shape_step

_TABLE_KEYS = {"num": REQUIRED, "dim": REQUIRED, "padding_idx": None, "max_norm": None, "norm_type": 2.0}
_TABLE_ALIASES = {
    "num_embeddings": "num",
    "vocab": "num",
    "vocab_size": "num",
    "embedding_dim": "dim",
    "features": "dim",
}


def _table(attrs, op: str) -> None:
    attrs["num"] = positive_int(attrs["num"], "num (rows of the table)")
    attrs["dim"] = positive_int(attrs["dim"], "dim (features per row)")
    pad = attrs["padding_idx"]
    if pad is not None:
        if not isinstance(pad, int) or isinstance(pad, bool) or not -attrs["num"] <= pad < attrs["num"]:
            raise SpecError(f"{op} padding_idx must be a row of the table, in [{-attrs['num']}, {attrs['num'] - 1}], "
                            f"got {pad!r}")
        attrs["padding_idx"] = pad % attrs["num"]
    if attrs["max_norm"] is not None:
        if not isinstance(attrs["max_norm"], (int, float)) or isinstance(attrs["max_norm"], bool) or attrs["max_norm"] <= 0:
            raise SpecError(f"{op} max_norm must be a positive number, got {attrs['max_norm']!r}")
        attrs["max_norm"] = float(attrs["max_norm"])


def _table_steps(attrs) -> list:
    rows, dim = atom(attrs["num"], "V (rows)"), atom(attrs["dim"], "D")
    weights = rows * dim
    note = f"row {attrs['padding_idx']} (padding_idx) stays zeros, but is a parameter" if attrs["padding_idx"] is not None else ""
    return [weights.step("weights", "weights", note), weights.named("V * D").step("params", "params")]


class EmbeddingRule(Rule):
    op = "embedding"
    aliases = ("embed", "token_embedding")
    category = "elementwise"
    keys = _TABLE_KEYS
    key_aliases = _TABLE_ALIASES
    summary = "table lookup: one row of D features per integer id (no arithmetic)"
    absent = {"rf": "a lookup per id has no spatial receptive field (passed on unchanged)"}

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        _table(attrs, self.op)
        return attrs

    def output_shape(self, attrs, in_shapes):
        return ShapeResult(tuple(in_shapes[0]) + (attrs["dim"],))

    def derive(self, attrs, in_shapes, out_shape):
        """``V * D`` weights; no operations (a lookup), unless ``max_norm`` renormalises rows."""
        ids = count(in_shapes[0], "ids")
        steps = [shape_step(out_shape, "ids x D (one row of the table per id)", note="a lookup: nothing is computed")]
        steps += _table_steps(attrs)
        if attrs["max_norm"] is not None:
            d = attrs["dim"]
            what = "upper bound: every looked-up row renormalised (max_norm)"
            steps += [
                (ids * Term(2 * d, "2*D", f"2*{d}")).step("muls", "multiplications", what),
                (ids * Term(d, "D", str(d))).step("adds", "additions", "norm sums, + 1e-7"),
                ids.step("exps", "exp/sqrt/pow", "the norm's root"),
                ids.step("cmps", "comparisons", "norm > max_norm"),
                ids.step("divs", "divisions", "max_norm / norm"),
            ]
        steps += [hidden("fvcore", 0), hidden("torch", 0)]
        return steps

    def to_torch(self, node, factory):
        from torch import nn

        a = node.attrs
        return nn.Embedding(a["num"], a["dim"], padding_idx=a["padding_idx"], max_norm=a["max_norm"],
                            norm_type=a["norm_type"], **factory)


class EmbeddingBagRule(Rule):
    op = "embedding_bag"
    aliases = ("embeddingbag",)
    category = "pool"
    keys = {**_TABLE_KEYS, "mode": "mean", "per_sample_weights": False}
    key_aliases = _TABLE_ALIASES
    summary = "bag of ids -> one vector of D features: the looked-up rows summed, averaged or maxed"
    absent = {"rf": "a lookup per id has no spatial receptive field (passed on unchanged)"}

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        if len(in_shapes[0]) != 1:
            raise LayerError(f"embedding_bag takes one bag of ids per sample, shape (T,), got {in_shapes[0]}")
        _table(attrs, self.op)
        if attrs["mode"] not in ("sum", "mean", "max"):
            raise SpecError(f"embedding_bag mode must be sum, mean or max, got {attrs['mode']!r}")
        attrs["per_sample_weights"] = bool(attrs["per_sample_weights"])
        if attrs["per_sample_weights"] and attrs["mode"] != "sum":
            raise SpecError("embedding_bag takes per_sample_weights with mode sum only (as torch)")
        if attrs["max_norm"] is not None:
            raise LayerError("embedding_bag with max_norm is not counted: use an embedding layer for max_norm")
        return attrs

    def output_shape(self, attrs, in_shapes):
        return ShapeResult((attrs["dim"],))

    def derive(self, attrs, in_shapes, out_shape):
        """``V * D`` weights; the bag's ``T`` rows reduced: ``(T - 1) * D`` adds (sum, mean) or
        comparisons (max), ``D`` divisions (mean), ``T * D`` muls (per_sample_weights)."""
        t, d = in_shapes[0][0], attrs["dim"]
        steps = [shape_step(out_shape, "D (one vector per bag)")]
        steps += _table_steps(attrs)
        reduced = Term((t - 1) * d, "(T - 1) * D", f"({t} - 1) * {d}")
        mode = attrs["mode"]
        if mode == "max":
            steps.append(reduced.step("cmps", "comparisons", "max over the bag's rows"))
        else:
            steps.append(reduced.step("adds", "additions", "sum of the bag's rows"))
        if mode == "mean":
            steps.append(atom(d, "D").step("divs", "divisions", "the mean"))
        if attrs["per_sample_weights"]:
            steps.append(Term(t * d, "T * D", f"{t} * {d}").step("muls", "multiplications", "rows weighted"))
        if attrs["padding_idx"] is not None:
            steps[-1].note = (steps[-1].note + "; ids equal to padding_idx are left out (upper bound)").lstrip("; ")
        steps += [hidden("fvcore", 0), hidden("torch", 0)]
        return steps

    def to_torch(self, node, factory):
        from torch import nn

        a = node.attrs
        if a["per_sample_weights"]:
            raise LayerError("the torch builder cannot pass per_sample_weights (a second input)", layer=node.name)
        return nn.EmbeddingBag(a["num"], a["dim"], mode=a["mode"], padding_idx=a["padding_idx"], **factory)


# -- from torch ------------------------------------------------------------------------


def _embedding_module(m, leaf):
    return "embedding", {"num": m.num_embeddings, "dim": m.embedding_dim, "padding_idx": m.padding_idx,
                         "max_norm": m.max_norm, "norm_type": m.norm_type}


def _embedding_fn(call):
    ids, weight = call.arg(0, "input"), call.arg(1, "weight")
    if not (call.is_active(ids) and call.is_constant(weight) and weight.dim() == 2):
        return None
    args = {"num": weight.shape[0], "dim": weight.shape[1], "padding_idx": call.arg(2, "padding_idx"),
            "max_norm": call.arg(3, "max_norm"), "norm_type": call.arg(4, "norm_type", 2.0)}
    return [call.spec("embedding", args, [ids], params=call.params(weight))]


def _aten_embedding(call):
    weight, ids = call.args[:2]
    if not (call.is_active(ids) and call.is_constant(weight) and weight.dim() == 2):
        return None
    pad = call.args[2] if len(call.args) > 2 else -1
    args = {"num": weight.shape[0], "dim": weight.shape[1], "padding_idx": None if pad == -1 else pad}
    return [call.spec("embedding", args, [ids], params=call.params(weight))]


def _embedding_bag_fn(call):
    ids, weight, offsets = call.arg(0, "input"), call.arg(1, "weight"), call.arg(2, "offsets")
    if offsets is not None or not (call.is_active(ids) and call.is_constant(weight)) or len(call.shape(ids)) != 1:
        return None  # the 1-D ids + offsets form has no batch axis of its own
    if call.arg(3, "max_norm") is not None:
        return None
    weights = call.arg(8, "per_sample_weights")
    args = {"num": weight.shape[0], "dim": weight.shape[1], "mode": call.arg(6, "mode", "mean"),
            "padding_idx": call.arg(10, "padding_idx"), "per_sample_weights": weights is not None}
    inputs = [ids] + ([weights] if call.is_active(weights) else [])
    if len(inputs) > 1:
        return None  # per-sample weights computed by the model: a second input the rule does not take
    return [call.spec("embedding_bag", args, inputs, out=call.outputs()[0], params=call.params(weight))]


FAMILY = register_family(
    Family(
        name="embedding",
        rules=(EmbeddingRule, EmbeddingBagRule),
        torch_modules={"Embedding": _embedding_module},
        torch_functions={"embedding": _embedding_fn, "embedding_bag": _embedding_bag_fn},
        aten_ops={"embedding": _aten_embedding},
        names=(
            SummaryName(r"embeddingbag|embedding_bag", "embedding_bag", precedence=14),
            SummaryName(r"embed", "embedding", precedence=16),
        ),
        examples={
            "embedding_tokens": ("{shape: [12], dtype: int64}", "- embedding: {num: 50, dim: 8, padding_idx: 0}\n"
                                                                "- linear: 4"),
            "embedding_max_norm": ("{shape: [3, 5], dtype: int64}", "- embedding: {num: 20, dim: 6, max_norm: 1.0}"),
            "embedding_bag_modes": ("{shape: [7], dtype: int64}", "- concat: [[embedding_bag: {num: 30, dim: 4, "
                                                                   "mode: sum}], [embedding_bag: {num: 30, dim: 4}], "
                                                                   "[embedding_bag: {num: 30, dim: 4, mode: max}]]"),
        },
    )
)
