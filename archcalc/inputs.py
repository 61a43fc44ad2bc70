"""Reading input shapes as people write them: ``224x224x3``, ``3x224x224``, ``784``.

Course material writes images as H x W x C; PyTorch as C x H x W. Every command
reads three numbers through :func:`read_input`: H x W x C by default, C x H x W when
the network's channel count says so, or, for a single layer, when the numbers do
(``3x32x32``: a square image after its channels); where the order is a guess, the
reading carries one line saying so (``--layout`` forces one). Internally every
shape is PyTorch's ``(C, H, W)``. A volume is written D x H x W x C (or
C x D x H x W with ``chw``) and becomes ``(C, D, H, W)``, as ``nn.Conv3d``
takes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from archcalc.errors import InputError

Shape = tuple[int, ...]

LAYOUTS = ("hwc", "chw")
#: other names of the layouts (the batch axis goes in --batch)
LAYOUT_ALIASES = {"nhwc": "hwc", "nchw": "chw", "channels_last": "hwc", "channels_first": "chw"}


def check_layout(layout: str | None, input: object = None) -> str | None:
    """``--layout``, lower-cased (``nhwc`` read as ``hwc``); an InputError for an unknown one, or
    for a layout without an input to read (it says how ``--input`` is written)."""
    if layout is None:
        return None
    word = LAYOUT_ALIASES.get(layout.strip().lower(), layout.strip().lower())
    if word not in LAYOUTS:
        raise InputError(f"--layout must be hwc or chw, got {layout!r}")
    if input is None:
        raise InputError(f"--layout {layout} says how --input is written, and no --input was given",
                         hint="e.g. --input 3x224x224 --layout chw")
    return word
_SEPARATORS = re.compile(r"\s*(?:x|X|×|\*|,)\s*")


def parse_numbers(text: str | int | list | tuple, what: str = "--input", limit: int | None = 4) -> tuple[int, ...]:
    """``"224x224x3"`` / ``"224×224×3"`` / ``"3,224,224"`` / ``784`` -> a tuple of ints (at most
    ``limit`` of them: a spec's input is a volume, an image, a sequence or a vector; a live
    module's may be anything)."""
    if isinstance(text, int) and not isinstance(text, bool):
        numbers = (text,)
    elif isinstance(text, (list, tuple)):
        numbers = tuple(text)
    else:
        cleaned = str(text).strip().strip("()[]")
        parts = _SEPARATORS.split(cleaned)
        try:
            numbers = tuple(int(p) for p in parts)
        except ValueError:
            raise InputError(
                f"cannot read {what} {text!r}: write it as H x W x C, e.g. 224x224x3 (or 784 for a vector)"
            ) from None
    if not numbers or any(not isinstance(n, int) or isinstance(n, bool) or n < 1 for n in numbers):
        raise InputError(f"{what} {text!r} needs positive whole numbers, e.g. 224x224x3")
    if limit is not None and len(numbers) > limit:
        raise InputError(
            f"{what} {text!r} has {len(numbers)} numbers; give H x W x C, or D x H x W x C for a volume "
            "(the batch goes in --batch)"
        )
    return numbers


def to_chw(numbers: tuple[int, ...], layout: str) -> Shape:
    """Reorder three numbers written in ``layout`` to (C, H, W), four to (C, D, H, W); other
    lengths pass through."""
    if len(numbers) not in (3, 4):
        return numbers
    if layout == "hwc":
        return (numbers[-1], *numbers[:-1])
    return numbers


@dataclass(frozen=True)
class InputReading:
    """How three (or four) numbers a user wrote were read: the (C, H, W) shape, the layout
    (``hwc``, ``chw``, ``flat``) and, where the order was a guess, the one line that says so
    (``note``); None where the order was given (``--layout``, a spec's ``layout:``) or is the
    evident one (``32x32x3``: a square image and its channels)."""

    shape: Shape
    layout: str
    note: str | None = None


def read_input(
    text: str | int | list | tuple,
    expected_channels: int | None = None,
    layout: str | None = None,
) -> InputReading:
    """The one reading of a user's input for every command (``layer``, specs, the zoo,
    ``quiz --input``/``--set input=``, a sheet's ``Input:`` line; live modules may call it too).

    * ``layout`` given (``hwc`` or ``chw``): read that way, no note.
    * The network's channel count known (``expected_channels``): the end that equals it is C
      (H x W x C first); C x H x W read that way says so in a note.
    * Unknown (a single layer): ``a x a x c`` is H x W x C (a square image, no note);
      ``c x a x a`` is C x H x W (note: ``read as C x H x W: 3 channels``); otherwise the
      smaller end is C, with a note (a guess either way).
    * ``H x W`` alone takes the channel count the network expects.
    """
    numbers = parse_numbers(text)
    layout = check_layout(layout, text)
    if len(numbers) == 2:
        if expected_channels is None:
            raise InputError(
                f"--input {text!r} gives H x W only; add the channels: {numbers[0]}x{numbers[1]}xC "
                "(or --layout chw for a sequence C x L)"
            )
        return InputReading((expected_channels, numbers[0], numbers[1]), "hwc")
    if len(numbers) not in (3, 4):
        return InputReading(numbers, "flat")
    note = None
    if layout is None:
        layout, note = _guess_layout(numbers, expected_channels, text)
    shape = to_chw(numbers, layout)
    if expected_channels is not None and shape[0] != expected_channels:
        read_as = "H x W x C" if layout == "hwc" else "C x H x W"
        spatial = "x".join(str(v) for v in shape[1:])
        raise InputError(
            f"--input {text!r} has {_channels(shape[0], 'channel')} (read as {read_as}), but the network takes "
            f"{_channels(expected_channels)}",
            hint=f"did you mean --input {spatial}x{expected_channels}?",
        )
    return InputReading(shape, layout, note)


def _guess_layout(numbers: tuple[int, ...], expected: int | None, text: object) -> tuple[str, str | None]:
    """(layout, note) for numbers written without a layout (see :func:`read_input`)."""
    first, last, spatial_hwc, spatial_chw = numbers[0], numbers[-1], numbers[:-1], numbers[1:]
    written = "x".join(str(n) for n in numbers)

    def said(layout: str) -> str:
        c, rest = (last, spatial_hwc) if layout == "hwc" else (first, spatial_chw)
        order = "H x W x C" if layout == "hwc" else "C x H x W"
        other = "chw" if layout == "hwc" else "hwc"
        why = (f"the network takes {_channels(expected)}" if expected is not None
               else f"--layout {other} reads it the other way")
        return f"read {written} as {order}: {_channels(c, 'channel')}, {'x'.join(str(n) for n in rest)} ({why})"

    if expected is not None:
        if last == expected:
            return "hwc", None
        if first == expected:
            return "chw", said("chw")
        raise InputError(
            f"--input {text!r} has {_channels(last, 'channel')} (read as H x W x C), but the network takes "
            f"{_channels(expected)}",
            hint=f"did you mean --input {'x'.join(str(v) for v in spatial_hwc)}x{expected}?",
        )
    if len(numbers) == 4 or len(set(numbers)) == 1:
        return "hwc", None  # a volume D x H x W x C as written; or both orders give the same shape
    if len(set(spatial_hwc)) == 1:
        return "hwc", None  # 32x32x3: a square image and its channels
    if len(set(spatial_chw)) == 1:
        return "chw", said("chw")  # 3x32x32
    return ("chw", said("chw")) if first < last else ("hwc", said("hwc"))


def resolve_input(
    text: str | int | list | tuple,
    expected_channels: int | None = None,
    layout: str | None = None,
) -> tuple[Shape, str]:
    """The (C, H, W) shape for a user's ``--input`` and the layout it was read in
    (:func:`read_input` without its note)."""
    reading = read_input(text, expected_channels, layout)
    return reading.shape, reading.layout


def _channels(n: int, what: str = "input channel") -> str:
    """``1 input channel``, ``3 input channels``."""
    return f"{n} {what}" + ("" if n == 1 else "s")


def format_hwc(shape: Shape) -> str:
    """(C, H, W) -> ``HxWxC`` as course material writes it; other shapes joined by x."""
    if len(shape) == 3:
        c, h, w = shape
        return f"{h}x{w}x{c}"
    return "x".join(str(s) for s in shape)


_INPUT_DTYPE_ALIASES = {"long": "int64", "int": "int64", "int32": "int32", "int64": "int64"}


def input_dtype(text: str) -> str | None:
    """``int64`` / ``long`` / ``int32`` (integer ids), or None for a floating dtype (``float32``:
    the input takes the analysis dtype, ``--dtype``), as the input of a spec writes it
    (``input: {shape: [128], dtype: int64}``)."""
    word = text.strip().lower()
    if word in _INPUT_DTYPE_ALIASES:
        return _INPUT_DTYPE_ALIASES[word]
    if word in ("float32", "float", "fp32", "float16", "fp16", "half", "bfloat16", "bf16", "float64", "double"):
        return None
    raise InputError(f"input dtype must be int64 or int32 (token ids) or a float type, got {text!r}")
