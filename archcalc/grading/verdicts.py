"""Verdicts: every answer cell right, wrong or not checkable, with the expected value.

* :func:`grade_sheet` grades an :class:`~archcalc.grading.sheets.AnswerSheet`
  against a Report: rows are matched to layers (:mod:`archcalc.grading.matching`),
  each cell compared at the precision it was written
  (:mod:`archcalc.grading.values`), and a wrong cell gets the derivation of
  the true value (``archcalc.derivation.explain_row`` where available) and,
  where one fits, what the answer matches instead (another convention,
  weights without biases, another dtype or batch).
* :func:`grade_answers` grades ``{"shape": "30x30x16", "params": "448"}``
  against one layer (``archcalc layer ... --answer``).

A score is ``right / (right + wrong)``; cells that cannot be checked (an
unreadable number, a row that matches no layer) count neither way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from fractions import Fraction
from typing import Any

from archcalc.conventions import Convention
from archcalc.derivation import Step
from archcalc.errors import ArchcalcError, SourceLocation
from archcalc.grading.matching import Match, match_rows
from archcalc.grading.sheets import (
    ROW_QUANTITIES,
    TOTAL_QUANTITIES,
    AnswerCell,
    AnswerError,
    AnswerRow,
    AnswerSheet,
    column_quantity,
)
from archcalc.grading.truths import (
    Reading,
    Truths,
    parse_convention,
)
from archcalc.grading.values import (
    WrittenNumber,
    format_at,
    format_count,
    parse_number,
    parse_pair,
    parse_shape,
)
from archcalc.report import LayerRow, ReceptiveField, Report, plain_number

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


# -- cells ---------------------------------------------------------------------------

_STEP_WORDS = {
    "shape": ("output", "height", "width", "shape", "channel", "size"),
    "weights": ("weight", "param"),
    "biases": ("bias", "param"),
    "params": ("param",),
    "memory": ("memory", "activation", "element", "byte"),
    "macs": ("mac",),
    "flops": ("flop", "mac"),
    "rf": ("receptive", "rf", "jump", "field"),
}


def explain(row: LayerRow, report: Report, quantity: str, convention: Convention | None = None) -> tuple[Step, ...]:
    """The steps of ``archcalc.derivation.explain_row`` about ``quantity`` (none where that
    function does not exist or cannot explain the layer). FLOPs are explained under
    ``convention`` when it is not the report's."""
    try:
        from archcalc.derivation import explain_row  # type: ignore[attr-defined]
    except ImportError:
        return ()
    if convention is not None and convention != report.convention:
        row = replace(row, flops=convention.counts(row.category, row.ops))
        report = replace(report, convention=convention)
    try:
        steps = explain_row(row, report)
    except Exception:  # noqa: BLE001 - a derivation is an extra; grading must not fail on it
        return ()
    words = _STEP_WORDS.get(quantity, (quantity,))
    return tuple(s for s in steps if any(w in str(s.quantity).lower() for w in words))


def _sum_step(quantity: str, values: Sequence[tuple[str, int]], total: int) -> tuple[Step, ...]:
    """A totals derivation: the non-zero terms of the sum (the first six, then how many more)."""
    terms = [(name, v) for name, v in values if v]
    shown = " + ".join(format_count(v) for _, v in terms[:6])
    if len(terms) > 6:
        shown += f" + ... ({len(terms) - 6} more layers)"
    return (Step(quantity, "sum over layers", shown or "0", format_count(total)),)


def _matches(written: WrittenNumber, reading: Reading, exact: bool = False) -> str | None:
    """The unit reading under which ``written`` agrees with ``reading`` ('' for plain numbers), else
    None. ``exact``: only an exact equality counts, no rounding."""
    if reading.kind == "bytes":
        if written.kind == "bytes":
            return written.exactly(reading.value) if exact else written.reading(reading.value)
        plain = written.mantissa == reading.value if exact else written.agrees(reading.value)
        return "" if plain else None
    if written.kind != "count":
        return None
    if exact:
        return "" if written.exactly(reading.value) is not None else None
    return "" if written.agrees(reading.value, written.scales[0][0]) else None


