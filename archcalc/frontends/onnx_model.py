"""``archcalc model.onnx``: an ONNX graph to archcalc's IR, shapes from ONNX shape inference.

Steps: the model is loaded without external weight files (only the initializers' dims are
read from those); the dynamic axes of its inputs are fixed from ``--input`` (``batch=1,seq=128``
by the axis names the file gives, ``x=1x3x224x224`` by input name, or a bare shape for the
first input: the whole one, or a sample's with the batch put first, read in the file's order or
as H x W x C like every image ``--input``); a dynamic first axis left open takes ``--batch``.
Shape arithmetic on constants is folded (:func:`fold_shape_arithmetic`), then
``onnx.shape_inference.infer_shapes`` (with data propagation) gives every tensor's shape.

Then each node of the standard domain becomes a node of a layer family
(:data:`archcalc.frontends.onnx_ops.HANDLERS`): Conv -> conv, Gemm / MatMul with a constant
weight -> linear (a following Add of a 1-D constant is its bias), MatMul of two activations ->
matmul, LSTM / GRU / RNN -> lstm / gru / rnn, pooling, normalisations, activations, Add / Mul
-> add / mul or pointwise, shape operations -> movement. Their rules compute the counts, the
same rules a spec and a live module use. An op with no mapping becomes ``uncounted`` with the
shape ONNX inferred, and is listed in ``not_counted``: never dropped. Nodes that compute on
constants only (shape arithmetic) are left out of the table and counted in a note.

Shapes in the IR are per sample: the batch axis (the first axis of the inputs) is followed
through the graph (``Transpose`` moves it, ``Reshape`` keeps it while the axes before it hold,
``LSTM`` reads its input as T x N x F) and removed. Where attention folds the batch into its
heads, the shapes after keep the batch (exact at batch 1; a warning says so above it).

Parameters are the stored float initializers a mapped op reads as weights, directly or through
constant-only nodes (a transposed or concatenated weight); a BatchNormalization's mean and
variance are buffers; float initializers of more than one element that point-wise ops read
count too (a position embedding: ONNX cannot tell a learned tensor from a constant one). A
constant the exporter computes (the zero bias of a conv without one) is no parameter. The
anchors: onnx-tool (per-node MACs) and Netron (shapes); ONNX's operator specs
(https://onnx.ai/onnx/operators/) give each op's inputs and attributes.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from math import prod
from pathlib import Path
from typing import Any

from archcalc.errors import ArchcalcError, InputError, SourceLocation
from archcalc.layers import role
from archcalc.ir import INPUT, Graph, GraphBuilder, GraphInput, ParamTensor

#: ONNX float element types (TensorProto: FLOAT, FLOAT16, DOUBLE, BFLOAT16)
FLOAT_TYPES = {1, 10, 11, 16}
#: ONNX element type -> dtype name of a graph input
INPUT_DTYPES = {1: None, 10: "float16", 11: "float64", 16: "bfloat16", 7: "int64", 6: "int32", 9: "bool"}


def _onnx():
    try:
        import onnx
    except ImportError:
        raise InputError("reading .onnx files needs the onnx package",
                         hint='pip install -e ".[files]" (or pip install onnx)') from None
    return onnx


def load_onnx_model(path: str | Path):
    """The ModelProto, weights in the file (external data files are not loaded)."""
    onnx = _onnx()
    from google.protobuf.message import DecodeError

    if not Path(path).is_file():
        raise InputError(f"{path}: no such file")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except (DecodeError, ValueError, RuntimeError, OSError) as error:
        raise InputError(f"{path}: not an ONNX model ({type(error).__name__}: "
                         f"{str(error).strip().splitlines()[0][:120] if str(error).strip() else 'cannot parse'})") from None
    if not model.graph.node:
        raise InputError(f"{path}: not an ONNX model, or an empty one (no graph nodes)")
    return model


def parse_onnx_inputs(text: Any) -> tuple[dict[str, int], dict[str, tuple[int, ...]], list[tuple[int, ...]]]:
    """``--input`` -> (axis name -> size, input name -> full shape, positional full shapes).

    ``batch=1,seq=128``; ``x=1x3x224x224``; ``1x3x224x224`` (the first input); several
    ``--input`` values are joined."""
    items: list[str] = []
    for part in text if isinstance(text, (list, tuple)) else ([text] if text is not None else []):
        items += [p.strip() for p in str(part).split(",") if p.strip()]
    axes: dict[str, int] = {}
    named: dict[str, tuple[int, ...]] = {}
    positional: list[tuple[int, ...]] = []
    for item in items:
        key, sep, value = item.partition("=")
        try:
            dims = tuple(int(v) for v in (value if sep else key).lower().split("x"))
        except ValueError:
            raise InputError(f"--input {item!r}: give axis=N (batch=1), input=AxBxC or AxBxC for an ONNX model") from None
        if any(d < 1 for d in dims):
            raise InputError(f"--input {item!r}: sizes must be at least 1")
        if not sep:
            positional.append(dims)
        elif len(dims) == 1:
            axes[key.strip()] = dims[0]
            named.setdefault(key.strip(), dims)
        else:
            named[key.strip()] = dims
    return axes, named, positional


def _fix_inputs(model, path, text, batch: int) -> tuple[list[Any], list[str]]:
    """Write fixed sizes into the inputs' dims; returns the graph inputs and the notes."""
    axes, named, positional = parse_onnx_inputs(text)
    initializers = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    notes = []
    for index, value in enumerate(inputs):
        dims = value.type.tensor_type.shape.dim
        full = named.get(value.name) if value.name in named and len(named[value.name]) == len(dims) else None
        if full is None and index < len(positional):
            full = _whole_shape(positional[index], dims, batch, path, value.name)
        open_axes = []
        for axis, dim in enumerate(dims):
            if full is not None:
                if dim.HasField("dim_value") and dim.dim_value != full[axis]:
                    raise InputError(f"{path}: input {value.name!r} axis {axis} is fixed at {dim.dim_value}, "
                                     f"--input gave {full[axis]}")
                dim.dim_value = full[axis]
            elif not dim.HasField("dim_value") or dim.dim_value <= 0:
                name = dim.dim_param
                if name and name in axes:
                    dim.dim_value = axes[name]
                elif axis == 0:
                    dim.dim_value = batch
                    notes.append(f"{value.name} axis 0 ({name or 'unnamed'}) set to the batch, {batch}")
                else:
                    open_axes.append(name or f"axis {axis}")
        if open_axes:
            shown = ",".join(f"{a}=N" for a in open_axes if not a.startswith("axis "))
            raise InputError(f"{path}: input {value.name!r} has dynamic axes {', '.join(open_axes)}",
                             hint=f"fix them with --input {shown}" if shown else
                             f"give its whole shape: --input {value.name}=" + "x".join("N" for _ in dims))
    return inputs, notes


