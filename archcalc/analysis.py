"""Analysis passes: Graph -> Report.

Three passes over the nodes in execution order, each a small pure function:

* :func:`receptive_fields` composes the Distill recurrence along the data flow;
* :func:`peak_live_bytes` simulates tensor lifetimes of one inference pass;
* :func:`analyze_graph` applies each node's rule (parameters, operation
  counts), the convention, batch and dtype, and assembles the Report.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Callable

from archcalc.conventions import Convention, get_convention
from archcalc.errors import AnalysisWarning, InputError
from archcalc.frozen_records import record_maker
from archcalc.ir import Graph, GraphInput, Node
from archcalc.layer_keys import layer_key
from archcalc.report import LayerRow, ReceptiveField, Report, Totals, UnusedModule
from archcalc.layers import get_rule
from archcalc.layers.base import prod

#: bytes per element of the dtypes archcalc knows
DTYPE_BYTES = {
    "float64": 8,
    "float32": 4,
    "float16": 2,
    "bfloat16": 2,
    "int8": 1,
    "uint8": 1,
}
_DTYPE_ALIASES = {"fp32": "float32", "fp16": "float16", "half": "float16", "bf16": "bfloat16",
                  "fp64": "float64", "double": "float64", "float": "float32"}

#: bytes per element of input dtypes besides the analysis dtypes (token ids, masks)
INPUT_DTYPE_BYTES = {**DTYPE_BYTES, "int64": 8, "int32": 4, "int16": 2, "bool": 1}

#: optimizer -> state tensors kept per parameter, on top of the parameter and its gradient
OPTIMIZER_STATE = {"sgd": 0, "momentum": 1, "adam": 2}

_INPUT_RF = ReceptiveField(size=(1, 1), jump=(1, 1), start=(0, 0))
_make_field = record_maker(ReceptiveField)
_make_row = record_maker(LayerRow)


def dtype_bytes(dtype: str) -> tuple[str, int]:
    """Canonical dtype name and its bytes per element."""
    name = _DTYPE_ALIASES.get(dtype.lower(), dtype.lower())
    if name not in DTYPE_BYTES:
        raise InputError(f"unknown dtype '{dtype}' (choose from {', '.join(DTYPE_BYTES)})")
    return name, DTYPE_BYTES[name]


_UNSET = object()


class RuleResults:
    """What each node's rule computes (counts, receptive-field step, weight shape), derived once per
    distinct layer (:mod:`archcalc.layer_keys`: op, attrs, input and output shapes) and looked up for
    the others: a 100,000-layer ``repeat:`` is one conv derived once."""

    def __init__(self) -> None:
        self._known: dict[str, dict] = {}  # node name -> what is known of its key (shared by the key's nodes)
        self._by_key: dict[bytes, dict] = {}

    def facets(self, node: Node) -> dict:
        """What is known of ``node``'s key: facet -> value, one dict shared by the key's nodes (a
        node whose key cannot be made has a dict of its own). Callers that need several facets of
        a node look the dict up once (:func:`analyze_graph`)."""
        known = self._known.get(node.name)
        if known is None:
            key = node.key
            if key is None:  # a node whose builder made no key (or a node made by hand)
                key = layer_key(node.op, node.attrs, node.input_shapes, node.rule_output_shape)
            known = self._known[node.name] = {} if key is None else self._by_key.setdefault(key, {})
        return known

    def get(self, facet: Any, node: Node, compute: Callable[[], Any]) -> Any:
        """``compute()`` for ``node``, or what it gave for an earlier node with the same key;
        ``facet`` names what is computed (with any number it depends on besides the layer)."""
        known = self.facets(node)
        found = known.get(facet, _UNSET)
        if found is _UNSET:
            found = known[facet] = compute()
        return found


def _rf_step(node: Node) -> tuple[tuple, tuple, tuple]:
    """(grow, jump, shift) of the node's receptive-field step, whole Fractions as ints."""
    step = get_rule(node.op).rf_step(node.attrs, node.input_shapes)
    return _whole(step.grow), _whole(step.jump), _whole(step.shift)