def _expected_text(reading: Reading, written: WrittenNumber | None) -> str:
    """``1,792``; ``3,211,264 elements (3.21M)``; ``6,400 B = 6.40 kB = 6.25 KiB``."""
    exact = format_count(reading.value)
    if reading.kind == "bytes":
        exact += " B"
        if written is not None and written.kind == "bytes" and written.scales[0][0] > 1:
            return " = ".join([exact] + [format_at(reading.value, written, scale) for scale, _ in written.scales])
        return exact
    if reading.kind == "elements":
        exact += " elements"
    if written is not None and written.kind == "count" and written.scales[0][0] > 1:
        return f"{exact} ({format_at(reading.value, written, written.scales[0][0])})"
    return exact


def grade_number(
    cell: AnswerCell,
    expected: Sequence[Reading],
    alternatives: Sequence[Reading] = (),
    derivation: tuple[Step, ...] = (),
    per_sample: tuple[int, int] | None = None,
) -> CellVerdict:
    """Right when the written number agrees with an expected reading at its precision; else wrong,
    naming the alternative it matches; not checkable when it is not a number.

    ``per_sample`` (elements, bytes of one sample) lets a memory answer be recognised as right
    for another batch size: the written value divided by it, rounded, is tried as the batch.

    Exact agreement is tried before rounded agreement, so ``48,000`` for a layer of 48,000
    weights and 120 biases matches "weights only" rather than "48,120 rounded to 1,000".
    """
    unit = cell.unit if cell.unit.lower() not in ("elements", "element", "count", "values", "floats") else ""
    written = parse_number(cell.text, unit)
    if written is None:
        return CellVerdict(cell.quantity, cell.text, Status.NOT_CHECKABLE, _expected_text(expected[0], None),
                           f"cannot read {cell.text!r} as a number", line=cell.line)
    candidates = list(expected)
    if cell.unit.lower() in ("elements", "element", "values", "floats"):
        candidates = [r for r in expected if r.kind != "bytes"] or candidates
    preferred = next((r for r in candidates if (r.kind == "bytes") == (written.kind == "bytes")), candidates[0])
    candidates.sort(key=lambda r: r is not preferred)
    shown = _expected_text(preferred, written)
    if per_sample is not None:
        alternatives = list(alternatives) + _batch_guesses(written, *per_sample)
    # a whole number written out in full ("48,000") is first compared exactly, so that it
    # matches "weights only" rather than "48,120 rounded to thousands"; "2.4K" is plainly rounded
    written_out = written.scales[0][0] == 1 and written.quantum >= 1
    for exact in ((True, False) if written_out else (False,)):
        for reading in candidates:
            unit_reading = _matches(written, reading, exact)
            if unit_reading is None:
                continue
            notes = []
            if reading is not preferred or (reading.kind == "bytes" and written.kind == "count"):
                notes.append(f"read as {reading.label}")
            if unit_reading and unit_reading != "bytes":
                notes.append(unit_reading)
            if not exact and written.is_rounded and written.value != reading.value:
                notes.append(written.precision_words())
            return CellVerdict(cell.quantity, cell.text, Status.RIGHT, _expected_text(reading, written),
                               "; ".join(notes), line=cell.line)
        for reading in alternatives:
            unit_reading = _matches(written, reading, exact)
            if unit_reading is None:
                continue
            how = f", {unit_reading}" if unit_reading and unit_reading != "bytes" else ""
            how += "" if exact or not written.is_rounded else f", {written.precision_words()}"
            if reading.right:
                return CellVerdict(cell.quantity, cell.text, Status.RIGHT, _expected_text(reading, written),
                                   f"right as {reading.label}{how}", line=cell.line)
            return CellVerdict(cell.quantity, cell.text, Status.WRONG, shown,
                               f"matches {reading.label}{how}; expected {preferred.label}",
                               derivation=derivation, line=cell.line)
    return CellVerdict(cell.quantity, cell.text, Status.WRONG, shown, f"expected {preferred.label}",
                       derivation=derivation, line=cell.line)


def _batch_guesses(written: WrittenNumber, elements: int, nbytes: int) -> list[Reading]:
    """Readings "batch N" of a memory answer: N = written / (one sample's size), rounded, 2 <= N <= 4096,
    only where the answer's precision is finer than one sample (so that N is not a guess)."""
    guesses = []
    units = [(elements, "elements", 1)] if written.kind == "count" else []
    units += [(nbytes, "bytes", scale) for scale, _ in written.scales]
    for size, kind, scale in units:
        if size <= 0 or written.quantum * scale >= size:
            continue
        batch = round(written.mantissa * scale / size)
        if 2 <= batch <= 4096:
            guesses.append(Reading(size * batch, f"a batch of {batch} ({kind})", kind))
    return guesses


