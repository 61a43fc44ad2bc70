"""Derivations: each number of a layer with its formula and the user's numbers plugged in.

``explain_row(row, report)`` returns the steps a course would write, e.g.::

    output height  (W - F + 2P)/S + 1  = (32 - 5 + 2*2)/1 + 1 = 32
    params         (F*F*Cin/g + 1) * K = (5*5*3 + 1) * 10     = 760
    MACs           H_out*W_out*K * (F*F*Cin/g) = 32*32*10 * (5*5*3) = 768,000

The values always come from the Report (the rules compute them); the
derivation only shows the arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    """One derived number: what it is, the formula, the formula with numbers, the value."""

    quantity: str
    formula: str
    substituted: str
    value: int | float | str
    note: str = ""
