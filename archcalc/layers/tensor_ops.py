"""Generic tensor operations found in live ``nn.Module`` code.

The ``nn.Module`` importer meets operations that have no layer of their own:
``x * 0.5``, ``x + self.pos_embed``, ``torch.exp(x)``, ``x.mean((2, 3))``,
``x.permute(0, 2, 1)``, ``x[:, 0]``. These rules describe them with the output
shape torch computed (``shape``, per sample) and a count per element; an op
that archcalc cannot price at all becomes ``uncounted`` (it is also listed in
``Report.not_counted``), so data flow and memory stay right and nothing is
dropped silently.

``pointwise`` (``fn`` with ``count`` primitive operations of one ``kind`` per
output element; the kind follows from ``fn`` when not given)::

    ops     = count * prod(shape)     of kind adds | muls | divs | cmps | exps
    weights = learned                 (a learned operand: LayerScale gamma, position embedding)
    buffers = buffers                 (a registered buffer used as operand)

    fn -> kind: add, sub -> adds; mul, neg -> muls; div, reciprocal -> divs;
    exp, log, sqrt, rsqrt, pow, erf, sin, cos, ... -> exps (one transcendental each;
    log_softmax: 2, an exp and a log);
    maximum, minimum, abs, clamp, where, comparisons -> cmps (clamp: 2)

``reduction`` over ``N_in`` input and ``N_out`` output elements::

    sum:  N_in - N_out adds          mean: the same + N_out divs
    amax, amin, max, min, argmax, argmin: N_in - N_out cmps      prod: N_in - N_out muls
    norm, linalg_vector_norm: N_in muls (squares), N_in - N_out adds, N_out roots
                              (counted as the 2-norm, whatever its p)

``movement`` (views: permute, transpose, slicing, expand, split...) and ``copy``
(repeat, pad, flip, stack, concatenation with a learned token...) do no
arithmetic; a ``movement`` output shares its input's storage (no new memory).

Neither fvcore nor PyTorch's flop counter counts any of these.

Receptive field: data movement and point-wise ops keep it (identity); a
reduction that removes the last two axes (H, W of an image: ``x.mean((2, 3))``)
sees its whole input, as global pooling does.

From torch: this family also maps every aten op no other family claims
(:func:`aten_fallback`): pass-throughs, point-wise ops (by their ``pointwise``
tag), views, reductions and copies; anything else becomes ``uncounted``.
Its torch handlers are tried after every other family's (``generic``).
These ops are recorded from live modules only: the torch builder has no
module for them and pasted summaries never list them.
"""

from __future__ import annotations

from archcalc.errors import LayerError, SpecError
from archcalc.layers.base import (
    IDENTITY_STEP,
    REQUIRED,
    Absent,
    Family,
    OpCounts,
    ParamCounts,
    Rule,
    ShapeResult,
    prod,
    register_family,
    whole_input_step,
)
from archcalc.layers.merge import broadcast

KINDS = ("adds", "muls", "divs", "cmps", "exps")

#: rules that describe ops found in live modules by their observed output shape;
#: a spec rarely uses them and the torch builder has no module for them
CAPTURE_ONLY = ("pointwise", "reduction", "movement", "copy", "uncounted")

#: fn -> (kind, operations per output element)
POINTWISE_KINDS: dict[str, tuple[str, int]] = {
    **{fn: ("adds", 1) for fn in ("add", "sub", "rsub")},
    **{fn: ("muls", 1) for fn in ("mul", "neg", "square")},
    **{fn: ("divs", 1) for fn in ("div", "reciprocal", "true_divide", "floor_divide", "remainder", "fmod")},
    **{
        fn: ("exps", 1)
        for fn in (
            "exp",
            "exp2",
            "expm1",
            "log",
            "log2",
            "log10",
            "log1p",
            "sqrt",
            "rsqrt",
            "pow",
            "erf",
            "erfc",
            "erfinv",
            "sin",
            "cos",
            "tan",
            "asin",
            "acos",
            "atan",
            "atan2",
            "sinh",
            "cosh",
            "tanh",
            "sigmoid",
            "logit",
            "softplus",
        )
    },
    **{
        fn: ("cmps", 1)
        for fn in (
            "maximum",
            "minimum",
            "fmax",
            "fmin",
            "abs",
            "sign",
            "clamp_min",
            "clamp_max",
            "where",
            "gt",
            "ge",
            "lt",
            "le",
            "eq",
            "ne",
            "masked_fill",
            "relu",
            "threshold",
            "floor",
            "ceil",
            "round",
            "trunc",
        )
    },
    "clamp": ("cmps", 2),
    "hardtanh": ("cmps", 2),
    "addcmul": ("muls", 2),
    "addcdiv": ("divs", 2),
    "lerp": ("muls", 2),
    "log_softmax": ("exps", 2),  # exp and log per element (the max and sum passes are not counted)
    "xlogy": ("exps", 1),  # x * log(y): the log (its multiply is not counted)
}

