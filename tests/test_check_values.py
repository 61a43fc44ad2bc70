"""Reading numbers and shapes as people write them, and comparing them at the precision written.

Every expected value here is arithmetic written out in the test.
"""

from decimal import ROUND_HALF_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archcalc.grading.answers import AnswerCell
from archcalc.grading.truths import Reading
from archcalc.grading.values import parse_number, parse_pair, parse_shape
from archcalc.grading.cells import grade_number
from archcalc.grading.verdicts import Status


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1,728", 1728),
        ("1 728", 1728),
        ("1\u202f728", 1728),
        ("1728", 1728),
        ("3.2M", Fraction(32, 10) * 10**6),
        ("138M", 138 * 10**6),
        ("2.4M", Fraction(24, 10) * 10**6),
        ("3,2M", Fraction(32, 10) * 10**6),
        ("0.42 GFLOPs", Fraction(42, 100) * 10**9),
        ("1.5e6", 1_500_000),
        ("138M parameters", 138 * 10**6),
        ("(3*3*3)*64 = 1,728", 1728),
        ("224*224*64=3.2M", Fraction(32, 10) * 10**6),
        ("3*3*3*64", 1728),
        ("55x55x96", 55 * 55 * 96),
        ("--", 0),
        ("~ 15M", 15 * 10**6),
    ],
)
def test_counts_are_read_as_written(text, value):
    number = parse_number(text)
    assert number is not None and number.kind == "count"
    assert number.value == value


@pytest.mark.parametrize(
    ("text", "scales"),
    [
        ("96MB", (10**6, 2**20)),
        ("222.49 MB", (10**6, 2**20)),
        ("784 KB", (10**3, 2**10)),
        ("12.25 MiB", (2**20,)),
        ("6.4 kB", (10**3,)),
        ("12,845,056 B", (1,)),
        ("24M * 4 bytes ~= 96MB / image", (10**6, 2**20)),
    ],
)
def test_memory_units_keep_both_readings(text, scales):
    number = parse_number(text)
    assert number is not None and number.kind == "bytes"
    assert tuple(scale for scale, _ in number.scales) == scales


@pytest.mark.parametrize("text", ["abc", "12 apples", "1,72,8", "3.2.1", ""])
def test_not_numbers(text):
    assert parse_number(text) is None


@pytest.mark.parametrize(
    ("text", "dims"),
    [
        ("(None, 54, 54, 96)", (None, 54, 54, 96)),
        ("[-1, 96, 55, 55]", (None, 96, 55, 55)),
        ("[1, 96, 55, 55]", (1, 96, 55, 55)),
        ("55x55x96", (55, 55, 96)),
        ("55×55×96", (55, 55, 96)),
        ("55 x 55 x 96", (55, 55, 96)),
        ("[224x224x64]", (224, 224, 64)),
        ("[(None, 224, 224, 3)]", (None, 224, 224, 3)),
        ("(4096,)", (4096,)),
        ("4096", (4096,)),
    ],
)
def test_shapes_are_read_as_written(text, dims):
    shape = parse_shape(text)
    assert shape is not None and shape.dims == dims


def test_receptive_field_pairs():
    assert parse_pair("7") == (7, 7)
    assert parse_pair("7x5") == (7, 5)
    assert parse_pair("(3, 3)") == (3, 3)
    assert parse_pair("7x7x3") is None


def _grade(text: str, truth: int, kind: str = "count"):
    return grade_number(AnswerCell("params", text), [Reading(truth, "the truth", kind)])


@pytest.mark.parametrize(
    ("text", "truth"),
    [
        ("3.2M", 3_211_264),  # 224*224*64 rounded to 0.1M
        ("800K", 802_816),  # 112*112*64: trailing zeros of 800 are not significant
        ("25K", 25_088),  # 7*7*512
        ("138M", 138_357_544),
        ("138,000,000", 138_357_544),
        ("1.79K", 1_792),
        ("0.42M", 416_520),
    ],
)
def test_rounded_answers_are_right_at_their_precision(text, truth):
    verdict = _grade(text, truth)
    assert verdict.status is Status.RIGHT
    assert "rounded" in verdict.note


@pytest.mark.parametrize(
    ("text", "truth"),
    [
        ("3.3M", 3_211_264),
        ("3.21M", 3_200_000),
        ("1,727", 1_728),
        ("100", 104),  # below 1,000 and without a suffix, a number is exact
        ("10", 14),
    ],
)
def test_answers_off_at_their_precision_are_wrong(text, truth):
    assert _grade(text, truth).status is Status.WRONG


