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
The two runs differ only inside SDPA calls: the math run counts them
(:attr:`SavedActivations.sdpa_calls`), and where it saw none (eager attention written out in
Python), :func:`archcalc.analyze` takes it for the fused figure too instead of running again.

Kernel profiles
---------------
The measurement is what the model's code saves on CPU / meta kernels (:data:`CPU`, labelled
"measured: CPU/meta kernels"): the truth for that code on those kernels. A step on a GPU keeps
less, and :meth:`SavedActivations.cuda_profile` derives what from the same measurement (the
fused-attention run), region by region, each region's saved storages noted as the forward ran:

* dropout (``F.dropout``): CUDA's ``native_dropout`` keeps a 1-byte bool mask, the CPU a mask of
  the activation's dtype: ``mask bytes -> mask elements x 1 B``;
* a tanh GELU written out in Python (transformers' ``NewGELUActivation``, ``FastGELUActivation``:
  ``x``, ``x^3``, ``tanh(...)``, ``0.5 x``, ``1 + tanh(...)`` kept): the fused kernel
  ``F.gelu(approximate="tanh")`` keeps its input alone: ``saved inside -> the input's bytes``;
* attention: the fused run's flash kernel keeps Q, K, V, the output and the fp32 log-sum-exp
  (``heads x T``), as CUDA's flash and memory-efficient kernels do (plus a philox seed and offset
  with dropout, 16 B, not counted). GQA key / value heads are expanded to the query heads here
  (the CPU kernel needs it; CUDA's flash kernel need not): a GQA model's figure is high by
  ``(query heads / kv heads - 1) x`` its K and V.

The result (:data:`CUDA`, labelled "CUDA kernel profile") matches Korthikanti et al.'s
``34 s b h`` per GPT layer (bf16, 1-byte dropout masks, no ``s x s`` tensors) up to what the
paper leaves out: the layer norms' fp32 mean and rstd (``2 x 2 x 4 s b`` bytes) and the
log-sum-exp (``4 a s b``) (``tests/test_llm_recompute.py``).

Selective recompute
-------------------
Every SDPA call's saved storages are noted: selective recompute (Korthikanti et al. 2022) keeps
the call's Q, K and V instead of what the call saved, and recomputes the rest::

    selective = total - saved only inside attention calls + their Q, K, V storages not otherwise kept

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
from dataclasses import dataclass, field, replace
from typing import Any

#: attention as eager / math SDPA saves it (the T x T scores and softmax)
MATH = "math"
#: attention as fused / flash kernels save it (Q, K, V, output, log-sum-exp)
FUSED = "fused"
ATTENTION_KERNELS = (MATH, FUSED)

#: the kernels a figure is for: measured on CPU / meta kernels, or the CUDA profile derived from it
CPU = "cpu"
CUDA = "cuda"
PROFILES = {
    CPU: "measured: CPU/meta kernels",
    CUDA: "CUDA kernel profile: flash attention, 1-byte dropout masks, fused GELU (derived from the measurement)",
}
#: transformers' activations that write the tanh GELU out in Python; the fused kernel keeps its input only
_UNFUSED_GELU = ("NewGELUActivation", "FastGELUActivation")


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
    #: ``F.scaled_dot_product_attention`` calls the forward made (none: the math and fused runs agree)
    sdpa_calls: int = 0
    #: CPU (measured) or CUDA (derived by cuda_profile)
    profile: str = CPU
    #: per owner (a block's name, None outside the blocks): bytes saved only inside attention calls, and
    #: the bytes of their Q, K, V storages kept by nothing else (what selective recompute keeps instead)
    attention_core: dict[str | None, int] = field(default_factory=dict)
    attention_inputs: dict[str | None, int] = field(default_factory=dict)
    #: per owner: bytes saved inside dropout calls (the masks), and the masks' elements
    dropout_masks: dict[str | None, int] = field(default_factory=dict)
    dropout_elements: dict[str | None, int] = field(default_factory=dict)
    #: per owner: bytes saved inside tanh GELUs written out in Python, and those of their inputs
    unfused_gelu: dict[str | None, int] = field(default_factory=dict)
    gelu_inputs: dict[str | None, int] = field(default_factory=dict)

    @property
    def profile_label(self) -> str:
        return PROFILES[self.profile]

    @property
    def checkpointed_bytes(self) -> int:
        """``outside + sum(block inputs) + max(block)``: full recompute per block."""
        if not self.block_bytes:
            return self.total_bytes
        return self.outside_bytes + sum(self.block_input_bytes.values()) + max(self.block_bytes.values())

    def _selective(self, owner: str | None) -> int:
        return self.attention_inputs.get(owner, 0) - self.attention_core.get(owner, 0)

    @property
    def selective_block_bytes(self) -> dict[str, int]:
        """Each block's bytes under selective recompute: ``block - attention core + its Q, K, V``."""
        return {name: nbytes + self._selective(name) for name, nbytes in self.block_bytes.items()}

    @property
    def selective_bytes(self) -> int:
        """``total - attention core + Q, K, V``: selective recompute (Korthikanti et al. 2022)."""
        return self.total_bytes + sum(self._selective(owner) for owner in set(self.attention_core)
                                      | set(self.attention_inputs))

    def recomputed_bytes(self, recompute: str) -> int:
        """The bytes a step keeps under ``recompute`` (none, selective, full)."""
        return {"none": self.total_bytes, "selective": self.selective_bytes,
                "full": self.checkpointed_bytes}[recompute]

    def cuda_profile(self) -> SavedActivations:
        """What CUDA kernels keep, derived from this (fused-attention) measurement: dropout masks at
        1 B per element, written-out tanh GELUs fused (their input kept alone); see the module docstring."""
        if self.attention != FUSED:
            raise ValueError("the CUDA profile is derived from the fused-attention measurement")

        def change(owner: str | None) -> int:
            return (self.dropout_elements.get(owner, 0) - self.dropout_masks.get(owner, 0)
                    + self.gelu_inputs.get(owner, 0) - self.unfused_gelu.get(owner, 0))

        owners = set(self.dropout_masks) | set(self.unfused_gelu)
        return replace(
            self, profile=CUDA,
            total_bytes=self.total_bytes + sum(change(owner) for owner in owners),
            outside_bytes=self.outside_bytes + change(None),
            block_bytes={name: nbytes + change(name) for name, nbytes in self.block_bytes.items()},
            dropout_masks=dict(self.dropout_elements), unfused_gelu=dict(self.gelu_inputs))

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "profile_label": self.profile_label,
            "attention_kernel": self.attention,
            "dtype": self.dtype,
            "batch": self.batch,
            "saved_bytes": self.total_bytes,
            "selective_recompute_bytes": self.selective_bytes,
            "checkpointed_bytes": self.checkpointed_bytes,
            "outside_blocks_bytes": self.outside_bytes,
            "blocks": len(self.block_bytes),
            "largest_block_bytes": max(self.block_bytes.values(), default=0),
            "block_inputs_bytes": sum(self.block_input_bytes.values()),
            "attention_internal_bytes": self.attention_internal_bytes,
            "dropout_mask_bytes": sum(self.dropout_masks.values()),
            "unfused_gelu_bytes": sum(self.unfused_gelu.values()),
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

    def at_batch(count: int) -> int:
        """A storage's bytes (or a tensor's elements) at ``batch`` (the forward ran at ``at``)."""
        return count // at * batch if at and count % at == 0 else count

    inputs_seen = {t.untyped_storage()._cdata: t.untyped_storage().nbytes() for t in leaves((args, keywords))
                   if isinstance(t, torch.Tensor)}

    seen: dict[int, int] = {}
    owner: dict[int, str | None] = {}
    stack: list[str | None] = [None]
    block_inputs: dict[str, int] = {}
    attention_calls: list[set[int]] = []
    tally = _AttentionTally()
    regions = _Regions(stack, at_batch)
    gelus = _unfused_gelu_classes()

    def pack(tensor):
        storage = tensor.untyped_storage()
        key = storage._cdata
        if key in weights:
            return tensor
        regions.packed(key)
        if key in seen:
            return tensor
        seen[key] = at_batch(storage.nbytes())
        owner[key] = stack[-1]
        if attention_calls:
            attention_calls[-1].add(key)
        return tensor

    def pre(mod, args_):
        if gelus and isinstance(mod, gelus):
            regions.enter("tanh_gelu", [t for t in leaves(args_) if isinstance(t, torch.Tensor)][:1])
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
        if gelus and isinstance(mod, gelus):
            regions.leave()

    from archcalc.frontends.capture_guards import ModuleState, isolated_forward
    from archcalc.frontends.meta_memo import memo_mode

    state = ModuleState(module)
    hooks = [register_module_forward_pre_hook(pre), register_module_forward_hook(post)]
    try:
        for sub in module.modules():
            sub.training = True
        with contextlib.ExitStack() as stack_context:
            stack_context.enter_context(light_torch_imports())
            stack_context.enter_context(isolated_forward(meta=True))
            stack_context.enter_context(torch.enable_grad())
            stack_context.enter_context(_AttentionWatch(attention, attention_calls, seen, tally, regions))
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
        attention_internal_bytes=tally.internal_bytes,
        tensors=len(seen),
        sdpa_calls=tally.calls,
        **regions.ledger(seen, owner),
    )


