"""Mistakes planted in "find the error" tables, of the kinds real course decks contain.

Each mistake takes a cell of the right table and gives what a careless table would say
there, or None where it does not apply:

* ``weights-only``: parameters without the biases. CS231n's VGG-16 table counts
  ``(3*3*3)*64 = 1,728`` for a layer of 1,792 parameters.
* ``input-shape``: the layer's input shape written as its output.
* ``macs-vs-flops``: a MAC count doubled (FLOPs written as MACs), or a FLOP count of
  2 x MACs halved (MACs written as FLOPs).
* ``other-dtype``: memory of float16 (2 B per element) where the table is float32.
* ``rf-jump``: the jump (the product of the strides) written as the receptive field.
* ``channels-swapped``: a convolution's parameters computed with the output channels in
  place of the input channels, ``(F*F*K + 1) * K`` instead of ``(F*F*Cin + 1) * K``.
* ``typo``: two neighbouring digits swapped (1,792 -> 1,972).
* ``sum-off``: a total that is not the sum of its rows: one layer left out. (A CS231n
  VGG-16 slide writes a memory total of 24M for rows that sum to 15.2M.)

:func:`plant` places them and keeps only those that ``archcalc check`` marks wrong, so
every planted error is one that grading detects.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from archcalc.quiz.sheet import Answer, Column, Planted, Row, Variant
from archcalc.quiz.styles import write_number, write_rf, write_shape
from archcalc.report import LayerRow, Report

#: a mistake: (the row's layers, its answer, the column, the report, the shape layout) -> (text, why) or None
Mistake = Callable[[tuple[LayerRow, ...], Answer, Column, Report, str], "tuple[str, str] | None"]


def _unit(column: Column) -> str:
    return "" if column.unit in ("B", "elements") else column.unit


def weights_only(rows, answer, column, report, layout):
    if answer.quantity != "params" or len(rows) != 1 or not rows[0].biases:
        return None
    return write_number(rows[0].weights, _unit(column)), "the biases are left out (weights only)"


def input_shape(rows, answer, column, report, layout):
    if answer.quantity != "shape" or len(rows) != 1 or not rows[0].input_shapes:
        return None
    given = tuple(rows[0].input_shapes[0])
    if given == tuple(rows[0].output_shape):
        return None
    return write_shape(given, layout), "the layer's input shape, not its output shape"


def macs_vs_flops(rows, answer, column, report, layout):
    if not rows or not answer.value:
        return None
    if answer.quantity == "macs":
        return write_number(2 * answer.value, _unit(column)), "FLOPs (2 x MACs) written as MACs"
    if answer.quantity == "flops" and report.convention.flops_per_mac == 2 and answer.value % 2 == 0:
        macs = sum(r.macs for r in rows)
        if macs and macs != answer.value:
            return write_number(macs, _unit(column)), "MACs written as FLOPs (1 MAC = 2 FLOPs)"
    return None


def other_dtype(rows, answer, column, report, layout):
    if answer.quantity != "memory" or not rows or report.bytes_per_element == 2:
        return None
    elements = sum(r.activation_elements for r in rows)
    value = elements * 2
    if column.unit == "elements":
        return None
    return write_number(value, _unit(column)), "memory of float16 (2 B per element), not float32"


def rf_jump(rows, answer, column, report, layout):
    if answer.quantity != "rf" or not rows:
        return None
    jump = tuple(rows[-1].rf.jump)
    if jump == tuple(rows[-1].rf.size) or any(v.denominator != 1 for v in jump):
        return None
    return write_rf(jump), "the jump (the product of the strides), not the receptive field"


def channels_swapped(rows, answer, column, report, layout):
    if answer.quantity != "params" or len(rows) != 1:
        return None
    attrs = rows[0].attrs
    if not all(k in attrs for k in ("kernel", "filters", "in_channels")) or attrs.get("groups", 1) != 1:
        return None
    kh, kw = attrs["kernel"]
    out, given = attrs["filters"], attrs["in_channels"]
    if out == given:
        return None
    value = (kh * kw * out + (1 if rows[0].biases else 0)) * out
    return write_number(value, _unit(column)), "the output channels used as input channels: (F*F*K + 1) * K"


def typo(rows, answer, column, report, layout):
    if answer.quantity in ("shape", "rf"):
        return None
    digits = list(re.sub(r"\D", "", answer.text))
    pairs = [i for i in range(len(digits) - 1) if digits[i] != digits[i + 1] and not (i == 0 and digits[1] == "0")]
    if not pairs:
        return None
    i = pairs[len(pairs) // 2]
    digits[i], digits[i + 1] = digits[i + 1], digits[i]
    swapped = iter(digits)
    text = re.sub(r"\d", lambda _: next(swapped), answer.text)
    return text, "a typo: two digits swapped"


def sum_off(rows, answer, column, report, layout):
    if len(rows) < 2 or answer.quantity in ("shape", "rf"):
        return None
    key = {"memory": "activation_bytes" if column.unit != "elements" else "activation_elements"}.get(
        answer.quantity, answer.quantity)
    terms = [getattr(r, key) for r in rows]
    if answer.quantity == "flops":
        terms = [report.convention.counts(r.category, r.ops) for r in rows]
    terms = [t for t in terms if t]
    if len(terms) < 2:
        return None
    left_out = sorted(terms)[len(terms) // 2]
    why = f"not the sum of the rows: a layer ({left_out:,}) left out"
    return write_number(answer.value - left_out, _unit(column)), why


MISTAKES: dict[str, Mistake] = {
    "weights-only": weights_only,
    "input-shape": input_shape,
    "macs-vs-flops": macs_vs_flops,
    "other-dtype": other_dtype,
    "rf-jump": rf_jump,
    "channels-swapped": channels_swapped,
    "typo": typo,
    "sum-off": sum_off,
}


def _rows_of(row: Row, report: Report) -> tuple[LayerRow, ...]:
    if row.layer is not None:
        return (report.row(row.layer),)
    if row.block:
        return tuple(report.row(name) for name in row.block)
    if row.label == "total":
        return tuple(report.rows)
    return ()


def candidates(variant: Variant, report: Report) -> list[tuple[int, str, str, str, str]]:
    """Every (row index, quantity, mistake, written, why) that applies to the variant's table."""
    columns = {c.quantity: c for c in variant.columns}
    found = []
    for index, row in enumerate(variant.rows):
        rows = _rows_of(row, report)
        for quantity, answer in row.answers.items():
            for name, mistake in MISTAKES.items():
                if name == "sum-off" and row.label != "total":
                    continue
                made: Any = mistake(rows, answer, columns[quantity], report, variant.layout)
                if made is not None and made[0] != answer.text:
                    found.append((index, quantity, name, made[0], made[1]))
    return found


