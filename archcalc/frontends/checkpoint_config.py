"""A checkpoint's tensors against the model a transformers ``config.json`` describes.

The model is built on the meta device (:func:`archcalc.llm.hf.build_hf_model`, no weights); its
``state_dict()`` names every persistent tensor, tied ones under each of their names. Then:

* matched: in both, with the same number of elements (a different count is a *mismatch*);
* tied: absent from the checkpoint, but sharing its storage with a tensor that is there
  (``lm_head.weight`` tied to ``model.embed_tokens.weight``): safetensors stores it once;
* missing: absent, and not tied; unexpected: in the checkpoint, not in the model.

A checkpoint saved from the bare model (``h.0.attn...``) and a config whose class has a head
(``transformer.h.0.attn...``) differ by the model's ``base_model_prefix``: names are compared
with the prefix added or removed when that matches more of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

from archcalc.frontends.checkpoints import Checkpoint


@dataclass(frozen=True)
class ConfigMatch:
    """How a checkpoint's tensors meet the model of a config (each list: tensor names)."""

    model: str
    model_params: int
    matched: tuple[str, ...]
    mismatched: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...]
    tied: tuple[tuple[str, str], ...]
    missing: tuple[str, ...]
    unexpected: tuple[str, ...]
    prefix: str = ""

    @property
    def complete(self) -> bool:
        return not (self.mismatched or self.missing or self.unexpected)

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "model_params": self.model_params,
            "matched": len(self.matched),
            "mismatched": [{"name": n, "checkpoint": list(a), "model": list(b)} for n, a, b in self.mismatched],
            "tied": [{"name": n, "tied_to": t} for n, t in self.tied],
            "missing": list(self.missing),
            "unexpected": list(self.unexpected),
            "renamed": self.prefix,
        }


#: model classes tried, in this order, when the config names no ``architectures``
FALLBACK_CLASSES = ("AutoModelForCausalLM", "AutoModel", "AutoModelForMaskedLM", "AutoModelForImageClassification")


def match_config(checkpoint: Checkpoint, config: str) -> ConfigMatch:
    """Compare ``checkpoint`` with the model ``config`` (a config.json path) builds on meta: the
    class its ``architectures`` names, else the one of :data:`FALLBACK_CLASSES` whose tensor names
    cover most of the checkpoint."""
    import torch

    from archcalc.errors import InputError
    from archcalc.frontends import ModuleError

    if checkpoint.format.startswith("gguf"):
        raise InputError(f"{checkpoint.path}: --config matches transformers tensor names (safetensors); a GGUF "
                         "file names its tensors the llama.cpp way (blk.0.attn_q.weight)")
    from archcalc.llm.hf import _transformers, load_config

    transformers = _transformers()
    settings, _, model_class = load_config(config[3:] if config.startswith("hf:") else config)
    names = [model_class] if model_class and hasattr(transformers, model_class) else list(FALLBACK_CLASSES)
    best = None
    for name in names:
        cls = getattr(transformers, name)
        try:
            with torch.device("meta"):
                module = cls.from_config(settings) if name.startswith("Auto") else cls(settings)
        except Exception:  # noqa: BLE001  (a head this config has no mapping for: try the next)
            continue
        result = _compare(checkpoint, module)
        if best is None or len(result.matched) > len(best.matched):
            best = result
    if best is None:
        raise ModuleError(f"{config}: transformers builds no model of {', '.join(names)} from this config")
    return best


def _compare(checkpoint: Checkpoint, module) -> ConfigMatch:
    state = module.state_dict(keep_vars=True)
    shapes = {t.name: t.shape for t in checkpoint.tensors}
    rename = _best_renaming(getattr(module, "base_model_prefix", "") or "", shapes, state)
    names = {rename(name): name for name in shapes}
    matched, mismatched, tied, missing = [], [], [], []
    for name, tensor in state.items():
        if name in names:
            ours = shapes[names[name]]
            if prod(ours) == tensor.numel():
                matched.append(name)
            else:
                mismatched.append((name, ours, tuple(tensor.shape)))
            continue
        others = [n for n, t in state.items() if t is tensor and n != name and n in names]
        if others:
            tied.append((name, others[0]))
        else:
            missing.append(name)
    unexpected = [ours for model_name, ours in names.items() if model_name not in state]
    params = sum(p.numel() for p in module.parameters())  # tied parameters once
    return ConfigMatch(type(module).__name__, params, tuple(matched), tuple(mismatched), tuple(tied),
                       tuple(missing), tuple(unexpected), rename.note)


class _Renaming:
    """A checkpoint name -> the model's name: as it is, with ``base.`` added, or with it removed."""

    def __init__(self, base: str, mode: str) -> None:
        self.base, self.mode = base, mode
        self.note = {"add": f"{base}. added", "strip": f"{base}. removed"}.get(mode, "")

    def __call__(self, name: str) -> str:
        if self.mode == "add":
            return f"{self.base}.{name}"
        if self.mode == "strip" and name.startswith(self.base + "."):
            return name[len(self.base) + 1:]
        return name


def _best_renaming(base: str, shapes: dict, state: dict) -> _Renaming:
    """The renaming that names most of the checkpoint's tensors in the model."""
    options = [_Renaming(base, "same")] + ([_Renaming(base, "add"), _Renaming(base, "strip")] if base else [])
    return max(options, key=lambda r: sum(1 for n in shapes if r(n) in state))