def _whole_shape(given: tuple[int, ...], dims, batch: int, path, name: str) -> tuple[int, ...]:
    """A positional ``--input``: the whole shape, or a sample's (the batch put first) in the file's
    order or, as archcalc's ``--input`` reads an image, H x W x C for a C x H x W input."""
    fixed = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in dims]
    candidates = [given]
    if len(given) == len(dims) - 1:
        candidates = [(batch, *given)] + ([(batch, given[-1], *given[:-1])] if len(given) == 3 else [])
    for candidate in candidates:
        if len(candidate) == len(dims) and all(f is None or f == c for f, c in zip(fixed, candidate)):
            return candidate
    shown = "x".join(str(f) if f else "?" for f in fixed)
    raise InputError(f"{path}: input {name!r} is {shown}; --input {'x'.join(map(str, given))} does not fit it")


@dataclass
class OnnxTensor:
    shape: tuple[int, ...]
    batch_axis: int | None = None
    #: the builder node that holds it (activations only)
    node: str | None = None
    elem_type: int = 1

    @property
    def sample(self) -> tuple[int, ...]:
        if self.batch_axis is None:
            return self.shape
        return self.shape[:self.batch_axis] + self.shape[self.batch_axis + 1:]


@dataclass
class OnnxTranslator:
    path: str
    builder: GraphBuilder
    tensors: dict[str, OnnxTensor]
    initializers: dict[str, Any]
    constants: dict[str, Any]
    batch: int
    consumers: Counter
    params: dict[str, ParamTensor] = field(default_factory=dict)
    not_counted: Counter = field(default_factory=Counter)
    constant_nodes: int = 0
    names: set[str] = field(default_factory=set)
    fused: set[int] = field(default_factory=set)
    #: tensor -> the first node that reads it
    followers: dict[str, Any] = field(default_factory=dict)
    #: tensor -> the node that writes it
    producers: dict[str, Any] = field(default_factory=dict)
    #: initializers computed by folding constants (never parameters)
    computed: set[str] = field(default_factory=set)
    #: a constant tensor -> the stored float initializers it is computed from (a transposed weight)
    derived: dict[str, set[str]] = field(default_factory=dict)

    # --- tensors -------------------------------------------------------------------------
    def active(self, name: str) -> bool:
        return bool(name) and name in self.tensors and self.tensors[name].node is not None

    def actives(self, node) -> list[str]:
        return [i for i in node.input if self.active(i)]

    def init_shape(self, name: str) -> tuple[int, ...] | None:
        """The shape of a constant: an initializer, a Constant, or a tensor computed from stored
        weights by constant-only nodes (a transposed or concatenated weight)."""
        if name in self.initializers:
            return tuple(self.initializers[name].dims)
        if name in self.constants:
            return tuple(self.constants[name].shape)
        if self.derived.get(name) and name in self.tensors and self.tensors[name].shape:
            return self.tensors[name].shape
        return None

    def value(self, name: str):
        """A constant's values (numpy), or None."""
        from onnx import numpy_helper

        if name in self.constants:
            return self.constants[name]
        if name in self.initializers and not _external(self.initializers[name]):
            return numpy_helper.to_array(self.initializers[name])
        return None

    def weights(self, *names: str | None, buffer: bool = False) -> tuple[str, ...]:
        """Record the stored initializers that ``names`` are (or are computed from) as parameter
        (or buffer) tensors, each once; their names. A constant computed from none (an exporter's
        zero bias) is no parameter."""
        found: list[str] = []
        for name in names:
            for source in sorted(self.sources(name)) if name else ():
                init = self.initializers[source]
                if source not in self.params:
                    self.params[source] = ParamTensor(source, int(prod(init.dims)), buffer=buffer,
                                                      trainable=not buffer)
                found.append(source)
        return tuple(dict.fromkeys(found))

    def sources(self, name: str) -> set[str]:
        """The stored float initializers ``name`` is, or is computed from by constant-only nodes."""
        if self.stored(name):
            return {name}
        return self.derived.get(name, set())

    def stored(self, name: str) -> bool:
        """Whether ``name`` is an initializer stored in the file (not one computed by folding)."""
        return (bool(name) and name in self.initializers and name not in self.computed
                and self.initializers[name].data_type in FLOAT_TYPES)

    def learned_operands(self, node) -> tuple[int, tuple[str, ...]]:
        """Float initializers of more than one element read by a point-wise op."""
        sources = {s for i in node.input if i and not self.active(i) for s in self.sources(i)}
        names = self.weights(*sorted(s for s in sources if self.initializers[s].data_type in FLOAT_TYPES
                                     and prod(self.initializers[s].dims) > 1))
        return sum(prod(self.initializers[n].dims) for n in names), names

    # --- nodes ---------------------------------------------------------------------------
    def node_name(self, node, index: int) -> str:
        raw = node.name.strip("/") if node.name else ""
        raw = re.sub(r"[^A-Za-z0-9_.]+", ".", raw.replace("/", ".")).strip(".") or f"{node.op_type}_{index}"
        name, n = raw, 1
        while name in self.names or name == INPUT:
            n += 1
            name = f"{raw}_{n}"
        self.names.add(name)
        return name

    def add(self, node, name: str, op: str, args: dict, inputs: list[str], output: str | None = None,
            tensors: tuple[str, ...] = (), batch_axis: int | None = -1) -> str:
        """A layer node reading the activations ``inputs``; ``output`` (default the node's first)
        gets the shape ONNX inferred: where the rule's per-sample shape differs (an LSTM's
        T x D x H, a kept axis), a view to ONNX's shape follows."""
        output = output or node.output[0]
        sources = [self.tensors[i].node for i in inputs]
        self.builder.add(name, op, args, sources, location=SourceLocation(self.path), tensors=tensors)
        out = self.tensors.setdefault(output, OnnxTensor(()))
        if batch_axis != -1:
            out.batch_axis = batch_axis
        elif out.batch_axis is None:
            out.batch_axis = self._batch_axis_like(inputs, out.shape)
        out.node = name
        if self.builder.shape_of(name) != out.sample and out.shape:
            view = f"{name}.view"
            self.names.add(view)
            self.builder.add(view, role("view"), {"fn": "reshape", "shape": list(out.sample)}, [name],
                             location=SourceLocation(self.path))
            out.node = view
        return name

    def _batch_axis_like(self, inputs: list[str], shape: tuple[int, ...]) -> int | None:
        for i in inputs:
            source = self.tensors[i]
            if source.batch_axis is not None and len(source.shape) == len(shape):
                return source.batch_axis
        if shape and shape[0] == self.batch and any(self.tensors[i].batch_axis == 0 for i in inputs):
            return 0
        return None

    def observed(self, node, name: str, op: str, fn: str, batch_axis: int | None = -1, **extra) -> None:
        """A movement / pointwise / reduction / uncounted node with ONNX's shape, per output;
        ``batch_axis`` of the first output when the caller knows it (-1: as the inputs')."""
        inputs = self.actives(node)
        for k, output in enumerate(o for o in node.output if o):
            tensor = self.tensors.setdefault(output, OnnxTensor(()))
            if k == 0 and batch_axis != -1:
                tensor.batch_axis = batch_axis
            elif tensor.batch_axis is None:
                tensor.batch_axis = self._batch_axis_like(inputs, tensor.shape)
            label = name if k == 0 else f"{name}.{k}"
            if k:
                self.names.add(label)
            self.builder.add(label, op, {"fn": fn, "shape": list(tensor.sample), **extra},
                             [self.tensors[i].node for i in inputs], location=SourceLocation(self.path))
            tensor.node = label


