"""``json.dumps(value, indent=2)``, byte for byte, at the speed of the C encoder.

The ``--format json`` contract is the text ``json.dumps(report.to_dict(), indent=2)``
writes. With an ``indent``, the standard library encodes in pure Python (its C
encoder runs only for compact output): 100,000 layers, 131 MB of text, took
longer than the whole analysis. :func:`dumps_indented` writes the same bytes:

* objects (and arrays that hold objects: the ``layers``) are walked here, one
  ``"key": value`` per line, indented two spaces per level, as ``json`` does;
* any other container (a shape, a kernel, the padding ``[[1, 1], [1, 1]]``, the
  hyper-parameters) is written once per distinct value and depth, and looked up
  for every other: a network repeats its shapes. Its key is the bytes ``marshal``
  writes for it (format 2), which carry every type (``1``, ``1.0`` and ``True``
  differ), so equal keys mean equal JSON; a value ``marshal`` does not write is
  keyed by its compact JSON text from the C encoder instead (the compact text is
  the token stream, and the indentation follows from its brackets);
* a scalar is encoded by the C encoder.

Indenting a subtree that sits ``level`` deep is ``json``'s own text of it with
``"\\n" + "  " * level`` for every newline (a JSON string holds no raw newline).
Anything unusual (a key that is not a string, a type ``json`` rejects) goes
through ``json.dumps`` the same way, so the result is always ``json``'s.
"""

from __future__ import annotations

import json
import marshal
from typing import Any

INDENT = "  "
#: compact encoder for leaves; its separators are those ``indent=2`` uses (``,`` and ``: ``), so
#: two arrays with one compact text have one indented text
_COMPACT = json.JSONEncoder(separators=(",", ": "))
_encode_string = json.encoder.encode_basestring_ascii
#: the leaves whose text needs no encoder: type -> text (bool before int: True is an int)
_LEAVES = {str: _encode_string, int: int.__repr__, type(None): lambda _: "null",
           bool: lambda value: "true" if value else "false"}
#: marshal's format without back-references: equal values give equal bytes, shared or not
_MARSHAL_FORMAT = 2


def _compact_encoder():
    """``_COMPACT.encode``, without the Python layer ``JSONEncoder.encode`` adds per call: the C
    encoder ``json`` itself builds for one-shot compact output (where the interpreter has one)."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return _COMPACT.encode
    encode = make({}, _COMPACT.default, _encode_string, None, _COMPACT.key_separator, _COMPACT.item_separator,
                  False, False, True)
    return lambda value: "".join(encode(value, 0))


def dumps_indented(value: Any) -> str:
    """``json.dumps(value, indent=2)`` (same bytes; ``ensure_ascii``, NaN allowed, keys unsorted)."""
    writer = _Writer()
    return writer._object(value, 0) if type(value) is dict else writer.text(value, 0)


class _Writer:
    """One document's writing. The document, and each object in an array of objects (a layer), is
    walked key by key; every other container (an array of leaves, a shape, the hyper-parameters)
    is written once per distinct (value, level) and looked up after that."""

    def __init__(self) -> None:
        self.texts: dict[tuple[bytes | str, int], str] = {}
        self.prefixes: dict[int, dict[str, str]] = {}
        self.compact = _compact_encoder()

    def text(self, value: Any, level: int) -> str:
        leaf = _LEAVES.get(type(value))
        if leaf is not None:
            return leaf(value)
        if isinstance(value, (list, tuple)) and dict in map(type, value):
            return self._array(value, level)  # the layers: walked
        if not isinstance(value, (list, tuple, dict)):
            return self.compact(value)  # a float, a subclass of a JSON type, or what json refuses (TypeError)
        try:  # the bytes marshal writes carry every type (1, 1.0, True differ), fast in C
            key = (marshal.dumps(value, _MARSHAL_FORMAT), level)
        except ValueError:  # a value of a type marshal does not write: its compact JSON text
            key = (self.compact(value), level)
        found = self.texts.get(key)
        if found is None:
            found = self.texts[key] = self._flat(value, level)
        return found

    def _flat(self, value: list | tuple | dict, level: int) -> str:
        """An array of leaves written here (an object or a nested array: by ``json``)."""
        if isinstance(value, dict) or not value or not all(type(item) in _LEAVES for item in value):
            return _json_text(value, level)
        inner = "\n" + INDENT * (level + 1)
        return "[" + ",".join(inner + _LEAVES[type(item)](item) for item in value) + "\n" + INDENT * level + "]"

    def _object(self, value: dict, level: int) -> str:
        if not value:
            return "{}"
        prefixes = self.prefixes.setdefault(level, {})  # key -> its line's start: newline, indent, "key": 
        items = []
        text, leaves = self.text, _LEAVES
        try:
            for key, item in value.items():
                prefix = prefixes.get(key)
                if prefix is None:
                    prefix = prefixes[key] = "\n" + INDENT * (level + 1) + _encode_string(key) + ": "
                leaf = leaves.get(type(item))
                items.append(prefix + (leaf(item) if leaf else text(item, level + 1)))
        except TypeError:  # a key that is not a string (json converts some), or a value json refuses
            return _json_text(value, level)
        return "{" + ",".join(items) + "\n" + INDENT * level + "}"

    def _array(self, value: list | tuple, level: int) -> str:
        inner = "\n" + INDENT * (level + 1)
        items = [inner + (self._object(item, level + 1) if type(item) is dict else self.text(item, level + 1))
                 for item in value]
        return "[" + ",".join(items) + "\n" + INDENT * level + "]"


def _json_text(value: Any, level: int) -> str:
    """``json``'s own indented text of ``value``, placed ``level`` deep."""
    return json.dumps(value, indent=2).replace("\n", "\n" + INDENT * level)
