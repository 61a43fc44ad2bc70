"""FLOP checks: our ``fvcore`` and ``torch`` presets against the peers' counters, run for real.

* ``fvcore.nn.FlopCountAnalysis(module, x)``: ``total()`` against the ``fvcore``
  preset's total; ``by_module_and_operator()`` per layer (fvcore's counts are
  inclusive of sub-modules: a layer's own count is its module's minus the
  layers nested below it). ``unsupported_ops()`` is what fvcore saw and did
  not count; it is listed, never hidden.
* ``torch.utils.flop_counter.FlopCounterMode``: ``get_total_flops()`` against
  the ``torch`` preset's total; ``get_flop_counts()`` per module
  (``RootClass.qualified.name``) per layer.
* ``torch.profiler`` with ``with_flops=True``: the FLOPs it reports for
  convolutions and matrix products (:data:`archcalc.verify.profiling.DOT_OPS`),
  per layer range, against the ``torch`` preset of the dot-product layers
  (2 x MACs, no bias).

Where a counter and a prediction differ, the check's details name the layer,
both numbers and the ops the counter counted there. Counts of layers that
are not modules (functional ops in a live module's ``forward``) are compared
as one remainder: counter total minus the layers' counts.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field, replace
from typing import Callable, Mapping

import torch

from archcalc.layers import get_rule
from archcalc.report import LayerRow, Report
from archcalc.verify.profiling import ProfileResult
from archcalc.verify.report import Check, Status
from archcalc.verify.target import Target

MAX_DETAILS = 20


@dataclass
class CounterResult:
    """What one counter counted: a total, and per unit (a module, or a layer range) the ops and counts.

    ``by_module``: units are module paths (fvcore, FlopCounterMode: a module
    called twice is one unit holding both layers); else layer names (profiler).
    """

    counter: str
    total: int | None = None
    #: unit -> op -> count
    per_unit: dict[str, dict[str, int]] = field(default_factory=dict)
    by_module: bool = True
    #: ops the counter saw and did not count, with their number of calls
    skipped_ops: dict[str, int] = field(default_factory=dict)
    #: counts of ops outside every layer's module, by op
    outside: dict[str, int] = field(default_factory=dict)
    error: str | None = None


def exclusive(inclusive: Mapping[str, Mapping[str, int]], modules: set[str]) -> dict[str, dict[str, int]]:
    """Per module of ``modules``, its own counts: inclusive counts minus those of the nearest nested ones.

    ``inclusive``: module path -> op -> count (fvcore's ``by_module_and_operator``,
    where a module's count includes its sub-modules').
    """
    out: dict[str, dict[str, int]] = {}
    for module in modules:
        own = dict(inclusive.get(module, {}))
        for other in modules:
            if other != module and other.startswith(module + ".") and not any(
                middle not in (module, other) and other.startswith(middle + ".") and middle.startswith(module + ".")
                for middle in modules
            ):
                for op, count in inclusive.get(other, {}).items():
                    own[op] = own.get(op, 0) - count
        out[module] = {op: count for op, count in own.items() if count}
    return out


def _outside(total_ops: Mapping[str, int], per_unit: Mapping[str, Mapping[str, int]]) -> dict[str, int]:
    """Counts by op that no unit holds: the whole network's minus the units'."""
    rest = dict(total_ops)
    for ops in per_unit.values():
        for op, n in ops.items():
            rest[op] = rest.get(op, 0) - n
    return {op: n for op, n in rest.items() if n}


def count_torch(target: Target, x: torch.Tensor) -> CounterResult:
    """``FlopCounterMode`` over one forward pass. Attention takes SDPA's math path: the fused
    kernels PyTorch picks on the CPU have no flop formula, and FlopCounterMode would count 0 for them
    (its CUDA kernels' formula is the math path's products)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    import contextlib

    kernels = sdpa_kernel([SDPBackend.MATH]) if x.device.type == "cpu" else contextlib.nullcontext()
    try:
        with torch.no_grad(), counter, kernels:
            target.module(x)
    except Exception as error:  # noqa: BLE001
        return CounterResult("torch", error=f"{type(error).__name__}: {error}")
    counts = counter.get_flop_counts()
    root = type(target.module).__name__
    per_unit = {
        path: {_op_name(op): int(n) for op, n in counts.get(f"{root}.{path}", {}).items() if n}
        for path in set(target.module_names.values())
    }
    total = int(counter.get_total_flops())
    everything = {_op_name(op): int(n) for op, n in counts.get("Global", {}).items()}
    return CounterResult("torch", total=total, per_unit=per_unit, outside=_outside(everything, per_unit))


