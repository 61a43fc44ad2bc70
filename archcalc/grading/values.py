"""Reading numbers and shapes as people write them, and comparing them at the precision written.

Numbers (:func:`parse_number`)::

    1728   1,728   1 728   1.728e3   3.2M   138M   2.4 G   0.42 GFLOPs   3,2M
    96MB   222.49 MB   784 KB   12.25 MiB   12,845,056 B   (3*3*3)*64 = 1,728   224*224*64
    -  --  none        (zero, for counts)

Shapes (:func:`parse_shape`)::

    (None, 54, 54, 96)   [-1, 96, 55, 55]   [1, 96, 55, 55]   55x55x96   55×55×96   [224x224x64]

**Precision.** A written number stands for every true value that rounds to it
at the precision written: ``3.2M`` for anything in [3.15M, 3.25M] (half a unit
of the last digit written, both ends included, so any round-half rule agrees)::

    right  <=>  |truth / scale - mantissa| <= quantum / 2

``quantum`` is one unit of the last significant digit: ``3.2M`` -> 0.1 (in M),
``222.49 MB`` -> 0.01 (in MB), ``1,728`` -> 1. Trailing zeros of a whole
number are not significant (``800K`` means "8 hundred thousand, to the
nearest hundred thousand", ``138,000,000`` "138 million"), except for whole
numbers below 1,000 written without a suffix, which are read exactly (``100``
is one hundred, not "about 100"). ``0`` is exactly zero, ``0 MB`` less than half a MB.

**Memory units.** ``KB``, ``MB``, ``GB``, ``TB`` are read both ways, decimal
(10^3, 10^6, ...) and binary (2^10, 2^20, ...), and the verdict says which
reading matched; ``KiB``, ``MiB``, ... are binary only, ``kB`` decimal only
(SI), ``B`` bytes. French octets likewise: ``o``, ``Ko``/``Mo``/``Go`` both
ways (``18,4 Ko``), ``Kio``/``Mio``/``Gio`` binary. Count suffixes ``K``,
``M``, ``G``, ``T`` are decimal.

**Separators.** Thousands are grouped by commas or by spaces (plain, no-break
U+00A0, narrow no-break U+202F, thin U+2009: ``117 600``); a single comma
followed by other than three digits is a decimal comma (``0,4165 M``).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from fractions import Fraction

#: (scale, reading) pairs of each byte unit; a reading names the convention in verdicts
BYTE_UNITS: dict[str, tuple[tuple[int, str], ...]] = {
    "b": ((1, "bytes"),),
    "byte": ((1, "bytes"),),
    "bytes": ((1, "bytes"),),
    "kb": ((10**3, "decimal KB (10^3 B)"), (2**10, "binary KB (2^10 B = KiB)")),
    "mb": ((10**6, "decimal MB (10^6 B)"), (2**20, "binary MB (2^20 B = MiB)")),
    "gb": ((10**9, "decimal GB (10^9 B)"), (2**30, "binary GB (2^30 B = GiB)")),
    "tb": ((10**12, "decimal TB (10^12 B)"), (2**40, "binary TB (2^40 B = TiB)")),
    "kib": ((2**10, "KiB (2^10 B)"),),
    "mib": ((2**20, "MiB (2^20 B)"),),
    "gib": ((2**30, "GiB (2^30 B)"),),
    "tib": ((2**40, "TiB (2^40 B)"),),
    # French: octets; "Ko" is written for both 10^3 and 2^10 octets, "Kio" for 2^10 only
    "o": ((1, "octets (bytes)"),),
    "octet": ((1, "octets (bytes)"),),
    "octets": ((1, "octets (bytes)"),),
    "ko": ((10**3, "decimal Ko (10^3 o)"), (2**10, "binary Ko (2^10 o = Kio)")),
    "mo": ((10**6, "decimal Mo (10^6 o)"), (2**20, "binary Mo (2^20 o = Mio)")),
    "go": ((10**9, "decimal Go (10^9 o)"), (2**30, "binary Go (2^30 o = Gio)")),
    "to": ((10**12, "decimal To (10^12 o)"), (2**40, "binary To (2^40 o = Tio)")),
    "kio": ((2**10, "Kio (2^10 o)"),),
    "mio": ((2**20, "Mio (2^20 o)"),),
    "gio": ((2**30, "Gio (2^30 o)"),),
    "tio": ((2**40, "Tio (2^40 o)"),),
}
#: SI "kB" (lower-case k) is decimal only
_SI_KILOBYTE = ((10**3, "kB (10^3 B)"),)
_BINARY_NAME = {1: "B", 2**10: "KiB", 2**20: "MiB", 2**30: "GiB", 2**40: "TiB"}
_DECIMAL_NAME = {10**3: "kB", 10**6: "MB", 10**9: "GB", 10**12: "TB"}


COUNT_SUFFIXES = {
    "": 1,
    "k": 10**3,
    "thousand": 10**3,
    "m": 10**6,
    "mil": 10**6,
    "million": 10**6,
    "millions": 10**6,
    "g": 10**9,
    "bn": 10**9,
    "billion": 10**9,
    "billions": 10**9,
    "t": 10**12,
    "trillion": 10**12,
}

#: words after a count that say what is counted (``1.2 GFLOPs``, ``61,706 params``)
_COUNT_WORDS = re.compile(
    r"(flops?|macs?|mult-?adds?|madds?|gmacs?|ops|operations|params|parameters|param|weights|elements|"
    r"values|floats|activations)$",
    re.IGNORECASE,
)
#: "0.0" is not among them: it is a number at its precision, in the column's unit (0.0 MB)
_ZERO_WORDS = {"-", "--", "---", "—", "–", "none", "nil", "n/a"}
_APPROX = re.compile(r"^(~|≈|approx\.?|about|around|ca\.?)\s*", re.IGNORECASE)
_THOUSANDS_SPACES = " \u00a0\u202f\u2009_'’"
_NUMBER = re.compile(
    r"^(?P<sign>[+-]?)(?P<digits>\d[\d, \u00a0\u202f\u2009_'’]*?)(?:\.(?P<frac>\d+))?"
    r"(?:[eE](?P<exp>[+-]?\d+))?\s*(?P<unit>[A-Za-z][A-Za-z-]*)?(?:\s+(?P<word>[A-Za-z][A-Za-z-]*))?"
    r"\s*(?:(?:/|per)\s*\w+)?$"
)


@dataclass(frozen=True)
class WrittenNumber:
    """A number as written: ``mantissa`` times a unit, good to +/- ``quantum / 2``.

    ``scales`` are the possible unit readings as (multiplier, reading) pairs:
    one for counts (``M`` -> 10^6), two for ``MB`` (10^6 and 2^20).
    ``kind`` is ``count`` or ``bytes``; ``quantum`` 0 means exact.
    """

    text: str
    mantissa: Fraction
    quantum: Fraction
    scales: tuple[tuple[int, str], ...]
    kind: str = "count"
    unit: str = ""

    @property
    def value(self) -> Fraction:
        """The value under the first reading (counts: the only one)."""
        return self.mantissa * self.scales[0][0]

    def agrees(self, truth: int | Fraction, scale: int = 1) -> bool:
        """``|truth / scale - mantissa| <= quantum / 2`` (exact when quantum is 0)."""
        difference = abs(Fraction(truth) / scale - self.mantissa)
        return difference <= self.quantum / 2

    def reading(self, truth: int | Fraction) -> str | None:
        """The first unit reading under which ``truth`` rounds to this number, else None."""
        for scale, label in self.scales:
            if self.agrees(truth, scale):
                return label
        return None

    @property
    def is_rounded(self) -> bool:
        """Written to less than a unit (``3.2M``, ``800K``, ``222.49 MB``), not an exact count."""
        return self.quantum * self.scales[0][0] > 1

    def precision_words(self) -> str:
        """``rounded to 0.1M`` -- the precision the number was written at, for verdicts."""
        if self.quantum == 0:
            return "exact"
        quantum = self.quantum
        text = f"{int(quantum):,}" if quantum.denominator == 1 else f"{float(quantum):g}"
        space = " " if self.kind == "bytes" else ""
        return f"rounded to {text}{space}{self.unit}"

    def exactly(self, truth: int | Fraction) -> str | None:
        """Like :meth:`reading`, but only when the written value is exactly ``truth`` (no rounding)."""
        for scale, label in self.scales:
            if self.mantissa * scale == truth:
                return label
        return None


@dataclass(frozen=True)
class WrittenShape:
    """A shape as written: its numbers, with ``None`` for a batch placeholder (None, -1, ?, N)."""

    text: str
    dims: tuple[int | None, ...]


def _strip_wrapping(text: str) -> str:
    text = text.strip().strip("`*_ ").strip()
    text = _APPROX.sub("", text)
    return text.strip()


def _group_digits(digits: str) -> str | None:
    """``1,728`` / ``1 728`` -> ``1728``; groups must be three digits. None when malformed."""
    parts = re.split(f"[,{_THOUSANDS_SPACES}]", digits)
    if len(parts) == 1:
        return digits
    if not (1 <= len(parts[0]) <= 3) or parts[0].startswith("0") or any(len(p) != 3 for p in parts[1:]):
        return None  # "0,833" is a decimal comma, never a thousands group
    return "".join(parts)


def _evaluate_product(text: str) -> Fraction | None:
    """``(3*3*3)*64`` or ``224x224x64`` -> the exact value (+, -, *, / and brackets only)."""
    expression = re.sub(r"\s*[x×·]\s*", "*", text.replace(",", ""))
    if not re.fullmatch(r"[\d\s*+\-/().]+", expression) or not re.search(r"[*+/]", expression):
        return None
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError:
        return None

    def value(node: ast.AST) -> Fraction:
        if isinstance(node, ast.Expression):
            return value(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return Fraction(str(node.value))
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
            left, right = value(node.left), value(node.right)
            if isinstance(node.op, ast.Add):
                return left + right
            if isinstance(node.op, ast.Sub):
                return left - right
            if isinstance(node.op, ast.Mult):
                return left * right
            if right == 0:
                raise ValueError("division by zero")
            return left / right
        raise ValueError("not arithmetic")

    try:
        return value(tree)
    except (ValueError, RecursionError):
        return None


def _unit_scales(unit: str) -> tuple[str, tuple[tuple[int, str], ...]] | None:
    """A unit word -> (kind, scales); None when unknown."""
    if unit == "kB":
        return "bytes", _SI_KILOBYTE
    lower = unit.lower()
    if lower in BYTE_UNITS:
        return "bytes", BYTE_UNITS[lower]
    words = _COUNT_WORDS.sub("", lower).rstrip("-")
    if words in COUNT_SUFFIXES:
        return "count", ((COUNT_SUFFIXES[words], ""),)
    return None


def parse_number(text: str | float, default_unit: str = "") -> WrittenNumber | None:
    """A written number (see the module docstring), or None when it is not one.

    ``default_unit`` applies to a bare number (a column headed ``Memory (MB)``).
    ``a = b`` answers (``(3*3*3)*64 = 1,728``) are read by their last part.
    """
    if isinstance(text, bool):
        return None
    if isinstance(text, int):
        text = str(text)
    elif isinstance(text, float):
        text = repr(text)
    original = str(text)
    cleaned = _strip_wrapping(original)
    if "=" in cleaned:
        cleaned = _strip_wrapping(cleaned.rsplit("=", 1)[1])
    if cleaned.lower() in _ZERO_WORDS:
        return WrittenNumber(original, Fraction(0), Fraction(0), ((1, ""),))
    match = _NUMBER.match(cleaned)
    if match is None:
        product = _evaluate_product(cleaned)
        if product is None:
            return None
        return WrittenNumber(original, product, Fraction(0), ((1, ""),))
    digits = re.sub(f"[,{_THOUSANDS_SPACES}]+$", "", match["digits"])
    frac = match["frac"] or ""
    grouped = _group_digits(digits)
    if grouped is None:
        # a decimal comma: 3,2M
        if frac or digits.count(",") != 1 or re.search(f"[{_THOUSANDS_SPACES}]", digits):
            return None
        grouped, frac = digits.split(",")
    if match["word"] and not _COUNT_WORDS.fullmatch(match["word"]):
        return None
    unit = match["unit"] or default_unit
    scaled = _unit_scales(unit) if unit else ("count", ((1, ""),))
    if scaled is None:
        return None
    kind, scales = scaled
    sign = -1 if match["sign"] == "-" else 1
    mantissa = Fraction(int(grouped + frac), 10 ** len(frac)) * sign
    exponent = int(match["exp"] or 0)
    if frac:
        quantum = Fraction(1, 10 ** len(frac))
    elif int(grouped) == 0:
        # "0" is exactly zero; "0 MB" is less than half a megabyte
        quantum = Fraction(0) if scales[0][0] == 1 else Fraction(1)
    else:
        zeros = len(grouped) - len(grouped.rstrip("0"))
        small_plain = scales[0][0] == 1 and exponent == 0 and int(grouped) < 1000
        quantum = Fraction(1) if small_plain else Fraction(10**zeros)
    if exponent:
        mantissa *= Fraction(10) ** exponent
        quantum *= Fraction(10) ** exponent
    shown_unit = unit if kind == "bytes" else _COUNT_WORDS.sub("", unit).rstrip("-")
    if match["unit"] and not frac and not exponent and re.fullmatch(r"[1-9]\d{0,2},\d{3}", digits):
        # "1,833 M": a thousands comma (1,833 x 10^6) or a decimal one (1.833 x 10^6); both are read
        decimal = digits.replace(",", ".")
        scales = scales + tuple((Fraction(scale, 1000), f"{label + ', ' if label else ''}with a decimal comma "
                                 f"({decimal} {shown_unit})") for scale, label in scales if scale >= 1000)
    return WrittenNumber(original, mantissa, quantum, scales, kind, shown_unit)


_BATCH_WORDS = {"none", "-1", "?", "n", "b", "batch", "bs", "batch_size"}


def parse_shape(text: str | int | list | tuple) -> WrittenShape | None:
    """``(None, 54, 54, 96)`` -> dims (None, 54, 54, 96); None when it is not a shape."""
    if isinstance(text, bool):
        return None
    if isinstance(text, int):
        return WrittenShape(str(text), (text,))
    if isinstance(text, (list, tuple)):
        text = "x".join(str(v) for v in text)
    original = str(text)
    cleaned = _strip_wrapping(original)
    if "=" in cleaned:
        cleaned = cleaned.rsplit("=", 1)[1]
    cleaned = re.sub(r"[\[\]()]", " ", cleaned).strip().rstrip(",").strip()
    if not cleaned:
        return None
    parts = [p for p in re.split(r"\s*(?:[x×X*,]|\s)\s*", cleaned) if p]
    dims: list[int | None] = []
    for part in parts:
        if part.lower() in _BATCH_WORDS:
            dims.append(None)
        elif part.isdigit():
            dims.append(int(part))
        else:
            return None
    if not dims:
        return None
    return WrittenShape(original, tuple(dims))


def parse_pair(text: str | int | list | tuple) -> tuple[int, int] | None:
    """A receptive field: ``7``, ``7x7``, ``(7, 7)`` -> (7, 7); None otherwise."""
    shape = parse_shape(text)
    if shape is None or any(d is None for d in shape.dims):
        return None
    if len(shape.dims) == 1:
        return (shape.dims[0], shape.dims[0])  # type: ignore[return-value]
    if len(shape.dims) == 2:
        return (shape.dims[0], shape.dims[1])  # type: ignore[return-value]
    return None


# -- formatting of expected values (for verdict messages) ----------------------


def format_count(value: int | Fraction) -> str:
    """``1792`` -> ``1,792``; a fraction as a short decimal."""
    if isinstance(value, Fraction) and value.denominator != 1:
        return f"{float(value):,.6g}"
    return f"{int(value):,}"


def format_at(value: int | Fraction, written: WrittenNumber, scale: int) -> str:
    """``value`` in a unit the answer used, to one more digit than written (``3.21M``, ``6.25 KiB``)."""
    scaled = Fraction(value) / scale
    if written.quantum == 0 or written.quantum >= 1:
        decimals = 0 if scaled.denominator == 1 or abs(scaled) >= 100 else 2
    else:
        decimals = len(str(written.quantum.denominator))
    if written.kind == "bytes":
        unit = _BINARY_NAME.get(scale) if len(written.scales) > 1 and scale in _BINARY_NAME else None
        unit = unit or (_DECIMAL_NAME.get(scale) if len(written.scales) > 1 else written.unit)
        return f"{float(scaled):,.{decimals}f} {unit}"
    space = " " if len(written.unit) > 1 else ""  # 3.21M, but 768 thousand
    return f"{float(scaled):,.{decimals}f}{space}{written.unit}"
