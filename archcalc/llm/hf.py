"""``hf:NAME`` and ``hf:path/to/config.json``: a Hugging Face ``transformers`` model from its config.

The model is built on the meta device: no weights are allocated or downloaded, and no
network is used. The config comes from, in this order:

1. a ``config.json`` path (``hf:path/to/config.json``, or a folder holding one);
2. the local Hugging Face cache, when the model was downloaded before
   (``AutoConfig.from_pretrained(NAME, local_files_only=True)``, offline);
3. for the common checkpoints, the library's own default config class, with the
   few fields that differ from the checkpoint's published ``config.json``
   (:data:`KNOWN_MODELS`): ``GPT2Config()`` is GPT-2 small, ``BertConfig()``
   BERT-base, ``LlamaConfig()`` Llama-2-7B, ``ViTConfig()`` ViT-B/16.

Which one was used is said in the report (a note). ``--arg key=value`` overrides
a config field (``--arg n_layer=2``; ``--arg attn_implementation=eager``).

The model class: the one :data:`KNOWN_MODELS` names for a known checkpoint (BERT's
encoder, GPT-2 and Llama with their language-model heads, ViT with its ImageNet
head), else the config's ``architectures[0]``, else ``AutoModel``.

``transformers`` is an optional extra: ``pip install -e ".[hf]"``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from archcalc.errors import InputError
from archcalc.frontends import ModuleError

PREFIX = "hf:"


@dataclass(frozen=True)
class KnownModel:
    """A checkpoint archcalc can size without its config.json: a config class, the fields
    that differ from its defaults, and the model class (the parameter count usually quoted)."""

    config_class: str
    model_class: str
    overrides: Mapping[str, Any] = field(default_factory=dict)
    what: str = ""


_GPT2 = KnownModel("GPT2Config", "GPT2LMHeadModel", {}, "GPT-2 small: 12 layers, 768 wide, 12 heads, vocab 50,257, "
                   "LM head tied to the token embedding")
_BERT = KnownModel("BertConfig", "BertModel", {}, "BERT-base: 12 layers, 768 wide, 12 heads, vocab 30,522; "
                   "the encoder with its pooler")
#: Llama-2's config.json: a 4,096-token context and eps 1e-5 (the class defaults say 2,048 and 1e-6)
_LLAMA2 = {"max_position_embeddings": 4096, "rms_norm_eps": 1e-5}
_LLAMA2_7B = KnownModel("LlamaConfig", "LlamaForCausalLM", _LLAMA2, "Llama-2-7B: 32 layers, 4096 wide, 32 heads, "
                        "MLP 11,008, vocab 32,000")
_VIT = KnownModel("ViTConfig", "ViTForImageClassification", {"num_labels": 1000},
                  "ViT-B/16: 12 layers, 768 wide, 12 heads, 16x16 patches at 224x224, the ImageNet-1k head "
                  "(num_labels=1000, as the checkpoint)")

#: checkpoint name -> what to build without its config.json. Overrides are the checkpoint's
#: published config.json fields that differ from the config class's defaults.
KNOWN_MODELS: dict[str, KnownModel] = {
    "gpt2": _GPT2,
    "openai-community/gpt2": _GPT2,
    "gpt2-medium": KnownModel("GPT2Config", "GPT2LMHeadModel", {"n_embd": 1024, "n_layer": 24, "n_head": 16},
                              "GPT-2 medium: 24 layers, 1024 wide, 16 heads"),
    "gpt2-large": KnownModel("GPT2Config", "GPT2LMHeadModel", {"n_embd": 1280, "n_layer": 36, "n_head": 20},
                             "GPT-2 large: 36 layers, 1280 wide, 20 heads"),
    "gpt2-xl": KnownModel("GPT2Config", "GPT2LMHeadModel", {"n_embd": 1600, "n_layer": 48, "n_head": 25},
                          "GPT-2 XL: 48 layers, 1600 wide, 25 heads"),
    "bert-base-uncased": _BERT,
    "google-bert/bert-base-uncased": _BERT,
    "meta-llama/Llama-2-7b-hf": _LLAMA2_7B,
    "meta-llama/llama-2-7b-hf": _LLAMA2_7B,
    "meta-llama/Llama-2-13b-hf": KnownModel(
        "LlamaConfig", "LlamaForCausalLM",
        {**_LLAMA2, "hidden_size": 5120, "intermediate_size": 13824, "num_hidden_layers": 40, "num_attention_heads": 40,
         "num_key_value_heads": 40},
        "Llama-2-13B: 40 layers, 5120 wide, 40 heads, MLP 13,824"),
    "meta-llama/Llama-2-70b-hf": KnownModel(
        "LlamaConfig", "LlamaForCausalLM",
        {**_LLAMA2, "hidden_size": 8192, "intermediate_size": 28672, "num_hidden_layers": 80, "num_attention_heads": 64,
         "num_key_value_heads": 8},
        "Llama-2-70B: 80 layers, 8192 wide, 64 query heads, 8 key/value heads (GQA), MLP 28,672"),
    "google/vit-base-patch16-224": _VIT,
}


@dataclass(frozen=True)
class HFModel:
    """A model built from a config: the module, the input it takes and the note on its config
    (``context``: the longest sequence its config names, or None)."""

    module: Any
    name: str
    #: what forward takes: "tokens" (input_ids) or "image" (pixel_values, C x H x W)
    kind: str
    #: the default input: tokens = the context length; an image's (C, H, W)
    default_input: Any
    note: str
    config: Any


def is_hf_target(model: str) -> bool:
    return isinstance(model, str) and model.startswith(PREFIX)


def _transformers():
    try:
        import transformers
    except ImportError:
        raise InputError(
            "hf: models need the transformers package",
            hint='pip install -e ".[hf]" (or pip install transformers)',
        ) from None
    return transformers


#: JSON's and Python's spellings of booleans and null in ``--arg key=value``
_WORDS = {"true": True, "false": False, "null": None, "none": None}


def _parse_value(value: Any) -> Any:
    """``--arg`` values: numbers and literals as ``parse_arg`` reads them, and ``true`` /
    ``false`` / ``null`` as in config.json (``--arg tie_word_embeddings=true``)."""
    from archcalc.frontends.module_loading import parse_arg

    if isinstance(value, str) and value.strip().lower() in _WORDS:
        return _WORDS[value.strip().lower()]
    return parse_arg(value)


def load_config(name: str, overrides: Mapping[str, Any] | None = None) -> tuple[Any, str, str | None]:
    """(config, the sentence saying where it came from, the model class name or None)."""
    transformers = _transformers()
    overrides = {str(k): _parse_value(v) for k, v in (overrides or {}).items()}
    path = Path(name)
    if name.endswith(".json") or path.is_dir():
        file = path / "config.json" if path.is_dir() else path
        if not file.is_file():
            raise InputError(f"hf:{name}: no such config file", hint="give a config.json path or a folder with one")
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise InputError(f"hf:{name}: cannot read the config ({error})") from None
        config, model_class = _config_from_fields(transformers, name, data, overrides)
        return config, f"config: {file}", model_class
    known = KNOWN_MODELS.get(name) or KNOWN_MODELS.get(name.lower())
    cached = _cached_config(transformers, name)
    if cached is not None:
        for key, value in overrides.items():
            try:
                setattr(cached, key, value)
            except Exception as error:  # noqa: BLE001
                raise InputError(f"hf:{name}: the config refuses {key}={value!r}: {error}") from None
        architectures = getattr(cached, "architectures", None) or []
        model_class = known.model_class if known else (architectures[0] if architectures else None)
        return cached, f"config: {name} from the local Hugging Face cache", model_class
    from archcalc.llm.published_configs import find_published

    published = find_published(name) if known is None else None
    if published is not None:
        config, model_class = _config_from_fields(transformers, name, published.fields(), overrides)
        return config, f"config: {published.name}'s published config.json ({published.source}), shipped with " \
            f"archcalc ({published.file.name})", model_class
    if known is None:
        raise InputError(
            f"hf:{name} is not in the local Hugging Face cache and archcalc has no config for it",
            hint="give its config.json (hf:path/to/config.json); archcalc llm --list names the models known "
                 "without one",
        )
    config_class = getattr(transformers, known.config_class)
    from archcalc.llm.config_checks import check_config_fields

    check_config_fields(name, {**config_class().to_dict(), **known.overrides, **overrides}, set(overrides))
    try:
        config = config_class(**{**known.overrides, **overrides})
    except Exception as error:  # noqa: BLE001  (a field the config class refuses: one line)
        raise InputError(f"hf:{name}: {known.config_class} refuses the overrides {overrides}: "
                         f"{_refusal(error)}") from None
    written = ", ".join(f"{k}={v}" for k, v in {**known.overrides, **overrides}.items())
    note = (f"config: {known.config_class}({written}) of transformers {transformers.__version__}, the library's "
            f"defaults ({known.what}); no config.json was read")
    return config, note, known.model_class


def _refusal(error: Exception) -> str:
    """A library's refusal in one line, whole: pydantic-style messages put the reason on the
    lines after "Validation error for field '...':", so they are joined, not cut."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    return "; ".join(lines)[:300] if lines else type(error).__name__


