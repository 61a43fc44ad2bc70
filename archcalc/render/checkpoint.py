"""A checkpoint's header as text: totals, dtypes (GGUF quantisation types), parameters per module
prefix, every tensor on request, and how it meets a config. Formatting only."""

from __future__ import annotations

import json
from typing import Any

from archcalc.render.units import count, nbytes

#: the most prefix rows shown before the prefixes are cut one level shallower
MAX_PREFIX_ROWS = 40


def prefix_depth(checkpoint, depth: int | None) -> int | None:
    """``depth`` when given; else the deepest cut with at most :data:`MAX_PREFIX_ROWS` rows
    (None: whole module names)."""
    if depth is not None:
        return depth
    if len(checkpoint.by_prefix()) <= MAX_PREFIX_ROWS:
        return None
    deepest = max((t.module.count(".") + 1 for t in checkpoint.tensors), default=1)
    for cut in range(deepest, 0, -1):
        if len(checkpoint.by_prefix(cut)) <= MAX_PREFIX_ROWS:
            return cut
    return 1


def checkpoint_lines(checkpoint, match=None, *, depth: int | None = None, exact: bool = False,
                     verbose: bool = False) -> list[str]:
    """The lines ``archcalc FILE`` prints for a checkpoint."""
    lines = [f"{checkpoint.path}: {checkpoint.format}, {len(checkpoint.tensors):,} tensors"
             + (f" in {len(checkpoint.files)} shards" if len(checkpoint.files) > 1 else ""),
             f"parameters {count(checkpoint.params, exact)} ({checkpoint.params:,}), "
             f"{nbytes(checkpoint.nbytes, exact)} of tensor data (header only read)"]
    described = metadata_line(checkpoint.metadata)
    lines += [described, ""] if described else [""]
    lines.append("dtype" if not checkpoint.format.startswith("gguf") else "type (ggml quantisation)")
    for dtype, (tensors, params) in sorted(checkpoint.dtypes().items(), key=lambda kv: -kv[1][1]):
        lines.append(f"  {dtype:<10} {tensors:>6,} tensor{'s' if tensors != 1 else ' '} {count(params, exact):>10} "
                     "parameters")
    cut = prefix_depth(checkpoint, depth)
    rows = checkpoint.by_prefix(cut)
    width = min(max(len(p) for p in rows), 60)
    lines += ["", f"{'module prefix' + (f' (depth {cut})' if cut else ''):<{width}}  {'parameters':>12}  {'bytes':>12}"]
    for prefix, (params, size) in rows.items():
        lines.append(f"{prefix:<{width}}  {count(params, exact):>12}  {nbytes(size, exact):>12}")
    if verbose:
        lines += ["", "tensors (shape in PyTorch's order)"]
        for t in checkpoint.tensors:
            lines.append(f"  {t.name}  {t.dtype}  {'x'.join(map(str, t.shape)) or 'scalar'}  {t.numel:,}")
    if match is not None:
        lines += ["", *match_lines(match, checkpoint)]
    return lines


def metadata_line(metadata: dict) -> str:
    """GGUF's architecture and its main sizes (``llama.block_count``...), or safetensors' format."""
    arch = metadata.get("general.architecture")
    if arch:
        keys = ("block_count", "embedding_length", "context_length", "attention.head_count", "vocab_size")
        sizes = ", ".join(f"{key.split('.')[-1]} {metadata[f'{arch}.{key}']}" for key in keys
                          if f"{arch}.{key}" in metadata)
        name = metadata.get("general.name")
        return f"architecture {arch}" + (f" ({name})" if name else "") + (f": {sizes}" if sizes else "")
    if "format" in metadata:
        return f"metadata: format {metadata['format']}"
    return ""


def match_lines(match, checkpoint) -> list[str]:
    lines = [f"against the config's {match.model} ({match.model_params:,} parameters, tied ones once): "
             f"{len(match.matched)} tensors match" + (f" ({match.prefix} in the names)" if match.prefix else "")]
    for name, tied_to in match.tied:
        lines.append(f"  tied: {name} is {tied_to} (stored once)")
    for name, ours, theirs in match.mismatched:
        lines.append(f"  mismatch: {name}: checkpoint {list(ours)}, model {list(theirs)}")
    shown = 10
    for what, names in (("missing", match.missing), ("unexpected", match.unexpected)):
        for name in names[:shown]:
            lines.append(f"  {what}: {name}")
        if len(names) > shown:
            lines.append(f"  ... {len(names) - shown} more {what}")
    if match.complete:
        lines.append("  the checkpoint holds every tensor of the model"
                     + (" (tied ones once)" if match.tied else ""))
    return lines


def checkpoint_json(checkpoint, match=None) -> str:
    data: dict[str, Any] = checkpoint.to_dict()
    if match is not None:
        data["config_match"] = match.to_dict()
    return json.dumps(data, indent=2, default=str)
