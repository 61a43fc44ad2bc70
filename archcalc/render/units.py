"""Human-readable numbers: 138.4M, 527.8 MiB. Formatting only, never computing.

Counts use decimal prefixes (K = 10^3, M = 10^6, G = 10^9, T = 10^12);
memory uses binary ones (KiB = 2^10 bytes, MiB = 2^20, GiB = 2^30), so a
"MB" never appears without saying which.
"""

from __future__ import annotations

from fractions import Fraction


#: above this an integer is no longer exact as a float (2^53): it is scaled with integers
_FLOAT_EXACT = 2**53


def scaled(value: int | float, size: int, decimals: int) -> str:
    """``value / size`` with ``decimals`` decimals. A large integer is divided with integer
    arithmetic (rounding half up): as a float, 2.5e32 / 10^12 prints as
    ``250000000000000004971156209664``, not ``250000000000000000000``."""
    if not isinstance(value, int) or abs(value) < _FLOAT_EXACT:
        return f"{value / size:.{decimals}f}"
    scale = 10**decimals
    units, rest = divmod(abs(value) * scale * 2 + size, size * 2)  # round(|value| * scale / size), half up
    sign = "-" if value < 0 else ""
    whole, fraction = divmod(units, scale)
    return f"{sign}{whole}" + (f".{fraction:0{decimals}d}" if decimals else "")


def count(value: int | float, exact: bool = False) -> str:
    """``138357544`` -> ``138.36M`` (``exact``: ``138,357,544``)."""
    if exact or abs(value) < 1000:
        return f"{value:,}" if isinstance(value, int) else f"{value:,.6g}"
    for size, suffix in ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "K")):
        if abs(value) >= size:
            return f"{scaled(value, size, 2)}{suffix}"
    return str(value)


def nbytes(value: int, exact: bool = False) -> str:
    """``553430176`` -> ``527.79 MiB`` (``exact``: ``553,430,176 B``)."""
    if exact:
        return f"{value:,} B"
    for size, suffix in ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if abs(value) >= size:
            return f"{scaled(value, size, 2)} {suffix}"
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


def _three_digits(value: int | float, size: int = 1) -> str:
    """3 significant digits of ``value / size``: ``118``, ``12.8``, ``9.41`` (integers past 2^53
    scaled exactly: :func:`scaled`)."""
    if abs(value) >= 99.95 * size:
        return scaled(value, size, 0)
    if abs(value) >= 9.995 * size:
        return scaled(value, size, 1)
    return scaled(value, size, 2)


def count_short(value: int | float, exact: bool = False) -> str:
    """Compact count for narrow tables: ``118M``, ``9.41K``, ``760`` (``exact``: ``118,013,952``)."""
    if exact or abs(value) < 1000:
        return count(value, True)
    for size, suffix in ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "K")):
        if abs(value) >= size * 0.9995:
            return _three_digits(value, size) + suffix
    return str(value)


def nbytes_short(value: int, exact: bool = False) -> str:
    """Compact memory for narrow tables: ``3.06 MiB``, ``784 KiB`` (``exact``: ``802,816 B``)."""
    if exact:
        return f"{value:,} B"
    for size, suffix in ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if abs(value) >= size * 0.9995:
            return f"{_three_digits(value, size)} {suffix}"
    return f"{value} B"


_EIGHTHS = " ▏▎▍▌▋▊▉"


def bar(fraction: float, width: int) -> str:
    """A horizontal bar of ``fraction`` (0..1) of ``width`` cells, in eighths of a cell.

    A non-zero fraction too small to see still gets the thinnest mark, so that
    "small" and "nothing" differ.
    """
    fraction = min(max(fraction, 0.0), 1.0)
    eighths = round(fraction * width * 8)
    if fraction > 0 and eighths == 0:
        eighths = 1
    full, rest = divmod(eighths, 8)
    text = "█" * full + (_EIGHTHS[rest] if rest else "")
    return text.ljust(width)


def percent(fraction: float) -> str:
    """``0.1234`` -> ``12.3%``; tiny non-zero shares -> ``<0.1%``."""
    if fraction == 0:
        return "-"
    if fraction < 0.001:
        return "<0.1%"
    return f"{fraction * 100:.1f}%"


def ratio(value: float | None) -> str:
    """``25.3`` -> ``25.3x``; ``0.0412`` -> ``0.041x``; None -> ``-``."""
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:,.0f}x"
    if value >= 10:
        return f"{value:.1f}x"
    if value >= 0.1:
        return f"{value:.2f}x"
    return f"{value:.2g}x"


def number_short(value: Fraction | int | float) -> str:
    """A receptive-field number for narrow tables: fractions to 3 significant digits (``92.4``)."""
    if isinstance(value, Fraction) and value.denominator != 1:
        return f"{float(value):.3g}" if value < 1000 else f"{float(value):.0f}"
    return str(int(value))


def pair_short(values) -> str:
    """:func:`pair` with :func:`number_short`: ``(Fraction(647, 7), 62)`` -> ``92.4x62``."""
    a, b = values
    return number_short(a) if a == b else f"{number_short(a)}x{number_short(b)}"


def axis_unit(top: int | float, kind: str) -> tuple[int, str]:
    """The unit a chart axis whose largest value is ``top`` reads in: ``(2**20, "MiB")`` for
    bytes from 1 MiB, ``(10**6, "M")`` for counts from a million, ``(1, "")`` below 1 K."""
    if kind == "bytes":
        for size, unit in ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
            if top >= size:
                return size, unit
        return 1, "B"
    for size, unit in ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "K")):
        if top >= size:
            return size, unit
    return 1, ""

