"""The leaves of what torch functions take and return: ``tree_flatten(tree)[0]``, faster.

The capture flattens the arguments and outputs of every torch call and aten op. torch's
``tree_flatten`` builds a tree spec it then throws away, which made it a tenth of a meta
capture's time. :func:`leaves` walks plain tuples, lists and dicts itself, in the order
``tree_flatten`` uses (a dict by insertion order), and hands anything else pytree knows as a
container (named tuples, ``torch.return_types``, ``OrderedDict``, transformers'
``ModelOutput``, ``None``) to ``tree_flatten``; everything else is a leaf.
"""

from __future__ import annotations

from typing import Any

from torch.utils._pytree import SUPPORTED_NODES, tree_flatten


def leaves(tree: Any) -> list[Any]:
    """The leaves of ``tree``, as ``tree_flatten(tree)[0]`` gives them."""
    found: list[Any] = []
    _collect(tree, found)
    return found


def _collect(value: Any, found: list[Any]) -> None:
    kind = type(value)
    if kind is tuple or kind is list:
        for item in value:
            _collect(item, found)
    elif kind is dict:
        for item in value.values():
            _collect(item, found)
    elif kind in SUPPORTED_NODES or issubclass(kind, (tuple, list, dict)):
        found.extend(tree_flatten(value)[0])
    else:
        found.append(value)
