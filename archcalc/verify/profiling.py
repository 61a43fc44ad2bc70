"""One or more forward passes under ``torch.profiler``, read back per layer.

Every layer runs inside a profiler range ``archcalc::LAYER`` (see
:mod:`archcalc.verify.hooks`) and every pass inside ``archcalc.pass#i``. From
the recorded events this module reads, per layer and pass:

* CPU time (``cpu_time_total`` of the range: the layer's ops and their
  children) and, with CUDA, kernel time (``device_time_total``: the kernels
  launched inside the range);
* the FLOPs the profiler attributes to convolutions and matrix products
  (``with_flops=True``: ``aten::conv2d``, ``aten::mm``, ``aten::addmm``,
  ``aten::bmm``, ``aten::baddbmm``), with the ops they came from;
* CPU memory allocations and frees inside the range (``profile_memory=True``),
  from the profiler's raw memory records.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

import torch
from torch import nn

from archcalc.verify.hooks import RANGE_PREFIX, LayerHooks

PASS_PREFIX = "archcalc.pass#"

#: ops whose FLOPs torch.profiler reports and that belong to dot-product layers
DOT_OPS = frozenset({"aten::conv1d", "aten::conv2d", "aten::conv3d", "aten::mm", "aten::addmm", "aten::bmm",
                     "aten::baddbmm"})


@dataclass
class LayerRecord:
    """One layer's range in one pass."""

    name: str
    pass_index: int
    start_ns: int
    end_ns: int
    cpu_s: float
    device_s: float
    dot_flops: int
    dot_ops: dict[str, int] = field(default_factory=dict)


@dataclass
class ProfileResult:
    layers: list[LayerRecord]
    passes: list[tuple[int, int]]
    #: (time in ns from the trace start, bytes: + allocated, - freed), time order; None if not recorded
    memory: list[tuple[int, int]] | None = None
    #: conv / matmul FLOPs of ops outside every layer range, by op
    outside_ops: dict[str, int] = field(default_factory=dict)

    def by_layer(self) -> dict[str, list[LayerRecord]]:
        out: dict[str, list[LayerRecord]] = {}
        for record in self.layers:
            out.setdefault(record.name, []).append(record)
        return out


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Silence the C++ side's stderr (kineto prints a line when a trace starts and stops)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def _is_cpu(event: Any) -> bool:
    device_type = getattr(event, "device_type", None)
    return device_type is None or str(device_type).endswith("CPU")


def _dot_flops(event: Any, ops: dict[str, int]) -> int:
    """FLOPs of conv / matmul ops below ``event``, not entering nested layer ranges."""
    total = 0
    for child in event.cpu_children:
        if child.name.startswith(RANGE_PREFIX):
            continue
        if child.name in DOT_OPS and child.flops:
            ops[child.name] = ops.get(child.name, 0) + int(child.flops)
            total += int(child.flops)
        else:
            total += _dot_flops(child, ops)
    return total


def profile_passes(
    module: nn.Module,
    x: Any,
    layer_modules: Mapping[str, nn.Module],
    passes: int = 1,
    cuda: bool = False,
    with_flops: bool = False,
    profile_memory: bool = False,
) -> ProfileResult:
    """Run ``passes`` forward passes under the profiler and read the per-layer records."""
    from torch.profiler import ProfilerActivity, profile, record_function

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    profiler = profile(
        activities=activities,
        with_flops=with_flops,
        record_shapes=with_flops,
        profile_memory=profile_memory,
    )
    hooks = LayerHooks(layer_modules, ranges=True)
    with quiet_stderr():
        profiler.__enter__()
    try:
        with torch.no_grad(), hooks:
            for index in range(passes):
                hooks.new_pass()
                with record_function(f"{PASS_PREFIX}{index}"):
                    module(x)
                if cuda:
                    torch.cuda.synchronize()
    finally:
        with quiet_stderr():
            profiler.__exit__(None, None, None)
    return read_events(profiler, profile_memory)


def read_events(profiler: Any, with_memory: bool) -> ProfileResult:
    events = [e for e in profiler.events() if _is_cpu(e)]
    passes = sorted(
        (int(e.time_range.start * 1000), int(e.time_range.end * 1000))
        for e in events
        if e.name.startswith(PASS_PREFIX)
    )

    def pass_of(start_ns: int) -> int:
        for index, (begin, end) in enumerate(passes):
            if begin <= start_ns <= end:
                return index
        return 0

    layers = []
    for event in events:
        if not event.name.startswith(RANGE_PREFIX):
            continue
        ops: dict[str, int] = {}
        flops = _dot_flops(event, ops)
        start = int(event.time_range.start * 1000)
        layers.append(
            LayerRecord(
                name=event.name[len(RANGE_PREFIX):],
                pass_index=pass_of(start),
                start_ns=start,
                end_ns=int(event.time_range.end * 1000),
                cpu_s=event.cpu_time_total / 1e6,
                device_s=getattr(event, "device_time_total", 0) / 1e6,
                dot_flops=flops,
                dot_ops=ops,
            )
        )
    outside: dict[str, int] = {}
    for event in events:
        if event.name in DOT_OPS and event.flops and not _inside_layer(event):
            outside[event.name] = outside.get(event.name, 0) + int(event.flops)
    memory = _memory_records(profiler) if with_memory else None
    return ProfileResult(layers=layers, passes=passes, memory=memory, outside_ops=outside)


def _inside_layer(event: Any) -> bool:
    parent = event.cpu_parent
    while parent is not None:
        if parent.name.startswith(RANGE_PREFIX):
            return True
        parent = parent.cpu_parent
    return False


def _memory_records(profiler: Any) -> list[tuple[int, int]] | None:
    """Raw CPU memory records (time from the trace start in ns, signed bytes)."""
    try:
        results = profiler.profiler.kineto_results
        start = results.trace_start_ns()
        records = [
            (e.start_ns() - start, int(e.nbytes()))
            for e in results.events()
            if e.name() == "[memory]" and str(e.device_type()).endswith(("CPU", "MKLDNN", "IDEEP"))
        ]
    except (AttributeError, RuntimeError):
        return None
    return sorted(records)


def allocation_profile(records: list[tuple[int, int]], start_ns: int, end_ns: int) -> tuple[int, int]:
    """(net bytes, peak bytes above the start) of the allocations in ``[start_ns, end_ns]``.

    ``records`` are in time order (as :func:`read_events` returns them).
    """
    net = peak = 0
    for index in range(bisect.bisect_left(records, (start_ns, -(2**62))), len(records)):
        time_ns, nbytes = records[index]
        if time_ns > end_ns:
            break
        net += nbytes
        peak = max(peak, net)
    return net, peak
