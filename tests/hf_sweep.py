"""A sweep of real architectures: every model type of ``transformers``, shrunk, against torch.

Plain functions, used by ``tests/test_hf_sweep.py`` and ``benchmarks/bench_sweep.py``.

For each model type in ``transformers.models.auto.configuration_auto.CONFIG_MAPPING``:

1. its default config, shrunk by :func:`shrink_config` (a generic, data-driven rule: layer
   counts to 1-2, widths, vocabulary and image sizes small), at the first of the levels in
   :data:`LEVELS` at which the model builds and its forward runs (:data:`OVERRIDES` names a
   few types that need another level or setting, each with its reason);
2. the model class: the base model of ``MODEL_MAPPING``, else the first other auto mapping
   that has one (:data:`FALLBACK_MAPPINGS`), else ``<Name>Model`` of a ``<Name>Config``
   (sub-model types such as ``clip_text_model``); a level whose model has over
   :data:`MAX_PARAMS` parameters (counted on meta) is not built;
3. real weights on the CPU (``torch.manual_seed(0)``), eval mode, and the inputs its
   ``forward`` needs (:func:`make_inputs`, from ``main_input_name`` and the signature): 8
   token ids (zeros, as archcalc makes them when a forward reads values), an image of the
   config's channels and (shrunk) size, audio samples or features, 4 decoder token ids for an
   encoder-decoder; where forward takes both, token ids and an image (CLIP, BLIP);
   ``use_cache=False`` where forward has it, so that outputs hold tensors only;
4. the truth from torch itself (:func:`torch_truth`): ``parameters()`` and ``buffers()``
   numel (each tensor once), every output tensor of a real forward (flattened, named),
   ``FlopCounterMode``'s total, which modules ran (forward pre-hooks) and which tensors an
   op read (a dispatch mode);
5. archcalc's report of the same module and inputs (:func:`analyze`), and a snapshot of the
   model before and after (:func:`snapshot`, :func:`changes`): the model must be unchanged.

A model that cannot be built or run this way raises :class:`Skip` with the reason; so does
one that takes over :data:`BUILD_SECONDS` CPU seconds to build or to measure.

``python tests/hf_sweep.py [--part I/N] [TYPE ...]`` prints one JSON line per model type
(:func:`summary`): what failed, and the seconds (wall and CPU) each stage took.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import inspect
import re
import signal
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

#: token ids per sample, and decoder token ids of encoder-decoder models
TOKENS = 8
DECODER_TOKENS = 4
#: CPU seconds one model may take to build and run, and to measure; over it, the model is skipped
BUILD_SECONDS = 20


class Skip(Exception):
    """The model cannot be built or run in the sweep: the message says why."""


class TooSlow(Skip):
    """The model ran past its time limit."""


# -- which model types ----------------------------------------------------------------------


def model_types() -> list[str]:
    """Every model type transformers registers a config for, sorted."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    return sorted(CONFIG_MAPPING_NAMES)


#: the auto mappings tried after MODEL_MAPPING, in order (task heads: the base model is best)
FALLBACK_MAPPINGS = (
    "MODEL_FOR_CAUSAL_LM_MAPPING_NAMES",
    "MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES",
    "MODEL_FOR_MASKED_LM_MAPPING_NAMES",
    "MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES",
    "MODEL_FOR_SPEECH_SEQ_2_SEQ_MAPPING_NAMES",
    "MODEL_FOR_CTC_MAPPING_NAMES",
    "MODEL_FOR_AUDIO_CLASSIFICATION_MAPPING_NAMES",
    "MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES",
    "MODEL_FOR_BACKBONE_MAPPING_NAMES",
    "MODEL_FOR_DEPTH_ESTIMATION_MAPPING_NAMES",
    "MODEL_FOR_SEMANTIC_SEGMENTATION_MAPPING_NAMES",
    "MODEL_FOR_IMAGE_TO_IMAGE_MAPPING_NAMES",
    "MODEL_FOR_OBJECT_DETECTION_MAPPING_NAMES",
    "MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES",
    "MODEL_FOR_TEXT_TO_SPECTROGRAM_MAPPING_NAMES",
    "MODEL_FOR_TEXT_TO_WAVEFORM_MAPPING_NAMES",
    "MODEL_FOR_PRETRAINING_MAPPING_NAMES",
    "MODEL_FOR_TIME_SERIES_PREDICTION_MAPPING_NAMES",
)


def model_class(model_type: str) -> tuple[type, str]:
    """The class to build for a model type and the auto mapping that named it."""
    import transformers
    from transformers.models.auto import modeling_auto

    for mapping in ("MODEL_MAPPING_NAMES", *FALLBACK_MAPPINGS):
        names = getattr(modeling_auto, mapping, {}).get(model_type)
        if not names:
            continue
        for name in (names,) if isinstance(names, str) else tuple(names):
            cls = getattr(transformers, name, None)
            if cls is not None:
                return cls, mapping.removesuffix("_NAMES")
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    # a sub-model type (clip_text_model: CLIPTextConfig -> CLIPTextModel)
    config_name = CONFIG_MAPPING_NAMES.get(model_type, "")
    if config_name.endswith("Config"):
        cls = getattr(transformers, config_name.removesuffix("Config") + "Model", None)
        if isinstance(cls, type) and issubclass(cls, nn.Module):
            return cls, "config class name"
    raise Skip("no model class in the auto mappings (config only, or a tokenizer/processor type)")


