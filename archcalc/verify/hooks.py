"""Forward hooks on the modules of a graph's layers, removed again on exit.

:class:`LayerHooks` calls ``before(name)`` and ``after(name, output)`` around
every layer's forward and can mark each layer as a profiler range named
``archcalc::LAYER`` (:data:`RANGE_PREFIX`), which is how per-layer FLOPs,
memory and times are read from ``torch.profiler``. A module that several
layers share (a ReLU applied twice) gets the layers' names in turn.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import torch
from torch import nn

RANGE_PREFIX = "archcalc::"


class LayerHooks:
    """Context manager: hooks on ``modules`` (layer name -> module) for the time of a ``with``."""

    def __init__(
        self,
        modules: Mapping[str, nn.Module],
        before: Callable[[str], None] | None = None,
        after: Callable[[str, Any], None] | None = None,
        ranges: bool = False,
    ) -> None:
        self._names: dict[int, list[str]] = {}
        self._modules: dict[int, nn.Module] = {}
        for name, module in modules.items():
            self._names.setdefault(id(module), []).append(name)
            self._modules[id(module)] = module
        self._calls: dict[int, int] = {}
        self._before = before
        self._after = after
        self._ranges = ranges
        self._open: list[tuple[str, Any]] = []
        self._handles: list[Any] = []
        #: the layer running when a forward pass raised (innermost open one)
        self.current: str | None = None

    def _name(self, module: nn.Module) -> str:
        names = self._names[id(module)]
        count = self._calls.get(id(module), 0)
        self._calls[id(module)] = count + 1
        return names[count % len(names)]

    def _pre(self, module: nn.Module, args: Any) -> None:
        name = self._name(module)
        self.current = name
        handle = None
        if self._ranges:
            handle = torch.autograd.profiler.record_function(RANGE_PREFIX + name)
            handle.__enter__()
        self._open.append((name, handle))
        if self._before is not None:
            self._before(name)

    def _post(self, module: nn.Module, args: Any, output: Any) -> None:
        name, handle = self._open.pop()
        if self._after is not None:
            self._after(name, output)
        if handle is not None:
            handle.__exit__(None, None, None)
        self.current = self._open[-1][0] if self._open else None

    def new_pass(self) -> None:
        """Start counting shared modules' calls afresh (call before each forward pass)."""
        self._calls.clear()

    def __enter__(self) -> "LayerHooks":
        for module in self._modules.values():
            self._handles.append(module.register_forward_pre_hook(self._pre))
            self._handles.append(module.register_forward_hook(self._post))
        return self

    def __exit__(self, *exc: Any) -> None:
        while self._open:
            _, handle = self._open.pop()
            if handle is not None:
                handle.__exit__(None, None, None)
        for handle in self._handles:
            handle.remove()
        self._handles.clear()


def first_tensor(output: Any) -> torch.Tensor | None:
    """The first tensor of a module's output (a tensor, or a tuple / list / dict of them)."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)):
        for item in output:
            found = first_tensor(item)
            if found is not None:
                return found
    if isinstance(output, dict):
        for item in output.values():
            found = first_tensor(item)
            if found is not None:
                return found
    return None
