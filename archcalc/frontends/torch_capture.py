"""Capture of one ``forward`` pass: what ran, in which module, on which tensors.

Three listeners run together while the model's ``forward`` executes on meta
tensors:

* global module pre/post hooks keep the stack of module calls (``layer3.1``)
  and map known leaf modules whole (:func:`torch_ops.leaf_mapper`);
* a ``TorchFunctionMode`` sees each outermost torch-level call the user wrote
  (``torch.tanh``, ``x.reshape``, ``+=``, ``torch.cat``, ``F.scaled_dot_product_attention``)
  and maps it with :func:`torch_ops.function_specs`;
* a ``TorchDispatchMode`` sees every aten op underneath and maps the ones no
  upper level claimed (:func:`torch_ops.aten_specs`), so that nothing runs
  unseen: an op without a mapping becomes an unpriced record (the
  ``unpriced`` role of the registry).

The handlers are the families' (:mod:`archcalc.layers`); what they see is
:mod:`archcalc.frontends.calls`; the records become a Graph in
:mod:`archcalc.frontends.capture_graph`.

An upper level that maps a call discards the records the lower levels made
inside it (a known ``nn.Linear`` replaces the ``t`` + ``addmm`` it ran). Inside a
torch-level call the aten ops are not recorded as they run but kept (the op, its
arguments and outputs) and recorded after the call, only when it maps to no rule
(or fails): a mapped call never pays for recording what it replaces. What every op
needs at once still happens at once: its kernel runs, torch's formula prices it for
the ledger, its sizes are checked against the batch, its reads of parameters are
noted; and before an op that changes a shape in place (``unsqueeze_``,
``resize_``) runs, the ops waiting are recorded, so each is read as it ran.

Data flow: every activation tensor is traced to the record that produced it,
by object identity (weak references guard against reused ids); the model's
input is :data:`archcalc.ir.INPUT`. Tensors not derived from the input are
constants; those derived from parameters remember which (``w.t()``,
``self.cls_token.expand(...)``), so that ``F.linear(x, w)`` and
``x + self.pos_embed`` know their learned operands.

Shapes are per sample: the capture runs at a prime batch size that divides no
size the model produces for one sample (chosen by a batch-1 probe:
:mod:`archcalc.frontends.capture_guards`) and removes that axis, wherever it is
(``(L, N, E)`` sequence-first tensors too); an axis that merged the batch with
another (``(N * heads, L, d)``) keeps the other factor, and an op on such a
tensor whose rule describes one slice is applied that many times per sample.

Work that reads no activation is recorded too (:meth:`Capture._constant_work`):
counted once per forward when its result has no batch axis, an input of the
layers after it when it has one (learned queries expanded over the batch).
"""

from __future__ import annotations

import weakref
from dataclasses import replace
from collections import Counter
from collections.abc import Iterable
from typing import Any

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from archcalc.frontends.leaves import leaves

from archcalc.errors import ArchcalcError, SourceLocation
from archcalc.frontends import meta_memo, torch_ops
from archcalc.frontends.calls import Call, LeafCall
from archcalc.frontends.capture_graph import build_graph, check_ledger, known_pattern, rule_agrees
from archcalc.frontends.capture_guards import flop_formulas
from archcalc.frontends.records import CONSTANT, CallScope, CaptureResult, ParamInfo, Record, Source, Spec, TensorInfo
from archcalc.ir import INPUT
from archcalc.layers import OpCounts, get_rule, role