def receptive_fields(graph: Graph, results: RuleResults | None = None
                     ) -> tuple[dict[str, ReceptiveField | None], list[AnalysisWarning]]:
    """Receptive field of every node's output (Araujo et al., Distill 2019)::

        r_out = r_in + grow * j_in,   j_out = j_in * jump,   s_out = s_in + shift * j_in

    per axis, with ``grow``, ``jump`` and ``shift`` from the rule's RFStep.
    Where branches merge, the field is the largest over the branches; a warning
    is given when merged branches are not aligned (different jumps or centres).
    Inputs that are broadcast (a 1 x 1 gate in squeeze-excitation) are not
    compared, nor merges in networks whose input is not an image (a
    ``(T, heads, d)`` tensor of a transformer has no spatial axes).

    A live module (its graph carries its tensors) is read as it runs, not as it was
    designed: a field is given only while the tensor is an image in the input's
    ``C x H x W`` layout. After a view or copy that moves the spatial axes (a permute to
    channels-last, a flatten into tokens) or a product that mixes positions (attention,
    matmul, einsum), which positions a value sees is not a rectangle of the input, and
    the field is left blank (None), as for the zoo's ViT. Merged branches of a live
    module are not checked for alignment: a half-pixel offset in a standard
    downsampling shortcut is the model's design, not the user's mistake.

    ``results``: the rule results of :func:`analyze_graph` (each distinct layer's step derived once).
    """
    results = RuleResults() if results is None else results
    live = bool(graph.tensors)
    image = len(graph.input_shape) == 3
    fields: dict[str, ReceptiveField | None] = {
        source.name: _INPUT_RF if (not live or len(source.shape) == 3) else None for source in graph.inputs
    }
    warnings: list[AnalysisWarning] = []
    shapes = {source.name: source.shape for source in graph.inputs}
    for node in graph.nodes:
        shapes[node.name] = node.output_shape
        if live and not _keeps_layout(node, fields, shapes):
            fields[node.name] = None
            continue
        incoming = [fields[i] for i in node.inputs if fields[i] is not None]
        if not incoming:  # work on constants only (live modules): it sees no input
            fields[node.name] = None
            continue
        if len(incoming) > 1:
            compared = [
                fields[i]
                for i in node.inputs
                if fields[i] is not None and not (len(shapes[i]) == 3 and shapes[i][1:] == (1, 1)
                                                  and node.output_shape[1:] != (1, 1))
            ] or incoming
            spatial = image and all(len(shapes[i]) == 3 for i in node.inputs)
            if spatial and not live and len({(f.jump, f.start) for f in compared}) > 1:
                described = "; ".join(
                    f"{name}: jump {_pair(fields[name].jump)}, centre {_pair(fields[name].start)}"
                    for name in node.inputs if fields[name] is not None
                )
                warnings.append(
                    AnalysisWarning(
                        f"merged branches are not aligned ({described})",
                        layer=node.name,
                        location=node.location,
                        kind="rf",
                    )
                )
            base = max(compared, key=lambda f: (f.size[0] * f.size[1], f.size))
        else:
            base = incoming[0]
        known = results.facets(node)
        step = known.get("rf_step")
        if step is None:
            step = known["rf_step"] = _rf_step(node)
        grow, jumps, shift = step
        size = tuple([r + g * j for r, g, j in zip(base.size, grow, base.jump)])
        jump = tuple([j * s for j, s in zip(base.jump, jumps)])
        start = tuple([s + sh * j for s, sh, j in zip(base.start, shift, base.jump)])
        if Fraction in map(type, size + jump + start):  # whole Fractions as ints (_exact)
            size, jump, start = _whole(size), _whole(jump), _whole(start)
        fields[node.name] = _make_field(size=size, jump=jump, start=start)
    return fields, warnings


def _keeps_layout(node, fields, shapes) -> bool:
    """Whether a live node's output still has a field the Distill recurrence describes: every
    input has one, and the output is an image ``C x H x W`` (a view or copy kept the spatial
    size: a channel slice, a concatenation of channels, rather than moving axes) or a vector
    (flatten, global pooling: the rule's step sees the whole input)."""
    if not node.inputs or any(fields[i] is None for i in node.inputs) or len(node.output_shape) not in (1, 3):
        return False
    rule = get_rule(node.op)
    if rule.mixes_positions:
        return False
    # data movement (a view, a reshape, a copy recorded as torch computed it): kept only when the
    # spatial size is (padding, pixel shuffle... have receptive-field steps of their own)
    moves = rule.category == "reshape" and (rule.aliases_input or rule.observed)
    if moves and len(node.output_shape) == 3:
        return all(len(shapes[i]) == 3 and shapes[i][1:] == node.output_shape[1:] for i in node.inputs)
    return True


def _exact(value):
    """A whole Fraction as an int (int arithmetic is much faster; a Fraction stays where needed)."""
    return int(value) if type(value) is Fraction and value.denominator == 1 else value


def _whole(values):
    return tuple(_exact(v) for v in values)


def _pair(values) -> str:
    from archcalc.report import plain_number

    return "x".join(str(plain_number(v)) for v in values)