def _config_from_fields(transformers, name: str, data: Any, overrides: Mapping[str, Any]) -> tuple[Any, str | None]:
    """(config, model class name or None) from config.json fields and the --arg overrides."""
    from archcalc.llm.config_checks import check_config_fields

    if not isinstance(data, dict) or "model_type" not in data:
        raise InputError(f"hf:{name}: the config has no model_type (is it a transformers config.json?)")
    mapping = transformers.CONFIG_MAPPING
    if data["model_type"] not in mapping:
        raise InputError(f"hf:{name}: transformers {transformers.__version__} does not know model_type "
                         f"{data['model_type']!r}")
    merged = {**data, **overrides}
    check_config_fields(name, merged, set(overrides))
    try:
        config = mapping[data["model_type"]].from_dict(merged)
    except Exception as error:  # noqa: BLE001
        raise InputError(f"hf:{name}: transformers refuses this config: {_refusal(error)}") from None
    architectures = data.get("architectures") or []
    return config, architectures[0] if architectures else None


def _cached_config(transformers, name: str):
    """The config of ``name`` from the local cache, or None (never the network)."""
    previous = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        return transformers.AutoConfig.from_pretrained(name, local_files_only=True)
    except Exception:  # noqa: BLE001  (not cached, or not a model id: fall back to the defaults)
        return None
    finally:
        if previous is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = previous


