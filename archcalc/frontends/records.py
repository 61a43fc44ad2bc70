"""What a capture records: tensors, specs, module calls and records (plain data classes).

A handler (:mod:`archcalc.frontends.calls`) turns one torch call into
:class:`Spec`; the capture (:mod:`archcalc.frontends.torch_capture`) commits
them as :class:`Record`; :mod:`archcalc.frontends.capture_graph` turns the
records into a Graph.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from archcalc.ir import Graph

Source = Any  # a record id (int) or INPUT

#: the source of a tensor computed from parameters and buffers alone (input-independent work)
CONSTANT = "<constant>"


@dataclass(frozen=True)
class TensorInfo:
    """An activation as it was when a call began: its producer and per-sample shape."""

    source: Source
    shape: tuple[int, ...]
    full_shape: tuple[int, ...]


@dataclass
class Spec:
    """What a handler found: one future graph node."""

    op: str
    args: dict[str, Any]
    inputs: tuple[Source, ...]
    in_shapes: tuple[tuple[int, ...], ...]
    out: Any  # the output tensor
    shape: tuple[int, ...]
    base: str
    fn: str
    params: frozenset[str] = frozenset()
    counted: bool = True
    alias_of: Source | None = None  # a pass-through: the output is the input under another name
    batched: bool = True  # False: the output has no batch axis (x.sum() > 0: a control-flow value)
    secondary: bool = False  # a second output of a multi-output op (group norm's mean and rstd)
    times: int | None = None  # the rule applies this many times per sample (a batch folded into axis 0)
    #: work on parameters and buffers alone, done once per forward (a position-bias MLP on a
    #: table): counted, its output stays a constant (no activation source)
    constant: bool = False


@dataclass
class CallScope:
    """One call of one module."""

    path: str
    name: str
    module: Any
    mark: int
    mapper: Any = None
    #: the module's activation inputs (tensor, what it was) when a known leaf maps it whole
    input_tensors: tuple[tuple[Any, TensorInfo], ...] = ()
    has_children: bool = False
    #: torch's FLOPs of the aten ops run inside this known leaf (its own rule prices it instead)
    ledger: int = 0


@dataclass
class Record:
    id: int
    op: str
    args: dict[str, Any]
    inputs: tuple[Source, ...]
    shape: tuple[int, ...]
    base: str
    fn: str
    scope: CallScope
    params: frozenset[str] = frozenset()
    name: str | None = None
    counted: bool = True
    batched: bool = True
    secondary: bool = False
    call: int = 0  # records of one call share it (not-counted ops are counted per call)
    in_shapes: tuple[tuple[int, ...], ...] = ()
    times: int | None = None  # the rule applies this many times per sample (see archcalc.ir.Node.times)
    constant: bool = False  # input-independent work (see Spec.constant)


@dataclass
class ParamInfo:
    name: str
    numel: int
    is_buffer: bool
    requires_grad: bool


@dataclass
class CaptureResult:
    """The graph of one captured forward pass, and what the analysis needs besides."""

    graph: Graph
    not_counted: dict[str, int]
    trainable: dict[str, bool]
    #: nodes of known leaf modules, priced by their own rules (tested against torch on the CPU
    #: kernels, where a fused LSTM counts 0): the ledger check leaves them and their aten ops out
    leaves: frozenset[str] = frozenset()
    #: the prime batch a meta capture ran at (None for a real or a whole-batch capture): a size
    #: divisible by it holds the batch, and any other size none (the training-memory measurement
    #: runs at it too, sharing the memo of meta kernels, and scales to the batch asked for)
    batch: int | None = None


