"""What kind of model file a MODEL argument names, from its name (and, for ``.json``, its first keys).

Light on purpose: the command line asks this for every model it gets, so nothing here
imports torch, onnx, keras or numpy.

| kind | files |
| --- | --- |
| ``safetensors`` | ``*.safetensors`` (8-byte header length, JSON header, data) |
| ``safetensors-index`` | ``*.safetensors.index.json`` (sharded checkpoints: ``weight_map``) |
| ``gguf`` | ``*.gguf`` (llama.cpp) |
| ``onnx`` | ``*.onnx`` |
| ``keras`` | ``*.keras`` (a zip with ``config.json``), ``*.h5`` / ``*.hdf5`` (``model_config``), a Keras
  ``model.json`` (``class_name`` and ``config`` at the top) |
| ``pt2`` | ``*.pt2`` (``torch.export.save``) |
| ``torchscript`` | ``*.pt`` / ``*.pth`` / ``*.jit`` saved by ``torch.jit.save`` |
"""

from __future__ import annotations

import json
from pathlib import Path

#: kinds whose file holds tensors only (no graph): archcalc lists them instead of a per-layer table
CHECKPOINT_KINDS = ("safetensors", "safetensors-index", "gguf")
#: kinds that hold a graph: they go through the analysis like a spec
GRAPH_KINDS = ("onnx", "keras", "pt2", "torchscript")

_SUFFIXES = {
    ".safetensors": "safetensors",
    ".gguf": "gguf",
    ".onnx": "onnx",
    ".keras": "keras",
    ".h5": "keras",
    ".hdf5": "keras",
    ".pt2": "pt2",
    ".pt": "torchscript",
    ".pth": "torchscript",
    ".jit": "torchscript",
}


def model_file_kind(model: object) -> str | None:
    """The kind of model file ``model`` names (see the module's table), or None.

    A ``.json`` is a sharded checkpoint's index when its name ends ``.index.json`` or it has a
    ``weight_map``, and a Keras model when it has ``class_name`` and ``config``; any other JSON
    (a transformers ``config.json``) is none of these."""
    if not isinstance(model, (str, Path)) or "\n" in str(model) or "{" in str(model):
        return None  # an inline spec, never a file name
    try:
        if ":" in str(model) and not Path(str(model)).exists():
            return None
    except (OSError, ValueError):  # a name too long for the file system, a NUL: no file
        return None
    path = Path(str(model))
    name = path.name.lower()
    if name.endswith(".index.json") and ".safetensors" in name:
        return "safetensors-index"
    if name.endswith(".json"):
        return _json_kind(path)
    return _SUFFIXES.get(path.suffix.lower())


def _json_kind(path: Path) -> str | None:
    try:
        with path.open("rb") as handle:
            head = handle.read(1 << 16)
    except OSError:
        return None
    try:
        data = json.loads(head)
    except ValueError:
        text = head.decode("utf-8", "replace")
        if '"weight_map"' in text:
            return "safetensors-index"
        if '"class_name"' in text and '"config"' in text[:400]:
            return "keras"
        return None
    if isinstance(data, dict) and "weight_map" in data:
        return "safetensors-index"
    if isinstance(data, dict) and "class_name" in data and "config" in data:
        return "keras"
    return None


def is_checkpoint_file(model: object) -> bool:
    return model_file_kind(model) in CHECKPOINT_KINDS


def file_graph(model: str, kind: str, **options) -> tuple:
    """(Graph, extras for the analysis) of an ONNX, Keras, torch.export or TorchScript file."""
    if kind == "pt2":
        from archcalc.frontends.torch_files import pt2_graph

        return pt2_graph(model, options.get("input"), batch=options.get("batch", 1))
    if kind == "torchscript":
        from archcalc.frontends.torch_files import torchscript_graph

        return torchscript_graph(model, options.get("input"), batch=options.get("batch", 1))
    if kind == "onnx":
        from archcalc.frontends.onnx_model import onnx_graph

        return onnx_graph(model, options.get("input"), batch=options.get("batch", 1))
    from archcalc.frontends.keras_model import keras_graph

    return keras_graph(model, options.get("input"), strict=options.get("strict", False))
