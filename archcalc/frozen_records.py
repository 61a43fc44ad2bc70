"""Frozen dataclass instances made without their generated ``__init__``, for the per-layer records.

A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__`` (its own
``__setattr__`` refuses): about 0.15 µs a field, 3 µs for a 20-field :class:`~archcalc.report.LayerRow`.
A 100,000-layer table makes a Node, a LayerRow, a ReceptiveField and a table Entry per layer, about
50 fields, and the calls cost 0.7 s of its 6 (``benchmarks/bench_hostile_sizes.py``).
:func:`frozen_record` fills the instance's ``__dict__`` at once instead; the result is the same
object: equal, hashed and printed as ``cls(**values)`` would be, and frozen all the same.

Only for dataclasses without ``__post_init__``, slots or field defaults that the caller leaves out:
``values`` must name every field (``tests/test_frozen_records.py`` checks each caller's records
against the dataclass's own constructor).
"""

from __future__ import annotations

from typing import Any, TypeVar

T = TypeVar("T")

_new = object.__new__


def frozen_record(cls: type[T], **values: Any) -> T:
    """``cls(**values)`` for a frozen dataclass ``cls`` whose every field ``values`` names."""
    record = _new(cls)
    record.__dict__.update(values)
    return record
