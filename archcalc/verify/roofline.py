"""The roofline model of one layer, and how well predicted and measured times agree.

Pure arithmetic, no torch (Williams, Waterman and Patterson, "Roofline: an
insightful visual performance model for multicore architectures", CACM 2009).
For a layer that executes ``F`` floating-point operations and moves ``B``
bytes between memory and the chip, on a device with peak compute ``P``
(FLOP/s) and peak bandwidth ``W`` (bytes/s)::

    arithmetic intensity  I = F / B                     (FLOP per byte)
    ridge point           I* = P / W
    predicted time        t = max(F / P, B / W)
    bound                 compute if I >= I*, else memory

What a layer executes and moves (:func:`layer_flops`, :func:`layer_bytes`)::

    F = 2 x MACs + bias adds + elementary ops (cmp, add, mul, div, exp)
        (a fused multiply-add is 2 FLOPs, as peak FLOP/s are quoted)
    B = (input elements + output elements) x batch x bytes per element
        + (weights + biases + buffers) x bytes per element
        (each tensor read or written once; a view such as flatten moves nothing)

The model ignores caches (a layer whose tensors stay in cache moves less),
launch and framework overhead (small layers take longer than predicted) and
the efficiency of the kernels, so measured / predicted is at least 1 and the
ranking of layers is what to compare (:func:`spearman`).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Sequence

from archcalc.layers.base import OpCounts, prod


def layer_flops(ops: OpCounts) -> int:
    """Floating-point operations a layer executes: ``2 x MACs + bias adds + elementary ops``."""
    return 2 * ops.macs + ops.bias_adds + ops.elementary


def layer_bytes(
    input_shapes: Sequence[tuple[int, ...]],
    output_shape: tuple[int, ...],
    batch: int,
    bytes_per_element: int,
    params_and_buffers: int = 0,
    view: bool = False,
) -> int:
    """Bytes moved: inputs read, output written, parameters and buffers read once.

    Shapes are per sample (no batch axis). A view (``view=True``) moves nothing.
    """
    if view:
        return 0
    elements = (sum(prod(s) for s in input_shapes) + prod(output_shape)) * batch
    return (elements + params_and_buffers) * bytes_per_element


@dataclass(frozen=True)
class RooflinePoint:
    """A layer on the roofline: its intensity, the device's ridge point, the predicted time."""

    flops: int
    bytes: int
    peak_flops: float
    peak_bandwidth: float

    @property
    def intensity(self) -> float | None:
        """FLOP per byte; None when the layer moves no bytes."""
        return self.flops / self.bytes if self.bytes else None

    @property
    def ridge(self) -> float:
        """The intensity at which the compute and memory roofs meet: ``P / W``."""
        return self.peak_flops / self.peak_bandwidth

    @property
    def compute_s(self) -> float:
        return self.flops / self.peak_flops

    @property
    def memory_s(self) -> float:
        return self.bytes / self.peak_bandwidth

    @property
    def seconds(self) -> float:
        """Predicted time ``max(F / P, B / W)``."""
        return max(self.compute_s, self.memory_s)

    @property
    def bound(self) -> str:
        """``compute``, ``memory``, or ``none`` for a layer that neither computes nor moves data."""
        if not self.flops and not self.bytes:
            return "none"
        return "compute" if self.compute_s >= self.memory_s else "memory"

    @property
    def attainable_flops(self) -> float:
        """The roof at this intensity: ``min(P, I x W)``."""
        if self.intensity is None:
            return self.peak_flops
        return min(self.peak_flops, self.intensity * self.peak_bandwidth)


def ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, ties sharing the average of their positions (fractional ranking)."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    result = [0.0] * len(values)
    position = 0
    while position < len(order):
        end = position
        while end + 1 < len(order) and values[order[end + 1]] == values[order[position]]:
            end += 1
        average = (position + end) / 2 + 1
        for k in range(position, end + 1):
            result[order[k]] = average
        position = end + 1
    return result


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Pearson correlation; None for fewer than 2 points or a constant series."""
    if len(xs) != len(ys) or len(xs) < 2:
        return None
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Spearman's rank correlation: the Pearson correlation of the ranks (ties averaged).

    Uses ``scipy.stats.spearmanr`` when scipy is installed (same definition).
    """
    if len(xs) != len(ys) or len(xs) < 2:
        return None
    try:
        from scipy.stats import spearmanr
    except ImportError:
        return pearson(ranks(xs), ranks(ys))
    if len(set(xs)) < 2 or len(set(ys)) < 2:
        return None
    return float(spearmanr(xs, ys).statistic)


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None
