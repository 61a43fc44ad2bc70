"""``--tokens N`` for a spec: the spec's input with its token axis (the first) set to N.

A token spec's input is a sequence: token ids ``{shape: [T], dtype: int64}`` or token
features ``T x D``; ``--tokens`` replaces T and keeps the rest (the dtype, D). An image
input has no token axis: the error says to use ``--input``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from archcalc.errors import InputError, SpecError
from archcalc.ir import Graph


def _with_length(value: Any, tokens: int, where: str) -> Any:
    """The input value with its first axis set to ``tokens``."""
    if isinstance(value, dict):
        if str(value.get("layout", "")).lower() in ("hwc", "chw"):
            raise InputError(f"{where} takes an image, not token ids: give its size with --input")
        shape = value.get("shape")
        return {**value, "shape": _with_length(shape, tokens, where)}
    if isinstance(value, (list, tuple)):
        numbers = list(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        numbers = [value]
    elif isinstance(value, str):
        from archcalc.inputs import parse_numbers

        numbers = list(parse_numbers(value, what="input", limit=None))
    else:
        raise InputError(f"{where} gives no input sequence to set --tokens on")
    if len(numbers) >= 3 or not numbers:
        raise InputError(f"{where} takes an image, not token ids: give its size with --input")
    return [tokens, *numbers[1:]]


def with_tokens(model: Path | str, tokens: int, input: Any = None, strict: bool = False) -> Graph:
    """The Graph of a spec (a path, or inline text) at ``tokens`` tokens."""
    from archcalc.spec.loader import SpecReader, parse_yaml, read_text_file

    if input is not None:
        raise InputError("give the input either as --tokens N or as --input, not both")
    if isinstance(model, Path):
        text, file = read_text_file(model, "spec"), str(model)
    else:
        text, file = str(model), "<inline spec>"
    doc = parse_yaml(text, file)
    if not isinstance(doc, dict) or doc.get("input") is None:
        raise SpecError("the spec gives no 'input:' to set --tokens on", location=None)
    doc["input"] = _with_length(doc["input"], tokens, Path(file).stem if file != "<inline spec>" else "the spec")
    return SpecReader(doc, file, strict=strict).build()
