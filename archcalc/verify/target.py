"""The thing ``verify`` runs: a Graph, the torch module that runs it, and which module runs which layer.

* A zoo name or a YAML spec is built by :func:`archcalc.torch_builder.build_module`:
  every layer is a module of the same name.
* A live module (``file.py:Class``, ``torchvision:NAME``, or an ``nn.Module``
  object) is read by :mod:`archcalc.frontends.torch_module`; layers that are
  leaf modules are hooked by name, the rest (functional ops in ``forward``)
  are checked through the counters' totals only.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from archcalc.errors import InputError
from archcalc.ir import Graph


@dataclass
class Target:
    graph: Graph
    module: nn.Module
    #: layer name -> the module that runs it (layers that are modules)
    layer_modules: dict[str, nn.Module]
    #: layer name -> that module's qualified name in ``module``
    module_names: dict[str, str]
    origin: str
    extras: dict[str, Any] = field(default_factory=dict)


def spec_target(graph: Graph, device: str, dtype: torch.dtype) -> Target:
    from archcalc.torch_builder import build_module

    with torch.random.fork_rng(devices=[]):  # the same weights every run, the caller's RNG untouched
        torch.manual_seed(0)
        module = build_module(graph, device=device, dtype=dtype)
    named = dict(module.named_modules())
    return Target(
        graph=graph,
        module=module,
        layer_modules={node.name: named[node.name] for node in graph.nodes},
        module_names={node.name: node.name for node in graph.nodes},
        origin="built from the spec by archcalc.torch_builder",
    )


def module_path(layer: str) -> str:
    """The module path of a layer named by the live-module frontend: ``layer1.0.relu#2`` -> ``layer1.0.relu``."""
    return layer.split("#", 1)[0]


def live_target(graph: Graph, module: nn.Module, device: str, dtype: torch.dtype, extras: dict[str, Any],
                owned: bool = False) -> Target:
    """A live module moved to ``device`` and ``dtype``: a copy unless ``owned`` (the user's module is left as it was).

    Layers whose path (``#k`` call suffix dropped) is a leaf module are hooked;
    a module called several times runs its layers in turn.
    """
    if any(t.is_meta for t in list(module.parameters()) + list(module.buffers())):
        raise InputError(f"{type(module).__name__} has no weights (it is on the meta device); verify runs it for real",
                         hint="build the module on the CPU")
    if not owned:
        module = copy.deepcopy(module)
    module = module.to(device=device, dtype=dtype).eval()
    named = dict(module.named_modules())
    layer_modules, module_names = {}, {}
    for node in graph.nodes:
        path = module_path(node.name)
        if path and path in named and not list(named[path].children()):
            layer_modules[node.name] = named[path]
            module_names[node.name] = path
    return Target(
        graph=graph,
        module=module,
        layer_modules=layer_modules,
        module_names=module_names,
        origin="live module (graph by archcalc.frontends.torch_module)",
        extras=extras,
    )


def load_target(
    model: Any,
    input: Any,
    device: str,
    dtype: torch.dtype,
    layout: str | None = None,
    strict: bool = False,
    args: dict[str, str] | None = None,
) -> Target:
    """A zoo name, a YAML path, a module target string or an ``nn.Module`` -> a runnable Target."""
    from archcalc.api import is_module_target, load_graph

    if isinstance(model, nn.Module) or is_module_target(str(model)):
        from archcalc.frontends.torch_module import capture_module, load_module_target

        owned = not isinstance(model, nn.Module)
        module = load_module_target(str(model), args or {}, device="cpu") if owned else model
        if input is None:
            raise InputError("a live module needs --input (one sample's shape, e.g. 224x224x3)")
        captured = capture_module(module, input, layout=layout)
        extras = {"not_counted": captured.not_counted, "trainable": captured.trainable}
        return live_target(captured.graph, module, device, dtype, extras, owned=owned)
    graph, extras = load_graph(str(model), input=input, layout=layout, strict=strict, args=args)
    target = spec_target(graph, device, dtype)
    target.extras = extras
    return target
