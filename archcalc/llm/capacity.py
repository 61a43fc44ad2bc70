"""Serving capacity: how many sequences of ``N`` tokens fit, and the longest single context.

vLLM sizes its KV cache this way (Kwon et al. 2023, "Efficient Memory Management for Large
Language Model Serving with PagedAttention"; vLLM's ``gpu_memory_utilization``, default 0.9,
and ``block_size``, default 16): of each GPU's memory it uses the fraction ``u``, takes off the
weights and the peak activations of a forward pass, and cuts the rest into blocks of 16 token
positions. A sequence holds whole blocks, per layer::

    free            = u x GPUs x memory - weights - peak activations
    block bytes     = 16 x (bytes per token and layer), summed over the layers
    one sequence    = sum over layers of ceil(positions / 16) x 16 x bytes per token of the layer
                      (positions = min(N, the layer's sliding window))
    sequences       = floor(free / one sequence)
    longest context = the largest N whose one sequence fits in free

With tensor parallelism over ``t`` GPUs (``--tp``) the weights and the cache spread over them,
so their memories add up. The roofline beside it is an upper bound on speed; real decode
kernels reach a fraction of it (:data:`DECODE_EFFICIENCY`).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

#: vLLM's defaults
BLOCK_TOKENS = 16
UTILIZATION = 0.9
#: a published fraction of the bandwidth roofline real decode reaches: gpt-fast (PyTorch,
#: "Accelerating Generative AI with PyTorch II: GPT, Fast", 2023) decodes Llama-2-7B at batch 1
#: in bf16 at 104.9 tokens/s on an A100 80GB, whose roofline is 153.5 tokens/s: 0.68
DECODE_EFFICIENCY = (0.68, "gpt-fast: Llama-2-7B, bf16, batch 1 on an A100 80GB, 104.9 tokens/s against a roofline "
                     "of 153.5 (PyTorch blog, 'Accelerating Generative AI with PyTorch II: GPT, Fast', 2023)")


def _blocks(positions: int) -> int:
    return -(-positions // BLOCK_TOKENS)


@dataclass(frozen=True)
class Capacity:
    """Sequences of ``tokens`` that fit on ``gpus`` GPUs of ``memory_bytes`` each."""

    gpu: str
    gpus: int
    memory_bytes: float
    utilization: float
    weight_bytes: float
    activation_bytes: float
    tokens: int
    sequence_bytes: float
    sequences: int
    #: None: unbounded (sliding windows cap every layer's cache)
    longest_context: int | None

    @property
    def free_bytes(self) -> float:
        return self.utilization * self.gpus * self.memory_bytes - self.weight_bytes - self.activation_bytes

    def to_dict(self) -> dict[str, Any]:
        return {"gpu": self.gpu, "gpus": self.gpus, "memory_bytes": self.memory_bytes,
                "gpu_memory_utilization": self.utilization, "weight_bytes": self.weight_bytes,
                "activation_bytes": self.activation_bytes, "free_bytes": self.free_bytes,
                "block_tokens": BLOCK_TOKENS, "tokens_per_sequence": self.tokens,
                "bytes_per_sequence": self.sequence_bytes, "sequences": self.sequences,
                "longest_context": self.longest_context}


def sequence_bytes(kv, tokens: int) -> Fraction:
    """One sequence's cache at ``tokens`` positions in 16-token blocks (cross-attention: the encoder's)."""
    values = 0  # cached values, summed as integers over the layers; one multiplication by the element size
    for layer in kv.layers:
        positions = layer.cached_positions(tokens, kv.encoder_tokens)
        values += _blocks(positions) * BLOCK_TOKENS * layer.values_per_token
    return Fraction(values) * kv.bytes_per_element


def capacity(kv, gpu, gpus: int, weight_bytes: float, activation_bytes: float, tokens: int,
             utilization: float = UTILIZATION) -> Capacity:
    """See the module docstring. ``kv``: a :class:`~archcalc.llm.kv_cache.KVCache`; ``gpu``: its
    DevicePeaks (memory from the datasheet, decimal GB)."""
    memory = gpu.memory_gb * 1e9
    free = utilization * gpus * memory - weight_bytes - activation_bytes
    one = float(sequence_bytes(kv, tokens))
    sequences = int(free // one) if one > 0 and free > 0 else 0
    longest: int | None = 0
    if free > 0 and float(sequence_bytes(kv, 1 << 40)) <= free:
        longest = None  # every layer's window caps the cache: no context length fills the memory
    elif free > 0:
        low, high = 0, 1
        while float(sequence_bytes(kv, high)) <= free:
            low, high = high, high * 2
        while high - low > 1:
            middle = (low + high) // 2
            if float(sequence_bytes(kv, middle)) <= free:
                low = middle
            else:
                high = middle
        longest = low
    return Capacity(gpu.name, gpus, memory, utilization, weight_bytes, activation_bytes, tokens, one, sequences,
                    longest)