def peak_live_bytes(graph: Graph, batch: int, bytes_per_element: int) -> int:
    """Peak bytes of live activations during one inference pass.

    The input tensor and each node's output are allocated when produced and
    freed after their last consumer has run (the network's output lives to the
    end). While node ``i`` runs, its inputs and its output are live together.
    Views (flatten, reshape, dropout and identity at inference) allocate
    nothing and keep the tensor they view alive. No in-place operations are
    assumed, nor any framework workspace.
    """
    owner: dict[str, str] = {source.name: source.name for source in graph.inputs}
    size: dict[str, int] = {
        source.name: input_bytes(source, batch, bytes_per_element) for source in graph.inputs
    }
    born: dict[str, int] = {source.name: -1 for source in graph.inputs}
    dies: dict[str, int] = {source.name: -1 for source in graph.inputs}
    aliases: dict[str, bool] = {}  # op -> its rule aliases its input (looked up once per op)
    for index, node in enumerate(graph.nodes):
        for tensor in node.inputs:
            dies[owner[tensor]] = index
        alias = aliases.get(node.op)
        if alias is None:
            alias = aliases[node.op] = get_rule(node.op).aliases_input
        if alias and len(node.inputs) == 1:
            owner[node.name] = owner[node.inputs[0]]
        else:
            owner[node.name] = node.name
            size[node.name] = prod(node.output_shape) * (batch if node.batched else 1) * bytes_per_element
            born[node.name] = index
            dies[node.name] = index
    if graph.outputs:
        for output in graph.outputs:
            if output.node:
                dies[owner[output.node]] = len(graph.nodes)
    elif graph.nodes:
        dies[owner[graph.nodes[-1].name]] = len(graph.nodes)
    else:
        for source in graph.inputs:
            dies[source.name] = 0
    events: dict[int, int] = {}
    for tensor, nbytes in size.items():
        start = max(born[tensor], 0)
        events[start] = events.get(start, 0) + nbytes
        events[dies[tensor] + 1] = events.get(dies[tensor] + 1, 0) - nbytes
    peak = live = 0
    for moment in sorted(events):
        live += events[moment]
        peak = max(peak, live)
    return peak


def input_bytes(source: GraphInput, batch: int, bytes_per_element: int) -> int:
    """Bytes of one input for the batch: its own dtype (token ids: int64, 8 B), else the analysis dtype's."""
    per = INPUT_DTYPE_BYTES.get(source.dtype, bytes_per_element) if source.dtype else bytes_per_element
    return prod(source.shape) * batch * per


def owned_params(graph: Graph) -> dict[str, int]:
    """Parameters each node owns: those it is the first to use (live modules count tensors, once)."""
    if not graph.tensors:
        return {}
    sizes = {t.name: t.numel for t in graph.tensors if not t.buffer}
    seen: set[str] = set()
    owned: dict[str, int] = {}
    for node in graph.nodes:
        new = [name for name in node.tensors if name in sizes and name not in seen]
        seen.update(new)
        owned[node.name] = sum(sizes[name] for name in new)
    return owned


def not_called(graph: Graph) -> tuple[UnusedModule, ...]:
    """Parameters and buffers no node uses and no op read (a branch not taken, a ModuleDict
    entry not called), grouped by the module that holds them; modules holding buffers alone
    (bookkeeping such as ``num_batches_tracked``) are not listed."""
    used = {name for node in graph.nodes for name in node.tensors}
    groups: dict[str, list] = {}
    for tensor in graph.tensors:
        if tensor.name not in used and not tensor.read:
            groups.setdefault(tensor.name.rpartition(".")[0], []).append(tensor)
    return tuple(
        UnusedModule(
            module=module or "(root)",
            params=sum(t.numel for t in tensors if not t.buffer),
            buffers=sum(t.numel for t in tensors if t.buffer),
        )
        for module, tensors in groups.items()
        if any(not t.buffer for t in tensors)
    )


def _ledger_totals(graph: Graph) -> tuple[int, int, int, int]:
    """(weights, biases, buffers, trainable parameters) of every tensor of a live module, once."""
    params = [t for t in graph.tensors if not t.buffer]
    biases = sum(t.numel for t in params if t.is_bias)
    weights = sum(t.numel for t in params) - biases
    buffers = sum(t.numel for t in graph.tensors if t.buffer)
    trainable = sum(t.numel for t in params if t.trainable)
    return weights, biases, buffers, trainable


def training_bytes(trainable_bytes: int, fixed_bytes: int, kept_activation_bytes: int) -> dict[str, int]:
    """Memory of one training step per optimizer::

        trainable parameters * (1 + 1 gradient + optimizer state: SGD 0, momentum 1, Adam 2)
        + frozen parameters and buffers (``fixed_bytes``)
        + activations kept for the backward pass (every layer output and the input)
    """
    return {
        optimizer: trainable_bytes * (2 + state) + fixed_bytes + kept_activation_bytes
        for optimizer, state in OPTIMIZER_STATE.items()
    }


