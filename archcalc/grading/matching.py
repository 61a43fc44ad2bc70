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
   is the i-th layer *of those a table lists*. A course's table lists the layers
   that have something to grade, not every ReLU; the candidates are tried from
   the sparest to the fullest (:data:`LISTED`: conv and dense layers; with
   pooling; with normalisation; all but activations and views; all). Of the
   lists with as many layers as the table has rows (or more, for a table that
   stops early and shows where by its shapes), the one whose outputs agree best
   with the written shapes is taken, if at least half agree. When none is, the
   table cannot be matched with confidence: :class:`UnsureMatch` says so
   instead of grading.

Rows that match nothing are returned with no layer (reported, not dropped).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from archcalc.grading.answers import AnswerError, AnswerRow
from archcalc.grading.values import parse_shape
from archcalc.layers import all_families, lookup
from archcalc.layers.base import Absent
from archcalc.report import LayerRow, Report

#: the network's input, named in some summaries (``InputLayer``, ``input_1``): not a layer
_INPUT_WORDS = r"inputlayer|^input|^entr[ée]e|^eingabe|^entrada"
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
    if "," in cleaned:  # a quiz's label in words: "maxpool 2x2, stride 2, pad 0" names the kind first
        cleaned = re.sub(r"\s+\d+(?:x\d+)*$", "", cleaned.split(",")[0].strip())
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


class UnsureMatch(AnswerError):
    """The rows name no layer and no list of the model's layers fits them: grading would guess."""


def _view(row: LayerRow) -> bool:
    rule = lookup(row.op)
    return rule is not None and rule.aliases_input


#: the layers a table may list when it names none, from the sparest to the fullest: (words, test)
LISTED = (
    ("conv/dense layers", lambda row: row.category == "dot"),
    ("with pooling", lambda row: row.category in ("dot", "pool")),
    ("with normalisation", lambda row: row.category in ("dot", "pool", "norm")),
    ("without activations and reshapes", lambda row: row.category != "activation" and not _view(row)),
    ("in all", lambda row: True),
)


def _shape_agrees(answer: AnswerRow, row: LayerRow) -> bool | None:
    """Whether the row's written shape is the layer's output (H x W x C or C x H x W, batch
    placeholders ignored); None when the row gives no readable shape."""
    cell = next((c for c in answer.cells if c.quantity == "shape"), None)
    written = parse_shape(cell.text) if cell is not None else None
    if written is None:
        return None
    dims = tuple(d for d in written.dims if d is not None)
    shape = tuple(row.output_shape)
    readings = {shape}
    if len(shape) == 3:
        readings.add((shape[1], shape[2], shape[0]))
    return dims in readings or (len(dims) == len(shape) + 1 and dims[1:] in readings)


def _by_position(answers: list[AnswerRow], free: list[LayerRow], report: Report) -> list[LayerRow]:
    """The layers ``answers`` are about, in order: of the lists of :data:`LISTED` with as many
    layers as rows (or more, when the rows give shapes: a table that stops early), the one whose
    outputs agree best with the written shapes (at least half of them; the sparest on a tie).
    :class:`UnsureMatch` when none qualifies."""
    count = len(answers)
    sizes: dict[int, str] = {}
    best: tuple[float, list[LayerRow]] | None = None
    for words, listed in LISTED:
        layers = [row for row in free if listed(row)]
        sizes.setdefault(len(layers), f"{len(layers)} {words}")
        if len(layers) < count:
            continue
        checks = [c for c in (_shape_agrees(a, row) for a, row in zip(answers, layers)) if c is not None]
        if not checks:
            if len(layers) == count and best is None:
                best = (0.5, layers)  # no shapes to go by: the sparest list of the right length
            continue
        agreement = sum(checks) / len(checks)
        if agreement >= 0.5 and (best is None or agreement > best[0]):
            best = (agreement, layers)
    if best is not None:
        return best[1][:count]
    raise UnsureMatch(
        f"cannot tell which layers the {count} rows are about: they name no layer, and {report.model} has "
        f"{', '.join(sizes.values())}: none fits their number and written shapes",
        hint="add a column naming each row's layer (layer, couche, Schicht, capa: conv1, pool1, ...) "
        "or its type (Conv2D, MaxPool2D)",
    )


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
        unmatched = [index for index in range(len(answers)) if found[index][0] is None and index not in blocks]
        if unmatched and free:
            layers = _by_position([answers[i] for i in unmatched], free, report)
            for index, row in zip(unmatched, layers):
                found[index] = (row, "position")
    return [Match(answer, None, "block", blocks[index]) if index in blocks else Match(answer, row, how)
            for index, (answer, (row, how)) in enumerate(zip(answers, found))]
