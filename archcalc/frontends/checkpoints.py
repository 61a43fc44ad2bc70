"""Checkpoint headers: the tensors of a ``.safetensors``, a sharded ``model.safetensors.index.json``
or a ``.gguf`` file, read from the header alone; the weights are never read.

* safetensors (https://github.com/huggingface/safetensors, "Format"): 8 bytes, a little-endian
  unsigned 64-bit N; N bytes of JSON ``{name: {"dtype", "shape", "data_offsets": [begin, end]}}``
  (and an optional ``__metadata__`` of strings); then the data, offsets relative to its start.
  A tensor's bytes are ``end - begin`` = prod(shape) x the dtype's size.
* a sharded checkpoint: ``{"metadata": {...}, "weight_map": {tensor: shard file}}``; each shard's
  header is read the same way.
* GGUF (ggml's docs/gguf.md): ``"GGUF"``, version (u32), tensor count (u64), key/value count
  (u64), the key/values, then per tensor: name, n_dims (u32), dims (u64 each, ggml's order: the
  innermost first), ggml type (u32), offset (u64). A tensor of a block-quantised type holds
  numel / block_size blocks of type_size bytes (``gguf.GGML_QUANT_SIZES``). The file is
  memory-mapped and walked from its start; the tensor data after the header is never touched.

Shapes are given in PyTorch's order (a GGUF shape is ggml's reversed).
"""

from __future__ import annotations

import json
import mmap
import struct
from dataclasses import dataclass, field
from math import prod
from pathlib import Path
from typing import Any

from archcalc.errors import InputError

#: safetensors dtype -> bytes per element (the format's list; F8 variants are one byte)
SAFETENSORS_DTYPE_BYTES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "F8_E8M0": 1, "I16": 2, "U16": 2, "F16": 2,
    "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8, "C64": 8,
}
#: a header larger than this is refused as damaged (the format's own limit is 100 MB)
MAX_HEADER_BYTES = 100_000_000