def _shape_text(shape: tuple[int, ...]) -> str:
    if len(shape) == 3:
        c, h, w = shape
        return f"{h}x{w}x{c} (HxWxC)"
    return "x".join(str(v) for v in shape)


def _shape_readings(shape: tuple[int, ...]) -> dict[tuple[int, ...], str]:
    """The ways a (C, H, W) or (F,) shape may be written, and what each is called."""
    readings: dict[tuple[int, ...], str] = {tuple(shape): "CxHxW" if len(shape) == 3 else ""}
    if len(shape) == 3:
        c, h, w = shape
        readings.setdefault((h, w, c), "HxWxC")
        if h == w == 1:
            readings.setdefault((c,), "a vector")
    if len(shape) == 1:
        readings.setdefault((1, 1, shape[0]), "1x1xF")
        readings.setdefault((shape[0], 1, 1), "Fx1x1")
    return readings


def grade_shape(cell: AnswerCell, row: LayerRow, batch: int, derivation: tuple[Step, ...] = ()) -> CellVerdict:
    """Right when the written shape is the output shape as C x H x W or H x W x C, with or without
    a batch axis (None, -1 or a number)."""
    truth = tuple(row.output_shape)
    expected = _shape_text(truth)
    written = parse_shape(cell.text)
    if written is None:
        if cell.text.strip().lower() == "multiple":
            return CellVerdict("shape", cell.text, Status.NOT_CHECKABLE, expected, "Keras shows no single shape",
                               line=cell.line)
        return CellVerdict("shape", cell.text, Status.NOT_CHECKABLE, expected,
                           f"cannot read {cell.text!r} as a shape", line=cell.line)
    dims = list(written.dims)
    notes = []
    readings = _shape_readings(truth)
    lengths = {len(k) for k in readings}
    if dims and dims[0] is None:
        dims = dims[1:]
    elif len(dims) - 1 in lengths and len(dims) not in lengths:
        if dims[0] != batch:
            notes.append(f"batch written as {dims[0]}, the analysis has batch {batch}")
        dims = dims[1:]
    if any(d is None for d in dims):
        return CellVerdict("shape", cell.text, Status.NOT_CHECKABLE, expected,
                           f"cannot read {cell.text!r} as a shape", line=cell.line)
    key = tuple(int(d) for d in dims)  # type: ignore[arg-type]
    if key in readings:
        if readings[key] and readings[key] not in ("CxHxW", "HxWxC") and len(truth) == 3:
            notes.append(f"read as {readings[key]}")
        return CellVerdict("shape", cell.text, Status.RIGHT, expected, "; ".join(notes), line=cell.line)
    for input_shape in row.input_shapes:
        if key in _shape_readings(tuple(input_shape)):
            notes.append("matches the layer's input shape")
            break
    if not notes and sorted(key) == sorted(truth) and len(truth) == 3:
        notes.append("the right numbers in an order that is neither HxWxC nor CxHxW")
    return CellVerdict("shape", cell.text, Status.WRONG, expected, "; ".join(notes), derivation, cell.line)


def grade_rf(cell: AnswerCell, row: LayerRow, derivation: tuple[Step, ...] = ()) -> CellVerdict:
    """Right when the written receptive field (``7`` or ``7x7``) equals the layer's, per axis."""
    size = tuple(plain_number(v) for v in row.rf.size)
    expected = str(size[0]) if size[0] == size[1] else f"{size[0]}x{size[1]}"
    written = parse_pair(cell.text)
    if written is None:
        number = parse_number(cell.text)
        if number is None or number.mantissa.denominator != 1:
            return CellVerdict("rf", cell.text, Status.NOT_CHECKABLE, expected,
                               f"cannot read {cell.text!r} as a receptive field", line=cell.line)
        written = (int(number.mantissa), int(number.mantissa))
    if tuple(Fraction(v) for v in written) == tuple(row.rf.size):
        return CellVerdict("rf", cell.text, Status.RIGHT, expected, line=cell.line)
    jump = tuple(row.rf.jump)
    note = "matches the jump (stride product), not the field size" if tuple(map(Fraction, written)) == jump else ""
    return CellVerdict("rf", cell.text, Status.WRONG, expected, note, derivation, cell.line)


