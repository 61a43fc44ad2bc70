"""The small rules behind the hostile-input corpus, checked on their own with values written out
from their sources: OWASP's formula characters, the escapes Python writes, the size of a
"billion laughs" (9 ** levels), and an error's quoted values cut to about 80 characters."""

from __future__ import annotations

import pytest

from archcalc.errors import SpecError
from archcalc.render.csv_cells import neutral_cell
from archcalc.render.terminal_text import visible, visible_line
from archcalc.spec.loader import MAX_YAML_VALUES, parse_yaml


@pytest.mark.parametrize("cell", ["=1+1", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=1", "=HYPERLINK(\"x\")"])
def test_formula_cells_get_a_leading_quote(cell):
    assert neutral_cell(cell) == "'" + cell  # OWASP: prepend a single quote


@pytest.mark.parametrize("cell", ["-3", "+1.5e3", "-1,024", "-", "conv1", "", "3x3", 42, -3, 1.5, None])
def test_data_cells_stay_as_they_are(cell):
    assert neutral_cell(cell) == cell


@pytest.mark.parametrize("text, shown", [
    ("c\x1b]0;PWN\x07\x1b[2J", "c\\x1b]0;PWN\\x07\\x1b[2J"),
    ("a\x00b\rc", "a\\x00b\\rc"),
    ("x\x9by\x7f", "x\\x9by\\x7f"),
    ("safe\u202eexe", "safe\\u202eexe"),
    ("plain text, é and 中文", "plain text, é and 中文"),
])
def test_control_characters_are_shown_as_escapes(text, shown):
    assert visible(text) == shown


def test_a_cell_stays_on_one_line():
    assert visible("a\nb\tc") == "a\nb\tc" and visible_line("a\nb\tc") == "a\\nb\\tc"


def laughs(levels: int, width: int = 9) -> str:
    lines = ['l0: &l0 "lol"']
    for level in range(1, levels + 1):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def test_aliases_within_the_bound_are_read():
    # level k stands for 1 + 9 * (size of level k-1) values: sum of 9**i for i <= k
    doc = parse_yaml(laughs(4))
    assert len(doc["l4"]) == 9 and doc["l4"][0][0][0][0] == "lol"
    total = sum(sum(9**i for i in range(k + 1)) for k in range(5)) + 1 + 5
    assert total < MAX_YAML_VALUES


def test_a_billion_laughs_is_refused_before_it_is_used():
    assert sum(9**i for i in range(10)) > MAX_YAML_VALUES  # level 9 alone
    with pytest.raises(SpecError, match="expands to more than"):
        parse_yaml(laughs(9))


def test_an_anchor_inside_itself_is_refused():
    with pytest.raises(SpecError, match="refers to itself"):
        parse_yaml("a: &a [1, [2, *a]]\n")


def test_errors_quote_at_most_about_80_characters_of_a_value():
    error = SpecError(f"the name {'x' * 2_000_000!r} is not a layer")
    assert len(str(error)) < 200 and str(error).startswith("the name 'xxx") and "more characters" in str(error)
    listed = SpecError(f"filters must be a whole number, got {list(range(100_000))}")
    assert len(str(listed)) < 250 and str(listed).startswith("filters must be a whole number, got [0, 1, 2")
