"""Memory checks: the predicted peak of one inference pass against what the allocator saw.

Predicted (:func:`archcalc.analysis.peak_live_bytes`): live activations at
their peak (the input included, each tensor freed after its last consumer,
views free, no in-place ops, no workspace) plus parameters and buffers.

Measured:

* CUDA: ``torch.cuda.max_memory_allocated()`` over one pass, the peak stats
  reset just before it (after a warm-up pass, so that lazily created
  cuBLAS / cuDNN handles are already there). Per layer, hooks read
  ``memory_allocated()`` before and after the layer and the peak in between
  (the peak stats reset in the pre-hook): the net allocation is the layer's
  output, the peak above it is workspace.
* CPU: the profiler's memory records (``profile_memory=True``): the peak of
  the running sum of allocations and frees during the pass, on top of the
  resident parameters, buffers and input; per layer the same within the
  layer's profiler range.

Both report ``measured / predicted``; the notes name the usual reasons for a gap.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from archcalc.report import Report
from archcalc.layers import get_rule
from archcalc.verify.hooks import LayerHooks
from archcalc.verify.profiling import ProfileResult, allocation_profile
from archcalc.verify.report import Check, MemoryResult, Status
from archcalc.verify.target import Target

#: the CUDA caching allocator rounds every block up to a multiple of this (c10/cuda/CUDACachingAllocator.cpp)
CUDA_ROUNDING = 512


@dataclass(frozen=True)
class LayerMemory:
    """Allocated and kept by a layer (its output, normally), and scratch memory above that."""

    net: int
    workspace: int


def predicted_output_bytes(report: Report) -> dict[str, int]:
    """Bytes each layer allocates in the prediction: its output, or nothing for a view."""
    out = {}
    for row in report.rows:
        view = get_rule(row.op).aliases_input and len(row.inputs) == 1
        out[row.name] = 0 if view else row.activation_bytes
    return out


def _resident_bytes(module: torch.nn.Module) -> int:
    tensors = {id(t): t for t in list(module.parameters()) + list(module.buffers())}
    return sum(t.numel() * t.element_size() for t in tensors.values())


def cpu_memory(report: Report, target: Target, x: torch.Tensor, profile: ProfileResult
               ) -> tuple[MemoryResult | None, dict[str, LayerMemory]]:
    """Peak and per-layer allocations from the profiler's memory records of one pass."""
    records = profile.memory
    if records is None or not profile.passes:
        return None, {}
    begin, end = profile.passes[0]
    _, peak = allocation_profile(records, begin, end)
    per_layer = {}
    for record in profile.layers:
        if record.pass_index != 0:
            continue
        net, high = allocation_profile(records, record.start_ns, record.end_ns)
        per_layer[record.name] = LayerMemory(net=net, workspace=max(high - max(net, 0), 0))
    input_bytes = x.numel() * x.element_size()
    totals = report.totals
    result = MemoryResult(
        method="torch.profiler(profile_memory=True): peak of allocations during the pass "
        "+ resident parameters, buffers and input",
        predicted_bytes=totals.peak_activation_bytes + totals.param_bytes + totals.buffer_bytes,
        measured_bytes=_resident_bytes(target.module) + input_bytes + peak,
        predicted_activation_bytes=totals.peak_activation_bytes,
        measured_activation_bytes=input_bytes + peak,
    )
    return result, per_layer


def cuda_memory(report: Report, target: Target, x: torch.Tensor) -> tuple[MemoryResult, dict[str, LayerMemory]]:
    """Allocator peak of one pass and per-layer allocator deltas (CUDA only)."""
    module = target.module
    with torch.no_grad():
        module(x)  # warm-up: cuBLAS / cuDNN handles and workspaces are created lazily
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        module(x)
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated()

    starts: dict[str, int] = {}
    per_layer: dict[str, LayerMemory] = {}

    def enter(name: str) -> None:
        torch.cuda.reset_peak_memory_stats()
        starts[name] = torch.cuda.memory_allocated()

    def leave(name: str, output) -> None:
        after = torch.cuda.memory_allocated()
        high = torch.cuda.max_memory_allocated()
        if name not in per_layer:
            per_layer[name] = LayerMemory(net=after - starts[name], workspace=max(high - after, 0))

    with torch.no_grad(), LayerHooks(target.layer_modules, before=enter, after=leave):
        module(x)
        torch.cuda.synchronize()
    input_bytes = x.numel() * x.element_size()
    totals = report.totals
    result = MemoryResult(
        method="torch.cuda.max_memory_allocated() over one pass (peak stats reset before it)",
        predicted_bytes=totals.peak_activation_bytes + totals.param_bytes + totals.buffer_bytes,
        measured_bytes=peak,
        predicted_activation_bytes=totals.peak_activation_bytes,
        measured_activation_bytes=peak - before + input_bytes,
    )
    return result, per_layer