# -- rows and totals ----------------------------------------------------------------


def _not_checkable(cell: AnswerCell, note: str) -> CellVerdict:
    return CellVerdict(cell.quantity, cell.text, Status.NOT_CHECKABLE, "", note, line=cell.line)


def grade_row_cell(cell: AnswerCell, row: LayerRow, truths: Truths) -> CellVerdict:
    """One cell of a layer row."""
    report = truths.report
    quantity = cell.quantity

    def why() -> tuple[Step, ...]:
        return explain(row, report, quantity, truths.convention)

    if quantity == "shape":
        verdict = grade_shape(cell, row, report.batch)
    elif quantity == "rf":
        verdict = grade_rf(cell, row)
    elif quantity == "params":
        expected, alternatives = truths.params([row])
        verdict = grade_number(cell, [expected], alternatives)
    elif quantity == "weights":
        alternatives = [Reading(row.params, "weights + biases")] if row.biases else []
        verdict = grade_number(cell, [Reading(row.weights, "weights (no biases)")], alternatives)
    elif quantity == "biases":
        verdict = grade_number(cell, [Reading(row.biases, "one bias per output channel")])
    elif quantity == "macs":
        expected, alternatives = truths.macs([row])
        verdict = grade_number(cell, [expected], alternatives)
    elif quantity == "flops":
        expected, alternatives = truths.flops([row])
        verdict = grade_number(cell, [expected], alternatives)
    elif quantity == "memory":
        expected_readings, alternatives = truths.memory(row.activation_elements, "the output")
        one = row.activation_elements // report.batch
        verdict = grade_number(cell, expected_readings, alternatives, per_sample=(one, one * report.bytes_per_element))
    else:
        return _not_checkable(cell, f"'{quantity}' is a whole-network number, not a layer's")
    if verdict.status is Status.WRONG:
        return CellVerdict(verdict.quantity, verdict.written, verdict.status, verdict.expected, verdict.note,
                           why(), verdict.line)
    return verdict


def _allocating(row: LayerRow) -> bool:
    """A layer whose output is a new tensor (not a view, not an in-place activation)."""
    from archcalc.rules import get_rule

    return not get_rule(row.op).aliases_input and row.category != "activation"


