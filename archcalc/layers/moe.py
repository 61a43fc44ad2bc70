"""Mixture-of-experts routing: grouped expert matmuls (``torch._grouped_mm``) and the ops that
route tokens to them (``topk``, ``sort``, ``histc``, ``cumsum``, ``index_put`` / ``scatter``).

**Activated experts only** (the named convention of this family): a routed
model's expert MACs are those of the experts each token is sent to, ``k`` of
``E`` per token, as a grouped matmul computes them: its ``M`` routed rows
(tokens x ``k``), each through one expert's ``K x N`` matrix::

    grouped_mm  A (M, K) routed rows, B (E, K, N) experts' weights (learned)
                output  (M, N)
                weights E * K * N           (every expert's, counted once)
                MACs    M * K * N           (activated experts only: E/k times fewer than
                                             sending every token through every expert)

The rows of such a layer say so: ``experts_counted: activated only`` among
their hyper-parameters. A batched form ``A (E, M, K) @ B (E, K, N)`` counts
``E * M * K * N``. fvcore (no handle for ``aten::_grouped_mm``) and torch's
flop counter (no formula for it in ``torch/utils/flop_counter.py``) count 0.

The routing ops, per row of ``n`` values along ``axis`` (comparison counts of
the plain algorithms; the output shapes are torch's)::

    topk (k)          k passes of a max over what is left: k*n - k(k + 1)/2 cmps
    sort / argsort    n * ceil(log2 n) cmps (a comparison sort's bound)
    histc (bins)      per element: 2 cmps (in range), 1 add and 1 mul (the bin), 1 add (count)
    cumsum / cumprod  n - 1 adds / muls per row
    index_put, scatter, index_copy: data movement; with accumulate (index_put(...,
                      accumulate=True), scatter_add, index_add): 1 add per source element

Routing reads values (which expert), but the counts above need shapes only:
with ``topk`` the number of routed rows is ``tokens * k`` whatever the router
decides. A ``histc`` over all tokens has no batch axis: the capture then
analyses the model as a whole batch (the routing mixes samples).

On the meta device ``torch._grouped_mm`` accepts bfloat16 operands only (its
CPU kernel takes float32 too): analyse a grouped-mm model in bfloat16.
These ops are recorded from live modules: a spec has no routing.
"""

from __future__ import annotations

from math import ceil, log2

from archcalc.errors import LayerError, SpecError
from archcalc.layers.base import REQUIRED, Absent, Family, Rule, ShapeResult, format_shape, keeps_field, prod, register_family
from archcalc.layers.terms import Term, atom, count, hidden, no_params, shape_step

_LIVE = "recorded from a live module's routing: the torch builder makes chains of layers"
_NO_RF = "routing mixes tokens, not pixels: no spatial receptive field (passed on unchanged)"


class GroupedMMRule(Rule):
    op = "grouped_mm"
    mixes_positions = True
    aliases = ("_grouped_mm", "expert_matmul")
    primary = "units"
    category = "dot"
    arity = None
    keys = {"units": REQUIRED, "experts": REQUIRED, "batched": False, "bias": False,
            "experts_counted": "activated only"}
    summary = "grouped expert matmul of routed rows (MoE): activated experts only"
    absent = {"to_torch": _LIVE, "rf": _NO_RF}

    def check_arity(self, in_shapes):
        if not 1 <= len(in_shapes) <= 2:
            raise LayerError(f"grouped_mm takes the routed rows and optionally the group offsets, got {len(in_shapes)}")

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        a = in_shapes[0]
        if not a:
            raise LayerError(f"grouped_mm needs routed rows (M, K) (or (E, M, K) batched), got {format_shape(a)}")
        if attrs["experts_counted"] != "activated only":
            raise SpecError("grouped_mm counts the activated experts only (experts_counted: activated only)")
        attrs["in_features"] = a[-1]
        attrs["bias"] = bool(attrs["bias"])
        return attrs

    def output_shape(self, attrs, in_shapes):
        return ShapeResult(tuple(in_shapes[0][:-1]) + (attrs["units"],))

    def derive(self, attrs, in_shapes, out_shape):
        """``E*K*N`` weights; ``MACs = M*K*N`` (each routed row through its one expert)."""
        e, k, n = atom(attrs["experts"], "E"), atom(attrs["in_features"], "K"), atom(attrs["units"], "N")
        rows = prod(in_shapes[0][:-1])
        steps = [shape_step(out_shape, "(M, N): one output row per routed row")]
        weights = e * k * n
        steps.append(weights.step("weights", "weights", "every expert's matrix, counted once"))
        if attrs["bias"]:
            steps.append((e * n).step("biases", "biases"))
            steps.append((weights + e * n).step("params", "params"))
        else:
            steps.append(weights.named("E * K * N").step("params", "params"))
        m = Term(rows, "M (routed rows)" if not attrs["batched"] else "E*M", "*".join(map(str, in_shapes[0][:-1])))
        macs = m * (k * n).grouped()
        steps.append(macs.step("macs", "MACs", "activated experts only: each routed row through one expert"))
        outputs = prod(out_shape)
        steps += [
            hidden("dot_outputs", outputs),
            hidden("bias_adds", outputs if attrs["bias"] else 0),
            hidden("fvcore", 0),
            hidden("torch", 0),
        ]
        return steps


