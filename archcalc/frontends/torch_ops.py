"""What a torch call means in archcalc's terms: module, function and aten tables.

Three tables, each a pure mapping from what torch ran to an archcalc rule and
its canonical arguments (see each rule's ``normalize``):

* :data:`LEAF_MODULES` -- known leaf module types (exact type, not
  subclasses, which may override ``forward``), mapped whole from the module's
  own hyper-parameters, so names and parameter counts are exact;
* :data:`FUNCTIONS` -- torch-level calls as the user wrote them
  (``torch.tanh``, ``F.max_pool2d``, ``x.reshape``, ``+=``, ``torch.cat``,
  ``@``, ``F.scaled_dot_product_attention``), keyed by the normalised name;
* :func:`aten_specs` -- the fallback for everything else, one aten op at a
  time (``mm``, ``bmm``, ``convolution``, ``_softmax``, point-wise ops by
  their ``pointwise`` tag, views); an aten op without a mapping becomes an
  ``uncounted`` layer and is listed in ``Report.not_counted``.

A handler returns a list of :class:`~archcalc.frontends.torch_capture.Spec`
(or None to decline, letting the next level see the call). Handlers never
look at tensor values: only shapes, parameter identity and arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from archcalc.rules.tensor_ops import POINTWISE_KINDS, REDUCTION_KINDS

if TYPE_CHECKING:
    from archcalc.frontends.torch_capture import Call, LeafCall, Spec

Handler = Callable[["Call"], "list[Spec] | None"]


def _pair_value(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        values = [int(v) for v in value]
        return values[0] if len(values) == 1 else tuple(values)
    return int(value) if isinstance(value, float) and value.is_integer() else value


# -- known leaf modules --------------------------------------------------------------


def _conv(m: nn.Conv2d, leaf: LeafCall):
    return "conv", {
        "filters": m.out_channels,
        "kernel": tuple(m.kernel_size),
        "stride": tuple(m.stride),
        "pad": m.padding if isinstance(m.padding, str) else tuple(m.padding),
        "dilation": tuple(m.dilation),
        "groups": m.groups,
        "bias": m.bias is not None,
    }


def _conv_transpose(m: nn.ConvTranspose2d, leaf: LeafCall):
    return "convtranspose", {
        "filters": m.out_channels,
        "kernel": tuple(m.kernel_size),
        "stride": tuple(m.stride),
        "pad": tuple(m.padding),
        "output_padding": tuple(m.output_padding),
        "dilation": tuple(m.dilation),
        "groups": m.groups,
        "bias": m.bias is not None,
    }


def _linear(m: nn.Linear, leaf: LeafCall):
    return "linear", {"units": m.out_features, "bias": m.bias is not None}


def _batchnorm(m: nn.modules.batchnorm._BatchNorm, leaf: LeafCall):
    return "batchnorm", {
        "affine": m.affine,
        "eps": m.eps,
        "momentum": m.momentum,
        "track_running_stats": m.track_running_stats,
    }


def _layernorm(m: nn.LayerNorm, leaf: LeafCall):
    if m.elementwise_affine and m.bias is None:
        return None  # LayerNorm(bias=False): the rule counts a bias; let the capture price it
    return "layernorm", {"dims": len(m.normalized_shape), "affine": m.elementwise_affine, "eps": m.eps}


def _lrn(m: nn.LocalResponseNorm, leaf: LeafCall):
    return "lrn", {"size": m.size, "alpha": m.alpha, "beta": m.beta, "k": m.k}


def _maxpool(m: nn.MaxPool2d, leaf: LeafCall):
    if m.return_indices:
        return None
    return "maxpool", {
        "kernel": _pair_value(m.kernel_size),
        "stride": _pair_value(m.stride) if m.stride is not None else None,
        "pad": _pair_value(m.padding),
        "dilation": _pair_value(m.dilation),
        "ceil_mode": m.ceil_mode,
    }


def _avgpool(m: nn.AvgPool2d, leaf: LeafCall):
    if m.divisor_override is not None:
        return None
    return "avgpool", {
        "kernel": _pair_value(m.kernel_size),
        "stride": _pair_value(m.stride) if m.stride is not None else None,
        "pad": _pair_value(m.padding),
        "ceil_mode": m.ceil_mode,
        "count_include_pad": m.count_include_pad,
    }


def _adaptive(op: str):
    def mapper(m, leaf: LeafCall):
        if getattr(m, "return_indices", False):
            return None
        out = m.output_size
        return op, {"output": list(out) if isinstance(out, (list, tuple)) else out}

    return mapper


def _softmax_module(m: nn.Softmax, leaf: LeafCall):
    if m.dim is None:
        return None
    axis = leaf.axis(m.dim)
    return None if axis is None else ("softmax", {"axis": axis})


def _upsample(m: nn.Upsample, leaf: LeafCall):
    return _upsample_args(m.size, m.scale_factor, m.mode)


def _upsample_args(size, scale, mode):
    if mode not in ("nearest", "bilinear"):
        return None
    if size is not None:
        return "upsample", {"size": _pair_value(size), "mode": mode}
    if scale is None:
        return None
    scales = scale if isinstance(scale, (list, tuple)) else (scale, scale)
    if not all(float(s).is_integer() for s in scales):
        return None
    return "upsample", {"scale": _pair_value([int(s) for s in scales]), "mode": mode}


def _flatten(m: nn.Flatten, leaf: LeafCall):
    if len(leaf.out_shape) == 1:
        return "flatten", {}
    return "reshape", {"shape": list(leaf.out_shape)}


def _unflatten(m: nn.Unflatten, leaf: LeafCall):
    return "reshape", {"shape": list(leaf.out_shape)}


def _simple(op: str, **args: Callable[[Any], Any]):
    def mapper(m, leaf: LeafCall):
        return op, {key: get(m) for key, get in args.items()}

    return mapper


LEAF_MODULES: dict[type, Callable[[Any, LeafCall], tuple[str, dict] | None]] = {
    nn.Conv2d: _conv,
    nn.ConvTranspose2d: _conv_transpose,
    nn.Linear: _linear,
    nn.BatchNorm1d: _batchnorm,
    nn.BatchNorm2d: _batchnorm,
    nn.BatchNorm3d: _batchnorm,
    nn.LayerNorm: _layernorm,
    nn.LocalResponseNorm: _lrn,
    nn.MaxPool2d: _maxpool,
    nn.AvgPool2d: _avgpool,
    nn.AdaptiveAvgPool2d: _adaptive("adaptive_avgpool"),
    nn.AdaptiveMaxPool2d: _adaptive("adaptive_maxpool"),
    nn.ReLU: _simple("relu"),
    nn.ReLU6: _simple("relu6"),
    nn.LeakyReLU: _simple("leakyrelu", slope=lambda m: m.negative_slope),
    nn.Sigmoid: _simple("sigmoid"),
    nn.Tanh: _simple("tanh"),
    nn.GELU: _simple("gelu"),
    nn.SiLU: _simple("silu"),
    nn.Hardswish: _simple("hardswish"),
    nn.Softmax: _softmax_module,
    nn.Upsample: _upsample,
    nn.Flatten: _flatten,
    nn.Unflatten: _unflatten,
    nn.Dropout: _simple("dropout", p=lambda m: m.p),
    nn.Dropout1d: _simple("dropout", p=lambda m: m.p),
    nn.Dropout2d: _simple("dropout", p=lambda m: m.p),
    nn.Dropout3d: _simple("dropout", p=lambda m: m.p),
    nn.AlphaDropout: _simple("dropout", p=lambda m: m.p),
    nn.Identity: _simple("identity"),
}


# -- torch-level functions and tensor methods ----------------------------------------

#: operator and in-place spellings -> the function name (``x += y`` reaches us as ``add_``)
_SPELLINGS = {
    "__add__": "add",
    "__radd__": "add",
    "__iadd__": "add",
    "add_": "add",
    "__sub__": "sub",
    "__isub__": "sub",
    "sub_": "sub",
    "subtract": "sub",
    "__rsub__": "rsub",
    "__mul__": "mul",
    "__rmul__": "mul",
    "__imul__": "mul",
    "mul_": "mul",
    "multiply": "mul",
    "__truediv__": "div",
    "__itruediv__": "div",
    "div_": "div",
    "divide": "div",
    "true_divide": "div",
    "__div__": "div",
    "__rtruediv__": "rdiv",
    "__rdiv__": "rdiv",
    "__matmul__": "matmul",
    "__rmatmul__": "rmatmul",
    "__getitem__": "getitem",
    "relu_": "relu",
    "sigmoid_": "sigmoid",
    "tanh_": "tanh",
    "hardswish_": "hardswish",
    "concat": "cat",
    "concatenate": "cat",
    "swapaxes": "transpose",
    "swapdims": "transpose",
    "dropout1d": "dropout",
    "dropout2d": "dropout",
    "dropout3d": "dropout",
    "alpha_dropout": "dropout",
    "feature_alpha_dropout": "dropout",
    "upsample": "interpolate",
}


def function_name(func: Any) -> str:
    name = getattr(func, "__name__", "") or ""
    return _SPELLINGS.get(name, name)


def _conv2d_fn(call: Call):
    x, weight = call.arg(0, "input"), call.arg(1, "weight")
    bias = call.arg(2, "bias")
    if not (call.is_constant(weight) and weight.dim() == 4) or (bias is not None and not call.is_constant(bias)):
        return None
    stride, padding, dilation, groups = (
        call.arg(3, "stride", 1),
        call.arg(4, "padding", 0),
        call.arg(5, "dilation", 1),
        call.arg(6, "groups", 1),
    )
    args = {
        "filters": weight.shape[0],
        "kernel": tuple(weight.shape[2:]),
        "stride": _pair_value(stride),
        "pad": padding if isinstance(padding, str) else _pair_value(padding),
        "dilation": _pair_value(dilation),
        "groups": groups,
        "bias": bias is not None,
    }
    return [call.spec("conv", args, [x], params=call.params(weight, bias))]


def _conv_transpose2d_fn(call: Call):
    x, weight, bias = call.arg(0, "input"), call.arg(1, "weight"), call.arg(2, "bias")
    if not (call.is_constant(weight) and weight.dim() == 4):
        return None
    groups = call.arg(6, "groups", 1)
    args = {
        "filters": weight.shape[1] * groups,
        "kernel": tuple(weight.shape[2:]),
        "stride": _pair_value(call.arg(3, "stride", 1)),
        "pad": _pair_value(call.arg(4, "padding", 0)),
        "output_padding": _pair_value(call.arg(5, "output_padding", 0)),
        "groups": groups,
        "dilation": _pair_value(call.arg(7, "dilation", 1)),
        "bias": bias is not None,
    }
    return [call.spec("convtranspose", args, [x], params=call.params(weight, bias))]


def _linear_fn(call: Call):
    x, weight, bias = call.arg(0, "input"), call.arg(1, "weight"), call.arg(2, "bias")
    if not (call.is_constant(weight) and weight.dim() == 2) or (bias is not None and not call.is_constant(bias)):
        return None
    args = {"units": weight.shape[0], "bias": bias is not None}
    return [call.spec("linear", args, [x], params=call.params(weight, bias))]


def _max_pool2d_fn(call: Call):
    if call.arg(6, "return_indices", False):
        return None
    kernel = call.arg(1, "kernel_size")
    stride = call.arg(2, "stride", None)
    args = {
        "kernel": _pair_value(kernel),
        "stride": _pair_value(stride) if stride not in (None, [], ()) else None,
        "pad": _pair_value(call.arg(3, "padding", 0)),
        "dilation": _pair_value(call.arg(4, "dilation", 1)),
        "ceil_mode": bool(call.arg(5, "ceil_mode", False)),
    }
    return [call.spec("maxpool", args, [call.arg(0, "input")])]


def _avg_pool2d_fn(call: Call):
    if call.arg(6, "divisor_override", None) is not None:
        return None
    stride = call.arg(2, "stride", None)
    args = {
        "kernel": _pair_value(call.arg(1, "kernel_size")),
        "stride": _pair_value(stride) if stride not in (None, [], ()) else None,
        "pad": _pair_value(call.arg(3, "padding", 0)),
        "ceil_mode": bool(call.arg(4, "ceil_mode", False)),
        "count_include_pad": bool(call.arg(5, "count_include_pad", True)),
    }
    return [call.spec("avgpool", args, [call.arg(0, "input")])]


def _adaptive_fn(op: str):
    def handler(call: Call):
        if call.arg(2, "return_indices", False):
            return None
        out = call.arg(1, "output_size")
        return [call.spec(op, {"output": list(out) if isinstance(out, (list, tuple)) else out}, [call.arg(0, "input")])]

    return handler


def _batch_norm_fn(call: Call):
    x, mean, var, weight, bias = (
        call.arg(i, k) for i, k in enumerate(("input", "running_mean", "running_var", "weight", "bias"))
    )
    if any(t is not None and not call.is_constant(t) for t in (mean, var, weight, bias)):
        return None
    args = {"affine": weight is not None, "track_running_stats": mean is not None, "eps": call.arg(7, "eps", 1e-5)}
    return [call.spec("batchnorm", args, [x], params=call.params(weight, bias, mean, var))]


def _layer_norm_fn(call: Call):
    x, shape, weight, bias = (
        call.arg(0, "input"),
        call.arg(1, "normalized_shape"),
        call.arg(2, "weight"),
        call.arg(3, "bias"),
    )
    if (weight is None) != (bias is None) or any(t is not None and not call.is_constant(t) for t in (weight, bias)):
        return None
    dims = 1 if isinstance(shape, int) else len(shape)
    args = {"dims": dims, "affine": weight is not None, "eps": call.arg(4, "eps", 1e-5)}
    return [call.spec("layernorm", args, [x], params=call.params(weight, bias))]


def _lrn_fn(call: Call):
    args = {
        "size": call.arg(1, "size"),
        "alpha": call.arg(2, "alpha", 1e-4),
        "beta": call.arg(3, "beta", 0.75),
        "k": call.arg(4, "k", 1.0),
    }
    return [call.spec("lrn", args, [call.arg(0, "input")])]


def _interpolate_fn(call: Call):
    mapped = _upsample_args(call.arg(1, "size"), call.arg(2, "scale_factor"), call.arg(3, "mode", "nearest"))
    if mapped is None:
        return None
    return [call.spec(mapped[0], mapped[1], [call.arg(0, "input")])]


def _dropout_fn(call: Call):
    return [call.spec("dropout", {"p": float(call.arg(1, "p", 0.5))}, [call.arg(0, "input")])]


def _activation_fn(op: str, **extra: tuple[int, str, Any]):
    def handler(call: Call):
        args = {key: call.arg(index, name, default) for key, (index, name, default) in extra.items()}
        return [call.spec(op, args, [call.arg(0, "input")])]

    return handler


def _softmax_fn(call: Call):
    x, dim = call.arg(0, "input"), call.arg(1, "dim")
    if dim is None:
        return None
    axis = call.axis(x, dim)
    return None if axis is None else [call.spec("softmax", {"axis": axis}, [x])]


def _cat_fn(call: Call):
    tensors = list(call.arg(0, "tensors"))
    dim = call.arg(1, "dim", 0)
    active = [t for t in tensors if call.is_active(t)]
    if len(active) == len(tensors) and len(tensors) >= 2:
        axis = call.axis(tensors[0], dim)
        if axis is None:
            return None
        return [call.spec("concat", {"axis": axis}, tensors, base="concat")]
    # a learned token (ViT's class token) or a constant joined to the activations
    return call.generic("copy", active, fn="cat", learned_from=[t for t in tensors if not call.is_active(t)])


def _binary_fn(name: str):
    merge = {"add": "add", "mul": "mul"}.get(name)

    def handler(call: Call):
        a, b = call.arg(0, "input"), call.arg(1, "other")
        if name in ("rsub", "rdiv"):
            a, b = b, a
        operands = [t for t in (a, b) if isinstance(t, torch.Tensor)]
        active = [t for t in operands if call.is_active(t)]
        alpha = call.arg(2, "alpha", 1)
        if merge and len(active) == 2 and alpha == 1:
            return [call.spec(merge, {}, active)]
        fn = {"rsub": "sub", "rdiv": "div"}.get(name, name)
        return call.generic("pointwise", active, fn=fn, learned_from=[t for t in operands if not call.is_active(t)])

    return handler


def _matmul_fn(call: Call):
    a, b = call.arg(0, "input"), call.arg(1, "other")
    if call.name == "rmatmul":
        a, b = b, a
    if call.is_active(a) and call.is_active(b):
        return [call.spec("matmul", {}, [a, b])]
    if call.is_active(a) and call.is_constant(b) and b.dim() == 2 and call.params(b):
        # x @ W with a learned W (in, out): a linear layer without bias
        return [call.spec("linear", {"units": b.shape[1], "bias": False}, [a], params=call.params(b))]
    return None


def _sdpa_fn(call: Call):
    q, k, v = call.arg(0, "query"), call.arg(1, "key"), call.arg(2, "value")
    if not all(call.is_active(t) for t in (q, k, v)):
        return None
    args = {"causal": bool(call.arg(5, "is_causal", False)), "scale": call.arg(6, "scale", None)}
    return [call.spec("attention", args, [q, k, v])]


def _reshape_fn(call: Call):
    x = call.self_tensor()
    out_shape = call.out_shape()
    if call.name == "flatten" and len(out_shape) == 1 and len(call.shape(x)) > 1:
        return [call.spec("flatten", {}, [x])]
    return [call.spec("reshape", {"shape": list(out_shape)}, [x], base=call.name if call.name != "view_as" else "view")]


def _movement_fn(call: Call):
    x = call.self_tensor()
    return call.generic("movement", [x], fn=call.name)


def _copy_fn(call: Call):
    tensors = [t for t in call.tensor_args() if call.is_active(t)]
    return call.generic("copy", tensors, fn=call.name)


def _reduction_fn(call: Call):
    x = call.self_tensor()
    return call.generic("reduction", [x], fn=call.name)


def _pointwise_fn(call: Call):
    tensors = call.tensor_args()
    active = [t for t in tensors if call.is_active(t)]
    return call.generic("pointwise", active, fn=call.name, learned_from=[t for t in tensors if not call.is_active(t)])


FUNCTIONS: dict[str, Handler] = {
    "conv2d": _conv2d_fn,
    "conv_transpose2d": _conv_transpose2d_fn,
    "linear": _linear_fn,
    "max_pool2d": _max_pool2d_fn,
    "avg_pool2d": _avg_pool2d_fn,
    "adaptive_avg_pool2d": _adaptive_fn("adaptive_avgpool"),
    "adaptive_max_pool2d": _adaptive_fn("adaptive_maxpool"),
    "batch_norm": _batch_norm_fn,
    "layer_norm": _layer_norm_fn,
    "local_response_norm": _lrn_fn,
    "interpolate": _interpolate_fn,
    "dropout": _dropout_fn,
    "relu": _activation_fn("relu"),
    "relu6": _activation_fn("relu6"),
    "leaky_relu": _activation_fn("leakyrelu", slope=(1, "negative_slope", 0.01)),
    "sigmoid": _activation_fn("sigmoid"),
    "tanh": _activation_fn("tanh"),
    "gelu": _activation_fn("gelu"),
    "silu": _activation_fn("silu"),
    "hardswish": _activation_fn("hardswish"),
    "softmax": _softmax_fn,
    "cat": _cat_fn,
    "matmul": _matmul_fn,
    "rmatmul": _matmul_fn,
    "mm": _matmul_fn,
    "bmm": _matmul_fn,
    "scaled_dot_product_attention": _sdpa_fn,
    **{name: _binary_fn(name) for name in ("add", "sub", "rsub", "mul", "div", "rdiv")},
    **{name: _reshape_fn for name in ("reshape", "view", "view_as", "flatten", "unflatten")},
    **{
        name: _movement_fn
        for name in (
            "permute",
            "transpose",
            "t",
            "movedim",
            "unsqueeze",
            "squeeze",
            "expand",
            "expand_as",
            "narrow",
            "select",
            "getitem",
            "chunk",
            "split",
            "unbind",
            "tensor_split",
            "contiguous",
            "clone",
            "to",
            "float",
            "half",
            "double",
            "bfloat16",
            "type",
            "type_as",
            "detach",
        )
    },
    **{name: _copy_fn for name in ("repeat", "tile", "flip", "roll", "pad", "stack")},
    **{name: _reduction_fn for name in ("mean", "sum", "amax", "amin")},
    **{
        name: _pointwise_fn
        for name in ("exp", "log", "sqrt", "rsqrt", "pow", "abs", "neg", "clamp", "square", "log_softmax")
    },
}


# -- aten fallback -----------------------------------------------------------------------

_PASS_THROUGH = {"alias", "detach", "clone", "_to_copy", "lift_fresh", "contiguous", "lift_fresh_copy"}
_RESHAPES = {"view", "_unsafe_view", "reshape"}
_COPIES = {"constant_pad_nd", "repeat", "flip", "roll", "stack", "index", "index_select", "gather", "expand_copy"}
#: ops whose output depends on the input's shape only: constants, not layers
FACTORIES = {
    "empty_like",
    "zeros_like",
    "ones_like",
    "full_like",
    "rand_like",
    "randn_like",
    "randint_like",
    "new_empty",
    "new_zeros",
    "new_ones",
    "new_full",
    "new_empty_strided",
    "empty_strided",
    "scalar_tensor",
}
_ACTIVATIONS = {
    "relu": "relu",
    "tanh": "tanh",
    "sigmoid": "sigmoid",
    "gelu": "gelu",
    "silu": "silu",
    "hardswish": "hardswish",
}


def aten_name(func: Any) -> str:
    name = func.overloadpacket.__name__
    return name[:-1] if name.endswith("_") and not name.endswith("__") else name


def aten_specs(call: Call) -> list[Spec]:
    """Specs of one aten op that has at least one activation among its inputs."""
    name = call.name
    args = call.args
    handler = _ATEN.get(name)
    if handler is not None:
        specs = handler(call)
        if specs is not None:
            return specs
    if name in _PASS_THROUGH:
        return call.generic("movement", call.active_tensors(), fn=name)
    if torch.Tag.pointwise in call.func.tags:
        tensors = call.tensor_args()
        active = [t for t in tensors if call.is_active(t)]
        if len(active) == 2 and (name == "mul" or (name == "add" and call.kwargs.get("alpha", 1) == 1)):
            return [call.spec(name, {}, active)]
        if name in _ACTIVATIONS and len(active) == 1:
            return [call.spec(_ACTIVATIONS[name], {}, active)]
        if name == "leaky_relu":
            return [call.spec("leakyrelu", {"slope": args[1] if len(args) > 1 else 0.01}, active)]
        if name == "hardtanh" and tuple(args[1:3]) == (0.0, 6.0):
            return [call.spec("relu6", {}, active)]
        return call.generic(
            "pointwise",
            active,
            fn=name,
            learned_from=[t for t in tensors if not call.is_active(t)],
            counted=name in POINTWISE_KINDS,
        )
    if call.func.is_view or name in _RESHAPES:
        x = call.tensor_args()[0]
        if name in _RESHAPES and call.is_active(x):
            if call.out_shape() == call.shape(x):
                return call.pass_through(x)
            return [call.spec("reshape", {"shape": list(call.out_shape())}, [x], base="view")]
        return call.generic("movement", [t for t in call.tensor_args() if call.is_active(t)], fn=name)
    if name in REDUCTION_KINDS:
        return call.generic("reduction", [call.tensor_args()[0]], fn=name)
    if name == "_log_softmax":
        return call.generic("pointwise", [call.tensor_args()[0]], fn="log_softmax")
    if name in _COPIES:
        return call.generic("copy", [t for t in call.tensor_args() if call.is_active(t)], fn=name)
    tensors = call.tensor_args()
    return call.generic(
        "uncounted",
        [t for t in tensors if call.is_active(t)],
        fn=name,
        counted=False,
        learned_from=[t for t in tensors if not call.is_active(t)],
    )


def _aten_convolution(call: Call):
    x, weight, bias, stride, padding, dilation, transposed, output_padding, groups = call.args[:9]
    if not (call.is_constant(weight) and weight.dim() == 4) or not call.is_active(x):
        return None
    common = {
        "kernel": tuple(weight.shape[2:]),
        "stride": _pair_value(stride),
        "pad": _pair_value(padding),
        "dilation": _pair_value(dilation),
        "groups": groups,
        "bias": bias is not None,
    }
    if transposed:
        args = {**common, "filters": weight.shape[1] * groups, "output_padding": _pair_value(output_padding)}
        return [call.spec("convtranspose", args, [x], params=call.params(weight, bias))]
    return [call.spec("conv", {**common, "filters": weight.shape[0]}, [x], params=call.params(weight, bias))]


def _aten_addmm(call: Call):
    bias, a, b = call.args[:3]
    if call.is_active(a) and call.is_constant(b) and call.is_constant(bias) and call.params(b):
        return [call.spec("linear", {"units": b.shape[1], "bias": True}, [a], params=call.params(b, bias))]
    return None


def _aten_mm(call: Call):
    a, b = call.args[:2]
    if call.is_active(a) and call.is_constant(b) and call.params(b):
        return [call.spec("linear", {"units": b.shape[1], "bias": False}, [a], params=call.params(b))]
    if call.is_active(a) and call.is_active(b) and len(call.shape(a)) >= 2 and len(call.shape(b)) >= 2:
        return [call.spec("matmul", {}, [a, b])]
    return None


def _aten_softmax(call: Call):
    x, dim = call.args[:2]
    axis = call.axis(x, dim)
    return None if axis is None else [call.spec("softmax", {"axis": axis}, [x])]


def _aten_max_pool(call: Call):
    x, kernel = call.args[:2]
    rest = list(call.args[2:]) + [None] * 4
    stride, padding, dilation, ceil_mode = rest[:4]
    args = {
        "kernel": _pair_value(kernel),
        "stride": _pair_value(stride) if stride not in (None, [], ()) else None,
        "pad": _pair_value(padding if padding is not None else 0),
        "dilation": _pair_value(dilation if dilation is not None else 1),
        "ceil_mode": bool(ceil_mode),
    }
    return [call.spec("maxpool", args, [x], out=call.outputs()[0])]


def _aten_cat(call: Call):
    tensors = list(call.args[0])
    dim = call.args[1] if len(call.args) > 1 else call.kwargs.get("dim", 0)
    if len(tensors) >= 2 and all(call.is_active(t) for t in tensors):
        axis = call.axis(tensors[0], dim)
        if axis is not None:
            return [call.spec("concat", {"axis": axis}, tensors)]
    return call.generic(
        "copy",
        [t for t in tensors if call.is_active(t)],
        fn="cat",
        learned_from=[t for t in tensors if not call.is_active(t)],
    )


def _aten_sdpa(call: Call):
    q, k, v = call.args[:3]
    if not all(call.is_active(t) for t in (q, k, v)):
        return None
    return [call.spec("attention", {}, [q, k, v], out=call.outputs()[0])]


_ATEN: dict[str, Handler] = {
    "convolution": _aten_convolution,
    "addmm": _aten_addmm,
    "mm": _aten_mm,
    "bmm": _aten_mm,
    "_softmax": _aten_softmax,
    "_safe_softmax": _aten_softmax,
    "softmax": _aten_softmax,
    "max_pool2d_with_indices": _aten_max_pool,
    "cat": _aten_cat,
    "_scaled_dot_product_flash_attention_for_cpu": _aten_sdpa,
    "_scaled_dot_product_efficient_attention": _aten_sdpa,
    "_scaled_dot_product_flash_attention": _aten_sdpa,
    "_scaled_dot_product_cudnn_attention": _aten_sdpa,
}
