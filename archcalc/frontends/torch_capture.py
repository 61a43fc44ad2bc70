"""Capture of one ``forward`` pass: what ran, in which module, on which tensors.

Three listeners run together while the model's ``forward`` executes on meta
tensors:

* global module pre/post hooks keep the stack of module calls (``layer3.1``)
  and map known leaf modules whole (:data:`torch_ops.LEAF_MODULES`);
* a ``TorchFunctionMode`` sees each outermost torch-level call the user wrote
  (``torch.tanh``, ``x.reshape``, ``+=``, ``torch.cat``, ``F.scaled_dot_product_attention``)
  and maps it with :data:`torch_ops.FUNCTIONS`;
* a ``TorchDispatchMode`` sees every aten op underneath and maps the ones no
  upper level claimed (:func:`torch_ops.aten_specs`), so that nothing runs
  unseen: an op without a mapping becomes an ``uncounted`` record.

An upper level that maps a call discards the records the lower levels made
inside it (a known ``nn.Linear`` replaces the ``t`` + ``addmm`` it ran).

Data flow: every activation tensor is traced to the record that produced it,
by object identity (weak references guard against reused ids); the model's
input is :data:`archcalc.ir.INPUT`. Tensors not derived from the input are
constants; those derived from parameters remember which (``w.t()``,
``self.cls_token.expand(...)``), so that ``F.linear(x, w)`` and
``x + self.pos_embed`` know their learned operands.

Shapes are per sample: the capture runs at a batch size (:data:`META_BATCH`,
a prime that rarely equals a model dimension) and removes that axis, wherever
it is (``(L, N, E)`` sequence-first tensors too); an axis that merged the batch
with another (``(N * heads, L, d)``) keeps the other factor.
"""

from __future__ import annotations

import weakref
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from archcalc.errors import ArchcalcError, SourceLocation
from archcalc.frontends import torch_ops
from archcalc.ir import INPUT, Graph, GraphBuilder
from archcalc.rules import get_rule

#: batch size of the meta pass: a prime no common layer width, head count or sequence length is a multiple of
META_BATCH = 97

Source = Any  # a record id (int) or INPUT

#: movement ops that are free renamings when they keep the shape (``x.contiguous()``, ``x.float()``)
_MOVES_DATA = {"permute", "transpose", "t", "movedim", "flip", "roll"}


@dataclass(frozen=True)
class TensorInfo:
    """An activation as it was when a call began: its producer and per-sample shape."""

    source: Source
    shape: tuple[int, ...]
    full_shape: tuple[int, ...]


@dataclass
class Spec:
    """What a handler found: one future graph node."""

    op: str
    args: dict[str, Any]
    inputs: tuple[Source, ...]
    in_shapes: tuple[tuple[int, ...], ...]
    out: Any  # the output tensor
    shape: tuple[int, ...]
    base: str
    fn: str
    params: frozenset[str] = frozenset()
    counted: bool = True
    alias_of: Source | None = None  # a pass-through: the output is the input under another name
    batched: bool = True  # False: the output has no batch axis (x.sum() > 0: a control-flow value)
    secondary: bool = False  # a second output of a multi-output op (group norm's mean and rstd)


@dataclass
class CallScope:
    """One call of one module."""

    path: str
    name: str
    module: Any
    mark: int
    mapper: Any = None
    input_tensor: Any = None
    input_info: TensorInfo | None = None
    has_children: bool = False


@dataclass
class Record:
    id: int
    op: str
    args: dict[str, Any]
    inputs: tuple[Source, ...]
    shape: tuple[int, ...]
    base: str
    fn: str
    scope: CallScope
    params: frozenset[str] = frozenset()
    name: str | None = None
    counted: bool = True
    batched: bool = True
    secondary: bool = False
    call: int = 0  # records of one call share it (not-counted ops are counted per call)


@dataclass
class ParamInfo:
    name: str
    numel: int
    is_buffer: bool
    requires_grad: bool


@dataclass
class CaptureResult:
    """The graph of one captured forward pass, and what the analysis needs besides."""

    graph: Graph
    not_counted: dict[str, int]
    trainable: dict[str, bool]


