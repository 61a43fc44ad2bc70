"""Records of one captured forward pass -> a Graph.

Dead ends are pruned (control-flow values, unused second outputs), chains of
adds or muls inside one module call are fused into one merge, nodes are named
after the module call they ran in, and every record is checked against its
rule: a record whose rule does not reproduce torch's output shape becomes an
unpriced op (listed in ``not_counted``).
"""

from __future__ import annotations

from collections import Counter

from archcalc.errors import ArchcalcError
from archcalc.frontends.records import CONSTANT, CaptureResult, ParamInfo, Record, Source
from archcalc.ir import INPUT, GraphBuilder, GraphInput, GraphOutput, ParamTensor
from archcalc.layer_keys import layer_key
from archcalc.layers import get_rule, role


def _prune(records: list[Record], outputs: set[Source], keep_unbatched: bool = False) -> list[Record]:
    """Drop dead ends that feed nothing: values without a batch axis (computed only to steer
    control flow) and unused extra outputs of multi-output ops."""
    while True:
        consumed = {source for record in records for source in record.inputs}
        dead = [
            r
            for r in records
            if ((not r.batched and not keep_unbatched and not r.constant) or r.secondary)
            and r.id not in consumed and r.id not in outputs
        ]
        if not dead:
            return records
        gone = {id(r) for r in dead}
        records = [r for r in records if id(r) not in gone]