def grade_total_cell(cell: AnswerCell, truths: Truths, listed: list[LayerRow]) -> CellVerdict:
    """One whole-network answer (``listed``: the layers the answer's rows matched)."""
    report = truths.report
    totals = report.totals
    rows = list(report.rows)
    owned = [r for r in rows if r.shares_params_with is None]
    quantity = cell.quantity
    if quantity == "shape":
        if not rows:
            return _not_checkable(cell, "the model has no layers")
        return grade_shape(cell, rows[-1], report.batch)
    if quantity == "rf":
        if not rows:
            return _not_checkable(cell, "the model has no layers")
        return grade_rf(cell, rows[-1])
    if quantity == "params":
        expected, alternatives = truths.params(rows, total=totals.params)
        step = _sum_step("params", [(r.name, r.params) for r in owned], totals.params)
        return grade_number(cell, [expected], alternatives, step)
    if quantity == "trainable_params":
        return grade_number(cell, [Reading(totals.trainable_params, "trainable parameters")])
    if quantity == "non_trainable_params":
        frozen = totals.params - totals.trainable_params
        stats = sum(Truths.moving_statistics(r) for r in owned)
        alternatives = []
        if stats:
            alternatives.append(Reading(frozen + stats, "frozen parameters + moving mean and variance (as Keras counts them)",
                                        right=truths.tool == "keras"))
        return grade_number(cell, [Reading(frozen, "frozen parameters")], alternatives)
    if quantity == "weights":
        step = _sum_step("weights", [(r.name, r.weights) for r in owned], totals.weights)
        return grade_number(cell, [Reading(totals.weights, "weights (no biases)")],
                            [Reading(totals.params, "weights + biases")], step)
    if quantity == "biases":
        return grade_number(cell, [Reading(totals.biases, "biases")])
    if quantity == "macs":
        expected, alternatives = truths.macs(rows)
        step = _sum_step("MACs", [(r.name, r.macs) for r in rows], totals.macs)
        return grade_number(cell, [expected], alternatives, step)
    if quantity == "flops":
        expected, alternatives = truths.flops(rows)
        counts = [(r.name, truths.convention.counts(r.category, r.ops)) for r in rows]
        step = _sum_step(f"FLOPs [{truths.convention.name}]", counts, int(expected.value))
        return grade_number(cell, [expected], alternatives, step)
    if quantity == "memory":
        elements = totals.activation_elements
        input_elements = totals.input_bytes // report.bytes_per_element
        allocating = sum(r.activation_elements for r in rows if _allocating(r))
        extra = [
            (elements + input_elements, "all layer outputs and the input"),
            (allocating, "outputs of layers that allocate (no in-place activations, views)"),
            (allocating + input_elements, "outputs of layers that allocate, and the input"),
        ]
        expected, alternatives = truths.memory(elements, "all layer outputs", extra)
        step = _sum_step("output elements", [(r.name, r.activation_elements) for r in rows], elements)
        one = elements // report.batch
        return grade_number(cell, expected, alternatives, step, per_sample=(one, one * report.bytes_per_element))
    if quantity == "peak_memory":
        expected, alternatives = truths.bytes_only(totals.peak_activation_bytes, "peak of live activations")
        return grade_number(cell, expected, alternatives)
    if quantity == "param_memory":
        stats = sum(Truths.moving_statistics(r) for r in owned)
        expected, alternatives = truths.bytes_only(
            totals.param_bytes, "parameters x bytes each", totals.params + stats if stats else None
        )
        return grade_number(cell, expected, alternatives)
    if quantity == "input_memory":
        expected, alternatives = truths.bytes_only(totals.input_bytes, "the input")
        return grade_number(cell, expected, alternatives)
    if quantity in ("pass_memory", "total_memory"):
        if truths.tool in ("torchsummary", "torchinfo") and not listed:
            return _not_checkable(cell, "no row of the summary matched a layer")
        nbytes, words = truths.pass_bytes(listed)
        if quantity == "total_memory":
            nbytes += totals.input_bytes + totals.param_bytes
            words = f"input + {words} + parameters"
        expected, alternatives = truths.bytes_only(nbytes, words)
        return grade_number(cell, expected, alternatives)
    return _not_checkable(cell, f"archcalc does not know the quantity '{quantity}'")


def resolve_convention(
    convention: Convention | str | None, sheet: AnswerSheet
) -> tuple[Convention, str]:
    """The expected convention and where it comes from: given (``--convention``), declared
    by the answers, or the default ``macs``."""
    if convention is not None:
        return parse_convention(convention), "given"
    if sheet.convention:
        try:
            return parse_convention(sheet.convention), f"declared by the {sheet.format} answers"
        except ArchcalcError as error:
            raise AnswerError(error.message, location=SourceLocation(sheet.source, sheet.convention_line)) from None
    return parse_convention("macs"), "default"


def grade_sheet(sheet: AnswerSheet, report: Report, convention: Convention | str | None = None) -> GradeResult:
    """Grade every row and total of ``sheet`` against ``report`` (see the module docstring)."""
    chosen, origin = resolve_convention(convention, sheet)
    declared = None
    if sheet.convention:
        try:
            declared = parse_convention(sheet.convention).name
        except ArchcalcError:
            declared = None
    truths = Truths(report, chosen, sheet.tool, declared)
    matches = match_rows(sheet.rows, report)
    graded = [_grade_match(match, truths) for match in matches]
    listed = [m.layer for m in matches if m.layer is not None]
    totals = tuple(grade_total_cell(cell, truths, listed) for cell in sheet.totals)
    answered = {m.layer.name for m in matches if m.layer is not None}
    unanswered = tuple(r.name for r in report.rows if r.name not in answered)
    return GradeResult(
        source=sheet.source,
        format=sheet.format,
        model=report.model,
        input_shape=tuple(report.input_shape),
        batch=report.batch,
        dtype=report.dtype,
        convention=chosen,
        convention_from=origin,
        rows=tuple(graded),
        totals=totals,
        unanswered=unanswered if sheet.rows and sheet.format != "answers" else (),
        ignored_columns=sheet.ignored_columns,
        notes=sheet.notes,
    )