#: analysis dtypes a model is built in (the rest build in float32, the library's default)
BUILD_DTYPES = ("float16", "bfloat16", "float64")


def build_hf_model(target: str, overrides: Mapping[str, Any] | None = None, dtype: str = "float32") -> HFModel:
    """``hf:NAME`` -> the model on the meta device, its input kind and the note on its config.

    The model is built in ``dtype`` when it is a floating dtype (``--dtype bfloat16`` builds in
    bf16): some kernels take one dtype only, e.g. the meta kernel of ``torch._grouped_mm`` that
    transformers' mixture-of-experts layers call accepts bf16 inputs only.
    """
    import torch

    transformers = _transformers()
    name = target[len(PREFIX):] if target.startswith(PREFIX) else target
    if not name.strip():
        raise InputError("name the model after 'hf:', e.g. hf:gpt2 or hf:path/to/config.json")
    config, note, model_class = load_config(name, overrides)
    cls = getattr(transformers, model_class, None) if model_class else None
    if cls is None:
        cls = transformers.AutoModel
        build = lambda: cls.from_config(config)  # noqa: E731
    else:
        build = lambda: cls(config)  # noqa: E731
    try:
        with torch.device("meta"):
            module = build()
    except Exception as error:  # noqa: BLE001  (the library refused the config: say so in one line)
        raise ModuleError(f"hf:{name}: transformers cannot build {cls.__name__} from this config: "
                          f"{_refusal(error)}") from None
    built_in = dtype if dtype in BUILD_DTYPES else None
    why = f"in {built_in}"
    if built_in is not None:
        module.to(getattr(torch, built_in))
    module.eval()
    kind, default = _input_of(module.config)
    note += (f"; model class {type(module).__name__}, built on the meta device (no weights)"
             + (f" {why}" if built_in is not None else ""))
    return HFModel(module, f"hf:{name}", kind, default, note, module.config)


def _input_of(config) -> tuple[str, Any]:
    """The input a model takes: pixel values (C, H, W) for vision configs, else token ids
    (default: the context length)."""
    image = getattr(config, "image_size", None)
    if image is not None and getattr(config, "num_channels", None) is not None:
        size = image if isinstance(image, (list, tuple)) else (image, image)
        return "image", (int(config.num_channels), int(size[0]), int(size[1]))
    for key in ("n_positions", "max_position_embeddings", "n_ctx", "seq_length"):
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            return "tokens", value
    return "tokens", 128