@pytest.mark.parametrize(
    ("text", "truth", "reading"),
    [
        # 138,357,544 parameters x 4 bytes = 553,430,176 B
        ("553.43 MB", 553_430_176, "decimal"),  # / 10^6
        ("527.79 MB", 553_430_176, "binary"),  # / 2^20
        ("527.79 MiB", 553_430_176, "MiB"),
        ("784 KB", 784_000, "decimal"),
        ("784 KB", 784 * 1024, "binary"),
    ],
)
def test_memory_in_mb_is_right_under_either_reading_and_says_which(text, truth, reading):
    verdict = _grade(text, truth, "bytes")
    assert verdict.status is Status.RIGHT
    assert reading in verdict.note


def test_mib_is_not_read_as_decimal():
    # 553.43 is the decimal reading of 553,430,176 B; MiB allows only 2^20
    assert _grade("553.43 MiB", 553_430_176, "bytes").status is Status.WRONG


def test_unreadable_cells_are_not_checkable():
    assert _grade("about a million", 1_000_000).status is Status.NOT_CHECKABLE


_SUFFIXES = [(0, ""), (3, "K"), (6, "M"), (9, "G"), (12, "T")]
_ROUNDINGS = [ROUND_HALF_UP, ROUND_HALF_EVEN, ROUND_HALF_DOWN]


def _rounded(truth: int, digits: int, rounding: str) -> tuple[Decimal, int]:
    """``truth`` rounded to ``digits`` significant digits, and the exponent of the last one."""
    exponent = len(str(truth)) - digits
    quantum = Decimal(1).scaleb(exponent)
    return Decimal(truth).quantize(quantum, rounding=rounding), exponent


@settings(max_examples=300, deadline=None)
@given(
    truth=st.integers(min_value=1000, max_value=10**14),
    digits=st.integers(min_value=1, max_value=8),
    suffix=st.sampled_from(_SUFFIXES),
    grouping=st.sampled_from(["", ",", " "]),
    rounding=st.sampled_from(_ROUNDINGS),
)
def test_a_right_count_is_never_wrong_at_the_precision_written(truth, digits, suffix, grouping, rounding):
    """Round the truth to some significant digits, write it with a suffix (3.2M) or in full
    (1,700 / 1 700), with any round-half rule: the grader must call it right."""
    rounded, exponent = _rounded(truth, digits, rounding)
    power, letter = suffix
    mantissa = rounded.scaleb(-power)
    decimals = max(0, power - exponent)
    text = f"{mantissa:.{decimals}f}"
    whole, _, fraction = text.partition(".")
    if grouping:
        whole = f"{int(whole):,}".replace(",", grouping)
    text = whole + ("." + fraction if fraction else "") + letter
    verdict = _grade(text, truth)
    assert verdict.status is Status.RIGHT, (text, truth, verdict.note)


@settings(max_examples=300, deadline=None)
@given(
    truth=st.integers(min_value=1, max_value=10**13),
    decimals=st.integers(min_value=0, max_value=4),
    unit=st.sampled_from([("KB", 10**3), ("KB", 2**10), ("MB", 10**6), ("MB", 2**20), ("GB", 10**9),
                          ("GB", 2**30), ("MiB", 2**20), ("KiB", 2**10), ("kB", 10**3)]),
    rounding=st.sampled_from(_ROUNDINGS),
    space=st.sampled_from(["", " "]),
)
def test_a_right_memory_size_is_never_wrong_at_the_precision_written(truth, decimals, unit, rounding, space):
    name, scale = unit
    value = (Decimal(truth) / Decimal(scale)).quantize(Decimal(1).scaleb(-decimals), rounding=rounding)
    text = f"{value:.{decimals}f}{space}{name}"
    verdict = _grade(text, truth, "bytes")
    assert verdict.status is Status.RIGHT, (text, truth, verdict.note)


@settings(max_examples=200, deadline=None)
@given(truth=st.integers(min_value=1, max_value=10**12), delta=st.integers(min_value=1, max_value=10**6))
def test_an_exact_count_written_in_full_and_off_by_some_is_wrong(truth, delta):
    written = truth + delta
    if written % 10 == 0:  # trailing zeros would make it a rounded number
        written += 1
    assert _grade(f"{written:,}", truth).status is Status.WRONG
