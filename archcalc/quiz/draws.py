"""Drawing an exercise's numbers for one student: seeded, reproducible, in the template's order.

A template's ``draw`` maps names to:

* a list: one of its items, uniformly (repeat an item to weight it; an item may be an
  expression of the values drawn before it);
* ``"A..B"``: a whole number from A to B, both ends included; A and B may be
  expressions (``"0..$kernel // 2"``);
* a string with ``$``: an expression of the values drawn before it
  (``"'max' if $op == 'maxpool' else 'average'"``);
* anything else: that value.

Expressions are the spec language's (:mod:`archcalc.spec.expr`: numbers, ``$names``,
``+ - * / // % **``, comparisons, ``a if c else b``, ``min max ceil floor``), never
Python's ``eval``. Values given by the teacher (``--set``, ``--classic``) are used as they
are, and the draws after them see them.

Every variant draws from its own generator, :func:`variant_random`, seeded by the quiz
kind, the seed and the variant's number, so variant 7 is the same whether 10 or 30
students are drawn.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from typing import Any

from archcalc.errors import InputError, SpecError
from archcalc.spec.expr import evaluate, has_variables

_RANGE = re.compile(r"^\s*(?P<low>.+?)\s*\.\.\s*(?P<high>.+?)\s*$")


def variant_random(kind: str, seed: int, number: int) -> random.Random:
    """The generator of variant ``number`` (1-based) of a ``kind`` quiz drawn with ``seed``."""
    return random.Random(f"archcalc-quiz:{kind}:{seed}:{number}")


def compute(expression: Any, values: Mapping[str, Any], where: str) -> Any:
    """An expression (or a plain value) with ``values`` plugged in."""
    if isinstance(expression, str) and has_variables(expression):
        try:
            return evaluate(expression, values)
        except SpecError as error:
            raise InputError(f"{where}: {error.message}") from None
    return expression


def _whole(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
        raise InputError(f"{where}: a range needs whole numbers, got {value!r}")
    return int(value)


def draw_value(rule: Any, values: Mapping[str, Any], rng: random.Random, where: str) -> Any:
    """One value drawn by ``rule`` (see the module docstring)."""
    if isinstance(rule, list):
        if not rule:
            raise InputError(f"{where}: nothing to draw from")
        return compute(rng.choice(rule), values, where)
    if isinstance(rule, str):
        match = _RANGE.match(rule)
        if match:
            low = _whole(compute(_as_expression(match["low"]), values, where), where)
            high = _whole(compute(_as_expression(match["high"]), values, where), where)
            if high < low:
                raise InputError(f"{where}: the range {rule!r} is empty ({low}..{high})")
            return rng.randint(low, high)
    return compute(rule, values, where)


def _as_expression(text: str) -> Any:
    """``"8"`` -> 8; ``"$kernel // 2"`` stays an expression."""
    text = text.strip()
    if has_variables(text):
        return text
    try:
        return int(text)
    except ValueError:
        return text


def draw_values(
    draw: Mapping[str, Any],
    rng: random.Random,
    fixed: Mapping[str, Any] | None = None,
    where: str = "draw",
) -> dict[str, Any]:
    """Every value of ``draw`` in order; a name in ``fixed`` takes that value instead."""
    fixed = dict(fixed or {})
    values: dict[str, Any] = {}
    for name, rule in draw.items():
        if name in fixed:
            values[name] = fixed[name]
        else:
            values[name] = draw_value(rule, values, rng, f"{where}: {name}")
    for name, value in fixed.items():
        values.setdefault(name, value)
    return values


def requirements_hold(require: list[str], values: Mapping[str, Any], where: str) -> bool:
    """Whether every condition of ``require`` holds for ``values``."""
    return all(bool(compute(condition, values, f"{where}: require")) for condition in require)


def substitute(value: Any, values: Mapping[str, Any], where: str) -> Any:
    """``value`` (a spec fragment) with every ``$expression`` computed; a mapping key
    ``$name`` becomes the value of ``name`` (a drawn layer type)."""
    if isinstance(value, str):
        return compute(value, values, where)
    if isinstance(value, list):
        return [substitute(v, values, where) for v in value]
    if isinstance(value, dict):
        return {str(compute(k, values, where)): substitute(v, values, where) for k, v in value.items()}
    return value


__all__ = ["compute", "draw_value", "draw_values", "requirements_hold", "substitute", "variant_random"]
