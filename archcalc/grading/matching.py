"""Which layer of the model each answer row is about.

1. **By name**, where the row's name is a layer's name, or the unique layer
   whose dotted name ends with it (``stage1.conv1``), and the kinds agree.
2. **By kind and order**: the k-th remaining row of a kind (``Conv2D``,
   ``Conv2d-3``, ``CONV3-64``, ``conv2d_1``) is the k-th remaining layer of
   that kind. Kinds are coarse families (:func:`answer_family`): every
   pooling layer is ``pool``, every activation ``activation``.
3. **By position**, only when no row of the sheet says its kind: the i-th row
   is the i-th layer.

Rows that match nothing are returned with no layer (reported, not dropped).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from archcalc.grading.sheets import AnswerRow
from archcalc.report import LayerRow, Report

#: keyword -> family, tried in order on the lower-cased kind (or name) of a row
_FAMILY_WORDS: tuple[tuple[str, str], ...] = (
    (r"inputlayer|^input", "input"),
    (r"transpose|deconv|upconv", "convtranspose"),
    (r"conv", "conv"),
    (r"pool|^gap$", "pool"),
    (r"batchnorm|batch_norm|batchnormalization|^bn\d*$|_bn$|layernorm|layer_norm|lrn|localresponse|norm", "norm"),
    (r"relu|sigmoid|tanh|gelu|silu|swish|softmax|elu|activation|hardswish|mish|^act", "activation"),
    (r"dense|linear|^fc\d*$|^fc[_-]|fullyconnected|fully_connected|predictions|classifier|logits", "linear"),
    (r"flatten", "flatten"),
    (r"dropout|^drop", "dropout"),
    (r"reshape|^view$", "reshape"),
    (r"identity", "identity"),
    (r"concat|^cat$", "concat"),
    (r"^add$|^add[_-]|residual|^sum$", "add"),
    (r"multiply|^mul$", "mul"),
    (r"upsampl|interpolate", "upsample"),
)


def row_family(row: LayerRow) -> str:
    """The family of a model's layer: its category for pool/activation/norm, else its op."""
    if row.category in ("pool", "activation", "norm"):
        return row.category
    return row.op


def answer_family(text: str | None) -> str | None:
    """The family of a kind as an answer writes it (``MaxPooling2D`` -> ``pool``), or None."""
    if not text:
        return None
    from archcalc.rules import lookup

    cleaned = text.strip().lower()
    cleaned = re.sub(r"[-_ ]?\d+(?:-\d+)?$", "", cleaned) if not cleaned.startswith(("conv", "fc")) else cleaned
    rule = lookup(re.sub(r"[\s-]", "_", cleaned)) or lookup(re.sub(r"[\s_-]", "", cleaned))
    if rule is not None and rule.category in ("pool", "activation", "norm"):
        return rule.category
    if rule is not None:
        return rule.op
    for pattern, family in _FAMILY_WORDS:
        if re.search(pattern, cleaned):
            return family
    return None


@dataclass(frozen=True)
class Match:
    """An answer row and the layer it is about (None: nothing matched), and how it was found."""

    answer: AnswerRow
    layer: LayerRow | None
    how: str  # name | order | position | input (the network's input, no layer) | none


def _by_name(name: str, report: Report) -> LayerRow | None:
    rows = report.rows
    for row in rows:
        if row.name == name:
            return row
    lowered = name.lower()
    exact = [r for r in rows if r.name.lower() == lowered]
    if len(exact) == 1:
        return exact[0]
    suffix = [r for r in rows if r.name.lower().endswith("." + lowered)]
    if len(suffix) == 1:
        return suffix[0]
    return None


def match_rows(answers: tuple[AnswerRow, ...] | list[AnswerRow], report: Report) -> list[Match]:
    """Pair every answer row with a layer (see the module docstring); same order as ``answers``."""
    families = [answer_family(a.kind) or (answer_family(a.name) if a.name else None) for a in answers]
    found: list[tuple[LayerRow | None, str]] = [(None, "none")] * len(answers)
    taken: set[str] = set()
    for index, answer in enumerate(answers):
        if not answer.name:
            continue
        row = _by_name(answer.name, report)
        family = answer_family(answer.kind) if answer.kind else None
        if row is None or row.name in taken or (family and family != row_family(row)):
            continue
        found[index] = (row, "name")
        taken.add(row.name)
    if any(families):
        pools: dict[str, list[LayerRow]] = {}
        for row in report.rows:
            if row.name not in taken:
                pools.setdefault(row_family(row), []).append(row)
        for index, family in enumerate(families):
            if family == "input" and found[index][0] is None:
                found[index] = (None, "input")
            if found[index][0] is not None or family is None or family == "input":
                continue
            pool = pools.get(family)
            if pool:
                found[index] = (pool.pop(0), "order")
    else:
        free = [row for row in report.rows if row.name not in taken]
        for index in range(len(answers)):
            if found[index][0] is None and free:
                found[index] = (free.pop(0), "position")
    return [Match(answer, row, how) for answer, (row, how) in zip(answers, found)]
