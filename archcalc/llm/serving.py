"""Prefill and decode on a named GPU: a roofline per layer, time per token and tokens/s.

Pure arithmetic on a Report (no torch). A layer that executes ``F`` FLOPs and moves
``B`` bytes on a GPU with peak ``P`` FLOP/s and bandwidth ``W`` bytes/s takes
``max(F / P, B / W)`` (the roofline: Williams, Waterman and Patterson, CACM 2009;
:mod:`archcalc.verify.roofline`). Peaks are the datasheets' dense figures
(:data:`archcalc.verify.peaks.KNOWN_GPUS`, cited there): the tensor-core rate of the
dtype for dot-product layers, the FP32 rate for the rest.

**Prefill** runs the prompt, ``T`` tokens of ``batch`` sequences, through every layer
once (the Report's own rows)::

    F = 2 x MACs + bias adds + element-wise ops    (attention halved for causal layers under
                                                    the causal convention)
    B = (inputs + output) x bytes + weights read once
    time to first token = sum of the layers' times; tokens/s = batch x T / that

**Decode** makes one more token per sequence with ``C`` tokens in the KV cache::

    other layers     F = prefill F / T,  B = weights + (inputs + output) / T
    attention layer  F = 2 x heads x C x (E + Ev) x batch,  B = the layer's KV cache
                     (C = min(context, sliding window); the encoder's tokens for cross-attention)
    time per token = sum of the layers' times; tokens/s = batch / that

A mixture-of-experts layer reads only the experts its tokens are routed to: decode the
``E (1 - (1 - k/E)^batch)`` expected to be touched, prefill those of ``batch x T`` tokens
(:mod:`archcalc.llm.moe`). Weights are read once per step whatever the batch (that is why decoding is
memory-bound and batching helps); a lookup (embedding) reads the rows it returns,
not its table. Not modelled: kernel launch and framework overhead, overlap between
layers, tensor parallelism, speculative decoding; real kernels reach some fraction of
the peaks, so the times are lower bounds.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from typing import Any, NamedTuple

from archcalc.layers.base import prod


class LayerTime(NamedTuple):
    """One layer on the roofline: FLOPs, bytes, seconds and what bounds it."""

    name: str
    flops: int
    bytes: float
    seconds: float
    bound: str


@dataclass(frozen=True)
class Phase:
    """Prefill or decode of one step on one GPU.

    The layers' work is kept as it is, the same for every GPU, and each layer's time on this
    GPU is made only when :attr:`layers` is asked for (the report shows layers for one GPU of
    the table; a 30-layer LLM has some 700 rows, twice, on each GPU)."""

    #: per layer: (name, whether it is a matrix product, FLOPs, bytes moved)
    work: tuple[tuple[str, bool, int, Any], ...]
    #: tokens the step makes or reads (prefill: batch x T; decode: batch)
    tokens: int
    #: the GPU's peak FLOP/s for other layers and for matrix products
    peaks: tuple[float, float]
    #: the GPU's bandwidth in bytes/s
    bandwidth: float

    @cached_property
    def layers(self) -> tuple[LayerTime, ...]:
        return tuple(_time(name, flops, moved, self.peaks[dot], self.bandwidth)
                     for name, dot, flops, moved in self.work)

    @cached_property
    def _totals(self) -> tuple[float, float]:
        """(seconds, seconds of the memory-bound layers), added layer by layer in order."""
        seconds = memory = 0
        peaks, bandwidth = self.peaks, self.bandwidth
        for _, dot, flops, moved in self.work:
            time, bound = _roofline(flops, moved, peaks[dot], bandwidth)
            seconds += time
            if bound == "memory":
                memory += time
        return seconds, memory

    @property
    def seconds(self) -> float:
        return self._totals[0]

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0

    @property
    def flops(self) -> int:
        return sum(flops for _, _, flops, _ in self.work)

    @property
    def bytes(self) -> float:
        return sum(moved for _, _, _, moved in self.work)

    @property
    def bound(self) -> str:
        """compute or memory: what bounds the layers that take most of the time."""
        seconds, memory = self._totals
        return "memory" if memory * 2 >= seconds else "compute"

    def to_dict(self, layers: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {"seconds": self.seconds, "tokens": self.tokens, "tokens_per_s": self.tokens_per_s,
                                "flops": self.flops, "bytes": self.bytes, "bound": self.bound}
        if layers:
            data["layers"] = [{"name": t.name, "flops": t.flops, "bytes": t.bytes, "seconds": t.seconds,
                               "bound": t.bound} for t in self.layers]
        return data


@dataclass(frozen=True)
class Serving:
    """Prefill and decode of a model on one GPU."""

    gpu: Any  # DevicePeaks
    prompt_tokens: int
    context_tokens: int
    batch: int
    dtype: str
    prefill: Phase
    decode: Phase

    def to_dict(self, layers: bool = False) -> dict[str, Any]:
        return {
            "gpu": self.gpu.name,
            "peak_tflops": self.gpu.flops_per_s(self.dtype, dot=True) / 1e12,
            "bandwidth_gbs": self.gpu.bandwidth_gbs,
            "memory_gb": self.gpu.memory_gb,
            "source": self.gpu.source,
            "prompt_tokens": self.prompt_tokens,
            "context_tokens": self.context_tokens,
            "batch": self.batch,
            "prefill": self.prefill.to_dict(layers),
            "decode": self.decode.to_dict(layers),
        }


def _roofline(flops: int, moved: Any, peak: float, bandwidth: float) -> tuple[float, str]:
    """A layer's seconds on the roofline, ``max(F / P, B / W)``, and which of the two bounds it
    (times in floats: bytes may be Fractions, a MoE layer's expected share)."""
    compute, memory = flops / peak, float(moved) / bandwidth
    return (compute, "compute") if compute >= memory else (memory, "memory")


def _time(name: str, flops: int, moved: Any, peak: float, bandwidth: float) -> LayerTime:
    """The layer on the roofline, its figures as they are."""
    return LayerTime(name, flops, moved, *_roofline(flops, moved, peak, bandwidth))


def serving(report, gpu, kv_cache, attention: str = "full", moe=None, layers=None, rates=None) -> Serving:
    """Prefill of the report's ``T`` tokens and decode with ``kv_cache.tokens`` of context on ``gpu``.

    ``report``: the model analysed at the prompt (``--tokens T``, ``--batch``, ``--dtype``);
    ``kv_cache``: :func:`archcalc.llm.kv_cache.kv_cache` of it; ``attention``: the convention
    for the prefill's causal layers (``full`` or ``causal``); ``moe``: the model's
    :class:`~archcalc.llm.moe.MixtureOfExperts`, whose expert layers are read in part: decode
    reads the experts its ``batch`` tokens are expected to touch, prefill those of ``batch x T``;
    ``layers``: the attention layers already read (with a live model's modules); ``rates``:
    bytes per parameter of quantised modules (:func:`archcalc.llm.weight_formats.quantised_rates`).
    """
    return serving_on(report, (gpu,), kv_cache, attention, moe, layers, rates)[0]


def serving_on(report, gpus, kv_cache, attention: str = "full", moe=None, layers=None, rates=None) -> tuple:
    """:func:`serving` on each of ``gpus``; each layer's work and bytes are read once."""
    from archcalc.llm.kv_cache import token_axes

    batch, tokens, _ = token_axes(report)
    prefill, decode = _layer_work(report, kv_cache, attention, moe, layers, rates)
    runs = []
    for gpu in gpus:
        peaks = (gpu.flops_per_s(report.dtype, dot=False), gpu.flops_per_s(report.dtype, dot=True))
        runs.append(Serving(gpu, tokens, kv_cache.tokens, batch, report.dtype,
                            Phase(prefill, batch * tokens, peaks, gpu.bandwidth),
                            Phase(decode, batch, peaks, gpu.bandwidth)))
    return tuple(runs)


def _layer_work(report, kv_cache, attention, moe, layers, rates) -> tuple[tuple, tuple]:
    """The prefill's and the decode step's work per layer, whatever the GPU (a :attr:`Phase.work`
    each): (name, whether it is a matrix product, FLOPs, bytes moved)."""
    from archcalc.layers import get_rule
    from archcalc.llm.kv_cache import attention_layers, token_axes
    from archcalc.llm.weight_formats import rate_of
    from archcalc.verify.roofline import layer_bytes, layer_flops

    batch, tokens, scale = token_axes(report)
    per = report.bytes_per_element
    heads = {layer.name: layer for layer in (attention_layers(report) if layers is None else layers)}
    caches = {layer.name: kv_cache.layer_bytes(layer) for layer in kv_cache.layers}
    prefill, decode = [], []
    for row in report.rows:
        rule = get_rule(row.op)
        dot = rule.category == "dot"
        view = rule.aliases_input
        elements = row.activation_elements
        weights = row.params + row.buffers
        if not row.macs and weights > elements:
            weights = elements  # a lookup reads the rows it returns
        group = moe.group_of(row.name) if moe is not None else None
        step_weights = weights * moe.read_fraction(batch) if group is not None else weights
        if group is not None:
            weights = weights * moe.read_fraction(batch * tokens)
        flops = layer_flops(row.ops)
        layer = heads.get(row.name)
        if layer is not None and attention == "causal" and layer.causal:
            flops -= row.macs  # half of the 2 x MACs
        rate = rate_of(row.name, rates) if rates else None
        weight_per = float(rate) if rate is not None else per
        moved = layer_bytes(row.input_shapes, row.output_shape, scale, per, 0, view=view) + (
            0 if view else weights * weight_per)
        if layer is not None:
            positions = layer.cached_positions(kv_cache.tokens, kv_cache.encoder_tokens)
            step_flops = 2 * layer.query_heads * positions * (layer.key_width + layer.value_width) * batch
            q_and_out = (prod(row.input_shapes[0]) + prod(row.output_shape)) // max(tokens, 1) * scale * per
            step_bytes = float(caches.get(row.name, Fraction(0))) + q_and_out
        else:
            step_flops = flops // max(tokens, 1)
            activations = 0 if view else (sum(prod(s) for s in row.input_shapes) + prod(row.output_shape)) * scale
            step_bytes = step_weights * weight_per + activations * per / max(tokens, 1)
        prefill.append((row.name, dot, flops, moved))
        decode.append((row.name, dot, step_flops, step_bytes))
    return tuple(prefill), tuple(decode)
