"""``archcalc model.onnx``: an ONNX graph to archcalc's IR, shapes from ONNX shape inference.

Steps: the model is loaded without external weight files; the dynamic axes of its inputs are
fixed from ``--input`` (``batch=1,seq=128`` by the axis names the file gives, ``x=1x3x224x224``
by input name, or a bare ``1x3x224x224`` for the first input); a dynamic first axis left open
takes ``--batch``. ``onnx.shape_inference.infer_shapes`` (with data propagation, so reshapes
computed from ``Shape`` resolve) gives every tensor's shape.

Then each node of the standard domain becomes a node of a layer family (:data:`HANDLERS`): Conv
-> conv, Gemm / MatMul with a constant weight -> linear (a following Add of a 1-D constant is its
bias), MatMul of two activations -> matmul, LSTM / GRU / RNN -> lstm / gru / rnn, pooling,
normalisations, activations, Add / Mul -> add / mul or pointwise, shape operations -> movement.
Their rules compute the counts, the same rules a spec and a live module use. An op with no
mapping becomes ``uncounted`` with the shape ONNX inferred, and is listed in ``not_counted``:
never dropped. Nodes that compute on constants only (shape arithmetic) are left out of the
table and counted in a note.

Shapes in the IR are per sample: the batch axis (the first axis of the inputs) is followed
through the graph (``Transpose`` moves it, ``LSTM`` reads its input as T x N x F) and removed.

Parameters are the initializers a mapped op reads as weights (a BatchNormalization's mean and
variance are buffers), plus float initializers of more than one element that point-wise ops
read (a position embedding: ONNX cannot tell a learned tensor from a constant one). The
anchors: onnx-tool (per-node MACs) and Netron (shapes); ONNX's operator specs
(https://onnx.ai/onnx/operators/) give each op's inputs and attributes.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from math import prod
from pathlib import Path
from typing import Any, Callable

from archcalc.errors import AnalysisWarning, ArchcalcError, InputError, SourceLocation
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
            full = positional[index]
            if len(full) != len(dims):
                raise InputError(f"{path}: input {value.name!r} has {len(dims)} axes; --input gave {len(full)}")
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


@dataclass
class _Tensor:
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
class _Translator:
    path: str
    builder: GraphBuilder
    tensors: dict[str, _Tensor]
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

    # --- tensors -------------------------------------------------------------------------
    def active(self, name: str) -> bool:
        return bool(name) and name in self.tensors and self.tensors[name].node is not None

    def actives(self, node) -> list[str]:
        return [i for i in node.input if self.active(i)]

    def init_shape(self, name: str) -> tuple[int, ...] | None:
        if name in self.initializers:
            return tuple(self.initializers[name].dims)
        if name in self.constants:
            return tuple(self.constants[name].shape)
        return None

    def value(self, name: str):
        """A constant's values (numpy), or None."""
        from onnx import numpy_helper

        if name in self.constants:
            return self.constants[name]
        if name in self.initializers and not _external(self.initializers[name]):
            return numpy_helper.to_array(self.initializers[name])
        return None

    def weight(self, name: str, buffer: bool = False) -> str | None:
        """Record an initializer as a parameter (buffer) tensor; its name, or None."""
        if not name or name not in self.initializers:
            return None
        init = self.initializers[name]
        if name not in self.params:
            self.params[name] = ParamTensor(name, int(prod(init.dims)), buffer=buffer, trainable=not buffer)
        return name

    def learned_operands(self, node) -> tuple[int, tuple[str, ...]]:
        """Float initializers of more than one element read by a point-wise op."""
        names = [i for i in node.input if i in self.initializers and self.initializers[i].data_type in FLOAT_TYPES
                 and prod(self.initializers[i].dims) > 1]
        for name in names:
            self.weight(name)
        return sum(prod(self.initializers[n].dims) for n in names), tuple(names)

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
        out = self.tensors.setdefault(output, _Tensor(()))
        if batch_axis != -1:
            out.batch_axis = batch_axis
        elif out.batch_axis is None:
            out.batch_axis = self._batch_axis_like(inputs, out.shape)
        out.node = name
        if self.builder.shape_of(name) != out.sample and out.shape:
            view = f"{name}.view"
            self.names.add(view)
            self.builder.add(view, "movement", {"fn": "reshape", "shape": list(out.sample)}, [name],
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
            tensor = self.tensors.setdefault(output, _Tensor(()))
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


Handler = Callable[[_Translator, Any, str], None]
HANDLERS: dict[str, Handler] = {}


def handles(*ops: str):
    def register(function: Handler) -> Handler:
        for op in ops:
            HANDLERS[op] = function
        return function

    return register


def _attrs(node) -> dict[str, Any]:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _axis(tr: _Translator, tensor: str, axis: int) -> int:
    """A full-tensor axis -> the per-sample axis (the batch axis removed)."""
    t = tr.tensors[tensor]
    axis = axis % len(t.shape) if t.shape else 0
    if t.batch_axis is not None and axis > t.batch_axis:
        axis -= 1
    return axis


def _pads(attrs: dict, n: int, path: str, node) -> tuple[list[int] | None, str | None]:
    """ONNX ``pads`` [x1_begin, x2_begin, ..., x1_end, x2_end] (or auto_pad) -> symmetric
    per-axis pads, or (None, "explicit") when a side differs (a padding node comes first)."""
    auto = attrs.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else str(auto)
    if auto == "VALID":
        return [0] * n, None
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        return None, auto
    pads = list(attrs.get("pads", [0] * 2 * n))
    begins, ends = pads[:n], pads[n:]
    if begins == ends:
        return begins, None
    return None, "explicit"


def _window(tr: _Translator, node, name: str, op: str, args: dict, source: str, kernel, strides, dilations=None,
            tensors=()) -> None:
    """Conv and pooling: asymmetric padding (SAME_UPPER with an even kernel, TF "same" with
    stride 2) becomes a ``padding`` node before the layer."""
    attrs = _attrs(node)
    n = len(kernel)
    pads, mode = _pads(attrs, n, tr.path, node)
    if mode is not None:
        sizes = tr.tensors[source].shape[-n:]
        dilations = dilations or [1] * n
        if mode == "explicit":
            all_pads = list(attrs["pads"])
            begins, ends = all_pads[:n], all_pads[n:]
        else:
            begins, ends = [], []
            for size, k, s, d in zip(sizes, kernel, strides, dilations):
                out = -(-size // s)
                total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
                small = total // 2
                begins.append(small if mode == "SAME_UPPER" else total - small)
                ends.append(total - small if mode == "SAME_UPPER" else small)
        torch_order = []
        for b, e in reversed(list(zip(begins, ends))):
            torch_order += [b, e]
        pad_name = f"{name}.pad"
        tr.names.add(pad_name)
        padded = f"{source}#padded:{name}"
        shape = list(tr.tensors[source].shape)
        for i, (b, e) in enumerate(zip(begins, ends)):
            shape[len(shape) - n + i] += b + e
        tr.tensors[padded] = _Tensor(tuple(shape), tr.tensors[source].batch_axis)
        tr.builder.add(pad_name, "padding", {"pad": torch_order}, [tr.tensors[source].node],
                       location=SourceLocation(tr.path))
        tr.tensors[padded].node = pad_name
        source, pads = padded, [0] * n
    args = {**args, "pad": pads[0] if len(set(pads)) == 1 else list(pads)}
    tr.add(node, name, op, args, [source], tensors=tensors)


@handles("Conv", "ConvTranspose")
def _conv(tr: _Translator, node, name: str) -> None:
    attrs = _attrs(node)
    weight = tr.init_shape(node.input[1])
    if weight is None:
        return _uncounted(tr, node, name, "its weight is computed, not an initializer")
    n = len(weight) - 2
    kernel = list(attrs.get("kernel_shape", weight[2:]))
    strides = list(attrs.get("strides", [1] * n))
    dilations = list(attrs.get("dilations", [1] * n))
    groups = int(attrs.get("group", 1))
    bias = len(node.input) > 2 and bool(node.input[2])
    tensors = tuple(t for t in (tr.weight(node.input[1]), tr.weight(node.input[2]) if bias else None) if t)
    filters = weight[0] if node.op_type == "Conv" else weight[1] * groups
    args = {"filters": filters, "kernel": kernel, "stride": strides, "dilation": dilations, "groups": groups,
            "bias": bias}
    if node.op_type == "ConvTranspose":
        if "output_shape" in attrs:
            return _uncounted(tr, node, name, "ConvTranspose with output_shape")
        args["output_padding"] = list(attrs.get("output_padding", [0] * n))
        pads, mode = _pads(attrs, n, tr.path, node)
        if mode is not None:
            return _uncounted(tr, node, name, "ConvTranspose with uneven padding")
        tr.add(node, name, "convtranspose", {**args, "pad": list(pads)}, [node.input[0]], tensors=tensors)
        return
    _window(tr, node, name, "conv", args, node.input[0], kernel, strides, dilations, tensors)


@handles("MaxPool", "AveragePool", "LpPool")
def _pool(tr: _Translator, node, name: str) -> None:
    attrs = _attrs(node)
    kernel = list(attrs["kernel_shape"])
    n = len(kernel)
    strides = list(attrs.get("strides", [1] * n))
    args: dict[str, Any] = {"kernel": kernel, "stride": strides, "ceil_mode": bool(attrs.get("ceil_mode", 0))}
    if node.op_type == "MaxPool":
        if len([o for o in node.output if o]) > 1:
            return _uncounted(tr, node, name, "MaxPool with indices")
        args["dilation"] = list(attrs.get("dilations", [1] * n))
        op = "maxpool"
    elif node.op_type == "AveragePool":
        args["count_include_pad"] = bool(attrs.get("count_include_pad", 0))
        op = "avgpool"
    else:
        args["norm_type"] = float(attrs.get("p", 2))
        args.pop("ceil_mode")
        op = "lppool"
    _window(tr, node, name, op, args, node.input[0], kernel, strides, args.get("dilation"))


@handles("GlobalAveragePool", "GlobalMaxPool")
def _global_pool(tr: _Translator, node, name: str) -> None:
    tr.add(node, name, "global_avgpool" if node.op_type == "GlobalAveragePool" else "global_maxpool", {},
           [node.input[0]])


@handles("Gemm")
def _gemm(tr: _Translator, node, name: str) -> None:
    attrs = _attrs(node)
    weight = tr.init_shape(node.input[1])
    if weight is None or attrs.get("transA", 0) or len(weight) != 2:
        return _matmul(tr, node, name)
    units = weight[0] if attrs.get("transB", 0) else weight[1]
    bias = len(node.input) > 2 and bool(node.input[2]) and tr.init_shape(node.input[2]) is not None
    tensors = tuple(t for t in (tr.weight(node.input[1]), tr.weight(node.input[2]) if bias else None) if t)
    tr.add(node, name, "linear", {"units": units, "bias": bias, "flatten": False}, [node.input[0]], tensors=tensors)


@handles("MatMul")
def _matmul(tr: _Translator, node, name: str) -> None:
    a, b = node.input[0], node.input[1]
    weight = tr.init_shape(b)
    if weight is not None and len(weight) == 2 and tr.active(a):
        bias, output = _bias_after(tr, node)
        tensors = tuple(t for t in (tr.weight(b), tr.weight(bias) if bias else None) if t)
        tr.add(node, name, "linear", {"units": weight[1], "bias": bias is not None, "flatten": False}, [a],
               output=output, tensors=tensors)
        return
    if tr.active(a) and tr.active(b):
        tr.add(node, name, "matmul", {}, [a, b])
        return
    _uncounted(tr, node, name, "a product with a constant that is no 2-D weight")


def _bias_after(tr: _Translator, node) -> tuple[str | None, str]:
    """The 1-D constant an Add that alone reads this MatMul adds (a Linear's bias), and the Add's
    output; else (None, the MatMul's output)."""
    out = node.output[0]
    follower = tr.followers.get(out)
    if follower is None or tr.consumers[out] != 1 or follower.op_type != "Add":
        return None, out
    other = follower.input[1] if follower.input[0] == out else follower.input[0]
    shape = tr.init_shape(other)
    if other in tr.initializers and shape is not None and len(shape) == 1:
        tr.fused.add(id(follower))
        return other, follower.output[0]
    return None, out


@handles("BatchNormalization")
def _batchnorm(tr: _Translator, node, name: str) -> None:
    if len([o for o in node.output if o]) > 1:
        return _uncounted(tr, node, name, "BatchNormalization in training mode")
    tensors = tuple(t for t in (tr.weight(node.input[1]), tr.weight(node.input[2]),
                                tr.weight(node.input[3], buffer=True), tr.weight(node.input[4], buffer=True)) if t)
    tr.add(node, name, "batchnorm", {"eps": float(_attrs(node).get("epsilon", 1e-5))}, [node.input[0]],
           tensors=tensors)


@handles("LayerNormalization")
def _layernorm(tr: _Translator, node, name: str) -> None:
    attrs = _attrs(node)
    rank = len(tr.tensors[node.input[0]].shape)
    axis = int(attrs.get("axis", -1)) % rank
    bias = len(node.input) > 2 and bool(node.input[2])
    tensors = tuple(t for t in (tr.weight(node.input[1]), tr.weight(node.input[2]) if bias else None) if t)
    tr.add(node, name, "layernorm", {"dims": rank - axis, "bias": bias, "eps": float(attrs.get("epsilon", 1e-5))},
           [node.input[0]], tensors=tensors)


@handles("InstanceNormalization")
def _instancenorm(tr: _Translator, node, name: str) -> None:
    """torch exports GroupNorm as Reshape -> InstanceNormalization with a constant scale of ones
    and bias of zeros (then Mul and Add by its own weight and bias): after a Reshape, such a
    scale and bias are the exporter's constants, not parameters."""
    scale, bias = tr.value(node.input[1]), tr.value(node.input[2])
    producer = tr.producers.get(node.input[0])
    constant = (producer is not None and producer.op_type == "Reshape" and scale is not None and bias is not None
                and bool((scale == 1).all()) and bool((bias == 0).all()))
    tensors = () if constant else tuple(t for t in (tr.weight(node.input[1]), tr.weight(node.input[2])) if t)
    tr.add(node, name, "instancenorm", {"affine": not constant}, [node.input[0]], tensors=tensors)


@handles("GroupNormalization")
def _groupnorm(tr: _Translator, node, name: str) -> None:
    tensors = tuple(t for t in (tr.weight(node.input[1]), tr.weight(node.input[2])) if t)
    tr.add(node, name, "groupnorm", {"groups": int(_attrs(node)["num_groups"])}, [node.input[0]], tensors=tensors)


@handles("LSTM", "GRU", "RNN")
def _recurrent(tr: _Translator, node, name: str) -> None:
    """ONNX recurrent ops read X as T x N x F (layout 0) and give Y as T x D x N x H."""
    attrs = _attrs(node)
    if int(attrs.get("layout", 0)) != 0:
        return _uncounted(tr, node, name, "layout 1")
    x = tr.tensors[node.input[0]]
    x.batch_axis = 1 if len(x.shape) == 3 else x.batch_axis
    direction = attrs.get("direction", b"forward")
    direction = direction.decode() if isinstance(direction, bytes) else direction
    bias = len(node.input) > 3 and bool(node.input[3])
    tensors = tuple(t for t in (tr.weight(node.input[1]), tr.weight(node.input[2]),
                                tr.weight(node.input[3]) if bias else None) if t)
    op = {"LSTM": "lstm", "GRU": "gru", "RNN": "rnn"}[node.op_type]
    args: dict[str, Any] = {"hidden": int(attrs["hidden_size"]), "bidirectional": direction == "bidirectional",
                            "bias": bias}
    if op == "rnn":
        acts = [a.decode() if isinstance(a, bytes) else a for a in attrs.get("activations", [b"Tanh"])]
        args["nonlinearity"] = acts[0].lower()
    if op == "gru" and not int(attrs.get("linear_before_reset", 0)):
        tr.builder.warn("GRU with linear_before_reset=0 is counted as torch's GRU (linear_before_reset=1)", name)
    outputs = [o for o in node.output]
    first = outputs[0] if outputs and outputs[0] else None
    if first is None:  # only the final states are read: Y is not there
        first = f"{name}#Y"
        t, n, h = x.shape[0], x.shape[1], args["hidden"]
        tr.tensors[first] = _Tensor((t, 2 if args["bidirectional"] else 1, n, h))
    tr.tensors.setdefault(first, _Tensor(())).batch_axis = 2
    tr.add(node, name, op, args, [node.input[0]], output=first, tensors=tensors, batch_axis=2)
    for k, state in enumerate(outputs[1:], start=1):
        if state:
            tensor = tr.tensors.setdefault(state, _Tensor(()))
            tensor.batch_axis = 1
            label = f"{name}.state{k}"
            tr.names.add(label)
            tr.builder.add(label, "movement", {"fn": "final_state", "shape": list(tensor.sample)}, [name],
                           location=SourceLocation(tr.path))
            tensor.node = label


#: ONNX activation -> (archcalc op, its arguments from the node's attributes)
ACTIVATIONS: dict[str, tuple[str, Callable[[dict], dict]]] = {
    "Relu": ("relu", lambda a: {}),
    "Sigmoid": ("sigmoid", lambda a: {}),
    "Tanh": ("tanh", lambda a: {}),
    "LeakyRelu": ("leakyrelu", lambda a: {"slope": float(a.get("alpha", 0.01))}),
    "Elu": ("elu", lambda a: {"alpha": float(a.get("alpha", 1.0))}),
    "Celu": ("celu", lambda a: {"alpha": float(a.get("alpha", 1.0))}),
    "Selu": ("selu", lambda a: {}),
    "Softplus": ("softplus", lambda a: {}),
    "Softsign": ("softsign", lambda a: {}),
    "HardSigmoid": ("hardsigmoid", lambda a: {}),
    "HardSwish": ("hardswish", lambda a: {}),
    "Mish": ("mish", lambda a: {}),
    "Gelu": ("gelu", lambda a: {}),
    "Shrink": ("softshrink", lambda a: {"lambd": float(a.get("lambd", 0.5))}),
    "ThresholdedRelu": ("threshold", lambda a: {"threshold": float(a.get("alpha", 1.0))}),
}


@handles(*ACTIVATIONS)
def _activation(tr: _Translator, node, name: str) -> None:
    attrs = _attrs(node)
    op, args = ACTIVATIONS[node.op_type]
    if node.op_type == "Gelu" and (attrs.get("approximate", b"none") in (b"tanh", "tanh")):
        op = "gelu_tanh"
    tr.add(node, name, op, args(attrs), [node.input[0]])


@handles("PRelu")
def _prelu(tr: _Translator, node, name: str) -> None:
    slope = tr.init_shape(node.input[1])
    count = prod(slope) if slope is not None else 1
    tr.add(node, name, "prelu", {"num_parameters": count}, [node.input[0]],
           tensors=tuple(t for t in (tr.weight(node.input[1]),) if t))


@handles("Clip")
def _clip(tr: _Translator, node, name: str) -> None:
    attrs = _attrs(node)
    low = tr.value(node.input[1]) if len(node.input) > 1 and node.input[1] else attrs.get("min")
    high = tr.value(node.input[2]) if len(node.input) > 2 and node.input[2] else attrs.get("max")
    low = float(low) if low is not None else None
    high = float(high) if high is not None else None
    if (low, high) == (0.0, 6.0):
        tr.add(node, name, "relu6", {}, [node.input[0]])
    elif low is not None and high is not None:
        tr.add(node, name, "hardtanh", {"min_val": low, "max_val": high}, [node.input[0]])
    else:
        tr.observed(node, name, "pointwise", "clamp")


@handles("Softmax", "LogSoftmax")
def _softmax(tr: _Translator, node, name: str) -> None:
    axis = _axis(tr, node.input[0], int(_attrs(node).get("axis", -1)))
    tr.add(node, name, "softmax" if node.op_type == "Softmax" else "logsoftmax", {"axis": axis}, [node.input[0]])


@handles("Add", "Mul", "Sub", "Div", "Pow", "Max", "Min", "Where", "Equal", "Greater", "Less", "And", "Or", "Not",
         "Sqrt", "Exp", "Log", "Neg", "Reciprocal", "Erf", "Abs", "Sin", "Cos", "Floor", "Ceil", "Round", "Sign")
def _elementwise(tr: _Translator, node, name: str) -> None:
    if id(node) in tr.fused:
        return
    active = tr.actives(node)
    if node.op_type in ("Add", "Mul") and len(active) == 2 and len(node.input) == 2:
        tr.add(node, name, node.op_type.lower(), {}, active)
        return
    learned, tensors = tr.learned_operands(node)
    fn = {"Max": "maximum", "Min": "minimum", "Equal": "eq", "Greater": "gt", "Less": "lt", "And": "where",
          "Or": "where", "Not": "where"}.get(node.op_type, node.op_type.lower())
    output = tr.tensors[node.output[0]]
    output.batch_axis = tr._batch_axis_like(active, output.shape)
    tr.builder.add(name, "pointwise", {"fn": fn, "shape": list(output.sample), "learned": int(learned)},
                   [tr.tensors[i].node for i in active], location=SourceLocation(tr.path), tensors=tensors)
    output.node = name


@handles("ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL2")
def _reduce(tr: _Translator, node, name: str) -> None:
    fn = {"ReduceMean": "mean", "ReduceSum": "sum", "ReduceMax": "amax", "ReduceMin": "amin", "ReduceProd": "prod",
          "ReduceL2": "norm"}[node.op_type]
    tr.observed(node, name, "reduction", fn)


@handles("Concat")
def _concat(tr: _Translator, node, name: str) -> None:
    active = tr.actives(node)
    if len(active) == len(node.input) and len(active) > 1:
        axis = int(_attrs(node)["axis"])
        tr.add(node, name, "concat", {"axis": _axis(tr, active[0], axis)}, active)
        return
    learned, tensors = tr.learned_operands(node)
    tr.observed(node, name, "copy", "cat", learned=int(learned))


@handles("Flatten")
def _flatten(tr: _Translator, node, name: str) -> None:
    if int(_attrs(node).get("axis", 1)) == 1 and tr.tensors[node.input[0]].batch_axis == 0:
        tr.add(node, name, "flatten", {}, [node.input[0]], batch_axis=0)
    else:
        tr.observed(node, name, "movement", "flatten")


@handles("Dropout", "Identity")
def _identity(tr: _Translator, node, name: str) -> None:
    tr.add(node, name, "identity" if node.op_type == "Identity" else "dropout", {}, [node.input[0]])


@handles("Gather")
def _gather(tr: _Translator, node, name: str) -> None:
    """Gather rows of a 2-D initializer by token ids: an embedding."""
    table = tr.init_shape(node.input[0])
    if table is not None and len(table) == 2 and int(_attrs(node).get("axis", 0)) == 0 and tr.active(node.input[1]):
        tr.add(node, name, "embedding", {"num": table[0], "dim": table[1]}, [node.input[1]],
               tensors=(tr.weight(node.input[0]),))
        return
    tr.observed(node, name, "movement", "gather")


#: shape operations: data movement (views, slices, copies), no arithmetic
MOVEMENT_OPS = ("Reshape", "Transpose", "Squeeze", "Unsqueeze", "Slice", "Split", "Expand", "Tile", "Cast",
                "Pad", "Resize", "DepthToSpace", "SpaceToDepth", "GatherElements", "ScatterND", "CastLike",
                "Shape", "Size", "ConstantOfShape", "Range", "Trilu")


@handles(*MOVEMENT_OPS)
def _movement(tr: _Translator, node, name: str) -> None:
    """Views and copies; the batch axis follows Transpose, Squeeze / Unsqueeze and Reshape."""
    source = tr.tensors[node.input[0]]
    out = tr.tensors[node.output[0]]
    axis: int | None = -1
    if node.op_type == "Transpose":
        perm = list(_attrs(node).get("perm", reversed(range(len(source.shape)))))
        axis = perm.index(source.batch_axis) if source.batch_axis is not None else None
    elif node.op_type in ("Squeeze", "Unsqueeze"):
        axes = _attrs(node).get("axes")
        if axes is None and len(node.input) > 1:
            value = tr.value(node.input[1])
            axes = [int(v) for v in value.reshape(-1)] if value is not None else None
        if source.batch_axis is not None and axes is not None:
            rank = len(out.shape) if node.op_type == "Unsqueeze" else len(source.shape)
            axes = sorted(a % rank for a in axes)
            b = source.batch_axis
            if node.op_type == "Squeeze":
                axis = None if b in axes else b - sum(1 for a in axes if a < b)
            else:
                for a in axes:
                    if a <= b:
                        b += 1
                axis = b
    elif node.op_type == "Reshape":
        axis = reshaped_batch_axis(source.shape, source.batch_axis, out.shape)
        if axis is None and source.batch_axis is not None and tr.batch > 1:
            tr.builder.warn(f"the batch axis merges with another here ({list(source.shape)} -> {list(out.shape)}); "
                            "counts after it are per batch, not per sample: analyse with --input batch=1", name)
    op = "copy" if node.op_type in ("Tile", "Pad", "Resize", "Expand") else "movement"
    tr.observed(node, name, op, node.op_type.lower(), batch_axis=axis)


def reshaped_batch_axis(before: tuple[int, ...], axis: int | None, after: tuple[int, ...]) -> int | None:
    """Where a reshape leaves the batch axis: the axis of ``after`` with the batch's size whose
    leading axes hold as many elements as those before the batch in ``before`` (the axes before
    and the batch itself unchanged); None when the batch merges with another axis (the heads of
    attention: ``T x N x D -> T x N*H x D/H``)."""
    if axis is None:
        return None
    lead = prod(before[:axis])
    for k in range(len(after)):
        if prod(after[:k]) == lead and after[k] == before[axis]:
            return k
    return None


def _uncounted(tr: _Translator, node, name: str, why: str = "") -> None:
    tr.not_counted[node.op_type] += 1
    tr.observed(node, name, "uncounted", node.op_type)


#: ops that only produce shapes or constants: their outputs are not activations
SHAPE_OPS = ("Shape", "Size", "Constant", "ConstantOfShape", "Range")


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
    """(the shape-inferred model, nodes folded): ``Shape`` of a tensor whose shape is known, and
    every node whose inputs are all small constants, are evaluated (``onnx.reference``) and
    replaced by initializers, then shapes are inferred again, until nothing changes. This
    resolves the reshapes exporters compute from ``Shape`` (attention's head split), which
    ``infer_shapes`` alone leaves unknown. No activation is ever computed."""
    import numpy as np
    from onnx import numpy_helper
    from onnx.reference import ReferenceEvaluator

    work = model.__class__()
    work.CopyFrom(model)
    folded = 0
    for _ in range(8):
        inferred = _infer(work, path)
        graph = inferred.graph
        shapes = {}
        for value in [*graph.input, *graph.value_info, *graph.output]:
            t = value.type.tensor_type
            if t.HasField("shape") and all(d.HasField("dim_value") for d in t.shape.dim):
                shapes[value.name] = tuple(d.dim_value for d in t.shape.dim)
        values = {i.name: numpy_helper.to_array(i) for i in graph.initializer
                  if prod(i.dims) <= FOLD_LIMIT and not _external(i)}
        done: dict[str, Any] = {}
        keep = []
        for node in graph.node:
            result = None
            if node.domain in ("", "ai.onnx") and node.op_type in ("Shape", "Size") and node.input[0] in shapes:
                shape = shapes[node.input[0]]
                if node.op_type == "Size":
                    result = [np.array(prod(shape), dtype=np.int64)]
                else:
                    attrs = _attrs(node)
                    start, end = attrs.get("start", 0), attrs.get("end", len(shape))
                    result = [np.array(shape[start:end], dtype=np.int64)]
            elif (node.domain in ("", "ai.onnx") and node.op_type not in ("RandomNormal", "RandomUniform",
                                                                           "RandomNormalLike", "RandomUniformLike")
                  and all(not i or i in values or i in done for i in node.input)
                  and (node.input or node.op_type == "Constant")):
                try:
                    evaluator = ReferenceEvaluator(node)
                    result = evaluator.run(None, {i: done.get(i, values.get(i)) for i in node.input if i})
                except Exception:  # noqa: BLE001  (an op onnx.reference cannot run: keep the node)
                    result = None
                if result is not None and any(np.asarray(r).size > FOLD_LIMIT for r in result):
                    result = None
            if result is None:
                keep.append(node)
                continue
            for name, value in zip(node.output, result):
                done[name] = np.asarray(value)
            folded += 1
        if not done:
            return inferred, folded
        needed = {i for n in keep for i in n.input} | {o.name for o in work.graph.output}
        del work.graph.node[:]
        work.graph.node.extend(keep)
        for name, value in done.items():
            if name in needed:
                work.graph.initializer.append(numpy_helper.from_array(value, name))
        del work.graph.value_info[:]
    return _infer(work, path), folded


def onnx_graph(path: str | Path, input: Any = None, batch: int = 1) -> tuple[Graph, dict[str, Any]]:
    """The Graph of an ONNX file and the extras for the analysis (``not_counted``, ``batch``)."""
    onnx = _onnx()
    from onnx import numpy_helper

    path = str(path)
    model = load_onnx_model(path)
    inputs, notes = _fix_inputs(model, path, input, batch)
    if not inputs:
        raise InputError(f"{path}: the graph has no inputs")
    inferred, folded = fold_shape_arithmetic(model, path)
    graph = inferred.graph
    initializers = {i.name: i for i in graph.initializer}
    tensors: dict[str, _Tensor] = {}
    for value in [*graph.input, *graph.value_info, *graph.output]:
        t = value.type.tensor_type
        if t.HasField("shape"):
            dims = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in t.shape.dim)
            tensors[value.name] = _Tensor(dims, elem_type=t.elem_type)
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
    tr = _Translator(path, builder, tensors, initializers, {}, batch_size, consumers, followers=followers,
                     producers=producers)
    tr.constant_nodes = folded
    for index, node in enumerate(graph.node):
        if node.domain not in ("", "ai.onnx"):
            for output in node.output:
                tensors.setdefault(output, _Tensor(()))
            if tr.actives(node):
                _uncounted(tr, node, tr.node_name(node, index))
            continue
        if node.op_type == "Constant":
            value = _attrs(node).get("value")
            if value is not None:
                tr.constants[node.output[0]] = numpy_helper.to_array(value)
            tr.constant_nodes += 1
            continue
        for output in node.output:
            if output and output not in tensors:
                tensors[output] = _Tensor(())
        if not tr.actives(node) or node.op_type in SHAPE_OPS:
            tr.constant_nodes += 1  # shape arithmetic on constants: no activation flows through it
            continue
        if id(node) in tr.fused:
            continue
        missing = [o for o in node.output if o and (not tensors[o].shape or -1 in tensors[o].shape)]
        if missing and node.op_type not in ("LSTM", "GRU", "RNN"):
            raise InputError(f"{path}: node {node.name or node.op_type} ({node.op_type}): ONNX shape inference "
                             f"leaves the shape of {missing[0]!r} unknown",
                             hint="fix the dynamic axes with --input axis=N (the names Netron shows)")
        name = tr.node_name(node, index)
        handler = HANDLERS.get(node.op_type, _uncounted)
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


__all__ = ["onnx_graph", "parse_onnx_inputs", "load_onnx_model", "AnalysisWarning"]