class Capture:
    """Records one forward pass; :meth:`build` turns the records into a Graph."""

    def __init__(self, batch: int | None, params: dict[int, tuple[Any, ParamInfo]], paths: dict[int, str]) -> None:
        #: the batch size to find and remove in every shape; None: the whole batch is one sample
        self.batch = batch
        self.whole = batch is None
        #: what first mixed samples across the batch (an op whose output has the batch on two axes)
        self.mixing: str | None = None
        #: the forward runs on meta tensors (shapes only): some functions may be short-cut
        self.meta = False
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
        #: (name, source, per-sample shape, batch axis, merged) of each tensor forward returned
        self.returned: list[tuple[str, Source, tuple[int, ...], int | None, bool]] = []
        #: names of the parameters and buffers some op read
        self.read: set[str] = set()
        #: torch's FLOPs of every op that ran (see :meth:`_ledger`), at this capture's batch
        self.ledger = 0
        self.ledger_complete = True
        #: a size was met that a model dimension could make (a multiple of the batch in a per-sample
        #: shape, or a constant with a batch axis): the batch must be chosen by a probe
        self.suspect = False
        #: ids of the records of known leaf modules mapped whole
        self.leaves: set[int] = set()
        #: layer key -> whether its rule gives torch's output (capture_graph.rule_agrees)
        self._agrees: dict[bytes, bool] = {}
        #: the full shapes :meth:`_check_sizes` found free of a multiple of the batch
        self._sizes_checked: set[tuple] = set()
        #: while a torch-level call runs: its aten ops, recorded after it only if it maps to no rule
        self._deferred: list | None = None

    # -- tensors --------------------------------------------------------------------
    def set_input(self, tensor: torch.Tensor, name: str = INPUT) -> None:
        self._set_source(tensor, name)

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
        shape = tuple(map(int, shape))
        if self.batch is None:
            return shape, None, False
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
            if spec.alias_of is None and not rule_agrees(spec.op, spec.args, spec.in_shapes, spec.shape,
                                                         memo=self._agrees):
                spec.times = self._folded(spec)
                if spec.times is None:
                    return False
        if mark is not None:
            del self.records[mark:]
        if self.batch is not None and self.mixing is None:
            for spec in specs:
                full = getattr(spec.out, "shape", ())
                if sum(1 for size in full if size == self.batch) > 1:
                    self.mixing = f"{spec.fn} gives shape ({', '.join(str(s) for s in full)}) at batch {self.batch}"
        self._commits += 1
        for spec in specs:
            if spec.alias_of is not None:
                self._set_source(spec.out, spec.alias_of)
                continue
            if spec.constant:
                self._lineage[id(spec.out)] = (weakref.ref(spec.out), self.lineage(spec.out) | spec.params)
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
                in_shapes=tuple(spec.in_shapes),
                times=spec.times,
                constant=spec.constant,
            )
            self._next_id += 1
            self.records.append(record)
            if not spec.constant:
                self._set_source(spec.out, record.id)
        return True

    def _folded(self, spec: Spec) -> int | None:
        """k when the op ran on a batch folded with k into the first axis (``x.reshape(B * 2, ...)``,
        ``torch.cat([a, b], 0)``, ``(B * heads, T, d)``), or on the whole batch of a model analysed
        as one sample, and its rule agrees applied k times per sample; else None."""
        if not isinstance(spec.out, torch.Tensor) or not spec.shape:
            return None
        shape, axis, removed = self.per_sample(spec.out.shape)
        if self.whole:  # the whole batch is one sample: its first axis is the samples, each a rule's input
            times = shape[0] if spec.in_shapes and all(s[:1] == shape[:1] for s in spec.in_shapes) else None
        else:
            times = shape[0] if axis == 0 and not removed and shape[0] > 1 else None
        if times is not None and any(s[:1] == (times,) for s in spec.in_shapes) and \
                rule_agrees(spec.op, spec.args, spec.in_shapes, spec.shape, times, self._agrees):
            return times
        return None

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
        mapper = torch_ops.leaf_mapper(module)
        if mapper is not None:
            flat = [t for t in leaves(args) if isinstance(t, torch.Tensor)]
            infos = self.snapshot(flat)
            active = tuple((t, infos[id(t)]) for t in flat if id(t) in infos)
            if active:
                scope.mapper, scope.input_tensors = mapper, active
        self.stack.append(scope)

    def post_hook(self, module, args, output) -> None:
        while self.stack and self.stack[-1].module is not module:
            self.stack.pop()  # a call that raised inside the user's try/except
        if not self.stack:
            return
        scope = self.stack.pop()
        outputs = [t for t in leaves(output) if isinstance(t, torch.Tensor)]
        leaf = None
        if scope.mapper is not None and outputs:
            leaf = self._map_leaf(scope, self.stack[-1] if self.stack else scope, outputs)
        if leaf is not None:
            self.leaves.add(leaf)
        elif scope.mapper is not None:
            # not mapped whole: its aten ops stay rows, and their torch FLOPs go back to the ledger
            outer = next((s for s in reversed(self.stack) if s.mapper is not None), None)
            if outer is not None:
                outer.ledger += scope.ledger
            else:
                self.ledger += scope.ledger
        elif scope.mapper is None and not scope.has_children and len(outputs) == 1 and scope.path:
            self._fold_pointwise(scope, self.stack[-1] if self.stack else scope, outputs[0])

    def _fold_pointwise(self, scope: CallScope, parent: CallScope, output: torch.Tensor) -> None:
        """A module whose forward made only point-wise records (same shape, no parameters) from one
        input tensor becomes one record named after it (``gelu_new``: one row, not eight), with the
        sum of their counts (:mod:`archcalc.layers.fused`)."""
        records = self.records[scope.mark:]
        if len(records) < 2 or self.source(output) != records[-1].id:
            return
        if known_pattern(Counter(record.fn for record in records)):
            return  # a family names this pattern (a tanh GELU written out): its op, later
        made = {record.id for record in records}
        external = {source for record in records for source in record.inputs if source not in made}
        if len(external) != 1:
            return
        (source,) = external
        shape = records[-1].shape
        in_shape = next((s for record in records for i, s in zip(record.inputs, record.in_shapes) if i == source), None)
        if in_shape is None or tuple(in_shape) != tuple(shape):
            return
        total = OpCounts()
        activation = False
        for record in records:
            rule = get_rule(record.op)
            if (record.params or not record.counted or record.secondary or tuple(record.shape) != tuple(shape)
                    or not (rule.category in ("elementwise", "activation") or rule.associative)):
                return
            try:
                attrs = rule.normalize(dict(record.args), record.in_shapes)
                total = total + rule.counts(attrs, record.in_shapes, record.shape)[1]
            except ArchcalcError:
                return
            activation = activation or rule.category == "activation"
        counts = {key: getattr(total, key) for key in ("adds", "muls", "divs", "cmps", "exps", "fvcore", "torch")
                  if getattr(total, key)}
        op = role("module_of_pointwise_ops_with_activation" if activation else "module_of_pointwise_ops")
        fn = type(scope.module).__name__
        spec = Spec(op, {"fn": fn, "shape": list(shape), "ops": counts}, (source,), (tuple(in_shape),), output,
                    tuple(shape), op, fn)
        if self.commit([spec], mark=scope.mark, scope=parent):
            self.records[-1].name = scope.name

    def _map_leaf(self, scope: CallScope, parent: CallScope, outputs: list[torch.Tensor]) -> int | None:
        """A known leaf module as one record (its first output); its other outputs (an LSTM's
        final state) become views of that record, so what uses them stays connected. The
        record's id, or None when the module is not mapped whole."""
        leaf = LeafCall(self, scope.input_tensors, outputs[0])
        try:
            mapped = scope.mapper(scope.module, leaf)
        except (AttributeError, TypeError, ValueError, IndexError):
            mapped = None
        if mapped is None:
            return None
        op, args, *chosen = mapped
        used = [scope.input_tensors[i] for i in chosen[0]] if chosen else list(scope.input_tensors)
        module = scope.module
        tensors = [t for t in list(module._parameters.values()) + list(module._buffers.values()) if t is not None]
        names = frozenset(self.params[id(t)][1].name for t in tensors if id(t) in self.params)
        spec = Spec(
            op=op,
            args=args,
            inputs=tuple(info.source for _, info in used),
            in_shapes=tuple(info.shape for _, info in used),
            out=outputs[0],
            shape=leaf.out_shape,
            base=op,
            fn=type(module).__name__,
            params=names,
        )
        if not self.commit([spec], mark=scope.mark, scope=parent):
            return None
        record = self.records[-1]
        record.name = scope.name or type(module).__name__.lower()
        view = role("view")
        for index, extra in enumerate(outputs[1:], start=1):
            shape = self.per_sample(extra.shape)[0]
            args = {"fn": f"{type(module).__name__}[{index}]", "shape": list(shape)}
            extra_spec = Spec(view, args, (record.id,), (record.shape,), extra, shape, "output", args["fn"],
                              secondary=True)
            self.commit([extra_spec], scope=parent)
        return record.id

    # -- torch-level calls and aten ops ----------------------------------------------
    def on_function(self, func, args, kwargs, run):
        name = torch_ops.function_name(func)
        if not self.stack or not torch_ops.has_function(name):
            return run()
        flat = leaves((args, kwargs))
        infos = self.snapshot(flat)
        if not infos:
            out = run()
            self.propagate_lineage(flat, leaves(out))
            return out
        mark = len(self.records)
        first = args[0] if args else None
        if self.meta and torch_ops.meta_shortcut(name) and isinstance(first, torch.Tensor) and first.is_meta:
            shortcut = torch.empty_like(first, memory_format=_kernel_layout(first))
            specs = torch_ops.function_specs(Call(self, name, func, args, kwargs, shortcut, infos))
            if specs and self.commit(specs, mark=mark):
                return shortcut
        # the aten ops of this call are recorded after it, and only if the call maps to no rule (a
        # rule's records replace them): most of the work of recording them is then never done
        self._deferred = []
        try:
            out = run()
        except BaseException:
            self._record_deferred()  # what ran before the error (the model may catch it) is recorded
            raise
        deferred, self._deferred = self._deferred, None
        call = Call(self, name, func, args, kwargs, out, infos)
        specs = torch_ops.function_specs(call)
        if specs and self.commit(specs, mark=mark):
            return out
        self._deferred = deferred
        self._record_deferred()
        return out

    def _record_deferred(self) -> None:
        deferred, self._deferred = self._deferred, None
        for item in deferred or ():
            self._record_aten(*item)

    def on_aten(self, func, args, kwargs, run):
        flat = leaves((args, kwargs))
        self._note_reads(flat)
        deferred = self._deferred
        if deferred and func.overloadpacket in _RESHAPES_IN_PLACE:
            for item in deferred:  # a shape is about to change in place: what ran before is read as it was
                self._record_aten(*item)
            deferred.clear()
        out = self._run(func, args, kwargs, run)
        self._ledger(func, args, kwargs, out)
        if self.batch is not None and not self.suspect:
            self._check_sizes(out)
        if deferred is not None:
            deferred.append((func, args, kwargs, flat, out))
            return out
        self._record_aten(func, args, kwargs, flat, out)
        return out

    def _record_aten(self, func, args, kwargs, flat, out) -> None:
        """The records of one aten op that ran: its rule's, or an unpriced one; lineage for constants."""
        infos = self.snapshot(flat) if self.stack else {}
        if not infos:
            self.propagate_lineage(flat, leaves(out))
            if self.stack:
                self._constant_work(func, args, kwargs, flat, out)
            return
        call = Call(self, torch_ops.aten_name(func), func, args, kwargs, out, infos)
        if not call.outputs() or call.name in torch_ops.FACTORIES:
            return
        specs = torch_ops.aten_specs(call)
        if not specs or not self.commit(specs):
            specs = call.generic(role("unpriced"), list(call.active_tensors()), fn=call.name, counted=False)
            self.commit(specs or [], mark=None)
        self._written_through_view(func, args)

    def _written_through_view(self, func, args) -> None:
        """An in-place write into a view (``shifted[:, 1:] = ids[:, :-1]``) changes the tensor it
        views: that base now holds what the write produced (a view of it, at its own shape)."""
        target = args[0] if args else None
        schema = getattr(func, "_schema", None)
        if not (isinstance(target, torch.Tensor) and schema is not None and schema.arguments):
            return
        alias = schema.arguments[0].alias_info
        base = target._base
        if alias is None or not alias.is_write or base is None:
            return
        written = self.source(target)
        if written is None or self.source(base) is not None and self.source(base) == written:
            return
        shape = self.per_sample(base.shape)[0]
        view = role("view")
        spec = Spec(view, {"fn": "written", "shape": list(shape)}, (written,),
                    (self.per_sample(target.shape)[0],), base, shape, "written", "written")
        self.commit([spec])

    def _check_sizes(self, out) -> None:
        """Suspect the batch when a per-sample shape holds a multiple of it (a 97-token sequence, a
        "same" padding to 97 pixels read at batch 97)."""
        checked = self._sizes_checked
        for tensor in leaves(out):
            if isinstance(tensor, torch.Tensor):
                full = tuple(tensor.shape)
                if full in checked:  # a shape met before (a transformer's blocks repeat theirs)
                    continue
                checked.add(full)
                shape = self.per_sample(full)[0]
                if any(size > 1 and size % self.batch == 0 for size in shape):
                    self.suspect = True
                    return

    def _ledger(self, func, args, kwargs, out) -> None:
        """Every op that ran, priced by torch's own formulas (``torch.utils.flop_counter``'s
        registry, as FlopCounterMode prices it): the check the ``torch`` preset's total must pass."""
        formula = flop_formulas().get(func.overloadpacket)
        if formula is not None:
            try:
                flops = int(formula(*args, **kwargs, out_val=out))
            except Exception:  # noqa: BLE001  (a formula that cannot read these arguments: no check)
                self.ledger_complete = False
                return
            leaf = next((scope for scope in reversed(self.stack) if scope.mapper is not None), None)
            if leaf is not None:
                leaf.ledger += flops  # a known leaf: its rule prices it, unless its mapping fails
            else:
                self.ledger += flops

    def _run(self, func, args, kwargs, run):
        """Run the op. On meta tensors ``_grouped_mm`` (mixture-of-experts) has a kernel for bfloat16
        only: another dtype runs in bfloat16 and the output takes the dtype back (shapes are all a
        meta pass needs)."""
        try:
            return meta_memo.run(func, args, kwargs, run)
        except RuntimeError:
            if not (self.meta and func is getattr(torch.ops.aten, "_grouped_mm").default):
                raise
            dtypes = {t.dtype for t in leaves((args, kwargs))
                      if isinstance(t, torch.Tensor) and t.is_floating_point()}
            if dtypes in (set(), {torch.bfloat16}):
                raise
            to_bf16 = [t.to(torch.bfloat16) if isinstance(t, torch.Tensor) and t.is_floating_point() else t
                       for t in args]
            out = func(*to_bf16, **kwargs)
            return out.to(args[0].dtype)

    def _tensors_of_modules_that_ran(self) -> set[str]:
        """Names of the tensors held by modules whose forward ran (a module that ran is never "not
        called", whether or not an op read each of its tensors: a mask token used only in training)."""
        ran = set(self.calls)
        return {name for name in self.by_name if name.rpartition(".")[0] in ran}

    def _note_reads(self, flat: list[Any]) -> None:
        """Remember which parameters and buffers an op read (a module whose tensors were read
        is never reported as not called)."""
        for tensor in flat:
            known = self.params.get(id(tensor)) if isinstance(tensor, torch.Tensor) else None
            if known is not None and known[0] is tensor:
                self.read.add(known[1].name)

    def _constant_work(self, func, args, kwargs, flat: list[Any], out: Any) -> None:
        """An op that reads no traced activation: work on parameters and buffers, or on a tensor the
        capture lost track of (a custom kernel's output). Nothing that costs is dropped:

        * a result without a batch axis is input-independent work done on every forward (a
          position-bias MLP on a buffer): counted once per forward, and the result stays a
          constant (its lineage), named after the module that ran it;
        * a result with a batch axis (a learned tensor spread over the batch,
          ``self.latents.expand(B, -1, -1)``; a product with an untracked activation) is an
          activation from here on: a record that reads no input, counted per sample;
        * data movement without a batch axis is free and records nothing.

        Ops that neither read a parameter nor have a formula in torch's counter are left alone
        (mask construction from ``arange``)."""
        names = frozenset().union(*(self.lineage(t) for t in flat))
        name = torch_ops.aten_name(func)
        outputs = [t for t in leaves(out) if isinstance(t, torch.Tensor)]
        if not outputs or name in torch_ops.FACTORIES:
            return
        if not names and func.overloadpacket not in flop_formulas():
            return
        first = outputs[0]
        shape, axis, _ = self.per_sample(first.shape)
        infos = {id(t): TensorInfo(CONSTANT, self.per_sample(t.shape)[0], tuple(t.shape))
                 for t in flat if isinstance(t, torch.Tensor)}
        specs = torch_ops.aten_specs(Call(self, name, func, args, kwargs, out, infos))
        moves = not specs or any(get_rule(spec.op).category in ("reshape", "other") for spec in specs)
        if axis is None:
            if moves:
                return
            for spec in specs:
                spec.constant, spec.batched, spec.params = True, False, spec.params | names
            self.commit(specs)
            return
        if not (name == "expand" and _spreads_over_batch(flat[0], first, axis, self.batch)):
            self.suspect = True  # a constant whose own size imitates the batch?
        if moves:
            learned = [t for t in flat if isinstance(t, torch.Tensor)]
            known = [i for i in map(self._info, names) if i is not None]
            args = {"fn": name, "shape": list(shape), "learned": sum(i.numel for i in known if not i.is_buffer),
                    "buffers": sum(i.numel for i in known if i.is_buffer)}
            spec = Spec(role("view"), args, (CONSTANT,), (self.per_sample(learned[0].shape)[0],), first, shape,
                        name, name, params=names)
            self.commit([spec])
            return
        for spec in specs:
            spec.batched, spec.params = True, spec.params | names
        self.commit(specs)

    # -- the graph ------------------------------------------------------------------
    def set_outputs(self, out: Any) -> None:
        """Remember what forward returned: each tensor's name (``0``, ``last_hidden_state``),
        producer (never pruned) and per-sample shape."""
        self.returned = []
        for name, tensor in _named_leaves(out):
            source = self.source(tensor)  # None: made from no input (noise, an index from the shapes)
            shape, axis, removed = self.per_sample(tensor.shape)
            self.returned.append((name, source, shape, axis, not removed and axis is not None))
        self.outputs = {source for _, source, *_ in self.returned if source is not None}

    def build(self, name: str, input_shape: tuple[int, ...], reserved: set[str], **inputs: Any) -> CaptureResult:
        """The Graph; ``inputs``: ``input_dtype`` and ``extra_inputs`` of a forward with several inputs."""
        result = build_graph(self.records, self.outputs, self.by_name, name, input_shape, reserved,
                             mixing=self.mixing, whole=self.whole, returned=tuple(self.returned),
                             read=self.read | self._tensors_of_modules_that_ran(), leaves=self.leaves,
                             agrees=self._agrees, **inputs)
        result = check_ledger(result, self.ledger if self.ledger_complete else None, self.batch or 1)
        return replace(result, batch=self.batch if self.meta else None)

    def _info(self, name: str) -> ParamInfo | None:
        return self.by_name.get(name)


