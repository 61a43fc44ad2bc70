"""Sliding-window arithmetic shared by convolution and pooling.

Output length along one axis, as PyTorch computes it (``torch.nn.Conv2d`` and
``torch.nn.MaxPool2d`` docs)::

    k' = d (k - 1) + 1                       effective kernel
    L_out = floor((L + P_before + P_after - k') / S) + 1
          = floor((W - F + 2P)/S) + 1        in course notation

With ``ceil_mode`` the floor becomes a ceiling, and a last window that would
start in the right padding is dropped (PyTorch's rule for pooling).
"""

from __future__ import annotations

from typing import Any

from archcalc.errors import LayerError, SpecError
from archcalc.rules.base import pair

Pads = tuple[tuple[int, int], tuple[int, int]]


def effective_kernel(kernel: int, dilation: int) -> int:
    """``k' = d (k - 1) + 1``."""
    return dilation * (kernel - 1) + 1


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
    if ceil_mode:
        length = -(-span // stride) + 1
        # PyTorch: the last window must start inside the input or the left padding
        if (length - 1) * stride >= size + pad_before:
            length -= 1
    else:
        length = span // stride + 1
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
