"""Checks of a transformer config's shape fields before transformers builds it.

transformers refuses a bad config deep inside a constructor or a forward pass (a negative
layer count fails in ``range``, 8 query heads over 3 key/value heads in a ``view``), and its
message does not say which field is wrong. These checks name the field, its value and where it
came from (``--arg`` or the config), in one line:

* size fields (widths, head and layer counts, vocabulary) are whole numbers: ``hidden_size``
  given as the string ``"4096"`` is refused here, not as a validation error cut in half;
* widths and head counts are at least 1, layer counts at least 0;
* query heads split the width (``hidden_size = heads x head_dim``, unless the config gives
  ``head_dim``) and key/value heads divide the query heads (grouped-query attention shares each
  key/value head among ``heads / kv_heads`` query heads: Ainslie et al. 2023).

Plain Python: no transformers.
"""

from __future__ import annotations

from typing import Any, Mapping

from archcalc.errors import InputError

#: fields counting layers (0 allowed: an empty stack builds)
LAYER_FIELDS = ("num_hidden_layers", "n_layer", "num_layers", "num_decoder_layers", "encoder_layers",
                "decoder_layers", "first_k_dense_replace")
#: width and count fields that must be at least 1
SIZE_FIELDS = ("hidden_size", "n_embd", "d_model", "intermediate_size", "n_inner", "d_ff", "ffn_dim",
               "num_attention_heads", "n_head", "num_heads", "num_key_value_heads", "vocab_size", "head_dim",
               "d_kv", "moe_intermediate_size", "num_local_experts", "num_experts", "n_routed_experts",
               "num_experts_per_tok", "max_position_embeddings", "n_positions")
_WIDTH = ("hidden_size", "n_embd", "d_model")
_HEADS = ("num_attention_heads", "n_head", "num_heads")


def _origin(key: str, overridden: set[str]) -> str:
    return f"--arg {key}" if key in overridden else f"the config's {key}"


def _first(fields: Mapping[str, Any], keys: tuple[str, ...]) -> tuple[str, Any] | None:
    for key in keys:
        if fields.get(key) is not None:
            return key, fields[key]
    return None


def check_config_fields(name: str, fields: Mapping[str, Any], overridden: set[str] | None = None) -> None:
    """Raise :class:`InputError` naming the field when a shape field is not a usable number."""
    overridden = overridden or set()
    for key in LAYER_FIELDS + SIZE_FIELDS:
        value = fields.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(f"hf:{name}: {_origin(key, overridden)} is {value!r} ({type(value).__name__}); "
                             "it must be a whole number")
        least = 0 if key in LAYER_FIELDS else 1
        if value < least:
            raise InputError(f"hf:{name}: {_origin(key, overridden)} is {value}; it must be at least {least}")
    width, heads = _first(fields, _WIDTH), _first(fields, _HEADS)
    if width and heads and fields.get("head_dim") is None and fields.get("d_kv") is None and width[1] % heads[1]:
        raise InputError(f"hf:{name}: {width[0]} = {width[1]} does not split into {heads[0]} = {heads[1]} heads "
                         f"({width[1]} / {heads[1]} = {width[1] / heads[1]:.4g}; give head_dim, or change one)")
    kv = fields.get("num_key_value_heads")
    if heads and isinstance(kv, int) and kv and heads[1] % kv:
        raise InputError(f"hf:{name}: {heads[1]} query heads ({heads[0]}) do not divide among {kv} key/value heads "
                         f"(num_key_value_heads): grouped-query attention needs heads / kv_heads whole "
                         f"({heads[1]} / {kv} = {heads[1] / kv:.4g})")
