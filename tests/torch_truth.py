"""What torch and its peer counters say about a module, for the tests to compare with.

Expected values in the family tests come from here (a real CPU forward pass,
``numel()``, fvcore's ``FlopCountAnalysis``, torch's ``FlopCounterMode``) or
from arithmetic written in the tests; never from archcalc.
"""

from __future__ import annotations

import logging
import warnings

import pytest

torch = pytest.importorskip("torch")
fvcore_nn = pytest.importorskip("fvcore.nn")

from torch.utils.flop_counter import FlopCounterMode  # noqa: E402


def _call(module, inputs):
    return module(*inputs) if isinstance(inputs, tuple) else module(inputs)


def fvcore_total(module, inputs) -> int:
    """fvcore's total (MACs for the ops it has a handle for; unsupported ops count 0), traced in
    grad mode: under ``no_grad`` an eval-mode ``nn.MultiheadAttention`` / transformer layer takes
    torch's fused fast path (``_native_multi_head_attention``), which fvcore does not count."""
    logging.getLogger("fvcore").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        analysis = fvcore_nn.FlopCountAnalysis(module.eval(), inputs)
        analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        return int(analysis.total())


def torch_total(module, inputs) -> int:
    """torch.utils.flop_counter.FlopCounterMode's total (2 per multiply-accumulate) on the CPU, on
    torch's reference paths: grad mode (no fused multi-head-attention fast path) and the math
    attention backend (the CPU flash kernel has no formula and counts 0)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    counter = FlopCounterMode(display=False)
    with counter, sdpa_kernel(SDPBackend.MATH), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _call(module.eval(), inputs)
    return int(counter.get_total_flops())


def output_shape(module, inputs) -> tuple[int, ...]:
    """The per-sample shape of the first tensor the module returns in a real forward pass."""
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = _call(module.eval(), inputs)
    while isinstance(out, (tuple, list)):
        out = out[0]
    return tuple(out.shape[1:])


def numel(module) -> int:
    return sum(p.numel() for p in module.parameters())


def buffers(module) -> int:
    return sum(b.numel() for b in module.buffers())


def trained(module):
    """Distinct values in every float tensor, as a trained model has: exporters keep a tensor once
    when two hold the same values (a fresh BatchNorm's weight and running variance, all ones)."""
    with torch.no_grad():
        for tensor in [*module.parameters(), *module.buffers()]:
            if tensor.is_floating_point():
                tensor.uniform_(0.5, 1.5)
    return module
