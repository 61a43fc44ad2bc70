"""What a torch call means in archcalc's terms: the families' torch tables, gathered.

Every family (:mod:`archcalc.layers`) lists what it captures in a live module:
``torch.nn`` classes, torch functions and tensor methods, aten ops, each with
a handler. This module gathers those tables from the registry and answers
the capture's three questions:

* :func:`leaf_mapper` -- a known leaf module (exact type, not subclasses,
  which may override ``forward``), mapped whole from its own
  hyper-parameters, so names and parameter counts are exact;
* :func:`function_specs` -- a torch-level call as the user wrote it
  (``torch.tanh``, ``F.max_pool2d``, ``x.reshape``, ``+=``, ``torch.cat``,
  ``@``), by its normalised name (:func:`function_name`);
* :func:`aten_specs` -- any other aten op, one at a time, falling back to the
  generic family's handler (views, point-wise ops by their tag, copies...; an
  op without a mapping becomes an unpriced record listed in
  ``Report.not_counted``).

Several families may handle one name (``x @ y``: a product of two
activations, or of an activation and a learned matrix): their handlers are
tried in registry order, generic families last, until one returns specs.
Handlers never look at tensor values: only shapes, parameter identity and
arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from torch import nn

from archcalc.layers import all_families

Handler = Callable[[Any], Any]

#: aten ops whose output depends on the input's shape only: constants, not layers
FACTORIES = {
    "empty_like",
    "zeros_like",
    "ones_like",
    "full_like",
    "rand_like",
    "randn_like",
    "randint_like",
    "new_empty",
    "new_zeros",
    "new_ones",
    "new_full",
    "new_empty_strided",
    "empty_strided",
    "scalar_tensor",
}


def _families():
    """Families in registry order, generic ones last."""
    families = list(all_families().values())
    return [f for f in families if not f.generic] + [f for f in families if f.generic]


def _gather(facet: str) -> dict[str, tuple[Handler, ...]]:
    table: dict[str, tuple[Handler, ...]] = {}
    for family in _families():
        for name, handler in family.table(facet).items():
            table[name] = table.get(name, ()) + (handler,)
    return table


@cache
def _modules() -> dict[type, Handler]:
    table: dict[type, Handler] = {}
    for family in _families():
        for name, mapper in family.table("torch_modules").items():
            cls = getattr(nn, name)
            if cls in table:
                raise RuntimeError(f"torch.nn.{name} is claimed by two families")
            table[cls] = mapper
    return table


@cache
def _functions() -> dict[str, tuple[Handler, ...]]:
    return _gather("torch_functions")


@cache
def _aten() -> dict[str, tuple[Handler, ...]]:
    return _gather("aten_ops")


@cache
def _spellings() -> dict[str, str]:
    spellings: dict[str, str] = {}
    for family in _families():
        spellings.update(family.spellings)
    return spellings


@cache
def _fallback() -> Handler:
    fallbacks = [f.aten_fallback for f in _families() if f.aten_fallback is not None]
    if len(fallbacks) != 1:
        raise RuntimeError(f"exactly one family must handle unclaimed aten ops, found {len(fallbacks)}")
    return fallbacks[0]


@cache
def _shortcuts() -> frozenset[str]:
    return frozenset(name for family in _families() for name in family.meta_shortcuts)


def meta_shortcut(name: str) -> bool:
    """A function whose output on meta tensors has its first input's shape (``F.batch_norm``)."""
    return name in _shortcuts()


def leaf_mapper(module: Any) -> Handler | None:
    """The mapper of a known leaf module's exact type, or None."""
    return _modules().get(type(module))


def function_name(func: Any) -> str:
    """A torch function's name as the tables key it (``__iadd__`` and ``add_`` -> ``add``)."""
    name = getattr(func, "__name__", "") or ""
    return _spellings().get(name, name)


def has_function(name: str) -> bool:
    return name in _functions()


def aten_name(func: Any) -> str:
    name = func.overloadpacket.__name__
    return name[:-1] if name.endswith("_") and not name.endswith("__") else name


_HANDLER_ERRORS = (IndexError, KeyError, TypeError, ValueError, AttributeError)


def _first(handlers: tuple[Handler, ...], call: Any) -> list | None:
    for handler in handlers:
        try:
            specs = handler(call)
        except _HANDLER_ERRORS:
            specs = None
        if specs:
            return specs
    return None


def function_specs(call: Any) -> list | None:
    """Specs of one torch-level call, or None when no family maps it."""
    return _first(_functions().get(call.name, ()), call)


def aten_specs(call: Any) -> list | None:
    """Specs of one aten op that has at least one activation among its inputs."""
    return _first(_aten().get(call.name, ()) + (_fallback(),), call)
