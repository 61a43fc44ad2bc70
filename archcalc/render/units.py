"""Human-readable numbers: 138.4M, 527.8 MiB. Formatting only, never computing.

Counts use decimal prefixes (K = 10^3, M = 10^6, G = 10^9, T = 10^12);
memory uses binary ones (KiB = 2^10 bytes, MiB = 2^20, GiB = 2^30), so a
"MB" never appears without saying which.
"""

from __future__ import annotations

from fractions import Fraction


def count(value: int | float, exact: bool = False) -> str:
    """``138357544`` -> ``138.36M`` (``exact``: ``138,357,544``)."""
    if exact or abs(value) < 1000:
        return f"{value:,}" if isinstance(value, int) else f"{value:,.6g}"
    for size, suffix in ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "K")):
        if abs(value) >= size:
            return f"{value / size:.2f}{suffix}"
    return str(value)


def nbytes(value: int, exact: bool = False) -> str:
    """``553430176`` -> ``527.79 MiB`` (``exact``: ``553,430,176 B``)."""
    if exact:
        return f"{value:,} B"
    for size, suffix in ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if abs(value) >= size:
            return f"{value / size:.2f} {suffix}"
    return f"{value} B"


def number(value: Fraction | int | float) -> str:
    """A receptive-field number: whole numbers plain, fractions as decimals."""
    if isinstance(value, Fraction) and value.denominator != 1:
        return f"{float(value):g}"
    return str(int(value))


def pair(values) -> str:
    """``(3, 3)`` -> ``3``; ``(3, 5)`` -> ``3x5``."""
    a, b = values
    return number(a) if a == b else f"{number(a)}x{number(b)}"


def shape(shape: tuple[int, ...], layout: str = "hwc") -> str:
    """(C, H, W) -> ``HxWxC`` (course order) or ``CxHxW``; vectors as their length."""
    if len(shape) == 3 and layout == "hwc":
        c, h, w = shape
        return f"{h}x{w}x{c}"
    return "x".join(str(s) for s in shape)
