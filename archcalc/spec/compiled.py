"""The zoo's specs, parsed ahead of time: JSON that rebuilds what the YAML parser gives.

Importing PyYAML costs the main job (``archcalc vgg16``) more than parsing
and analysing VGG-16 together, so each zoo spec ``specs/NAME.yaml`` has a
compiled twin ``specs/compiled/NAME.json``: the parsed document with the
line of every mapping, list and string (messages name them), and the CRC-32
of the YAML text it came from. :func:`compiled_doc` uses the twin only when
that checksum matches the YAML as it is now; an edited spec, or a new one
without a twin, is parsed from YAML as before, so a stale twin can never
change an answer. ``python tools/compile_zoo.py`` writes the twins, and
``tests/test_zoo_compiled.py`` checks that each one rebuilds exactly what
the parser gives.

Encoding: a mapping is ``{"d": line, "k": [[key, value], ...]}``, a list
``{"l": line, "v": [...]}``, a string ``{"s": line, "t": text}``; numbers,
booleans and null are themselves.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

from archcalc.spec.loader import LineDict, LineList, LineStr

#: format of the compiled files; bump when the encoding changes
VERSION = 1


def compiled_dir() -> Path:
    from archcalc.zoo import ZOO_DIR

    return ZOO_DIR / "compiled"


def checksum(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


def encode(value: Any) -> Any:
    """A parsed spec document (LineDict, LineList, LineStr and scalars) as JSON values."""
    if isinstance(value, dict):
        return {"d": getattr(value, "line", None), "k": [[encode(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, list):
        return {"l": getattr(value, "line", None), "v": [encode(v) for v in value]}
    if isinstance(value, str):
        return {"s": getattr(value, "line", None), "t": str(value)}
    return value


def decode(value: Any) -> Any:
    """The inverse of :func:`encode`."""
    if not isinstance(value, dict):
        return value
    if "d" in value:
        mapping = LineDict((decode(k), decode(v)) for k, v in value["k"])
        mapping.line = value["d"]
        return mapping
    if "l" in value:
        sequence = LineList(decode(v) for v in value["v"])
        sequence.line = value["l"]
        return sequence
    text = LineStr(value["t"])
    text.line = value["s"]
    return text


def compile_text(text: str, source: str) -> dict[str, Any]:
    """The compiled form of one spec's YAML text."""
    from archcalc.spec.loader import parse_yaml

    return {"version": VERSION, "source": source, "crc32": checksum(text), "doc": encode(parse_yaml(text, source))}


def compiled_doc(path: Path, text: str) -> Any | None:
    """The parsed document of the zoo spec ``path`` (whose text is ``text``) from its compiled
    twin, or None: not a zoo spec, no twin, an unreadable one, or one made from other text."""
    twin = compiled_dir() / f"{path.stem}.json"
    if path.parent.resolve() != compiled_dir().parent.resolve() or not twin.is_file():
        return None
    try:
        data = json.loads(twin.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if data.get("version") != VERSION or data.get("crc32") != checksum(text):
        return None
    return decode(data["doc"])
