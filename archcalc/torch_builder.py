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

Mapping of canonical ops and their normalised attrs (see each rule's
``normalize``):

=================  ==========================================================
op                 module
=================  ==========================================================
conv               ``nn.Conv2d(in_channels, filters, kernel, stride, padding,
                   dilation, groups, bias)``; pads are ``((top, bottom),
                   (left, right))``: symmetric ones become ``padding=(top,
                   left)``, the uneven split of ``pad: same`` (even kernel,
                   stride 1) becomes ``padding="same"``, which pads the same way
                   (fvcore 0.1.5 has no handle for the ``aten::_convolution_mode``
                   that string padding traces to, and counts such a conv as 0)
convtranspose      ``nn.ConvTranspose2d(..., output_padding, groups, bias,
                   dilation)`` (symmetric padding only, as the rule allows)
maxpool            ``nn.MaxPool2d(kernel, stride, padding, dilation, ceil_mode)``
avgpool            ``nn.AvgPool2d(kernel, stride, padding, ceil_mode,
                   count_include_pad)``
adaptive_*pool     ``nn.AdaptiveAvgPool2d(output)`` / ``nn.AdaptiveMaxPool2d``
global_*pool       ``nn.AdaptiveAvgPool2d(1)`` / ``nn.AdaptiveMaxPool2d(1)``
linear             ``nn.Linear(in_features, units, bias)`` (last axis)
batchnorm          ``nn.BatchNorm1d`` / ``2d`` / ``3d`` by the input's rank
                   (``(C,)`` and ``(C, L)`` -> 1d, ``(C, H, W)`` -> 2d)
layernorm          ``nn.LayerNorm(normalized_shape, eps, elementwise_affine)``
lrn                ``nn.LocalResponseNorm(size, alpha, beta, k)``
relu ... hardswish ``nn.ReLU``, ``nn.ReLU6``, ``nn.LeakyReLU(slope)``,
                   ``nn.Sigmoid``, ``nn.Tanh``, ``nn.GELU``, ``nn.SiLU``,
                   ``nn.Hardswish``
softmax            ``nn.Softmax(dim=axis + 1)`` (attrs count axes per sample)
flatten            ``nn.Flatten()`` (from dim 1)
reshape            :class:`Reshape` (``x.reshape(batch, *shape)``)
dropout            ``nn.Dropout(p)`` (the identity in eval mode)
identity           ``nn.Identity()``
upsample           ``nn.Upsample(scale_factor | size, mode)``
                   (``align_corners=False`` for bilinear)
add / mul          :class:`Add` / :class:`Mul` (broadcasting, as the rules)
concat             :class:`Concat` (``torch.cat(dim=axis + 1)``)
matmul             :class:`MatMul` (``torch.matmul``)
attention          :class:`Attention` (``F.scaled_dot_product_attention``)
=================  ==========================================================

A node that torch cannot express (an uneven pad on pooling, an op without a
mapping) raises :class:`~archcalc.errors.LayerError` naming the layer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from archcalc.errors import LayerError
from archcalc.ir import INPUT, Graph, Node

__all__ = [
    "Add",
    "Attention",
    "Concat",
    "GraphModule",
    "MatMul",
    "Mul",
    "Reshape",
    "Scope",
    "build_leaf",
    "build_module",
    "supported_ops",
]


# -- small modules for ops torch has no module for ------------------------------


class Add(nn.Module):
    """Element-wise sum of two or more tensors (broadcasting)."""

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        out = inputs[0]
        for other in inputs[1:]:
            out = out + other
        return out


class Mul(nn.Module):
    """Element-wise product of two or more tensors (broadcasting)."""

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        out = inputs[0]
        for other in inputs[1:]:
            out = out * other
        return out


