"""Which layer of the model each answer row is about.

1. **By name**, where the row's name is a layer's name, or the unique layer
   whose dotted name ends with it (``stage1.conv1``), and the kinds agree.
2. **By kind and order**: the k-th remaining row of a kind (``Conv2D``,
   ``Conv2d-3``, ``CONV3-64``, ``conv2d_1``) is the k-th remaining layer of
   that kind. Kinds are coarse families (:func:`answer_family`): every
   pooling layer is ``pool``, every activation ``activation``.
3. **By block**: a row whose name is a block of layers (``stage2``, or
   ``naive`` for the layers named ``...naive.*``) is about the whole block:
   its sums, and the shape and receptive field of its last layer.
4. **By position**, only when no row of the sheet says its kind: the i-th row
   is the i-th layer.

Rows that match nothing are returned with no layer (reported, not dropped).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from archcalc.grading.answers import AnswerRow
from archcalc.layers import all_families, lookup
from archcalc.layers.base import Absent
from archcalc.report import LayerRow, Report

#: the network's input, named in some summaries (``InputLayer``, ``input_1``): not a layer
_INPUT_WORDS = r"inputlayer|^input"
#: the coarse kinds: every pooling layer is a pool, every activation an activation, every norm a norm
_COARSE = ("pool", "activation", "norm")


def row_family(row: LayerRow) -> str:
    """The family of a model's layer: its category for pool/activation/norm, else its op."""
    if row.category in _COARSE:
        return row.category
    return row.op


def _kind(rule) -> str:
    return rule.category if rule.category in _COARSE else rule.op


@cache
def _patterns() -> list[tuple[re.Pattern, str]]:
    """(pattern, kind) of every family's summary names, in ascending precedence, then registry order."""
    names = []
    for family in all_families().values():
        if not isinstance(family.names, Absent):
            names += list(family.names)
    ordered = sorted(names, key=lambda n: n.precedence)
    return [(re.compile(n.pattern), _kind(lookup(n.op))) for n in ordered]


def answer_family(text: str | None) -> str | None:
    """The family of a kind as an answer writes it (``MaxPooling2D`` -> ``pool``), or None."""
    if not text:
        return None
    cleaned = text.strip().lower()
    cleaned = re.sub(r"[-_ ]?\d+(?:-\d+)?$", "", cleaned)
    rule = lookup(re.sub(r"[\s-]", "_", cleaned)) or lookup(re.sub(r"[\s_-]", "", cleaned))
    if rule is not None:
        return _kind(rule)
    if re.search(_INPUT_WORDS, cleaned):
        return "input"
    for pattern, kind in _patterns():
        if pattern.search(cleaned):
            return kind
    return None


@dataclass(frozen=True)
class Match:
    """An answer row and the layer it is about (None: nothing matched), and how it was found."""

    answer: AnswerRow
    layer: LayerRow | None
    how: str  # name | order | block | position | input (the network's input, no layer) | none
    #: the layers of a block row (``how == "block"``), in execution order
    block: tuple[LayerRow, ...] = ()


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


def block_rows(name: str, report: Report) -> tuple[LayerRow, ...]:
    """The layers of the block ``name``: those whose dotted name has ``name`` as a run of whole
    components (``naive`` for ``branch1.naive.conv1``), when they all share one prefix; else ()."""
    parts = name.lower().split(".")
    prefixes: set[tuple[str, ...]] = set()
    found = []
    for row in report.rows:
        components = row.name.lower().split(".")
        for start in range(len(components) - len(parts)):
            if components[start:start + len(parts)] == parts:
                prefixes.add(tuple(components[:start + len(parts)]))
                found.append(row)
                break
    return tuple(found) if len(prefixes) == 1 else ()


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
    blocks: dict[int, tuple[LayerRow, ...]] = {}
    for index, answer in enumerate(answers):
        if answer.name and not answer.kind and found[index][0] is None:
            block = block_rows(answer.name, report)
            if block:
                blocks[index] = block
    if any(families):
        pools: dict[str, list[LayerRow]] = {}
        for row in report.rows:
            if row.name not in taken:
                pools.setdefault(row_family(row), []).append(row)
        for index, family in enumerate(families):
            if family == "input" and found[index][0] is None:
                found[index] = (None, "input")
            if found[index][0] is not None or family is None or family == "input" or index in blocks:
                continue
            pool = pools.get(family)
            if pool:
                found[index] = (pool.pop(0), "order")
    else:
        free = [row for row in report.rows if row.name not in taken]
        for index in range(len(answers)):
            if found[index][0] is None and free and index not in blocks:
                found[index] = (free.pop(0), "position")
    return [Match(answer, None, "block", blocks[index]) if index in blocks else Match(answer, row, how)
            for index, (answer, (row, how)) in enumerate(zip(answers, found))]
