"""What ``archcalc verify`` found: checks, per-layer comparisons, memory and timing.

Plain frozen dataclasses, no torch. Everything a renderer shows is computed
here or in the measuring modules (ratios, shares, rank correlation); the
renderers in :mod:`archcalc.verify.render` only format. ``VerifyReport.to_dict()``
is the ``--format json`` form.

A check has a :class:`Status`: ``pass`` and ``fail`` for the structural and
FLOP checks (they decide the exit status), ``info`` for measurements that have
no right answer (memory, time: reported with their ratio to the prediction),
``skip`` for what could not run here (CUDA-only parts on a CPU, fvcore not
installed), always with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Mapping

from archcalc.verify.peaks import DevicePeaks

Shape = tuple[int, ...]

#: JSON schema version of VerifyReport.to_dict(); bump on an incompatible change.
VERIFY_JSON_VERSION = 1

#: check kinds whose failure makes ``verify`` exit with status 1
GATING_KINDS = ("structure", "flops")


class Status(str, Enum):
    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"
    INFO = "info"


def ratio(measured: float | int | None, predicted: float | int | None) -> float | None:
    """``measured / predicted``, or None when either is missing or the prediction is 0."""
    if measured is None or predicted is None or predicted == 0:
        return None
    return measured / predicted


@dataclass(frozen=True)
class Check:
    """One comparison of a prediction with a measurement.

    ``details`` lists every difference (a layer, both numbers and the ops the
    counter saw there); ``layers`` names the layers that differ.
    """

    kind: str
    name: str
    status: Status
    summary: str
    predicted: int | float | None = None
    measured: int | float | None = None
    unit: str = ""
    details: tuple[str, ...] = ()
    layers: tuple[str, ...] = ()

    @property
    def ratio(self) -> float | None:
        return ratio(self.measured, self.predicted)

    @property
    def gating(self) -> bool:
        return self.kind in GATING_KINDS

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "status": self.status.value,
            "summary": self.summary,
            "predicted": self.predicted,
            "measured": self.measured,
            "ratio": self.ratio,
            "unit": self.unit,
            "details": list(self.details),
            "layers": list(self.layers),
        }


@dataclass(frozen=True)
class LayerTiming:
    """Time of one layer: measured (median over repeats) and predicted by the roofline.

    ``flops`` are the floating-point operations the hardware executes
    (``2 x MACs + bias adds + elementary ops``); ``bytes`` the traffic
    ``inputs + weights + buffers + outputs`` (see :mod:`archcalc.verify.roofline`).
    """

    flops: int
    bytes: int
    intensity: float | None
    bound: str
    peak_flops: float
    predicted_s: float
    measured_s: float | None
    share: float | None = None

    @property
    def ratio(self) -> float | None:
        """measured / predicted time (1 = the roofline is reached; larger = slower than the roofline)."""
        return ratio(self.measured_s, self.predicted_s)

    @property
    def achieved_flops_per_s(self) -> float | None:
        return self.flops / self.measured_s if self.measured_s else None

    @property
    def achieved_bytes_per_s(self) -> float | None:
        return self.bytes / self.measured_s if self.measured_s else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "flops": self.flops,
            "bytes": self.bytes,
            "intensity": self.intensity,
            "bound": self.bound,
            "peak_flops_per_s": self.peak_flops,
            "predicted_s": self.predicted_s,
            "measured_s": self.measured_s,
            "ratio": self.ratio,
            "share_of_time": self.share,
            "achieved_flops_per_s": self.achieved_flops_per_s,
            "achieved_bytes_per_s": self.achieved_bytes_per_s,
        }


def _same(predicted: Any, measured: Any) -> bool | None:
    return None if measured is None else predicted == measured


@dataclass(frozen=True)
class LayerComparison:
    """Predicted and measured numbers of one layer; ``None`` where nothing was measured.

    Shapes include the batch axis. ``counter_ops`` keeps, for layers where a
    counter disagrees, what that counter saw there (counter -> op -> count).
    """

    name: str
    op: str
    shape: Shape
    params: int
    buffers: int
    fvcore_flops: int
    torch_flops: int
    profiler_flops: int | None
    output_bytes: int
    measured_shape: Shape | None = None
    measured_params: int | None = None
    measured_buffers: int | None = None
    measured_fvcore: int | None = None
    measured_torch: int | None = None
    measured_profiler: int | None = None
    measured_bytes: int | None = None
    workspace_bytes: int | None = None
    timing: LayerTiming | None = None
    counter_ops: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    @property
    def shape_ok(self) -> bool | None:
        return _same(self.shape, self.measured_shape)

    @property
    def params_ok(self) -> bool | None:
        if self.measured_params is None:
            return None
        return self.params == self.measured_params and self.buffers == self.measured_buffers

    @property
    def fvcore_ok(self) -> bool | None:
        return _same(self.fvcore_flops, self.measured_fvcore)

    @property
    def torch_ok(self) -> bool | None:
        return _same(self.torch_flops, self.measured_torch)

    @property
    def profiler_ok(self) -> bool | None:
        if self.profiler_flops is None:
            return None
        return _same(self.profiler_flops, self.measured_profiler)

    @property
    def memory_ratio(self) -> float | None:
        return ratio(self.measured_bytes, self.output_bytes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.op,
            "output_shape": list(self.shape),
            "measured_output_shape": list(self.measured_shape) if self.measured_shape is not None else None,
            "shape_ok": self.shape_ok,
            "params": self.params,
            "measured_params": self.measured_params,
            "buffers": self.buffers,
            "measured_buffers": self.measured_buffers,
            "params_ok": self.params_ok,
            "fvcore_flops": self.fvcore_flops,
            "measured_fvcore_flops": self.measured_fvcore,
            "fvcore_ok": self.fvcore_ok,
            "torch_flops": self.torch_flops,
            "measured_torch_flops": self.measured_torch,
            "torch_ok": self.torch_ok,
            "profiler_flops": self.profiler_flops,
            "measured_profiler_flops": self.measured_profiler,
            "profiler_ok": self.profiler_ok,
            "output_bytes": self.output_bytes,
            "measured_bytes": self.measured_bytes,
            "workspace_bytes": self.workspace_bytes,
            "timing": self.timing.to_dict() if self.timing else None,
            "counter_ops": {k: dict(v) for k, v in self.counter_ops.items()},
        }


@dataclass(frozen=True)
class MemoryResult:
    """Peak memory of one inference pass, predicted and measured.

    ``predicted_bytes`` = predicted peak of live activations (input included)
    + parameters + buffers; ``measured_bytes`` = the allocator's peak (CUDA) or
    the resident parameters, buffers and input plus the profiler's peak of
    allocations during the pass (CPU). The ``activation`` pair leaves the
    parameters out on both sides.
    """

    method: str
    predicted_bytes: int
    measured_bytes: int
    predicted_activation_bytes: int
    measured_activation_bytes: int
    notes: tuple[str, ...] = ()

    @property
    def ratio(self) -> float | None:
        return ratio(self.measured_bytes, self.predicted_bytes)

    @property
    def activation_ratio(self) -> float | None:
        return ratio(self.measured_activation_bytes, self.predicted_activation_bytes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "predicted_bytes": self.predicted_bytes,
            "measured_bytes": self.measured_bytes,
            "ratio": self.ratio,
            "predicted_activation_bytes": self.predicted_activation_bytes,
            "measured_activation_bytes": self.measured_activation_bytes,
            "activation_ratio": self.activation_ratio,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class DominantLayer:
    name: str
    op: str
    share: float
    measured_s: float
    predicted_s: float
    bound: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.op,
            "share_of_time": self.share,
            "measured_s": self.measured_s,
            "predicted_s": self.predicted_s,
            "bound": self.bound,
        }


@dataclass(frozen=True)
class TimingResult:
    """Time of the network: per-layer medians over repeats, the roofline and their agreement.

    ``spearman`` is the rank correlation of predicted and measured per-layer
    times over the layers where both are positive; ``median_ratio`` the
    median of measured / predicted over those layers; ``bound_shares`` the
    share of measured layer time spent in compute- and memory-bound layers.
    """

    method: str
    peaks: DevicePeaks | None
    warmup: int
    repeat: int
    wall_median_s: float | None
    wall_min_s: float | None
    layers_total_s: float | None
    predicted_total_s: float | None
    spearman: float | None
    median_ratio: float | None
    compared_layers: int
    bound_shares: Mapping[str, float] = field(default_factory=dict)
    dominant: tuple[DominantLayer, ...] = ()
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "peaks": self.peaks.to_dict() if self.peaks else None,
            "warmup": self.warmup,
            "repeat": self.repeat,
            "wall_median_s": self.wall_median_s,
            "wall_min_s": self.wall_min_s,
            "layers_total_s": self.layers_total_s,
            "predicted_total_s": self.predicted_total_s,
            "spearman": self.spearman,
            "median_ratio": self.median_ratio,
            "compared_layers": self.compared_layers,
            "bound_shares": dict(self.bound_shares),
            "dominant": [d.to_dict() for d in self.dominant],
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class Environment:
    """Where the measurement ran."""

    device: str
    device_name: str
    cpu_name: str
    cpu_count: int | None
    threads: int
    torch_version: str
    fvcore_version: str | None
    cuda_version: str | None
    python_version: str
    cudnn_allow_tf32: bool | None = None
    matmul_allow_tf32: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class VerifyReport:
    """Everything ``archcalc verify`` measured for one model, input, batch, dtype and device."""

    model: str
    source: str
    input_shape: Shape
    batch: int
    dtype: str
    environment: Environment
    checks: tuple[Check, ...]
    layers: tuple[LayerComparison, ...]
    memory: MemoryResult | None = None
    timing: TimingResult | None = None
    notes: tuple[str, ...] = ()

    @property
    def failed(self) -> tuple[Check, ...]:
        """The structural and FLOP checks that do not hold."""
        return tuple(c for c in self.checks if c.gating and c.status is Status.FAIL)

    @property
    def passed(self) -> bool:
        return not self.failed

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    @property
    def verdict(self) -> str:
        """One line: PASS/FAIL, how many structural and FLOP checks hold, and the measured ratios."""
        gating = [c for c in self.checks if c.gating and c.status in (Status.PASS, Status.FAIL)]
        skipped = [c for c in self.checks if c.gating and c.status is Status.SKIP]
        held = len(gating) - len(self.failed)
        extra = []
        if self.memory is not None and self.memory.ratio is not None:
            extra.append(f"memory {self.memory.ratio:.2f}x predicted")
        if self.timing is not None and self.timing.spearman is not None:
            extra.append(f"time rank correlation {self.timing.spearman:.2f}")
        tail = f" ({'; '.join(extra)})" if extra else ""
        skip = f", {len(skipped)} skipped" if skipped else ""
        if self.passed:
            return f"PASS: {held}/{len(gating)} structural and FLOP checks hold{skip}{tail}"
        names = "; ".join(
            f"{c.name}" + (f" ({', '.join(c.layers[:3])}{', ...' if len(c.layers) > 3 else ''})" if c.layers else "")
            for c in self.failed
        )
        return f"FAIL: {len(self.failed)} of {len(gating)} structural and FLOP checks fail: {names}{skip}{tail}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "archcalc_verify_json_version": VERIFY_JSON_VERSION,
            "model": self.model,
            "source": self.source,
            "input_shape": list(self.input_shape),
            "batch": self.batch,
            "dtype": self.dtype,
            "environment": self.environment.to_dict(),
            "passed": self.passed,
            "exit_code": self.exit_code,
            "verdict": self.verdict,
            "checks": [c.to_dict() for c in self.checks],
            "memory": self.memory.to_dict() if self.memory else None,
            "timing": self.timing.to_dict() if self.timing else None,
            "layers": [layer.to_dict() for layer in self.layers],
            "notes": list(self.notes),
        }
