"""The ``archcalc check`` table: one line per graded cell, a mark that survives without colour.

Formatting only (the verdicts come from :mod:`archcalc.grading`). Laid out by
hand as styled lines (:mod:`archcalc.render.styled`) for any console width:

* each cell starts with a mark: ``✓`` right, ``✗`` wrong, ``?`` not checkable
  (coloured on a terminal, legible without colour);
* the answer row is named once, on its first cell; ``row → layer`` only when
  the row's label is not the layer's name, and how rows were matched (by
  order, by type...) once under the table;
* columns take their natural width; when the table is wider than the console
  the note, then the written and expected values wrap at spaces (never
  inside a word), the continuation lines in their own column.
"""

from __future__ import annotations

import textwrap
from typing import Any

from archcalc.render import units
from archcalc.render.styled import Line, print_lines

MARKS = {"right": ("✓", "green"), "wrong": ("✗", "bold red"), "not checkable": ("?", "yellow")}
HEADS = ("Row", "Quantity", "Written", "Expected", "Note")
GAP = "  "


def _labels() -> dict[str, str]:
    from archcalc.grading.exports import QUANTITY_LABELS

    return QUANTITY_LABELS


def row_title(label: str, layer: str | None) -> str:
    """``conv1`` when the row is named as its layer, ``Conv2d-1 → conv1`` when not,
    ``Conv2d-9 → no layer`` when it matched none."""
    if layer is None:
        return f"{label} → no layer"
    if layer == label or label.split(" (")[0] == layer:
        return layer
    return f"{label} → {layer}"


def header_lines(result: Any, width: int) -> list[Line]:
    """What was graded against what: file, format, model, input (H x W x C), batch, dtype, convention."""
    image = len(result.input_shape) == 3
    if result.format == "answers":  # `archcalc layer ... --answer`: the question, not an answers file
        from archcalc.grading.exports import layer_answers_header

        lines = [Line(text, "bold") for text in _wrap(layer_answers_header(result), width, "  ")]
        return lines + ([Line("shapes are H x W x C", "dim")] if image else [])
    first = f"archcalc check: {result.source} ({result.format}) vs {result.model}"
    second = (f"input {units.shape(tuple(result.input_shape))}{SHAPE_SUFFIX if image else ''}, "
              f"batch {result.batch}, {result.dtype}, convention {result.convention.name} "
              f"({result.convention.label}; {result.convention_from})"
              + ("; shapes are H x W x C" if image else ""))
    lines = [Line(text, "bold") for text in _wrap(first, width, "  ")]
    lines += [Line(text, "dim") for text in _wrap(second, width, "  ")]
    return lines


def _records(result: Any) -> list[tuple[str, str, str, str, str, str]]:
    """(status, row title or "", quantity, written, expected, note) per cell, rows then totals."""
    labels = _labels()
    out = []
    for row in result.rows:
        title = row_title(row.label, row.layer)
        for index, cell in enumerate(row.cells):
            expected = cell.expected.removesuffix(SHAPE_SUFFIX)
            out.append((cell.status.value, title if index == 0 else "", labels.get(cell.quantity, cell.quantity),
                        cell.written, expected, cell.note))
    for index, cell in enumerate(result.totals):
        out.append((cell.status.value, "total" if index == 0 else "", labels.get(cell.quantity, cell.quantity),
                    cell.written, cell.expected, cell.note))
    return out


def _line_count(words: list[int], width: int) -> int:
    """Lines a text of words of these lengths takes at ``width`` (greedy, breaking at spaces)."""
    lines, used = 1, -1
    for length in words:
        if used + 1 + length > width and used >= 0:
            lines, used = lines + 1, length
        else:
            used += 1 + length
    return lines


#: which column gives way first when two cost the same: note, expected, quantity, row, written
_GIVE_WAY = (4, 3, 1, 0, 2)


def _fit(columns: list[list[str]], heads: tuple[str, ...], width: int) -> list[int]:
    """Column widths within ``width`` columns that keep the table shortest: each column starts
    at its natural width and, while the table is too wide, the column whose narrowing adds the
    fewest lines gives one character (the note first on a tie, what was written last). No
    column gets narrower than its longest word: words are never broken."""
    fixed = 2 + len(GAP) * (len(columns) - 1)  # the mark and its space, the gaps
    words = [[[len(w) for w in text.split()] for text in column] for column in columns]
    widths = [max([len(h)] + [len(t) for t in column]) for h, column in zip(heads, columns)]
    floors = [max([len(h)] + [max(ws, default=0) for ws in column]) for h, column in zip(heads, words)]
    counts = [[_line_count(ws, w) for ws in column] for column, w in zip(words, widths)]
    rows = len(columns[0])
    while fixed + sum(widths) > width:
        best = None
        for column in _GIVE_WAY:
            if widths[column] <= floors[column]:
                continue
            trial = [_line_count(ws, widths[column] - 1) for ws in words[column]]
            total = sum(max(trial[r] if c == column else counts[c][r] for c in range(len(columns)))
                        for r in range(rows))
            if best is None or total < best[0]:
                best = (total, column, trial)
        if best is None:
            break
        _, column, trial = best
        widths[column] -= 1
        counts[column] = trial
    return widths