#: reduction fn -> (kind of the N_in - N_out combining ops, divides at the end)
REDUCTION_KINDS: dict[str, tuple[str, bool]] = {
    "sum": ("adds", False),
    "mean": ("adds", True),
    "amax": ("cmps", False),
    "amin": ("cmps", False),
    "max": ("cmps", False),
    "min": ("cmps", False),
    "argmax": ("cmps", False),
    "argmin": ("cmps", False),
    "prod": ("muls", False),
    # vector norms, counted as the 2-norm: N_in squares, N_in - N_out adds, N_out square roots
    "linalg_vector_norm": ("adds", False),
    "norm": ("adds", False),
}
#: reductions that square each input and take a root of each output (see REDUCTION_KINDS)
NORMS = ("linalg_vector_norm", "norm")


def _shape(value, what: str) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, int) and v >= 0 for v in value):
        raise SpecError(f"{what} must be a list of whole numbers, got {value!r}")
    return tuple(value)


def spatial_step(in_shape, out_shape):
    """Identity while an image's H and W survive, else the whole input (global pooling)."""
    if len(in_shape) == 3 and len(out_shape) >= 2 and tuple(in_shape[-2:]) != tuple(out_shape[-2:]):
        return whole_input_step(in_shape, explained=False)
    if len(in_shape) == 3 and len(out_shape) < 2:
        return whole_input_step(in_shape, explained=False)
    return IDENTITY_STEP


class _Observed(Rule):
    """Base: one or more inputs, the output shape as torch computed it (``shape``)."""

    arity = None
    observed = True
    primary = "fn"
    keys = {"fn": REQUIRED, "shape": None, "learned": 0, "buffers": 0}
    absent = {
        "explain": "recorded from a live module: explained from its counts",
        "to_torch": "recorded from a live module: the torch builder has no module for it",
    }

    def check_arity(self, in_shapes):
        if not in_shapes:
            raise LayerError(f"{self.op} needs at least one input")

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        attrs["fn"] = str(attrs["fn"])
        if attrs["shape"] is not None:
            attrs["shape"] = _shape(attrs["shape"], f"{self.op} shape")
        for key in ("learned", "buffers"):
            if not isinstance(attrs[key], int) or attrs[key] < 0:
                raise SpecError(f"{self.op} {key} must be a whole number >= 0, got {attrs[key]!r}")
        return attrs

    def output_shape(self, attrs, in_shapes):
        if attrs["shape"] is None:
            return ShapeResult(broadcast(in_shapes))
        return ShapeResult(attrs["shape"])

    def params(self, attrs, in_shapes, out_shape):
        return ParamCounts(weights=attrs["learned"], buffers=attrs["buffers"])

    def rf_step(self, attrs, in_shapes):
        return IDENTITY_STEP


class PointwiseRule(_Observed):
    op = "pointwise"
    category = "elementwise"
    keys = {**_Observed.keys, "kind": None, "count": None}
    summary = "element-wise function (x * 0.5, x + pos_embed, exp, sqrt, clamp): count ops per element"

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        kind, count = POINTWISE_KINDS.get(attrs["fn"], (None, 0))
        if attrs["kind"] is None:
            attrs["kind"] = kind
        elif attrs["kind"] not in KINDS:
            raise SpecError(f"pointwise kind must be one of {', '.join(KINDS)}, got {attrs['kind']!r}")
        if attrs["count"] is None:
            attrs["count"] = count if attrs["kind"] is not None else 0
        if not isinstance(attrs["count"], int) or attrs["count"] < 0:
            raise SpecError(f"pointwise count must be a whole number >= 0, got {attrs['count']!r}")
        return attrs

    def ops(self, attrs, in_shapes, out_shape):
        if attrs["kind"] is None:
            return OpCounts()
        return OpCounts(**{attrs["kind"]: attrs["count"] * prod(out_shape)})


class ReductionRule(_Observed):
    op = "reduction"
    category = "elementwise"
    keys = {**_Observed.keys, "shape": REQUIRED}
    summary = "sum / mean / max over axes (N_in - N_out combining ops)"

    def ops(self, attrs, in_shapes, out_shape):
        kind, divide = REDUCTION_KINDS.get(attrs["fn"], (None, False))
        if kind is None:
            return OpCounts()
        n_in, n_out = prod(in_shapes[0]), prod(out_shape)
        if attrs["fn"] in NORMS:
            return OpCounts(adds=max(n_in - n_out, 0), muls=n_in, exps=n_out)
        return OpCounts(**{kind: max(n_in - n_out, 0)}, divs=n_out if divide else 0)

    def rf_step(self, attrs, in_shapes):
        return spatial_step(in_shapes[0], self.output_shape(attrs, in_shapes).shape)


class MovementRule(_Observed):
    op = "movement"
    category = "reshape"
    aliases_input = True
    summary = "a view that moves no data (permute, transpose, slicing, expand, split)"


class CopyRule(_Observed):
    op = "copy"
    category = "reshape"
    summary = "data movement into a new tensor (repeat, pad, flip, stack)"