def plant(variant: Variant, report: Report, count: int, rng: random.Random,
          detected: Callable[[Variant], set[tuple[int, str]]]) -> Variant:
    """``variant`` with ``count`` mistakes planted in distinct cells, preferring distinct kinds of
    mistake; ``detected(variant)`` names the cells ``archcalc check`` marks wrong, and a mistake
    it does not detect is not kept."""
    pool = candidates(variant, report)
    rng.shuffle(pool)
    # one of each kind first, then the rest
    seen: set[str] = set()
    ordered = [c for c in pool if not (c[2] in seen or seen.add(c[2]))]
    ordered += [c for c in pool if c not in ordered]
    planted: list[Planted] = []
    used: set[tuple[int, str]] = set()
    current = variant
    for index, quantity, name, written, why in ordered:
        if len(planted) >= count:
            break
        if (index, quantity) in used:
            continue
        trial = _with_shown(current, index, quantity, written)
        if detected(trial) != used | {(index, quantity)}:
            continue
        row = current.rows[index]
        planted.append(Planted(row.label, quantity, written, row.answers[quantity].text, name, why))
        used.add((index, quantity))
        current = trial
    return replace(current, planted=tuple(planted))


def _with_shown(variant: Variant, index: int, quantity: str, text: str) -> Variant:
    rows = list(variant.rows)
    row = rows[index]
    answers = dict(row.answers)
    answers[quantity] = replace(answers[quantity], shown=text)
    rows[index] = replace(row, answers=answers)
    return replace(variant, rows=tuple(rows))


__all__ = ["MISTAKES", "candidates", "plant"]
