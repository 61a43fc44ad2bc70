"""What one variant of a quiz is: a header, a statement and a table of questions with their answers.

A :class:`Variant` is the same data for the student's sheet and the teacher's key: the
sheet shows the table with a ``?`` in each asked cell (or the table's values, for "find the
error"), the key shows every :class:`Answer` with its derivation. The header (``Model:``,
``Input:``, ``Convention:``) is what ``archcalc check`` reads to grade a returned sheet
against the right network, so a sheet is graded with no further arguments.

Quantities are the names ``archcalc check`` grades (:data:`QUANTITIES`): shape, weights,
biases, params, memory, macs, flops, rf.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from archcalc.derivation import Step
from archcalc.report import Report

#: quantities a quiz asks (the ones ``archcalc check`` grades per row)
QUANTITIES = ("shape", "weights", "biases", "params", "memory", "macs", "flops", "rf")
#: what a cell of the sheet shows where the student writes the answer
ASKED = "?"


@dataclass(frozen=True)
class Column:
    """One column of answers: the quantity, how the table heads it, the unit its numbers are in
    (``""``; ``K``, ``M``, ``G`` for counts; ``KB``, ``MB`` for 1024^n bytes; ``elements``)."""

    quantity: str
    heading: str
    unit: str = ""


@dataclass(frozen=True)
class Answer:
    """The right answer of one cell: its exact value, the text the key writes, the derivation.

    ``value``: an int, a shape (C, H, W) or (F,), or a receptive field (h, w) as ints or
    Fractions. ``shown``: what the sheet shows in the cell (None: ``?``, to be answered; for
    "find the error", the table's value, right or planted).
    """

    quantity: str
    value: Any
    text: str
    steps: tuple[Step, ...] = ()
    shown: str | None = None


@dataclass(frozen=True)
class Row:
    """One row of the table: its label (the Layer column), its type (the Type column: the
    layer kind and its settings; empty for blocks and totals) and its answers by quantity.

    ``layer``: the report's layer name; ``block``: the names of a block's layers; both empty
    for the total row and the input row."""

    label: str
    kind: str
    answers: Mapping[str, Answer]
    layer: str | None = None
    block: tuple[str, ...] = ()


@dataclass(frozen=True)
class Planted:
    """A mistake planted in a "find the error" table: where, what it says, what it should say."""

    row: str
    quantity: str
    written: str
    right: str
    mistake: str
    explanation: str


@dataclass(frozen=True)
class Variant:
    """One student's exercise and its key (see the module docstring).

    ``model`` is what the ``Model:`` line says: a zoo name, a spec path, or the whole spec on one
    line in YAML flow style. ``values``: the numbers drawn for this variant; ``layout``: how the
    table writes shapes (``hwc``, ``chw``, ``keras``)."""

    kind: str
    number: int
    seed: int
    title: str
    statement: str
    model: str
    input: str
    convention: str
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    dtype: str = "float32"
    batch: int = 1
    layout: str = "hwc"
    student: str | None = None
    values: Mapping[str, Any] = field(default_factory=dict)
    planted: tuple[Planted, ...] = ()
    notes: tuple[str, ...] = ()
    instructions: tuple[str, ...] = ()
    report: Report | None = field(default=None, compare=False, repr=False)

    def row_answers(self, row: Row) -> list[Answer]:
        """The answers of one row in column order."""
        order = {c.quantity: i for i, c in enumerate(self.columns)}
        return sorted(row.answers.values(), key=lambda a: order.get(a.quantity, len(order)))

    @property
    def answers(self) -> list[tuple[Row, Answer]]:
        """Every asked cell, row by row, in column order."""
        return [(row, answer) for row in self.rows for answer in self.row_answers(row)]


__all__ = ["ASKED", "QUANTITIES", "Answer", "Column", "Planted", "Row", "Variant"]
