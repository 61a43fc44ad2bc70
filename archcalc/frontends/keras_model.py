"""``archcalc model.keras`` / ``model.h5`` / a Keras ``model.json``: the architecture from the saved
config, no TensorFlow (nor Keras) needed.

* ``.keras`` (Keras 3): a zip holding ``config.json`` (and the weights, never read);
* ``.h5`` (Keras 2 and Keras 3's legacy format): the HDF5 root attribute ``model_config``,
  read with h5py;
* ``model.json``: what ``model.to_json()`` writes.

Sequential and Functional models map onto archcalc's layers (:data:`LAYERS`). Keras works in
H x W x C (``channels_last``); archcalc's IR keeps PyTorch's C x H x W and prints H x W x C,
so the numbers are the same and the table reads in Keras' layout. ``padding="same"`` with a
stride over 1 pads as TensorFlow does (out = ceil(in / s), the odd pixel after): a ``padding``
row comes before the layer when the sides differ.

Parameter counts follow Keras' ``count_params()``: a BatchNormalization's moving mean and
variance are its non-trainable weights (archcalc's buffers). Keras' LSTM and SimpleRNN have
one bias per gate where PyTorch has two: the recurrent row is counted without bias and a
``.bias`` row beside it adds the Keras bias (G x H parameters, one add per gate per step).
A layer class archcalc does not know is an error naming it (the config gives no shapes to
carry it through).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any, Callable

from archcalc.errors import ArchcalcError, InputError, SourceLocation
from archcalc.ir import INPUT, Graph, GraphBuilder, GraphInput


def read_keras_config(path: str | Path) -> dict:
    """The model config of a ``.keras`` zip, an ``.h5`` file or a ``model.json``."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".keras":
        try:
            with zipfile.ZipFile(path) as archive:
                if "config.json" not in archive.namelist():
                    raise InputError(f"{path}: a zip without config.json: not a Keras 3 model file",
                                     hint="save it with model.save('model.keras')")
                text = archive.read("config.json")
        except zipfile.BadZipFile:
            raise InputError(f"{path}: not a .keras file (not a zip archive, or a truncated one)") from None
    elif suffix in (".h5", ".hdf5"):
        try:
            import h5py
        except ImportError:
            raise InputError("reading .h5 files needs the h5py package",
                             hint='pip install -e ".[files]" (or pip install h5py)') from None
        try:
            with h5py.File(path, "r") as handle:
                text = handle.attrs.get("model_config")
        except OSError as error:
            raise InputError(f"{path}: not an HDF5 file, or a damaged one ({str(error).split(';')[0][:100]})") from None
        if text is None:
            raise InputError(f"{path}: the HDF5 file has no model_config (saved with save_weights? it holds weights only)")
        text = text.decode() if isinstance(text, bytes) else str(text)
    else:
        text = path.read_bytes()
    try:
        config = json.loads(text)
    except ValueError as error:
        raise InputError(f"{path}: the model config is not JSON ({error})") from None
    if not isinstance(config, dict) or "class_name" not in config or not isinstance(config.get("config"), dict):
        raise InputError(f"{path}: not a Keras model config (no class_name and config at the top)")
    return config


def _pair(value: Any, n: int = 2) -> list[int]:
    return list(value) if isinstance(value, (list, tuple)) else [int(value)] * n