def _spreads_over_batch(source: Any, out: torch.Tensor, axis: int, batch: int | None) -> bool:
    """``source.expand(...)`` made the batch axis from a size of 1 (or a new leading axis): a learned
    tensor spread over the batch, not a size of the model that happens to equal the batch."""
    if not isinstance(source, torch.Tensor) or batch is None or out.shape[axis] != batch:
        return False
    lead = out.dim() - source.dim()
    return axis < lead or source.shape[axis - lead] == 1


def _kernel_layout(tensor: torch.Tensor) -> torch.memory_format:
    """The memory format a normalisation kernel's output has on the CPU: channels-last kept for a
    channels-last image, else contiguous (a transposed input's strides are not kept, so a later
    ``view`` works as it does for real)."""
    if tensor.dim() == 4 and not tensor.is_contiguous() and tensor.is_contiguous(memory_format=torch.channels_last):
        return torch.channels_last
    return torch.contiguous_format


def _named_leaves(out: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """The tensors of what forward returned, named by their place: ``0``, ``1.2``,
    ``last_hidden_state`` (dicts and ``ModelOutput`` by key, sequences by index); a lone
    tensor is ``output``."""
    if isinstance(out, torch.Tensor):
        return [(prefix or "output", out)]
    items: Iterable[tuple[Any, Any]]
    if isinstance(out, dict):
        items = out.items()
    elif isinstance(out, (list, tuple)):
        items = enumerate(out)
    else:
        return []
    named = []
    for key, value in items:
        named.extend(_named_leaves(value, f"{prefix}.{key}" if prefix else str(key)))
    return named


# -- the modes ------------------------------------------------------------------------


#: aten ops that change a tensor's shape or strides in place: a deferred op must be recorded before
#: one of these runs, while its tensors still have the shapes it saw
_RESHAPES_IN_PLACE = {getattr(torch.ops.aten, name) for name in (
    "resize_", "resize_as_", "as_strided_", "unsqueeze_", "squeeze_", "t_", "transpose_", "swapdims_", "swapaxes_",
    "set_", "_resize_output_") if hasattr(torch.ops.aten, name)}


class FunctionListener(TorchFunctionMode):
    """Hands each outermost torch-level call to the capture."""

    def __init__(self, capture: Capture) -> None:
        super().__init__()
        self.capture = capture

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        return self.capture.on_function(func, args, kwargs, lambda: func(*args, **kwargs))


class AtenListener(TorchDispatchMode):
    """Hands each aten op to the capture.

    By default torch wraps a dispatch mode's ``__torch_dispatch__`` in
    ``torch._disable_dynamo``, whose first call imports ``torch._dynamo`` (about a
    second of start-up, ``python -X importtime``). archcalc never compiles, so the
    mode opts out (``_should_skip_dynamo``, the switch ``TorchDispatchMode``
    documents for this).
    """

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        return False

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