# -- shrinking a config -----------------------------------------------------------------------

#: shrink levels, tried in order: what each one makes small
LEVELS = ("tiny", "widths+inputs", "layers+inputs", "layers")
#: a level whose model (counted on meta first) has more parameters is not built
MAX_PARAMS = 30_000_000

_LAYER_COUNT = re.compile(r"^(n_layers?|num_layers?|num_hidden_layers|.*_layers|num_.*_layers|depth|.*_depth|"
                          r"num_blocks|num_.*_blocks|n_blocks)$")
_LAYER_LIST = re.compile(r"^(depths|.*_depths|num_layers|layers_per_block|num_blocks|block_repeats)$")
_PER_LAYER_LIST = re.compile(r"^(layer_types|.*_layer_types|block_types|mlp_only_layers|layers_block_type|"
                             r"attn_layer_indices|sliding_window_pattern_list)$")
_WIDTH = {"hidden_size", "d_model", "n_embd", "embed_dim", "d_embed", "dim", "hidden_dim", "embedding_size",
          "word_embed_proj_dim", "projection_dim", "encoder_hidden_size", "decoder_hidden_size", "emb_dim",
          "hidden_size_per_layer_input"}
_FFN = {"intermediate_size", "d_ff", "ffn_dim", "encoder_ffn_dim", "decoder_ffn_dim", "n_inner", "ffn_hidden_size",
        "mlp_dim", "moe_intermediate_size", "shared_expert_intermediate_size", "decoder_intermediate_size",
        "encoder_intermediate_size"}
_HEADS = {"num_attention_heads", "n_head", "n_heads", "num_heads", "encoder_attention_heads",
          "decoder_attention_heads", "decoder_num_attention_heads", "encoder_num_attention_heads"}
_KV_HEADS = {"num_key_value_heads", "n_kv_heads", "num_kv_heads", "multi_query_group_num"}
_HEAD_DIM = {"head_dim", "d_kv", "attention_head_dim", "kv_channels"}
_EXPERTS = {"num_experts", "num_local_experts", "n_routed_experts", "moe_num_experts"}
_EXPERTS_PER_TOKEN = {"num_experts_per_tok", "num_experts_per_token", "moe_topk", "top_k", "num_selected_experts"}
#: rotary and low-rank attention widths (DeepSeek's MLA, CodeGen's partial rotary): at most the head dim
_ROTARY = {"rotary_dim": 8, "qk_rope_head_dim": 8, "qk_nope_head_dim": 16, "v_head_dim": 16, "kv_lora_rank": 16,
           "q_lora_rank": 16, "rotary_emb_base_dim": 8}

WIDTH, FFN, HEADS, HEAD_DIM, VOCAB, IMAGE = 32, 64, 2, 16, 512, 32


def _special_ids(config) -> list[int]:
    """Token ids the config names (pad, bos, image token, ...): the vocabulary must hold them."""
    ids: list[int] = []
    for key, value in vars(config).items():
        if re.search(r"(_token_id|_token_index|_token_ids|_id)$", key):
            for v in value if isinstance(value, (list, tuple)) else (value,):
                if isinstance(v, int) and not isinstance(v, bool):
                    ids.append(v)
    return ids


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def shrink_config(config, level: str = "tiny"):
    """A copy of ``config``, shrunk at ``level`` (see :data:`LEVELS`): ``tiny``: 1-2 layers, small
    widths, vocabulary and images; ``widths+inputs``: the same but the layer counts (a model that
    indexes its layers, e.g. a backbone's ``out_indices``); ``layers+inputs``: 1-2 layers, small
    vocabulary and images, the default widths; ``layers``: 1-2 layers only.

    Generic by key name (the same names recur across transformers' configs); sub-configs
    (``text_config``, ``vision_config``, ``encoder``, ``backbone_config``, ...) are shrunk the
    same way. Per-layer lists (``layer_types``) are cut to the new layer count.
    """
    config = copy.deepcopy(config)
    _shrink(config, level, set())
    return config


def _shrink(config, level: str, seen: set[int]) -> None:
    """Shrink one config in place (and its sub-configs): see :func:`shrink_config`."""
    from transformers import PretrainedConfig

    if id(config) in seen:
        return
    seen.add(id(config))
    if level == "widths+inputs":  # the layer counts stay: the model indexes its layers
        for value in list(vars(config).values()):
            if isinstance(value, PretrainedConfig):
                _shrink(value, level, seen)
        _shrink_inputs(config)
        _shrink_widths(config)
        return
    _shrink_layers(config, level, seen)


