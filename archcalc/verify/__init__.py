"""``archcalc verify``: every predicted number against a real forward pass, the peers' counters and the profiler.

>>> from archcalc.verify import verify
>>> result = verify("resnet18", "64x64x3", timing=False)
>>> result.passed, result.verdict

Modules: :mod:`.target` (model -> Graph + torch module), :mod:`.structure`
(shapes, parameters), :mod:`.flops` (fvcore, FlopCounterMode, profiler),
:mod:`.memory` (allocator / profiler memory), :mod:`.timing` and
:mod:`.roofline` (times, roofline, rank correlation), :mod:`.peaks` (device
peaks table and benchmark), :mod:`.report` (result dataclasses),
:mod:`.render` (table, Markdown, CSV, HTML, JSON), :mod:`.run` (the steps).

Importing this package does not import torch; :func:`verify` does.
"""

from __future__ import annotations

from typing import Any


def verify(model: Any, input: Any = None, **options: Any):
    """See :func:`archcalc.verify.run.verify`."""
    from archcalc.verify.run import verify as run_verify

    return run_verify(model, input, **options)


__all__ = ["verify"]
