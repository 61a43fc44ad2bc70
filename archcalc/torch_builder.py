"""The torch backend: a :class:`~archcalc.ir.Graph` -> a runnable ``torch.nn.Module``.

This module imports torch at import time; the YAML path never imports it, only
code that wants a real module does (``verify``, tests).

Every node becomes one leaf module, registered under the node's name, so that
``dict(module.named_modules())[node.name]`` is that leaf. A dotted name such as
``layer1.0.conv1`` is a real hierarchy: ``layer1`` and ``layer1.0`` are plain
container modules (:class:`Scope`). If a node's own name is also the scope of
other nodes (``a`` and ``a.b``), the deeper nodes hang below the leaf of ``a``;
the leaf still runs only its own op.

``forward(x)`` runs the nodes in graph order on a dict of tensors
(``node.inputs`` name the producers; :data:`archcalc.ir.INPUT` is ``x``) and
drops each tensor after its last consumer. The module is returned in
``eval()`` mode.

Each node's module comes from its family: :meth:`Rule.to_torch
<archcalc.layers.base.Rule.to_torch>` (``conv`` -> ``nn.Conv2d``, ``add`` ->
a small ``Add`` module...); see the family modules in :mod:`archcalc.layers`.

A node that torch cannot express (an uneven pad on pooling, an op without a
mapping) raises :class:`~archcalc.errors.LayerError` naming the layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from archcalc.errors import LayerError
from archcalc.ir import INPUT, Graph, Node
from archcalc.layers import all_ops, lookup

__all__ = ["GraphModule", "Scope", "build_leaf", "build_module", "supported_ops"]


class Scope(nn.Module):
    """A container for the nodes under one name prefix (``layer1``, ``layer1.0``); no forward."""


def supported_ops() -> list[str]:
    """The canonical op names :func:`build_module` can turn into modules."""
    return sorted(op for op, rule in all_ops().items() if rule.provides("to_torch"))


def build_leaf(node: Node, device=None, dtype=None) -> nn.Module:
    """The torch module of one node (parameters on ``device`` in ``dtype``)."""
    rule = lookup(node.op)
    if rule is None or not rule.provides("to_torch"):
        reason = f": {rule.absent['to_torch']}" if rule is not None and "to_torch" in rule.absent else ""
        raise LayerError(
            f"the torch builder has no module for '{node.op}'{reason} (it knows: {', '.join(supported_ops())})",
            layer=node.name,
            op=node.op,
        )
    factory: dict[str, Any] = {}
    if device is not None:
        factory["device"] = device
    if dtype is not None:
        factory["dtype"] = dtype
    return rule.to_torch(node, factory)


# -- the graph module --------------------------------------------------------------


class GraphModule(nn.Module):
    """Runs a Graph's nodes in order; each node is the submodule of the same name."""

    def __init__(self, graph: Graph, leaves: Mapping[str, nn.Module]) -> None:
        super().__init__()
        # plain attributes (not submodules): the execution plan
        self._plan: list[tuple[str, tuple[str, ...]]] = [(node.name, tuple(node.inputs)) for node in graph.nodes]
        self._graph_name = graph.name
        last_use: dict[str, int] = {}
        for index, node in enumerate(graph.nodes):
            for tensor in node.inputs:
                last_use[tensor] = index
        output = graph.nodes[-1].name if graph.nodes else INPUT
        self._output = output
        self._free_after: list[tuple[str, ...]] = [
            tuple(t for t in dict.fromkeys(node.inputs) if last_use.get(t) == index and t != output)
            for index, node in enumerate(graph.nodes)
        ]
        _attach(self, leaves)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tensors: dict[str, torch.Tensor] = {INPUT: x}
        for (name, inputs), dead in zip(self._plan, self._free_after):
            layer = self.get_submodule(name)
            tensors[name] = layer(*(tensors[i] for i in inputs))
            for tensor in dead:
                del tensors[tensor]
        return tensors[self._output]

    def extra_repr(self) -> str:
        return f"graph={self._graph_name!r}, nodes={len(self._plan)}"


def _attach(root: nn.Module, leaves: Mapping[str, nn.Module]) -> None:
    """Register each leaf under its dotted name, creating :class:`Scope` containers.

    Shallow names first, so that a leaf whose name is also a scope (``a`` and
    ``a.b``) is in place before its children are hung below it.
    """
    modules: dict[str, nn.Module] = {"": root}
    for name in sorted(leaves, key=lambda n: n.count(".")):
        parts = name.split(".")
        for depth in range(1, len(parts)):
            prefix = ".".join(parts[:depth])
            if prefix not in modules:
                _register(modules[".".join(parts[: depth - 1])], parts[depth - 1], Scope(), prefix)
                modules[prefix] = getattr(modules[".".join(parts[: depth - 1])], parts[depth - 1])
        parent = modules[".".join(parts[:-1])]
        _register(parent, parts[-1], leaves[name], name)
        modules[name] = leaves[name]


def _register(parent: nn.Module, local: str, module: nn.Module, full: str) -> None:
    try:
        parent.add_module(local, module)
    except (KeyError, TypeError) as error:
        reason = error.args[0] if error.args else str(error)
        raise LayerError(
            f"cannot register '{full}' as a torch submodule: {reason}",
            layer=full,
            hint="rename the layer (torch reserves names such as 'forward', 'training' and empty ones)",
        ) from None


def _torch_dtype(dtype) -> torch.dtype | None:
    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    from archcalc.analysis import dtype_bytes

    name, _ = dtype_bytes(str(dtype))
    return getattr(torch, name)


def _tie(leaf: nn.Module, owner: nn.Module) -> None:
    """A node that shares an earlier node's parameters (``shares:`` in a spec, a tied LM head) uses
    the owner's tensors: each of its parameters becomes the owner's parameter of the same name and shape."""
    owned = dict(owner.named_parameters(recurse=False))
    for name, parameter in list(leaf.named_parameters(recurse=False)):
        other = owned.get(name)
        if other is not None and other.shape == parameter.shape:
            setattr(leaf, name, other)


def build_module(graph: Graph, device=None, dtype=None) -> nn.Module:
    """Build a runnable module from ``graph``, in ``eval()`` mode.

    ``device`` and ``dtype`` (a ``torch.dtype`` or a name such as
    ``"float16"``) place the parameters; parameters get torch's default
    initialisation.
    """
    dtype = _torch_dtype(dtype)
    leaves = {node.name: build_leaf(node, device=device, dtype=dtype) for node in graph.nodes}
    for node in graph.nodes:
        if node.shares_params_with is not None:
            _tie(leaves[node.name], leaves[node.shares_params_with])
    module = GraphModule(graph, leaves)
    return module.eval()
