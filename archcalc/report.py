"""The Report: per-layer rows plus totals, and its stable JSON form.

Renderers take a finished Report and never compute; the analysis never
formats. ``Report.to_dict()`` is the documented ``--format json`` contract
(docs/json-format.md); ``Report.to_dataframe()`` feeds every tabular exporter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Mapping

from archcalc.conventions import Convention
from archcalc.errors import AnalysisWarning, SourceLocation
from archcalc.ir import GraphInput
from archcalc.layers.base import OpCounts

Shape = tuple[int, ...]

#: JSON schema version of Report.to_dict(); bump on an incompatible change.
JSON_VERSION = 1


def plain_number(value: Fraction | int | float) -> int | float:
    """A Fraction as an int when whole, else a float (for JSON and tables)."""
    if isinstance(value, Fraction):
        return int(value) if value.denominator == 1 else float(value)
    return value


@dataclass(frozen=True, slots=True)
class ReceptiveField:
    """Receptive field of a layer's output, per axis (height, width).

    ``size``: input pixels one output sees; ``jump``: input pixels between two
    neighbouring outputs; ``start``: centre of the first output's field in input
    pixel coordinates (the first input pixel is 0). Fractions where pooling
    or upsampling make them so.
    """

    size: tuple[Fraction, Fraction]
    jump: tuple[Fraction, Fraction]
    start: tuple[Fraction, Fraction]

    def as_lists(self) -> dict[str, list[int | float]]:
        return {
            "rf_size": [plain_number(v) for v in self.size],
            "rf_jump": [plain_number(v) for v in self.jump],
            "rf_start": [plain_number(v) for v in self.start],
        }


@dataclass(frozen=True, slots=True)
class LayerRow:
    """Everything archcalc knows about one layer, batch and dtype applied."""

    name: str
    op: str
    category: str
    attrs: Mapping[str, Any]
    inputs: tuple[str, ...]
    input_shapes: tuple[Shape, ...]
    output_shape: Shape
    weights: int
    biases: int
    buffers: int
    activation_elements: int
    activation_bytes: int
    ops: OpCounts
    macs: int
    flops: int
    rf: ReceptiveField | None  # None: no rectangle of the input (a live module's tokens, channels-last)
    location: SourceLocation | None = None
    shares_params_with: str | None = None
    #: parameters this layer is the first to use (what it adds to the totals)
    owned_params: int = 0
    #: the weight tensor's shape in torch's and Keras' orders (a layers.terms.WeightShape), if written
    weight_shape: Any = None

    @property
    def params(self) -> int:
        return self.weights + self.biases

    @property
    def depth(self) -> int:
        return self.name.count(".")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.op,
            "category": self.category,
            "hyperparameters": jsonable(self.attrs),
            "inputs": list(self.inputs),
            "input_shapes": [list(s) for s in self.input_shapes],
            "output_shape": list(self.output_shape),
            "weights": self.weights,
            "biases": self.biases,
            "buffers": self.buffers,
            "params": self.params,
            "activation_elements": self.activation_elements,
            "activation_bytes": self.activation_bytes,
            "macs": self.macs,
            "flops": self.flops,
            **(self.rf.as_lists() if self.rf is not None else dict.fromkeys(("rf_size", "rf_jump", "rf_start"))),
            "shares_params_with": self.shares_params_with,
            "line": self.location.line if self.location else None,
            "weight_shape": self.weight_shape.to_dict() if self.weight_shape is not None else None,
        }


@dataclass(frozen=True)
class Totals:
    """Whole-network numbers. Shared parameters are counted once."""

    params: int
    trainable_params: int
    weights: int
    biases: int
    buffers: int
    param_bytes: int
    buffer_bytes: int
    input_bytes: int
    activation_elements: int
    activation_bytes: int
    peak_activation_bytes: int
    macs: int
    flops: int
    #: optimizer -> bytes for one training step (see analysis.training_bytes)
    training_bytes: Mapping[str, int] = field(default_factory=dict)
    #: live modules: bytes autograd saves for backward, measured (training_bytes use it); None: estimated
    saved_activation_bytes: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "params": self.params,
            "trainable_params": self.trainable_params,
            "weights": self.weights,
            "biases": self.biases,
            "buffers": self.buffers,
            "param_bytes": self.param_bytes,
            "buffer_bytes": self.buffer_bytes,
            "input_bytes": self.input_bytes,
            "activation_elements": self.activation_elements,
            "activation_bytes": self.activation_bytes,
            "peak_activation_bytes": self.peak_activation_bytes,
            "macs": self.macs,
            "flops": self.flops,
            "training_bytes": dict(self.training_bytes),
            "saved_activation_bytes": self.saved_activation_bytes,
        }


@dataclass(frozen=True)
class UnusedModule:
    """A module whose parameters ``forward`` never used: counted in the totals all the same."""

    module: str
    params: int
    buffers: int

    def to_dict(self) -> dict[str, Any]:
        return {"module": self.module, "params": self.params, "buffers": self.buffers}


@dataclass(frozen=True)
class Report:
    """The analysis of one network at one input shape, batch, dtype and convention."""

    model: str
    input_shape: Shape
    batch: int
    dtype: str
    bytes_per_element: int
    convention: Convention
    rows: tuple[LayerRow, ...]
    totals: Totals
    description: str = ""
    source: str = ""
    warnings: tuple[AnalysisWarning, ...] = ()
    #: ops found but not counted (live modules): op name -> number of calls
    not_counted: Mapping[str, int] = field(default_factory=dict)
    #: every input (the first is ``input_shape``'s); live modules may have several
    inputs: tuple[GraphInput, ...] = ()
    #: modules whose parameters forward never used (live modules), in the totals all the same
    not_called: tuple[UnusedModule, ...] = ()
    #: transformers: attention, training memory and FLOPs, KV cache, serving (archcalc.llm.sizing.LLMSizing)
    llm: Any = None
    #: what ``forward`` returned (live modules: ``archcalc.ir.GraphOutput``); empty: the last row's output
    outputs: tuple[Any, ...] = ()

    @property
    def output_shape(self) -> Shape:
        if self.outputs:
            return tuple(self.outputs[0].shape)
        return self.rows[-1].output_shape if self.rows else self.input_shape

    @property
    def counts_status(self) -> str:
        """``complete``, or ``partial`` when some ops were found but not counted
        (the totals are then lower bounds)."""
        return "partial" if self.not_counted else "complete"

    def row(self, name: str) -> LayerRow:
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """The ``--format json`` contract (docs/json-format.md)."""
        return {
            "archcalc_json_version": JSON_VERSION,
            "model": self.model,
            "description": self.description,
            "source": self.source,
            "input_shape": list(self.input_shape),
            "output_shape": list(self.output_shape),
            "batch": self.batch,
            "dtype": self.dtype,
            "bytes_per_element": self.bytes_per_element,
            "convention": self.convention.name,
            "convention_label": self.convention.label,
            "flops_unit": self.convention.unit,
            "layers": [row.to_dict() for row in self.rows],
            "totals": self.totals.to_dict(),
            "warnings": [str(w) for w in self.warnings if not w.intended],
            "intended_floors": [str(w) for w in self.warnings if w.intended],
            "not_counted": dict(self.not_counted),
            "counts_status": self.counts_status,
            "inputs": [
                {"name": source.name, "shape": list(source.shape), "dtype": source.dtype or self.dtype}
                for source in self.inputs
            ],
            "not_called": [unused.to_dict() for unused in self.not_called],
            **({"outputs": [{"name": o.name, "layer": o.node, "shape": list(o.shape),
                             "batch_shape": list(o.batch_shape(self.batch))} for o in self.outputs]}
               if self.outputs else {}),
            **({"llm": self.llm.to_dict()} if self.llm is not None else {}),
        }

    def to_dataframe(self):
        """One row per layer with the JSON's layer keys (imports pandas lazily), flattened for a
        spreadsheet: the output shape as text in H x W x C (``output_hwc``, ``224x224x64``; the
        JSON keeps C, H, W), receptive fields as ``HxW`` text."""
        import pandas as pd

        records = []
        for row in self.rows:
            record = row.to_dict()
            del record["output_shape"]
            record = {**{k: record[k] for k in ("name", "type")}, "output_hwc": hwc_text(row.output_shape),
                      **{k: v for k, v in record.items() if k not in ("name", "type")}}
            for key in ("rf_size", "rf_jump", "rf_start"):
                record[key] = "x".join(str(v) for v in record[key])
            record["hyperparameters"] = describe_attrs(row.op, row.attrs)
            del record["input_shapes"], record["inputs"], record["category"], record["weight_shape"]
            records.append(record)
        return pd.DataFrame.from_records(records)


def hwc_text(shape: Shape) -> str:
    """(C, H, W) -> ``HxWxC``; other shapes joined by ``x``."""
    if len(shape) == 3:
        c, h, w = shape
        return f"{h}x{w}x{c}"
    return "x".join(str(v) for v in shape)


_PLAIN = frozenset((int, str, bool, float, type(None)))


def jsonable(value: Any) -> Any:
    """Tuples to lists, Fractions to numbers: a value json.dumps accepts."""
    if type(value) in _PLAIN:  # most values: no ABC check needed (it is slow)
        return value
    if type(value) is tuple and _PLAIN.issuperset(map(type, value)):  # a kernel, a stride
        return list(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, Fraction):
        return plain_number(value)
    return value


def _pair_text(value: Any) -> str:
    if isinstance(value, (list, tuple)) and len(value) >= 2 and len(set(map(str, value))) == 1:
        return _pair_text(value[0])
    if isinstance(value, (list, tuple)):
        return "x".join(_pair_text(v) for v in value)
    return str(value)


_SHORT = {
    "kernel": "k",
    "stride": "s",
    "pad": "p",
    "dilation": "d",
    "groups": "g",
    "filters": "f",
}


def describe_attrs(op: str, attrs: Mapping[str, Any]) -> str:
    """A short hyper-parameter summary such as ``f64 k3 s1 p1`` (for tables and exports),
    in the order courses write them: filters, kernel, stride, padding, then the rest."""
    parts = []
    order = {key: index for index, key in enumerate(("filters", "units", "kernel", "stride", "pad", "dilation"))}
    for key, value in sorted(attrs.items(), key=lambda item: order.get(item[0], len(order))):
        if key == "torch_dim" and value is not None:  # the dim as written in torch, for the axis
            parts.append(f"dim={value}")
            continue
        if key == "axis" and attrs.get("torch_dim") is not None:
            continue
        if value is None or key in ("in_channels", "in_features", "channels", "normalized_shape", "eps", "momentum"):
            continue
        if key == "bias":
            if not value:
                parts.append("no bias")
            continue
        if key == "pad" and value and all(isinstance(p, (list, tuple)) and len(p) == 2 for p in value):
            # ((top, bottom), (left, right)) per spatial axis: (top, left) when each is symmetric
            if all(before == after for before, after in value):
                value = tuple(before for before, _ in value)
        if key in ("groups", "dilation") and (value == 1 or (isinstance(value, (list, tuple)) and set(value) == {1})):
            continue
        if key in ("ceil_mode", "count_include_pad", "affine", "track_running_stats"):
            if key == "ceil_mode" and value:
                parts.append("ceil")
            continue
        short = _SHORT.get(key, key + "=")
        parts.append(f"{short}{_pair_text(value)}")
    return " ".join(parts)
