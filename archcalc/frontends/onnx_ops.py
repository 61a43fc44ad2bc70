"""The ONNX operators archcalc maps to its layer families, one handler per op (or group of ops).

A handler gets the translator (:class:`~archcalc.frontends.onnx_model.OnnxTranslator`), the
ONNX node and the row's name, and adds the row(s) through the translator, which keeps the
ONNX shapes and the batch axis of every tensor. Inputs and attributes follow ONNX's operator
specs (https://onnx.ai/onnx/operators/). An op with no handler goes to :func:`uncounted`.
"""

from __future__ import annotations

from math import prod
from typing import Any, Callable

from archcalc.frontends.onnx_model import OnnxTensor, OnnxTranslator, node_attributes
from archcalc.errors import SourceLocation

Handler = Callable[[OnnxTranslator, Any, str], None]
HANDLERS: dict[str, Handler] = {}


def handles(*ops: str):
    def register(function: Handler) -> Handler:
        for op in ops:
            HANDLERS[op] = function
        return function

    return register


def _axis(tr: OnnxTranslator, tensor: str, axis: int) -> int:
    """A full-tensor axis -> the per-sample axis (the batch axis removed)."""
    t = tr.tensors[tensor]
    axis = axis % len(t.shape) if t.shape else 0
    if t.batch_axis is not None and axis > t.batch_axis:
        axis -= 1
    return axis


def _pads(attrs: dict, n: int) -> tuple[list[int] | None, str | None]:
    """ONNX ``pads`` [x1_begin, x2_begin, ..., x1_end, x2_end] (or ``auto_pad``) -> (symmetric
    per-axis pads, None), or (None, the mode) when they must be worked out or differ by side."""
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