@dataclass(frozen=True)
class CheckpointTensor:
    """One tensor as its header describes it (``shape`` in PyTorch's order)."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    nbytes: int
    file: str = ""

    @property
    def numel(self) -> int:
        return prod(self.shape)

    @property
    def module(self) -> str:
        """The module prefix: the name less its last component (``model.layers.0.mlp.up_proj``)."""
        return self.name.rpartition(".")[0]


@dataclass(frozen=True)
class Checkpoint:
    """The tensors of a checkpoint file, its format and metadata."""

    path: str
    format: str
    tensors: tuple[CheckpointTensor, ...]
    metadata: dict[str, Any] = field(default_factory=dict)
    files: tuple[str, ...] = ()

    @property
    def params(self) -> int:
        return sum(t.numel for t in self.tensors)

    @property
    def nbytes(self) -> int:
        return sum(t.nbytes for t in self.tensors)

    def dtypes(self) -> dict[str, tuple[int, int]]:
        """dtype (or GGUF quantisation type) -> (tensors, parameters)."""
        out: dict[str, tuple[int, int]] = {}
        for t in self.tensors:
            count, numel = out.get(t.dtype, (0, 0))
            out[t.dtype] = (count + 1, numel + t.numel)
        return out

    def by_prefix(self, depth: int | None = None) -> dict[str, tuple[int, int]]:
        """Module prefix -> (parameters, bytes): the prefix cut to ``depth`` dotted components
        (None: the whole module name), in the order the prefixes first appear."""
        out: dict[str, tuple[int, int]] = {}
        for t in self.tensors:
            prefix = t.module or "(top level)"
            if depth is not None:
                prefix = ".".join(prefix.split(".")[:depth])
            numel, nbytes = out.get(prefix, (0, 0))
            out[prefix] = (numel + t.numel, nbytes + t.nbytes)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "format": self.format,
            "params": self.params,
            "bytes": self.nbytes,
            "dtypes": {k: {"tensors": c, "params": n} for k, (c, n) in self.dtypes().items()},
            "metadata": self.metadata,
            "tensors": [{"name": t.name, "dtype": t.dtype, "shape": list(t.shape), "params": t.numel,
                         "bytes": t.nbytes, **({"file": t.file} if t.file else {})} for t in self.tensors],
        }


def read_checkpoint(path: str | Path) -> Checkpoint:
    """The header of a ``.safetensors``, ``*.safetensors.index.json`` or ``.gguf`` file."""
    from archcalc.frontends.model_files import model_file_kind

    kind = model_file_kind(path)
    if kind == "safetensors":
        tensors, metadata = read_safetensors_header(path)
        return Checkpoint(str(path), "safetensors", tensors, metadata, (str(path),))
    if kind == "safetensors-index":
        return read_safetensors_index(path)
    if kind == "gguf":
        return read_gguf_header(path)
    raise InputError(f"{path}: not a checkpoint (.safetensors, .safetensors.index.json or .gguf)")


def _open(path: str | Path):
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as error:
        raise InputError(f"{path}: cannot read it ({error.strerror})") from None


def read_safetensors_header(path: str | Path) -> tuple[tuple[CheckpointTensor, ...], dict[str, Any]]:
    """(tensors, ``__metadata__``) of one safetensors file: 8 + N bytes are read, nothing more."""
    with _open(path) as handle:
        size = Path(path).stat().st_size
        head = handle.read(8)
        if len(head) < 8:
            raise InputError(f"{path}: not a safetensors file ({size} bytes; the header length alone takes 8)")
        (length,) = struct.unpack("<Q", head)
        if length > MAX_HEADER_BYTES or length > size - 8:
            raise InputError(f"{path}: not a safetensors file, or truncated: its first 8 bytes give a header of "
                             f"{length:,} bytes in a file of {size:,}")
        raw = handle.read(length)
    try:
        header = json.loads(raw)
    except ValueError as error:
        raise InputError(f"{path}: the safetensors header is not JSON ({error.msg} at byte {8 + error.pos})") from None
    if not isinstance(header, dict):
        raise InputError(f"{path}: the safetensors header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    data_bytes = size - 8 - length
    tensors = []
    for name, entry in header.items():
        try:
            dtype, shape, (begin, end) = entry["dtype"], tuple(int(d) for d in entry["shape"]), entry["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise InputError(f"{path}: tensor {name!r}: the header entry lacks dtype, shape or data_offsets") from None
        if dtype not in SAFETENSORS_DTYPE_BYTES:
            raise InputError(f"{path}: tensor {name!r}: unknown dtype {dtype!r}")
        expected = prod(shape) * SAFETENSORS_DTYPE_BYTES[dtype]
        if end - begin != expected:
            raise InputError(f"{path}: tensor {name!r}: {dtype} {list(shape)} takes {expected:,} bytes, its offsets "
                             f"say {end - begin:,}")
        if end > data_bytes:
            raise InputError(f"{path}: truncated: tensor {name!r} ends at byte {end:,} of the data, which holds "
                             f"{data_bytes:,}")
        tensors.append((begin, CheckpointTensor(name, dtype, shape, expected, str(path))))
    tensors.sort(key=lambda pair: pair[0])  # the order of the data, as the file was written
    return tuple(t for _, t in tensors), dict(metadata)


def read_safetensors_index(path: str | Path) -> Checkpoint:
    """A sharded checkpoint: the index's ``weight_map`` and the header of every shard it names
    (shards beside the index). A tensor the index maps to a shard that lacks it is an error."""
    with _open(path) as handle:
        try:
            index = json.load(handle)
        except ValueError as error:
            raise InputError(f"{path}: the index is not JSON ({error})") from None
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise InputError(f"{path}: a sharded checkpoint's index needs a weight_map {{tensor: shard}}")
    folder = Path(path).parent
    shards = list(dict.fromkeys(weight_map.values()))
    tensors: list[CheckpointTensor] = []
    for shard in shards:
        shard_path = folder / shard
        if not shard_path.is_file():
            raise InputError(f"{path}: the shard {shard} it names is missing (looked in {folder})")
        found, _ = read_safetensors_header(shard_path)
        names = {t.name for t in found}
        wanted = [name for name, file in weight_map.items() if file == shard]
        absent = [name for name in wanted if name not in names]
        if absent:
            raise InputError(f"{shard_path}: lacks {len(absent)} tensor(s) the index maps to it, e.g. {absent[0]!r}")
        tensors += [t for t in found if weight_map.get(t.name) == shard]
    metadata = index.get("metadata") or {}
    return Checkpoint(str(path), "safetensors (sharded)", tuple(tensors), dict(metadata),
                      tuple(str(folder / s) for s in shards))


def _gguf_tables():
    try:
        from gguf import GGML_QUANT_SIZES, GGMLQuantizationType
    except ImportError:
        raise InputError("reading .gguf files needs the gguf package",
                         hint='pip install -e ".[files]" (or pip install gguf)') from None
    return GGML_QUANT_SIZES, GGMLQuantizationType


class _Cursor:
    """Little-endian reads from a memory map, refusing to run past its end (a truncated header)."""

    def __init__(self, data, path) -> None:
        self.data, self.pos, self.path = data, 0, path

    def take(self, fmt: str):
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise InputError(f"{self.path}: truncated: the GGUF header runs past the end of the file "
                             f"({len(self.data):,} bytes)")
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += size
        return values[0] if len(values) == 1 else values

    def string(self) -> str:
        length = self.take("Q")
        if length > len(self.data) - self.pos:
            raise InputError(f"{self.path}: truncated or damaged: a GGUF string of {length:,} bytes at byte "
                             f"{self.pos:,}")
        text = bytes(self.data[self.pos:self.pos + length]).decode("utf-8", "replace")
        self.pos += length
        return text


#: GGUF value types (ggml docs/gguf.md): id -> struct format; 8 = string, 9 = array
_GGUF_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}


def _gguf_value(cursor: _Cursor, kind: int, keep: bool = True):
    if kind in _GGUF_SCALARS:
        return cursor.take(_GGUF_SCALARS[kind])
    if kind == 8:
        return cursor.string()
    if kind == 9:
        item, count = cursor.take("I"), cursor.take("Q")
        if item in _GGUF_SCALARS:  # skipped in one step: a vocabulary's scores need no parsing
            size = struct.calcsize(_GGUF_SCALARS[item]) * count
            if cursor.pos + size > len(cursor.data):
                cursor.take(f"{size}x")
            cursor.pos += size
            return f"[{count:,} values]"
        for _ in range(count):
            _gguf_value(cursor, item, keep=False)
        return f"[{count:,} values]"
    raise InputError(f"{cursor.path}: damaged GGUF header: unknown value type {kind} at byte {cursor.pos:,}")


def read_gguf_header(path: str | Path) -> Checkpoint:
    """The tensors and scalar metadata of a GGUF file (versions 2 and 3), header only."""
    sizes, types = _gguf_tables()
    with _open(path) as handle:
        if Path(path).stat().st_size < 24:
            raise InputError(f"{path}: not a GGUF file ({Path(path).stat().st_size} bytes)")
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            if data[:4] != b"GGUF":
                raise InputError(f"{path}: not a GGUF file (it starts {bytes(data[:4])!r}, not b'GGUF')")
            cursor = _Cursor(data, path)
            cursor.pos = 4
            version, n_tensors, n_kv = cursor.take("I"), cursor.take("Q"), cursor.take("Q")
            if version not in (2, 3):
                raise InputError(f"{path}: GGUF version {version}; archcalc reads versions 2 and 3")
            metadata: dict[str, Any] = {"gguf.version": version}
            for _ in range(n_kv):
                key = cursor.string()
                metadata[key] = _gguf_value(cursor, cursor.take("I"))
            tensors = []
            for _ in range(n_tensors):
                name = cursor.string()
                n_dims = cursor.take("I")
                if n_dims > 8:
                    raise InputError(f"{path}: damaged GGUF header: tensor {name!r} has {n_dims} dims")
                dims = [cursor.take("Q") for _ in range(n_dims)]
                code = cursor.take("I")
                cursor.take("Q")  # the offset of its data (never read)
                try:
                    qtype = types(code)
                except ValueError:
                    raise InputError(f"{path}: tensor {name!r}: unknown ggml type {code}") from None
                block, type_size = sizes[qtype]
                numel = prod(dims)
                tensors.append(CheckpointTensor(name, qtype.name, tuple(reversed(dims)), numel // block * type_size,
                                                str(path)))
    return Checkpoint(str(path), f"gguf v{version}", tuple(tensors), metadata, (str(path),))
