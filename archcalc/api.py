"""The library entry points the CLI uses, reachable as ``import archcalc``.

* :func:`load_graph` -- a zoo name, a YAML path, a one-line spec in YAML flow
  style (``{input: 32x32x3, layers: [conv: {filters: 10, kernel: 5}]}``, what
  quiz sheets carry in their ``Model:`` line) or a module target
  (``file.py:Class``, ``torchvision:resnet50``) to a Graph;
* :func:`analyze` -- the same, or a live ``nn.Module``, to a Report.

torch is imported only for module targets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from archcalc.analysis import analyze_graph
from archcalc.conventions import Convention, get_convention
from archcalc.errors import ArchcalcError, SourceLocation
from archcalc.ir import Graph
from archcalc.report import Report


def is_inline_spec(model: str) -> bool:
    """A whole spec written on one line in YAML flow style: ``{name: q1, input: 32x32x3, layers: [...]}``."""
    return model.lstrip().startswith("{")


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
    kwargs: dict[str, Any] | None = None,
    batch: int = 1,
) -> tuple[Graph, dict[str, Any]]:
    """The Graph of a zoo name, a YAML spec or a module target, and extras for the analysis
    (``not_counted`` and ``trainable`` of live modules; ``batch`` 1 when a live module had
    to be analysed as a whole batch).

    ``input``: a spec's input (``"224x224x3"``); a module's one input, or a list of
    inputs for several arguments (``["3x32x32", "10:int64"]``); ``kwargs``: a module's
    keyword inputs (``{"attention_mask": "128:int64"}``).
    """
    from archcalc.errors import InputError
    from archcalc.inputs import check_layout

    layout = check_layout(layout, input)
    if is_inline_spec(model):
        from archcalc.spec import load_spec_text

        return load_spec_text(model, "<inline spec>", input=input, layout=layout, strict=strict), {}
    if is_module_target(model):
        from archcalc.frontends import capture_module, load_module_target

        if input is None and not kwargs:
            raise InputError(f"{model} is a module: give its input size with --input (e.g. 224x224x3)")
        module = load_module_target(model, args or {})
        try:
            result = capture_module(module, input, kwargs=kwargs, name=model, layout=layout, batch=batch)
        except ArchcalcError as error:  # name the user's file when the message does not
            file = model.rpartition(":")[0]
            raise error.with_context(location=SourceLocation(file) if file.endswith(".py") else None) from None
        extras: dict[str, Any] = {"not_counted": result.not_counted, "trainable": result.trainable}
        if any(w.kind == "whole batch" for w in result.graph.warnings):
            extras["batch"] = 1
        return result.graph, extras
    from archcalc.spec import load_spec
    from archcalc.zoo import resolve_model, shown_path

    if kwargs:
        raise InputError(f"{model} is a spec: keyword inputs (--kwarg) are for live modules")
    if isinstance(input, (list, tuple)) and not all(isinstance(v, int) for v in input):
        if len(input) != 1:
            raise InputError(f"{model} is a spec with one input; got {len(input)} --input values")
        input = input[0]
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
    kwargs: dict[str, Any] | None = None,
) -> Report:
    """Analyse a model: a zoo name, a path to a YAML spec, a module target string,
    or a live ``torch.nn.Module`` (then ``input`` is its per-sample input shape, or a
    list of inputs, and ``kwargs`` its keyword inputs).

    >>> archcalc.analyze("vgg16", "224x224x3").totals.params
    138357544
    """
    if isinstance(convention, str):
        convention = get_convention(convention, include, exclude)
    if not isinstance(model, (str, Path)):
        from archcalc.frontends.torch_module import analyze_module

        return analyze_module(model, input, batch=batch, dtype=dtype, convention=convention, kwargs=kwargs,
                              layout=layout)
    graph, extras = load_graph(str(model), input=input, layout=layout, strict=strict, args=args, kwargs=kwargs,
                               batch=batch)
    batch = extras.pop("batch", batch)
    return analyze_graph(graph, batch=batch, dtype=dtype, convention=convention, **extras)