def _shrink_layers(config, level: str, seen: set[int]) -> None:
    """Layer counts to 2, per-stage depths to 1, per-layer lists cut to match."""
    from transformers import PretrainedConfig

    attrs = vars(config)
    old_layers = {}
    for key, value in list(attrs.items()):
        if isinstance(value, PretrainedConfig):
            _shrink(value, level, seen)
        elif _is_int(value) and _LAYER_COUNT.match(key) and value > 2 and not key.startswith(("max_", "num_labels")):
            old_layers[value] = 2
            setattr(config, key, 2)
        elif isinstance(value, (list, tuple)) and value and all(_is_int(v) for v in value) and _LAYER_LIST.match(key):
            setattr(config, key, type(value)(min(v, 1) if v > 0 else v for v in value))
    for key, value in list(attrs.items()):
        if isinstance(value, (list, tuple)) and _PER_LAYER_LIST.match(key) and len(value) in old_layers:
            setattr(config, key, type(value)(value[:old_layers[len(value)]]))
    if level != "layers":
        _shrink_inputs(config)
    if level in ("tiny", "widths+inputs"):
        _shrink_widths(config)


def _shrink_inputs(config) -> None:
    """Vocabulary (keeping every special id inside it), image sizes (a few patches) and audio
    lengths (``max_source_positions``)."""
    attrs = vars(config)
    vocab = attrs.get("vocab_size")
    if _is_int(vocab) and vocab > VOCAB:
        needed = max([VOCAB - 1, *(i for i in _special_ids(config) if i < vocab)]) + 1
        config.vocab_size = needed
    positions = attrs.get("max_source_positions")  # Whisper takes exactly twice as many frames
    if _is_int(positions) and positions > 64:
        config.max_source_positions = 64
    image = attrs.get("image_size")
    patch = attrs.get("patch_size")
    patch = patch[0] if isinstance(patch, (list, tuple)) and patch else patch
    if _is_int(image) and image > IMAGE:
        config.image_size = max(IMAGE, 4 * patch) if _is_int(patch) else IMAGE * 2
    elif isinstance(image, (list, tuple)) and len(image) == 2 and all(_is_int(v) for v in image) and image[0] > IMAGE:
        size = max(IMAGE, 4 * patch) if _is_int(patch) else IMAGE * 2
        config.image_size = type(image)([size, size])


def _shrink_widths(config) -> None:
    """Widths: hidden WIDTH, feed-forward FFN, HEADS heads (KV heads dividing them), few experts."""
    attrs = vars(config)
    for key, value in list(attrs.items()):
        if not _is_int(value) or value <= 0:
            continue
        if key in _WIDTH and value > WIDTH:
            setattr(config, key, WIDTH)
        elif key in _FFN and value > FFN:
            setattr(config, key, FFN)
        elif key in _HEADS and value > HEADS:
            setattr(config, key, HEADS)
        elif key in _KV_HEADS and value > HEADS:  # HEADS divides HEADS (some need an even number)
            setattr(config, key, HEADS)
        elif key in _HEAD_DIM and value > HEAD_DIM:
            setattr(config, key, HEAD_DIM)
        elif key in _EXPERTS and value > 4:
            setattr(config, key, 4)
        elif key in _EXPERTS_PER_TOKEN and value > 2:
            setattr(config, key, 2)
        elif key in _ROTARY and value > _ROTARY[key]:
            setattr(config, key, _ROTARY[key])
        elif key in _STATE and value > 16:
            setattr(config, key, 16)
    _derived_widths(config, attrs)


#: state sizes of state-space layers (Mamba)
_STATE = {"state_size", "mamba_d_state", "ssm_state_size", "d_state"}