def _image(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Keras' per-sample shape -> the IR's: H x W x C -> C x H x W (any rank >= 3: channels last
    moved first); vectors and sequences as they are."""
    if len(shape) >= 3:
        return (shape[-1], *shape[:-1])
    return tuple(shape)


class _Translator:
    def __init__(self, path: str, builder: GraphBuilder) -> None:
        self.path, self.builder = path, builder
        self.location = SourceLocation(path)

    def add(self, name: str, op: str, args: dict, inputs: list[str]) -> str:
        return self.builder.add(name, op, args, inputs, location=self.location)

    def shape(self, tensor: str) -> tuple[int, ...]:
        return self.builder.shape_of(tensor)

    def same_padding(self, name: str, source: str, kernel: list[int], strides: list[int],
                     dilation: list[int]) -> tuple[str, int | list[int]]:
        """TensorFlow's "same": total = max((ceil(in/s) - 1) s + d(k - 1) + 1 - in, 0), the smaller
        half before. (source, pad) for the layer: a padding node first when the halves differ."""
        sizes = self.shape(source)[1:]
        before, after = [], []
        for size, k, s, d in zip(sizes, kernel, strides, dilation):
            total = max((-(-size // s) - 1) * s + d * (k - 1) + 1 - size, 0)
            before.append(total // 2)
            after.append(total - total // 2)
        if before == after:
            return source, before
        torch_order: list[int] = []
        for b, a in reversed(list(zip(before, after))):
            torch_order += [b, a]
        return self.add(f"{name}.pad", "padding", {"pad": torch_order}, [source]), 0


Handler = Callable[[_Translator, str, dict, list[str]], str]
LAYERS: dict[str, Handler] = {}
#: Keras activation name -> archcalc op (``linear``: none)
ACTIVATIONS = {"relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh", "softmax": "softmax", "gelu": "gelu",
               "elu": "elu", "selu": "selu", "softplus": "softplus", "softsign": "softsign", "swish": "silu",
               "silu": "silu", "hard_sigmoid": "hardsigmoid", "relu6": "relu6", "leaky_relu": "leakyrelu",
               "mish": "mish", "hard_swish": "hardswish", "hard_silu": "hardswish", "log_softmax": "logsoftmax"}


def layer(*names: str):
    def register(function: Handler) -> Handler:
        for name in names:
            LAYERS[name] = function
        return function

    return register


def _activation_name(value: Any) -> str:
    if isinstance(value, dict):  # a serialised activation function
        value = value.get("config", {}).get("name") if isinstance(value.get("config"), dict) else value.get("class_name")
    return str(value or "linear")


def _activate(tr: _Translator, name: str, value: Any, source: str) -> str:
    word = _activation_name(value)
    if word == "linear":
        return source
    if word not in ACTIVATIONS:
        raise InputError(f"{tr.path}: layer {name!r}: activation {word!r} is not known to archcalc")
    op = ACTIVATIONS[word]
    args = {"axis": len(tr.shape(source)) - 1 if len(tr.shape(source)) < 3 else 0} if op in ("softmax", "logsoftmax") else {}
    return tr.add(f"{name}.{word}", op, args, [source])


def _conv_like(tr: _Translator, name: str, cfg: dict, source: str, op: str, args: dict) -> str:
    n = len(tr.shape(source)) - 1
    kernel = _pair(cfg["kernel_size"], n)
    strides = _pair(cfg.get("strides", 1), n)
    dilation = _pair(cfg.get("dilation_rate", 1), n)
    padding = cfg.get("padding", "valid")
    if padding == "same":
        source, pad = tr.same_padding(name, source, kernel, strides, dilation)
    elif padding == "valid":
        pad = 0
    else:
        raise InputError(f"{tr.path}: layer {name!r}: padding {padding!r} (archcalc reads valid and same)")
    return tr.add(name, op, {**args, "kernel": kernel, "stride": strides, "dilation": dilation, "pad": pad}, [source])


def _channels_last(tr: _Translator, name: str, cfg: dict) -> None:
    if cfg.get("data_format", "channels_last") not in ("channels_last", None):
        raise InputError(f"{tr.path}: layer {name!r}: data_format {cfg['data_format']!r}; archcalc reads "
                         "channels_last configs (Keras' default)")


@layer("Conv2D", "Conv3D", "Convolution2D")
def _conv(tr, name, cfg, inputs):
    _channels_last(tr, name, cfg)
    out = _conv_like(tr, name, cfg, inputs[0], "conv", {"filters": cfg["filters"], "groups": cfg.get("groups", 1),
                                                         "bias": cfg.get("use_bias", True)})
    return _activate(tr, name, cfg.get("activation"), out)


def _steps_to_channels(tr: _Translator, name: str, source: str) -> str:
    """A sequence in Keras' steps x channels -> channels x steps, the order archcalc's 1-D conv and
    pooling slide over (a view)."""
    steps, channels = tr.shape(source)
    return tr.add(f"{name}.channels_first", "movement", {"fn": "permute", "shape": [channels, steps]}, [source])


def _channels_to_steps(tr: _Translator, name: str, source: str) -> str:
    channels, steps = tr.shape(source)
    return tr.add(f"{name}.steps_first", "movement", {"fn": "permute", "shape": [steps, channels]}, [source])


@layer("Conv1D", "Convolution1D")
def _conv1d(tr, name, cfg, inputs):
    """Conv1D on steps x channels: turned to channels x steps for the conv and back."""
    _channels_last(tr, name, cfg)
    if cfg.get("padding") == "causal":
        raise InputError(f"{tr.path}: layer {name!r}: Conv1D padding 'causal' is not read yet")
    source = _steps_to_channels(tr, name, inputs[0])
    out = _conv_like(tr, name, cfg, source, "conv", {"filters": cfg["filters"], "groups": cfg.get("groups", 1),
                                                     "bias": cfg.get("use_bias", True)})
    return _activate(tr, name, cfg.get("activation"), _channels_to_steps(tr, name, out))


@layer("DepthwiseConv2D")
def _depthwise(tr, name, cfg, inputs):
    _channels_last(tr, name, cfg)
    channels = tr.shape(inputs[0])[0]
    multiplier = cfg.get("depth_multiplier", 1)
    out = _conv_like(tr, name, cfg, inputs[0], "conv", {"filters": channels * multiplier, "groups": channels,
                                                         "bias": cfg.get("use_bias", True)})
    return _activate(tr, name, cfg.get("activation"), out)


@layer("SeparableConv2D")
def _separable(tr, name, cfg, inputs):
    """Keras' separable conv: a depthwise conv without bias, then a 1 x 1 conv with the bias."""
    _channels_last(tr, name, cfg)
    channels = tr.shape(inputs[0])[0]
    multiplier = cfg.get("depth_multiplier", 1)
    depthwise = _conv_like(tr, f"{name}.depthwise", cfg, inputs[0], "conv",
                           {"filters": channels * multiplier, "groups": channels, "bias": False})
    out = tr.add(f"{name}.pointwise", "conv", {"filters": cfg["filters"], "kernel": 1,
                                               "bias": cfg.get("use_bias", True)}, [depthwise])
    return _activate(tr, name, cfg.get("activation"), out)


@layer("Conv2DTranspose")
def _conv_transpose(tr, name, cfg, inputs):
    _channels_last(tr, name, cfg)
    kernel, strides = _pair(cfg["kernel_size"]), _pair(cfg.get("strides", 1))
    if cfg.get("padding", "valid") != "valid" or cfg.get("output_padding"):
        raise InputError(f"{tr.path}: layer {name!r}: Conv2DTranspose with padding='same' or output_padding is "
                         "not read yet (archcalc reads padding='valid')")
    out = tr.add(name, "convtranspose", {"filters": cfg["filters"], "kernel": kernel, "stride": strides,
                                         "dilation": _pair(cfg.get("dilation_rate", 1)),
                                         "bias": cfg.get("use_bias", True)}, [inputs[0]])
    return _activate(tr, name, cfg.get("activation"), out)


@layer("Dense")
def _dense(tr, name, cfg, inputs):
    """Dense acts on the last axis (an image's channels, in Keras' layout)."""
    source = inputs[0]
    shape = tr.shape(source)
    if len(shape) >= 3:  # channels last: move them back last for the product
        order = (*range(1, len(shape)), 0)
        source = tr.add(f"{name}.channels_last", "movement",
                        {"fn": "permute", "shape": [shape[i] for i in order]}, [source])
    out = tr.add(name, "linear", {"units": cfg["units"], "bias": cfg.get("use_bias", True), "flatten": False},
                 [source])
    if len(shape) >= 3:
        back = tr.shape(out)
        out = tr.add(f"{name}.channels_first", "movement", {"fn": "permute", "shape": [back[-1], *back[:-1]]}, [out])
    return _activate(tr, name, cfg.get("activation"), out)


@layer("MaxPooling2D", "AveragePooling2D", "MaxPooling1D", "AveragePooling1D", "MaxPooling3D", "AveragePooling3D",
       "MaxPool2D", "AvgPool2D")
def _pool(tr, name, cfg, inputs):
    _channels_last(tr, name, cfg)
    if len(tr.shape(inputs[0])) == 2:  # a sequence, steps x channels
        return _channels_to_steps(tr, name, _window_pool(tr, name, cfg, _steps_to_channels(tr, name, inputs[0])))
    return _window_pool(tr, name, cfg, inputs[0])


def _window_pool(tr, name, cfg, source):
    n = len(tr.shape(source)) - 1
    kernel = _pair(cfg.get("pool_size", 2), n)
    strides = _pair(cfg.get("strides") or kernel, n)
    pad = 0
    if cfg.get("padding", "valid") == "same":
        source, pad = tr.same_padding(name, source, kernel, strides, [1] * n)
    op = "maxpool" if "Max" in cfg.get("_class", name) else "avgpool"
    args: dict[str, Any] = {"kernel": kernel, "stride": strides, "pad": pad}
    if op == "avgpool":
        args["count_include_pad"] = False  # TF averages over the valid pixels only
    return tr.add(name, op, args, [source])


@layer("GlobalAveragePooling2D", "GlobalMaxPooling2D", "GlobalAveragePooling1D", "GlobalMaxPooling1D",
       "GlobalAvgPool2D", "GlobalMaxPool2D")
def _global_pool(tr, name, cfg, inputs):
    _channels_last(tr, name, cfg)
    op = "global_maxpool" if "Max" in cfg["_class"] else "global_avgpool"
    source = _steps_to_channels(tr, name, inputs[0]) if len(tr.shape(inputs[0])) == 2 else inputs[0]
    out = tr.add(name, op, {}, [source])
    if not cfg.get("keepdims", False):
        out = tr.add(f"{name}.flatten", "flatten", {}, [out])
    return out


@layer("Flatten")
def _flatten(tr, name, cfg, inputs):
    return tr.add(name, "flatten", {}, inputs)


@layer("Dropout", "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "AlphaDropout", "ActivityRegularization")
def _dropout(tr, name, cfg, inputs):
    return tr.add(name, "dropout", {"p": float(cfg.get("rate", 0.0))}, inputs)


@layer("BatchNormalization")
def _batchnorm(tr, name, cfg, inputs):
    axis = cfg.get("axis", -1)
    axis = axis[0] if isinstance(axis, list) else axis
    if axis not in (-1, len(tr.shape(inputs[0]))):
        raise InputError(f"{tr.path}: layer {name!r}: BatchNormalization on axis {axis}; archcalc reads the "
                         "channels axis (-1)")
    if not (cfg.get("center", True) and cfg.get("scale", True)):
        raise InputError(f"{tr.path}: layer {name!r}: BatchNormalization without center or scale is not read yet")
    return tr.add(name, "batchnorm", {"eps": float(cfg.get("epsilon", 1e-3))}, inputs)


@layer("LayerNormalization")
def _layernorm(tr, name, cfg, inputs):
    axis = cfg.get("axis", -1)
    if axis not in (-1, [-1]) or len(tr.shape(inputs[0])) >= 3:
        raise InputError(f"{tr.path}: layer {name!r}: LayerNormalization is read on the last axis of a vector "
                         "or sequence only")
    return tr.add(name, "layernorm", {"bias": cfg.get("center", True), "affine": cfg.get("scale", True),
                                      "eps": float(cfg.get("epsilon", 1e-3))}, inputs)


@layer("Activation")
def _activation(tr, name, cfg, inputs):
    out = _activate(tr, name, cfg.get("activation"), inputs[0])
    return out if out != inputs[0] else tr.add(name, "identity", {}, inputs)


@layer("ReLU", "LeakyReLU", "ELU", "Softmax", "PReLU")
def _activation_layer(tr, name, cfg, inputs):
    cls = cfg["_class"]
    if cls == "ReLU":
        if cfg.get("max_value") == 6 and not cfg.get("negative_slope") and not cfg.get("threshold"):
            return tr.add(name, "relu6", {}, inputs)
        if cfg.get("max_value") is None and not cfg.get("negative_slope") and not cfg.get("threshold"):
            return tr.add(name, "relu", {}, inputs)
        raise InputError(f"{tr.path}: layer {name!r}: ReLU with max_value, slope or threshold is not read yet")
    if cls == "LeakyReLU":
        return tr.add(name, "leakyrelu", {"slope": float(cfg.get("negative_slope", cfg.get("alpha", 0.3)))}, inputs)
    if cls == "ELU":
        return tr.add(name, "elu", {"alpha": float(cfg.get("alpha", 1.0))}, inputs)
    if cls == "PReLU":
        shape = tr.shape(inputs[0])
        if cfg.get("shared_axes") and len(shape) >= 3 and list(cfg["shared_axes"]) == [1, 2]:
            return tr.add(name, "prelu", {"num_parameters": shape[0]}, inputs)
        raise InputError(f"{tr.path}: layer {name!r}: PReLU is read with shared_axes=[1, 2] (one slope per channel)")
    shape = tr.shape(inputs[0])
    return tr.add(name, "softmax", {"axis": 0 if len(shape) >= 3 else len(shape) - 1}, inputs)


@layer("Add", "Multiply", "Concatenate", "Average", "Subtract", "Maximum", "Minimum")
def _merge(tr, name, cfg, inputs):
    cls = cfg["_class"]
    if cls == "Add":
        return tr.add(name, "add", {}, inputs)
    if cls == "Multiply":
        return tr.add(name, "mul", {}, inputs)
    if cls == "Concatenate":
        rank = len(tr.shape(inputs[0]))
        axis = cfg.get("axis", -1) % (rank + 1) - 1  # Keras counts the batch axis
        if rank >= 3:  # channels last -> the IR's channels first
            axis = 0 if axis == rank - 1 else axis + 1
        return tr.add(name, "concat", {"axis": axis}, inputs)
    fn = {"Average": "add", "Subtract": "sub", "Maximum": "maximum", "Minimum": "minimum"}[cls]
    return tr.add(name, "pointwise", {"fn": fn}, inputs)


@layer("Reshape")
def _reshape(tr, name, cfg, inputs):
    return tr.add(name, "reshape", {"shape": list(_image(tuple(cfg["target_shape"])))}, inputs)


@layer("ZeroPadding2D")
def _zero_padding(tr, name, cfg, inputs):
    pad = cfg.get("padding", 1)
    if isinstance(pad, int):
        (top, bottom), (left, right) = (pad, pad), (pad, pad)
    elif isinstance(pad[0], int):
        (top, bottom), (left, right) = (pad[0], pad[0]), (pad[1], pad[1])
    else:
        (top, bottom), (left, right) = pad
    return tr.add(name, "padding", {"pad": [left, right, top, bottom]}, inputs)


@layer("UpSampling2D")
def _upsampling(tr, name, cfg, inputs):
    size = _pair(cfg.get("size", 2))
    return tr.add(name, "upsample", {"scale": size if size[0] != size[1] else size[0],
                                     "mode": "bilinear" if cfg.get("interpolation") == "bilinear" else "nearest"},
                  inputs)


@layer("Embedding")
def _embedding(tr, name, cfg, inputs):
    return tr.add(name, "embedding", {"num": cfg["input_dim"], "dim": cfg["output_dim"]}, inputs)


@layer("LSTM", "GRU", "SimpleRNN")
def _recurrent(tr, name, cfg, inputs):
    """Keras' LSTM and SimpleRNN: one bias vector (G x H); its GRU with reset_after=True (the
    default) two, as PyTorch's."""
    cls = cfg["_class"]
    units = cfg["units"]
    bias = cfg.get("use_bias", True)
    op, gates = {"LSTM": ("lstm", 4), "GRU": ("gru", 3), "SimpleRNN": ("rnn", 1)}[cls]
    if cls == "GRU" and not cfg.get("reset_after", True):
        raise InputError(f"{tr.path}: layer {name!r}: GRU with reset_after=False (one bias) is not read yet")
    torch_bias = bias and cls == "GRU"
    args: dict[str, Any] = {"hidden": units, "bias": torch_bias}
    if cls == "SimpleRNN":
        word = _activation_name(cfg.get("activation", "tanh"))
        if word not in ("tanh", "relu"):
            raise InputError(f"{tr.path}: layer {name!r}: SimpleRNN activation {word!r} (archcalc: tanh, relu)")
        args["nonlinearity"] = word
    out = tr.add(name, op, args, inputs)
    steps = tr.shape(inputs[0])[0]
    if bias and not torch_bias:
        tr.add(f"{name}.bias", "pointwise", {"fn": "add", "shape": [steps, gates * units],
                                             "learned": gates * units}, [out])
    if cfg.get("return_sequences", False):
        return out
    return tr.add(f"{name}.last", "select_token", {"index": -1}, [out])


def _inbound(layer_entry: dict) -> list[str]:
    """The names of the layers feeding a Functional layer (Keras 3 ``keras_history`` or Keras 2
    ``[[name, node, tensor, kwargs], ...]``)."""
    nodes = layer_entry.get("inbound_nodes") or []
    if not nodes:
        return []
    if len(nodes) > 1:
        raise InputError(f"layer {layer_entry.get('name')!r} is called {len(nodes)} times (shared layers are "
                         "not read yet)")
    node = nodes[0]
    names: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            history = value.get("config", {}).get("keras_history") if isinstance(value.get("config"), dict) else None
            if history:
                names.append(history[0])
                return
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            if len(value) >= 3 and isinstance(value[0], str) and isinstance(value[1], int):
                names.append(value[0])
                return
            for item in value:
                walk(item)

    walk(node["args"] if isinstance(node, dict) and "args" in node else node)
    return names


def _input_shape(entry: dict) -> tuple[int, ...] | None:
    cfg = entry.get("config", {})
    shape = cfg.get("batch_shape") or cfg.get("batch_input_shape")
    if shape is None and isinstance(entry.get("build_config"), dict):
        shape = entry["build_config"].get("input_shape")
    return tuple(shape[1:]) if shape else None


def keras_graph(path: str | Path, input: Any = None, strict: bool = False) -> tuple[Graph, dict[str, Any]]:
    """The Graph of a Keras model file (see the module docstring) and the analysis extras."""
    path = str(path)
    config = read_keras_config(path)
    model_cfg = config["config"]
    layers = model_cfg.get("layers") or []
    if not layers:
        raise InputError(f"{path}: the {config['class_name']} config holds no layers")
    sequential = config["class_name"] == "Sequential"
    inputs = [e for e in layers if e.get("class_name") == "InputLayer"]
    first_shape = _input_shape(inputs[0] if inputs else layers[0])
    if input is not None:
        from archcalc.inputs import parse_numbers

        first_shape = parse_numbers(input[0] if isinstance(input, (list, tuple)) else input)
    if first_shape is None or any(d is None for d in first_shape):
        raise InputError(f"{path}: the config gives no full input shape ({first_shape})",
                         hint="give it with --input, in Keras' order (e.g. 224x224x3)")
    dtype = (inputs[0].get("config", {}).get("dtype") if inputs else None)
    dtype = "int64" if isinstance(dtype, str) and dtype.startswith("int") else None
    extra = []
    for entry in inputs[1:]:
        shape = _input_shape(entry)
        if shape is None or any(d is None for d in shape):
            raise InputError(f"{path}: input {entry.get('name')!r} has no full shape in the config")
        extra.append(GraphInput(entry["name"] if "name" in entry else entry["config"]["name"], _image(shape)))
    builder = GraphBuilder(name=model_cfg.get("name", Path(path).stem), input_shape=_image(tuple(first_shape)),
                           source=f"Keras {config['class_name']} model {Path(path).name}", file=path, strict=strict,
                           input_dtype=dtype, extra_inputs=tuple(extra))
    tr = _Translator(path, builder)
    outputs: dict[str, str] = {}
    if inputs:
        outputs[inputs[0].get("name") or inputs[0]["config"]["name"]] = INPUT
        for graph_input in extra:
            outputs[graph_input.name] = graph_input.name
    previous = INPUT
    for entry in layers:
        cls = entry.get("class_name")
        cfg = dict(entry.get("config") or {})
        name = entry.get("name") or cfg.get("name") or f"{cls}_{len(outputs)}"
        if cls == "InputLayer":
            continue
        handler = LAYERS.get(cls)
        if handler is None:
            raise InputError(f"{path}: layer {name!r}: Keras layer {cls!r} is not known to archcalc",
                             hint="archcalc reads " + ", ".join(sorted(LAYERS)[:12]) + ", ...")
        cfg["_class"] = cls
        if sequential:
            sources = [previous]
        else:
            try:
                sources = [outputs[n] for n in _inbound(entry)]
            except KeyError as missing:
                raise InputError(f"{path}: layer {name!r} reads {missing}, which no earlier layer gives") from None
            if not sources:
                raise InputError(f"{path}: layer {name!r} has no inbound nodes")
        try:
            out = handler(tr, name, cfg, sources)
        except ArchcalcError as error:
            raise error.with_context(location=SourceLocation(path), layer=name, op=cls) from None
        except (KeyError, TypeError, ValueError, IndexError) as error:
            raise InputError(f"{path}: layer {name!r} ({cls}): its config cannot be read ({type(error).__name__}: "
                             f"{error})") from None
        outputs[name] = out
        previous = out
    return builder.build(), {}
