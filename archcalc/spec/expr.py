"""A small, safe evaluator for the arithmetic in specs: ``$width * 4``.

Expressions are parsed with :mod:`ast` and walked over a whitelist: numbers,
strings, booleans, ``$variables``, ``+ - * / // % **``, comparisons,
``and or not``, ``a if cond else b``, lists, and the functions ``min max abs
int round ceil floor``. Nothing else (attributes, subscripts, other calls) is
accepted, and Python's ``eval`` is never used.

``/`` gives a whole number when the division is exact (``$c / 2`` with c = 64
is 32), else a float.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from typing import Any, Mapping

from archcalc.errors import SpecError

_VARIABLE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_WHOLE_VARIABLE = re.compile(r"^\s*\$([A-Za-z_][A-Za-z0-9_]*)\s*$")


def _divide(a: Any, b: Any) -> Any:
    if b == 0:
        raise SpecError(f"division by zero in {a} / {b}")
    if isinstance(a, int) and isinstance(b, int) and a % b == 0:
        return a // b
    return a / b


def _floordiv(a: Any, b: Any) -> Any:
    if b == 0:
        raise SpecError(f"division by zero in {a} // {b}")
    return a // b


#: the longest expression text, and the most items a list or characters a string built by one may hold
MAX_EXPRESSION_CHARS = 4000
MAX_BUILT_ITEMS = 100_000
#: the largest whole number an expression may build (in bits): layer sizes need far fewer
MAX_INT_BITS = 4096


def _sized(value: Any) -> Any:
    """``value``, or a SpecError when it is a list or string longer than :data:`MAX_BUILT_ITEMS`
    or an integer wider than :data:`MAX_INT_BITS` bits."""
    if isinstance(value, (list, str)) and len(value) > MAX_BUILT_ITEMS:
        raise SpecError(f"the expression builds a {type(value).__name__} of {len(value):,} items; "
                        f"a spec allows at most {MAX_BUILT_ITEMS:,}")
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > MAX_INT_BITS:
        raise SpecError(f"the expression builds a number of {value.bit_length():,} bits; a spec allows "
                        f"at most {MAX_INT_BITS:,}")
    return value


def _repeat_size(a: Any, b: Any) -> None:
    """Refuse ``[x] * n`` and ``"x" * n`` beyond :data:`MAX_BUILT_ITEMS` before building them."""
    for seq, times in ((a, b), (b, a)):
        if isinstance(seq, (list, str)) and isinstance(times, int) and not isinstance(times, bool):
            if len(seq) * max(times, 0) > MAX_BUILT_ITEMS:
                raise SpecError(f"the expression builds a {type(seq).__name__} of {len(seq) * times:,} items; "
                                f"a spec allows at most {MAX_BUILT_ITEMS:,}")


def _multiply(a: Any, b: Any) -> Any:
    _repeat_size(a, b)
    if isinstance(a, int) and isinstance(b, int) and a.bit_length() + b.bit_length() > MAX_INT_BITS + 1:
        raise SpecError(f"the expression builds a number of more than {MAX_INT_BITS:,} bits")
    return a * b


def _add(a: Any, b: Any) -> Any:
    if isinstance(a, (list, str)) and isinstance(b, (list, str)) and len(a) + len(b) > MAX_BUILT_ITEMS:
        raise SpecError(f"the expression builds a {type(a).__name__} of {len(a) + len(b):,} items; "
                        f"a spec allows at most {MAX_BUILT_ITEMS:,}")
    return a + b


def _power(a: Any, b: Any) -> Any:
    if abs(b) > 64 or abs(a) > 2**32:
        raise SpecError(f"{a} ** {b} is too large for a spec")
    return a**b


_BINARY = {
    ast.Add: _add,
    ast.Sub: operator.sub,
    ast.Mult: _multiply,
    ast.Div: _divide,
    ast.FloorDiv: _floordiv,
    ast.Mod: operator.mod,
    ast.Pow: _power,
}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_}
_COMPARE = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_FUNCTIONS = {
    "min": min,
    "max": max,
    "abs": abs,
    "int": int,
    "round": round,
    "ceil": math.ceil,
    "floor": math.floor,
}


def has_variables(text: str) -> bool:
    return "$" in text


def evaluate(text: str, variables: Mapping[str, Any]) -> Any:
    """Evaluate one expression string with ``$name`` variables.

    A string that is exactly ``$name`` returns the variable's value unchanged
    (it may be a list or a string).
    """
    whole = _WHOLE_VARIABLE.match(text)
    if whole:
        return _lookup(whole.group(1), variables, text)
    if len(text) > MAX_EXPRESSION_CHARS:
        raise SpecError(f"the expression is {len(text):,} characters long; a spec allows at most "
                        f"{MAX_EXPRESSION_CHARS:,}")
    source = _VARIABLE.sub(lambda m: m.group(1), text)
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except (SyntaxError, RecursionError, MemoryError):
        raise SpecError(f"cannot read the expression {text!r}") from None
    try:
        return _sized(_walk(tree.body, variables, text))
    except RecursionError:
        raise SpecError(f"the expression {text!r} is nested too deeply") from None
    except (TypeError, ValueError, OverflowError, ZeroDivisionError) as error:
        raise SpecError(f"cannot evaluate the expression {text!r}: {error}") from None


def _lookup(name: str, variables: Mapping[str, Any], text: str) -> Any:
    if name not in variables:
        known = ", ".join(f"${v}" for v in sorted(variables)) or "none"
        raise SpecError(f"unknown variable ${name} in {text!r} (known here: {known})")
    return variables[name]


def _walk(node: ast.AST, variables: Mapping[str, Any], text: str) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool, type(None))):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in ("True", "False", "None"):
            return {"True": True, "False": False, "None": None}[node.id]
        return _lookup(node.id, variables, text)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return _sized(_BINARY[type(node.op)](_walk(node.left, variables, text), _walk(node.right, variables, text)))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_walk(node.operand, variables, text))
    if isinstance(node, ast.BoolOp):
        values = [_walk(v, variables, text) for v in node.values]
        if isinstance(node.op, ast.And):
            result = values[0]
            for v in values[1:]:
                result = result and v
            return result
        result = values[0]
        for v in values[1:]:
            result = result or v
        return result
    if isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops):
        left = _walk(node.left, variables, text)
        for op, right_node in zip(node.ops, node.comparators):
            right = _walk(right_node, variables, text)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.IfExp):
        branch = node.body if _walk(node.test, variables, text) else node.orelse
        return _walk(branch, variables, text)
    if isinstance(node, (ast.List, ast.Tuple)):
        return _sized([_walk(v, variables, text) for v in node.elts])
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCTIONS
        and not node.keywords
    ):
        return _FUNCTIONS[node.func.id](*[_walk(a, variables, text) for a in node.args])
    raise SpecError(
        f"the expression {text!r} uses something a spec cannot: {ast.dump(node)[:40]}...",
        hint="specs allow numbers, $variables, + - * / // % **, comparisons, 'a if c else b', min/max/ceil/floor",
    )


def substitute(value: Any, variables: Mapping[str, Any]) -> Any:
    """Evaluate every string containing ``$`` inside ``value`` (lists and mappings too)."""
    if isinstance(value, str):
        return evaluate(value, variables) if has_variables(value) else value
    if isinstance(value, list):
        return [substitute(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, variables) for k, v in value.items()}
    return value
