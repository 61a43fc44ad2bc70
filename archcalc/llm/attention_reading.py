"""Attention read off a live transformers model: heads, key/value heads, masking, window, cross.

The kernel call alone misleads. transformers expands the key/value heads of grouped-query
attention before some kernels (``repeat_kv``), and passes an explicit mask for sliding
windows and for Falcon, so the call looks like multi-head attention with no causal flag.
What the model *is* lives in its attention modules and its config:

* **query heads**: the module's ``num_heads`` / ``n_heads`` / ``num_attention_heads``, else
  the config's;
* **head width**: the module's ``head_dim`` (``key_value_proj_dim`` in T5,
  ``attention_head_size`` in BERT), else ``hidden_size / heads``;
* **key/value heads**: from the width of the K (or V) projection::

      separate K projection (k_proj, k, key):       kv_heads = out_features / head_dim
      fused Q, K, V (query_key_value, qkv_proj,
      c_attn):                                       kv_heads = (out / head_dim - heads) / 2

  so Falcon-7B's ``query_key_value`` of 4,672 = (71 + 2 x 1) x 64 is multi-query (Shazeer
  2019), Mistral's ``k_proj`` of 1,024 = 8 x 128 grouped-query (Ainslie et al. 2023);
* **masking**: the module's ``is_causal`` (transformers sets it on every decoder attention);
  a cross-attention module (T5's ``EncDecAttention``, ``crossattention``, ``encoder_attn``,
  ``is_cross_attention``) attends to the encoder, is not causal, and caches the encoder's
  keys and values once per sequence;
* **sliding window**: the module's ``sliding_window`` (Gemma-2 alternates local and global
  layers), else the config's ``layer_types`` entry for the layer, else the config's
  ``sliding_window`` (Mistral-7B's 4,096; Phi-3-mini's 2,047) unless ``use_sliding_window``
  is false (Qwen2). A window of ``W`` tokens caps the cache at ``W`` positions, as vLLM and
  transformers' sliding-window caches keep it (Jiang et al. 2023, "Mistral 7B", section 2);
* **multi-head latent attention** (DeepSeek-V2, DeepSeek-AI 2024, section 2.1): the cache
  holds the compressed latent ``kv_lora_rank`` plus the decoupled rotary key
  ``qk_rope_head_dim`` per token and layer (the width of ``kv_a_proj_with_mqa``), shared by
  all heads, not K and V.

Needs torch (a live module); imported only for live modules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEAD_ATTRS = ("num_heads", "n_heads", "num_attention_heads", "n_head")
_WIDTH_ATTRS = ("head_dim", "key_value_proj_dim", "attention_head_size")
_SEPARATE_K = ("k_proj", "k", "key", "k_lin")
_FUSED_QKV = ("query_key_value", "qkv_proj", "c_attn", "Wqkv", "qkv")
_CROSS_NAMES = ("encdecattention", "crossattention", "encoder_attn", "cross_attn")
_LAYER_INDEX = re.compile(r"\.(\d+)(\.|$)")


@dataclass(frozen=True)
class AttentionModule:
    """One attention module of a live model, as a KV cache sees it."""

    name: str
    query_heads: int
    kv_heads: int
    key_width: int
    value_width: int
    causal: bool
    #: sliding window in tokens (None: every earlier token)
    window: int | None = None
    #: attends to an encoder's output (its cache holds the encoder's tokens)
    cross: bool = False
    #: cached values per token when they are a shared latent (MLA), else None
    latent: int | None = None


def _out_features(child) -> int | None:
    if child is None:
        return None
    value = getattr(child, "out_features", None) or getattr(child, "nf", None)  # nn.Linear, GPT-2's Conv1D
    return int(value) if isinstance(value, int) else None


def _first_int(obj, names) -> int | None:
    for name in names:
        value = getattr(obj, name, None)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def _is_attention(module) -> bool:
    return type(module).__name__.endswith("Attention") and any(
        _out_features(child) for child in module.children())


def _window(sub, config, name: str) -> int | None:
    if hasattr(sub, "sliding_window"):
        value = sub.sliding_window
        return int(value) if isinstance(value, int) and value > 0 else None
    size = getattr(config, "sliding_window", None)
    if not isinstance(size, int) or size <= 0 or getattr(config, "use_sliding_window", True) is False:
        return None
    types = getattr(config, "layer_types", None)
    index = _first_int(sub, ("layer_idx",))
    if index is None:
        found = _LAYER_INDEX.search(name)
        index = int(found.group(1)) if found else None
    if types and index is not None and index < len(types):
        return size if "sliding" in str(types[index]) else None
    return size


def read_attention_modules(module, config=None) -> list[AttentionModule]:
    """Every innermost attention module of ``module`` (class name ending in ``Attention`` with
    projections of its own), read as the module docstring says."""
    config = config if config is not None else getattr(module, "config", None)
    found: list[AttentionModule] = []
    for name, sub in module.named_modules():
        if not _is_attention(sub):
            continue
        heads = _first_int(sub, _HEAD_ATTRS) or _first_int(config, ("num_attention_heads", "n_head", "num_heads"))
        if not heads:
            continue
        width = _first_int(sub, _WIDTH_ATTRS)
        hidden = _first_int(config, ("hidden_size", "n_embd", "d_model"))
        if width is None and hidden:
            width = hidden // heads
        if not width:
            continue
        children = dict(sub.named_children())
        lowered = name.lower()
        cross = bool(getattr(sub, "is_cross_attention", False)) or any(word in lowered for word in _CROSS_NAMES)
        causal = bool(getattr(sub, "is_causal", False)) and not cross
        latent = None
        kv_heads = heads
        value_width = _first_int(sub, ("v_head_dim",)) or width
        compressed = _out_features(children.get("kv_a_proj_with_mqa"))
        if compressed is not None:  # MLA: kv_lora_rank + qk_rope_head_dim per token
            latent = compressed
            width = _first_int(sub, ("qk_head_dim",)) or width
        else:
            k_out = next((_out_features(children[key]) for key in _SEPARATE_K if key in children), None)
            fused = next((_out_features(children[key]) for key in _FUSED_QKV if key in children), None)
            if k_out:
                kv_heads = max(1, k_out // width)
            elif fused:
                kv_heads = max(1, (fused // width - heads) // 2)
        found.append(AttentionModule(name, heads, kv_heads, width, value_width, causal,
                                     _window(sub, config, name) if causal else None, cross, latent))
    return found


def module_of(row_name: str, modules: list[AttentionModule]) -> AttentionModule | None:
    """The attention module a report row lies under (the longest name that prefixes it)."""
    best = None
    for candidate in modules:
        if row_name.startswith(candidate.name + ".") and (best is None or len(candidate.name) > len(best.name)):
            best = candidate
    return best