#: ops that only produce shapes or constants: their outputs are not activations
SHAPE_OPS = ("Shape", "Size", "Constant", "ConstantOfShape", "Range")


def node_attributes(node) -> dict[str, Any]:
    """A node's attributes by name, as Python values."""
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _external(initializer) -> bool:
    """Whether an initializer's data lies in an external file (never read: only its dims are)."""
    return initializer.data_location == 1  # TensorProto.EXTERNAL


#: the most elements a folded constant may have (shape arithmetic handles a few numbers)
FOLD_LIMIT = 4096


def _infer(model, path: str):
    import onnx

    try:
        return onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
    except Exception as error:  # noqa: BLE001  (onnx raises several classes for a graph it cannot type)
        said = str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
        raise InputError(f"{path}: ONNX shape inference fails: {said}") from None


def fold_shape_arithmetic(model, path: str):
    """(the shape-inferred model, nodes folded, the names of the constants they became): ``Shape`` of a tensor whose shape is known, and
    every node whose inputs are all small constants, are evaluated (``onnx.reference``) and
    replaced by initializers, then shapes are inferred again, until nothing changes. This
    resolves the reshapes exporters compute from ``Shape`` (attention's head split), which
    ``infer_shapes`` alone leaves unknown. No activation is ever computed, and no node that reads
    a stored weight is folded (a transposed weight stays the weight it is)."""
    import numpy as np
    from onnx import numpy_helper
    from onnx.reference import ReferenceEvaluator

    from onnx.helper import tensor_dtype_to_np_dtype

    work = model.__class__()
    work.CopyFrom(model)
    folded = 0
    names: set[str] = set()
    computed: set[str] = set()
    #: stored float tensors of more than one element: weights, never folded (their lineage stays)
    weights = {i.name for i in model.graph.initializer if i.data_type in FLOAT_TYPES and prod(i.dims) > 1}
    for _ in range(8):
        inferred = _infer(work, path)
        graph = inferred.graph
        shapes, types = {}, {}
        for value in [*graph.input, *graph.value_info, *graph.output]:
            t = value.type.tensor_type
            types[value.name] = t.elem_type
            if t.HasField("shape") and all(d.HasField("dim_value") for d in t.shape.dim):
                shapes[value.name] = tuple(d.dim_value for d in t.shape.dim)
        shapes.update({i.name: tuple(i.dims) for i in graph.initializer})
        values = {i.name: numpy_helper.to_array(i) for i in graph.initializer
                  if prod(i.dims) <= FOLD_LIMIT and not _external(i) and i.name not in weights}
        done: dict[str, Any] = {}
        keep = []
        for node in graph.node:
            result = None
            if node.domain in ("", "ai.onnx") and node.op_type in ("Shape", "Size") and node.input[0] in shapes:
                shape = shapes[node.input[0]]
                if node.op_type == "Size":
                    result = [np.array(prod(shape), dtype=np.int64)]
                else:
                    attrs = node_attributes(node)
                    start, end = attrs.get("start", 0), attrs.get("end", len(shape))
                    result = [np.array(shape[start:end], dtype=np.int64)]
            elif (node.op_type == "CastLike" and node.input[0] in {**values, **done} and types.get(node.input[1])):
                # the second input gives only its element type (an exporter's zero bias for a conv
                # without one: CastLike(0, activation))
                value = done.get(node.input[0], values.get(node.input[0]))
                result = [np.asarray(value).astype(tensor_dtype_to_np_dtype(types[node.input[1]]))]
            elif (node.domain in ("", "ai.onnx") and node.op_type not in ("RandomNormal", "RandomUniform",
                                                                           "RandomNormalLike", "RandomUniformLike")
                  and all(not i or i in values or i in done for i in node.input)
                  and (node.input or node.op_type == "Constant")):
                try:
                    evaluator = ReferenceEvaluator(node)
                    result = evaluator.run(None, {i: done.get(i, values.get(i)) for i in node.input if i})
                except Exception:  # noqa: BLE001  (an op onnx.reference cannot run: keep the node)
                    result = None
                if (result is not None and node.op_type != "Constant"
                        and any(np.asarray(r).size > FOLD_LIMIT for r in result)):
                    result = None
            if result is None:
                keep.append(node)
                continue
            for name, value in zip(node.output, result):
                done[name] = np.asarray(value)
                if node.op_type != "Constant":  # a Constant's value is stored in the file: a buffer may be one
                    computed.add(name)
            folded += 1
        if not done:
            return inferred, folded, names
        needed = {i for n in keep for i in n.input} | {o.name for o in work.graph.output}
        del work.graph.node[:]
        work.graph.node.extend(keep)
        for name, value in done.items():
            if name in needed:
                work.graph.initializer.append(numpy_helper.from_array(value, name))
                if name in computed:
                    names.add(name)
        del work.graph.value_info[:]
    return _infer(work, path), folded, names


