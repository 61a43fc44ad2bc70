"""The activations a training step keeps for backward: measured, not estimated.

One forward pass of the model runs on meta tensors (shapes, no storage) in training
mode with gradients on, inside ``torch.autograd.graph.saved_tensors_hooks``. Every
tensor autograd saves for the backward pass goes through the pack hook; archcalc adds
up the bytes of each *distinct storage* once (a view, a transpose or a split shares its
base's storage and is not counted again) and leaves out the parameters and buffers
(they are weights, counted as such). What remains is exactly what a real training step
keeps alive between forward and backward, batch included: the same bytes as a real CPU
step of the same model (``tests/test_llm_training_memory.py`` checks it on tiny
configs).

Kernels differ by device in what they save: the meta and CPU kernels are the same
(that is the check), while CUDA's differ in places, e.g. dropout keeps a 1-byte bool
mask on CUDA (``native_dropout``) where the CPU keeps a float mask of the activation's
dtype. The figure is exact for the CPU kernels and close for CUDA's.

Attention
---------
On meta tensors, ``F.scaled_dot_product_attention`` takes its math path, which saves
the ``heads x T x T`` scores, the softmax and (with dropout) its mask: what eager
attention keeps (:data:`MATH`). Fused and flash kernels (FlashAttention, PyTorch's
memory-efficient and CPU flash kernels) save only Q, K, V, the output and the
log-sum-exp (``heads x T`` floats) and recompute the rest in backward (Dao et al.,
"FlashAttention", 2022). :data:`FUSED` measures that by running
``aten._scaled_dot_product_flash_attention_for_cpu`` (the kernel with that saving
scheme; it has a meta implementation) in place of each SDPA call. Keys and values with
fewer heads (GQA) are expanded to the query heads first, as that kernel needs.

Activation checkpointing
------------------------
The repeated blocks (the children of the model's largest ``nn.ModuleList``: GPT-2's
``transformer.h.N``, Llama's ``model.layers.N``) are found, and each saved storage is
attributed to the block whose forward made it. With full recompute per block
(``--checkpoint``; Chen et al., "Training Deep Nets with Sublinear Memory Cost", 2016;
Megatron's full recomputation), a step keeps each block's input and everything saved
outside the blocks, and during backward one block's saved tensors at a time::

    checkpointed = outside + sum(block inputs) + max(saved inside one block)
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

#: attention as eager / math SDPA saves it (the T x T scores and softmax)
MATH = "math"
#: attention as fused / flash kernels save it (Q, K, V, output, log-sum-exp)
FUSED = "fused"
ATTENTION_KERNELS = (MATH, FUSED)


@dataclass(frozen=True)
class SavedActivations:
    """Bytes autograd saves for backward in one training step (batch included)."""

    #: how attention saved its tensors: MATH or FUSED
    attention: str
    dtype: str
    batch: int
    total_bytes: int
    #: bytes saved outside the repeated blocks (embedding, final norm, head)
    outside_bytes: int
    #: block name -> bytes saved inside it
    block_bytes: dict[str, int] = field(default_factory=dict)
    #: block name -> bytes of its input (what a checkpoint keeps)
    block_input_bytes: dict[str, int] = field(default_factory=dict)
    #: bytes saved inside each SDPA call beyond its inputs and output (math: scores, softmax, mask)
    attention_internal_bytes: int = 0
    #: storages counted
    tensors: int = 0

    @property
    def checkpointed_bytes(self) -> int:
        """``outside + sum(block inputs) + max(block)``: full recompute per block."""
        if not self.block_bytes:
            return self.total_bytes
        return self.outside_bytes + sum(self.block_input_bytes.values()) + max(self.block_bytes.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "attention_kernel": self.attention,
            "dtype": self.dtype,
            "batch": self.batch,
            "saved_bytes": self.total_bytes,
            "checkpointed_bytes": self.checkpointed_bytes,
            "outside_blocks_bytes": self.outside_bytes,
            "blocks": len(self.block_bytes),
            "largest_block_bytes": max(self.block_bytes.values(), default=0),
            "block_inputs_bytes": sum(self.block_input_bytes.values()),
            "attention_internal_bytes": self.attention_internal_bytes,
        }


def repeated_blocks(module) -> dict[int, str]:
    """id(block) -> its path: the children of the ``nn.ModuleList`` holding the most parameters
    (the transformer's layers); empty when the model has none with two or more children."""
    from torch import nn

    best: tuple[int, str, Any] | None = None
    for path, sub in module.named_modules():
        if isinstance(sub, nn.ModuleList) and len(sub) >= 2:
            size = sum(p.numel() for p in sub.parameters())
            if best is None or size > best[0]:
                best = (size, path, sub)
    if best is None:
        return {}
    _, path, container = best
    return {id(child): f"{path}.{index}" if path else str(index) for index, child in enumerate(container)}


def measure_saved_activations(
    module,
    inputs: Any,
    *,
    kwargs: dict[str, Any] | None = None,
    batch: int = 1,
    dtype: str = "float32",
    attention: str = MATH,
    at: int | None = None,
) -> SavedActivations:
    """Run one training-mode forward of ``module`` on meta tensors and add up what autograd saves.

    ``inputs`` / ``kwargs``: as for :func:`archcalc.analyze` (``"128:int64"`` for token ids);
    ``dtype``: the floating dtype of weights and activations (``bfloat16`` for bf16 and
    mixed-precision plans). The module is left as found (flags restored, nothing moved).

    ``at``: run the forward at this batch instead, a prime that divides no size of the model for
    one sample (the capture's batch, :attr:`CaptureResult.batch`), and scale to ``batch``: a
    storage of ``n`` bytes holds the batch exactly when ``at`` divides ``n`` (the prime divides
    no per-sample size, hence no product of them, and no element size), and then keeps
    ``n / at`` bytes per sample; any other storage is the same at every batch::

        bytes(batch) = sum(n for n not divisible by at) + batch x sum(n / at for n divisible by at)

    (Run at the capture's batch, the forward's meta kernels come from the capture's memo.) Not at
    ``batch`` 1: there a reshape can view what a larger batch copies (axes of size 1 merge with any
    stride), so a batch-1 step may keep other storages; it is measured as it is.
    """
    import torch
    from torch import nn
    from torch.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook
    from archcalc.frontends.leaves import leaves

    from archcalc.frontends.module_inputs import module_inputs
    from archcalc.frontends.stand_ins import light_torch_imports

    if attention not in ATTENTION_KERNELS:
        raise ValueError(f"attention must be one of {ATTENTION_KERNELS}, got {attention!r}")
    float_dtype = getattr(torch, dtype)
    described = module_inputs(inputs, kwargs)
    params = _tensors(module)
    buffers = {id(b) for b in module.buffers()}
    replacements = {}
    for key, tensor in params.items():
        kind = float_dtype if tensor.is_floating_point() else tensor.dtype
        stand_in = torch.empty(tuple(tensor.shape), dtype=kind, device="meta")
        if id(tensor) in buffers:
            replacements[key] = stand_in
        else:
            replacements[key] = nn.Parameter(stand_in, requires_grad=tensor.requires_grad)
    weights = {t.untyped_storage()._cdata for t in replacements.values()}
    blocks = repeated_blocks(module)
    at = at if batch > 1 else None
    args, keywords = _materialise(described, at or batch, float_dtype)

    def at_batch(nbytes: int) -> int:
        """A storage's bytes at ``batch`` (the forward ran at ``at``)."""
        return nbytes // at * batch if at and nbytes % at == 0 else nbytes

    inputs_seen = {t.untyped_storage()._cdata: t.untyped_storage().nbytes() for t in leaves((args, keywords))
                   if isinstance(t, torch.Tensor)}

    seen: dict[int, int] = {}
    owner: dict[int, str | None] = {}
    stack: list[str | None] = [None]
    block_inputs: dict[str, int] = {}
    attention_calls: list[set[int]] = []
    internal = [0]

    def pack(tensor):
        storage = tensor.untyped_storage()
        key = storage._cdata
        if key in weights or key in seen:
            return tensor
        seen[key] = at_batch(storage.nbytes())
        owner[key] = stack[-1]
        if attention_calls:
            attention_calls[-1].add(key)
        return tensor

    def pre(mod, args_):
        name = blocks.get(id(mod))
        if name is not None:
            stack.append(name)
            first = next((t for t in leaves(args_) if isinstance(t, torch.Tensor) and t.is_floating_point()),
                         None)
            if first is not None:
                block_inputs[name] = at_batch(first.untyped_storage().nbytes())

    def post(mod, args_, out):
        if id(mod) in blocks and len(stack) > 1:
            stack.pop()

    from archcalc.frontends.capture_guards import ModuleState, isolated_forward
    from archcalc.frontends.meta_memo import memo_mode

    state = ModuleState(module)
    hooks = [register_module_forward_pre_hook(pre), register_module_forward_hook(post)]
    try:
        for sub in module.modules():
            sub.training = True
        with contextlib.ExitStack() as stack_context:
            stack_context.enter_context(light_torch_imports())
            stack_context.enter_context(torch.device("meta"))
            stack_context.enter_context(isolated_forward(meta=True))
            stack_context.enter_context(torch.enable_grad())
            stack_context.enter_context(_AttentionWatch(attention, attention_calls, seen, internal))
            stack_context.enter_context(torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t))
            stack_context.enter_context(memo_mode())
            torch.func.functional_call(module, replacements, args, keywords, tie_weights=True, strict=False)
    finally:
        for hook in hooks:
            hook.remove()
        state.restore()
    block_bytes = {name: 0 for name in blocks.values()}
    outside = 0
    for key, nbytes in seen.items():
        name = owner[key]
        if name is None:
            outside += nbytes
        else:
            block_bytes[name] += nbytes
    del inputs_seen
    return SavedActivations(
        attention=attention,
        dtype=str(float_dtype).removeprefix("torch."),
        batch=batch,
        total_bytes=sum(seen.values()),
        outside_bytes=outside,
        block_bytes={k: v for k, v in block_bytes.items() if k in block_inputs},
        block_input_bytes=block_inputs,
        attention_internal_bytes=internal[0],
        tensors=len(seen),
    )


