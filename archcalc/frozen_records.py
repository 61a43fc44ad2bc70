"""Frozen dataclass instances made without their generated ``__init__``, for the per-layer records.

A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__`` (its own
``__setattr__`` refuses), looked up anew for every field: about 0.15 µs a field, 3 µs for a
20-field :class:`~archcalc.report.LayerRow`. A 100,000-layer table makes a Node, a LayerRow, a
ReceptiveField and a table Entry per layer, about 50 fields.

These four records have slots (``@dataclass(frozen=True, slots=True)``: no per-instance
``__dict__``, a third less memory each), and :func:`record_maker` gives each a maker that sets
their slots through ``object.__setattr__`` bound once. A record it makes is the object
``cls(**values)`` would be: equal, hashed and printed alike, and frozen all the same. (Filling
``__dict__`` at once was faster still but made each record twice as large: 55 MiB more for
100,000 layers.)

A maker takes every field as a keyword, none left out (a missing one is a TypeError, as for the
dataclass without defaults), and runs no ``__post_init__``: only for dataclasses without one
(``tests/test_frozen_records.py`` checks the records against the dataclass's own constructor).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, TypeVar

T = TypeVar("T")


def record_maker(cls: type[T]) -> Callable[..., T]:
    """A function ``make(*, field1, field2, ...)`` that returns ``cls(field1=..., ...)``, made once
    per class (the source is written from the dataclass's fields, as dataclasses writes ``__init__``)."""
    if not getattr(cls, "__slots__", None) or hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__}: record_maker is for frozen dataclasses with slots, without __post_init__")
    names = [field.name for field in dataclasses.fields(cls)]
    body = "".join(f"    _set(record, {name!r}, {name})\n" for name in names)
    source = f"def make(*, {', '.join(names)}):\n    record = _new(_cls)\n{body}    return record\n"
    scope: dict[str, Any] = {"_new": object.__new__, "_set": object.__setattr__, "_cls": cls}
    exec(compile(source, f"<record_maker {cls.__name__}>", "exec"), scope)  # noqa: S102 (our own field names)
    make = scope["make"]
    make.__qualname__ = make.__name__ = f"make_{cls.__name__}"
    make.__doc__ = f"``{cls.__name__}(...)`` with every field given (archcalc.frozen_records)."
    return make