def input_row(report: Report) -> LayerRow:
    """The network's input as a row without parameters or operations (for ``INPUT`` answer rows)."""
    from archcalc.rules.base import OpCounts, prod

    one = (Fraction(1), Fraction(1))
    elements = prod(report.input_shape) * report.batch
    return LayerRow(
        name="input", op="input", category="input", attrs={}, inputs=(), input_shapes=(),
        output_shape=tuple(report.input_shape), weights=0, biases=0, buffers=0, activation_elements=elements,
        activation_bytes=elements * report.bytes_per_element, ops=OpCounts(), macs=0, flops=0,
        rf=ReceptiveField(one, one, (Fraction(0), Fraction(0))),
    )


def _grade_match(match: Match, truths: Truths) -> RowGrade:
    answer: AnswerRow = match.answer
    if match.how == "input":
        row = input_row(truths.report)
        cells = tuple(grade_row_cell(c, row, truths) for c in answer.cells)
        return RowGrade(answer.label, "(input)", "input", cells, answer.line)
    if match.layer is None:
        kind = f" of kind {answer.kind}" if answer.kind else ""
        cells = tuple(_not_checkable(c, f"no layer{kind} of the model matches this row") for c in answer.cells)
        return RowGrade(answer.label, None, "none", cells, answer.line)
    cells = tuple(grade_row_cell(c, match.layer, truths) for c in answer.cells)
    return RowGrade(answer.label, match.layer.name, match.how, cells, answer.line)


def grade_answers(
    report: Report,
    answers: Mapping[str, str],
    convention: Convention | str | None = None,
    layer: str | None = None,
) -> GradeResult:
    """Grade answers about one layer, e.g. ``{"shape": "30x30x16", "params": "448"}``.

    Quantity names: shape, weights, biases, params, memory, macs, flops, rf (headings such as
    ``output shape`` or ``receptive field`` are accepted too). The layer is ``layer`` by name;
    else the report's only row; a report of several rows (``separable``: depthwise then
    pointwise) is graded as a whole: counts and memory are totals, shape and receptive field
    the last layer's. ``convention`` defaults to the report's. Unknown quantity names raise an
    AnswerError, an InputError (the CLI exits with status 2).
    """
    if not report.rows:
        raise AnswerError("the model has no layer to grade answers against")
    try:
        row = report.row(layer) if layer is not None else report.rows[-1]
    except KeyError:
        raise AnswerError(f"no layer named '{layer}' in {report.model}") from None
    cells = []
    for key, text in answers.items():
        quantity, unit, _ = column_quantity(str(key))
        if quantity not in ROW_QUANTITIES:
            raise AnswerError(
                f"unknown quantity '{key}' in --answer (use {', '.join(ROW_QUANTITIES)})",
                hint="e.g. --answer shape=30x30x16 --answer params=448",
            )
        cells.append(AnswerCell(quantity, str(text), unit))
    if layer is None and len(report.rows) > 1:
        # a question about a composite layer (a separable convolution): counts are totals,
        # shape and receptive field those of the last layer
        sheet = AnswerSheet("--answer", "answers", (), tuple(cells))
    else:
        sheet = AnswerSheet("--answer", "answers", (AnswerRow(row.name, row.name, row.op, tuple(cells)),))
    return grade_sheet(sheet, report, convention if convention is not None else report.convention)


def parse_answer_options(values: Sequence[str] | None) -> dict[str, str]:
    """``["shape=30x30x16", "params=448"]`` -> a dict (InputError on a value without ``=``)."""
    answers: dict[str, str] = {}
    for value in values or []:
        key, sep, text = value.partition("=")
        if not sep or not key.strip() or not text.strip():
            raise AnswerError(f"--answer takes quantity=value, got {value!r}",
                              hint="e.g. --answer shape=30x30x16 --answer params=448")
        answers[key.strip()] = text.strip()
    return answers


__all__ = [
    "CHECK_JSON_VERSION",
    "TOTAL_QUANTITIES",
    "CellVerdict",
    "GradeResult",
    "RowGrade",
    "Status",
    "explain",
    "grade_answers",
    "grade_number",
    "grade_sheet",
    "parse_answer_options",
    "resolve_convention",
]
