"""Sliding-window arithmetic shared by convolution and pooling.

Output length along one axis, as PyTorch computes it (``torch.nn.Conv2d`` and
``torch.nn.MaxPool2d`` docs)::

    k' = d (k - 1) + 1                       effective kernel
    L_out = floor((L + P_before + P_after - k') / S) + 1
          = floor((W - F + 2P)/S) + 1        in course notation

With ``ceil_mode`` the floor becomes a ceiling, and a last window that would
start in the right padding is dropped (PyTorch's rule for pooling).

:func:`output_length` gives the length (and the warning of a non-integer
division); :func:`window_shape_steps` writes the same arithmetic out for
``--explain``. Both take the length from :func:`window_length`.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from archcalc.errors import LayerError, SpecError
from archcalc.layers.base import Shape, pair
from archcalc.layers.terms import Derived, shape_step

Pads = tuple[tuple[int, int], tuple[int, int]]


def effective_kernel(kernel: int, dilation: int) -> int:
    """``k' = d (k - 1) + 1``."""
    return dilation * (kernel - 1) + 1


def window_length(span: int, stride: int, size: int, pad_before: int, ceil_mode: bool) -> tuple[int, bool]:
    """``floor(span/S) + 1`` (``ceil`` with ``ceil_mode``) and whether PyTorch then dropped the
    last window because it would start in the right padding (``span = W + 2P - k'``)."""
    if not ceil_mode:
        return span // stride + 1, False
    length = -(-span // stride) + 1
    # PyTorch: the last window must start inside the input or the left padding
    if (length - 1) * stride >= size + pad_before:
        return length - 1, True
    return length, False


def output_length(
    size: int,
    kernel: int,
    stride: int,
    pad_before: int,
    pad_after: int,
    dilation: int = 1,
    ceil_mode: bool = False,
    axis: str = "",
) -> tuple[int, str | None]:
    """Output length along one axis and, when the division is not exact, a note.

    Raises :class:`LayerError` when the effective kernel does not fit in the
    padded input.
    """
    k_eff = effective_kernel(kernel, dilation)
    padded = size + pad_before + pad_after
    if k_eff > padded:
        dil = f" (dilation {dilation}: d(k-1)+1 = {dilation}*({kernel}-1)+1 = {k_eff})" if dilation != 1 else ""
        raise LayerError(
            f"kernel {k_eff}{dil} is larger than the padded input {axis}: "
            f"{size} + {pad_before} + {pad_after} = {padded}"
        )
    span = padded - k_eff
    length, _ = window_length(span, stride, size, pad_before, ceil_mode)
    note = None
    if span % stride:
        pad_text = f"2*{pad_before}" if pad_before == pad_after else f"{pad_before}+{pad_after}"
        k_text = str(k_eff)
        exact = span / stride + 1
        how = "rounds up (ceil_mode)" if ceil_mode else "floors it"
        note = (
            f"{axis or 'size'}: (W - F + 2P)/S + 1 = ({size} - {k_text} + {pad_text})/{stride} + 1 = "
            f"{exact:g} is not an integer; PyTorch {how} to {length}"
        )
    return length, note


def padding(value: Any, kernel: tuple[int, int], dilation: tuple[int, int], stride: tuple[int, int]) -> Pads:
    """Normalise ``pad``: an int, a pair, ``valid`` or ``same`` -> ((top, bottom), (left, right)).

    ``same`` follows PyTorch: stride 1 only; total padding ``d (k - 1)``, split
    with the odd element after (``left = total // 2``).
    """
    if isinstance(value, str):
        word = value.lower()
        if word == "valid":
            return ((0, 0), (0, 0))
        if word == "same":
            if stride != (1, 1):
                raise SpecError(
                    f"pad: same needs stride 1 (as in PyTorch), got stride {stride[0]}x{stride[1]}",
                    hint="give the padding as a number instead",
                )
            out = []
            for k, d in zip(kernel, dilation):
                total = d * (k - 1)
                out.append((total // 2, total - total // 2))
            return (out[0], out[1])
        raise SpecError(f"pad must be a number, a pair, 'same' or 'valid', got {value!r}")
    ph, pw = pair(value, "pad")
    if ph < 0 or pw < 0:
        raise SpecError(f"pad must not be negative, got {value!r}")
    return ((ph, ph), (pw, pw))


def symmetric_pads(pads: Pads) -> tuple[int, int] | None:
    """``((t, t), (l, l))`` -> ``(t, l)`` as torch's ``padding`` takes it; None when a side differs."""
    (top, bottom), (left, right) = pads
    if top == bottom and left == right:
        return (top, left)
    return None


def window_output(
    h: int,
    w: int,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    pads: Pads,
    dilation: tuple[int, int] = (1, 1),
    ceil_mode: bool = False,
) -> tuple[tuple[int, int], tuple[str, ...]]:
    """Output (H, W) of a 2-D window and the notes of both axes."""
    ho, note_h = output_length(h, kernel[0], stride[0], *pads[0], dilation[0], ceil_mode, axis="height")
    wo, note_w = output_length(w, kernel[1], stride[1], *pads[1], dilation[1], ceil_mode, axis="width")
    if note_h and note_w and note_h.split(": ", 1)[1] == note_w.split(": ", 1)[1]:
        return (ho, wo), ("height and width: " + note_h.split(": ", 1)[1],)
    return (ho, wo), tuple(n for n in (note_h, note_w) if n)


def axis_derivation(
    letter: str, size: int, k: int, s: int, pb: int, pa: int, d: int, ceil_mode: bool
) -> tuple[str, str, str, int]:
    """Formula, arithmetic, note and value of ``(W - F + 2P)/S + 1`` along one axis."""
    if d == 1:
        k_f, k_s = "F", str(k)
    else:
        k_f, k_s = "(d(F - 1) + 1)", f"({d}*({k} - 1) + 1)"
    if pb == pa:
        p_f, p_s = "2P", f"2*{pb}"
    else:
        p_f, p_s = "P_before + P_after", f"{pb} + {pa}"
    formula = f"({letter} - {k_f} + {p_f})/S + 1"
    inner = f"({size} - {k_s} + {p_s})/{s}"
    span = size + pb + pa - effective_kernel(k, d)
    exact = Fraction(span, s) + 1
    length, dropped = window_length(span, s, size, pb, ceil_mode)
    if exact.denominator == 1:
        return formula, f"{inner} + 1", "", length
    if ceil_mode:
        text = f"ceil({inner}) + 1"
        note = f"{inner} + 1 = {float(exact):g} is not an integer; with ceil_mode PyTorch rounds up to {length + dropped}"
        if dropped:
            text += " - 1"
            note += f", then drops the last window (it would start in the right padding): {length}"
        return formula, text, note, length
    left = span % s
    line = "row" if letter == "H" else "column"
    left_out = f"the last {line} of the padded input is" if left == 1 else f"the last {left} {line}s of the padded input are"
    note = (
        f"{inner} + 1 = {float(exact):g} is not an integer; PyTorch floors it to {length} "
        f"({left_out} never covered by a window)"
    )
    return formula, f"floor({inner}) + 1", note, length


def window_shape_steps(
    in_shape: Shape,
    out_shape: Shape,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    pads: Pads,
    dilation: tuple[int, int],
    ceil_mode: bool,
    channels: str = "C",
) -> list[Derived]:
    """``output height = width: (W - F + 2P)/S + 1 = ...`` (one step per axis when they differ),
    then ``output shape: H_out x W_out x C``."""
    _, h, w = in_shape
    axes = [
        ("H", h, kernel[0], stride[0], pads[0], dilation[0]),
        ("W", w, kernel[1], stride[1], pads[1], dilation[1]),
    ]
    steps = []
    if axes[0][1:] == axes[1][1:]:
        letter, size, k, s, (pb, pa), d = axes[1]
        formula, text, note, value = axis_derivation("W", size, k, s, pb, pa, d, ceil_mode)
        steps.append(Derived("output_size", "output height = width", formula, text, value, note))
    else:
        for (letter, size, k, s, (pb, pa), d), name in zip(axes, ("height", "width")):
            formula, text, note, value = axis_derivation(letter, size, k, s, pb, pa, d, ceil_mode)
            steps.append(Derived(f"output_{name}", f"output {name}", formula, text, value, note))
    steps.append(shape_step(out_shape, f"H_out x W_out x {channels}"))
    return steps