def _tensors(module) -> dict[str, Any]:
    """Parameters and buffers under their first names; tied tensors once."""
    tensors: dict[str, Any] = {}
    ids: set[int] = set()
    for name, tensor in list(module.named_parameters()) + list(module.named_buffers()):
        if id(tensor) not in ids:
            ids.add(id(tensor))
            tensors[name] = tensor
    return tensors


def _materialise(described, batch: int, float_dtype):
    """Meta tensors for the described inputs, at ``batch``."""
    import torch

    from archcalc.frontends.module_inputs import InputSpec

    def build(value):
        if isinstance(value, InputSpec):
            dtype = getattr(torch, value.dtype) if value.dtype else float_dtype
            return torch.empty((batch, *value.shape), dtype=dtype, device="meta")
        if isinstance(value, dict):
            return {k: build(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(build(v) for v in value)
        return value

    return tuple(build(v) for v in described.args), {k: build(v) for k, v in described.kwargs.items()}


class _AttentionWatch:
    """A TorchFunctionMode around each ``F.scaled_dot_product_attention`` call: it notes the
    storages saved inside the call beyond Q, K, V and the output (the math path's scores and
    softmax), and with ``FUSED`` runs the flash kernel instead."""

    def __new__(cls, attention: str, calls: list, seen: dict, internal: list):
        import torch
        from torch.overrides import TorchFunctionMode

        sdpa = torch.nn.functional.scaled_dot_product_attention
        batch_norm = torch.nn.functional.batch_norm
        grouped = {torch._grouped_mm}
        with contextlib.suppress(AttributeError):
            grouped.add(torch.nn.functional.grouped_mm)

        class Watch(TorchFunctionMode):
            def __torch_function__(self, func, types, args=(), kwargs=None):
                kwargs = kwargs or {}
                if func is batch_norm:
                    return _batch_norm(*args, **kwargs)
                if func in grouped:
                    return _grouped_mm(func, args, kwargs)
                if func is not sdpa:
                    return func(*args, **kwargs)
                calls.append(set())
                try:
                    with self:  # nested calls pass through this mode unchanged
                        pass
                    if attention == FUSED:
                        out = _flash(*args, **kwargs)
                    else:
                        out = func(*args, **kwargs)
                finally:
                    made = calls.pop()
                operands = {t.untyped_storage()._cdata for t in (*args[:3], out) if isinstance(t, torch.Tensor)}
                internal[0] += sum(seen[key] for key in made - operands if key in seen)
                return out

        return Watch()


def _grouped_mm(func, args, kwargs):
    """``grouped_mm`` (mixture-of-experts) on meta tensors: the meta kernel takes bfloat16 only, so
    another dtype runs in bfloat16 and the output takes its dtype back. Autograd then keeps the
    bfloat16 copy of the tokens (2 B per value where float32 keeps 4): an fp32 MoE's saved
    activations are low by half of those inputs, in the expert layers only."""
    import torch

    a, b, *rest = args
    if not (a.is_meta and a.is_floating_point() and a.dtype != torch.bfloat16):
        return func(*args, **kwargs)
    return func(a.to(torch.bfloat16), b.to(torch.bfloat16), *rest, **kwargs).to(a.dtype)


def _batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """``F.batch_norm`` on meta tensors, saving what ``native_batch_norm`` saves for backward (the input,
    and in training the per-channel mean and inverse standard deviation, float32) without running its
    Python decomposition, the slowest part of a meta forward of a CNN (the output's values do not matter)."""
    import torch

    class BatchNorm(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, *learned):
            ctx.learned = len(learned)
            channels = x.shape[1] if x.dim() > 1 else x.shape[0]
            if training:
                stats = [torch.empty(channels, dtype=torch.float32, device=x.device) for _ in range(2)]
                ctx.save_for_backward(x, *stats)
            else:
                ctx.save_for_backward(x)
            return torch.empty_like(x)

        @staticmethod
        def backward(ctx, grad):  # never run: the measurement stops after forward
            return (grad, *([None] * ctx.learned))

    if not input.is_meta:
        return torch.nn.functional.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)
    learned = [t for t in (weight, bias) if t is not None]
    return BatchNorm.apply(input, *learned)


def _flash(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
    """SDPA through ``aten._scaled_dot_product_flash_attention_for_cpu`` (saves Q, K, V, the output and
    the log-sum-exp). An explicit mask is passed as the kernel's ``attn_mask``; fewer key/value heads
    are expanded to the query heads."""
    import torch

    if key.dim() >= 3 and key.shape[-3] != query.shape[-3]:
        groups = query.shape[-3] // key.shape[-3]
        key = key.repeat_interleave(groups, dim=-3)
        value = value.repeat_interleave(groups, dim=-3)
    extra = {"scale": scale}
    if attn_mask is not None:
        extra["attn_mask"] = attn_mask
    out = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(
        query, key, value, float(dropout_p), bool(is_causal), **extra
    )
    return out[0]


def measure_for_graph(module, inputs: Any, kwargs: dict[str, Any] | None, layout: str | None, graph,
                      batch: int, dtype: str, attention: str = MATH, at: int | None = None) -> SavedActivations:
    """:func:`measure_saved_activations` with the inputs as the capture read them (an image written
    H x W x C or C x H x W takes the graph's reading)."""
    from archcalc.frontends.module_inputs import InputSpec, ModuleInputs, module_inputs

    described = module_inputs(inputs, kwargs, layout)
    first = described.specs()[0]
    if first.written is not None and tuple(first.shape) != tuple(graph.input_shape):
        fixed = InputSpec(tuple(graph.input_shape), first.dtype)

        def swap(value):
            if value is first:
                return fixed
            if isinstance(value, dict):
                return {k: swap(v) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return type(value)(swap(v) for v in value)
            return value

        described = ModuleInputs(swap(described.args), swap(described.kwargs))
    return measure_saved_activations(module, list(described.args), kwargs=described.kwargs, batch=batch,
                                     dtype=dtype, attention=attention, at=at)
