"""Derivations as a course writes them: ``params = (F*F*Cin + 1)*K = (5*5*3 + 1)*10 = 760``.

Formatting only: the steps come from :mod:`archcalc.derivation`.
"""

from __future__ import annotations

from typing import Iterable

from rich import box
from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from archcalc.derivation import Step
from archcalc.render import units
from archcalc.report import LayerRow, Report, describe_attrs


def value_text(step: Step) -> str:
    """``760``; ``40,960 B (40.0 KiB)`` for bytes."""
    value = step.value
    if isinstance(value, str):
        return value
    if isinstance(value, float) and not value.is_integer():
        text = f"{value:g}"
    else:
        text = f"{int(value):,}"
    if step.key.endswith("bytes") or "_bytes" in step.key:
        text += f" B ({units.nbytes_short(int(value))})" if abs(value) >= 1024 else " B"
    return text


def equation_parts(step: Step) -> list[str]:
    """``[formula, substituted, value]``, leaving out the parts that repeat."""
    value = value_text(step)
    parts = [step.formula] if step.formula else []
    plain = {value, str(step.value), f"{step.value:,}" if isinstance(step.value, int) else str(step.value)}
    substituted = step.substituted
    if substituted and substituted != step.formula and substituted not in plain and \
            substituted.replace(" ", "") not in plain:
        parts.append(substituted)
    parts.append(value)
    return parts


def equation(step: Step) -> str:
    """``formula = substituted = value`` on one line."""
    return " = ".join(equation_parts(step))


def steps_table(steps: Iterable[Step], width: int = 80) -> Table:
    """Quantity on the left; the equation on one line when it fits in ``width`` columns,
    else formula, ``= arithmetic`` and ``= value`` under each other, as on a blackboard."""
    steps = list(steps)
    quantity_width = max((len(s.quantity) for s in steps), default=0)
    room = max(20, width - quantity_width - 8)
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    for step in steps:
        parts = equation_parts(step)
        line = " = ".join(parts)
        if len(line) <= room:
            text = Text(line)
        else:
            text = Text(parts[0])
            for part in parts[1:]:
                text.append("\n= " + part)
        if step.note:
            text.append("\n" + step.note, style="dim italic")
        grid.add_row(Text(step.quantity), text)
    return grid


def row_title(row: LayerRow) -> str:
    from archcalc.render.table import ordered_attrs

    attrs = describe_attrs(row.op, ordered_attrs(row.attrs))
    inputs = " + ".join(units.shape(s) for s in row.input_shapes)
    return f"{row.name}: {row.op} {attrs}".rstrip() + f", input {inputs}"


def derivation_panels(
    report: Report, rows: list[tuple[LayerRow, list[Step]]], totals: list[Step] | None, width: int = 80
) -> Group:
    """One panel per layer (and one for the totals), for a console ``width`` columns wide."""
    panels = []
    for row, steps in rows:
        panels.append(Panel(steps_table(steps, width), title=Text(row_title(row)), title_align="left",
                            box=box.ROUNDED, expand=False))
    if totals:
        title = f"totals: {report.model}, batch {report.batch}, {report.dtype}, convention {report.convention.name}"
        panels.append(Panel(steps_table(totals, width), title=Text(title), title_align="left", box=box.ROUNDED,
                            expand=False))
    return Group(*panels)


def steps_markdown(title: str, steps: Iterable[Step]) -> str:
    """A derivation as Markdown: a heading and one line per step."""
    lines = [f"### {title}", ""]
    for step in steps:
        line = f"- **{step.quantity}**: `{equation(step)}`"
        if step.note:
            line += f" ({step.note})"
        lines.append(line)
    return "\n".join(lines) + "\n"


def step_dict(step: Step) -> dict:
    return {
        "quantity": step.quantity,
        "key": step.key,
        "formula": step.formula,
        "substituted": step.substituted,
        "value": step.value,
        "note": step.note,
    }