def _wrap(text: str, width: int, indent: str = "") -> list[str]:
    """``text`` in lines of ``width``, broken at spaces (a word longer than a line is cut)."""
    if len(text) <= width:
        return [text]
    return textwrap.wrap(text, width, subsequent_indent=indent, break_on_hyphens=False) or [""]


#: the layout every expected shape is written in; said once, in the header
SHAPE_SUFFIX = " (HxWxC)"


def cell_lines(result: Any, width: int) -> list[Line]:
    """The table: a header, then one line per cell (more only where a value must wrap)."""
    records = _records(result)
    widths = _fit([[r[i + 1] for r in records] for i in range(len(HEADS))], HEADS, width)
    head = Line("  ").append(GAP.join(h.ljust(w) for h, w in zip(HEADS, widths)).rstrip(), "bold")
    lines = [head]
    for status, *texts in records:
        mark, style = MARKS.get(status, ("?", "yellow"))
        pieces = [_wrap(text, w) for text, w in zip(texts, widths)]
        for depth in range(max(len(p) for p in pieces)):
            line = Line(mark if depth == 0 else " ", style).append(" ")
            for column, (piece, w) in enumerate(zip(pieces, widths)):
                text = piece[depth] if depth < len(piece) else ""
                cell_style = style if column == 3 and status == "wrong" else ("dim" if column == 4 else "")
                line.append(text.ljust(w) + (GAP if column < len(widths) - 1 else ""), cell_style)
            lines.append(line.rstrip())
    return lines


def result_lines(result: Any, width: int = 80) -> list[Line]:
    """The verdicts of one sheet: header, cell table, how rows were matched, derivations of the
    wrong cells, rows that matched no layer, columns not graded, notes, and the score."""
    from archcalc.grading.exports import derivation_text, quantity_label, score_text

    lines = header_lines(result, width) + cell_lines(result, width)
    legend = "✓ right  ✗ wrong  ? not checkable"
    matched = sorted({row.matched_by for row in result.rows
                      if row.layer and row.matched_by not in ("name", "input")})
    if matched:
        legend += f"; rows matched to layers by {', '.join(matched)}"
    lines += [Line(text, "dim") for text in _wrap(legend, width, "  ")]
    wrong = [(row.label, cell) for row in result.rows for cell in row.cells if cell.derivation] + [
        ("total", cell) for cell in result.totals if cell.derivation
    ]
    if wrong:
        lines.append(Line("Derivations of the wrong cells:", "bold"))
        for label, cell in wrong:
            text = f"{label}, {quantity_label(cell.quantity)}: {derivation_text(cell)}"
            lines += [Line(piece) for piece in textwrap.wrap(text, width, initial_indent="  ",
                                                              subsequent_indent="      ", break_on_hyphens=False)]
    unmatched = result.unmatched_rows
    if unmatched:
        names = ", ".join(r.label for r in unmatched[:5]) + (" ..." if len(unmatched) > 5 else "")
        text = f"{len(unmatched)} answer row(s) match no layer of {result.model}: {names}"
        lines += [Line(piece, "yellow") for piece in _wrap(text, width, "  ")]
    if result.ignored_columns:
        text = f"columns not graded: {', '.join(result.ignored_columns)}"
        lines += [Line(piece, "dim") for piece in _wrap(text, width, "  ")]
    for note in result.notes:
        lines += [Line(piece, "dim") for piece in _wrap(f"note: {note}", width, "  ")]
    style = "bold green" if result.all_right else "bold red"
    lines.append(Line(f"Score: {score_text(result.right, result.wrong, result.not_checkable, result.score)}", style))
    return lines


def render_result(result: Any, console: Any) -> None:
    """Print the verdicts to a light Terminal or a rich Console."""
    print_lines(console, result_lines(result, console.width))


def folder_lines(grades: list[Any], width: int = 80) -> list[Line]:
    """One line per file of a folder: right, wrong, not checkable, score, error."""
    from archcalc.grading.exports import FOLDER_TABLE_HEADS as heads
    rows = []
    for grade in grades:
        record = grade.record()
        score = "" if grade.score is None else f"{grade.score:.0%}"
        rows.append((grade.student or "-", str(record["variant"]) or "-", grade.file, str(record["cells right"]),
                     str(record["cells wrong"]), str(record["not checkable"]), score, grade.error))
    text_columns = (0, 2)
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(heads)]
    lines = [Line(GAP.join(h.ljust(w) if i in (*text_columns, 7) else h.rjust(w)
                           for i, (h, w) in enumerate(zip(heads, widths))).rstrip(), "bold")]
    for row in rows:
        line = Line(GAP.join(t.ljust(w) if i in text_columns else t.rjust(w)
                             for i, (t, w) in enumerate(zip(row[:7], widths))))
        if row[7]:
            line.append(GAP).append(row[7], "red")
        lines.append(line.rstrip())
    return lines