class Capture:
    """Records one forward pass; :meth:`build` turns the records into a Graph."""

    def __init__(self, batch: int, params: dict[int, tuple[Any, ParamInfo]], paths: dict[int, str]) -> None:
        self.batch = batch
        self.params = params  # id(tensor) -> (tensor, info): the module's parameters and buffers as run
        self.paths = paths  # id(module) -> dotted path
        self.records: list[Record] = []
        self._next_id = 0
        self._sources: dict[int, tuple[weakref.ref, Source]] = {}
        self._lineage: dict[int, tuple[weakref.ref, frozenset[str]]] = {}
        self.stack: list[CallScope] = []
        self.calls: Counter[str] = Counter()
        self._commits = 0
        self.by_name: dict[str, ParamInfo] = {info.name: info for _, info in params.values()}
        self.outputs: set[Source] = set()

    # -- tensors --------------------------------------------------------------------
    def set_input(self, tensor: torch.Tensor) -> None:
        self._set_source(tensor, INPUT)

    def _set_source(self, tensor: torch.Tensor, source: Source) -> None:
        self._sources[id(tensor)] = (weakref.ref(tensor), source)

    def source(self, tensor: Any) -> Source | None:
        if not isinstance(tensor, torch.Tensor):
            return None
        entry = self._sources.get(id(tensor))
        if entry is None or entry[0]() is not tensor:
            return None
        return entry[1]

    def lineage(self, tensor: Any) -> frozenset[str]:
        """Names of the parameters and buffers a constant tensor was computed from."""
        if not isinstance(tensor, torch.Tensor):
            return frozenset()
        known = self.params.get(id(tensor))
        if known is not None and known[0] is tensor:
            return frozenset((known[1].name,))
        entry = self._lineage.get(id(tensor))
        if entry is None or entry[0]() is not tensor:
            return frozenset()
        return entry[1]

    def propagate_lineage(self, inputs: Iterable[Any], outputs: Iterable[Any]) -> None:
        names = frozenset().union(*(self.lineage(t) for t in inputs))
        if names:
            for out in outputs:
                if isinstance(out, torch.Tensor) and self.source(out) is None:
                    self._lineage[id(out)] = (weakref.ref(out), names)

    def per_sample(self, shape) -> tuple[tuple[int, ...], int | None, bool]:
        """(per-sample shape, index of the batch axis, whether that axis disappears)."""
        shape = tuple(int(s) for s in shape)
        for index, size in enumerate(shape):
            if size and size % self.batch == 0:
                if size == self.batch:
                    return shape[:index] + shape[index + 1 :], index, True
                return shape[:index] + (size // self.batch,) + shape[index + 1 :], index, False
        return shape, None, False

    def snapshot(self, tensors: Iterable[Any]) -> dict[int, TensorInfo]:
        infos = {}
        for tensor in tensors:
            source = self.source(tensor)
            if source is not None:
                infos[id(tensor)] = TensorInfo(source, self.per_sample(tensor.shape)[0], tuple(tensor.shape))
        return infos

    # -- records --------------------------------------------------------------------
    @property
    def scope(self) -> CallScope:
        return self.stack[-1]

    def commit(self, specs: list[Spec], mark: int | None = None, scope: CallScope | None = None) -> bool:
        """Check each spec against its rule; if all agree, drop records since ``mark`` and add them."""
        for spec in specs:
            if spec.alias_of is None and not rule_agrees(spec.op, spec.args, spec.in_shapes, spec.shape):
                return False
        if mark is not None:
            del self.records[mark:]
        self._commits += 1
        for spec in specs:
            if spec.alias_of is not None:
                self._set_source(spec.out, spec.alias_of)
                continue
            record = Record(
                id=self._next_id,
                op=spec.op,
                args=spec.args,
                inputs=spec.inputs,
                shape=spec.shape,
                base=spec.base,
                fn=spec.fn,
                scope=scope or self.scope,
                params=spec.params,
                counted=spec.counted,
                batched=spec.batched,
                secondary=spec.secondary,
                call=self._commits,
            )
            self._next_id += 1
            self.records.append(record)
            self._set_source(spec.out, record.id)
        return True

    # -- module hooks ---------------------------------------------------------------
    def pre_hook(self, module, args) -> None:
        parent = self.stack[-1] if self.stack else None
        path = self.paths.get(id(module))
        if path is None:  # a module made on the fly inside forward
            path = ((parent.path + ".") if parent and parent.path else "") + type(module).__name__.lower()
        self.calls[path] += 1
        count = self.calls[path]
        name = path if count == 1 else f"{path}#{count}"
        scope = CallScope(path=path, name=name, module=module, mark=len(self.records))
        if parent is not None:
            parent.has_children = True
        mapper = torch_ops.LEAF_MODULES.get(type(module))
        if mapper is not None and len(args) == 1 and isinstance(args[0], torch.Tensor):
            info = self.snapshot(args).get(id(args[0]))
            if info is not None:
                scope.mapper, scope.input_tensor, scope.input_info = mapper, args[0], info
        self.stack.append(scope)

    def post_hook(self, module, args, output) -> None:
        while self.stack and self.stack[-1].module is not module:
            self.stack.pop()  # a call that raised inside the user's try/except
        if not self.stack:
            return
        scope = self.stack.pop()
        if scope.mapper is not None and isinstance(output, torch.Tensor):
            self._map_leaf(scope, self.stack[-1] if self.stack else scope, output)

    def _map_leaf(self, scope: CallScope, parent: CallScope, output: torch.Tensor) -> None:
        leaf = LeafCall(self, scope.input_tensor, scope.input_info, output)
        try:
            mapped = scope.mapper(scope.module, leaf)
        except (AttributeError, TypeError, ValueError):
            mapped = None
        if mapped is None:
            return
        op, args = mapped
        module = scope.module
        tensors = [t for t in list(module._parameters.values()) + list(module._buffers.values()) if t is not None]
        names = frozenset(self.params[id(t)][1].name for t in tensors if id(t) in self.params)
        spec = Spec(
            op=op,
            args=args,
            inputs=(scope.input_info.source,),
            in_shapes=(scope.input_info.shape,),
            out=output,
            shape=leaf.out_shape,
            base=op,
            fn=type(module).__name__,
            params=names,
        )
        if self.commit([spec], mark=scope.mark, scope=parent):
            self.records[-1].name = scope.name or type(module).__name__.lower()

    # -- torch-level calls and aten ops ----------------------------------------------
    def on_function(self, func, args, kwargs, run):
        handler = torch_ops.FUNCTIONS.get(torch_ops.function_name(func))
        if handler is None or not self.stack:
            return run()
        flat = tree_flatten((args, kwargs))[0]
        infos = self.snapshot(flat)
        if not infos:
            out = run()
            self.propagate_lineage(flat, tree_flatten(out)[0])
            return out
        mark = len(self.records)
        out = run()
        call = Call(self, torch_ops.function_name(func), func, args, kwargs, out, infos)
        try:
            specs = handler(call)
        except (IndexError, KeyError, TypeError, ValueError, AttributeError):
            specs = None
        if specs:
            self.commit(specs, mark=mark)
        return out

    def on_aten(self, func, args, kwargs, run):
        flat = tree_flatten((args, kwargs))[0]
        infos = self.snapshot(flat) if self.stack else {}
        out = run()
        if not infos:
            self.propagate_lineage(flat, tree_flatten(out)[0])
            return out
        call = Call(self, torch_ops.aten_name(func), func, args, kwargs, out, infos)
        if not call.outputs() or call.name in torch_ops.FACTORIES:
            return out
        try:
            specs = torch_ops.aten_specs(call)
        except (IndexError, KeyError, TypeError, ValueError, AttributeError):
            specs = None
        if not specs or not self.commit(specs):
            specs = call.generic("uncounted", list(call.active_tensors()), fn=call.name, counted=False)
            self.commit(specs or [], mark=None)
        return out

    # -- the graph ------------------------------------------------------------------
    def set_outputs(self, out: Any) -> None:
        """Remember which records produced the model's outputs (they are never pruned)."""
        self.outputs = {s for s in (self.source(t) for t in tree_flatten(out)[0]) if s is not None}

    def _prune(self, records: list[Record]) -> list[Record]:
        """Drop dead ends that feed nothing: values without a batch axis (computed only to steer
        control flow) and unused extra outputs of multi-output ops."""
        while True:
            consumed = {source for record in records for source in record.inputs}
            dead = [
                r
                for r in records
                if (not r.batched or r.secondary) and r.id not in consumed and r.id not in self.outputs
            ]
            if not dead:
                return records
            gone = {id(r) for r in dead}
            records = [r for r in records if id(r) not in gone]

    def build(self, name: str, input_shape: tuple[int, ...], reserved: set[str]) -> CaptureResult:
        records = _fuse_chains(self._prune(list(self.records)))
        names = _assign_names(records, reserved)
        builder = GraphBuilder(name=name, input_shape=tuple(input_shape))
        node_of: dict[Source, str] = {INPUT: INPUT}
        owner: dict[str, str] = {}
        trainable: dict[str, bool] = {}
        not_counted = Counter(fn for _, fn in {(r.call, r.fn) for r in records if not r.counted})
        for record in records:
            node = names[record.id]
            inputs = [node_of.get(source) for source in record.inputs]
            if any(i is None for i in inputs):
                builder.warn("an input of this op was not traced; it is read from the model input", layer=node)
                inputs = [i for i in inputs if i is not None] or [INPUT]
            op, args = record.op, record.args
            in_shapes = tuple(builder.shape_of(i) for i in inputs)
            if not rule_agrees(op, args, in_shapes, record.shape):
                builder.warn(
                    f"archcalc's {op} rule does not reproduce torch's output shape {record.shape}; not counted",
                    layer=node,
                )
                not_counted[record.fn] += 1
                op, args = "uncounted", {"fn": record.fn, "shape": list(record.shape)}
            rule = get_rule(op)
            counts = rule.params(rule.normalize(dict(args), in_shapes), in_shapes, record.shape)
            counted_params = counts.params + counts.buffers
            shares = None
            if record.params and counted_params:
                owners = [owner.get(p) for p in sorted(record.params)]
                if all(owners):
                    shares = owners[0]
                for param in record.params:
                    owner.setdefault(param, node)
            builder.add(node, op, args, inputs, shares_params_with=shares)
            node_of[record.id] = node
            learned = [self._info(p) for p in record.params]
            grads = [info.requires_grad for info in learned if info is not None and not info.is_buffer]
            trainable[node] = all(grads) if grads else True
        unused = [info for info in self._all_params() if not info.is_buffer and info.name not in owner]
        if unused:
            total = sum(info.numel for info in unused)
            listed = ", ".join(info.name for info in unused[:5]) + (", ..." if len(unused) > 5 else "")
            builder.warn(
                f"{total:,} parameters are not attributed to any layer (unused in forward, or used by ops "
                f"archcalc does not count) and are not in the totals: {listed}"
            )
        return CaptureResult(builder.build(), dict(not_counted), trainable)

    def _info(self, name: str) -> ParamInfo | None:
        return self.by_name.get(name)

    def _all_params(self) -> list[ParamInfo]:
        return list(self.by_name.values())


def rule_agrees(op: str, args: dict, in_shapes, shape) -> bool:
    """Whether archcalc's rule accepts these arguments and gives torch's output shape."""
    try:
        rule = get_rule(op)
        attrs = rule.normalize(dict(args), tuple(in_shapes))
        return tuple(rule.output_shape(attrs, tuple(in_shapes)).shape) == tuple(shape)
    except ArchcalcError:
        return False


def _fuse_chains(records: list[Record]) -> list[Record]:
    """``a + b + c`` inside one module call -> one add of three inputs (likewise mul).

    A record joins the next when that is the same merge op in the same call
    and consumes it as its only consumer; the counts do not change
    ((m - 1) * N adds either way).
    """
    consumers: Counter = Counter(source for record in records for source in record.inputs)
    by_id = {record.id: record for record in records}
    fused: dict[int, Record] = {}
    out = []
    for record in records:
        if record.op in ("add", "mul") and record.name is None:
            inputs: list[Source] = []
            for source in record.inputs:
                previous = by_id.get(source)
                if (
                    previous is not None
                    and previous.op == record.op
                    and previous.scope is record.scope
                    and previous.name is None
                    and consumers[source] == 1
                    and source in fused
                ):
                    inputs.extend(previous.inputs)
                    out.remove(previous)
                else:
                    inputs.append(source)
            record.inputs = tuple(inputs)
            fused[record.id] = record
        out.append(record)
    return out


def _assign_names(records: list[Record], reserved: set[str]) -> dict[int, str]:
    """``<module path>.<op><k>``; the one op of a module with no submodule calls takes the module's name."""
    per_scope: Counter = Counter(id(record.scope) for record in records if record.name is None)
    taken = set(reserved)
    names: dict[int, str] = {}
    counters: Counter = Counter()
    for record in records:
        scope = record.scope
        if record.name is not None:
            name = record.name
        elif scope.path and not scope.has_children and per_scope[id(scope)] == 1:
            name = scope.name
        else:
            prefix = f"{scope.path}." if scope.path else ""
            base = record.base.strip("_") or "op"
            while True:
                counters[(prefix, base)] += 1
                name = f"{prefix}{base}{counters[(prefix, base)]}"
                if name not in taken:
                    break
        taken.add(name)
        names[record.id] = name
    return names


class LeafCall:
    """What a known leaf module's mapper may ask: its output shape, axes of its input."""

    def __init__(self, capture: Capture, tensor, info: TensorInfo, output) -> None:
        self.capture = capture
        self.tensor = tensor
        self.info = info
        self.out_shape = capture.per_sample(output.shape)[0]

    def axis(self, dim: int) -> int | None:
        return _axis(self.capture, self.info.full_shape, dim)


def _axis(capture: Capture, full_shape, dim: int) -> int | None:
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

    def __init__(self, capture: Capture, name: str, func, args, kwargs, out, infos: dict[int, TensorInfo]) -> None:
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
        return [t for t in tree_flatten((self.args, self.kwargs))[0] if isinstance(t, torch.Tensor)]

    def active_tensors(self) -> list[torch.Tensor]:
        return [t for t in self.tensor_args() if self.is_active(t)]

    def outputs(self) -> list[torch.Tensor]:
        return [t for t in tree_flatten(self.out)[0] if isinstance(t, torch.Tensor)]

    # tensors
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
        batched = self.capture.per_sample(out.shape)[1] is not None
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
        return [
            Spec(
                "identity",
                {},
                (info.source,),
                (info.shape,),
                out,
                info.shape,
                "identity",
                self.name,
                alias_of=info.source,
            )
        ]

    def generic(
        self,
        op: str,
        active: list[torch.Tensor],
        fn: str,
        learned_from: Iterable[Any] = (),
        counted: bool = True,
    ) -> list[Spec] | None:
        """Specs of a generic op (pointwise, reduction, movement, copy, uncounted): one per output tensor."""
        active = [t for t in active if self.is_active(t)]
        outputs = self.outputs()
        if not active or not outputs:
            return None
        names = self.params(*learned_from)
        weights = sum(i.numel for i in map(self.capture._info, names) if i is not None and not i.is_buffer)
        buffers = sum(i.numel for i in map(self.capture._info, names) if i is not None and i.is_buffer)
        specs = []
        for index, out in enumerate(outputs):
            shape = self.out_shape(out)
            if (
                op in ("movement", "copy")
                and len(active) == 1
                and fn not in _MOVES_DATA
                and shape == self.shape(active[0])
                and not names
            ):
                source = self.infos[id(active[0])].source
                specs.append(Spec("identity", {}, (source,), (shape,), out, shape, "identity", fn, alias_of=source))
                continue
            args: dict[str, Any] = {"fn": fn, "shape": list(shape)}
            if index == 0 and weights:
                args["learned"] = weights
            if index == 0 and buffers:
                args["buffers"] = buffers
            spec = self.spec(
                op, args, active, out=out, base=fn, params=names if index == 0 else frozenset(), fn=fn, counted=counted
            )
            spec.secondary = index > 0 and op not in ("movement", "copy")
            specs.append(spec)
        return specs


# -- the modes ------------------------------------------------------------------------


class FunctionListener(TorchFunctionMode):
    """Hands each outermost torch-level call to the capture."""

    def __init__(self, capture: Capture) -> None:
        super().__init__()
        self.capture = capture

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        return self.capture.on_function(func, args, kwargs, lambda: func(*args, **kwargs))


class AtenListener(TorchDispatchMode):
    """Hands each aten op to the capture."""

    def __init__(self, capture: Capture) -> None:
        super().__init__()
        self.capture = capture

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        return self.capture.on_aten(func, args, kwargs, lambda: func(*args, **kwargs))


def user_location(error: BaseException) -> tuple[SourceLocation | None, str]:
    """The innermost frame of the user's code in a traceback: its location and source line."""
    import os
    import traceback

    torch_dir = os.path.dirname(torch.__file__)
    archcalc_dir = os.path.dirname(os.path.dirname(__file__))
    frames = traceback.extract_tb(error.__traceback__)
    for frame in reversed(frames):
        file = frame.filename
        if file.startswith((torch_dir, archcalc_dir, "<")):
            continue
        return SourceLocation(file, frame.lineno), (frame.line or "").strip()
    return None, ""