class _Regions:
    """The calls whose saved tensors a profile or a recompute plan replaces: attention (SDPA), dropout
    and tanh GELUs written out in Python. A storage belongs to the region it was first saved in, unless
    it is also saved outside every region (then it is kept whatever the region becomes)."""

    def __init__(self, owners: list, scale=lambda count: count):
        self.owners = owners  # the block stack: owners[-1] is the block running now
        self.scale = scale  # a count at the forward's batch -> at the batch measured for
        self.active: list[str] = []
        self.region_of: dict[int, str] = {}
        self.kept_outside: set[int] = set()
        #: region kind -> storage key -> (bytes, owner): the inputs a region keeps instead
        self.inputs: dict[str, dict[int, tuple[int, str | None]]] = {"attention_core": {}, "tanh_gelu": {}}
        #: the inputs themselves, held until the end: a freed storage's address could be reused
        self.held: list = []
        self.dropout_elements: dict[str | None, int] = {}

    def enter(self, kind: str, tensors=()) -> None:
        self.active.append(kind)
        for tensor in tensors:
            self.held.append(tensor)
            storage = tensor.untyped_storage()
            self.inputs[kind].setdefault(storage._cdata, (self.scale(storage.nbytes()), self.owners[-1]))

    def leave(self) -> None:
        self.active.pop()

    def dropout(self, elements: int) -> None:
        owner = self.owners[-1]
        self.dropout_elements[owner] = self.dropout_elements.get(owner, 0) + self.scale(elements)

    def packed(self, key: int) -> None:
        if not self.active:
            self.kept_outside.add(key)
        else:
            self.region_of.setdefault(key, self.active[-1])

    def ledger(self, seen: dict[int, int], owner: dict[int, str | None]) -> dict[str, dict[str | None, int]]:
        """SavedActivations' per-owner fields (attention_core, attention_inputs, dropout_masks, ...)."""
        saved: dict[str, dict[str | None, int]] = {"attention_core": {}, "dropout_mask": {}, "tanh_gelu": {}}
        for key, nbytes in seen.items():
            kind = self.region_of.get(key)
            if kind is not None and key not in self.kept_outside:
                saved[kind][owner[key]] = saved[kind].get(owner[key], 0) + nbytes
        kept: dict[str, dict[str | None, int]] = {}
        for kind, inputs in self.inputs.items():
            kept[kind] = {}
            for key, (nbytes, who) in inputs.items():
                if key not in self.kept_outside:
                    kept[kind][who] = kept[kind].get(who, 0) + nbytes
        return {"attention_core": saved["attention_core"], "attention_inputs": kept["attention_core"],
                "dropout_masks": saved["dropout_mask"], "dropout_elements": dict(self.dropout_elements),
                "unfused_gelu": saved["tanh_gelu"], "gelu_inputs": kept["tanh_gelu"]}