def count_fvcore(target: Target, x: torch.Tensor) -> CounterResult:
    """``fvcore.nn.FlopCountAnalysis`` (a jit trace of one forward pass)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from fvcore.nn import FlopCountAnalysis
    except ImportError:
        return CounterResult("fvcore", error="fvcore is not installed (pip install fvcore)")
    logging.getLogger("fvcore").setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            analysis = (
                FlopCountAnalysis(target.module, x).unsupported_ops_warnings(False).uncalled_modules_warnings(False)
            )
            total = int(analysis.total())
            inclusive = analysis.by_module_and_operator()
            skipped = dict(analysis.unsupported_ops())
    except Exception as error:  # noqa: BLE001  (a peer tool failing is reported, not raised)
        return CounterResult("fvcore", error=f"{type(error).__name__}: {str(error).strip().splitlines()[0]}")
    per_unit = exclusive(inclusive, set(target.module_names.values()))
    outside = _outside(inclusive.get("", {}), per_unit)
    return CounterResult("fvcore", total=total, per_unit=per_unit, skipped_ops=skipped, outside=outside)


def count_profiler(profile: ProfileResult) -> CounterResult:
    """Conv / matmul FLOPs of ``torch.profiler`` per layer range (the first pass)."""
    per_unit: dict[str, dict[str, int]] = {}
    for record in profile.layers:
        if record.pass_index != 0:
            continue
        ops = per_unit.setdefault(record.name, {})
        for op, n in record.dot_ops.items():
            ops[op] = ops.get(op, 0) + n
    total = sum(sum(ops.values()) for ops in per_unit.values()) + sum(profile.outside_ops.values())
    return CounterResult("profiler", total=total, per_unit=per_unit, outside=dict(profile.outside_ops),
                         by_module=False)


def _op_name(op) -> str:
    text = str(op)
    return text if text.startswith("aten") else f"aten.{text}"


def _ops_text(ops: Mapping[str, int]) -> str:
    if not ops:
        return "nothing"
    return ", ".join(f"{op} {n:,}" for op, n in sorted(ops.items(), key=lambda item: -abs(item[1])))


def counter_checks(
    report: Report,
    target: Target,
    result: CounterResult,
    *,
    name: str,
    label: str,
    predicted: Callable[[LayerRow], int],
    layers: list[LayerRow] | None = None,
    exact_rest: bool = True,
) -> tuple[list[Check], dict[str, int]]:
    """A total check and a per-layer check of one counter; and the measured count per layer.

    ``predicted(row)`` is the prediction of one layer under the matching
    preset; ``layers`` restricts the per-layer comparison (default: the
    layers that are modules). With ``exact_rest=False`` what lies outside the
    hooked layers (and so the total) is reported, not required to match.
    """
    if result.error is not None:
        skip = Check(kind="flops", name=f"{name} total", status=Status.SKIP, summary=f"{label}: {result.error}")
        return [skip], {}
    rows = list(report.rows)
    hooked = layers if layers is not None else [row for row in rows if row.name in target.layer_modules]
    predicted_total = sum(predicted(row) for row in rows)
    skipped = ""
    if result.skipped_ops:
        skipped = "; not counted by " + result.counter + ": " + ", ".join(
            f"{op} x{n}" for op, n in sorted(result.skipped_ops.items())
        )
    total_ok = predicted_total == result.total
    total_details: tuple[str, ...] = ()
    if not total_ok:
        total_details = (
            f"predicted {predicted_total:,}, {result.counter} {result.total:,} "
            f"({result.total - predicted_total:+,}); the per-layer check lists where",
        )
    total = Check(
        kind="flops",
        name=f"{name} total",
        status=Status.PASS if total_ok else (Status.FAIL if exact_rest else Status.INFO),
        summary=f"{label}{skipped}",
        predicted=predicted_total,
        measured=result.total,
        unit="FLOPs",
        details=total_details,
    )

    units: dict[str, list[LayerRow]] = {}
    for row in hooked:
        units.setdefault(target.module_names[row.name] if result.by_module else row.name, []).append(row)
    measured: dict[str, int] = {}
    details: list[str] = []
    differing: list[str] = []
    for unit, members in units.items():
        ops = result.per_unit.get(unit, {})
        count = sum(ops.values())
        expected = sum(predicted(row) for row in members)
        if len(members) == 1:
            measured[members[0].name] = count
        if count != expected:
            differing += [row.name for row in members]
            if len(details) < MAX_DETAILS:
                what = f"{members[0].name} ({members[0].op})" if len(members) == 1 else (
                    " + ".join(row.name for row in members) + f" (module {unit}, called {len(members)} times)"
                )
                details.append(
                    f"{what}: predicted {expected:,}, {result.counter} {count:,} "
                    f"({count - expected:+,}); {result.counter} counted {_ops_text(ops)}"
                )
    attributed = sum(sum(result.per_unit.get(unit, {}).values()) for unit in units)
    rest_predicted = predicted_total - sum(predicted(row) for row in hooked)
    rest_measured = result.total - attributed
    rest_ok = rest_predicted == rest_measured
    if not rest_ok:
        details.append(
            f"outside the hooked layers (functional ops): predicted {rest_predicted:,}, "
            f"{result.counter} {rest_measured:,}; {result.counter} counted {_ops_text(result.outside)}"
            + ("" if exact_rest else " (not required to match: see the summary)")
        )
        rest_ok = not exact_rest
    if len(details) >= MAX_DETAILS and len(differing) > MAX_DETAILS:
        details.append(f"... and more layers differ ({len(differing)} in all; every one is in the JSON output)")
    ok = not differing and rest_ok
    per_layer = Check(
        kind="flops",
        name=f"{name} per layer",
        status=Status.PASS if ok else Status.FAIL,
        summary=f"{len(hooked) - len(differing)} of {len(hooked)} layers match"
        + ("" if rest_ok else "; functional ops outside the layers differ"),
        predicted=sum(predicted(row) for row in hooked),
        measured=attributed,
        unit="FLOPs",
        details=tuple(details),
        layers=tuple(differing),
    )
    return [total, per_layer], measured


def profiler_checks(report: Report, target: Target, result: CounterResult) -> tuple[list[Check], dict[str, int]]:
    """conv / matmul FLOPs of torch.profiler against the ``torch`` preset of dot-product layers.

    Dot-product layers the profiler has no FLOP formula for (a transposed
    convolution, fused attention kernels; or a hooked layer where it saw no
    conv / matmul op) are left out of the comparison and named in the
    summary. When such a layer is a functional op (not hooked), what the
    profiler counts outside the hooked layers cannot be compared exactly and
    is reported only.
    """
    if not any(row.category == "dot" for row in report.rows):
        return [Check(kind="flops", name="profiler conv/matmul total", status=Status.SKIP,
                      summary="the network has no convolution or matrix product")], {}
    unknown = {
        row.name
        for row in report.rows
        if row.category == "dot" and (
            not get_rule(row.op).profiled or (row.name in target.layer_modules and not result.per_unit.get(row.name))
        )
    }

    def predicted(row: LayerRow) -> int:
        return row.ops.torch if row.category == "dot" and row.name not in unknown else 0

    compared = [row for row in report.rows if row.name in target.layer_modules and row.name not in unknown]
    checks, measured = counter_checks(
        report,
        target,
        result,
        name="profiler conv/matmul",
        label="torch.profiler(with_flops=True) on conv and matmul ops vs the torch preset of dot layers",
        predicted=predicted,
        layers=compared,
        exact_rest=not any(name not in target.layer_modules for name in unknown),
    )
    if unknown:
        rows = [row for row in report.rows if row.name in unknown]
        note = f"; {len(rows)} dot layers without a profiler FLOP formula left out: " + ", ".join(
            f"{row.name} ({row.op})" for row in rows[:5]
        ) + (" ..." if len(rows) > 5 else "")
        checks = [replace(check, summary=check.summary + note) if index == 0 else check
                  for index, check in enumerate(checks)]
    return checks, measured
