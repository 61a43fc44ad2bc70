"""Grading answer rows, totals and whole sheets against a Report.

* :func:`grade_sheet` grades an :class:`~archcalc.grading.answers.AnswerSheet`:
  rows are matched to layers (:mod:`archcalc.grading.matching`), each cell is
  graded (:mod:`archcalc.grading.cells`) against the true values and their
  alternative readings (:mod:`archcalc.grading.truths`);
* :func:`grade_answers` grades ``{"shape": "30x30x16", "params": "448"}``
  against one layer (``archcalc layer ... --answer``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from fractions import Fraction

from archcalc.conventions import Convention
from archcalc.derivation import Step
from archcalc.errors import ArchcalcError, SourceLocation
from archcalc.grading.answers import ROW_QUANTITIES, AnswerCell, AnswerError, AnswerRow, AnswerSheet
from archcalc.grading.cells import explain, grade_number, grade_rf, grade_shape, sum_step
from archcalc.grading.matching import Match, match_rows
from archcalc.grading.sheets import column_quantity
from archcalc.grading.truths import Reading, Truths, parse_convention
from archcalc.grading.verdicts import CellVerdict, GradeResult, RowGrade, Status
from archcalc.report import LayerRow, ReceptiveField, Report



def _not_checkable(cell: AnswerCell, note: str) -> CellVerdict:
    return CellVerdict(cell.quantity, cell.text, Status.NOT_CHECKABLE, "", note, line=cell.line)


#: what a sheet writes where nothing was answered: the quiz's ``?``, and the usual blanks
BLANK_MARKS = frozenset({"?", "??", "_", "__", "___", "...", "…", "tbd", "todo"})


def is_blank(text: str) -> bool:
    """Whether a cell was left unanswered (``?``, as the quiz's sheets ask, or empty)."""
    cleaned = str(text).strip().strip("*`").strip()
    return not cleaned or cleaned.lower() in BLANK_MARKS or set(cleaned) <= {"_"}


def blank_verdict(cell: AnswerCell, graded: CellVerdict) -> CellVerdict:
    """A blank cell scores 0 of 1: wrong, shown as blank, with the expected value and its derivation."""
    return CellVerdict(cell.quantity, cell.text, Status.WRONG, graded.expected, BLANK_NOTE, graded.derivation,
                       cell.line)


#: the note of an unanswered cell
BLANK_NOTE = "blank (not answered)"


def grade_row_cell(cell: AnswerCell, row: LayerRow, truths: Truths) -> CellVerdict:
    """One cell of a layer row (a blank one is wrong: :func:`blank_verdict`)."""
    verdict = _grade_row_cell(cell, row, truths)
    if is_blank(cell.text):
        steps = verdict.derivation or explain(row, truths.report, cell.quantity, truths.convention)
        return blank_verdict(cell, replace(verdict, derivation=steps))
    return verdict


def _grade_row_cell(cell: AnswerCell, row: LayerRow, truths: Truths) -> CellVerdict:
    report = truths.report
    quantity = cell.quantity

    def why() -> tuple[Step, ...]:
        return explain(row, report, quantity, truths.convention)

    if quantity == "shape":
        verdict = grade_shape(cell, row, report.batch)
    elif quantity == "rf":
        verdict = grade_rf(cell, row, image=_image(report))
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


def grade_block_cell(cell: AnswerCell, block: tuple[LayerRow, ...], truths: Truths) -> CellVerdict:
    """One cell of a row about a block of layers: sums of its parameters, MACs, FLOPs and
    output memory; the shape and receptive field of its last layer."""
    verdict = _grade_block_cell(cell, block, truths)
    return blank_verdict(cell, verdict) if is_blank(cell.text) else verdict


def _grade_block_cell(cell: AnswerCell, block: tuple[LayerRow, ...], truths: Truths) -> CellVerdict:
    last = block[-1]
    quantity = cell.quantity
    owned = [r for r in block if r.shares_params_with is None]
    if quantity in ("shape", "rf"):
        verdict = grade_shape(cell, last, truths.report.batch) if quantity == "shape" else grade_rf(cell, last, image=_image(truths.report))
        if verdict.status is Status.WRONG:
            steps = explain(last, truths.report, quantity, truths.convention)
            return CellVerdict(verdict.quantity, verdict.written, verdict.status, verdict.expected, verdict.note,
                               steps, verdict.line)
        return verdict
    if quantity == "params":
        expected, alternatives = truths.params(block)
        return grade_number(cell, [expected], alternatives, sum_step("params", [(r.name, r.params) for r in owned],
                                                                     int(expected.value)))
    if quantity == "weights":
        total = sum(r.weights for r in owned)
        return grade_number(cell, [Reading(total, "weights (no biases)")],
                            [Reading(sum(r.params for r in owned), "weights + biases")],
                            sum_step("weights", [(r.name, r.weights) for r in owned], total))
    if quantity == "biases":
        return grade_number(cell, [Reading(sum(r.biases for r in owned), "biases")])
    if quantity == "macs":
        expected, alternatives = truths.macs(block)
        return grade_number(cell, [expected], alternatives,
                            sum_step("MACs", [(r.name, r.macs) for r in block], int(expected.value)))
    if quantity == "flops":
        expected, alternatives = truths.flops(block)
        counts = [(r.name, truths.convention.counts(r.category, r.ops)) for r in block]
        return grade_number(cell, [expected], alternatives,
                            sum_step(f"FLOPs [{truths.convention.name}]", counts, int(expected.value)))
    if quantity == "memory":
        elements = sum(r.activation_elements for r in block)
        expected_readings, alternatives = truths.memory(elements, "the block's outputs")
        step = sum_step("output elements", [(r.name, r.activation_elements) for r in block], elements)
        one = elements // truths.report.batch
        return grade_number(cell, expected_readings, alternatives, step,
                            per_sample=(one, one * truths.report.bytes_per_element))
    return _not_checkable(cell, f"'{quantity}' is a whole-network number, not a block's")


def _image(report: Report) -> tuple[int, ...] | None:
    """(H, W) of an image input (C, H, W); None otherwise."""
    shape = tuple(report.input_shape)
    return shape[1:] if len(shape) == 3 else None


def _allocating(row: LayerRow) -> bool:
    """A layer whose output is a new tensor (not a view, not an in-place activation)."""
    from archcalc.layers import get_rule

    return not get_rule(row.op).aliases_input and row.category != "activation"


def _listed_memory(truths: Truths, listed: list[LayerRow], input_elements: int, every: int) -> list[Reading]:
    """The lecture's total memory, right: the sum of the rows the sheet lists (CS231n's VGG table
    lists conv, pool and fc layers, not ReLU, dropout or flatten), with or without the input, in
    elements or x bytes each, and x 2 for the backward pass (CS231n, "VGGNet": "TOTAL memory:
    24M * 4 bytes ~= 96MB / image (only forward! ~*2 for bwd)")."""
    if not listed:
        return []
    seen: set[str] = set()
    rows = [r for r in listed if not (r.name in seen or seen.add(r.name))]
    outputs = sum(r.activation_elements for r in rows)
    bpe = truths.bytes_per_element
    readings = []
    for count, words in ((outputs, "the listed rows' outputs"),
                         (outputs + input_elements, "the listed rows' outputs and the input")):
        if count == every:
            continue
        readings += [Reading(count, f"{words} in elements", "elements", right=True),
                     Reading(count * bpe, f"{words} x {bpe} bytes", "bytes", right=True),
                     Reading(2 * count * bpe, f"{words} x {bpe} bytes x 2 (forward and backward)", "bytes",
                             right=True)]
    return readings


def grade_total_cell(cell: AnswerCell, truths: Truths, listed: list[LayerRow]) -> CellVerdict:
    """One whole-network answer (``listed``: the layers the answer's rows matched); blank: wrong."""
    verdict = _grade_total_cell(cell, truths, listed)
    return blank_verdict(cell, verdict) if is_blank(cell.text) else verdict


def _grade_total_cell(cell: AnswerCell, truths: Truths, listed: list[LayerRow]) -> CellVerdict:
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
        return grade_rf(cell, rows[-1], image=_image(report))
    if quantity == "params":
        expected, alternatives = truths.params(rows, total=totals.params)
        step = sum_step("params", [(r.name, r.params) for r in owned], totals.params)
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
        step = sum_step("weights", [(r.name, r.weights) for r in owned], totals.weights)
        return grade_number(cell, [Reading(totals.weights, "weights (no biases)")],
                            [Reading(totals.params, "weights + biases")], step)
    if quantity == "biases":
        return grade_number(cell, [Reading(totals.biases, "biases")])
    if quantity == "macs":
        expected, alternatives = truths.macs(rows)
        step = sum_step("MACs", [(r.name, r.macs) for r in rows], totals.macs)
        return grade_number(cell, [expected], alternatives, step)
    if quantity == "flops":
        expected, alternatives = truths.flops(rows)
        counts = [(r.name, truths.convention.counts(r.category, r.ops)) for r in rows]
        step = sum_step(f"FLOPs [{truths.convention.name}]", counts, int(expected.value))
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
        alternatives = _listed_memory(truths, listed, input_elements, elements) + alternatives
        step = sum_step("output elements", [(r.name, r.activation_elements) for r in rows], elements)
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


#: what a column named FLOPs means where nothing says otherwise, in every command (``check``,
#: ``layer --answer``, ``quiz``): 2 FLOPs per multiply-accumulate, as torch.utils.flop_counter
#: counts them; MACs are graded as MACs whatever the convention
DEFAULT_FLOPS = "flops"


def resolve_convention(
    convention: Convention | str | None, sheet: AnswerSheet, given_by: str = "given"
) -> tuple[Convention, str]:
    """The expected convention and where it comes from: given (``--convention``; ``given_by``
    says how), declared by the answers, or the default (:data:`DEFAULT_FLOPS`)."""
    if convention is not None:
        return parse_convention(convention), given_by
    if sheet.convention:
        try:
            return parse_convention(sheet.convention), f"declared by the {sheet.format} answers"
        except ArchcalcError as error:
            raise AnswerError(error.message, location=SourceLocation(sheet.source, sheet.convention_line)) from None
    return parse_convention(DEFAULT_FLOPS), "default"


def grade_sheet(sheet: AnswerSheet, report: Report, convention: Convention | str | None = None,
                convention_from: str = "given") -> GradeResult:
    """Grade every row and total of ``sheet`` against ``report`` (see the module docstring);
    ``convention_from`` says where a given ``convention`` comes from."""
    chosen, origin = resolve_convention(convention, sheet, convention_from)
    declared = None
    if sheet.convention:
        try:
            declared = parse_convention(sheet.convention).name
        except ArchcalcError:
            declared = None
    truths = Truths(report, chosen, sheet.tool, declared)
    try:
        matches = match_rows(sheet.rows, report)
    except AnswerError as error:  # the rows cannot be matched with confidence: say so, do not guess
        raise error.with_context(location=SourceLocation(sheet.source, None)) from None
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
    from archcalc.layers.base import OpCounts, prod

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
    if match.how == "block":
        cells = tuple(grade_block_cell(c, match.block, truths) for c in answer.cells)
        prefix = match.block[0].name.lower().split(".")
        name = ".".join(match.block[0].name.split(".")[: _block_depth(prefix, answer.name or "")])
        return RowGrade(answer.label, name, "block", cells, answer.line)
    if match.layer is None:
        kind = f" of kind {answer.kind}" if answer.kind else ""
        cells = tuple(_not_checkable(c, f"no layer{kind} of the model matches this row") for c in answer.cells)
        return RowGrade(answer.label, None, "none", cells, answer.line)
    cells = tuple(grade_row_cell(c, match.layer, truths) for c in answer.cells)
    return RowGrade(answer.label, match.layer.name, match.how, cells, answer.line)


def _block_depth(components: list[str], name: str) -> int:
    """How many leading components of a block layer's name make the block's name."""
    parts = name.lower().split(".")
    for start in range(len(components)):
        if components[start:start + len(parts)] == parts:
            return start + len(parts)
    return len(components)


def grade_answers(
    report: Report,
    answers: Mapping[str, str],
    convention: Convention | str | None = None,
    layer: str | None = None,
    convention_from: str | None = None,
) -> GradeResult:
    """Grade answers about one layer, e.g. ``{"shape": "30x30x16", "params": "448"}``.

    Quantity names: shape, weights, biases, params, memory, macs, flops, rf (headings such as
    ``output shape`` or ``receptive field`` are accepted too). The layer is ``layer`` by name;
    else the report's only row; a report of several rows (``separable``: depthwise then
    pointwise) is graded as a whole: counts and memory are totals, shape and receptive field
    the last layer's. ``convention`` defaults to the report's (``convention_from`` says where
    that came from: ``--convention``, ``the default``). Unknown quantity names raise an
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
    origin = convention_from or ("given" if convention is not None else "the default")
    return grade_sheet(sheet, report, convention if convention is not None else DEFAULT_FLOPS, origin)


#: a comma that starts another ``quantity=value`` (``shape=32x32x10,params=760``); a comma inside a
#: number (``1,792``) or a shape (``32,32,10``) is followed by a digit, not by a name and ``=``
_NEXT_ANSWER = re.compile(r"[,;]\s*(?=[A-Za-z_#][\w #()-]*=)")


def parse_answer_options(values: Sequence[str] | None) -> dict[str, str]:
    """``["shape=30x30x16", "params=448"]`` or ``["shape=32x32x10,params=760"]`` -> a dict.

    A value is split where a comma (or semicolon) is followed by another ``name=``; an
    answer without ``=`` is an AnswerError (an InputError) with a hint."""
    answers: dict[str, str] = {}
    for value in values or []:
        for part in _NEXT_ANSWER.split(value):
            key, sep, text = part.partition("=")
            if not sep or not key.strip() or not text.strip():
                raise AnswerError(f"--answer takes quantity=value, got {part!r}",
                                  hint="e.g. --answer shape=30x30x16 --answer params=448 "
                                  "(or --answer shape=30x30x16,params=448)")
            answers[key.strip()] = text.strip()
    return answers


__all__ = ["grade_answers", "grade_block_cell", "grade_row_cell", "grade_sheet", "grade_total_cell", "parse_answer_options",
           "resolve_convention"]
