"""The spec evaluator: arithmetic works, nothing else gets through."""

from __future__ import annotations

import pytest

from archcalc.errors import SpecError
from archcalc.spec.expr import evaluate, substitute


@pytest.mark.parametrize(
    "text, expected",
    [
        ("$w * 4", 256),
        ("$w / 2", 32),
        ("$w / 3", 64 / 3),
        ("$w // 3", 21),
        ("($w + 1) * 2", 130),
        ("2 if $i == 0 else 1", 2),
        ("max($w, 100)", 100),
        ("ceil($w / 3)", 22),
        ("$w ** 2", 4096),
        ("$w > 10 and $i == 0", True),
        ("not $i", True),
        ("-$w", -64),
    ],
)
def test_arithmetic(text, expected):
    assert evaluate(text, {"w": 64, "i": 0}) == expected


def test_whole_variable_keeps_its_type():
    assert evaluate("$k", {"k": [3, 5]}) == [3, 5]


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('true')",
        "$w.__class__",
        "open('x')",
        "[x for x in (1, 2)]",
        "lambda: 1",
        "$w[0]",
        "2 ** 10 ** 10",
    ],
)
def test_unsafe_or_huge_expressions_are_refused(text):
    with pytest.raises(SpecError):
        evaluate(text, {"w": 64})


def test_unknown_variable_lists_the_known_ones():
    with pytest.raises(SpecError, match=r"unknown variable \$width .*\$w"):
        evaluate("$width * 2", {"w": 1})


def test_substitute_walks_lists_and_mappings():
    assert substitute({"a": "$w * 2", "b": ["$w", 3], "c": "plain"}, {"w": 5}) == {"a": 10, "b": [5, 3], "c": "plain"}
