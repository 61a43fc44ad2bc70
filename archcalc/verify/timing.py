"""Timing: measured per-layer times against the roofline prediction.

After ``warmup`` untimed passes:

* the whole pass is timed ``repeat`` times (CUDA events on a GPU,
  ``time.perf_counter`` on a CPU);
* ``repeat`` passes run under ``torch.profiler`` with a range per layer; a
  layer's time is the median over the passes of its kernel time
  (``device_time_total``, GPU) or its CPU time (``cpu_time_total``, CPU);
* each layer's roofline time comes from its FLOPs, bytes moved and the
  device's peaks (:mod:`archcalc.verify.roofline`, :mod:`archcalc.verify.peaks`).

Agreement: the Spearman rank correlation of predicted and measured times
over the layers where both are positive, the median of measured / predicted,
and the layers that dominate the measured time with the side of the ridge
point they fall on.
"""

from __future__ import annotations

import statistics
import time

import torch

from archcalc.report import Report
from archcalc.layers import get_rule
from archcalc.verify.peaks import DevicePeaks
from archcalc.verify.profiling import ProfileResult
from archcalc.verify.report import DominantLayer, LayerTiming, TimingResult
from archcalc.verify.roofline import (
    RooflinePoint,
    layer_bytes,
    layer_flops,
    median,
    spearman,
)

#: dominant layers: the slowest ones until this share of the measured time, at most MAX_DOMINANT
DOMINANT_SHARE = 0.8
MAX_DOMINANT = 10


def warm_up(module: torch.nn.Module, x: torch.Tensor, passes: int, cuda: bool) -> None:
    with torch.no_grad():
        for _ in range(passes):
            module(x)
    if cuda:
        torch.cuda.synchronize()


def wall_times(module: torch.nn.Module, x: torch.Tensor, repeat: int, cuda: bool) -> list[float]:
    """Seconds per forward pass, ``repeat`` times (CUDA events on a GPU)."""
    times = []
    with torch.no_grad():
        for _ in range(repeat):
            if cuda:
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                module(x)
                end.record()
                torch.cuda.synchronize()
                times.append(start.elapsed_time(end) / 1000)
            else:
                begin = time.perf_counter()
                module(x)
                times.append(time.perf_counter() - begin)
    return times


def layer_medians(profile: ProfileResult, cuda: bool) -> dict[str, float]:
    """Layer -> median over passes of its time in each pass (kernel time on CUDA, CPU time otherwise)."""
    per_pass: dict[str, dict[int, float]] = {}
    for record in profile.layers:
        seconds = record.device_s if cuda else record.cpu_s
        slot = per_pass.setdefault(record.name, {})
        slot[record.pass_index] = slot.get(record.pass_index, 0.0) + seconds
    return {name: statistics.median(passes.values()) for name, passes in per_pass.items()}


def roofline_points(report: Report, peaks: DevicePeaks, cudnn_tf32: bool, matmul_tf32: bool) -> dict[str, RooflinePoint]:
    """Each layer on the device's roofline (FLOPs, bytes, the peak for its kind and dtype)."""
    points = {}
    for row in report.rows:
        rule = get_rule(row.op)
        view = rule.aliases_input and len(row.inputs) == 1
        dot = row.category == "dot"
        tf32 = cudnn_tf32 if rule.gpu_library == "cudnn" else matmul_tf32
        points[row.name] = RooflinePoint(
            flops=layer_flops(row.ops),
            bytes=layer_bytes(
                row.input_shapes,
                row.output_shape,
                report.batch,
                report.bytes_per_element,
                row.weights + row.biases + row.buffers,
                view=view,
            ),
            peak_flops=peaks.flops_per_s(report.dtype, dot, tf32),
            peak_bandwidth=peaks.bandwidth,
        )
    return points


def timing_result(
    report: Report,
    points: dict[str, RooflinePoint],
    measured: dict[str, float],
    peaks: DevicePeaks,
    walls: list[float],
    warmup: int,
    repeat: int,
    method: str,
    notes: tuple[str, ...] = (),
) -> tuple[TimingResult, dict[str, LayerTiming]]:
    """Per-layer timings and the agreement statistics."""
    total_measured = sum(measured.values())
    layers: dict[str, LayerTiming] = {}
    for row in report.rows:
        point = points[row.name]
        seconds = measured.get(row.name)
        layers[row.name] = LayerTiming(
            flops=point.flops,
            bytes=point.bytes,
            intensity=point.intensity,
            bound=point.bound,
            peak_flops=point.peak_flops,
            predicted_s=point.seconds,
            measured_s=seconds,
            share=seconds / total_measured if seconds is not None and total_measured else None,
        )
    compared = [t for t in layers.values() if t.measured_s and t.predicted_s > 0]
    rho = spearman([t.predicted_s for t in compared], [t.measured_s for t in compared])
    ratios = [t.ratio for t in compared if t.ratio is not None]
    bound_time: dict[str, float] = {}
    for timing in layers.values():
        if timing.measured_s and timing.bound != "none":
            bound_time[timing.bound] = bound_time.get(timing.bound, 0.0) + timing.measured_s
    shares = {bound: t / total_measured for bound, t in sorted(bound_time.items())} if total_measured else {}
    by_time = sorted(
        (row for row in report.rows if layers[row.name].measured_s),
        key=lambda row: -layers[row.name].measured_s,
    )
    dominant, covered = [], 0.0
    for row in by_time[:MAX_DOMINANT]:
        timing = layers[row.name]
        dominant.append(DominantLayer(row.name, row.op, timing.share or 0.0, timing.measured_s or 0.0,
                                      timing.predicted_s, timing.bound))
        covered += timing.share or 0.0
        if covered >= DOMINANT_SHARE:
            break
    result = TimingResult(
        method=method,
        peaks=peaks,
        warmup=warmup,
        repeat=repeat,
        wall_median_s=median(walls),
        wall_min_s=min(walls) if walls else None,
        layers_total_s=total_measured or None,
        predicted_total_s=sum(p.seconds for p in points.values()),
        spearman=rho,
        median_ratio=median(ratios),
        compared_layers=len(compared),
        bound_shares=shares,
        dominant=tuple(dominant),
        notes=notes,
    )
    return result, layers