class _Routing(Rule):
    """A routing op: the output shape torch computed (``shape``), counts per row along ``axis``."""

    category = "elementwise"
    keys = {"fn": REQUIRED, "shape": REQUIRED, "axis": -1}
    absent = {"to_torch": _LIVE, "rf": _NO_RF}

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        shape = attrs["shape"]
        if not isinstance(shape, (list, tuple)) or not all(isinstance(v, int) and v >= 0 for v in shape):
            raise SpecError(f"{self.op} shape must be a list of whole numbers, got {shape!r}")
        attrs["shape"] = tuple(shape)
        x = in_shapes[0]
        axis = attrs["axis"]
        if x and (not isinstance(axis, int) or not -len(x) <= axis < len(x)):
            raise SpecError(f"{self.op} axis must be an axis of {format_shape(x)}, got {axis!r}")
        attrs["axis"] = axis % len(x) if x else 0
        return attrs

    def output_shape(self, attrs, in_shapes):
        return ShapeResult(attrs["shape"])

    def rows(self, attrs, x) -> tuple[int, int]:
        """(rows, n): the values along ``axis`` and how many such rows."""
        if not x:
            return 1, 1
        n = x[attrs["axis"]]
        return prod(x) // max(n, 1), n


class SelectionRule(_Routing):
    op = "selection"
    keys = {**_Routing.keys, "k": None}
    summary = "topk / sort / argsort along an axis (comparisons of the plain algorithms)"

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        if attrs["fn"] not in ("topk", "sort", "argsort"):
            raise SpecError(f"selection fn must be topk, sort or argsort, got {attrs['fn']!r}")
        if attrs["fn"] == "topk" and not isinstance(attrs["k"], int):
            raise SpecError("topk needs k")
        return attrs

    def derive(self, attrs, in_shapes, out_shape):
        """topk: ``k*n - k(k + 1)/2`` cmps per row; sort: ``n * ceil(log2 n)``."""
        rows, n = self.rows(attrs, in_shapes[0])
        r = Term(rows, "rows", str(rows))
        steps = [shape_step(out_shape, "as torch computed it"), no_params()]
        if attrs["fn"] == "topk":
            k = attrs["k"]
            per = Term(k * n - k * (k + 1) // 2, "(k*n - k(k + 1)/2)", f"({k}*{n} - {k}*({k} + 1)/2)")
            steps.append((r * per).step("cmps", "comparisons", "k passes of a max over the rest"))
        else:
            depth = ceil(log2(n)) if n > 1 else 0
            per = Term(n * depth, "n*ceil(log2 n)", f"{n}*{depth}")
            steps.append((r * per).step("cmps", "comparisons", "a comparison sort's bound"))
        return steps


class HistogramRule(_Routing):
    op = "histogram"
    aliases = ("histc",)
    summary = "histc: count the elements in bins (2 cmps, 2 adds, 1 mul per element)"

    def derive(self, attrs, in_shapes, out_shape):
        """Per element 2 cmps (in range), 2 adds (offset, count) and 1 mul (scale to a bin)."""
        elements = count(in_shapes[0], "elements")
        return [
            shape_step(out_shape, "bins"),
            no_params(),
            (elements * 2).step("cmps", "comparisons", "in range"),
            (elements * 2).step("adds", "additions", "x - min, the bin's count + 1"),
            elements.step("muls", "multiplications", "scaled to a bin"),
        ]


class ScanRule(_Routing):
    op = "scan"
    aliases = ("cumsum", "cumprod")
    summary = "cumsum / cumprod along an axis (n - 1 adds or muls per row)"
    rf_step = staticmethod(keeps_field)
    absent = {"to_torch": _LIVE}

    def derive(self, attrs, in_shapes, out_shape):
        rows, n = self.rows(attrs, in_shapes[0])
        kind = "muls" if attrs["fn"] == "cumprod" else "adds"
        total = Term(rows * (n - 1), "rows * (n - 1)", f"{rows}*({n} - 1)")
        return [shape_step(out_shape, "same as the input"), no_params(),
                total.step(kind, "multiplications" if kind == "muls" else "additions", "a running total")]


class ScatterRule(_Routing):
    op = "scatter"
    aliases = ("index_put", "scatter_add", "index_add")
    keys = {**_Routing.keys, "accumulate": False, "source": 0}
    arity = None
    summary = "index_put / scatter / index_add: data movement, 1 add per source element when accumulating"

    def check_arity(self, in_shapes):
        if not in_shapes:
            raise LayerError("scatter needs at least one input")

    def derive(self, attrs, in_shapes, out_shape):
        steps = [shape_step(out_shape, "the destination's shape"), no_params()]
        if attrs["accumulate"]:
            source = int(attrs["source"])
            steps.append(Term(source, "source elements", str(source)).step("adds", "additions", "accumulated"))
        return steps


# -- from torch ------------------------------------------------------------------------


def _grouped_mm(call):
    a, b = call.arg(0, "mat_a"), call.arg(1, "mat_b")
    offs, bias = call.arg(2, "offs"), call.arg(3, "bias")
    if not (call.is_active(a) and call.is_constant(b) and b.dim() == 3):
        return None  # the weight-gradient form (ragged K) and activation @ activation are not mapped
    batched = offs is None
    args = {"units": b.shape[-1], "experts": b.shape[0], "batched": batched, "bias": bias is not None}
    inputs = [a] + ([offs] if call.is_active(offs) else [])
    return [call.spec("grouped_mm", args, inputs, params=call.params(b, bias))]


def _states(call, op: str, args: dict, x) -> list:
    """The first output as ``op``; the others (indices) as second outputs that move data."""
    outputs = call.outputs()
    specs = [call.spec(op, {**args, "shape": list(call.out_shape(outputs[0]))}, [x], out=outputs[0],
                       base=args["fn"])]
    for out in outputs[1:]:
        spec = call.spec("copy", {"fn": f"{args['fn']}_indices", "shape": list(call.out_shape(out))}, [x], out=out,
                         base=f"{args['fn']}_indices")
        spec.secondary = True
        specs.append(spec)
    return specs


def _axis(call, x, dim):
    axis = call.axis(x, dim)
    return axis


def _aten_topk(call):
    x, k = call.args[:2]
    dim = call.args[2] if len(call.args) > 2 else call.kwargs.get("dim", -1)
    axis = _axis(call, x, dim)
    if axis is None:
        return None
    return _states(call, "selection", {"fn": "topk", "k": int(k), "axis": axis}, x)


def _aten_sort(call):
    x = call.args[0]
    dim = call.kwargs.get("dim", call.args[1] if len(call.args) > 1 and isinstance(call.args[1], int) else -1)
    axis = _axis(call, x, dim)
    if axis is None:
        return None
    return _states(call, "selection", {"fn": "sort", "axis": axis}, x)


def _aten_histc(call):
    x = call.args[0]
    return [call.spec("histogram", {"fn": "histc", "shape": list(call.out_shape())}, [x])]


def _aten_scan(call):
    x, dim = call.args[:2]
    axis = _axis(call, x, dim)
    if axis is None:
        return None
    return [call.spec("scan", {"fn": call.name, "shape": list(call.out_shape()), "axis": axis}, [x])]


def _aten_index_put(call):
    """``index_put(self, indices, values, accumulate)``: the destination, the values moved in."""
    dest, indices, values = call.args[:3]
    accumulate = bool(call.args[3]) if len(call.args) > 3 else bool(call.kwargs.get("accumulate", False))
    active = [t for t in (dest, *[i for i in indices if i is not None], values) if call.is_active(t)]
    if not active:
        return None
    source = prod(call.shape(values))
    args = {"fn": "index_put", "shape": list(call.out_shape()), "accumulate": accumulate, "source": source}
    return [call.spec("scatter", args, active)]


def _aten_scatter(call):
    """``scatter`` / ``scatter_add`` / ``index_add`` / ``index_copy``: (self, dim, index, source)."""
    tensors = [t for t in call.tensor_args() if call.is_active(t)]
    if not tensors:
        return None
    source = call.args[3] if len(call.args) > 3 and call.is_tensor(call.args[3]) else None
    accumulate = call.name in ("scatter_add", "index_add") or call.kwargs.get("reduce") in ("sum", "add")
    per_sample = 0
    if source is not None:
        per_sample = int(prod(call.shape(source)))
    args = {"fn": call.name, "shape": list(call.out_shape()), "accumulate": bool(accumulate), "source": per_sample}
    return [call.spec("scatter", args, tensors)]


FAMILY = register_family(
    Family(
        name="moe",
        rules=(GroupedMMRule, SelectionRule, HistogramRule, ScanRule, ScatterRule),
        torch_modules=Absent("mixture-of-experts layers are user modules, captured op by op"),
        torch_functions={"_grouped_mm": _grouped_mm},
        aten_ops={
            "_grouped_mm": _grouped_mm,
            "topk": _aten_topk,
            "sort": _aten_sort,
            "histc": _aten_histc,
            "cumsum": _aten_scan,
            "cumprod": _aten_scan,
            "index_put": _aten_index_put,
            "scatter": _aten_scatter,
            "scatter_add": _aten_scatter,
            "index_add": _aten_scatter,
            "index_copy": _aten_scatter,
        },
        names=Absent("pasted summaries list modules, never routing ops"),
    )
)
