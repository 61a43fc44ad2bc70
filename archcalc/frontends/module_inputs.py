"""What a live module's ``forward`` is called with: shapes and dtypes, as users write them.

An :class:`InputSpec` is one tensor argument: its shape per sample (the batch
axis comes from ``--batch``) and its dtype (None: the model's floating dtype;
``int64`` for token ids). :class:`ModuleInputs` holds the positional
arguments and the keyword arguments, each a spec, a nested tuple / list /
dict of specs, or a plain Python value passed on as it is.

Text forms (the CLI's ``--input``, ``--kwarg``)::

    224x224x3           an image, read as H x W x C (or C x H x W, see below)
    3x224x224           the same image in PyTorch's order
    4x31                (C, L): PyTorch's order for anything but three numbers
    2x5x9x9             (C, D, H, W)
    128:int64           128 token ids
    attention_mask=128:int64   (``--kwarg``) a keyword input

Three numbers are an image and may be written either way: the capture tries
the reading that fits the model (H x W x C first, the course's order) and says
which one it used when it had to choose (``--layout`` forces one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from archcalc.errors import InputError
from archcalc.inputs import LAYOUTS, parse_numbers

#: dtypes an input may have, by the names users write
INPUT_DTYPES = {
    "float": None,
    "float32": "float32",
    "fp32": "float32",
    "float16": "float16",
    "fp16": "float16",
    "half": "float16",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "float64": "float64",
    "double": "float64",
    "int64": "int64",
    "long": "int64",
    "int32": "int32",
    "int": "int64",
    "int16": "int16",
    "int8": "int8",
    "uint8": "uint8",
    "bool": "bool",
}


@dataclass(frozen=True)
class InputSpec:
    """One tensor argument: per-sample shape in PyTorch's order, dtype (None: the model's float)."""

    shape: tuple[int, ...]
    dtype: str | None = None
    #: the numbers as the user wrote them, when they may be read another way: three numbers
    #: (H x W x C or C x H x W), two numbers (C x L, or H x W of an image missing its channels)
    written: tuple[int, ...] | None = None

    @property
    def is_integer(self) -> bool:
        return self.dtype is not None and self.dtype.startswith(("int", "uint", "bool"))


@dataclass(frozen=True)
class ModuleInputs:
    """The arguments of one ``forward`` call: positional and keyword, specs or plain values."""

    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    def specs(self) -> list[InputSpec]:
        return [leaf for leaf in _leaves((self.args, self.kwargs)) if isinstance(leaf, InputSpec)]


def _leaves(value: Any):
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


def parse_dtype(text: str, what: str = "--input") -> str | None:
    key = text.strip().lower().removeprefix("torch.")
    if key not in INPUT_DTYPES:
        raise InputError(f"{what}: unknown dtype {text!r} (use one of {', '.join(sorted(INPUT_DTYPES))})")
    return INPUT_DTYPES[key]


def parse_input(text: str, layout: str | None = None, what: str = "--input") -> InputSpec:
    """``224x224x3`` / ``3x224x224`` / ``4x31`` / ``128:int64`` -> an InputSpec (see the module doc)."""
    shape_text, _, dtype_text = str(text).partition(":")
    dtype = parse_dtype(dtype_text, what) if dtype_text else None
    numbers = parse_numbers(shape_text, what, limit=None)
    if layout is not None and layout.lower() not in LAYOUTS:
        raise InputError(f"--layout must be hwc or chw, got {layout!r}")
    if len(numbers) == 3 and dtype is None:
        if layout is not None and layout.lower() == "chw":
            return InputSpec(tuple(numbers))
        h, w, c = numbers
        fixed = layout is not None
        return InputSpec((c, h, w), None, None if fixed or len(set(numbers)) == 1 else tuple(numbers))
    if len(numbers) == 2 and dtype is None and layout is None:
        return InputSpec(tuple(numbers), None, tuple(numbers))
    return InputSpec(tuple(numbers), dtype)


def parse_kwarg(text: str, layout: str | None = None) -> tuple[str, InputSpec]:
    """``attention_mask=128:int64`` -> ("attention_mask", InputSpec((128,), "int64"))."""
    name, sep, value = str(text).partition("=")
    if not sep or not name.strip().isidentifier():
        raise InputError(f"--kwarg takes name=shape[:dtype], e.g. attention_mask=128:int64; got {text!r}")
    return name.strip(), parse_input(value, layout, what=f"--kwarg {name.strip()}")


def as_spec(value: Any, layout: str | None = None) -> Any:
    """A user's description of one argument -> InputSpec (or nested specs, or the value itself).

    Accepted: an InputSpec; text (``"224x224x3"``, ``"128:int64"``); a shape of whole
    numbers in PyTorch's order (``(3, 224, 224)``); ``(shape, dtype)``; an example
    tensor (its first axis is the batch); a tuple, list or dict of these. Anything else
    (an int, None, a string flag in a dict) is passed on unchanged.
    """
    if isinstance(value, InputSpec):
        return value
    if isinstance(value, str):
        return parse_input(value, layout)
    if _is_tensor(value):
        if value.dim() == 0:
            return value
        return InputSpec(tuple(int(s) for s in value.shape[1:]), _dtype_name(value.dtype))
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            if any(v < 1 for v in value):
                raise InputError(f"input shape must be positive whole numbers, got {tuple(value)!r}")
            return InputSpec(tuple(int(v) for v in value))
        if len(value) == 2 and _is_shape(value[0]) and (isinstance(value[1], str) or _is_dtype(value[1])):
            dtype = value[1] if isinstance(value[1], str) else _dtype_name(value[1])
            return InputSpec(tuple(int(v) for v in value[0]), parse_dtype(dtype))
        return type(value)(as_spec(v, layout) for v in value)
    if isinstance(value, dict):
        return {key: as_spec(v, layout) for key, v in value.items()}
    return value


def example_batch(inputs: Any, kwargs: dict[str, Any] | None = None) -> int | None:
    """The batch of example tensors (``--example``): the first axis of the first tensor among
    them, or None when there is none."""
    stack = [inputs, *(kwargs or {}).values()]
    while stack:
        value = stack.pop(0)
        if _is_tensor(value) and value.dim() > 0:
            return int(value.shape[0])
        if isinstance(value, dict):
            stack[:0] = list(value.values())
        elif isinstance(value, (list, tuple)):
            stack[:0] = list(value)
    return None


def module_inputs(inputs: Any, kwargs: dict[str, Any] | None = None, layout: str | None = None) -> ModuleInputs:
    """Positional ``inputs`` (one argument, or a list of arguments) and ``kwargs`` -> ModuleInputs.

    One argument: a shape ``(3, 224, 224)``, a text, an InputSpec or a tensor. Several:
    a list ``[(3, 224, 224), "10"]``. A tuple whose items are not all numbers is several
    arguments too; a tuple or dict given *as one argument* goes in a list: ``[{"ids": ...}]``.
    """
    if inputs is None:
        args: tuple[Any, ...] = ()
    elif isinstance(inputs, (str, InputSpec, int)) or _is_tensor(inputs) or _is_shape(inputs):
        args = (as_spec(inputs if not isinstance(inputs, int) else (inputs,), layout),)
    elif isinstance(inputs, (list, tuple)):
        args = tuple(as_spec(v, layout) for v in inputs)
    elif isinstance(inputs, dict):
        raise InputError("give keyword inputs as kwargs={...}, and a dict argument inside a list: [{...}]")
    else:
        raise InputError(f"cannot read the inputs {inputs!r}: give shapes such as (3, 224, 224) or '128:int64'")
    keywords = {str(k): as_spec(v, layout) for k, v in (kwargs or {}).items()}
    result = ModuleInputs(args, keywords)
    if not result.specs():
        raise InputError("the model needs at least one tensor input, e.g. --input 224x224x3 or --input 128:int64")
    return result


def _is_shape(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and bool(value) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    )


def _is_tensor(value: Any) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "shape") and hasattr(value, "dtype")


def _is_dtype(value: Any) -> bool:
    return type(value).__name__ == "dtype" and type(value).__module__ == "torch"


def _dtype_name(dtype: Any) -> str | None:
    name = str(dtype).removeprefix("torch.")
    return None if name == "float32" else INPUT_DTYPES.get(name, name)