def _unfused_gelu_classes() -> tuple[type, ...]:
    """transformers' activation modules that write the tanh GELU out (see _UNFUSED_GELU), when loaded."""
    import sys

    activations = sys.modules.get("transformers.activations")
    return tuple(getattr(activations, name) for name in _UNFUSED_GELU if hasattr(activations, name))


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


@dataclass
class _AttentionTally:
    """What :class:`_AttentionWatch` adds up over a forward's SDPA calls."""

    #: bytes saved inside the calls beyond their operands (Q, K, V, the output)
    internal_bytes: int = 0
    calls: int = 0


class _AttentionWatch:
    """A TorchFunctionMode around each ``F.scaled_dot_product_attention`` call: it notes the
    storages saved inside the call beyond Q, K, V and the output (the math path's scores and
    softmax), and with ``FUSED`` runs the flash kernel instead."""

    def __new__(cls, attention: str, calls: list, seen: dict, tally: _AttentionTally, regions: _Regions):
        import torch
        from torch.overrides import TorchFunctionMode

        sdpa = torch.nn.functional.scaled_dot_product_attention
        dropout = torch.nn.functional.dropout
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
                if func is dropout:
                    return _dropout(func, args, kwargs, regions)
                if func is not sdpa:
                    return func(*args, **kwargs)
                calls.append(set())
                tally.calls += 1
                regions.enter("attention_core", [t for t in args[:3] if isinstance(t, torch.Tensor)])
                try:
                    with self:  # nested calls pass through this mode unchanged
                        pass
                    if attention == FUSED:
                        out = _flash(*args, **kwargs)
                    else:
                        out = func(*args, **kwargs)
                finally:
                    made = calls.pop()
                    regions.leave()
                operands = {t.untyped_storage()._cdata for t in (*args[:3], out) if isinstance(t, torch.Tensor)}
                tally.internal_bytes += sum(seen[key] for key in made - operands if key in seen)
                return out

        return Watch()


def _dropout(func, args, kwargs, regions: _Regions):
    """``F.dropout`` as a region: what it saves is its mask (the CPU's is of the input's dtype, CUDA's
    ``native_dropout`` a bool per element: ``input.numel()`` bytes when it drops anything)."""
    import inspect

    bound = inspect.signature(func).bind(*args, **kwargs)
    bound.apply_defaults()
    values = bound.arguments
    if values["training"] and values["p"] > 0:
        regions.dropout(values["input"].numel())
    regions.enter("dropout_mask")
    try:
        return func(*args, **kwargs)
    finally:
        regions.leave()


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