def analyze_graph(
    graph: Graph,
    batch: int = 1,
    dtype: str = "float32",
    convention: Convention | str = "macs",
    not_counted: dict[str, int] | None = None,
    trainable: dict[str, bool] | None = None,
    saved_activation_bytes: int | None = None,
) -> Report:
    """Analyse every layer of ``graph`` and total the numbers.

    ``trainable`` (node name -> bool) marks frozen layers; spec layers are all
    trainable. A live module's graph carries its tensors (``Graph.tensors``): then
    the totals count every parameter and buffer once, from those tensors (tied
    weights once, frozen ones per tensor, modules never called included).
    ``saved_activation_bytes``: what autograd saves for backward, measured on the live
    module (:mod:`archcalc.llm.saved_tensors`); the training totals then use it instead of
    the estimate "every layer output and the input".
    """
    if batch < 1:
        raise InputError(f"batch must be at least 1, got {batch}")
    dtype, nbytes = dtype_bytes(dtype)
    if isinstance(convention, str):
        convention = get_convention(convention)
    results = RuleResults()
    fields, rf_warnings = receptive_fields(graph, results)
    owned = owned_params(graph)
    rows = []
    live = bool(graph.tensors)
    rules: dict[str, Any] = {}
    # each distinct layer's rule results are computed once (RuleResults: its counts, its ops and FLOPs
    # at a factor, its weight shape), looked up in one dict per node
    for node in graph.nodes:
        rule = rules.get(node.op)
        if rule is None:
            rule = rules[node.op] = get_rule(node.op)
        known = results.facets(node)
        counted = known.get("counts")
        if counted is None:
            counted = known["counts"] = rule.counts(node.attrs, node.input_shapes, node.rule_output_shape)
        params, counted_ops = counted
        samples = batch if node.batched else 1
        factor = samples * (node.times or 1)
        scaled = known.get(("ops", factor))
        if scaled is None:
            ops = counted_ops.scaled(factor)
            scaled = known[("ops", factor)] = (ops, convention.counts(rule.category, ops))
        ops, flops = scaled
        weight_shape = known.get("weight_shape", _UNSET)
        if weight_shape is _UNSET:
            weight_shape = known["weight_shape"] = rule.weight_shape(node.attrs, node.input_shapes)
        elements = prod(node.output_shape) * samples
        rows.append(
            _make_row(  # LayerRow(...) without its per-field setattr lookups
                name=node.name,
                op=node.op,
                category=rule.category,
                attrs=node.attrs,
                inputs=node.inputs,
                input_shapes=node.input_shapes,
                output_shape=node.output_shape,
                weights=params.weights,
                biases=params.biases,
                buffers=params.buffers,
                activation_elements=elements,
                activation_bytes=elements * nbytes,
                ops=ops,
                macs=ops.macs,
                flops=flops,
                rf=fields[node.name] if live else (fields[node.name] or _INPUT_RF),
                location=node.location,
                shares_params_with=node.shares_params_with,
                owned_params=owned.get(
                    node.name, params.params if node.shares_params_with is None else 0
                ),
                weight_shape=weight_shape,
            )
        )
    if graph.tensors:
        weights, biases, buffers, trainable_params = _ledger_totals(graph)
    else:
        first = [row for row in rows if row.shares_params_with is None]
        weights = sum(r.weights for r in first)
        biases = sum(r.biases for r in first)
        buffers = sum(r.buffers for r in first)
        trainable_params = sum(r.params for r in first if (trainable or {}).get(r.name, True))
    activation_bytes = sum(r.activation_bytes for r in rows)
    inputs_bytes = sum(input_bytes(source, batch, nbytes) for source in graph.inputs)
    totals = Totals(
        params=weights + biases,
        trainable_params=trainable_params,
        weights=weights,
        biases=biases,
        buffers=buffers,
        param_bytes=(weights + biases) * nbytes,
        buffer_bytes=buffers * nbytes,
        input_bytes=inputs_bytes,
        activation_elements=sum(r.activation_elements for r in rows),
        activation_bytes=activation_bytes,
        peak_activation_bytes=peak_live_bytes(graph, batch, nbytes),
        macs=sum(r.macs for r in rows),
        flops=sum(r.flops for r in rows),
        training_bytes=training_bytes(
            trainable_bytes=trainable_params * nbytes,
            fixed_bytes=(weights + biases - trainable_params + buffers) * nbytes,
            kept_activation_bytes=(activation_bytes + inputs_bytes if saved_activation_bytes is None
                                   else saved_activation_bytes),
        ),
        saved_activation_bytes=saved_activation_bytes,
    )
    return Report(
        model=graph.name,
        input_shape=graph.input_shape,
        batch=batch,
        dtype=dtype,
        bytes_per_element=nbytes,
        convention=convention,
        rows=tuple(rows),
        totals=totals,
        description=graph.description,
        source=graph.source,
        warnings=graph.warnings + tuple(rf_warnings),
        not_counted=dict(not_counted or {}),
        inputs=graph.inputs,
        not_called=not_called(graph),
        outputs=graph.outputs,
    )