class UncountedRule(_Observed):
    op = "uncounted"
    category = "other"
    summary = "an op archcalc has no formula for: shape as torch computed it, nothing counted"


# -- from torch ------------------------------------------------------------------------


def _binary_fn(name: str):
    """``x - y``, ``x * 0.5``, ``1 / x``, ``x + self.pos_embed``: a point-wise op (learned operands
    counted as weights). Two activations added or multiplied are claimed first by the merges."""

    def handler(call):
        a, b = call.arg(0, "input"), call.arg(1, "other")
        if name in ("rsub", "rdiv"):
            a, b = b, a
        operands = [t for t in (a, b) if call.is_tensor(t)]
        active = [t for t in operands if call.is_active(t)]
        fn = {"rsub": "sub", "rdiv": "div"}.get(name, name)
        return call.generic("pointwise", active, fn=fn, learned_from=[t for t in operands if not call.is_active(t)])

    return handler


def _movement_fn(call):
    return call.generic("movement", [call.self_tensor()], fn=call.name)


def _copy_fn(call):
    return call.generic("copy", call.active_tensors(), fn=call.name)


def _cat_copy_fn(call):
    """``torch.cat`` with a learned token (ViT's class token) or a constant among the activations."""
    tensors = list(call.arg(0, "tensors"))
    active = [t for t in tensors if call.is_active(t)]
    return call.generic("copy", active, fn="cat", learned_from=[t for t in tensors if not call.is_active(t)])


def _reduction_fn(call):
    return call.generic("reduction", [call.self_tensor()], fn=call.name)


def _pointwise_fn(call):
    tensors = call.tensor_args()
    active = [t for t in tensors if call.is_active(t)]
    return call.generic("pointwise", active, fn=call.name, learned_from=[t for t in tensors if not call.is_active(t)])


_MOVEMENTS = (
    "permute", "transpose", "t", "movedim", "unsqueeze", "squeeze", "expand", "expand_as", "narrow", "select",
    "getitem", "chunk", "split", "unbind", "tensor_split", "contiguous", "clone", "to", "float", "half", "double",
    "bfloat16", "type", "type_as", "detach",
)

_PASS_THROUGH = {"alias", "detach", "clone", "_to_copy", "lift_fresh", "contiguous", "lift_fresh_copy"}
_RESHAPES = {"view", "_unsafe_view", "reshape"}
_COPIES = {"copy", "constant_pad_nd", "repeat", "flip", "roll", "stack", "index", "index_select", "gather", "expand_copy"}


def aten_fallback(call):
    """An aten op no family claimed: a pass-through, a point-wise op (by its ``pointwise``
    tag), a view, a reduction, a copy; else ``uncounted`` (listed in ``not_counted``)."""
    name = call.name
    if name in _PASS_THROUGH:
        return call.generic("movement", call.active_tensors(), fn=name)
    if call.is_pointwise():
        tensors = call.tensor_args()
        return call.generic(
            "pointwise",
            [t for t in tensors if call.is_active(t)],
            fn=name,
            learned_from=[t for t in tensors if not call.is_active(t)],
            counted=name in POINTWISE_KINDS,
        )
    if call.is_view() or name in _RESHAPES:
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


def _aten_cat_copy(call):
    tensors = list(call.args[0])
    return call.generic(
        "copy",
        [t for t in tensors if call.is_active(t)],
        fn="cat",
        learned_from=[t for t in tensors if not call.is_active(t)],
    )


FAMILY = register_family(
    Family(
        name="tensor_ops",
        rules=(PointwiseRule, ReductionRule, MovementRule, CopyRule, UncountedRule),
        torch_modules=Absent("these ops are torch functions and tensor methods, not modules"),
        torch_functions={
            **{name: _binary_fn(name) for name in ("add", "sub", "rsub", "mul", "div", "rdiv")},
            **dict.fromkeys(_MOVEMENTS, _movement_fn),
            **dict.fromkeys(("repeat", "tile", "flip", "roll", "pad", "stack"), _copy_fn),
            "cat": _cat_copy_fn,
            **dict.fromkeys(("mean", "sum", "amax", "amin"), _reduction_fn),
            **dict.fromkeys(
                ("exp", "log", "sqrt", "rsqrt", "pow", "abs", "neg", "clamp", "square", "log_softmax"), _pointwise_fn
            ),
        },
        spellings={
            **dict.fromkeys(("__sub__", "__isub__", "sub_", "subtract"), "sub"),
            "__rsub__": "rsub",
            **dict.fromkeys(("__truediv__", "__itruediv__", "div_", "divide", "true_divide", "__div__"), "div"),
            **dict.fromkeys(("__rtruediv__", "__rdiv__"), "rdiv"),
            "__getitem__": "getitem",
            "swapaxes": "transpose",
            "swapdims": "transpose",
        },
        aten_ops={"cat": _aten_cat_copy},
        aten_fallback=aten_fallback,
        generic=True,
        names=Absent("pasted summaries list modules, never these ops"),
        roles={"unpriced": "uncounted", "view": "movement"},
    )
)
