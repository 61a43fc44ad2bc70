"""Three heavy modules a meta forward only brushes against, stood in for while a capture runs.

A live analysis runs the model on meta tensors, whose kernels are mostly
Python. Three of the modules they touch cost far more to import than the
capture itself (``python -X importtime``, ResNet-50 on this project's CI
machine: about 1 s for ``torch._dynamo``, 0.6 s for sympy, against 0.2 s for
the capture):

* ``torch._dynamo``: Python references (``torch._refs.add``, the
  decomposition of ``native_batch_norm``) are wrapped in
  ``torch._disable_dynamo``, whose first call imports ``torch._dynamo`` only
  to mark the function "do not compile" (``torch/_compile.py``). The stand-in's
  ``disable(fn)`` returns ``fn``, which the wrapper then calls: the same
  function without the compile guard (archcalc never compiles).
* ``torch.fx.experimental.symbolic_shapes`` (which imports sympy):
  ``torch._check(cond)`` imports it to call ``expect_true(cond)`` even when
  ``cond`` is a plain bool, as it always is with concrete meta shapes, and meta
  kernels call ``sym_and``, ``guard_or_false``... on plain ints. The
  stand-in's helpers give, for plain values, what the real ones give
  (``expect_true(True)`` is ``True``).
* ``sympy``: type promotion (``torch._prims_common.elementwise_dtypes``)
  imports it to ask ``isinstance(x, sympy.Basic)`` of each operand; with
  concrete shapes none is, and the stand-in's ``Basic`` is a class no value
  belongs to.

Anything else asked of a stand-in (a user's forward reading
``torch._dynamo.config``, a symbolic value) imports the real module on the
spot. Afterwards the stand-ins are removed and the marks left on functions are
cleared, so the rest of the process (a later ``torch.compile``) sees torch as
it was. A module already imported is left alone.

One more stand-in, for ``transformers``: its models guard every check that reads
tensor values (packed-sequence detection from ``position_ids``, an all-ones mask
skipped) with ``is_tracing(tensor)``, true under torch.compile, torch.export, jit
and fake tensors, whose values are unknown too. A meta tensor has no values either,
so while a capture runs, :func:`traced_meta_in_transformers` makes ``is_tracing``
true of meta tensors in every loaded ``transformers`` module: the model takes the
path it takes under ``torch.export`` instead of failing on ``.item()``.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
import types
from collections.abc import Callable, Iterator
from typing import Any

_DYNAMO = "torch._dynamo"
_SHAPES = "torch.fx.experimental.symbolic_shapes"
_SYMPY = "sympy"


class _Root:
    """Stands for the parent of a top-level module (nothing to attach it to)."""
_MARK = "__dynamo_disable"


def _stand_in(name: str, doc: str, attributes: dict[str, object], parent, child: str) -> tuple[types.ModuleType, Callable]:
    """A module object under ``name`` whose unknown attributes import the real module."""
    spec = importlib.util.find_spec(name)
    module = types.ModuleType(name, doc)
    if spec is not None and spec.submodule_search_locations is not None:
        module.__path__ = list(spec.submodule_search_locations)

    def remove() -> None:
        if sys.modules.get(name) is module:
            del sys.modules[name]
        if vars(parent).get(child) is module:
            delattr(parent, child)

    def missing(attribute: str):
        if attribute.startswith("__"):  # the import system asks for __path__ and the like: not a reason
            raise AttributeError(attribute)
        remove()
        return getattr(importlib.import_module(name), attribute)

    vars(module).update(attributes)
    module.__getattr__ = missing
    sys.modules[name] = module
    setattr(parent, child, module)
    return module, remove


def _plain(value) -> bool:
    """A concrete Python value (bool, int, float, or a tuple / list of them), never symbolic."""
    if type(value) in (bool, int, float):
        return True
    return isinstance(value, (tuple, list)) and all(_plain(v) for v in value)  # torch.Size is a tuple


def _shape_checks(load_real: Callable[[], types.ModuleType]) -> dict[str, Callable]:
    """The helpers of symbolic_shapes that meta kernels call, on concrete values (what the real
    ones return for plain bools and ints); symbolic values go to the real module."""

    def real(name: str) -> Callable:
        return getattr(load_real(), name)

    def same(name: str) -> Callable:
        def check(value, *args, **kwargs):
            return value if type(value) in (bool, int) else real(name)(value, *args, **kwargs)

        return check

    def combine(name: str, join: Callable) -> Callable:
        def check(first, *others):
            values = (first, *others)
            return join(values) if all(type(v) is bool for v in values) else real(name)(first, *others)

        return check

    def sym_eq(x, y):
        return x == y if _plain(x) and _plain(y) else real("sym_eq")(x, y)

    def constant(name: str, answer) -> Callable:
        def check(value, *args, **kwargs):
            return answer if _plain(value) else real(name)(value, *args, **kwargs)

        return check

    checks = {name: same(name) for name in ("expect_true", "guard_or_false", "guard_or_true", "guard_bool",
                                            "guard_size_oblivious", "statically_known_true", "guard_int",
                                            "optimization_hint", "guarding_hint_or_throw")}
    checks.update(
        sym_and=combine("sym_and", all),
        sym_or=combine("sym_or", any),
        sym_eq=sym_eq,
        is_concrete_int=constant("is_concrete_int", True),
        is_symbolic=constant("is_symbolic", False),
        is_nested_int=constant("is_nested_int", False),
        has_guarding_hint=constant("has_guarding_hint", True),
        has_free_unbacked_symbols=constant("has_free_unbacked_symbols", False),
        free_unbacked_symbols=constant("free_unbacked_symbols", ()),
    )
    return checks


_LOADED: dict[str, Any] = {"count": -1, "modules": []}


def _transformers_modules() -> list[types.ModuleType]:
    """The loaded ``transformers`` modules (the scan of ``sys.modules`` is redone only when a
    module was loaded or removed since the last one)."""
    if _LOADED["count"] != len(sys.modules):
        _LOADED["modules"] = [module for name, module in list(sys.modules.items()) if name.startswith("transformers")]
        _LOADED["count"] = len(sys.modules)
    return _LOADED["modules"]


@contextlib.contextmanager
def traced_meta_in_transformers() -> Iterator[None]:
    """``transformers``' ``is_tracing(tensor)`` is also true of a meta tensor, in every loaded
    ``transformers`` module that imported it; put back afterwards."""
    utils = sys.modules.get("transformers.utils.import_utils")
    original = getattr(utils, "is_tracing", None)
    if original is None:
        yield
        return

    def is_tracing(tensor=None) -> bool:
        return original(tensor) or bool(getattr(tensor, "is_meta", False))

    patched = [module for module in _transformers_modules() if getattr(module, "is_tracing", None) is original]
    for module in patched:
        module.is_tracing = is_tracing
    try:
        yield
    finally:
        for module in patched:
            if getattr(module, "is_tracing", None) is is_tracing:
                module.is_tracing = original


@contextlib.contextmanager
def light_torch_imports() -> Iterator[None]:
    import torch
    import torch.fx.experimental as experimental

    removers: list[Callable[[], None]] = []
    marked: list = []
    if _DYNAMO not in sys.modules:

        def disable(fn=None, recursive=True, *, wrapping=True, reason=None):
            if fn is None:
                return lambda inner: disable(inner, recursive, wrapping=wrapping, reason=reason)
            marked.append(fn)
            return fn

        attributes = {"disable": disable, "is_compiling": lambda: False}
        removers.append(_stand_in(_DYNAMO, "archcalc's stand-in (archcalc.frontends.stand_ins)", attributes, torch,
                                  "_dynamo")[1])
    if _SHAPES not in sys.modules:
        shapes, remove_shapes = _stand_in(_SHAPES, "archcalc's stand-in (archcalc.frontends.stand_ins)", {},
                                          experimental, "symbolic_shapes")

        def load_real() -> types.ModuleType:  # a symbolic value: the real module, the stand-in gone first
            remove_shapes()
            return importlib.import_module(_SHAPES)

        vars(shapes).update(_shape_checks(load_real))
        removers.append(remove_shapes)
    if _SYMPY not in sys.modules:
        removers.append(_stand_in(_SYMPY, "archcalc's stand-in (archcalc.frontends.stand_ins)",
                                  {"Basic": type("Basic", (), {})}, _Root, "sympy")[1])
    try:
        with traced_meta_in_transformers():
            yield
    finally:
        for fn in marked:
            if getattr(fn, _MARK, None) is fn:
                with contextlib.suppress(AttributeError, TypeError):
                    delattr(fn, _MARK)
        for remove in removers:
            remove()
