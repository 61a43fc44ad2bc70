"""Frozen dataclass instances made without their generated ``__init__``, for the per-layer records.

A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__`` (its own
``__setattr__`` refuses), looked up anew for every field: about 0.15 µs a field, 3 µs for a
20-field :class:`~archcalc.report.LayerRow`. A 100,000-layer table makes a Node, a LayerRow, a
ReceptiveField and a table Entry per layer, about 50 fields.

These four records have slots (``@dataclass(frozen=True, slots=True)``: no per-instance
``__dict__``, a third less memory each), and :func:`frozen_record` sets their slots through
``object.__setattr__`` bound once. The result is the object ``cls(**values)`` would be: equal,
hashed and printed alike, and frozen all the same. (Filling ``__dict__`` at once was faster still
but made each record twice as large: 55 MiB more for 100,000 layers.)

Only for dataclasses without ``__post_init__`` and without defaults the caller leaves out:
``values`` must name every field (``tests/test_frozen_records.py`` checks each caller's records
against the dataclass's own constructor).
"""

from __future__ import annotations

from typing import Any, TypeVar

T = TypeVar("T")

_new = object.__new__
_set = object.__setattr__


def frozen_record(cls: type[T], **values: Any) -> T:
    """``cls(**values)`` for a frozen dataclass ``cls`` whose every field ``values`` names."""
    record = _new(cls)
    for name, value in values.items():
        _set(record, name, value)
    return record
