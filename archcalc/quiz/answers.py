"""The key's answers, taken from archcalc's own analysis, with the derivations ``--explain`` prints.

For a layer, every value is the Report's (``row.output_shape``, ``row.params``,
``row.activation_bytes``, ``row.macs``, ``row.flops`` under the variant's convention,
``row.rf.size``) and its steps are those of :func:`archcalc.derivation.explain_row`
about that quantity. A block (a row named after a group of layers) and the total row are
sums; their derivation is the sum written out::

    params = sum over the layers = 32,896 + 442,560 + 614,496 = 1,089,952

The input row (CS231n, Keras) is the network's input: its shape and memory, no parameters.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from archcalc.derivation import Step, explain_row, explain_totals
from archcalc.quiz.sheet import Answer, Column
from archcalc.quiz.styles import Style, write_number, write_rf, write_shape
from archcalc.report import LayerRow, Report

#: the derivation steps (``Step.key``) about each quantity
STEP_KEYS = {
    "shape": ("output_size", "output_height", "output_width", "output_channels", "output_shape"),
    "weights": ("weights",),
    "biases": ("biases",),
    "params": ("weights", "biases", "params"),
    "memory": ("activation_bytes",),
    "macs": ("macs",),
    "flops": ("macs", "flops"),
    "rf": ("rf_size", "rf_size_h", "rf_size_w", "rf_jump", "rf_jump_h", "rf_jump_w"),
}


def _memory_value(elements: int, nbytes: int, column: Column) -> int:
    return elements if column.unit == "elements" else nbytes


def _written(quantity: str, value, column: Column, style: Style) -> str:
    if quantity == "shape":
        return write_shape(tuple(value), style.shape)
    if quantity == "rf":
        return write_rf(value)
    return write_number(int(value), "" if column.unit in ("B", "elements") else column.unit)


def _number(column: Column, value, steps: Sequence[Step], style: Style) -> Answer:
    return Answer(column.quantity, value, _written(column.quantity, value, column, style), tuple(steps))


def layer_answers(row: LayerRow, report: Report, columns: Iterable[Column], style: Style) -> dict[str, Answer]:
    """The answers about one layer, one per column."""
    steps = explain_row(row, report)
    answers = {}
    for column in columns:
        quantity = column.quantity
        value = {
            "shape": tuple(row.output_shape),
            "weights": row.weights,
            "biases": row.biases,
            "params": row.params,
            "memory": _memory_value(row.activation_elements, row.activation_bytes, column),
            "macs": row.macs,
            "flops": row.flops,
            "rf": tuple(row.rf.size),
        }[quantity]
        about = [s for s in steps if s.key in STEP_KEYS[quantity]]
        if quantity == "memory" and column.unit == "elements":
            about = [Step("output elements", "H_out * W_out * C_out" if len(row.output_shape) == 3 else "N_out",
                          "*".join(str(v) for v in _hwc(row.output_shape)), row.activation_elements // report.batch,
                          "", "activation_elements")]
            if report.batch > 1:
                about.append(Step("output elements", "batch * elements of one sample",
                                  f"{report.batch} * {row.activation_elements // report.batch:,}",
                                  row.activation_elements, "", "activation_elements"))
        answers[quantity] = _number(column, value, about, style)
    return answers


def _hwc(shape: tuple[int, ...]) -> tuple[int, ...]:
    return (shape[1], shape[2], shape[0]) if len(shape) == 3 else tuple(shape)


def sum_steps(quantity: str, terms: Sequence[tuple[str, int]], total: int,
              what: str = "the layers") -> tuple[Step, ...]:
    """``quantity = sum over the layers = a + b + c = total`` (zero terms left out; the note names
    the layers summed, up to six)."""
    named = [name for name, value in terms if value]
    text = " + ".join(f"{v:,}" for _, v in terms if v) or "0"
    note = ", ".join(named) if len(named) <= 6 else f"{len(named)} layers"
    return (Step(quantity, f"sum over {what}", text, total, note, quantity),)


def block_answers(rows: Sequence[LayerRow], report: Report, columns: Iterable[Column], style: Style,
                  what: str = "the layers") -> dict[str, Answer]:
    """The answers about a group of layers: sums, and the last layer's shape and receptive field
    (what ``archcalc check`` grades a block row or a total row against)."""
    answers = {}
    last = rows[-1]
    owned = [r for r in rows if r.shares_params_with is None]
    for column in columns:
        quantity = column.quantity
        if quantity in ("shape", "rf"):
            answers[quantity] = layer_answers(last, report, [column], style)[quantity]
            continue
        if quantity == "memory":
            terms = [(r.name, _memory_value(r.activation_elements, r.activation_bytes, column)) for r in rows]
        elif quantity in ("weights", "biases", "params"):
            terms = [(r.name, getattr(r, quantity)) for r in owned]
        else:
            terms = [(r.name, getattr(r, quantity)) for r in rows]
        total = sum(value for _, value in terms)
        label = {"macs": "MACs", "flops": f"FLOPs [{report.convention.name}]"}.get(quantity, quantity)
        answers[quantity] = _number(column, total, sum_steps(label, terms, total, what), style)
    return answers


def total_answers(report: Report, columns: Iterable[Column], style: Style) -> dict[str, Answer]:
    """The whole network's totals (``archcalc check``'s total row): parameters counted once,
    memory the sum of every layer's output."""
    columns = list(columns)
    answers = block_answers(report.rows, report, columns, style, "every layer")
    totals = {s.key: s for s in explain_totals(report)}
    for column in columns:
        quantity = column.quantity
        key = {"params": "totals.params", "macs": "totals.macs", "flops": "totals.flops"}.get(quantity)
        if key in totals and answers[quantity].value == totals[key].value:
            answers[quantity] = Answer(quantity, answers[quantity].value, answers[quantity].text, (totals[key],))
    return answers


def input_answers(report: Report, columns: Iterable[Column], style: Style) -> dict[str, Answer]:
    """The input row: the input's shape and memory, no parameters or operations."""
    shape = tuple(report.input_shape)
    elements = 1
    for v in shape:
        elements *= v
    elements *= report.batch
    answers = {}
    for column in columns:
        quantity = column.quantity
        if quantity == "shape":
            value, steps = shape, (Step("input shape", "given", write_shape(shape, style.shape), write_shape(shape)),)
        elif quantity == "memory":
            value = _memory_value(elements, elements * report.bytes_per_element, column)
            nbytes = report.bytes_per_element
            formula = "input elements" if column.unit == "elements" else f"input elements * {nbytes} B"
            arithmetic = "*".join(str(v) for v in _hwc(shape))
            if column.unit != "elements":
                arithmetic += f" * {report.bytes_per_element}"
            steps = (Step("input memory", formula, arithmetic, value),)
        elif quantity in ("weights", "biases", "params", "macs", "flops"):
            value, steps = 0, (Step(quantity, "the input has none", "0", 0),)
        else:
            continue
        answers[quantity] = _number(column, value, steps, style)
    return answers


__all__ = ["STEP_KEYS", "block_answers", "input_answers", "layer_answers", "sum_steps", "total_answers"]
