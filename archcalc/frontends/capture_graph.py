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
from archcalc.frontends.records import CaptureResult, ParamInfo, Record, Source
from archcalc.ir import INPUT, GraphBuilder
from archcalc.layers import get_rule, role


def _prune(records: list[Record], outputs: set[Source]) -> list[Record]:
    """Drop dead ends that feed nothing: values without a batch axis (computed only to steer
    control flow) and unused extra outputs of multi-output ops."""
    while True:
        consumed = {source for record in records for source in record.inputs}
        dead = [
            r
            for r in records
            if (not r.batched or r.secondary) and r.id not in consumed and r.id not in outputs
        ]
        if not dead:
            return records
        gone = {id(r) for r in dead}
        records = [r for r in records if id(r) not in gone]


def build_graph(
    records: list[Record],
    outputs: set[Source],
    params: dict[str, ParamInfo],
    name: str,
    input_shape: tuple[int, ...],
    reserved: set[str],
) -> CaptureResult:
    """The Graph of the records, the ops not counted, and which layers are trainable."""
    records = _fuse_chains(_prune(list(records), outputs))
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
            op, args = role("unpriced"), {"fn": record.fn, "shape": list(record.shape)}
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
        learned = [params.get(p) for p in record.params]
        grads = [info.requires_grad for info in learned if info is not None and not info.is_buffer]
        trainable[node] = all(grads) if grads else True
    unused = [info for info in params.values() if not info.is_buffer and info.name not in owner]
    if unused:
        total = sum(info.numel for info in unused)
        listed = ", ".join(info.name for info in unused[:5]) + (", ..." if len(unused) > 5 else "")
        builder.warn(
            f"{total:,} parameters are not attributed to any layer (unused in forward, or used by ops "
            f"archcalc does not count) and are not in the totals: {listed}"
        )
    return CaptureResult(builder.build(), dict(not_counted), trainable)



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