def onnx_graph(path: str | Path, input: Any = None, batch: int = 1) -> tuple[Graph, dict[str, Any]]:
    """The Graph of an ONNX file and the extras for the analysis (``not_counted``, ``batch``)."""
    from onnx import numpy_helper

    from archcalc.frontends.onnx_ops import HANDLERS, uncounted

    _onnx()
    path = str(path)
    model = load_onnx_model(path)
    inputs, notes = _fix_inputs(model, path, input, batch)
    if not inputs:
        raise InputError(f"{path}: the graph has no inputs")
    inferred, folded, computed = fold_shape_arithmetic(model, path)
    graph = inferred.graph
    initializers = {i.name: i for i in graph.initializer}
    tensors: dict[str, OnnxTensor] = {}
    for value in [*graph.input, *graph.value_info, *graph.output]:
        t = value.type.tensor_type
        if t.HasField("shape"):
            dims = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in t.shape.dim)
            tensors[value.name] = OnnxTensor(dims, elem_type=t.elem_type)
    first = inputs[0]
    batch_size = tensors[first.name].shape[0] if tensors[first.name].shape else 1
    extra = []
    for index, value in enumerate(inputs):
        t = tensors[value.name]
        t.batch_axis = 0 if t.shape and t.shape[0] == batch_size else None
        t.node = INPUT if index == 0 else value.name
        if index:
            extra.append(GraphInput(value.name, t.sample, INPUT_DTYPES.get(t.elem_type)))
    builder = GraphBuilder(name=Path(path).stem, input_shape=tensors[first.name].sample,
                           source=f"ONNX file {Path(path).name} (opset "
                                  f"{max((o.version for o in model.opset_import if o.domain in ('', 'ai.onnx')), default=0)})",
                           file=path, input_dtype=INPUT_DTYPES.get(tensors[first.name].elem_type),
                           extra_inputs=tuple(extra))
    consumers: Counter = Counter(i for n in graph.node for i in n.input if i)
    followers = {}
    for n in graph.node:
        for i in n.input:
            followers.setdefault(i, n)
    producers = {o: n for n in graph.node for o in n.output if o}
    tr = OnnxTranslator(path, builder, tensors, initializers, {}, batch_size, consumers, followers=followers,
                     producers=producers)
    tr.constant_nodes = folded
    tr.computed = computed
    for index, node in enumerate(graph.node):
        if node.domain not in ("", "ai.onnx"):
            for output in node.output:
                tensors.setdefault(output, OnnxTensor(()))
            if tr.actives(node):
                uncounted(tr, node, tr.node_name(node, index))
            continue
        if node.op_type == "Constant":
            value = node_attributes(node).get("value")
            if value is not None:
                tr.constants[node.output[0]] = numpy_helper.to_array(value)
            tr.constant_nodes += 1
            continue
        for output in node.output:
            if output and output not in tensors:
                tensors[output] = OnnxTensor(())
        if not tr.actives(node) or node.op_type in SHAPE_OPS:
            tr.constant_nodes += 1  # shape arithmetic on constants: no activation flows through it
            if node.op_type not in SHAPE_OPS:  # a weight transposed, sliced or concatenated stays a weight
                sources = set().union(*(tr.sources(i) for i in node.input if i))
                for output in node.output:
                    if output and sources:
                        tr.derived[output] = sources
            continue
        if id(node) in tr.fused:
            continue
        missing = [o for o in node.output if o and (not tensors[o].shape or -1 in tensors[o].shape)]
        if missing and node.op_type not in ("LSTM", "GRU", "RNN"):
            raise InputError(f"{path}: node {node.name or node.op_type} ({node.op_type}): ONNX shape inference "
                             f"leaves the shape of {missing[0]!r} unknown",
                             hint="fix the dynamic axes with --input axis=N (the names Netron shows)")
        name = tr.node_name(node, index)
        handler = HANDLERS.get(node.op_type, uncounted)
        try:
            handler(tr, node, name)
        except ArchcalcError as error:
            raise error.with_context(location=SourceLocation(path), layer=name, op=node.op_type) from None
    if batch != batch_size and batch != 1:
        builder.warn(f"the file fixes the batch at {batch_size}: --batch {batch} is not used", kind="note")
    for note in notes:
        builder.warn(note, kind="note")
    if tr.constant_nodes:
        builder.warn(f"{tr.constant_nodes} node(s) compute on constants or shapes only (shape arithmetic): "
                     "not layers, left out of the table", kind="note")
    built = builder.build()
    from dataclasses import replace

    built = replace(built, tensors=tuple(tr.params.values()))
    return built, {"not_counted": dict(tr.not_counted), "batch": batch_size}


__all__ = ["OnnxTensor", "OnnxTranslator", "load_onnx_model", "onnx_graph", "parse_onnx_inputs"]