class MixesSamples(Exception):
    """The forward mixes samples across the batch: no per-sample graph exists."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


def build_graph(
    records: list[Record],
    outputs: set[Source],
    params: dict[str, ParamInfo],
    name: str,
    input_shape: tuple[int, ...],
    reserved: set[str],
    *,
    input_dtype: str | None = None,
    extra_inputs: tuple[GraphInput, ...] = (),
    mixing: str | None = None,
    whole: bool = False,
    returned: tuple = (),
    read: set[str] | frozenset[str] = frozenset(),
    leaves: set[int] | frozenset[int] = frozenset(),
    agrees: dict | None = None,
) -> CaptureResult:
    """The Graph of the records, the ops not counted, and which layers are trainable.

    Raises :class:`MixesSamples` when an op mixed samples (its output had the batch on
    two axes, or a value without a batch axis flows on to the output); the caller then
    captures the model as a whole. ``agrees``: the capture's memo of :func:`rule_agrees`.
    """
    records = _prune(list(records), outputs, keep_unbatched=whole)
    if mixing is None and not whole:
        unbatched = next((r for r in records if not r.batched and not r.constant), None)
        if unbatched is not None:
            mixing = f"{unbatched.fn} gives a value without the batch axis that the model goes on to use"
    if mixing is not None and not whole:
        raise MixesSamples(mixing)
    records = _fuse_chains(_fuse_patterns(records, outputs))
    names = _assign_names(records, reserved)
    tensors = tuple(ParamTensor(p.name, p.numel, p.is_buffer, p.requires_grad, read=p.name in read)
                    for p in params.values())
    builder = GraphBuilder(
        name=name, input_shape=tuple(input_shape), input_dtype=input_dtype, extra_inputs=extra_inputs, tensors=tensors,
        live=True, advise=not whole,
    )
    node_of: dict[Source, str] = {INPUT: INPUT, **{extra.name: extra.name for extra in extra_inputs}}
    owner: dict[str, str] = {}
    trainable: dict[str, bool] = {}
    not_counted = Counter(fn for _, fn in {(r.call, r.fn) for r in records if not r.counted})
    for record in records:
        node = names[record.id]
        # a record that reads no activation (input-independent work, a learned tensor spread over
        # the batch) has no graph inputs: the rule sees the constants' recorded shapes
        constant = bool(record.inputs) and all(source == CONSTANT for source in record.inputs)
        inputs = [] if constant else [node_of.get(source) for source in record.inputs]
        if any(i is None for i in inputs):
            builder.warn("an input of this op was not traced; it is read from the model input", layer=node)
            inputs = [i for i in inputs if i is not None] or [INPUT]
        op, args = record.op, record.args
        in_shapes = tuple(record.in_shapes) if constant else tuple(builder.shape_of(i) for i in inputs)
        if not rule_agrees(op, args, in_shapes, record.shape, record.times, agrees):
            builder.warn(
                f"archcalc's {op} rule does not reproduce torch's output shape {record.shape}; not counted",
                layer=node,
            )
            not_counted[record.fn] += 1
            op, args = role("unpriced"), {"fn": record.fn, "shape": list(record.shape)}
        earlier = [owner[p] for p in sorted(record.params) if p in owner]
        for param in record.params:
            owner.setdefault(param, node)
        builder.add(node, op, args, inputs, shares_params_with=earlier[0] if earlier else None,
                    tensors=tuple(sorted(record.params)), times=record.times if op == record.op else None,
                    batched=record.batched or not constant, input_shapes=in_shapes if constant else None)
        node_of[record.id] = node
        learned = [params.get(p) for p in record.params]
        grads = [info.requires_grad for info in learned if info is not None and not info.is_buffer]
        trainable[node] = all(grads) if grads else True
    builder.set_outputs(tuple(
        GraphOutput(out_name, node_of.get(source, ""), tuple(shape), axis, merged)
        for out_name, source, shape, axis, merged in returned if source is None or source in node_of
    ))
    _note_pruning(builder, params)
    leaf_nodes = frozenset(node_of[r.id] for r in records if r.id in leaves and r.id in node_of)
    return CaptureResult(builder.build(), dict(not_counted), trainable, leaf_nodes)


def check_ledger(result: CaptureResult, ledger: int | None, batch: int) -> CaptureResult:
    """The capture against torch's own count of what ran (``ledger``: FlopCounterMode's formulas
    over every aten op, at the capture's ``batch``). The graph's ``torch`` counts at that batch
    must equal it; when they do not, a warning says by how much, so that a total never differs
    from torch's in silence. Known leaf modules (``nn.Conv2d``, ``nn.LSTM``...) are left out on
    both sides: their rules follow torch's counter on the CPU kernels (a fused LSTM counts 0
    there, while its meta pass runs step by step)."""
    from dataclasses import replace

    from archcalc.errors import AnalysisWarning

    if ledger is None:  # a formula could not read its arguments: no check
        return result
    ours = 0
    for node in result.graph.nodes:
        if node.name in result.leaves:
            continue  # a known leaf module: its rule, tested against torch's CPU kernels, prices it
        rule = get_rule(node.op)
        _, ops = rule.counts(node.attrs, node.input_shapes, node.rule_output_shape)
        ours += ops.torch * (batch if node.batched else 1) * (node.times or 1)
    if ours >= ledger:
        # every op torch prices is in some row (more can be: a leaf module's rule follows torch's
        # counter on the CPU kernel, where the meta pass may run another)
        return result
    note = AnalysisWarning(
        f"the torch preset counts {ours:,} FLOPs at the capture's batch of {batch} where torch's flop counter "
        f"prices the ops that ran at {ledger:,} ({ours - ledger:+,}): some work is not attributed to the rows "
        "as torch counts it", kind="ledger")
    graph = replace(result.graph, warnings=result.graph.warnings + (note,))
    return replace(result, graph=graph)


def _note_pruning(builder: GraphBuilder, params: dict[str, ParamInfo]) -> None:
    """``torch.nn.utils.prune`` keeps the weights in ``X_orig`` and the mask in the buffer ``X_mask``."""
    pruned = sorted(
        name[: -len("_mask")] for name, info in params.items()
        if info.is_buffer and name.endswith("_mask") and name[: -len("_mask")] + "_orig" in params
    )
    if pruned:
        builder.warn(
            f"pruned tensors ({', '.join(pruned)}): the weights are counted once as parameters (X_orig); "
            "the pruning masks (X_mask) are buffers"
        )


def rule_agrees(op: str, args: dict, in_shapes, shape, times: int | None = None, memo: dict | None = None) -> bool:
    """Whether archcalc's rule accepts these arguments and gives torch's output shape
    (applied ``times`` times: each shape then has a leading axis of that size, which the rule
    does not see). ``memo``: answers already found, by layer key (a capture's own: a rule is pure,
    and a model's blocks ask the same questions)."""
    if times is not None:
        if not shape or shape[0] != times:
            return False
        in_shapes = tuple(s[1:] if s and s[0] == times else s for s in in_shapes)
        shape = shape[1:]
    in_shapes, shape = tuple(in_shapes), tuple(shape)
    key = layer_key(op, args, in_shapes, shape) if memo is not None else None
    known = memo.get(key) if key is not None else None
    if known is None:
        try:
            rule = get_rule(op)
            attrs = rule.normalize(dict(args), in_shapes)
            known = tuple(rule.output_shape(attrs, in_shapes).shape) == shape
        except ArchcalcError:
            known = False
        if key is not None:
            memo[key] = known
    return known


def _patterns() -> list[tuple[Counter, str]]:
    """(signature, op) of every family's patterns (``Family.patterns``)."""
    from archcalc.layers import all_families

    return [(Counter(signature), op) for family in all_families().values()
            for op, signatures in family.patterns.items() for signature in signatures]


def known_pattern(signature: Counter) -> str | None:
    """The op of the family pattern whose calls are ``signature`` (counted call names), or None."""
    return next((op for pattern, op in _patterns() if pattern == signature), None)


def _fuse_patterns(records: list[Record], outputs: set[Source]) -> list[Record]:
    """The records of one call of a module without submodules that form a family's pattern
    (``Family.patterns``: the calls' names, counted), from one input to one output and
    learning nothing, become one record of the pattern's op (a tanh GELU written out)."""
    patterns = _patterns()
    if not patterns:
        return records
    groups: dict[int, list[Record]] = {}
    for record in records:
        if record.scope.path and not record.scope.has_children:
            groups.setdefault(id(record.scope), []).append(record)
    consumers: dict[Source, set[int]] = {}
    for record in records:
        for source in record.inputs:
            consumers.setdefault(source, set()).add(record.id)
    replaced: dict[int, Record | None] = {}
    for group in groups.values():
        if len(group) < 2 or any(r.name is not None or r.params or not r.counted for r in group):
            continue
        ids = {r.id for r in group}
        external = {s for r in group for s in r.inputs if s not in ids}
        leaving = [r for r in group if r.id in outputs or consumers.get(r.id, set()) - ids]
        if len(external) != 1 or len(leaving) != 1:
            continue
        signature = Counter(r.fn for r in group)
        op = next((op for pattern, op in patterns if pattern == signature), None)
        if op is None:
            continue
        last = leaving[0]
        for record in group:
            replaced[record.id] = None
        replaced[last.id] = Record(id=last.id, op=op, args={}, inputs=(external.pop(),), shape=last.shape, base=op,
                                   fn=op, scope=last.scope, batched=last.batched, call=last.call)
    if not replaced:
        return records
    kept = [replaced.get(r.id, r) for r in records]
    return [r for r in kept if r is not None]


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
        if get_rule(record.op).associative and record.name is None:
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


