"""The calls a family's torch handlers see: one torch-level call or aten op, or a leaf module.

Handlers (the ``torch_modules``, ``torch_functions`` and ``aten_ops`` tables
of :mod:`archcalc.layers`) receive a :class:`Call` (or a :class:`LeafCall`)
and return :class:`~archcalc.frontends.records.Spec` made by
:meth:`Call.spec` or :meth:`Call.generic`, or None to decline. They look at
shapes, arguments and parameter identity only, never at tensor values.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from archcalc.frontends.leaves import leaves

from archcalc.frontends.records import Spec, TensorInfo
from archcalc.layers import get_rule, role

#: movement ops that are free renamings when they keep the shape (``x.contiguous()``, ``x.float()``)
_MOVES_DATA = {"permute", "transpose", "t", "movedim", "flip", "roll"}


class LeafCall:
    """What a known leaf module's mapper may ask: its output shape, its inputs' shapes and axes.

    ``inputs``: the activations the module was called with (tensor, what it was), in
    order; ``output``: its first tensor output (the others, such as an LSTM's final
    state, are kept as views of it). A mapper returns ``(op, args)``, or ``(op, args,
    indices)`` to pass the rule only some of the inputs.
    """

    def __init__(self, capture: Any, inputs: tuple[tuple[Any, TensorInfo], ...], output) -> None:
        self.capture = capture
        self.inputs = inputs
        self.tensor, self.info = inputs[0]
        self.output = output
        self.out_shape = capture.per_sample(output.shape)[0]

    @property
    def in_shapes(self) -> tuple[tuple[int, ...], ...]:
        return tuple(info.shape for _, info in self.inputs)

    def axis(self, dim: int) -> int | None:
        return _axis(self.capture, self.info.full_shape, dim)


def _axis(capture: Any, full_shape, dim: int) -> int | None:
    """The per-sample axis of a batch-inclusive ``dim`` (None when it is the batch axis itself)."""
    rank = len(full_shape)
    if not -rank <= dim < max(rank, 1):
        return None
    dim %= max(rank, 1)
    _, index, removed = capture.per_sample(full_shape)
    if index is None or not removed:
        return dim
    if dim == index:
        return None
    return dim - 1 if dim > index else dim


class Call:
    """One torch-level call or aten op, as handlers see it (shapes as they were before it ran)."""

    def __init__(self, capture: Any, name: str, func, args, kwargs, out, infos: dict[int, TensorInfo]) -> None:
        self.capture = capture
        self.name = name
        self.func = func
        self.args = tuple(args)
        self.kwargs = dict(kwargs or {})
        self.out = out
        self.infos = infos

    # arguments
    def arg(self, index: int, key: str, default: Any = None) -> Any:
        if len(self.args) > index:
            return self.args[index]
        return self.kwargs.get(key, default)

    def self_tensor(self) -> torch.Tensor:
        return self.tensor_args()[0]

    def tensor_args(self) -> list[torch.Tensor]:
        return [t for t in leaves((self.args, self.kwargs)) if isinstance(t, torch.Tensor)]

    def active_tensors(self) -> list[torch.Tensor]:
        return [t for t in self.tensor_args() if self.is_active(t)]

    def outputs(self) -> list[torch.Tensor]:
        return [t for t in leaves(self.out) if isinstance(t, torch.Tensor)]

    # tensors
    @staticmethod
    def is_tensor(value: Any) -> bool:
        return isinstance(value, torch.Tensor)

    def is_pointwise(self) -> bool:
        """An aten op tagged point-wise (``aten.add``, ``aten.exp``...)."""
        return torch.Tag.pointwise in getattr(self.func, "tags", ())

    def is_view(self) -> bool:
        """An aten op whose output is a view of its input."""
        return bool(getattr(self.func, "is_view", False))

    def batch_axis(self, tensor: Any) -> int | None:
        """The axis of an activation that holds the batch (None: no such axis, or the whole batch is one sample)."""
        info = self.infos.get(id(tensor))
        return self.capture.per_sample(info.full_shape if info else tuple(tensor.shape))[1]

    def batch_removed(self, tensor: Any) -> bool:
        """Whether that axis is the batch alone (removed per sample), not the batch merged with another."""
        info = self.infos.get(id(tensor))
        return self.capture.per_sample(info.full_shape if info else tuple(tensor.shape))[2]

    def is_active(self, tensor: Any) -> bool:
        return isinstance(tensor, torch.Tensor) and id(tensor) in self.infos

    def is_constant(self, tensor: Any) -> bool:
        return isinstance(tensor, torch.Tensor) and id(tensor) not in self.infos

    def params(self, *tensors: Any) -> frozenset[str]:
        return frozenset().union(*(self.capture.lineage(t) for t in tensors if t is not None))

    def shape(self, tensor: torch.Tensor) -> tuple[int, ...]:
        info = self.infos.get(id(tensor))
        return info.shape if info is not None else self.capture.per_sample(tensor.shape)[0]

    def out_shape(self, out: Any = None) -> tuple[int, ...]:
        out = self.outputs()[0] if out is None else out
        return self.capture.per_sample(out.shape)[0]

    def axis(self, tensor: torch.Tensor, dim: int) -> int | None:
        info = self.infos.get(id(tensor))
        return _axis(self.capture, info.full_shape if info else tuple(tensor.shape), dim)

    # specs
    def spec(
        self,
        op: str,
        args: dict[str, Any],
        inputs: list[torch.Tensor],
        out: Any = None,
        base: str | None = None,
        params: frozenset[str] = frozenset(),
        fn: str | None = None,
        counted: bool = True,
    ) -> Spec:
        out = self.outputs()[0] if out is None else out
        infos = [self.infos[id(t)] for t in inputs]
        batched = self.capture.batch is None or self.capture.per_sample(out.shape)[1] is not None
        return Spec(
            op=op,
            args=args,
            inputs=tuple(i.source for i in infos),
            in_shapes=tuple(i.shape for i in infos),
            out=out,
            shape=self.out_shape(out),
            base=base or op,
            fn=fn or self.name,
            params=params,
            counted=counted,
            batched=batched,
        )

    def pass_through(self, tensor: torch.Tensor) -> list[Spec]:
        info = self.infos[id(tensor)]
        out = self.outputs()[0]
        alias = role("alias")
        return [Spec(alias, {}, (info.source,), (info.shape,), out, info.shape, alias, self.name, alias_of=info.source)]

    def generic(
        self,
        op: str,
        active: list[torch.Tensor],
        fn: str,
        learned_from: Iterable[Any] = (),
        counted: bool = True,
    ) -> list[Spec] | None:
        """Specs of an op described by its observed output shape (the generic rules: point-wise,
        reduction, movement, copy, uncounted), one per output tensor. Data movement that keeps
        the shape and moves nothing is a pass-through (the ``alias`` role) instead."""
        active = [t for t in active if self.is_active(t)]
        outputs = self.outputs()
        if not active or not outputs:
            return None
        names = self.params(*learned_from)
        weights = sum(i.numel for i in map(self.capture._info, names) if i is not None and not i.is_buffer)
        buffers = sum(i.numel for i in map(self.capture._info, names) if i is not None and i.is_buffer)
        moves = get_rule(op).category == "reshape"
        alias = role("alias")
        specs = []
        for index, out in enumerate(outputs):
            shape = self.out_shape(out)
            if (
                moves
                and len(active) == 1
                and fn not in _MOVES_DATA
                and shape == self.shape(active[0])
                and not names
            ):
                source = self.infos[id(active[0])].source
                specs.append(Spec(alias, {}, (source,), (shape,), out, shape, alias, fn, alias_of=source))
                continue
            args: dict[str, Any] = {"fn": fn, "shape": list(shape)}
            if index == 0 and weights:
                args["learned"] = weights
            if index == 0 and buffers:
                args["buffers"] = buffers
            spec = self.spec(
                op, args, active, out=out, base=fn, params=names if index == 0 else frozenset(), fn=fn, counted=counted
            )
            spec.secondary = index > 0 and not moves
            specs.append(spec)
        return specs