def _derived_widths(config, attrs: dict[str, Any]) -> None:
    """Widths other widths are computed from, kept consistent: MLA's ``qk_head_dim`` (nope + rope)
    and ``head_dim`` (= the rope part), Mamba's heads x head dim = expand x hidden."""
    if _is_int(attrs.get("qk_rope_head_dim")):
        if _is_int(attrs.get("qk_nope_head_dim")) and "qk_head_dim" in attrs:
            config.qk_head_dim = config.qk_nope_head_dim + config.qk_rope_head_dim
        if _is_int(attrs.get("head_dim")):
            config.head_dim = config.qk_rope_head_dim
    for groups in ("n_groups", "mamba_n_groups"):  # groups of heads: one (the heads are few now)
        if _is_int(attrs.get(groups)) and attrs[groups] > 1:
            setattr(config, groups, 1)
    for heads, head_dim, expand in (("mamba_n_heads", "mamba_d_head", "mamba_expand"),
                                    ("num_heads", "head_dim", "expand")):
        values = [attrs.get(heads), attrs.get(head_dim), attrs.get(expand), attrs.get("hidden_size")]
        if all(_is_int(v) for v in values) and values[1] > 0:
            setattr(config, heads, max(1, values[2] * values[3] // values[1]))


# -- per-type settings ----------------------------------------------------------------------


@dataclass(frozen=True)
class Override:
    """What one model type needs besides the generic shrink, and why."""

    reason: str
    levels: tuple[str, ...] = LEVELS
    config: dict[str, Any] = field(default_factory=dict)


#: model types that need their own setting (reason first)
OVERRIDES: dict[str, Override] = {
    "swin": Override("windows of 7 over 4 stages of patch 4 need the default 224 px image, and the heads "
                     "[3, 6, 12, 24] a width they divide: 48, not 32", levels=("layers",),
                     config={"embed_dim": 48, "mlp_ratio": 2.0}),
}


# -- inputs ---------------------------------------------------------------------------------


def _first(config, *keys, default=None):
    """The first of ``keys`` the config (or its vision / audio sub-config) sets."""
    for holder in (config, getattr(config, "vision_config", None), getattr(config, "audio_config", None),
                   getattr(config, "encoder", None)):
        if holder is None:
            continue
        for key in keys:
            value = getattr(holder, key, None)
            if value is not None:
                return value
    return default


def _image(config) -> tuple[int, int, int]:
    channels = _first(config, "num_channels", "in_channels", "input_channels", default=3)
    size = _first(config, "image_size", "img_size", "input_size", default=64)
    if isinstance(size, (list, tuple)):
        size = tuple(size)[-2:] if len(size) >= 2 else (size[0], size[0])
    else:
        size = (size, size)
    if not (_is_int(channels) and all(_is_int(s) for s in size)):
        raise Skip(f"image input of unknown size (channels {channels!r}, size {size!r})")
    return channels, size[0], size[1]


def make_inputs(model: nn.Module, config, every_modality: bool = False) -> dict[str, torch.Tensor]:
    """The keyword inputs of one forward at batch 1, from ``main_input_name`` and the signature;
    ``every_modality``: token ids and an image both, where forward takes both (CLIP, BLIP)."""
    signature = inspect.signature(model.forward)
    params = signature.parameters
    main = getattr(model, "main_input_name", "input_ids")
    inputs: dict[str, torch.Tensor] = {}
    vocab = _first(config, "vocab_size", default=None)
    text_vocab = getattr(getattr(config, "text_config", None), "vocab_size", None) or vocab
    if main == "input_ids" and not _is_int(text_vocab) and "pixel_values" in params:
        main = "pixel_values"  # a vision encoder that keeps the default main_input_name
    if main == "input_ids" or (main not in params and "input_ids" in params):
        if not _is_int(text_vocab):
            raise Skip("token ids of a model without a vocab_size")
        inputs["input_ids"] = _token_ids(TOKENS, text_vocab)
    elif main == "pixel_values":
        channels, h, w = _image(config)
        frames = _first(config, "num_frames", default=None)
        shape = (1, frames, channels, h, w) if _is_int(frames) else (1, channels, h, w)
        inputs["pixel_values"] = torch.randn(shape)
    elif main == "input_values":
        bins, length = _first(config, "num_mel_bins", default=None), _first(config, "max_length", default=None)
        if _is_int(bins) and _is_int(length):
            inputs["input_values"] = torch.randn(1, length, bins)
        else:
            inputs["input_values"] = torch.randn(1, 3200)
    elif main == "input_features":
        bins, positions = _first(config, "num_mel_bins", default=None), _first(config, "max_source_positions")
        per_channel = _first(config, "input_feat_per_channel", "feature_size", default=None)
        projection = _first(config, "feature_projection_input_dim", default=None)
        if _is_int(bins) and _is_int(positions):
            inputs["input_features"] = torch.randn(1, bins, 2 * positions)
        elif _is_int(per_channel):
            channels = _first(config, "input_channels", default=1)
            inputs["input_features"] = torch.randn(1, 32, per_channel * channels)
        elif _is_int(projection):
            inputs["input_features"] = torch.randn(1, 32, projection)
        else:
            raise Skip("audio features of unknown size")
    elif main in params:
        raise Skip(f"main input {main!r}: no rule to make it")
    else:
        raise Skip(f"main input {main!r} is not a forward argument")
    if every_modality:
        if "pixel_values" in params and "pixel_values" not in inputs:
            channels, h, w = _image(config)
            inputs["pixel_values"] = torch.randn(1, channels, h, w)
        if "input_ids" in params and "input_ids" not in inputs and _is_int(text_vocab):
            inputs["input_ids"] = _token_ids(TOKENS, text_vocab)
    if getattr(config, "is_encoder_decoder", False) and "decoder_input_ids" in params:
        decoder_vocab = getattr(getattr(config, "decoder", None), "vocab_size", None) or text_vocab
        if _is_int(decoder_vocab):
            inputs["decoder_input_ids"] = _token_ids(DECODER_TOKENS, decoder_vocab)
    required = [name for name, p in params.items()
                if p.default is inspect.Parameter.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
                and name not in inputs]
    if required:
        raise Skip(f"forward requires {', '.join(required)}")
    return inputs


def _token_ids(length: int, vocab: int) -> torch.Tensor:
    """Zeros: valid for any embedding, and the ids archcalc itself makes when a forward reads
    values (a mixture of experts routes on them: the same ids, the same experts)."""
    return torch.zeros(1, length, dtype=torch.int64)


def call_options(model: nn.Module) -> dict[str, Any]:
    """Plain keyword options of every forward: no cache object in the output."""
    params = inspect.signature(model.forward).parameters
    return {"use_cache": False} if "use_cache" in params else {}


def batched(inputs: dict[str, torch.Tensor], batch: int) -> dict[str, torch.Tensor]:
    return {k: v.repeat(batch, *([1] * (v.dim() - 1))) for k, v in inputs.items()}


# -- building -------------------------------------------------------------------------------


@dataclass
class Built:
    model_type: str
    model: nn.Module
    config: Any
    inputs: dict[str, torch.Tensor]
    options: dict[str, Any]
    level: str
    mapping: str
    seconds: float


@contextlib.contextmanager
def time_limit(seconds: float, what: str):
    """Raise TooSlow when the block uses more than ``seconds`` of CPU time (SIGPROF, so that a
    loaded machine does not skip models; checked between Python bytecodes, main thread only)."""
    if seconds <= 0 or not hasattr(signal, "SIGPROF"):
        yield
        return

    def expired(signum, frame):
        raise TooSlow(f"{what} took over {seconds:g} CPU seconds")

    previous = signal.signal(signal.SIGPROF, expired)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


def quiet():
    """Silence the warnings and logs transformers gives while building tiny models."""
    stack = contextlib.ExitStack()
    stack.enter_context(warnings.catch_warnings())
    warnings.simplefilter("ignore")
    try:
        from transformers.utils import logging as hf_logging

        level = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()
        stack.callback(hf_logging.set_verbosity, level)
    except ImportError:  # pragma: no cover
        pass
    return stack


def build(model_type: str, seconds: float = BUILD_SECONDS) -> Built:
    """The shrunk model with real weights (seed 0, CPU, eval) and the inputs its forward runs on;
    raises Skip with the reason when no level builds and runs."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    start = time.perf_counter()
    override = OVERRIDES.get(model_type, Override(""))
    cls, mapping = model_class(model_type)
    try:
        with quiet():
            default = CONFIG_MAPPING[model_type]()
    except Exception as error:  # noqa: BLE001
        raise Skip(f"default config does not build: {_said(error)}") from None
    errors = []
    with time_limit(seconds, "building and running"), quiet():
        for level in override.levels:
            try:
                config = shrink_config(default, level)
                for key, value in override.config.items():
                    setattr(config, key, value)
                with torch.device("meta"):
                    size = sum(p.numel() for p in cls(config).parameters())
                if size > MAX_PARAMS:
                    errors.append(f"{level}: {size:,} parameters")
                    continue
                torch.manual_seed(0)
                model = cls(config).eval()
                options = call_options(model)
            except TooSlow:
                raise
            except Exception as error:  # noqa: BLE001  (this level does not build: try the next)
                errors.append(f"{level}: {_said(error)}")
                continue
            for every_modality in (False, True):
                try:
                    inputs = make_inputs(model, config, every_modality)
                    with torch.no_grad():
                        out = model(**inputs, **options)
                    if not flatten_outputs(out):
                        raise Skip(f"forward returns no tensor the sweep can read ({type(out).__name__})")
                except TooSlow:
                    raise
                except Skip as skip:
                    errors.append(f"{level}: {skip}")
                    continue
                except Exception as error:  # noqa: BLE001  (this level does not run: try the next)
                    errors.append(f"{level}{' (every input)' if every_modality else ''}: {_said(error)}")
                    continue
                return Built(model_type, model, config, inputs, options, level, mapping,
                             time.perf_counter() - start)
    raise Skip("does not build or run at any level (" + "; ".join(_distinct(errors))[:400] + ")")


def _distinct(errors: list[str]) -> list[str]:
    """The errors, each message once (the first level that gave it)."""
    seen, kept = set(), []
    for error in errors:
        message = error.partition(": ")[2]
        if message not in seen:
            seen.add(message)
            kept.append(error)
    return kept


def _said(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text[:150]}"


# -- the truth from torch -------------------------------------------------------------------


def flatten_outputs(out: Any, prefix: str = "") -> dict[str, tuple[int, ...]]:
    """Every tensor of a forward's output, by name (ModelOutput keys, tuple / list indices)."""
    shapes: dict[str, tuple[int, ...]] = {}
    if isinstance(out, torch.Tensor):
        shapes[prefix or "output"] = tuple(out.shape)
    elif isinstance(out, dict):  # ModelOutput is an OrderedDict of its non-None fields
        for key, value in out.items():
            shapes.update(flatten_outputs(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(out, (list, tuple)):
        for index, value in enumerate(out):
            shapes.update(flatten_outputs(value, f"{prefix}.{index}" if prefix else str(index)))
    return shapes


class _Reads(TorchDispatchMode):
    """The storages of every tensor an aten op reads (argument) during a forward."""

    def __init__(self) -> None:
        super().__init__()
        self.storages: set[int] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        for value in torch.utils._pytree.tree_leaves((args, kwargs or {})):
            if isinstance(value, torch.Tensor) and value.device.type != "meta":
                with contextlib.suppress(Exception):
                    self.storages.add(value.untyped_storage().data_ptr())
        return func(*args, **(kwargs or {}))


@dataclass
class Truth:
    params: int
    buffers: int
    flops: dict[int, int]
    outputs: dict[int, dict[str, tuple[int, ...]]]
    #: paths of modules whose forward ran; storages that ops read
    ran: set[str]
    read: set[int]
    #: the first output tensor's values at batch 1 (to check the model still computes them)
    first_output: torch.Tensor | None


def tensor_count(model: nn.Module) -> tuple[int, int]:
    """(parameters, buffers): numel of each tensor once (``parameters()`` / ``buffers()`` dedupe)."""
    return sum(p.numel() for p in model.parameters()), sum(b.numel() for b in model.buffers())


def run_forward(model: nn.Module, inputs: dict[str, torch.Tensor], options: dict[str, Any]):
    """One forward on torch's reference paths (see tests/torch_truth.py): grad mode (no fused
    fast paths; and FlopCounterMode's module tracker fails under ``no_grad`` on a view of a
    parameter, "Expected gradient function to be set", torch 2.13), the math attention backend
    (the CPU flash kernel has no FLOP formula). The outputs come back detached."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    with torch.enable_grad(), sdpa_kernel(SDPBackend.MATH), quiet():
        out = model(**inputs, **options)
    return torch.utils._pytree.tree_map(lambda v: v.detach() if isinstance(v, torch.Tensor) else v, out)


def torch_truth(built: Built, batches: tuple[int, ...] = (1, 2)) -> Truth:
    """Parameters, buffers, outputs and FlopCounterMode totals at each batch, modules that ran
    and tensors read, from torch alone."""
    model = built.model
    params, buffers = tensor_count(model)
    flops, outputs = {}, {}
    first = None
    paths = {id(m): p for p, m in model.named_modules(remove_duplicate=False)}
    ran: set[str] = set()
    reads = _Reads()

    def pre_hook(module, args):
        path = paths.get(id(module))
        if path is not None:
            ran.add(path)

    for batch in batches:
        counter = FlopCounterMode(display=False)
        hook = torch.nn.modules.module.register_module_forward_pre_hook(pre_hook) if batch == batches[0] else None
        try:
            torch.manual_seed(0)  # models that draw random numbers in eval (ViT-MAE masks, VITS noise)
            with counter, (reads if batch == batches[0] else contextlib.nullcontext()):
                out = run_forward(model, batched(built.inputs, batch), built.options)
        finally:
            if hook is not None:
                hook.remove()
        flops[batch] = int(counter.get_total_flops())
        outputs[batch] = flatten_outputs(out)
        if batch == batches[0]:
            first = _first_tensor(out)
    return Truth(params, buffers, flops, outputs, ran, reads.storages, first)


def _first_tensor(out: Any) -> torch.Tensor | None:
    if isinstance(out, torch.Tensor):
        return out.detach().clone()
    values = out.values() if isinstance(out, dict) else out if isinstance(out, (list, tuple)) else ()
    for value in values:
        found = _first_tensor(value)
        if found is not None:
            return found
    return None


# -- the model is unchanged -----------------------------------------------------------------


@dataclass
class Snapshot:
    state: dict[str, tuple[int, str, torch.dtype, torch.Tensor | None]]
    named: dict[str, int]
    training: dict[str, bool]
    hooks: dict[str, tuple[int, ...]]
    global_hooks: tuple[int, ...]


_HOOK_DICTS = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks",
               "_state_dict_hooks", "_state_dict_pre_hooks", "_load_state_dict_pre_hooks",
               "_load_state_dict_post_hooks")


def _global_hooks() -> tuple[int, ...]:
    module = torch.nn.modules.module
    return tuple(len(getattr(module, name, {})) for name in (
        "_global_forward_hooks", "_global_forward_pre_hooks", "_global_backward_hooks",
        "_global_backward_pre_hooks", "_global_module_registration_hooks",
        "_global_parameter_registration_hooks", "_global_buffer_registration_hooks"))


def snapshot(model: nn.Module) -> Snapshot:
    """What must not change: state_dict tensors (identity, device, dtype, values), every
    parameter and buffer under every name, training flags, hooks (per module and global)."""
    state = {
        name: (id(t), str(t.device), t.dtype, t.detach().clone() if t.device.type != "meta" else None)
        for name, t in model.state_dict(keep_vars=True).items()
    }
    named = {f"p:{n}": id(p) for n, p in model.named_parameters(remove_duplicate=False)}
    named.update({f"b:{n}": id(b) for n, b in model.named_buffers(remove_duplicate=False)})
    training = {p: m.training for p, m in model.named_modules(remove_duplicate=False)}
    hooks = {p: tuple(len(getattr(m, h, {}) or {}) for h in _HOOK_DICTS)
             for p, m in model.named_modules(remove_duplicate=False)}
    return Snapshot(state, named, training, hooks, _global_hooks())


def changes(before: Snapshot, model: nn.Module) -> list[str]:
    """How ``model`` differs from ``before`` (empty: unchanged)."""
    after = snapshot(model)
    found = []
    if set(before.state) != set(after.state):
        found.append(f"state_dict keys differ: {sorted(set(before.state) ^ set(after.state))[:3]}")
    for name, (ident, device, dtype, value) in before.state.items():
        if name not in after.state:
            continue
        ident2, device2, dtype2, value2 = after.state[name]
        if ident != ident2:
            found.append(f"{name}: another tensor object")
        if device != device2 or dtype != dtype2:
            found.append(f"{name}: {device}/{dtype} -> {device2}/{dtype2}")
        elif value is not None and value2 is not None and not torch.equal(value, value2):
            found.append(f"{name}: values changed")
    if before.named != after.named:
        diff = sorted(k for k in set(before.named) | set(after.named) if before.named.get(k) != after.named.get(k))
        found.append(f"parameters/buffers under other names or objects: {diff[:3]}")
    if before.training != after.training:
        found.append("training flags changed")
    if before.hooks != after.hooks:
        found.append("module hooks changed")
    if before.global_hooks != after.global_hooks:
        found.append("global module hooks changed")
    return found


# -- archcalc -------------------------------------------------------------------------------


def analyze(built: Built, batch: int, convention: str = "torch"):
    """archcalc's report under ``convention`` (the ``torch`` preset by default): the same keyword
    inputs (per sample), batch ``batch``."""
    import archcalc

    kwargs: dict[str, Any] = {k: ((tuple(v.shape[1:]), str(v.dtype).removeprefix("torch.")))
                              for k, v in built.inputs.items()}
    kwargs.update(built.options)
    with quiet():
        return archcalc.analyze(built.model, None, kwargs=kwargs, convention=convention, batch=batch)


def report_outputs(report, batch: int) -> dict[str, tuple[int, ...]] | None:
    """The output shapes the report gives, by name, batch included (``Report.outputs``: named
    outputs with ``batch_shape(batch)``, or per-sample ``shape`` with the batch first); None
    when it gives only ``output_shape``."""
    outputs = getattr(report, "outputs", None)
    if not outputs:
        return None
    shapes = {}
    for output in outputs:
        if hasattr(output, "batch_shape"):
            shapes[str(output.name)] = tuple(output.batch_shape(batch))
        else:
            shapes[str(output.name)] = (batch, *output.shape)
    return shapes


# -- one case -------------------------------------------------------------------------------


@dataclass
class Case:
    """Everything the tests compare for one model type."""

    built: Built
    truth: Truth
    reports: dict[int, Any]
    errors: dict[int, str]
    changed: list[str]
    #: the first forward after the analysis: an error, or whether the first output still matches
    after_forward: str | None
    seconds_truth: float
    seconds_archcalc: float


def run_case(model_type: str) -> Case:
    """Build, measure with torch, analyse with archcalc at batch 1 and 2, check the model after."""
    built = build(model_type)
    start = time.perf_counter()
    try:
        with time_limit(BUILD_SECONDS, "the torch truth"):
            truth = torch_truth(built)
    except TooSlow:
        raise
    except Exception as error:  # noqa: BLE001  (e.g. FlopCounterMode's module tracker on reformer)
        raise Skip(f"the torch truth fails: {_said(error)}") from None
    seconds_truth = time.perf_counter() - start
    before = snapshot(built.model)
    reports, errors = {}, {}
    start = time.perf_counter()
    for batch in (1, 2):
        try:
            reports[batch] = analyze(built, batch)
        except Exception as error:  # noqa: BLE001  (recorded: the tests say which)
            errors[batch] = _said(error)
    seconds_archcalc = time.perf_counter() - start
    changed = changes(before, built.model)
    after = None
    try:
        torch.manual_seed(0)  # the same random numbers as the truth's first forward
        out = _first_tensor(run_forward(built.model, built.inputs, built.options))
        if truth.first_output is not None and (out is None or not torch.equal(out, truth.first_output)):
            after = "the first output differs from the one before the analysis"
    except Exception as error:  # noqa: BLE001
        after = f"forward fails after the analysis: {_said(error)}"
    return Case(built, truth, reports, errors, changed, after, seconds_truth, seconds_archcalc)


@functools.lru_cache(maxsize=None)
def case(model_type: str) -> Case:
    """run_case, once per process (the tests of one model type share it)."""
    return run_case(model_type)


# -- the checks -----------------------------------------------------------------------------


def module_tensors(model: nn.Module, path: str) -> tuple[nn.Module | None, list[torch.Tensor]]:
    try:
        module = model.get_submodule(path) if path else model
    except AttributeError:
        return None, []
    return module, list(module.parameters()) + list(module.buffers())


def wrongly_not_called(c: Case, batch: int = 1) -> list[str]:
    """Modules the report calls "not called" that ran, or whose tensors an op read."""
    report = c.reports.get(batch)
    if report is None:
        return []
    wrong = []
    for unused in report.not_called:
        path = unused.module
        ran = path in c.truth.ran or any(p.startswith(path + ".") for p in c.truth.ran)
        _, tensors = module_tensors(c.built.model, path)
        read = [t for t in tensors if t.device.type != "meta" and t.untyped_storage().data_ptr() in c.truth.read]
        if ran or read:
            wrong.append(f"{path} ({'ran' if ran else f'{len(read)} of its tensors read'})")
    return wrong


def flops_problem(c: Case, batch: int) -> str | None:
    if batch in c.errors:
        return f"archcalc failed: {c.errors[batch]}"
    got, want = c.reports[batch].totals.flops, c.truth.flops[batch]
    if got != want:
        share = f" ({(got - want) / want:+.1%})" if want else ""
        return f"batch {batch}: archcalc {got:,} vs FlopCounterMode {want:,}{share}"
    return None


def shape_problem(c: Case, batch: int = 1) -> str | None:
    """The report's outputs against the real forward's: all of them, by name, when the report
    names them; else its ``output_shape`` against the first output's per-sample shape."""
    if batch in c.errors:
        return f"archcalc failed: {c.errors[batch]}"
    report = c.reports[batch]
    truth = c.truth.outputs[batch]
    given = report_outputs(report, batch)
    if given is not None:
        if len(truth) == 1 and len(given) == 1:  # one tensor returned: its name is the tool's choice
            given, truth = list(given.values()), list(truth.values())
        return None if given == truth else f"batch {batch}: outputs {given} vs torch {truth}"
    name, first = next(iter(truth.items()))
    got = tuple(report.output_shape)
    if got != tuple(first[1:]):
        other = next((n for n, s in truth.items() if n != name and tuple(s[1:]) == got), None)
        said = f" (the shape of {other})" if other else ""
        return f"batch {batch}: output_shape {list(got)} vs torch {name} {list(first[1:])}{said}"
    return None


def warnings_of(c: Case, batch: int = 1) -> list[str]:
    """The warnings a user sees printed as ``warning:`` (intended roundings and notes that say how
    something was read, such as a whole-batch analysis, are not faults)."""
    from archcalc.render.warnings import NOTE_KINDS

    report = c.reports.get(batch)
    if report is None:
        return []
    return [str(w) for w in report.warnings if not getattr(w, "intended", False) and w.kind not in NOTE_KINDS]


# -- the checks, by aspect (each: the problems found, empty when right) ---------------------

ASPECTS = ("params", "buffers", "flops", "shape", "unchanged", "not_called", "warnings")


def _failed(case: Case) -> list[str]:
    return [f"archcalc failed at batch {b}: {e}" for b, e in sorted(case.errors.items())]


def check_params(case: Case) -> list[str]:
    if case.errors:
        return _failed(case)
    got = {b: r.totals.params for b, r in case.reports.items()}
    return [f"batch {b}: params {n:,} vs torch {case.truth.params:,}" for b, n in got.items() if n != case.truth.params]


def check_buffers(case: Case) -> list[str]:
    if case.errors:
        return _failed(case)
    got = {b: r.totals.buffers for b, r in case.reports.items()}
    return [f"batch {b}: buffers {n:,} vs torch {case.truth.buffers:,}"
            for b, n in got.items() if n != case.truth.buffers]


def check_flops(case: Case) -> list[str]:
    return [p for p in (flops_problem(case, b) for b in (1, 2)) if p]


def check_shape(case: Case) -> list[str]:
    return [p for p in (shape_problem(case, b) for b in (1, 2)) if p]


def check_unchanged(case: Case) -> list[str]:
    return case.changed + ([case.after_forward] if case.after_forward else [])


def check_not_called(case: Case) -> list[str]:
    if case.errors:
        return _failed(case)
    wrong = wrongly_not_called(case)
    return [f"said never called: {', '.join(wrong)}"] if wrong else []


def check_warnings(case: Case) -> list[str] | None:
    """No warning on a model archcalc counts exactly (None: not exact, the other checks say why)."""
    if case.errors or check_flops(case) or check_shape(case):
        return None
    said = warnings_of(case)
    return [f"warnings on an exact model: {' | '.join(w[:160] for w in said)}"] if said else []


CHECKS = {
    "params": check_params,
    "buffers": check_buffers,
    "flops": check_flops,
    "shape": check_shape,
    "unchanged": check_unchanged,
    "not_called": check_not_called,
    "warnings": check_warnings,
}


def summary(model_type: str) -> dict[str, Any]:
    """One model type's outcome as plain data: skipped (why) or the problems of each aspect,
    with the seconds each stage took (CPU seconds too: the machine may be shared)."""
    start, cpu = time.perf_counter(), time.process_time()
    record: dict[str, Any] = {"type": model_type}
    try:
        c = case(model_type)
    except Skip as skip:
        record.update(status="skip", reason=str(skip))
    else:
        record.update(status="ok", level=c.built.level, cls=type(c.built.model).__name__, mapping=c.built.mapping,
                      inputs={k: list(v.shape) for k, v in c.built.inputs.items()}, params=c.truth.params,
                      flops=c.truth.flops[1], build_s=round(c.built.seconds, 2), truth_s=round(c.seconds_truth, 2),
                      archcalc_s=round(c.seconds_archcalc, 2),
                      problems={aspect: CHECKS[aspect](c) for aspect in ASPECTS})
    record.update(seconds=round(time.perf_counter() - start, 2), cpu_seconds=round(time.process_time() - cpu, 2))
    return record


def main(argv: list[str] | None = None) -> None:
    """``python tests/hf_sweep.py [--part I/N] [TYPE ...]``: one JSON line per model type."""
    import json
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    index, count = 0, 1
    if "--part" in args:
        at = args.index("--part")
        index, count = (int(v) for v in args[at + 1].split("/"))
        del args[at:at + 2]
    types = (args or model_types())[index::count]
    for model_type in types:
        try:
            record = summary(model_type)
        except Exception as error:  # noqa: BLE001  (a fault of the sweep itself: say so, go on)
            record = {"type": model_type, "status": "error", "reason": _said(error)}
        print(json.dumps(record, default=str), flush=True)
        case.cache_clear()


if __name__ == "__main__":
    main()