def _same_pads(sizes, kernel, strides, dilations, mode: str) -> tuple[list[int], list[int]]:
    """``auto_pad`` SAME_UPPER / SAME_LOWER (ONNX's Conv spec): out = ceil(in / s), total padding
    max((out - 1) s + d (k - 1) + 1 - in, 0), the odd pixel at the end (UPPER) or the start."""
    begins, ends = [], []
    for size, k, s, d in zip(sizes, kernel, strides, dilations):
        total = max((-(-size // s) - 1) * s + (k - 1) * d + 1 - size, 0)
        small = total // 2
        begins.append(small if mode == "SAME_UPPER" else total - small)
        ends.append(total - small if mode == "SAME_UPPER" else small)
    return begins, ends


def _window(tr: OnnxTranslator, node, name: str, op: str, args: dict, source: str, kernel, strides, dilations=None,
            tensors=()) -> None:
    """Conv and pooling: padding that differs by side (``auto_pad`` SAME_UPPER at stride 2, as
    TensorFlow's "same") becomes a ``padding`` row before the layer."""
    attrs = node_attributes(node)
    n = len(kernel)
    pads, mode = _pads(attrs, n)
    if mode is not None:
        if mode == "explicit":
            begins, ends = list(attrs["pads"])[:n], list(attrs["pads"])[n:]
        else:
            begins, ends = _same_pads(tr.tensors[source].shape[-n:], kernel, strides, dilations or [1] * n, mode)
        if begins == ends:
            pads = begins
        else:
            source, pads = _pad_first(tr, name, source, begins, ends), [0] * n
    args = {**args, "pad": pads[0] if len(set(pads)) == 1 else list(pads)}
    tr.add(node, name, op, args, [source], tensors=tensors)


def _pad_first(tr: OnnxTranslator, name: str, source: str, begins: list[int], ends: list[int]) -> str:
    """A ``padding`` row (torch's order: the last axis first) before layer ``name``; the padded tensor."""
    n = len(begins)
    torch_order: list[int] = []
    for b, e in reversed(list(zip(begins, ends))):
        torch_order += [b, e]
    pad_name = f"{name}.pad"
    tr.names.add(pad_name)
    padded = f"{source}#padded:{name}"
    shape = list(tr.tensors[source].shape)
    for i, (b, e) in enumerate(zip(begins, ends)):
        shape[len(shape) - n + i] += b + e
    tr.tensors[padded] = OnnxTensor(tuple(shape), tr.tensors[source].batch_axis)
    tr.builder.add(pad_name, "padding", {"pad": torch_order}, [tr.tensors[source].node],
                   location=SourceLocation(tr.path))
    tr.tensors[padded].node = pad_name
    return padded


@handles("Conv", "ConvTranspose")
def _conv(tr: OnnxTranslator, node, name: str) -> None:
    attrs = node_attributes(node)
    weight = tr.init_shape(node.input[1])
    if weight is None:
        return uncounted(tr, node, name, "its weight is computed, not an initializer")
    n = len(weight) - 2
    kernel = list(attrs.get("kernel_shape", weight[2:]))
    strides = list(attrs.get("strides", [1] * n))
    dilations = list(attrs.get("dilations", [1] * n))
    groups = int(attrs.get("group", 1))
    bias = len(node.input) > 2 and bool(tr.sources(node.input[2]))  # a computed bias (zeros) is none
    tensors = tr.weights(node.input[1], node.input[2] if bias else None)
    filters = weight[0] if node.op_type == "Conv" else weight[1] * groups
    args = {"filters": filters, "kernel": kernel, "stride": strides, "dilation": dilations, "groups": groups,
            "bias": bias}
    if node.op_type == "ConvTranspose":
        if "output_shape" in attrs:
            return uncounted(tr, node, name, "ConvTranspose with output_shape")
        args["output_padding"] = list(attrs.get("output_padding", [0] * n))
        pads, mode = _pads(attrs, n)
        if mode is not None:
            return uncounted(tr, node, name, "ConvTranspose with uneven padding")
        tr.add(node, name, "convtranspose", {**args, "pad": list(pads)}, [node.input[0]], tensors=tensors)
        return
    _window(tr, node, name, "conv", args, node.input[0], kernel, strides, dilations, tensors)


@handles("MaxPool", "AveragePool", "LpPool")
def _pool(tr: OnnxTranslator, node, name: str) -> None:
    attrs = node_attributes(node)
    kernel = list(attrs["kernel_shape"])
    n = len(kernel)
    strides = list(attrs.get("strides", [1] * n))
    args: dict[str, Any] = {"kernel": kernel, "stride": strides, "ceil_mode": bool(attrs.get("ceil_mode", 0))}
    if node.op_type == "MaxPool":
        if len([o for o in node.output if o]) > 1:
            return uncounted(tr, node, name, "MaxPool with indices")
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
def _global_pool(tr: OnnxTranslator, node, name: str) -> None:
    tr.add(node, name, "global_avgpool" if node.op_type == "GlobalAveragePool" else "global_maxpool", {},
           [node.input[0]])


@handles("Gemm")
def _gemm(tr: OnnxTranslator, node, name: str) -> None:
    attrs = node_attributes(node)
    weight = tr.init_shape(node.input[1])
    if weight is None or attrs.get("transA", 0) or len(weight) != 2:
        return _matmul(tr, node, name)
    units = weight[0] if attrs.get("transB", 0) else weight[1]
    bias = len(node.input) > 2 and bool(node.input[2]) and tr.init_shape(node.input[2]) is not None
    tensors = tr.weights(node.input[1], node.input[2] if bias else None)
    tr.add(node, name, "linear", {"units": units, "bias": bias, "flatten": False}, [node.input[0]], tensors=tensors)


@handles("MatMul")
def _matmul(tr: OnnxTranslator, node, name: str) -> None:
    a, b = node.input[0], node.input[1]
    weight = tr.init_shape(b)
    if weight is not None and len(weight) == 2 and tr.active(a):
        bias, output = _bias_after(tr, node)
        tensors = tr.weights(b, bias)
        tr.add(node, name, "linear", {"units": weight[1], "bias": bias is not None, "flatten": False}, [a],
               output=output, tensors=tensors)
        return
    if tr.active(a) and tr.active(b):
        tr.add(node, name, "matmul", {}, [a, b])
        return
    uncounted(tr, node, name, "a product with a constant that is no 2-D weight")


def _bias_after(tr: OnnxTranslator, node) -> tuple[str | None, str]:
    """The 1-D constant an Add that alone reads this MatMul adds (a Linear's bias), and the Add's
    output; else (None, the MatMul's output)."""
    out = node.output[0]
    follower = tr.followers.get(out)
    if follower is None or tr.consumers[out] != 1 or follower.op_type != "Add":
        return None, out
    other = follower.input[1] if follower.input[0] == out else follower.input[0]
    shape = tr.init_shape(other)
    if tr.sources(other) and shape is not None and len(shape) == 1:
        tr.fused.add(id(follower))
        return other, follower.output[0]
    return None, out


@handles("BatchNormalization")
def _batchnorm(tr: OnnxTranslator, node, name: str) -> None:
    if len([o for o in node.output if o]) > 1:
        return uncounted(tr, node, name, "BatchNormalization in training mode")
    tensors = tr.weights(node.input[1], node.input[2]) + tr.weights(node.input[3], node.input[4], buffer=True)
    tr.add(node, name, "batchnorm", {"eps": float(node_attributes(node).get("epsilon", 1e-5))}, [node.input[0]],
           tensors=tensors)


@handles("LayerNormalization")
def _layernorm(tr: OnnxTranslator, node, name: str) -> None:
    attrs = node_attributes(node)
    rank = len(tr.tensors[node.input[0]].shape)
    axis = int(attrs.get("axis", -1)) % rank
    bias = len(node.input) > 2 and bool(node.input[2])
    tensors = tr.weights(node.input[1], node.input[2] if bias else None)
    tr.add(node, name, "layernorm", {"dims": rank - axis, "bias": bias, "eps": float(attrs.get("epsilon", 1e-5))},
           [node.input[0]], tensors=tensors)


@handles("InstanceNormalization")
def _instancenorm(tr: OnnxTranslator, node, name: str) -> None:
    """torch exports GroupNorm as Reshape -> InstanceNormalization with a constant scale of ones
    and bias of zeros (then Mul and Add by its own weight and bias): after a Reshape, such a
    scale and bias are the exporter's constants, not parameters."""
    scale, bias = tr.value(node.input[1]), tr.value(node.input[2])
    producer = tr.producers.get(node.input[0])
    constant = (producer is not None and producer.op_type == "Reshape" and scale is not None and bias is not None
                and bool((scale == 1).all()) and bool((bias == 0).all()))
    tensors = () if constant else tr.weights(node.input[1], node.input[2])
    tr.add(node, name, "instancenorm", {"affine": not constant}, [node.input[0]], tensors=tensors)


@handles("GroupNormalization")
def _groupnorm(tr: OnnxTranslator, node, name: str) -> None:
    tensors = tr.weights(node.input[1], node.input[2])
    tr.add(node, name, "groupnorm", {"groups": int(node_attributes(node)["num_groups"])}, [node.input[0]], tensors=tensors)


@handles("LSTM", "GRU", "RNN")
def _recurrent(tr: OnnxTranslator, node, name: str) -> None:
    """ONNX recurrent ops read X as T x N x F (layout 0) and give Y as T x D x N x H."""
    attrs = node_attributes(node)
    if int(attrs.get("layout", 0)) != 0:
        return uncounted(tr, node, name, "layout 1")
    x = tr.tensors[node.input[0]]
    x.batch_axis = 1 if len(x.shape) == 3 else x.batch_axis
    direction = attrs.get("direction", b"forward")
    direction = direction.decode() if isinstance(direction, bytes) else direction
    bias = len(node.input) > 3 and bool(node.input[3])
    tensors = tr.weights(node.input[1], node.input[2], node.input[3] if bias else None)
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
        tr.tensors[first] = OnnxTensor((t, 2 if args["bidirectional"] else 1, n, h))
    tr.tensors.setdefault(first, OnnxTensor(())).batch_axis = 2
    tr.add(node, name, op, args, [node.input[0]], output=first, tensors=tensors, batch_axis=2)
    for k, state in enumerate(outputs[1:], start=1):
        if state:
            tensor = tr.tensors.setdefault(state, OnnxTensor(()))
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
def _activation(tr: OnnxTranslator, node, name: str) -> None:
    attrs = node_attributes(node)
    op, args = ACTIVATIONS[node.op_type]
    if node.op_type == "Gelu" and (attrs.get("approximate", b"none") in (b"tanh", "tanh")):
        op = "gelu_tanh"
    tr.add(node, name, op, args(attrs), [node.input[0]])


@handles("PRelu")
def _prelu(tr: OnnxTranslator, node, name: str) -> None:
    slope = tr.init_shape(node.input[1])
    count = prod(slope) if slope is not None else 1
    tr.add(node, name, "prelu", {"num_parameters": count}, [node.input[0]],
           tensors=tr.weights(node.input[1]))


@handles("Clip")
def _clip(tr: OnnxTranslator, node, name: str) -> None:
    attrs = node_attributes(node)
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
def _softmax(tr: OnnxTranslator, node, name: str) -> None:
    axis = _axis(tr, node.input[0], int(node_attributes(node).get("axis", -1)))
    tr.add(node, name, "softmax" if node.op_type == "Softmax" else "logsoftmax", {"axis": axis}, [node.input[0]])


@handles("Add", "Mul", "Sub", "Div", "Pow", "Max", "Min", "Where", "Equal", "Greater", "Less", "And", "Or", "Not",
         "Sqrt", "Exp", "Log", "Neg", "Reciprocal", "Erf", "Abs", "Sin", "Cos", "Floor", "Ceil", "Round", "Sign")
def _elementwise(tr: OnnxTranslator, node, name: str) -> None:
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
def _reduce(tr: OnnxTranslator, node, name: str) -> None:
    fn = {"ReduceMean": "mean", "ReduceSum": "sum", "ReduceMax": "amax", "ReduceMin": "amin", "ReduceProd": "prod",
          "ReduceL2": "norm"}[node.op_type]
    tr.observed(node, name, "reduction", fn)


@handles("Concat")
def _concat(tr: OnnxTranslator, node, name: str) -> None:
    active = tr.actives(node)
    if len(active) == len(node.input) and len(active) > 1:
        axis = int(node_attributes(node)["axis"])
        tr.add(node, name, "concat", {"axis": _axis(tr, active[0], axis)}, active)
        return
    learned, tensors = tr.learned_operands(node)
    tr.observed(node, name, "copy", "cat", learned=int(learned))


@handles("Flatten")
def _flatten(tr: OnnxTranslator, node, name: str) -> None:
    if int(node_attributes(node).get("axis", 1)) == 1 and tr.tensors[node.input[0]].batch_axis == 0:
        tr.add(node, name, "flatten", {}, [node.input[0]], batch_axis=0)
    else:
        tr.observed(node, name, "movement", "flatten")


@handles("Dropout", "Identity")
def _identity(tr: OnnxTranslator, node, name: str) -> None:
    tr.add(node, name, "identity" if node.op_type == "Identity" else "dropout", {}, [node.input[0]])


@handles("Gather")
def _gather(tr: OnnxTranslator, node, name: str) -> None:
    """Gather rows of a 2-D initializer by token ids: an embedding."""
    table = tr.init_shape(node.input[0])
    if table is not None and len(table) == 2 and int(node_attributes(node).get("axis", 0)) == 0 and tr.active(node.input[1]):
        tr.add(node, name, "embedding", {"num": table[0], "dim": table[1]}, [node.input[1]],
               tensors=tr.weights(node.input[0]))
        return
    tr.observed(node, name, "movement", "gather")


#: shape operations: data movement (views, slices, copies), no arithmetic
MOVEMENT_OPS = ("Reshape", "Transpose", "Squeeze", "Unsqueeze", "Slice", "Split", "Expand", "Tile", "Cast",
                "Pad", "Resize", "DepthToSpace", "SpaceToDepth", "GatherElements", "ScatterND", "CastLike",
                "Shape", "Size", "ConstantOfShape", "Range", "Trilu")


@handles(*MOVEMENT_OPS)
def _movement(tr: OnnxTranslator, node, name: str) -> None:
    """Views and copies; the batch axis follows Transpose, Squeeze / Unsqueeze and Reshape."""
    source = tr.tensors[node.input[0]]
    out = tr.tensors[node.output[0]]
    axis: int | None = -1
    if node.op_type == "Transpose":
        perm = list(node_attributes(node).get("perm", reversed(range(len(source.shape)))))
        axis = perm.index(source.batch_axis) if source.batch_axis is not None else None
    elif node.op_type in ("Squeeze", "Unsqueeze"):
        axes = node_attributes(node).get("axes")
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


def uncounted(tr: OnnxTranslator, node, name: str, why: str = "") -> None:
    """An op archcalc has no formula for: its row has ONNX's shape, and it is listed as not counted."""
    tr.not_counted[node.op_type] += 1
    if why:
        tr.builder.warn(f"{node.op_type} not counted: {why}", name)
    tr.observed(node, name, "uncounted", node.op_type)
