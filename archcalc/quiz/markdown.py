"""Markdown sheets and keys: the header ``archcalc check`` reads, the exercise, the table.

The sheet::

    # Convolution layer: variant 3

    - Student: ______________________
    - Quiz: conv, variant 3, seed 7
    - Model: `{name: conv-3, input: 32x32x3, layers: [...]}`
    - Input: 32x32x3
    - Convention: flops

    (the exercise, what each column asks)

    | Layer | Type | Output shape | Params | ... |
    | --- | --- | --- | --- | --- |
    | conv | conv f10 k5 s1 p2 | ? | ? | ... |

The key has the same header and table with every answer, then each answer's derivation
as ``archcalc layer ... --explain`` prints it. ``archcalc check`` grades every table of a
file, so nothing after the answer table is a table.
"""

from __future__ import annotations

from archcalc.quiz.sheet import ASKED, Answer, Row, Variant
from archcalc.render.explain import equation
from archcalc.render.terminal_text import visible_line


def _cell(text: str) -> str:
    """A table cell: ``|`` escaped, a newline or another control character written as its escape
    (a name from a roster or a spec never splits the table)."""
    return visible_line(text).replace("|", "\\|")


def header_lines(variant: Variant) -> list[str]:
    """The bullet list at the top: student, quiz, and the ``model``/``input``/``convention`` lines
    (each on one line, whatever a roster name or a spec holds)."""
    lines = [
        f"- Student: {visible_line(variant.student) if variant.student else '______________________'}",
        f"- Quiz: {variant.kind}, variant {variant.number}, seed {variant.seed}",
        f"- Model: `{visible_line(variant.model)}`",
        f"- Input: {variant.input}",
        f"- Convention: {variant.convention}",
    ]
    if variant.dtype != "float32":
        lines.append(f"- Dtype: {variant.dtype}")
    if variant.batch != 1:
        lines.append(f"- Batch: {variant.batch}")
    return lines


def table_lines(variant: Variant, key: bool) -> list[str]:
    """The answer table: ``?`` where the sheet asks (the key: the answer); a "find the error"
    sheet shows the table's values, the key the right ones."""
    headings = ["Layer", "Type"] + [c.heading for c in variant.columns]
    lines = ["| " + " | ".join(headings) + " |", "|" + "|".join(" --- " for _ in headings) + "|"]
    for row in variant.rows:
        cells = [_cell(row.label), _cell(row.kind)]
        for column in variant.columns:
            answer = row.answers.get(column.quantity)
            if answer is None:
                cells.append("")
            elif key:
                cells.append(_cell(answer.text))
            else:
                cells.append(_cell(answer.shown if answer.shown is not None else ASKED))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def derivation_lines(row: Row, answer: Answer, heading: str) -> list[str]:
    lines = [f"- {heading} = **{answer.text}**"]
    for step in answer.steps:
        text = f"  - {step.quantity}: `{equation(step)}`"
        if step.note:
            text += f" ({step.note})"
        lines.append(text)
    return lines


def render(variant: Variant, key: bool, derivations: bool = True) -> str:
    """The sheet (``key=False``) or the key of one variant, as Markdown (``derivations=False``:
    the key without its derivations)."""
    what = "key" if key else "variant"
    lines = [f"# {visible_line(variant.title)}: {what} {variant.number}", ""]
    lines += header_lines(variant)
    lines += ["", "## Exercise", "", variant.statement, ""]
    if variant.instructions:
        lines += [f"- {text}" for text in variant.instructions] + [""]
    if not key:
        lines += ["Replace each ? in the table with your answer." if not variant.planted and
                  not any(a.shown is not None for _, a in variant.answers) else
                  "Some cells of this table are wrong. Find them and write the right value in their place.", ""]
    lines += table_lines(variant, key)
    if key:
        lines += key_sections(variant, derivations)
    return "\n".join(lines).rstrip() + "\n"


def key_sections(variant: Variant, derivations: bool = True) -> list[str]:
    """After the key's table: the planted errors, notes, and every derivation."""
    lines: list[str] = []
    if variant.planted:
        lines += ["", "## The planted errors", ""]
        for planted in variant.planted:
            heading = next(c.heading for c in variant.columns if c.quantity == planted.quantity)
            lines.append(f"- {planted.row}, {heading}: the table says {planted.written}, right is "
                         f"{planted.right} ({planted.explanation}) [{planted.mistake}]")
    if variant.notes:
        lines += ["", "## Notes", ""] + [f"- {note}" for note in variant.notes]
    if not derivations:
        return lines
    lines += ["", "## Derivations", ""]
    headings = {c.quantity: c.heading for c in variant.columns}
    for row in variant.rows:
        if not row.answers:
            continue
        lines += [f"### {row.label}", ""]
        for column in variant.columns:
            answer = row.answers.get(column.quantity)
            if answer is not None:
                lines += derivation_lines(row, answer, headings[column.quantity])
        lines.append("")
    return lines


__all__ = ["header_lines", "render", "table_lines"]
