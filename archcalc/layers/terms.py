"""Numbers that carry their formula: the arithmetic of a rule, written as a course writes it.

A rule's :meth:`~archcalc.layers.base.Rule.derive` computes each number of a
layer as a :class:`Term` (value, formula, the formula with the numbers in) and
returns them as :class:`Derived` steps; ``params`` and ``ops`` read the values
off those steps and ``--explain`` prints the same steps. So a derivation can
never disagree with the number it derives::

    per = factors("F*F*Cin", 5, 5, 3)          # 75, "F*F*Cin", "5*5*3"
    k = atom(10, "K")
    weights = per * k                          # 750, "F*F*Cin * K", "5*5*3 * 10"
    params = (per + 1).grouped() * k           # 760, "(F*F*Cin + 1) * K", "(5*5*3 + 1) * 10"

Values are per sample; the analysis multiplies operation counts by the batch
(and ``--explain`` writes ``N*`` in front).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from archcalc.inputs import format_hwc

Shape = tuple[int, ...]

#: how a course names each kind of primitive operation
OP_WORDS = {
    "adds": "additions",
    "muls": "multiplications",
    "divs": "divisions",
    "cmps": "comparisons",
    "exps": "exp/sqrt/pow",
}


def num(value: Any) -> str:
    """A number as written in a derivation: ``768,000``; a fraction as ``(1/2)``."""
    if isinstance(value, Fraction):
        if value.denominator == 1:
            value = int(value)
        else:
            return f"({value.numerator}/{value.denominator})"
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float) and value.is_integer():
        return f"{int(value):,}"
    return repr(value)


def power_of_ten(value: int) -> str:
    """A large count as a course writes it: ``43,713,621,600`` -> ``43.7x10^9`` (exponent a multiple
    of 3, three significant digits); below 10^3 the number itself."""
    exponent = 0
    while abs(value) >= 10 ** (exponent + 3):
        exponent += 3
    if exponent == 0:
        return f"{value:,}"
    return f"{value / 10 ** exponent:.3g}x10^{exponent}"


def elements_text(shape: Shape) -> str:
    """``(C, H, W)`` -> ``H*W*C`` (course order); other shapes joined by ``*``."""
    if len(shape) == 3:
        c, h, w = shape
        return f"{h}*{w}*{c}"
    return "*".join(str(s) for s in shape) or "1"


class Term:
    """A number, the formula that gives it and the same formula with the numbers in.

    ``a * b`` and ``a + b`` combine terms (plain numbers become terms written as
    themselves) with spaces around the operator, as course notes write products of
    groups: ``H_out*W_out*K * (F*F*Cin)``; :meth:`grouped` adds parentheses.
    (A plain class with slots, not a dataclass: rules make thousands of them.)
    """

    __slots__ = ("value", "formula", "text")

    def __init__(self, value: Any, formula: str, text: str) -> None:
        self.value = value
        self.formula = formula
        self.text = text

    def __repr__(self) -> str:
        return f"Term({self.value!r}, {self.formula!r}, {self.text!r})"

    def __mul__(self, other: Term | int) -> Term:
        other = as_term(other)
        return Term(self.value * other.value, f"{self.formula} * {other.formula}", f"{self.text} * {other.text}")

    def __rmul__(self, other: int) -> Term:
        return as_term(other) * self

    def __add__(self, other: Term | int) -> Term:
        other = as_term(other)
        return Term(self.value + other.value, f"{self.formula} + {other.formula}", f"{self.text} + {other.text}")

    def __sub__(self, other: Term | int) -> Term:
        other = as_term(other)
        return Term(self.value - other.value, f"{self.formula} - {other.formula}", f"{self.text} - {other.text}")

    def grouped(self) -> Term:
        return Term(self.value, f"({self.formula})", f"({self.text})")

    def named(self, formula: str) -> Term:
        """The same number and arithmetic under another formula (``2 * n`` -> ``params``)."""
        return Term(self.value, formula, self.text)

    def step(self, key: str, quantity: str, note: str = "", shown: bool = True, suffix: str = "") -> Derived:
        return Derived(key, quantity, self.formula, self.text, self.value, note, shown, suffix)


def as_term(value: Term | int) -> Term:
    return value if isinstance(value, Term) else Term(value, str(value), str(value))


def atom(value: Any, formula: str, text: str | None = None) -> Term:
    """One named quantity: ``atom(10, "K")`` is written ``K`` and ``10``."""
    return Term(value, formula, str(value) if text is None else text)


def factors(formula: str, *numbers: int) -> Term:
    """A product written without spaces: ``factors("F*F*Cin", 5, 5, 3)`` is 75, ``5*5*3``."""
    value = 1
    for n in numbers:
        value *= n
    return Term(value, formula, "*".join(str(n) for n in numbers))


def count(shape: Shape, formula: str) -> Term:
    """The elements of a per-sample shape, written ``H*W*C``."""
    value = 1
    for n in shape:
        value *= n
    return Term(value, formula, elements_text(shape))


class Derived:
    """One number of a layer: which one (``key``, as the Report names it), what a course
    calls it, the formula, the formula with the numbers in, the value (per sample), a note.

    ``shown`` False: used for the counts but not printed (``bias_adds``, ``fvcore``).
    ``suffix``: words after the formula where a convention shows it (``(fvcore's
    batchnorm handle)``).
    """

    __slots__ = ("key", "quantity", "formula", "text", "value", "note", "shown", "suffix")

    def __init__(self, key: str, quantity: str, formula: str, text: str, value: Any, note: str = "",
                 shown: bool = True, suffix: str = "") -> None:
        self.key, self.quantity, self.formula, self.text = key, quantity, formula, text
        self.value, self.note, self.shown, self.suffix = value, note, shown, suffix

    def __repr__(self) -> str:
        return f"Derived({self.key!r}, {self.formula!r}, {self.text!r}, {self.value!r})"


@dataclass(frozen=True)
class WeightShape:
    """A weight tensor's shape in torch's axis order and in Keras', with the letters of each
    axis as a course writes them: a convolution's ``(K, Cin, F, F)`` (torch OIHW) is Keras'
    ``(F, F, Cin, K)`` (HWIO). ``orders`` names the two orders (``("OIHW", "HWIO")``)."""

    torch: Shape
    keras: Shape
    torch_letters: tuple[str, ...]
    keras_letters: tuple[str, ...]
    orders: tuple[str, str] = ("", "")
    note: str = ""

    def __str__(self) -> str:
        return f"torch {_tuple_text(self.torch)}, Keras {_tuple_text(self.keras)}"

    def to_dict(self) -> dict[str, list[int]]:
        return {"torch": list(self.torch), "keras": list(self.keras)}

    def step(self) -> Derived:
        torch_order, keras_order = (f" {o}" if o else "" for o in self.orders)
        formula = (f"torch{torch_order} ({', '.join(self.torch_letters)}), "
                   f"Keras{keras_order} ({', '.join(self.keras_letters)})")
        return Derived("weight_shape", "weight tensor", formula, str(self), str(self), self.note)


def _tuple_text(values: Shape) -> str:
    return "(" + ", ".join(str(v) for v in values) + ("," if len(values) == 1 else "") + ")"


def hidden(key: str, value: int, formula: str = "", text: str = "", suffix: str = "") -> Derived:
    """A count the rules need but ``--explain`` does not list on its own."""
    return Derived(key, key, formula, text, value, shown=False, suffix=suffix)


def shape_step(out_shape: Shape, formula: str, text: str = "", note: str = "") -> Derived:
    """The output shape written H x W x C: ``H_out x W_out x K = 32 x 32 x 10 = 32x32x10``."""
    value = format_hwc(out_shape)
    return Derived("output_shape", "output shape", formula, text or value.replace("x", " x "), value, note)


def no_params() -> Derived:
    return Derived("params", "params", "no weights", "0", 0)
