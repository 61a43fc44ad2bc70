"""The library entry points the CLI uses, reachable as ``import archcalc``.

* :func:`load_graph` -- a zoo name, a YAML path or a module target
  (``file.py:Class``, ``torchvision:resnet50``) to a Graph;
* :func:`analyze` -- the same, or a live ``nn.Module``, to a Report.

torch is imported only for module targets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from archcalc.analysis import analyze_graph
from archcalc.conventions import Convention, get_convention
from archcalc.ir import Graph
from archcalc.report import Report


def is_module_target(model: str) -> bool:
    """``file.py:Class``, ``torchvision:NAME`` or ``timm:NAME``."""
    from archcalc.frontends import is_module_target as check

    return check(model)


def load_graph(
    model: str,
    input: Any = None,
    layout: str | None = None,
    strict: bool = False,
    args: dict[str, str] | None = None,
) -> tuple[Graph, dict[str, Any]]:
    """The Graph of a zoo name, a YAML spec or a module target, and extras for the analysis
    (``not_counted`` and ``trainable`` of live modules)."""
    if is_module_target(model):
        from archcalc.errors import InputError
        from archcalc.frontends import capture_module, load_module_target

        if input is None:
            raise InputError(f"{model} is a module: give its input size with --input (e.g. 224x224x3)")
        module = load_module_target(model, args or {})
        result = capture_module(module, input, name=model, layout=layout)
        return result.graph, {"not_counted": result.not_counted, "trainable": result.trainable}
    from archcalc.spec import load_spec
    from archcalc.zoo import resolve_model, shown_path

    path = resolve_model(model)
    return load_spec(path, input=input, layout=layout, strict=strict, shown_as=shown_path(path)), {}


def analyze(
    model: Any,
    input: Any = None,
    *,
    batch: int = 1,
    dtype: str = "float32",
    convention: str | Convention = "macs",
    include: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    layout: str | None = None,
    strict: bool = False,
    args: dict[str, str] | None = None,
) -> Report:
    """Analyse a model: a zoo name, a path to a YAML spec, a module target string,
    or a live ``torch.nn.Module`` (then ``input`` is its per-sample input shape).

    >>> archcalc.analyze("vgg16", "224x224x3").totals.params
    138357544
    """
    if isinstance(convention, str):
        convention = get_convention(convention, include, exclude)
    if not isinstance(model, (str, Path)):
        from archcalc.frontends.torch_module import analyze_module

        return analyze_module(model, input, batch=batch, dtype=dtype, convention=convention)
    graph, extras = load_graph(str(model), input=input, layout=layout, strict=strict, args=args)
    return analyze_graph(graph, batch=batch, dtype=dtype, convention=convention, **extras)
