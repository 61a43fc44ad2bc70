"""Sliding-window arithmetic shared by convolution and pooling, for 1, 2 or 3 spatial axes.

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

Every function works on the spatial axes of the input, whatever their number:
``(L,)`` of a ``(C, L)`` sequence (``nn.Conv1d``), ``(H, W)`` of an image,
``(D, H, W)`` of a volume (``nn.Conv3d``); sizes, kernels, strides, pads and
dilations are tuples with one entry per axis (pads a pair ``(before, after)``).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from archcalc.errors import LayerError, SpecError
from archcalc.layers.base import AXIS_LETTERS, AXIS_NAMES, Shape, ntuple
from archcalc.layers.terms import Derived, shape_step

Pads = tuple[tuple[int, int], ...]


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


def padding(value: Any, kernel: tuple[int, ...], dilation: tuple[int, ...], stride: tuple[int, ...]) -> Pads:
    """Normalise ``pad``: an int, one number per axis, ``valid`` or ``same`` -> one
    ``(before, after)`` pair per axis (images: ``((top, bottom), (left, right))``).

    ``same`` follows PyTorch: stride 1 only; total padding ``d (k - 1)``, split
    with the odd element after (``left = total // 2``).
    """
    n = len(kernel)
    if isinstance(value, str):
        word = value.lower()
        if word == "valid":
            return ((0, 0),) * n
        if word == "same":
            if any(s != 1 for s in stride):
                raise SpecError(
                    f"pad: same needs stride 1 (as in PyTorch), got stride {'x'.join(str(s) for s in stride)}",
                    hint="give the padding as a number instead",
                )
            out = []
            for k, d in zip(kernel, dilation):
                total = d * (k - 1)
                out.append((total // 2, total - total // 2))
            return tuple(out)
        raise SpecError(f"pad must be a number, a pair, 'same' or 'valid', got {value!r}")
    pads = ntuple(value, n, "pad")
    if min(pads) < 0:
        raise SpecError(f"pad must not be negative, got {value!r}")
    return tuple((p, p) for p in pads)


def symmetric_pads(pads: Pads) -> tuple[int, ...] | None:
    """``((t, t), (l, l))`` -> ``(t, l)`` as torch's ``padding`` takes it; None when a side differs."""
    if all(before == after for before, after in pads):
        return tuple(before for before, _ in pads)
    return None


def window_output(
    sizes: tuple[int, ...],
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    pads: Pads,
    dilation: tuple[int, ...] | None = None,
    ceil_mode: bool = False,
) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """Output sizes of a window over the spatial axes ``sizes`` and the notes of the axes
    (one note when every axis has the same one: ``height and width: ...``)."""
    dilation = dilation or (1,) * len(sizes)
    names = AXIS_NAMES[len(sizes)]
    lengths, notes = [], []
    for size, k, s, (pb, pa), d, name in zip(sizes, kernel, stride, pads, dilation, names):
        length, note = output_length(size, k, s, pb, pa, d, ceil_mode, axis=name)
        lengths.append(length)
        notes.append(note)
    said = [n for n in notes if n]
    bodies = {n.split(": ", 1)[1] for n in said}
    if len(said) == len(notes) > 1 and len(bodies) == 1:
        joined = " and ".join(names) if len(names) == 2 else ", ".join(names[:-1]) + " and " + names[-1]
        return tuple(lengths), (f"{joined}: " + bodies.pop(),)
    return tuple(lengths), tuple(said)


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
    line = {"H": "row", "D": "plane", "L": "position"}.get(letter, "column")
    left_out = f"the last {line} of the padded input is" if left == 1 else f"the last {left} {line}s of the padded input are"
    note = (
        f"{inner} + 1 = {float(exact):g} is not an integer; PyTorch floors it to {length} "
        f"({left_out} never covered by a window)"
    )
    return formula, f"floor({inner}) + 1", note, length


def window_shape_steps(
    in_shape: Shape,
    out_shape: Shape,
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    pads: Pads,
    dilation: tuple[int, ...],
    ceil_mode: bool,
    channels: str = "C",
) -> list[Derived]:
    """``output height = width: (W - F + 2P)/S + 1 = ...`` (one step per axis when they differ;
    ``output length`` of a sequence, ``output depth`` of a volume), then ``output shape:
    H_out x W_out x C`` (``C x L_out``, ``C x D_out x H_out x W_out``)."""
    sizes = tuple(in_shape[1:])
    n = len(sizes)
    letters, names = AXIS_LETTERS[n], AXIS_NAMES[n]
    axes = list(zip(letters, names, sizes, kernel, stride, pads, dilation))
    steps = []
    if n >= 2 and axes[-2][2:] == axes[-1][2:]:
        if n == 3 and axes[0][2:] == axes[-1][2:]:
            merged, quantity = axes, "output depth = height = width"
        else:
            merged, quantity = axes[-2:], "output height = width"
        for letter, name, size, k, s, (pb, pa), d in axes[: n - len(merged)]:
            formula, text, note, value = axis_derivation(letter, size, k, s, pb, pa, d, ceil_mode)
            steps.append(Derived(f"output_{name}", f"output {name}", formula, text, value, note))
        _, _, size, k, s, (pb, pa), d = axes[-1]
        formula, text, note, value = axis_derivation("W", size, k, s, pb, pa, d, ceil_mode)
        steps.append(Derived(_SIZE_KEYS[quantity], quantity, formula, text, value, note))
    else:
        for letter, name, size, k, s, (pb, pa), d in axes:
            formula, text, note, value = axis_derivation(letter, size, k, s, pb, pa, d, ceil_mode)
            steps.append(Derived(f"output_{name}", f"output {name}", formula, text, value, note))
    steps.append(shape_step(out_shape, shape_formula(n, channels)))
    return steps


#: the key of a step that derives several equal axes at once
_SIZE_KEYS = {"output height = width": "output_size", "output depth = height = width": "output_size_dhw"}


def shape_formula(n: int, channels: str = "C") -> str:
    """How ``--explain`` writes a window's output shape: ``H_out x W_out x C`` (as images are
    written, H x W x C), ``C x L_out``, ``C x D_out x H_out x W_out`` (PyTorch's order)."""
    if n == 2:
        return f"H_out x W_out x {channels}"
    return " x ".join((channels, *(f"{letter}_out" for letter in AXIS_LETTERS[n])))
