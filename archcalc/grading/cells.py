"""Grading one answer cell: a number at the precision it was written, a shape, a receptive field.

A wrong cell gets the derivation of the true value (``archcalc.derivation.explain_row``)
and, where one fits, what the answer matches instead (another convention,
weights without biases, another dtype or batch).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from fractions import Fraction

from archcalc.conventions import Convention
from archcalc.derivation import Step
from archcalc.grading.answers import AnswerCell
from archcalc.grading.truths import Reading
from archcalc.grading.values import WrittenNumber, format_at, format_count, parse_number, parse_pair, parse_shape
from archcalc.grading.verdicts import CellVerdict, Status
from archcalc.report import LayerRow, Report, plain_number


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


def sum_step(quantity: str, values: Sequence[tuple[str, int]], total: int) -> tuple[Step, ...]:
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
    return written.reading(reading.value)  # "" under the plain reading; "with a decimal comma (...)"


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
        column = parse_number("1", unit)  # the column's unit says which reading to show (Memory (bytes))
        wanted = "bytes" if column is not None and column.kind == "bytes" else None
        shown_reading = next((r for r in expected if r.kind == wanted), expected[0]) if wanted else expected[0]
        return CellVerdict(cell.quantity, cell.text, Status.NOT_CHECKABLE, _expected_text(shown_reading, column),
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
    # "40KB" for 40 KiB: KB is written for 10^3 and 2^10 B; an exact binary reading comes before a
    # rounded decimal one, and the verdict names the reading that matched
    written_out = written_out or (written.kind == "bytes" and len(written.scales) > 1)
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
            if not exact and written.is_rounded and written.value != reading.value and "decimal comma" not in (
                    unit_reading or ""):
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
    off = _off_by_1000(written, [preferred, *candidates, *alternatives])
    note = f"{off}; expected {preferred.label}" if off else f"expected {preferred.label}"
    return CellVerdict(cell.quantity, cell.text, Status.WRONG, shown, note, derivation=derivation, line=cell.line)


#: count suffixes by scale, for "off by 1000 (G for M)"
_SUFFIX_OF = {1: "", 10**3: "K", 10**6: "M", 10**9: "G", 10**12: "T"}


def _off_by_1000(written: WrittenNumber, readings: Sequence[Reading]) -> str | None:
    """``off by 1000 (G for M)`` when the written number, read with the unit 1000 times smaller
    or larger, agrees with a reading (``1.54 GFLOPs`` for 1.54 M); None otherwise."""
    for reading in readings:
        for scale, _ in written.scales:
            for factor in (Fraction(1, 1000), Fraction(1000)):
                if reading.value and written.agrees(reading.value, scale * factor):
                    if written.kind == "count" and scale in _SUFFIX_OF and scale * factor in _SUFFIX_OF:
                        used, meant = _SUFFIX_OF[scale] or "no suffix", _SUFFIX_OF[int(scale * factor)] or "no suffix"
                        return f"off by 1000 ({used} for {meant})"
                    return "off by 1000 (" + ("too large" if factor < 1 else "too small") + ")"
    return None


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
    if not dims or any(d is None for d in dims):
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


def _past_border(size: tuple, image: tuple[int, ...] | None) -> str:
    """``runs past the 224-pixel border of the input`` where the field is larger than the image
    (VGG-16's 404 at 224: the nominal field, as Araujo et al. 2019 define it, counts padding)."""
    if not image or len(image) != 2 or not all(isinstance(v, int) for v in size):
        return ""
    if size[0] > image[0] or size[1] > image[1]:
        side = str(image[0]) if image[0] == image[1] else f"{image[0]}x{image[1]}"
        return f"larger than the {side}-pixel input: the field runs past its border"
    return ""


def grade_rf(cell: AnswerCell, row: LayerRow, derivation: tuple[Step, ...] = (),
             image: tuple[int, ...] | None = None) -> CellVerdict:
    """Right when the written receptive field (``7`` or ``7x7``) equals the layer's, per axis;
    ``image`` (H, W): a right field larger than the image gets a note that it runs past the border."""
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
        return CellVerdict("rf", cell.text, Status.RIGHT, expected, _past_border(size, image), line=cell.line)
    jump = tuple(row.rf.jump)
    note = "matches the jump (stride product), not the field size" if tuple(map(Fraction, written)) == jump else ""
    return CellVerdict("rf", cell.text, Status.WRONG, expected, note, derivation, cell.line)


