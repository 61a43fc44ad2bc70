"""The key of a layer: what its rule computes is a function of this key alone.

A rule is pure: its normalised arguments, output shape, counts, receptive-field step and
weight shape depend only on the op, the arguments and the input shapes. A 100,000-layer
``repeat:`` or a transformer's identical blocks hold few distinct layers, so the graph
builder and the analysis derive each distinct one once and look the others up by key.

The key is exact: the bytes ``marshal`` (format 2, which has no back-references, so two
equal values always give equal bytes) writes for the op, the arguments and the shapes.
Those bytes carry every value's type: ``3``, ``3.0`` and ``True``, equal to Python and in a
dict, give three keys, as a rule may treat them differently (a kernel of ``3.0`` is an
error); a list and a tuple differ too. ``marshal`` writes only Python's core types, in C; a
value of another type (a Fraction, an object a live module passed) gives no key, and the
layer is derived as it is. The spec reader's strings and lists carry their line in the file
(subclasses of ``str`` and ``list``); a rule reads only their text and items, and so does the
key (the names of the arguments and their values, one level deep).
"""

from __future__ import annotations

import marshal
from typing import Any

#: marshal's format without back-references (format 3 added them: then equal values shared or
#: not would give different bytes)
_FORMAT = 2
#: the set of the types of names that are all plain text
_PLAIN_TEXT = {str}


def layer_key(op: str, args: Any, in_shapes: tuple, *more: Any) -> bytes | None:
    """The key of a layer whose rule is ``op``, with arguments ``args`` (a mapping), input shapes
    ``in_shapes`` and ``more`` (an output shape); None when a value is not of a core type."""
    if type(args) is dict and set(map(type, args)) == _PLAIN_TEXT:
        names = args  # names already plain text (a rule's normalised attrs): the same bytes without a copy
    else:
        names = {str(name): value for name, value in args.items()}
    try:
        return marshal.dumps((op, names, in_shapes, more), _FORMAT)
    except ValueError:  # a value of another type, or the spec reader's text or list
        pass
    try:
        return marshal.dumps((op, {name: _plain(value) for name, value in names.items()}, in_shapes, more), _FORMAT)
    except ValueError:
        return None


def _plain(value: Any) -> Any:
    """A ``str`` or ``list`` subclass (the spec reader's, with a line) as the plain value it holds."""
    kind = type(value)
    if kind is str or kind is list or not isinstance(value, (str, list)):
        return value
    return str(value) if isinstance(value, str) else list(value)
