"""Verdicts: every answer cell right, wrong or not checkable, with the expected value.

The result types of grading: :class:`CellVerdict` (one cell), :class:`RowGrade`
(one answer row and the layer it matched), :class:`GradeResult` (a whole
sheet), with their tallies and JSON forms. Grading itself is in
:mod:`archcalc.grading.cells` (one cell) and :mod:`archcalc.grading.grade`
(rows, totals, sheets).

A score is ``right / (right + wrong)``; cells that cannot be checked (an
unreadable number, a row that matches no layer) count neither way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from archcalc.conventions import Convention
from archcalc.derivation import Step

#: JSON schema version of GradeResult.to_dict(); bump on an incompatible change.
CHECK_JSON_VERSION = 1


class Status(str, Enum):
    """The verdict on one cell."""

    RIGHT = "right"
    WRONG = "wrong"
    NOT_CHECKABLE = "not checkable"


@dataclass(frozen=True)
class CellVerdict:
    """One graded answer: what was written, the verdict, the expected value, and why."""

    quantity: str
    written: str
    status: Status
    expected: str
    note: str = ""
    derivation: tuple[Step, ...] = ()
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "quantity": self.quantity,
            "written": self.written,
            "verdict": self.status.value,
            "expected": self.expected,
            "note": self.note,
            "line": self.line,
            "derivation": [
                {
                    "quantity": s.quantity,
                    "formula": s.formula,
                    "substituted": s.substituted,
                    "value": s.value if isinstance(s.value, (int, float, str)) else str(s.value),
                    "note": s.note,
                }
                for s in self.derivation
            ],
        }


def _count(cells: Sequence[CellVerdict], status: Status) -> int:
    return sum(1 for c in cells if c.status is status)


def _score(right: int, wrong: int) -> float | None:
    return right / (right + wrong) if right + wrong else None


class CellTally:
    """Counts of right, wrong and not checkable cells, and the score, of ``self.cells``."""

    cells: tuple[CellVerdict, ...]

    @property
    def right(self) -> int:
        return _count(self.cells, Status.RIGHT)

    @property
    def wrong(self) -> int:
        return _count(self.cells, Status.WRONG)

    @property
    def not_checkable(self) -> int:
        return _count(self.cells, Status.NOT_CHECKABLE)

    @property
    def score(self) -> float | None:
        return _score(self.right, self.wrong)


@dataclass(frozen=True)
class RowGrade(CellTally):
    """The verdicts of one answer row and the layer it was matched to (None: no layer matched)."""

    label: str
    layer: str | None
    matched_by: str
    cells: tuple[CellVerdict, ...]
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "layer": self.layer,
            "matched_by": self.matched_by,
            "line": self.line,
            "right": self.right,
            "wrong": self.wrong,
            "not_checkable": self.not_checkable,
            "score": self.score,
            "cells": [c.to_dict() for c in self.cells],
        }


@dataclass(frozen=True)
class GradeResult(CellTally):
    """All verdicts of one answer sheet against one model."""

    source: str
    format: str
    model: str
    input_shape: tuple[int, ...]
    batch: int
    dtype: str
    convention: Convention
    convention_from: str
    rows: tuple[RowGrade, ...]
    totals: tuple[CellVerdict, ...] = ()
    unanswered: tuple[str, ...] = ()
    ignored_columns: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def cells(self) -> tuple[CellVerdict, ...]:
        return tuple(c for r in self.rows for c in r.cells) + self.totals

    @property
    def all_right(self) -> bool:
        return self.wrong == 0

    @property
    def unmatched_rows(self) -> tuple[RowGrade, ...]:
        return tuple(r for r in self.rows if r.layer is None)

    def to_dict(self) -> dict[str, Any]:
        """The ``archcalc check --format json`` contract (docs/check.md)."""
        return {
            "archcalc_check_version": CHECK_JSON_VERSION,
            "answers": self.source,
            "format": self.format,
            "model": self.model,
            "input_shape": list(self.input_shape),
            "batch": self.batch,
            "dtype": self.dtype,
            "convention": self.convention.name,
            "convention_label": self.convention.label,
            "convention_from": self.convention_from,
            "right": self.right,
            "wrong": self.wrong,
            "not_checkable": self.not_checkable,
            "score": self.score,
            "rows": [r.to_dict() for r in self.rows],
            "totals": [c.to_dict() for c in self.totals],
            "unmatched_rows": [r.label for r in self.unmatched_rows],
            "unanswered_layers": list(self.unanswered),
            "ignored_columns": list(self.ignored_columns),
            "notes": list(self.notes),
        }


__all__ = ["CHECK_JSON_VERSION", "CellTally", "CellVerdict", "GradeResult", "RowGrade", "Status"]
