"""The key of the web page, hashed: what a right answer may look like, never the answer itself.

The page (:mod:`archcalc.quiz.webpage`) turns what the student typed into canonical
strings and compares their hashes with the hashes embedded for the cell. A cell's hash is
an iterated SHA-256::

    h_1 = SHA-256(salt "|" cell "|" canonical)        (UTF-8)
    h_i = SHA-256(h_{i-1})                            i = 2 .. ITERATIONS (raw 32-byte digests)
    hash = hex(h_ITERATIONS)[:HEX]

Canonical strings:

* a shape: ``s:H,W,C`` (``s:F`` for a vector); the page tries what was typed as
  H x W x C and as C x H x W, and drops a batch axis (``None``, ``-1``, or a fourth number);
* a receptive field: ``r:h,w`` (``7`` is ``r:7,7``);
* a number: ``n:<k>e<j>`` (``:w`` written out), ``b:<k>e<j>:<unit>`` for bytes, as
  :mod:`archcalc.quiz.page_rules` defines them; the page holds the canonical strings of the
  answers ``archcalc check`` grades right (the same code decides), so that the page
  accepts an answer exactly when ``archcalc check`` does. (:func:`number_canonicals` is the
  older rule, precision only, kept for callers of this module.)

Reading the page's source shows salts and hashes, not answers. A determined student can
still try every candidate (a shape has few), so the hashing hides the key from reading, it
is no vault.
"""

from __future__ import annotations

import hashlib
import math
from fractions import Fraction
from typing import Any

#: 100 rounds: a page of 30 tables hashes some 20,000 accepted answers when it is written
ITERATIONS = 100
HEX = 24
#: precision tried below the exact value (``760.00`` for 760)
EXTRA_DECIMALS = 2


def digest(salt: str, cell: str, canonical: str, iterations: int = ITERATIONS) -> str:
    """The iterated SHA-256 of one canonical answer (see the module docstring)."""
    value = hashlib.sha256(f"{salt}|{cell}|{canonical}".encode()).digest()
    for _ in range(iterations - 1):
        value = hashlib.sha256(value).digest()
    return value.hex()[:HEX]


def shape_canonicals(shape: tuple[int, ...]) -> list[str]:
    """``(C, H, W)`` -> ``s:H,W,C`` (and ``s:C`` when H = W = 1); ``(F,)`` -> ``s:F`` and ``s:1,1,F``."""
    if len(shape) == 3:
        c, h, w = shape
        return [f"s:{h},{w},{c}"] + ([f"s:{c}"] if h == w == 1 else [])
    if len(shape) == 1:
        return [f"s:{shape[0]}", f"s:1,1,{shape[0]}"]
    return ["s:" + ",".join(str(v) for v in shape)]


def rf_canonical(size: tuple[Any, Any]) -> str:
    return "r:" + ",".join(str(Fraction(v)) for v in size)


def _decimals(value: Fraction) -> int:
    """How many decimals the exact value needs (0 for a whole number)."""
    places = 0
    while (value * 10**places).denominator != 1 and places < 30:
        places += 1
    return places


def number_canonicals(truth: Fraction) -> list[str]:
    """Every ``n:<k>e<j>`` a right answer may be written as (see the module docstring)."""
    truth = Fraction(truth)
    top = math.floor(math.log10(abs(truth))) if truth else 0
    found = []
    for j in range(-_decimals(truth) - EXTRA_DECIMALS, top + 1):
        unit = Fraction(10) ** j
        scaled = truth / unit
        for k in {math.floor(scaled + Fraction(1, 2)), math.ceil(scaled - Fraction(1, 2))}:
            if abs(truth - k * unit) <= unit / 2:
                found.append(f"n:{k}e{j}")
    return sorted(set(found))


def canonicals(quantity: str, value: Any, factor: int = 1) -> list[str]:
    """The canonical strings of a right answer; ``factor``: what one unit of the column is worth."""
    if quantity == "shape":
        return shape_canonicals(tuple(value))
    if quantity == "rf":
        return [rf_canonical(tuple(value))]
    return number_canonicals(Fraction(int(value), factor))


def cell_hashes(salt: str, cell: str, quantity: str, value: Any, factor: int = 1) -> list[str]:
    return sorted({digest(salt, cell, c) for c in canonicals(quantity, value, factor)})


__all__ = ["HEX", "ITERATIONS", "canonicals", "cell_hashes", "digest", "number_canonicals", "rf_canonical",
           "shape_canonicals"]