class Concat(nn.Module):
    """``torch.cat`` along ``dim`` (a batch-inclusive axis)."""

    def __init__(self, dim: int = 1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return torch.cat(inputs, dim=self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Reshape(nn.Module):
    """Reshape every sample to ``shape`` (the batch axis is kept)."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.shape)

    def extra_repr(self) -> str:
        return f"shape={self.shape}"


class MatMul(nn.Module):
    """``torch.matmul`` of two activations (leading axes broadcast)."""

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.matmul(a, b)


class Attention(nn.Module):
    """``F.scaled_dot_product_attention(q, k, v)``; fewer key/value heads than query heads is GQA."""

    def __init__(self, causal: bool = False, scale: float | None = None) -> None:
        super().__init__()
        self.causal = causal
        self.scale = scale

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        extra = {}
        if q.dim() > 3 and k.shape[-3] != q.shape[-3]:
            extra["enable_gqa"] = True
        return nn.functional.scaled_dot_product_attention(q, k, v, is_causal=self.causal, scale=self.scale, **extra)

    def extra_repr(self) -> str:
        return f"causal={self.causal}, scale={self.scale}"


class Scope(nn.Module):
    """A container for the nodes under one name prefix (``layer1``, ``layer1.0``); no forward."""


# -- op -> module ----------------------------------------------------------------

Factory = dict[str, Any]
_BUILDERS: dict[str, Callable[[Node, Factory], nn.Module]] = {}


def _builds(*ops: str):
    def decorate(function):
        for op in ops:
            if op in _BUILDERS:
                raise RuntimeError(f"op '{op}' has two torch builders")
            _BUILDERS[op] = function
        return function

    return decorate


def supported_ops() -> list[str]:
    """The canonical op names :func:`build_module` can turn into modules."""
    return sorted(_BUILDERS)


def _symmetric_pads(pads) -> tuple[int, int] | None:
    """``((t, t), (l, l))`` -> ``(t, l)``; None when a side differs."""
    (top, bottom), (left, right) = pads
    if top == bottom and left == right:
        return (top, left)
    return None


@_builds("conv")
def _conv(node: Node, factory: Factory) -> nn.Module:
    a = node.attrs
    padding: Any = _symmetric_pads(a["pad"])
    if padding is None:
        # PyTorch's padding="same" puts total // 2 before and the rest after,
        # which is how the rule resolves `pad: same` (stride 1 only).
        same = tuple(
            (d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2) for k, d in zip(a["kernel"], a["dilation"])
        )
        if tuple(a["stride"]) != (1, 1) or tuple(map(tuple, a["pad"])) != same:
            raise LayerError(
                f"torch's Conv2d cannot pad {a['pad']} (top, bottom), (left, right) unevenly "
                "except as padding='same' with stride 1",
                layer=node.name,
                op=node.op,
            )
        padding = "same"
    return nn.Conv2d(
        a["in_channels"],
        a["filters"],
        kernel_size=tuple(a["kernel"]),
        stride=tuple(a["stride"]),
        padding=padding,
        dilation=tuple(a["dilation"]),
        groups=a["groups"],
        bias=a["bias"],
        **factory,
    )


@_builds("convtranspose")
def _conv_transpose(node: Node, factory: Factory) -> nn.Module:
    a = node.attrs
    padding = _symmetric_pads(a["pad"])
    if padding is None:
        raise LayerError(f"torch's ConvTranspose2d cannot pad {a['pad']} unevenly", layer=node.name, op=node.op)
    return nn.ConvTranspose2d(
        a["in_channels"],
        a["filters"],
        kernel_size=tuple(a["kernel"]),
        stride=tuple(a["stride"]),
        padding=padding,
        output_padding=tuple(a["output_padding"]),
        groups=a["groups"],
        bias=a["bias"],
        dilation=tuple(a["dilation"]),
        **factory,
    )


def _pool_padding(node: Node) -> tuple[int, int]:
    padding = _symmetric_pads(node.attrs["pad"])
    if padding is None:
        raise LayerError(
            f"torch's pooling cannot pad {node.attrs['pad']} (top, bottom), (left, right) unevenly; "
            "give the padding as a number",
            layer=node.name,
            op=node.op,
        )
    return padding


@_builds("maxpool")
def _maxpool(node: Node, factory: Factory) -> nn.Module:
    a = node.attrs
    return nn.MaxPool2d(
        kernel_size=tuple(a["kernel"]),
        stride=tuple(a["stride"]),
        padding=_pool_padding(node),
        dilation=tuple(a["dilation"]),
        ceil_mode=a["ceil_mode"],
    )


@_builds("avgpool")
def _avgpool(node: Node, factory: Factory) -> nn.Module:
    a = node.attrs
    if tuple(a.get("dilation", (1, 1))) != (1, 1):
        raise LayerError("torch's AvgPool2d has no dilation", layer=node.name, op=node.op)
    return nn.AvgPool2d(
        kernel_size=tuple(a["kernel"]),
        stride=tuple(a["stride"]),
        padding=_pool_padding(node),
        ceil_mode=a["ceil_mode"],
        count_include_pad=a["count_include_pad"],
    )


@_builds("adaptive_avgpool")
def _adaptive_avgpool(node: Node, factory: Factory) -> nn.Module:
    return nn.AdaptiveAvgPool2d(tuple(node.attrs["output"]))


@_builds("adaptive_maxpool")
def _adaptive_maxpool(node: Node, factory: Factory) -> nn.Module:
    return nn.AdaptiveMaxPool2d(tuple(node.attrs["output"]))


@_builds("global_avgpool")
def _global_avgpool(node: Node, factory: Factory) -> nn.Module:
    return nn.AdaptiveAvgPool2d(1)


@_builds("global_maxpool")
def _global_maxpool(node: Node, factory: Factory) -> nn.Module:
    return nn.AdaptiveMaxPool2d(1)


@_builds("linear")
def _linear(node: Node, factory: Factory) -> nn.Module:
    a = node.attrs
    return nn.Linear(a["in_features"], a["units"], bias=a["bias"], **factory)


_BATCHNORM_BY_RANK = {1: nn.BatchNorm1d, 2: nn.BatchNorm1d, 3: nn.BatchNorm2d, 4: nn.BatchNorm3d}


@_builds("batchnorm")
def _batchnorm(node: Node, factory: Factory) -> nn.Module:
    a = node.attrs
    rank = len(node.input_shapes[0])
    if rank not in _BATCHNORM_BY_RANK:
        raise LayerError(f"no torch batch norm for a {rank}-axis input", layer=node.name, op=node.op)
    return _BATCHNORM_BY_RANK[rank](
        a["channels"],
        eps=a["eps"],
        momentum=a["momentum"],
        affine=a["affine"],
        track_running_stats=a["track_running_stats"],
        **factory,
    )


@_builds("layernorm")
def _layernorm(node: Node, factory: Factory) -> nn.Module:
    a = node.attrs
    return nn.LayerNorm(tuple(a["normalized_shape"]), eps=a["eps"], elementwise_affine=a["affine"], **factory)


@_builds("lrn")
def _lrn(node: Node, factory: Factory) -> nn.Module:
    a = node.attrs
    return nn.LocalResponseNorm(a["size"], alpha=a["alpha"], beta=a["beta"], k=a["k"])


_ACTIVATIONS: Mapping[str, Callable[[Mapping[str, Any]], nn.Module]] = {
    "relu": lambda a: nn.ReLU(),
    "relu6": lambda a: nn.ReLU6(),
    "leakyrelu": lambda a: nn.LeakyReLU(a["slope"]),
    "sigmoid": lambda a: nn.Sigmoid(),
    "tanh": lambda a: nn.Tanh(),
    "gelu": lambda a: nn.GELU(),
    "silu": lambda a: nn.SiLU(),
    "hardswish": lambda a: nn.Hardswish(),
}


@_builds(*_ACTIVATIONS)
def _activation(node: Node, factory: Factory) -> nn.Module:
    return _ACTIVATIONS[node.op](node.attrs)


@_builds("softmax")
def _softmax(node: Node, factory: Factory) -> nn.Module:
    return nn.Softmax(dim=node.attrs["axis"] + 1)


@_builds("flatten")
def _flatten(node: Node, factory: Factory) -> nn.Module:
    return nn.Flatten()


@_builds("reshape")
def _reshape(node: Node, factory: Factory) -> nn.Module:
    return Reshape(node.attrs["shape"])


@_builds("dropout")
def _dropout(node: Node, factory: Factory) -> nn.Module:
    return nn.Dropout(float(node.attrs["p"]))


@_builds("identity")
def _identity(node: Node, factory: Factory) -> nn.Module:
    return nn.Identity()


@_builds("upsample")
def _upsample(node: Node, factory: Factory) -> nn.Module:
    a = node.attrs
    align = False if a["mode"] == "bilinear" else None
    if a.get("scale") is not None:
        return nn.Upsample(scale_factor=tuple(float(s) for s in a["scale"]), mode=a["mode"], align_corners=align)
    return nn.Upsample(size=tuple(a["size"]), mode=a["mode"], align_corners=align)


@_builds("add")
def _add(node: Node, factory: Factory) -> nn.Module:
    return Add()


@_builds("mul")
def _mul(node: Node, factory: Factory) -> nn.Module:
    return Mul()


@_builds("concat")
def _concat(node: Node, factory: Factory) -> nn.Module:
    return Concat(node.attrs["axis"] + 1)


@_builds("matmul")
def _matmul(node: Node, factory: Factory) -> nn.Module:
    return MatMul()


@_builds("attention")
def _attention(node: Node, factory: Factory) -> nn.Module:
    return Attention(causal=node.attrs["causal"], scale=node.attrs.get("scale"))


def build_leaf(node: Node, device=None, dtype=None) -> nn.Module:
    """The torch module of one node (parameters on ``device`` in ``dtype``)."""
    builder = _BUILDERS.get(node.op)
    if builder is None:
        raise LayerError(
            f"the torch builder has no module for '{node.op}' (it knows: {', '.join(supported_ops())})",
            layer=node.name,
            op=node.op,
        )
    factory: Factory = {}
    if device is not None:
        factory["device"] = device
    if dtype is not None:
        factory["dtype"] = dtype
    return builder(node, factory)


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


def build_module(graph: Graph, device=None, dtype=None) -> nn.Module:
    """Build a runnable module from ``graph``, in ``eval()`` mode.

    ``device`` and ``dtype`` (a ``torch.dtype`` or a name such as
    ``"float16"``) place the parameters; parameters get torch's default
    initialisation.
    """
    dtype = _torch_dtype(dtype)
    leaves = {node.name: build_leaf(node, device=device, dtype=dtype) for node in graph.nodes}
    module = GraphModule(graph, leaves)
    return module.eval()
