"""Frontends: sources of the IR other than YAML specs.

:mod:`archcalc.frontends.torch_module` analyses a live ``torch.nn.Module``
(capture in :mod:`~archcalc.frontends.torch_capture`, op tables in
:mod:`~archcalc.frontends.torch_ops`). torch is imported only when one of
these functions is called, so ``import archcalc`` and the YAML path stay
torch-free.

API (what the CLI and ``archcalc.analyze`` call):

* ``load_module_target(target, args) -> nn.Module`` for ``file.py:Class``,
  ``torchvision:NAME`` and ``timm:NAME``;
* ``analyze_module(module, inputs, batch=1, dtype="float32",
  convention="macs", name=None, kwargs=None) -> Report`` (``inputs``: a
  shape, a text such as ``"224x224x3"`` or ``"128:int64"``, or a list of
  them for several arguments; see :mod:`~archcalc.frontends.module_inputs`);
* ``capture_module(module, inputs, name=None, kwargs=None) -> CaptureResult``
  (the Graph, ``not_counted`` and ``trainable``) for callers that run
  ``analyze_graph`` themselves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from archcalc.errors import ArchcalcError

if TYPE_CHECKING:
    from archcalc.report import Report

__all__ = [
    "ModuleError",
    "analyze_module",
    "capture_module",
    "is_module_target",
    "load_module_target",
    "parse_arg_pairs",
]


class ModuleError(ArchcalcError):
    """A live module cannot be loaded or analysed: bad target, constructor or forward failure."""


def is_module_target(text: str) -> bool:
    """Whether a model argument names a module (``file.py:Class``, ``torchvision:X``, ``timm:X``), not a spec."""
    if not isinstance(text, str) or ":" not in text:
        return False
    prefix = text.split(":", 1)[0]
    return prefix in ("torchvision", "timm") or text.rpartition(":")[0].endswith(".py")


def parse_arg_pairs(pairs: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``["width=8", "act=gelu"]`` (repeated ``--arg``) -> ``{"width": "8", "act": "gelu"}``.

    Values stay text here; :func:`load_module_target` reads each as a Python
    literal when it is one (``8`` -> 8, ``[1, 2]`` -> a list, ``gelu`` -> "gelu").
    """
    args: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = str(pair).partition("=")
        if not sep or not key.strip():
            raise ModuleError(f"--arg takes key=value, got {pair!r}")
        args[key.strip()] = value
    return args


def load_module_target(target: str, args: dict[str, Any] | None = None, **kwargs: Any):
    from archcalc.frontends.module_loading import load_module_target as load

    return load(target, args, **kwargs)


def analyze_module(
    module,
    inputs=None,
    batch: int = 1,
    dtype: str = "float32",
    convention="macs",
    name: str | None = None,
    **kwargs: Any,
) -> Report:
    from archcalc.frontends.torch_module import analyze_module as analyze

    return analyze(module, inputs, batch=batch, dtype=dtype, convention=convention, name=name, **kwargs)


def capture_module(module, inputs=None, **kwargs: Any):
    from archcalc.frontends.torch_module import capture_module as capture

    return capture(module, inputs, **kwargs)


load_module_target.__doc__ = "Build the module a target names (see torch_module.load_module_target)."
analyze_module.__doc__ = "The per-layer Report of a live nn.Module (see torch_module.analyze_module)."
capture_module.__doc__ = "Trace one forward pass into a Graph (see torch_module.capture_module)."