def _round_up(value: int, step: int) -> int:
    return -(-value // step) * step


def memory_checks(report: Report, result: MemoryResult | None, per_layer: dict[str, LayerMemory], cuda: bool,
                  skipped: str | None = None) -> tuple[list[Check], MemoryResult | None]:
    """An info check for the peak and one for the layers; the result with its explaining notes."""
    if result is None:
        reason = skipped or "the profiler gave no memory records"
        return [Check(kind="memory", name="peak memory", status=Status.SKIP, summary=reason)], None
    predicted = predicted_output_bytes(report)
    exact, workspace, nothing, more = [], [], [], []
    for name, measured in per_layer.items():
        expected = predicted.get(name, 0)
        upper = _round_up(expected, CUDA_ROUNDING) if cuda else expected
        if expected <= measured.net <= upper:
            exact.append(name)
        elif measured.net <= 0 < expected:
            nothing.append(name)
        elif measured.net > upper:
            more.append(name)
        if measured.workspace > 0:
            workspace.append(name)
    notes = list(_standing_notes(cuda))
    if workspace:
        largest = max(workspace, key=lambda n: per_layer[n].workspace)
        notes.append(
            f"{len(workspace)} layers used scratch memory beyond their output while running (largest: "
            f"{per_layer[largest].workspace:,} B in {largest}): "
            + ("cuDNN / cuBLAS workspace" if cuda else "oneDNN / MKL scratch buffers, weight reorders")
            + "; the prediction has no workspace"
        )
    if nothing:
        notes.append(
            f"{len(nothing)} layers allocated nothing where an output was predicted (in-place ops, outputs "
            f"that alias their input, or memory reused inside the layer): {', '.join(nothing[:5])}"
            + (" ..." if len(nothing) > 5 else "")
        )
    if more:
        notes.append(
            f"{len(more)} layers kept more than their output: {', '.join(more[:5])}" + (" ..." if len(more) > 5 else "")
        )
    result = replace(result, notes=tuple(notes))
    ratio_text = f"{result.ratio:.2f}x" if result.ratio is not None else "n/a"
    peak = Check(
        kind="memory",
        name="peak memory",
        status=Status.INFO,
        summary=f"measured / predicted = {ratio_text} (activations alone: "
        + (f"{result.activation_ratio:.2f}x" if result.activation_ratio is not None else "n/a")
        + f"); {result.method}",
        predicted=result.predicted_bytes,
        measured=result.measured_bytes,
        unit="bytes",
    )
    layers = Check(
        kind="memory",
        name="allocation per layer",
        status=Status.INFO,
        summary=f"{len(exact)} of {len(per_layer)} layers allocated exactly their predicted output"
        + (" (within the allocator's 512 B rounding)" if cuda else "")
        + f"; {len(workspace)} used workspace, {len(nothing)} allocated nothing, {len(more)} kept more",
        predicted=len(per_layer),
        measured=len(exact),
        unit="layers",
    )
    return [peak, layers], result


def _standing_notes(cuda: bool) -> tuple[str, ...]:
    common = (
        "the prediction frees each tensor after its last consumer, counts views (flatten, dropout at "
        "inference) as free and assumes no in-place ops and no workspace",
    )
    if cuda:
        return common + (
            "the CUDA caching allocator rounds each block up to a multiple of 512 B; the CUDA context, "
            "cuBLAS handles and the caching allocator's reserved but unused memory are not in "
            "max_memory_allocated (see torch.cuda.memory_reserved for those)",
        )
    return common + (
        "the input tensor stays referenced by forward's argument until the pass ends, where the "
        "prediction frees it after its last consumer",
    )
