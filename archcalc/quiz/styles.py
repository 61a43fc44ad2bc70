"""How a table writes its answers: columns, headings, units, the shape layout.

A :class:`Style` comes from ``exercises/tables.yaml`` (``plain``, ``cs231n``, ``keras``,
``eecs498``) with the teacher's ``--rows`` and ``--columns`` on top. Values are written
exactly, in the column's unit:

* counts: ``1,792``; in ``K``, ``M``, ``G``: ``value / 1000^n`` as an exact decimal
  (``23.296`` K for 23,296);
* bytes: ``40,960``; in ``KB``, ``MB``, ``GB``: ``bytes / 1024^n`` exactly (``182.25`` KB
  for 186,624 B; EECS 498 divides by 1024); ``archcalc check`` reads KB as either;
* shapes: ``hwc`` 32x32x10, ``chw`` 10x32x32, ``keras`` (None, 32, 32, 10); a vector is
  its length (Keras: ``(None, 4096)``);
* receptive fields: ``5``, or ``5x7`` when height and width differ.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

from archcalc.errors import InputError
from archcalc.quiz.sheet import QUANTITIES, Column
from archcalc.quiz.templates import templates

#: how each quantity is headed by default
HEADINGS = {
    "shape": "Output shape",
    "weights": "Weights",
    "biases": "Biases",
    "params": "Params",
    "memory": "Memory (bytes)",
    "macs": "MACs",
    "flops": "FLOPs",
    "rf": "Receptive field",
}
#: units a column may be in, and the factor one unit is worth
COUNT_UNITS = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9}
BYTE_UNITS = {"B": 1, "KB": 2**10, "MB": 2**20, "GB": 2**30}
SHAPE_LAYOUTS = ("hwc", "chw", "keras")


@dataclass(frozen=True)
class Style:
    """Rows and columns of a table and how it writes values (see the module docstring).

    ``rows``: ``("all",)`` or kinds and layer names; ``total``: the columns of the total row."""

    name: str
    summary: str
    rows: tuple[str, ...]
    columns: tuple[Column, ...]
    shape: str = "hwc"
    input_row: bool = False
    convention: str | None = None
    total: tuple[str, ...] = ()

    def with_choices(self, rows: tuple[str, ...] = (), columns: tuple[str, ...] = (),
                     total: tuple[str, ...] | None = None) -> Style:
        """This style with the teacher's rows and columns (``--rows``, ``--columns``)."""
        changed = self
        if rows:
            changed = replace(changed, rows=rows)
        if columns:
            by_quantity = {c.quantity: c for c in self.columns}
            changed = replace(changed, columns=tuple(by_quantity.get(q) or column(q) for q in columns))
            total = tuple(q for q in (self.total if total is None else total) if q in columns)
        if total is not None:
            changed = replace(changed, total=total)
        return changed


def column(entry: Any) -> Column:
    """A column from a quantity name or ``{quantity, heading, unit}``."""
    if isinstance(entry, str):
        entry = {"quantity": entry}
    quantity = str(entry.get("quantity", "")).lower()
    if quantity not in QUANTITIES:
        raise InputError(f"unknown column '{quantity}' (choose from {', '.join(QUANTITIES)})")
    heading = entry.get("heading") or HEADINGS[quantity]
    unit = entry.get("unit")
    if unit is None:
        unit = ("elements" if "element" in heading.lower() else "B") if quantity == "memory" else ""
    units = (*BYTE_UNITS, "elements") if quantity == "memory" else tuple(COUNT_UNITS)
    if quantity in ("shape", "rf"):
        units = ("",)
    if unit not in units:
        choices = ", ".join(u or "(none)" for u in units)
        raise InputError(f"column '{quantity}': unknown unit '{unit}' (choose from {choices})")
    return Column(quantity, heading, unit)


def style(name: str) -> Style:
    """A style of ``tables.yaml`` by name."""
    found = templates("tables")
    if name not in found:
        raise InputError(f"unknown table style '{name}' (choose from {', '.join(found)})")
    body = found[name]
    rows = body.get("rows", "all")
    shape = body.get("shape", "hwc")
    if shape not in SHAPE_LAYOUTS:
        raise InputError(f"table style '{name}': shape must be one of {', '.join(SHAPE_LAYOUTS)}")
    return Style(
        name=name,
        summary=str(body.get("summary", "")),
        rows=(rows,) if isinstance(rows, str) else tuple(str(r) for r in rows),
        columns=tuple(column(c) for c in body.get("columns", [])),
        shape=shape,
        input_row=bool(body.get("input_row", False)),
        convention=body.get("convention"),
        total=tuple(body.get("total", ())),
    )


def style_names() -> list[str]:
    return list(templates("tables"))


# -- writing values ---------------------------------------------------------------------


def exact_decimal(value: Fraction) -> str:
    """A fraction whose denominator divides a power of ten, written out exactly
    (``Fraction(2912, 125)`` -> ``23.296``); thousands separated by commas."""
    value = Fraction(value)
    sign = "-" if value < 0 else ""
    value = abs(value)
    whole = value.numerator // value.denominator
    rest = value - whole
    digits = ""
    while rest and len(digits) < 30:
        rest *= 10
        digit = rest.numerator // rest.denominator
        digits += str(digit)
        rest -= digit
    return f"{sign}{whole:,}" + (f".{digits}" if digits else "")


def write_number(value: int, unit: str = "") -> str:
    """A count or a number of bytes in the column's unit (see the module docstring)."""
    factor = COUNT_UNITS.get(unit) or BYTE_UNITS.get(unit) or 1
    return exact_decimal(Fraction(value, factor))


def write_shape(shape: tuple[int, ...], layout: str = "hwc") -> str:
    """A (C, H, W) or (F,) shape as the table writes it."""
    if len(shape) == 3:
        c, h, w = shape
        if layout == "chw":
            return f"{c}x{h}x{w}"
        if layout == "keras":
            return f"(None, {h}, {w}, {c})"
        return f"{h}x{w}x{c}"
    if layout == "keras":
        return "(None, " + ", ".join(str(v) for v in shape) + ")"
    return "x".join(str(v) for v in shape)


def write_rf(size: tuple[Fraction, Fraction]) -> str:
    """``5``, or ``5x7`` where height and width differ."""
    h, w = (exact_decimal(Fraction(v)) for v in size)
    return h if h == w else f"{h}x{w}"


def shape_words(layout: str) -> str:
    return {"hwc": "H x W x C", "chw": "C x H x W", "keras": "(None, H, W, C) as Keras prints it"}[layout]


__all__ = ["BYTE_UNITS", "COUNT_UNITS", "HEADINGS", "Style", "column", "exact_decimal", "shape_words", "style",
           "style_names", "write_number", "write_rf", "write_shape"]
